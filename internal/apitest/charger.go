package apitest

import (
	"context"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/sim"
)

// Charger runs a simulated charger (the project's simulator, over real
// OCPP) for a station registered on j, and waits until it has booted. Zero
// MeterInterval and PowerW default to 1 s and 22 kW. It stops with the test.
func (j *Joule) Charger(t testing.TB, identity, password string, cfg sim.ChargerConfig) *sim.Charger {
	t.Helper()
	fleet := sim.New(sim.Config{URL: "ws://" + j.App.Addr() + "/ocpp", ReconnectDelay: 100 * time.Millisecond})
	cfg.Identity, cfg.Password = identity, password
	if cfg.MeterInterval == 0 {
		cfg.MeterInterval = time.Second
	}
	if cfg.PowerW == 0 {
		cfg.PowerW = 22000
	}
	ch, err := fleet.Add(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); fleet.Stop() })
	if err := fleet.Start(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := fleet.WaitBooted(wctx); err != nil {
		t.Fatal(err)
	}
	return ch
}
