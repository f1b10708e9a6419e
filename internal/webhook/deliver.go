package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Delivery states.
const (
	statePending   = "pending"
	stateSucceeded = "succeeded"
	stateFailed    = "failed"
	stateCanceled  = "canceled"
)

// infraRetry is when a job comes back after the database failed it (its
// attempt count is meaningless for backoff: busy endpoints inflate it).
const infraRetry = 5 * time.Second

// errClosed refuses work once Close has been called.
var errClosed = errors.New("webhook: service closed")

// errStale means the delivery changed under an attempt (another process
// recorded it, or the endpoint was deleted): the job looks again.
var errStale = errors.New("webhook: delivery changed during the attempt")

// target is everything an attempt needs.
type target struct {
	delivery, endpoint, orgID string
	testMode                  bool
	attempts                  int // made before this one
	eventID, eventType        string
	url                       string
	secrets                   []string // the current one first
	body                      []byte
}

// envelope is the body of a platform-format delivery (DESIGN §7).
type envelope struct {
	ID        string          `json:"_id"`
	Type      string          `json:"type"`
	Object    string          `json:"object"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"createdAt"`
	TestMode  bool            `json:"test_mode"`
}

// handle runs a webhook.deliver job (see the package comment).
func (s *Service) handle(ctx context.Context, j *jobs.Job) error {
	var p payload
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	if f := s.disp.flight(p.Delivery); f != nil { // the job came back while its attempt still runs
		f.attach(j)
		return s.await(ctx, f, s.disp.hold(p.Endpoint))
	}
	if !s.begin() {
		return jobs.RetryAfter(errClosed, infraRetry)
	}
	defer s.running.Done() // the attempt counts itself below
	if !s.disp.acquire(ctx, p.Endpoint, p.Delivery) {
		return jobs.RetryAfter(fmt.Errorf("webhook: no free slot for endpoint %s; delivery %s waits", p.Endpoint, p.Delivery),
			s.disp.busyDelay(p.Endpoint, p.Delivery))
	}
	t, wait, err := s.load(ctx, p.Delivery)
	switch {
	case err != nil:
		s.disp.release(p.Endpoint)
		return jobs.RetryAfter(err, infraRetry)
	case t == nil:
		s.disp.release(p.Endpoint)
		return nil
	case wait > 0:
		s.disp.release(p.Endpoint)
		return jobs.RetryAfter(fmt.Errorf("webhook: delivery %s: next attempt not due yet", p.Delivery), wait)
	}
	hold := s.disp.hold(p.Endpoint)
	f := s.disp.start(p.Delivery, p.Endpoint, s.opt.Timeout, j)
	s.running.Add(1) // within begin's count, so never racing Close's Wait
	go s.run(f, t)
	return s.await(ctx, f, hold)
}

// await waits for an attempt's outcome for at most hold, so that a slow
// receiver never holds a shared job worker for long.
func (s *Service) await(ctx context.Context, f *flight, hold time.Duration) error {
	timer := time.NewTimer(hold)
	defer timer.Stop()
	select {
	case <-f.done:
		return f.verdict()
	case <-timer.C:
	case <-ctx.Done():
	}
	if f.detach() {
		if err := ctx.Err(); err != nil {
			return err // shutting down: the job's lease brings it back
		}
		// Parked until the attempt's deadline; the attempt wakes it sooner.
		return jobs.RetryAfter(fmt.Errorf("webhook: delivery %s: slow endpoint %s; the attempt continues without a job worker",
			f.delivery, f.endpoint), time.Until(f.deadline)+recordGrace)
	}
	select { // the exchange is over: recording its outcome takes a moment
	case <-f.done:
		return f.verdict()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// verdict is the job's result once the attempt's outcome is recorded.
func (f *flight) verdict() error {
	if f.final {
		return nil
	}
	return jobs.RetryAfter(f.err, max(time.Until(f.next), 0))
}

// load reads what an attempt needs. It returns nil when there is nothing to
// do (the delivery is resolved, or its endpoint is gone or disabled), and a
// wait when the next attempt is not due (the job ran early).
func (s *Service) load(ctx context.Context, deliveryID string) (*target, time.Duration, error) {
	t := &target{delivery: deliveryID}
	var state, status, secret, format, objectType, objectID, data string
	var next, oldExp sql.NullTime
	var old sql.NullString
	var created time.Time
	err := s.db.Q().QueryRowContext(ctx, `SELECT d.org_id, d.test_mode, d.endpoint_id, d.state, d.attempts, d.next_attempt_at,
		e.url, e.status, e.secret, e.old_secret, e.old_secret_expires_at, e.format, v.id, v.type, v.object_type, v.object_id, v.data, v.created_at
		FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events v ON v.id = d.event_id
		WHERE d.id = $1`, deliveryID).Scan(&t.orgID, &t.testMode, &t.endpoint, &state, &t.attempts, &next,
		&t.url, &status, &secret, &old, &oldExp, &format, &t.eventID, &t.eventType, &objectType, &objectID, &data, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, 0, nil // the endpoint was deleted with its deliveries
	case err != nil:
		return nil, 0, fmt.Errorf("webhook: load delivery %s: %w", deliveryID, err)
	case state != statePending:
		return nil, 0, nil
	case status != StatusEnabled:
		return nil, 0, s.cancel(ctx, deliveryID)
	}
	if next.Valid {
		if wait := time.Until(next.Time); wait > 0 {
			return nil, wait, nil
		}
	}
	t.secrets = []string{secret}
	if old.Valid && oldExp.Valid && oldExp.Time.After(time.Now()) {
		t.secrets = append(t.secrets, old.String)
	}
	if format == FormatDrive && s.opt.Drive.Body != nil {
		// The Drive API's form ({event, payload}), signed like any body.
		name, body, err := s.opt.Drive.Body(ctx, s.db.Q(), events.Event{ID: t.eventID, OrgID: t.orgID, TestMode: t.testMode, Type: t.eventType,
			ObjectType: objectType, ObjectID: objectID, Data: json.RawMessage(data), CreatedAt: created.UTC()})
		if err != nil {
			return nil, 0, fmt.Errorf("webhook: drive format of event %s: %w", t.eventID, err)
		}
		if name == "" { // e.g. a redelivery of an event with no Drive form
			return nil, 0, s.cancel(ctx, deliveryID)
		}
		t.body = body
		return t, 0, nil
	}
	t.body, err = json.Marshal(envelope{ID: t.eventID, Type: t.eventType, Object: objectType, Data: json.RawMessage(data),
		CreatedAt: created.UTC(), TestMode: t.testMode})
	if err != nil {
		return nil, 0, fmt.Errorf("webhook: envelope of event %s: %w", t.eventID, err)
	}
	return t, 0, nil
}

// cancel resolves a delivery whose endpoint is disabled: a disabled
// endpoint receives nothing, including retries already scheduled.
func (s *Service) cancel(ctx context.Context, deliveryID string) error {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $1, next_attempt_at = NULL, updated_at = $2 WHERE id = $3 AND state = $4`,
			stateCanceled, store.Now(), deliveryID, statePending)
		return err
	})
	if err != nil {
		return fmt.Errorf("webhook: cancel delivery %s: %w", deliveryID, err)
	}
	return nil
}

// result is the outcome of one HTTP attempt.
type result struct {
	ok         bool
	status     int // 0: no answer
	took       time.Duration
	retryAfter time.Duration
	hasRetry   bool // the receiver sent a usable Retry-After
	kind       string
	err        string // for the delivery log
}

// run makes one attempt, frees its slot, records the outcome and wakes
// whoever waits for it.
func (s *Service) run(f *flight, t *target) {
	defer s.running.Done()
	r := s.attempt(t, f.deadline)
	wake, job := f.exchanged()
	s.disp.exchangeOver(f, r.took)
	if s.base.Err() != nil { // Close aborted the attempt: it records nothing
		f.next, f.err = time.Now(), errClosed
		if wake { // make the parked job due now, for the next process to take
			s.requeue(t)
		}
		s.disp.finish(f)
		return
	}
	s.metrics.results.WithLabelValues(r.kind).Inc()
	s.metrics.duration.Observe(r.took.Seconds())
	s.record(f, t, r, wake, job)
	s.disp.finish(f)
}

// requeue makes a delivery's parked job due at once.
func (s *Service) requeue(t *target) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.q.Schedule(ctx, tx, deliverJob(t.delivery, t.endpoint, time.Now()))
	})
	if err != nil {
		s.log.Warn("webhook: requeue an abandoned attempt; it runs after its parking time", "delivery", t.delivery, "err", err)
	}
}

// attempt POSTs the event, signed, and reads the answer.
func (s *Service) attempt(t *target, deadline time.Time) result {
	ctx, cancel := context.WithDeadline(s.base, deadline)
	defer cancel()
	start := time.Now()
	sig, err := signature(t.secrets, t.eventID, start.Unix(), t.body)
	if err != nil {
		return result{kind: resultError, err: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return result{kind: resultError, err: "cannot build the request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Joule-Webhooks/1")
	req.Header.Set("webhook-id", t.eventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	client := s.live
	if t.testMode {
		client = s.test
	}
	resp, err := client.Do(req)
	if err != nil {
		r := result{took: time.Since(start)}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, which the log already knows
		}
		switch {
		case errors.Is(err, errPolicy):
			r.kind, r.err = resultRefused, err.Error()
		case ctx.Err() != nil:
			r.kind, r.err = resultTimeout, fmt.Sprintf("no answer within %s", s.opt.Timeout)
		default:
			r.kind, r.err = resultError, err.Error()
		}
		return r
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	r := result{status: resp.StatusCode, took: time.Since(start)}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.ok, r.kind = true, resultSuccess
		return r
	}
	r.kind = resultFailure
	r.err = "HTTP " + strconv.Itoa(resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		r.err += " (redirects are not followed; update the endpoint's URL)"
	}
	if x := printable(excerpt); x != "" {
		r.err += ": " + x
	}
	r.retryAfter, r.hasRetry = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return r
}

// signature is the webhook-signature header of Standard Webhooks: "v1," and
// the base64 HMAC-SHA256, with the base64-decoded secret, of
// "{id}.{timestamp}.{body}"; one per secret, separated by spaces.
func signature(secrets []string, msgID string, ts int64, body []byte) (string, error) {
	var b strings.Builder
	for i, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return "", fmt.Errorf("webhook: stored secret is not base64: %w", err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msgID))
		mac.Write([]byte{'.'})
		mac.Write(strconv.AppendInt(nil, ts, 10))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return b.String(), nil
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date, bounded to
// [0, MaxRetryAfter].
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}

// printable keeps a response excerpt fit for the delivery log: valid UTF-8,
// no control characters, trimmed.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), ""))
	return strings.TrimSpace(s)
}

// truncate bounds the delivery log's error text, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// jitter spreads a schedule delay by ±15 % so that the retries of many
// deliveries that failed together (a receiver's outage) do not arrive
// together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.85 + 0.3*rand.Float64()))
}

// record writes an attempt's outcome in one transaction: the endpoint's
// failure history (which may disable it), the delivery's state and next
// attempt, and the delivery log row. When no worker waits for the outcome
// (wake), it also moves the delivery's job to the next attempt, or removes
// it; when one does and the delivery is resolved, it completes the worker's
// job. It leaves the outcome in f for the waiting worker. The transaction
// is the database's group commit (store.DB.Batch), shared with other
// attempts' outcomes: at a few thousand deliveries a second, one
// transaction per delivery is what would limit them.
func (s *Service) record(f *flight, t *target, r result, wake bool, job *jobs.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := t.attempts + 1
	var disabled, state string
	var next time.Time
	err := s.db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
		now := store.Now()
		disabled, state, next = "", statePending, time.Time{}
		// The endpoint row first: Delete locks the endpoint, then deliveries.
		if r.ok {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`,
				t.endpoint); err != nil {
				return fmt.Errorf("clear failure history: %w", err)
			}
		} else {
			var since time.Time
			var status string
			err := tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) WHERE id = $2
				RETURNING failing_since, status`, now, t.endpoint).Scan(&since, &status)
			if errors.Is(err, sql.ErrNoRows) {
				return errStale
			}
			if err != nil {
				return fmt.Errorf("note failure: %w", err)
			}
			switch {
			case status != StatusEnabled:
			case r.status == http.StatusGone:
				disabled = ReasonGone
			case now.Sub(since) >= FailureWindow:
				disabled = ReasonFailing
			}
			if disabled != "" {
				if err := s.disable(ctx, tx, t, disabled); err != nil {
					return err
				}
			}
		}
		switch {
		case r.ok:
			state = stateSucceeded
		case disabled != "" || r.status == http.StatusGone || n >= len(s.opt.Schedule):
			state = stateFailed
		case r.hasRetry:
			next = now.Add(r.retryAfter)
		default:
			next = now.Add(jitter(s.opt.Schedule[n]))
		}
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, updated_at = $4
			WHERE id = $5 AND state = $6 AND attempts = $7`, state, n, store.NullTime(&next), now, t.delivery, statePending, t.attempts)
		if err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return errStale
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts (id, org_id, test_mode, endpoint_id, delivery_id, event_id, event_type, attempt,
			succeeded, status_code, latency_ms, error, next_retry_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
			id.New(), t.orgID, t.testMode, t.endpoint, t.delivery, t.eventID, t.eventType, n, r.ok, r.status, r.took.Milliseconds(),
			truncate(r.err, 500), store.NullTime(&next), now.Add(-r.took))
		if err != nil {
			return fmt.Errorf("log attempt: %w", err)
		}
		if !wake {
			if job != nil && state != statePending {
				return job.CompleteIn(ctx, tx) // the worker then has nothing left to write
			}
			return nil
		}
		if state != statePending {
			_, err = s.q.Cancel(ctx, tx, deliveryKey(t.delivery))
			return err
		}
		return s.q.Schedule(ctx, tx, deliverJob(t.delivery, t.endpoint, next))
	})
	log := s.log.With("delivery", t.delivery, "endpoint", t.endpoint, "event", t.eventID, "attempt", n)
	switch {
	case err != nil:
		// Not recorded: the job comes back and the attempt is made again
		// (the receiver de-duplicates by webhook-id).
		f.next, f.err = time.Now().Add(infraRetry), fmt.Errorf("webhook: record attempt %d of delivery %s: %w", n, t.delivery, err)
		if errors.Is(err, errStale) {
			f.next = time.Now()
		} else {
			log.Error("webhook: record attempt", "err", err)
		}
	case state == statePending:
		f.next, f.err = next, fmt.Errorf("webhook: delivery %s attempt %d/%d to endpoint %s failed (%s); retrying at %s",
			t.delivery, n, len(s.opt.Schedule), t.endpoint, truncate(r.err, 200), next.Format(time.RFC3339))
	default:
		f.final = true
		if state == stateFailed {
			log.Warn("webhook: delivery failed for good", "err", r.err, "status", r.status)
		}
	}
	if disabled != "" && err == nil {
		log.Warn("webhook: endpoint disabled", "reason", disabled)
	}
}

// disable turns an endpoint off and emits webhook_endpoint.disabled in tx.
func (s *Service) disable(ctx context.Context, tx *store.Tx, t *target, reason string) error {
	_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET status = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4`,
		StatusDisabled, reason, store.Now(), t.endpoint)
	if err != nil {
		return fmt.Errorf("disable endpoint: %w", err)
	}
	forgetEndpoints(tx, t.orgID, t.testMode)
	e, err := getEndpoint(ctx, tx, org.Principal{OrgID: t.orgID, TestMode: t.testMode}, t.endpoint, "")
	if err != nil {
		return err
	}
	_, err = s.outbox.Emit(ctx, tx, t.orgID, t.testMode, EventDisabled, "webhook_endpoint", e.ID, e)
	return err
}
