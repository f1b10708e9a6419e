package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/store"
)

const accountCols = `id, org_id, test_mode, kind, currency,
	debits_must_not_exceed_credits, credits_must_not_exceed_debits,
	debits_posted, credits_posted, debits_pending, credits_pending, last_seq, created_at`

// CreateAccount creates an account with zero totals. An empty a.ID gets a
// fresh id. Creating an account whose id exists with the same org, mode,
// kind, currency and flags returns the existing one, so callers may create
// accounts idempotently with ids derived from their own (e.g. the wallet id);
// other fields fail with ErrAccountConflict.
func CreateAccount(ctx context.Context, tx *store.Tx, a Account) (Account, error) {
	if a.ID == "" {
		a.ID = id.New()
	}
	if err := validateAccount(a); err != nil {
		return Account{}, fmt.Errorf("ledger: create account %s: %w", a.ID, err)
	}
	// ON CONFLICT DO NOTHING rather than a prior SELECT: two concurrent
	// creations of the same id then both succeed (PostgreSQL makes the
	// second wait for the first to commit) instead of one failing.
	_, err := tx.ExecContext(ctx, `INSERT INTO ledger_accounts (`+accountCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,0,0,0,0,0,$8) ON CONFLICT (id) DO NOTHING`,
		a.ID, a.OrgID, a.TestMode, a.Kind, a.Currency,
		a.Flags.DebitsMustNotExceedCredits, a.Flags.CreditsMustNotExceedDebits, store.Now())
	if err != nil {
		return Account{}, fmt.Errorf("ledger: create account %s: %w", a.ID, err)
	}
	got, err := getAccount(ctx, tx, a.ID)
	if err != nil {
		return Account{}, fmt.Errorf("ledger: create account %s: %w", a.ID, err)
	}
	if got.OrgID != a.OrgID || got.TestMode != a.TestMode || got.Kind != a.Kind ||
		got.Currency != a.Currency || got.Flags != a.Flags {
		return Account{}, fmt.Errorf("ledger: create account %s: %w", a.ID, ErrAccountConflict)
	}
	return got, nil
}

// SystemAccount returns the organization's account of the given kind and
// currency in that mode (provider clearing, promotions, revenue, ...),
// creating it on first use. Its id is derived from its key, e.g.
// "provider_clearing:<org>:test:USD", so every caller finds the same one. It
// has no flags: such accounts go negative by design.
func SystemAccount(ctx context.Context, tx *store.Tx, orgID string, testMode bool, kind, currency string) (Account, error) {
	mode := "live"
	if testMode {
		mode = "test"
	}
	accountID := kind + ":" + orgID + ":" + mode + ":" + currency
	// Read first: the account exists but for its very first use, and a
	// session's end books to two of them.
	if a, err := getAccount(ctx, tx, accountID); err == nil {
		return a, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Account{}, fmt.Errorf("ledger: account %s: %w", accountID, err)
	}
	return CreateAccount(ctx, tx, Account{
		ID:       accountID,
		OrgID:    orgID,
		TestMode: testMode,
		Kind:     kind,
		Currency: currency,
	})
}

// GetAccount reads an account and its totals.
func GetAccount(ctx context.Context, q store.Querier, accountID string) (Account, error) {
	a, err := getAccount(ctx, q, accountID)
	if err != nil {
		return Account{}, fmt.Errorf("ledger: account %s: %w", accountID, err)
	}
	return a, nil
}

func getAccount(ctx context.Context, q store.Querier, accountID string) (Account, error) {
	return scanAccount(q.QueryRowContext(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id = $1`, accountID))
}

// lockAccount reads an account for update: on PostgreSQL the row stays
// locked until the transaction ends, so the totals read here are the ones
// the transfer's checks and updates build on.
func lockAccount(ctx context.Context, tx *store.Tx, accountID string) (Account, error) {
	a, err := scanAccount(tx.QueryRowContext(ctx,
		`SELECT `+accountCols+` FROM ledger_accounts WHERE id = $1`+tx.DB.ForUpdate(), accountID))
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", accountID, err)
	}
	return a, nil
}

func scanAccount(row *sql.Row) (Account, error) {
	var a Account
	err := row.Scan(&a.ID, &a.OrgID, &a.TestMode, &a.Kind, &a.Currency,
		&a.Flags.DebitsMustNotExceedCredits, &a.Flags.CreditsMustNotExceedDebits,
		&a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending, &a.LastSeq, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	return a, err
}

func validateAccount(a Account) error {
	switch {
	case len(a.ID) > MaxIDLength:
		return fmt.Errorf("id longer than %d: %w", MaxIDLength, ErrInvalid)
	case a.OrgID == "":
		return fmt.Errorf("org_id is required: %w", ErrInvalid)
	case a.Kind == "":
		return fmt.Errorf("kind is required: %w", ErrInvalid)
	case !validCurrency(a.Currency):
		return fmt.Errorf("currency %q is not an ISO 4217 code: %w", a.Currency, ErrInvalid)
	case a.Flags.DebitsMustNotExceedCredits && a.Flags.CreditsMustNotExceedDebits:
		return fmt.Errorf("flags are mutually exclusive: %w", ErrInvalid)
	case a.DebitsPosted != 0 || a.CreditsPosted != 0 || a.DebitsPending != 0 || a.CreditsPending != 0:
		// Opening balances are transfers too, or the ledger would not sum to zero.
		return fmt.Errorf("totals must start at zero; post an opening transfer: %w", ErrInvalid)
	}
	return nil
}

// validCurrency accepts the shape of an ISO 4217 code (three upper-case
// letters), which is all the ledger relies on: equal codes, equal units.
func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// violation reports which flag the account's totals break, if any.
func (a *Account) violation() error {
	if a.Flags.DebitsMustNotExceedCredits && a.DebitsPosted+a.DebitsPending > a.CreditsPosted {
		return fmt.Errorf("account %s would have %d available: %w", a.ID, a.Available(), ErrInsufficientFunds)
	}
	if a.Flags.CreditsMustNotExceedDebits && a.CreditsPosted+a.CreditsPending > a.DebitsPosted {
		return fmt.Errorf("account %s credits would exceed its debits by %d: %w",
			a.ID, a.CreditsPosted+a.CreditsPending-a.DebitsPosted, ErrInsufficientFunds)
	}
	return nil
}
