package tariff

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Project returns a cost the running session s (End = now) should not
// exceed after a further interval extra, for the auto-stop (DESIGN §5).
// powerKW is the most the EVSE can deliver.
//
// It prices the session extended by extra in several ways and returns the
// dearest, each a full Price (FLAT, step_size round-up, min_price and
// max_price included): charging at each rate from loads, paused (time
// accrues, no energy), parking, and not extended at all (OCPI's step_size
// rule can make a cost fall: a time round-up vanishes once another time
// dimension follows). The current is assumed to stay as in the last period.
// A mix of states within the interval costs at most about one step more
// than the dearest pure case; the auto-stop margin covers that.
func Project(t *Tariff, s Session, extra time.Duration, powerKW decimal.Decimal) (*Result, error) {
	if extra < 0 {
		return nil, fmt.Errorf("tariff: project: negative interval %s", extra)
	}
	if powerKW.IsNegative() {
		return nil, fmt.Errorf("tariff: project: negative power %s kW", powerKW)
	}
	c, err := compile(t)
	if err != nil {
		return nil, err
	}
	best, err := c.price(&s)
	if err != nil {
		return nil, err
	}
	periods := s.periods()
	amps := periods[len(periods)-1].MaxCurrentA
	next := []Period{{Start: s.End, State: Paused, MaxCurrentA: amps}, {Start: s.End, State: Parking, MaxCurrentA: amps}}
	for _, l := range c.loads(periods, extra, powerKW) {
		next = append(next, Period{Start: s.End, State: Charging, EnergyKWh: l.kwh, MaxPowerKW: l.kw, MaxCurrentA: amps})
	}
	for _, p := range next {
		ext := s
		ext.End = s.End.Add(extra)
		ext.Periods = append(append(make([]Period, 0, len(periods)+1), periods...), p)
		r, err := c.price(&ext)
		if err != nil {
			return nil, fmt.Errorf("tariff: project %s: %w", p.State, err)
		}
		if r.TotalInclVAT.GreaterThan(best.TotalInclVAT) {
			best = r
		}
	}
	return best, nil
}

// load is a way of charging through the projected interval.
type load struct{ kwh, kw decimal.Decimal }

// loads lists the charging rates at which a tariff can cost the most, since
// slower is not always cheaper: powerKW itself; just under each power bound
// of the tariff below powerKW (the dearest point of a band in which the
// power does not change prices); and the rate that ends the interval right
// on each kWh threshold ahead (all the time still priced as before it).
// Energy is rounded up: an overestimate is safe.
func (c *compiled) loads(periods []Period, extra time.Duration, powerKW decimal.Decimal) []load {
	hours := decimal.NewFromInt(int64(extra)).DivRound(decimal.NewFromInt(int64(time.Hour)), amountPlaces)
	at := func(kw decimal.Decimal) load {
		return load{kwh: kw.Mul(hours).RoundCeil(energyPlaces), kw: kw}
	}
	out := []load{at(powerKW)}
	below := decimal.New(1, -3) // 1 W under a bound
	for _, b := range c.kw {
		if b.GreaterThan(below) && b.LessThanOrEqual(powerKW) {
			out = append(out, at(b.Sub(below)))
		}
	}
	if !hours.IsPositive() {
		return out
	}
	delivered := decimal.Zero
	for _, p := range periods {
		delivered = delivered.Add(p.EnergyKWh)
	}
	reach := out[0].kwh
	for _, k := range c.kwh {
		if need := k.Sub(delivered); need.IsPositive() && need.LessThan(reach) {
			out = append(out, load{kwh: need, kw: need.DivRound(hours, energyPlaces)})
		}
	}
	return out
}
