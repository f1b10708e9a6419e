package driveapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/store"
)

// Drive session events (spec 003 "Session Events"), sent to webhook
// endpoints whose format is "drive" in the spec's form:
//
//	{"event": "SESSION_STARTED", "payload": {"userId": "...", "sessionId": "...", "timestamp": "..."}}
//
// They are not separate outbox rows: each is the Drive form of a platform
// session event, made when the webhook delivery builds the body (see
// WebhookBody), so that the outbox holds one event per change and a
// redelivery of the platform event is a redelivery of the Drive event.
const (
	EventSessionStarted      = "SESSION_STARTED"
	EventSessionStartFailed  = "SESSION_START_FAILED"
	EventSessionStopped      = "SESSION_STOPPED"
	EventSessionStopFailed   = "SESSION_STOP_FAILED"
	EventSessionComplete     = "SESSION_COMPLETE"
	EventSessionFeeIncurring = "SESSION_FEE_INCURRING"
)

// WebhookEvent is the body a drive-format endpoint receives.
type WebhookEvent struct {
	Event   string         `json:"event"`
	Payload WebhookPayload `json:"payload"`
}

// WebhookPayload names the session and its user.
type WebhookPayload struct {
	UserID    string    `json:"userId" doc:"The app's user id (as registered with POST /drive/v1/users)"`
	SessionID string    `json:"sessionId"`
	Timestamp time.Time `json:"timestamp" doc:"When Joule recorded the change"`
}

// sessionData is what EventName reads from a session event's data (the
// session as the Platform API shows it).
type sessionData struct {
	ID        string     `json:"_id"`
	User      string     `json:"user"`
	StartedAt *time.Time `json:"startedAt"`
}

// EventName is the Drive event a platform event stands for, or "" when it
// has none:
//
//	session.started                          SESSION_STARTED
//	session.failed, session.canceled         SESSION_START_FAILED (only when it never started)
//	session.ended                            SESSION_STOPPED
//	session.stop_failed                      SESSION_STOP_FAILED
//	session.completed                        SESSION_COMPLETE
//	session.fee_incurring                    SESSION_FEE_INCURRING (a parking fee is about to start)
//
// A session is canceled before it starts when the driver (or app) gives it
// up or a payment link is not paid; for the Drive API that is a start that
// failed. Events of a session that did start and later failed have no
// Drive form: SESSION_STOPPED and SESSION_COMPLETE tell its end.
func EventName(e events.Event) string {
	switch e.Type {
	case "session.started":
		return EventSessionStarted
	case "session.ended":
		return EventSessionStopped
	case "session.stop_failed":
		return EventSessionStopFailed
	case "session.completed":
		return EventSessionComplete
	case "session.fee_incurring":
		return EventSessionFeeIncurring
	case "session.failed", "session.canceled":
		var d sessionData
		if json.Unmarshal(e.Data, &d) == nil && d.StartedAt == nil {
			return EventSessionStartFailed
		}
	}
	return ""
}

// WebhookBody renders a platform event for a drive-format webhook endpoint.
// It returns the Drive event name and the body, or name "" when the event
// is not for drive endpoints: it has no Drive form, or its session's user
// was not registered through the Drive API (the app would not know the
// user; userId is always the app's own id). q may be the emitting
// transaction (at fan-out) or the database (when an attempt is made): the
// result is the same, so every attempt sends the same body.
func WebhookBody(ctx context.Context, q store.Querier, e events.Event) (name string, body []byte, err error) {
	name = EventName(e)
	if name == "" {
		return "", nil, nil
	}
	var d sessionData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return "", nil, fmt.Errorf("driveapi: event %s: %w", e.ID, err)
	}
	ext, err := externalIDOf(ctx, q, d.User)
	if err != nil || ext == "" {
		return "", nil, err
	}
	sessionID := d.ID
	if sessionID == "" {
		sessionID = e.ObjectID
	}
	body, err = json.Marshal(WebhookEvent{Event: name, Payload: WebhookPayload{UserID: ext, SessionID: sessionID, Timestamp: e.CreatedAt.UTC()}})
	if err != nil {
		return "", nil, fmt.Errorf("driveapi: event %s: %w", e.ID, err)
	}
	return name, body, nil
}
