// Package jobs runs durable jobs and timers from a table in the main
// database. A job is enqueued in the same transaction as the change that asks
// for it, claimed by a worker with a lease, retried with backoff when it
// fails, and run again when its worker dies (the lease expires): delivery is
// at-least-once, so handlers are idempotent. Claims use FOR UPDATE SKIP
// LOCKED on PostgreSQL and the database write lock on SQLite, so several
// workers in several processes never run one job at the same time while its
// lease holds.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/store"
)

// Job states.
const (
	StateAvailable = "available"
	StateRunning   = "running"
	StateCompleted = "completed"
	StateDiscarded = "discarded"
)

// Job is a claimed job as its handler sees it.
type Job struct {
	ID          string
	Kind        string
	Payload     json.RawMessage
	Attempt     int // 1 on the first run
	MaxAttempts int
	RunAt       time.Time
	UniqueKey   string
	lockedBy    string
	completed   atomic.Bool // CompleteIn committed: the runner has nothing to record
}

// Decode unmarshals the payload.
func (j *Job) Decode(v any) error {
	if err := json.Unmarshal(j.Payload, v); err != nil {
		return fmt.Errorf("jobs: decode %s payload: %w", j.Kind, err)
	}
	return nil
}

// CompleteIn marks the job completed inside tx, so that a handler's database
// effects and the job's completion commit together (exactly-once for the
// database part). The runner's own completion then finds nothing to do.
func (j *Job) CompleteIn(ctx context.Context, tx *store.Tx) error {
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = $1, finished_at = $2, unique_key = NULL, locked_by = NULL, locked_until = NULL
		WHERE id = $3 AND locked_by = $4`, StateCompleted, store.Now(), j.ID, j.lockedBy)
	if err != nil {
		return fmt.Errorf("jobs: complete %s in tx: %w", j.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		tx.AfterCommit(func() { j.completed.Store(true) })
	}
	return nil
}

// Handler runs a job. A nil error completes it; an error retries it with
// backoff until MaxAttempts; Cancel(err) discards it at once.
type Handler func(ctx context.Context, j *Job) error

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the job is discarded instead of retried.
func Permanent(err error) error { return permanentError{err} }

// RetryAfter asks for the next attempt at a specific delay (for example a
// receiver's Retry-After).
func RetryAfter(err error, d time.Duration) error { return retryAfterError{err, d} }

type retryAfterError struct {
	err error
	d   time.Duration
}

func (e retryAfterError) Error() string { return e.err.Error() }
func (e retryAfterError) Unwrap() error { return e.err }

// New describes a job to enqueue.
type New struct {
	Kind        string
	Payload     any
	RunAt       time.Time // zero: now
	UniqueKey   string    // optional; at most one unfinished job per key
	MaxAttempts int       // zero: 25
}

// Options configure a Queue.
type Options struct {
	Workers      int           // concurrent jobs in this process (default 8)
	Lease        time.Duration // how long a claim holds without renewal (default 30s)
	PollInterval time.Duration // how often to look for due jobs (default 500ms)
	Backoff      func(attempt int) time.Duration
	Logger       *slog.Logger
	Retention    time.Duration // completed/discarded jobs kept this long (default 24h)
}

// Queue enqueues jobs and, once Run is called, runs them.
type Queue struct {
	db       *store.DB
	opt      Options
	handlers map[string]Handler
	wake     chan struct{}
	workerID string
	mu       sync.Mutex
}

// NewQueue returns a queue on db.
func NewQueue(db *store.DB, opt Options) *Queue {
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	if opt.Lease <= 0 {
		opt.Lease = 30 * time.Second
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 500 * time.Millisecond
	}
	if opt.Backoff == nil {
		opt.Backoff = DefaultBackoff
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Retention <= 0 {
		opt.Retention = 24 * time.Hour
	}
	return &Queue{db: db, opt: opt, handlers: map[string]Handler{}, wake: make(chan struct{}, 1), workerID: "w_" + id.New()}
}

// DefaultBackoff grows exponentially from 1 s to 1 h, with ±20 % jitter so
// that failed jobs do not retry in lockstep.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 12)
	if d > time.Hour {
		d = time.Hour
	}
	j := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * j)
}

// Handle registers the handler for a kind. Call before Run.
func (q *Queue) Handle(kind string, h Handler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handlers[kind] = h
}

// Enqueue adds a job in tx. With a UniqueKey, a second Enqueue while the first
// job is unfinished does nothing and returns false.
func (q *Queue) Enqueue(ctx context.Context, tx *store.Tx, n New) (bool, error) {
	payload, err := json.Marshal(n.Payload)
	if err != nil {
		return false, fmt.Errorf("jobs: marshal %s payload: %w", n.Kind, err)
	}
	now := store.Now()
	runAt := now
	if !n.RunAt.IsZero() {
		runAt = store.UTC(n.RunAt)
	}
	if n.MaxAttempts <= 0 {
		n.MaxAttempts = 25
	}
	var uk any
	if n.UniqueKey != "" {
		uk = n.UniqueKey
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, kind, payload, state, unique_key, max_attempts, run_at, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (unique_key) DO NOTHING`,
		id.New(), n.Kind, string(payload), StateAvailable, uk, n.MaxAttempts, runAt, now)
	if err != nil {
		return false, fmt.Errorf("jobs: enqueue %s: %w", n.Kind, err)
	}
	added, _ := res.RowsAffected()
	if added > 0 && !runAt.After(now) {
		tx.AfterCommit(q.Notify)
	}
	return added > 0, nil
}

// Schedule sets a timer: it enqueues the job, or moves an unfinished job with
// the same UniqueKey (required) to the new time and payload.
func (q *Queue) Schedule(ctx context.Context, tx *store.Tx, n New) error {
	if n.UniqueKey == "" {
		return errors.New("jobs: Schedule needs a UniqueKey")
	}
	added, err := q.Enqueue(ctx, tx, n)
	if err != nil || added {
		return err
	}
	payload, _ := json.Marshal(n.Payload)
	runAt := store.Now()
	if !n.RunAt.IsZero() {
		runAt = store.UTC(n.RunAt)
	}
	_, err = tx.ExecContext(ctx, `UPDATE jobs SET run_at = $1, payload = $2, state = $3, attempts = 0, locked_by = NULL, locked_until = NULL
		WHERE unique_key = $4 AND state = $5`, runAt, string(payload), StateAvailable, n.UniqueKey, StateAvailable)
	if err != nil {
		return fmt.Errorf("jobs: reschedule %s: %w", n.UniqueKey, err)
	}
	return nil
}

// Cancel removes the unfinished, not running job with the given key; it
// reports whether one was removed.
func (q *Queue) Cancel(ctx context.Context, tx *store.Tx, uniqueKey string) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE unique_key = $1 AND state = $2`, uniqueKey, StateAvailable)
	if err != nil {
		return false, fmt.Errorf("jobs: cancel %s: %w", uniqueKey, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Notify wakes the runner to look for due jobs now.
func (q *Queue) Notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs jobs until ctx is done, then waits for running jobs
// (their contexts are cancelled; an unfinished job is retried by whoever
// claims it after its lease).
func (q *Queue) Run(ctx context.Context) error {
	sem := make(chan struct{}, q.opt.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(q.opt.PollInterval)
	defer ticker.Stop()
	lastPrune := time.Time{}
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		free := q.opt.Workers - len(sem)
		if free > 0 && len(sem) > 0 && free < max(q.opt.Workers/4, 1) {
			// Most workers are busy (the queue is loaded): let a few more
			// finish, for up to claimLinger, and claim for all of them at
			// once. A claim is a write; one per job would cost as much as
			// the jobs' own writes.
			linger.Reset(claimLinger)
			select {
			case <-ctx.Done():
				return nil
			case <-linger.C:
			}
			free = q.opt.Workers - len(sem)
		}
		if free > 0 {
			jobs, err := q.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				q.opt.Logger.Error("jobs: claim", "err", err)
			}
			for _, j := range jobs {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done(); q.Notify() }()
					q.run(ctx, j)
				}()
			}
			if len(jobs) == free {
				continue // more may be due
			}
		}
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if err := q.prune(ctx); err != nil && ctx.Err() == nil {
				q.opt.Logger.Warn("jobs: prune", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-q.wake:
		case <-ticker.C:
		}
	}
}

// claimLinger is how long a loaded queue waits to claim for several free
// workers at once.
const claimLinger = 2 * time.Millisecond

// claim takes up to n due jobs: running ones whose lease expired (their
// worker died), then available ones whose time has come, oldest first.
// Two statements rather than one with an OR: each walks its own range of
// the (state, run_at) index in order and stops at its limit, so a claim
// costs the same with a backlog of a hundred thousand due jobs as with one.
func (q *Queue) claim(ctx context.Context, n int) ([]*Job, error) {
	kinds := q.kinds()
	if len(kinds) == 0 {
		return nil, nil
	}
	now := store.Now()
	var out []*Job
	err := q.db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
		out = out[:0]
		if err := q.claimWhere(ctx, tx, `state = $3 AND locked_until < $4`, StateRunning, now, n, kinds, &out); err != nil {
			return err
		}
		if rest := n - len(out); rest > 0 {
			return q.claimWhere(ctx, tx, `state = $3 AND run_at <= $4`, StateAvailable, now, rest, kinds, &out)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: claim: %w", err)
	}
	return out, nil
}

// claimWhere claims up to n jobs matching cond (over $3 state and $4 now).
func (q *Queue) claimWhere(ctx context.Context, tx *store.Tx, cond, state string, now time.Time, n int, kinds []string, out *[]*Job) error {
	args := []any{q.workerID, now.Add(q.opt.Lease), state, now, n, StateRunning}
	ph := make([]string, len(kinds))
	for i, k := range kinds {
		args = append(args, k)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	rows, err := tx.QueryContext(ctx, `UPDATE jobs SET state = $6, locked_by = $1, locked_until = $2, attempts = attempts + 1
		WHERE id IN (SELECT id FROM jobs WHERE `+cond+` AND kind IN (`+strings.Join(ph, ",")+`)
			ORDER BY run_at LIMIT $5`+q.db.SkipLocked()+`)
		RETURNING id, kind, payload, attempts, max_attempts, run_at, unique_key`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		j := &Job{lockedBy: q.workerID}
		var payload string
		var uk sql.NullString
		if err := rows.Scan(&j.ID, &j.Kind, &payload, &j.Attempt, &j.MaxAttempts, &j.RunAt, &uk); err != nil {
			return err
		}
		j.Payload, j.UniqueKey = json.RawMessage(payload), uk.String
		*out = append(*out, j)
	}
	return rows.Err()
}

func (q *Queue) kinds() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	ks := make([]string, 0, len(q.handlers))
	for k := range q.handlers {
		ks = append(ks, k)
	}
	slices.Sort(ks) // the same query text each time, so it stays prepared
	return ks
}

func (q *Queue) run(ctx context.Context, j *Job) {
	q.mu.Lock()
	h := q.handlers[j.Kind]
	q.mu.Unlock()
	log := q.opt.Logger.With("job", j.ID, "kind", j.Kind, "attempt", j.Attempt)
	if j.Attempt > j.MaxAttempts {
		q.finish(ctx, j, fmt.Errorf("gave up after %d attempts (its worker died while running it)", j.MaxAttempts), log)
		return
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go q.keepLease(jctx, cancel, j, log)
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return h(jctx, j)
	}()
	if ctx.Err() != nil && err != nil {
		return // shutting down: the lease expires and the job is retried
	}
	q.finish(ctx, j, err, log)
}

// keepLease renews the claim while the handler runs; if the job was taken
// away (the lease lapsed and another worker claimed it), the handler's
// context is cancelled.
func (q *Queue) keepLease(ctx context.Context, cancel func(), j *Job, log *slog.Logger) {
	t := time.NewTicker(q.opt.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var lost bool
		err := q.db.InTx(ctx, func(tx *store.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND state = $4`,
				store.Now().Add(q.opt.Lease), j.ID, q.workerID, StateRunning)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			lost = n == 0
			return nil
		})
		if err != nil && ctx.Err() == nil {
			log.Warn("jobs: renew lease", "err", err)
		}
		if lost {
			log.Warn("jobs: lease lost; stopping handler")
			cancel()
			return
		}
	}
}

func (q *Queue) finish(ctx context.Context, j *Job, runErr error, log *slog.Logger) {
	now := store.Now()
	// Use a context that survives shutdown so a finished job is recorded.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	switch {
	case runErr == nil && j.completed.Load():
		// The handler completed the job with its own writes.
	case runErr == nil:
		err = q.db.Batch(fctx, func(ctx context.Context, tx *store.Tx) error { return j.CompleteIn(ctx, tx) })
	default:
		var pe permanentError
		state := StateAvailable
		if errors.As(runErr, &pe) || j.Attempt >= j.MaxAttempts {
			state = StateDiscarded
			log.Error("jobs: discarded", "err", runErr)
		} else {
			log.Warn("jobs: failed; will retry", "err", runErr)
		}
		delay := q.opt.Backoff(j.Attempt)
		var ra retryAfterError
		if errors.As(runErr, &ra) {
			delay = ra.d
		}
		msg := runErr.Error()
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		var finished any
		var uk any = nullIfEmpty(j.UniqueKey)
		if state == StateDiscarded {
			finished, uk = now, nil
		}
		err = q.db.Batch(fctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = $1, run_at = $2, last_error = $3, locked_by = NULL, locked_until = NULL,
				finished_at = $4, unique_key = $5 WHERE id = $6 AND locked_by = $7`,
				state, now.Add(delay), msg, finished, uk, j.ID, q.workerID)
			return err
		})
	}
	if err != nil {
		log.Error("jobs: record result", "err", err)
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (q *Queue) prune(ctx context.Context) error {
	return q.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE state IN ($1,$2) AND finished_at < $3`,
			StateCompleted, StateDiscarded, store.Now().Add(-q.opt.Retention))
		return err
	})
}

// Stats counts jobs by state (for metrics and tests).
func Stats(ctx context.Context, q store.Querier) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT state, count(*) FROM jobs GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("jobs: stats: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
