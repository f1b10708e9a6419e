package api_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/wallet"
)

// checkBooks checks that the ledger sums to zero and that, once every
// notification is delivered, the sandbox's takings equal the ledger's.
func checkBooks(t *testing.T, j *apitest.Joule) {
	t.Helper()
	ctx := context.Background()
	rep, err := ledger.Check(ctx, j.App.DB.Q())
	if err != nil || !rep.OK() {
		t.Fatalf("ledger check: %v %v", err, rep.Problems)
	}
	var rec payments.Reconciliation
	eventually(t, "sandbox and ledger to agree", func() bool {
		rec, err = payments.Reconcile(ctx, j.App.DB.Q(), j.App.Sandbox.OrgID, true, "USD")
		return err == nil && rec.Balanced()
	})
}

func TestWalletAdjustmentsAndActivity(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		_, wid := newWalletUser(t, j, j.Key)
		adj := j.Must(t, 201, j.Key, "POST", "/v1/wallets/"+wid+"/adjustments", map[string]any{"amount": 1500, "reason": "Goodwill credit"})
		if adj["amount"] != 1500.0 || adj["reason"] != "Goodwill credit" || adj["balance"] != 1500.0 || adj["wallet"] != wid || adj["object"] != "adjustment" {
			t.Fatalf("adjustment: %v", adj)
		}
		j.Must(t, 201, j.Key, "POST", "/v1/wallets/"+wid+"/adjustments", map[string]any{"amount": -400, "reason": "Correction"})
		// Below zero is refused and changes nothing.
		r := j.Do(t, j.Key, "POST", "/v1/wallets/"+wid+"/adjustments", map[string]any{"amount": -1101, "reason": "Too much"})
		if p := r.JSON(t); r.Status != 409 || p["code"] != "insufficient_funds" || !strings.Contains(p["detail"].(string), "1100") {
			t.Fatalf("overdraft: %d %s", r.Status, r.Body)
		}
		for name, body := range map[string]string{
			"zero":           `{"amount": 0, "reason": "x"}`,
			"missing reason": `{"amount": 5}`,
			"empty reason":   `{"amount": 5, "reason": ""}`,
			"blank reason":   `{"amount": 5, "reason": "   "}`,
			"not a number":   `{"amount": "5", "reason": "x"}`,
			"fraction":       `{"amount": 1.5, "reason": "x"}`,
			"unknown field":  `{"amount": 5, "reason": "x", "note": "y"}`,
		} {
			if r := j.Do(t, j.Key, "POST", "/v1/wallets/"+wid+"/adjustments", body); r.Status != 422 || r.JSON(t)["status"] != 422.0 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		if bal, avail := walletBalance(t, j, j.Key, wid); bal != 1100 || avail != 1100 {
			t.Fatalf("wallet %v/%v, want 1100", bal, avail)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/events?type=wallet.updated&object="+wid, nil)["data"].([]any)); n != 2 {
			t.Fatalf("wallet.updated events: %d, want one per balance change", n)
		}
		// Activity pages newest first, with running balances.
		for i := 0; i < 3; i++ {
			j.Must(t, 201, j.Key, "POST", "/v1/wallets/"+wid+"/adjustments", map[string]any{"amount": 10 * (i + 1), "reason": fmt.Sprint("bonus ", i)})
		}
		var all []map[string]any
		cursor := ""
		for {
			pg := j.Must(t, 200, j.Key, "GET", "/v1/wallets/"+wid+"/activity?limit=2&cursor="+cursor, nil)
			for _, a := range pg["data"].([]any) {
				all = append(all, a.(map[string]any))
			}
			if pg["has_more"] != true {
				break
			}
			cursor = pg["next_cursor"].(string)
		}
		if len(all) != 5 {
			t.Fatalf("activity: %d lines: %v", len(all), all)
		}
		first, last := all[0], all[4]
		if first["amount"] != 30.0 || first["balance"] != 1160.0 || first["type"] != "adjustment" || first["description"] != "bonus 2" ||
			first["reference"].(map[string]any)["type"] != "adjustment" {
			t.Fatalf("newest line: %v", first)
		}
		if last["amount"] != 1500.0 || last["balance"] != 1500.0 || all[3]["amount"] != -400.0 || all[3]["available_balance"] != 1100.0 {
			t.Fatalf("oldest lines: %v %v", all[3], last)
		}
		if r := j.Do(t, j.Key, "GET", "/v1/wallets/"+wid+"/activity?cursor=nope", nil); r.Status != 422 || r.JSON(t)["code"] != "invalid_cursor" {
			t.Fatalf("bad cursor: %d %s", r.Status, r.Body)
		}
		// Other organizations: 404 everywhere, nothing changed.
		other, _ := j.NewOrg(t, "Other")
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/wallets/" + wid + "/activity"},
			{"POST", "/v1/wallets/" + wid + "/adjustments"},
			{"PATCH", "/v1/wallets/" + wid},
		} {
			var body any
			if c.method != "GET" {
				body = map[string]any{"amount": 100, "reason": "steal"}
				if c.method == "PATCH" {
					body = map[string]any{"auto_top_up": map[string]any{"active": false}}
				}
			}
			if r := j.Do(t, other, c.method, c.path, body); r.Status != 404 || r.JSON(t)["code"] != "wallet_not_found" {
				t.Errorf("other org %s %s: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		if bal, _ := walletBalance(t, j, j.Key, wid); bal != 1160 {
			t.Fatalf("balance changed to %v", bal)
		}
		checkBooks(t, j)
	})
}

func TestAutoTopUp(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		_, wid := newWalletUser(t, j, j.Key)
		for name, body := range map[string]map[string]any{
			"no method":        {"auto_top_up": map[string]any{"active": true, "amount": 1000, "threshold": 500}},
			"no amount":        {"auto_top_up": map[string]any{"active": true, "payment_method": "pm_card_visa", "threshold": 500}},
			"unknown method":   {"auto_top_up": map[string]any{"active": true, "payment_method": "0123456789abcdef01234567", "amount": 1000}},
			"negative amount":  {"auto_top_up": map[string]any{"active": true, "payment_method": "pm_card_visa", "amount": -5}},
			"unknown field":    {"auto_top_up": map[string]any{"active": true, "color": "red"}},
			"negative trigger": {"auto_top_up": map[string]any{"threshold": -1}},
		} {
			if r := j.Do(t, j.Key, "PATCH", "/v1/wallets/"+wid, body); r.Status != 422 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		// Activating below the threshold tops up at once.
		w := j.Must(t, 200, j.Key, "PATCH", "/v1/wallets/"+wid, map[string]any{"auto_top_up": map[string]any{"active": true,
			"payment_method": "pm_card_visa", "amount": 1000, "threshold": 500}})
		atu := w["auto_top_up"].(map[string]any)
		if atu["active"] != true || atu["payment_method"] != "pm_card_visa" || atu["amount"] != 1000.0 || atu["threshold"] != 500.0 {
			t.Fatalf("auto_top_up: %v", atu)
		}
		eventually(t, "first automatic top-up", func() bool { b, _ := walletBalance(t, j, j.Key, wid); return b == 1000 })
		// A debit below the threshold starts one more, and only one.
		j.Must(t, 201, j.Key, "POST", "/v1/wallets/"+wid+"/adjustments", map[string]any{"amount": -700, "reason": "spend"})
		eventually(t, "second automatic top-up", func() bool { b, _ := walletBalance(t, j, j.Key, wid); return b == 1300 })
		autos := j.Must(t, 200, j.Key, "GET", "/v1/top_up?wallet="+wid, nil)["data"].([]any)
		if len(autos) != 2 || autos[0].(map[string]any)["type"] != "auto" || autos[0].(map[string]any)["status"] != "completed" {
			t.Fatalf("automatic top-ups: %v", autos)
		}
		// A declining card fails the top-up and switches automatic top-up off.
		j.Must(t, 200, j.Key, "PATCH", "/v1/wallets/"+wid, map[string]any{"auto_top_up": map[string]any{"payment_method": "pm_card_chargeDeclined", "threshold": 2000}})
		eventually(t, "declined automatic top-up", func() bool {
			w := j.Must(t, 200, j.Key, "GET", "/v1/wallets/"+wid, nil)
			return w["auto_top_up"].(map[string]any)["active"] == false
		})
		failed := j.Must(t, 200, j.Key, "GET", "/v1/top_up?wallet="+wid+"&status=failed", nil)["data"].([]any)
		if len(failed) != 1 || failed[0].(map[string]any)["failure_code"] != "card_declined" {
			t.Fatalf("failed automatic top-ups: %v", failed)
		}
		if b, _ := walletBalance(t, j, j.Key, wid); b != 1300 {
			t.Fatalf("balance %v after a declined automatic top-up", b)
		}
		checkBooks(t, j)
	})
}

func TestPaymentMethods(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		uid, wid := newWalletUser(t, j, j.Key)
		if ms := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any); len(ms) != 0 {
			t.Fatalf("new user has methods: %v", ms)
		}
		b := newBrowser(t)
		for _, card := range []string{"4242 4242 4242 4242", "5555 5555 5555 4444"} {
			tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 100})
			if status, page := b.pay(t, tu["url"].(string), card, futureExpiry(), "123", true); status != 200 || !strings.Contains(page, "Payment successful") {
				t.Fatalf("pay: %d %s", status, page)
			}
			waitTopUp(t, j, j.Key, tu["_id"].(string), "completed")
		}
		eventually(t, "two saved cards", func() bool {
			return len(j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any)) == 2
		})
		ms := j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any)
		visa, mc := ms[0].(map[string]any), ms[1].(map[string]any)
		if visa["last4"] != "4242" || visa["default"] != true || mc["last4"] != "4444" || mc["default"] != false {
			t.Fatalf("first saved is the default: %v", ms)
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/events?type=user.updated&object="+uid, nil)["data"].([]any)); n != 2 {
			t.Fatalf("user.updated on each saved card: %d", n)
		}
		// Default switch.
		got := j.Must(t, 200, j.Key, "POST", "/v1/users/"+uid+"/payment_methods/"+mc["_id"].(string)+"/default", nil)
		if got["default"] != true {
			t.Fatalf("set default: %v", got)
		}
		ms = j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any)
		if ms[0].(map[string]any)["_id"] != mc["_id"] || ms[1].(map[string]any)["default"] != false {
			t.Fatalf("after switch: %v", ms)
		}
		// What a postpaid session charges.
		p := org.Principal{OrgID: j.App.Sandbox.OrgID, TestMode: true}
		if m, ok, err := wallet.DefaultMethod(context.Background(), j.App.DB.Q(), p, uid); err != nil || !ok || m.ID != mc["_id"] || !strings.HasPrefix(m.Method().Token, "pm_sbx_") {
			t.Fatalf("default method: %+v %v %v", m, ok, err)
		}
		if _, ok, err := wallet.DefaultMethod(context.Background(), j.App.DB.Q(), p, "0123456789abcdef01234567"); ok || err != nil {
			t.Fatalf("default method of a user without one: %v %v", ok, err)
		}
		// Automatic top-up on the default card; deleting the card switches it off.
		j.Must(t, 200, j.Key, "PATCH", "/v1/wallets/"+wid, map[string]any{"auto_top_up": map[string]any{"active": true,
			"payment_method": mc["_id"], "amount": 1000, "threshold": 0}})
		del := j.Must(t, 200, j.Key, "DELETE", "/v1/users/"+uid+"/payment_methods/"+mc["_id"].(string), nil)
		if del["deleted"] != true {
			t.Fatalf("delete: %v", del)
		}
		ms = j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any)
		if len(ms) != 1 || ms[0].(map[string]any)["_id"] != visa["_id"] || ms[0].(map[string]any)["default"] != true {
			t.Fatalf("after delete, the other card is the default: %v", ms)
		}
		w := j.Must(t, 200, j.Key, "GET", "/v1/wallets/"+wid, nil)
		if atu := w["auto_top_up"].(map[string]any); atu["active"] != false || atu["payment_method"] != nil {
			t.Fatalf("auto top-up on a deleted card: %v", atu)
		}
		// The user list shows the saved cards too.
		lst := j.Must(t, 200, j.Key, "GET", "/v1/users", nil)["data"].([]any)
		if pms := lst[0].(map[string]any)["payment_methods"].([]any); len(pms) != 1 {
			t.Fatalf("listed user's methods: %v", pms)
		}
		// Errors and other organizations.
		if r := j.Do(t, j.Key, "DELETE", "/v1/users/"+uid+"/payment_methods/"+mc["_id"].(string), nil); r.Status != 404 || r.JSON(t)["code"] != "payment_method_not_found" {
			t.Errorf("delete twice: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, j.Key, "DELETE", "/v1/users/"+uid+"/payment_methods/xyz", nil); r.Status != 422 {
			t.Errorf("bad method id: %d", r.Status)
		}
		if r := j.Do(t, j.Key, "POST", "/v1/users/"+uid+"/payment_methods/"+mc["_id"].(string)+"/default", nil); r.Status != 404 || r.JSON(t)["code"] != "payment_method_not_found" {
			t.Errorf("default of a deleted method: %d %s", r.Status, r.Body)
		}
		if r := j.Do(t, j.Key, "GET", "/v1/users/0123456789abcdef01234567/payment_methods", nil); r.Status != 404 || r.JSON(t)["code"] != "user_not_found" {
			t.Errorf("unknown user: %d %s", r.Status, r.Body)
		}
		other, _ := j.NewOrg(t, "Other")
		ouid, _ := newWalletUser(t, j, other)
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/users/" + uid + "/payment_methods"},
			{"POST", "/v1/users/" + uid + "/payment_methods/" + visa["_id"].(string) + "/default"},
			{"DELETE", "/v1/users/" + uid + "/payment_methods/" + visa["_id"].(string)},
			// Another user's method under one's own user.
			{"DELETE", "/v1/users/" + ouid + "/payment_methods/" + visa["_id"].(string)},
		} {
			if r := j.Do(t, other, c.method, c.path, nil); r.Status != 404 {
				t.Errorf("other org %s %s: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/users/"+uid+"/payment_methods", nil)["data"].([]any)); n != 1 {
			t.Fatalf("other org changed my methods: %d left", n)
		}
		// A saved card of one user cannot pay another user's top-up.
		_, wid2 := newWalletUser(t, j, j.Key)
		r := j.Do(t, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual_with_payment_method", "wallet": wid2, "amount": 100, "payment_method": visa["_id"]})
		if r.Status != 422 || r.JSON(t)["code"] != "invalid_field" {
			t.Fatalf("someone else's card: %d %s", r.Status, r.Body)
		}
	})
}

// TestNoCardNumberStored pays with card numbers and then reads every text
// column of every table: no card number, spaced or not, may be anywhere.
func TestNoCardNumberStored(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		_, wid := newWalletUser(t, j, j.Key)
		b := newBrowser(t)
		cards := []string{"4242 4242 4242 4242", "4000 0000 0000 0002", "5555 5555 5555 4444"}
		for _, card := range cards {
			tu := j.Must(t, 201, j.Key, "POST", "/v1/top_up", map[string]any{"type": "manual", "wallet": wid, "amount": 300})
			b.pay(t, tu["url"].(string), card, futureExpiry(), "123", true)
		}
		eventually(t, "two paid top-ups", func() bool {
			return len(j.Must(t, 200, j.Key, "GET", "/v1/top_up?status=completed", nil)["data"].([]any)) == 2
		})
		var pans []string
		for _, c := range cards {
			pans = append(pans, c, strings.ReplaceAll(c, " ", ""), strings.ReplaceAll(c, " ", "-"))
		}
		pans = append(pans, "424242424242", "400000000000", "555555555555") // any 12-digit run of them
		ctx := context.Background()
		db := j.App.DB
		var tables []string
		q := `SELECT name FROM sqlite_master WHERE type = 'table'`
		if db.Dialect == store.Postgres {
			q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
		}
		rows, err := db.Q().QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			tables = append(tables, n)
		}
		rows.Close()
		scanned := 0
		for _, table := range tables {
			rows, err := db.Q().QueryContext(ctx, `SELECT * FROM `+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]sql.RawBytes, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					scanned++
					for _, pan := range pans {
						if strings.Contains(string(v), pan) {
							t.Errorf("card number %q found in %s.%s", pan, table, cols[i])
						}
					}
				}
			}
			rows.Close()
		}
		if len(tables) < 10 || scanned < 100 {
			t.Fatalf("scanned only %d values in %d tables", scanned, len(tables))
		}
	})
}
