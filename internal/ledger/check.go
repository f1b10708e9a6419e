package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/joule-ev/joule/internal/store"
)

// Report is the outcome of Check.
type Report struct {
	Accounts  int64
	Transfers int64
	OpenHolds int64
	// Problems lists every broken invariant, one line each; empty when the
	// ledger is consistent.
	Problems []string
}

// OK reports whether Check found no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Check verifies the ledger's invariants from scratch:
//   - per organization, mode and currency, the accounts' debits equal their
//     credits, posted and pending (the ledger sums to zero);
//   - each account's totals equal the sums of its transfers (open holds for
//     the pending totals), and match its latest entry;
//   - each transfer has one entry on each of its two accounts, and both
//     accounts share its organization, mode and currency;
//   - no account breaks its flag (no wallet below zero);
//   - each hold is resolved at most once, by a post of at most its amount or
//     a void of exactly its amount, on the same accounts.
//
// Each invariant is one SQL statement, which sees one consistent state of
// the database on both PostgreSQL and SQLite, so Check can run on a live
// database (from `joule ledger check` or tests) without false alarms. It
// reads every row. A database error is returned as an error; broken
// invariants are in the Report.
func Check(ctx context.Context, q store.Querier) (Report, error) {
	var r Report
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM ledger_accounts),
		(SELECT count(*) FROM ledger_transfers),
		(SELECT count(*) FROM ledger_transfers p WHERE p.phase = 'pending'
			AND NOT EXISTS (SELECT 1 FROM ledger_transfers x WHERE x.pending_id = p.id))`).
		Scan(&r.Accounts, &r.Transfers, &r.OpenHolds)
	if err != nil {
		return Report{}, fmt.Errorf("ledger: check: count: %w", err)
	}
	for _, c := range checks {
		rows, err := q.QueryContext(ctx, c.query)
		if err != nil {
			return Report{}, fmt.Errorf("ledger: check %s: %w", c.name, err)
		}
		err = eachRow(rows, func(rows *sql.Rows) error {
			p, err := c.problem(rows)
			r.Problems = append(r.Problems, c.name+": "+p)
			return err
		})
		if err != nil {
			return Report{}, fmt.Errorf("ledger: check %s: %w", c.name, err)
		}
	}
	return r, nil
}

// check is one invariant: query returns the rows that break it, problem
// describes one.
type check struct {
	name    string
	query   string
	problem func(*sql.Rows) (string, error)
}

// effects is each transfer's effect on the totals of its two accounts.
const effects = `
	WITH fx AS (
		SELECT t.debit_account_id, t.credit_account_id,
			CASE WHEN t.phase IN ('single', 'post') THEN t.amount ELSE 0 END AS posted,
			CASE WHEN t.phase = 'pending' AND x.id IS NULL THEN t.amount ELSE 0 END AS pending
		FROM ledger_transfers t LEFT JOIN ledger_transfers x ON x.pending_id = t.id
	), moves AS (
		SELECT debit_account_id AS account_id, posted AS dp, 0 AS cp, pending AS dq, 0 AS cq FROM fx
		UNION ALL
		SELECT credit_account_id, 0, posted, 0, pending FROM fx
	), sums AS (
		SELECT account_id, CAST(SUM(dp) AS BIGINT) AS dp, CAST(SUM(cp) AS BIGINT) AS cp,
			CAST(SUM(dq) AS BIGINT) AS dq, CAST(SUM(cq) AS BIGINT) AS cq
		FROM moves GROUP BY account_id
	)`

var checks = []check{
	{
		name: "balanced",
		query: `SELECT org_id, test_mode, currency,
				CAST(SUM(debits_posted) AS BIGINT), CAST(SUM(credits_posted) AS BIGINT),
				CAST(SUM(debits_pending) AS BIGINT), CAST(SUM(credits_pending) AS BIGINT)
			FROM ledger_accounts GROUP BY org_id, test_mode, currency
			HAVING SUM(debits_posted) <> SUM(credits_posted) OR SUM(debits_pending) <> SUM(credits_pending)`,
		problem: func(rows *sql.Rows) (string, error) {
			var (
				org, cur       string
				test           bool
				dp, cp, dq, cq int64
			)
			err := rows.Scan(&org, &test, &cur, &dp, &cp, &dq, &cq)
			return fmt.Sprintf("org %s test_mode=%t %s: debits posted %d != credits posted %d or debits pending %d != credits pending %d",
				org, test, cur, dp, cp, dq, cq), err
		},
	},
	{
		name: "totals",
		query: effects + `
			SELECT a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
				COALESCE(s.dp, 0), COALESCE(s.cp, 0), COALESCE(s.dq, 0), COALESCE(s.cq, 0)
			FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id
			WHERE a.debits_posted <> COALESCE(s.dp, 0) OR a.credits_posted <> COALESCE(s.cp, 0)
				OR a.debits_pending <> COALESCE(s.dq, 0) OR a.credits_pending <> COALESCE(s.cq, 0)`,
		problem: func(rows *sql.Rows) (string, error) {
			var (
				id     string
				a, sum [4]int64
			)
			err := rows.Scan(&id, &a[0], &a[1], &a[2], &a[3], &sum[0], &sum[1], &sum[2], &sum[3])
			return fmt.Sprintf("account %s totals (debits/credits posted, debits/credits pending) %v != sums of its transfers %v",
				id, a, sum), err
		},
	},
	{
		name: "entries",
		query: `SELECT a.id, a.last_seq, (SELECT count(*) FROM ledger_entries c WHERE c.account_id = a.id)
			FROM ledger_accounts a
			WHERE a.last_seq <> (SELECT count(*) FROM ledger_entries c WHERE c.account_id = a.id)
				OR (a.last_seq > 0 AND NOT EXISTS (SELECT 1 FROM ledger_entries e
					WHERE e.account_id = a.id AND e.seq = a.last_seq
						AND e.debits_posted = a.debits_posted AND e.credits_posted = a.credits_posted
						AND e.debits_pending = a.debits_pending AND e.credits_pending = a.credits_pending))`,
		problem: func(rows *sql.Rows) (string, error) {
			var (
				id        string
				seq, many int64
			)
			err := rows.Scan(&id, &seq, &many)
			return fmt.Sprintf("account %s has last_seq %d and %d entries; the latest must match its totals", id, seq, many), err
		},
	},
	{
		name: "transfer entries",
		query: `SELECT t.id FROM ledger_transfers t
			WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transfer_id = t.id AND e.account_id = t.debit_account_id)
				OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transfer_id = t.id AND e.account_id = t.credit_account_id)
				OR EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transfer_id = t.id
					AND e.account_id <> t.debit_account_id AND e.account_id <> t.credit_account_id)`,
		problem: func(rows *sql.Rows) (string, error) {
			var id string
			err := rows.Scan(&id)
			return fmt.Sprintf("transfer %s does not have exactly one entry on each of its accounts", id), err
		},
	},
	{
		name: "books",
		query: `SELECT t.id FROM ledger_transfers t
			JOIN ledger_accounts d ON d.id = t.debit_account_id
			JOIN ledger_accounts c ON c.id = t.credit_account_id
			WHERE t.currency <> d.currency OR t.currency <> c.currency OR t.org_id <> d.org_id
				OR t.org_id <> c.org_id OR t.test_mode <> d.test_mode OR t.test_mode <> c.test_mode`,
		problem: func(rows *sql.Rows) (string, error) {
			var id string
			err := rows.Scan(&id)
			return fmt.Sprintf("transfer %s differs from its accounts in organization, mode or currency", id), err
		},
	},
	{
		name: "flags",
		query: `SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM ledger_accounts
			WHERE (debits_must_not_exceed_credits AND debits_posted + debits_pending > credits_posted)
				OR (credits_must_not_exceed_debits AND credits_posted + credits_pending > debits_posted)
				OR debits_posted < 0 OR credits_posted < 0 OR debits_pending < 0 OR credits_pending < 0`,
		problem: func(rows *sql.Rows) (string, error) {
			var (
				id string
				a  [4]int64
			)
			err := rows.Scan(&id, &a[0], &a[1], &a[2], &a[3])
			return fmt.Sprintf("account %s totals %v break its flag or are negative", id, a), err
		},
	},
	{
		name: "resolutions",
		query: `SELECT r.id, r.phase, r.amount, r.pending_id, COALESCE(p.phase, ''), COALESCE(p.amount, 0)
			FROM ledger_transfers r LEFT JOIN ledger_transfers p ON p.id = r.pending_id
			WHERE r.pending_id IS NOT NULL AND (p.id IS NULL OR p.phase <> 'pending' OR r.amount > p.amount
				OR (r.phase = 'void' AND r.amount <> p.amount)
				OR r.debit_account_id <> p.debit_account_id OR r.credit_account_id <> p.credit_account_id
				OR r.currency <> p.currency)`,
		problem: func(rows *sql.Rows) (string, error) {
			var (
				id, phase, hold, holdPhase string
				amount, held               int64
			)
			err := rows.Scan(&id, &phase, &amount, &hold, &holdPhase, &held)
			return fmt.Sprintf("%s %s of %d does not fit hold %s (phase %q, amount %d)", phase, id, amount, hold, holdPhase, held), err
		},
	},
	{
		name: "resolved once",
		query: `SELECT pending_id, count(*) FROM ledger_transfers WHERE pending_id IS NOT NULL
			GROUP BY pending_id HAVING count(*) > 1`,
		problem: func(rows *sql.Rows) (string, error) {
			var (
				id string
				n  int64
			)
			err := rows.Scan(&id, &n)
			return fmt.Sprintf("hold %s resolved %d times", id, n), err
		},
	},
}

func eachRow(rows *sql.Rows, fn func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
