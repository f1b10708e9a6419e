// Package session runs charging sessions end to end (DESIGN §5): it starts
// them on a connector, follows what the charger reports, pauses, resumes
// and stops them, prices them with the tariff engine, writes their CDR and
// settles their payment. Every transition commits with its events and
// timers in one transaction; calls to chargers and payment providers are
// made by durable jobs, outside transactions, with idempotency keys.
package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Types of session: how it is paid.
const (
	TypeWallet      = "wallet"
	TypePaymentLink = "payment_link"
	TypePostpaid    = "postpaid"
)

// Statuses (DESIGN §5).
const (
	StatusCreated        = "created"
	StatusWaitingToStart = "waiting_to_start"
	StatusStarted        = "started"
	StatusPaused         = "paused"
	StatusWaitingToStop  = "waiting_to_stop"
	StatusStopFailed     = "stop_failed"
	StatusEnded          = "ended"
	StatusCompleted      = "completed"
	StatusFailed         = "failed"
	StatusCanceled       = "canceled"
	StatusRefunded       = "refunded"
)

// charging reports whether the charger is delivering (or may deliver) energy.
func charging(status string) bool {
	switch status {
	case StatusStarted, StatusPaused, StatusWaitingToStop, StatusStopFailed:
		return true
	}
	return false
}

// Session is a charging session as the API shows it.
type Session struct {
	ID              string         `json:"_id"`
	User            string         `json:"user"`
	Chargestation   string         `json:"chargestation"`
	Connector       string         `json:"connector"`
	Rate            string         `json:"rate"`
	Type            string         `json:"type"`
	Status          string         `json:"status"`
	Target          map[string]any `json:"target"`
	Cost            Cost           `json:"cost"`
	Payment         *Payment       `json:"payment,omitempty"`
	BalanceStatus   string         `json:"balance_status" doc:"PROCESSING, PAID, DEBT or REFUND"`
	Energy          Energy         `json:"energy"`
	Duration        int64          `json:"duration" doc:"Seconds from start to end (or to now)"`
	ChargingPeriods []PeriodView   `json:"charging_periods"`
	TransactionID   *int64         `json:"transaction_id"`
	ChargingKeyType string         `json:"charging_key_type" doc:"virtual for remote starts, rfid for a driver's key at the charger"`
	StartAttempts   int            `json:"start_attempts"`
	StopAttempts    int            `json:"stop_attempts"`
	PauseRequested  bool           `json:"pause_requested"`
	FailureReason   string         `json:"failure_reason,omitempty"`
	StartedAt       *time.Time     `json:"startedAt"`
	EndedAt         *time.Time     `json:"endedAt"`
	CompletedAt     *time.Time     `json:"completedAt"`
	TestMode        bool           `json:"test_mode"`
	CreatedAt       time.Time      `json:"createdAt"`
	UpdatedAt       time.Time      `json:"updatedAt"`

	OrgID    string `json:"-"`
	tariff   string
	timezone string
	currency string
	idTag    string
	version  int
}

func (s *Session) principal() org.Principal {
	return org.Principal{OrgID: s.OrgID, TestMode: s.TestMode}
}

// Cost is the session's price: so far while it runs, final once ended.
// Empty ({}) until the session starts.
type Cost struct {
	Amount    *int64          `json:"amount,omitempty" doc:"Cents charged: the total incl. VAT rounded once"`
	Currency  string          `json:"currency,omitempty"`
	ExclVAT   string          `json:"excl_vat,omitempty"`
	InclVAT   string          `json:"incl_vat,omitempty"`
	Final     bool            `json:"final,omitempty" doc:"true once the charger reported the end"`
	Breakdown []BreakdownLine `json:"breakdown,omitempty"`
}

// BreakdownLine is one line of the itemized cost.
type BreakdownLine struct {
	Type      string `json:"type" doc:"ENERGY, TIME, PARKING_TIME or FLAT"`
	Kind      string `json:"kind"`
	From      string `json:"from"`
	To        string `json:"to"`
	Quantity  string `json:"quantity"`
	Unit      string `json:"unit"`
	UnitPrice string `json:"unit_price"`
	ExclVAT   string `json:"excl_vat"`
	VAT       string `json:"vat,omitempty" doc:"VAT percentage"`
	VATAmount string `json:"vat_amount"`
	InclVAT   string `json:"incl_vat"`
}

// Energy delivered.
type Energy struct {
	Wh  int64  `json:"wh"`
	KWh string `json:"kwh"`
}

// PeriodView is one charging period.
type PeriodView struct {
	State    string    `json:"state" doc:"charging, paused or parking"`
	StartAt  time.Time `json:"start_date_time"`
	EndAt    time.Time `json:"end_date_time"`
	EnergyWh int64     `json:"energy_wh"`
}

// Payment is the payment object embedded in a session (spec 000/001).
type Payment struct {
	ID               string         `json:"_id"`
	Session          string         `json:"session"`
	URL              string         `json:"url,omitempty"`
	Currency         string         `json:"currency"`
	AuthorizedAmount int64          `json:"authorized_amount"`
	CapturedAmount   int64          `json:"captured_amount"`
	RefundedAmount   int64          `json:"refunded_amount"`
	Type             string         `json:"type" doc:"api_wallet, anonymous or card"`
	Status           string         `json:"status" doc:"created, authorized, expired, canceled, succeeded, failed, refunded"`
	Stripe           map[string]any `json:"stripe,omitempty"`
	Provider         string         `json:"provider,omitempty"`
	FailureCode      string         `json:"failure_code,omitempty"`
	FailureMessage   string         `json:"failure_message,omitempty"`
	ExpiresAt        *time.Time     `json:"expires_at,omitempty"`
	CreatedAt        time.Time      `json:"createdAt"`
	UpdatedAt        time.Time      `json:"updatedAt"`

	providerPaymentID  string
	providerCheckoutID string
	paymentMethod      string
	customer           string // the provider's customer of paymentMethod
	attempts           int
}

// Payment statuses.
const (
	PayCreated    = "created"
	PayAuthorized = "authorized"
	PayExpired    = "expired"
	PayCanceled   = "canceled"
	PaySucceeded  = "succeeded"
	PayFailed     = "failed"
	PayRefunded   = "refunded"
	PayPending    = "pending" // postpaid: charged after the CDR
)

const sessionCols = `id, org_id, test_mode, type, user_id, chargestation_id, connector_id, rate_id, tariff, timezone, currency, status, remote, id_tag,
	transaction_id, target, cost, energy_wh, start_attempts, stop_attempts, pause_requested, failure_reason, started_at, ended_at, completed_at,
	version, created_at, updated_at`

func scanSession(s interface{ Scan(...any) error }) (*Session, error) {
	var x Session
	var remote bool
	var txID sql.NullInt64
	var target, cost string
	var started, ended, completed sql.NullTime
	err := s.Scan(&x.ID, &x.OrgID, &x.TestMode, &x.Type, &x.User, &x.Chargestation, &x.Connector, &x.Rate, &x.tariff, &x.timezone, &x.currency,
		&x.Status, &remote, &x.idTag, &txID, &target, &cost, &x.Energy.Wh, &x.StartAttempts, &x.StopAttempts, &x.PauseRequested, &x.FailureReason,
		&started, &ended, &completed, &x.version, &x.CreatedAt, &x.UpdatedAt)
	if err != nil {
		return nil, err
	}
	x.ChargingKeyType = "rfid"
	if remote {
		x.ChargingKeyType = "virtual"
	}
	if txID.Valid {
		x.TransactionID = &txID.Int64
	}
	x.StartedAt, x.EndedAt, x.CompletedAt = utcPtr(started), utcPtr(ended), utcPtr(completed)
	x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
	if err := store.FromJSON(target, &x.Target); err != nil {
		return nil, err
	}
	if x.Target == nil {
		x.Target = map[string]any{}
	}
	return &x, store.FromJSON(cost, &x.Cost)
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// load reads a session of the principal, locking it inside tx on PostgreSQL.
func load(ctx context.Context, q store.Querier, lock string, p org.Principal, sessionID string) (*Session, error) {
	x, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1 AND org_id = $2 AND test_mode = $3`+lock,
		sessionID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.NotFoundf("session", sessionID)
	}
	if err != nil {
		return nil, fmt.Errorf("session: load %s: %w", sessionID, err)
	}
	x.Payment, err = loadPayment(ctx, q, x.ID)
	return x, err
}

// loadAny reads a session by id alone (jobs and charger messages carry no
// principal), locking it inside tx on PostgreSQL.
func loadAny(ctx context.Context, tx *store.Tx, sessionID string) (*Session, error) {
	x, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`+tx.DB.ForUpdate(), sessionID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.NotFoundf("session", sessionID)
	}
	if err != nil {
		return nil, fmt.Errorf("session: load %s: %w", sessionID, err)
	}
	x.Payment, err = loadPayment(ctx, tx, x.ID)
	return x, err
}

func insert(ctx context.Context, tx *store.Tx, x *Session) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28)`,
		x.ID, x.OrgID, x.TestMode, x.Type, x.User, x.Chargestation, x.Connector, x.Rate, x.tariff, x.timezone, x.currency, x.Status,
		x.ChargingKeyType == "virtual", x.idTag, x.TransactionID, store.JSON(x.Target), store.JSON(x.Cost), x.Energy.Wh, x.StartAttempts,
		x.StopAttempts, x.PauseRequested, x.FailureReason, store.NullTime(x.StartedAt), store.NullTime(x.EndedAt), store.NullTime(x.CompletedAt),
		x.version, x.CreatedAt, x.UpdatedAt)
	if err != nil {
		return fmt.Errorf("session: insert: %w", err)
	}
	return nil
}

// save writes a loaded session back, guarded by its version: a session
// changed by someone else since it was read is not overwritten.
func save(ctx context.Context, tx *store.Tx, x *Session) error {
	x.UpdatedAt = store.Now()
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET status = $1, transaction_id = $2, cost = $3, energy_wh = $4, start_attempts = $5,
		stop_attempts = $6, pause_requested = $7, failure_reason = $8, started_at = $9, ended_at = $10, completed_at = $11, version = version + 1,
		updated_at = $12 WHERE id = $13 AND version = $14`,
		x.Status, x.TransactionID, store.JSON(x.Cost), x.Energy.Wh, x.StartAttempts, x.StopAttempts, x.PauseRequested, x.FailureReason,
		store.NullTime(x.StartedAt), store.NullTime(x.EndedAt), store.NullTime(x.CompletedAt), x.UpdatedAt, x.ID, x.version)
	if err != nil {
		return fmt.Errorf("session: save %s: %w", x.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("session: save %s: changed concurrently (version %d)", x.ID, x.version)
	}
	id := x.ID
	tx.AfterCommit(func() { changes.notify(id) })
	x.version++
	if x.Payment != nil {
		return savePayment(ctx, tx, x.Payment)
	}
	return nil
}

const paymentCols = `id, session_id, type, status, currency, authorized_amount, captured_amount, refunded_amount, url, provider,
	provider_payment_id, provider_checkout_id, payment_method, attempts, failure_code, failure_message, expires_at, created_at, updated_at, customer`

func loadPayment(ctx context.Context, q store.Querier, sessionID string) (*Payment, error) {
	var p Payment
	var exp sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM session_payments WHERE session_id = $1`, sessionID).Scan(&p.ID, &p.Session, &p.Type,
		&p.Status, &p.Currency, &p.AuthorizedAmount, &p.CapturedAmount, &p.RefundedAmount, &p.URL, &p.Provider, &p.providerPaymentID,
		&p.providerCheckoutID, &p.paymentMethod, &p.attempts, &p.FailureCode, &p.FailureMessage, &exp, &p.CreatedAt, &p.UpdatedAt, &p.customer)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: payment of %s: %w", sessionID, err)
	}
	p.ExpiresAt = utcPtr(exp)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if p.Provider == "stripe" && p.providerPaymentID != "" {
		p.Stripe = map[string]any{"intent_id": p.providerPaymentID}
	}
	return &p, nil
}

func insertPayment(ctx context.Context, tx *store.Tx, p *Payment) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO session_payments (`+paymentCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)`,
		p.ID, p.Session, p.Type, p.Status, p.Currency, p.AuthorizedAmount, p.CapturedAmount, p.RefundedAmount, p.URL, p.Provider,
		p.providerPaymentID, p.providerCheckoutID, p.paymentMethod, p.attempts, p.FailureCode, p.FailureMessage, store.NullTime(p.ExpiresAt),
		p.CreatedAt, p.UpdatedAt, p.customer)
	if err != nil {
		return fmt.Errorf("session: insert payment: %w", err)
	}
	return nil
}

func savePayment(ctx context.Context, tx *store.Tx, p *Payment) error {
	p.UpdatedAt = store.Now()
	_, err := tx.ExecContext(ctx, `UPDATE session_payments SET status = $1, authorized_amount = $2, captured_amount = $3, refunded_amount = $4,
		url = $5, provider = $6, provider_payment_id = $7, provider_checkout_id = $8, payment_method = $9, attempts = $10, failure_code = $11,
		failure_message = $12, expires_at = $13, updated_at = $14, customer = $15 WHERE id = $16`,
		p.Status, p.AuthorizedAmount, p.CapturedAmount, p.RefundedAmount, p.URL, p.Provider, p.providerPaymentID, p.providerCheckoutID,
		p.paymentMethod, p.attempts, p.FailureCode, p.FailureMessage, store.NullTime(p.ExpiresAt), p.UpdatedAt, p.customer, p.ID)
	if err != nil {
		return fmt.Errorf("session: save payment %s: %w", p.ID, err)
	}
	id := p.Session
	tx.AfterCommit(func() { changes.notify(id) })
	return nil
}

// Filter narrows List.
type Filter struct {
	User, Status, Connector, Chargestation string
	Statuses                               []string // any of these (with Status, both apply)
	CreatedAfter, CreatedBefore            time.Time
	// StartedAfter/Before select by when the session started (when it was
	// created, for one that never started).
	StartedAfter, StartedBefore time.Time
	Remote                      *bool  // started through the API (virtual key) or at the charger
	IDTag                       string // started with this charging key
	Cursor                      string
	Limit                       int
}

// List pages through sessions, newest first.
func List(ctx context.Context, q store.Querier, p org.Principal, f Filter) ([]*Session, bool, error) {
	where := []string{"org_id = $1", "test_mode = $2"}
	args := []any{p.OrgID, p.TestMode}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.User != "" {
		add("user_id = $%d", f.User)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.Connector != "" {
		add("connector_id = $%d", f.Connector)
	}
	if f.Chargestation != "" {
		add("chargestation_id = $%d", f.Chargestation)
	}
	if len(f.Statuses) > 0 {
		marks := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			args = append(args, st)
			marks[i] = fmt.Sprintf("$%d", len(args))
		}
		where = append(where, "status IN ("+strings.Join(marks, ",")+")")
	}
	if f.Remote != nil {
		add("remote = $%d", *f.Remote)
	}
	if f.IDTag != "" {
		add("id_tag = $%d", f.IDTag)
	}
	if !f.StartedAfter.IsZero() {
		add("COALESCE(started_at, created_at) >= $%d", store.UTC(f.StartedAfter))
	}
	if !f.StartedBefore.IsZero() {
		add("COALESCE(started_at, created_at) < $%d", store.UTC(f.StartedBefore))
	}
	if !f.CreatedAfter.IsZero() {
		add("created_at >= $%d", store.UTC(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at < $%d", store.UTC(f.CreatedBefore))
	}
	if f.Cursor != "" {
		add("id < $%d", f.Cursor)
	}
	args = append(args, f.Limit+1)
	rows, err := q.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, false, fmt.Errorf("session: list: %w", err)
	}
	var out []*Session
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("session: list: %w", err)
		}
		out = append(out, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	for _, x := range out {
		if x.Payment, err = loadPayment(ctx, q, x.ID); err != nil {
			return nil, false, err
		}
	}
	return out, more, nil
}

// LastRemoteStart is when the latest session started through the API on a
// connector was created (the start the cooldown counts from); ok is false
// when there is none.
func LastRemoteStart(ctx context.Context, q store.Querier, p org.Principal, connectorID string) (at time.Time, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT created_at FROM sessions WHERE connector_id = $1 AND org_id = $2 AND test_mode = $3 AND remote = $4
		ORDER BY created_at DESC LIMIT 1`, connectorID, p.OrgID, p.TestMode, true).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return at, false, nil
	}
	if err != nil {
		return at, false, fmt.Errorf("session: last remote start: %w", err)
	}
	return at.UTC(), true, nil
}
