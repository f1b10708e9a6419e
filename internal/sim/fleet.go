// Package sim simulates OCPP 1.6J charge points, from one to thousands in
// one process, against any central system URL. Each charger boots,
// heartbeats, reports connector status, answers the central system's
// commands, charges with meter values, queues its transaction messages
// while offline, and can be scripted to misbehave (see Behavior).
//
// Tests drive it through Fleet and Charger:
//
//	f := sim.New(sim.Config{URL: "ws://127.0.0.1:8080/ocpp"})
//	ch, _ := f.Add(sim.ChargerConfig{Identity: "CP1", MeterInterval: time.Second})
//	_ = ch.Start(ctx)
//	_ = ch.WaitBooted(ctx)
//	_ = ch.LocalStart(ctx, 1, "TAG")
//	_ = ch.WaitFor(ctx, func(s sim.Snapshot) bool { return s.Connector(1).TransactionID != 0 })
//	defer f.Stop()
package sim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Fleet is a set of simulated chargers sharing one configuration, one HTTP
// client and one set of statistics.
type Fleet struct {
	cfg        Config
	log        *slog.Logger
	httpClient *http.Client
	stats      recorder
	started    time.Time

	mu       sync.Mutex
	chargers []*Charger
	byID     map[string]*Charger
}

// New makes an empty fleet.
func New(cfg Config) *Fleet {
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Conn.Logger == nil {
		cfg.Conn.Logger = cfg.Logger
	}
	if cfg.ReconnectDelay <= 0 {
		cfg.ReconnectDelay = time.Second
	}
	if cfg.MaxReconnectDelay < cfg.ReconnectDelay {
		cfg.MaxReconnectDelay = max(30*time.Second, cfg.ReconnectDelay)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = cfg.TLSConfig
	return &Fleet{
		cfg:        cfg,
		log:        cfg.Logger,
		httpClient: &http.Client{Transport: transport},
		byID:       make(map[string]*Charger),
	}
}

// Add creates a charger; Start it (or the whole fleet) to connect it.
func (f *Fleet) Add(cfg ChargerConfig) (*Charger, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.byID[cfg.Identity]; dup {
		return nil, fmt.Errorf("sim: charger %q already in the fleet", cfg.Identity)
	}
	ch := newCharger(f, cfg)
	f.chargers = append(f.chargers, ch)
	f.byID[cfg.Identity] = ch
	return ch, nil
}

// Charger returns the charger with that identity, or nil.
func (f *Fleet) Charger(identity string) *Charger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byID[identity]
}

// Chargers returns the fleet's chargers in the order they were added.
func (f *Fleet) Chargers() []*Charger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Charger(nil), f.chargers...)
}

// Start starts every charger not yet started, ratePerSec of them per
// second (0: all at once), and returns when all are started (not booted;
// see WaitBooted). The chargers run until ctx ends or Stop.
func (f *Fleet) Start(ctx context.Context, ratePerSec float64) error {
	f.mu.Lock()
	if f.started.IsZero() {
		f.started = time.Now()
	}
	chargers := append([]*Charger(nil), f.chargers...)
	f.mu.Unlock()
	var tick *time.Ticker
	if ratePerSec > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / ratePerSec))
		defer tick.Stop()
	}
	for i, ch := range chargers {
		if tick != nil && i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ch.mu.Lock()
		running := ch.cancel != nil
		ch.mu.Unlock()
		if running {
			continue
		}
		if err := ch.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// WaitBooted waits until every charger has been accepted by the central system.
func (f *Fleet) WaitBooted(ctx context.Context) error {
	for _, ch := range f.Chargers() {
		if err := ch.WaitBooted(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops every charger and waits for them.
func (f *Fleet) Stop() {
	var wg sync.WaitGroup
	for _, ch := range f.Chargers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch.Stop()
		}()
	}
	wg.Wait()
}

// FleetStats adds the fleet-wide view to the call statistics.
type FleetStats struct {
	Stats
	// Chargers, Connected and Booted count chargers now.
	Chargers, Connected, Booted int
	// ConnectTime is from the fleet's Start to the last charger's first
	// accepted boot; ConnectP50 and ConnectMax are per charger.
	ConnectTime, ConnectP50, ConnectMax time.Duration
	// Elapsed is the time since the fleet's Start; CallsPerSecond is
	// Calls over Elapsed.
	Elapsed        time.Duration
	CallsPerSecond float64
}

// Stats summarises the fleet.
func (f *Fleet) Stats() FleetStats {
	s := FleetStats{Stats: f.stats.snapshot()}
	f.mu.Lock()
	started := f.started
	f.mu.Unlock()
	var connect []time.Duration
	var lastBoot time.Time
	for _, ch := range f.Chargers() {
		ch.mu.Lock()
		s.Chargers++
		if ch.conn != nil {
			s.Connected++
		}
		if ch.booted {
			s.Booted++
		}
		if !ch.bootedAt.IsZero() {
			connect = append(connect, ch.bootedAt.Sub(ch.startedAt))
			if ch.bootedAt.After(lastBoot) {
				lastBoot = ch.bootedAt
			}
		}
		ch.mu.Unlock()
	}
	if len(connect) > 0 {
		sort.Slice(connect, func(i, j int) bool { return connect[i] < connect[j] })
		s.ConnectP50, s.ConnectMax = connect[len(connect)/2], connect[len(connect)-1]
		s.ConnectTime = lastBoot.Sub(started)
	}
	if !started.IsZero() {
		s.Elapsed = time.Since(started)
		s.CallsPerSecond = float64(s.Calls) / s.Elapsed.Seconds()
	}
	return s
}
