package csms

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Transaction is an OCPP transaction as the charger reported it. Energies
// are the meter register in Wh; times are the charger's own.
type Transaction struct {
	ID              int64
	OrgID           string
	TestMode        bool
	ChargeStationID string
	ConnectorID     string // "" when the charger used a connector we do not know
	ConnectorNumber int
	IDTag           string
	IDTagStatus     string
	MeterStart      int64
	StartedAt       time.Time
	MeterStop       *int64
	StoppedAt       *time.Time
	StopReason      string
	LastEnergyWh    int64
	LastPowerW      *int64
	LastSoC         *int
	LastMeterAt     time.Time
	SessionID       string
	// Replayed is true when the charger repeated a StartTransaction or
	// StopTransaction that was already recorded.
	Replayed bool
}

// EnergyWh is the energy delivered so far (or in total once stopped).
func (t *Transaction) EnergyWh() int64 {
	if t.MeterStop != nil {
		return max(*t.MeterStop-t.MeterStart, 0)
	}
	return max(t.LastEnergyWh-t.MeterStart, 0)
}

type sample struct {
	at     time.Time
	energy *int64
	power  *int64
	soc    *int
}

func sampleOf(r ocpp16.Reading) sample {
	s := sample{at: r.Timestamp.UTC()}
	if r.HasEnergy {
		v := r.EnergyWh.Round(0).IntPart()
		s.energy = &v
	}
	if r.HasPower {
		v := r.PowerW.Round(0).IntPart()
		s.power = &v
	}
	if r.HasSoC {
		v := int(r.SoC.Round(0).IntPart())
		s.soc = &v
	}
	return s
}

const txCols = `id, org_id, test_mode, chargestation_id, connector_id, connector_number, id_tag, id_tag_status, meter_start, started_at,
	meter_stop, stopped_at, stop_reason, last_energy_wh, last_power_w, last_soc, last_meter_at, session_id`

func scanTx(s interface{ Scan(...any) error }) (Transaction, error) {
	var t Transaction
	var conn, reason, session sql.NullString
	var stop, power sql.NullInt64
	var soc sql.NullInt32
	var stopped sql.NullTime
	err := s.Scan(&t.ID, &t.OrgID, &t.TestMode, &t.ChargeStationID, &conn, &t.ConnectorNumber, &t.IDTag, &t.IDTagStatus, &t.MeterStart, &t.StartedAt,
		&stop, &stopped, &reason, &t.LastEnergyWh, &power, &soc, &t.LastMeterAt, &session)
	if err != nil {
		return t, err
	}
	t.ConnectorID, t.StopReason, t.SessionID = conn.String, reason.String, session.String
	t.StartedAt, t.LastMeterAt = t.StartedAt.UTC(), t.LastMeterAt.UTC()
	if stop.Valid {
		t.MeterStop = &stop.Int64
	}
	if stopped.Valid {
		at := stopped.Time.UTC()
		t.StoppedAt = &at
	}
	if power.Valid {
		t.LastPowerW = &power.Int64
	}
	if soc.Valid {
		v := int(soc.Int32)
		t.LastSoC = &v
	}
	return t, nil
}

// GetTransaction reads a transaction by its OCPP id.
func GetTransaction(ctx context.Context, q store.Querier, id int64) (Transaction, error) {
	t, err := scanTx(q.QueryRowContext(ctx, `SELECT `+txCols+` FROM ocpp_transactions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, apperr.NotFoundf("transaction", fmt.Sprint(id))
	}
	return t, err
}

// LinkSession records which session a transaction belongs to.
func LinkSession(ctx context.Context, tx *store.Tx, txID int64, sessionID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE ocpp_transactions SET session_id = $1 WHERE id = $2`, sessionID, txID)
	return err
}

func (s *Service) recordStart(ctx context.Context, tx *store.Tx, sta *station, req *ocpp16.StartTransactionRequest) (Transaction, error) {
	started := store.UTC(req.Timestamp)
	// A repeated StartTransaction (the charger did not get our answer) gets
	// the transactionId it was given the first time.
	t, err := scanTx(tx.QueryRowContext(ctx, `SELECT `+txCols+` FROM ocpp_transactions
		WHERE chargestation_id = $1 AND connector_number = $2 AND id_tag = $3 AND started_at = $4 AND meter_start = $5`,
		sta.st.ID, req.ConnectorId, req.IdTag, started, req.MeterStart))
	if err == nil {
		t.Replayed = true
		return t, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("csms: find transaction: %w", err)
	}
	id, err := tx.DB.NextCounter(ctx, tx, "ocpp_transaction")
	if err != nil {
		return t, fmt.Errorf("csms: next transaction id: %w", err)
	}
	t = Transaction{ID: id, OrgID: sta.p.OrgID, TestMode: sta.p.TestMode, ChargeStationID: sta.st.ID, ConnectorNumber: req.ConnectorId,
		IDTag: req.IdTag, IDTagStatus: string(s.tagStatus(ctx, tx, sta, req.IdTag)), MeterStart: int64(req.MeterStart), StartedAt: started,
		LastEnergyWh: int64(req.MeterStart), LastMeterAt: started}
	if req.ConnectorId > 0 {
		conn, err := s.connector(ctx, tx, sta, req.ConnectorId)
		if err != nil {
			return t, err
		}
		t.ConnectorID = conn.ID
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ocpp_transactions (id, org_id, test_mode, chargestation_id, connector_id, connector_number, id_tag, id_tag_status,
		meter_start, started_at, last_energy_wh, last_meter_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$9,$10,$11)`,
		t.ID, t.OrgID, t.TestMode, t.ChargeStationID, nullString(t.ConnectorID), t.ConnectorNumber, t.IDTag, t.IDTagStatus, t.MeterStart, t.StartedAt, store.Now())
	if err != nil {
		return t, fmt.Errorf("csms: insert transaction: %w", err)
	}
	if s.hooks != nil {
		if err := s.hooks.TransactionStarted(ctx, tx, &sta.st, &t); err != nil {
			return t, err
		}
	}
	return t, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// recordSamples stores meter samples of a transaction of this station.
// Samples arriving late (queued while offline) are stored by their own
// timestamps; the transaction's latest values move only forward in time.
//
// The station keeps its open transactions' state from the previous
// MeterValues (cached only once committed), so a sample usually costs its
// INSERT and one UPDATE. The UPDATE is guarded by what the cache believes
// (not stopped, not newer): should the row have moved behind the cache's
// back, the guard fails and the transaction is read and applied afresh.
func (s *Service) recordSamples(ctx context.Context, tx *store.Tx, sta *station, txID int64, samples []sample) (Transaction, bool, error) {
	t, cached := sta.cachedTx(txID)
	if !cached {
		var err error
		t, err = GetTransaction(ctx, tx, txID)
		if apperr.Is(err, "transaction_not_found") || (err == nil && t.ChargeStationID != sta.st.ID) {
			return t, false, nil
		}
		if err != nil {
			return t, false, err
		}
	}
	for _, sm := range samples {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meter_samples (transaction_id, at, energy_wh, power_w, soc) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (transaction_id, at) DO NOTHING`, txID, sm.at, sm.energy, sm.power, sm.soc); err != nil {
			return t, true, fmt.Errorf("csms: store sample: %w", err)
		}
	}
	before := t.LastMeterAt
	changed := applySamples(&t, samples)
	if cached {
		if !changed {
			return t, true, nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE ocpp_transactions SET last_energy_wh = $1, last_power_w = $2, last_soc = $3, last_meter_at = $4
			WHERE id = $5 AND stopped_at IS NULL AND last_meter_at <= $6`, t.LastEnergyWh, t.LastPowerW, t.LastSoC, t.LastMeterAt, txID, before)
		if err != nil {
			return t, true, fmt.Errorf("csms: update transaction: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			tx.AfterCommit(func() { sta.cacheTx(t) })
			return t, true, nil
		}
		// The row moved on without us (another connection of this charger):
		// forget the cache and apply the samples to the stored state.
		sta.forgetTx(txID)
		if t, err = GetTransaction(ctx, tx, txID); err != nil {
			return t, true, err
		}
		applySamples(&t, samples)
	}
	_, err := tx.ExecContext(ctx, `UPDATE ocpp_transactions SET last_energy_wh = $1, last_power_w = $2, last_soc = $3, last_meter_at = $4 WHERE id = $5`,
		t.LastEnergyWh, t.LastPowerW, t.LastSoC, t.LastMeterAt, txID)
	if err != nil {
		return t, true, fmt.Errorf("csms: update transaction: %w", err)
	}
	if t.StoppedAt == nil {
		tx.AfterCommit(func() { sta.cacheTx(t) })
	}
	return t, true, nil
}

// applySamples moves the transaction's latest values forward to the newest
// of the samples, unless the transaction stopped; it reports a change.
func applySamples(t *Transaction, samples []sample) bool {
	changed := false
	for _, sm := range samples {
		if sm.at.Before(t.LastMeterAt) || t.StoppedAt != nil {
			continue
		}
		changed = true
		t.LastMeterAt = sm.at
		if sm.energy != nil {
			t.LastEnergyWh = *sm.energy
		}
		if sm.power != nil {
			t.LastPowerW = sm.power
		}
		if sm.soc != nil {
			t.LastSoC = sm.soc
		}
	}
	return changed
}

func (s *Service) recordStop(ctx context.Context, tx *store.Tx, sta *station, req *ocpp16.StopTransactionRequest, samples []sample) (bool, error) {
	t, found, err := s.recordSamples(ctx, tx, sta, int64(req.TransactionId), samples)
	if err != nil || !found {
		return found, err
	}
	if t.StoppedAt != nil {
		return true, nil // a repeated StopTransaction
	}
	reason := string(req.Reason)
	if reason == "" {
		reason = "Local"
	}
	stop, at := int64(req.MeterStop), store.UTC(req.Timestamp)
	_, err = tx.ExecContext(ctx, `UPDATE ocpp_transactions SET meter_stop = $1, stopped_at = $2, stop_reason = $3, last_energy_wh = $1 WHERE id = $4`,
		stop, at, reason, t.ID)
	if err != nil {
		return true, fmt.Errorf("csms: stop transaction: %w", err)
	}
	t.MeterStop, t.StoppedAt, t.StopReason, t.LastEnergyWh = &stop, &at, reason, stop
	tx.AfterCommit(func() { sta.forgetTx(t.ID) })
	if s.hooks != nil {
		return true, s.hooks.TransactionStopped(ctx, tx, &sta.st, &t)
	}
	return true, nil
}

// Samples returns a transaction's meter samples in device-time order.
func Samples(ctx context.Context, q store.Querier, txID int64) ([]Sample, error) {
	rows, err := q.QueryContext(ctx, `SELECT at, energy_wh, power_w, soc FROM meter_samples WHERE transaction_id = $1 ORDER BY at`, txID)
	if err != nil {
		return nil, fmt.Errorf("csms: samples of %d: %w", txID, err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		var sm Sample
		var e, p sql.NullInt64
		var soc sql.NullInt32
		if err := rows.Scan(&sm.At, &e, &p, &soc); err != nil {
			return nil, err
		}
		sm.At = sm.At.UTC()
		if e.Valid {
			sm.EnergyWh = &e.Int64
		}
		if p.Valid {
			sm.PowerW = &p.Int64
		}
		if soc.Valid {
			v := int(soc.Int32)
			sm.SoC = &v
		}
		out = append(out, sm)
	}
	return out, rows.Err()
}

// Sample is one stored meter sample.
type Sample struct {
	At       time.Time
	EnergyWh *int64
	PowerW   *int64
	SoC      *int
}

// fault records a message that was acknowledged but could not be applied.
func (s *Service) fault(ctx context.Context, sta *station, action, reason string, payload any) {
	s.log.Warn("csms: message acknowledged but not applied", "identity", sta.st.Identity, "action", action, "reason", reason)
	s.metrics.faults.WithLabelValues(action).Inc()
	err := s.batch.Do(context.WithoutCancel(ctx), func(ctx context.Context, tx *store.Tx) error {
		return recordFault(ctx, tx, sta.p, sta.st.ID, action, reason, payload)
	})
	if err != nil {
		s.log.Error("csms: record fault", "err", err)
	}
}

// Fault is a charger message Joule acknowledged but could not apply.
type Fault struct {
	ID        string          `json:"_id"`
	Action    string          `json:"action"`
	Reason    string          `json:"reason"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"createdAt"`
}

// Faults lists a station's faults, newest first.
func Faults(ctx context.Context, q store.Querier, p org.Principal, stationID, cursor string, limit int) ([]Fault, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, action, reason, payload, created_at FROM charger_faults WHERE org_id = $1 AND test_mode = $2
		AND chargestation_id = $3 AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5`, p.OrgID, p.TestMode, stationID, cursor, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("csms: faults: %w", err)
	}
	defer rows.Close()
	var out []Fault
	for rows.Next() {
		var f Fault
		var payload string
		if err := rows.Scan(&f.ID, &f.Action, &f.Reason, &payload, &f.CreatedAt); err != nil {
			return nil, false, err
		}
		f.Payload = json.RawMessage(payload)
		out = append(out, f)
	}
	if len(out) > limit {
		return out[:limit], true, rows.Err()
	}
	return out, false, rows.Err()
}

func recordFault(ctx context.Context, tx *store.Tx, p org.Principal, stationID, action, reason string, payload any) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO charger_faults (id, org_id, test_mode, chargestation_id, action, reason, payload, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, id.New(), p.OrgID, p.TestMode, stationID, action, reason, store.JSON(payload), store.Now())
	if err != nil {
		return fmt.Errorf("csms: record fault: %w", err)
	}
	return nil
}
