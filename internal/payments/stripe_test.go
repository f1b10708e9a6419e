package payments_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/payments/paymentstest"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// recorder keeps every request the Stripe client sends and forwards it.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, key string
	form              url.Values
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := recorded{method: req.Method, path: req.URL.Path, key: req.Header.Get("Idempotency-Key"), form: req.URL.Query()}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		if form, err := url.ParseQuery(string(body)); err == nil && len(form) > 0 {
			rec.form = form
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// take returns the requests since the last call.
func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// want checks one request's method, path, idempotency key and form fields.
func want(t *testing.T, got recorded, method, path, key string, fields map[string]string) {
	t.Helper()
	if got.method != method || got.path != path {
		t.Fatalf("request %s %s, want %s %s", got.method, got.path, method, path)
	}
	if got.key != key {
		t.Errorf("%s %s: Idempotency-Key %q, want %q", method, path, got.key, key)
	}
	for k, v := range fields {
		if g := got.form.Get(k); g != v {
			t.Errorf("%s %s: %s = %q, want %q (form %v)", method, path, k, g, v, got.form)
		}
	}
}

// TestStripeRequests drives every provider call against stripe-mock, which
// refuses any request that does not fit Stripe's API, and checks the
// parameters and idempotency keys Joule sends.
func TestStripeRequests(t *testing.T) {
	mock := paymentstest.StripeMock(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rec := &recorder{}
		svc := payments.NewService(db, jobs.NewQueue(db, jobs.Options{}), payments.Options{Logger: quiet(),
			Stripe: payments.StripeConfig{SecretKey: "sk_test_123", WebhookSecret: "whsec_test", APIURL: mock, HTTPClient: &http.Client{Transport: rec}}})
		prov, err := svc.Provider(false)
		if err != nil || prov.Name() != "stripe" {
			t.Fatalf("live provider: %v %v", prov, err)
		}
		if sb, _ := svc.Provider(true); sb.Name() != "sandbox" {
			t.Fatalf("test mode uses %s", sb.Name())
		}

		// A hold through a hosted page, offering to save the card: the
		// driver's Stripe customer is created once, with a key of its own.
		expires := time.Now().Add(5 * time.Minute)
		req := payments.CheckoutRequest{IdempotencyKey: "checkout:pay_1", Purpose: "session", Reference: "sess_1", OrgID: "org_1",
			Customer: "user_1", Amount: 2000, Currency: "USD", CaptureMethod: payments.CaptureManual, OfferSave: true, ExpiresAt: expires,
			SuccessURL: "https://app.example/ok", CancelURL: "https://app.example/cancel", Description: "Charging session"}
		co, err := prov.CreateCheckout(ctx, req)
		if err != nil || co.ID == "" || !strings.HasPrefix(co.URL, "https://") {
			t.Fatalf("checkout: %+v %v", co, err)
		}
		reqs := rec.take()
		if len(reqs) != 2 {
			t.Fatalf("requests: %+v", reqs)
		}
		want(t, reqs[0], "POST", "/v1/customers", "customer:org_1:user_1", map[string]string{"metadata[joule_user]": "user_1"})
		want(t, reqs[1], "POST", "/v1/checkout/sessions", "checkout:pay_1", map[string]string{
			"mode":                                "payment",
			"payment_intent_data[capture_method]": "manual",
			"payment_intent_data[setup_future_usage]":        "off_session",
			"payment_intent_data[metadata][joule_purpose]":   "session",
			"payment_intent_data[metadata][joule_reference]": "sess_1",
			"metadata[joule_org]":                            "org_1",
			"metadata[joule_test_mode]":                      "false",
			"line_items[0][price_data][currency]":            "usd",
			"line_items[0][price_data][unit_amount]":         "2000",
			"line_items[0][price_data][product_data][name]":  "Charging session",
			"line_items[0][quantity]":                        "1",
			"success_url":                                    "https://app.example/ok",
			"cancel_url":                                     "https://app.example/cancel",
			"client_reference_id":                            "sess_1",
		})
		if !strings.HasPrefix(reqs[1].form.Get("customer"), "cus_") {
			t.Errorf("checkout offering to save has customer %q", reqs[1].form.Get("customer"))
		}
		// Stripe's bounds: at least 30 minutes, whatever Joule's own expiry.
		if at, _ := strconv.ParseInt(reqs[1].form.Get("expires_at"), 10, 64); at < time.Now().Add(30*time.Minute).Unix() {
			t.Errorf("expires_at %d is under Stripe's 30 minutes", at)
		}
		// The customer is remembered: a second page makes no second customer.
		req.IdempotencyKey, req.CaptureMethod, req.OfferSave = "topup:t_2", payments.CaptureAutomatic, true
		if _, err := prov.CreateCheckout(ctx, req); err != nil {
			t.Fatal(err)
		}
		reqs = rec.take()
		if len(reqs) != 1 {
			t.Fatalf("second checkout: %+v", reqs)
		}
		want(t, reqs[0], "POST", "/v1/checkout/sessions", "topup:t_2", map[string]string{"payment_intent_data[capture_method]": "automatic"})

		// Off-session charge of a saved card.
		pay, err := prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: "charge:sess_9", OrgID: "org_1", Customer: "cus_1",
			PaymentMethod: "pm_1", Amount: 1234, Currency: "USD", CaptureMethod: payments.CaptureAutomatic, Purpose: "session", Reference: "sess_9"})
		reqs = rec.take()
		want(t, reqs[0], "POST", "/v1/payment_intents", "charge:sess_9", map[string]string{"amount": "1234", "currency": "usd",
			"customer": "cus_1", "payment_method": "pm_1", "confirm": "true", "off_session": "true", "capture_method": "automatic",
			"metadata[joule_flow]": "charge", "metadata[joule_reference]": "sess_9"})
		// stripe-mock answers with a fixture PaymentIntent whatever was asked,
		// so its status says nothing; the mapping is tested on its own below.
		if pay == nil && !errors.Is(err, payments.ErrDeclined) {
			t.Fatalf("charge: %v", err)
		}

		// Capture part of a hold, cancel, refund, expire, read.
		if _, err := prov.Capture(ctx, "capture:pay_1", "pi_1", 1500); err != nil {
			t.Fatal(err)
		}
		want(t, rec.take()[0], "POST", "/v1/payment_intents/pi_1/capture", "capture:pay_1", map[string]string{"amount_to_capture": "1500"})
		if _, err := prov.Cancel(ctx, "cancel:pay_1", "pi_1"); err != nil {
			t.Fatal(err)
		}
		want(t, rec.take()[0], "POST", "/v1/payment_intents/pi_1/cancel", "cancel:pay_1", nil)
		if _, err := prov.Refund(ctx, "refund:pay_1", "pi_1", 300); err != nil {
			t.Fatal(err)
		}
		reqs = rec.take()
		want(t, reqs[0], "POST", "/v1/refunds", "refund:pay_1", map[string]string{"payment_intent": "pi_1", "amount": "300"})
		want(t, reqs[1], "GET", "/v1/payment_intents/pi_1", "", map[string]string{"expand[0]": "payment_method", "expand[1]": "latest_charge"})
		if err := prov.ExpireCheckout(ctx, "expire:topup:t_2", co.ID); err != nil {
			t.Fatal(err)
		}
		want(t, rec.take()[0], "POST", "/v1/checkout/sessions/"+co.ID+"/expire", "expire:topup:t_2", nil)
		got, err := prov.GetPayment(ctx, "pi_42")
		if err != nil || got.ID != "pi_42" {
			t.Fatalf("get payment: %+v %v", got, err)
		}
		want(t, rec.take()[0], "GET", "/v1/payment_intents/pi_42", "", map[string]string{"expand[0]": "payment_method", "expand[1]": "latest_charge"})
		// Bad requests never reach Stripe.
		for _, bad := range []payments.ChargeRequest{
			{IdempotencyKey: "", Amount: 1, Currency: "USD", CaptureMethod: payments.CaptureAutomatic},
			{IdempotencyKey: "k", Amount: 0, Currency: "USD", CaptureMethod: payments.CaptureAutomatic},
			{IdempotencyKey: "k", Amount: 1, Currency: "usd", CaptureMethod: payments.CaptureAutomatic},
			{IdempotencyKey: "k", Amount: 1, Currency: "USD", CaptureMethod: "later"},
		} {
			if _, err := prov.Charge(ctx, bad); !errors.Is(err, payments.ErrInvalid) {
				t.Errorf("charge %+v: %v", bad, err)
			}
		}
		if sent := rec.take(); len(sent) != 0 {
			t.Fatalf("invalid requests sent: %+v", sent)
		}
	})
}

// TestStripeUnavailable: a Stripe that does not answer is a retryable
// error, never a decline.
func TestStripeUnavailable(t *testing.T) {
	db := storetest.SQLite(t)
	svc := payments.NewService(db, jobs.NewQueue(db, jobs.Options{}), payments.Options{Logger: quiet(),
		Stripe: payments.StripeConfig{SecretKey: "sk_test_123", APIURL: "http://127.0.0.1:1"}})
	prov, _ := svc.Provider(false)
	_, err := prov.Capture(context.Background(), "capture:x", "pi_1", 100)
	if !errors.Is(err, payments.ErrUnavailable) {
		t.Fatalf("unreachable Stripe: %v", err)
	}
}

// TestLiveWithoutProvider: live mode without Stripe fails clearly.
func TestLiveWithoutProvider(t *testing.T) {
	db := storetest.SQLite(t)
	svc := payments.NewService(db, jobs.NewQueue(db, jobs.Options{}), payments.Options{Logger: quiet()})
	_, err := svc.Provider(false)
	if e, ok := apperr.As(err); !ok || e.Code != "payment_provider_not_configured" || e.Kind != apperr.Unavailable {
		t.Fatalf("live provider without Stripe: %v", err)
	}
	if svc.Stripe() != nil {
		t.Fatal("Stripe configured without a key")
	}
}
