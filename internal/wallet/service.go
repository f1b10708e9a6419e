package wallet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
)

// Options configure a Service.
type Options struct {
	// BaseURL is Joule's public URL (the return pages of live checkouts).
	BaseURL string
	// UserUpdated emits user.updated for a user whose saved payment methods
	// changed, inside tx (users.Service.Touch; users imports this package,
	// so the app wires it).
	UserUpdated func(ctx context.Context, tx *store.Tx, p org.Principal, userID string) error
	// ChargeWait bounds how long POST /v1/top_up waits for a stored-card
	// charge to finish before answering with the top-up still created
	// (default 5 s).
	ChargeWait time.Duration
	Logger     *slog.Logger
}

// Service runs what moves money into and out of wallets: top-ups (hosted
// page, stored card, automatic), saved payment methods, operator adjustments
// and the wallet.updated events of every balance change.
type Service struct {
	db   *store.DB
	out  *events.Outbox
	jobs *jobs.Queue
	pay  *payments.Service
	opt  Options
	log  *slog.Logger

	mu      sync.Mutex
	waiting map[string][]chan struct{} // top-up id -> requests waiting for its charge
}

// Job kinds.
const (
	jobCharge    = "wallet.top_up.charge"
	jobExpire    = "wallet.top_up.expire"
	jobRefund    = "wallet.top_up.refund"
	jobAutoTopUp = "wallet.auto_top_up"
)

// PurposeTopUp is the payments purpose of top-up checkouts and charges.
const PurposeTopUp = "top_up"

// NewService builds the service and registers its jobs on q and its
// notification handler on pay.
func NewService(db *store.DB, out *events.Outbox, q *jobs.Queue, pay *payments.Service, opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ChargeWait <= 0 {
		opt.ChargeWait = 5 * time.Second
	}
	s := &Service{db: db, out: out, jobs: q, pay: pay, opt: opt, log: opt.Logger, waiting: map[string][]chan struct{}{}}
	q.Handle(jobCharge, s.runCharge)
	q.Handle(jobExpire, s.runExpire)
	q.Handle(jobRefund, s.runRefund)
	q.Handle(jobAutoTopUp, s.runAutoTopUp)
	pay.OnNotification(PurposeTopUp, s.onNotification)
	return s
}

// byID reads a wallet of any organization with its balances (for jobs and
// hooks, which act for the wallet's own organization).
func byID(ctx context.Context, q store.Querier, walletID string, lock bool) (Wallet, error) {
	suffix := ""
	if tx, ok := q.(*store.Tx); ok && lock {
		suffix = tx.DB.ForUpdate()
	}
	w, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM wallets WHERE id = $1`+suffix, walletID))
	if err != nil {
		return w, fmt.Errorf("wallet: %s: %w", walletID, err)
	}
	return withBalance(ctx, q, w)
}

func principalOf(orgID string, testMode bool) org.Principal {
	return org.Principal{OrgID: orgID, TestMode: testMode}
}

// AfterChange must be called in the transaction of every ledger transfer or
// hold that changes a wallet's balance or available balance (a session's
// hold, capture or release, a top-up, an adjustment): it emits
// wallet.updated with the new balances and, when automatic top-up is active
// and the available balance fell below its threshold, enqueues one automatic
// top-up (a unique job key, and at most one auto top-up in flight per
// wallet, so calling it after every debit is cheap and safe).
func (s *Service) AfterChange(ctx context.Context, tx *store.Tx, walletID string) error {
	w, err := byID(ctx, tx, walletID, false)
	if err != nil {
		return err
	}
	w.UpdatedAt = store.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE wallets SET updated_at = $1 WHERE id = $2`, w.UpdatedAt, w.ID); err != nil {
		return fmt.Errorf("wallet: touch %s: %w", w.ID, err)
	}
	if _, err := s.out.Emit(ctx, tx, w.OrgID, w.TestMode, "wallet.updated", "wallet", w.ID, w); err != nil {
		return err
	}
	return s.maybeAutoTopUp(ctx, tx, w)
}

// wait registers interest in a top-up's charge outcome; call the returned
// function to unregister.
func (s *Service) wait(topUpID string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.waiting[topUpID] = append(s.waiting[topUpID], ch)
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		chs := s.waiting[topUpID]
		for i, c := range chs {
			if c == ch {
				s.waiting[topUpID] = append(chs[:i], chs[i+1:]...)
				break
			}
		}
		if len(s.waiting[topUpID]) == 0 {
			delete(s.waiting, topUpID)
		}
	}
}

// wake tells this process's waiters that a top-up's charge has an outcome
// (a charge recorded by another node is seen when the wait times out).
func (s *Service) wake(topUpID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.waiting[topUpID] {
		close(ch)
	}
	delete(s.waiting, topUpID)
}

// notFound reports whether err is a missing row.
func notFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }
