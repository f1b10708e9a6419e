package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// joule is the part of Joule that delivers webhooks: a jobs queue, an
// outbox and the service, on one database, running until stop.
type joule struct {
	db     *store.DB
	q      *jobs.Queue
	outbox *events.Outbox
	svc    *Service
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

// quiet is the logger of tests: attempts may outlive a test by up to their
// timeout, and t.Log after the end of a test panics.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func startJoule(t testing.TB, db *store.DB, opt Options, workers int) *joule {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	j := &joule{db: db, outbox: events.NewOutbox(), reg: prometheus.NewRegistry(), done: make(chan struct{})}
	j.q = jobs.NewQueue(db, jobs.Options{Workers: workers, PollInterval: 10 * time.Millisecond, Lease: time.Second, Logger: quiet})
	j.svc = New(db, j.q, j.outbox, j.reg, opt)
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	go func() { defer close(j.done); _ = j.q.Run(ctx) }()
	t.Cleanup(j.stop)
	return j
}

// stop stops like a process exit: running jobs keep their leases, and
// attempts in flight are abandoned.
func (j *joule) stop() {
	j.cancel()
	<-j.done
	j.svc.Close()
}

func newOrg(t testing.TB, db *store.DB) string {
	t.Helper()
	var id string
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		o, err := org.Create(context.Background(), tx, "Org")
		id = o.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// emit records an event of the given type, as a domain package would.
func (j *joule) emit(t testing.TB, p org.Principal, typ string) string {
	t.Helper()
	id, err := j.emitErr(p, typ)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// emitErr is emit for any goroutine.
func (j *joule) emitErr(p org.Principal, typ string) (string, error) {
	var id string
	err := j.db.InTx(context.Background(), func(tx *store.Tx) error {
		e, err := j.outbox.Emit(context.Background(), tx, p.OrgID, p.TestMode, typ, "user", "u_1", map[string]any{"firstname": "Ada"})
		id = e.ID
		return err
	})
	return id, err
}

func (j *joule) endpoint(t testing.TB, p org.Principal, url string, evs ...string) Endpoint {
	t.Helper()
	if len(evs) == 0 {
		evs = []string{"*"}
	}
	e, err := j.svc.Create(context.Background(), p, EndpointInput{URL: url, EnabledEvents: evs})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// receiver is a webhook receiver on loopback. behave decides each answer
// from the number of requests it has seen (1 for the first).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	n        int
	ids      map[string]int // webhook-id -> requests
	requests []received
	behave   func(w http.ResponseWriter, r *http.Request, n int)
}

type received struct {
	at      time.Time
	header  http.Header
	body    []byte
	outcome int
}

func newReceiver(t testing.TB, behave func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{ids: map[string]int{}, behave: behave}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		if rc.behave != nil {
			rc.behave(sw, r, n)
		}
		rc.mu.Lock()
		rc.requests = append(rc.requests, received{at: time.Now(), header: r.Header.Clone(), body: body, outcome: sw.status})
		if sw.status < 300 && r.Context().Err() == nil {
			rc.ids[r.Header.Get("webhook-id")]++
		}
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// delivered returns the ids of the events acknowledged with 2xx.
func (rc *receiver) delivered() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for id := range rc.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.requests)
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sorted returns a sorted copy.
func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// endpointStatus reads an endpoint's status and reason.
func endpointStatus(t testing.TB, db *store.DB, p org.Principal, epID string) (string, string) {
	t.Helper()
	e, err := Get(context.Background(), db.Q(), p, epID)
	if err != nil {
		t.Fatal(err)
	}
	return e.Status, e.DisabledReason
}

// sleepOrCancel sleeps like a slow receiver, but returns when Joule hangs up.
func sleepOrCancel(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}
