package csms_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

// TestThousandChargers connects 1,000 simulated chargers to Joule's central
// system (the real server, SQLite): each boots, heartbeats and runs one
// transaction with meter values (a driver's charging key, so each becomes a
// priced session). Every call must succeed; the figures are printed.
func TestThousandChargers(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	n := 1000
	if raceEnabled {
		n = 200
	}
	j := apitest.StartWith(t, t.TempDir()+"/j.db", func(c *app.Config) { c.NoSandboxChargers = true })
	ctx := context.Background()
	p := org.Principal{OrgID: j.App.Sandbox.OrgID, TestMode: true}
	passwords := make([]string, n)
	const tag = "FLEET-CARD-1"
	err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		loc, err := network.CreateLocation(ctx, tx, p, network.LocationInput{Name: "Fleet", Address: network.Address{StreetAndNumber: "A 1", City: "B", Country: "USA"}})
		if err != nil {
			return err
		}
		for i := range passwords {
			st, err := network.CreateStation(ctx, tx, p, network.StationInput{Location: loc.ID, Identity: fmt.Sprintf("FLEET-%04d", i),
				Connectors: []network.ConnectorInput{{EvseID: fmt.Sprintf("US*JOU*E%04d", i)}}}, "")
			if err != nil {
				return err
			}
			passwords[i] = st.Password
		}
		u, err := (&users.Service{Outbox: j.App.Outbox}).Create(ctx, tx, p, users.Input{})
		if err != nil {
			return err
		}
		_, err = users.AddKey(ctx, tx, p, u.ID, tag, users.KeyRFID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	j.Must(t, 200, j.Key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"meter_value_interval": 1}})
	fleet := sim.New(sim.Config{URL: "ws://" + j.App.Addr() + "/ocpp", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for i, pw := range passwords {
		if _, err := fleet.Add(sim.ChargerConfig{Identity: fmt.Sprintf("FLEET-%04d", i), Password: pw, HeartbeatInterval: 2 * time.Second,
			MeterInterval: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer fleet.Stop()
	if err := fleet.Start(rctx, 0); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(rctx, 60*time.Second)
	defer wcancel()
	if err := fleet.WaitBooted(wctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, ch := range fleet.Chargers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ch.LocalStart(wctx, 1, tag); err != nil {
				t.Errorf("%s: start: %v", ch.Identity(), err)
				return
			}
			time.Sleep(2500 * time.Millisecond) // heartbeats and meter values flow
			if err := ch.LocalStop(1); err != nil {
				t.Errorf("%s: stop: %v", ch.Identity(), err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	var stopped, samples int
	for {
		_ = j.App.DB.Q().QueryRowContext(ctx, `SELECT count(*) FROM ocpp_transactions WHERE stopped_at IS NOT NULL`).Scan(&stopped)
		if stopped == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = j.App.DB.Q().QueryRowContext(ctx, `SELECT count(*) FROM meter_samples`).Scan(&samples)
	s := fleet.Stats()
	t.Logf("%d chargers: all booted in %v (per charger p50 %v, max %v); %d calls, %d failed, %.0f calls/s overall; latency p50 %v, p99 %v, max %v; %d transactions stopped, %d meter samples stored",
		n, s.ConnectTime, s.ConnectP50, s.ConnectMax, s.Calls, s.Failures, s.CallsPerSecond, s.P50, s.P99, s.Max, stopped, samples)
	if s.Failures != 0 || s.ConnectFailures != 0 {
		t.Fatalf("%d failed calls (%d CALLERRORs), %d failed connects", s.Failures, s.CallErrors, s.ConnectFailures)
	}
	if stopped != n || samples < n {
		t.Fatalf("%d of %d transactions recorded as stopped, %d samples", stopped, n, samples)
	}
}
