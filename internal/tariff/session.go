package tariff

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// State is what the vehicle and EVSE were doing during a period; it decides
// which time dimension the period's duration is billed under.
type State uint8

const (
	// Charging: the vehicle requests power. Billed as TIME (and ENERGY).
	Charging State = iota
	// Paused: the session was paused by Joule (SuspendedEVSE); the vehicle
	// still requests power, so this is TIME, never PARKING_TIME (OCPI
	// errata, DESIGN §5).
	Paused
	// Parking: the vehicle requests no power (SuspendedEV, full). Billed as
	// PARKING_TIME.
	Parking
	// Reserved: the EVSE was reserved for the driver before the session.
	// Only elements with a reservation restriction price it.
	Reserved
)

func (s State) String() string {
	switch s {
	case Charging:
		return "CHARGING"
	case Paused:
		return "PAUSED"
	case Parking:
		return "PARKING"
	case Reserved:
		return "RESERVED"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Period is a stretch of a session in one state. It lasts until the next
// period's Start, the last one until the session's End.
type Period struct {
	Start     time.Time
	State     State
	EnergyKWh decimal.Decimal // delivered during the period
	// Optional. When MaxPowerKW is zero, the period's average power
	// (energy / duration) is used for min_power/max_power. Unknown current
	// counts as 0 A.
	MaxPowerKW  decimal.Decimal
	MaxCurrentA decimal.Decimal
}

// Session is what gets priced: a finished session, or a running one with End
// set to now (the cost so far).
type Session struct {
	Start, End time.Time
	// Periods cover [Start, End] in time order; the first starts at Start.
	// None at all means one charging period without energy.
	Periods []Period
	// Location is the time zone of the charge point; nil means UTC.
	Location *time.Location
	// ReservationExpired marks Reserved periods as a reservation that
	// expired without charging (OCPI RESERVATION_EXPIRES).
	ReservationExpired bool
}

// maxSpan bounds a session so a bad timestamp cannot make pricing walk
// centuries of days.
const maxSpan = 366 * 24 * time.Hour

func (s *Session) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// periods returns the session's periods, standing in one empty charging
// period when there are none.
func (s *Session) periods() []Period {
	if len(s.Periods) == 0 {
		return []Period{{Start: s.Start, State: Charging}}
	}
	return s.Periods
}

// check rejects a session the engine cannot price.
func (s *Session) check() error {
	p := &problems{object: "session"}
	if s.End.Before(s.Start) {
		p.add("end", fmt.Sprintf("%s is before start %s", s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339)))
		return p.err()
	}
	if s.End.Sub(s.Start) > maxSpan {
		p.add("end", fmt.Sprintf("session lasts %s, more than the %s the engine prices", s.End.Sub(s.Start), maxSpan))
		return p.err()
	}
	charged := false
	for i, pd := range s.Periods {
		f := func(name string) string { return fmt.Sprintf("periods[%d].%s", i, name) }
		switch {
		case i == 0 && !pd.Start.Equal(s.Start):
			p.add(f("start"), fmt.Sprintf("%s must equal the session start %s", pd.Start.Format(time.RFC3339), s.Start.Format(time.RFC3339)))
		case i > 0 && pd.Start.Before(s.Periods[i-1].Start):
			p.add(f("start"), "is before the previous period's start: periods must be in time order")
		case pd.Start.After(s.End):
			p.add(f("start"), fmt.Sprintf("%s is after the session end %s", pd.Start.Format(time.RFC3339), s.End.Format(time.RFC3339)))
		}
		if pd.State > Reserved {
			p.add(f("state"), "unknown state "+pd.State.String())
		}
		if pd.State == Reserved && charged {
			p.add(f("state"), "a reservation period must come before the charging session")
		}
		charged = charged || pd.State != Reserved
		switch {
		case pd.EnergyKWh.IsNegative():
			p.add(f("energy_kwh"), "must not be negative, got "+pd.EnergyKWh.String())
		case pd.State == Reserved && !pd.EnergyKWh.IsZero():
			p.add(f("energy_kwh"), "a reservation period delivers no energy")
		}
	}
	return p.err()
}
