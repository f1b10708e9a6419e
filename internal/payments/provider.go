// Package payments talks to payment providers behind one interface: the
// sandbox provider (test mode: Joule's own hosted card page with real holds,
// captures, releases and refunds kept in its own tables) and Stripe (live
// mode). Calls to a provider are never made inside a database transaction,
// and every call carries an idempotency key derived from Joule's own ids
// (e.g. "capture:<payment_id>"), so a retried call can never charge twice.
package payments

import (
	"context"
	"errors"
	"time"
)

// Payment statuses as Joule records them.
const (
	StatusRequiresPayment = "requires_payment" // hosted page not completed yet
	StatusAuthorized      = "authorized"       // funds held, capture pending
	StatusCaptured        = "captured"         // money taken (in full or in part)
	StatusCanceled        = "canceled"         // authorization released, nothing taken
	StatusFailed          = "failed"           // declined or errored
	StatusRefunded        = "refunded"         // some or all of the captured amount returned
)

// Capture methods of a checkout or charge.
const (
	CaptureAutomatic = "automatic" // take the money at once (top-ups, postpaid)
	CaptureManual    = "manual"    // hold it, capture the final amount later (payment links)
)

// Provider is a payment provider. Amounts are minor units (cents) of
// Currency (ISO 4217, upper case). Every method is idempotent by its request's
// IdempotencyKey.
type Provider interface {
	// Name is "sandbox" or "stripe".
	Name() string
	// CreateCheckout makes a hosted payment page for a card the driver enters
	// (top-ups, payment-link sessions). The outcome arrives as a Notification.
	CreateCheckout(ctx context.Context, r CheckoutRequest) (*Checkout, error)
	// ExpireCheckout closes a hosted page that was not paid in time; a page
	// that was already paid is left alone and ErrAlreadyPaid returned.
	ExpireCheckout(ctx context.Context, idempotencyKey, checkoutID string) error
	// Charge takes (CaptureAutomatic) or holds (CaptureManual) an amount
	// from a saved payment method without the driver present.
	Charge(ctx context.Context, r ChargeRequest) (*Payment, error)
	// Capture takes Amount (<= the authorized amount) of an authorized
	// payment and releases the rest.
	Capture(ctx context.Context, idempotencyKey, paymentID string, amount int64) (*Payment, error)
	// Cancel releases an authorization without taking anything.
	Cancel(ctx context.Context, idempotencyKey, paymentID string) (*Payment, error)
	// Refund returns Amount of a captured payment.
	Refund(ctx context.Context, idempotencyKey, paymentID string, amount int64) (*Payment, error)
	// GetPayment reads the provider's record (for reconciliation).
	GetPayment(ctx context.Context, paymentID string) (*Payment, error)
}

// CheckoutRequest asks for a hosted payment page.
type CheckoutRequest struct {
	IdempotencyKey string
	// Purpose and Reference say what the money is for ("top_up" and the
	// top-up id, "session" and the session id); they come back in the
	// Notification.
	Purpose, Reference string
	OrgID              string
	TestMode           bool
	Customer           string // Joule user id, if known
	Amount             int64
	Currency           string
	CaptureMethod      string
	// OfferSave lets the driver save the card for later (top-ups).
	OfferSave  bool
	ExpiresAt  time.Time
	SuccessURL string
	CancelURL  string
	// Description is shown on the page ("Wallet top-up", "Charging session at ...").
	Description string
}

// Checkout is a hosted payment page.
type Checkout struct {
	ID        string
	URL       string
	PaymentID string // the provider's payment (intent) id, when known up front
	ExpiresAt time.Time
}

// ChargeRequest takes or holds money from a saved method.
type ChargeRequest struct {
	IdempotencyKey string
	OrgID          string
	TestMode       bool
	Customer       string // the provider's customer id of the saved method (Method.Customer; "" in the sandbox)
	PaymentMethod  string // provider token of a saved method
	Amount         int64
	Currency       string
	CaptureMethod  string
	Description    string
	Purpose        string
	Reference      string
}

// Payment is the provider's record of a payment.
type Payment struct {
	ID             string
	Status         string
	Amount         int64 // authorized or charged
	Captured       int64
	Refunded       int64
	Currency       string
	Method         *Method
	FailureCode    string // e.g. card_declined, insufficient_funds, expired_card
	FailureMessage string
}

// Method is a saved card as Joule may store it: a provider token and
// display data, never the card number.
type Method struct {
	Token string
	// Customer is the provider's customer the method is attached to (Stripe
	// needs it to charge the method off-session); "" in the sandbox.
	Customer string
	Brand    string
	Last4    string
	ExpMonth int
	ExpYear  int
}

// Notification is a provider's word on a checkout's outcome, delivered
// durably (as a job) to the service that asked for the checkout.
type Notification struct {
	Type        string // checkout.completed | checkout.failed | checkout.expired | checkout.canceled | payment.* (see notify.go)
	CheckoutID  string
	Purpose     string
	Reference   string
	OrgID       string
	TestMode    bool
	Payment     *Payment
	SavedMethod *Method // the card the driver chose to save, if any
}

// Errors a provider returns.
var (
	// ErrDeclined: the card or method was refused; Payment.FailureCode says why.
	ErrDeclined = errors.New("payments: declined")
	// ErrAlreadyPaid: the checkout was paid before it could be expired.
	ErrAlreadyPaid = errors.New("payments: checkout already paid")
	// ErrInvalid: the request does not fit the payment's state (capture more
	// than authorized, refund more than captured, ...).
	ErrInvalid = errors.New("payments: invalid request")
	// ErrNotFound: the provider has no such payment, checkout or method.
	ErrNotFound = errors.New("payments: no such object")
	// ErrUnavailable: the provider did not answer; retry with the same key.
	ErrUnavailable = errors.New("payments: provider unavailable")
)
