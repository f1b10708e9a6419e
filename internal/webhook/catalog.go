package webhook

import (
	"fmt"
	"slices"
	"strings"

	"github.com/joule-ev/joule/internal/apperr"
)

// EventDisabled is emitted when Joule disables an endpoint on its own (410
// Gone or sustained failure), so that an app notices through its other
// endpoints or GET /v1/events.
const EventDisabled = "webhook_endpoint.disabled"

// Catalog is every event type an endpoint can subscribe to: the canonical
// names of DESIGN §7, the Drive API's events, and Joule's own
// webhook_endpoint.disabled. Subscriptions are checked against it so that a
// typo ("session.start") is an error at creation, not silence forever.
var Catalog = []string{
	"session.created", "session.started", "session.paused", "session.resumed", "session.ended",
	"session.completed", "session.canceled", "session.failed", "session.stop_failed", "session.updated",
	"session.fee_incurring",
	"session.payment.created", "session.payment.authorized", "session.payment.expired",
	"session.payment.canceled", "session.payment.captured", "session.payment.refunded",
	"wallet.updated",
	"top_up.created", "top_up.completed", "top_up.expired", "top_up.failed",
	"user.created", "user.updated",
	"chargestation.online", "chargestation.offline", "chargestation.connector_status.updated",
	"SESSION_STARTED", "SESSION_START_FAILED", "SESSION_STOPPED", "SESSION_STOP_FAILED",
	"SESSION_COMPLETE", "SESSION_FEE_INCURRING",
	EventDisabled,
}

// normalizeEvents validates a subscription list and returns it without
// duplicates, in the given order.
func normalizeEvents(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, apperr.InvalidField("enabled_events", `enabled_events needs at least one event type, or ["*"] for all`)
	}
	out := make([]string, 0, len(in))
	for i, e := range in {
		e = strings.TrimSpace(e)
		if !known(e) {
			// The value is not echoed (API rule: submitted values may hold secrets).
			return nil, &apperr.Error{Kind: apperr.Invalid, Code: "unknown_event_type", Field: "enabled_events",
				Message: fmt.Sprintf(`enabled_events[%d] is not a known event type; use a type such as session.started, a prefix such as session.*, or "*" (see docs/webhooks.md)`, i)}
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// known accepts "*", a catalog type, or "prefix.*" where prefix is a
// dot-separated head of some catalog type (session.*, session.payment.*).
func known(e string) bool {
	if e == "*" || slices.Contains(Catalog, e) {
		return true
	}
	p, ok := strings.CutSuffix(e, ".*")
	if !ok || p == "" {
		return false
	}
	for _, c := range Catalog {
		if strings.HasPrefix(c, p+".") {
			return true
		}
	}
	return false
}

// subscribed reports whether a subscription list selects the event type.
func subscribed(enabled []string, typ string) bool {
	for _, e := range enabled {
		if e == "*" || e == typ {
			return true
		}
		if p, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}
