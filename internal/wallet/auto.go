package wallet

import (
	"context"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// AutoTopUpInput changes automatic top-up; absent fields keep their values.
type AutoTopUpInput struct {
	Active        *bool   `json:"active,omitempty"`
	PaymentMethod *string `json:"payment_method,omitempty" maxLength:"64" doc:"A saved method of the wallet's user (in test mode also pm_card_visa, ...)"`
	Amount        *int64  `json:"amount,omitempty" minimum:"1" maximum:"99999999" doc:"Cents charged and credited per automatic top-up"`
	Threshold     *int64  `json:"threshold,omitempty" minimum:"0" maximum:"99999999" doc:"Top up when the available balance falls below this many cents"`
}

// Patch is PATCH /v1/wallets/{id}.
type Patch struct {
	AutoTopUp *AutoTopUpInput `json:"auto_top_up,omitempty"`
}

// Update changes a wallet's settings (automatic top-up). Activating it
// checks the payment method and, when the available balance is already
// below the threshold, starts a top-up at once.
func (s *Service) Update(ctx context.Context, tx *store.Tx, p org.Principal, walletID string, in Patch) (Wallet, error) {
	w, err := byID(ctx, tx, walletID, true)
	if notFound(err) || (err == nil && (w.OrgID != p.OrgID || w.TestMode != p.TestMode)) {
		return Wallet{}, apperr.NotFoundf("wallet", walletID)
	}
	if err != nil {
		return w, err
	}
	if in.AutoTopUp == nil {
		return w, nil
	}
	a, c := &w.AutoTopUp, in.AutoTopUp
	if c.Active != nil {
		a.Active = *c.Active
	}
	if c.PaymentMethod != nil {
		a.PaymentMethod = c.PaymentMethod
	}
	if c.Amount != nil {
		a.Amount = *c.Amount
	}
	if c.Threshold != nil {
		a.Threshold = *c.Threshold
	}
	if a.Active {
		if a.PaymentMethod == nil {
			return w, apperr.InvalidField("auto_top_up.payment_method", "auto_top_up.payment_method is required to activate automatic top-up")
		}
		if _, err := resolveMethod(ctx, tx, p, w.User, *a.PaymentMethod, "auto_top_up.payment_method"); err != nil {
			return w, err
		}
		if a.Amount <= 0 {
			return w, apperr.InvalidField("auto_top_up.amount", "auto_top_up.amount must be at least 1 cent to activate automatic top-up")
		}
		if _, err := s.pay.Provider(p.TestMode); err != nil {
			return w, err
		}
	}
	if err := s.storeAutoTopUp(ctx, tx, w); err != nil {
		return w, err
	}
	return byID(ctx, tx, walletID, false)
}

// storeAutoTopUp saves a wallet's automatic top-up settings and emits
// wallet.updated (starting a top-up if the balance is already low).
func (s *Service) storeAutoTopUp(ctx context.Context, tx *store.Tx, w Wallet) error {
	if _, err := tx.ExecContext(ctx, `UPDATE wallets SET auto_top_up = $1 WHERE id = $2`, store.JSON(w.AutoTopUp), w.ID); err != nil {
		return fmt.Errorf("wallet: auto top-up of %s: %w", w.ID, err)
	}
	return s.AfterChange(ctx, tx, w.ID)
}

// disableAutoTopUp switches automatic top-up off after its card was
// declined, so that every later debit does not charge a refused card again.
func (s *Service) disableAutoTopUp(ctx context.Context, tx *store.Tx, walletID string) error {
	w, err := byID(ctx, tx, walletID, true)
	if err != nil || !w.AutoTopUp.Active {
		return err
	}
	w.AutoTopUp.Active = false
	return s.storeAutoTopUp(ctx, tx, w)
}

// maybeAutoTopUp enqueues an automatic top-up check when the wallet is
// below its threshold. The unique key keeps one check queued at a time; the
// check itself (runAutoTopUp) keeps one top-up in flight.
func (s *Service) maybeAutoTopUp(ctx context.Context, tx *store.Tx, w Wallet) error {
	a := w.AutoTopUp
	if !a.Active || a.PaymentMethod == nil || w.AvailableBalance >= a.Threshold {
		return nil
	}
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobAutoTopUp, Payload: autoJob{w.ID}, UniqueKey: "auto_top_up:" + w.ID})
	return err
}

type autoJob struct {
	Wallet string `json:"wallet"`
}

// runAutoTopUp starts an automatic top-up (type auto) of the configured
// amount on the configured method if the wallet is still below its
// threshold and has none in flight; the charge job does the rest.
func (s *Service) runAutoTopUp(ctx context.Context, j *jobs.Job) error {
	var pl autoJob
	if err := j.Decode(&pl); err != nil {
		return jobs.Permanent(err)
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		w, err := byID(ctx, tx, pl.Wallet, true)
		if err != nil {
			return err
		}
		a := w.AutoTopUp
		if !a.Active || a.PaymentMethod == nil || w.AvailableBalance >= a.Threshold {
			return j.CompleteIn(ctx, tx)
		}
		var inFlight int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM top_ups WHERE wallet_id = $1 AND type = $2 AND status = $3`,
			w.ID, TypeAuto, StatusCreated).Scan(&inFlight); err != nil {
			return fmt.Errorf("wallet: auto top-ups of %s: %w", w.ID, err)
		}
		if inFlight > 0 {
			return j.CompleteIn(ctx, tx)
		}
		prov, err := s.pay.Provider(w.TestMode)
		if err != nil {
			s.log.Warn("wallet: automatic top-up without a payment provider", "wallet", w.ID, "err", err)
			return j.CompleteIn(ctx, tx)
		}
		o, err := org.Get(ctx, tx, w.OrgID)
		if err != nil {
			return err
		}
		now := store.Now()
		t := TopUp{ID: id.New(), OrgID: w.OrgID, TestMode: w.TestMode, User: w.User, Wallet: w.ID, Type: TypeAuto, Status: StatusCreated,
			Amount: a.Amount, WalletAmount: a.Amount, Currency: w.Currency, PaymentMethod: a.PaymentMethod, Provider: prov.Name(),
			CreatedAt: now, UpdatedAt: now, ExpiredAt: now.Add(time.Duration(o.Configurations.TopUpExpiryTime) * time.Second)}
		if err := s.insertTopUp(ctx, tx, t); err != nil {
			return err
		}
		return j.CompleteIn(ctx, tx)
	})
}
