// Package webhook delivers events to the HTTP endpoints that apps register:
// per-organization and per-mode endpoints with Standard Webhooks signatures,
// at-least-once delivery from the transactional outbox, retries on a fixed
// schedule, a delivery log, and an SSRF guard for live mode.
//
// How a delivery flows:
//
//  1. events.Outbox.Emit runs the fan-out hook inside the emitting
//     transaction. For each enabled endpoint of the event's organization and
//     mode subscribed to its type, the hook inserts a webhook_deliveries row
//     and a webhook.deliver job. The event and its deliveries commit
//     together, so a crash can lose neither.
//  2. A worker of the shared jobs queue claims the job. It never spends long
//     on it: if the endpoint already has MaxInFlightPerEndpoint attempts in
//     flight in this process, the job goes back to the table (jobs.RetryAfter,
//     due when a slot should be free given the endpoint's latency and the
//     deliveries already waiting), unless a fast endpoint frees a slot
//     within maxSlotWait. Otherwise the HTTP attempt starts in a goroutine of
//     this package's dispatcher, and the worker waits for it a few times the
//     endpoint's usual latency, at most holdWorker. A slower attempt is left
//     running on its own and the job is parked until the attempt's deadline;
//     when the attempt ends, it records its outcome and moves the job to the
//     next attempt time (or removes it). So a slow receiver holds dispatcher
//     goroutines, never the shared workers that run session timers and
//     payments.
//  3. The attempt's outcome is recorded in one transaction: the delivery log
//     row, the delivery's state and next attempt time, and the endpoint's
//     failure history (which may disable it and emit
//     webhook_endpoint.disabled through the outbox).
//
// A delivery whose attempt was running when the process died is attempted
// again when its job's lease or parking time runs out; the receiver sees the
// same webhook-id and de-duplicates it.
package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/store"
)

// Job kinds.
const (
	kindDeliver = "webhook.deliver"
	kindPrune   = "webhook.prune"
	pruneKey    = "webhook.prune"
)

// Tunables that are policy rather than configuration (documented in
// docs/webhooks.md).
const (
	// FailureWindow is the sustained-failure rule: an endpoint whose every
	// attempt has failed for this long is disabled.
	FailureWindow = 5 * 24 * time.Hour
	// MaxRetryAfter bounds a receiver's Retry-After.
	MaxRetryAfter = 24 * time.Hour
	// holdWorker is the most a shared job worker waits for an attempt before
	// leaving it to run on its own (see dispatcher.hold).
	holdWorker = 250 * time.Millisecond
	// recordGrace is added to a parked job's time so that an attempt that ran
	// to its deadline has time to record its outcome (milliseconds, unless
	// the database stalls) before the job runs again.
	recordGrace = 5 * time.Second
	// maxInFlightTotal bounds the attempts (connections) of one process.
	maxInFlightTotal = 512
	// retention is how long the delivery log and finished deliveries are kept.
	retention  = 30 * 24 * time.Hour
	pruneEvery = time.Hour
)

// DefaultSchedule is the delay before each attempt, the first counted from
// the event: 8 attempts over about 28 hours. Delays get ±15 % jitter.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Options configure a Service.
type Options struct {
	// AllowPrivate lets live-mode endpoints reach loopback, private,
	// link-local and other non-public addresses (an operator's choice, for
	// receivers inside their own network).
	AllowPrivate bool
	// Timeout bounds one attempt: connect, send, and the receiver's answer
	// (default 15 s).
	Timeout time.Duration
	// Schedule replaces DefaultSchedule (tests). Its length is the number of
	// attempts.
	Schedule []time.Duration
	// MaxInFlightPerEndpoint bounds concurrent attempts to one endpoint from
	// this process (default 4).
	MaxInFlightPerEndpoint int
	// Client replaces the HTTP client of both modes (tests). Joule still
	// refuses to follow redirects; the SSRF guard is then the client's
	// business.
	Client *http.Client
	Logger *slog.Logger
	// Drive renders events for endpoints of format drive in the Drive API's
	// own form (internal/driveapi provides it; this package cannot import
	// it). Without it, drive endpoints get the platform envelope.
	Drive DriveFormat
}

// DriveFormat is the Drive API's event format (spec 003: {event, payload}).
type DriveFormat struct {
	// Name is the Drive event (SESSION_STARTED, ...) a platform event stands
	// for, or "" when it has none. It runs for every event and must be pure.
	// A platform endpoint subscribed to a Drive name receives the platform
	// events it stands for, in the platform envelope.
	Name func(e events.Event) string
	// Body renders an event for a drive endpoint: its Drive name and body,
	// or name "" when the event is not for drive endpoints (it has no Drive
	// form, or concerns a user the app does not know). It runs in the
	// emitting transaction at fan-out and again for every attempt, and must
	// render the same body each time.
	Body func(ctx context.Context, q store.Querier, e events.Event) (name string, body []byte, err error)
}

// Service manages endpoints and delivers events to them.
type Service struct {
	db       *store.DB
	q        *jobs.Queue
	outbox   *events.Outbox
	opt      Options
	log      *slog.Logger
	live     *http.Client // live mode: the SSRF guard checks every connection
	test     *http.Client // test mode, which may reach loopback receivers
	resolver *net.Resolver
	disp     *dispatcher
	metrics  *metrics
	// pruneScheduled is set once this process has made sure the prune job
	// exists.
	pruneScheduled atomic.Bool

	// Attempts run under base, cancelled by Close; running counts them.
	base    context.Context
	stop    context.CancelFunc
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
}

// New builds the service, adds its fan-out hook to the outbox and its job
// handlers to the queue, and registers its metrics on reg (nil: not
// exported).
func New(db *store.DB, q *jobs.Queue, outbox *events.Outbox, reg prometheus.Registerer, opt Options) *Service {
	if opt.Timeout <= 0 {
		opt.Timeout = 15 * time.Second
	}
	if len(opt.Schedule) == 0 {
		opt.Schedule = DefaultSchedule
	}
	if opt.MaxInFlightPerEndpoint <= 0 {
		opt.MaxInFlightPerEndpoint = 4
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Service{db: db, q: q, outbox: outbox, opt: opt, log: opt.Logger, resolver: net.DefaultResolver,
		disp: newDispatcher(opt.MaxInFlightPerEndpoint, maxInFlightTotal)}
	s.base, s.stop = context.WithCancel(context.Background())
	if opt.Client != nil {
		c := *opt.Client
		c.CheckRedirect = noRedirects
		s.live, s.test = &c, &c
	} else {
		s.live = newClient(!opt.AllowPrivate, opt.MaxInFlightPerEndpoint)
		s.test = newClient(false, opt.MaxInFlightPerEndpoint)
	}
	s.metrics = newMetrics(reg, s.backlog)
	outbox.OnEmit(s.fanOut)
	q.Handle(kindDeliver, s.handle)
	q.Handle(kindPrune, s.prune)
	return s
}

// Close aborts the attempts in flight and waits for them; call it after the
// jobs queue has stopped and before the database closes. Aborted attempts
// record nothing and are made again: their parked jobs are made due at
// once, and jobs still leased come back when the lease lapses.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.running.Wait()
}

// begin counts a new attempt, unless the service is closed.
func (s *Service) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.running.Add(1)
	return true
}

// noRedirects makes the client return a 3xx as the answer: a redirect could
// lead to an address the SSRF guard would refuse, and a receiver that moved
// should have its URL updated.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func newClient(guard bool, perHost int) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if guard {
		d.Control = guardControl
	}
	return &http.Client{
		CheckRedirect: noRedirects,
		Transport: &http.Transport{
			// No proxy from the environment: the guard must see the receiver's
			// address, not a proxy's.
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   perHost,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
}

type metrics struct {
	results  *prometheus.CounterVec
	duration prometheus.Histogram
}

// Attempt results (the result label of joule_webhook_deliveries_total).
const (
	resultSuccess = "success" // 2xx
	resultFailure = "failure" // any other status
	resultTimeout = "timeout" // no answer within Timeout
	resultError   = "error"   // connection or protocol error
	resultRefused = "refused" // the SSRF guard refused the address
)

func newMetrics(reg prometheus.Registerer, backlog func() float64) *metrics {
	m := &metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "joule_webhook_deliveries_total", Help: "Webhook delivery attempts by result (success, failure, timeout, error, refused).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "joule_webhook_delivery_duration_seconds", Help: "Duration of webhook delivery attempts, until the receiver's answer or the timeout.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}),
	}
	for _, r := range []string{resultSuccess, resultFailure, resultTimeout, resultError, resultRefused} {
		m.results.WithLabelValues(r) // export zeroes, so rates work from the start
	}
	reg.MustRegister(m.results, m.duration, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "joule_webhook_backlog", Help: "Pending webhook deliveries (waiting for their first attempt or a retry).",
	}, backlog))
	return m
}

// backlog counts pending deliveries when Prometheus scrapes.
func (s *Service) backlog() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int64
	if err := s.db.Q().QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'`).Scan(&n); err != nil {
		s.log.Warn("webhook: count backlog", "err", err)
		return math.NaN()
	}
	return float64(n)
}

// subscriber is an enabled endpoint as subscribers needs it.
type subscriber struct {
	id, format string
	enabled    []string
}

// subscribersKey memoizes an organization's enabled endpoints in a
// transaction; every write to webhook_endpoints forgets it (forgetEndpoints).
type subscribersKey struct {
	org      string
	testMode bool
}

func forgetEndpoints(tx *store.Tx, org string, testMode bool) {
	tx.Forget(subscribersKey{org, testMode})
}

// enabledEndpoints reads the enabled endpoints of an organization and mode.
func enabledEndpoints(ctx context.Context, q store.Querier, org string, testMode bool) ([]subscriber, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, enabled_events, format FROM webhook_endpoints WHERE org_id = $1 AND test_mode = $2 AND status = $3
		ORDER BY id`, org, testMode, StatusEnabled)
	if err != nil {
		return nil, fmt.Errorf("webhook: subscribers: %w", err)
	}
	defer rows.Close()
	var eps []subscriber
	for rows.Next() {
		var ep subscriber
		var raw string
		if err := rows.Scan(&ep.id, &raw, &ep.format); err != nil {
			return nil, fmt.Errorf("webhook: subscribers: %w", err)
		}
		if err := store.FromJSON(raw, &ep.enabled); err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: subscribers: %w", err)
	}
	return eps, nil
}

// fanOut is the outbox hook: it runs inside the emitting transaction.
func (s *Service) fanOut(ctx context.Context, tx *store.Tx, e events.Event) error {
	eps, err := s.subscribers(ctx, tx, e)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if _, err := s.enqueue(ctx, tx, e.OrgID, e.TestMode, ep, e.ID); err != nil {
			return err
		}
	}
	return nil
}

// subscribers lists the enabled endpoints of the event's organization and
// mode subscribed to it. Both filters are in the query: an event can never
// reach another tenant's or the other mode's endpoint. A drive endpoint
// receives only events with a Drive form, when subscribed to the Drive name
// or to the platform type.
func (s *Service) subscribers(ctx context.Context, q store.Querier, e events.Event) ([]string, error) {
	var eps []subscriber
	var err error
	if tx, ok := q.(*store.Tx); ok {
		// A transaction emits many events (a group commit holds many
		// writes): the endpoints are read once per organization and mode.
		var v any
		v, err = tx.Memo(subscribersKey{e.OrgID, e.TestMode}, func() (any, error) { return enabledEndpoints(ctx, q, e.OrgID, e.TestMode) })
		eps, _ = v.([]subscriber)
	} else {
		eps, err = enabledEndpoints(ctx, q, e.OrgID, e.TestMode)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	var driveName, forDrive string
	var named, rendered bool
	for _, ep := range eps {
		if ep.format == FormatDrive && s.opt.Drive.Body != nil {
			if !rendered {
				if forDrive, _, err = s.opt.Drive.Body(ctx, q, e); err != nil {
					return nil, fmt.Errorf("webhook: drive format of %s: %w", e.ID, err)
				}
				rendered = true
			}
			if forDrive != "" && (subscribed(ep.enabled, forDrive) || subscribed(ep.enabled, e.Type)) {
				out = append(out, ep.id)
			}
			continue
		}
		if subscribed(ep.enabled, e.Type) {
			out = append(out, ep.id)
			continue
		}
		if !named && s.opt.Drive.Name != nil {
			driveName, named = s.opt.Drive.Name(e), true
		}
		if driveName != "" && subscribed(ep.enabled, driveName) {
			out = append(out, ep.id)
		}
	}
	return out, nil
}

// payload is a webhook.deliver job's. The endpoint is in it so that a job
// for a busy endpoint is put back without a database read.
type payload struct {
	Delivery string `json:"delivery"`
	Endpoint string `json:"endpoint"`
}

func deliveryKey(deliveryID string) string { return "webhook.delivery:" + deliveryID }

// deliverJob describes the job that drives a delivery. Its attempts are
// counted by the delivery, not by the jobs table (which also counts the
// times a busy endpoint put it back), so the job itself never gives up.
func deliverJob(deliveryID, endpointID string, runAt time.Time) jobs.New {
	return jobs.New{Kind: kindDeliver, Payload: payload{Delivery: deliveryID, Endpoint: endpointID}, RunAt: runAt,
		UniqueKey: deliveryKey(deliveryID), MaxAttempts: math.MaxInt32}
}

// enqueue creates a delivery of an event to an endpoint, and its job, in tx.
func (s *Service) enqueue(ctx context.Context, tx *store.Tx, orgID string, testMode bool, endpointID, eventID string) (string, error) {
	now := store.Now()
	first := now.Add(s.opt.Schedule[0])
	did := id.New()
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, org_id, test_mode, endpoint_id, event_id, state, attempts, next_attempt_at,
		created_at, updated_at) VALUES ($1,$2,$3,$4,$5,'pending',0,$6,$7,$7)`, did, orgID, testMode, endpointID, eventID, first, now)
	if err != nil {
		return "", fmt.Errorf("webhook: insert delivery: %w", err)
	}
	if _, err := s.q.Enqueue(ctx, tx, deliverJob(did, endpointID, first)); err != nil {
		return "", err
	}
	if !s.pruneScheduled.Load() {
		if _, err := s.q.Enqueue(ctx, tx, jobs.New{Kind: kindPrune, UniqueKey: pruneKey, RunAt: now.Add(pruneEvery)}); err != nil {
			return "", err
		}
		tx.AfterCommit(func() { s.pruneScheduled.Store(true) })
	}
	return did, nil
}

// prune deletes the delivery log and finished deliveries older than the
// retention, in batches so that SQLite's write lock is held briefly, then
// schedules its next run.
func (s *Service) prune(ctx context.Context, j *jobs.Job) error {
	cutoff := store.Now().Add(-retention)
	for _, del := range []string{
		`DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE created_at < $1 LIMIT 5000)`,
		`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE updated_at < $1 AND state <> 'pending' LIMIT 5000)`,
	} {
		for {
			var n int64
			err := s.db.InTx(ctx, func(tx *store.Tx) error {
				res, err := tx.ExecContext(ctx, del, cutoff)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return fmt.Errorf("webhook: prune: %w", err)
			}
			if n < 5000 {
				break
			}
		}
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := j.CompleteIn(ctx, tx); err != nil {
			return err
		}
		_, err := s.q.Enqueue(ctx, tx, jobs.New{Kind: kindPrune, UniqueKey: pruneKey, RunAt: store.Now().Add(pruneEvery)})
		return err
	})
}
