package tariff

import (
	"time"

	"github.com/shopspring/decimal"
)

// roundSteps applies step_size once per session, as the OCPI 2.2.1 errata
// describe (CDR module, "step_size"): the session's total volume of a
// dimension is rounded up to the step_size of the component that billed it
// last, and the extra is billed at that component's price.
//
//   - ENERGY: total billed kWh, by the last ENERGY component's step (Wh).
//   - TIME and PARKING_TIME: only the dimension of the last time-based line
//     is rounded; a time dimension followed by another one is not.
//   - Reservation TIME is rounded on its own: a reservation is billed before,
//     and independently of, the session it leads to.
func (b *bill) roundSteps() {
	if i := b.lastEnergy; i >= 0 && b.lines[i].comp.step > 0 {
		last := b.lines[i]
		total := decimal.Zero
		for _, l := range b.lines {
			if l.dim == dimEnergy && l.kind == KindUsage {
				total = total.Add(l.kwh)
			}
		}
		step := decimal.New(last.comp.step, -3) // Wh to kWh
		if q, r := total.QuoRem(step, 0); r.IsPositive() {
			extra := q.Add(decimal.NewFromInt(1)).Mul(step).Sub(total)
			b.lines = append(b.lines, last.extra(extra, 0))
		}
	}
	for _, i := range b.lastTime {
		if i < 0 || b.lines[i].comp.step <= 0 {
			continue
		}
		last := b.lines[i]
		var total time.Duration
		for _, l := range b.lines {
			if l.dim == last.dim && l.reserved == last.reserved && (l.kind == KindUsage || l.kind == KindGrace) {
				total += l.dur
			}
		}
		step := time.Duration(last.comp.step) * time.Second
		if rem := total % step; rem > 0 {
			b.lines = append(b.lines, last.extra(decimal.Zero, step-rem))
		}
	}
}

// extra is the round-up line after l, at l's unit price (free when l is in
// a grace period).
func (l line) extra(kwh decimal.Decimal, dur time.Duration) line {
	return line{dim: l.dim, kind: KindStepSize, reserved: l.reserved, element: l.element,
		from: l.to, to: l.to, comp: l.comp, unitPrice: l.unitPrice, kwh: kwh, dur: dur}
}
