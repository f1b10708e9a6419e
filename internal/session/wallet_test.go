package session_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
)

// fund credits a user's wallet from the organization's promotions account
// (a ledger fixture standing in for a top-up).
func fund(t *testing.T, j *apitest.Joule, userID string, cents int64) string {
	t.Helper()
	w := j.Must(t, 200, j.Key, "GET", "/v1/users/"+userID+"/wallet", nil)["wallet"].(map[string]any)
	wid := w["_id"].(string)
	ctx := context.Background()
	err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		a, err := ledger.GetAccount(ctx, tx, wid)
		if err != nil {
			return err
		}
		promo, err := ledger.SystemAccount(ctx, tx, a.OrgID, a.TestMode, ledger.AccountPromotions, a.Currency)
		if err != nil {
			return err
		}
		_, err = ledger.CreateTransfer(ctx, tx, ledger.TransferRequest{ID: "fund:" + wid + ":" + time.Now().String(), DebitAccountID: promo.ID,
			CreditAccountID: wid, Amount: cents, Currency: a.Currency, Kind: ledger.TransferAdjustment})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return wid
}

func walletOf(t *testing.T, j *apitest.Joule, userID string) map[string]any {
	return j.Must(t, 200, j.Key, "GET", "/v1/users/"+userID+"/wallet", nil)["wallet"].(map[string]any)
}

// Spec 000 step by step: the three checks in order with their exact 405
// messages, the payment object, the events, the capture at the end.
func TestWalletSessionSpec000(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		r := newRig(t, j, "CP-WALLET", energyRate, sim.ChargerConfig{})
		j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"connector_start_cooldown": 0}})
		try := func() (int, map[string]any) {
			resp := j.Do(t, j.Key, "POST", "/v1/sessions", map[string]any{"user": r.user, "connector": r.connector, "type": "wallet"})
			return resp.Status, resp.JSON(t)
		}
		// a. No wallet (a user from before wallets existed): the wallet is
		// moved to another user for the check, then given back.
		ctx := context.Background()
		wid := walletOf(t, j, r.user)["_id"].(string)
		other := j.Must(t, 201, j.Key, "POST", "/v1/users", map[string]any{"firstname": "Other"})["_id"].(string)
		otherWallet := walletOf(t, j, other)["_id"].(string)
		_, _ = j.App.DB.Q().ExecContext(ctx, `DELETE FROM wallets WHERE id = $1`, otherWallet)
		_, _ = j.App.DB.Q().ExecContext(ctx, `UPDATE wallets SET user_id = $1 WHERE id = $2`, other, wid)
		st, p := try()
		if st != 405 || p["detail"] != "User does not have a wallet" {
			t.Fatalf("no wallet: %d %v", st, p)
		}
		_, _ = j.App.DB.Q().ExecContext(ctx, `UPDATE wallets SET user_id = $1 WHERE id = $2`, r.user, wid)
		// b. Below the minimum balance (2000 by default).
		fund(t, j, r.user, 1999)
		st, p = try()
		if st != 405 || p["detail"] != "User does not have minimum balance" {
			t.Fatalf("minimum balance: %d %v", st, p)
		}
		// c. Currency mismatch (checked after the balance, as the spec orders).
		fund(t, j, r.user, 3001) // 5000 in all
		_, _ = j.App.DB.Q().ExecContext(ctx, `UPDATE wallets SET currency = 'EUR' WHERE id = $1`, wid)
		st, p = try()
		if st != 405 || p["detail"] != "Wallet currency does not match the rate currency" {
			t.Fatalf("currency: %d %v", st, p)
		}
		_, _ = j.App.DB.Q().ExecContext(ctx, `UPDATE wallets SET currency = 'USD' WHERE id = $1`, wid)

		st, x := try()
		if st != 201 {
			t.Fatalf("start: %d %v", st, x)
		}
		pay := x["payment"].(map[string]any)
		if x["status"] != "created" || pay["type"] != "api_wallet" || pay["status"] != "authorized" || pay["authorized_amount"] != 5000.0 || pay["currency"] != "usd" {
			t.Fatalf("payment object: %v", pay)
		}
		w := walletOf(t, j, r.user)
		if w["balance"] != 5000.0 || w["available_balance"] != 0.0 {
			t.Fatalf("wallet during session: %v", w)
		}
		id := x["_id"].(string)
		// A second session on the same wallet cannot spend what the first holds.
		if st, p := try(); st != 405 || p["detail"] != "User does not have minimum balance" {
			t.Fatalf("second session: %d %v", st, p)
		}
		waitStatus(t, j, id, "started", 10*time.Second)
		time.Sleep(1500 * time.Millisecond)
		j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
		done := waitStatus(t, j, id, "completed", 10*time.Second)
		cost := done["cost"].(map[string]any)["amount"].(float64)
		pay = done["payment"].(map[string]any)
		if pay["status"] != "succeeded" || pay["captured_amount"] != cost || cost <= 0 {
			t.Fatalf("end: cost %v payment %v", cost, pay)
		}
		w = walletOf(t, j, r.user)
		if w["balance"] != 5000-cost || w["available_balance"] != 5000-cost {
			t.Fatalf("wallet after: %v (cost %v)", w, cost)
		}
		got := strings.Join(eventTypes(t, j, id), ",")
		for _, e := range []string{"session.created,session.payment.created,session.payment.authorized", "session.ended", "session.payment.captured", "session.completed"} {
			if !strings.Contains(got, e) {
				t.Errorf("events %s lack %s", got, e)
			}
		}
		if n := len(j.Must(t, 200, j.Key, "GET", "/v1/events?type=wallet.updated&object="+wid, nil)["data"].([]any)); n < 2 {
			t.Errorf("wallet.updated events: %d", n)
		}
		checkLedger(t, j)
	})
}

// Many concurrent wallet sessions on one wallet never hold more than it has.
func TestConcurrentWalletSessions(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"session": 100}})
		var rigs []*rig
		for _, id := range []string{"CP-C1", "CP-C2", "CP-C3", "CP-C4"} {
			rigs = append(rigs, newRig(t, j, id, energyRate, sim.ChargerConfig{}))
		}
		user := rigs[0].user
		fund(t, j, user, 1000)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for _, r := range rigs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := j.Do(t, j.Key, "POST", "/v1/sessions", map[string]any{"user": user, "connector": r.connector, "type": "wallet"})
				mu.Lock()
				defer mu.Unlock()
				if resp.Status == 201 {
					ok++
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d concurrent sessions held the wallet, want 1", ok)
		}
		w := walletOf(t, j, user)
		if w["available_balance"] != 0.0 || w["balance"] != 1000.0 {
			t.Fatalf("wallet %v", w)
		}
		checkLedger(t, j)
	})
}

// A 150 kW charger and a small authorization: auto-stop ends the session in
// time, so the cost never exceeds what was authorized.
func TestAutoStopKeepsCostWithinAuthorization(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"session": 100, "capped_meter_value_interval": 2, "auto_stop_margin": 1}})
		// $5/kWh: $3 buys 0.55 kWh, about 13 s at 150 kW.
		const dearRate = `{"currency":"USD","elements":[{"price_components":[{"type":"ENERGY","price":5.00,"vat":10,"step_size":1},{"type":"TIME","price":2.00,"vat":10,"step_size":60}]}]}`
		r := newRig(t, j, "CP-150KW", dearRate, sim.ChargerConfig{PowerW: 150000, MeterInterval: time.Second})
		j.Must(t, 200, j.Key, "PATCH", "/v1/connectors/"+r.connector, map[string]any{"max_power": 150000})
		fund(t, j, r.user, 300)
		x := r.start(t, "wallet")
		id := x["_id"].(string)
		authorized := x["payment"].(map[string]any)["authorized_amount"].(float64)
		// A capped session asks the charger for meter values more often.
		waitStatus(t, j, id, "started", 10*time.Second)
		waitInterval(t, j, r.station, "2")
		done := waitStatus(t, j, id, "completed", time.Minute)
		waitInterval(t, j, r.station, "1") // restored after the session
		cost := done["cost"].(map[string]any)["amount"].(float64)
		if cost > authorized || cost < authorized/3 {
			t.Fatalf("cost %v for an authorization of %v", cost, authorized)
		}
		if !strings.Contains(done["failure_reason"].(string), "auto-stop") {
			t.Fatalf("not an auto-stop: %v", done["failure_reason"])
		}
		if w := walletOf(t, j, r.user); w["balance"].(float64) < 0 || w["balance"] != 300-cost {
			t.Fatalf("wallet %v", w)
		}
		checkLedger(t, j)
	})
}

// waitInterval waits until the charger reports MeterValueSampleInterval want.
func waitInterval(t *testing.T, j *apitest.Joule, station, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := j.Must(t, 200, j.Key, "POST", "/v1/chargestations/"+station+"/commands/GetConfiguration", map[string]any{"key": []string{"MeterValueSampleInterval"}})
		keys := r["response"].(map[string]any)["configurationKey"].([]any)
		if len(keys) == 1 && keys[0].(map[string]any)["value"] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("MeterValueSampleInterval: %v, want %s", keys, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
