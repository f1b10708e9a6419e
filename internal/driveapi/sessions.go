package driveapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/api"
	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/session"
)

// SessionPath is {userId} and {sessionId}.
type SessionPath struct {
	UserIDPath
	SessionID string `path:"sessionId" pattern:"^[0-9a-f]{24}$" doc:"The session id returned by start"`
}

// StartInput is POST .../sessions/start.
type StartInput struct {
	ConnectorID string `json:"connectorId" pattern:"^[0-9a-f]{24}$" doc:"A connectorId from the geosearch"`
}

// ReceiptLink is a signed, expiring link to a session's PDF receipt.
type ReceiptLink struct {
	URL       string    `json:"url" doc:"Signed link to the PDF; needs no API key, so it can be handed to the driver"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ErrNotRemote refuses a Drive stop of a session started at the charger.
var ErrNotRemote = apperr.New(apperr.Conflict, "session_not_remote",
	"Only sessions started remotely (chargingKeyType virtual) can be stopped through the Drive API; this one was started at the charger with a charging key")

func (a *Drive) registerSessions() {
	const T = "Sessions"
	start := op("start-session", http.MethodPost, "/users/{userId}/sessions/start", T, "Start a remote charging session",
		"Creates the session and asks the charger to start it. The answer (201) always carries the sessionId, whatever "+
			"happens next: a charger that rejects the start makes the session FAILED, one that does not answer (or is offline) "+
			"leaves it WAITING_TO_START until the organization's waiting_to_start_timeout (120 s by default) makes it FAILED. "+
			"Refused without a session: an unknown user or connector (404), a charger without REMOTE_START_STOP_CAPABLE or a "+
			"connector without a rate (409), and a start on a connector that had one less than connector_start_cooldown "+
			"seconds ago (60 s by default): 429 connector_cooldown with Retry-After. Sessions are of the organization's "+
			"drive_session_type (postpaid by default: charged to the user's default card after the session; in test mode "+
			"to the sandbox test card when the user has none).")
	start.DefaultStatus = http.StatusCreated
	huma.Register(a.hapi, start, func(ctx context.Context, in *struct {
		UserIDPath
		Body StartInput
	}) (*Body[Session], error) {
		p := principal(ctx)
		du, err := lookupUser(ctx, a.DB.Q(), p, in.UserID)
		if err != nil {
			return nil, fail(ctx, err)
		}
		o, err := org.Get(ctx, a.DB.Q(), p.OrgID)
		if err != nil {
			return nil, fail(ctx, err)
		}
		typ := o.Configurations.DriveSessionType
		if typ == "" {
			typ = session.TypePostpaid
		}
		x, err := a.Sessions.Create(ctx, p, session.CreateInput{User: du.UserID, Connector: in.Body.ConnectorID, Type: typ})
		if apperr.Is(err, "connector_cooldown") {
			return nil, a.cooldown(ctx, p, in.Body.ConnectorID, o.Configurations.ConnectorStartCooldown, err)
		}
		if err != nil {
			return nil, fail(ctx, err)
		}
		v, err := newViewer(a.DB.Q(), p, du.ExternalID).view(ctx, x, time.Now())
		if err != nil {
			return nil, fail(ctx, err)
		}
		return one(v), nil
	})

	huma.Register(a.hapi, op("get-session", http.MethodGet, "/users/{userId}/sessions/{sessionId}", T, "Get a session",
		"The session's status and, once it runs, its duration, energy and price so far. balanceStatus appears when it is COMPLETE. "+
			"A session of another user (or organization, or mode) is 404."),
		func(ctx context.Context, in *SessionPath) (*Body[Session], error) {
			v, err := a.getView(ctx, principal(ctx), in.UserID, in.SessionID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return one(v), nil
		})

	huma.Register(a.hapi, op("stop-session", http.MethodPost, "/users/{userId}/sessions/{sessionId}/stop", T, "Stop a remote charging session",
		"Asks the charger to stop (WAITING_TO_STOP; then STOPPED and COMPLETE when it confirms, STOP_FAILED when it does not "+
			"answer in the organization's stop_timeout; a charger that refuses leaves the session STARTED with a "+
			"SESSION_STOP_FAILED event). Idempotent: a session already stopping, stopped or complete is returned as is (200), "+
			"and a STOP_FAILED one is asked again. A session that has not started yet is abandoned (FAILED). Only sessions "+
			"started remotely (chargingKeyType virtual) can be stopped: others answer 409 session_not_remote."),
		func(ctx context.Context, in *SessionPath) (*Body[Session], error) {
			p := principal(ctx)
			du, x, err := a.userSession(ctx, p, in.UserID, in.SessionID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			if x.ChargingKeyType != "virtual" {
				return nil, fail(ctx, ErrNotRemote)
			}
			if _, err := a.Sessions.Stop(ctx, p, x.ID); err != nil {
				return nil, fail(ctx, err)
			}
			if x, err = a.Sessions.Get(ctx, p, x.ID); err != nil {
				return nil, fail(ctx, err)
			}
			v, err := newViewer(a.DB.Q(), p, du.ExternalID).view(ctx, x, time.Now())
			if err != nil {
				return nil, fail(ctx, err)
			}
			return one(v), nil
		})

	huma.Register(a.hapi, op("get-session-receipt", http.MethodGet, "/users/{userId}/sessions/{sessionId}/receipt", T,
		"Get a signed URL to the session's receipt",
		"A link to the PDF receipt, valid for 15 minutes and usable without an API key. Available once the session is priced "+
			"(receiptAvailable true); before that 409 receipt_not_available."),
		func(ctx context.Context, in *SessionPath) (*Body[ReceiptLink], error) {
			p := principal(ctx)
			_, x, err := a.userSession(ctx, p, in.UserID, in.SessionID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			r, err := a.Sessions.ReceiptURL(ctx, p, x.ID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return one(ReceiptLink{URL: r.URL, ExpiresAt: r.ExpiresAt}), nil
		})

	huma.Register(a.hapi, op("retry-session-payment", http.MethodPost, "/users/{userId}/sessions/{sessionId}/payment/retry", T,
		"Retry a failed payment",
		"Charges a COMPLETE session whose balanceStatus is DEBT again, to the user's default payment method (balanceStatus "+
			"PROCESSING until the charge is settled, then PAID or DEBT). Any other session answers 409 no_debt."),
		func(ctx context.Context, in *SessionPath) (*Body[Session], error) {
			p := principal(ctx)
			du, x, err := a.userSession(ctx, p, in.UserID, in.SessionID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			if _, err := a.Sessions.RetryPayment(ctx, p, x.ID); err != nil {
				return nil, fail(ctx, err)
			}
			if x, err = a.Sessions.Get(ctx, p, x.ID); err != nil {
				return nil, fail(ctx, err)
			}
			v, err := newViewer(a.DB.Q(), p, du.ExternalID).view(ctx, x, time.Now())
			if err != nil {
				return nil, fail(ctx, err)
			}
			return one(v), nil
		})

	a.registerHistory(T)
}

// userSession loads a session of the app's user. A session of anyone else
// is reported as missing, as another organization's would be.
func (a *Drive) userSession(ctx context.Context, p org.Principal, externalUserID, sessionID string) (driveUser, *session.Session, error) {
	du, err := lookupUser(ctx, a.DB.Q(), p, externalUserID)
	if err != nil {
		return du, nil, err
	}
	x, err := a.Sessions.Get(ctx, p, sessionID)
	if err != nil {
		return du, nil, err
	}
	if x.User != du.UserID {
		return du, nil, apperr.NotFoundf("session", sessionID)
	}
	return du, x, nil
}

func (a *Drive) getView(ctx context.Context, p org.Principal, externalUserID, sessionID string) (Session, error) {
	du, x, err := a.userSession(ctx, p, externalUserID, sessionID)
	if err != nil {
		return Session{}, err
	}
	return newViewer(a.DB.Q(), p, du.ExternalID).view(ctx, x, time.Now())
}

// cooldown answers a start refused by the connector cooldown (spec 003:
// "all subsequent tries within the next 60 seconds on the same connector
// are blocked"): 429, the client's cue to wait, with Retry-After saying how
// long. No session is stored: the block is there so that repeated taps do
// not reach the charger at all.
func (a *Drive) cooldown(ctx context.Context, p org.Principal, connectorID string, cooldownSeconds int, cause error) error {
	wait := cooldownSeconds
	last, ok, err := session.LastRemoteStart(ctx, a.DB.Q(), p, connectorID)
	switch {
	case err != nil:
		a.Log.Warn("driveapi: cooldown start time", "err", err)
	case ok:
		left := time.Duration(cooldownSeconds)*time.Second - time.Since(last)
		wait = int(math.Ceil(left.Seconds()))
	}
	wait = min(max(wait, 1), max(cooldownSeconds, 1))
	var prob *api.Problem
	if !errors.As(fail(ctx, apperr.Newf(apperr.Conflict, "connector_cooldown",
		"A session was started on this connector less than %d seconds ago; new starts on it are blocked for that long. Retry in %d s.",
		cooldownSeconds, wait)), &prob) {
		return fail(ctx, cause)
	}
	prob.Status, prob.Title = http.StatusTooManyRequests, http.StatusText(http.StatusTooManyRequests)
	return huma.ErrorWithHeaders(prob, http.Header{"Retry-After": {strconv.Itoa(wait)}})
}
