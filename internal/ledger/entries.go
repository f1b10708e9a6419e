package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/joule-ev/joule/internal/store"
)

// MaxEntriesLimit bounds one page of Entries.
const MaxEntriesLimit = 1000

// Entries lists an account's activity newest first, at most limit entries
// (1..MaxEntriesLimit). after is a cursor: "" for the newest entries, or the
// transfer id of the last entry of the previous page (as Stripe's
// starting_after) for the ones before it. Entries are numbered per account
// in commit order, so pages never skip or repeat an entry even while
// transfers are being added.
func Entries(ctx context.Context, q store.Querier, accountID, after string, limit int) ([]Entry, error) {
	if limit < 1 || limit > MaxEntriesLimit {
		return nil, fmt.Errorf("ledger: entries of %s: limit %d is not within 1..%d: %w", accountID, limit, MaxEntriesLimit, ErrInvalid)
	}
	if _, err := getAccount(ctx, q, accountID); err != nil {
		return nil, fmt.Errorf("ledger: entries of %s: %w", accountID, err)
	}
	before := int64(math.MaxInt64)
	if after != "" {
		err := q.QueryRowContext(ctx, `SELECT seq FROM ledger_entries WHERE account_id = $1 AND transfer_id = $2`,
			accountID, after).Scan(&before)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("ledger: entries of %s: cursor %s: %w", accountID, after, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: entries of %s: cursor %s: %w", accountID, after, err)
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT t.id, t.org_id, t.test_mode, t.debit_account_id, t.credit_account_id,
			t.amount, t.currency, t.kind, t.phase, t.pending_id, t.expires_at, t.reference_type, t.reference_id,
			t.description, t.metadata, t.created_at,
			e.seq, e.debits_posted, e.credits_posted, e.debits_pending, e.credits_pending, r.phase
		FROM ledger_entries e
		JOIN ledger_transfers t ON t.id = e.transfer_id
		LEFT JOIN ledger_transfers r ON r.pending_id = t.id
		WHERE e.account_id = $1 AND e.seq < $2
		ORDER BY e.seq DESC
		LIMIT $3`, accountID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: entries of %s: %w", accountID, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			e        Entry
			totals   Account // the account's totals right after the entry
			resolved sql.NullString
		)
		e.Transfer, err = scanTransfer(rows, &e.Seq, &totals.DebitsPosted, &totals.CreditsPosted,
			&totals.DebitsPending, &totals.CreditsPending, &resolved)
		if err != nil {
			return nil, fmt.Errorf("ledger: entries of %s: %w", accountID, err)
		}
		e.AccountID = accountID
		e.Balance, e.Available = totals.Balance(), totals.Available()
		e.Amount = e.Transfer.Amount
		if e.Transfer.DebitAccountID == accountID {
			e.Amount = -e.Amount
		}
		switch {
		case e.Transfer.Phase == PhasePending && resolved.Valid:
			e.Status = resolvedStatus(Phase(resolved.String))
		case e.Transfer.Phase == PhasePending:
			e.Status = StatusPending
		default:
			e.Status = resolvedStatus(e.Transfer.Phase)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: entries of %s: %w", accountID, err)
	}
	return out, nil
}
