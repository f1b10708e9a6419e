package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/web/webtest"
)

func balance(t *testing.T, j *apitest.Joule, walletID string) float64 {
	t.Helper()
	return j.Must(t, 200, j.Key, "GET", "/v1/wallets/"+walletID, nil)["balance"].(float64)
}

func waitStatus(t *testing.T, j *apitest.Joule, topUpID, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := j.Must(t, 200, j.Key, "GET", "/v1/top_up/"+topUpID, nil)
		if got["status"] == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("top-up %s is %v, want %s", topUpID, got["status"], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBrowserTopUp drives the hosted page in a real browser against a real
// server: a discounted top-up paid with 4242..., a declined card, and an
// expired link.
func TestBrowserTopUp(t *testing.T) {
	path := webtest.Chromium(t)
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		ctx, requested := webtest.Browse(t, path)
		u := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Robin"})
		wid := u["wallet"].(map[string]any)["_id"].(string)

		// 1. Pay 20.00 for 25.00 of credit with the test Visa.
		tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 2000, "wallet_amount": 2500})
		webtest.Do(t, ctx, chromedp.Navigate(tu["url"].(string)), chromedp.WaitVisible(chromedp.ID("number")))
		if amount := webtest.Text(t, ctx, ".amount"); !strings.Contains(amount, "$20.00") {
			t.Fatalf("amount shown: %q", amount)
		}
		// Keyboard order: the fields in reading order, then Pay, then Cancel.
		focusOrder := webtest.Eval[string](t, ctx, `[...document.querySelectorAll('a[href], button, input:not([type=hidden]), summary')]
			.filter(e => e.tabIndex >= 0).map(e => e.id || e.tagName.toLowerCase()).join(',')`)
		if !strings.HasPrefix(focusOrder, "number,expiry,cvc,name,save,pay,cancel") {
			t.Fatalf("focus order: %s", focusOrder)
		}
		// Every field has a label.
		if unlabeled := webtest.Eval[int](t, ctx, `[...document.querySelectorAll('input:not([type=hidden])')].filter(e => e.labels.length === 0).length`); unlabeled != 0 {
			t.Fatalf("%d inputs without a label", unlabeled)
		}
		// Usable on a phone: nothing wider than the screen.
		if !webtest.Eval[bool](t, ctx, `document.documentElement.scrollWidth <= window.innerWidth`) {
			t.Fatal("the payment page scrolls sideways on a phone")
		}
		// A refused form focuses the field at fault and announces the error.
		webtest.Do(t, ctx, webtest.FillAndPay("4242 4242 4242 4241", webtest.FutureExpiry(), "[role=alert]"))
		if alert := webtest.Text(t, ctx, "[role=alert]"); !strings.Contains(alert, "card number is incorrect") {
			t.Fatalf("refused form: alert %q", alert)
		}
		// The browser moves focus (autofocus) when it next renders.
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			active := webtest.Eval[string](t, ctx, `document.activeElement.id`)
			if active == "number" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("refused form: focus on %q, want the card number", active)
			}
		}
		webtest.Do(t, ctx,
			chromedp.Navigate(tu["url"].(string)),
			chromedp.WaitVisible(chromedp.ID("save")),
			chromedp.Click(chromedp.ID("save")),
			webtest.FillAndPay("4242 4242 4242 4242", webtest.FutureExpiry(), "#result-heading"))
		if heading := webtest.Text(t, ctx, "h1"); heading != "Payment successful" {
			t.Fatalf("after paying: %q", heading)
		}
		waitStatus(t, j, tu["_id"].(string), "completed")
		if b := balance(t, j, wid); b != 2500 {
			t.Fatalf("wallet balance %v, want the wallet_amount 2500", b)
		}
		legs := map[string]float64{}
		for _, a := range j.Must(t, 200, j.Key, "GET", "/v1/wallets/"+wid+"/activity", nil)["data"].([]any) {
			a := a.(map[string]any)
			legs[a["type"].(string)] += a["amount"].(float64)
		}
		if legs["top_up"] != 2000 || legs["discount"] != 500 {
			t.Fatalf("ledger legs: %v, want top_up 2000 and a promotions discount of 500", legs)
		}
		if pms := j.Must(t, 200, j.Key, "GET", "/v1/users/"+u["_id"].(string)+"/payment_methods", nil)["data"].([]any); len(pms) != 1 {
			t.Fatalf("saved card: %v", pms)
		}

		// 2. A declined card: the declined page, nothing credited.
		tu2 := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 1000})
		webtest.Do(t, ctx, chromedp.Navigate(tu2["url"].(string)), webtest.FillAndPay("4000 0000 0000 0002", webtest.FutureExpiry(), "#result-heading"))
		if heading, message := webtest.Text(t, ctx, "h1"), webtest.Text(t, ctx, ".message"); heading != "Payment declined" || message != "Your card was declined." {
			t.Fatalf("declined card: %q / %q", heading, message)
		}
		got := j.Must(t, 200, j.Key, "GET", "/v1/top_up/"+tu2["_id"].(string), nil)
		if got["status"] != "created" || balance(t, j, wid) != 2500 {
			t.Fatalf("after a decline: %v, balance %v", got, balance(t, j, wid))
		}

		// 3. An expired link: the expired page, nothing credited.
		tu3 := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 1000})
		expireNow(t, j, tu3["_id"].(string))
		waitStatus(t, j, tu3["_id"].(string), "expired")
		webtest.Do(t, ctx, chromedp.Navigate(tu3["url"].(string)), chromedp.WaitVisible(chromedp.CSS("#result-heading")))
		if heading, hasForm := webtest.Text(t, ctx, "h1"), webtest.Eval[bool](t, ctx, `document.querySelector('#number') !== null`); heading != "This payment link has expired" || hasForm {
			t.Fatalf("expired link: %q (form shown: %v)", heading, hasForm)
		}
		if b := balance(t, j, wid); b != 2500 {
			t.Fatalf("balance %v after the declined and expired top-ups", b)
		}
		// No third-party assets: every request went to Joule itself.
		for _, u := range requested() {
			if !strings.HasPrefix(u, j.URL+"/pay/") {
				t.Errorf("the page requested %s", u)
			}
		}
	})
}

// expireNow brings a top-up's expiry timer to now, as if top_up_expiry_time
// had passed.
func expireNow(t *testing.T, j *apitest.Joule, topUpID string) {
	t.Helper()
	ctx := context.Background()
	err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET run_at = $1 WHERE unique_key = $2`, store.Now(), "topup.expire:"+topUpID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	j.App.Jobs.Notify()
}
