// Package tariff is Joule's pricing engine: it prices a charging session
// against an OCPI 2.2.1 tariff (with the release-2.2.1-bugfixes errata) using
// exact decimals, and explains the price line by line.
//
// The package is pure: no I/O beyond the io.Writer handed to Run, no clock,
// no package state. docs/pricing.md describes the rules it implements.
package tariff

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Dimension is what a price component prices (OCPI TariffDimensionType).
type Dimension string

// The four OCPI tariff dimensions.
const (
	DimFlat        Dimension = "FLAT"         // once per session
	DimEnergy      Dimension = "ENERGY"       // per kWh
	DimTime        Dimension = "TIME"         // per hour while charging (or paused)
	DimParkingTime Dimension = "PARKING_TIME" // per hour while the vehicle requests no power
)

// Tariff is an OCPI 2.2.1 Tariff object.
type Tariff struct {
	CountryCode   string          `json:"country_code,omitempty"`
	PartyID       string          `json:"party_id,omitempty"`
	ID            string          `json:"id,omitempty"`
	Currency      string          `json:"currency"`
	Type          string          `json:"type,omitempty"`
	TariffAltText []DisplayText   `json:"tariff_alt_text,omitempty"`
	TariffAltURL  string          `json:"tariff_alt_url,omitempty"`
	MinPrice      *PriceLimit     `json:"min_price,omitempty"`
	MaxPrice      *PriceLimit     `json:"max_price,omitempty"`
	Elements      []Element       `json:"elements"`
	StartDateTime *DateTime       `json:"start_date_time,omitempty"`
	EndDateTime   *DateTime       `json:"end_date_time,omitempty"`
	EnergyMix     json.RawMessage `json:"energy_mix,omitempty"`
	LastUpdated   *DateTime       `json:"last_updated,omitempty"`
}

// DisplayText is an OCPI multi-language text.
type DisplayText struct {
	Language string `json:"language"`
	Text     string `json:"text"`
}

// PriceLimit is an OCPI Price as used by min_price and max_price. OCPI
// requires excl_vat, but a tariff made from the eDRV shorthand sets only
// incl_vat, so either side may be missing; it is derived when pricing (see
// docs/pricing.md).
type PriceLimit struct {
	ExclVAT *decimal.Decimal `json:"excl_vat,omitempty"`
	InclVAT *decimal.Decimal `json:"incl_vat,omitempty"`
}

// Element is an OCPI TariffElement: price components sharing restrictions.
type Element struct {
	PriceComponents []PriceComponent `json:"price_components"`
	Restrictions    *Restrictions    `json:"restrictions,omitempty"`
}

// PriceComponent is an OCPI PriceComponent. GracePeriod is a Joule extension
// carried over from the eDRV shorthand: the first GracePeriod minutes this
// TIME or PARKING_TIME component would bill are free.
type PriceComponent struct {
	Type        Dimension        `json:"type"`
	Price       decimal.Decimal  `json:"price"`
	VAT         *decimal.Decimal `json:"vat,omitempty"`
	StepSize    int64            `json:"step_size"`
	GracePeriod int64            `json:"grace_period,omitempty"`
}

// Restrictions is an OCPI TariffRestrictions object. Pointers mark optional
// numbers, since zero is a meaningful value for them.
type Restrictions struct {
	StartTime   string           `json:"start_time,omitempty"`
	EndTime     string           `json:"end_time,omitempty"`
	StartDate   string           `json:"start_date,omitempty"`
	EndDate     string           `json:"end_date,omitempty"`
	MinKWh      *decimal.Decimal `json:"min_kwh,omitempty"`
	MaxKWh      *decimal.Decimal `json:"max_kwh,omitempty"`
	MinCurrent  *decimal.Decimal `json:"min_current,omitempty"`
	MaxCurrent  *decimal.Decimal `json:"max_current,omitempty"`
	MinPower    *decimal.Decimal `json:"min_power,omitempty"`
	MaxPower    *decimal.Decimal `json:"max_power,omitempty"`
	MinDuration *int64           `json:"min_duration,omitempty"`
	MaxDuration *int64           `json:"max_duration,omitempty"`
	DayOfWeek   []string         `json:"day_of_week,omitempty"`
	Reservation string           `json:"reservation,omitempty"`
}

// DateTime is an OCPI DateTime: RFC 3339 in UTC, where a missing zone
// designator means UTC.
type DateTime struct{ time.Time }

// UnmarshalJSON accepts RFC 3339 with or without a zone designator.
func (d *DateTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date-time must be a string: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var err2 error
		if t, err2 = time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err2 != nil {
			return fmt.Errorf("date-time %q is not RFC 3339: %w", s, err)
		}
	}
	d.Time = t
	return nil
}

// MarshalJSON writes the time in UTC, RFC 3339.
func (d DateTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.UTC().Format(time.RFC3339Nano))
}

// Parse decodes an OCPI 2.2.1 tariff and validates it. Unknown fields are
// ignored, as OCPI asks of receivers.
func Parse(data []byte) (*Tariff, error) {
	var t Tariff
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("tariff: decode: %w", err)
	}
	if err := requirePresent(data); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// HasParkingTime reports whether any element prices PARKING_TIME. Such a
// session may only be ended by the driver unplugging (DESIGN §5).
func (t *Tariff) HasParkingTime() bool {
	for _, e := range t.Elements {
		for _, pc := range e.PriceComponents {
			if pc.Type == DimParkingTime {
				return true
			}
		}
	}
	return false
}
