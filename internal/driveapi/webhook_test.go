package driveapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/joule-ev/joule/internal/apitest"
)

// receiver records the webhooks it gets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.heads = append(r.heads, req.Header.Clone())
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

type driveEvent struct {
	Event   string `json:"event"`
	Payload struct {
		UserID    string    `json:"userId"`
		SessionID string    `json:"sessionId"`
		Timestamp time.Time `json:"timestamp"`
	} `json:"payload"`
}

// events decodes what arrived, checking each signature with secret and
// that the body has exactly the spec's fields.
func (r *receiver) events(t *testing.T, secret string) []driveEvent {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []driveEvent
	for i, b := range r.bodies {
		if err := wh.Verify(b, r.heads[i]); err != nil {
			t.Fatalf("signature of %s: %v", b, err)
		}
		var top, payload map[string]json.RawMessage
		if json.Unmarshal(b, &top) != nil || len(top) != 2 || top["event"] == nil || json.Unmarshal(top["payload"], &payload) != nil ||
			len(payload) != 3 || payload["userId"] == nil || payload["sessionId"] == nil || payload["timestamp"] == nil {
			t.Fatalf("not the Drive form {event, payload{userId, sessionId, timestamp}}: %s", b)
		}
		var e driveEvent
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// of lists the Drive events received for a session, in arrival order.
func of(evs []driveEvent, sessionID string) []string {
	var out []string
	for _, e := range evs {
		if e.Payload.SessionID == sessionID {
			out = append(out, e.Event)
		}
	}
	return out
}

// Webhook endpoints of format drive receive session events in spec 003's
// form, signed as every webhook is, with the app's user id.
func TestDriveWebhookFormat(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		d := newDrive(j, j.Key)
		rcv, all, platform := newReceiver(t), newReceiver(t), newReceiver(t)
		named := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": rcv.URL, "format": "drive",
			"enabled_events": []string{"SESSION_STARTED", "SESSION_START_FAILED", "SESSION_STOPPED", "SESSION_STOP_FAILED", "SESSION_COMPLETE", "SESSION_FEE_INCURRING"}})
		star := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": all.URL, "format": "drive", "enabled_events": []string{"*"}})
		// A platform endpoint subscribed to a Drive name gets the platform events it stands for.
		plat := j.Must(t, 201, j.Key, "POST", "/v1/webhooks", map[string]any{"url": platform.URL, "enabled_events": []string{"SESSION_STARTED"}})

		user := d.user(t, "hooked-user")
		conns := waitSandbox(t, d)
		began := time.Now()
		ok := d.start(t, user, conns["DE*DRV*E1okSb1"]["connectorId"].(string))
		d.waitStatus(t, user, ok, "STARTED", 10*time.Second)
		failed := d.start(t, user, conns["DE*DRV*E9svnVs"]["connectorId"].(string))
		d.waitStatus(t, user, failed, "FAILED", 10*time.Second)
		ignored := d.start(t, user, conns["DE*DRV*E4JanRe"]["connectorId"].(string))
		d.waitStatus(t, user, ignored, "STARTED", 10*time.Second)
		d.stop(t, user, ignored)
		d.stop(t, user, ok)
		d.waitStatus(t, user, ok, "COMPLETE", 15*time.Second)

		// A session of a user the app did not register (Platform API) is not sent to drive endpoints.
		pu := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Platform"})
		ps := j.Must(t, 201, j.Key, "POST", "/v1/sessions", map[string]any{"user": pu["_id"], "connector": conns["DE*DRV*E2okSb1"]["connectorId"], "type": "postpaid"})
		waitFor(t, 10*time.Second, "the platform session to start", func() bool {
			return j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+ps["_id"].(string), nil)["status"] == "started"
		})

		want := map[string][]string{
			ok:      {"SESSION_STARTED", "SESSION_STOPPED", "SESSION_COMPLETE"},
			failed:  {"SESSION_START_FAILED"},
			ignored: {"SESSION_STARTED", "SESSION_STOP_FAILED"},
		}
		for _, c := range []struct {
			r      *receiver
			secret string
		}{{rcv, named["secret"].(string)}, {all, star["secret"].(string)}} {
			var evs []driveEvent
			waitFor(t, 15*time.Second, "the Drive events", func() bool {
				evs = c.r.events(t, c.secret)
				for sid, names := range want {
					got := of(evs, sid)
					slices.Sort(got)
					w := slices.Clone(names)
					slices.Sort(w)
					if !slices.Equal(got, w) {
						return false
					}
				}
				return true
			})
			time.Sleep(300 * time.Millisecond) // nothing else follows
			evs = c.r.events(t, c.secret)
			if len(evs) != 6 {
				t.Fatalf("received %d Drive events, want 6: %+v", len(evs), evs)
			}
			for _, e := range evs {
				if e.Payload.UserID != user || e.Payload.Timestamp.Before(began.Add(-time.Second)) || e.Payload.Timestamp.After(time.Now()) {
					t.Errorf("payload %+v", e)
				}
			}
			if got := of(evs, ps["_id"].(string)); len(got) != 0 {
				t.Errorf("a platform user's session reached a drive endpoint: %v", got)
			}
		}

		// The platform endpoint got session.started, in the platform envelope, for every session.
		waitFor(t, 10*time.Second, "the platform events", func() bool {
			platform.mu.Lock()
			defer platform.mu.Unlock()
			return len(platform.bodies) >= 3
		})
		wh, _ := standardwebhooks.NewWebhook(plat["secret"].(string))
		platform.mu.Lock()
		defer platform.mu.Unlock()
		for i, b := range platform.bodies {
			var env map[string]any
			if err := wh.Verify(b, platform.heads[i]); err != nil || json.Unmarshal(b, &env) != nil || env["type"] != "session.started" || env["object"] != "session" {
				t.Errorf("platform delivery %s (%v)", b, err)
			}
		}
	})
}
