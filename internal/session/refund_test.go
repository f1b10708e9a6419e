package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/sim"
)

func runToCompletion(t *testing.T, j *apitest.Joule, r *rig, typ string) map[string]any {
	t.Helper()
	id := r.start(t, typ)["_id"].(string)
	waitStatus(t, j, id, "started", 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/stop", nil)
	return waitStatus(t, j, id, "completed", 10*time.Second)
}

func TestRefunds(t *testing.T) {
	apitest.Each(t, func(t *testing.T, j *apitest.Joule) {
		j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"connector_start_cooldown": 0}})
		r := newRig(t, j, "CP-REFUND", energyRate, sim.ChargerConfig{})
		fund(t, j, r.user, 5000)

		// Wallet: partial, then the rest, then nothing more.
		x := runToCompletion(t, j, r, "wallet")
		id := x["_id"].(string)
		cost := x["payment"].(map[string]any)["captured_amount"].(float64)
		if cost < 2 {
			t.Fatalf("cost %v too small to split", cost)
		}
		half := float64(int64(cost) / 2)
		y := j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/refund", map[string]any{"amount": half, "reason": "goodwill"})
		if y["status"] != "refunded" || y["payment"].(map[string]any)["refunded_amount"] != half {
			t.Fatalf("partial refund: %v %v", y["status"], y["payment"])
		}
		if resp := j.Do(t, j.Key, "POST", "/v1/sessions/"+id+"/refund", map[string]any{"amount": cost}); resp.Status != 422 || resp.JSON(t)["code"] != "refund_exceeds_captured" {
			t.Fatalf("over-refund: %d %s", resp.Status, resp.Body)
		}
		y = j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/refund", nil)
		if y["payment"].(map[string]any)["refunded_amount"] != cost {
			t.Fatalf("full refund: %v", y["payment"])
		}
		if w := walletOf(t, j, r.user); w["balance"] != 5000.0 {
			t.Fatalf("wallet after refunds: %v", w)
		}
		if !strings.Contains(strings.Join(eventTypes(t, j, id), ","), "session.payment.refunded") {
			t.Fatal("no session.payment.refunded event")
		}

		// Postpaid: through the provider.
		x = runToCompletion(t, j, r, "postpaid")
		id = x["_id"].(string)
		cost = x["payment"].(map[string]any)["captured_amount"].(float64)
		j.Must(t, 200, j.Key, "POST", "/v1/sessions/"+id+"/refund", nil)
		deadline := time.Now().Add(10 * time.Second)
		for {
			y = r.get(t, id)
			if y["payment"].(map[string]any)["refunded_amount"] == cost {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("provider refund not applied: %v", y["payment"])
			}
			time.Sleep(50 * time.Millisecond)
		}
		var refunded int64
		_ = j.App.DB.Q().QueryRowContext(context.Background(), `SELECT refunded FROM sandbox_payments WHERE reference = $1`, id).Scan(&refunded)
		if float64(refunded) != cost || y["balance_status"] != "REFUND" {
			t.Fatalf("sandbox refunded %d of %v; balance %v", refunded, cost, y["balance_status"])
		}
		checkLedger(t, j)
	})
}
