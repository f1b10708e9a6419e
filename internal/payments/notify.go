package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/store"
)

// Notification types. The checkout.* types close (or, for checkout.failed,
// report a declined attempt on) a hosted page; the payment.* types report a
// change a provider made to a payment on its own (Stripe webhooks: a refund
// from the dashboard, an authorization that lapsed).
const (
	CheckoutCompleted = "checkout.completed" // paid: Payment is captured (automatic) or authorized (manual)
	CheckoutFailed    = "checkout.failed"    // an attempt was declined; the page stays open until it expires
	CheckoutExpired   = "checkout.expired"   // closed unpaid at its expiry (or by ExpireCheckout)
	CheckoutCanceled  = "checkout.canceled"  // the driver pressed Cancel; closed unpaid
	PaymentSucceeded  = "payment.succeeded"
	PaymentFailed     = "payment.failed"
	PaymentCanceled   = "payment.canceled"
	PaymentRefunded   = "payment.refunded"
)

// JobNotification is the job kind that delivers a Notification.
const JobNotification = "payments.notification"

// NotificationHandler acts on a notification inside tx, which also completes
// the notification's job: the handler's state change and the delivery commit
// together, so a handler runs to completion exactly once per notification as
// far as the database is concerned. It must make no external calls (enqueue a
// job for those) and must be idempotent all the same: a provider may report
// one outcome twice (a webhook and a repeated page post).
type NotificationHandler func(ctx context.Context, tx *store.Tx, n Notification) error

// OnNotification registers the handler for notifications of a purpose
// ("top_up", "session"). Register before the job queue runs; a notification
// whose purpose has no handler is retried with backoff, so none is lost while
// a service is being deployed.
func (s *Service) OnNotification(purpose string, fn NotificationHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[purpose] = fn
}

// notify enqueues n for delivery in tx, which is the transaction that records
// the provider's side of the outcome (the sandbox's payment, the Stripe
// event's de-duplication row): the outcome is delivered if and only if it was
// recorded. key names the outcome uniquely (e.g. the Stripe event id).
func (s *Service) notify(ctx context.Context, tx *store.Tx, key string, n Notification) error {
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: JobNotification, Payload: n, UniqueKey: "notify:" + key})
	if err != nil {
		return fmt.Errorf("payments: notify %s: %w", key, err)
	}
	return nil
}

// deliver runs a notification job: it completes a live notification with the
// provider's data (outside any transaction), then hands it to its purpose's
// handler in one transaction with the job's completion.
func (s *Service) deliver(ctx context.Context, j *jobs.Job) error {
	var n Notification
	if err := j.Decode(&n); err != nil {
		return jobs.Permanent(err)
	}
	s.mu.RLock()
	fn := s.handlers[n.Purpose]
	s.mu.RUnlock()
	if fn == nil {
		return jobs.RetryAfter(fmt.Errorf("payments: no handler for purpose %q (%s of checkout %s)", n.Purpose, n.Type, n.CheckoutID), time.Minute)
	}
	if !n.TestMode && s.stripe != nil {
		var err error
		if n, err = s.stripe.complete(ctx, n); err != nil {
			return fmt.Errorf("payments: complete %s of checkout %s: %w", n.Type, n.CheckoutID, err)
		}
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := fn(ctx, tx, n); err != nil {
			return err
		}
		return j.CompleteIn(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("payments: deliver %s of %s %s: %w", n.Type, n.Purpose, n.Reference, err)
	}
	return nil
}
