package wallet

import (
	"context"
	"errors"
	"fmt"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
)

// onNotification acts on the outcome of a top-up's hosted page.
func (s *Service) onNotification(ctx context.Context, tx *store.Tx, n payments.Notification) error {
	t, err := topUp(ctx, tx, n.Reference, true)
	if notFound(err) {
		return jobs.Permanent(fmt.Errorf("wallet: %s for unknown top-up %s", n.Type, n.Reference))
	}
	if err != nil {
		return err
	}
	if t.OrgID != n.OrgID || t.TestMode != n.TestMode {
		return jobs.Permanent(fmt.Errorf("wallet: %s for top-up %s of another organization or mode", n.Type, t.ID))
	}
	switch n.Type {
	case payments.CheckoutCompleted:
		return s.paid(ctx, tx, &t, n.Payment, n.SavedMethod)
	case payments.CheckoutFailed:
		// The page stays open for another card (spec 004: an unpaid top-up
		// ends by expiring); the attempt's reason is kept for the app.
		if t.Status != StatusCreated || n.Payment == nil {
			return nil
		}
		t.FailureCode, t.FailureMessage = n.Payment.FailureCode, n.Payment.FailureMessage
		return s.setStatus(ctx, tx, &t, StatusCreated)
	case payments.CheckoutExpired:
		if t.Status != StatusCreated {
			return nil
		}
		return s.setStatus(ctx, tx, &t, StatusExpired)
	case payments.CheckoutCanceled:
		if t.Status != StatusCreated {
			return nil
		}
		t.FailureCode, t.FailureMessage = "canceled", "The driver canceled the payment."
		return s.setStatus(ctx, tx, &t, StatusFailed)
	}
	return nil // payment.* changes made at the provider: top-ups take the money at once and need none
}

// paid records money the provider took for a top-up (t locked in tx). A
// created top-up is credited and completed; a completed one was credited by
// an earlier delivery of the same outcome. A top-up that had already ended
// (expired, failed) gets the money back: a refund job returns it, and the
// top-up keeps its status, so an app never sees a top-up come back to life.
func (s *Service) paid(ctx context.Context, tx *store.Tx, t *TopUp, pay *payments.Payment, saved *payments.Method) error {
	if pay == nil || pay.Status != payments.StatusCaptured || pay.Captured != t.Amount || pay.Currency != t.Currency {
		// Never credit what the provider does not confirm; leave the job
		// discarded and logged for an operator to look at.
		return jobs.Permanent(fmt.Errorf("wallet: top-up %s: the provider reports %+v, not a capture of %d %s", t.ID, pay, t.Amount, t.Currency))
	}
	if saved != nil {
		if _, err := s.saveMethod(ctx, tx, principalOf(t.OrgID, t.TestMode), t.User, t.Provider, *saved); err != nil {
			return err
		}
	}
	switch t.Status {
	case StatusCompleted:
		return nil
	case StatusCreated:
		t.PaymentID = pay.ID
		return s.credit(ctx, tx, t)
	}
	s.log.Warn("wallet: payment for an ended top-up; refunding it", "top_up", t.ID, "status", t.Status, "payment", pay.ID)
	if _, err := tx.ExecContext(ctx, `UPDATE top_ups SET payment_id = $1, updated_at = $2 WHERE id = $3`, pay.ID, store.Now(), t.ID); err != nil {
		return fmt.Errorf("wallet: top-up %s: record late payment: %w", t.ID, err)
	}
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobRefund, Payload: topUpJob{t.ID}, UniqueKey: "topup.refund:" + t.ID})
	return err
}

// runCharge charges a stored-card or automatic top-up off-session, outside
// any transaction, with the idempotency key topup:<id>, then records the
// outcome in one transaction with the job's completion. A provider that does
// not answer is asked again with the same key (it cannot charge twice).
//
// If the top-up expired meanwhile, a first attempt charges nothing. A later
// attempt may follow one whose answer was lost, so it asks the provider with
// the same key to learn that outcome; a success then lands on an ended
// top-up and is refunded (paid).
func (s *Service) runCharge(ctx context.Context, j *jobs.Job) error {
	var pl topUpJob
	if err := j.Decode(&pl); err != nil {
		return jobs.Permanent(err)
	}
	t, err := topUp(ctx, s.db.Q(), pl.TopUp, false)
	if err != nil {
		return err
	}
	if t.Status != StatusCreated && j.Attempt == 1 {
		return nil
	}
	p := principalOf(t.OrgID, t.TestMode)
	method, merr := resolveMethod(ctx, s.db.Q(), p, t.User, deref(t.PaymentMethod), "payment_method")
	if _, gone := apperr.As(merr); merr != nil && !gone {
		return merr // the database, not the method: retry
	}
	prov, err := s.pay.Provider(t.TestMode)
	if err != nil {
		return err
	}
	var pay *payments.Payment
	if merr == nil {
		pay, err = prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: "topup:" + t.ID, OrgID: t.OrgID, TestMode: t.TestMode,
			Customer: method.Customer, PaymentMethod: method.Token, Amount: t.Amount, Currency: t.Currency, CaptureMethod: payments.CaptureAutomatic,
			Description: "Wallet top-up", Purpose: PurposeTopUp, Reference: t.ID})
	}
	var code, msg string
	switch {
	case merr != nil:
		// The saved method was deleted after the top-up was created.
		code, msg = "payment_method_unavailable", "The payment method is no longer saved."
	case errors.Is(err, payments.ErrDeclined):
		code, msg = payments.CodeCardDeclined, payments.DeclineMessage(payments.CodeCardDeclined)
		if pay != nil && pay.FailureCode != "" {
			code, msg = pay.FailureCode, pay.FailureMessage
		}
	case errors.Is(err, payments.ErrInvalid), errors.Is(err, payments.ErrNotFound):
		s.log.Error("wallet: top-up charge refused by the provider", "top_up", t.ID, "err", err)
		code, msg = payments.CodeProcessingError, "The payment provider refused the charge."
	case err != nil:
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := topUp(ctx, tx, t.ID, true)
		if err != nil {
			return err
		}
		if code == "" {
			if err := s.paid(ctx, tx, &t, pay, nil); err != nil {
				return err
			}
		} else if t.Status == StatusCreated {
			t.FailureCode, t.FailureMessage = code, msg
			if err := s.setStatus(ctx, tx, &t, StatusFailed); err != nil {
				return err
			}
			if t.Type == TypeAuto {
				if err := s.disableAutoTopUp(ctx, tx, t.Wallet); err != nil {
					return err
				}
			}
		}
		tx.AfterCommit(func() { s.wake(t.ID) })
		return j.CompleteIn(ctx, tx)
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// runExpire is a top-up's expiry timer. A hosted page is expired at the
// provider first: the provider decides the race between the driver paying
// and the timer (a page is either paid or expired, never both). If it was
// paid, the completion is already on its way as a notification and the
// top-up is left to it; otherwise the top-up expires (top_up.expired).
func (s *Service) runExpire(ctx context.Context, j *jobs.Job) error {
	var pl topUpJob
	if err := j.Decode(&pl); err != nil {
		return jobs.Permanent(err)
	}
	t, err := topUp(ctx, s.db.Q(), pl.TopUp, false)
	if err != nil || t.Status != StatusCreated {
		return err
	}
	if t.CheckoutID != "" {
		prov, err := s.pay.Provider(t.TestMode)
		if err != nil {
			return err
		}
		err = prov.ExpireCheckout(ctx, "expire:topup:"+t.ID, t.CheckoutID)
		if errors.Is(err, payments.ErrAlreadyPaid) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := topUp(ctx, tx, t.ID, true)
		if err != nil {
			return err
		}
		if t.Status == StatusCreated {
			if err := s.setStatus(ctx, tx, &t, StatusExpired); err != nil {
				return err
			}
		}
		return j.CompleteIn(ctx, tx)
	})
}

// runRefund returns a payment that arrived for an ended top-up, keyed
// refund:topup:<id>.
func (s *Service) runRefund(ctx context.Context, j *jobs.Job) error {
	var pl topUpJob
	if err := j.Decode(&pl); err != nil {
		return jobs.Permanent(err)
	}
	t, err := topUp(ctx, s.db.Q(), pl.TopUp, false)
	if err != nil {
		return err
	}
	if t.PaymentID == "" || t.Refunded >= t.Amount {
		return nil
	}
	prov, err := s.pay.Provider(t.TestMode)
	if err != nil {
		return err
	}
	if _, err := prov.Refund(ctx, "refund:topup:"+t.ID, t.PaymentID, t.Amount); err != nil {
		if errors.Is(err, payments.ErrInvalid) {
			return jobs.Permanent(err)
		}
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE top_ups SET refunded = $1, updated_at = $2 WHERE id = $3`, t.Amount, store.Now(), t.ID); err != nil {
			return fmt.Errorf("wallet: top-up %s: record refund: %w", t.ID, err)
		}
		return j.CompleteIn(ctx, tx)
	})
}
