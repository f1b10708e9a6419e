package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/web/webtest"
)

// Spec 001 step by step, with the hosted payment page in headless Chromium.
func TestPaymentLinkSpec001(t *testing.T) {
	path := webtest.Chromium(t)
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"connector_start_cooldown": 0,
			"minimum_amount_to_start_session": 1800}})
		r := newRig(t, j, "CP-LINK", energyRate, sim.ChargerConfig{})

		// 1. Create: the payment object of the spec, and its two events.
		x := r.start(t, "payment_link")
		id := x["_id"].(string)
		pay := x["payment"].(map[string]any)
		if x["status"] != "created" || x["type"] != "payment_link" || pay["type"] != "anonymous" || pay["status"] != "created" ||
			pay["authorized_amount"] != 1800.0 || pay["currency"] != "usd" || pay["session"] != id || !strings.Contains(pay["url"].(string), "/pay/") {
			t.Fatalf("created: %v", x)
		}
		if got := strings.Join(eventTypes(t, j, id), ","); !strings.HasPrefix(got, "session.created,session.payment.created") {
			t.Fatalf("events at creation: %s", got)
		}

		// 2. The driver pays on the hosted page: authorized, then started.
		ctx, _ := webtest.Browse(t, path)
		webtest.Do(t, ctx, chromedp.Navigate(pay["url"].(string)), webtest.FillAndPay("4242 4242 4242 4242", webtest.FutureExpiry(), "#result-heading"))
		started := waitStatus(t, j, id, "started", 15*time.Second)
		if started["payment"].(map[string]any)["status"] != "authorized" {
			t.Fatalf("payment after paying: %v", started["payment"])
		}

		// 3. Ended: the final cost is captured, the rest released.
		time.Sleep(1500 * time.Millisecond)
		j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
		done := waitStatus(t, j, id, "completed", 15*time.Second)
		pay = done["payment"].(map[string]any)
		cost := done["cost"].(map[string]any)["amount"].(float64)
		if pay["status"] != "succeeded" || pay["captured_amount"] != cost || cost > 1800 || cost <= 0 {
			t.Fatalf("captured: cost %v payment %v", cost, pay)
		}
		var captured, authorized int64
		_ = j.App.DB.Q().QueryRowContext(context.Background(), `SELECT captured, amount FROM sandbox_payments WHERE reference = $1`, id).Scan(&captured, &authorized)
		if float64(captured) != cost || authorized != 1800 {
			t.Fatalf("sandbox payment: captured %d of %d", captured, authorized)
		}
		want := "session.created,session.payment.created,session.updated,session.payment.authorized"
		if got := strings.Join(eventTypes(t, j, id), ","); !strings.HasPrefix(got, want) || !strings.Contains(got, "session.started") ||
			!strings.Contains(got, "session.ended") || !strings.Contains(got, "session.payment.captured") {
			t.Fatalf("events %s", got)
		}
		checkLedger(t, j)

		// 4. A link not paid in time expires (target.payment_expiry_time), and its page says so.
		y := j.Must(t, 201, j.Key, "POST", "/v1/sessions", map[string]any{"user": r.user, "connector": r.connector, "type": "payment_link",
			"target": map[string]any{"payment_expiry_time": 1}})
		yid := y["_id"].(string)
		expired := waitStatus(t, j, yid, "failed", 10*time.Second)
		if expired["payment"].(map[string]any)["status"] != "expired" || !strings.Contains(strings.Join(eventTypes(t, j, yid), ","), "session.payment.expired") {
			t.Fatalf("expiry: %v", expired["payment"])
		}
		webtest.Do(t, ctx, chromedp.Navigate(y["payment"].(map[string]any)["url"].(string)), chromedp.WaitVisible(chromedp.CSS("#result-heading")))
		if h := webtest.Text(t, ctx, "#result-heading"); !strings.Contains(strings.ToLower(h), "expired") {
			t.Fatalf("expired page heading %q", h)
		}

		// 5. The driver cancels on the page: session.canceled.
		z := r.start(t, "payment_link")
		zid := z["_id"].(string)
		webtest.Do(t, ctx, chromedp.Navigate(z["payment"].(map[string]any)["url"].(string)), chromedp.WaitVisible(chromedp.ID("cancel")),
			chromedp.Click(chromedp.ID("cancel")), chromedp.WaitVisible(chromedp.CSS("#result-heading")))
		waitStatus(t, j, zid, "canceled", 10*time.Second)
		if !strings.Contains(strings.Join(eventTypes(t, j, zid), ","), "session.canceled") {
			t.Fatal("no session.canceled")
		}
	})
}

// Authorized but never started (the charger refuses): the authorization is
// released, session.canceled and session.payment.canceled (spec 001 §3).
func TestPaymentLinkNeverStarted(t *testing.T) {
	path := webtest.Chromium(t)
	j := apitest.Start(t, t.TempDir()+"/j.db")
	r := newRig(t, j, "CP-NOSTART", energyRate, sim.ChargerConfig{Behavior: sim.BehaviorStartFails})
	x := r.start(t, "payment_link")
	id := x["_id"].(string)
	ctx, _ := webtest.Browse(t, path)
	webtest.Do(t, ctx, chromedp.Navigate(x["payment"].(map[string]any)["url"].(string)), webtest.FillAndPay("4242 4242 4242 4242", webtest.FutureExpiry(), "#result-heading"))
	waitStatus(t, j, id, "canceled", 15*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		y := r.get(t, id)
		if y["payment"].(map[string]any)["status"] == "canceled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment not released: %v", y["payment"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := strings.Join(eventTypes(t, j, id), ",")
	if !strings.Contains(got, "session.canceled") || !strings.Contains(got, "session.payment.canceled") {
		t.Fatalf("events %s", got)
	}
	var status string
	_ = j.App.DB.Q().QueryRowContext(context.Background(), `SELECT status FROM sandbox_payments WHERE reference = $1`, id).Scan(&status)
	if status != "canceled" {
		t.Fatalf("sandbox payment %s, want canceled (released)", status)
	}
}

// A card authorized after the link expired (the provider's page and our
// timer raced) is released at the provider, never left held.
func TestPaymentLinkPaidAfterExpiryIsReleased(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	r := newRig(t, j, "CP-LATEPAY", energyRate, sim.ChargerConfig{})
	x := j.Must(t, 201, j.Key, "POST", "/v1/sessions", map[string]any{"user": r.user, "connector": r.connector, "type": "payment_link",
		"target": map[string]any{"payment_expiry_time": 1}})
	id := x["_id"].(string)
	waitStatus(t, j, id, "failed", 10*time.Second)
	ctx := context.Background()
	prov, err := j.App.Payments.Provider(true)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: "late:" + id, OrgID: j.App.Sandbox.OrgID, TestMode: true,
		PaymentMethod: "pm_card_visa", Amount: 2000, Currency: "USD", CaptureMethod: payments.CaptureManual, Purpose: "session", Reference: id})
	if err != nil || auth.Status != payments.StatusAuthorized {
		t.Fatalf("authorization: %+v %v", auth, err)
	}
	err = j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		return j.App.Sessions.HandleNotification(ctx, tx, payments.Notification{Type: "checkout.completed", Purpose: "session", Reference: id,
			OrgID: j.App.Sandbox.OrgID, TestMode: true, Payment: auth})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The provider releases it first, then the session records it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := prov.GetPayment(ctx, auth.ID)
		if err != nil {
			t.Fatal(err)
		}
		s := r.get(t, id)
		if p.Status == payments.StatusCanceled && s["payment"].(map[string]any)["status"] == "canceled" {
			if s["status"] != "failed" {
				t.Fatalf("session %v", s["status"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("late authorization %s at the provider; session payment %v", p.Status, s["payment"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
