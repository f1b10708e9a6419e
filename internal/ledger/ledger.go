// Package ledger is Joule's double-entry ledger with holds, in the style of
// TigerBeetle: accounts carry four running totals (debits and credits, posted
// and pending), transfers are immutable and idempotent by a caller-chosen id,
// and a hold is a pending transfer that is later posted (in full or in part)
// or voided, exactly once.
//
// Every write takes a *store.Tx so that a caller commits its transfer with
// its own state change, events and jobs in one transaction (DESIGN §2.2).
// Every write locks the accounts it touches (SELECT ... FOR UPDATE on
// PostgreSQL, in id order so that concurrent transfers cannot deadlock each
// other; SQLite's BEGIN IMMEDIATE already serializes writers), checks the
// account flags against the locked totals, and updates the totals in the same
// transaction, so balances are exact and O(1) to read under any concurrency.
//
// See docs/ledger.md for the model and the API.
package ledger

import (
	"errors"
	"time"
)

// Errors. Callers test them with errors.Is; the returned errors wrap them
// with the operation, the transfer id and the numbers involved.
var (
	// ErrNotFound: no account or transfer with that id.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request is malformed (bad amount, currency mismatch,
	// accounts of different organizations or modes, ...).
	ErrInvalid = errors.New("invalid request")
	// ErrAccountConflict: an account with that id exists with other fields.
	ErrAccountConflict = errors.New("account id exists with different fields")
	// ErrTransferConflict: a transfer with that id exists with other fields.
	ErrTransferConflict = errors.New("transfer id exists with different fields")
	// ErrInsufficientFunds: the transfer would break an account's flag
	// (a wallet's available balance would go below zero).
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrHoldResolved: the hold was already posted or voided differently.
	ErrHoldResolved = errors.New("hold already resolved")
	// ErrHoldExpired: the hold's expiry has passed; it can only be voided.
	ErrHoldExpired = errors.New("hold expired")
)

// Account kinds in use in Joule. The kind is a free string; these name the
// accounts the domain packages share.
const (
	AccountWallet           = "wallet"            // a user's wallet; credit-normal, never below zero
	AccountProviderClearing = "provider_clearing" // money received from (or owed by) the payment provider
	AccountPromotions       = "promotions"        // discounts and credits granted by the operator
	AccountRevenue          = "revenue"           // charging revenue
	AccountReceivable       = "receivable"        // postpaid amounts owed by drivers
)

// Transfer kinds in use in Joule: the business meaning of a transfer. Holds
// carry the kind of the charge they reserve for (e.g. session_charge); the
// mechanics are in Phase.
const (
	TransferTopUp         = "top_up"
	TransferDiscount      = "discount"
	TransferSessionCharge = "session_charge"
	TransferRefund        = "refund"
	TransferAdjustment    = "adjustment"
)

// MaxIDLength bounds account and transfer ids (transfer ids are idempotency
// keys chosen by callers, such as "topup:<id>").
const MaxIDLength = 200

// Flags are an account's balance constraints. At most one may be set.
type Flags struct {
	// DebitsMustNotExceedCredits: debits_posted + debits_pending <=
	// credits_posted, i.e. Available() >= 0. Set on wallets.
	DebitsMustNotExceedCredits bool
	// CreditsMustNotExceedDebits is the mirror, for debit-normal accounts:
	// credits_posted + credits_pending <= debits_posted.
	CreditsMustNotExceedDebits bool
}

// Account is a ledger account with its running totals, all in cents of
// Currency. The totals only ever change with a transfer.
type Account struct {
	ID       string
	OrgID    string
	TestMode bool
	Kind     string
	Currency string
	Flags    Flags

	DebitsPosted   int64
	CreditsPosted  int64
	DebitsPending  int64
	CreditsPending int64

	// LastSeq is the number of entries on the account (the seq of the latest).
	LastSeq   int64
	CreatedAt time.Time
}

// Balance is the posted balance of a credit-normal account (a wallet):
// credits_posted - debits_posted. It is negative for accounts that are
// mostly debited (provider clearing, receivables).
func (a Account) Balance() int64 { return a.CreditsPosted - a.DebitsPosted }

// Available is Balance minus the active holds on the account:
// credits_posted - debits_posted - debits_pending. Pending credits are not
// available until posted.
func (a Account) Available() int64 { return a.Balance() - a.DebitsPending }

// Phase is what a transfer does to the totals.
type Phase string

const (
	// PhaseSingle moves Amount at once: debits_posted and credits_posted.
	PhaseSingle Phase = "single"
	// PhasePending is a hold: debits_pending and credits_pending grow by Amount.
	PhasePending Phase = "pending"
	// PhasePost resolves a hold: the hold's amount leaves pending and Amount
	// (<= the hold's amount) is posted; the rest is released.
	PhasePost Phase = "post"
	// PhaseVoid resolves a hold by releasing all of it; Amount is the hold's.
	PhaseVoid Phase = "void"
)

// Transfer is an immutable ledger row. OrgID, TestMode and Currency are those
// of both accounts.
type Transfer struct {
	ID              string
	OrgID           string
	TestMode        bool
	DebitAccountID  string
	CreditAccountID string
	Amount          int64
	Currency        string
	Kind            string
	Phase           Phase
	// PendingID names the hold a post or void resolves.
	PendingID string
	// ExpiresAt (holds only, zero if none): after it the hold can no longer
	// be posted, only voided. The ledger does not void it by itself; the
	// caller schedules that (a job at ExpiresAt).
	ExpiresAt     time.Time
	ReferenceType string // the object this transfer is about, e.g. "session"
	ReferenceID   string
	Description   string
	Metadata      map[string]string
	CreatedAt     time.Time
}

// TransferRequest asks for a single-phase transfer (or, inside HoldRequest,
// a hold) of Amount from DebitAccountID to CreditAccountID.
type TransferRequest struct {
	// ID is the idempotency key, chosen by the caller from its own ids
	// (e.g. "topup:<topup_id>"): the same request again returns the first
	// transfer and posts nothing; a different request with the same ID fails
	// with ErrTransferConflict.
	ID              string
	DebitAccountID  string
	CreditAccountID string
	Amount          int64  // > 0, in cents
	Currency        string // must be both accounts' currency
	Kind            string // e.g. TransferTopUp
	ReferenceType   string
	ReferenceID     string
	Description     string
	Metadata        map[string]string
}

// HoldRequest asks for a pending transfer (a hold).
type HoldRequest struct {
	TransferRequest
	ExpiresAt time.Time // optional; see Transfer.ExpiresAt
}

// Status is the state of an entry's money.
type Status string

const (
	StatusPending Status = "pending" // a hold not yet resolved
	StatusPosted  Status = "posted"  // moved; for a hold: it was posted (see its post entry for the amount)
	StatusVoided  Status = "voided"  // a voided hold, or the void that released it
)

// Hold is a pending transfer with its resolution, if any.
type Hold struct {
	Transfer
	Status     Status
	Resolution *Transfer // the post or void, once resolved
}

// Entry is one line of an account's statement: a transfer as seen from the
// account.
type Entry struct {
	// Seq numbers the account's entries 1, 2, ... in commit order.
	Seq       int64
	AccountID string
	Transfer  Transfer
	// Amount is the transfer's amount signed from the account's point of
	// view: positive when the account is credited, negative when debited.
	Amount int64
	Status Status
	// Balance and Available are the account's right after this entry.
	Balance   int64
	Available int64
}
