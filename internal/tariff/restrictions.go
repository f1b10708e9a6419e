package tariff

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

type reservationKind uint8

const (
	resNone        reservationKind = iota // element prices the charging session
	resReservation                        // element prices a reservation
	resExpires                            // element prices a reservation that expired unused
)

// restriction is a compiled TariffRestrictions. All conditions are ANDed and
// evaluated at the start of a segment; segments are split wherever one of
// them can change, so the start decides for the whole segment.
type restriction struct {
	timeOfDay        bool
	fromSec, toSec   int // active in [fromSec, toSec) of the local day; wraps past midnight when fromSec >= toSec
	fromDate, toDate int // yyyymmdd local, toDate exclusive; 0 is open
	days             uint8
	minKWh, maxKWh   *decimal.Decimal
	minA, maxA       *decimal.Decimal
	minKW, maxKW     *decimal.Decimal
	minDur, maxDur   time.Duration
	hasMinDur        bool
	hasMaxDur        bool
	reservation      reservationKind
}

// segCtx is what restrictions look at, taken at the start of a segment.
type segCtx struct {
	secOfDay int
	date     int
	weekday  time.Weekday
	kwh      decimal.Decimal // energy delivered in the session before the segment
	kw, amps decimal.Decimal
	elapsed  time.Duration // since the session clock started
	reserved bool
	expired  bool
}

func (r *restriction) matches(x *segCtx) bool {
	switch r.reservation {
	case resNone:
		if x.reserved {
			return false
		}
	case resReservation:
		if !x.reserved {
			return false
		}
	case resExpires:
		if !x.reserved || !x.expired {
			return false
		}
	}
	if r.timeOfDay {
		if r.fromSec < r.toSec {
			if x.secOfDay < r.fromSec || x.secOfDay >= r.toSec {
				return false
			}
		} else if x.secOfDay < r.fromSec && x.secOfDay >= r.toSec {
			return false
		}
	}
	if r.fromDate != 0 && x.date < r.fromDate || r.toDate != 0 && x.date >= r.toDate {
		return false
	}
	if r.days != 0 && r.days&(1<<x.weekday) == 0 {
		return false
	}
	return atLeast(x.kwh, r.minKWh) && below(x.kwh, r.maxKWh) &&
		atLeast(x.amps, r.minA) && below(x.amps, r.maxA) &&
		atLeast(x.kw, r.minKW) && below(x.kw, r.maxKW) &&
		(!r.hasMinDur || x.elapsed >= r.minDur) &&
		(!r.hasMaxDur || x.elapsed < r.maxDur)
}

// atLeast: OCPI minimums are inclusive.
func atLeast(v decimal.Decimal, min *decimal.Decimal) bool {
	return min == nil || v.GreaterThanOrEqual(*min)
}

// below: OCPI maximums are exclusive.
func below(v decimal.Decimal, max *decimal.Decimal) bool {
	return max == nil || v.LessThan(*max)
}

func compileRestrictions(p *problems, path string, in *Restrictions, b *boundaries) restriction {
	r := restriction{fromSec: 0, toSec: 86400}
	if in.StartTime != "" {
		if sec, ok := parseClock(in.StartTime); ok {
			r.timeOfDay, r.fromSec = true, sec
			b.addWallClock(sec)
		} else {
			p.add(path+".start_time", fmt.Sprintf("must be a time of day HH:MM (00:00 to 23:59), got %q", in.StartTime))
		}
	}
	if in.EndTime != "" {
		if sec, ok := parseClock(in.EndTime); ok {
			// "00:00" ends at the end of the day.
			if sec == 0 {
				sec = 86400
			}
			r.timeOfDay, r.toSec = true, sec
			b.addWallClock(sec)
		} else {
			p.add(path+".end_time", fmt.Sprintf("must be a time of day HH:MM (00:00 to 23:59), got %q", in.EndTime))
		}
	}
	if in.StartDate != "" {
		if d, ok := parseDate(in.StartDate); ok {
			r.fromDate = d
			b.addWallClock(0)
		} else {
			p.add(path+".start_date", fmt.Sprintf("must be a date YYYY-MM-DD, got %q", in.StartDate))
		}
	}
	if in.EndDate != "" {
		if d, ok := parseDate(in.EndDate); ok {
			r.toDate = d
			b.addWallClock(0)
		} else {
			p.add(path+".end_date", fmt.Sprintf("must be a date YYYY-MM-DD, got %q", in.EndDate))
		}
	}
	if r.fromDate != 0 && r.toDate != 0 && r.fromDate >= r.toDate {
		p.add(path+".end_date", "must be after start_date (end_date is exclusive)")
	}
	for i, d := range in.DayOfWeek {
		wd, ok := parseWeekday(d)
		if !ok {
			p.add(fmt.Sprintf("%s.day_of_week[%d]", path, i), fmt.Sprintf("unknown day %q (want MONDAY ... SUNDAY)", d))
			continue
		}
		r.days |= 1 << wd
		b.addWallClock(0)
	}
	r.minKWh, r.maxKWh = quantityRange(p, path, "kwh", in.MinKWh, in.MaxKWh)
	b.kwh = appendSet(b.kwh, r.minKWh, r.maxKWh)
	r.minA, r.maxA = quantityRange(p, path, "current", in.MinCurrent, in.MaxCurrent)
	r.minKW, r.maxKW = quantityRange(p, path, "power", in.MinPower, in.MaxPower)
	b.kw = appendSet(b.kw, r.minKW, r.maxKW)
	r.minDur, r.hasMinDur = seconds(p, path+".min_duration", in.MinDuration, b)
	r.maxDur, r.hasMaxDur = seconds(p, path+".max_duration", in.MaxDuration, b)
	if r.hasMaxDur && r.maxDur == 0 {
		p.add(path+".max_duration", "must be greater than 0 (max_duration is exclusive)")
	}
	if r.hasMinDur && r.hasMaxDur && r.minDur >= r.maxDur {
		p.add(path+".max_duration", "must be greater than min_duration")
	}
	switch in.Reservation {
	case "":
	case "RESERVATION":
		r.reservation = resReservation
	case "RESERVATION_EXPIRES":
		r.reservation = resExpires
	default:
		p.add(path+".reservation", fmt.Sprintf("unknown value %q (want RESERVATION or RESERVATION_EXPIRES)", in.Reservation))
	}
	return r
}

// quantityRange checks a min_X/max_X pair. A maximum of 0 or a maximum not
// above the minimum would make the element dead, which is a mistake.
func quantityRange(p *problems, path, name string, lo, hi *decimal.Decimal) (*decimal.Decimal, *decimal.Decimal) {
	okLo := lo == nil || checkAmount(p, path+".min_"+name, *lo, quantityPlaces, maxQuantity)
	okHi := hi == nil || checkAmount(p, path+".max_"+name, *hi, quantityPlaces, maxQuantity)
	if !okLo || !okHi {
		return nil, nil
	}
	if hi != nil && hi.IsZero() {
		p.add(path+".max_"+name, "must be greater than 0 (max_"+name+" is exclusive)")
	}
	if lo != nil && hi != nil && !lo.LessThan(*hi) {
		p.add(path+".max_"+name, "must be greater than min_"+name)
	}
	return lo, hi
}

func appendSet(to []decimal.Decimal, ds ...*decimal.Decimal) []decimal.Decimal {
	for _, d := range ds {
		if d != nil {
			to = append(to, *d)
		}
	}
	return to
}

func seconds(p *problems, field string, v *int64, b *boundaries) (time.Duration, bool) {
	if v == nil {
		return 0, false
	}
	if *v < 0 || *v > maxSeconds {
		p.add(field, fmt.Sprintf("must be between 0 and %d seconds, got %d", int64(maxSeconds), *v))
		return 0, false
	}
	d := time.Duration(*v) * time.Second
	b.addDuration(d)
	return d, true
}

// parseClock reads OCPI's ([0-1][0-9]|2[0-3]):[0-5][0-9] into seconds of the day.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, false
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*3600 + m*60, true
}

// parseDate reads OCPI's YYYY-MM-DD (years 1000-2999, a real calendar day)
// into yyyymmdd.
func parseDate(s string) (int, bool) {
	if len(s) != 10 || s[0] != '1' && s[0] != '2' {
		return 0, false
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, false
	}
	return dateKey(t), true
}

func dateKey(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

func parseWeekday(s string) (time.Weekday, bool) {
	switch s {
	case "MONDAY":
		return time.Monday, true
	case "TUESDAY":
		return time.Tuesday, true
	case "WEDNESDAY":
		return time.Wednesday, true
	case "THURSDAY":
		return time.Thursday, true
	case "FRIDAY":
		return time.Friday, true
	case "SATURDAY":
		return time.Saturday, true
	case "SUNDAY":
		return time.Sunday, true
	}
	return 0, false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
