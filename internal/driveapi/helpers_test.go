package driveapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

// The two sandbox sites of spec 003's "Testing remote charging".
const (
	testSiteLat, testSiteLng   = 52.290056, 20.907028
	errorSiteLat, errorSiteLng = 52.334242, 20.899305
)

// drive is a Drive API client for one API key.
type drive struct {
	j   *apitest.Joule
	key string
}

func newDrive(j *apitest.Joule, key string) *drive { return &drive{j: j, key: key} }

func (d *drive) do(t testing.TB, method, path string, body any) apitest.Response {
	t.Helper()
	return d.j.Do(t, "", method, path, body, "x-api-key", d.key)
}

func (d *drive) must(t testing.TB, want int, method, path string, body any) map[string]any {
	t.Helper()
	r := d.do(t, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(t)
}

// user registers an app user and returns its id.
func (d *drive) user(t testing.TB, id string) string {
	t.Helper()
	d.must(t, 201, "POST", "/drive/v1/users", map[string]any{"id": id, "email": id + "@example.com"})
	return id
}

func (d *drive) start(t testing.TB, userID, connectorID string) string {
	t.Helper()
	s := d.must(t, 201, "POST", "/drive/v1/users/"+url.PathEscape(userID)+"/sessions/start", map[string]any{"connectorId": connectorID})
	id, _ := s["sessionId"].(string)
	if id == "" {
		t.Fatalf("start: no sessionId in %v", s)
	}
	return id
}

func (d *drive) session(t testing.TB, userID, sessionID string) map[string]any {
	t.Helper()
	return d.must(t, 200, "GET", "/drive/v1/users/"+url.PathEscape(userID)+"/sessions/"+sessionID, nil)
}

func (d *drive) stop(t testing.TB, userID, sessionID string) map[string]any {
	t.Helper()
	return d.must(t, 200, "POST", "/drive/v1/users/"+url.PathEscape(userID)+"/sessions/"+sessionID+"/stop", nil)
}

// waitStatus polls GET session until its sessionStatus is want.
func (d *drive) waitStatus(t testing.TB, userID, sessionID, want string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	var last map[string]any
	for time.Now().Before(deadline) {
		last = d.session(t, userID, sessionID)
		if last["sessionStatus"] == want {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("session %s: sessionStatus %v, want %s (failureReason %v)", sessionID, last["sessionStatus"], want, last["failureReason"])
	return nil
}

// waitWhile polls GET session while its sessionStatus is one of transient
// and returns the first other state.
func (d *drive) waitWhile(t testing.TB, userID, sessionID string, within time.Duration, transient ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := d.session(t, userID, sessionID)
		still := false
		for _, st := range transient {
			still = still || s["sessionStatus"] == st
		}
		if !still {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s still %v after %s", sessionID, s["sessionStatus"], within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *drive) geosearch(t testing.TB, lat, lng, distance float64, query string, filters map[string]any) map[string]any {
	t.Helper()
	path := fmt.Sprintf("/drive/v1/geosearch/radius?latitude=%v&longitude=%v&distance=%v", lat, lng, distance)
	if query != "" {
		path += "&" + query
	}
	body := map[string]any{}
	if filters != nil {
		body["filters"] = filters
	}
	return d.must(t, 200, "POST", path, body)
}

// connectors flattens a geosearch answer: evseId -> connector (with the
// EVSE's fields added).
func connectors(res map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, l := range res["locations"].([]any) {
		for _, e := range l.(map[string]any)["evses"].([]any) {
			evse := e.(map[string]any)
			for _, c := range evse["connectors"].([]any) {
				conn := c.(map[string]any)
				conn["evseId"] = evse["evseId"]
				conn["capabilities"] = evse["capabilities"]
				conn["location"] = l.(map[string]any)["id"]
				out[evse["evseId"].(string)] = conn
			}
		}
	}
	return out
}

// waitSandbox waits until geosearch finds the sandbox sites' connectors
// AVAILABLE (their virtual chargers boot when the server starts) and
// returns the connectors by evseId.
func waitSandbox(t testing.TB, d *drive) map[string]map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		all := connectors(d.geosearch(t, testSiteLat, testSiteLng, 10000, "limit=10", nil))
		ready := 0
		for _, c := range all {
			if c["status"] == "AVAILABLE" {
				ready++
			}
		}
		if len(all) == 8 && ready == 8 {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox connectors not AVAILABLE: %d of %d", ready, len(all))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func setConfig(t testing.TB, j *apitest.Joule, key string, cfg map[string]any) {
	t.Helper()
	j.Must(t, 200, key, "PATCH", "/v1/organization", map[string]any{"configurations": cfg})
}

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ownCharger registers a charging station of the sandbox organization at
// (lat, lng) on a rate and runs a simulated charger for it, for what the
// sandbox's virtual chargers cannot do from a test (a local start with an
// RFID card). It returns the charger and its connector id.
func ownCharger(t testing.TB, j *apitest.Joule, identity string, lat, lng float64, cfg sim.ChargerConfig) (*sim.Charger, string) {
	t.Helper()
	rate := j.Must(t, 201, j.Key, "POST", "/v1/rates", map[string]any{"name": identity, "tariff": map[string]any{"currency": "USD",
		"elements": []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.5, "vat": 25, "step_size": 1}}}}}})
	loc := j.Must(t, 201, j.Key, "POST", "/v1/locations", map[string]any{"name": identity + " site",
		"address":     map[string]any{"streetAndNumber": "Main 1", "city": "Oslo", "country": "NOR"},
		"coordinates": map[string]any{"latitude": lat, "longitude": lng}, "timezone": "Europe/Oslo"})
	st := j.Must(t, 201, j.Key, "POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": identity,
		"capabilities": []string{"REMOTE_START_STOP_CAPABLE", "RFID_READER"},
		"connectors":   []map[string]any{{"evse_id": "NO*JOU*E" + identity, "rate": rate["_id"], "max_power": 22000, "power_type": "AC_3_PHASE"}}})
	ch := j.Charger(t, identity, st["password"].(string), cfg)
	return ch, st["connectors"].([]any)[0].(map[string]any)["_id"].(string)
}

// addRFID gives the Joule user behind an app user an RFID card.
func addRFID(t testing.TB, j *apitest.Joule, jouleUserID, tag string) users.ChargingKey {
	t.Helper()
	ctx := context.Background()
	var k users.ChargingKey
	err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		k, err = users.AddKey(ctx, tx, org.Principal{OrgID: j.App.Sandbox.OrgID, TestMode: true}, jouleUserID, tag, users.KeyRFID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}
