package sim

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocpp16/ocpptest"
)

// env is a test central system (a real OCPP-J server on loopback) and a
// fleet of simulated chargers pointed at it.
type env struct {
	t     *testing.T
	srv   *ocpptest.Server
	fleet *Fleet
	ctx   context.Context
}

func testLogger() *slog.Logger {
	if os.Getenv("SIM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t *testing.T, opts ocpptest.Options) *env {
	t.Helper()
	srv, err := ocpptest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	fleet := New(Config{URL: srv.URL, Logger: testLogger(), ReconnectDelay: 50 * time.Millisecond})
	t.Cleanup(func() {
		fleet.Stop()
		srv.Close()
		cancel()
	})
	return &env{t: t, srv: srv, fleet: fleet, ctx: ctx}
}

// start adds a charger with test-friendly intervals and waits for its boot.
func (e *env) start(cfg ChargerConfig) *Charger {
	e.t.Helper()
	if cfg.MeterInterval == 0 {
		cfg.MeterInterval = 50 * time.Millisecond
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Hour
	}
	ch, err := e.fleet.Add(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := ch.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := ch.WaitBooted(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	return ch
}

func (e *env) waitStatus(id string, connector int, status ocpp16.ChargePointStatus) ocpptest.Event {
	e.t.Helper()
	ev, err := e.srv.WaitStatus(e.ctx, id, connector, status)
	if err != nil {
		e.t.Fatalf("%s connector %d never reported %s: %v\nactions: %v", id, connector, status, err, e.srv.Actions(id))
	}
	return ev
}

func (e *env) waitAction(id, action string) ocpptest.Event {
	e.t.Helper()
	ev, err := e.srv.WaitAction(e.ctx, id, action)
	if err != nil {
		e.t.Fatalf("%s never sent %s: %v\nactions: %v", id, action, err, e.srv.Actions(id))
	}
	return ev
}

func (e *env) waitStop(id string) *ocpp16.StopTransactionRequest {
	e.t.Helper()
	return e.waitAction(id, ocpp16.ActionStopTransaction).Request.(*ocpp16.StopTransactionRequest)
}

// waitStatusAfter waits for a status reported after the event numbered seq.
func (e *env) waitStatusAfter(id string, seq, connector int, status ocpp16.ChargePointStatus) ocpptest.Event {
	e.t.Helper()
	ev, err := e.srv.WaitEvent(e.ctx, id, func(ev ocpptest.Event) bool { return ev.Seq > seq && isStatus(connector, status)(ev) })
	if err != nil {
		e.t.Fatalf("%s connector %d never reported %s: %v\nstatuses: %v", id, connector, status, err, e.statuses(id, connector))
	}
	return ev
}

// remoteStart asks the charger to start on connector 1 and returns its answer.
func (e *env) remoteStart(id string) ocpp16.RemoteStartStopStatus {
	e.t.Helper()
	one := 1
	resp, err := ocpptest.Call[ocpp16.RemoteStartTransactionResponse](e.ctx, e.srv, id,
		&ocpp16.RemoteStartTransactionRequest{ConnectorId: &one, IdTag: "REMOTE1"})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.Status
}

func (e *env) remoteStop(id string, tx int) ocpp16.RemoteStartStopStatus {
	e.t.Helper()
	resp, err := ocpptest.Call[ocpp16.RemoteStopTransactionResponse](e.ctx, e.srv, id,
		&ocpp16.RemoteStopTransactionRequest{TransactionId: tx})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.Status
}

// startedTx waits for the charger's StartTransaction to be confirmed and
// returns the transaction id.
func (e *env) startedTx(ch *Charger) int {
	e.t.Helper()
	var id int
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { id = s.Connector(1).TransactionID; return id != 0 }); err != nil {
		e.t.Fatalf("no confirmed transaction: %v\nactions: %v", err, e.srv.Actions(ch.Identity()))
	}
	return id
}

// meterSamples returns the energy register readings of identity's
// MeterValues for transaction tx, in order.
func (e *env) meterSamples(id string, tx int) []int64 {
	var out []int64
	for _, ev := range e.srv.Events(id) {
		mv, ok := ev.Request.(*ocpp16.MeterValuesRequest)
		if !ok || mv.TransactionId == nil || *mv.TransactionId != tx {
			continue
		}
		r, err := ocpp16.ReadMeterValue(mv.MeterValue[0])
		if err != nil || !r.HasEnergy {
			e.t.Fatalf("bad meter value %+v: %v", mv, err)
		}
		wh, _ := ocpp16.WhInt64(r.EnergyWh)
		out = append(out, wh)
	}
	return out
}

// noAction checks that identity sends no action message within d.
func (e *env) noAction(id, action string, d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, d)
	defer cancel()
	if ev, err := e.srv.WaitAction(ctx, id, action); err == nil {
		e.t.Fatalf("%s sent %s: %+v", id, action, ev.Request)
	}
}

// statuses lists the statuses identity reported for connector, in order.
func (e *env) statuses(id string, connector int) []ocpp16.ChargePointStatus {
	var out []ocpp16.ChargePointStatus
	for _, ev := range e.srv.Events(id) {
		if r, ok := ev.Request.(*ocpp16.StatusNotificationRequest); ok && r.ConnectorId == connector {
			out = append(out, r.Status)
		}
	}
	return out
}

// indexOf finds the first event of identity satisfying match.
func indexOf(events []ocpptest.Event, match func(ocpptest.Event) bool) int {
	for i, ev := range events {
		if match(ev) {
			return i
		}
	}
	return -1
}

func isStatus(connector int, status ocpp16.ChargePointStatus) func(ocpptest.Event) bool {
	return func(ev ocpptest.Event) bool {
		r, ok := ev.Request.(*ocpp16.StatusNotificationRequest)
		return ok && r.ConnectorId == connector && r.Status == status
	}
}

func isAction(action string) func(ocpptest.Event) bool {
	return func(ev ocpptest.Event) bool { return ev.Action == action }
}
