package tariff

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Price computes what session s costs under tariff t.
//
// For a running session, set s.End to now and pass the periods so far: the
// result is the cost so far, step_size round-up and min_price included.
func Price(t *Tariff, s Session) (*Result, error) {
	c, err := compile(t)
	if err != nil {
		return nil, err
	}
	return c.price(&s)
}

func (c *compiled) price(s *Session) (*Result, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	// OCPI: the tariff valid when the session starts applies to all of it.
	if !c.validFrom.IsZero() && s.Start.Before(c.validFrom) {
		return nil, fmt.Errorf("tariff: start_date_time: tariff is valid from %s, after the session start %s",
			c.validFrom.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	}
	if !c.validUntil.IsZero() && !s.Start.Before(c.validUntil) {
		return nil, fmt.Errorf("tariff: end_date_time: tariff ended at %s, before the session start %s",
			c.validUntil.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	}
	// min_duration/max_duration count from the start of charging, after
	// any reservation.
	clockStart := s.End
	for _, p := range s.periods() {
		if p.State != Reserved {
			clockStart = p.Start
			break
		}
	}
	loc := s.location()
	b := newBill(c)
	var x segCtx
	for _, sg := range c.segments(s, clockStart) {
		x.reserved = sg.state == Reserved
		x.expired = s.ReservationExpired
		x.kwh, x.kw, x.amps = sg.kwhBefore, sg.kw, sg.amps
		x.elapsed = sg.start.Sub(clockStart)
		if x.reserved {
			x.elapsed = sg.start.Sub(s.Start)
		}
		if len(c.wallClock) > 0 {
			lt := sg.start.In(loc)
			h, m, sec := lt.Clock()
			x.secOfDay, x.date, x.weekday = h*3600+m*60+sec, dateKey(lt), lt.Weekday()
		}
		b.add(&sg, &x)
	}
	b.roundSteps()
	return b.result(s.End)
}

// bill accumulates breakdown lines segment by segment.
type bill struct {
	c          *compiled
	lines      []line
	open       [2][numDims]int // per class (0 session, 1 reservation): the line a contiguous segment extends
	flatDone   [2]bool
	lastEnergy int
	lastTime   [2]int
	graceUsed  []time.Duration // per element and dimension
	match      []int8          // per element for the current segment: 0 unknown, 1 match, 2 no match

	kwh                         decimal.Decimal
	charging, parking, reserved time.Duration
}

func newBill(c *compiled) *bill {
	b := &bill{c: c, lastEnergy: -1, lastTime: [2]int{-1, -1}, match: make([]int8, len(c.elements)), kwh: decimal.Zero}
	for i := range b.open {
		for d := range b.open[i] {
			b.open[i][d] = -1
		}
	}
	if c.grace {
		b.graceUsed = make([]time.Duration, len(c.elements)*numDims)
	}
	return b
}

func (b *bill) add(sg *segment, x *segCtx) {
	clear(b.match)
	class := 0
	if x.reserved {
		class = 1
	}
	// FLAT is charged once per session (and once per reservation), by the
	// first element with a FLAT component that applies.
	if !b.flatDone[class] {
		if e := b.pick(dimFlat, x); e != nil {
			b.flatDone[class] = true
			b.put(line{dim: dimFlat, kind: KindUsage, reserved: x.reserved, element: e.index,
				from: sg.start, to: sg.start, comp: e.comp[dimFlat], unitPrice: e.comp[dimFlat].price})
		}
	}
	dur := sg.end.Sub(sg.start)
	timeDim := dimTime
	switch sg.state {
	case Reserved:
		b.reserved += dur
	case Parking:
		b.parking += dur
		timeDim = dimParking
	default:
		b.charging += dur
	}
	if !x.reserved {
		b.kwh = b.kwh.Add(sg.kwh)
		if sg.kwh.IsPositive() {
			if e := b.pick(dimEnergy, x); e != nil {
				b.lastEnergy = b.put(line{dim: dimEnergy, kind: KindUsage, element: e.index, from: sg.start, to: sg.end,
					comp: e.comp[dimEnergy], unitPrice: e.comp[dimEnergy].price, kwh: sg.kwh})
			}
		}
	}
	if dur > 0 {
		if e := b.pick(timeDim, x); e != nil {
			b.addTime(e, timeDim, sg.start, sg.end, x.reserved)
		}
	}
}

// pick is OCPI's per-dimension selection: the first element that has a
// component for the dimension and whose restrictions all match. For an
// expired reservation, RESERVATION_EXPIRES elements go first (OCPI note on
// ReservationRestrictionType).
func (b *bill) pick(dim int, x *segCtx) *element {
	els := b.c.elements
	if x.reserved && x.expired {
		for i := range els {
			if els[i].comp[dim] != nil && els[i].when.reservation == resExpires && b.matches(i, x) {
				return &els[i]
			}
		}
	}
	for i := range els {
		if els[i].comp[dim] != nil && b.matches(i, x) {
			return &els[i]
		}
	}
	return nil
}

func (b *bill) matches(i int, x *segCtx) bool {
	if b.match[i] == 0 {
		b.match[i] = 2
		if b.c.elements[i].when.matches(x) {
			b.match[i] = 1
		}
	}
	return b.match[i] == 1
}

// addTime bills [from, to) under a time component, the first part free while
// the component's grace period lasts.
func (b *bill) addTime(e *element, dim int, from, to time.Time, reserved bool) {
	comp := e.comp[dim]
	class := 0
	if reserved {
		class = 1
	}
	if comp.grace > 0 {
		k := e.index*numDims + dim
		if left := comp.grace - b.graceUsed[k]; left > 0 {
			free := min(to.Sub(from), left)
			b.graceUsed[k] += free
			b.lastTime[class] = b.put(line{dim: dim, kind: KindGrace, reserved: reserved, element: e.index,
				from: from, to: from.Add(free), comp: comp, unitPrice: decimal.Zero, dur: free})
			from = from.Add(free)
		}
	}
	if from.Before(to) {
		b.lastTime[class] = b.put(line{dim: dim, kind: KindUsage, reserved: reserved, element: e.index,
			from: from, to: to, comp: comp, unitPrice: comp.price, dur: to.Sub(from)})
	}
}

// put appends l, or extends the previous line of its dimension when l
// continues it (same element, same kind, no gap), and returns its index.
func (b *bill) put(l line) int {
	class := 0
	if l.reserved {
		class = 1
	}
	if i := b.open[class][l.dim]; i >= 0 && l.dim != dimFlat {
		o := &b.lines[i]
		if o.kind == l.kind && o.element == l.element && o.to.Equal(l.from) {
			o.to = l.to
			o.kwh = o.kwh.Add(l.kwh)
			o.dur += l.dur
			return i
		}
	}
	b.lines = append(b.lines, l)
	b.open[class][l.dim] = len(b.lines) - 1
	return len(b.lines) - 1
}
