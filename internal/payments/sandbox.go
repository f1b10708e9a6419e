package payments

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/store"
)

// Sandbox is the test-mode provider: Joule's own hosted card page, which
// accepts Stripe's public test card numbers, and real authorizations,
// captures, releases and refunds kept in its own tables (sandbox_checkouts,
// sandbox_payments, sandbox_methods, sandbox_operations) so that they can be
// reconciled against the ledger (Reconcile). Every outcome of a hosted page
// is recorded and its Notification enqueued in one transaction.
type Sandbox struct {
	db      *store.DB
	notify  func(ctx context.Context, tx *store.Tx, key string, n Notification) error
	baseURL string
}

// Hosted page (checkout) statuses in the sandbox.
const (
	PageOpen     = "open"
	PagePaid     = "paid"
	PageExpired  = "expired"
	PageCanceled = "canceled"
)

// defaultCheckoutLife is how long a checkout without ExpiresAt stays payable
// (Stripe's default for Checkout Sessions).
const defaultCheckoutLife = 24 * time.Hour

// Name is "sandbox".
func (s *Sandbox) Name() string { return "sandbox" }

// CheckoutView is a sandbox checkout as its hosted page shows it.
type CheckoutView struct {
	ID             string
	OrgID          string
	TestMode       bool
	Purpose        string
	Reference      string
	Customer       string
	Amount         int64
	Currency       string
	CaptureMethod  string
	OfferSave      bool
	Description    string
	SuccessURL     string
	CancelURL      string
	Status         string
	PaymentID      string
	Attempts       int
	FailureCode    string
	FailureMessage string
	ExpiresAt      time.Time
	CreatedAt      time.Time
}

// Payable reports whether the page still takes a card at now.
func (v CheckoutView) Payable(now time.Time) bool {
	return v.Status == PageOpen && now.Before(v.ExpiresAt)
}

// secureID makes an unguessable id: a checkout id is a capability (whoever
// has the URL can pay or cancel it), so it must not be derivable from
// another one, unlike Joule's time-ordered object ids.
func secureID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("payments: no randomness: " + err.Error())
	}
	return prefix + hex.EncodeToString(b[:])
}

// CreateCheckout makes a hosted page at BaseURL/pay/<id>.
func (s *Sandbox) CreateCheckout(ctx context.Context, r CheckoutRequest) (*Checkout, error) {
	if err := checkAmount(r.IdempotencyKey, r.Amount, r.Currency); err != nil {
		return nil, fmt.Errorf("sandbox: checkout %s: %w", r.IdempotencyKey, err)
	}
	switch {
	case !r.TestMode:
		return nil, fmt.Errorf("sandbox: checkout %s: the sandbox serves test mode only: %w", r.IdempotencyKey, ErrInvalid)
	case r.CaptureMethod != CaptureAutomatic && r.CaptureMethod != CaptureManual:
		return nil, fmt.Errorf("sandbox: checkout %s: capture method %q: %w", r.IdempotencyKey, r.CaptureMethod, ErrInvalid)
	case r.Purpose == "" || r.Reference == "" || r.OrgID == "":
		return nil, fmt.Errorf("sandbox: checkout %s: purpose, reference and org are required: %w", r.IdempotencyKey, ErrInvalid)
	}
	now := store.Now()
	expires := store.UTC(r.ExpiresAt)
	if r.ExpiresAt.IsZero() {
		expires = now.Add(defaultCheckoutLife)
	}
	if !expires.After(now) {
		return nil, fmt.Errorf("sandbox: checkout %s: expires_at is not in the future: %w", r.IdempotencyKey, ErrInvalid)
	}
	var out *Checkout
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		v, err := s.checkoutBy(ctx, tx, "idempotency_key", r.IdempotencyKey, false)
		if err == nil {
			if v.Purpose != r.Purpose || v.Reference != r.Reference || v.Amount != r.Amount || v.Currency != r.Currency || v.CaptureMethod != r.CaptureMethod {
				return fmt.Errorf("idempotency key reused with other parameters: %w", ErrInvalid)
			}
			out = &Checkout{ID: v.ID, URL: s.url(v.ID), ExpiresAt: v.ExpiresAt}
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		cid := secureID("cs_sbx_")
		_, err = tx.ExecContext(ctx, `INSERT INTO sandbox_checkouts (id, idempotency_key, org_id, test_mode, purpose, reference, customer, amount,
			currency, capture_method, offer_save, description, success_url, cancel_url, status, expires_at, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$17)`,
			cid, r.IdempotencyKey, r.OrgID, r.TestMode, r.Purpose, r.Reference, r.Customer, r.Amount, r.Currency, r.CaptureMethod,
			r.OfferSave, r.Description, r.SuccessURL, r.CancelURL, PageOpen, expires, now)
		if err != nil {
			return err
		}
		out = &Checkout{ID: cid, URL: s.url(cid), ExpiresAt: expires}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: checkout %s: %w", r.IdempotencyKey, err)
	}
	return out, nil
}

func (s *Sandbox) url(checkoutID string) string { return s.baseURL + "/pay/" + checkoutID }

// Checkout reads a checkout for its page.
func (s *Sandbox) Checkout(ctx context.Context, checkoutID string) (CheckoutView, error) {
	v, err := s.checkoutBy(ctx, s.db.Q(), "id", checkoutID, false)
	if err != nil {
		return v, fmt.Errorf("sandbox: checkout %s: %w", checkoutID, err)
	}
	return v, nil
}

const checkoutCols = `id, org_id, test_mode, purpose, reference, customer, amount, currency, capture_method, offer_save, description,
	success_url, cancel_url, status, COALESCE(payment_id, ''), attempts, COALESCE(failure_code, ''), COALESCE(failure_message, ''), expires_at, created_at`

// checkoutBy reads a checkout by id or idempotency_key, locking it when
// lock is set (q must then be a transaction).
func (s *Sandbox) checkoutBy(ctx context.Context, q store.Querier, col, val string, lock bool) (CheckoutView, error) {
	var v CheckoutView
	suffix := ""
	if lock {
		suffix = s.db.ForUpdate()
	}
	err := q.QueryRowContext(ctx, `SELECT `+checkoutCols+` FROM sandbox_checkouts WHERE `+col+` = $1`+suffix, val).Scan(
		&v.ID, &v.OrgID, &v.TestMode, &v.Purpose, &v.Reference, &v.Customer, &v.Amount, &v.Currency, &v.CaptureMethod, &v.OfferSave,
		&v.Description, &v.SuccessURL, &v.CancelURL, &v.Status, &v.PaymentID, &v.Attempts, &v.FailureCode, &v.FailureMessage,
		&v.ExpiresAt, &v.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("read checkout: %w", err)
	}
	return v, nil
}

func (s *Sandbox) setCheckoutStatus(ctx context.Context, tx *store.Tx, v *CheckoutView, status string) error {
	v.Status = status
	_, err := tx.ExecContext(ctx, `UPDATE sandbox_checkouts SET status = $1, payment_id = $2, attempts = $3, failure_code = $4, failure_message = $5,
		updated_at = $6 WHERE id = $7`, status, nullable(v.PaymentID), v.Attempts, nullable(v.FailureCode), nullable(v.FailureMessage), store.Now(), v.ID)
	if err != nil {
		return fmt.Errorf("update checkout %s: %w", v.ID, err)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Sandbox) notification(v CheckoutView, typ string, p *Payment, saved *Method) Notification {
	return Notification{Type: typ, CheckoutID: v.ID, Purpose: v.Purpose, Reference: v.Reference, OrgID: v.OrgID, TestMode: v.TestMode,
		Payment: p, SavedMethod: saved}
}

// Pay takes a card typed on the hosted page. A card the form checks refuse
// (a Luhn-invalid or non-test number, a past expiry, a bad CVC) comes back as
// a *CardError and changes nothing. Otherwise the card's test behaviour
// decides: a decline is recorded on the checkout, which stays open for
// another card until it expires (as Stripe Checkout does), and notified as
// checkout.failed; a success records the payment (captured, or authorized for
// manual capture), saves the card when the driver asked to and the checkout
// offers it, closes the checkout and notifies checkout.completed. A page that
// is no longer payable is returned as it is.
func (s *Sandbox) Pay(ctx context.Context, checkoutID string, card Card, save bool) (CheckoutView, *CardError, error) {
	v, err := s.Checkout(ctx, checkoutID)
	if err != nil || v.Status != PageOpen {
		return v, nil, err
	}
	now := store.Now()
	cc, cerr := card.check(now)
	if cerr != nil && v.Payable(now) {
		return v, cerr, nil
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if v, err = s.checkoutBy(ctx, tx, "id", checkoutID, true); err != nil {
			return err
		}
		if v.Status != PageOpen {
			return nil
		}
		if !v.Payable(store.Now()) {
			return s.expire(ctx, tx, &v)
		}
		display := Method{Brand: cc.Brand, Last4: cc.Last4, ExpMonth: cc.ExpMonth, ExpYear: cc.ExpYear}
		if cc.Decline != "" {
			v.Attempts++
			v.FailureCode, v.FailureMessage = cc.Decline, DeclineMessage(cc.Decline)
			if err := s.setCheckoutStatus(ctx, tx, &v, PageOpen); err != nil {
				return err
			}
			p := &Payment{Status: StatusFailed, Amount: v.Amount, Currency: v.Currency, Method: &display,
				FailureCode: v.FailureCode, FailureMessage: v.FailureMessage}
			return s.notify(ctx, tx, fmt.Sprintf("%s:failed:%d", v.ID, v.Attempts), s.notification(v, CheckoutFailed, p, nil))
		}
		var saved *Method
		if save && v.OfferSave {
			m := display
			m.Token = secureID("pm_sbx_")
			if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_methods (token, org_id, test_mode, customer, brand, last4, exp_month, exp_year, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, m.Token, v.OrgID, v.TestMode, v.Customer, m.Brand, m.Last4, m.ExpMonth, m.ExpYear, store.Now()); err != nil {
				return fmt.Errorf("save method: %w", err)
			}
			display, saved = m, &m
		}
		p, err := s.insertPayment(ctx, tx, sandboxPayment{key: "checkout:" + v.ID, orgID: v.OrgID, testMode: v.TestMode, checkoutID: v.ID,
			purpose: v.Purpose, reference: v.Reference, amount: v.Amount, currency: v.Currency, capture: v.CaptureMethod, method: display})
		if err != nil {
			return err
		}
		v.PaymentID, v.FailureCode, v.FailureMessage = p.ID, "", ""
		if err := s.setCheckoutStatus(ctx, tx, &v, PagePaid); err != nil {
			return err
		}
		return s.notify(ctx, tx, v.ID+":completed", s.notification(v, CheckoutCompleted, p, saved))
	})
	if err != nil {
		return v, nil, fmt.Errorf("sandbox: pay %s: %w", checkoutID, err)
	}
	return v, nil, nil
}

// expire closes an open checkout unpaid and notifies checkout.expired.
func (s *Sandbox) expire(ctx context.Context, tx *store.Tx, v *CheckoutView) error {
	if err := s.setCheckoutStatus(ctx, tx, v, PageExpired); err != nil {
		return err
	}
	return s.notify(ctx, tx, v.ID+":expired", s.notification(*v, CheckoutExpired, nil, nil))
}

// CancelCheckout is the page's Cancel button: an open checkout closes unpaid
// and checkout.canceled is notified. Any other checkout is returned as it is.
func (s *Sandbox) CancelCheckout(ctx context.Context, checkoutID string) (CheckoutView, error) {
	var v CheckoutView
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if v, err = s.checkoutBy(ctx, tx, "id", checkoutID, true); err != nil || v.Status != PageOpen {
			return err
		}
		if err := s.setCheckoutStatus(ctx, tx, &v, PageCanceled); err != nil {
			return err
		}
		return s.notify(ctx, tx, v.ID+":canceled", s.notification(v, CheckoutCanceled, nil, nil))
	})
	if err != nil {
		return v, fmt.Errorf("sandbox: cancel checkout %s: %w", checkoutID, err)
	}
	return v, nil
}

// ExpireCheckout closes an open checkout (checkout.expired is notified);
// expiring a closed unpaid one does nothing; a paid one returns
// ErrAlreadyPaid. The checkout's row lock makes this and Pay exclusive: a
// page is either paid or expired, never both.
func (s *Sandbox) ExpireCheckout(ctx context.Context, idempotencyKey, checkoutID string) error {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		v, err := s.checkoutBy(ctx, tx, "id", checkoutID, true)
		if err != nil {
			return err
		}
		switch v.Status {
		case PagePaid:
			return ErrAlreadyPaid
		case PageOpen:
			return s.expire(ctx, tx, &v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sandbox: expire checkout %s (%s): %w", checkoutID, idempotencyKey, err)
	}
	return nil
}

// sandboxPayment is a payment to record.
type sandboxPayment struct {
	key, orgID         string
	testMode           bool
	checkoutID         string
	purpose, reference string
	amount             int64
	currency, capture  string
	method             Method
	declineCode        string
}

func (s *Sandbox) insertPayment(ctx context.Context, tx *store.Tx, sp sandboxPayment) (*Payment, error) {
	p := &Payment{ID: "pi_sbx_" + id.New(), Amount: sp.amount, Currency: sp.currency, Method: &sp.method}
	switch {
	case sp.declineCode != "":
		p.Status, p.FailureCode, p.FailureMessage = StatusFailed, sp.declineCode, DeclineMessage(sp.declineCode)
	case sp.capture == CaptureManual:
		p.Status = StatusAuthorized
	default:
		p.Status, p.Captured = StatusCaptured, sp.amount
	}
	now := store.Now()
	_, err := tx.ExecContext(ctx, `INSERT INTO sandbox_payments (id, idempotency_key, org_id, test_mode, checkout_id, purpose, reference, amount, captured,
		refunded, currency, capture_method, status, method_token, brand, last4, exp_month, exp_year, failure_code, failure_message, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,0,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$20)`,
		p.ID, sp.key, sp.orgID, sp.testMode, nullable(sp.checkoutID), sp.purpose, sp.reference, p.Amount, p.Captured, p.Currency, sp.capture,
		p.Status, sp.method.Token, sp.method.Brand, sp.method.Last4, sp.method.ExpMonth, sp.method.ExpYear, nullable(p.FailureCode),
		nullable(p.FailureMessage), now)
	if err != nil {
		return nil, fmt.Errorf("record payment: %w", err)
	}
	return p, nil
}

const paymentCols = `id, idempotency_key, amount, captured, refunded, currency, capture_method, status, method_token, brand, last4, exp_month, exp_year,
	COALESCE(failure_code, ''), COALESCE(failure_message, '')`

// storedPayment is a sandbox_payments row.
type storedPayment struct {
	Payment
	key, capture string
}

func (s *Sandbox) payment(ctx context.Context, q store.Querier, col, val string, lock bool) (storedPayment, error) {
	var sp storedPayment
	m := &Method{}
	suffix := ""
	if lock {
		suffix = s.db.ForUpdate()
	}
	err := q.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM sandbox_payments WHERE `+col+` = $1`+suffix, val).Scan(
		&sp.ID, &sp.key, &sp.Amount, &sp.Captured, &sp.Refunded, &sp.Currency, &sp.capture, &sp.Status, &m.Token, &m.Brand, &m.Last4,
		&m.ExpMonth, &m.ExpYear, &sp.FailureCode, &sp.FailureMessage)
	if errors.Is(err, sql.ErrNoRows) {
		return sp, ErrNotFound
	}
	if err != nil {
		return sp, fmt.Errorf("read payment: %w", err)
	}
	sp.Method = m
	return sp, nil
}

// resolveMethod finds what an off-session token is: a test token
// (pm_card_visa, pm_card_chargeDeclined, ...) or a card saved on a hosted
// page of the same organization and mode. A saved card that has expired
// since is declined with expired_card.
func (s *Sandbox) resolveMethod(ctx context.Context, orgID string, testMode bool, token string) (Method, string, error) {
	if tm, ok := testMethods[token]; ok {
		m, _ := TestMethod(token)
		return m, tm.Decline, nil
	}
	var m Method
	err := s.db.Q().QueryRowContext(ctx, `SELECT token, brand, last4, exp_month, exp_year FROM sandbox_methods
		WHERE token = $1 AND org_id = $2 AND test_mode = $3`, token, orgID, testMode).Scan(&m.Token, &m.Brand, &m.Last4, &m.ExpMonth, &m.ExpYear)
	if errors.Is(err, sql.ErrNoRows) {
		return m, "", fmt.Errorf("no payment method %q: %w", token, ErrNotFound)
	}
	if err != nil {
		return m, "", fmt.Errorf("read method: %w", err)
	}
	if expired(m.ExpMonth, m.ExpYear, time.Now()) {
		return m, CodeExpiredCard, nil
	}
	return m, "", nil
}

// Charge takes or holds money from a saved sandbox card or a test token. The
// idempotency key makes a repeat return the first outcome, a decline
// included (as Stripe replays a failed request).
func (s *Sandbox) Charge(ctx context.Context, r ChargeRequest) (*Payment, error) {
	if err := checkAmount(r.IdempotencyKey, r.Amount, r.Currency); err != nil {
		return nil, fmt.Errorf("sandbox: charge %s: %w", r.IdempotencyKey, err)
	}
	switch {
	case !r.TestMode:
		return nil, fmt.Errorf("sandbox: charge %s: the sandbox serves test mode only: %w", r.IdempotencyKey, ErrInvalid)
	case r.CaptureMethod != CaptureAutomatic && r.CaptureMethod != CaptureManual:
		return nil, fmt.Errorf("sandbox: charge %s: capture method %q: %w", r.IdempotencyKey, r.CaptureMethod, ErrInvalid)
	}
	m, decline, err := s.resolveMethod(ctx, r.OrgID, r.TestMode, r.PaymentMethod)
	if err != nil {
		return nil, fmt.Errorf("sandbox: charge %s: %w", r.IdempotencyKey, err)
	}
	var p *Payment
	charge := func(tx *store.Tx) error {
		sp, err := s.payment(ctx, tx, "idempotency_key", r.IdempotencyKey, false)
		if err == nil {
			if sp.Amount != r.Amount || sp.Currency != r.Currency || sp.capture != r.CaptureMethod || sp.Method.Token != m.Token {
				return fmt.Errorf("idempotency key reused with other parameters: %w", ErrInvalid)
			}
			p = &sp.Payment
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		p, err = s.insertPayment(ctx, tx, sandboxPayment{key: r.IdempotencyKey, orgID: r.OrgID, testMode: r.TestMode, purpose: r.Purpose,
			reference: r.Reference, amount: r.Amount, currency: r.Currency, capture: r.CaptureMethod, method: m, declineCode: decline})
		return err
	}
	err = s.db.InTx(ctx, charge)
	if store.IsUniqueViolation(err) {
		// A concurrent request with the same key won; read its outcome.
		err = s.db.InTx(ctx, charge)
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox: charge %s: %w", r.IdempotencyKey, err)
	}
	if p.Status == StatusFailed {
		return p, fmt.Errorf("sandbox: charge %s: %s: %w", r.IdempotencyKey, p.FailureCode, ErrDeclined)
	}
	return p, nil
}

// Operation kinds in sandbox_operations.
const (
	opCapture = "capture"
	opCancel  = "cancel"
	opRefund  = "refund"
)

// operate applies a capture, cancel or refund once per idempotency key: the
// payment row is locked first, so a concurrent request with the same key
// waits and then finds the operation recorded.
func (s *Sandbox) operate(ctx context.Context, key, paymentID, kind string, amount int64, apply func(p *storedPayment) error) (*Payment, error) {
	if key == "" {
		return nil, fmt.Errorf("sandbox: %s %s: idempotency key is required: %w", kind, paymentID, ErrInvalid)
	}
	var out *Payment
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		p, err := s.payment(ctx, tx, "id", paymentID, true)
		if err != nil {
			return err
		}
		var opPayment, opKind string
		var opAmount int64
		err = tx.QueryRowContext(ctx, `SELECT payment_id, kind, amount FROM sandbox_operations WHERE idempotency_key = $1`, key).Scan(&opPayment, &opKind, &opAmount)
		switch {
		case err == nil:
			if opPayment != paymentID || opKind != kind || (kind != opCancel && opAmount != amount) {
				return fmt.Errorf("idempotency key %s reused with other parameters: %w", key, ErrInvalid)
			}
			out = &p.Payment
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read operation: %w", err)
		}
		if err := apply(&p); err != nil {
			return err
		}
		now := store.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE sandbox_payments SET status = $1, captured = $2, refunded = $3, updated_at = $4 WHERE id = $5`,
			p.Status, p.Captured, p.Refunded, now, p.ID); err != nil {
			return fmt.Errorf("update payment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_operations (idempotency_key, payment_id, kind, amount, created_at) VALUES ($1,$2,$3,$4,$5)`,
			key, p.ID, kind, amount, now); err != nil {
			return fmt.Errorf("record operation: %w", err)
		}
		out = &p.Payment
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s %s: %w", kind, paymentID, err)
	}
	return out, nil
}

// Capture takes amount (1..authorized) of an authorized payment and releases
// the rest.
func (s *Sandbox) Capture(ctx context.Context, idempotencyKey, paymentID string, amount int64) (*Payment, error) {
	return s.operate(ctx, idempotencyKey, paymentID, opCapture, amount, func(p *storedPayment) error {
		if p.Status != StatusAuthorized {
			return fmt.Errorf("payment is %s, not authorized: %w", p.Status, ErrInvalid)
		}
		if amount <= 0 || amount > p.Amount {
			return fmt.Errorf("capture %d is not within 1..%d authorized (cancel to take nothing): %w", amount, p.Amount, ErrInvalid)
		}
		p.Status, p.Captured = StatusCaptured, amount
		return nil
	})
}

// Cancel releases an authorization. Cancelling a canceled payment does
// nothing; a captured one cannot be canceled (refund it).
func (s *Sandbox) Cancel(ctx context.Context, idempotencyKey, paymentID string) (*Payment, error) {
	return s.operate(ctx, idempotencyKey, paymentID, opCancel, 0, func(p *storedPayment) error {
		switch p.Status {
		case StatusAuthorized, StatusCanceled:
			p.Status = StatusCanceled
			return nil
		}
		return fmt.Errorf("payment is %s; only an authorization can be canceled: %w", p.Status, ErrInvalid)
	})
}

// Refund returns amount of what was captured and not yet refunded.
func (s *Sandbox) Refund(ctx context.Context, idempotencyKey, paymentID string, amount int64) (*Payment, error) {
	return s.operate(ctx, idempotencyKey, paymentID, opRefund, amount, func(p *storedPayment) error {
		if p.Status != StatusCaptured && p.Status != StatusRefunded {
			return fmt.Errorf("payment is %s; only a captured payment can be refunded: %w", p.Status, ErrInvalid)
		}
		if left := p.Captured - p.Refunded; amount <= 0 || amount > left {
			return fmt.Errorf("refund %d is not within 1..%d captured and not refunded: %w", amount, left, ErrInvalid)
		}
		p.Status, p.Refunded = StatusRefunded, p.Refunded+amount
		return nil
	})
}

// GetPayment reads a payment.
func (s *Sandbox) GetPayment(ctx context.Context, paymentID string) (*Payment, error) {
	p, err := s.payment(ctx, s.db.Q(), "id", paymentID, false)
	if err != nil {
		return nil, fmt.Errorf("sandbox: payment %s: %w", paymentID, err)
	}
	return &p.Payment, nil
}

// IsSandboxCheckout reports whether id has the shape of a sandbox checkout id
// (the hosted page's router refuses anything else early).
func IsSandboxCheckout(checkoutID string) bool {
	return strings.HasPrefix(checkoutID, "cs_sbx_") && len(checkoutID) == len("cs_sbx_")+32
}
