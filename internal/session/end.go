package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/joule-ev/joule/internal/csms"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/tariff"
)

// end prices a session the charger has ended, writes its CDR and settles
// its payment: wallet holds are posted here, in the same transaction;
// provider payments are captured or charged by a job.
func (s *Service) end(ctx context.Context, tx *store.Tx, x *Session, t *csms.Transaction) error {
	endAt := *t.StoppedAt
	r, err := x.price(ctx, tx, endAt, *t.MeterStop, true)
	if err != nil {
		return err
	}
	if r == nil { // no periods: the transaction never reached the session
		r = &tariff.Result{Currency: x.currency}
	}
	x.Status, x.EndedAt = StatusEnded, &endAt
	for _, k := range []string{"stop_timeout:", "start_timeout:"} {
		if _, err := s.jobs.Cancel(ctx, tx, k+x.ID); err != nil {
			return err
		}
	}
	if err := s.writeCDR(ctx, tx, x, t, r); err != nil {
		return err
	}
	if err := save(ctx, tx, x); err != nil {
		return err
	}
	if err := s.emit(ctx, tx, x, "session.ended"); err != nil {
		return err
	}
	s.caps.drop(t.ID)
	if x.capped() {
		o, err := org.Get(ctx, tx, x.OrgID)
		if err != nil {
			return err
		}
		if err := s.setMeterInterval(ctx, tx, x.Chargestation, o.Configurations.MeterValueInterval); err != nil {
			return err
		}
	}
	return s.settle(ctx, tx, x)
}

// settle takes the final cost by the session's payment type.
func (s *Service) settle(ctx context.Context, tx *store.Tx, x *Session) error {
	amount := int64(0)
	if x.Cost.Amount != nil {
		amount = *x.Cost.Amount
	}
	pay := x.Payment
	switch {
	case x.Type == TypeWallet:
		return s.captureWallet(ctx, tx, x, amount)
	case x.Type == TypePaymentLink && pay.Status == PayAuthorized:
		return s.enqueueCapture(ctx, tx, x)
	case amount == 0:
		pay.Status = PaySucceeded
		return s.complete(ctx, tx, x)
	}
	return s.enqueueSettle(ctx, tx, x)
}

// complete marks a priced, settled session completed.
func (s *Service) complete(ctx context.Context, tx *store.Tx, x *Session) error {
	now := store.Now()
	x.Status, x.CompletedAt = StatusCompleted, &now
	if err := save(ctx, tx, x); err != nil {
		return err
	}
	return s.emit(ctx, tx, x, "session.completed")
}

// captureWallet posts the wallet hold for the final cost and releases the
// rest. Auto-stop keeps the cost within the hold; if a charger overran it
// anyway, the hold is taken in full and the rest is recorded as a debt (a
// wallet never goes below zero).
func (s *Service) captureWallet(ctx context.Context, tx *store.Tx, x *Session, amount int64) error {
	pay := x.Payment
	if pay.Status != PayAuthorized {
		pay.Status = PayFailed
		pay.FailureCode, pay.FailureMessage = "no_authorization", "the wallet hold was released before the session ended"
		return s.complete(ctx, tx, x)
	}
	take := min(amount, pay.AuthorizedAmount)
	var err error
	if take > 0 {
		_, err = ledger.PostHold(ctx, tx, "hold:"+pay.ID, "capture:"+pay.ID, take)
	} else {
		_, err = ledger.VoidHold(ctx, tx, "hold:"+pay.ID, "release:"+pay.ID)
	}
	if err != nil {
		return fmt.Errorf("session: settle wallet: %w", err)
	}
	pay.CapturedAmount, pay.Status = take, PaySucceeded
	if take < amount {
		pay.Status, pay.FailureCode = PayFailed, "cost_exceeds_authorization"
		pay.FailureMessage = fmt.Sprintf("the cost %d exceeded the wallet hold %d", amount, pay.AuthorizedAmount)
	}
	if err := s.emit(ctx, tx, x, "session.payment.captured"); err != nil {
		return err
	}
	if err := s.walletUpdated(ctx, tx, x.principal(), pay.providerPaymentID); err != nil {
		return err
	}
	return s.complete(ctx, tx, x)
}

// releasePayment gives back what a session that never ran had reserved.
func (s *Service) releasePayment(ctx context.Context, tx *store.Tx, x *Session) error {
	pay := x.Payment
	if pay == nil {
		return nil
	}
	switch {
	case x.Type == TypeWallet && pay.Status == PayAuthorized:
		if _, err := ledger.VoidHold(ctx, tx, "hold:"+pay.ID, "release:"+pay.ID); err != nil {
			return fmt.Errorf("session: release wallet hold: %w", err)
		}
		pay.Status = PayCanceled
		if err := s.walletUpdated(ctx, tx, x.principal(), pay.providerPaymentID); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.payment.canceled")
	case x.Type == TypePaymentLink && pay.Status == PayAuthorized:
		return s.enqueueCancel(ctx, tx, x)
	case x.Type == TypePaymentLink && pay.Status == PayCreated:
		return s.enqueueExpireCheckout(ctx, tx, x)
	case x.Type == TypePostpaid:
		pay.Status = PayCanceled
	}
	return nil
}

// reauthorize takes a payment again for a session revived by a late start.
// It reports false when it cannot (the session is then stopped at once and
// billed as far as possible).
func (s *Service) reauthorize(ctx context.Context, tx *store.Tx, x *Session) (bool, error) {
	pay := x.Payment
	switch x.Type {
	case TypePostpaid:
		pay.Status = PayPending
		return true, nil
	case TypeWallet:
		if pay.Status == PayAuthorized {
			return true, nil
		}
		acct, err := lockAccount(ctx, tx, pay.providerPaymentID)
		if err != nil {
			return false, err
		}
		if acct.Available() <= 0 {
			return false, nil
		}
		revenue, err := ledger.SystemAccount(ctx, tx, x.OrgID, x.TestMode, ledger.AccountRevenue, acct.Currency)
		if err != nil {
			return false, err
		}
		// A new hold under a new payment id: the old hold stays voided.
		pay.ID = pay.ID + "r"
		if _, err := tx.ExecContext(ctx, `UPDATE session_payments SET id = $1 WHERE session_id = $2`, pay.ID, x.ID); err != nil {
			return false, err
		}
		if _, err := ledger.CreateHold(ctx, tx, ledger.HoldRequest{TransferRequest: ledger.TransferRequest{ID: "hold:" + pay.ID,
			DebitAccountID: acct.ID, CreditAccountID: revenue.ID, Amount: acct.Available(), Currency: acct.Currency,
			Kind: ledger.TransferSessionCharge, ReferenceType: "session", ReferenceID: x.ID}}); err != nil {
			return false, err
		}
		pay.Status, pay.AuthorizedAmount = PayAuthorized, acct.Available()
		return true, s.walletUpdated(ctx, tx, x.principal(), acct.ID)
	}
	return pay.Status == PayAuthorized, nil
}

// Jobs that call payment providers: outside any transaction, with keys
// derived from the payment id, then the outcome recorded in one.

type payRef struct {
	Session string `json:"session"`
	Attempt int    `json:"attempt"`
}

func (s *Service) enqueueSettle(ctx context.Context, tx *store.Tx, x *Session) error {
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobCharge, Payload: payRef{x.ID, x.Payment.attempts}, UniqueKey: fmt.Sprintf("charge:%s:%d", x.Payment.ID, x.Payment.attempts)})
	return err
}

// chargeJob charges a postpaid session's final cost to the saved method.
func (s *Service) chargeJob(ctx context.Context, j *jobs.Job) error {
	var r payRef
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	x, err := s.loadForJob(ctx, r.Session)
	if err != nil || x.Status != StatusEnded || x.Payment.Status != PayPending {
		return err
	}
	pay := x.Payment
	provider, err := s.provider(x.TestMode)
	if err != nil {
		return s.recordCharge(ctx, x.ID, nil, err)
	}
	res, err := provider.Charge(ctx, chargeRequest(x, fmt.Sprintf("charge:%s:%d", pay.ID, pay.attempts)))
	if err != nil && !declined(err) {
		return err // unavailable: retried with the same key, so it charges at most once
	}
	return s.recordCharge(ctx, x.ID, res, err)
}

func (s *Service) loadForJob(ctx context.Context, sessionID string) (*Session, error) {
	var x *Session
	// A read: one consistent state, without taking SQLite's write lock.
	err := s.db.ReadTx(ctx, func(tx *store.Tx) error {
		var err error
		x, err = loadAny(ctx, tx, sessionID)
		return err
	})
	return x, err
}

// recordCharge stores the outcome of a postpaid charge: paid, or a debt the
// retry endpoint can charge again.
func (s *Service) recordCharge(ctx context.Context, sessionID string, res *paymentResult, chargeErr error) error {
	return s.db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error { // group commit, as a job's write
		x, err := loadAny(ctx, tx, sessionID)
		if err != nil || x.Status != StatusEnded || x.Payment.Status != PayPending {
			return err
		}
		pay := x.Payment
		if chargeErr != nil {
			pay.Status = PayFailed
			pay.FailureCode, pay.FailureMessage = failureOf(res, chargeErr)
			if err := s.emit(ctx, tx, x, "session.updated"); err != nil {
				return err
			}
			return s.complete(ctx, tx, x)
		}
		pay.Status, pay.CapturedAmount, pay.providerPaymentID, pay.Provider = PaySucceeded, res.Captured, res.ID, s.providerName(x.TestMode)
		if err := s.bookRevenue(ctx, tx, x, res.Captured, "charge:"+pay.ID); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, x, "session.payment.captured"); err != nil {
			return err
		}
		return s.complete(ctx, tx, x)
	})
}

// bookRevenue records money taken by the provider: provider clearing (what
// the provider owes us) to revenue.
func (s *Service) bookRevenue(ctx context.Context, tx *store.Tx, x *Session, amount int64, transferID string) error {
	if amount <= 0 {
		return nil
	}
	p := x.principal()
	cur := upper(x.currency)
	clearing, err := ledger.SystemAccount(ctx, tx, p.OrgID, p.TestMode, ledger.AccountProviderClearing, cur)
	if err != nil {
		return err
	}
	revenue, err := ledger.SystemAccount(ctx, tx, p.OrgID, p.TestMode, ledger.AccountRevenue, cur)
	if err != nil {
		return err
	}
	_, err = ledger.CreateTransfer(ctx, tx, ledger.TransferRequest{ID: transferID, DebitAccountID: clearing.ID, CreditAccountID: revenue.ID,
		Amount: amount, Currency: cur, Kind: ledger.TransferSessionCharge, ReferenceType: "session", ReferenceID: x.ID, Description: "Charging session"})
	return err
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

var errNoProvider = errors.New("session: no payment provider configured")

func (s *Service) providerName(testMode bool) string {
	if p, err := s.provider(testMode); err == nil {
		return p.Name()
	}
	return ""
}
