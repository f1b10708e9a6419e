package session

import (
	"context"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/joule-ev/joule/internal/csms"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/tariff"
)

// Auto-stop ("session intelligence", DESIGN §5): after every meter value of
// a session with a spending cap (a wallet hold or a card authorization),
// the cost is projected to the next sample plus a margin, at the
// connector's maximum power, with time and parking accrual, step-size
// round-up and min_price; when the projection reaches the cap the session
// is stopped, so the captured amount never exceeds the authorization.

type capInfo struct {
	session  string
	capped   bool
	cap      int64
	tariff   *tariff.Tariff
	loc      *time.Location
	horizon  time.Duration
	powerKW  decimal.Decimal
	stopping bool
}

// capCache keeps what auto-stop needs per transaction, so that a meter
// value costs one read of the session's periods, not a full reload.
type capCache struct {
	mu sync.Mutex
	m  map[int64]*capInfo
}

func (c *capCache) get(txID int64) *capInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[txID]
}

func (c *capCache) put(txID int64, ci *capInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 100000 {
		c.m = map[int64]*capInfo{}
	}
	c.m[txID] = ci
}

func (c *capCache) drop(txID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, txID)
}

func (s *Service) capOf(ctx context.Context, t *csms.Transaction) (*capInfo, error) {
	if ci := s.caps.get(t.ID); ci != nil {
		return ci, nil
	}
	x, err := load(ctx, s.db.Q(), "", org.Principal{OrgID: t.OrgID, TestMode: t.TestMode}, t.SessionID)
	if err != nil {
		return nil, err
	}
	ci := &capInfo{session: x.ID}
	if x.capped() {
		ci.capped, ci.cap = true, x.Payment.AuthorizedAmount
		if ci.tariff, ci.loc, err = x.parsedTariff(); err != nil {
			return nil, err
		}
		o, err := org.Get(ctx, s.db.Q(), x.OrgID)
		if err != nil {
			return nil, err
		}
		conn, err := network.GetConnector(ctx, s.db.Q(), x.principal(), x.Connector)
		if err != nil {
			return nil, err
		}
		interval := max(o.Configurations.CappedMeterValueInterval, 1)
		ci.horizon = time.Duration(interval+o.Configurations.AutoStopMargin) * time.Second
		ci.powerKW = decimal.NewFromInt(conn.MaxPower).Div(thousand)
	}
	s.caps.put(t.ID, ci)
	return ci, nil
}

func (s *Service) autoStop(ctx context.Context, t *csms.Transaction) {
	ci, err := s.capOf(ctx, t)
	if err != nil {
		s.log.Warn("session: auto-stop check", "transaction", t.ID, "err", err)
		return
	}
	if !ci.capped || ci.stopping {
		return
	}
	ps, err := loadPeriods(ctx, s.db.Q(), ci.session)
	if err != nil || len(ps) == 0 {
		return
	}
	now := time.Now().UTC()
	if t.LastMeterAt.After(now) {
		now = t.LastMeterAt
	}
	in, _ := priceInput(ps, now, t.LastEnergyWh, ci.loc)
	proj, err := tariff.Project(ci.tariff, in, ci.horizon, ci.powerKW)
	if err != nil {
		s.log.Warn("session: auto-stop projection", "session", ci.session, "err", err)
		return
	}
	if proj.AmountMinor < ci.cap {
		return
	}
	ci.stopping = true
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, ci.session)
		if err != nil {
			return err
		}
		if x.Status != StatusStarted && x.Status != StatusPaused && x.Status != StatusStopFailed {
			return nil
		}
		return s.requestStop(ctx, tx, x, "auto-stop: the projected cost reaches the authorized amount")
	})
	if err != nil {
		ci.stopping = false
		s.log.Error("session: auto-stop", "session", ci.session, "err", err)
		return
	}
	s.log.Info("session: auto-stop requested", "session", ci.session, "projected", proj.AmountMinor, "cap", ci.cap)
}

// capped reports whether the session spends against an authorization (a
// wallet hold or a card pre-authorization) that auto-stop must respect.
func (x *Session) capped() bool {
	return x.Payment != nil && x.Payment.Status == PayAuthorized && (x.Type == TypeWallet || x.Type == TypePaymentLink)
}
