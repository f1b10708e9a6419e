package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/csms"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/rates"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

var _ csms.Hooks = (*Service)(nil)

func transaction(ctx context.Context, q store.Querier, txID int64) (csms.Transaction, error) {
	return csms.GetTransaction(ctx, q, txID)
}

// sessionByTag finds the latest session of this station started with idTag.
func sessionByTag(ctx context.Context, tx *store.Tx, stationID, idTag string) (*Session, error) {
	var sid string
	err := tx.QueryRowContext(ctx, `SELECT id FROM sessions WHERE id_tag = $1 AND chargestation_id = $2 ORDER BY id DESC LIMIT 1`, idTag, stationID).Scan(&sid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: by idTag: %w", err)
	}
	return loadAny(ctx, tx, sid)
}

// TransactionStarted links a charger's transaction to its session: the
// remote start it answers, a late start that revives a session given up on,
// or a driver's own start with a charging key (recorded as a postpaid
// session, priced the same way).
func (s *Service) TransactionStarted(ctx context.Context, tx *store.Tx, st *network.ChargeStation, t *csms.Transaction) error {
	x, err := sessionByTag(ctx, tx, st.ID, t.IDTag)
	if err != nil {
		return err
	}
	if x == nil || x.TransactionID != nil {
		return s.localStart(ctx, tx, st, t)
	}
	switch x.Status {
	case StatusCreated, StatusWaitingToStart, StatusFailed, StatusCanceled:
	default:
		return nil
	}
	revived := x.Status == StatusFailed || x.Status == StatusCanceled
	abandoned := x.Status == StatusCanceled
	started := t.StartedAt
	x.Status, x.TransactionID, x.StartedAt, x.FailureReason = StatusStarted, &t.ID, &started, ""
	if err := startPeriod(ctx, tx, x.ID, periodCharging, t.StartedAt, t.MeterStart); err != nil {
		return err
	}
	if err := csms.LinkSession(ctx, tx, t.ID, x.ID); err != nil {
		return err
	}
	if _, err := s.jobs.Cancel(ctx, tx, "start_timeout:"+x.ID); err != nil {
		return err
	}
	if _, err := s.jobs.Cancel(ctx, tx, "start_window:"+x.ID); err != nil {
		return err
	}
	stopNow := abandoned
	if revived {
		// The charger really is charging: bill it. A payment released when
		// the session was given up is taken again where possible.
		ok, err := s.reauthorize(ctx, tx, x)
		if err != nil {
			return err
		}
		stopNow = stopNow || !ok
	}
	if err := save(ctx, tx, x); err != nil {
		return err
	}
	if err := s.emit(ctx, tx, x, "session.started"); err != nil {
		return err
	}
	if x.capped() {
		o, err := org.Get(ctx, tx, x.OrgID)
		if err != nil {
			return err
		}
		if err := s.setMeterInterval(ctx, tx, x.Chargestation, o.Configurations.CappedMeterValueInterval); err != nil {
			return err
		}
	}
	if stopNow {
		return s.requestStop(ctx, tx, x, "the session was abandoned or lost its payment before the charger started")
	}
	return nil
}

// localStart records a session a driver started at the charger with a
// charging key of one of the organization's users.
func (s *Service) localStart(ctx context.Context, tx *store.Tx, st *network.ChargeStation, t *csms.Transaction) error {
	p := org.Principal{OrgID: st.OrgID, TestMode: st.TestMode}
	key, err := users.KeyByTag(ctx, tx, p, t.IDTag)
	if err != nil || !key.Active || t.ConnectorID == "" {
		return nil // not a user's key: nothing to bill, the charger got Invalid
	}
	conn, err := network.GetConnector(ctx, tx, p, t.ConnectorID)
	if err != nil {
		return err
	}
	o, err := org.Get(ctx, tx, p.OrgID)
	if err != nil {
		return err
	}
	tariffJSON, currency, rateID := freeTariff(o.Configurations.Currency), o.Configurations.Currency, ""
	if conn.Rate != nil {
		r, err := rates.Get(ctx, tx, p, *conn.Rate)
		if err != nil {
			return err
		}
		tariffJSON, currency, rateID = store.JSON(r.Tariff), r.Currency, r.ID
	}
	loc, err := network.GetLocation(ctx, tx, p, st.Location)
	if err != nil {
		return err
	}
	now := store.Now()
	started := t.StartedAt
	x := &Session{ID: id.New(), OrgID: p.OrgID, TestMode: p.TestMode, Type: TypePostpaid, User: key.User, Chargestation: st.ID, Connector: conn.ID,
		Rate: rateID, Status: StatusStarted, Target: map[string]any{}, ChargingKeyType: key.Type, TransactionID: &t.ID, StartedAt: &started,
		CreatedAt: now, UpdatedAt: now, tariff: tariffJSON, timezone: loc.Timezone, currency: currency, idTag: t.IDTag}
	// A live user without a card still gets the session recorded; its
	// charge fails and it ends in debt.
	method, _ := s.defaultMethod(ctx, tx, p, key.User)
	x.Payment = &Payment{ID: id.New(), Session: x.ID, Type: "card", Status: PayPending, Currency: lower(currency), paymentMethod: method.Token,
		customer: method.Customer, CreatedAt: now, UpdatedAt: now}
	if err := insert(ctx, tx, x); err != nil {
		return err
	}
	if err := insertPayment(ctx, tx, x.Payment); err != nil {
		return err
	}
	if err := startPeriod(ctx, tx, x.ID, periodCharging, t.StartedAt, t.MeterStart); err != nil {
		return err
	}
	if err := csms.LinkSession(ctx, tx, t.ID, x.ID); err != nil {
		return err
	}
	if err := s.emit(ctx, tx, x, "session.created"); err != nil {
		return err
	}
	return s.emit(ctx, tx, x, "session.started")
}

func freeTariff(currency string) string {
	return `{"currency":"` + currency + `","elements":[{"price_components":[{"type":"ENERGY","price":0,"step_size":1}]}]}`
}

// activeOnConnector is the session the charger is running on a connector.
func activeOnConnector(ctx context.Context, tx *store.Tx, connectorID string) (*Session, error) {
	var sid string
	err := tx.QueryRowContext(ctx, `SELECT id FROM sessions WHERE connector_id = $1 AND status IN ($2,$3,$4,$5) ORDER BY id DESC LIMIT 1`,
		connectorID, StatusStarted, StatusPaused, StatusWaitingToStop, StatusStopFailed).Scan(&sid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: active on connector: %w", err)
	}
	return loadAny(ctx, tx, sid)
}

// ConnectorStatus follows what the car does: a pause is confirmed by
// SuspendedEVSE, a resume by Charging, and time plugged in without
// requesting power (SuspendedEV, Finishing) is parking.
func (s *Service) ConnectorStatus(ctx context.Context, tx *store.Tx, st *network.ChargeStation, c *network.Connector, previous string) error {
	switch c.Status {
	case "SuspendedEVSE", "Charging", "SuspendedEV", "Finishing":
	default:
		return nil // Available, Preparing, Unavailable, ...: nothing for a session to follow
	}
	x, err := activeOnConnector(ctx, tx, c.ID)
	if err != nil || x == nil || x.TransactionID == nil {
		return err
	}
	t, err := transaction(ctx, tx, *x.TransactionID)
	if err != nil {
		return err
	}
	at := time.Now().UTC()
	if c.StatusUpdatedAt != nil {
		at = *c.StatusUpdatedAt
	}
	switch c.Status {
	case "SuspendedEVSE":
		if !x.PauseRequested || x.Status != StatusStarted {
			return nil
		}
		x.Status = StatusPaused
		if err := startPeriod(ctx, tx, x.ID, periodPaused, at, t.LastEnergyWh); err != nil {
			return err
		}
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.paused")
	case "Charging":
		if err := startPeriod(ctx, tx, x.ID, periodCharging, at, t.LastEnergyWh); err != nil {
			return err
		}
		if x.Status != StatusPaused {
			return nil
		}
		x.Status, x.PauseRequested = StatusStarted, false
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.resumed")
	case "SuspendedEV", "Finishing":
		if x.Status == StatusPaused {
			return nil // paused time is not parking time
		}
		if err := startPeriod(ctx, tx, x.ID, periodParking, at, t.LastEnergyWh); err != nil {
			return err
		}
		if t, _, err := x.parsedTariff(); err == nil && t.HasParkingTime() && previous != "SuspendedEV" && previous != "Finishing" {
			// Parking is about to cost money: apps warn the driver (Drive API SESSION_FEE_INCURRING).
			return s.emit(ctx, tx, x, "session.fee_incurring")
		}
	}
	return nil
}

// TransactionStopped ends the session: it is priced with its tariff, its
// CDR written and its payment settled, in the transaction that records the
// charger's report (the payment provider, if any, is called by a job).
func (s *Service) TransactionStopped(ctx context.Context, tx *store.Tx, st *network.ChargeStation, t *csms.Transaction) error {
	if t.SessionID == "" {
		return nil
	}
	x, err := loadAny(ctx, tx, t.SessionID)
	if err != nil {
		return err
	}
	if !charging(x.Status) {
		return nil // a repeated stop, or a session already ended
	}
	return s.end(ctx, tx, x, t)
}

// MeterSample checks capped sessions after every meter value (auto-stop).
func (s *Service) MeterSample(ctx context.Context, st *network.ChargeStation, t *csms.Transaction) {
	if t.SessionID == "" {
		return
	}
	s.autoStop(ctx, t)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
