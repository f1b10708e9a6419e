// Package driveapi is the Drive API (/drive/v1): the driver-app API of spec
// document 003 over Joule's core. Apps register their users by their own
// ids, find chargers with a radius geosearch, start and stop remote
// sessions, read sessions and their history in the spec's upper-case status
// vocabulary, fetch receipts, retry failed payments, and receive session
// events in the spec's {event, payload} form on webhook endpoints whose
// format is "drive".
//
// It is a thin layer: sessions are run by internal/session, users and keys
// are internal/users, the network is internal/network. What this package
// decides is the Drive API's vocabulary and shapes (view.go), the mapping
// of app user ids to Joule users (users.go), which sessions a user may see
// and stop (sessions.go), the history query (history.go), the geosearch
// (geosearch.go, with the arithmetic in internal/geo) and the webhook body
// (events.go).
//
// Its operations are registered on the Platform API's huma instance, with
// their own tags and security scheme, so that /docs and /openapi.json list
// them; /drive/openapi.json is the Drive API's document alone. Requests
// under /drive/v1/ reach them through the x-api-key middleware below (see
// api.Server.MountDrive), then the Platform API's Idempotency-Key handling.
package driveapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/api"
	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/session"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

// Prefix is the path every Drive API operation lives under.
const Prefix = "/drive/v1"

// securityScheme names the x-api-key scheme in the OpenAPI document.
const securityScheme = "driveApiKey"

// Deps are what the Drive API needs.
type Deps struct {
	DB       *store.DB
	Sessions *session.Service
	Users    *users.Service
	Log      *slog.Logger
}

// Drive is the mounted Drive API.
type Drive struct {
	Deps
	server *api.Server
	hapi   huma.API

	specOnce sync.Once
	spec     []byte
	specErr  error
}

// Mount registers the Drive API on the server: its operations, its
// OpenAPI document at /drive/openapi.json, and its authentication for
// /drive/v1/. Call it once, before the server serves.
func Mount(s *api.Server, d Deps) *Drive {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Users == nil {
		panic("driveapi: Deps.Users is required")
	}
	a := &Drive{Deps: d, server: s, hapi: s.API()}
	oapi := a.hapi.OpenAPI()
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	oapi.Components.SecuritySchemes[securityScheme] = &huma.SecurityScheme{Type: "apiKey", In: "header", Name: "x-api-key",
		Description: "The Drive API's authentication: an organization's API key, sk_test_... (test mode: the sandbox chargers and payments) or sk_live_..."}
	a.registerUsers()
	a.registerSessions()
	a.registerGeosearch()
	s.Mux().HandleFunc("GET /drive/openapi.json", a.serveOpenAPI)
	s.MountDrive(a.authenticate)
	return a
}

// op describes a Drive operation: tagged apart from the Platform API and
// secured by x-api-key instead of Bearer keys.
func op(id, method, path, tag, summary, description string) huma.Operation {
	return huma.Operation{OperationID: "drive-" + id, Method: method, Path: Prefix + path, Tags: []string{"Drive API: " + tag},
		Summary: summary, Description: description, Security: []map[string][]string{{securityScheme: {}}}, DefaultStatus: http.StatusOK}
}

// authenticate resolves the x-api-key header to a principal, with the same
// keys (and key cache) as the Platform API's Bearer authentication.
func (a *Drive) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := strings.TrimSpace(r.Header.Get("x-api-key"))
		if secret == "" {
			msg := "Missing API key. Send the header x-api-key: sk_test_... or sk_live_..."
			if r.Header.Get("Authorization") != "" {
				msg = "The Drive API authenticates with the x-api-key header, not Authorization: send x-api-key: sk_test_... or sk_live_..."
			}
			writeProblem(w, r, apperr.New(apperr.Unauthorized, "missing_api_key", msg))
			return
		}
		p, err := a.server.Authenticate(r.Context(), secret)
		if err != nil {
			if apperr.Is(err, "invalid_api_key") {
				err = apperr.New(apperr.Unauthorized, "invalid_api_key", "Invalid API key. Send x-api-key: sk_test_... or sk_live_... (an active key of your organization)")
			} else if _, ok := apperr.As(err); !ok {
				a.Log.Error("driveapi: authenticate", "err", err)
				err = apperr.New(apperr.Unavailable, "unavailable", "Authentication is unavailable; retry")
			}
			writeProblem(w, r, err)
			return
		}
		// Set on the request in place, as the Platform API's middleware
		// does, so that the outer logging middleware sees the principal.
		*r = *r.WithContext(api.WithPrincipal(r.Context(), p))
		next.ServeHTTP(w, r)
	})
}

// writeProblem answers a middleware error as an RFC 9457 problem document.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	var p *api.Problem
	if !errors.As(api.Fail(r.Context(), err), &p) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// principal is who the request acts for (set by authenticate).
func principal(ctx context.Context) org.Principal {
	p, _ := api.PrincipalFrom(ctx)
	return p
}

// fail converts a domain error to a problem.
func fail(ctx context.Context, err error) error { return api.Fail(ctx, err) }

// Body wraps one object for huma.
type Body[T any] struct{ Body T }

func one[T any](v T) *Body[T] { return &Body[T]{Body: v} }

// serveOpenAPI serves the Drive API's own OpenAPI document: the shared
// document reduced to the /drive/ paths, the x-api-key scheme and the
// schemas those paths reach. It is computed once, on first use (every
// operation is registered before the server serves).
func (a *Drive) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	a.specOnce.Do(func() { a.spec, a.specErr = driveSpec(a.hapi.OpenAPI()) })
	if a.specErr != nil {
		a.Log.Error("driveapi: openapi", "err", a.specErr)
		http.Error(w, "OpenAPI document unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/openapi+json")
	_, _ = w.Write(a.spec)
}

func driveSpec(full *huma.OpenAPI) ([]byte, error) {
	raw, err := json.Marshal(full)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	kept := map[string]any{}
	for p, item := range paths {
		if strings.HasPrefix(p, Prefix+"/") {
			kept[p] = item
		}
	}
	comps, _ := doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	// Keep the schemas the Drive paths reach, following $refs transitively.
	need := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				if !need[name] {
					need[name] = true
					walk(schemas[name])
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(kept)
	keptSchemas := map[string]any{}
	for name := range need {
		if s, ok := schemas[name]; ok {
			keptSchemas[name] = s
		}
	}
	schemes, _ := comps["securitySchemes"].(map[string]any)
	out := map[string]any{
		"openapi": doc["openapi"],
		"info": map[string]any{"title": "Joule Drive API", "version": infoVersion(doc),
			"description": "The driver-app API of Joule (spec 003): users, remote start and stop, sessions and their history, receipts, " +
				"payment retries and geosearch. Authenticate with the header `x-api-key: sk_test_...` (test mode, with the sandbox chargers) " +
				"or `sk_live_...`. Errors are RFC 9457 problem documents with a stable `code`. Session statuses may gain values: treat an " +
				"unknown sessionStatus as FAILED. See docs/drive-api.md."},
		"paths":      kept,
		"components": map[string]any{"schemas": keptSchemas, "securitySchemes": map[string]any{securityScheme: schemes[securityScheme]}},
		"security":   []any{map[string]any{securityScheme: []any{}}},
	}
	if servers, ok := doc["servers"]; ok {
		out["servers"] = servers
	}
	return json.MarshalIndent(out, "", "  ")
}

func infoVersion(doc map[string]any) any {
	if info, ok := doc["info"].(map[string]any); ok {
		return info["version"]
	}
	return ""
}
