package session_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// TestRandomSessionsWithProviderFaults runs many concurrent wallet,
// payment-link and postpaid sessions while a third of the payment
// provider's calls fail (before the provider acted, or after it acted with
// the answer lost). Afterwards the ledger balances, no wallet is below zero,
// nothing was captured twice, every authorization was captured or released,
// and the provider's records reconcile with the ledger.
func TestRandomSessionsWithProviderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("long randomized test")
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := t.TempDir() + "/j.db"
			if db == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			j := apitest.StartWith(t, dsn, func(c *app.Config) { c.TestPaymentsFaultRate = 0.3; c.NoSandboxChargers = true })
			randomSessions(t, j, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)))
		})
	}
}

func randomSessions(t *testing.T, j *apitest.Joule, rng *rand.Rand) {
	const chargers, rounds = 6, 3
	j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"connector_start_cooldown": 0, "session": 100,
		"minimum_amount_to_start_session": 1500}})
	var rigs []*rig
	for i := 0; i < chargers; i++ {
		rigs = append(rigs, newRig(t, j, fmt.Sprintf("CP-RND-%d", i), energyRate, sim.ChargerConfig{}))
	}
	// Two users share a wallet load so that their wallet sessions compete.
	for _, r := range rigs {
		fund(t, j, r.user, int64(rng.IntN(3000)))
	}
	sandbox := j.App.Payments.Sandbox()
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for i, r := range rigs {
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(seed, uint64(i)))
			for round := 0; round < rounds; round++ {
				typ := []string{"wallet", "payment_link", "postpaid"}[rr.IntN(3)]
				body := map[string]any{"user": r.user, "connector": r.connector, "type": typ}
				if typ == "payment_link" {
					body["target"] = map[string]any{"payment_expiry_time": 3}
				}
				resp := j.Do(t, j.Key, "POST", "/v1/sessions", body)
				if resp.Status != 201 {
					continue // e.g. a wallet below the minimum: refused, nothing held
				}
				x := resp.JSON(t)
				id := x["_id"].(string)
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
				if typ == "payment_link" {
					if !payLink(t, j, sandbox, id, rr) {
						continue // left to expire, or declined
					}
				}
				if !waitFor(j, t, id, 20*time.Second, "started", "failed", "canceled") {
					continue
				}
				time.Sleep(time.Duration(500+rr.IntN(1500)) * time.Millisecond)
				if rr.IntN(2) == 0 {
					j.Do(t, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
				} else {
					_ = r.charger.Unplug(1)
				}
				waitFor(j, t, id, 60*time.Second, "completed", "stop_failed")
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		waitFor(j, t, id, 90*time.Second, "completed", "failed", "canceled")
	}
	ctx := context.Background()
	q := j.App.DB.Q()
	// Let the releases of never-started payments finish.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var open int
		_ = q.QueryRowContext(ctx, `SELECT count(*) FROM sandbox_payments WHERE status = 'authorized'`).Scan(&open)
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d authorizations neither captured nor released", open)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rep, err := ledger.Check(ctx, q)
	if err != nil || !rep.OK() || rep.OpenHolds != 0 {
		t.Fatalf("ledger: %+v %v", rep, err)
	}
	for _, id := range ids {
		x := j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+id, nil)
		var providerCaptured, transfers int64
		var payments int
		_ = q.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(captured),0) FROM sandbox_payments WHERE reference = $1`, id).Scan(&payments, &providerCaptured)
		_ = q.QueryRowContext(ctx, `SELECT count(*) FROM ledger_transfers WHERE reference_id = $1 AND phase IN ('single','post')`, id).Scan(&transfers)
		pay := x["payment"].(map[string]any)
		captured := int64(pay["captured_amount"].(float64))
		if payments > 1 || transfers > 1 {
			t.Errorf("session %s (%s): %d provider payments, %d money transfers", id, x["type"], payments, transfers)
		}
		if x["type"] != "wallet" && providerCaptured != captured {
			t.Errorf("session %s (%s): provider captured %d, session says %d", id, x["type"], providerCaptured, captured)
		}
		if x["status"] == "completed" && x["cost"].(map[string]any)["amount"] != nil {
			if auth := int64(pay["authorized_amount"].(float64)); x["type"] != "postpaid" && captured > auth {
				t.Errorf("session %s: captured %d over the authorization %d", id, captured, auth)
			}
		}
	}
	var org string
	_ = q.QueryRowContext(ctx, `SELECT id FROM organizations ORDER BY id LIMIT 1`).Scan(&org)
	rec, err := payments.Reconcile(ctx, q, org, true, "USD")
	if err != nil || !rec.Balanced() {
		t.Fatalf("reconciliation: %+v %v", rec, err)
	}
	t.Logf("%d sessions; faults injected: %v", len(ids), j.App.Payments.Faults())
}

// payLink pays a payment link's page with a random outcome; it reports
// whether the card was authorized.
func payLink(t *testing.T, j *apitest.Joule, sb *payments.Sandbox, id string, rr *rand.Rand) bool {
	var url string
	for i := 0; i < 100 && url == ""; i++ {
		x := j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+id, nil)
		url, _ = x["payment"].(map[string]any)["url"].(string)
		if url == "" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if url == "" {
		return false // the checkout is still being created through faults; it will expire
	}
	switch rr.IntN(5) {
	case 0:
		return false // never paid: the link expires
	case 1:
		_, _, _ = sb.Pay(context.Background(), path.Base(url), payments.Card{Number: "4000000000000002", Expiry: "12/40", CVC: "123"}, false)
		return false
	}
	v, cerr, err := sb.Pay(context.Background(), path.Base(url), payments.Card{Number: "4242424242424242", Expiry: "12/40", CVC: "123"}, false)
	return err == nil && cerr == nil && v.Status == payments.PagePaid
}

func waitFor(j *apitest.Joule, t *testing.T, id string, within time.Duration, statuses ...string) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		x := j.Must(t, 200, j.Key, "GET", "/v1/sessions/"+id, nil)
		for _, s := range statuses {
			if x["status"] == s {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
