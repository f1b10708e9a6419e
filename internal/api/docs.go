package api

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docs renders the OpenAPI document as one readable page: every operation
// grouped by tag with its parameters, request and response schemas. It uses
// no scripts or third-party assets, so it works offline and loads instantly.
func (s *Server) docs(w http.ResponseWriter, r *http.Request) {
	oapi := s.api.OpenAPI()
	type param struct {
		Name, In, Type, Doc string
		Required            bool
	}
	type op struct {
		Method, Path, Summary, Description, Request, Anchor string
		Params                                              []param
		Responses                                           []struct{ Code, Desc, Schema string }
	}
	groups := map[string][]op{}
	schemaJSON := func(sc *huma.Schema) string {
		if sc == nil {
			return ""
		}
		if sc.Ref != "" {
			sc = oapi.Components.Schemas.SchemaFromRef(sc.Ref)
		}
		b, _ := json.MarshalIndent(expand(oapi, sc, 0), "", "  ")
		return string(b)
	}
	for path, item := range oapi.Paths {
		for method, o := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PATCH": item.Patch, "PUT": item.Put, "DELETE": item.Delete} {
			if o == nil {
				continue
			}
			x := op{Method: method, Path: path, Summary: o.Summary, Description: o.Description, Anchor: o.OperationID}
			for _, p := range o.Parameters {
				t := ""
				if p.Schema != nil {
					t = p.Schema.Type
				}
				x.Params = append(x.Params, param{p.Name, p.In, t, p.Description, p.Required})
			}
			if o.RequestBody != nil {
				if c := o.RequestBody.Content["application/json"]; c != nil {
					x.Request = schemaJSON(c.Schema)
				}
			}
			codes := make([]string, 0, len(o.Responses))
			for c := range o.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			for _, c := range codes {
				resp := o.Responses[c]
				sch := ""
				if ct := resp.Content["application/json"]; ct != nil && strings.HasPrefix(c, "2") {
					sch = schemaJSON(ct.Schema)
				}
				x.Responses = append(x.Responses, struct{ Code, Desc, Schema string }{c, resp.Description, sch})
			}
			tag := "Other"
			if len(o.Tags) > 0 {
				tag = o.Tags[0]
			}
			groups[tag] = append(groups[tag], x)
		}
	}
	tags := make([]string, 0, len(groups))
	for t, ops := range groups {
		tags = append(tags, t)
		sort.Slice(ops, func(i, j int) bool {
			if ops[i].Path != ops[j].Path {
				return ops[i].Path < ops[j].Path
			}
			return ops[i].Method < ops[j].Method
		})
	}
	sort.Strings(tags)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = docsPage.Execute(w, map[string]any{"Info": oapi.Info, "Tags": tags, "Groups": groups})
}

// expand inlines $refs a few levels deep so that a reader sees fields, not
// pointers.
func expand(oapi *huma.OpenAPI, sc *huma.Schema, depth int) any {
	if sc == nil {
		return nil
	}
	if sc.Ref != "" {
		if depth > 3 {
			return map[string]string{"$ref": sc.Ref}
		}
		sc = oapi.Components.Schemas.SchemaFromRef(sc.Ref)
		if sc == nil {
			return nil
		}
	}
	switch {
	case sc.Type == "object" && len(sc.Properties) > 0:
		m := map[string]any{}
		for k, v := range sc.Properties {
			m[k] = expand(oapi, v, depth+1)
		}
		return m
	case sc.Type == "array" && sc.Items != nil:
		return []any{expand(oapi, sc.Items, depth+1)}
	}
	d := sc.Type
	if len(sc.Enum) > 0 {
		var vals []string
		for _, e := range sc.Enum {
			b, _ := json.Marshal(e)
			vals = append(vals, string(b))
		}
		d += " (" + strings.Join(vals, " | ") + ")"
	}
	if sc.Description != "" {
		d += " — " + sc.Description
	}
	return d
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Info.Title}}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
header{padding:1.5rem 2rem;background:#0f3d2e;color:#fff}header p{max-width:60rem;opacity:.9}
main{display:grid;grid-template-columns:16rem 1fr;gap:2rem;padding:1rem 2rem}
nav{position:sticky;top:1rem;align-self:start;font-size:14px}nav a{display:block;color:#0f3d2e;text-decoration:none;padding:2px 0}
section h2{border-bottom:2px solid #e3e7eb;padding-bottom:.3rem}
.op{border:1px solid #e3e7eb;border-radius:8px;margin:1rem 0;padding:.8rem 1rem}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:ui-monospace,monospace}
.GET{color:#1a7f37}.POST{color:#0550ae}.PATCH{color:#9a6700}.DELETE{color:#cf222e}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f6f8fa;padding:.6rem;border-radius:6px;overflow:auto;max-height:24rem}
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
@media(max-width:800px){main{grid-template-columns:1fr}nav{position:static}}
</style></head><body>
<header><h1>{{.Info.Title}} <small>{{.Info.Version}}</small></h1><p>{{.Info.Description}}</p>
<p>Machine-readable: <a style="color:#fff" href="/openapi.json">/openapi.json</a></p></header>
<main><nav aria-label="Sections">{{range .Tags}}<a href="#tag-{{.}}">{{.}}</a>{{end}}</nav><div>
{{range $t := .Tags}}<section id="tag-{{$t}}"><h2>{{$t}}</h2>
{{range index $.Groups $t}}<div class="op" id="{{.Anchor}}"><div><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code> — {{.Summary}}</div>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Doc}}</td></tr>{{end}}</table>{{end}}
{{if .Request}}<details><summary>Request body</summary><pre>{{.Request}}</pre></details>{{end}}
{{range .Responses}}<details><summary>{{.Code}} {{.Desc}}</summary>{{if .Schema}}<pre>{{.Schema}}</pre>{{end}}</details>{{end}}
</div>{{end}}</section>{{end}}
</div></main></body></html>`))
