package driveapi_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/sim"
)

// A start on a connector within connector_start_cooldown (60 s) of the
// previous one is blocked with 429 and Retry-After, and stores nothing.
func TestStartCooldown(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		d := newDrive(j, j.Key)
		alice, bob := d.user(t, "alice"), d.user(t, "bob")
		conns := waitSandbox(t, d)
		c1, c2 := conns["DE*DRV*E1okSb1"]["connectorId"].(string), conns["DE*DRV*E2okSb1"]["connectorId"].(string)
		// A retried request with the same Idempotency-Key gets the first answer
		// again, not the cooldown: the app's retry after a timeout is safe.
		path := "/drive/v1/users/" + alice + "/sessions/start"
		r1 := j.Do(t, "", "POST", path, map[string]any{"connectorId": c1}, "x-api-key", j.Key, "Idempotency-Key", "start-1")
		r2 := j.Do(t, "", "POST", path, map[string]any{"connectorId": c1}, "x-api-key", j.Key, "Idempotency-Key", "start-1")
		if r1.Status != 201 || r2.Status != 201 || string(r1.Body) != string(r2.Body) || r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("idempotent start: %d %s / %d %s", r1.Status, r1.Body, r2.Status, r2.Body)
		}
		first := r1.JSON(t)["sessionId"].(string)
		for _, who := range []string{alice, bob} {
			r := d.do(t, "POST", "/drive/v1/users/"+who+"/sessions/start", map[string]any{"connectorId": c1})
			if r.Status != 429 {
				t.Fatalf("second start by %s: %d %s", who, r.Status, r.Body)
			}
			p := r.JSON(t)
			wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if p["code"] != "connector_cooldown" || err != nil || wait < 55 || wait > 60 || p["status"] != float64(429) {
				t.Fatalf("blocked start: %v, Retry-After %q", p, r.Header.Get("Retry-After"))
			}
		}
		// Another connector is not blocked.
		d.start(t, bob, c2)
		// The blocked attempts stored no session.
		all := []string{"CREATED", "WAITING_TO_START", "STARTED", "WAITING_TO_STOP", "STOP_FAILED", "STOPPED", "COMPLETE", "FAILED", "REFUNDED"}
		h := d.must(t, 200, "POST", "/drive/v1/users/"+alice+"/sessions/history", map[string]any{"sessionStatus": all})
		if h["count"] != float64(1) || h["sessions"].([]any)[0].(map[string]any)["sessionId"] != first {
			t.Fatalf("alice's history %s", jsonString(t, h))
		}
	})
}

func TestSessionsAndHistory(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		setConfig(t, j, j.Key, map[string]any{"connector_start_cooldown": 0})
		d := newDrive(j, j.Key)
		user, other := d.user(t, "history-user"), d.user(t, "someone-else")
		jouleUser := d.must(t, 200, "GET", "/drive/v1/users/"+user, nil)["jouleUserId"].(string)
		conns := waitSandbox(t, d)
		conn := func(evse string) string { return conns[evse]["connectorId"].(string) }
		charger, ownConn := ownCharger(t, j, "DRIVE-LOCAL-1", 59.91, 10.75, sim.ChargerConfig{})
		card := addRFID(t, j, jouleUser, "RFIDHIST01")

		complete := func(evse string) (string, map[string]any) {
			sid := d.start(t, user, conn(evse))
			d.waitStatus(t, user, sid, "STARTED", 10*time.Second)
			// A receipt is not available before the session is priced.
			if r := d.do(t, "GET", "/drive/v1/users/"+user+"/sessions/"+sid+"/receipt", nil); r.Status != 409 || r.JSON(t)["code"] != "receipt_not_available" {
				t.Fatalf("early receipt: %d %s", r.Status, r.Body)
			}
			time.Sleep(1100 * time.Millisecond) // distinct start times, some energy
			d.stop(t, user, sid)
			// Stop is idempotent: again while stopping, and once complete.
			d.stop(t, user, sid)
			s := d.waitStatus(t, user, sid, "COMPLETE", 15*time.Second)
			if again := d.stop(t, user, sid); again["sessionStatus"] != "COMPLETE" {
				t.Fatalf("stop of a complete session: %v", again["sessionStatus"])
			}
			return sid, s
		}
		s1, _ := complete("DE*DRV*E1okSb1")
		s2, _ := complete("DE*DRV*E1okSb2")
		s3 := d.start(t, user, conn("DE*DRV*E9svnVs"))
		d.waitStatus(t, user, s3, "FAILED", 10*time.Second)
		s4 := d.start(t, user, conn("DE*DRV*E2okSb2"))
		d.waitStatus(t, user, s4, "STARTED", 10*time.Second)

		// A session started at the charger with the user's RFID card.
		if err := charger.LocalStart(context.Background(), 1, "RFIDHIST01"); err != nil {
			t.Fatal(err)
		}
		var s5 string
		waitFor(t, 10*time.Second, "the local session", func() bool {
			h := d.must(t, 200, "POST", "/drive/v1/users/"+user+"/sessions/history", map[string]any{"sessionStatus": []string{"STARTED"}, "chargingKeyId": card.ID})
			if ss := h["sessions"].([]any); len(ss) == 1 {
				s5 = ss[0].(map[string]any)["sessionId"].(string)
			}
			return s5 != ""
		})
		local := d.session(t, user, s5)
		if local["chargingKeyType"] != "rfid" || local["connectorId"] != ownConn || local["charger"].(map[string]any)["city"] != "Oslo" {
			t.Fatalf("local session %s", jsonString(t, local))
		}
		// Only remote sessions can be stopped remotely.
		if r := d.do(t, "POST", "/drive/v1/users/"+user+"/sessions/"+s5+"/stop", nil); r.Status != 409 || r.JSON(t)["code"] != "session_not_remote" {
			t.Fatalf("stop of a local session: %d %s", r.Status, r.Body)
		}
		if err := charger.LocalStop(1); err != nil {
			t.Fatal(err)
		}
		d.waitStatus(t, user, s5, "COMPLETE", 15*time.Second)

		// Nothing to retry on a paid session.
		if r := d.do(t, "POST", "/drive/v1/users/"+user+"/sessions/"+s1+"/payment/retry", nil); r.Status != 409 || r.JSON(t)["code"] != "no_debt" {
			t.Fatalf("retry of a paid session: %d %s", r.Status, r.Body)
		}
		// Another user's sessions do not exist for this one.
		for _, path := range []string{"", "/receipt"} {
			if r := d.do(t, "GET", "/drive/v1/users/"+other+"/sessions/"+s1+path, nil); r.Status != 404 || r.JSON(t)["code"] != "session_not_found" {
				t.Fatalf("other user GET %s: %d %s", path, r.Status, r.Body)
			}
		}
		for _, path := range []string{"/stop", "/payment/retry"} {
			if r := d.do(t, "POST", "/drive/v1/users/"+other+"/sessions/"+s4+path, nil); r.Status != 404 {
				t.Fatalf("other user POST %s: %d %s", path, r.Status, r.Body)
			}
		}
		if d.session(t, user, s4)["sessionStatus"] != "STARTED" {
			t.Fatal("another user's stop reached the session")
		}

		history := func(body map[string]any) ([]string, map[string]any) {
			t.Helper()
			var payload any // no body at all when nil
			if body != nil {
				payload = body
			}
			h := d.must(t, 200, "POST", "/drive/v1/users/"+user+"/sessions/history", payload)
			var ids []string
			for _, s := range h["sessions"].([]any) {
				ids = append(ids, s.(map[string]any)["sessionId"].(string))
			}
			if h["count"] != float64(len(ids)) {
				t.Fatalf("count %v for %d sessions", h["count"], len(ids))
			}
			return ids, h
		}
		expect := func(name string, body map[string]any, want ...string) map[string]any {
			t.Helper()
			got, h := history(body)
			if jsonString(t, got) != jsonString(t, want) {
				t.Fatalf("%s: sessions %v, want %v", name, got, want)
			}
			return h
		}
		vk := d.must(t, 200, "GET", "/drive/v1/users/"+user+"/charging-keys", nil)["chargingKeys"].([]any)[0].(map[string]any)["id"].(string)

		h := expect("no body: the default, COMPLETE", nil, s5, s2, s1)
		if h["cursor"] != nil {
			t.Errorf("cursor on the last page: %v", h["cursor"])
		}
		for _, s := range h["sessions"].([]any) {
			if s.(map[string]any)["sessionStatus"] != "COMPLETE" || s.(map[string]any)["balanceStatus"] != "PAID" {
				t.Errorf("history session %v", s)
			}
		}
		expect("empty body", map[string]any{}, s5, s2, s1)
		expect("FAILED", map[string]any{"sessionStatus": []string{"FAILED"}}, s3)
		expect("STARTED and FAILED", map[string]any{"sessionStatus": []string{"STARTED", "FAILED"}}, s4, s3)
		all := []string{"STARTED", "FAILED", "COMPLETE", "STOP_FAILED"}
		expect("the virtual key", map[string]any{"sessionStatus": all, "chargingKeyId": vk}, s4, s3, s2, s1)
		expect("the RFID card", map[string]any{"sessionStatus": all, "chargingKeyId": card.ID}, s5)
		if r := d.do(t, "POST", "/drive/v1/users/"+user+"/sessions/history", map[string]any{"chargingKeyId": "0123456789abcdef01234567"}); r.Status != 404 {
			t.Fatalf("unknown key: %d %s", r.Status, r.Body)
		}
		if r := d.do(t, "POST", "/drive/v1/users/"+user+"/sessions/history", map[string]any{"sessionStatus": []string{"PAUSED"}}); r.Status != 422 {
			t.Fatalf("unknown status: %d %s", r.Status, r.Body)
		}

		// Time range, on startTime.
		start2 := d.session(t, user, s2)["startTime"].(string)
		expect("from s2's start", map[string]any{"startTime": start2}, s5, s2)
		expect("before s2's start", map[string]any{"endTime": start2}, s1)
		expect("an empty range", map[string]any{"startTime": "2001-01-01T00:00:00Z", "endTime": "2001-01-02T00:00:00Z"})

		// Cursor paging.
		var pages []string
		body := map[string]any{"limit": 1, "sessionStatus": all}
		for i := 0; ; i++ {
			got, h := history(body)
			if len(got) != 1 {
				t.Fatalf("page %d: %v", i, got)
			}
			pages = append(pages, got[0])
			if h["cursor"] == nil {
				break
			}
			if h["cursor"] != got[0] {
				t.Fatalf("cursor %v", h["cursor"])
			}
			body["cursor"] = h["cursor"]
		}
		if jsonString(t, pages) != jsonString(t, []string{s5, s4, s3, s2, s1}) {
			t.Fatalf("pages %v", pages)
		}
		// The other user has none of these.
		if h := d.must(t, 200, "POST", "/drive/v1/users/"+other+"/sessions/history", map[string]any{"sessionStatus": all}); h["count"] != float64(0) {
			t.Fatalf("other user's history %v", h)
		}
	})
}

// Another organization cannot reach a session, even knowing its id and
// the app's user id.
func TestOtherOrganizationIsolation(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		d := newDrive(j, j.Key)
		user := d.user(t, "shared-app-id")
		conns := waitSandbox(t, d)
		sid := d.start(t, user, conns["DE*DRV*E1okSb1"]["connectorId"].(string))
		d.waitStatus(t, user, sid, "STARTED", 10*time.Second)

		otherKey, _ := j.NewOrg(t, "Other app")
		o := newDrive(j, otherKey)
		o.user(t, "shared-app-id") // the same app id, in the other organization
		for _, c := range []struct{ method, path string }{
			{"GET", "/drive/v1/users/shared-app-id/sessions/" + sid},
			{"POST", "/drive/v1/users/shared-app-id/sessions/" + sid + "/stop"},
			{"GET", "/drive/v1/users/shared-app-id/sessions/" + sid + "/receipt"},
			{"POST", "/drive/v1/users/shared-app-id/sessions/" + sid + "/payment/retry"},
		} {
			if r := o.do(t, c.method, c.path, nil); r.Status != 404 || r.JSON(t)["code"] != "session_not_found" {
				t.Fatalf("%s %s from another organization: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		// Nor start on its connectors, nor find its locations.
		if r := o.do(t, "POST", "/drive/v1/users/shared-app-id/sessions/start", map[string]any{"connectorId": conns["DE*DRV*E2okSb1"]["connectorId"]}); r.Status != 404 {
			t.Fatalf("start on another organization's connector: %d %s", r.Status, r.Body)
		}
		if res := o.geosearch(t, testSiteLat, testSiteLng, 50000, "", nil); len(res["locations"].([]any)) != 0 {
			t.Fatalf("another organization's geosearch: %s", jsonString(t, res))
		}
		h := o.must(t, 200, "POST", "/drive/v1/users/shared-app-id/sessions/history", map[string]any{"sessionStatus": []string{"STARTED"}})
		if h["count"] != float64(0) {
			t.Fatalf("another organization's history: %v", h)
		}
		if d.session(t, user, sid)["sessionStatus"] != "STARTED" {
			t.Fatal("the session changed")
		}
	})
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Starts refused before any session exists, and a charger that is offline.
func TestStartRefusalsAndOfflineCharger(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		setConfig(t, j, j.Key, map[string]any{"waiting_to_start_timeout": 5})
		d := newDrive(j, j.Key)
		user := d.user(t, "refused-user")
		rate := j.Must(t, 201, j.Key, "POST", "/v1/rates", map[string]any{"name": "r", "tariff": map[string]any{"currency": "USD",
			"elements": []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.3, "step_size": 1}}}}}})
		loc := j.Must(t, 201, j.Key, "POST", "/v1/locations", map[string]any{"name": "Refusals", "address": map[string]any{"streetAndNumber": "A 1",
			"city": "B", "country": "POL"}, "coordinates": map[string]any{"latitude": 50, "longitude": 19}})
		station := func(identity string, caps []string) string {
			st := j.Must(t, 201, j.Key, "POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": identity, "capabilities": caps,
				"connectors": []map[string]any{{"evse_id": "PL*REF*E" + identity, "rate": rate["_id"]}}})
			return st["connectors"].([]any)[0].(map[string]any)["_id"].(string)
		}
		rfidOnly := station("REFUSE-RFID-ONLY", []string{"RFID_READER"})
		offline := station("REFUSE-OFFLINE", []string{"REMOTE_START_STOP_CAPABLE"})
		for _, c := range []struct {
			name, user, connector string
			status                int
			code                  string
		}{
			{"not REMOTE_START_STOP_CAPABLE", user, rfidOnly, 409, "remote_start_not_supported"},
			{"unknown connector", user, "0123456789abcdef01234567", 404, "connector_not_found"},
			{"unknown user", "nobody", offline, 404, "user_not_found"},
		} {
			r := d.do(t, "POST", "/drive/v1/users/"+c.user+"/sessions/start", map[string]any{"connectorId": c.connector})
			if r.Status != c.status || r.JSON(t)["code"] != c.code {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			}
		}
		if r := d.do(t, "POST", "/drive/v1/users/"+user+"/sessions/start", map[string]any{}); r.Status != 422 {
			t.Errorf("no connectorId: %d %s", r.Status, r.Body)
		}
		// drive_session_type decides how Drive sessions are paid: from the
		// wallet, its checks are spec 000's.
		setConfig(t, j, j.Key, map[string]any{"drive_session_type": "wallet"})
		walletConn := station("REFUSE-WALLET", []string{"REMOTE_START_STOP_CAPABLE"})
		if r := d.do(t, "POST", "/drive/v1/users/"+user+"/sessions/start", map[string]any{"connectorId": walletConn}); r.Status != 405 ||
			r.JSON(t)["message"] != "User does not have minimum balance" {
			t.Errorf("wallet session with an empty wallet: %d %s", r.Status, r.Body)
		}
		setConfig(t, j, j.Key, map[string]any{"drive_session_type": "postpaid"})
		// An offline charger: the start is stored and retried until
		// waiting_to_start_timeout, then FAILED with the reason.
		sid := d.start(t, user, offline)
		if s := d.waitWhile(t, user, sid, 3*time.Second, "CREATED"); s["sessionStatus"] != "WAITING_TO_START" {
			t.Fatalf("offline charger: %s", jsonString(t, s))
		}
		s := d.waitStatus(t, user, sid, "FAILED", 15*time.Second)
		if s["failureReason"] != "the charger did not start the session in time" {
			t.Errorf("failureReason %v", s["failureReason"])
		}
		all := []string{"CREATED", "WAITING_TO_START", "STARTED", "WAITING_TO_STOP", "STOP_FAILED", "STOPPED", "COMPLETE", "FAILED", "REFUNDED"}
		h := d.must(t, 200, "POST", "/drive/v1/users/"+user+"/sessions/history", map[string]any{"sessionStatus": all})
		if h["count"] != float64(1) {
			t.Errorf("refused starts stored sessions: %s", jsonString(t, h))
		}
	})
}
