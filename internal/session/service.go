package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/rates"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
	"github.com/joule-ev/joule/internal/wallet"
)

// Chargers sends commands to connected chargers (the central system).
type Chargers interface {
	Call(ctx context.Context, stationID string, req ocpp16.Request) (any, error)
}

// Payments gives sessions a payment provider for a mode, a user's default
// saved payment method, and the wallet bookkeeping that follows a change of
// a wallet's balance.
type Payments interface {
	Provider(testMode bool) (payments.Provider, error)
	// DefaultMethod is the user's default saved method (zero Token if none).
	DefaultMethod(ctx context.Context, q store.Querier, p org.Principal, userID string) (payments.Method, error)
	// AfterWalletChange runs in the transaction that held, posted or
	// released money of a wallet: wallet.updated, and an automatic top-up
	// when the balance fell below its threshold.
	AfterWalletChange(ctx context.Context, tx *store.Tx, walletID string) error
}

// Service runs sessions.
type Service struct {
	db       *store.DB
	outbox   *events.Outbox
	jobs     *jobs.Queue
	chargers Chargers
	payments Payments
	log      *slog.Logger
	baseURL  string
	receipts *receiptSigner
	caps     capCache
}

// Options configure the service.
type Options struct {
	Logger  *slog.Logger
	BaseURL string // for receipt links
}

// New makes the service and registers its jobs.
func New(db *store.DB, outbox *events.Outbox, q *jobs.Queue, chargers Chargers, pay Payments, opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Service{db: db, outbox: outbox, jobs: q, chargers: chargers, payments: pay, log: opt.Logger, baseURL: opt.BaseURL,
		receipts: &receiptSigner{db: db}}
	s.registerJobs()
	return s
}

// CreateInput is POST /v1/sessions.
type CreateInput struct {
	User      string
	Connector string
	Type      string
	Target    map[string]any
}

// Create starts a session on a connector for a user (DESIGN §5, spec 000/001).
//
// What a start reads but does not change (the user, the station, the
// organization's configuration, the rate, the location, the saved card) is
// read first, outside the write transaction: on SQLite that transaction
// holds the database's only writer, and every charger's message waits for
// it. The transaction then reads the connector again, locked; if it changed
// meanwhile (another station or rate), everything is read again inside it.
func (s *Service) Create(ctx context.Context, p org.Principal, in CreateInput) (*Session, error) {
	var pre *startInfo
	err := s.db.ReadTx(ctx, func(tx *store.Tx) error {
		var err error
		pre, err = s.gather(ctx, tx, p, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	var x *Session
	// Group-committed with other writes, as Stop is.
	err = s.db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		x, err = s.create(ctx, tx, p, in, pre)
		return err
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// startInfo is what a start reads without changing it. rateErr, locErr and
// methodErr are reported where create meets them, after the cooldown.
type startInfo struct {
	conn                       network.Connector
	st                         network.ChargeStation
	o                          org.Organization
	rate                       rates.Rate
	loc                        network.Location
	method                     payments.Method
	rateErr, locErr, methodErr error
}

// gather reads what a start needs, in create's order of checks.
func (s *Service) gather(ctx context.Context, tx *store.Tx, p org.Principal, in CreateInput) (*startInfo, error) {
	si := &startInfo{}
	if _, err := users.Get(ctx, tx, p, in.User); err != nil {
		return nil, err
	}
	var err error
	if si.conn, err = network.GetConnector(ctx, tx, p, in.Connector); err != nil {
		return nil, err
	}
	if si.st, err = network.GetStation(ctx, tx, p, si.conn.Chargestation); err != nil {
		return nil, err
	}
	if !si.st.HasCapability(network.CapRemoteStartStop) {
		return nil, apperr.Newf(apperr.Conflict, "remote_start_not_supported", "Charge station %s cannot be started remotely (no REMOTE_START_STOP_CAPABLE)", si.st.ID)
	}
	if si.conn.Rate == nil {
		return nil, apperr.Newf(apperr.Conflict, "connector_has_no_rate", "Connector %s has no rate; give it one before starting sessions", si.conn.ID)
	}
	if si.o, err = org.Get(ctx, tx, p.OrgID); err != nil {
		return nil, err
	}
	si.rate, si.rateErr = rates.Get(ctx, tx, p, *si.conn.Rate)
	si.loc, si.locErr = network.GetLocation(ctx, tx, p, si.st.Location)
	if in.Type == TypePostpaid {
		si.method, si.methodErr = s.defaultMethod(ctx, tx, p, in.User)
	}
	return si, nil
}

func (s *Service) create(ctx context.Context, tx *store.Tx, p org.Principal, in CreateInput, pre *startInfo) (*Session, error) {
	conn, err := network.GetConnector(ctx, tx, p, in.Connector)
	if err != nil {
		return nil, err
	}
	// Lock the connector: the cooldown check and the new session must not
	// interleave with another start on it.
	if _, err := tx.ExecContext(ctx, `UPDATE connectors SET updated_at = updated_at WHERE id = $1`, conn.ID); err != nil {
		return nil, fmt.Errorf("session: lock connector: %w", err)
	}
	if pre == nil || pre.conn.Chargestation != conn.Chargestation || (pre.conn.Rate == nil) != (conn.Rate == nil) ||
		(conn.Rate != nil && *pre.conn.Rate != *conn.Rate) {
		if pre, err = s.gather(ctx, tx, p, in); err != nil { // changed meanwhile: read it all here
			return nil, err
		}
	}
	st, o := pre.st, pre.o
	cfg := o.Configurations
	now := store.Now()
	var recent int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE connector_id = $1 AND remote = $2 AND created_at > $3`,
		conn.ID, true, now.Add(-time.Duration(cfg.ConnectorStartCooldown)*time.Second)).Scan(&recent); err != nil {
		return nil, fmt.Errorf("session: cooldown: %w", err)
	}
	if recent > 0 {
		return nil, apperr.Newf(apperr.Conflict, "connector_cooldown",
			"A session was started on this connector less than %d seconds ago; wait before starting another", cfg.ConnectorStartCooldown)
	}
	if pre.rateErr != nil {
		return nil, pre.rateErr
	}
	if pre.locErr != nil {
		return nil, pre.locErr
	}
	rate, loc := pre.rate, pre.loc
	tag := users.NewVirtualTag()
	if _, err := users.AddKey(ctx, tx, p, in.User, tag, users.KeyVirtual); err != nil {
		return nil, err
	}
	x := &Session{ID: id.New(), OrgID: p.OrgID, TestMode: p.TestMode, Type: in.Type, User: in.User, Chargestation: st.ID, Connector: conn.ID,
		Rate: rate.ID, Status: StatusCreated, Target: in.Target, ChargingKeyType: "virtual", ChargingPeriods: []PeriodView{},
		CreatedAt: now, UpdatedAt: now, tariff: store.JSON(rate.Tariff), timezone: loc.Timezone, currency: rate.Currency, idTag: tag}
	if x.Target == nil {
		x.Target = map[string]any{}
	}
	pay := &Payment{ID: id.New(), Session: x.ID, Currency: strings.ToLower(rate.Currency), CreatedAt: now, UpdatedAt: now}
	x.Payment = pay
	var paymentEvents []string
	switch in.Type {
	case TypePostpaid:
		if pre.methodErr != nil {
			return nil, pre.methodErr
		}
		method := pre.method
		pay.Type, pay.Status, pay.paymentMethod, pay.customer = "card", PayPending, method.Token, method.Customer
	case TypeWallet:
		if paymentEvents, err = s.holdWallet(ctx, tx, p, x, cfg); err != nil {
			return nil, err
		}
	case TypePaymentLink:
		if err := s.preparePaymentLink(ctx, tx, x, cfg); err != nil {
			return nil, err
		}
		paymentEvents = []string{"session.payment.created"}
	default:
		return nil, apperr.InvalidField("type", "type must be wallet, payment_link or postpaid")
	}
	if err := insert(ctx, tx, x); err != nil {
		return nil, err
	}
	if err := insertPayment(ctx, tx, pay); err != nil {
		return nil, err
	}
	if err := s.emit(ctx, tx, x, "session.created"); err != nil {
		return nil, err
	}
	for _, typ := range paymentEvents {
		if err := s.emit(ctx, tx, x, typ); err != nil {
			return nil, err
		}
	}
	if in.Type != TypePaymentLink {
		if err := s.scheduleStart(ctx, tx, x, time.Duration(cfg.WaitingToStartTimeout)*time.Second); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// defaultMethod picks the saved method a postpaid session is charged to.
// In test mode a user without one is charged to the sandbox's test card, so
// the stage-environment guide of spec 003 works as written (DESIGN §6).
func (s *Service) defaultMethod(ctx context.Context, tx store.Querier, p org.Principal, userID string) (payments.Method, error) {
	var method payments.Method
	if s.payments != nil {
		var err error
		if method, err = s.payments.DefaultMethod(ctx, tx, p, userID); err != nil {
			return method, err
		}
	}
	if method.Token == "" {
		if !p.TestMode {
			return method, apperr.New(apperr.NotAllowed, "no_payment_method", "User does not have a payment method")
		}
		method.Token = "pm_card_visa"
	}
	return method, nil
}

// holdWallet runs spec 000's checks in its order and holds the wallet's
// available balance for the session.
func (s *Service) holdWallet(ctx context.Context, tx *store.Tx, p org.Principal, x *Session, cfg org.Configurations) ([]string, error) {
	w, err := wallet.ForUser(ctx, tx, p, x.User)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, apperr.New(apperr.NotAllowed, "wallet_missing", "User does not have a wallet")
	}
	// Lock the wallet's account before reading the balance the hold is based on.
	acct, err := lockAccount(ctx, tx, w.ID)
	if err != nil {
		return nil, err
	}
	if acct.Available() < cfg.Session {
		return nil, apperr.New(apperr.NotAllowed, "insufficient_minimum_balance", "User does not have minimum balance")
	}
	if !strings.EqualFold(w.Currency, x.currency) {
		return nil, apperr.New(apperr.NotAllowed, "wallet_currency_mismatch", "Wallet currency does not match the rate currency")
	}
	revenue, err := ledger.SystemAccount(ctx, tx, p.OrgID, p.TestMode, ledger.AccountRevenue, acct.Currency)
	if err != nil {
		return nil, err
	}
	pay := x.Payment
	_, err = ledger.CreateHold(ctx, tx, ledger.HoldRequest{TransferRequest: ledger.TransferRequest{ID: "hold:" + pay.ID, DebitAccountID: w.ID,
		CreditAccountID: revenue.ID, Amount: acct.Available(), Currency: acct.Currency, Kind: ledger.TransferSessionCharge,
		ReferenceType: "session", ReferenceID: x.ID, Description: "Charging session hold"}})
	if err != nil {
		return nil, fmt.Errorf("session: hold wallet: %w", err)
	}
	pay.Type, pay.Status, pay.AuthorizedAmount, pay.Provider, pay.providerPaymentID = "api_wallet", PayAuthorized, acct.Available(), "wallet", w.ID
	if err := s.walletUpdated(ctx, tx, p, w.ID); err != nil {
		return nil, err
	}
	return []string{"session.payment.created", "session.payment.authorized"}, nil
}

func lockAccount(ctx context.Context, tx *store.Tx, accountID string) (ledger.Account, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE ledger_accounts SET last_seq = last_seq WHERE id = $1`, accountID); err != nil {
		return ledger.Account{}, fmt.Errorf("session: lock account: %w", err)
	}
	return ledger.GetAccount(ctx, tx, accountID)
}

// walletUpdated follows a change of a wallet's balance or holds: the wallet
// service emits wallet.updated and tops the wallet up if it is configured to.
func (s *Service) walletUpdated(ctx context.Context, tx *store.Tx, p org.Principal, walletID string) error {
	if s.payments != nil {
		return s.payments.AfterWalletChange(ctx, tx, walletID)
	}
	w, err := wallet.Get(ctx, tx, p, walletID)
	if err != nil {
		return err
	}
	_, err = s.outbox.Emit(ctx, tx, p.OrgID, p.TestMode, "wallet.updated", "wallet", w.ID, w)
	return err
}

// scheduleStart moves toward waiting_to_start: the remote start job runs now
// and the start timeout is armed.
func (s *Service) scheduleStart(ctx context.Context, tx *store.Tx, x *Session, timeout time.Duration) error {
	if _, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobRemoteStart, Payload: ref{x.ID}, UniqueKey: "remote_start:" + x.ID, MaxAttempts: 1000}); err != nil {
		return err
	}
	return s.jobs.Schedule(ctx, tx, jobs.New{Kind: jobStartTimeout, Payload: ref{x.ID}, UniqueKey: "start_timeout:" + x.ID, RunAt: time.Now().Add(timeout)})
}

// emit records a session event with the session as it is now.
func (s *Service) emit(ctx context.Context, tx *store.Tx, x *Session, typ string) error {
	x.BalanceStatus = balanceStatus(x)
	_, err := s.outbox.Emit(ctx, tx, x.OrgID, x.TestMode, typ, "session", x.ID, x)
	return err
}

// balanceStatus is the Drive API's view of the money (spec 003).
func balanceStatus(x *Session) string {
	p := x.Payment
	switch {
	case p == nil:
		return "PROCESSING"
	case p.Status == PayRefunded:
		return "REFUND"
	case p.Status == PayFailed && x.Status == StatusCompleted:
		return "DEBT"
	case x.Status == StatusCompleted:
		return "PAID"
	}
	return "PROCESSING"
}

// Get returns a session with its live state: for a running session the
// energy, periods and cost so far (DESIGN §5).
func (s *Service) Get(ctx context.Context, p org.Principal, sessionID string) (*Session, error) {
	x, err := load(ctx, s.db.Q(), "", p, sessionID)
	if err != nil {
		return nil, err
	}
	return x, s.live(ctx, s.db.Q(), x)
}

// Status reads a session's status and its payment's hosted-page URL alone:
// a cheap look for callers waiting for a change (Get prices the session).
func (s *Service) Status(ctx context.Context, p org.Principal, sessionID string) (status, paymentURL string, err error) {
	var url sql.NullString
	err = s.db.Q().QueryRowContext(ctx, `SELECT s.status, p.url FROM sessions s LEFT JOIN session_payments p ON p.session_id = s.id
		WHERE s.id = $1 AND s.org_id = $2 AND s.test_mode = $3`, sessionID, p.OrgID, p.TestMode).Scan(&status, &url)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", apperr.NotFoundf("session", sessionID)
	}
	if err != nil {
		return "", "", fmt.Errorf("session: status of %s: %w", sessionID, err)
	}
	return status, url.String, nil
}

func (s *Service) live(ctx context.Context, q store.Querier, x *Session) error {
	x.BalanceStatus = balanceStatus(x)
	if x.ChargingPeriods == nil {
		x.ChargingPeriods = []PeriodView{}
	}
	if x.TransactionID == nil {
		return nil
	}
	if x.EndedAt != nil {
		// Ended: the stored cost is final; rebuild the periods for the view.
		ps, err := loadPeriods(ctx, q, x.ID)
		if err != nil || len(ps) == 0 {
			return err
		}
		meterEnd := ps[0].meterStart + x.Energy.Wh
		_, views := priceInput(ps, *x.EndedAt, meterEnd, time.UTC)
		x.ChargingPeriods = views
		x.Duration = int64(x.EndedAt.Sub(ps[0].startedAt).Seconds())
		x.Energy.KWh = kwh(x.Energy.Wh)
		return nil
	}
	t, err := transaction(ctx, q, *x.TransactionID)
	if err != nil {
		return err
	}
	_, err = x.price(ctx, q, time.Now().UTC(), t.LastEnergyWh, false)
	x.Energy.KWh = kwh(x.Energy.Wh)
	return err
}

func kwh(wh int64) string { return fmt.Sprintf("%d.%03d", wh/1000, wh%1000) }
