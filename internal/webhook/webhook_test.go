package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

var ctx = context.Background()

// Joule's signatures verify with the official Standard Webhooks library,
// with both secrets during a rotation's grace period, and with the new one
// only after a rotation without grace.
func TestSignaturesVerifyWithStandardWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rc := newReceiver(t, nil)
		j := startJoule(t, db, Options{}, 4)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, rc.URL+"/hook")
		if !strings.HasPrefix(ep.Secret, "whsec_") {
			t.Fatalf("secret %q", ep.Secret)
		}
		if again, _ := Get(ctx, db.Q(), p, ep.ID); again.Secret != "" {
			t.Fatal("a read shows the secret")
		}
		verify := func(r received, secret string) error {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			return wh.Verify(r.body, r.header)
		}

		first := j.emit(t, p, "user.created")
		waitFor(t, 5*time.Second, "first delivery", func() bool { return len(rc.delivered()) == 1 })
		r := rc.all()[0]
		if err := verify(r, ep.Secret); err != nil {
			t.Fatalf("verify: %v (headers %v)", err, r.header)
		}
		if r.header.Get("webhook-id") != first {
			t.Fatalf("webhook-id %q, want the event id %q", r.header.Get("webhook-id"), first)
		}
		var env map[string]any
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"_id", "createdAt", "data", "object", "test_mode", "type"}; !slices.Equal(keys, want) {
			t.Fatalf("envelope keys %v, want %v", keys, want)
		}
		if env["_id"] != first || env["type"] != "user.created" || env["object"] != "user" || env["test_mode"] != true ||
			env["data"].(map[string]any)["firstname"] != "Ada" {
			t.Fatalf("envelope %s", r.body)
		}

		// Rotation with grace: both secrets verify, the new one first.
		rot, err := j.svc.RotateSecret(ctx, p, ep.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Secret == ep.Secret || rot.SecretRotation == nil {
			t.Fatalf("rotation: %+v", rot)
		}
		j.emit(t, p, "user.updated")
		waitFor(t, 5*time.Second, "second delivery", func() bool { return len(rc.delivered()) == 2 })
		r = rc.all()[1]
		if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 2 {
			t.Fatalf("%d signatures during the grace period: %q", n, r.header.Get("webhook-signature"))
		}
		for _, secret := range []string{ep.Secret, rot.Secret} {
			if err := verify(r, secret); err != nil {
				t.Fatalf("during grace: %v", err)
			}
		}

		// Rotation without grace: only the newest verifies.
		rot2, err := j.svc.RotateSecret(ctx, p, ep.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		j.emit(t, p, "user.updated")
		waitFor(t, 5*time.Second, "third delivery", func() bool { return len(rc.delivered()) == 3 })
		r = rc.all()[2]
		if err := verify(r, rot2.Secret); err != nil {
			t.Fatal(err)
		}
		for _, old := range []string{ep.Secret, rot.Secret} {
			if err := verify(r, old); err == nil {
				t.Fatal("a retired secret still verifies")
			}
		}
	})
}

// A receiver that fails (500), then times out, then recovers gets every
// event at least once, and a restart of Joule in the middle, with
// deliveries pending and in flight, loses none.
func TestAtLeastOnceThroughFailuresTimeoutsAndRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const (
			failing = iota
			hanging
			healthy
		)
		var phase atomic.Int32
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch phase.Load() {
			case failing:
				w.WriteHeader(http.StatusInternalServerError)
			case hanging:
				sleepOrCancel(r, time.Second)
			}
		})
		opt := Options{Timeout: 150 * time.Millisecond,
			Schedule: []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond,
				500 * time.Millisecond, time.Second, time.Second, 2 * time.Second}}
		j := startJoule(t, db, opt, 4)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, rc.URL)
		var want []string
		for range 10 {
			want = append(want, j.emit(t, p, "session.started"))
		}
		waitFor(t, 5*time.Second, "failed attempts", func() bool { return len(rc.all()) >= 10 })
		phase.Store(hanging)
		for range 5 {
			want = append(want, j.emit(t, p, "session.ended"))
		}
		time.Sleep(250 * time.Millisecond) // some attempts time out

		// Crash-like stop: the queue stops with deliveries pending (and
		// perhaps running); more events are emitted while Joule is down.
		j.stop()
		for range 5 {
			want = append(want, j.emit(t, p, "session.completed"))
		}
		phase.Store(healthy)
		j2 := startJoule(t, db, opt, 4)
		for range 5 {
			want = append(want, j2.emit(t, p, "session.updated"))
		}
		waitFor(t, 15*time.Second, "every event delivered", func() bool { return len(rc.delivered()) >= len(want) })
		if got := rc.delivered(); !slices.Equal(got, sorted(want)) {
			t.Fatalf("delivered %d ids, want %d: %v vs %v", len(got), len(want), got, sorted(want))
		}
		var timeouts, fails int
		for _, r := range rc.all() {
			switch r.outcome {
			case 500:
				fails++
			}
		}
		attempts, _, err := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			if strings.HasPrefix(a.Error, "no answer within") {
				timeouts++
			}
		}
		if fails == 0 || timeouts == 0 {
			t.Fatalf("the receiver should have failed (%d) and timed out (%d)", fails, timeouts)
		}
		// Every delivery ends succeeded; the backlog is empty.
		waitFor(t, 5*time.Second, "empty backlog", func() bool { return j2.svc.backlog() == 0 })
	})
}

// 410 Gone disables the endpoint at once and emits webhook_endpoint.disabled,
// which other endpoints receive; the disabled endpoint receives nothing more.
func TestGoneDisablesEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		gone := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusGone) })
		watcher := newReceiver(t, nil)
		j := startJoule(t, db, Options{}, 4)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, gone.URL, "session.*")
		j.endpoint(t, p, watcher.URL, EventDisabled)
		j.emit(t, p, "session.started")
		waitFor(t, 5*time.Second, "disabled", func() bool { s, _ := endpointStatus(t, db, p, ep.ID); return s == StatusDisabled })
		if _, reason := endpointStatus(t, db, p, ep.ID); reason != ReasonGone {
			t.Fatalf("reason %q", reason)
		}
		waitFor(t, 5*time.Second, "webhook_endpoint.disabled delivered", func() bool { return len(watcher.delivered()) == 1 })
		var env struct {
			Type string   `json:"type"`
			Data Endpoint `json:"data"`
		}
		if err := json.Unmarshal(watcher.all()[0].body, &env); err != nil {
			t.Fatal(err)
		}
		if env.Type != EventDisabled || env.Data.ID != ep.ID || env.Data.DisabledReason != ReasonGone || env.Data.Secret != "" {
			t.Fatalf("event %s", watcher.all()[0].body)
		}
		j.emit(t, p, "session.ended")
		time.Sleep(200 * time.Millisecond)
		if n := len(gone.all()); n != 1 {
			t.Fatalf("the gone endpoint got %d requests, want 1", n)
		}
		// Enabling it again works.
		yes := false
		if e, err := j.svc.Update(ctx, p, ep.ID, EndpointPatch{Disabled: &yes}); err != nil || e.Status != StatusEnabled || e.DisabledReason != "" {
			t.Fatalf("re-enable: %+v %v", e, err)
		}
	})
}

// Retry-After is honoured: a 429 with Retry-After: 1 is retried after about
// a second, not after the schedule's 20 s.
func TestRetryAfterHonoured(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		j := startJoule(t, db, Options{Schedule: []time.Duration{0, 20 * time.Second, 20 * time.Second}}, 4)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, rc.URL)
		j.emit(t, p, "wallet.updated")
		waitFor(t, 5*time.Second, "retry", func() bool { return len(rc.delivered()) == 1 && j.svc.backlog() == 0 })
		reqs := rc.all()
		gap := reqs[1].at.Sub(reqs[0].at)
		if gap < 900*time.Millisecond || gap > 2500*time.Millisecond {
			t.Fatalf("retried after %s, want about 1s", gap)
		}
		log, _, err := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[1].StatusCode == nil || *log[1].StatusCode != 429 || log[1].NextRetryAt == nil ||
			!log[0].Succeeded || log[0].NextRetryAt != nil || log[0].Attempt != 2 {
			t.Fatalf("log %+v", log)
		}
		if d := log[1].NextRetryAt.Sub(log[1].CreatedAt); d < time.Second || d > 1500*time.Millisecond {
			t.Fatalf("next_retry_at %s after the attempt", d)
		}
	})
}

// A slow receiver does not delay deliveries to a fast one, and does not
// starve the shared job workers: with 4 workers and 4 slow attempts in
// flight, the fast endpoint and other jobs still run at once.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { sleepOrCancel(r, 1500*time.Millisecond) })
		fast := newReceiver(t, nil)
		j := startJoule(t, db, Options{Timeout: 5 * time.Second, MaxInFlightPerEndpoint: 4}, 4)
		var otherJob atomic.Int64
		j.q.Handle("test.other", func(ctx context.Context, _ *jobs.Job) error { otherJob.Store(time.Now().UnixNano()); return nil })
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		j.endpoint(t, p, slow.URL)
		j.endpoint(t, p, fast.URL)
		const n = 12
		start := time.Now()
		var want []string
		for range n {
			want = append(want, j.emit(t, p, "session.updated"))
		}
		waitFor(t, 5*time.Second, "fast deliveries", func() bool { return len(fast.delivered()) == n })
		fastTook := time.Since(start)
		// Another job, enqueued while the slow endpoint has attempts in flight.
		enq := time.Now()
		if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := j.q.Enqueue(ctx, tx, jobs.New{Kind: "test.other"}); return err }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "other job", func() bool { return otherJob.Load() != 0 })
		otherTook := time.Unix(0, otherJob.Load()).Sub(enq)
		waitFor(t, 15*time.Second, "slow deliveries", func() bool { return len(slow.delivered()) == n })
		slowTook := time.Since(start)
		t.Logf("fast endpoint: %d events in %s; other job ran after %s; slow endpoint: %s", n, fastTook, otherTook, slowTook)
		if fastTook > time.Second || otherTook > time.Second {
			t.Fatalf("the slow endpoint delayed others: fast %s, other job %s", fastTook, otherTook)
		}
		// The slow endpoint never had more than 4 attempts at once: 12 take 3 rounds.
		if slowTook < 3*1500*time.Millisecond {
			t.Fatalf("slow endpoint done in %s: more than 4 in flight", slowTook)
		}
		if !slices.Equal(slow.delivered(), sorted(want)) {
			t.Fatal("slow endpoint missed events")
		}
	})
}

// Live mode refuses endpoints on non-public addresses, at creation and at
// connection time; the operator may allow them; test mode allows them.
func TestSSRFGuard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		j := startJoule(t, db, Options{}, 2)
		orgID := newOrg(t, db)
		live, test := org.Principal{OrgID: orgID}, org.Principal{OrgID: orgID, TestMode: true}
		bad := []string{"http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data",
			"http://[::1]:9000/", "http://localhost:8080/", "http://100.64.0.1/", "http://[fd00::1]/", "http://0.0.0.0/", "http://[::ffff:192.168.1.1]/"}
		for _, u := range bad {
			_, err := j.svc.Create(ctx, live, EndpointInput{URL: u, EnabledEvents: []string{"*"}})
			if e, ok := apperr.As(err); !ok || e.Code != "webhook_url_not_public" || e.Kind != apperr.Invalid {
				t.Errorf("live %s: %v", u, err)
			}
			if _, err := j.svc.Create(ctx, test, EndpointInput{URL: u, EnabledEvents: []string{"*"}}); err != nil {
				t.Errorf("test mode %s: %v", u, err)
			}
		}
		for _, u := range []string{"ftp://example.com/", "example.com/hook", "http:///nohost", "https://example.com/#frag"} {
			if _, err := j.svc.Create(ctx, test, EndpointInput{URL: u, EnabledEvents: []string{"*"}}); !apperr.Is(err, "invalid_field") {
				t.Errorf("%s: %v", u, err)
			}
		}
		// A changed URL is checked too.
		ok := j.endpoint(t, live, "https://93.184.215.14/hook", "session.started")
		u := "http://127.0.0.1/"
		if _, err := j.svc.Update(ctx, live, ok.ID, EndpointPatch{URL: &u}); !apperr.Is(err, "webhook_url_not_public") {
			t.Errorf("update to loopback: %v", err)
		}

		// The operator allows private addresses.
		priv := New(db, jobs.NewQueue(db, jobs.Options{}), events.NewOutbox(), nil, Options{AllowPrivate: true})
		for _, u := range bad {
			if _, err := priv.Create(ctx, org.Principal{OrgID: newOrg(t, db)}, EndpointInput{URL: u, EnabledEvents: []string{"*"}}); err != nil {
				t.Errorf("AllowPrivate %s: %v", u, err)
			}
		}

		// At connection time: a live endpoint whose name resolved to a public
		// address when it was created and to loopback now (DNS rebinding),
		// simulated by pointing the stored URL at a loopback receiver.
		rc := newReceiver(t, nil)
		ep := j.endpoint(t, live, "https://93.184.215.14/hook", "user.created")
		if _, err := db.Q().ExecContext(ctx, `UPDATE webhook_endpoints SET url = $1 WHERE id = $2`, rc.URL, ep.ID); err != nil {
			t.Fatal(err)
		}
		evID := j.emit(t, live, "user.created")
		var log []DeliveryAttempt
		waitFor(t, 5*time.Second, "refused attempt", func() bool {
			var err error
			log, _, err = Attempts(ctx, db.Q(), live, ep.ID, AttemptFilter{Event: evID})
			return err == nil && len(log) > 0
		})
		if log[0].Succeeded || log[0].StatusCode != nil || !strings.Contains(log[0].Error, "127.0.0.1 is a loopback address") {
			t.Fatalf("attempt %+v", log[0])
		}
		if len(rc.all()) != 0 {
			t.Fatal("the loopback receiver was reached in live mode")
		}
	})
}

func TestForbiddenAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "10.0.0.1": true, "172.16.5.4": true, "192.168.0.1": true,
		"fc00::1": true, "fd12:3456::1": true, "169.254.169.254": true, "fe80::1": true, "0.0.0.0": true, "::": true,
		"0.1.2.3": true, "100.64.0.1": true, "100.127.255.254": true, "224.0.0.1": true, "ff02::1": true,
		"::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "64:ff9b::7f00:1": true, "64:ff9b::a00:1": true,
		"8.8.8.8": false, "93.184.215.14": false, "100.128.0.1": false, "2606:4700::1111": false, "64:ff9b::808:808": false,
	} {
		if got := forbidden(netip.MustParseAddr(addr)) != ""; got != want {
			t.Errorf("forbidden(%s) = %v, want %v", addr, got, want)
		}
	}
}

// Tenants and modes are apart: an organization cannot see or change another
// one's endpoints, and events reach only endpoints of their own
// organization and mode.
func TestTenantAndModeIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		j := startJoule(t, db, Options{AllowPrivate: true}, 4)
		a, b := newOrg(t, db), newOrg(t, db)
		principals := []org.Principal{{OrgID: a, TestMode: true}, {OrgID: a}, {OrgID: b, TestMode: true}, {OrgID: b}}
		rcs := make([]*receiver, len(principals))
		eps := make([]Endpoint, len(principals))
		want := make([][]string, len(principals))
		for i, p := range principals {
			rcs[i] = newReceiver(t, nil)
			eps[i] = j.endpoint(t, p, rcs[i].URL)
		}
		for round := range 3 {
			for i, p := range principals {
				if round <= i { // different counts per tenant and mode
					want[i] = append(want[i], j.emit(t, p, "user.created"))
				}
			}
		}
		for i := range principals {
			waitFor(t, 5*time.Second, "deliveries", func() bool { return len(rcs[i].delivered()) >= len(want[i]) })
		}
		time.Sleep(100 * time.Millisecond)
		for i := range principals {
			if got := rcs[i].delivered(); !slices.Equal(got, sorted(want[i])) {
				t.Errorf("principal %d received %v, want %v", i, got, sorted(want[i]))
			}
		}
		// Another organization, or the other mode, gets 404 for everything.
		owner := principals[0]
		name := "Hacked"
		for _, other := range principals[1:] {
			if _, err := Get(ctx, db.Q(), other, eps[0].ID); !apperr.Is(err, "webhook_endpoint_not_found") {
				t.Errorf("get: %v", err)
			}
			if _, err := j.svc.Update(ctx, other, eps[0].ID, EndpointPatch{Description: &name}); !apperr.Is(err, "webhook_endpoint_not_found") {
				t.Errorf("update: %v", err)
			}
			if _, err := j.svc.RotateSecret(ctx, other, eps[0].ID, 0); !apperr.Is(err, "webhook_endpoint_not_found") {
				t.Errorf("rotate: %v", err)
			}
			if _, _, err := Attempts(ctx, db.Q(), other, eps[0].ID, AttemptFilter{}); !apperr.Is(err, "webhook_endpoint_not_found") {
				t.Errorf("attempts: %v", err)
			}
			if _, err := j.svc.Redeliver(ctx, other, want[0][0], ""); !apperr.Is(err, "event_not_found") {
				t.Errorf("redeliver another's event: %v", err)
			}
			if _, err := j.svc.Redeliver(ctx, other, want[slices.Index(principals, other)][0], eps[0].ID); !apperr.Is(err, "webhook_endpoint_not_found") {
				t.Errorf("redeliver to another's endpoint: %v", err)
			}
			if err := j.svc.Delete(ctx, other, eps[0].ID); !apperr.Is(err, "webhook_endpoint_not_found") {
				t.Errorf("delete: %v", err)
			}
			if l, _, _ := List(ctx, db.Q(), other, "", 100); slices.ContainsFunc(l, func(e Endpoint) bool { return e.ID == eps[0].ID }) {
				t.Error("listed by another")
			}
		}
		if e, err := Get(ctx, db.Q(), owner, eps[0].ID); err != nil || e.Description != "" {
			t.Fatalf("owner's endpoint changed: %+v %v", e, err)
		}
	})
}

// Sustained failure disables: a failed attempt when every attempt has failed
// for FailureWindow disables the endpoint; a success clears the history.
func TestSustainedFailureDisables(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var fail atomic.Bool
		fail.Store(true)
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if fail.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		j := startJoule(t, db, Options{Schedule: []time.Duration{0}}, 4)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, rc.URL, "user.*")
		since := func() (time.Time, bool) {
			var v *time.Time
			if err := db.Q().QueryRowContext(ctx, `SELECT failing_since FROM webhook_endpoints WHERE id = $1`, ep.ID).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v == nil {
				return time.Time{}, false
			}
			return *v, true
		}
		j.emit(t, p, "user.created")
		waitFor(t, 5*time.Second, "failure noted", func() bool { _, ok := since(); return ok })
		if s, _ := endpointStatus(t, db, p, ep.ID); s != StatusEnabled {
			t.Fatal("disabled after one failure")
		}
		// Failing for longer than the window: the next failure disables.
		if _, err := db.Q().ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2`,
			store.Now().Add(-FailureWindow-time.Hour), ep.ID); err != nil {
			t.Fatal(err)
		}
		j.emit(t, p, "user.updated")
		waitFor(t, 5*time.Second, "disabled", func() bool { s, _ := endpointStatus(t, db, p, ep.ID); return s == StatusDisabled })
		if _, reason := endpointStatus(t, db, p, ep.ID); reason != ReasonFailing {
			t.Fatalf("reason %q", reason)
		}
		evs, _, err := events.List(ctx, db.Q(), p.OrgID, true, events.Filter{Types: []string{EventDisabled}})
		if err != nil || len(evs) != 1 || evs[0].ObjectID != ep.ID {
			t.Fatalf("disabled events %v %v", evs, err)
		}
		// Enabled again, the history starts afresh; a success keeps it clear.
		no := false
		if _, err := j.svc.Update(ctx, p, ep.ID, EndpointPatch{Disabled: &no}); err != nil {
			t.Fatal(err)
		}
		if _, ok := since(); ok {
			t.Fatal("failure history kept after re-enabling")
		}
		fail.Store(false)
		j.emit(t, p, "user.updated")
		waitFor(t, 5*time.Second, "success", func() bool { return len(rc.delivered()) == 1 })
		if _, ok := since(); ok {
			t.Fatal("failure history after a success")
		}
	})
}

// After the schedule's attempts, the delivery gives up; the log shows each
// attempt with its next retry time, the last with none. Redelivery sends
// the event again, to an endpoint not subscribed to it too.
func TestGiveUpLogAndRedeliver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var fail atomic.Bool
		fail.Store(true)
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if fail.Load() {
				http.Error(w, "database\x00 down\n", http.StatusInternalServerError)
			}
		})
		other := newReceiver(t, nil)
		j := startJoule(t, db, Options{Schedule: []time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond}}, 4)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, rc.URL, "top_up.*")
		unsubscribed := j.endpoint(t, p, other.URL, "session.started")
		ev := j.emit(t, p, "top_up.completed")
		waitFor(t, 5*time.Second, "three attempts", func() bool { return len(rc.all()) == 3 })
		waitFor(t, 5*time.Second, "gave up", func() bool { return j.svc.backlog() == 0 })
		time.Sleep(100 * time.Millisecond)
		if n := len(rc.all()); n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
		log, more, err := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{Event: ev})
		if err != nil || more || len(log) != 3 {
			t.Fatalf("log %+v %v %v", log, more, err)
		}
		for k, a := range log { // newest first
			if a.Attempt != 3-k || a.Succeeded || *a.StatusCode != 500 || a.Event != ev || a.EventType != "top_up.completed" {
				t.Errorf("attempt %+v", a)
			}
			if (a.NextRetryAt == nil) != (k == 0) {
				t.Errorf("attempt %d next_retry_at %v", a.Attempt, a.NextRetryAt)
			}
		}
		if log[0].Error != "HTTP 500: database  down" {
			t.Errorf("error text %q", log[0].Error)
		}
		// Paging.
		page1, more, _ := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{Limit: 2})
		page2, more2, _ := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{Limit: 2, Cursor: page1[1].ID})
		if len(page1) != 2 || !more || len(page2) != 1 || more2 || page2[0].ID != log[2].ID {
			t.Fatalf("pages %v %v", page1, page2)
		}

		fail.Store(false)
		red, err := j.svc.Redeliver(ctx, p, ev, "")
		if err != nil || len(red.Deliveries) != 1 || red.Deliveries[0].Endpoint != ep.ID {
			t.Fatalf("redeliver: %+v %v", red, err)
		}
		red, err = j.svc.Redeliver(ctx, p, ev, unsubscribed.ID)
		if err != nil || len(red.Deliveries) != 1 || red.Deliveries[0].Endpoint != unsubscribed.ID {
			t.Fatalf("redeliver to one: %+v %v", red, err)
		}
		waitFor(t, 5*time.Second, "redelivered", func() bool {
			return slices.Equal(rc.delivered(), []string{ev}) && slices.Equal(other.delivered(), []string{ev}) && j.svc.backlog() == 0
		})
		yes := true
		ok, _, _ := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{Succeeded: &yes})
		if len(ok) != 1 || ok[0].Attempt != 1 || ok[0].Delivery == log[0].Delivery {
			t.Fatalf("successful attempts %+v", ok)
		}
		// A disabled endpoint is not redelivered to.
		if _, err := j.svc.Update(ctx, p, unsubscribed.ID, EndpointPatch{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := j.svc.Redeliver(ctx, p, ev, unsubscribed.ID); !apperr.Is(err, "webhook_endpoint_disabled") {
			t.Fatalf("redeliver to disabled: %v", err)
		}
	})
}

// Redirects are not followed: a 3xx is a failed attempt.
func TestRedirectNotFollowed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		target := newReceiver(t, nil)
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		})
		j := startJoule(t, db, Options{Schedule: []time.Duration{0}}, 2)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, rc.URL)
		j.emit(t, p, "user.created")
		waitFor(t, 5*time.Second, "attempt", func() bool { return j.svc.backlog() == 0 && len(rc.all()) == 1 })
		log, _, _ := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{})
		if len(log) != 1 || log[0].Succeeded || *log[0].StatusCode != 307 || !strings.Contains(log[0].Error, "redirects are not followed") {
			t.Fatalf("log %+v", log)
		}
		if len(target.all()) != 0 {
			t.Fatal("redirect followed")
		}
	})
}

// Deleting an endpoint drops its pending deliveries and its log; an
// endpoint disabled by the API receives nothing.
func TestDeleteAndDisable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
		j := startJoule(t, db, Options{Schedule: []time.Duration{0, time.Hour}}, 2)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, rc.URL)
		j.emit(t, p, "user.created")
		waitFor(t, 5*time.Second, "first attempt", func() bool { return len(rc.all()) == 1 })
		if err := j.svc.Delete(ctx, p, ep.ID); err != nil {
			t.Fatal(err)
		}
		if j.svc.backlog() != 0 {
			t.Fatal("deliveries of a deleted endpoint remain")
		}
		if _, _, err := Attempts(ctx, db.Q(), p, ep.ID, AttemptFilter{}); !apperr.Is(err, "webhook_endpoint_not_found") {
			t.Fatal(err)
		}
		ok := newReceiver(t, nil)
		ep2 := j.endpoint(t, p, ok.URL)
		yes := true
		if e, err := j.svc.Update(ctx, p, ep2.ID, EndpointPatch{Disabled: &yes}); err != nil || e.DisabledReason != ReasonManual {
			t.Fatalf("%+v %v", e, err)
		}
		j.emit(t, p, "user.created")
		time.Sleep(200 * time.Millisecond)
		if len(ok.all()) != 0 {
			t.Fatal("a disabled endpoint received an event")
		}
	})
}

func TestEnabledEventsValidation(t *testing.T) {
	for _, ok := range [][]string{{"*"}, {"session.*"}, {"session.payment.*"}, {"session.started", "wallet.updated"},
		{"SESSION_STARTED"}, {EventDisabled}, {"chargestation.connector_status.*"}} {
		if _, err := normalizeEvents(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]string{{}, {"session.start"}, {"sessions.*"}, {".*"}, {"*.*"}, {"session"}, {"session.started", "nope"}} {
		if _, err := normalizeEvents(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if got, _ := normalizeEvents([]string{"user.created", " user.created "}); !slices.Equal(got, []string{"user.created"}) {
		t.Errorf("dedupe: %v", got)
	}
	for _, c := range []struct {
		enabled []string
		typ     string
		want    bool
	}{
		{[]string{"*"}, "user.created", true},
		{[]string{"session.*"}, "session.payment.captured", true},
		{[]string{"session.payment.*"}, "session.started", false},
		{[]string{"session.*"}, "sessionx.started", false},
		{[]string{"user.created"}, "user.updated", false},
	} {
		if got := subscribed(c.enabled, c.typ); got != c.want {
			t.Errorf("subscribed(%v, %s) = %v", c.enabled, c.typ, got)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"1": time.Second, "120": 2 * time.Minute, "0": 0, "999999999": MaxRetryAfter,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
		now.Add(72 * time.Hour).Format(http.TimeFormat):   MaxRetryAfter,
	} {
		if got, ok := parseRetryAfter(h, now); !ok || got != want {
			t.Errorf("%q: %s %v, want %s", h, got, ok, want)
		}
	}
	for _, h := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := parseRetryAfter(h, now); ok {
			t.Errorf("%q accepted", h)
		}
	}
}

// The metrics count attempts by result, time them, and show the backlog.
func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(500)
			}
		})
		j := startJoule(t, db, Options{Schedule: []time.Duration{0, time.Millisecond}}, 2)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		j.endpoint(t, p, rc.URL)
		j.emit(t, p, "user.created")
		waitFor(t, 5*time.Second, "delivery", func() bool { return len(rc.delivered()) == 1 })
		waitFor(t, 5*time.Second, "backlog", func() bool { return j.svc.backlog() == 0 })
		mfs, err := j.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				key := mf.GetName()
				for _, l := range m.GetLabel() {
					key += "{" + l.GetValue() + "}"
				}
				switch {
				case m.Counter != nil:
					got[key] = m.Counter.GetValue()
				case m.Gauge != nil:
					got[key] = m.Gauge.GetValue()
				case m.Histogram != nil:
					got[key] = float64(m.Histogram.GetSampleCount())
				}
			}
		}
		want := map[string]float64{"joule_webhook_deliveries_total{success}": 1, "joule_webhook_deliveries_total{failure}": 1,
			"joule_webhook_deliveries_total{timeout}": 0, "joule_webhook_delivery_duration_seconds": 2, "joule_webhook_backlog": 0}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
			}
		}
	})
}

// TestSubscribersFollowEndpointChangesInOneTransaction: a transaction that
// emits several events (a group commit does) reads the endpoints once, and
// still sees an endpoint it disables or creates itself.
func TestSubscribersFollowEndpointChangesInOneTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		j := startJoule(t, db, Options{AllowPrivate: true}, 0)
		p := org.Principal{OrgID: newOrg(t, db), TestMode: true}
		ep := j.endpoint(t, p, "http://127.0.0.1:9/hook")
		var before, after, created string
		err := db.InTx(ctx, func(tx *store.Tx) error {
			emit := func(id *string) error {
				e, err := j.outbox.Emit(ctx, tx, p.OrgID, p.TestMode, "user.updated", "user", "u_1", map[string]any{})
				*id = e.ID
				return err
			}
			if err := emit(&before); err != nil {
				return err
			}
			if err := j.svc.disable(ctx, tx, &target{endpoint: ep.ID, orgID: p.OrgID, testMode: p.TestMode}, "test"); err != nil {
				return err
			}
			if err := emit(&after); err != nil {
				return err
			}
			// An endpoint inserted by this transaction receives what it emits next.
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET status = $1 WHERE id = $2`, StatusEnabled, ep.ID); err != nil {
				return err
			}
			forgetEndpoints(tx, p.OrgID, p.TestMode)
			return emit(&created)
		})
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]int{before: 1, after: 0, created: 1} {
			var n int
			if err := db.Q().QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`, id, ep.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("event %s: %d deliveries to the endpoint, want %d", id, n, want)
			}
		}
	})
}
