package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
)

// Top-up types and statuses (spec 004).
const (
	TypeManual                  = "manual"
	TypeManualWithPaymentMethod = "manual_with_payment_method"
	TypeAuto                    = "auto"

	StatusCreated   = "created"
	StatusCompleted = "completed"
	StatusExpired   = "expired"
	StatusFailed    = "failed"
)

// TopUp is a wallet credit bought with a card (spec 004). Amount is charged;
// WalletAmount (>= Amount: the difference is a discount booked against the
// organization's promotions account) is credited once the provider confirms.
type TopUp struct {
	ID             string    `json:"_id"`
	User           string    `json:"user"`
	Wallet         string    `json:"wallet"`
	URL            *string   `json:"url" doc:"The hosted payment page (type manual); null for stored-card and automatic top-ups"`
	Status         string    `json:"status" enum:"created,completed,expired,failed"`
	Type           string    `json:"type" enum:"manual,manual_with_payment_method,auto"`
	Amount         int64     `json:"amount" doc:"Cents charged to the card"`
	WalletAmount   int64     `json:"wallet_amount" doc:"Cents credited to the wallet"`
	Currency       string    `json:"currency"`
	PaymentMethod  *string   `json:"payment_method" doc:"The saved payment method charged (stored-card and automatic top-ups)"`
	FailureCode    string    `json:"failure_code,omitempty" doc:"Why the last payment attempt failed: card_declined, insufficient_funds, expired_card, canceled, ..."`
	FailureMessage string    `json:"failure_message,omitempty"`
	TestMode       bool      `json:"test_mode"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	ExpiredAt      time.Time `json:"expiredAt" doc:"When an unpaid top-up expires (top_up_expiry_time after creation)"`

	OrgID      string `json:"-"`
	Provider   string `json:"-"`
	CheckoutID string `json:"-"`
	PaymentID  string `json:"-"`
	Refunded   int64  `json:"-"`
}

// TopUpInput is POST /v1/top_up.
type TopUpInput struct {
	Type          string `json:"type" enum:"manual,manual_with_payment_method" doc:"manual: pay on a hosted page (url); manual_with_payment_method: charge a saved card"`
	Wallet        string `json:"wallet" pattern:"^[0-9a-f]{24}$"`
	Amount        int64  `json:"amount" minimum:"1" maximum:"99999999" doc:"Cents to charge (at most Stripe's largest charge, 999,999.99)"`
	WalletAmount  *int64 `json:"wallet_amount,omitempty" minimum:"1" maximum:"99999999" doc:"Cents to credit (default: amount); more than amount is a discount"`
	PaymentMethod string `json:"payment_method,omitempty" maxLength:"64" doc:"Required for manual_with_payment_method: a saved method of the wallet's user (in test mode also pm_card_visa, pm_card_chargeDeclined, ...)"`
}

const topUpCols = `id, org_id, test_mode, user_id, wallet_id, type, status, amount, wallet_amount, currency, payment_method, provider,
	COALESCE(checkout_id, ''), url, COALESCE(payment_id, ''), COALESCE(failure_code, ''), COALESCE(failure_message, ''), refunded,
	expired_at, created_at, updated_at`

func scanTopUp(s interface{ Scan(...any) error }) (TopUp, error) {
	var t TopUp
	err := s.Scan(&t.ID, &t.OrgID, &t.TestMode, &t.User, &t.Wallet, &t.Type, &t.Status, &t.Amount, &t.WalletAmount, &t.Currency, &t.PaymentMethod,
		&t.Provider, &t.CheckoutID, &t.URL, &t.PaymentID, &t.FailureCode, &t.FailureMessage, &t.Refunded, &t.ExpiredAt, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// GetTopUp returns a top-up of the principal's organization and mode.
func GetTopUp(ctx context.Context, q store.Querier, p org.Principal, topUpID string) (TopUp, error) {
	t, err := scanTopUp(q.QueryRowContext(ctx, `SELECT `+topUpCols+` FROM top_ups WHERE id = $1 AND org_id = $2 AND test_mode = $3`,
		topUpID, p.OrgID, p.TestMode))
	if notFound(err) {
		return t, apperr.NotFoundf("top_up", topUpID)
	}
	if err != nil {
		return t, fmt.Errorf("wallet: top-up %s: %w", topUpID, err)
	}
	return t, nil
}

// topUp reads a top-up of any organization (jobs), locking it in a tx.
func topUp(ctx context.Context, q store.Querier, topUpID string, lock bool) (TopUp, error) {
	suffix := ""
	if tx, ok := q.(*store.Tx); ok && lock {
		suffix = tx.DB.ForUpdate()
	}
	t, err := scanTopUp(q.QueryRowContext(ctx, `SELECT `+topUpCols+` FROM top_ups WHERE id = $1`+suffix, topUpID))
	if err != nil {
		return t, fmt.Errorf("wallet: top-up %s: %w", topUpID, err)
	}
	return t, nil
}

// TopUpFilter selects top-ups for ListTopUps.
type TopUpFilter struct {
	Wallet string
	Status string
	Cursor string
	Limit  int
}

// ListTopUps pages through top-ups, newest first.
func ListTopUps(ctx context.Context, q store.Querier, p org.Principal, f TopUpFilter) ([]TopUp, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+topUpCols+` FROM top_ups WHERE org_id = $1 AND test_mode = $2 AND ($3 = '' OR id < $3)
		AND ($4 = '' OR wallet_id = $4) AND ($5 = '' OR status = $5) ORDER BY id DESC LIMIT $6`,
		p.OrgID, p.TestMode, f.Cursor, f.Wallet, f.Status, f.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("wallet: list top-ups: %w", err)
	}
	defer rows.Close()
	var out []TopUp
	for rows.Next() {
		t, err := scanTopUp(rows)
		if err != nil {
			return nil, false, fmt.Errorf("wallet: list top-ups: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("wallet: list top-ups: %w", err)
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

// providerError turns a provider's failure to create a checkout into what
// the API client should see.
func providerError(err error) error {
	var ae *apperr.Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, payments.ErrUnavailable):
		return &apperr.Error{Kind: apperr.Unavailable, Code: "payment_provider_unavailable",
			Message: "The payment provider did not answer; retry with the same Idempotency-Key", Err: err}
	}
	return err
}

// CreateTopUp creates a top-up (POST /v1/top_up).
//
// type manual: the provider's hosted page is created first (outside any
// transaction: it may be a call to Stripe, keyed topup:<id> so a retry makes
// no second page), then the top-up is stored with its url, top_up.created
// and its expiry timer in one transaction. A page whose top-up failed to
// commit is never shown to anyone and expires on its own.
//
// type manual_with_payment_method: the top-up, top_up.created, the charge
// job and the expiry timer commit together; the job charges the saved card
// off-session with the key topup:<id>. The call then waits up to ChargeWait
// for the job's outcome, so a healthy provider answers with the top-up
// already completed (or failed); otherwise it answers with status created and
// the outcome follows as top_up.completed / top_up.failed.
func (s *Service) CreateTopUp(ctx context.Context, p org.Principal, in TopUpInput) (TopUp, error) {
	t, err := s.newTopUp(ctx, s.db.Q(), p, in.Type, in.Wallet, in.Amount, in.WalletAmount, in.PaymentMethod)
	if err != nil {
		return t, err
	}
	prov, err := s.pay.Provider(p.TestMode)
	if err != nil {
		return t, err
	}
	t.Provider = prov.Name()
	if t.Type == TypeManual {
		co, err := prov.CreateCheckout(ctx, payments.CheckoutRequest{IdempotencyKey: "topup:" + t.ID, Purpose: PurposeTopUp, Reference: t.ID,
			OrgID: p.OrgID, TestMode: p.TestMode, Customer: t.User, Amount: t.Amount, Currency: t.Currency, CaptureMethod: payments.CaptureAutomatic,
			OfferSave: true, ExpiresAt: t.ExpiredAt, SuccessURL: s.returnURL(prov, "complete"), CancelURL: s.returnURL(prov, "canceled"),
			Description: "Wallet top-up"})
		if err != nil {
			return t, providerError(fmt.Errorf("wallet: top-up %s: checkout: %w", t.ID, err))
		}
		t.CheckoutID, t.URL = co.ID, &co.URL
		return t, s.db.InTx(ctx, func(tx *store.Tx) error { return s.insertTopUp(ctx, tx, t) })
	}
	done, stop := s.wait(t.ID)
	defer stop()
	if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.insertTopUp(ctx, tx, t) }); err != nil {
		return t, err
	}
	timer := time.NewTimer(s.opt.ChargeWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-ctx.Done():
	}
	return GetTopUp(context.WithoutCancel(ctx), s.db.Q(), p, t.ID)
}

// returnURL is where Stripe's hosted page sends the driver back to; the
// sandbox's own page shows the outcome itself.
func (s *Service) returnURL(prov payments.Provider, outcome string) string {
	if prov.Name() == "sandbox" {
		return ""
	}
	return strings.TrimRight(s.opt.BaseURL, "/") + "/pay/" + outcome
}

// newTopUp validates a top-up request and builds the top-up (not stored).
func (s *Service) newTopUp(ctx context.Context, q store.Querier, p org.Principal, typ, walletID string, amount int64, walletAmount *int64, method string) (TopUp, error) {
	w, err := Get(ctx, q, p, walletID)
	if err != nil {
		return TopUp{}, err
	}
	wa := amount
	if walletAmount != nil {
		wa = *walletAmount
	}
	if wa < amount {
		return TopUp{}, apperr.InvalidField("wallet_amount",
			"wallet_amount (%d) must be at least amount (%d): a top-up may credit more than it charges (a discount), never less", wa, amount)
	}
	t := TopUp{ID: id.New(), OrgID: p.OrgID, TestMode: p.TestMode, User: w.User, Wallet: w.ID, Type: typ, Status: StatusCreated,
		Amount: amount, WalletAmount: wa, Currency: w.Currency}
	switch {
	case typ == TypeManual && method != "":
		return t, apperr.InvalidField("payment_method", "payment_method is only used with type manual_with_payment_method")
	case typ != TypeManual && method == "":
		return t, apperr.InvalidField("payment_method", "payment_method is required with type %s", typ)
	case typ != TypeManual:
		if _, err := resolveMethod(ctx, q, p, w.User, method, "payment_method"); err != nil {
			return t, err
		}
		t.PaymentMethod = &method
	}
	o, err := org.Get(ctx, q, p.OrgID)
	if err != nil {
		return t, err
	}
	t.CreatedAt = store.Now()
	t.UpdatedAt = t.CreatedAt
	t.ExpiredAt = t.CreatedAt.Add(time.Duration(o.Configurations.TopUpExpiryTime) * time.Second)
	return t, nil
}

// insertTopUp stores a new top-up with top_up.created, its expiry timer and,
// for stored-card types, its charge job.
func (s *Service) insertTopUp(ctx context.Context, tx *store.Tx, t TopUp) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO top_ups (id, org_id, test_mode, user_id, wallet_id, type, status, amount, wallet_amount, currency,
		payment_method, provider, checkout_id, url, expired_at, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$16)`,
		t.ID, t.OrgID, t.TestMode, t.User, t.Wallet, t.Type, t.Status, t.Amount, t.WalletAmount, t.Currency, t.PaymentMethod, t.Provider,
		nullIfEmpty(t.CheckoutID), t.URL, t.ExpiredAt, t.CreatedAt)
	if err != nil {
		return fmt.Errorf("wallet: create top-up: %w", err)
	}
	if _, err := s.out.Emit(ctx, tx, t.OrgID, t.TestMode, "top_up.created", "top_up", t.ID, t); err != nil {
		return err
	}
	if err := s.jobs.Schedule(ctx, tx, jobs.New{Kind: jobExpire, Payload: topUpJob{t.ID}, RunAt: t.ExpiredAt, UniqueKey: "topup.expire:" + t.ID}); err != nil {
		return err
	}
	if t.Type == TypeManual {
		return nil
	}
	_, err = s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobCharge, Payload: topUpJob{t.ID}, UniqueKey: "topup.charge:" + t.ID, MaxAttempts: 50})
	return err
}

// topUpJob is the payload of the top-up jobs.
type topUpJob struct {
	TopUp string `json:"top_up"`
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// setStatus stores a top-up's new state and emits its event (top_up.<status>).
func (s *Service) setStatus(ctx context.Context, tx *store.Tx, t *TopUp, status string) error {
	t.Status, t.UpdatedAt = status, store.Now()
	_, err := tx.ExecContext(ctx, `UPDATE top_ups SET status = $1, payment_id = $2, failure_code = $3, failure_message = $4, updated_at = $5
		WHERE id = $6`, status, nullIfEmpty(t.PaymentID), nullIfEmpty(t.FailureCode), nullIfEmpty(t.FailureMessage), t.UpdatedAt, t.ID)
	if err != nil {
		return fmt.Errorf("wallet: top-up %s -> %s: %w", t.ID, status, err)
	}
	if status == StatusCreated {
		return nil // a failed attempt on a page that stays open: no event
	}
	if _, err := s.out.Emit(ctx, tx, t.OrgID, t.TestMode, "top_up."+status, "top_up", t.ID, t); err != nil {
		return err
	}
	// The top-up is over: its timer has nothing left to do.
	_, err = s.jobs.Cancel(ctx, tx, "topup.expire:"+t.ID)
	return err
}

// credit books a confirmed top-up: provider_clearing -> wallet for the
// amount paid and promotions -> wallet for the discount, idempotent by the
// transfer ids topup:<id> and topup:<id>:discount; then completes it with
// top_up.completed and wallet.updated, all in tx.
func (s *Service) credit(ctx context.Context, tx *store.Tx, t *TopUp) error {
	clearing, err := ledger.SystemAccount(ctx, tx, t.OrgID, t.TestMode, ledger.AccountProviderClearing, t.Currency)
	if err != nil {
		return err
	}
	legs := []ledger.TransferRequest{{ID: "topup:" + t.ID, DebitAccountID: clearing.ID, CreditAccountID: t.Wallet, Amount: t.Amount,
		Currency: t.Currency, Kind: ledger.TransferTopUp, ReferenceType: "top_up", ReferenceID: t.ID, Description: "Wallet top-up"}}
	if discount := t.WalletAmount - t.Amount; discount > 0 {
		promo, err := ledger.SystemAccount(ctx, tx, t.OrgID, t.TestMode, ledger.AccountPromotions, t.Currency)
		if err != nil {
			return err
		}
		legs = append(legs, ledger.TransferRequest{ID: "topup:" + t.ID + ":discount", DebitAccountID: promo.ID, CreditAccountID: t.Wallet,
			Amount: discount, Currency: t.Currency, Kind: ledger.TransferDiscount, ReferenceType: "top_up", ReferenceID: t.ID,
			Description: "Top-up discount"})
	}
	if _, err := ledger.CreateTransferBatch(ctx, tx, legs); err != nil {
		return fmt.Errorf("wallet: credit top-up %s: %w", t.ID, err)
	}
	t.FailureCode, t.FailureMessage = "", ""
	if err := s.setStatus(ctx, tx, t, StatusCompleted); err != nil {
		return err
	}
	return s.AfterChange(ctx, tx, t.Wallet)
}
