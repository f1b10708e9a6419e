package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/joule-ev/joule/internal/store"
)

// ErrBadSignature: a webhook request is not an event signed with the
// configured secret (or is too old: replays outside Stripe's 5-minute
// tolerance are refused too).
var ErrBadSignature = errors.New("payments: bad Stripe webhook signature")

// HandleWebhook verifies a Stripe webhook request and turns the events Joule
// asked for into Notifications. Stripe delivers at least once: an event id
// seen before is acknowledged and ignored (stripe_events), in the same
// transaction that enqueues the notification, so each event is acted on once.
// Events about objects Joule did not create (no joule_* metadata) are
// acknowledged and ignored.
func (s *Stripe) HandleWebhook(ctx context.Context, payload []byte, signature string) error {
	if s.webhookSecret == "" {
		return fmt.Errorf("%w: no webhook secret configured", ErrBadSignature)
	}
	// The fields read here (ids, metadata, amounts) are stable across API
	// versions, so an endpoint pinned to another version still works.
	ev, err := webhook.ConstructEventWithOptions(payload, signature, s.webhookSecret, webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	n, ours, err := notificationOf(ev)
	if err != nil {
		return fmt.Errorf("stripe: event %s (%s): %w", ev.ID, ev.Type, err)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO stripe_events (id, type, received_at) VALUES ($1,$2,$3) ON CONFLICT (id) DO NOTHING`,
			ev.ID, string(ev.Type), store.Now())
		if err != nil {
			return err
		}
		if added, _ := res.RowsAffected(); added == 0 || !ours {
			return nil // a redelivery, or not about Joule's payments
		}
		return s.notify(ctx, tx, "stripe:"+ev.ID, n)
	})
	if err != nil {
		return fmt.Errorf("stripe: event %s (%s): %w", ev.ID, ev.Type, err)
	}
	return nil
}

// notificationOf reads the Notification an event stands for; ours is false
// for event types Joule ignores and objects it did not create.
func notificationOf(ev stripe.Event) (n Notification, ours bool, err error) {
	if ev.Data == nil {
		return n, false, nil
	}
	fromMetadata := func(md map[string]string) bool {
		n.Purpose, n.Reference, n.OrgID = md[mdPurpose], md[mdReference], md[mdOrg]
		n.TestMode = md[mdTestMode] == "true"
		return n.Purpose != "" && n.Reference != "" && n.OrgID != ""
	}
	switch ev.Type {
	case "checkout.session.completed", "checkout.session.expired", "checkout.session.async_payment_failed":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return n, false, fmt.Errorf("decode checkout session: %w", err)
		}
		n.Type = map[stripe.EventType]string{"checkout.session.completed": CheckoutCompleted,
			"checkout.session.expired": CheckoutExpired, "checkout.session.async_payment_failed": CheckoutFailed}[ev.Type]
		n.CheckoutID = cs.ID
		if cs.PaymentIntent != nil && cs.PaymentIntent.ID != "" {
			n.Payment = &Payment{ID: cs.PaymentIntent.ID, Amount: cs.AmountTotal, Currency: strings.ToUpper(string(cs.Currency))}
		}
		return n, fromMetadata(cs.Metadata), nil
	case "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			return n, false, fmt.Errorf("decode payment intent: %w", err)
		}
		n.Payment = toPayment(&pi)
		switch {
		case ev.Type == "payment_intent.payment_failed" && pi.Metadata[mdFlow] == "checkout":
			// A declined attempt on the hosted page; the page stays open.
			n.Type = CheckoutFailed
		case ev.Type == "payment_intent.payment_failed":
			n.Type = PaymentFailed
		case ev.Type == "payment_intent.canceled":
			n.Type = PaymentCanceled
		default:
			n.Type = PaymentSucceeded
		}
		return n, fromMetadata(pi.Metadata), nil
	}
	return n, false, nil
}

// complete fills a notification's payment from Stripe before delivery (an
// event carries ids, not the card): the PaymentIntent with its card, and the
// card as SavedMethod when the checkout saved it for off-session use.
func (s *Stripe) complete(ctx context.Context, n Notification) (Notification, error) {
	if n.Payment == nil || n.Payment.ID == "" {
		return n, nil
	}
	pi, err := s.paymentIntent(ctx, n.Payment.ID)
	if err != nil {
		return n, err
	}
	n.Payment = toPayment(pi)
	if n.Type == CheckoutCompleted && pi.SetupFutureUsage != "" && n.Payment.Method != nil && n.Payment.Method.Customer != "" {
		m := *n.Payment.Method
		n.SavedMethod = &m
	}
	return n, nil
}
