package wallet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
	"github.com/joule-ev/joule/internal/users"
	"github.com/joule-ev/joule/internal/wallet"
)

// env is a wallet service with its job queue running on a fresh database.
type env struct {
	db     *store.DB
	q      *jobs.Queue
	pay    *payments.Service
	ws     *wallet.Service
	p      org.Principal
	wallet wallet.Wallet
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	out := events.NewOutbox()
	e := &env{db: db, q: jobs.NewQueue(db, jobs.Options{Workers: 16, PollInterval: 10 * time.Millisecond, Logger: log})}
	e.pay = payments.NewService(db, e.q, payments.Options{BaseURL: "http://joule.test", Logger: log})
	e.ws = wallet.NewService(db, out, e.q, e.pay, wallet.Options{ChargeWait: 50 * time.Millisecond, Logger: log,
		UserUpdated: (&users.Service{Outbox: out}).Touch})
	err := db.InTx(ctx, func(tx *store.Tx) error {
		o, err := org.Create(ctx, tx, "Concurrency")
		if err != nil {
			return err
		}
		e.p = org.Principal{OrgID: o.ID, TestMode: true}
		u, err := (&users.Service{Outbox: out}).Create(ctx, tx, e.p, users.Input{})
		if err != nil {
			return err
		}
		e.wallet = *u.Wallet
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = e.q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// idle waits until no job is waiting or running.
func (e *env) idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := jobs.Stats(context.Background(), e.db.Q())
		if err != nil {
			t.Fatal(err)
		}
		if st[jobs.StateAvailable]+st[jobs.StateRunning] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still pending: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentWalletAndProvider runs hundreds of top-ups, wallet holds
// with captures and releases (some resolved twice at once), and card
// authorizations with captures, releases and refunds at the sandbox provider,
// all in parallel on one wallet. The wallet never goes below zero, every hold
// is resolved exactly once, the ledger sums to zero, the wallet's balance is
// what the successful operations add up to, and the sandbox's captured total
// equals the ledger's provider-clearing total.
func TestConcurrentWalletAndProvider(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		w := e.wallet
		revenue := func(tx *store.Tx) (ledger.Account, error) {
			return ledger.SystemAccount(ctx, tx, e.p.OrgID, true, ledger.AccountRevenue, w.Currency)
		}
		var (
			credited, charged atomic.Int64 // what the wallet got and paid
			refused           atomic.Int64 // holds refused for lack of funds
			topUpIDs          sync.Map
			wg                sync.WaitGroup
			errs              = make(chan error, 1000)
		)
		fail := func(format string, args ...any) { errs <- fmt.Errorf(format, args...) }

		topUp := func(i int) {
			amount := int64(200 + rand.IntN(800))
			if i < 0 {
				amount = 40_000
			}
			walletAmount := amount + int64(max(i, 0)%3)*50 // some discounted
			tu, err := e.ws.CreateTopUp(ctx, e.p, wallet.TopUpInput{Type: wallet.TypeManualWithPaymentMethod, Wallet: w.ID, Amount: amount,
				WalletAmount: &walletAmount, PaymentMethod: payments.TestMethodVisa})
			if err != nil {
				fail("top-up %d: %v", i, err)
				return
			}
			topUpIDs.Store(tu.ID, walletAmount)
		}
		// walletHold holds on the wallet (as a wallet session does), then
		// captures part of it or releases it. Every other hold is resolved
		// by two racing goroutines: one capture and one release, or two
		// identical captures.
		walletHold := func(i int) {
			held := int64(100 + rand.IntN(2500))
			holdID := fmt.Sprintf("hold:c%d", i)
			err := db.InTx(ctx, func(tx *store.Tx) error {
				rev, err := revenue(tx)
				if err != nil {
					return err
				}
				if _, err := ledger.CreateHold(ctx, tx, ledger.HoldRequest{TransferRequest: ledger.TransferRequest{ID: holdID, DebitAccountID: w.ID,
					CreditAccountID: rev.ID, Amount: held, Currency: w.Currency, Kind: ledger.TransferSessionCharge, ReferenceType: "session",
					ReferenceID: holdID}}); err != nil {
					return err
				}
				return e.ws.AfterChange(ctx, tx, w.ID)
			})
			if errors.Is(err, ledger.ErrInsufficientFunds) {
				refused.Add(1)
				return
			}
			if err != nil {
				fail("hold %d: %v", i, err)
				return
			}
			capture := min(held, int64(1+rand.IntN(int(held))))
			post := func() error {
				return db.InTx(ctx, func(tx *store.Tx) error {
					if _, err := ledger.PostHold(ctx, tx, holdID, "charge:"+holdID, capture); err != nil {
						return err
					}
					return e.ws.AfterChange(ctx, tx, w.ID)
				})
			}
			void := func() error {
				return db.InTx(ctx, func(tx *store.Tx) error {
					if _, err := ledger.VoidHold(ctx, tx, holdID, "release:"+holdID); err != nil {
						return err
					}
					return e.ws.AfterChange(ctx, tx, w.ID)
				})
			}
			switch i % 4 {
			case 0:
				if err := post(); err != nil {
					fail("capture %d: %v", i, err)
				}
			case 1:
				if err := void(); err != nil {
					fail("release %d: %v", i, err)
				}
			case 2: // two identical captures at once: one posts, both succeed
				var inner sync.WaitGroup
				for range 2 {
					inner.Go(func() {
						if err := post(); err != nil {
							fail("double capture %d: %v", i, err)
						}
					})
				}
				inner.Wait()
			case 3: // a capture racing a release: exactly one wins
				results := make(chan error, 2)
				go func() { results <- post() }()
				go func() { results <- void() }()
				a, b := <-results, <-results
				if (a == nil) == (b == nil) || !(errors.Is(a, ledger.ErrHoldResolved) || errors.Is(b, ledger.ErrHoldResolved)) {
					fail("capture vs release %d: %v / %v", i, a, b)
				}
			}
		}
		// cardPayment authorizes a card at the sandbox (a payment-link
		// session), then captures part of it and books the capture
		// (provider_clearing -> revenue), or releases it; some captures are
		// partly refunded (revenue -> provider_clearing).
		cardPayment := func(i int) {
			prov, _ := e.pay.Provider(true)
			amount := int64(500 + rand.IntN(2000))
			pay, err := prov.Charge(ctx, payments.ChargeRequest{IdempotencyKey: fmt.Sprintf("auth:c%d", i), OrgID: e.p.OrgID, TestMode: true,
				PaymentMethod: payments.TestMethodVisa, Amount: amount, Currency: w.Currency, CaptureMethod: payments.CaptureManual,
				Purpose: "session", Reference: fmt.Sprint("c", i)})
			if err != nil || pay.Status != payments.StatusAuthorized {
				fail("authorize %d: %v %+v", i, err, pay)
				return
			}
			if i%3 == 0 {
				if _, err := prov.Cancel(ctx, fmt.Sprintf("cancel:c%d", i), pay.ID); err != nil {
					fail("release card %d: %v", i, err)
				}
				return
			}
			capture := int64(1 + rand.IntN(int(amount)))
			// The same capture twice at once takes the money once.
			var inner sync.WaitGroup
			for range 2 {
				inner.Go(func() {
					if _, err := prov.Capture(ctx, fmt.Sprintf("capture:c%d", i), pay.ID, capture); err != nil {
						fail("capture card %d: %v", i, err)
					}
				})
			}
			inner.Wait()
			book := func(id string, amount int64, toRevenue bool) {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					clearing, err := ledger.SystemAccount(ctx, tx, e.p.OrgID, true, ledger.AccountProviderClearing, w.Currency)
					if err != nil {
						return err
					}
					rev, err := revenue(tx)
					if err != nil {
						return err
					}
					r := ledger.TransferRequest{ID: id, DebitAccountID: clearing.ID, CreditAccountID: rev.ID, Amount: amount, Currency: w.Currency,
						Kind: ledger.TransferSessionCharge}
					if !toRevenue {
						r.DebitAccountID, r.CreditAccountID, r.Kind = rev.ID, clearing.ID, ledger.TransferRefund
					}
					_, err = ledger.CreateTransfer(ctx, tx, r)
					return err
				})
				if err != nil {
					fail("book %s: %v", id, err)
				}
			}
			book(fmt.Sprintf("card:c%d", i), capture, true)
			if i%3 == 1 {
				refund := int64(1 + rand.IntN(int(capture)))
				if _, err := prov.Refund(ctx, fmt.Sprintf("refund:c%d", i), pay.ID, refund); err != nil {
					fail("refund card %d: %v", i, err)
					return
				}
				book(fmt.Sprintf("card-refund:c%d", i), refund, false)
			}
		}

		// An opening balance, so that holds start out competing for money
		// the top-ups keep adding to.
		topUp(-1)
		e.idle(t)
		const ops = 360
		for i := range ops {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					topUp(i)
				case 1:
					walletHold(i)
				default:
					cardPayment(i)
				}
			})
		}
		wg.Wait()
		e.idle(t)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}

		// Every top-up completed and credited its wallet_amount.
		var topUps int
		topUpIDs.Range(func(k, v any) bool {
			tu, err := wallet.GetTopUp(ctx, db.Q(), e.p, k.(string))
			if err != nil || tu.Status != wallet.StatusCompleted {
				t.Errorf("top-up %v: %v %+v", k, err, tu)
			}
			credited.Add(v.(int64))
			topUps++
			return true
		})
		if topUps != ops/3+1 {
			t.Fatalf("%d top-ups recorded, want %d", topUps, ops/3+1)
		}
		// Every hold is resolved exactly once; none is left open.
		var holds, resolutions, open int
		if err := db.Q().QueryRowContext(ctx, `SELECT
				(SELECT count(*) FROM ledger_transfers WHERE phase = 'pending'),
				(SELECT count(*) FROM ledger_transfers WHERE phase IN ('post', 'void')),
				(SELECT count(*) FROM ledger_transfers h WHERE h.phase = 'pending'
					AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = h.id))`).Scan(&holds, &resolutions, &open); err != nil {
			t.Fatal(err)
		}
		if holds == 0 || holds != resolutions || open != 0 {
			t.Fatalf("holds %d, resolutions %d, open %d", holds, resolutions, open)
		}
		var posted int64
		if err := db.Q().QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM ledger_transfers WHERE phase = 'post' AND debit_account_id = $1`,
			w.ID).Scan(&posted); err != nil {
			t.Fatal(err)
		}
		charged.Add(posted)
		// The wallet holds exactly what the operations add up to, and never
		// went below zero: no statement line shows a negative available balance.
		acct, err := ledger.GetAccount(ctx, db.Q(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if acct.Balance() != credited.Load()-charged.Load() || acct.Available() != acct.Balance() {
			t.Fatalf("wallet %d (available %d), want %d credited - %d charged", acct.Balance(), acct.Available(), credited.Load(), charged.Load())
		}
		lines, after := 0, ""
		for {
			es, err := ledger.Entries(ctx, db.Q(), w.ID, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range es {
				lines++
				if en.Available < 0 || en.Balance < 0 {
					t.Fatalf("entry %d (%s): balance %d, available %d", en.Seq, en.Transfer.ID, en.Balance, en.Available)
				}
			}
			if len(es) < 1000 {
				break
			}
			after = es[len(es)-1].Transfer.ID
		}
		if int64(lines) != acct.LastSeq {
			t.Fatalf("read %d statement lines of %d", lines, acct.LastSeq)
		}
		rep, err := ledger.Check(ctx, db.Q())
		if err != nil || !rep.OK() {
			t.Fatalf("ledger check: %v %v", err, rep.Problems)
		}
		rec, err := payments.Reconcile(ctx, db.Q(), e.p.OrgID, true, w.Currency)
		if err != nil || !rec.Balanced() {
			t.Fatalf("sandbox vs ledger: %v %+v", err, rec)
		}
		t.Logf("%d top-ups, %d holds (%d refused for lack of funds), sandbox net %d, wallet %d", topUps, holds, refused.Load(), rec.ProviderNet, acct.Balance())
	})
}
