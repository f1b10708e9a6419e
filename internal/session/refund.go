package session

import (
	"context"
	"fmt"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

const jobRefund = "session.refund"

type refundRef struct {
	Session string `json:"session"`
	Refund  string `json:"refund"`
	Amount  int64  `json:"amount"`
}

// Refund returns amount cents (0: all that is left) of a completed session's
// payment: to the wallet at once, or through the provider by a job.
func (s *Service) Refund(ctx context.Context, p org.Principal, sessionID string, amount int64, reason string) (*Session, error) {
	var x *Session
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if x, err = load(ctx, tx, tx.DB.ForUpdate(), p, sessionID); err != nil {
			return err
		}
		pay := x.Payment
		if (x.Status != StatusCompleted && x.Status != StatusRefunded) || pay == nil || (pay.Status != PaySucceeded && pay.Status != PayRefunded) {
			return apperr.Newf(apperr.Conflict, "session_not_refundable", "Only a completed, paid session can be refunded (status %s)", x.Status)
		}
		var pending int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM session_refunds WHERE session_id = $1 AND status = 'pending'`, x.ID).Scan(&pending); err != nil {
			return fmt.Errorf("session: pending refunds: %w", err)
		}
		left := pay.CapturedAmount - pay.RefundedAmount - pending
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return apperr.Newf(apperr.Invalid, "refund_exceeds_captured", "At most %d cents of this payment can still be refunded", max(left, 0))
		}
		refundID := id.New()
		now := store.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO session_refunds (id, session_id, amount, reason, status, failure, created_at, updated_at)
			VALUES ($1,$2,$3,$4,'pending','',$5,$5)`, refundID, x.ID, amount, reason, now); err != nil {
			return fmt.Errorf("session: record refund: %w", err)
		}
		if x.Type == TypeWallet {
			return s.applyRefund(ctx, tx, x, refundID, amount)
		}
		_, err = s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobRefund, Payload: refundRef{x.ID, refundID, amount}, UniqueKey: "refund:" + refundID})
		return err
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// applyRefund books a refund that has happened: the money leaves revenue
// for the wallet, or for the provider's clearing account.
func (s *Service) applyRefund(ctx context.Context, tx *store.Tx, x *Session, refundID string, amount int64) error {
	p := x.principal()
	cur := upper(x.currency)
	revenue, err := ledger.SystemAccount(ctx, tx, p.OrgID, p.TestMode, ledger.AccountRevenue, cur)
	if err != nil {
		return err
	}
	to := x.Payment.providerPaymentID // the wallet
	if x.Type != TypeWallet {
		clearing, err := ledger.SystemAccount(ctx, tx, p.OrgID, p.TestMode, ledger.AccountProviderClearing, cur)
		if err != nil {
			return err
		}
		to = clearing.ID
	}
	if _, err := ledger.CreateTransfer(ctx, tx, ledger.TransferRequest{ID: "refund:" + refundID, DebitAccountID: revenue.ID, CreditAccountID: to,
		Amount: amount, Currency: cur, Kind: ledger.TransferRefund, ReferenceType: "session", ReferenceID: x.ID, Description: "Session refund"}); err != nil {
		return fmt.Errorf("session: book refund: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE session_refunds SET status = 'succeeded', updated_at = $1 WHERE id = $2`, store.Now(), refundID); err != nil {
		return err
	}
	x.Payment.RefundedAmount += amount
	x.Payment.Status, x.Status = PayRefunded, StatusRefunded
	if err := save(ctx, tx, x); err != nil {
		return err
	}
	if x.Type == TypeWallet {
		if err := s.walletUpdated(ctx, tx, p, to); err != nil {
			return err
		}
	}
	return s.emit(ctx, tx, x, "session.payment.refunded")
}

// refundJob refunds through the provider, with the refund's id as the
// idempotency key: retried after a timeout, it refunds once.
func (s *Service) refundJob(ctx context.Context, j *jobs.Job) error {
	var r refundRef
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	x, err := s.loadForJob(ctx, r.Session)
	if err != nil {
		return err
	}
	provider, err := s.provider(x.TestMode)
	if err != nil {
		return err
	}
	_, callErr := provider.Refund(ctx, "refund:"+r.Refund, x.Payment.providerPaymentID, r.Amount)
	if callErr != nil && !declined(callErr) {
		return callErr
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, r.Session)
		if err != nil {
			return err
		}
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM session_refunds WHERE id = $1`, r.Refund).Scan(&status); err != nil || status != "pending" {
			return err
		}
		if callErr != nil {
			_, err := tx.ExecContext(ctx, `UPDATE session_refunds SET status = 'failed', failure = $1, updated_at = $2 WHERE id = $3`, callErr.Error(), store.Now(), r.Refund)
			if err != nil {
				return err
			}
			return s.emit(ctx, tx, x, "session.updated")
		}
		return s.applyRefund(ctx, tx, x, r.Refund, r.Amount)
	})
}
