package ledger_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// TestConcurrentWallet hammers one wallet with top-ups, holds, posts and
// voids from many goroutines, each operation in its own transaction, with
// every hold resolved by two racing goroutines. The wallet starts empty, so
// many holds are refused for lack of funds.
func TestConcurrentWallet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const (
			topUps  = 200
			holds   = 300
			workers = 32
		)
		b := setup(t, db)

		var (
			toppedUp   atomic.Int64 // sum of committed top-ups
			refused    atomic.Int64 // holds refused for lack of funds
			violations atomic.Int64 // a wallet seen below zero
			mu         sync.Mutex
			created    = map[string]bool{}            // holds that were taken
			resolved   = map[string]ledger.Transfer{} // hold id -> its post or void
		)
		// assertWallet checks the wallet as one transaction sees it.
		assertWallet := func(q store.Querier) error {
			w, err := ledger.GetAccount(ctx, q, b.wallet)
			if err != nil {
				return err
			}
			if w.Balance() < 0 || w.Available() < 0 || w.DebitsPending < 0 {
				violations.Add(1)
				return fmt.Errorf("wallet below zero: %+v", w)
			}
			return nil
		}
		record := func(holdID string, tr ledger.Transfer) {
			mu.Lock()
			defer mu.Unlock()
			if prev, ok := resolved[holdID]; ok && (prev.ID != tr.ID || prev.Phase != tr.Phase || prev.Amount != tr.Amount) {
				t.Errorf("hold %s resolved twice: %+v and %+v", holdID, prev, tr)
			}
			resolved[holdID] = tr
		}
		resolve := func(holdID string, how int, amount int64, racer string) {
			tr, err := inTx(db, func(tx *store.Tx) (ledger.Transfer, error) {
				var (
					tr  ledger.Transfer
					err error
				)
				switch how {
				case 0:
					tr, err = ledger.VoidHold(ctx, tx, holdID, "void:"+holdID+":"+racer)
				default:
					tr, err = ledger.PostHold(ctx, tx, holdID, "post:"+holdID+":"+racer, amount)
				}
				if err != nil {
					return tr, err
				}
				return tr, assertWallet(tx)
			})
			switch {
			case err == nil:
				record(holdID, tr)
			case !errors.Is(err, ledger.ErrHoldResolved):
				t.Errorf("resolve %s: %v", holdID, err)
			}
		}

		jobs := make(chan func(), topUps+holds)
		for i := range topUps {
			jobs <- func() {
				amount := int64(1 + (i*7919)%1000)
				_, err := inTx(db, func(tx *store.Tx) (ledger.Transfer, error) {
					tr, err := ledger.CreateTransfer(ctx, tx, ledger.TransferRequest{ID: fmt.Sprintf("topup:%d", i),
						DebitAccountID: b.clearing, CreditAccountID: b.wallet, Amount: amount, Currency: "USD", Kind: ledger.TransferTopUp})
					if err != nil {
						return tr, err
					}
					return tr, assertWallet(tx)
				})
				if err != nil {
					t.Errorf("top-up %d: %v", i, err)
					return
				}
				toppedUp.Add(amount)
			}
		}
		for i := range holds {
			jobs <- func() {
				holdID := fmt.Sprintf("hold:%d", i)
				amount := int64(1 + (i*104729)%2000)
				_, err := b.hold(holdID, amount, time.Time{})
				if errors.Is(err, ledger.ErrInsufficientFunds) {
					refused.Add(1)
					return
				}
				if err != nil {
					t.Errorf("hold %d: %v", i, err)
					return
				}
				mu.Lock()
				created[holdID] = true
				mu.Unlock()
				// Two goroutines race to resolve the hold: the same
				// resolution under different ids (exactly one applies, the
				// other gets it back), or a post against a void (one wins,
				// the other gets ErrHoldResolved).
				how, post := i%3, 1+int64(i)%amount // 0 void, 1 partial post, 2 full post
				if how == 2 {
					post = amount
				}
				rival := how
				if i%2 == 1 {
					rival = (how + 1) % 2 // a void against a post, a post against a void
				}
				var wg sync.WaitGroup
				wg.Go(func() { resolve(holdID, how, post, "a") })
				wg.Go(func() { resolve(holdID, rival, post, "b") })
				wg.Wait()
			}
		}
		close(jobs)

		// Observers read the wallet outside transactions throughout, and
		// check the whole ledger while it is being written: no check may
		// see half a transfer.
		stop := make(chan struct{})
		var observer sync.WaitGroup
		var liveChecks atomic.Int64
		observer.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := assertWallet(db.Q()); err != nil {
					t.Error(err)
					return
				}
			}
		})
		observer.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := ledger.Check(ctx, db.Q())
				if err != nil || !r.OK() {
					t.Errorf("live check: %v %v", err, r.Problems)
					return
				}
				liveChecks.Add(1)
			}
		})

		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for job := range jobs {
					job()
				}
			})
		}
		wg.Wait()
		close(stop)
		observer.Wait()
		if t.Failed() {
			return
		}

		var posted int64
		for holdID := range created {
			tr, ok := resolved[holdID]
			if !ok {
				t.Fatalf("hold %s never resolved", holdID)
			}
			h, err := ledger.GetHold(ctx, db.Q(), holdID)
			if err != nil || h.Resolution == nil || h.Resolution.ID != tr.ID {
				t.Fatalf("hold %s = %+v, %v; resolved by %s", holdID, h, err, tr.ID)
			}
			if tr.Phase == ledger.PhasePost {
				posted += tr.Amount
			}
		}
		w := b.account(t, b.wallet)
		want := toppedUp.Load() - posted
		if w.Balance() != want || w.Available() != want || w.DebitsPending != 0 {
			t.Fatalf("wallet = %+v (balance %d), want balance %d", w, w.Balance(), want)
		}
		if r := b.account(t, b.revenue); r.Balance() != posted || r.CreditsPending != 0 {
			t.Fatalf("revenue = %+v, want balance %d", r, posted)
		}
		r := b.check(t)
		if r.OpenHolds != 0 || violations.Load() != 0 {
			t.Fatalf("report %+v, %d violations", r, violations.Load())
		}
		if refused.Load() == 0 || len(created) == 0 {
			t.Fatalf("the test did not exercise both outcomes: %d holds taken, %d refused", len(created), refused.Load())
		}
		t.Logf("%d top-ups (%d), %d holds taken, %d refused, %d posted; balance %d; %d live checks",
			topUps, toppedUp.Load(), len(created), refused.Load(), posted, w.Balance(), liveChecks.Load())
	})
}

// TestConcurrentCrossingTransfers moves money both ways between two wallets
// at once: locking accounts in id order means opposite transfers queue
// instead of deadlocking, and no update is lost.
func TestConcurrentCrossingTransfers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		other, err := inTx(db, func(tx *store.Tx) (ledger.Account, error) {
			return ledger.CreateAccount(ctx, tx, ledger.Account{OrgID: b.org, TestMode: true, Kind: ledger.AccountWallet,
				Currency: "USD", Flags: ledger.Flags{DebitsMustNotExceedCredits: true}})
		})
		if err != nil {
			t.Fatal(err)
		}
		b.topUp(t, "topup:a", 1000)
		if _, err := b.transfer(ledger.TransferRequest{ID: "topup:b", DebitAccountID: b.clearing,
			CreditAccountID: other.ID, Amount: 1000, Kind: ledger.TransferTopUp}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				from, to := b.wallet, other.ID
				if i%2 == 1 {
					from, to = to, from
				}
				_, err := b.transfer(ledger.TransferRequest{ID: fmt.Sprintf("move:%d", i), DebitAccountID: from,
					CreditAccountID: to, Amount: int64(1 + i%50), Kind: ledger.TransferAdjustment})
				if err != nil && !errors.Is(err, ledger.ErrInsufficientFunds) {
					t.Errorf("move %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if sum := b.account(t, b.wallet).Balance() + b.account(t, other.ID).Balance(); sum != 2000 {
			t.Fatalf("the two wallets hold %d, want 2000", sum)
		}
		b.check(t)
	})
}
