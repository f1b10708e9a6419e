package session

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/tariff"
)

// Period states as stored.
const (
	periodCharging = "charging"
	periodPaused   = "paused"
	periodParking  = "parking"
)

type period struct {
	seq        int
	state      string
	startedAt  time.Time
	meterStart int64
}

func loadPeriods(ctx context.Context, q store.Querier, sessionID string) ([]period, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, state, started_at, meter_start_wh FROM session_periods WHERE session_id = $1 ORDER BY seq`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("session: periods of %s: %w", sessionID, err)
	}
	defer rows.Close()
	var out []period
	for rows.Next() {
		var p period
		if err := rows.Scan(&p.seq, &p.state, &p.startedAt, &p.meterStart); err != nil {
			return nil, err
		}
		p.startedAt = p.startedAt.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// startPeriod opens a period in state at the charger's time `at` with the
// meter register then. A state equal to the current one changes nothing;
// a time before the current period's start (a late report) is moved to it.
func startPeriod(ctx context.Context, tx *store.Tx, sessionID, state string, at time.Time, meterWh int64) error {
	ps, err := loadPeriods(ctx, tx, sessionID)
	if err != nil {
		return err
	}
	seq := 0
	if n := len(ps); n > 0 {
		last := ps[n-1]
		if last.state == state {
			return nil
		}
		if at.Before(last.startedAt) {
			at = last.startedAt
		}
		meterWh = max(meterWh, last.meterStart)
		seq = last.seq + 1
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO session_periods (session_id, seq, state, started_at, meter_start_wh) VALUES ($1,$2,$3,$4,$5)`,
		sessionID, seq, state, store.UTC(at), meterWh)
	if err != nil {
		return fmt.Errorf("session: start period: %w", err)
	}
	return nil
}

var thousand = decimal.NewFromInt(1000)

// priceInput turns stored periods into what the tariff engine prices, from
// the first period's start to end, with the meter register at end.
func priceInput(ps []period, end time.Time, meterEnd int64, loc *time.Location) (tariff.Session, []PeriodView) {
	ts := tariff.Session{Start: ps[0].startedAt, End: end, Location: loc}
	views := make([]PeriodView, 0, len(ps))
	for i, p := range ps {
		pEnd, next := end, meterEnd
		if i+1 < len(ps) {
			pEnd, next = ps[i+1].startedAt, ps[i+1].meterStart
		}
		if pEnd.Before(p.startedAt) {
			pEnd = p.startedAt
		}
		wh := max(next-p.meterStart, 0)
		st := tariff.Charging
		switch p.state {
		case periodPaused:
			st = tariff.Paused
		case periodParking:
			st = tariff.Parking
		}
		ts.Periods = append(ts.Periods, tariff.Period{Start: p.startedAt, State: st, EnergyKWh: decimal.NewFromInt(wh).Div(thousand)})
		views = append(views, PeriodView{State: p.state, StartAt: p.startedAt, EndAt: pEnd, EnergyWh: wh})
	}
	if ts.End.Before(ts.Start) {
		ts.End = ts.Start
	}
	return ts, views
}

// costOf renders a priced result.
func costOf(r *tariff.Result, final bool) Cost {
	amount := r.AmountMinor
	c := Cost{Amount: &amount, Currency: r.Currency, ExclVAT: r.TotalExclVAT.StringFixed(4), InclVAT: r.TotalInclVAT.StringFixed(4), Final: final}
	for _, l := range r.Breakdown {
		b := BreakdownLine{Type: string(l.Dimension), Kind: string(l.Kind), From: l.From.UTC().Format(time.RFC3339), To: l.To.UTC().Format(time.RFC3339),
			Quantity: l.Quantity.String(), Unit: l.Unit, UnitPrice: l.UnitPrice.String(), ExclVAT: l.ExclVAT.StringFixed(4),
			VATAmount: l.VATAmount.StringFixed(4), InclVAT: l.InclVAT.StringFixed(4)}
		if l.VAT != nil {
			b.VAT = l.VAT.String()
		}
		c.Breakdown = append(c.Breakdown, b)
	}
	return c
}

func (x *Session) parsedTariff() (*tariff.Tariff, *time.Location, error) {
	t, err := tariff.Parse([]byte(x.tariff))
	if err != nil {
		return nil, nil, fmt.Errorf("session %s: tariff: %w", x.ID, err)
	}
	loc, err := time.LoadLocation(x.timezone)
	if err != nil {
		loc = time.UTC
	}
	return t, loc, nil
}

// price computes the session's cost from its periods up to end with the
// meter register meterEnd, and fills the live fields of the view.
func (x *Session) price(ctx context.Context, q store.Querier, end time.Time, meterEnd int64, final bool) (*tariff.Result, error) {
	ps, err := loadPeriods(ctx, q, x.ID)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	t, loc, err := x.parsedTariff()
	if err != nil {
		return nil, err
	}
	in, views := priceInput(ps, end, meterEnd, loc)
	r, err := tariff.Price(t, in)
	if err != nil {
		return nil, fmt.Errorf("session %s: price: %w", x.ID, err)
	}
	x.ChargingPeriods = views
	x.Cost = costOf(r, final)
	x.Energy.Wh = max(meterEnd-ps[0].meterStart, 0)
	x.Duration = int64(end.Sub(ps[0].startedAt).Seconds())
	return r, nil
}
