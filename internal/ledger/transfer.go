package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/joule-ev/joule/internal/store"
)

// MaxAmount bounds one transfer's amount (10^15 cents), far above any real
// payment, so that a bug passing a huge number fails loudly instead of
// pushing totals toward int64 overflow.
const MaxAmount int64 = 1_000_000_000_000_000

const transferCols = `id, org_id, test_mode, debit_account_id, credit_account_id, amount, currency,
	kind, phase, pending_id, expires_at, reference_type, reference_id, description, metadata, created_at`

// CreateTransfer posts a single-phase transfer. See TransferRequest.ID for
// idempotency.
func CreateTransfer(ctx context.Context, tx *store.Tx, r TransferRequest) (Transfer, error) {
	if err := validateRequest(r); err != nil {
		return Transfer{}, fmt.Errorf("ledger: transfer %s: %w", r.ID, err)
	}
	out, err := apply(ctx, tx, []plan{{t: r.transfer(PhaseSingle)}})
	if err != nil {
		return Transfer{}, fmt.Errorf("ledger: transfer %s: %w", r.ID, err)
	}
	return out[0], nil
}

// CreateTransferBatch posts several single-phase transfers atomically, in
// order (a "linked" batch, e.g. a discounted top-up: provider clearing ->
// wallet for the amount paid, promotions -> wallet for the discount). Either
// all legs are applied or none is: every leg is checked before the first
// write, so a refused batch (invalid, conflicting, insufficient funds) has
// written nothing. Each leg's flags are checked after the legs before it, so
// a leg may spend what an earlier leg credited. Legs whose id already exists
// identically are returned as they are and not applied again, so retrying a
// committed batch is a no-op.
func CreateTransferBatch(ctx context.Context, tx *store.Tx, rs []TransferRequest) ([]Transfer, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("ledger: transfer batch: no transfers: %w", ErrInvalid)
	}
	plans := make([]plan, len(rs))
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		if err := validateRequest(r); err != nil {
			return nil, fmt.Errorf("ledger: transfer batch %s: leg %d: %w", rs[0].ID, i, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("ledger: transfer batch %s: leg %d: duplicate id %s: %w", rs[0].ID, i, r.ID, ErrInvalid)
		}
		seen[r.ID] = true
		plans[i] = plan{t: r.transfer(PhaseSingle)}
	}
	out, err := apply(ctx, tx, plans)
	if err != nil {
		return nil, fmt.Errorf("ledger: transfer batch %s: %w", rs[0].ID, err)
	}
	return out, nil
}

// CreateHold creates a pending transfer: the amount is reserved on both
// accounts (debits_pending, credits_pending) and leaves the debit account's
// Available at once, so a wallet's holds can never add up to more than it
// has. The hold's accounts are those the money will move between when it is
// posted (e.g. wallet -> revenue); no intermediate holds account is needed.
func CreateHold(ctx context.Context, tx *store.Tx, h HoldRequest) (Transfer, error) {
	if err := validateRequest(h.TransferRequest); err != nil {
		return Transfer{}, fmt.Errorf("ledger: hold %s: %w", h.ID, err)
	}
	t := h.transfer(PhasePending)
	if !h.ExpiresAt.IsZero() {
		t.ExpiresAt = store.UTC(h.ExpiresAt)
	}
	out, err := apply(ctx, tx, []plan{{t: t}})
	if err != nil {
		return Transfer{}, fmt.Errorf("ledger: hold %s: %w", h.ID, err)
	}
	return out[0], nil
}

// PostHold posts amount (0 < amount <= the held amount) of the hold holdID
// and releases the rest, as a transfer with id postID. A hold is resolved
// once: posting it again for the same amount returns the first post (whatever
// postID), anything else fails with ErrHoldResolved. After the hold's expiry
// it fails with ErrHoldExpired. To take nothing, void the hold.
func PostHold(ctx context.Context, tx *store.Tx, holdID, postID string, amount int64) (Transfer, error) {
	t, err := resolve(ctx, tx, holdID, postID, PhasePost, amount)
	if err != nil {
		return Transfer{}, fmt.Errorf("ledger: post hold %s as %s: %w", holdID, postID, err)
	}
	return t, nil
}

// VoidHold releases all of the hold holdID, as a transfer with id voidID.
// Voiding a voided hold returns the first void; voiding a posted hold fails
// with ErrHoldResolved. Expired holds can be voided.
func VoidHold(ctx context.Context, tx *store.Tx, holdID, voidID string) (Transfer, error) {
	t, err := resolve(ctx, tx, holdID, voidID, PhaseVoid, 0)
	if err != nil {
		return Transfer{}, fmt.Errorf("ledger: void hold %s as %s: %w", holdID, voidID, err)
	}
	return t, nil
}

// resolve posts or voids a hold (phase PhasePost or PhaseVoid).
func resolve(ctx context.Context, tx *store.Tx, holdID, resID string, phase Phase, amount int64) (Transfer, error) {
	if err := validateID(resID); err != nil {
		return Transfer{}, err
	}
	// The hold row is immutable, so reading it before taking the account
	// locks is safe; its resolution is read under the locks, in apply.
	hold, err := getHold(ctx, tx, holdID)
	if err != nil {
		return Transfer{}, err
	}
	if phase == PhaseVoid {
		amount = hold.Amount
	}
	if amount <= 0 || amount > hold.Amount {
		return Transfer{}, fmt.Errorf("amount %d is not within 1..%d held (void to take nothing): %w",
			amount, hold.Amount, ErrInvalid)
	}
	t := hold
	t.ID, t.Phase, t.PendingID, t.Amount, t.ExpiresAt = resID, phase, hold.ID, amount, time.Time{}
	out, err := apply(ctx, tx, []plan{{t: t, hold: &hold}})
	if err != nil {
		return Transfer{}, err
	}
	return out[0], nil
}

// GetTransfer reads a transfer.
func GetTransfer(ctx context.Context, q store.Querier, transferID string) (Transfer, error) {
	t, err := getTransfer(ctx, q, transferID)
	if err != nil {
		return Transfer{}, fmt.Errorf("ledger: transfer %s: %w", transferID, err)
	}
	return t, nil
}

// GetHold reads a hold and its resolution.
func GetHold(ctx context.Context, q store.Querier, holdID string) (Hold, error) {
	t, err := getHold(ctx, q, holdID)
	if err != nil {
		return Hold{}, fmt.Errorf("ledger: hold %s: %w", holdID, err)
	}
	h := Hold{Transfer: t, Status: StatusPending}
	res, err := resolution(ctx, q, holdID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return Hold{}, fmt.Errorf("ledger: hold %s: %w", holdID, err)
	default:
		h.Resolution = &res
		h.Status = resolvedStatus(res.Phase)
	}
	return h, nil
}

// plan is one transfer row to write and, for a post or void, the hold it
// resolves.
type plan struct {
	t    Transfer
	hold *Transfer
}

// entryRow is an account's totals right after one transfer.
type entryRow struct {
	account  Account
	transfer string
}

// apply checks and writes plans in one go. It locks every account involved
// (in id order), then checks each plan against the locked totals as updated
// by the plans before it, and writes only once all have passed: transfers,
// entries, then the accounts' new totals.
func apply(ctx context.Context, tx *store.Tx, plans []plan) ([]Transfer, error) {
	var ids []string
	for _, p := range plans {
		ids = append(ids, p.t.DebitAccountID, p.t.CreditAccountID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	accounts := make(map[string]*Account, len(ids))
	version := make(map[string]int64, len(ids))
	for _, accountID := range ids {
		a, err := lockAccount(ctx, tx, accountID)
		if err != nil {
			return nil, err
		}
		accounts[accountID] = &a
		version[accountID] = a.LastSeq
	}

	// Errors name the failing leg when there are several; a single
	// transfer's caller names it already.
	fail := func(p plan, err error) error {
		if len(plans) > 1 {
			return fmt.Errorf("leg %s: %w", p.t.ID, err)
		}
		return err
	}
	out := make([]Transfer, len(plans))
	var (
		created []Transfer
		entries []entryRow
	)
	for i, p := range plans {
		// Existence is checked under the locks: a concurrent identical
		// request has either committed (and is seen here) or waits for us.
		existing, err := getTransfer(ctx, tx, p.t.ID)
		switch {
		case err == nil:
			if !sameTransfer(existing, p.t) {
				return nil, fail(p, ErrTransferConflict)
			}
			out[i] = existing
			continue
		case !errors.Is(err, ErrNotFound):
			return nil, fail(p, err)
		}
		if p.hold != nil {
			res, err := resolution(ctx, tx, p.hold.ID)
			switch {
			case err == nil:
				if res.Phase == p.t.Phase && res.Amount == p.t.Amount {
					out[i] = res
					continue
				}
				return nil, fmt.Errorf("already %s by %s (amount %d): %w", resolvedStatus(res.Phase), res.ID, res.Amount, ErrHoldResolved)
			case !errors.Is(err, ErrNotFound):
				return nil, err
			}
			if p.t.Phase == PhasePost && !p.hold.ExpiresAt.IsZero() && !store.Now().Before(p.hold.ExpiresAt) {
				return nil, fmt.Errorf("expired at %s: %w", p.hold.ExpiresAt.Format(time.RFC3339Nano), ErrHoldExpired)
			}
		}
		dr, cr := accounts[p.t.DebitAccountID], accounts[p.t.CreditAccountID]
		if err := sameBooks(p.t, dr, cr); err != nil {
			return nil, fail(p, err)
		}
		if err := move(p, dr, cr); err != nil {
			return nil, fail(p, err)
		}
		t := p.t
		t.OrgID, t.TestMode, t.CreatedAt = dr.OrgID, dr.TestMode, store.Now()
		dr.LastSeq++
		cr.LastSeq++
		entries = append(entries, entryRow{*dr, t.ID}, entryRow{*cr, t.ID})
		created = append(created, t)
		out[i] = t
	}

	for _, t := range created {
		if err := insertTransfer(ctx, tx, t); err != nil {
			return nil, err
		}
	}
	for _, e := range entries {
		a := e.account
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (account_id, seq, transfer_id,
			debits_posted, credits_posted, debits_pending, credits_pending) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
			a.ID, a.LastSeq, e.transfer, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending); err != nil {
			return nil, fmt.Errorf("entry %s of %s: %w", e.transfer, a.ID, err)
		}
	}
	for _, accountID := range ids {
		a := accounts[accountID]
		if a.LastSeq == version[accountID] {
			continue // only idempotent replays touched it
		}
		// The version guard cannot fail while the row lock holds; it turns
		// a locking bug into an error instead of a lost update.
		res, err := tx.ExecContext(ctx, `UPDATE ledger_accounts SET debits_posted = $1, credits_posted = $2,
			debits_pending = $3, credits_pending = $4, last_seq = $5 WHERE id = $6 AND last_seq = $7`,
			a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending, a.LastSeq, a.ID, version[accountID])
		if err != nil {
			return nil, fmt.Errorf("update account %s: %w", a.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return nil, fmt.Errorf("update account %s: changed concurrently (rows %d, %v)", a.ID, n, err)
		}
	}
	return out, nil
}

// sameBooks checks that a transfer stays within one organization, one mode
// and one currency: a test-mode top-up can never credit a live wallet.
func sameBooks(t Transfer, dr, cr *Account) error {
	switch {
	case dr.OrgID != cr.OrgID || dr.TestMode != cr.TestMode:
		return fmt.Errorf("accounts %s and %s belong to different organizations or modes: %w", dr.ID, cr.ID, ErrInvalid)
	case dr.Currency != t.Currency || cr.Currency != t.Currency:
		return fmt.Errorf("currency %s does not match accounts %s (%s) and %s (%s): %w",
			t.Currency, dr.ID, dr.Currency, cr.ID, cr.Currency, ErrInvalid)
	}
	return nil
}

// move applies one plan to the in-memory totals of its accounts and checks
// their flags.
func move(p plan, dr, cr *Account) error {
	var err error
	switch p.t.Phase {
	case PhaseSingle:
		dr.DebitsPosted, err = add(dr.DebitsPosted, p.t.Amount, err)
		cr.CreditsPosted, err = add(cr.CreditsPosted, p.t.Amount, err)
	case PhasePending:
		dr.DebitsPending, err = add(dr.DebitsPending, p.t.Amount, err)
		cr.CreditsPending, err = add(cr.CreditsPending, p.t.Amount, err)
	case PhasePost, PhaseVoid:
		// The whole hold leaves pending; a post moves its amount to posted.
		dr.DebitsPending -= p.hold.Amount
		cr.CreditsPending -= p.hold.Amount
		if p.t.Phase == PhasePost {
			dr.DebitsPosted, err = add(dr.DebitsPosted, p.t.Amount, err)
			cr.CreditsPosted, err = add(cr.CreditsPosted, p.t.Amount, err)
		}
	}
	if err != nil {
		return err
	}
	// A debit can only break the debit account's flag and a credit the
	// credit account's, but checking both flags on both is as cheap and
	// cannot miss a case.
	if err := dr.violation(); err != nil {
		return err
	}
	return cr.violation()
}

// add is a+b, refusing int64 overflow; it passes on an earlier error.
func add(a, b int64, err error) (int64, error) {
	if err != nil {
		return a, err
	}
	if a > math.MaxInt64-b {
		return a, fmt.Errorf("total %d + %d overflows: %w", a, b, ErrInvalid)
	}
	return a + b, nil
}

func insertTransfer(ctx context.Context, tx *store.Tx, t Transfer) error {
	meta, err := encodeMetadata(t.Metadata)
	if err != nil {
		return err
	}
	var pending any
	if t.PendingID != "" {
		pending = t.PendingID
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ledger_transfers (`+transferCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
		t.ID, t.OrgID, t.TestMode, t.DebitAccountID, t.CreditAccountID, t.Amount, t.Currency,
		t.Kind, string(t.Phase), pending, store.NullTime(&t.ExpiresAt), t.ReferenceType, t.ReferenceID,
		t.Description, meta, t.CreatedAt)
	if store.IsUniqueViolation(err) {
		// Reached only when a transfer with this id committed concurrently
		// on other accounts (same accounts would have waited on our locks
		// and been seen by the existence check): a different request.
		return fmt.Errorf("insert transfer %s: %w (%v)", t.ID, ErrTransferConflict, err)
	}
	if err != nil {
		return fmt.Errorf("insert transfer %s: %w", t.ID, err)
	}
	return nil
}

func getTransfer(ctx context.Context, q store.Querier, transferID string) (Transfer, error) {
	return scanTransfer(q.QueryRowContext(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE id = $1`, transferID))
}

// resolution reads the post or void of a hold.
func resolution(ctx context.Context, q store.Querier, holdID string) (Transfer, error) {
	return scanTransfer(q.QueryRowContext(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE pending_id = $1`, holdID))
}

func getHold(ctx context.Context, q store.Querier, holdID string) (Transfer, error) {
	t, err := getTransfer(ctx, q, holdID)
	if err != nil {
		return Transfer{}, err
	}
	if t.Phase != PhasePending {
		return Transfer{}, fmt.Errorf("transfer %s is %s, not a hold: %w", holdID, t.Phase, ErrInvalid)
	}
	return t, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanTransfer(row scanner, extra ...any) (Transfer, error) {
	var (
		t       Transfer
		phase   string
		pending sql.NullString
		expires sql.NullTime
		meta    string
	)
	dest := append([]any{&t.ID, &t.OrgID, &t.TestMode, &t.DebitAccountID, &t.CreditAccountID, &t.Amount,
		&t.Currency, &t.Kind, &phase, &pending, &expires, &t.ReferenceType, &t.ReferenceID,
		&t.Description, &meta, &t.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Transfer{}, ErrNotFound
		}
		return Transfer{}, err
	}
	t.Phase, t.PendingID = Phase(phase), pending.String
	if expires.Valid {
		t.ExpiresAt = expires.Time
	}
	if err := json.Unmarshal([]byte(meta), &t.Metadata); err != nil {
		return Transfer{}, fmt.Errorf("transfer %s: metadata: %w", t.ID, err)
	}
	return t, nil
}

func encodeMetadata(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m) // keys sorted: equal maps store equal text
	if err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	return string(b), nil
}

// sameTransfer compares everything a request determines; OrgID, TestMode
// and CreatedAt are the ledger's own.
func sameTransfer(a, b Transfer) bool {
	return a.ID == b.ID && a.DebitAccountID == b.DebitAccountID && a.CreditAccountID == b.CreditAccountID &&
		a.Amount == b.Amount && a.Currency == b.Currency && a.Kind == b.Kind && a.Phase == b.Phase &&
		a.PendingID == b.PendingID && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.ReferenceType == b.ReferenceType && a.ReferenceID == b.ReferenceID &&
		a.Description == b.Description && maps.Equal(a.Metadata, b.Metadata)
}

func (r TransferRequest) transfer(phase Phase) Transfer {
	return Transfer{
		ID: r.ID, DebitAccountID: r.DebitAccountID, CreditAccountID: r.CreditAccountID,
		Amount: r.Amount, Currency: r.Currency, Kind: r.Kind, Phase: phase,
		ReferenceType: r.ReferenceType, ReferenceID: r.ReferenceID,
		Description: r.Description, Metadata: r.Metadata,
	}
}

func validateRequest(r TransferRequest) error {
	if err := validateID(r.ID); err != nil {
		return err
	}
	switch {
	case r.Amount <= 0 || r.Amount > MaxAmount:
		return fmt.Errorf("amount %d is not within 1..%d: %w", r.Amount, MaxAmount, ErrInvalid)
	case r.DebitAccountID == "" || r.CreditAccountID == "":
		return fmt.Errorf("debit and credit accounts are required: %w", ErrInvalid)
	case r.DebitAccountID == r.CreditAccountID:
		return fmt.Errorf("debit and credit account are both %s: %w", r.DebitAccountID, ErrInvalid)
	case !validCurrency(r.Currency):
		return fmt.Errorf("currency %q is not an ISO 4217 code: %w", r.Currency, ErrInvalid)
	case r.Kind == "":
		return fmt.Errorf("kind is required: %w", ErrInvalid)
	}
	return nil
}

func validateID(transferID string) error {
	if transferID == "" || len(transferID) > MaxIDLength {
		return fmt.Errorf("transfer id must be 1..%d bytes: %w", MaxIDLength, ErrInvalid)
	}
	return nil
}

func resolvedStatus(p Phase) Status {
	if p == PhaseVoid {
		return StatusVoided
	}
	return StatusPosted
}
