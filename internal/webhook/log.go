package webhook

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// DeliveryAttempt is one row of an endpoint's delivery log.
type DeliveryAttempt struct {
	ID          string     `json:"_id"`
	Endpoint    string     `json:"endpoint"`
	Delivery    string     `json:"delivery" doc:"The delivery this attempt belongs to (a redelivery is a new delivery)"`
	Event       string     `json:"event" doc:"The event's id, also sent as webhook-id"`
	EventType   string     `json:"event_type"`
	Attempt     int        `json:"attempt" doc:"1 for the first attempt of the delivery"`
	Succeeded   bool       `json:"succeeded" doc:"The receiver answered 2xx"`
	StatusCode  *int       `json:"status_code" doc:"The receiver's HTTP status; null when no answer arrived"`
	LatencyMS   int64      `json:"latency_ms"`
	Error       string     `json:"error,omitempty" doc:"What went wrong, with the start of the receiver's answer (truncated)"`
	NextRetryAt *time.Time `json:"next_retry_at" doc:"When the next attempt is due; null when this attempt ended the delivery"`
	TestMode    bool       `json:"test_mode"`
	CreatedAt   time.Time  `json:"createdAt" doc:"When the attempt started"`
}

// AttemptFilter selects log rows. Zero fields match everything.
type AttemptFilter struct {
	Event     string
	Succeeded *bool
	Cursor    string // rows older than this id
	Limit     int
}

// Attempts pages through an endpoint's delivery log, newest first.
func Attempts(ctx context.Context, q store.Querier, p org.Principal, endpointID string, f AttemptFilter) ([]DeliveryAttempt, bool, error) {
	if _, err := Get(ctx, q, p, endpointID); err != nil {
		return nil, false, err
	}
	where := []string{"endpoint_id = $1", "org_id = $2", "test_mode = $3"}
	args := []any{endpointID, p.OrgID, p.TestMode}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.Event != "" {
		where = append(where, "event_id = "+arg(f.Event))
	}
	if f.Succeeded != nil {
		where = append(where, "succeeded = "+arg(*f.Succeeded))
	}
	if f.Cursor != "" {
		where = append(where, "id < "+arg(f.Cursor))
	}
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	rows, err := q.QueryContext(ctx, `SELECT id, endpoint_id, delivery_id, event_id, event_type, attempt, succeeded, status_code, latency_ms,
		error, next_retry_at, test_mode, created_at FROM webhook_attempts WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT `+arg(limit+1), args...)
	if err != nil {
		return nil, false, fmt.Errorf("webhook: list attempts: %w", err)
	}
	defer rows.Close()
	var out []DeliveryAttempt
	for rows.Next() {
		var a DeliveryAttempt
		var status int
		var next sql.NullTime
		if err := rows.Scan(&a.ID, &a.Endpoint, &a.Delivery, &a.Event, &a.EventType, &a.Attempt, &a.Succeeded, &status, &a.LatencyMS,
			&a.Error, &next, &a.TestMode, &a.CreatedAt); err != nil {
			return nil, false, fmt.Errorf("webhook: list attempts: %w", err)
		}
		if status != 0 {
			a.StatusCode = &status
		}
		if next.Valid {
			t := next.Time.UTC()
			a.NextRetryAt = &t
		}
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("webhook: list attempts: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Redelivery is what POST /v1/events/{id}/redeliver enqueued.
type Redelivery struct {
	Event      string           `json:"event"`
	Deliveries []QueuedDelivery `json:"deliveries" doc:"One per endpoint the event is sent to again"`
}

// QueuedDelivery is one enqueued delivery.
type QueuedDelivery struct {
	ID       string `json:"_id"`
	Endpoint string `json:"endpoint"`
}

// Redeliver sends an event again, as a new delivery with its own retries:
// to one endpoint of the principal's (even one not subscribed to the
// event's type), or else to every enabled endpoint subscribed to it now.
// The receiver sees the same webhook-id as before.
func (s *Service) Redeliver(ctx context.Context, p org.Principal, eventID, endpointID string) (Redelivery, error) {
	out := Redelivery{Event: eventID, Deliveries: []QueuedDelivery{}}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		out.Deliveries = out.Deliveries[:0]
		e, err := events.Get(ctx, tx, p.OrgID, p.TestMode, eventID)
		if err != nil {
			return err
		}
		var eps []string
		if endpointID != "" {
			ep, err := getEndpoint(ctx, tx, p, endpointID, "")
			if err != nil {
				return err
			}
			if ep.Status != StatusEnabled {
				return apperr.New(apperr.Conflict, "webhook_endpoint_disabled", "The endpoint is disabled; enable it (PATCH disabled=false) before redelivering to it")
			}
			eps = []string{ep.ID}
		} else if eps, err = s.subscribers(ctx, tx, e); err != nil {
			return err
		}
		for _, ep := range eps {
			did, err := s.enqueue(ctx, tx, p.OrgID, p.TestMode, ep, e.ID)
			if err != nil {
				return err
			}
			out.Deliveries = append(out.Deliveries, QueuedDelivery{ID: did, Endpoint: ep})
		}
		return nil
	})
	return out, err
}
