package tariff

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"
)

// CDR is the part of an OCPI 2.2.1 CDR that pricing reads.
type CDR struct {
	ID              string      `json:"id"`
	Currency        string      `json:"currency"`
	StartDateTime   *DateTime   `json:"start_date_time"`
	EndDateTime     *DateTime   `json:"end_date_time"`
	CDRLocation     CDRLocation `json:"cdr_location"`
	ChargingPeriods []CDRPeriod `json:"charging_periods"`
}

// CDRLocation carries the charge point's time zone. time_zone is not an
// OCPI CdrLocation field (it is on the Location); Joule reads it when a CDR
// has it and otherwise evaluates restrictions in UTC.
type CDRLocation struct {
	TimeZone string `json:"time_zone,omitempty"`
}

// CDRPeriod is an OCPI ChargingPeriod.
type CDRPeriod struct {
	StartDateTime *DateTime      `json:"start_date_time"`
	Dimensions    []CDRDimension `json:"dimensions"`
	TariffID      string         `json:"tariff_id,omitempty"`
}

// CDRDimension is an OCPI CdrDimension.
type CDRDimension struct {
	Type   string          `json:"type"`
	Volume decimal.Decimal `json:"volume"`
}

// ParseCDR decodes an OCPI 2.2.1 CDR.
func ParseCDR(data []byte) (*CDR, error) {
	var c CDR
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("cdr: decode: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// check rejects a CDR without the timestamps pricing needs.
func (c *CDR) check() error {
	p := &problems{object: "cdr"}
	if c.StartDateTime == nil {
		p.add("start_date_time", "required")
	}
	if c.EndDateTime == nil {
		p.add("end_date_time", "required")
	}
	if len(c.ChargingPeriods) == 0 {
		p.add("charging_periods", "at least one charging period is required")
	}
	for i, cp := range c.ChargingPeriods {
		if cp.StartDateTime == nil {
			p.add(fmt.Sprintf("charging_periods[%d].start_date_time", i), "required")
		}
	}
	return p.err()
}

// Session turns the CDR into a session to price. Period durations come from
// consecutive start_date_time values and the CDR's end_date_time, never from
// the (rounded) TIME volumes. A period's state comes from its dimensions:
// RESERVATION_TIME is a reservation, PARKING_TIME alone is parking, anything
// else is charging; a period with both TIME and PARKING_TIME is split in the
// proportion of those volumes, charging first. A CDR made only of
// reservation periods is a reservation that expired.
func (c *CDR) Session() (Session, error) {
	if err := c.check(); err != nil {
		return Session{}, err
	}
	s := Session{Start: c.StartDateTime.Time, End: c.EndDateTime.Time, Location: time.UTC}
	if c.CDRLocation.TimeZone != "" {
		loc, err := time.LoadLocation(c.CDRLocation.TimeZone)
		if err != nil {
			return Session{}, fmt.Errorf("cdr: cdr_location.time_zone: %w", err)
		}
		s.Location = loc
	}
	// The time before the first period carries nothing to bill.
	if first := c.ChargingPeriods[0].StartDateTime.Time; first.After(s.Start) {
		s.Start = first
	}
	s.ReservationExpired = true
	for i, cp := range c.ChargingPeriods {
		end := s.End
		if i+1 < len(c.ChargingPeriods) {
			end = c.ChargingPeriods[i+1].StartDateTime.Time
		}
		v := volumes(cp.Dimensions)
		p := Period{Start: cp.StartDateTime.Time, State: Charging, EnergyKWh: v.energy, MaxPowerKW: v.kw, MaxCurrentA: v.amps}
		switch {
		case v.reservation.IsPositive():
			p.State = Reserved
		case v.parking.IsPositive() && v.time.IsPositive() && end.After(p.Start):
			// Charging first, then parking, split by the volumes' ratio.
			share := v.time.Mul(decimal.NewFromInt(int64(end.Sub(p.Start)))).Div(v.time.Add(v.parking))
			s.Periods = append(s.Periods, p)
			p = Period{Start: p.Start.Add(time.Duration(share.IntPart())), State: Parking, MaxCurrentA: v.amps}
		case v.parking.IsPositive():
			p.State = Parking
		}
		if p.State != Reserved {
			s.ReservationExpired = false
		}
		s.Periods = append(s.Periods, p)
	}
	return s, nil
}

type cdrVolumes struct {
	energy, time, parking, reservation, kw, amps decimal.Decimal
}

// volumes reads the dimensions pricing needs. ENERGY_IMPORT stands in for
// a missing ENERGY; average POWER/CURRENT for a missing maximum.
func volumes(dims []CDRDimension) cdrVolumes {
	var v cdrVolumes
	var energyImport, power, current decimal.Decimal
	for _, d := range dims {
		switch d.Type {
		case "ENERGY":
			v.energy = d.Volume
		case "ENERGY_IMPORT":
			energyImport = d.Volume
		case "TIME":
			v.time = d.Volume
		case "PARKING_TIME":
			v.parking = d.Volume
		case "RESERVATION_TIME":
			v.reservation = d.Volume
		case "MAX_POWER":
			v.kw = d.Volume
		case "POWER":
			power = d.Volume
		case "MAX_CURRENT":
			v.amps = d.Volume
		case "CURRENT":
			current = d.Volume
		}
	}
	if v.energy.IsZero() {
		v.energy = energyImport
	}
	if v.kw.IsZero() {
		v.kw = power
	}
	if v.amps.IsZero() {
		v.amps = current
	}
	return v
}

// PriceCDR prices an OCPI CDR against an OCPI tariff.
func PriceCDR(t *Tariff, c *CDR) (*Result, error) {
	if c.Currency != "" && c.Currency != t.Currency {
		return nil, fmt.Errorf("cdr: currency %s does not match the tariff's %s", c.Currency, t.Currency)
	}
	s, err := c.Session()
	if err != nil {
		return nil, err
	}
	return Price(t, s)
}

// Run prices an OCPI CDR (JSON) against an OCPI tariff (JSON) and writes the
// result as indented JSON: what `joule price` prints.
func Run(tariffJSON, cdrJSON []byte, w io.Writer) error {
	t, err := Parse(tariffJSON)
	if err != nil {
		return err
	}
	c, err := ParseCDR(cdrJSON)
	if err != nil {
		return err
	}
	r, err := PriceCDR(t, c)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
