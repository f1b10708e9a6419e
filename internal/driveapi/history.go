package driveapi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

// HistoryInput is POST .../sessions/history. Every field is optional.
type HistoryInput struct {
	SessionStatus []string   `json:"sessionStatus,omitempty" maxItems:"9" enum:"CREATED,WAITING_TO_START,STARTED,WAITING_TO_STOP,STOP_FAILED,STOPPED,COMPLETE,FAILED,REFUNDED" doc:"Statuses to include (default [COMPLETE])"`
	ChargingKeyID string     `json:"chargingKeyId,omitempty" pattern:"^[0-9a-f]{24}$" doc:"Only sessions of this charging key (an id from .../charging-keys; the virtual key selects every remote session)"`
	StartTime     *time.Time `json:"startTime,omitempty" doc:"Only sessions whose startTime is at or after this instant (RFC 3339)"`
	EndTime       *time.Time `json:"endTime,omitempty" doc:"Only sessions whose startTime is before this instant (RFC 3339)"`
	Cursor        string     `json:"cursor,omitempty" pattern:"^[0-9a-f]{24}$" doc:"The cursor of the previous page"`
	Limit         int        `json:"limit,omitempty" minimum:"1" maximum:"100" default:"50" doc:"Page size (default 50)"`
}

// History is one page of a user's sessions, newest first.
type History struct {
	Sessions []Session `json:"sessions"`
	Cursor   *string   `json:"cursor" doc:"Pass as cursor to get the next page; null on the last page"`
	Count    int       `json:"count" doc:"Number of sessions in this page"`
}

func (a *Drive) registerHistory(tag string) {
	huma.Register(a.hapi, op("session-history", http.MethodPost, "/users/{userId}/sessions/history", tag, "Get the user's session history",
		"The user's sessions, newest first, filtered by status (default COMPLETE only), charging key and a range of startTime "+
			"(for a session that never started, the time it was requested). Page with cursor and limit (default 50, at most 100)."),
		func(ctx context.Context, in *struct {
			UserIDPath
			Body *HistoryInput
		}) (*Body[History], error) {
			body := HistoryInput{}
			if in.Body != nil {
				body = *in.Body
			}
			h, err := a.history(ctx, principal(ctx), in.UserID, body)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return one(h), nil
		})
}

// history reads one page. The query selects the page's ids with the Drive
// filters (a status set, a charging key, a start-time range), which
// session.List has no terms for; each session is then read through the
// session service, so that a running one shows its live duration, energy
// and price exactly as GET session does.
func (a *Drive) history(ctx context.Context, p org.Principal, externalUserID string, in HistoryInput) (History, error) {
	q := a.DB.Q()
	du, err := lookupUser(ctx, q, p, externalUserID)
	if err != nil {
		return History{}, err
	}
	if in.Limit <= 0 {
		in.Limit = 50
	}
	if len(in.SessionStatus) == 0 {
		in.SessionStatus = []string{StatusComplete}
	}
	var statuses []string
	for _, s := range in.SessionStatus {
		ps := platformStatuses(s)
		if len(ps) == 0 {
			return History{}, apperr.InvalidField("sessionStatus", "unknown session status (use CREATED, WAITING_TO_START, STARTED, "+
				"WAITING_TO_STOP, STOP_FAILED, STOPPED, COMPLETE, FAILED or REFUNDED)")
		}
		statuses = append(statuses, ps...)
	}
	sort.Strings(statuses)

	where := []string{"org_id = $1", "test_mode = $2", "user_id = $3"}
	args := []any{p.OrgID, p.TestMode, du.UserID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	marks := make([]string, len(statuses))
	for i, s := range statuses {
		marks[i] = arg(s)
	}
	where = append(where, "status IN ("+strings.Join(marks, ",")+")")
	if in.ChargingKeyID != "" {
		k, err := userKey(ctx, q, p, du, in.ChargingKeyID)
		if err != nil {
			return History{}, err
		}
		if k.ID == du.VirtualKeyID {
			// The app's key: every remote start, each made with its own
			// one-time idTag.
			where = append(where, "remote = "+arg(true))
		} else {
			where = append(where, "id_tag = "+arg(k.IDTag))
		}
	}
	if in.StartTime != nil {
		where = append(where, "COALESCE(started_at, created_at) >= "+arg(store.UTC(*in.StartTime)))
	}
	if in.EndTime != nil {
		where = append(where, "COALESCE(started_at, created_at) < "+arg(store.UTC(*in.EndTime)))
	}
	if in.Cursor != "" {
		where = append(where, "id < "+arg(in.Cursor))
	}
	rows, err := q.QueryContext(ctx, `SELECT id FROM sessions WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT `+arg(in.Limit+1), args...)
	if err != nil {
		return History{}, fmt.Errorf("driveapi: history: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return History{}, fmt.Errorf("driveapi: history: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return History{}, fmt.Errorf("driveapi: history: %w", err)
	}
	out := History{Sessions: []Session{}}
	if len(ids) > in.Limit {
		ids = ids[:in.Limit]
		next := ids[len(ids)-1]
		out.Cursor = &next
	}
	xs, err := a.sessionsOf(ctx, p, ids)
	if err != nil {
		return History{}, err
	}
	v := newViewer(q, p, du.ExternalID)
	now := time.Now()
	for _, x := range xs {
		s, err := v.view(ctx, x, now)
		if err != nil {
			return History{}, err
		}
		out.Sessions = append(out.Sessions, s)
	}
	out.Count = len(out.Sessions)
	return out, nil
}

// userKey finds one of the user's charging keys by id. (A direct read:
// users.Keys would read every one-time tag of every remote start.)
func userKey(ctx context.Context, q store.Querier, p org.Principal, du driveUser, keyID string) (users.ChargingKey, error) {
	k := users.ChargingKey{ID: keyID, User: du.UserID}
	err := q.QueryRowContext(ctx, `SELECT id_tag, type, active FROM charging_keys WHERE id = $1 AND org_id = $2 AND test_mode = $3 AND user_id = $4`,
		keyID, p.OrgID, p.TestMode, du.UserID).Scan(&k.IDTag, &k.Type, &k.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return k, apperr.NotFoundf("charging_key", keyID)
	}
	if err != nil {
		return k, fmt.Errorf("driveapi: charging key %s: %w", keyID, err)
	}
	return k, nil
}
