// Package events is the transactional outbox: every event is written in the
// same transaction as the change it describes, so an event exists if and only
// if its change committed. Delivery (webhooks) reads from here.
package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/store"
)

// Event is one outbox row. Data is the object as the API shows it at the time
// of the event.
type Event struct {
	ID         string          `json:"_id"`
	OrgID      string          `json:"-"`
	TestMode   bool            `json:"test_mode"`
	Type       string          `json:"type"`
	ObjectType string          `json:"object"`
	ObjectID   string          `json:"object_id"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  time.Time       `json:"createdAt"`
}

// Hook runs inside the emitting transaction for every event (the webhook
// fan-out registers one so that deliveries are enqueued atomically).
type Hook func(ctx context.Context, tx *store.Tx, e Event) error

// Outbox writes events.
type Outbox struct {
	hooks []Hook
}

// NewOutbox returns an outbox with no hooks.
func NewOutbox() *Outbox { return &Outbox{} }

// OnEmit adds a hook. Call before the outbox is used concurrently.
func (o *Outbox) OnEmit(h Hook) { o.hooks = append(o.hooks, h) }

// Emit records an event in tx. data is marshalled now, so later changes to
// the object do not alter what the event says.
func (o *Outbox) Emit(ctx context.Context, tx *store.Tx, orgID string, testMode bool, typ, objectType, objectID string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("events: marshal %s: %w", typ, err)
	}
	e := Event{ID: id.New(), OrgID: orgID, TestMode: testMode, Type: typ, ObjectType: objectType,
		ObjectID: objectID, Data: raw, CreatedAt: store.Now()}
	_, err = tx.ExecContext(ctx, `INSERT INTO events (id, org_id, test_mode, type, object_type, object_id, data, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, e.ID, e.OrgID, e.TestMode, e.Type, e.ObjectType, e.ObjectID, string(raw), e.CreatedAt)
	if err != nil {
		return Event{}, fmt.Errorf("events: insert %s: %w", typ, err)
	}
	for _, h := range o.hooks {
		if err := h(ctx, tx, e); err != nil {
			return Event{}, fmt.Errorf("events: hook for %s: %w", typ, err)
		}
	}
	return e, nil
}

// Filter selects events for List. Zero fields match everything.
type Filter struct {
	Types         []string // exact types, or prefixes ending in ".*"
	ObjectID      string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Cursor        string // list events older than this id
	Limit         int
}

// List returns events of one organization and mode, newest first, and
// whether more follow.
func List(ctx context.Context, q store.Querier, orgID string, testMode bool, f Filter) ([]Event, bool, error) {
	var (
		where = []string{"org_id = $1", "test_mode = $2"}
		args  = []any{orgID, testMode}
	)
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if len(f.Types) > 0 {
		var ors []string
		for _, t := range f.Types {
			if p, ok := strings.CutSuffix(t, ".*"); ok {
				ors = append(ors, "type LIKE "+arg(p+".%"))
			} else {
				ors = append(ors, "type = "+arg(t))
			}
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if f.ObjectID != "" {
		where = append(where, "object_id = "+arg(f.ObjectID))
	}
	if !f.CreatedAfter.IsZero() {
		where = append(where, "created_at >= "+arg(store.UTC(f.CreatedAfter)))
	}
	if !f.CreatedBefore.IsZero() {
		where = append(where, "created_at < "+arg(store.UTC(f.CreatedBefore)))
	}
	if f.Cursor != "" {
		where = append(where, "id < "+arg(f.Cursor))
	}
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	rows, err := q.QueryContext(ctx, `SELECT id, org_id, test_mode, type, object_type, object_id, data, created_at FROM events WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT `+arg(limit+1), args...)
	if err != nil {
		return nil, false, fmt.Errorf("events: list: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("events: list: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Get returns one event of the organization and mode.
func Get(ctx context.Context, q store.Querier, orgID string, testMode bool, eventID string) (Event, error) {
	row := q.QueryRowContext(ctx, `SELECT id, org_id, test_mode, type, object_type, object_id, data, created_at FROM events
		WHERE id = $1 AND org_id = $2 AND test_mode = $3`, eventID, orgID, testMode)
	e, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, apperr.NotFoundf("event", eventID)
	}
	return e, err
}

type scanner interface{ Scan(...any) error }

func scan(s scanner) (Event, error) {
	var e Event
	var data string
	if err := s.Scan(&e.ID, &e.OrgID, &e.TestMode, &e.Type, &e.ObjectType, &e.ObjectID, &data, &e.CreatedAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return e, err
		}
		return e, fmt.Errorf("events: scan: %w", err)
	}
	e.Data = json.RawMessage(data)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}
