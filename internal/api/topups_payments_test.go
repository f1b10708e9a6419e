package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/store"
)

// newWalletUser creates a user and returns its id and wallet id.
func newWalletUser(t *testing.T, j *apitest.Joule, key string) (userID, walletID string) {
	t.Helper()
	u := j.Must(t, 201, key, "POST", "/v1/users", map[string]any{"firstname": "Dana", "email": "dana@example.com"})
	return u["_id"].(string), u["wallet"].(map[string]any)["_id"].(string)
}

// walletBalance reads a wallet's balance and available balance.
func walletBalance(t *testing.T, j *apitest.Joule, key, walletID string) (balance, available float64) {
	t.Helper()
	w := j.Must(t, 200, key, "GET", "/v1/wallets/"+walletID, nil)
	return w["balance"].(float64), w["available_balance"].(float64)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// topUpStatus polls a top-up until it has status want.
func waitTopUp(t *testing.T, j *apitest.Joule, key, topUpID, want string) map[string]any {
	t.Helper()
	var got map[string]any
	eventually(t, "top-up "+topUpID+" "+want, func() bool {
		got = j.Must(t, 200, key, "GET", "/v1/top_up/"+topUpID, nil)
		return got["status"] == want
	})
	return got
}

// browser is an HTTP client that submits the sandbox's hosted page the way a
// browser does: cookies, the form's CSRF token, same-origin headers.
type browser struct {
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{c: &http.Client{Jar: jar}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// pay opens the page, fills the card form and returns the final page.
func (b *browser) pay(t *testing.T, pageURL, number, expiry, cvc string, save bool) (int, string) {
	t.Helper()
	status, page := b.get(t, pageURL)
	m := csrfRe.FindStringSubmatch(page)
	if status != 200 || m == nil {
		t.Fatalf("payment page %s: %d %s", pageURL, status, page)
	}
	form := url.Values{"csrf": {m[1]}, "number": {number}, "expiry": {expiry}, "cvc": {cvc}}
	if save {
		form.Set("save", "1")
	}
	return b.post(t, pageURL, form)
}

func (b *browser) post(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func futureExpiry() string { return fmt.Sprintf("12/%02d", (time.Now().Year()+2)%100) }

func TestTopUpHostedPage(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		uid, wid := newWalletUser(t, j, j.Key)
		tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 2000, "wallet_amount": 2500})
		// The response shape of spec 004.
		for _, k := range []string{"_id", "user", "wallet", "url", "status", "type", "amount", "wallet_amount", "currency", "test_mode", "createdAt", "updatedAt", "expiredAt"} {
			if _, ok := tu[k]; !ok {
				t.Errorf("top-up lacks %q: %v", k, tu)
			}
		}
		if tu["status"] != "created" || tu["user"] != uid || tu["wallet"] != wid || tu["type"] != "manual" || tu["amount"] != 2000.0 ||
			tu["wallet_amount"] != 2500.0 || tu["currency"] != "USD" || tu["test_mode"] != true {
			t.Fatalf("top-up: %v", tu)
		}
		created, _ := time.Parse(time.RFC3339, tu["createdAt"].(string))
		expires, _ := time.Parse(time.RFC3339, tu["expiredAt"].(string))
		if d := expires.Sub(created); d != 300*time.Second {
			t.Errorf("expiredAt - createdAt = %s, want top_up_expiry_time 300s", d)
		}
		pageURL := tu["url"].(string)
		if !strings.HasPrefix(pageURL, j.URL+"/pay/cs_sbx_") {
			t.Fatalf("url %q is not the sandbox's page", pageURL)
		}
		b := newBrowser(t)
		// A declined card: the declined page, nothing credited, the page stays payable.
		status, page := b.pay(t, pageURL, "4000 0000 0000 0002", futureExpiry(), "123", false)
		if status != 200 || !strings.Contains(page, "Payment declined") || !strings.Contains(page, "Your card was declined.") {
			t.Fatalf("declined page: %d %s", status, page)
		}
		got := waitTopUp(t, j, j.Key, tu["_id"].(string), "created")
		eventually(t, "failure recorded", func() bool {
			got = j.Must(t, 200, j.Key, "GET", "/v1/top_up/"+tu["_id"].(string), nil)
			return got["failure_code"] == "card_declined"
		})
		// Form checks refuse bad input without a payment attempt.
		for _, c := range []struct{ number, expiry, cvc, want string }{
			{"4242 4242 4242 4241", futureExpiry(), "123", "Your card number is incorrect."},
			{"4242 4242 4242 4242", "01/20", "123", "Your card&#39;s expiration date is in the past."},
			{"4242 4242 4242 4242", futureExpiry(), "12", "security code is 3 digits"},
			{"5105 1051 0510 5100", futureExpiry(), "123", "use a test card"},
		} {
			status, page := b.pay(t, pageURL, c.number, c.expiry, c.cvc, false)
			if status != 422 || !strings.Contains(page, c.want) || !strings.Contains(page, `role="alert"`) {
				t.Errorf("card %s %s: %d, want 422 with %q: %s", c.number, c.expiry, status, c.want, page)
			}
		}
		// The test card pays; the discount is a real ledger leg.
		status, page = b.pay(t, pageURL, "4242424242424242", futureExpiry(), "123", true)
		if status != 200 || !strings.Contains(page, "Payment successful") || !strings.Contains(page, "$20.00") || !strings.Contains(page, "Visa ending in 4242") {
			t.Fatalf("success page: %d %s", status, page)
		}
		done := waitTopUp(t, j, j.Key, tu["_id"].(string), "completed")
		if _, has := done["failure_code"]; has {
			t.Errorf("completed top-up keeps the failed attempt: %v", done)
		}
		if bal, avail := walletBalance(t, j, j.Key, wid); bal != 2500 || avail != 2500 {
			t.Fatalf("wallet %v/%v, want 2500", bal, avail)
		}
		acts := j.Must(t, 200, j.Key, "GET", "/v1/wallets/"+wid+"/activity", nil)["data"].([]any)
		types := map[string]float64{}
		for _, a := range acts {
			a := a.(map[string]any)
			types[a["type"].(string)] = a["amount"].(float64)
		}
		if types["top_up"] != 2000 || types["discount"] != 500 || len(acts) != 2 {
			t.Fatalf("activity: %v", acts)
		}
		// Paying again, reloading, or the page itself: the outcome stays.
		if status, page := b.get(t, pageURL); status != 200 || !strings.Contains(page, "Payment successful") {
			t.Fatalf("page after payment: %d %s", status, page)
		}
		// The saved card: listed, default, on the user, with user.updated.
		ms := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any)
		if len(ms) != 1 {
			t.Fatalf("payment methods: %v", ms)
		}
		pm := ms[0].(map[string]any)
		if pm["brand"] != "visa" || pm["last4"] != "4242" || pm["exp_month"] != 12.0 || pm["default"] != true || pm["provider"] != "sandbox" {
			t.Fatalf("saved method: %v", pm)
		}
		u := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid, nil)
		if pms := u["payment_methods"].([]any); len(pms) != 1 || pms[0].(map[string]any)["_id"] != pm["_id"] {
			t.Fatalf("user.payment_methods: %v", u["payment_methods"])
		}
		for typ, want := range map[string]int{"top_up.created": 1, "top_up.completed": 1, "user.updated": 1, "wallet.updated": 1} {
			evs := j.Must(t, 200, j.Key, "GET", "/v1/events?type="+typ, nil)["data"].([]any)
			if len(evs) != want {
				t.Errorf("%d %s events, want %d", len(evs), typ, want)
			}
		}
		// The ledger sums to zero, and the sandbox agrees with it.
		checkBooks(t, j)
	})
}

func TestTopUpStoredCard(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		uid, wid := newWalletUser(t, j, j.Key)
		// The test token pm_card_visa: completed within the call.
		tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual_with_payment_method", "wallet": wid,
			"amount": 1000, "payment_method": "pm_card_visa"})
		if tu["status"] != "completed" || tu["url"] != nil || tu["wallet_amount"] != 1000.0 || tu["payment_method"] != "pm_card_visa" {
			t.Fatalf("stored-card top-up: %v", tu)
		}
		if bal, _ := walletBalance(t, j, j.Key, wid); bal != 1000 {
			t.Fatalf("balance %v", bal)
		}
		// A declining card: failed with the reason, nothing credited.
		tu = j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual_with_payment_method", "wallet": wid,
			"amount": 1000, "payment_method": "pm_card_chargeDeclined"})
		if tu["status"] != "failed" || tu["failure_code"] != "card_declined" {
			t.Fatalf("declined top-up: %v", tu)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/events?type=top_up.failed", nil)["data"].([]any)); n != 1 {
			t.Fatalf("top_up.failed events: %d", n)
		}
		// A card saved on a hosted page is charged by its Joule id.
		page := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 500})
		b := newBrowser(t)
		if status, body := b.pay(t, page["url"].(string), "5555 5555 5555 4444", futureExpiry(), "123", true); status != 200 || !strings.Contains(body, "Payment successful") {
			t.Fatalf("pay: %d %s", status, body)
		}
		waitTopUp(t, j, j.Key, page["_id"].(string), "completed")
		pm := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any)[0].(map[string]any)
		tu = j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual_with_payment_method", "wallet": wid,
			"amount": 700, "wallet_amount": 800, "payment_method": pm["_id"]})
		if tu["status"] != "completed" {
			t.Fatalf("saved-card top-up: %v", tu)
		}
		if bal, _ := walletBalance(t, j, j.Key, wid); bal != 1000+500+800 {
			t.Fatalf("balance %v", bal)
		}
		// The list filters by wallet and status.
		l := j.Must(t, 200, j.Key, "GET", "/v1/top_up?wallet="+wid+"&status=completed&limit=2", nil)
		if len(l["data"].([]any)) != 2 || l["has_more"] != true {
			t.Fatalf("list page 1: %v", l)
		}
		l2 := j.Must(t, 200, j.Key, "GET", "/v1/top_up?wallet="+wid+"&status=completed&limit=2&cursor="+l["next_cursor"].(string), nil)
		if len(l2["data"].([]any)) != 1 || l2["has_more"] != false {
			t.Fatalf("list page 2: %v", l2)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/top_up?status=failed", nil)["data"].([]any)); n != 1 {
			t.Fatalf("failed top-ups: %d", n)
		}
		checkBooks(t, j)
	})
}

func TestTopUpValidation(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		_, wid := newWalletUser(t, j, j.Key)
		otherUser, _ := newWalletUser(t, j, j.Key)
		_ = otherUser
		cases := []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"missing type", map[string]any{"wallet": wid, "amount": 100}, 422, "validation_failed"},
			{"auto is not creatable", map[string]any{"type": "auto", "wallet": wid, "amount": 100}, 422, "validation_failed"},
			{"bad wallet id", map[string]any{"type": "manual", "wallet": "nope", "amount": 100}, 422, "validation_failed"},
			{"zero amount", map[string]any{"type": "manual", "wallet": wid, "amount": 0}, 422, "validation_failed"},
			{"huge amount", map[string]any{"type": "manual", "wallet": wid, "amount": 100000000}, 422, "validation_failed"},
			{"unknown field", map[string]any{"type": "manual", "wallet": wid, "amount": 100, "tip": 1}, 422, "unknown_field"},
			{"fee", map[string]any{"type": "manual", "wallet": wid, "amount": 2000, "wallet_amount": 1500}, 422, "invalid_field"},
			{"method on manual", map[string]any{"type": "manual", "wallet": wid, "amount": 100, "payment_method": "pm_card_visa"}, 422, "invalid_field"},
			{"method missing", map[string]any{"type": "manual_with_payment_method", "wallet": wid, "amount": 100}, 422, "invalid_field"},
			{"method unknown", map[string]any{"type": "manual_with_payment_method", "wallet": wid, "amount": 100, "payment_method": "0123456789abcdef01234567"}, 422, "invalid_field"},
			{"method malformed", map[string]any{"type": "manual_with_payment_method", "wallet": wid, "amount": 100, "payment_method": "pm_real_card"}, 422, "invalid_field"},
			{"no such wallet", map[string]any{"type": "manual", "wallet": "0123456789abcdef01234567", "amount": 100}, 404, "wallet_not_found"},
		}
		for _, c := range cases {
			r := j.Do(t, j.Key, "POST", "/v1/top_up", c.body)
			if r.Status != c.status || !strings.Contains(r.Header.Get("Content-Type"), "application/problem+json") || r.JSON(t)["code"] != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
			}
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/top_up", nil)["data"].([]any)); n != 0 {
			t.Fatalf("bad input created %d top-ups", n)
		}
		for _, q := range []string{"?status=done", "?wallet=xyz", "?limit=0", "?color=red"} {
			if r := j.Do(t, j.Key, "GET", "/v1/top_up"+q, nil); r.Status != 422 {
				t.Errorf("GET /v1/top_up%s: %d", q, r.Status)
			}
		}
		if r := j.Do(t, j.Key, "GET", "/v1/top_up/0123456789abcdef01234567", nil); r.Status != 404 || r.JSON(t)["code"] != "top_up_not_found" {
			t.Errorf("missing top-up: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, j.Key, "GET", "/v1/top_up/nothex", nil); r.Status != 422 {
			t.Errorf("malformed top-up id: %d %s", r.Status, r.Body)
		}
		for _, path := range []string{"/v1/wallets/nothex/activity", "/v1/wallets/" + wid + "/activity?limit=101"} {
			if r := j.Do(t, j.Key, "GET", path, nil); r.Status != 422 {
				t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
			}
		}
		if r := j.Do(t, j.Key, "GET", "/v1/wallets/0123456789abcdef01234567/activity", nil); r.Status != 404 || r.JSON(t)["code"] != "wallet_not_found" {
			t.Errorf("activity of a missing wallet: %d %s", r.Status, r.Body)
		}
		// Another organization's wallet and top-ups do not exist for us.
		otherTest, otherLive := j.NewOrg(t, "Other")
		tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 100})
		if r := j.Do(t, otherTest, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 100}); r.Status != 404 {
			t.Errorf("other org tops up my wallet: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, otherTest, "GET", "/v1/top_up/"+tu["_id"].(string), nil); r.Status != 404 {
			t.Errorf("other org reads my top-up: %d", r.Status)
		}
		if n := len(j.Must(t, 200, otherTest, "GET", "/v1/top_up", nil)["data"].([]any)); n != 0 {
			t.Errorf("other org lists %d top-ups", n)
		}
		// Live mode without Stripe: a clear error, nothing created.
		_, liveWallet := newWalletUser(t, j, otherLive)
		r := j.Do(t, otherLive, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": liveWallet, "amount": 100})
		if r.Status != 503 || r.JSON(t)["code"] != "payment_provider_not_configured" {
			t.Fatalf("live top-up without Stripe: %d %s", r.Status, r.Body)
		}
		r = j.Do(t, otherLive, "POST", "/v1/top_up", map[string]any{"type": "manual_with_payment_method", "wallet": liveWallet, "amount": 100,
			"payment_method": "pm_card_visa"})
		if r.Status != 422 || r.JSON(t)["code"] != "invalid_field" {
			t.Fatalf("live top-up with a test token: %d %s", r.Status, r.Body)
		}
		if n := len(j.Must(t, 200, otherLive, "GET", "/v1/top_up", nil)["data"].([]any)); n != 0 {
			t.Fatalf("live mode has %d top-ups", n)
		}
	})
}

// TestTopUpExpiry makes the expiry timer due now (as if top_up_expiry_time
// had passed) and checks that the link shows the expired page and nothing
// can be paid.
func TestTopUpExpiry(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		_, wid := newWalletUser(t, j, j.Key)
		tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 1500})
		expireNow(t, j, tu["_id"].(string))
		got := waitTopUp(t, j, j.Key, tu["_id"].(string), "expired")
		if got["url"] != tu["url"] {
			t.Fatalf("expired top-up: %v", got)
		}
		b := newBrowser(t)
		status, page := b.get(t, tu["url"].(string))
		if status != 200 || !strings.Contains(page, "This payment link has expired") || strings.Contains(page, `name="number"`) {
			t.Fatalf("expired page: %d %s", status, page)
		}
		// A stale form posted after expiry pays nothing.
		b.post(t, tu["url"].(string), url.Values{"csrf": {"x"}, "number": {"4242424242424242"}, "expiry": {futureExpiry()}, "cvc": {"123"}})
		if bal, _ := walletBalance(t, j, j.Key, wid); bal != 0 {
			t.Fatalf("expired top-up credited %v", bal)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/events?type=top_up.expired", nil)["data"].([]any)); n != 1 {
			t.Fatalf("top_up.expired events: %d", n)
		}
	})
}

// expireNow brings a top-up's expiry timer to now.
func expireNow(t *testing.T, j *apitest.Joule, topUpID string) {
	t.Helper()
	ctx := context.Background()
	err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET run_at = $1 WHERE unique_key = $2`, store.Now(), "topup.expire:"+topUpID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("no expiry timer for %s", topUpID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	j.App.Jobs.Notify()
}

// TestHostedPageCancelAndForgery: the Cancel button ends a top-up
// (top_up.failed, failure_code canceled); forged or cross-site posts change
// nothing; the pages carry their security headers.
func TestHostedPageCancelAndForgery(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		_, wid := newWalletUser(t, j, j.Key)
		tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 900})
		pageURL := tu["url"].(string)
		resp, err := http.Get(pageURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for h, want := range map[string]string{"Content-Security-Policy": "default-src 'none'", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if got := resp.Header.Get(h); !strings.Contains(got, want) {
				t.Errorf("%s: %q", h, got)
			}
		}
		b := newBrowser(t)
		_, page := b.get(t, pageURL)
		token := csrfRe.FindStringSubmatch(page)[1]
		card := url.Values{"number": {"4242424242424242"}, "expiry": {futureExpiry()}, "cvc": {"123"}}
		// Another browser (no cookie) with a stolen token, and a cross-site post.
		forged := url.Values{"csrf": {token}, "number": card["number"], "expiry": card["expiry"], "cvc": card["cvc"]}
		if status, body := newBrowser(t).post(t, pageURL, forged); status != 403 || !strings.Contains(body, "This form has expired") {
			t.Fatalf("post without the cookie: %d %s", status, body)
		}
		req, _ := http.NewRequest("POST", pageURL+"/cancel", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err = b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("cross-site cancel: %d", resp.StatusCode)
		}
		if got := j.Must(t, 200, j.Key, "GET", "/v1/top_up/"+tu["_id"].(string), nil); got["status"] != "created" {
			t.Fatalf("forgeries changed the top-up: %v", got)
		}
		// The driver cancels.
		status, body := b.post(t, pageURL+"/cancel", url.Values{"csrf": {token}})
		if status != 200 || !strings.Contains(body, "Payment canceled") {
			t.Fatalf("cancel: %d %s", status, body)
		}
		got := waitTopUp(t, j, j.Key, tu["_id"].(string), "failed")
		if got["failure_code"] != "canceled" {
			t.Fatalf("canceled top-up: %v", got)
		}
		if status, body := b.get(t, pageURL); status != 200 || !strings.Contains(body, "Payment canceled") || strings.Contains(body, `name="number"`) {
			t.Fatalf("canceled page: %d %s", status, body)
		}
	})
}

// TestLatePaymentRefunded: money that reaches a top-up after it ended is
// given back, never credited.
func TestLatePaymentRefunded(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		_, wid := newWalletUser(t, j, j.Key)
		tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 1200})
		// Joule's side ended first (as when Stripe's page and Joule's timer
		// race), while the provider's page was still open.
		ctx := context.Background()
		if err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE top_ups SET status = 'expired' WHERE id = $1`, tu["_id"])
			return err
		}); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		if status, body := b.pay(t, tu["url"].(string), "4242424242424242", futureExpiry(), "123", false); status != 200 || !strings.Contains(body, "Payment successful") {
			t.Fatalf("pay: %d %s", status, body)
		}
		var captured, refunded int64
		eventually(t, "the refund", func() bool {
			err := j.App.DB.Q().QueryRowContext(ctx, `SELECT captured, refunded FROM sandbox_payments WHERE reference = $1`, tu["_id"]).Scan(&captured, &refunded)
			return err == nil && refunded == 1200
		})
		if captured != 1200 {
			t.Fatalf("captured %d", captured)
		}
		if got := j.Must(t, 200, j.Key, "GET", "/v1/top_up/"+tu["_id"].(string), nil); got["status"] != "expired" {
			t.Fatalf("late top-up: %v", got)
		}
		if bal, _ := walletBalance(t, j, j.Key, wid); bal != 0 {
			t.Fatalf("late payment credited %v", bal)
		}
		checkBooks(t, j)
	})
}
