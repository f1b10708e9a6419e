package tariff

import (
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// energyPlaces is the precision (kWh) of energy interpolated at a split: a
// micro-watt-hour, far below any meter.
const energyPlaces = 9

// segment is a piece of a period in which no restriction can change, so
// one element per dimension prices all of it.
type segment struct {
	start, end time.Time
	state      State
	kwh        decimal.Decimal // delivered in the segment
	kwhBefore  decimal.Decimal // delivered in the session before it
	kw, amps   decimal.Decimal // of the period the segment is part of
}

// cut is a split point inside a period: an instant and the session energy
// delivered up to it.
type cut struct {
	at  time.Time
	kwh decimal.Decimal
}

// segments splits the session's periods at every restriction boundary: time
// of day, local midnight, session duration and energy thresholds. Energy
// within a period is taken to flow at a constant rate, so a split inside a
// period shares its energy in proportion to time, and an energy threshold
// inside a period falls at the proportional instant.
func (c *compiled) segments(s *Session, clockStart time.Time) []segment {
	periods := s.periods()
	times := c.timeCuts(s, clockStart)
	segs := make([]segment, 0, len(periods)+len(times))
	before := decimal.Zero
	next := 0 // first time cut not before the current period
	var cuts []cut
	for i, p := range periods {
		end := s.End
		if i+1 < len(periods) {
			end = periods[i+1].Start
		}
		dur := end.Sub(p.Start)
		after := before.Add(p.EnergyKWh)
		kw := p.MaxPowerKW
		if kw.IsZero() && dur > 0 && p.EnergyKWh.IsPositive() {
			kw = p.EnergyKWh.Mul(decimal.NewFromInt(int64(time.Hour))).DivRound(decimal.NewFromInt(int64(dur)), energyPlaces)
		}
		cuts = cuts[:0]
		for next < len(times) && !times[next].After(p.Start) {
			next++
		}
		for j := next; j < len(times) && times[j].Before(end); j++ {
			share := p.EnergyKWh.Mul(decimal.NewFromInt(int64(times[j].Sub(p.Start)))).
				DivRound(decimal.NewFromInt(int64(dur)), energyPlaces)
			cuts = append(cuts, cut{at: times[j], kwh: before.Add(share)})
		}
		for _, k := range c.kwh {
			if k.GreaterThan(before) && k.LessThan(after) {
				frac := k.Sub(before).Mul(decimal.NewFromInt(int64(dur))).Div(p.EnergyKWh)
				cuts = append(cuts, cut{at: p.Start.Add(time.Duration(frac.IntPart())), kwh: k})
			}
		}
		sort.Slice(cuts, func(a, b int) bool {
			if !cuts[a].at.Equal(cuts[b].at) {
				return cuts[a].at.Before(cuts[b].at)
			}
			return cuts[a].kwh.LessThan(cuts[b].kwh)
		})
		from, fromKWh := p.Start, before
		for _, ct := range cuts {
			// Rounding can put an interpolated cut a hair out of order;
			// energy never flows backwards.
			k := decimal.Min(decimal.Max(ct.kwh, fromKWh), after)
			segs = append(segs, segment{start: from, end: ct.at, state: p.State, kwh: k.Sub(fromKWh), kwhBefore: fromKWh, kw: kw, amps: p.MaxCurrentA})
			from, fromKWh = ct.at, k
		}
		last := p.EnergyKWh
		if len(cuts) > 0 {
			last = after.Sub(fromKWh)
		}
		segs = append(segs, segment{start: from, end: end, state: p.State, kwh: last, kwhBefore: fromKWh, kw: kw, amps: p.MaxCurrentA})
		before = after
	}
	return segs
}

// timeCuts lists, in order, the instants strictly inside the session at which
// a time-based restriction can switch: session durations, local wall-clock
// boundaries on every local day, and the zone's own transitions (a DST jump
// moves the wall clock without passing the boundaries in between).
func (c *compiled) timeCuts(s *Session, clockStart time.Time) []time.Time {
	var out []time.Time
	add := func(t time.Time) {
		if t.After(s.Start) && t.Before(s.End) {
			out = append(out, t)
		}
	}
	for _, d := range c.durations {
		add(clockStart.Add(d))
		add(s.Start.Add(d)) // reservations run on the session start's clock
	}
	if len(c.wallClock) > 0 {
		loc := s.location()
		for t := s.Start; ; {
			_, next := t.In(loc).ZoneBounds()
			if next.IsZero() || !next.Before(s.End) {
				break
			}
			add(next)
			t = next
		}
		first, last := localDay(s.Start, loc), localDay(s.End, loc)
		for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
			for _, sec := range c.wallClock {
				wallInstants(day, sec, loc, add)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	uniq := out[:0]
	for i, t := range out {
		if i == 0 || !t.Equal(uniq[len(uniq)-1]) {
			uniq = append(uniq, t)
		}
	}
	return uniq
}

// localDay is t's local calendar date, as midnight UTC (a plain date).
func localDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// wallInstants calls add for every instant at which loc's wall clock reads
// sec seconds into the given date: none in a DST gap, two in a DST overlap.
func wallInstants(day time.Time, sec int, loc *time.Location, add func(time.Time)) {
	wall := day.Add(time.Duration(sec) * time.Second) // the wall clock, read as UTC
	guess := time.Date(wall.Year(), wall.Month(), wall.Day(), 0, 0, sec, 0, loc)
	// Try the offsets in force around that day; duplicates are dropped later.
	for _, probe := range [...]time.Time{guess.Add(-24 * time.Hour), guess, guess.Add(24 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		t := wall.Add(-time.Duration(off) * time.Second)
		if _, o := t.In(loc).Zone(); o == off {
			add(t)
		}
	}
}
