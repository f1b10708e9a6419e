package payments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/joule-ev/joule/internal/store"
)

// Stripe is the live provider: Checkout Sessions for hosted pages,
// PaymentIntents (capture_method=manual for holds) for charges, refunds, and
// signed webhooks turned into Notifications (stripe_webhook.go). Every call
// carries the caller's idempotency key, derived from Joule's ids.
type Stripe struct {
	db            *store.DB
	sc            *stripe.Client
	webhookSecret string
	notify        func(ctx context.Context, tx *store.Tx, key string, n Notification) error
	log           *slog.Logger
}

// Metadata keys Joule puts on Checkout Sessions and PaymentIntents, so that
// a webhook names what the money is for.
const (
	mdPurpose   = "joule_purpose"
	mdReference = "joule_reference"
	mdOrg       = "joule_org"
	mdTestMode  = "joule_test_mode"
	mdFlow      = "joule_flow" // checkout | charge
)

// Stripe Checkout Sessions must expire between 30 minutes and 24 hours after
// creation. Joule's own expiry (often 5 minutes) is enforced by the caller's
// timer through ExpireCheckout; the session's own expires_at is only a
// backstop within Stripe's bounds.
const (
	stripeMinCheckoutLife = 31 * time.Minute
	stripeMaxCheckoutLife = 23*time.Hour + 59*time.Minute
)

func newStripe(db *store.DB, cfg StripeConfig, notify func(context.Context, *store.Tx, string, Notification) error, log *slog.Logger) *Stripe {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	bc := &stripe.BackendConfig{HTTPClient: hc, MaxNetworkRetries: stripe.Int64(2), LeveledLogger: slogLogger{log}}
	if cfg.APIURL != "" {
		bc.URL = stripe.String(cfg.APIURL)
	}
	if cfg.WebhookSecret == "" {
		log.Warn("payments: Stripe has no webhook secret: /webhooks/stripe refuses every event, so hosted payments never complete")
	}
	return &Stripe{db: db, sc: stripe.NewClient(cfg.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc))),
		webhookSecret: cfg.WebhookSecret, notify: notify, log: log}
}

// slogLogger sends stripe-go's log lines to Joule's logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Debugf(format string, v ...any) {
	s.l.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (s slogLogger) Infof(format string, v ...any) { s.l.Debug("stripe: " + fmt.Sprintf(format, v...)) }
func (s slogLogger) Warnf(format string, v ...any) { s.l.Warn("stripe: " + fmt.Sprintf(format, v...)) }
func (s slogLogger) Errorf(format string, v ...any) {
	s.l.Error("stripe: " + fmt.Sprintf(format, v...))
}

// Name is "stripe".
func (s *Stripe) Name() string { return "stripe" }

func metadata(purpose, reference, orgID string, testMode bool, flow string) map[string]string {
	return map[string]string{mdPurpose: purpose, mdReference: reference, mdOrg: orgID, mdTestMode: strconv.FormatBool(testMode), mdFlow: flow}
}

func captureMethod(m string) (string, error) {
	switch m {
	case CaptureAutomatic:
		return "automatic", nil
	case CaptureManual:
		return "manual", nil
	}
	return "", fmt.Errorf("capture method %q: %w", m, ErrInvalid)
}

// CreateCheckout creates a Checkout Session (mode payment). A manual capture
// holds the money (payment_intent_data.capture_method=manual); OfferSave with
// a known customer saves the card for off-session use
// (payment_intent_data.setup_future_usage=off_session on the driver's Stripe
// customer, created on first use).
func (s *Stripe) CreateCheckout(ctx context.Context, r CheckoutRequest) (*Checkout, error) {
	if err := checkAmount(r.IdempotencyKey, r.Amount, r.Currency); err != nil {
		return nil, fmt.Errorf("stripe: checkout %s: %w", r.IdempotencyKey, err)
	}
	cm, err := captureMethod(r.CaptureMethod)
	if err != nil {
		return nil, fmt.Errorf("stripe: checkout %s: %w", r.IdempotencyKey, err)
	}
	if r.Purpose == "" || r.Reference == "" || r.OrgID == "" {
		return nil, fmt.Errorf("stripe: checkout %s: purpose, reference and org are required: %w", r.IdempotencyKey, ErrInvalid)
	}
	now := time.Now()
	expires := r.ExpiresAt
	if expires.IsZero() {
		expires = now.Add(stripeMaxCheckoutLife)
	}
	stripeExpires := expires
	if lo := now.Add(stripeMinCheckoutLife); stripeExpires.Before(lo) {
		stripeExpires = lo
	}
	if hi := now.Add(stripeMaxCheckoutLife); stripeExpires.After(hi) {
		stripeExpires = hi
	}
	md := metadata(r.Purpose, r.Reference, r.OrgID, r.TestMode, "checkout")
	name := r.Description
	if name == "" {
		name = "Payment"
	}
	p := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String("payment"),
		ClientReferenceID: stripe.String(r.Reference),
		ExpiresAt:         stripe.Int64(stripeExpires.Unix()),
		Metadata:          md,
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(strings.ToLower(r.Currency)),
				UnitAmount:  stripe.Int64(r.Amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(name)},
			},
		}},
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{
			CaptureMethod: stripe.String(cm),
			Metadata:      md,
		},
	}
	if r.Description != "" {
		p.PaymentIntentData.Description = stripe.String(r.Description)
	}
	if r.SuccessURL != "" {
		p.SuccessURL = stripe.String(r.SuccessURL)
	}
	if r.CancelURL != "" {
		p.CancelURL = stripe.String(r.CancelURL)
	}
	if r.OfferSave && r.Customer != "" {
		cus, err := s.customer(ctx, r.OrgID, r.TestMode, r.Customer)
		if err != nil {
			return nil, fmt.Errorf("stripe: checkout %s: %w", r.IdempotencyKey, err)
		}
		p.Customer = stripe.String(cus)
		p.PaymentIntentData.SetupFutureUsage = stripe.String("off_session")
	}
	p.SetIdempotencyKey(r.IdempotencyKey)
	cs, err := s.sc.V1CheckoutSessions.Create(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("stripe: checkout %s: %w", r.IdempotencyKey, mapError(err))
	}
	out := &Checkout{ID: cs.ID, URL: cs.URL, ExpiresAt: expires}
	if cs.PaymentIntent != nil {
		out.PaymentID = cs.PaymentIntent.ID
	}
	return out, nil
}

// customer returns the Stripe customer of a Joule user, creating it once.
func (s *Stripe) customer(ctx context.Context, orgID string, testMode bool, userID string) (string, error) {
	read := func(q store.Querier) (string, error) {
		var cus string
		err := q.QueryRowContext(ctx, `SELECT customer_id FROM stripe_customers WHERE org_id = $1 AND test_mode = $2 AND user_id = $3`,
			orgID, testMode, userID).Scan(&cus)
		return cus, err
	}
	cus, err := read(s.db.Q())
	if err == nil {
		return cus, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("customer of %s: %w", userID, err)
	}
	p := &stripe.CustomerCreateParams{Metadata: map[string]string{"joule_user": userID, mdOrg: orgID}}
	p.SetIdempotencyKey("customer:" + orgID + ":" + userID)
	c, err := s.sc.V1Customers.Create(ctx, p)
	if err != nil {
		return "", fmt.Errorf("create customer for %s: %w", userID, mapError(err))
	}
	// Two concurrent first checkouts got the same customer (same key); the
	// first insert wins and both read it back.
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO stripe_customers (org_id, test_mode, user_id, customer_id, created_at) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (org_id, test_mode, user_id) DO NOTHING`, orgID, testMode, userID, c.ID, store.Now()); err != nil {
			return err
		}
		cus, err = read(tx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("record customer of %s: %w", userID, err)
	}
	return cus, nil
}

// ExpireCheckout expires a Checkout Session. Stripe refuses to expire a
// completed session; the session is then read to tell a paid page
// (ErrAlreadyPaid) from one that had already expired (nil).
func (s *Stripe) ExpireCheckout(ctx context.Context, idempotencyKey, checkoutID string) error {
	p := &stripe.CheckoutSessionExpireParams{}
	p.SetIdempotencyKey(idempotencyKey)
	_, err := s.sc.V1CheckoutSessions.Expire(ctx, checkoutID, p)
	if err == nil {
		return nil
	}
	if !errors.Is(mapError(err), ErrInvalid) {
		return fmt.Errorf("stripe: expire checkout %s: %w", checkoutID, mapError(err))
	}
	cs, rerr := s.sc.V1CheckoutSessions.Retrieve(ctx, checkoutID, nil)
	if rerr != nil {
		return fmt.Errorf("stripe: expire checkout %s: %w", checkoutID, mapError(rerr))
	}
	switch cs.Status {
	case stripe.CheckoutSessionStatusComplete:
		return fmt.Errorf("stripe: expire checkout %s: %w", checkoutID, ErrAlreadyPaid)
	case stripe.CheckoutSessionStatusExpired:
		return nil
	}
	return fmt.Errorf("stripe: expire checkout %s: %w", checkoutID, mapError(err))
}

// Charge confirms a PaymentIntent off-session on a saved method.
func (s *Stripe) Charge(ctx context.Context, r ChargeRequest) (*Payment, error) {
	if err := checkAmount(r.IdempotencyKey, r.Amount, r.Currency); err != nil {
		return nil, fmt.Errorf("stripe: charge %s: %w", r.IdempotencyKey, err)
	}
	cm, err := captureMethod(r.CaptureMethod)
	if err != nil {
		return nil, fmt.Errorf("stripe: charge %s: %w", r.IdempotencyKey, err)
	}
	p := &stripe.PaymentIntentCreateParams{
		Amount:        stripe.Int64(r.Amount),
		Currency:      stripe.String(strings.ToLower(r.Currency)),
		PaymentMethod: stripe.String(r.PaymentMethod),
		Confirm:       stripe.Bool(true),
		OffSession:    stripe.Bool(true),
		CaptureMethod: stripe.String(cm),
		Metadata:      metadata(r.Purpose, r.Reference, r.OrgID, r.TestMode, "charge"),
	}
	if r.Customer != "" {
		p.Customer = stripe.String(r.Customer)
	}
	if r.Description != "" {
		p.Description = stripe.String(r.Description)
	}
	p.AddExpand("payment_method")
	p.SetIdempotencyKey(r.IdempotencyKey)
	pi, err := s.sc.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return declined(err), fmt.Errorf("stripe: charge %s: %w", r.IdempotencyKey, mapError(err))
	}
	out := toPayment(pi)
	if out.Status != StatusCaptured && out.Status != StatusAuthorized {
		// requires_action (3-D Secure) cannot be completed off-session.
		out.Status = StatusFailed
		if out.FailureCode == "" {
			out.FailureCode, out.FailureMessage = "authentication_required", "The card needs the driver to authenticate the payment."
		}
		return out, fmt.Errorf("stripe: charge %s: %s: %w", r.IdempotencyKey, out.FailureCode, ErrDeclined)
	}
	return out, nil
}

// declined is the failed payment a card error describes, nil for other errors.
func declined(err error) *Payment {
	var se *stripe.Error
	if !errors.As(err, &se) || se.Type != stripe.ErrorTypeCard {
		return nil
	}
	p := &Payment{Status: StatusFailed, FailureCode: string(se.Code), FailureMessage: se.Msg}
	if se.DeclineCode != "" {
		p.FailureCode = string(se.DeclineCode)
	}
	if se.PaymentIntent != nil {
		p.ID, p.Amount, p.Currency = se.PaymentIntent.ID, se.PaymentIntent.Amount, strings.ToUpper(string(se.PaymentIntent.Currency))
	}
	return p
}

// Capture captures amount_to_capture of an authorized PaymentIntent; Stripe
// releases the rest.
func (s *Stripe) Capture(ctx context.Context, idempotencyKey, paymentID string, amount int64) (*Payment, error) {
	if amount <= 0 {
		return nil, fmt.Errorf("stripe: capture %s: amount %d (cancel to take nothing): %w", paymentID, amount, ErrInvalid)
	}
	p := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(amount)}
	p.AddExpand("payment_method")
	p.AddExpand("latest_charge")
	p.SetIdempotencyKey(idempotencyKey)
	pi, err := s.sc.V1PaymentIntents.Capture(ctx, paymentID, p)
	if err != nil {
		return nil, fmt.Errorf("stripe: capture %s: %w", paymentID, mapError(err))
	}
	return toPayment(pi), nil
}

// Cancel cancels an uncaptured PaymentIntent; cancelling a canceled one
// returns it.
func (s *Stripe) Cancel(ctx context.Context, idempotencyKey, paymentID string) (*Payment, error) {
	p := &stripe.PaymentIntentCancelParams{}
	p.SetIdempotencyKey(idempotencyKey)
	pi, err := s.sc.V1PaymentIntents.Cancel(ctx, paymentID, p)
	if err == nil {
		return toPayment(pi), nil
	}
	if errors.Is(mapError(err), ErrInvalid) {
		if cur, gerr := s.GetPayment(ctx, paymentID); gerr == nil && cur.Status == StatusCanceled {
			return cur, nil
		}
	}
	return nil, fmt.Errorf("stripe: cancel %s: %w", paymentID, mapError(err))
}

// Refund refunds amount of a captured PaymentIntent.
func (s *Stripe) Refund(ctx context.Context, idempotencyKey, paymentID string, amount int64) (*Payment, error) {
	if amount <= 0 {
		return nil, fmt.Errorf("stripe: refund %s: amount %d: %w", paymentID, amount, ErrInvalid)
	}
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(paymentID), Amount: stripe.Int64(amount)}
	p.SetIdempotencyKey(idempotencyKey)
	if _, err := s.sc.V1Refunds.Create(ctx, p); err != nil {
		return nil, fmt.Errorf("stripe: refund %s: %w", paymentID, mapError(err))
	}
	return s.GetPayment(ctx, paymentID)
}

// GetPayment reads a PaymentIntent with its card and latest charge.
func (s *Stripe) GetPayment(ctx context.Context, paymentID string) (*Payment, error) {
	pi, err := s.paymentIntent(ctx, paymentID)
	if err != nil {
		return nil, fmt.Errorf("stripe: payment %s: %w", paymentID, err)
	}
	return toPayment(pi), nil
}

func (s *Stripe) paymentIntent(ctx context.Context, paymentID string) (*stripe.PaymentIntent, error) {
	p := &stripe.PaymentIntentRetrieveParams{}
	p.AddExpand("payment_method")
	p.AddExpand("latest_charge")
	pi, err := s.sc.V1PaymentIntents.Retrieve(ctx, paymentID, p)
	if err != nil {
		return nil, mapError(err)
	}
	return pi, nil
}

// toPayment translates a PaymentIntent into Joule's payment statuses.
func toPayment(pi *stripe.PaymentIntent) *Payment {
	p := &Payment{ID: pi.ID, Amount: pi.Amount, Currency: strings.ToUpper(string(pi.Currency))}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		p.Status, p.Captured = StatusCaptured, pi.AmountReceived
	case stripe.PaymentIntentStatusRequiresCapture:
		p.Status = StatusAuthorized
	case stripe.PaymentIntentStatusCanceled:
		p.Status = StatusCanceled
		if pi.AmountReceived > 0 { // a partial capture cancels the remainder
			p.Status, p.Captured = StatusCaptured, pi.AmountReceived
		}
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		p.Status = StatusRequiresPayment
		if pi.LastPaymentError != nil {
			p.Status = StatusFailed
		}
	default:
		p.Status = StatusRequiresPayment
	}
	if c := pi.LatestCharge; c != nil && c.AmountRefunded > 0 {
		p.Status, p.Refunded = StatusRefunded, c.AmountRefunded
	}
	if e := pi.LastPaymentError; e != nil {
		p.FailureCode, p.FailureMessage = string(e.Code), e.Msg
		if e.DeclineCode != "" {
			p.FailureCode = string(e.DeclineCode)
		}
	}
	if pm := pi.PaymentMethod; pm != nil && pm.Card != nil {
		p.Method = &Method{Token: pm.ID, Brand: string(pm.Card.Brand), Last4: pm.Card.Last4, ExpMonth: int(pm.Card.ExpMonth), ExpYear: int(pm.Card.ExpYear)}
		if pi.Customer != nil {
			p.Method.Customer = pi.Customer.ID
		}
	}
	return p
}

// mapError sorts stripe-go's errors into the provider errors: card errors are
// declines, Stripe's own failures and network errors are retryable, request
// errors are not.
func mapError(err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		return fmt.Errorf("%w: %s: %s", ErrDeclined, se.Code, se.Msg)
	case se.HTTPStatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, se.Msg)
	case se.HTTPStatusCode >= 500 || se.HTTPStatusCode == http.StatusTooManyRequests || se.Type == stripe.ErrorTypeAPI ||
		se.HTTPStatusCode == http.StatusConflict:
		return fmt.Errorf("%w: %s (request %s)", ErrUnavailable, se.Msg, se.RequestID)
	}
	return fmt.Errorf("%w: %s: %s (request %s)", ErrInvalid, se.Type, se.Msg, se.RequestID)
}
