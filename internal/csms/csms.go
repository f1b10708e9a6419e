// Package csms is the OCPP 1.6J central system: it authenticates chargers at
// /ocpp/{identity}, keeps one live connection per charger (a reconnect
// replaces the old socket), tracks who is online, records what chargers
// report (boot, status, transactions, meter values) and sends them
// commands. What a transaction means for a charging session is decided by
// the session package through Hooks.
package csms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Hooks let the session domain act on what chargers report. Methods with a
// tx run inside the transaction that records the message, so a session's
// state changes with the charger's report or not at all.
type Hooks interface {
	TransactionStarted(ctx context.Context, tx *store.Tx, st *network.ChargeStation, t *Transaction) error
	TransactionStopped(ctx context.Context, tx *store.Tx, st *network.ChargeStation, t *Transaction) error
	ConnectorStatus(ctx context.Context, tx *store.Tx, st *network.ChargeStation, c *network.Connector, previous string) error
	// MeterSample runs after a meter value of a transaction committed.
	MeterSample(ctx context.Context, st *network.ChargeStation, t *Transaction)
}

// Options tune the central system.
type Options struct {
	Logger *slog.Logger
	// CallTimeout bounds a command's wait for the charger's answer (default 30s).
	CallTimeout time.Duration
	// WatchInterval is how often silent chargers are looked for (default 1s).
	WatchInterval time.Duration
	// PingInterval is the websocket keepalive period (default 30s).
	PingInterval time.Duration
	Registry     prometheus.Registerer
}

// Service is the central system.
type Service struct {
	db     *store.DB
	outbox *events.Outbox
	opt    Options
	log    *slog.Logger
	batch  batcher
	hooks  Hooks
	calls  ocppj.Handler // the chargers' CALLs, shared by every connection

	mu         sync.RWMutex
	byID       map[string]*station // station id -> live connection
	byIdentity map[string]*station

	metrics  *metrics
	handlers sync.WaitGroup // ServeHTTP calls and connections in progress
	// life is the parent of every connection's context; Wait ends it.
	life    context.Context
	endLife context.CancelFunc
}

// station is a connected charger.
type station struct {
	st       network.ChargeStation
	p        org.Principal
	conn     *ocppj.Conn
	timeout  time.Duration // silence after which it is offline
	interval int           // heartbeat interval asked at boot, seconds
	meterInt int           // MeterValueSampleInterval to configure, seconds
	lastSeen atomic.Int64  // unix nanoseconds of the last message
	flushed  atomic.Int64  // lastSeen as last written to the database

	txMu sync.Mutex
	txs  map[int64]Transaction // open transactions as last committed (see recordSamples)
}

func (s *station) cachedTx(id int64) (Transaction, bool) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	t, ok := s.txs[id]
	return t, ok
}

func (s *station) cacheTx(t Transaction) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if s.txs == nil || len(s.txs) >= 64 {
		s.txs = make(map[int64]Transaction, 1)
	}
	s.txs[t.ID] = t
}

func (s *station) forgetTx(id int64) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	delete(s.txs, id)
}

func (s *station) touch() { s.lastSeen.Store(time.Now().UnixNano()) }

type ctxKey struct{}

func stationFrom(ctx context.Context) *station { return ctx.Value(ctxKey{}).(*station) }

// New makes the central system. Call Run to start its background work.
func New(db *store.DB, outbox *events.Outbox, opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 30 * time.Second
	}
	if opt.WatchInterval <= 0 {
		opt.WatchInterval = time.Second
	}
	s := &Service{db: db, outbox: outbox, opt: opt, log: opt.Logger, byID: map[string]*station{}, byIdentity: map[string]*station{}}
	s.life, s.endLife = context.WithCancel(context.Background())
	s.calls = s.handler()
	s.batch = batcher{db}
	s.metrics = newMetrics(opt.Registry)
	return s
}

// SetHooks installs the session domain. Call before chargers connect.
func (s *Service) SetHooks(h Hooks) { s.hooks = h }

// Run runs the silence watchdog and the offline sweeper (writes go through
// the database's group commit, store.DB.Batch) until ctx is done.
func (s *Service) Run(ctx context.Context) {
	s.watch(ctx)
}

// ServeHTTP accepts a charger at /ocpp/{identity}. Once the websocket is
// up, the connection is served by a goroutine of its own and ServeHTTP
// returns: the HTTP server's goroutine, with the deep stack the handshake
// and authentication needed, does not stay for the connection's life.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	spawned := false
	defer func() {
		if !spawned {
			s.handlers.Done()
		}
	}()
	identity := r.PathValue("identity")
	ctx := r.Context()
	st, err := s.authenticate(ctx, r, identity)
	if err != nil {
		var ae *apperr.Error
		status := http.StatusInternalServerError
		if errors.As(err, &ae) {
			status = http.StatusUnauthorized
			if ae.Kind == apperr.NotFound {
				status = http.StatusNotFound
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="joule-ocpp"`)
		}
		s.log.Warn("csms: charger refused", "identity", identity, "remote", r.RemoteAddr, "err", err)
		s.metrics.refused.Inc()
		http.Error(w, http.StatusText(status), status)
		return
	}
	o, err := org.Get(ctx, s.db.Q(), st.OrgID)
	if err != nil {
		http.Error(w, "organization unavailable", http.StatusServiceUnavailable)
		return
	}
	cfg := o.Configurations
	st.Connectors = nil // not kept for the connection's life: hooks read connectors from the database
	sta := &station{st: st, p: org.Principal{OrgID: st.OrgID, TestMode: st.TestMode},
		timeout: time.Duration(cfg.HeartbeatTimeout) * time.Second, interval: cfg.HeartbeatInterval, meterInt: cfg.MeterValueInterval}
	sta.touch()
	conn, err := ocppj.Accept(w, r, ocppj.AcceptOptions{Identity: identity, Options: ocppj.Options{
		Handler: s.calls, CallTimeout: s.opt.CallTimeout, PingInterval: s.opt.PingInterval, Logger: s.log}})
	if err != nil {
		s.log.Warn("csms: websocket handshake failed", "identity", identity, "err", err)
		return
	}
	sta.conn = conn
	// The connection lives until it closes or Wait ends every connection
	// (at shutdown); the request's context ends with this function.
	spawned = true
	go func() {
		defer s.handlers.Done()
		ctx := context.WithValue(s.life, ctxKey{}, sta)
		s.connected(ctx, sta)
		err := conn.Serve(ctx)
		s.disconnected(context.WithoutCancel(ctx), sta, err)
	}()
}

// Wait closes every charger connection (cleanly) and returns when each has
// ended and been recorded. Run must still be running: disconnections are
// written through it.
func (s *Service) Wait() {
	s.endLife()
	s.handlers.Wait()
}

// authenticate checks the identity and HTTP Basic credentials (OCPP
// security profiles 1 and 2). An unknown identity is registered only when
// an organization allows auto-registration.
func (s *Service) authenticate(ctx context.Context, r *http.Request, identity string) (network.ChargeStation, error) {
	user, pass, hasAuth := r.BasicAuth()
	st, err := network.StationByIdentity(ctx, s.db.Q(), identity)
	if apperr.Is(err, "chargestation_not_found") {
		return s.autoRegister(ctx, identity, user, pass, hasAuth)
	}
	if err != nil {
		return st, err
	}
	if !hasAuth || user != identity || !st.CheckPassword(pass) {
		return st, apperr.New(apperr.Unauthorized, "bad_credentials", "HTTP Basic auth with the identity and its AuthorizationKey required")
	}
	return st, nil
}

func (s *Service) connected(ctx context.Context, sta *station) {
	s.mu.Lock()
	old := s.byIdentity[sta.st.Identity]
	s.byIdentity[sta.st.Identity] = sta
	s.byID[sta.st.ID] = sta
	s.mu.Unlock()
	if old != nil {
		// A reconnect replaces the old socket: a charger has one connection.
		s.log.Info("csms: charger reconnected; closing its old socket", "identity", sta.st.Identity)
		old.conn.CloseNow()
	}
	s.metrics.connections.Inc()
	err := s.setOnline(ctx, sta, true)
	if err != nil {
		s.log.Error("csms: mark online", "identity", sta.st.Identity, "err", err)
	}
	s.log.Info("csms: charger connected", "identity", sta.st.Identity, "remote", sta.conn.RemoteAddr())
}

func (s *Service) disconnected(ctx context.Context, sta *station, cause error) {
	s.metrics.connections.Dec()
	s.mu.Lock()
	current := s.byIdentity[sta.st.Identity] == sta
	if current {
		delete(s.byIdentity, sta.st.Identity)
		delete(s.byID, sta.st.ID)
	}
	s.mu.Unlock()
	if !current {
		return // replaced by a newer connection, which is online
	}
	if err := s.setOnline(ctx, sta, false); err != nil {
		s.log.Error("csms: mark offline", "identity", sta.st.Identity, "err", err)
	}
	s.log.Info("csms: charger disconnected", "identity", sta.st.Identity, "cause", cause)
}

// setOnline records a change of online state and its event.
func (s *Service) setOnline(ctx context.Context, sta *station, online bool) error {
	return s.batch.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		now := store.Now()
		res, err := tx.ExecContext(ctx, `UPDATE chargestations SET online = $1, last_seen_at = $2, updated_at = $2 WHERE id = $3 AND online <> $1`,
			online, now, sta.st.ID)
		if err != nil {
			return fmt.Errorf("csms: set online: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // no change, no event
		}
		typ := "chargestation.offline"
		if online {
			typ = "chargestation.online"
		}
		st, err := network.GetStation(ctx, tx, sta.p, sta.st.ID)
		if err != nil {
			return err
		}
		_, err = s.outbox.Emit(ctx, tx, sta.p.OrgID, sta.p.TestMode, typ, "chargestation", st.ID, st)
		return err
	})
}

// live returns the connected station with the given id.
func (s *Service) live(stationID string) *station {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[stationID]
}

// Connected reports whether the station has a live connection here.
func (s *Service) Connected(stationID string) bool { return s.live(stationID) != nil }

// ErrOffline is returned for commands to a charger with no connection.
var ErrOffline = apperr.New(apperr.Unavailable, "chargestation_offline", "The charge station is not connected")

// Call sends a command to a connected charger and returns its validated
// answer (a pointer to the action's Response type).
func (s *Service) Call(ctx context.Context, stationID string, req ocpp16.Request) (any, error) {
	sta := s.live(stationID)
	if sta == nil {
		return nil, ErrOffline
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.CallTimeout)
	defer cancel()
	start := time.Now()
	raw, err := sta.conn.Call(ctx, req.Action(), req)
	s.metrics.commandDuration.WithLabelValues(req.Action()).Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, commandError(req.Action(), err)
	}
	v, perr := ocpp16.DecodeResponse(req.Action(), raw)
	if perr != nil {
		return nil, apperr.Newf(apperr.Unavailable, "charger_bad_response", "The charger's %s answer is invalid: %s", req.Action(), perr.Description)
	}
	return v, nil
}

func commandError(action string, err error) error {
	var ce *ocppj.Error
	switch {
	case errors.As(err, &ce):
		return &apperr.Error{Kind: apperr.Unavailable, Code: "charger_error", Message: fmt.Sprintf("The charger answered %s with %s: %s", action, ce.Code, ce.Description), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apperr.Error{Kind: apperr.Unavailable, Code: "charger_timeout", Message: fmt.Sprintf("The charger did not answer %s in time", action), Err: err}
	}
	return &apperr.Error{Kind: apperr.Unavailable, Code: "chargestation_offline", Message: fmt.Sprintf("The charger's connection ended before it answered %s", action), Err: err}
}
