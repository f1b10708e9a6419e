package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Activity is one line of a wallet's statement: a ledger entry on the
// wallet's account.
type Activity struct {
	ID   string `json:"_id" doc:"The ledger transfer id (use as cursor)"`
	Type string `json:"type" enum:"top_up,discount,session_charge,hold,release,refund,adjustment" doc:"What moved the money"`
	// Amount is signed from the wallet's point of view: a hold and a charge
	// are negative, a top-up, a refund and a release are positive.
	Amount           int64        `json:"amount" doc:"Signed cents: negative takes from the wallet (or, for a hold, from its available balance)"`
	Status           string       `json:"status" enum:"pending,posted,voided" doc:"For a hold: pending while open, then posted or voided"`
	Balance          int64        `json:"balance" doc:"The wallet's balance right after this line"`
	AvailableBalance int64        `json:"available_balance" doc:"The wallet's available balance right after this line"`
	Currency         string       `json:"currency"`
	Reference        *ActivityRef `json:"reference,omitempty" doc:"The object the money moved for (top_up, session, adjustment)"`
	Description      string       `json:"description,omitempty"`
	CreatedAt        time.Time    `json:"createdAt"`
}

// ActivityRef names the object behind an activity line.
type ActivityRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// activityType names a ledger transfer as the wallet's owner thinks of it:
// holds and their releases by their mechanics, everything else by its
// business kind.
func activityType(t ledger.Transfer) string {
	switch t.Phase {
	case ledger.PhasePending:
		return "hold"
	case ledger.PhaseVoid:
		return "release"
	}
	return t.Kind
}

// Activities lists a wallet's ledger entries, newest first. cursor is the
// _id of the last line of the previous page.
func Activities(ctx context.Context, q store.Querier, p org.Principal, walletID, cursor string, limit int) ([]Activity, bool, error) {
	if _, err := Get(ctx, q, p, walletID); err != nil {
		return nil, false, err
	}
	es, err := ledger.Entries(ctx, q, walletID, cursor, limit+1)
	if errors.Is(err, ledger.ErrNotFound) && cursor != "" {
		return nil, false, &apperr.Error{Kind: apperr.Invalid, Code: "invalid_cursor", Field: "cursor", Message: "cursor is not an activity of this wallet"}
	}
	if err != nil {
		return nil, false, fmt.Errorf("wallet: activity of %s: %w", walletID, err)
	}
	more := len(es) > limit
	if more {
		es = es[:limit]
	}
	out := make([]Activity, len(es))
	for i, e := range es {
		a := Activity{ID: e.Transfer.ID, Type: activityType(e.Transfer), Amount: e.Amount, Status: string(e.Status), Balance: e.Balance,
			AvailableBalance: e.Available, Currency: e.Transfer.Currency, Description: e.Transfer.Description, CreatedAt: e.Transfer.CreatedAt}
		if e.Transfer.Phase == ledger.PhaseVoid {
			// A void is booked in the hold's direction, but it gives the
			// held amount back to the available balance.
			a.Amount = -e.Amount
		}
		if e.Transfer.ReferenceType != "" {
			a.Reference = &ActivityRef{Type: e.Transfer.ReferenceType, ID: e.Transfer.ReferenceID}
		}
		out[i] = a
	}
	return out, more, nil
}

// AdjustmentInput is POST /v1/wallets/{id}/adjustments.
type AdjustmentInput struct {
	Amount int64  `json:"amount" minimum:"-99999999" maximum:"99999999" doc:"Signed cents: positive credits the wallet, negative debits it"`
	Reason string `json:"reason" minLength:"1" maxLength:"500" doc:"Why (shown in the wallet's activity)"`
}

// Adjustment is an operator's correction of a wallet's balance, booked
// against the organization's promotions account.
type Adjustment struct {
	ID               string    `json:"_id"`
	Object           string    `json:"object" enum:"adjustment"`
	Wallet           string    `json:"wallet"`
	Amount           int64     `json:"amount"`
	Reason           string    `json:"reason"`
	Balance          int64     `json:"balance" doc:"The wallet's balance after the adjustment"`
	AvailableBalance int64     `json:"available_balance"`
	Currency         string    `json:"currency"`
	TestMode         bool      `json:"test_mode"`
	CreatedAt        time.Time `json:"createdAt"`
}

// Adjust credits (amount > 0) or debits (amount < 0) a wallet against the
// organization's promotions account, as ledger transfer adjustment:<id>. A
// debit beyond the available balance (running sessions' holds included) is
// refused with 409 insufficient_funds and changes nothing.
func (s *Service) Adjust(ctx context.Context, tx *store.Tx, p org.Principal, walletID string, in AdjustmentInput) (Adjustment, error) {
	reason := strings.TrimSpace(in.Reason)
	switch {
	case in.Amount == 0:
		return Adjustment{}, apperr.InvalidField("amount", "amount must not be 0: positive credits the wallet, negative debits it")
	case reason == "":
		return Adjustment{}, apperr.InvalidField("reason", "reason must say why the balance changes")
	}
	w, err := Get(ctx, tx, p, walletID)
	if err != nil {
		return Adjustment{}, err
	}
	promo, err := ledger.SystemAccount(ctx, tx, p.OrgID, p.TestMode, ledger.AccountPromotions, w.Currency)
	if err != nil {
		return Adjustment{}, err
	}
	adj := Adjustment{ID: id.New(), Object: "adjustment", Wallet: w.ID, Amount: in.Amount, Reason: reason, Currency: w.Currency, TestMode: p.TestMode}
	r := ledger.TransferRequest{ID: "adjustment:" + adj.ID, DebitAccountID: promo.ID, CreditAccountID: w.ID, Amount: in.Amount, Currency: w.Currency,
		Kind: ledger.TransferAdjustment, ReferenceType: "adjustment", ReferenceID: adj.ID, Description: reason,
		Metadata: map[string]string{"api_key": p.KeyID}}
	if in.Amount < 0 {
		r.DebitAccountID, r.CreditAccountID, r.Amount = w.ID, promo.ID, -in.Amount
	}
	t, err := ledger.CreateTransfer(ctx, tx, r)
	if errors.Is(err, ledger.ErrInsufficientFunds) {
		return adj, &apperr.Error{Kind: apperr.Conflict, Code: "insufficient_funds", Field: "amount", Err: err,
			Message: fmt.Sprintf("The adjustment would take the wallet below zero: its available balance is %d cents", w.AvailableBalance)}
	}
	if err != nil {
		return adj, err
	}
	if err := s.AfterChange(ctx, tx, w.ID); err != nil {
		return adj, err
	}
	a, err := ledger.GetAccount(ctx, tx, w.ID)
	if err != nil {
		return adj, err
	}
	adj.Balance, adj.AvailableBalance, adj.CreatedAt = a.Balance(), a.Available(), t.CreatedAt
	return adj, nil
}
