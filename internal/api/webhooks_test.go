package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// hookReceiver records the webhooks it gets; fail decides, per request,
// whether to answer 503 with Retry-After: 1 instead of 200.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	ids    []string // webhook-id of each request answered 200
	bodies [][]byte
	heads  []http.Header
	fail   func() bool
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail != nil && h.fail() {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.ids = append(h.ids, r.Header.Get("webhook-id"))
		h.bodies = append(h.bodies, body)
		h.heads = append(h.heads, r.Header.Clone())
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ids)
}

func (h *hookReceiver) setFail(f func() bool) {
	h.mu.Lock()
	h.fail = f
	h.mu.Unlock()
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhookEndpointsCRUD(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		ep := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": "https://example.com/hooks",
			"enabled_events": []string{"session.*", "wallet.updated"}, "description": "Fleet app"})
		id := ep["_id"].(string)
		if s, _ := ep["secret"].(string); !strings.HasPrefix(s, "whsec_") || len(s) < len("whsec_")+32 {
			t.Fatalf("secret %q", s)
		}
		if ep["format"] != "platform" || ep["status"] != "enabled" || ep["test_mode"] != true || ep["url"] != "https://example.com/hooks" {
			t.Fatalf("created %v", ep)
		}
		got := j.Must(t, 200, j.Key, "GET", "/v1/webhooks/"+id, nil)
		if _, shown := got["secret"]; shown {
			t.Fatal("secret shown after creation")
		}
		drive := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": "https://example.com/drive",
			"enabled_events": []string{"SESSION_STARTED"}, "format": "drive"})
		if drive["format"] != "drive" {
			t.Fatalf("drive format: %v", drive)
		}
		list := j.Must(t, 200, j.Key, "GET", "/v1/webhooks?limit=1", nil)
		if data := list["data"].([]any); len(data) != 1 || data[0].(map[string]any)["_id"] != drive["_id"] || list["has_more"] != true {
			t.Fatalf("list %v", list)
		}

		p := j.Must(t, 200, j.Key, "PATCH", "/v1/webhooks/"+id, map[string]any{"enabled_events": []string{"user.*", "top_up.completed"}, "disabled": true})
		if p["status"] != "disabled" || p["disabled_reason"] != "manual" || !slices.Equal(p["enabled_events"].([]any), []any{"user.*", "top_up.completed"}) ||
			p["description"] != "Fleet app" {
			t.Fatalf("patched %v", p)
		}
		p = j.Must(t, 200, j.Key, "PATCH", "/v1/webhooks/"+id, map[string]any{"disabled": false})
		if p["status"] != "enabled" || p["disabled_reason"] != nil {
			t.Fatalf("re-enabled %v", p)
		}

		for _, c := range []struct {
			body   map[string]any
			code   string
			status int
		}{
			{map[string]any{"url": "https://example.com", "enabled_events": []string{"session.start"}}, "unknown_event_type", 422},
			{map[string]any{"url": "https://example.com", "enabled_events": []string{}}, "validation_failed", 422},
			{map[string]any{"url": "ftp://example.com", "enabled_events": []string{"*"}}, "invalid_field", 422},
			{map[string]any{"url": "https://example.com", "enabled_events": []string{"*"}, "format": "xml"}, "validation_failed", 422},
			{map[string]any{"enabled_events": []string{"*"}}, "validation_failed", 422},
		} {
			r := j.Do(t, j.Key, "POST", "/v1/webhooks", c.body)
			if r.Status != c.status || r.JSON(t)["code"] != c.code {
				t.Errorf("%v: %d %s", c.body, r.Status, r.Body)
			}
		}

		rot := j.Must(t, 200, j.Key, "POST", "/v1/webhooks/"+id+"/rotate_secret", nil)
		if rot["secret"] == ep["secret"] || !strings.HasPrefix(rot["secret"].(string), "whsec_") || rot["secret_rotation"] == nil {
			t.Fatalf("rotated %v", rot)
		}
		exp, _ := time.Parse(time.RFC3339, rot["secret_rotation"].(map[string]any)["previous_expires_at"].(string))
		if d := time.Until(exp); d < 23*time.Hour || d > 25*time.Hour {
			t.Fatalf("previous secret expires in %s, want 24h", d)
		}
		rot = j.Must(t, 200, j.Key, "POST", "/v1/webhooks/"+id+"/rotate_secret", map[string]any{"expire_old_after_seconds": 0})
		if rot["secret_rotation"] != nil {
			t.Fatalf("rotation without grace: %v", rot)
		}
		if r := j.Do(t, j.Key, "POST", "/v1/webhooks/"+id+"/rotate_secret", map[string]any{"expire_old_after_seconds": -1}); r.Status != 422 {
			t.Fatalf("negative grace: %d", r.Status)
		}

		j.Must(t, 200, j.Key, "DELETE", "/v1/webhooks/"+id, nil)
		if r := j.Do(t, j.Key, "GET", "/v1/webhooks/"+id, nil); r.Status != 404 || r.JSON(t)["code"] != "webhook_endpoint_not_found" {
			t.Fatalf("after delete: %d %s", r.Status, r.Body)
		}
	})
}

// Events flow from the API to a loopback receiver (test mode), signed; the
// delivery log shows the attempts; redelivery sends an event again with the
// same webhook-id.
func TestWebhookDeliveryLogAndRedeliver(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		rc := newHookReceiver(t)
		ep := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": rc.URL + "/joule", "enabled_events": []string{"user.*"}})
		epID := ep["_id"].(string)
		other := newHookReceiver(t)
		unsubscribed := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": other.URL, "enabled_events": []string{"top_up.*"}})

		u := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Ada"})
		evs := j.Must(t, 200, j.Key, "GET", "/v1/events?type=user.created&object="+u["_id"].(string), nil)["data"].([]any)
		evID := evs[0].(map[string]any)["_id"].(string)
		waitUntil(t, 5*time.Second, "delivery", func() bool { return len(rc.received()) == 1 })
		wh, err := standardwebhooks.NewWebhook(ep["secret"].(string))
		if err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		if err := wh.Verify(rc.bodies[0], rc.heads[0]); err != nil || rc.ids[0] != evID {
			t.Fatalf("delivery %s: %v", rc.ids[0], err)
		}
		rc.mu.Unlock()

		var log []any
		waitUntil(t, 5*time.Second, "delivery log", func() bool {
			log = j.Must(t, 200, j.Key, "GET", "/v1/webhooks/"+epID+"/deliveries?success=true&event="+evID, nil)["data"].([]any)
			return len(log) == 1
		})
		a := log[0].(map[string]any)
		if a["event"] != evID || a["event_type"] != "user.created" || a["attempt"] != 1.0 || a["status_code"] != 200.0 ||
			a["succeeded"] != true || a["next_retry_at"] != nil || a["endpoint"] != epID {
			t.Fatalf("log row %v", a)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/webhooks/"+epID+"/deliveries?success=false", nil)["data"].([]any)); n != 0 {
			t.Fatalf("%d failed attempts", n)
		}

		red := j.Must(t, 202, j.Key, "POST", "/v1/events/"+evID+"/redeliver", nil)
		if d := red["deliveries"].([]any); red["event"] != evID || len(d) != 1 || d[0].(map[string]any)["endpoint"] != epID {
			t.Fatalf("redeliver %v", red)
		}
		red = j.Must(t, 202, j.Key, "POST", "/v1/events/"+evID+"/redeliver", map[string]any{"endpoint": unsubscribed["_id"]})
		if d := red["deliveries"].([]any); len(d) != 1 || d[0].(map[string]any)["endpoint"] != unsubscribed["_id"] {
			t.Fatalf("redeliver to one %v", red)
		}
		waitUntil(t, 5*time.Second, "redeliveries", func() bool {
			return slices.Equal(rc.received(), []string{evID, evID}) && slices.Equal(other.received(), []string{evID})
		})
		if r := j.Do(t, j.Key, "POST", "/v1/events/0123456789abcdef01234567/redeliver", nil); r.Status != 404 || r.JSON(t)["code"] != "event_not_found" {
			t.Fatalf("unknown event: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, j.Key, "GET", "/v1/webhooks/"+epID+"/deliveries?success=maybe", nil); r.Status != 422 {
			t.Fatalf("bad filter: %d", r.Status)
		}
	})
}

// Live mode refuses endpoints on loopback, private and link-local addresses
// with a clear code; test mode allows them.
func TestWebhookLiveModeSSRF(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		live := j.LiveKey(t)
		for _, u := range []string{"http://127.0.0.1:9/hook", "http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/", "http://localhost/"} {
			// top_up.* is not emitted here: the test-mode endpoints receive nothing.
			body := map[string]any{"url": u, "enabled_events": []string{"top_up.*"}}
			r := j.Do(t, live, "POST", "/v1/webhooks", body)
			if p := r.JSON(t); r.Status != 422 || p["code"] != "webhook_url_not_public" {
				t.Errorf("live %s: %d %s", u, r.Status, r.Body)
			}
			j.Must(t, 201, j.Key, "POST", "/v1/webhooks", body)
		}
		if n := len(j.Must(t, 200, live, "GET", "/v1/webhooks", nil)["data"].([]any)); n != 0 {
			t.Fatalf("live mode has %d endpoints", n)
		}
		ep := j.Must(t, 201, live, "POST", "/v1/webhooks", map[string]any{"url": "https://93.184.215.14/hook", "enabled_events": []string{"session.completed"}})
		if r := j.Do(t, live, "PATCH", "/v1/webhooks/"+ep["_id"].(string), map[string]any{"url": "http://192.168.1.10/"}); r.Status != 422 {
			t.Fatalf("live update to a private address: %d %s", r.Status, r.Body)
		}
	})
}

// Another organization, or the other mode, cannot see or change an
// endpoint (404), and events reach only their own organization's and mode's
// endpoints.
func TestWebhookTenantIsolation(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		otherTest, _ := j.NewOrg(t, "Other")
		live := j.LiveKey(t)
		mine, theirs := newHookReceiver(t), newHookReceiver(t)
		ep := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": mine.URL, "enabled_events": []string{"user.*"}})
		id := ep["_id"].(string)
		j.Must(t, 201, otherTest, "POST", "/v1/webhooks", map[string]any{"url": theirs.URL, "enabled_events": []string{"user.*"}})
		for _, key := range []string{otherTest, live} {
			for _, r := range []apitest.Response{
				j.Do(t, key, "GET", "/v1/webhooks/"+id, nil),
				j.Do(t, key, "PATCH", "/v1/webhooks/"+id, map[string]any{"description": "hacked"}),
				j.Do(t, key, "POST", "/v1/webhooks/"+id+"/rotate_secret", nil),
				j.Do(t, key, "GET", "/v1/webhooks/"+id+"/deliveries", nil),
				j.Do(t, key, "DELETE", "/v1/webhooks/"+id, nil),
			} {
				if r.Status != 404 {
					t.Errorf("foreign access: %d %s", r.Status, r.Body)
				}
			}
		}
		if data := j.Must(t, 200, live, "GET", "/v1/webhooks", nil)["data"].([]any); len(data) != 0 {
			t.Fatalf("live key lists %v", data)
		}

		// Users created in my org (test mode), in the other org, and in live mode.
		u := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Mine"})
		j.Must(t, 201, live, "POST", "/v1/users", map[string]any{"firstname": "Live"})
		o := j.Must(t, 201, otherTest, "POST", "/v1/users", map[string]any{"firstname": "Theirs"})
		myEv := j.Must(t, 200, j.Key, "GET", "/v1/events?object="+u["_id"].(string), nil)["data"].([]any)[0].(map[string]any)["_id"]
		theirEv := j.Must(t, 200, otherTest, "GET", "/v1/events?object="+o["_id"].(string), nil)["data"].([]any)[0].(map[string]any)["_id"]
		waitUntil(t, 5*time.Second, "deliveries", func() bool { return len(mine.received()) >= 1 && len(theirs.received()) >= 1 })
		time.Sleep(200 * time.Millisecond)
		if got := mine.received(); !slices.Equal(got, []string{myEv.(string)}) {
			t.Fatalf("my endpoint received %v, want only %v", got, myEv)
		}
		if got := theirs.received(); !slices.Equal(got, []string{theirEv.(string)}) {
			t.Fatalf("their endpoint received %v, want only %v", got, theirEv)
		}
		if r := j.Do(t, otherTest, "POST", "/v1/events/"+myEv.(string)+"/redeliver", nil); r.Status != 404 {
			t.Fatalf("redeliver another org's event: %d", r.Status)
		}
	})
}

// A restart of Joule with deliveries pending loses none: the receiver is
// down (503, Retry-After: 1) while events are emitted, Joule stops, the
// receiver recovers, Joule starts again on the same database, and every
// event arrives.
func TestWebhookRestartLosesNothing(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return t.TempDir() + "/joule.db" },
		"postgres": func(t *testing.T) string { return storetest.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			j := apitest.Start(t, dsn)
			key := j.Key
			rc := newHookReceiver(t)
			var failed atomic.Int32
			rc.setFail(func() bool { failed.Add(1); return true })
			j.Must(t, 201, key, "POST", "/v1/webhooks", map[string]any{"url": rc.URL, "enabled_events": []string{"user.created"}})
			var want []string
			for range 5 {
				u := j.Must(t, 201, key, "POST", "/v1/users", map[string]any{"firstname": "Before"})
				want = append(want, u["_id"].(string))
			}
			waitUntil(t, 5*time.Second, "first attempts", func() bool { return failed.Load() >= 5 })
			j.Stop()
			rc.setFail(nil)

			j2 := apitest.Start(t, dsn)
			for range 3 {
				u := j2.Must(t, 201, key, "POST", "/v1/users", map[string]any{"firstname": "After"})
				want = append(want, u["_id"].(string))
			}
			var wantEvents []string
			for _, uid := range want {
				ev := j2.Must(t, 200, key, "GET", "/v1/events?type=user.created&object="+uid, nil)["data"].([]any)[0].(map[string]any)["_id"].(string)
				wantEvents = append(wantEvents, ev)
			}
			slices.Sort(wantEvents)
			waitUntil(t, 40*time.Second, "every event after the restart", func() bool {
				got := rc.received()
				slices.Sort(got)
				return slices.Equal(slices.Compact(got), wantEvents)
			})
		})
	}
}
