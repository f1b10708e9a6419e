// Package ocpptest is a small in-memory OCPP 1.6 central system for tests:
// a real websocket peer built on ocppj and ocpp16 that accepts chargers,
// answers their messages, records everything they send and lets a test
// send them commands. It exists to test chargers and the simulator against
// something that speaks the protocol, not to be a central system.
package ocpptest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
)

// Options configure a Server. The zero value accepts everyone.
type Options struct {
	// HeartbeatInterval is returned in BootNotification.conf. Default 60s.
	HeartbeatInterval time.Duration
	// Registration decides BootNotification.conf status. Default Accepted.
	Registration func(identity string, req *ocpp16.BootNotificationRequest) ocpp16.RegistrationStatus
	// RetryInterval is the interval returned with Pending or Rejected. Default 1s.
	RetryInterval time.Duration
	// Authorize decides an idTag's status in Authorize and StartTransaction.
	// Default Accepted.
	Authorize func(identity, idTag string) ocpp16.AuthorizationStatus
	// CheckAuth decides whether a charger may connect, given its HTTP Basic
	// credentials (ok false when it sent none). Default: everyone may.
	CheckAuth func(identity, username, password string, ok bool) bool
	// Refuse, when it returns an error for a message, makes the server
	// answer it with that CALLERROR instead of handling (and recording) it.
	Refuse func(identity, action string) *ocppj.Error
	// Conn tunes the server side of each connection.
	Conn ocppj.Options
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Event is one valid message a charger sent.
type Event struct {
	Seq      int
	Identity string
	Action   string
	Request  ocpp16.Request // a pointer, e.g. *ocpp16.StartTransactionRequest
	At       time.Time      // when the server received it
}

// Transaction is what the server knows of one transaction.
type Transaction struct {
	ID          int
	Identity    string
	ConnectorId int
	IdTag       string
	MeterStart  int
	Started     time.Time
	MeterStop   int
	Stopped     time.Time // zero while running
	Reason      ocpp16.Reason
	MeterValues []ocpp16.MeterValue
}

// Server is the test central system.
type Server struct {
	// URL is the base to give chargers: ws://127.0.0.1:port/ocpp; a
	// charger connects to URL + "/" + identity.
	URL string

	opts     Options
	log      *slog.Logger
	http     *http.Server
	listener net.Listener
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every new event
	events   []Event
	conns    map[string]*ocppj.Conn
	connects map[string]int
	txs      map[int]*Transaction
	txKeys   map[string]int
	nextTx   int
}

// Start listens on a loopback port and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = time.Minute
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Conn.Logger == nil {
		opts.Conn.Logger = opts.Logger
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ocpptest: listen: %w", err)
	}
	s := &Server{
		URL:      "ws://" + ln.Addr().String() + "/ocpp",
		opts:     opts,
		log:      opts.Logger,
		listener: ln,
		changed:  make(chan struct{}),
		conns:    make(map[string]*ocppj.Conn),
		connects: make(map[string]int),
		txs:      make(map[int]*Transaction),
		txKeys:   make(map[string]int),
		nextTx:   1000,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("/ocpp/{identity}", s.serveCharger)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// Close disconnects every charger and stops the server.
func (s *Server) Close() {
	s.cancel()
	_ = s.http.Close()
	s.wg.Wait()
}

func (s *Server) serveCharger(w http.ResponseWriter, r *http.Request) {
	identity := r.PathValue("identity")
	if s.opts.CheckAuth != nil {
		user, pass, ok := r.BasicAuth()
		if !s.opts.CheckAuth(identity, user, pass, ok) {
			w.Header().Set("WWW-Authenticate", `Basic realm="ocpp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	opts := s.opts.Conn
	opts.Handler = s.handler()
	c, err := ocppj.Accept(w, r, ocppj.AcceptOptions{Options: opts, Identity: identity})
	if err != nil {
		s.log.Warn("ocpptest: accept failed", "identity", identity, "error", err)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.mu.Lock()
	old := s.conns[identity]
	s.conns[identity] = c
	s.connects[identity]++
	s.notifyLocked()
	s.mu.Unlock()
	if old != nil {
		// A reconnect with the same identity replaces the old socket.
		old.CloseNow()
	}
	_ = c.Serve(s.ctx)
	s.mu.Lock()
	if s.conns[identity] == c {
		delete(s.conns, identity)
		s.notifyLocked()
	}
	s.mu.Unlock()
}

func (s *Server) handler() ocppj.Handler {
	m := ocppj.NewMux()
	m.Fallback(ocpp16.Unsupported)
	s.handle(m)
	if s.opts.Refuse == nil {
		return m
	}
	return ocppj.HandlerFunc(func(ctx context.Context, c *ocppj.Conn, action string, payload json.RawMessage) (any, error) {
		if err := s.opts.Refuse(c.Identity(), action); err != nil {
			return nil, err
		}
		return m.HandleCall(ctx, c, action, payload)
	})
}

func (s *Server) handle(m *ocppj.Mux) {
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.BootNotificationRequest) (any, error) {
		s.record(c, req)
		status := ocpp16.RegistrationAccepted
		if s.opts.Registration != nil {
			status = s.opts.Registration(c.Identity(), req)
		}
		interval := s.opts.HeartbeatInterval
		if status != ocpp16.RegistrationAccepted {
			interval = s.opts.RetryInterval
		}
		return ocpp16.BootNotificationResponse{Status: status, CurrentTime: now(), Interval: seconds(interval)}, nil
	})
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.HeartbeatRequest) (any, error) {
		s.record(c, req)
		return ocpp16.HeartbeatResponse{CurrentTime: now()}, nil
	})
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.StatusNotificationRequest) (any, error) {
		s.record(c, req)
		return ocpp16.StatusNotificationResponse{}, nil
	})
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.AuthorizeRequest) (any, error) {
		s.record(c, req)
		return ocpp16.AuthorizeResponse{IdTagInfo: ocpp16.IdTagInfo{Status: s.authorize(c.Identity(), req.IdTag)}}, nil
	})
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.StartTransactionRequest) (any, error) {
		s.record(c, req)
		id := s.startTransaction(c.Identity(), req)
		return ocpp16.StartTransactionResponse{TransactionId: id, IdTagInfo: ocpp16.IdTagInfo{Status: s.authorize(c.Identity(), req.IdTag)}}, nil
	})
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.MeterValuesRequest) (any, error) {
		s.record(c, req)
		if req.TransactionId != nil {
			s.mu.Lock()
			if tx := s.txs[*req.TransactionId]; tx != nil {
				tx.MeterValues = append(tx.MeterValues, req.MeterValue...)
			}
			s.mu.Unlock()
		}
		return ocpp16.MeterValuesResponse{}, nil
	})
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.StopTransactionRequest) (any, error) {
		s.record(c, req)
		s.mu.Lock()
		if tx := s.txs[req.TransactionId]; tx != nil && tx.Stopped.IsZero() {
			tx.MeterStop, tx.Stopped, tx.Reason = req.MeterStop, req.Timestamp, req.Reason
		}
		s.mu.Unlock()
		return ocpp16.StopTransactionResponse{IdTagInfo: &ocpp16.IdTagInfo{Status: ocpp16.AuthorizationAccepted}}, nil
	})
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *ocpp16.DataTransferRequest) (any, error) {
		s.record(c, req)
		return ocpp16.DataTransferResponse{Status: ocpp16.DataTransferUnknownVendorID}, nil
	})
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func seconds(d time.Duration) int {
	if s := int(d / time.Second); s > 0 {
		return s
	}
	return 1
}

func (s *Server) authorize(identity, idTag string) ocpp16.AuthorizationStatus {
	if s.opts.Authorize == nil {
		return ocpp16.AuthorizationAccepted
	}
	return s.opts.Authorize(identity, idTag)
}

// startTransaction assigns a transaction id; a repeated StartTransaction
// (same charger, connector, idTag, timestamp and meterStart) gets the same
// id, as a charger retrying after a lost answer expects.
func (s *Server) startTransaction(identity string, req *ocpp16.StartTransactionRequest) int {
	key := fmt.Sprintf("%s|%d|%s|%s|%d", identity, req.ConnectorId, req.IdTag, req.Timestamp.UTC().Format(time.RFC3339Nano), req.MeterStart)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.txKeys[key]; ok {
		return id
	}
	s.nextTx++
	id := s.nextTx
	s.txKeys[key] = id
	s.txs[id] = &Transaction{ID: id, Identity: identity, ConnectorId: req.ConnectorId, IdTag: req.IdTag,
		MeterStart: req.MeterStart, Started: req.Timestamp}
	return id
}

func (s *Server) record(c *ocppj.Conn, req ocpp16.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, Event{Seq: len(s.events) + 1, Identity: c.Identity(), Action: req.Action(), Request: req, At: time.Now()})
	s.notifyLocked()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Events returns what identity has sent so far, oldest first; all
// chargers' events when identity is "".
func (s *Server) Events(identity string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events {
		if identity == "" || e.Identity == identity {
			out = append(out, e)
		}
	}
	return out
}

// Actions returns the actions identity has sent, in order, for compact
// assertions.
func (s *Server) Actions(identity string) []string {
	var out []string
	for _, e := range s.Events(identity) {
		out = append(out, e.Action)
	}
	return out
}

// WaitEvent waits until identity has sent a message for which match
// returns true (looking at past messages too) and returns it.
func (s *Server) WaitEvent(ctx context.Context, identity string, match func(Event) bool) (Event, error) {
	seen := 0
	for {
		s.mu.Lock()
		for ; seen < len(s.events); seen++ {
			if e := s.events[seen]; e.Identity == identity && match(e) {
				s.mu.Unlock()
				return e, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("ocpptest: waiting for a message from %s: %w", identity, ctx.Err())
		}
	}
}

// WaitAction waits for a message of action from identity.
func (s *Server) WaitAction(ctx context.Context, identity, action string) (Event, error) {
	return s.WaitEvent(ctx, identity, func(e Event) bool { return e.Action == action })
}

// WaitStatus waits for a StatusNotification with that status for connector.
func (s *Server) WaitStatus(ctx context.Context, identity string, connector int, status ocpp16.ChargePointStatus) (Event, error) {
	return s.WaitEvent(ctx, identity, func(e Event) bool {
		r, ok := e.Request.(*ocpp16.StatusNotificationRequest)
		return ok && r.ConnectorId == connector && r.Status == status
	})
}

// WaitConnected waits until identity has a connection and returns it.
func (s *Server) WaitConnected(ctx context.Context, identity string) (*ocppj.Conn, error) {
	for {
		s.mu.Lock()
		c, ch := s.conns[identity], s.changed
		s.mu.Unlock()
		if c != nil {
			return c, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("ocpptest: waiting for %s to connect: %w", identity, ctx.Err())
		}
	}
}

// Connects is how many times identity has connected.
func (s *Server) Connects(identity string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects[identity]
}

// Connected is how many chargers are connected now.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Transaction returns a copy of the transaction with that id.
func (s *Server) Transaction(id int) (Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, ok := s.txs[id]
	if !ok {
		return Transaction{}, false
	}
	out := *tx
	out.MeterValues = append([]ocpp16.MeterValue(nil), tx.MeterValues...)
	return out, true
}

// Transactions returns copies of all transactions of identity.
func (s *Server) Transactions(identity string) []Transaction {
	s.mu.Lock()
	ids := make([]int, 0)
	for id, tx := range s.txs {
		if tx.Identity == identity {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	out := make([]Transaction, 0, len(ids))
	for _, id := range ids {
		tx, _ := s.Transaction(id)
		out = append(out, tx)
	}
	return out
}

// ErrNotConnected is returned by Call for a charger without a connection.
var ErrNotConnected = errors.New("ocpptest: charger not connected")

// Call sends a command to a connected charger and returns its validated
// confirmation, e.g.
//
//	resp, err := ocpptest.Call[ocpp16.RemoteStartTransactionResponse](ctx, srv, "CP1", &req)
func Call[Resp any](ctx context.Context, s *Server, identity string, req ocpp16.Request) (*Resp, error) {
	s.mu.Lock()
	c := s.conns[identity]
	s.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotConnected, identity)
	}
	resp, err := ocpp16.Call[Resp](ctx, c, req)
	if err != nil {
		return nil, fmt.Errorf("ocpptest: %s to %s: %w", req.Action(), identity, err)
	}
	return resp, nil
}
