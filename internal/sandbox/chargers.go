package sandbox

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
)

// RunChargers runs the sandbox stations as virtual chargers that connect
// to Joule's own OCPP endpoint at ocppURL (e.g. ws://127.0.0.1:8080/ocpp),
// so a sandbox session exercises the whole path: API, central system,
// OCPP over a real websocket, simulator. Each start gives the chargers new
// keys (only their hashes are stored, and only Joule itself uses them). It
// returns when ctx is done.
func RunChargers(ctx context.Context, db *store.DB, ocppURL string, tlsConfig *tls.Config, log *slog.Logger) error {
	rows, err := db.Q().QueryContext(ctx, `SELECT id, org_id, identity, sandbox_behavior FROM chargestations WHERE sandbox_behavior <> '' AND test_mode = $1`, true)
	if err != nil {
		return fmt.Errorf("sandbox: list chargers: %w", err)
	}
	type vc struct{ id, org, identity, behavior string }
	var vcs []vc
	for rows.Next() {
		var v vc
		if err := rows.Scan(&v.id, &v.org, &v.identity, &v.behavior); err != nil {
			rows.Close()
			return err
		}
		vcs = append(vcs, v)
	}
	rows.Close()
	if len(vcs) == 0 {
		return nil
	}
	fleet := sim.New(sim.Config{URL: ocppURL, TLSConfig: tlsConfig, Logger: log.With("component", "sandbox-charger"), ReconnectDelay: 500 * time.Millisecond})
	for _, v := range vcs {
		var password string
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			password, err = network.SetPassword(ctx, tx, org.Principal{OrgID: v.org, TestMode: true}, v.id, "")
			return err
		})
		if err != nil {
			return fmt.Errorf("sandbox: key for %s: %w", v.identity, err)
		}
		st, err := network.StationByIdentity(ctx, db.Q(), v.identity)
		if err != nil {
			return err
		}
		behavior, err := sim.ParseBehavior(v.behavior)
		if err != nil {
			return err
		}
		if _, err := fleet.Add(sim.ChargerConfig{Identity: v.identity, Password: password, Connectors: len(st.Connectors), Behavior: behavior,
			MeterInterval: 10 * time.Second, PowerW: 11000, Vendor: "Joule", Model: "Sandbox"}); err != nil {
			return err
		}
	}
	if err := fleet.Start(ctx, 0); err != nil {
		return fmt.Errorf("sandbox: start chargers: %w", err)
	}
	log.Info("sandbox chargers running", "count", len(vcs))
	<-ctx.Done()
	fleet.Stop()
	return nil
}
