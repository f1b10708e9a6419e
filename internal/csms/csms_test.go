package csms_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
)

// charger is a bare OCPP-J client standing in for a charge point.
type charger struct {
	conn     *ocppj.Conn
	commands chan string
	done     chan error
}

func dial(t *testing.T, j *apitest.Joule, identity, password string) (*charger, error) {
	t.Helper()
	c := &charger{commands: make(chan string, 16), done: make(chan error, 1)}
	mux := ocppj.NewMux()
	mux.Fallback(func(ctx context.Context, _ *ocppj.Conn, action string, payload json.RawMessage) (any, error) {
		c.commands <- action
		switch action {
		case ocpp16.ActionReset, ocpp16.ActionChangeConfiguration:
			return map[string]string{"status": "Accepted"}, nil
		}
		return nil, ocppj.Errorf(ocppj.NotSupported, "test charger")
	})
	conn, err := ocppj.Dial(context.Background(), "ws://"+j.App.Addr()+"/ocpp/"+identity, ocppj.DialOptions{
		Identity: identity, Username: identity, Password: password, Options: ocppj.Options{Handler: mux}})
	if err != nil {
		return nil, err
	}
	c.conn = conn
	go func() { c.done <- conn.Serve(context.Background()) }()
	t.Cleanup(func() { conn.CloseNow() })
	return c, nil
}

func (c *charger) call(t *testing.T, action string, payload any) (json.RawMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.conn.Call(ctx, action, payload)
}

func (c *charger) must(t *testing.T, action string, payload any) map[string]any {
	t.Helper()
	raw, err := c.call(t, action, payload)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// newStation registers a station with two connectors and returns its id
// and password.
func newStation(t *testing.T, j *apitest.Joule, identity string) (string, string) {
	t.Helper()
	loc := j.Must(t, 201, j.Key, "POST", "/v1/locations", map[string]any{"name": "Depot", "address": map[string]any{"streetAndNumber": "A 1", "city": "B", "country": "NOR"},
		"coordinates": map[string]any{"latitude": 59.9, "longitude": 10.7}})
	st := j.Must(t, 201, j.Key, "POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": identity,
		"connectors": []map[string]any{{"evse_id": identity + "*1"}, {"evse_id": identity + "*2"}}})
	return st["_id"].(string), st["password"].(string)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func events(t *testing.T, j *apitest.Joule, typ, object string) []any {
	return j.Must(t, 200, j.Key, "GET", "/v1/events?limit=100&type="+typ+"&object="+object, nil)["data"].([]any)
}

func TestBootStatusAndOnline(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		id, pw := newStation(t, j, "CP-BOOT")
		c, err := dial(t, j, "CP-BOOT", pw)
		if err != nil {
			t.Fatal(err)
		}
		boot := c.must(t, "BootNotification", map[string]any{"chargePointVendor": "Joule", "chargePointModel": "Sim", "firmwareVersion": "1.2"})
		if boot["status"] != "Accepted" || boot["interval"] != 300.0 {
			t.Fatalf("boot: %v", boot)
		}
		if hb := c.must(t, "Heartbeat", map[string]any{}); hb["currentTime"] == nil {
			t.Fatalf("heartbeat: %v", hb)
		}
		c.must(t, "StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Available"})
		st := j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id, nil)
		if st["online"] != true || st["boot_info"].(map[string]any)["firmware_version"] != "1.2" {
			t.Fatalf("station: %v", st)
		}
		conn := st["connectors"].([]any)[0].(map[string]any)
		if conn["status"] != "Available" {
			t.Fatalf("connector status %v", conn["status"])
		}
		if n := len(events(t, j, "chargestation.online", id)); n != 1 {
			t.Fatalf("online events %d", n)
		}
		if n := len(events(t, j, "chargestation.connector_status.updated", conn["_id"].(string))); n != 1 {
			t.Fatalf("status events %d", n)
		}
		// A queued, older notification does not overwrite the newer status.
		old := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		c.must(t, "StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Faulted", "timestamp": old})
		st = j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id, nil)
		if s := st["connectors"].([]any)[0].(map[string]any)["status"]; s != "Available" {
			t.Fatalf("older status overwrote newer: %v", s)
		}
		// The sample interval is configured after boot.
		select {
		case a := <-c.commands:
			if a != "ChangeConfiguration" {
				t.Fatalf("command after boot: %s", a)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no ChangeConfiguration after boot")
		}
		// Disconnect: offline with an event.
		c.conn.Close()
		waitFor(t, 5*time.Second, "offline", func() bool {
			return j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id, nil)["online"] == false
		})
		if n := len(events(t, j, "chargestation.offline", id)); n != 1 {
			t.Fatalf("offline events %d", n)
		}
	})
}

func TestRefusedChargers(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	_, pw := newStation(t, j, "CP-AUTH")
	for name, tc := range map[string]struct{ identity, password string }{
		"wrong password":   {"CP-AUTH", strings.Repeat("x", 20)},
		"no password":      {"CP-AUTH", ""},
		"unknown identity": {"CP-NOBODY", pw},
	} {
		if _, err := dial(t, j, tc.identity, tc.password); err == nil {
			t.Errorf("%s: connection accepted", name)
		}
	}
	// Without the ocpp1.6 subprotocol the handshake is refused.
	req, _ := http.NewRequest("GET", "http://"+j.App.Addr()+"/ocpp/CP-AUTH", nil)
	req.SetBasicAuth("CP-AUTH", pw)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusSwitchingProtocols && resp.Header.Get("Sec-WebSocket-Protocol") != "" {
			t.Fatal("accepted without subprotocol")
		}
	}
}

func TestAutoRegistration(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	pw := strings.Repeat("k", 20)
	if _, err := dial(t, j, "CP-NEW", pw); err == nil {
		t.Fatal("unknown charger accepted without auto-registration")
	}
	j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"allow_auto_registration": true}})
	c, err := dial(t, j, "CP-NEW", pw)
	if err != nil {
		t.Fatal(err)
	}
	c.must(t, "BootNotification", map[string]any{"chargePointVendor": "X", "chargePointModel": "Y"})
	c.conn.Close()
	<-c.done
	// Its first password is now its key.
	if _, err := dial(t, j, "CP-NEW", strings.Repeat("z", 20)); err == nil {
		t.Fatal("auto-registered charger accepted another password")
	}
}

func TestReconnectReplacesSocket(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		id, pw := newStation(t, j, "CP-RE")
		first, err := dial(t, j, "CP-RE", pw)
		if err != nil {
			t.Fatal(err)
		}
		first.must(t, "Heartbeat", map[string]any{})
		second, err := dial(t, j, "CP-RE", pw)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-first.done:
		case <-time.After(5 * time.Second):
			t.Fatal("old socket not closed")
		}
		second.must(t, "Heartbeat", map[string]any{})
		// Commands go to the new socket.
		r := j.Must(t, 200, j.Key, "POST", "/v1/chargestations/"+id+"/commands/Reset", map[string]any{"type": "Soft"})
		if r["response"].(map[string]any)["status"] != "Accepted" {
			t.Fatalf("reset: %v", r)
		}
		if st := j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id, nil); st["online"] != true {
			t.Fatal("replaced socket marked the station offline")
		}
		if n := len(events(t, j, "chargestation.offline", id)); n != 0 {
			t.Fatalf("offline events on replacement: %d", n)
		}
	})
}

func TestSilentChargerGoesOffline(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"heartbeat_timeout": 3}})
	id, pw := newStation(t, j, "CP-QUIET")
	c, err := dial(t, j, "CP-QUIET", pw)
	if err != nil {
		t.Fatal(err)
	}
	c.must(t, "Heartbeat", map[string]any{})
	start := time.Now()
	waitFor(t, 10*time.Second, "offline after silence", func() bool {
		return j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id, nil)["online"] == false
	})
	if d := time.Since(start); d < 3*time.Second || d > 5*time.Second {
		t.Fatalf("offline after %v, want about the 3 s timeout", d)
	}
}

func TestTransactionsAreAcknowledgedAndIdempotent(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		id, pw := newStation(t, j, "CP-TX")
		c, err := dial(t, j, "CP-TX", pw)
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
		start := map[string]any{"connectorId": 1, "idTag": "UNKNOWN-TAG", "meterStart": 1000, "timestamp": ts.Format(time.RFC3339)}
		a := c.must(t, "StartTransaction", start)
		b := c.must(t, "StartTransaction", start) // the charger did not get our answer and repeats
		if a["transactionId"] != b["transactionId"] || a["transactionId"] == nil {
			t.Fatalf("repeated start: %v vs %v", a, b)
		}
		// An unknown idTag is answered Invalid, but acknowledged.
		if a["idTagInfo"].(map[string]any)["status"] != "Invalid" {
			t.Fatalf("idTagInfo: %v", a)
		}
		txID := a["transactionId"]
		mv := func(at time.Time, wh string) map[string]any {
			return map[string]any{"connectorId": 1, "transactionId": txID, "meterValue": []any{map[string]any{"timestamp": at.Format(time.RFC3339),
				"sampledValue": []any{map[string]any{"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "kWh"}}}}}
		}
		c.must(t, "MeterValues", mv(ts.Add(30*time.Second), "1.5"))
		c.must(t, "MeterValues", mv(ts.Add(10*time.Second), "1.2")) // late, queued sample
		c.must(t, "MeterValues", map[string]any{"connectorId": 1, "transactionId": 999999, "meterValue": []any{map[string]any{"timestamp": ts.Format(time.RFC3339),
			"sampledValue": []any{map[string]any{"value": "1"}}}}})
		stop := map[string]any{"transactionId": txID, "meterStop": 2500, "timestamp": ts.Add(time.Minute).Format(time.RFC3339), "reason": "EVDisconnected"}
		c.must(t, "StopTransaction", stop)
		c.must(t, "StopTransaction", stop)
		c.must(t, "StopTransaction", map[string]any{"transactionId": 424242, "meterStop": 1, "timestamp": ts.Format(time.RFC3339)})
		faults := j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id+"/faults", nil)["data"].([]any)
		if len(faults) != 2 {
			t.Fatalf("faults: %v", faults)
		}
		for _, f := range faults {
			if !strings.Contains(f.(map[string]any)["reason"].(string), "unknown transactionId") {
				t.Errorf("fault %v", f)
			}
		}
	})
}

func TestMalformedMessagesGetCallErrors(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	_, pw := newStation(t, j, "CP-BAD")
	c, err := dial(t, j, "CP-BAD", pw)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		action  string
		payload any
		code    ocppj.ErrorCode
	}{
		"missing required": {"BootNotification", map[string]any{"chargePointVendor": "X"}, ocppj.OccurrenceConstraintViolation},
		"wrong type":       {"BootNotification", map[string]any{"chargePointVendor": 1, "chargePointModel": "Y"}, ocppj.TypeConstraintViolation},
		"too long":         {"BootNotification", map[string]any{"chargePointVendor": strings.Repeat("v", 21), "chargePointModel": "Y"}, ocppj.PropertyConstraintViolation},
		"bad enum":         {"StatusNotification", map[string]any{"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}, ocppj.PropertyConstraintViolation},
		"extra property":   {"Heartbeat", map[string]any{"x": 1}, ocppj.FormationViolation},
		"bad date":         {"StartTransaction", map[string]any{"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "yesterday"}, ocppj.PropertyConstraintViolation},
		"unknown action":   {"Teleport", map[string]any{}, ocppj.NotImplemented},
		"not supported":    {"GetDiagnostics", map[string]any{"location": "ftp://x"}, ocppj.NotSupported},
	} {
		_, err := c.call(t, tc.action, tc.payload)
		var ce *ocppj.Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: err %v, want a CALLERROR", name, err)
			continue
		}
		if ce.Code != tc.code && !(tc.code == ocppj.FormationViolation && ce.Code == ocppj.PropertyConstraintViolation) {
			t.Errorf("%s: %s, want %s (%s)", name, ce.Code, tc.code, ce.Description)
		}
	}
	// The connection survives all of it.
	c.must(t, "Heartbeat", map[string]any{})
}

func TestCommandsAPI(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	id, pw := newStation(t, j, "CP-CMD")
	if r := j.Do(t, j.Key, "POST", "/v1/chargestations/"+id+"/commands/Reset", map[string]any{"type": "Soft"}); r.Status != 503 || r.JSON(t)["code"] != "chargestation_offline" {
		t.Fatalf("offline: %d %s", r.Status, r.Body)
	}
	c, err := dial(t, j, "CP-CMD", pw)
	if err != nil {
		t.Fatal(err)
	}
	c.must(t, "Heartbeat", map[string]any{})
	if r := j.Do(t, j.Key, "POST", "/v1/chargestations/"+id+"/commands/Reset", map[string]any{"type": "Gentle"}); r.Status != 422 || r.JSON(t)["code"] != "invalid_command" {
		t.Fatalf("invalid payload: %d %s", r.Status, r.Body)
	}
	if r := j.Do(t, j.Key, "POST", "/v1/chargestations/"+id+"/commands/UnlockConnector", map[string]any{"connectorId": 1}); r.Status != 503 || r.JSON(t)["code"] != "charger_error" {
		t.Fatalf("charger CALLERROR: %d %s", r.Status, r.Body)
	}
	r := j.Must(t, 200, j.Key, "POST", "/v1/chargestations/"+id+"/commands/Reset", map[string]any{"type": "Hard"})
	if r["response"].(map[string]any)["status"] != "Accepted" {
		t.Fatalf("reset: %v", r)
	}
	other, _ := j.NewOrg(t, "Other")
	if r := j.Do(t, other, "POST", "/v1/chargestations/"+id+"/commands/Reset", map[string]any{"type": "Hard"}); r.Status != 404 {
		t.Fatalf("other org command: %d", r.Status)
	}
}
