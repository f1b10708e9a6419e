package payments_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// inbox collects the notifications delivered for the purpose "test".
type inbox struct {
	mu  sync.Mutex
	got []payments.Notification
}

func (b *inbox) handle(ctx context.Context, tx *store.Tx, n payments.Notification) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, n)
	return nil
}

// wait returns the notifications once there are n of them.
func (b *inbox) wait(t *testing.T, n int) []payments.Notification {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		got := append([]payments.Notification(nil), b.got...)
		b.mu.Unlock()
		if len(got) >= n {
			if len(got) > n {
				t.Fatalf("%d notifications, want %d: %+v", len(got), n, got)
			}
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications, want %d: %+v", len(got), n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running starts a payment service with its job queue.
func running(t *testing.T, db *store.DB) (*payments.Service, *jobs.Queue) {
	t.Helper()
	q := jobs.NewQueue(db, jobs.Options{PollInterval: 10 * time.Millisecond, Logger: quiet()})
	svc := payments.NewService(db, q, payments.Options{BaseURL: "http://joule.test/", Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return svc, q
}

// find returns the one notification of a type about a reference
// (notifications are delivered by parallel workers, in no set order).
func find(t *testing.T, ns []payments.Notification, typ, ref string) payments.Notification {
	t.Helper()
	var out []payments.Notification
	for _, n := range ns {
		if n.Type == typ && n.Reference == ref {
			out = append(out, n)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d %s notifications about %s in %+v", len(out), typ, ref, ns)
	}
	return out[0]
}

func nextYear() string { return fmt.Sprintf("%02d/%02d", 1, (time.Now().Year()+1)%100) }

func checkout(t *testing.T, sb *payments.Sandbox, key string, capture string, offerSave bool) *payments.Checkout {
	t.Helper()
	co, err := sb.CreateCheckout(context.Background(), payments.CheckoutRequest{IdempotencyKey: key, Purpose: "test", Reference: key, OrgID: "org_1",
		TestMode: true, Customer: "user_1", Amount: 2500, Currency: "USD", CaptureMethod: capture, OfferSave: offerSave,
		ExpiresAt: time.Now().Add(time.Hour), Description: "Test"})
	if err != nil {
		t.Fatal(err)
	}
	return co
}

func TestSandboxHostedPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := running(t, db)
		box := &inbox{}
		svc.OnNotification("test", box.handle)
		sb := svc.Sandbox()

		co := checkout(t, sb, "k1", payments.CaptureAutomatic, true)
		if !payments.IsSandboxCheckout(co.ID) || co.URL != "http://joule.test/pay/"+co.ID {
			t.Fatalf("checkout %+v", co)
		}
		// The same key is the same page; other parameters with it are refused.
		if again := checkout(t, sb, "k1", payments.CaptureAutomatic, true); again.ID != co.ID {
			t.Fatalf("same key made another page: %s", again.ID)
		}
		if _, err := sb.CreateCheckout(ctx, payments.CheckoutRequest{IdempotencyKey: "k1", Purpose: "test", Reference: "k1", OrgID: "org_1",
			TestMode: true, Amount: 1, Currency: "USD", CaptureMethod: payments.CaptureAutomatic}); !errors.Is(err, payments.ErrInvalid) {
			t.Fatalf("key reused: %v", err)
		}
		// Form checks: nothing recorded, nothing notified.
		for _, c := range []struct {
			card payments.Card
			code string
		}{
			{payments.Card{Number: "4242 4242 4242 4241", Expiry: nextYear(), CVC: "123"}, payments.CodeIncorrectNumber},
			{payments.Card{Number: "4242", Expiry: nextYear(), CVC: "123"}, payments.CodeIncorrectNumber},
			{payments.Card{Number: "4242-4242-4242-424x", Expiry: nextYear(), CVC: "123"}, payments.CodeIncorrectNumber},
			{payments.Card{Number: "4012 8888 8888 1881", Expiry: nextYear(), CVC: "123"}, payments.CodeLiveCardInTest},
			{payments.Card{Number: "4242424242424242", Expiry: "13/40", CVC: "123"}, payments.CodeInvalidExpiry},
			{payments.Card{Number: "4242424242424242", Expiry: "tomorrow", CVC: "123"}, payments.CodeInvalidExpiry},
			{payments.Card{Number: "4242424242424242", Expiry: fmt.Sprintf("%02d/%d", int(time.Now().Month()), time.Now().Year()-1), CVC: "123"}, payments.CodeExpiredCard},
			{payments.Card{Number: "4242424242424242", Expiry: nextYear(), CVC: "1234"}, payments.CodeInvalidCVC},
			{payments.Card{Number: "3782 822463 10005", Expiry: nextYear(), CVC: "123"}, payments.CodeInvalidCVC},
		} {
			v, cerr, err := sb.Pay(ctx, co.ID, c.card, false)
			if err != nil || cerr == nil || cerr.Code != c.code || v.Status != payments.PageOpen {
				t.Errorf("card %+v: %v %+v, want %s", c.card, err, cerr, c.code)
			}
		}
		// This month's cards still pay; declines keep the page open.
		thisMonth := time.Now().UTC().Format("01/06")
		for i, c := range []struct{ number, code string }{
			{"4000000000000002", payments.CodeCardDeclined},
			{"4000 0000 0000 9995", payments.CodeInsufficientFunds},
			{"4000000000000069", payments.CodeExpiredCard},
		} {
			v, cerr, err := sb.Pay(ctx, co.ID, payments.Card{Number: c.number, Expiry: thisMonth, CVC: "123"}, true)
			if err != nil || cerr != nil || v.Status != payments.PageOpen || v.FailureCode != c.code || v.Attempts != i+1 {
				t.Fatalf("decline %s: %v %v %+v", c.number, err, cerr, v)
			}
		}
		got := box.wait(t, 3)
		for _, n := range got {
			if n.Type != payments.CheckoutFailed || n.Reference != "k1" || n.Payment.Status != payments.StatusFailed || n.SavedMethod != nil {
				t.Fatalf("decline notification: %+v", n)
			}
		}
		// Amex pays with a 4-digit CVC and the card is saved.
		v, cerr, err := sb.Pay(ctx, co.ID, payments.Card{Number: "3782 822463 10005", Expiry: nextYear(), CVC: "1234"}, true)
		if err != nil || cerr != nil || v.Status != payments.PagePaid || v.PaymentID == "" || v.FailureCode != "" {
			t.Fatalf("pay: %v %v %+v", err, cerr, v)
		}
		n := find(t, box.wait(t, 4), payments.CheckoutCompleted, "k1")
		if n.Type != payments.CheckoutCompleted || n.CheckoutID != co.ID || n.OrgID != "org_1" || !n.TestMode || n.Payment.Status != payments.StatusCaptured ||
			n.Payment.Captured != 2500 || n.SavedMethod == nil || !strings.HasPrefix(n.SavedMethod.Token, "pm_sbx_") || n.SavedMethod.Brand != "amex" ||
			n.SavedMethod.Last4 != "0005" || n.SavedMethod.ExpMonth != 1 {
			t.Fatalf("completion: %+v %+v", n, n.SavedMethod)
		}
		// A paid page stays paid: paying again does nothing, expiry refuses.
		if v, _, _ := sb.Pay(ctx, co.ID, payments.Card{Number: "4242424242424242", Expiry: nextYear(), CVC: "123"}, false); v.Status != payments.PagePaid {
			t.Fatalf("second payment: %+v", v)
		}
		if err := sb.ExpireCheckout(ctx, "expire:k1", co.ID); !errors.Is(err, payments.ErrAlreadyPaid) {
			t.Fatalf("expire a paid page: %v", err)
		}
		// The saved card pays off-session in the same organization only.
		prov, _ := svc.Provider(true)
		if p, err := prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: "c1", OrgID: "org_1", TestMode: true, PaymentMethod: n.SavedMethod.Token,
			Amount: 700, Currency: "USD", CaptureMethod: payments.CaptureAutomatic}); err != nil || p.Captured != 700 || p.Method.Last4 != "0005" {
			t.Fatalf("charge saved card: %+v %v", p, err)
		}
		if _, err := prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: "c2", OrgID: "org_2", TestMode: true, PaymentMethod: n.SavedMethod.Token,
			Amount: 700, Currency: "USD", CaptureMethod: payments.CaptureAutomatic}); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("another organization's saved card: %v", err)
		}

		// Cancel and expiry close a page unpaid, once.
		c2 := checkout(t, sb, "k2", payments.CaptureManual, false)
		if v, err := sb.CancelCheckout(ctx, c2.ID); err != nil || v.Status != payments.PageCanceled {
			t.Fatalf("cancel: %+v %v", v, err)
		}
		if v, err := sb.CancelCheckout(ctx, c2.ID); err != nil || v.Status != payments.PageCanceled {
			t.Fatalf("cancel twice: %+v %v", v, err)
		}
		if err := sb.ExpireCheckout(ctx, "expire:k2", c2.ID); err != nil {
			t.Fatalf("expire a canceled page: %v", err)
		}
		c3 := checkout(t, sb, "k3", payments.CaptureManual, false)
		if err := sb.ExpireCheckout(ctx, "expire:k3", c3.ID); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := sb.Pay(ctx, c3.ID, payments.Card{Number: "4242424242424242", Expiry: nextYear(), CVC: "123"}, false); v.Status != payments.PageExpired || v.PaymentID != "" {
			t.Fatalf("pay an expired page: %+v", v)
		}
		got = box.wait(t, 6)
		find(t, got, payments.CheckoutCanceled, "k2")
		find(t, got, payments.CheckoutExpired, "k3")
		// A manual-capture page authorizes.
		c4 := checkout(t, sb, "k4", payments.CaptureManual, false)
		if v, _, err := sb.Pay(ctx, c4.ID, payments.Card{Number: "4242424242424242", Expiry: nextYear(), CVC: "123"}, true); err != nil || v.Status != payments.PagePaid {
			t.Fatalf("authorize: %+v %v", v, err)
		}
		if n := find(t, box.wait(t, 7), payments.CheckoutCompleted, "k4"); n.Payment.Status != payments.StatusAuthorized || n.Payment.Captured != 0 || n.SavedMethod != nil {
			t.Fatalf("authorization (no save offered): %+v", n)
		}
		if _, err := sb.Checkout(ctx, "cs_sbx_00000000000000000000000000000000"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("unknown checkout: %v", err)
		}
	})
}

// TestSandboxPayAtExpiry: a page past its expiry takes no card, even before
// any timer ran, and reports itself expired.
func TestSandboxPayAtExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := running(t, db)
		box := &inbox{}
		svc.OnNotification("test", box.handle)
		sb := svc.Sandbox()
		co, err := sb.CreateCheckout(ctx, payments.CheckoutRequest{IdempotencyKey: "k", Purpose: "test", Reference: "r", OrgID: "o", TestMode: true,
			Amount: 100, Currency: "USD", CaptureMethod: payments.CaptureAutomatic, ExpiresAt: time.Now().Add(150 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		v, cerr, err := sb.Pay(ctx, co.ID, payments.Card{Number: "4242424242424242", Expiry: nextYear(), CVC: "123"}, false)
		if err != nil || cerr != nil || v.Status != payments.PageExpired {
			t.Fatalf("late payment: %+v %v %v", v, cerr, err)
		}
		if n := box.wait(t, 1)[0]; n.Type != payments.CheckoutExpired {
			t.Fatalf("notification: %+v", n)
		}
		if _, err := sb.CreateCheckout(ctx, payments.CheckoutRequest{IdempotencyKey: "k2", Purpose: "test", Reference: "r", OrgID: "o", TestMode: true,
			Amount: 100, Currency: "USD", CaptureMethod: payments.CaptureAutomatic, ExpiresAt: time.Now().Add(-time.Second)}); !errors.Is(err, payments.ErrInvalid) {
			t.Fatalf("checkout expiring in the past: %v", err)
		}
	})
}

func TestSandboxPayments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := running(t, db)
		prov, _ := svc.Provider(true)
		charge := func(key, method string, amount int64, capture string) (*payments.Payment, error) {
			return prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: key, OrgID: "org", TestMode: true, PaymentMethod: method,
				Amount: amount, Currency: "USD", CaptureMethod: capture})
		}
		// Authorize, capture part, refund in parts.
		p, err := charge("auth:1", payments.TestMethodVisa, 3000, payments.CaptureManual)
		if err != nil || p.Status != payments.StatusAuthorized || p.Amount != 3000 || p.Method.Brand != "visa" {
			t.Fatalf("authorize: %+v %v", p, err)
		}
		if again, err := charge("auth:1", payments.TestMethodVisa, 3000, payments.CaptureManual); err != nil || again.ID != p.ID {
			t.Fatalf("same key: %+v %v", again, err)
		}
		if _, err := charge("auth:1", payments.TestMethodVisa, 3001, payments.CaptureManual); !errors.Is(err, payments.ErrInvalid) {
			t.Fatalf("key reused with another amount: %v", err)
		}
		if _, err := prov.Capture(ctx, "capture:1", p.ID, 3001); !errors.Is(err, payments.ErrInvalid) {
			t.Fatalf("capture above the authorization: %v", err)
		}
		got, err := prov.Capture(ctx, "capture:1", p.ID, 1800)
		if err != nil || got.Status != payments.StatusCaptured || got.Captured != 1800 {
			t.Fatalf("capture: %+v %v", got, err)
		}
		if got, err := prov.Capture(ctx, "capture:1", p.ID, 1800); err != nil || got.Captured != 1800 {
			t.Fatalf("capture again with the same key: %+v %v", got, err)
		}
		for name, err := range map[string]error{
			"capture twice":            second(prov.Capture(ctx, "capture:2", p.ID, 100)),
			"same key, another amount": second(prov.Capture(ctx, "capture:1", p.ID, 100)),
			"cancel a capture":         second(prov.Cancel(ctx, "cancel:1", p.ID)),
			"refund too much":          second(prov.Refund(ctx, "refund:x", p.ID, 1801)),
			"no key":                   second(prov.Refund(ctx, "", p.ID, 1)),
		} {
			if !errors.Is(err, payments.ErrInvalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if got, err := prov.Refund(ctx, "refund:1", p.ID, 800); err != nil || got.Status != payments.StatusRefunded || got.Refunded != 800 {
			t.Fatalf("refund: %+v %v", got, err)
		}
		if got, err := prov.Refund(ctx, "refund:1", p.ID, 800); err != nil || got.Refunded != 800 {
			t.Fatalf("refund again with the same key: %+v %v", got, err)
		}
		if got, err := prov.Refund(ctx, "refund:2", p.ID, 1000); err != nil || got.Refunded != 1800 {
			t.Fatalf("refund the rest: %+v %v", got, err)
		}
		if _, err := prov.Refund(ctx, "refund:3", p.ID, 1); !errors.Is(err, payments.ErrInvalid) {
			t.Fatalf("refund beyond the capture: %v", err)
		}
		// Release an authorization, once.
		a, _ := charge("auth:2", payments.TestMethodMastercard, 500, payments.CaptureManual)
		if got, err := prov.Cancel(ctx, "cancel:2", a.ID); err != nil || got.Status != payments.StatusCanceled {
			t.Fatalf("cancel: %+v %v", got, err)
		}
		if got, err := prov.Cancel(ctx, "cancel:3", a.ID); err != nil || got.Status != payments.StatusCanceled {
			t.Fatalf("cancel twice: %+v %v", got, err)
		}
		if _, err := prov.Capture(ctx, "capture:3", a.ID, 100); !errors.Is(err, payments.ErrInvalid) {
			t.Fatalf("capture a released authorization: %v", err)
		}
		// Declines, replayed by their key.
		for token, code := range map[string]string{payments.TestMethodDeclined: payments.CodeCardDeclined,
			payments.TestMethodInsufficientFunds: payments.CodeInsufficientFunds, payments.TestMethodExpiredCardDeclined: payments.CodeExpiredCard} {
			for range 2 {
				d, err := charge("decline:"+token, token, 100, payments.CaptureAutomatic)
				if !errors.Is(err, payments.ErrDeclined) || d == nil || d.FailureCode != code || d.Status != payments.StatusFailed {
					t.Fatalf("%s: %+v %v", token, d, err)
				}
			}
		}
		if _, err := charge("k", "pm_unknown", 100, payments.CaptureAutomatic); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("unknown method: %v", err)
		}
		if _, err := prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: "live", OrgID: "org", PaymentMethod: payments.TestMethodVisa, Amount: 1,
			Currency: "USD", CaptureMethod: payments.CaptureAutomatic}); !errors.Is(err, payments.ErrInvalid) {
			t.Fatalf("live charge at the sandbox: %v", err)
		}
		if _, err := prov.GetPayment(ctx, "pi_nope"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("unknown payment: %v", err)
		}
		// Concurrent captures with one key take the money once.
		c, _ := charge("auth:4", payments.TestMethodVisa, 900, payments.CaptureManual)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := prov.Capture(ctx, "capture:4", c.ID, 400); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got, _ := prov.GetPayment(ctx, c.ID); got.Captured != 400 {
			t.Fatalf("captured %d", got.Captured)
		}
		rec, err := payments.Reconcile(ctx, db.Q(), "org", true, "USD")
		if err != nil || rec.ProviderNet != 400 || rec.LedgerNet != 0 || rec.Balanced() {
			t.Fatalf("reconcile: %+v %v", rec, err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

// TestNotificationWithoutHandler: a notification whose purpose has no
// handler yet is kept and delivered once one is registered.
func TestNotificationWithoutHandler(t *testing.T) {
	db := storetest.SQLite(t)
	svc, q := running(t, db)
	ctx := context.Background()
	co := checkout(t, svc.Sandbox(), "k", payments.CaptureAutomatic, false)
	if _, _, err := svc.Sandbox().Pay(ctx, co.ID, payments.Card{Number: "4242424242424242", Expiry: nextYear(), CVC: "123"}, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	st, _ := jobs.Stats(ctx, db.Q())
	if st[jobs.StateAvailable] != 1 {
		t.Fatalf("jobs: %v", st)
	}
	box := &inbox{}
	svc.OnNotification("test", box.handle)
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET run_at = $1`, store.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	q.Notify()
	if n := box.wait(t, 1)[0]; n.Type != payments.CheckoutCompleted {
		t.Fatalf("late delivery: %+v", n)
	}
}
