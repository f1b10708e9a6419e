package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/joule-ev/joule/internal/apitest"
)

func TestQuickstartUserWallet(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		u := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Test", "lastname": "Test", "email": "test@example.com"})
		uid := u["_id"].(string)
		if len(uid) != 24 {
			t.Fatalf("id %q", uid)
		}
		got := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/wallet", nil)
		// The shape of spec 002.
		for _, k := range []string{"_id", "firstname", "lastname", "active", "address", "phone", "email", "favorite_chargestations", "wallet", "role", "payment_methods", "createdAt", "updatedAt"} {
			if _, ok := got[k]; !ok {
				t.Errorf("user lacks %q: %v", k, got)
			}
		}
		w := got["wallet"].(map[string]any)
		for k, want := range map[string]any{"test_mode": true, "balance": 0.0, "available_balance": 0.0, "currency": "USD"} {
			if w[k] != want {
				t.Errorf("wallet.%s = %v, want %v", k, w[k], want)
			}
		}
		atu := w["auto_top_up"].(map[string]any)
		if atu["active"] != false || atu["payment_method"] != nil || atu["amount"] != 0.0 {
			t.Errorf("auto_top_up = %v", atu)
		}
		// Idempotent: the same wallet again.
		again := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/wallet", nil)
		if again["wallet"].(map[string]any)["_id"] != w["_id"] {
			t.Fatal("second GET made another wallet")
		}
		evs := j.Must(t, 200, j.Key, "GET", "/v1/events?type=user.created&object="+uid, nil)
		if n := len(evs["data"].([]any)); n != 1 {
			t.Fatalf("user.created events = %d", n)
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		otherTest, _ := j.NewOrg(t, "Other")
		u := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "A"})
		uid := u["_id"].(string)
		loc := j.Must(t, 201, j.Key, "POST", "/v1/locations", location("Mine"))
		lid := loc["_id"].(string)
		for _, path := range []string{"/v1/users/" + uid, "/v1/users/" + uid + "/wallet", "/v1/locations/" + lid} {
			r := j.Do(t, otherTest, "GET", path, nil)
			if r.Status != 404 || !strings.Contains(r.Header.Get("Content-Type"), "problem+json") {
				t.Errorf("other org GET %s: %d %s", path, r.Status, r.Body)
			}
		}
		if r := j.Do(t, otherTest, "PATCH", "/v1/users/"+uid, map[string]any{"firstname": "Hacked"}); r.Status != 404 {
			t.Errorf("other org PATCH user: %d", r.Status)
		}
		if r := j.Do(t, otherTest, "DELETE", "/v1/locations/"+lid, nil); r.Status != 404 {
			t.Errorf("other org DELETE location: %d", r.Status)
		}
		// Referencing another org's location is refused too.
		r := j.Do(t, otherTest, "POST", "/v1/chargestations", map[string]any{"location": lid, "identity": "THEIRS-1"})
		if r.Status != 422 {
			t.Errorf("other org station on my location: %d %s", r.Status, r.Body)
		}
		if got := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid, nil); got["firstname"] != "A" {
			t.Fatalf("user changed: %v", got)
		}
		lst := j.Must(t, 200, otherTest, "GET", "/v1/users", nil)
		if n := len(lst["data"].([]any)); n != 0 {
			t.Fatalf("other org lists %d users", n)
		}
		if evs := j.Must(t, 200, otherTest, "GET", "/v1/events", nil); len(evs["data"].([]any)) != 0 {
			t.Fatalf("other org sees events: %v", evs)
		}
	})
}

func TestTestAndLiveApart(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		live := j.LiveKey(t)
		tu := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "T"})
		lu := j.Must(t, 201, live, "POST", "/v1/users", map[string]any{"firstname": "L"})
		if tu["test_mode"] != true || lu["test_mode"] != false {
			t.Fatalf("test_mode: %v %v", tu["test_mode"], lu["test_mode"])
		}
		if r := j.Do(t, live, "GET", "/v1/users/"+tu["_id"].(string), nil); r.Status != 404 {
			t.Fatalf("live key sees test user: %d", r.Status)
		}
		if r := j.Do(t, j.Key, "GET", "/v1/users/"+lu["_id"].(string), nil); r.Status != 404 {
			t.Fatalf("test key sees live user: %d", r.Status)
		}
		// The sandbox chargers exist in test mode only.
		if n := len(j.Must(t, 200, live, "GET", "/v1/chargestations", nil)["data"].([]any)); n != 0 {
			t.Fatalf("live mode lists %d stations", n)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/chargestations?limit=100", nil)["data"].([]any)); n != 6 {
			t.Fatalf("test mode lists %d sandbox stations, want 6", n)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		body := map[string]any{"firstname": "Once"}
		first := j.Do(t, j.Key, "POST", "/v1/users", body, "Idempotency-Key", "k-1")
		if first.Status != 201 {
			t.Fatalf("first: %d %s", first.Status, first.Body)
		}
		second := j.Do(t, j.Key, "POST", "/v1/users", body, "Idempotency-Key", "k-1")
		if second.Status != 201 || string(second.Body) != string(first.Body) || second.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s (replayed=%q)", second.Status, second.Body, second.Header.Get("Idempotent-Replayed"))
		}
		conflict := j.Do(t, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Other"}, "Idempotency-Key", "k-1")
		if conflict.Status != 409 || conflict.JSON(t)["code"] != "idempotency_key_reused" {
			t.Fatalf("reuse with another body: %d %s", conflict.Status, conflict.Body)
		}
		// Concurrent repeats of one new key create one user.
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j.Do(t, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Race"}, "Idempotency-Key", "k-race")
			}()
		}
		wg.Wait()
		// Keys are per organization: another org may use the same key.
		other, _ := j.NewOrg(t, "Other")
		if r := j.Do(t, other, "POST", "/v1/users", body, "Idempotency-Key", "k-1"); r.Status != 201 || string(r.Body) == string(first.Body) {
			t.Fatalf("other org with same key: %d %s", r.Status, r.Body)
		}
		users := j.Must(t, 200, j.Key, "GET", "/v1/users?limit=100", nil)["data"].([]any)
		count := map[string]int{}
		for _, u := range users {
			count[u.(map[string]any)["firstname"].(string)]++
		}
		if count["Once"] != 1 || count["Race"] != 1 || count["Other"] != 0 {
			t.Fatalf("users created: %v", count)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		cases := []struct {
			name, path, body, code string
			status                 int
		}{
			{"malformed JSON", "/v1/users", `{"firstname": "A"`, "malformed_json", 400},
			{"unknown field", "/v1/users", `{"firstname": "A", "nickname": "x"}`, "unknown_field", 422},
			{"wrong type", "/v1/users", `{"firstname": 12}`, "validation_failed", 422},
			{"missing field", "/v1/locations", `{"address": {"streetAndNumber": "A 1", "city": "B", "country": "POL"}, "coordinates": {"latitude": 1, "longitude": 2}}`, "validation_failed", 422},
			{"out of range", "/v1/locations", `{"name": "x", "address": {"streetAndNumber": "A 1", "city": "B", "country": "POL"}, "coordinates": {"latitude": 91, "longitude": 2}}`, "validation_failed", 422},
			{"bad time zone", "/v1/locations", `{"name": "x", "address": {"streetAndNumber": "A 1", "city": "B", "country": "POL"}, "coordinates": {"latitude": 1, "longitude": 2}, "timezone": "Mars/Base"}`, "invalid_field", 422},
			{"bad tariff", "/v1/rates", `{"name": "r", "tariff": {"currency": "EUR", "elements": []}}`, "invalid_field", 422},
			{"not an object", "/v1/users", `[1,2]`, "", 422},
		}
		for _, c := range cases {
			r := j.Do(t, j.Key, "POST", c.path, c.body)
			p := r.JSON(t)
			if r.Status/100 != 4 || (c.status != 0 && r.Status != c.status) || !strings.Contains(r.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s: %d %s %s", c.name, r.Status, r.Header.Get("Content-Type"), r.Body)
				continue
			}
			if p["code"] == nil || p["code"] == "" || p["status"] != float64(r.Status) || p["title"] == nil {
				t.Errorf("%s: not a problem with a code: %s", c.name, r.Body)
			}
			if c.code != "" && p["code"] != c.code {
				t.Errorf("%s: code %v, want %s", c.name, p["code"], c.code)
			}
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/users", nil)["data"].([]any)); n != 0 {
			t.Fatalf("bad input created %d users", n)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/rates", nil)["data"].([]any)); n != 1 {
			t.Fatalf("bad input created rates: %d (sandbox has 1)", n)
		}
		// Unauthenticated and unknown keys.
		if r := j.Do(t, "", "GET", "/v1/users", nil); r.Status != 401 || r.JSON(t)["code"] != "missing_api_key" {
			t.Errorf("no key: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, "sk_test_00000000000000000000000000000000", "GET", "/v1/users", nil); r.Status != 401 || r.JSON(t)["code"] != "invalid_api_key" {
			t.Errorf("unknown key: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, j.Key, "GET", "/v1/users/nothex", nil); r.Status != 422 {
			t.Errorf("bad id: %d", r.Status)
		}
		if r := j.Do(t, j.Key, "GET", "/v1/users/0123456789abcdef01234567", nil); r.Status != 404 || r.JSON(t)["code"] != "user_not_found" {
			t.Errorf("missing user: %d %s", r.Status, r.Body)
		}
	})
}

func TestNetworkAndRates(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		rate := j.Must(t, 201, j.Key, "POST", "/v1/rates", map[string]any{"name": "Overstay", "currency": "USD",
			"price_components": []map[string]any{{"type": "ENERGY", "price": 0.35, "tax": 8}, {"type": "PARKING_TIME", "price": "6.00", "grace_period": 10}},
			"minimum_amount":   200})
		if rate["has_parking_time"] != true || rate["currency"] != "USD" || rate["price_components"] == nil {
			t.Fatalf("rate: %v", rate)
		}
		loc := j.Must(t, 201, j.Key, "POST", "/v1/locations", location("Depot"))
		st := j.Must(t, 201, j.Key, "POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": "CP-42",
			"connectors": []map[string]any{{"evse_id": "US*JOU*E42*1", "rate": rate["_id"]}, {"evse_id": "US*JOU*E42*2"}}})
		if pw, _ := st["password"].(string); len(pw) < 16 {
			t.Fatalf("no password shown at creation: %v", st)
		}
		got := j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+st["_id"].(string), nil)
		if _, shown := got["password"]; shown {
			t.Fatal("password shown after creation")
		}
		conns := got["connectors"].([]any)
		if len(conns) != 2 || conns[1].(map[string]any)["connector_number"] != 2.0 {
			t.Fatalf("connectors: %v", conns)
		}
		if r := j.Do(t, j.Key, "POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": "CP-42"}); r.Status != 409 {
			t.Fatalf("duplicate identity: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, j.Key, "DELETE", "/v1/rates/"+rate["_id"].(string), nil); r.Status != 409 {
			t.Fatalf("delete used rate: %d", r.Status)
		}
		cid := conns[1].(map[string]any)["_id"].(string)
		c := j.Must(t, 200, j.Key, "PATCH", "/v1/connectors/"+cid, map[string]any{"rate": rate["_id"], "max_power": 150000})
		if c["rate"] != rate["_id"] || c["max_power"] != 150000.0 {
			t.Fatalf("patched connector: %v", c)
		}
		// Pagination walks every object once.
		for i := 0; i < 5; i++ {
			j.Must(t, 201, j.Key, "POST", "/v1/locations", location(fmt.Sprintf("L%d", i)))
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			pg := j.Must(t, 200, j.Key, "GET", "/v1/locations?limit=3&cursor="+cursor, nil)
			for _, l := range pg["data"].([]any) {
				id := l.(map[string]any)["_id"].(string)
				if seen[id] {
					t.Fatalf("location %s on two pages", id)
				}
				seen[id] = true
			}
			if pg["has_more"] != true {
				break
			}
			cursor = pg["next_cursor"].(string)
		}
		if len(seen) != 2+1+5 { // 2 sandbox sites + Depot + 5
			t.Fatalf("paged %d locations", len(seen))
		}
	})
}

func TestOrganizationConfiguration(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		o := j.Must(t, 200, j.Key, "GET", "/v1/organization", nil)
		cfg := o["configurations"].(map[string]any)
		for k, v := range map[string]float64{"session": 2000, "minimum_amount_to_start_session": 2000, "payment_expiry_time": 300,
			"top_up_expiry_time": 300, "start_window": 300, "waiting_to_start_timeout": 120, "connector_start_cooldown": 60} {
			if cfg[k] != v {
				t.Errorf("default %s = %v, want %v", k, cfg[k], v)
			}
		}
		o = j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"session": 500, "currency": "EUR"}})
		cfg = o["configurations"].(map[string]any)
		if cfg["session"] != 500.0 || cfg["currency"] != "EUR" || cfg["payment_expiry_time"] != 300.0 {
			t.Fatalf("patched: %v", cfg)
		}
		if r := j.Do(t, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"session": -1}}); r.Status != 422 {
			t.Fatalf("negative session: %d", r.Status)
		}
	})
}

func TestOperationalEndpoints(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	j.Must(t, 200, "", "GET", "/healthz", nil)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/openapi.json": `"openapi":"3.1.0"`,
		"/docs": "Joule Platform API", "/metrics": "joule_http_requests_total"} {
		r := j.Do(t, "", "GET", path, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), want) {
			t.Errorf("GET %s: %d, missing %q", path, r.Status, want)
		}
	}
	r := j.Do(t, j.Key, "GET", "/v1/organization", nil, "X-Request-Id", "trace-123")
	if r.Header.Get("X-Request-Id") != "trace-123" {
		t.Errorf("request id not echoed: %q", r.Header.Get("X-Request-Id"))
	}
	if r := j.Do(t, j.Key, "GET", "/v1/organization", nil); !strings.HasPrefix(r.Header.Get("X-Request-Id"), "req_") {
		t.Errorf("no generated request id")
	}
}

func location(name string) map[string]any {
	return map[string]any{"name": name, "address": map[string]any{"streetAndNumber": "Main 1", "city": "Oslo", "postalCode": "0150", "country": "NOR"},
		"coordinates": map[string]any{"latitude": 59.91, "longitude": 10.75}, "timezone": "Europe/Oslo"}
}
