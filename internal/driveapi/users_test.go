package driveapi_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/joule-ev/joule/internal/apitest"
)

func TestAPIKeyAuthentication(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/joule.db")
	for _, c := range []struct {
		name    string
		headers []string
		status  int
		code    string
		detail  string
	}{
		{"no key", nil, 401, "missing_api_key", "x-api-key"},
		{"a Bearer key instead of x-api-key", []string{"Authorization", "Bearer " + j.Key}, 401, "missing_api_key", "not Authorization"},
		{"malformed key", []string{"x-api-key", "hello"}, 401, "invalid_api_key", "x-api-key"},
		{"unknown key", []string{"x-api-key", "sk_test_0123456789abcdef0123456789abcdef"}, 401, "invalid_api_key", ""},
		{"the organization's test key", []string{"x-api-key", j.Key}, 404, "user_not_found", ""},
		{"header names are case-insensitive", []string{"X-API-KEY", j.Key}, 404, "user_not_found", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := j.Do(t, "", "GET", "/drive/v1/users/nobody", nil, c.headers...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			p := r.JSON(t)
			if p["code"] != c.code || !strings.Contains(p["detail"].(string), c.detail) || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("problem %v (%s)", p, r.Header.Get("Content-Type"))
			}
			if p["request_id"] == "" || p["request_id"] != r.Header.Get("X-Request-Id") {
				t.Errorf("request_id %v, header %q", p["request_id"], r.Header.Get("X-Request-Id"))
			}
		})
	}
	// x-api-key is not accepted by the Platform API, nor Bearer keys here.
	if r := j.Do(t, "", "GET", "/v1/users", nil, "x-api-key", j.Key); r.Status != 401 {
		t.Errorf("Platform API with x-api-key: %d", r.Status)
	}
	// A live key works too, in live mode.
	d := newDrive(j, j.LiveKey(t))
	d.must(t, 201, "POST", "/drive/v1/users", map[string]any{"id": "live-user"})
}

func TestUsers(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		d := newDrive(j, j.Key)
		if r := d.do(t, "POST", "/drive/v1/users", map[string]any{"id": "bad id/with slash"}); r.Status != 422 {
			t.Fatalf("invalid id: %d %s", r.Status, r.Body)
		}
		first := d.must(t, 201, "POST", "/drive/v1/users", map[string]any{"id": "user-42@app", "email": "a@example.com"})
		jid, _ := first["jouleUserId"].(string)
		if first["id"] != "user-42@app" || first["email"] != "a@example.com" || len(jid) != 24 {
			t.Fatalf("created %v", first)
		}
		// The same id again: the same user, 200.
		again := d.must(t, 200, "POST", "/drive/v1/users", map[string]any{"id": "user-42@app"})
		if again["jouleUserId"] != jid || again["email"] != "a@example.com" || again["createdAt"] != first["createdAt"] {
			t.Fatalf("again %v, first %v", again, first)
		}
		// A new email given with the id replaces the stored one.
		if u := d.must(t, 200, "POST", "/drive/v1/users", map[string]any{"id": "user-42@app", "email": "b@example.com"}); u["email"] != "b@example.com" || u["jouleUserId"] != jid {
			t.Fatalf("email change %v", u)
		}
		if u := d.must(t, 200, "GET", "/drive/v1/users/user-42@app", nil); u["email"] != "b@example.com" {
			t.Fatalf("get %v", u)
		}
		// The Joule user behind it, on the Platform API, names the app's id.
		ju := j.Must(t, 200, j.Key, "GET", "/v1/users/"+jid, nil)
		if ju["email"] != "b@example.com" || ju["metadata"].(map[string]any)["drive_user_id"] != "user-42@app" || ju["wallet"] == nil {
			t.Fatalf("joule user %v", ju)
		}
		// Concurrent first registrations of one id make one user.
		var wg sync.WaitGroup
		codes := make([]int, 8)
		ids := make([]string, 8)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := d.do(t, "POST", "/drive/v1/users", map[string]any{"id": "racer"})
				codes[i] = r.Status
				var u map[string]any
				if json.Unmarshal(r.Body, &u) == nil {
					ids[i], _ = u["jouleUserId"].(string)
				}
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		slices.Sort(ids)
		if distinct := slices.Compact(slices.Clone(ids)); codes[0] != 200 || codes[6] != 200 || codes[7] != 201 || len(distinct) != 1 || distinct[0] == "" {
			t.Fatalf("concurrent registrations: %v %v", codes, ids)
		}
		var n int
		if err := j.App.DB.Q().QueryRowContext(t.Context(), `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d users (%v), want 2: registering again made more", n, err)
		}

		// Charging keys: the virtual key, and an RFID card once it has one.
		keys := d.must(t, 200, "GET", "/drive/v1/users/user-42@app/charging-keys", nil)["chargingKeys"].([]any)
		if len(keys) != 1 {
			t.Fatalf("keys %v", keys)
		}
		vk := keys[0].(map[string]any)
		if vk["type"] != "virtual" || vk["status"] != "ACTIVE" || vk["active"] != true || vk["uid"] != nil || len(vk["id"].(string)) != 24 {
			t.Fatalf("virtual key %v", vk)
		}
		card := addRFID(t, j, jid, "04A1B2C3D4")
		keys = d.must(t, 200, "GET", "/drive/v1/users/user-42@app/charging-keys", nil)["chargingKeys"].([]any)
		if len(keys) != 2 {
			t.Fatalf("keys %v", keys)
		}
		rk := keys[1].(map[string]any)
		if rk["id"] != card.ID || rk["type"] != "rfid" || rk["uid"] != "04A1B2C3D4" || rk["status"] != "ACTIVE" {
			t.Fatalf("rfid key %v", rk)
		}

		// Users are per organization and mode: the same id elsewhere is
		// another user, and this one does not exist there.
		otherTest, otherLive := j.NewOrg(t, "Other")
		for _, key := range []string{otherTest, otherLive, j.LiveKey(t)} {
			o := newDrive(j, key)
			if r := o.do(t, "GET", "/drive/v1/users/user-42@app", nil); r.Status != 404 || r.JSON(t)["code"] != "user_not_found" {
				t.Fatalf("other org/mode sees the user: %d %s", r.Status, r.Body)
			}
			if r := o.do(t, "GET", "/drive/v1/users/user-42@app/charging-keys", nil); r.Status != 404 {
				t.Fatalf("other org/mode sees the keys: %d", r.Status)
			}
			u := o.must(t, 201, "POST", "/drive/v1/users", map[string]any{"id": "user-42@app"})
			if u["jouleUserId"] == jid {
				t.Fatal("two organizations share a Joule user")
			}
		}
	})
}

func TestOpenAPIAndDocs(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/joule.db")
	r := j.Do(t, "", "GET", "/drive/openapi.json", nil)
	if r.Status != 200 {
		t.Fatalf("drive openapi: %d", r.Status)
	}
	var doc struct {
		Info       struct{ Title string }
		Paths      map[string]map[string]any
		Components struct {
			Schemas         map[string]any
			SecuritySchemes map[string]map[string]any
		}
		Security []map[string]any
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"/drive/v1/users", "/drive/v1/users/{userId}", "/drive/v1/users/{userId}/charging-keys",
		"/drive/v1/users/{userId}/sessions/start", "/drive/v1/users/{userId}/sessions/{sessionId}",
		"/drive/v1/users/{userId}/sessions/{sessionId}/stop", "/drive/v1/users/{userId}/sessions/history",
		"/drive/v1/users/{userId}/sessions/{sessionId}/receipt", "/drive/v1/users/{userId}/sessions/{sessionId}/payment/retry",
		"/drive/v1/geosearch/radius"}
	for _, p := range want {
		if doc.Paths[p] == nil {
			t.Errorf("drive openapi lacks %s", p)
		}
	}
	if len(doc.Paths) != len(want) {
		t.Errorf("drive openapi has %d paths, want %d", len(doc.Paths), len(want))
	}
	for p := range doc.Paths {
		if !strings.HasPrefix(p, "/drive/v1/") {
			t.Errorf("drive openapi has the platform path %s", p)
		}
	}
	if s := doc.Components.SecuritySchemes["driveApiKey"]; s["in"] != "header" || s["name"] != "x-api-key" || len(doc.Components.SecuritySchemes) != 1 {
		t.Errorf("security schemes %v", doc.Components.SecuritySchemes)
	}
	if doc.Info.Title != "Joule Drive API" || doc.Components.Schemas["DriveapiSession"] == nil || doc.Components.Schemas["NetworkLocation"] != nil {
		t.Errorf("title %q, schemas %d", doc.Info.Title, len(doc.Components.Schemas))
	}
	// Every $ref resolves inside the document.
	for _, m := range regexpRefs.FindAllStringSubmatch(string(r.Body), -1) {
		if doc.Components.Schemas[m[1]] == nil {
			t.Errorf("dangling $ref %s", m[1])
		}
	}
	// The Platform API's document and /docs list the Drive operations too.
	all := j.Do(t, "", "GET", "/openapi.json", nil)
	if !strings.Contains(string(all.Body), `"/drive/v1/geosearch/radius"`) || !strings.Contains(string(all.Body), `"/v1/sessions"`) {
		t.Error("/openapi.json lacks the Drive operations")
	}
	page := j.Do(t, "", "GET", "/docs", nil)
	if !strings.Contains(string(page.Body), "Drive API: Sessions") || !strings.Contains(string(page.Body), "/drive/v1/users/{userId}/sessions/start") {
		t.Error("/docs lacks the Drive API")
	}
}

var regexpRefs = regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([^"]+)"`)
