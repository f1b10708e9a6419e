package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
)

// Charger is one simulated OCPP 1.6J charge point. Its methods are safe for
// concurrent use.
type Charger struct {
	cfg   ChargerConfig
	fleet *Fleet
	log   *slog.Logger
	clock Clock
	stats recorder
	mux   *ocppj.Mux

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the run and send loops

	conn         *ocppj.Conn
	booted       bool // BootNotification accepted since the last (re)boot
	boots        int
	startedAt    time.Time
	bootedAt     time.Time
	hbInterval   time.Duration
	hbTimer      *time.Timer
	offlineUntil time.Time
	dropTimer    *time.Timer // the reconnect behaviour's
	operative    bool        // ChangeAvailability on connector 0
	connectors   []*connector
	settings     settings

	queue   []*outMsg
	kick    chan struct{}
	nextTx  int
	stopped bool
}

func newCharger(f *Fleet, cfg ChargerConfig) *Charger {
	ch := &Charger{
		cfg:       cfg,
		fleet:     f,
		log:       f.log.With("identity", cfg.Identity),
		clock:     f.cfg.Clock,
		changed:   make(chan struct{}),
		kick:      make(chan struct{}, 1),
		operative: true,
	}
	ch.settings = newSettings(cfg)
	for i := 0; i <= cfg.Connectors; i++ {
		ch.connectors = append(ch.connectors, &connector{id: i, operative: true, energyWus: cfg.MeterStartWh * wusPerWh})
	}
	for _, c := range ch.connectors {
		c.status = ch.deriveStatusLocked(c)
	}
	ch.mux = ch.commands()
	return ch
}

// Identity is the charger's charge point identity.
func (ch *Charger) Identity() string { return ch.cfg.Identity }

// Config is the charger's configuration, defaults applied.
func (ch *Charger) Config() ChargerConfig { return ch.cfg }

// Start connects the charger and keeps it running (booting, heartbeating,
// reconnecting) in the background until ctx ends or Stop is called. It
// returns at once; use WaitBooted to wait for the central system's accept.
func (ch *Charger) Start(ctx context.Context) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.cancel != nil {
		return fmt.Errorf("sim: charger %s already started", ch.cfg.Identity)
	}
	ctx, ch.cancel = context.WithCancel(ctx)
	ch.startedAt = time.Now()
	ch.hbTimer = time.AfterFunc(time.Hour, ch.heartbeatTick)
	ch.hbTimer.Stop()
	ch.wg.Add(2)
	go ch.run(ctx)
	go ch.sendLoop(ctx)
	return nil
}

// Stop disconnects the charger (with a websocket close) and waits until
// all its goroutines and timers have ended. Queued messages are discarded.
func (ch *Charger) Stop() {
	ch.mu.Lock()
	cancel := ch.cancel
	ch.stopped = true
	if ch.hbTimer != nil {
		ch.hbTimer.Stop()
	}
	if ch.dropTimer != nil {
		ch.dropTimer.Stop()
	}
	for _, c := range ch.connectors {
		c.stopTimers()
	}
	ch.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	ch.wg.Wait()
}

// WaitBooted waits until the central system has accepted the charger's
// BootNotification (again, after a reset).
func (ch *Charger) WaitBooted(ctx context.Context) error {
	return ch.WaitFor(ctx, func(s Snapshot) bool { return s.Booted })
}

// WaitFor waits until cond holds for the charger's state, checking it now
// and after every change.
func (ch *Charger) WaitFor(ctx context.Context, cond func(Snapshot) bool) error {
	for {
		ch.mu.Lock()
		s, changed := ch.snapshotLocked(), ch.changed
		ch.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("sim: %s: waiting for state: %w", ch.cfg.Identity, ctx.Err())
		}
	}
}

// Snapshot returns the charger's current state.
func (ch *Charger) Snapshot() Snapshot {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.snapshotLocked()
}

// Status returns a connector's status (0 is the charge point itself).
func (ch *Charger) Status(connector int) ocpp16.ChargePointStatus {
	return ch.Snapshot().Connector(connector).Status
}

// Stats returns the charger's own call statistics.
func (ch *Charger) Stats() Stats { return ch.stats.snapshot() }

// Disconnect drops the connection as a network failure would; the charger
// reconnects after the reconnect delay, without booting again.
func (ch *Charger) Disconnect() {
	ch.mu.Lock()
	conn := ch.conn
	ch.mu.Unlock()
	if conn != nil {
		conn.CloseNow()
	}
}

// GoOffline drops the connection and stays offline for d. Meanwhile the
// charger keeps charging and queues its transaction messages.
func (ch *Charger) GoOffline(d time.Duration) {
	ch.mu.Lock()
	ch.offlineUntil = time.Now().Add(d)
	conn := ch.conn
	ch.notifyLocked()
	ch.mu.Unlock()
	ch.log.Info("sim: going offline", "for", d)
	if conn != nil {
		conn.CloseNow()
	}
}

func (ch *Charger) notifyLocked() {
	close(ch.changed)
	ch.changed = make(chan struct{})
}

func (ch *Charger) connectorLocked(n int) (*connector, error) {
	if n < 1 || n >= len(ch.connectors) {
		return nil, fmt.Errorf("sim: %s has no connector %d", ch.cfg.Identity, n)
	}
	return ch.connectors[n], nil
}

// Plug connects a car to a connector (status Preparing, or back to
// Charging for a transaction suspended by an earlier unplug).
func (ch *Charger) Plug(connector int) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	c, err := ch.connectorLocked(connector)
	if err != nil {
		return err
	}
	ch.accrueLocked(c)
	c.plugged, c.evDisconnected = true, false
	ch.refreshStatusLocked(c)
	return nil
}

// Unplug disconnects the car. During a transaction that ends it with
// reason EVDisconnected, unless StopTransactionOnEVSideDisconnect is false:
// then the transaction stays open, suspended (SuspendedEV).
func (ch *Charger) Unplug(connector int) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	c, err := ch.connectorLocked(connector)
	if err != nil {
		return err
	}
	if c.tx != nil {
		if ch.settings.bool(keyStopTxOnEVSideDisconnect) {
			ch.stopTransactionLocked(c, ocpp16.ReasonEVDisconnected, "")
		} else {
			ch.accrueLocked(c)
			c.evDisconnected = true
		}
	}
	c.plugged, c.finishing = false, false
	ch.refreshStatusLocked(c)
	return nil
}

// ErrNotAuthorized is returned by LocalStart when the central system does
// not accept the idTag.
var ErrNotAuthorized = errors.New("sim: idTag not authorized")

// LocalStart is a driver presenting idTag at the charger: the car is
// plugged in if it is not, the idTag authorized (when online; offline the
// charger trusts it, as LocalAuthorizeOffline allows) and a transaction
// started. It returns once the transaction has begun locally; its
// StartTransaction may still be queued.
func (ch *Charger) LocalStart(ctx context.Context, connector int, idTag string) error {
	ch.mu.Lock()
	c, err := ch.connectorLocked(connector)
	if err == nil && c.tx != nil {
		err = fmt.Errorf("sim: %s connector %d already has a transaction", ch.cfg.Identity, connector)
	}
	if err == nil && (!c.operative || !ch.operative) {
		err = fmt.Errorf("sim: %s connector %d is unavailable", ch.cfg.Identity, connector)
	}
	if err != nil {
		ch.mu.Unlock()
		return err
	}
	ch.accrueLocked(c)
	c.plugged, c.finishing = true, false
	ch.refreshStatusLocked(c)
	online := ch.conn != nil && ch.booted
	var authorized chan error
	if online {
		authorized = make(chan error, 1)
		ch.enqueueLocked(ch.authorizeMsg(idTag, authorized))
	}
	ch.mu.Unlock()

	if authorized != nil {
		select {
		case err := <-authorized:
			if err != nil && !errors.Is(err, errDropped) {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if c.tx != nil {
		return fmt.Errorf("sim: %s connector %d already has a transaction", ch.cfg.Identity, connector)
	}
	ch.startTransactionLocked(c, idTag, nil)
	return nil
}

// LocalStop is the driver ending the transaction at the charger (reason
// Local, with the transaction's idTag).
func (ch *Charger) LocalStop(connector int) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	c, err := ch.connectorLocked(connector)
	if err != nil {
		return err
	}
	if c.tx == nil {
		return fmt.Errorf("sim: %s connector %d has no transaction", ch.cfg.Identity, connector)
	}
	ch.stopTransactionLocked(c, ocpp16.ReasonLocal, c.tx.idTag)
	return nil
}

func (ch *Charger) authorizeMsg(idTag string, result chan error) *outMsg {
	return &outMsg{
		action: ocpp16.ActionAuthorize,
		build:  func() (ocpp16.Request, bool) { return &ocpp16.AuthorizeRequest{IdTag: idTag}, true },
		onReply: func(resp any) {
			if s := resp.(*ocpp16.AuthorizeResponse).IdTagInfo.Status; s != ocpp16.AuthorizationAccepted {
				result <- fmt.Errorf("%w: %s", ErrNotAuthorized, s)
				return
			}
			result <- nil
		},
		done: result,
	}
}
