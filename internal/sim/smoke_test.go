package sim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocpp16/ocpptest"
)

// TestFleetSmoke runs 1000 chargers against one central system: each
// boots, reports status, heartbeats, and charges one transaction with
// meter values; not one call may fail. Under the race detector it runs
// 500, which is what fits in the same time.
func TestFleetSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("1000-charger smoke test skipped with -short")
	}
	n := 1000
	if raceEnabled {
		n = 500
	}
	srv, err := ocpptest.Start(ocpptest.Options{HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fleet := New(Config{URL: srv.URL, Logger: testLogger()})
	defer fleet.Stop()
	for i := 0; i < n; i++ {
		if _, err := fleet.Add(ChargerConfig{Identity: fmt.Sprintf("SMOKE%04d", i), MeterInterval: 200 * time.Millisecond,
			HeartbeatInterval: 500 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fleet.Start(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := fleet.WaitBooted(ctx); err != nil {
		t.Fatal(err)
	}
	booted := fleet.Stats()

	// One transaction per charger, started a few at a time.
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, ch := range fleet.Chargers() {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := ch.LocalStart(ctx, 1, "SMOKETAG"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	time.Sleep(700 * time.Millisecond) // three meter samples, and heartbeats
	for _, ch := range fleet.Chargers() {
		if err := ch.LocalStop(1); err != nil {
			t.Fatal(err)
		}
	}
	for stops := 0; stops < n; {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d StopTransactions arrived", stops, n)
		}
		time.Sleep(50 * time.Millisecond)
		stops = 0
		for _, ev := range srv.Events("") {
			if ev.Action == ocpp16.ActionStopTransaction {
				stops++
			}
		}
	}
	stats := fleet.Stats()

	perCharger := map[string]map[string]int{}
	for _, ev := range srv.Events("") {
		if perCharger[ev.Identity] == nil {
			perCharger[ev.Identity] = map[string]int{}
		}
		perCharger[ev.Identity][ev.Action]++
	}
	if len(perCharger) != n {
		t.Fatalf("%d chargers reached the server, want %d", len(perCharger), n)
	}
	for id, actions := range perCharger {
		for _, a := range []string{ocpp16.ActionBootNotification, ocpp16.ActionStatusNotification, ocpp16.ActionHeartbeat,
			ocpp16.ActionAuthorize, ocpp16.ActionStartTransaction, ocpp16.ActionMeterValues, ocpp16.ActionStopTransaction} {
			if actions[a] == 0 {
				t.Fatalf("%s sent no %s: %v", id, a, actions)
			}
		}
	}
	if stats.Failures != 0 || stats.Calls == 0 {
		t.Errorf("%d of %d calls failed", stats.Failures, stats.Calls)
	}
	t.Logf("%d chargers: all booted %v after start (per charger p50 %v, max %v); %d calls, %d failed, %.0f calls/s over %v; latency p50 %v p99 %v max %v",
		n, booted.ConnectTime.Round(time.Millisecond), booted.ConnectP50.Round(time.Millisecond), booted.ConnectMax.Round(time.Millisecond),
		stats.Calls, stats.Failures, stats.CallsPerSecond, stats.Elapsed.Round(time.Millisecond), stats.P50, stats.P99, stats.Max)
}
