// Package wallet decides what a user's wallet holds: one wallet per user and
// currency, whose balance lives in the ledger (a credit-normal account with
// the wallet's id that can never go below zero).
package wallet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// AutoTopUp configures automatic top-ups below a threshold.
type AutoTopUp struct {
	Active        bool    `json:"active"`
	PaymentMethod *string `json:"payment_method"`
	Amount        int64   `json:"amount" doc:"Cents charged and credited per automatic top-up"`
	Threshold     int64   `json:"threshold" doc:"Top up when the available balance falls below this many cents"`
}

// Wallet is a user's balance in one currency (spec 002). Amounts are cents.
type Wallet struct {
	ID               string    `json:"_id"`
	User             string    `json:"user"`
	TestMode         bool      `json:"test_mode"`
	Balance          int64     `json:"balance" doc:"Posted balance in cents"`
	AvailableBalance int64     `json:"available_balance" doc:"Balance minus active holds (running sessions), in cents"`
	Currency         string    `json:"currency"`
	AutoTopUp        AutoTopUp `json:"auto_top_up"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`

	OrgID string `json:"-"`
}

const cols = `id, org_id, user_id, test_mode, currency, auto_top_up, created_at, updated_at`

func scan(s interface{ Scan(...any) error }) (Wallet, error) {
	var w Wallet
	var atu string
	if err := s.Scan(&w.ID, &w.OrgID, &w.User, &w.TestMode, &w.Currency, &atu, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return w, err
	}
	return w, store.FromJSON(atu, &w.AutoTopUp)
}

// withBalance fills the balances from the wallet's ledger account.
func withBalance(ctx context.Context, q store.Querier, w Wallet) (Wallet, error) {
	a, err := ledger.GetAccount(ctx, q, w.ID)
	if err != nil {
		return w, fmt.Errorf("wallet %s: balance: %w", w.ID, err)
	}
	w.Balance, w.AvailableBalance = a.Balance(), a.Available()
	return w, nil
}

// Ensure returns the user's wallet in currency, creating it (and its ledger
// account) when missing; created reports which.
func Ensure(ctx context.Context, tx *store.Tx, p org.Principal, userID, currency string) (w Wallet, created bool, err error) {
	w, err = scan(tx.QueryRowContext(ctx, `SELECT `+cols+` FROM wallets WHERE user_id = $1 AND currency = $2 AND org_id = $3 AND test_mode = $4`,
		userID, currency, p.OrgID, p.TestMode))
	if err == nil {
		w, err = withBalance(ctx, tx, w)
		return w, false, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return w, false, fmt.Errorf("wallet: find for user %s: %w", userID, err)
	}
	now := store.Now()
	w = Wallet{ID: id.New(), OrgID: p.OrgID, User: userID, TestMode: p.TestMode, Currency: currency, CreatedAt: now, UpdatedAt: now}
	if _, err := ledger.CreateAccount(ctx, tx, ledger.Account{ID: w.ID, OrgID: p.OrgID, TestMode: p.TestMode, Kind: ledger.AccountWallet,
		Currency: currency, Flags: ledger.Flags{DebitsMustNotExceedCredits: true}}); err != nil {
		return w, false, fmt.Errorf("wallet: ledger account: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO wallets (id, org_id, test_mode, user_id, currency, auto_top_up, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$7)`, w.ID, p.OrgID, p.TestMode, userID, currency, store.JSON(w.AutoTopUp), now)
	if err != nil {
		return w, false, fmt.Errorf("wallet: create for user %s: %w", userID, err)
	}
	return w, true, nil
}

// ForUser returns the user's oldest wallet, or nil when the user has none.
func ForUser(ctx context.Context, q store.Querier, p org.Principal, userID string) (*Wallet, error) {
	w, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM wallets WHERE user_id = $1 AND org_id = $2 AND test_mode = $3 ORDER BY id LIMIT 1`,
		userID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: for user %s: %w", userID, err)
	}
	w, err = withBalance(ctx, q, w)
	return &w, err
}

// Get returns a wallet of the principal's organization and mode.
func Get(ctx context.Context, q store.Querier, p org.Principal, walletID string) (Wallet, error) {
	w, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM wallets WHERE id = $1 AND org_id = $2 AND test_mode = $3`, walletID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return w, apperr.NotFoundf("wallet", walletID)
	}
	if err != nil {
		return w, fmt.Errorf("wallet: get %s: %w", walletID, err)
	}
	return withBalance(ctx, q, w)
}
