package sim

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/joule-ev/joule/internal/ocppj"
)

// Config is shared by all chargers of a Fleet.
type Config struct {
	// URL is the central system's OCPP base URL, e.g. ws://127.0.0.1:8080/ocpp;
	// a charger connects to URL + "/" + identity.
	URL string
	// TLSConfig is used for wss:// URLs.
	TLSConfig *tls.Config
	// Clock stamps messages and integrates energy; inject one to make meter
	// readings deterministic. Default: the system clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Conn tunes each charger's connection (call timeout, pings, ...).
	Conn ocppj.Options
	// ReconnectDelay is the wait before reconnecting after a connection
	// ends, doubled after each failed attempt up to MaxReconnectDelay.
	// Defaults 1s and 30s.
	ReconnectDelay, MaxReconnectDelay time.Duration
	// DialTimeout bounds one connection attempt. Default 10s.
	DialTimeout time.Duration
}

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ChargerConfig describes one simulated charger. Zero fields take the
// defaults in their comments.
type ChargerConfig struct {
	// Identity is the charge point identity (required).
	Identity string
	// Password, when set, is sent with the identity as HTTP Basic auth.
	Password string
	// Connectors is the number of connectors. Default 1.
	Connectors int
	// Behavior scripts how the charger misbehaves. Default BehaviorNormal.
	Behavior Behavior
	// After is when a timed behaviour strikes: for unplug_after and offline
	// after the transaction started, for reconnect after the boot. Default 1m.
	After time.Duration
	// OfflineFor is how long the offline behaviour stays offline. Default 30s.
	OfflineFor time.Duration
	// MeterInterval is the MeterValues period during a transaction (the
	// MeterValueSampleInterval key). Default 10s.
	MeterInterval time.Duration
	// PowerW is the power drawn while charging, before charging profiles. Default 11000.
	PowerW int
	// HeartbeatInterval, when set, overrides the interval the central
	// system returns in BootNotification.conf.
	HeartbeatInterval time.Duration
	// MeterStartWh is every connector's energy register at start.
	MeterStartWh int64
	// BatteryWh and InitialSoC model the car for SoC readings. Defaults
	// 60000 Wh and 20 %.
	BatteryWh  int64
	InitialSoC int
	// KeepPlugged leaves the car plugged in after a transaction stops
	// (status Finishing) until Unplug; by default the driver unplugs at once.
	KeepPlugged bool
	// Vendor and Model go into BootNotification. Defaults "Joule" and "Sim".
	Vendor, Model string
	// TransactionMessageAttempts bounds how often a transaction message
	// answered with a CALLERROR is tried. Default 3, as in OCPP 1.6.
	TransactionMessageAttempts int
	// MaxQueued bounds the queued transaction messages; beyond it new
	// MeterValues are dropped (never Start/StopTransaction). Default 10000.
	MaxQueued int
}

func (c ChargerConfig) withDefaults() (ChargerConfig, error) {
	if c.Identity == "" {
		return c, fmt.Errorf("sim: charger without identity")
	}
	if c.Connectors <= 0 {
		c.Connectors = 1
	}
	if c.Behavior == "" {
		c.Behavior = BehaviorNormal
	}
	if _, err := ParseBehavior(string(c.Behavior)); err != nil {
		return c, err
	}
	if c.After <= 0 {
		c.After = time.Minute
	}
	if c.OfflineFor <= 0 {
		c.OfflineFor = 30 * time.Second
	}
	if c.MeterInterval <= 0 {
		c.MeterInterval = 10 * time.Second
	}
	if c.PowerW <= 0 {
		c.PowerW = 11000
	}
	if c.BatteryWh <= 0 {
		c.BatteryWh = 60000
	}
	if c.InitialSoC <= 0 {
		c.InitialSoC = 20
	}
	if c.Vendor == "" {
		c.Vendor = "Joule"
	}
	if c.Model == "" {
		c.Model = "Sim"
	}
	if c.TransactionMessageAttempts <= 0 {
		c.TransactionMessageAttempts = 3
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = 10000
	}
	return c, nil
}
