package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
)

type paymentResult = payments.Payment

func (s *Service) provider(testMode bool) (payments.Provider, error) {
	if s.payments == nil {
		return nil, errNoProvider
	}
	return s.payments.Provider(testMode)
}

func declined(err error) bool {
	return errors.Is(err, payments.ErrDeclined) || errors.Is(err, errNoProvider)
}

func failureOf(res *paymentResult, err error) (code, msg string) {
	if res != nil && res.FailureCode != "" {
		return res.FailureCode, res.FailureMessage
	}
	if errors.Is(err, errNoProvider) {
		return "payment_provider_not_configured", "no payment provider is configured for this mode"
	}
	return "payment_failed", err.Error()
}

func chargeRequest(x *Session, key string) payments.ChargeRequest {
	amount := int64(0)
	if x.Cost.Amount != nil {
		amount = *x.Cost.Amount
	}
	return payments.ChargeRequest{IdempotencyKey: key, OrgID: x.OrgID, TestMode: x.TestMode, Customer: x.Payment.customer, PaymentMethod: x.Payment.paymentMethod,
		Amount: amount, Currency: upper(x.currency), CaptureMethod: payments.CaptureAutomatic, Description: "Charging session " + x.ID,
		Purpose: "session", Reference: x.ID}
}

// Payment-link sessions (spec 001): a card pre-authorization through the
// provider's hosted page, started once authorized, captured at the end.

// preparePaymentLink sets up the payment object; the checkout itself is
// created by a job (a provider call never runs inside a transaction) that
// fills in the URL.
func (s *Service) preparePaymentLink(ctx context.Context, tx *store.Tx, x *Session, cfg org.Configurations) error {
	if s.payments == nil {
		return errNoProvider
	}
	expiry := time.Duration(cfg.PaymentExpiryTime) * time.Second
	if v, ok := x.Target["payment_expiry_time"].(float64); ok && v > 0 {
		expiry = time.Duration(v) * time.Second
	}
	exp := store.Now().Add(expiry)
	pay := x.Payment
	pay.Type, pay.Status, pay.AuthorizedAmount, pay.ExpiresAt = "anonymous", PayCreated, cfg.MinimumAmountToStartSession, &exp
	provider, err := s.provider(x.TestMode)
	if err != nil {
		return err
	}
	pay.Provider = provider.Name()
	if _, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobCheckout, Payload: ref{x.ID}, UniqueKey: "checkout:" + x.ID}); err != nil {
		return err
	}
	return s.jobs.Schedule(ctx, tx, jobs.New{Kind: jobPaymentExpiry, Payload: ref{x.ID}, UniqueKey: "payment_expiry:" + x.ID, RunAt: exp})
}

func (s *Service) enqueueCapture(ctx context.Context, tx *store.Tx, x *Session) error {
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobCapture, Payload: ref{x.ID}, UniqueKey: "capture:" + x.Payment.ID})
	return err
}

func (s *Service) enqueueCancel(ctx context.Context, tx *store.Tx, x *Session) error {
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobCancelAuth, Payload: ref{x.ID}, UniqueKey: "cancel:" + x.Payment.ID})
	return err
}

func (s *Service) enqueueExpireCheckout(ctx context.Context, tx *store.Tx, x *Session) error {
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobExpireCheckout, Payload: ref{x.ID}, UniqueKey: "expire_checkout:" + x.Payment.ID})
	return err
}

// checkoutJob creates the hosted payment page and records its URL.
func (s *Service) checkoutJob(ctx context.Context, j *jobs.Job) error {
	var r ref
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	x, err := s.loadForJob(ctx, r.Session)
	if err != nil || x.Status != StatusCreated || x.Payment.providerCheckoutID != "" {
		return err
	}
	provider, err := s.provider(x.TestMode)
	if err != nil {
		return jobs.Permanent(err)
	}
	pay := x.Payment
	co, err := provider.CreateCheckout(ctx, payments.CheckoutRequest{IdempotencyKey: "checkout:" + pay.ID, Purpose: "session", Reference: x.ID,
		OrgID: x.OrgID, TestMode: x.TestMode, Customer: x.User, Amount: pay.AuthorizedAmount, Currency: upper(pay.Currency),
		CaptureMethod: payments.CaptureManual, ExpiresAt: *pay.ExpiresAt, Description: "Charging session authorization"})
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, r.Session)
		if err != nil {
			return err
		}
		x.Payment.URL, x.Payment.providerCheckoutID, x.Payment.providerPaymentID = co.URL, co.ID, co.PaymentID
		if err := savePayment(ctx, tx, x.Payment); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.updated")
	})
}

// captureJob takes the final cost of a payment-link session from its
// authorization and releases the rest.
func (s *Service) captureJob(ctx context.Context, j *jobs.Job) error {
	var r ref
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	x, err := s.loadForJob(ctx, r.Session)
	if err != nil || x.Status != StatusEnded || x.Payment.Status != PayAuthorized {
		return err
	}
	provider, err := s.provider(x.TestMode)
	if err != nil {
		return err
	}
	pay := x.Payment
	amount := min(*x.Cost.Amount, pay.AuthorizedAmount)
	var res *payments.Payment
	if amount > 0 {
		res, err = provider.Capture(ctx, "capture:"+pay.ID, pay.providerPaymentID, amount)
	} else {
		res, err = provider.Cancel(ctx, "cancel:"+pay.ID, pay.providerPaymentID)
	}
	if err != nil && !declined(err) {
		return err // retried with the same key: captured at most once
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err2 := loadAny(ctx, tx, r.Session)
		if err2 != nil || x.Status != StatusEnded || x.Payment.Status != PayAuthorized {
			return err2
		}
		pay := x.Payment
		if err != nil {
			pay.Status = PayFailed
			pay.FailureCode, pay.FailureMessage = failureOf(res, err)
			return s.complete(ctx, tx, x)
		}
		pay.Status, pay.CapturedAmount = PaySucceeded, res.Captured
		if *x.Cost.Amount > pay.AuthorizedAmount {
			pay.FailureCode = "cost_exceeds_authorization"
			pay.FailureMessage = fmt.Sprintf("the cost %d exceeded the authorization %d", *x.Cost.Amount, pay.AuthorizedAmount)
		}
		if err := s.bookRevenue(ctx, tx, x, res.Captured, "capture:"+pay.ID); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, x, "session.payment.captured"); err != nil {
			return err
		}
		return s.complete(ctx, tx, x)
	})
}

// cancelAuthJob releases the authorization of a session that never ran.
func (s *Service) cancelAuthJob(ctx context.Context, j *jobs.Job) error {
	var r ref
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	x, err := s.loadForJob(ctx, r.Session)
	if err != nil || x.Payment.Status != PayAuthorized || charging(x.Status) || x.Status == StatusEnded {
		return err
	}
	provider, err := s.provider(x.TestMode)
	if err != nil {
		return err
	}
	if _, err := provider.Cancel(ctx, "cancel:"+x.Payment.ID, x.Payment.providerPaymentID); err != nil && !errors.Is(err, payments.ErrInvalid) {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, r.Session)
		if err != nil || x.Payment.Status != PayAuthorized || charging(x.Status) || x.Status == StatusEnded {
			return err
		}
		x.Payment.Status = PayCanceled
		if err := savePayment(ctx, tx, x.Payment); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.payment.canceled")
	})
}

// expireCheckoutJob closes the hosted page of a session given up before
// it was paid.
func (s *Service) expireCheckoutJob(ctx context.Context, j *jobs.Job) error {
	var r ref
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	x, err := s.loadForJob(ctx, r.Session)
	if err != nil || x.Payment.providerCheckoutID == "" {
		return err
	}
	provider, err := s.provider(x.TestMode)
	if err != nil {
		return err
	}
	err = provider.ExpireCheckout(ctx, "expire:"+x.Payment.ID, x.Payment.providerCheckoutID)
	if errors.Is(err, payments.ErrAlreadyPaid) {
		return nil // its authorization notification releases it
	}
	return err
}

// paymentExpiryJob expires a payment link that was not paid in time.
func (s *Service) paymentExpiryJob(ctx context.Context, j *jobs.Job) error {
	var r ref
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, r.Session)
		if err != nil || x.Status != StatusCreated || x.Payment.Status != PayCreated {
			return err
		}
		x.Payment.Status, x.Status, x.FailureReason = PayExpired, StatusFailed, "the payment link expired before it was paid"
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		if err := s.enqueueExpireCheckout(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.payment.expired")
	})
}

// HandleNotification applies a provider's word on a session's hosted page,
// inside the transaction that completes the notification's delivery.
func (s *Service) HandleNotification(ctx context.Context, tx *store.Tx, n payments.Notification) error {
	x, err := loadAny(ctx, tx, n.Reference)
	if err != nil {
		return err
	}
	pay := x.Payment
	switch n.Type {
	case "checkout.completed":
		if pay.Status != PayCreated {
			if (pay.Status == PayExpired || pay.Status == PayCanceled) && n.Payment != nil {
				// Paid after we gave up: record the authorization and give
				// the money back.
				pay.providerPaymentID, pay.Status = n.Payment.ID, PayAuthorized
				if err := savePayment(ctx, tx, pay); err != nil {
					return err
				}
				return s.enqueueCancel(ctx, tx, x)
			}
			return nil
		}
		if n.Payment != nil {
			pay.providerPaymentID = n.Payment.ID
			if n.Payment.Amount > 0 {
				pay.AuthorizedAmount = n.Payment.Amount
			}
		}
		pay.Status = PayAuthorized
		if _, err := s.jobs.Cancel(ctx, tx, "payment_expiry:"+x.ID); err != nil {
			return err
		}
		o, err := org.Get(ctx, tx, x.OrgID)
		if err != nil {
			return err
		}
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, x, "session.payment.authorized"); err != nil {
			return err
		}
		// Start attempts run inside the start window (spec 001).
		window := time.Duration(o.Configurations.StartWindow) * time.Second
		if err := s.scheduleStart(ctx, tx, x, window); err != nil {
			return err
		}
		return nil
	case "checkout.canceled":
		if pay.Status != PayCreated {
			return nil
		}
		pay.Status, x.Status, x.FailureReason = PayCanceled, StatusCanceled, "the driver canceled the payment"
		if _, err := s.jobs.Cancel(ctx, tx, "payment_expiry:"+x.ID); err != nil {
			return err
		}
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.canceled")
	case "checkout.failed":
		if pay.Status != PayCreated {
			return nil
		}
		// A declined card: the driver may try another until the link expires.
		if n.Payment != nil {
			pay.FailureCode, pay.FailureMessage = n.Payment.FailureCode, n.Payment.FailureMessage
		}
		return savePayment(ctx, tx, pay)
	case "checkout.expired":
		if pay.Status != PayCreated {
			return nil
		}
		pay.Status, x.Status, x.FailureReason = PayExpired, StatusFailed, "the payment link expired before it was paid"
		if _, err := s.jobs.Cancel(ctx, tx, "payment_expiry:"+x.ID); err != nil {
			return err
		}
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.payment.expired")
	}
	return nil
}
