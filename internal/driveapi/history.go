package driveapi

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/session"
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

	f := session.Filter{User: du.UserID, Statuses: statuses, Cursor: in.Cursor, Limit: in.Limit}
	if in.ChargingKeyID != "" {
		k, err := users.KeyByID(ctx, q, p, du.UserID, in.ChargingKeyID)
		if err != nil {
			return History{}, err
		}
		if k.ID == du.VirtualKeyID {
			// The app's key: every remote start, each made with its own
			// one-time idTag.
			remote := true
			f.Remote = &remote
		} else {
			f.IDTag = k.IDTag
		}
	}
	if in.StartTime != nil {
		f.StartedAfter = *in.StartTime
	}
	if in.EndTime != nil {
		f.StartedBefore = *in.EndTime
	}
	xs, more, err := session.List(ctx, q, p, f)
	if err != nil {
		return History{}, err
	}
	out := History{Sessions: []Session{}}
	if more && len(xs) > 0 {
		next := xs[len(xs)-1].ID
		out.Cursor = &next
	}
	// Each is read through the session service, so a running one shows
	// its live duration, energy and price exactly as GET session does.
	for i, x := range xs {
		if xs[i], err = a.Sessions.Get(ctx, p, x.ID); err != nil {
			return History{}, err
		}
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
