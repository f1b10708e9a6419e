package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/payments/paymentstest"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
	"github.com/joule-ev/joule/internal/web"
)

const whsec = "whsec_test_secret"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// hook is a Joule whose Stripe webhook endpoint is served on its own, with
// the notifications it delivers collected.
type hook struct {
	url string
	db  *store.DB
	mu  sync.Mutex
	got []payments.Notification
}

func newHook(t *testing.T, db *store.DB, mock string) *hook {
	t.Helper()
	q := jobs.NewQueue(db, jobs.Options{PollInterval: 10 * time.Millisecond, Logger: quiet()})
	pay := payments.NewService(db, q, payments.Options{Logger: quiet(),
		Stripe: payments.StripeConfig{SecretKey: "sk_test_123", WebhookSecret: whsec, APIURL: mock}})
	h := &hook{db: db}
	pay.OnNotification("test", func(ctx context.Context, tx *store.Tx, n payments.Notification) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.got = append(h.got, n)
		return nil
	})
	srv := httptest.NewServer(web.New(db, pay, quiet()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Run(ctx) }()
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	h.url = srv.URL
	return h
}

// delivered waits until no job is pending and returns what was delivered.
func (h *hook) delivered(t *testing.T) []payments.Notification {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := jobs.Stats(context.Background(), h.db.Q())
		if err != nil {
			t.Fatal(err)
		}
		if st[jobs.StateAvailable]+st[jobs.StateRunning] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs pending: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]payments.Notification(nil), h.got...)
}

// event builds a Stripe event about obj.
func event(id, typ string, obj map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"livemode": true, "type": typ, "data": map[string]any{"object": obj}})
	return b
}

// sign signs a payload as Stripe does, with secret at time at.
func sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

func (h *hook) post(t *testing.T, payload []byte, signature string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var ourMetadata = map[string]any{"joule_purpose": "test", "joule_reference": "ref_1", "joule_org": "org_1", "joule_test_mode": "false", "joule_flow": "checkout"}

func TestStripeWebhook(t *testing.T) {
	mock := paymentstest.StripeMock(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHook(t, db, mock)
		completed := event("evt_completed", "checkout.session.completed", map[string]any{"id": "cs_1", "object": "checkout.session",
			"metadata": ourMetadata, "payment_intent": "pi_1", "amount_total": 2000, "currency": "usd", "status": "complete"})
		if status, body := h.post(t, completed, sign(completed, whsec, time.Now())); status != 200 || !strings.Contains(body, `"received":true`) {
			t.Fatalf("signed event: %d %s", status, body)
		}
		got := h.delivered(t)
		if len(got) != 1 {
			t.Fatalf("deliveries: %+v", got)
		}
		n := got[0]
		// The payment is read back from Stripe (here stripe-mock) before delivery.
		if n.Type != payments.CheckoutCompleted || n.CheckoutID != "cs_1" || n.Purpose != "test" || n.Reference != "ref_1" || n.OrgID != "org_1" ||
			n.TestMode || n.Payment == nil || n.Payment.ID != "pi_1" {
			t.Fatalf("notification: %+v", n)
		}
		// A replayed event (Stripe delivers at least once), even many at once,
		// is acknowledged and acted on once.
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if status, body := h.post(t, completed, sign(completed, whsec, time.Now())); status != 200 {
					t.Errorf("replay: %d %s", status, body)
				}
			})
		}
		wg.Wait()
		if got := h.delivered(t); len(got) != 1 {
			t.Fatalf("replays delivered %d times", len(got))
		}
		// Bad signatures change nothing.
		failed := event("evt_failed", "payment_intent.payment_failed", map[string]any{"id": "pi_1", "object": "payment_intent", "metadata": ourMetadata,
			"status": "requires_payment_method", "amount": 2000, "currency": "usd",
			"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "no"}})
		tampered := bytes.Replace(failed, []byte(`"amount":2000`), []byte(`"amount":1`), 1)
		for name, c := range map[string]struct {
			payload   []byte
			signature string
		}{
			"other secret": {failed, sign(failed, "whsec_other", time.Now())},
			"tampered":     {tampered, sign(failed, whsec, time.Now())},
			"no signature": {failed, ""},
			"garbage":      {failed, "t=1,v1=00"},
			"too old":      {failed, sign(failed, whsec, time.Now().Add(-10*time.Minute))},
			"not an event": {[]byte(`{"hello":1}`), sign([]byte(`{"hello":1}`), whsec, time.Now())},
		} {
			if status, body := h.post(t, c.payload, c.signature); status != 400 {
				t.Errorf("%s: %d %s", name, status, body)
			}
		}
		if got := h.delivered(t); len(got) != 1 {
			t.Fatalf("refused events delivered: %+v", got[1:])
		}
		// A declined attempt on the hosted page.
		if status, _ := h.post(t, failed, sign(failed, whsec, time.Now())); status != 200 {
			t.Fatalf("payment_failed: %d", status)
		}
		// Objects Joule did not create are acknowledged and ignored.
		foreign := event("evt_foreign", "checkout.session.completed", map[string]any{"id": "cs_9", "object": "checkout.session"})
		other := event("evt_other", "customer.created", map[string]any{"id": "cus_1", "object": "customer"})
		for _, p := range [][]byte{foreign, other} {
			if status, _ := h.post(t, p, sign(p, whsec, time.Now())); status != 200 {
				t.Fatalf("foreign event: %d", status)
			}
		}
		got = h.delivered(t)
		if len(got) != 2 || got[1].Type != payments.CheckoutFailed || got[1].Reference != "ref_1" {
			t.Fatalf("deliveries: %+v", got)
		}
		var seen int
		if err := db.Q().QueryRowContext(context.Background(), `SELECT count(*) FROM stripe_events`).Scan(&seen); err != nil || seen != 4 {
			t.Fatalf("recorded events: %d %v", seen, err)
		}
	})
}

// TestStripeWebhookNotConfigured: without Stripe the endpoint does not exist.
func TestStripeWebhookNotConfigured(t *testing.T) {
	db := storetest.SQLite(t)
	q := jobs.NewQueue(db, jobs.Options{})
	srv := httptest.NewServer(web.New(db, payments.NewService(db, q, payments.Options{Logger: quiet()}), quiet()))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/webhooks/stripe", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestLiveTopUpUsesStripe: in live mode the card form is Stripe's Checkout,
// never Joule's page.
func TestLiveTopUpUsesStripe(t *testing.T) {
	mock := paymentstest.StripeMock(t)
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "j.db") },
		"postgres": func(t *testing.T) string { return storetest.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			a, err := app.New(ctx, app.Config{DatabaseURL: dsn(t), Addr: "127.0.0.1:0", Version: "test", Logger: quiet(), JobPoll: 20 * time.Millisecond,
				NoSandboxChargers: true, Stripe: payments.StripeConfig{SecretKey: "sk_test_123", WebhookSecret: whsec, APIURL: mock}})
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = a.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			live := org.NewKey(false)
			if err := a.DB.InTx(ctx, func(tx *store.Tx) error { _, err := org.AddKey(ctx, tx, a.Sandbox.OrgID, "live", live); return err }); err != nil {
				t.Fatal(err)
			}
			call := func(method, path string, body any) map[string]any {
				raw, _ := json.Marshal(body)
				req, _ := http.NewRequest(method, a.BaseURL()+path, bytes.NewReader(raw))
				req.Header.Set("Authorization", "Bearer "+live)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var out map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&out)
				if resp.StatusCode/100 != 2 {
					t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
				}
				return out
			}
			u := call("POST", "/v1/users", map[string]any{"firstname": "Live"})
			tu := call("POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": u["wallet"].(map[string]any)["_id"], "amount": 2000})
			pageURL, _ := tu["url"].(string)
			if tu["status"] != "created" || tu["test_mode"] != false || !strings.HasPrefix(pageURL, "https://checkout.stripe.com/") {
				t.Fatalf("live top-up: %v", tu)
			}
			if strings.HasPrefix(pageURL, a.BaseURL()) {
				t.Fatal("live mode uses Joule's card page")
			}
			resp, err := http.Get(a.BaseURL() + "/pay/complete")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("return page: %d", resp.StatusCode)
			}
		})
	}
}
