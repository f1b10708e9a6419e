package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

var ctx = context.Background()

// books is one organization's accounts in test mode, in USD.
type books struct {
	db                                    *store.DB
	org                                   string
	wallet, clearing, promotions, revenue string
}

func setup(t *testing.T, db *store.DB) books {
	t.Helper()
	b := books{db: db, org: "org1"}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		w, err := ledger.CreateAccount(ctx, tx, ledger.Account{OrgID: b.org, TestMode: true, Kind: ledger.AccountWallet,
			Currency: "USD", Flags: ledger.Flags{DebitsMustNotExceedCredits: true}})
		if err != nil {
			return err
		}
		b.wallet = w.ID
		for kind, dst := range map[string]*string{
			ledger.AccountProviderClearing: &b.clearing,
			ledger.AccountPromotions:       &b.promotions,
			ledger.AccountRevenue:          &b.revenue,
		} {
			a, err := ledger.SystemAccount(ctx, tx, b.org, true, kind, "USD")
			if err != nil {
				return err
			}
			*dst = a.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inTx runs fn in its own transaction and returns its result.
func inTx[T any](db *store.DB, fn func(tx *store.Tx) (T, error)) (T, error) {
	var out T
	err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

func (b books) transfer(r ledger.TransferRequest) (ledger.Transfer, error) {
	if r.Currency == "" {
		r.Currency = "USD"
	}
	return inTx(b.db, func(tx *store.Tx) (ledger.Transfer, error) { return ledger.CreateTransfer(ctx, tx, r) })
}

func (b books) topUp(t *testing.T, id string, amount int64) ledger.Transfer {
	t.Helper()
	tr, err := b.transfer(ledger.TransferRequest{ID: id, DebitAccountID: b.clearing, CreditAccountID: b.wallet,
		Amount: amount, Kind: ledger.TransferTopUp, ReferenceType: "top_up", ReferenceID: id})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func (b books) hold(id string, amount int64, expires time.Time) (ledger.Transfer, error) {
	return inTx(b.db, func(tx *store.Tx) (ledger.Transfer, error) {
		return ledger.CreateHold(ctx, tx, ledger.HoldRequest{ExpiresAt: expires, TransferRequest: ledger.TransferRequest{
			ID: id, DebitAccountID: b.wallet, CreditAccountID: b.revenue, Amount: amount, Currency: "USD",
			Kind: ledger.TransferSessionCharge, ReferenceType: "session", ReferenceID: "s-" + id}})
	})
}

func (b books) post(holdID, postID string, amount int64) (ledger.Transfer, error) {
	return inTx(b.db, func(tx *store.Tx) (ledger.Transfer, error) { return ledger.PostHold(ctx, tx, holdID, postID, amount) })
}

func (b books) void(holdID, voidID string) (ledger.Transfer, error) {
	return inTx(b.db, func(tx *store.Tx) (ledger.Transfer, error) { return ledger.VoidHold(ctx, tx, holdID, voidID) })
}

func (b books) account(t *testing.T, id string) ledger.Account {
	t.Helper()
	a, err := ledger.GetAccount(ctx, b.db.Q(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wantWallet asserts the wallet's balance and available balance.
func (b books) wantWallet(t *testing.T, balance, available int64) {
	t.Helper()
	w := b.account(t, b.wallet)
	if w.Balance() != balance || w.Available() != available {
		t.Fatalf("wallet balance/available = %d/%d, want %d/%d", w.Balance(), w.Available(), balance, available)
	}
}

func (b books) check(t *testing.T) ledger.Report {
	t.Helper()
	r, err := ledger.Check(ctx, b.db.Q())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("ledger check failed:\n%s", strings.Join(r.Problems, "\n"))
	}
	return r
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func TestTransferBalanced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		tr := b.topUp(t, "topup:1", 5000)
		if tr.OrgID != b.org || !tr.TestMode || tr.Phase != ledger.PhaseSingle || tr.CreatedAt.IsZero() {
			t.Fatalf("transfer = %+v", tr)
		}
		got, err := ledger.GetTransfer(ctx, db.Q(), "topup:1")
		if err != nil || !got.CreatedAt.Equal(tr.CreatedAt) || got.Amount != 5000 || got.ReferenceID != "topup:1" {
			t.Fatalf("GetTransfer = %+v, %v", got, err)
		}
		b.wantWallet(t, 5000, 5000)
		if c := b.account(t, b.clearing); c.Balance() != -5000 || c.DebitsPosted != 5000 {
			t.Fatalf("clearing = %+v", c)
		}
		if r := b.check(t); r.Accounts != 4 || r.Transfers != 1 {
			t.Fatalf("report = %+v", r)
		}
	})
}

func TestAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		again, err := inTx(db, func(tx *store.Tx) (ledger.Account, error) {
			return ledger.SystemAccount(ctx, tx, b.org, true, ledger.AccountRevenue, "USD")
		})
		if err != nil || again.ID != b.revenue || again.ID != "revenue:org1:test:USD" {
			t.Fatalf("SystemAccount again = %+v, %v", again, err)
		}
		create := func(a ledger.Account) error {
			_, err := inTx(db, func(tx *store.Tx) (ledger.Account, error) { return ledger.CreateAccount(ctx, tx, a) })
			return err
		}
		wantErr(t, create(ledger.Account{ID: b.revenue, OrgID: b.org, TestMode: true, Kind: ledger.AccountRevenue, Currency: "EUR"}), ledger.ErrAccountConflict)
		wantErr(t, create(ledger.Account{OrgID: b.org, Kind: "x", Currency: "usd"}), ledger.ErrInvalid)
		wantErr(t, create(ledger.Account{OrgID: b.org, Kind: "x", Currency: "USD",
			Flags: ledger.Flags{DebitsMustNotExceedCredits: true, CreditsMustNotExceedDebits: true}}), ledger.ErrInvalid)
		wantErr(t, create(ledger.Account{OrgID: b.org, Kind: "x", Currency: "USD", CreditsPosted: 100}), ledger.ErrInvalid)
		_, err = ledger.GetAccount(ctx, db.Q(), "nope")
		wantErr(t, err, ledger.ErrNotFound)
	})
}

func TestTransferIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		req := ledger.TransferRequest{ID: "topup:1", DebitAccountID: b.clearing, CreditAccountID: b.wallet,
			Amount: 700, Kind: ledger.TransferTopUp, Metadata: map[string]string{"a": "1", "b": "2"}}
		first, err := b.transfer(req)
		if err != nil {
			t.Fatal(err)
		}
		second, err := b.transfer(req)
		if err != nil || second.ID != first.ID || !second.CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("second = %+v, %v", second, err)
		}
		// Twice in one transaction too.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			req.Currency = "USD"
			for range 2 {
				if _, err := ledger.CreateTransfer(ctx, tx, req); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		b.wantWallet(t, 700, 700)
		if w := b.account(t, b.wallet); w.LastSeq != 1 {
			t.Fatalf("wallet has %d entries, want 1", w.LastSeq)
		}
		b.check(t)
	})
}

func TestTransferConflict(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		req := ledger.TransferRequest{ID: "topup:1", DebitAccountID: b.clearing, CreditAccountID: b.wallet,
			Amount: 700, Kind: ledger.TransferTopUp}
		if _, err := b.transfer(req); err != nil {
			t.Fatal(err)
		}
		for name, change := range map[string]func(*ledger.TransferRequest){
			"amount":   func(r *ledger.TransferRequest) { r.Amount = 701 },
			"account":  func(r *ledger.TransferRequest) { r.DebitAccountID = b.promotions },
			"kind":     func(r *ledger.TransferRequest) { r.Kind = ledger.TransferAdjustment },
			"metadata": func(r *ledger.TransferRequest) { r.Metadata = map[string]string{"k": "v"} },
		} {
			r := req
			change(&r)
			if _, err := b.transfer(r); !errors.Is(err, ledger.ErrTransferConflict) {
				t.Fatalf("%s: err = %v, want ErrTransferConflict", name, err)
			}
		}
		// A hold cannot reuse a transfer's id either.
		_, err := inTx(db, func(tx *store.Tx) (ledger.Transfer, error) {
			return ledger.CreateHold(ctx, tx, ledger.HoldRequest{TransferRequest: ledger.TransferRequest{ID: "topup:1",
				DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 700, Currency: "USD", Kind: ledger.TransferTopUp}})
		})
		wantErr(t, err, ledger.ErrTransferConflict)
		b.wantWallet(t, 700, 700)
		b.check(t)
	})
}

func TestOverdraftRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		b.topUp(t, "topup:1", 1000)
		charge := func(id string, amount int64) error {
			_, err := b.transfer(ledger.TransferRequest{ID: id, DebitAccountID: b.wallet, CreditAccountID: b.revenue,
				Amount: amount, Kind: ledger.TransferSessionCharge})
			return err
		}
		wantErr(t, charge("charge:1", 1001), ledger.ErrInsufficientFunds)

		// A caller that ignores the error and commits still writes nothing.
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := ledger.CreateTransfer(ctx, tx, ledger.TransferRequest{ID: "charge:2", DebitAccountID: b.wallet,
				CreditAccountID: b.revenue, Amount: 5000, Currency: "USD", Kind: ledger.TransferSessionCharge})
			if !errors.Is(err, ledger.ErrInsufficientFunds) {
				return fmt.Errorf("err = %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.GetTransfer(ctx, db.Q(), "charge:2"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("refused transfer was stored: %v", err)
		}

		// Holds count against what is available.
		if _, err := b.hold("hold:1", 800, time.Time{}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, charge("charge:3", 201), ledger.ErrInsufficientFunds)
		if _, err := b.hold("hold:2", 201, time.Time{}); !errors.Is(err, ledger.ErrInsufficientFunds) {
			t.Fatalf("hold beyond available: %v", err)
		}
		if err := charge("charge:4", 200); err != nil {
			t.Fatal(err)
		}
		b.wantWallet(t, 800, 0)

		// Malformed requests.
		for name, r := range map[string]ledger.TransferRequest{
			"currency":  {ID: "x", DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 1, Currency: "EUR", Kind: "k"},
			"same":      {ID: "x", DebitAccountID: b.wallet, CreditAccountID: b.wallet, Amount: 1, Kind: "k"},
			"zero":      {ID: "x", DebitAccountID: b.clearing, CreditAccountID: b.wallet, Kind: "k"},
			"huge":      {ID: "x", DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: ledger.MaxAmount + 1, Kind: "k"},
			"no id":     {DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 1, Kind: "k"},
			"long id":   {ID: strings.Repeat("x", 201), DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 1, Kind: "k"},
			"no kind":   {ID: "x", DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 1},
			"no credit": {ID: "x", DebitAccountID: b.clearing, Amount: 1, Kind: "k"},
		} {
			if _, err := b.transfer(r); !errors.Is(err, ledger.ErrInvalid) {
				t.Fatalf("%s: err = %v, want ErrInvalid", name, err)
			}
		}
		_, err = b.transfer(ledger.TransferRequest{ID: "x", DebitAccountID: "nope", CreditAccountID: b.wallet, Amount: 1, Kind: "k"})
		wantErr(t, err, ledger.ErrNotFound)

		// Accounts of another organization or mode are other books.
		for _, other := range []struct {
			org  string
			test bool
		}{{"org2", true}, {b.org, false}} {
			o, err := inTx(db, func(tx *store.Tx) (ledger.Account, error) {
				return ledger.SystemAccount(ctx, tx, other.org, other.test, ledger.AccountProviderClearing, "USD")
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.transfer(ledger.TransferRequest{ID: "x", DebitAccountID: o.ID, CreditAccountID: b.wallet, Amount: 1, Kind: "k"})
			wantErr(t, err, ledger.ErrInvalid)
		}
		b.wantWallet(t, 800, 0)
		b.check(t)
	})
}

func TestHoldPostPartialAndVoid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		b.topUp(t, "topup:1", 5000)
		h, err := b.hold("hold:1", 2000, time.Time{})
		if err != nil || h.Phase != ledger.PhasePending || h.Kind != ledger.TransferSessionCharge {
			t.Fatalf("hold = %+v, %v", h, err)
		}
		b.wantWallet(t, 5000, 3000)
		if r := b.account(t, b.revenue); r.CreditsPending != 2000 || r.Balance() != 0 {
			t.Fatalf("revenue = %+v", r)
		}
		if r := b.check(t); r.OpenHolds != 1 {
			t.Fatalf("open holds = %d", r.OpenHolds)
		}

		p, err := b.post("hold:1", "post:1", 1234)
		if err != nil || p.Phase != ledger.PhasePost || p.PendingID != "hold:1" || p.Amount != 1234 ||
			p.ReferenceID != "s-hold:1" || p.Kind != ledger.TransferSessionCharge {
			t.Fatalf("post = %+v, %v", p, err)
		}
		b.wantWallet(t, 3766, 3766)
		if r := b.account(t, b.revenue); r.CreditsPending != 0 || r.Balance() != 1234 {
			t.Fatalf("revenue = %+v", r)
		}
		got, err := ledger.GetHold(ctx, db.Q(), "hold:1")
		if err != nil || got.Status != ledger.StatusPosted || got.Resolution == nil || got.Resolution.ID != "post:1" {
			t.Fatalf("GetHold = %+v, %v", got, err)
		}

		if _, err := b.hold("hold:2", 1000, time.Time{}); err != nil {
			t.Fatal(err)
		}
		b.wantWallet(t, 3766, 2766)
		v, err := b.void("hold:2", "void:2")
		if err != nil || v.Phase != ledger.PhaseVoid || v.Amount != 1000 {
			t.Fatalf("void = %+v, %v", v, err)
		}
		b.wantWallet(t, 3766, 3766)
		got, err = ledger.GetHold(ctx, db.Q(), "hold:2")
		if err != nil || got.Status != ledger.StatusVoided {
			t.Fatalf("GetHold = %+v, %v", got, err)
		}

		// Posting the full amount of a hold leaves nothing pending.
		if _, err := b.hold("hold:3", 3766, time.Time{}); err != nil {
			t.Fatal(err)
		}
		b.wantWallet(t, 3766, 0)
		if _, err := b.post("hold:3", "post:3", 3766); err != nil {
			t.Fatal(err)
		}
		b.wantWallet(t, 0, 0)
		if r := b.check(t); r.OpenHolds != 0 {
			t.Fatalf("open holds = %d", r.OpenHolds)
		}
	})
}

func TestResolveOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		b.topUp(t, "topup:1", 10000)
		if _, err := b.hold("hold:1", 1000, time.Time{}); err != nil {
			t.Fatal(err)
		}
		first, err := b.post("hold:1", "post:1", 600)
		if err != nil {
			t.Fatal(err)
		}
		for _, postID := range []string{"post:1", "post:1-retry"} {
			again, err := b.post("hold:1", postID, 600)
			if err != nil || again.ID != "post:1" || !again.CreatedAt.Equal(first.CreatedAt) {
				t.Fatalf("post again as %s = %+v, %v", postID, again, err)
			}
		}
		_, err = b.post("hold:1", "post:1b", 500)
		wantErr(t, err, ledger.ErrHoldResolved)
		_, err = b.void("hold:1", "void:1")
		wantErr(t, err, ledger.ErrHoldResolved)
		_, err = b.post("hold:1", "post:1", 500) // same id, other amount
		wantErr(t, err, ledger.ErrTransferConflict)
		b.wantWallet(t, 9400, 9400)

		if _, err := b.hold("hold:2", 1000, time.Time{}); err != nil {
			t.Fatal(err)
		}
		for _, amount := range []int64{0, -1, 1001} {
			_, err = b.post("hold:2", "post:2", amount)
			wantErr(t, err, ledger.ErrInvalid)
		}
		if _, err := b.void("hold:2", "void:2"); err != nil {
			t.Fatal(err)
		}
		again, err := b.void("hold:2", "void:2-retry")
		if err != nil || again.ID != "void:2" {
			t.Fatalf("void again = %+v, %v", again, err)
		}
		_, err = b.post("hold:2", "post:2", 1000)
		wantErr(t, err, ledger.ErrHoldResolved)
		_, err = b.post("hold:2", "post:1", 600) // another hold's post id
		wantErr(t, err, ledger.ErrTransferConflict)

		_, err = b.post("topup:1", "post:x", 1)
		wantErr(t, err, ledger.ErrInvalid)
		_, err = b.void("nope", "void:x")
		wantErr(t, err, ledger.ErrNotFound)

		// Expiry: an expired hold can only be voided; a live one posts.
		if _, err := b.hold("hold:3", 500, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err = b.post("hold:3", "post:3", 500)
		wantErr(t, err, ledger.ErrHoldExpired)
		if _, err := b.void("hold:3", "void:3"); err != nil {
			t.Fatal(err)
		}
		expires := time.Now().Add(time.Hour)
		h, err := b.hold("hold:4", 500, expires)
		if err != nil || !h.ExpiresAt.Equal(store.UTC(expires)) {
			t.Fatalf("hold = %+v, %v", h, err)
		}
		if h, err = b.hold("hold:4", 500, expires); err != nil { // idempotent with its expiry
			t.Fatal(err)
		}
		if _, err := b.post("hold:4", "post:4", 500); err != nil {
			t.Fatal(err)
		}
		b.wantWallet(t, 8900, 8900)
		b.check(t)
	})
}

func TestBatchAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		batch := func(legs ...ledger.TransferRequest) ([]ledger.Transfer, error) {
			for i := range legs {
				legs[i].Currency = "USD"
			}
			return inTx(db, func(tx *store.Tx) ([]ledger.Transfer, error) { return ledger.CreateTransferBatch(ctx, tx, legs) })
		}
		// A discounted top-up: the card pays 1000, the operator adds 200.
		discounted := []ledger.TransferRequest{
			{ID: "topup:1", DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 1000, Kind: ledger.TransferTopUp},
			{ID: "topup:1:discount", DebitAccountID: b.promotions, CreditAccountID: b.wallet, Amount: 200, Kind: ledger.TransferDiscount},
		}
		out, err := batch(discounted...)
		if err != nil || len(out) != 2 || out[1].Amount != 200 {
			t.Fatalf("batch = %+v, %v", out, err)
		}
		again, err := batch(discounted...)
		if err != nil || !again[0].CreatedAt.Equal(out[0].CreatedAt) {
			t.Fatalf("batch again = %+v, %v", again, err)
		}
		b.wantWallet(t, 1200, 1200)

		// The last leg overdraws: nothing is applied, even if the caller
		// ignores the error and commits.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := ledger.CreateTransferBatch(ctx, tx, []ledger.TransferRequest{
				{ID: "topup:2", DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 100, Currency: "USD", Kind: ledger.TransferTopUp},
				{ID: "charge:2", DebitAccountID: b.wallet, CreditAccountID: b.revenue, Amount: 5000, Currency: "USD", Kind: ledger.TransferSessionCharge},
			})
			if !errors.Is(err, ledger.ErrInsufficientFunds) {
				return fmt.Errorf("err = %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.GetTransfer(ctx, db.Q(), "topup:2"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("first leg of a failed batch was stored: %v", err)
		}
		b.wantWallet(t, 1200, 1200)

		// A leg may spend what an earlier leg of the batch credited.
		if _, err := batch(
			ledger.TransferRequest{ID: "topup:3", DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: 500, Kind: ledger.TransferTopUp},
			ledger.TransferRequest{ID: "charge:3", DebitAccountID: b.wallet, CreditAccountID: b.revenue, Amount: 1700, Kind: ledger.TransferSessionCharge},
		); err != nil {
			t.Fatal(err)
		}
		b.wantWallet(t, 0, 0)

		_, err = batch(discounted[0], discounted[0])
		wantErr(t, err, ledger.ErrInvalid)
		_, err = batch()
		wantErr(t, err, ledger.ErrInvalid)
		if w := b.account(t, b.wallet); w.LastSeq != 4 {
			t.Fatalf("wallet has %d entries, want 4", w.LastSeq)
		}
		b.check(t)
	})
}

func TestEntries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		for i := int64(1); i <= 5; i++ {
			b.topUp(t, fmt.Sprintf("topup:%d", i), i*100)
		}
		steps := []func() (ledger.Transfer, error){
			func() (ledger.Transfer, error) { return b.hold("hold:a", 300, time.Time{}) },
			func() (ledger.Transfer, error) { return b.post("hold:a", "post:a", 200) },
			func() (ledger.Transfer, error) { return b.hold("hold:b", 100, time.Time{}) },
			func() (ledger.Transfer, error) { return b.void("hold:b", "void:b") },
		}
		for _, step := range steps {
			if _, err := step(); err != nil {
				t.Fatal(err)
			}
		}
		type line struct {
			id                         string
			amount                     int64
			status                     ledger.Status
			balance, available, seqNum int64
		}
		want := []line{ // newest first
			{"void:b", -100, ledger.StatusVoided, 1300, 1300, 9},
			{"hold:b", -100, ledger.StatusVoided, 1300, 1200, 8},
			{"post:a", -200, ledger.StatusPosted, 1300, 1300, 7},
			{"hold:a", -300, ledger.StatusPosted, 1500, 1200, 6},
			{"topup:5", 500, ledger.StatusPosted, 1500, 1500, 5},
			{"topup:4", 400, ledger.StatusPosted, 1000, 1000, 4},
			{"topup:3", 300, ledger.StatusPosted, 600, 600, 3},
			{"topup:2", 200, ledger.StatusPosted, 300, 300, 2},
			{"topup:1", 100, ledger.StatusPosted, 100, 100, 1},
		}
		var got []line
		after := ""
		for page := 0; ; page++ {
			es, err := ledger.Entries(ctx, db.Q(), b.wallet, after, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) == 0 {
				break
			}
			if page > 3 || len(es) > 4 {
				t.Fatalf("page %d has %d entries", page, len(es))
			}
			for _, e := range es {
				if e.AccountID != b.wallet || e.Transfer.CreatedAt.IsZero() {
					t.Fatalf("entry = %+v", e)
				}
				got = append(got, line{e.Transfer.ID, e.Amount, e.Status, e.Balance, e.Available, e.Seq})
			}
			after = es[len(es)-1].Transfer.ID
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("entries:\n got %v\nwant %v", got, want)
		}

		// The other side sees the same transfers with the opposite sign.
		rev, err := ledger.Entries(ctx, db.Q(), b.revenue, "", 10)
		if err != nil || len(rev) != 4 || rev[2].Transfer.ID != "post:a" || rev[2].Amount != 200 || rev[2].Balance != 200 {
			t.Fatalf("revenue entries = %+v, %v", rev, err)
		}

		_, err = ledger.Entries(ctx, db.Q(), b.wallet, "post:nope", 4)
		wantErr(t, err, ledger.ErrNotFound)
		_, err = ledger.Entries(ctx, db.Q(), b.wallet, "", 0)
		wantErr(t, err, ledger.ErrInvalid)
		_, err = ledger.Entries(ctx, db.Q(), "nope", "", 4)
		wantErr(t, err, ledger.ErrNotFound)
	})
}

func TestCheckDetectsTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		b.topUp(t, "topup:1", 1000)
		if _, err := b.hold("hold:1", 400, time.Time{}); err != nil {
			t.Fatal(err)
		}
		b.check(t)

		tamper := func(query string, args ...any) {
			t.Helper()
			if _, err := db.Q().ExecContext(ctx, query, args...); err != nil {
				t.Fatal(err)
			}
		}
		problems := func() string {
			t.Helper()
			r, err := ledger.Check(ctx, db.Q())
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(r.Problems, "\n")
		}

		// A total edited behind the ledger's back.
		tamper(`UPDATE ledger_accounts SET credits_posted = credits_posted + 100 WHERE id = $1`, b.wallet)
		p := problems()
		for _, want := range []string{"balanced: org org1", "totals: account " + b.wallet, "entries: account " + b.wallet} {
			if !strings.Contains(p, want) {
				t.Fatalf("Check missed %q in:\n%s", want, p)
			}
		}
		tamper(`UPDATE ledger_accounts SET credits_posted = credits_posted - 100 WHERE id = $1`, b.wallet)
		b.check(t)

		// A transfer's amount edited: both accounts' totals disagree with it.
		tamper(`UPDATE ledger_transfers SET amount = 999 WHERE id = 'topup:1'`)
		p = problems()
		for _, want := range []string{"totals: account " + b.wallet, "totals: account " + b.clearing} {
			if !strings.Contains(p, want) {
				t.Fatalf("Check missed %q in:\n%s", want, p)
			}
		}
		tamper(`UPDATE ledger_transfers SET amount = 1000 WHERE id = 'topup:1'`)

		// A hold's pending totals dropped without a resolution.
		tamper(`UPDATE ledger_accounts SET debits_pending = 0 WHERE id = $1`, b.wallet)
		if p := problems(); !strings.Contains(p, "totals: account "+b.wallet) || !strings.Contains(p, "balanced:") {
			t.Fatalf("Check missed the pending total:\n%s", p)
		}
	})
}
