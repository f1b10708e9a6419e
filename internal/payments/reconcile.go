package payments

import (
	"context"
	"fmt"

	"github.com/joule-ev/joule/internal/store"
)

// Reconciliation compares what the sandbox provider took with what the
// ledger booked for one organization, mode and currency. Money the provider
// captured and has not refunded must equal the net debit of the ledger's
// provider_clearing account (every top-up debits it; a session's card capture
// books provider_clearing -> revenue, its refund the reverse). A difference
// is money in flight (a notification not yet delivered) or a bug.
type Reconciliation struct {
	OrgID    string
	TestMode bool
	Currency string
	// ProviderNet is captured minus refunded over the sandbox's payments.
	ProviderNet int64
	// LedgerNet is debits minus credits posted on provider_clearing.
	LedgerNet int64
}

// Balanced reports whether provider and ledger agree.
func (r Reconciliation) Balanced() bool { return r.ProviderNet == r.LedgerNet }

// Reconcile reads both sides. It is meaningful for test mode, whose provider
// is the sandbox; live mode is reconciled against Stripe's balance reports.
func Reconcile(ctx context.Context, q store.Querier, orgID string, testMode bool, currency string) (Reconciliation, error) {
	r := Reconciliation{OrgID: orgID, TestMode: testMode, Currency: currency}
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(captured - refunded), 0) FROM sandbox_payments
		WHERE org_id = $1 AND test_mode = $2 AND currency = $3`, orgID, testMode, currency).Scan(&r.ProviderNet)
	if err != nil {
		return r, fmt.Errorf("payments: reconcile %s: sandbox: %w", orgID, err)
	}
	err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(debits_posted - credits_posted), 0) FROM ledger_accounts
		WHERE org_id = $1 AND test_mode = $2 AND currency = $3 AND kind = 'provider_clearing'`, orgID, testMode, currency).Scan(&r.LedgerNet)
	if err != nil {
		return r, fmt.Errorf("payments: reconcile %s: ledger: %w", orgID, err)
	}
	return r, nil
}
