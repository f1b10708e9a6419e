package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/sim"
)

// rig is a station with one connector on a rate, run by a simulated
// charger, and a user.
type rig struct {
	j         *apitest.Joule
	station   string
	connector string
	user      string
	charger   *sim.Charger
}

const energyRate = `{"currency":"USD","elements":[{"price_components":[{"type":"ENERGY","price":0.50,"vat":10,"step_size":1},{"type":"TIME","price":2.00,"vat":10,"step_size":60}]}]}`
const parkingRate = `{"currency":"USD","elements":[{"price_components":[{"type":"ENERGY","price":0.50,"vat":10,"step_size":1},{"type":"PARKING_TIME","price":6.00,"vat":10,"step_size":60}]}]}`

func newRig(t *testing.T, j *apitest.Joule, identity, tariff string, cfg sim.ChargerConfig) *rig {
	t.Helper()
	j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"meter_value_interval": 1}})
	var tj map[string]any
	mustJSON(t, tariff, &tj)
	rate := j.Must(t, 201, j.Key, "POST", "/v1/rates", map[string]any{"name": identity, "tariff": tj})
	loc := j.Must(t, 201, j.Key, "POST", "/v1/locations", map[string]any{"name": identity, "address": map[string]any{"streetAndNumber": "A 1", "city": "B", "country": "USA"},
		"coordinates": map[string]any{"latitude": 40.7, "longitude": -74}, "timezone": "America/New_York"})
	st := j.Must(t, 201, j.Key, "POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": identity,
		"connectors": []map[string]any{{"evse_id": "US*JOU*E" + identity, "rate": rate["_id"], "max_power": 22000}}})
	user := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Driver", "email": identity + "@example.com"})
	ch := j.Charger(t, identity, st["password"].(string), cfg)
	conn := st["connectors"].([]any)[0].(map[string]any)["_id"].(string)
	return &rig{j: j, station: st["_id"].(string), connector: conn, user: user["_id"].(string), charger: ch}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := jsonUnmarshal([]byte(s), v); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) start(t *testing.T, typ string) map[string]any {
	t.Helper()
	return r.j.Must(t, 201, r.j.Key, "POST", "/v1/sessions", map[string]any{"user": r.user, "connector": r.connector, "type": typ})
}

func (r *rig) get(t *testing.T, id string) map[string]any {
	t.Helper()
	return r.j.Must(t, 200, r.j.Key, "GET", "/v1/sessions/"+id, nil)
}

// waitStatus polls until the session has status want.
func waitStatus(t *testing.T, j *apitest.Joule, id, want string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	var last map[string]any
	for time.Now().Before(deadline) {
		last = j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+id, nil)
		if last["status"] == want {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("session %s: status %v, want %s (failure_reason %v)", id, last["status"], want, last["failure_reason"])
	return nil
}

func eventTypes(t *testing.T, j *apitest.Joule, object string) []string {
	t.Helper()
	evs := j.Must(t, 200, j.Key, "GET", "/v1/events?limit=100&object="+object, nil)["data"].([]any)
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].(map[string]any)["type"].(string))
	}
	return out
}

func checkLedger(t *testing.T, j *apitest.Joule) {
	t.Helper()
	rep, err := ledger.Check(context.Background(), j.App.DB.Q())
	if err != nil || !rep.OK() {
		t.Fatalf("ledger check: %+v %v", rep, err)
	}
}

func TestPostpaidSessionEndToEnd(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		r := newRig(t, j, "CP-NORMAL", energyRate, sim.ChargerConfig{})
		x := r.start(t, "postpaid")
		if x["status"] != "created" || x["payment"].(map[string]any)["type"] != "card" {
			t.Fatalf("created: %v", x)
		}
		id := x["_id"].(string)
		waitStatus(t, j, id, "started", 10*time.Second)
		time.Sleep(2500 * time.Millisecond) // a few meter values at 22 kW
		live := r.get(t, id)
		if live["energy"].(map[string]any)["wh"].(float64) <= 0 || live["cost"].(map[string]any)["amount"] == nil {
			t.Fatalf("live state: energy %v cost %v", live["energy"], live["cost"])
		}
		if n := len(live["charging_periods"].([]any)); n != 1 {
			t.Fatalf("periods %v", live["charging_periods"])
		}
		stopped := j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
		if s := stopped["status"]; s != "waiting_to_stop" && s != "ended" && s != "completed" {
			t.Fatalf("after stop: %v", s)
		}
		done := waitStatus(t, j, id, "completed", 10*time.Second)
		if done["balance_status"] != "PAID" || done["payment"].(map[string]any)["status"] != "succeeded" {
			t.Fatalf("completed: balance %v payment %v", done["balance_status"], done["payment"])
		}
		amount := done["cost"].(map[string]any)["amount"].(float64)
		if amount <= 0 || done["payment"].(map[string]any)["captured_amount"].(float64) != amount {
			t.Fatalf("cost %v captured %v", amount, done["payment"])
		}
		// Stop is idempotent.
		again := j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
		if again["status"] != "completed" {
			t.Fatalf("second stop: %v", again["status"])
		}
		cdr := j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+id+"/cdr", nil)
		if cdr["session_id"] != id || cdr["amount_minor"].(float64) != amount || cdr["currency"] != "USD" {
			t.Fatalf("cdr: %v", cdr)
		}
		rec := j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+id+"/receipt", nil)
		resp, err := http.Get(rec["url"].(string))
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(pdf), "%PDF") {
			t.Fatalf("receipt: %d %q", resp.StatusCode, pdf[:min(len(pdf), 20)])
		}
		if bad, _ := http.Get(strings.Replace(rec["url"].(string), "signature=", "signature=00", 1)); bad.StatusCode != 403 {
			t.Fatalf("forged receipt link: %d", bad.StatusCode)
		}
		got := strings.Join(eventTypes(t, j, id), ",")
		for _, want := range []string{"session.created", "session.started", "session.ended", "session.payment.captured", "session.completed"} {
			if !strings.Contains(got, want) {
				t.Errorf("events %s lack %s", got, want)
			}
		}
		// Charged exactly once, for the final amount.
		var n int
		var sum int64
		_ = j.App.DB.Q().QueryRowContext(context.Background(), `SELECT count(*), COALESCE(SUM(amount),0) FROM ledger_transfers WHERE reference_id = $1`, id).Scan(&n, &sum)
		if n != 1 || float64(sum) != amount {
			t.Fatalf("ledger transfers for the session: %d summing %d, want 1 of %v", n, sum, amount)
		}
		checkLedger(t, j)
	})
}

func TestUnplugEndsSession(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	r := newRig(t, j, "CP-UNPLUG", energyRate, sim.ChargerConfig{})
	id := r.start(t, "postpaid")["_id"].(string)
	waitStatus(t, j, id, "started", 10*time.Second)
	time.Sleep(1200 * time.Millisecond)
	if err := r.charger.Unplug(1); err != nil {
		t.Fatal(err)
	}
	x := waitStatus(t, j, id, "completed", 10*time.Second)
	if x["energy"].(map[string]any)["wh"].(float64) <= 0 {
		t.Fatalf("energy %v", x["energy"])
	}
}

func TestPauseAndResume(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		r := newRig(t, j, "CP-PAUSE", energyRate, sim.ChargerConfig{})
		id := r.start(t, "postpaid")["_id"].(string)
		waitStatus(t, j, id, "started", 10*time.Second)
		j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/pause", nil)
		waitStatus(t, j, id, "paused", 5*time.Second)
		// GET works too, as the spec documents it.
		j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+id+"/resume", nil)
		x := waitStatus(t, j, id, "started", 5*time.Second)
		states := []string{}
		for _, p := range x["charging_periods"].([]any) {
			states = append(states, p.(map[string]any)["state"].(string))
		}
		if strings.Join(states, ",") != "charging,paused,charging" {
			t.Fatalf("periods %v", states)
		}
		got := strings.Join(eventTypes(t, j, id), ",")
		if !strings.Contains(got, "session.paused") || !strings.Contains(got, "session.resumed") {
			t.Fatalf("events %s", got)
		}
	})
}

func TestConnectorCooldown(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	r := newRig(t, j, "CP-COOL", energyRate, sim.ChargerConfig{Behavior: sim.BehaviorStartFails})
	id := r.start(t, "postpaid")["_id"].(string)
	waitStatus(t, j, id, "failed", 10*time.Second)
	resp := j.Do(t, j.Key, "POST", "/v1/sessions", map[string]any{"user": r.user, "connector": r.connector, "type": "postpaid"})
	if resp.Status != 409 || resp.JSON(t)["code"] != "connector_cooldown" {
		t.Fatalf("start within cooldown: %d %s", resp.Status, resp.Body)
	}
	j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"connector_start_cooldown": 0}})
	r.start(t, "postpaid")
}

func TestParkingRateRefusesAPIStop(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	r := newRig(t, j, "CP-PARK", parkingRate, sim.ChargerConfig{KeepPlugged: true})
	id := r.start(t, "postpaid")["_id"].(string)
	waitStatus(t, j, id, "started", 10*time.Second)
	resp := j.Do(t, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
	if resp.Status != 405 || resp.JSON(t)["code"] != "stop_not_allowed_parking_rate" {
		t.Fatalf("stop on a parking rate: %d %s", resp.Status, resp.Body)
	}
	if x := r.get(t, id); x["status"] != "started" {
		t.Fatalf("status after refused stop: %v", x["status"])
	}
	// Unplugging ends it.
	_ = r.charger.Unplug(1)
	waitStatus(t, j, id, "completed", 10*time.Second)
}

func TestLateStartRevivesSession(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"waiting_to_start_timeout": 5}})
		r := newRig(t, j, "CP-LATE", energyRate, sim.ChargerConfig{Behavior: sim.BehaviorStartHangs})
		id := r.start(t, "postpaid")["_id"].(string)
		waitStatus(t, j, id, "waiting_to_start", 5*time.Second)
		x := waitStatus(t, j, id, "failed", 10*time.Second)
		if !strings.Contains(x["failure_reason"].(string), "in time") {
			t.Fatalf("failure reason %v", x["failure_reason"])
		}
		// The charger starts after all (the driver was slow to plug in).
		var tag string
		if err := j.App.DB.Q().QueryRowContext(context.Background(), `SELECT id_tag FROM sessions WHERE id = $1`, id).Scan(&tag); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.charger.LocalStart(ctx, 1, tag); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, j, id, "started", 10*time.Second)
		j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
		waitStatus(t, j, id, "completed", 10*time.Second)
		got := strings.Join(eventTypes(t, j, id), ",")
		if !strings.Contains(got, "session.failed,session.started") {
			t.Fatalf("events %s", got)
		}
	})
}

// The four error chargers of spec 003's stage environment, run by joule
// serve itself, reach the statuses the spec names.
func TestSandboxErrorChargers(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"stop_timeout": 5}})
	user := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Tester"})["_id"].(string)
	conns := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(conns) < 4 || time.Now().After(deadline) {
		for _, c := range j.Must(t, 200, j.Key, "GET", "/v1/connectors?limit=100", nil)["data"].([]any) {
			cm := c.(map[string]any)
			if cm["status"] == "Available" {
				conns[cm["evse_id"].(string)] = cm["_id"].(string)
			}
		}
		if len(conns) >= 4 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := func(evse string) string {
		c, ok := conns[evse]
		if !ok {
			t.Fatalf("no available connector %s in %v", evse, conns)
		}
		return j.Must(t, 201, j.Key, "POST", "/v1/sessions", map[string]any{"user": user, "connector": c, "type": "postpaid"})["_id"].(string)
	}
	hangs, ignored, fails, stopFails := start("DE*DRV*E6mayTt"), start("DE*DRV*E4JanRe"), start("DE*DRV*E9svnVs"), start("DE*DRV*E8vsnVn")
	waitStatus(t, j, fails, "failed", 10*time.Second)
	waitStatus(t, j, ignored, "started", 10*time.Second)
	waitStatus(t, j, stopFails, "started", 10*time.Second)
	if x := waitStatus(t, j, hangs, "waiting_to_start", 5*time.Second); x["start_attempts"].(float64) < 1 {
		t.Fatalf("hangs: %v", x)
	}
	j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+ignored+"/stop", nil)
	x := waitStatus(t, j, ignored, "started", 5*time.Second)
	if !strings.Contains(fmt.Sprint(x["failure_reason"]), "rejected") || !strings.Contains(strings.Join(eventTypes(t, j, ignored), ","), "session.stop_failed") {
		t.Fatalf("stop ignored: %v", x)
	}
	j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+stopFails+"/stop", nil)
	waitStatus(t, j, stopFails, "stop_failed", 10*time.Second)
	// A stop_failed session can be stopped again (spec 003).
	if x := j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+stopFails+"/stop", nil); x["status"] != "waiting_to_stop" && x["status"] != "stop_failed" {
		t.Fatalf("retry stop: %v", x["status"])
	}
}

// A charger that loses its connection keeps charging and queues its
// transaction messages; the driver unplugs while it is offline. Once it is
// back, the session ends at the charger's own time of the unplug, not at the
// time the message arrived, and the queued meter values count.
func TestOfflineMessagesBilledOnTheirOwnTimestamps(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		r := newRig(t, j, "CP-OFFLINE", energyRate, sim.ChargerConfig{})
		id := r.start(t, "postpaid")["_id"].(string)
		started := waitStatus(t, j, id, "started", 10*time.Second)
		time.Sleep(time.Second)
		r.charger.GoOffline(4 * time.Second)
		time.Sleep(1500 * time.Millisecond)
		unplugged := time.Now()
		if err := r.charger.Unplug(1); err != nil {
			t.Fatal(err)
		}
		if x := r.get(t, id); x["status"] != "started" {
			t.Fatalf("while the charger is offline: %v", x["status"])
		}
		done := waitStatus(t, j, id, "completed", 20*time.Second)
		ended, err := time.Parse(time.RFC3339Nano, done["endedAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if d := ended.Sub(unplugged); d < -time.Second || d > time.Second {
			t.Fatalf("ended at %v, the unplug was at %v (delivered about 2.5 s later)", ended, unplugged)
		}
		start, _ := time.Parse(time.RFC3339Nano, started["startedAt"].(string))
		if got, want := done["duration"].(float64), ended.Sub(start).Seconds(); got < want-1 || got > want+1 {
			t.Fatalf("duration %v, want about %v", got, want)
		}
		// Energy counts what was charged offline (22 kW for about 1.5 s).
		if wh := done["energy"].(map[string]any)["wh"].(float64); wh < 10 {
			t.Fatalf("energy %v Wh", wh)
		}
	})
}
