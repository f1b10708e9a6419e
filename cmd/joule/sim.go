package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/joule-ev/joule/internal/ocppj"
	"github.com/joule-ev/joule/internal/sim"
)

// simCmd is `joule sim`: simulated OCPP 1.6J chargers against any central
// system, for demos, sandboxes and load tests (see docs/ocpp.md).
type simCmd struct {
	URL               string        `name:"url" required:"" help:"OCPP base URL; charger <identity> connects to <url>/<identity>, e.g. ws://127.0.0.1:8080/ocpp."`
	Count             int           `default:"1" help:"Number of chargers."`
	Prefix            string        `default:"SIM" help:"Identity prefix: chargers are <prefix>0001, <prefix>0002, ..."`
	Password          string        `env:"JOULE_SIM_PASSWORD" help:"HTTP Basic auth password, the identity being the user (OCPP security profile 1/2); none if empty."`
	Connectors        int           `default:"1" help:"Connectors per charger."`
	Behavior          string        `default:"normal" enum:"normal,start_hangs,start_fails,stop_ignored,stop_fails,unplug_after,offline,reconnect" help:"How the chargers behave: ${enum}."`
	After             time.Duration `default:"1m" help:"When a timed behaviour strikes: into each transaction for unplug_after and offline, after boot for reconnect."`
	OfflineFor        time.Duration `default:"30s" help:"How long the offline behaviour stays offline."`
	MeterInterval     time.Duration `default:"10s" help:"MeterValues period during a transaction."`
	PowerW            int           `name:"power-w" default:"11000" help:"Charging power in W."`
	HeartbeatInterval time.Duration `help:"Heartbeat period; 0 uses the one the central system returns."`
	Transactions      bool          `help:"Each charger starts a transaction on connector 1 once booted (a local start with --id-tag) and stops it when the run ends."`
	IDTag             string        `name:"id-tag" default:"SIMTAG" help:"idTag of the transactions started with --transactions."`
	Duration          time.Duration `help:"How long to run; 0 runs until interrupted."`
	RatePerSec        float64       `name:"rate" default:"100" help:"Chargers started per second; 0 starts them all at once."`
	CallTimeout       time.Duration `default:"30s" help:"How long a charger waits for the answer to a call."`
	Insecure          bool          `help:"Skip TLS certificate verification for wss:// URLs (test servers only)."`
	Warmup            time.Duration `default:"5s" help:"The steady-state figures start this long after every charger booted and end with the run (before the wind-down)."`
	JSON              bool          `name:"json" help:"Print the summary as one JSON object instead of text."`
	Verbose           bool          `short:"v" help:"Log connections, behaviours and failures."`
}

// Run starts the chargers, runs them for --duration (or until SIGINT or
// SIGTERM), winds down their transactions and prints a summary. It fails
// if any call failed or any charger never booted, so a load test can gate
// on it.
func (c *simCmd) Run() error {
	behavior, err := sim.ParseBehavior(c.Behavior)
	if err != nil {
		return err
	}
	if c.Count < 1 {
		return fmt.Errorf("sim: --count must be at least 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var logOut io.Writer = io.Discard
	if c.Verbose {
		logOut = os.Stderr
	}
	cfg := sim.Config{
		URL:    c.URL,
		Logger: slog.New(slog.NewTextHandler(logOut, nil)),
		Conn:   ocppj.Options{CallTimeout: c.CallTimeout},
	}
	if c.Insecure {
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // explicitly asked for, test servers only
	}
	fleet := sim.New(cfg)
	width := max(4, len(fmt.Sprint(c.Count)))
	for i := 1; i <= c.Count; i++ {
		_, err := fleet.Add(sim.ChargerConfig{
			Identity:          fmt.Sprintf("%s%0*d", c.Prefix, width, i),
			Password:          c.Password,
			Connectors:        c.Connectors,
			Behavior:          behavior,
			After:             c.After,
			OfflineFor:        c.OfflineFor,
			MeterInterval:     c.MeterInterval,
			PowerW:            c.PowerW,
			HeartbeatInterval: c.HeartbeatInterval,
		})
		if err != nil {
			return err
		}
	}

	// The chargers live until the wind-down, not until the signal: a
	// stopping run still ends its transactions properly.
	life, endLife := context.WithCancel(context.Background())
	defer endLife()
	run := ctx
	if c.Duration > 0 {
		var cancel context.CancelFunc
		run, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	fmt.Fprintf(os.Stderr, "joule sim: %d charger(s) against %s, behaviour %s\n", c.Count, c.URL, behavior)
	var wg sync.WaitGroup
	var startFailures atomic.Int64
	go c.progress(run, fleet)
	if err := fleet.Start(life, c.RatePerSec); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if c.Transactions {
		for _, ch := range fleet.Chargers() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ch.WaitBooted(run) != nil {
					return
				}
				if err := ch.LocalStart(run, 1, c.IDTag); err != nil && run.Err() == nil {
					startFailures.Add(1)
					fmt.Fprintf(os.Stderr, "joule sim: %s: %v\n", ch.Identity(), err)
				}
			}()
		}
	}
	// The steady state: from Warmup after the last boot to the end of the run.
	marks := make(chan sim.Mark, 1)
	go func() {
		if fleet.WaitBooted(run) != nil {
			return
		}
		select {
		case <-time.After(c.Warmup):
			marks <- fleet.Mark()
		case <-run.Done():
		}
	}()
	<-run.Done()
	var steady *sim.WindowStats
	select {
	case m := <-marks:
		w := fleet.StatsSince(m)
		steady = &w
	default:
	}
	wg.Wait()
	if c.Transactions {
		c.windDown(fleet)
	}
	stats := fleet.Stats()
	neverBooted := 0
	for _, ch := range fleet.Chargers() {
		if ch.Snapshot().Boots == 0 {
			neverBooted++
		}
	}
	endLife()
	fleet.Stop()

	if c.JSON {
		printJSON(os.Stdout, stats, steady)
	} else {
		printSummary(os.Stdout, stats, steady)
	}
	if stats.Failures > 0 || startFailures.Load() > 0 || neverBooted > 0 {
		return fmt.Errorf("sim: %d call(s) failed, %d transaction(s) could not start, %d charger(s) never booted",
			stats.Failures, startFailures.Load(), neverBooted)
	}
	return nil
}

// windDown stops the running transactions and gives the chargers up to
// ten seconds to deliver what they have queued.
func (c *simCmd) windDown(fleet *sim.Fleet) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ch := range fleet.Chargers() {
		if ch.Snapshot().Connector(1).InTransaction {
			_ = ch.LocalStop(1)
		}
	}
	for _, ch := range fleet.Chargers() {
		if err := ch.WaitFor(ctx, func(s sim.Snapshot) bool { return s.Queued == 0 || !s.Connected }); err != nil {
			fmt.Fprintf(os.Stderr, "joule sim: %s still had %d message(s) queued\n", ch.Identity(), ch.Snapshot().Queued)
		}
	}
}

// progress prints a line every five seconds while the run lasts.
func (c *simCmd) progress(ctx context.Context, fleet *sim.Fleet) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s := fleet.Stats()
			fmt.Fprintf(os.Stderr, "joule sim: %v: %d/%d connected, %d booted, %d calls (%d failed), %.0f calls/s\n",
				s.Elapsed.Round(time.Second), s.Connected, s.Chargers, s.Booted, s.Calls, s.Failures, s.CallsPerSecond)
		}
	}
}

func printSummary(w io.Writer, s sim.FleetStats, steady *sim.WindowStats) {
	var b strings.Builder
	fmt.Fprintf(&b, "chargers     %d (connected %d, booted %d at the end)\n", s.Chargers, s.Connected, s.Booted)
	if s.ConnectMax > 0 {
		fmt.Fprintf(&b, "connect      all booted %v after start = %.0f chargers/s (per charger p50 %v, max %v); ",
			s.ConnectTime.Round(time.Millisecond), connectRate(s), s.ConnectP50.Round(time.Millisecond), s.ConnectMax.Round(time.Millisecond))
	} else {
		b.WriteString("connect      no charger booted; ")
	}
	fmt.Fprintf(&b, "%d connections, %d failed\n", s.Connects, s.ConnectFailures)
	fmt.Fprintf(&b, "calls        %d in %v = %.1f calls/s; failed %d (CALLERROR %d)\n",
		s.Calls, s.Elapsed.Round(time.Millisecond), s.CallsPerSecond, s.Failures, s.CallErrors)
	fmt.Fprintf(&b, "latency      p50 %v, p99 %v, max %v\n", s.P50, s.P99, s.Max.Round(time.Microsecond))
	if steady != nil {
		fmt.Fprintf(&b, "steady       %d calls in %v = %.1f calls/s; failed %d; latency p50 %v, p99 %v, max %v\n",
			steady.Calls, steady.Elapsed.Round(time.Millisecond), steady.CallsPerSecond, steady.Failures, steady.P50, steady.P99, steady.Max)
	}
	fmt.Fprintf(&b, "commands     %d answered\n", s.Commands)
	_, _ = io.WriteString(w, b.String())
}

func connectRate(s sim.FleetStats) float64 {
	if s.ConnectTime <= 0 {
		return 0
	}
	return float64(s.Booted) / s.ConnectTime.Seconds()
}

// printJSON prints the summary for scripts (durations in milliseconds).
func printJSON(w io.Writer, s sim.FleetStats, steady *sim.WindowStats) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	out := map[string]any{
		"chargers": s.Chargers, "connected": s.Connected, "booted": s.Booted,
		"connect_ms": ms(s.ConnectTime), "connect_per_s": connectRate(s), "connect_p50_ms": ms(s.ConnectP50), "connect_max_ms": ms(s.ConnectMax),
		"connections": s.Connects, "connect_failures": s.ConnectFailures,
		"calls": s.Calls, "elapsed_ms": ms(s.Elapsed), "calls_per_s": s.CallsPerSecond, "failed": s.Failures, "call_errors": s.CallErrors,
		"p50_ms": ms(s.P50), "p99_ms": ms(s.P99), "max_ms": ms(s.Max), "commands": s.Commands,
	}
	if steady != nil {
		out["steady"] = map[string]any{"calls": steady.Calls, "elapsed_ms": ms(steady.Elapsed), "calls_per_s": steady.CallsPerSecond,
			"failed": steady.Failures, "p50_ms": ms(steady.P50), "p99_ms": ms(steady.P99), "max_ms": ms(steady.Max)}
	}
	b, _ := json.Marshal(out)
	_, _ = fmt.Fprintf(w, "%s\n", b)
}
