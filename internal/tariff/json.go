package tariff

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// JSON shapes: tariffs as OCPI writes them (prices as numbers), results as
// `joule price` prints them (amounts as exact decimal strings).

// jsonAmount is an Amount as OCPI writes a Price, with exact decimal strings.
type jsonAmount struct {
	ExclVAT string `json:"excl_vat"`
	InclVAT string `json:"incl_vat"`
}

func (a Amount) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonAmount{ExclVAT: formatMoney(a.ExclVAT), InclVAT: formatMoney(a.InclVAT)})
}

// MarshalJSON writes the result in the shape `joule price` prints: OCPI CDR
// totals (exact decimal strings), the amount charged and the breakdown.
// Volumes are in kWh and hours, the hours rounded to 4 places as in a CDR.
func (r Result) MarshalJSON() ([]byte, error) {
	hours := func(d time.Duration) string {
		return decimal.NewFromInt(int64(d)).DivRound(decimal.NewFromInt(int64(time.Hour)), 4).String()
	}
	lines := r.Breakdown
	if lines == nil {
		lines = []Line{}
	}
	return json.Marshal(struct {
		Currency             string `json:"currency"`
		TotalCost            Amount `json:"total_cost"`
		TotalEnergyCost      Amount `json:"total_energy_cost"`
		TotalTimeCost        Amount `json:"total_time_cost"`
		TotalParkingCost     Amount `json:"total_parking_cost"`
		TotalFixedCost       Amount `json:"total_fixed_cost"`
		TotalReservationCost Amount `json:"total_reservation_cost"`
		Adjustment           Amount `json:"min_max_price_adjustment"`
		Charged              string `json:"charged"`
		AmountMinor          int64  `json:"amount_minor"`
		TotalEnergy          string `json:"total_energy"`
		TotalTime            string `json:"total_time"`
		TotalParkingTime     string `json:"total_parking_time"`
		TotalReservationTime string `json:"total_reservation_time"`
		Breakdown            []Line `json:"breakdown"`
	}{
		Currency:             r.Currency,
		TotalCost:            Amount{ExclVAT: r.TotalExclVAT, InclVAT: r.TotalInclVAT},
		TotalEnergyCost:      r.Energy,
		TotalTimeCost:        r.Time,
		TotalParkingCost:     r.Parking,
		TotalFixedCost:       r.Fixed,
		TotalReservationCost: r.Reservation,
		Adjustment:           r.Adjustment,
		Charged:              formatMoney(r.Charged),
		AmountMinor:          r.AmountMinor,
		TotalEnergy:          r.EnergyKWh.String(),
		TotalTime:            hours(r.ChargingTime + r.ParkingTime),
		TotalParkingTime:     hours(r.ParkingTime),
		TotalReservationTime: hours(r.ReservationTime),
		Breakdown:            lines,
	})
}

func (l Line) MarshalJSON() ([]byte, error) {
	var vat, duration string
	if l.VAT != nil {
		vat = l.VAT.String()
	}
	if l.Unit == "h" {
		duration = l.Duration.String()
	}
	return json.Marshal(struct {
		Dimension   Dimension `json:"dimension,omitempty"`
		Kind        Kind      `json:"kind"`
		Reservation bool      `json:"reservation,omitempty"`
		Element     int       `json:"element"`
		From        DateTime  `json:"from"`
		To          DateTime  `json:"to"`
		Quantity    string    `json:"quantity"`
		Unit        string    `json:"unit,omitempty"`
		Duration    string    `json:"duration,omitempty"`
		UnitPrice   string    `json:"unit_price"`
		ExclVAT     string    `json:"excl_vat"`
		VAT         string    `json:"vat_percent,omitempty"`
		VATAmount   string    `json:"vat_amount"`
		InclVAT     string    `json:"incl_vat"`
	}{
		Dimension: l.Dimension, Kind: l.Kind, Reservation: l.Reservation, Element: l.Element,
		From: DateTime{l.From}, To: DateTime{l.To},
		Quantity: l.Quantity.String(), Unit: l.Unit, Duration: duration,
		UnitPrice: formatMoney(l.UnitPrice), ExclVAT: formatMoney(l.ExclVAT), VAT: vat,
		VATAmount: formatMoney(l.VATAmount), InclVAT: formatMoney(l.InclVAT),
	})
}

// number writes an exact decimal as a JSON number, as OCPI wants prices
// (decimal.Decimal alone writes a quoted string).
func number(d *decimal.Decimal) *json.Number {
	if d == nil {
		return nil
	}
	n := json.Number(d.String())
	return &n
}

func (pc PriceComponent) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type        Dimension    `json:"type"`
		Price       *json.Number `json:"price"`
		VAT         *json.Number `json:"vat,omitempty"`
		StepSize    int64        `json:"step_size"`
		GracePeriod int64        `json:"grace_period,omitempty"`
	}{pc.Type, number(&pc.Price), number(pc.VAT), pc.StepSize, pc.GracePeriod})
}

func (p PriceLimit) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ExclVAT *json.Number `json:"excl_vat,omitempty"`
		InclVAT *json.Number `json:"incl_vat,omitempty"`
	}{number(p.ExclVAT), number(p.InclVAT)})
}

func (r Restrictions) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		StartTime   string       `json:"start_time,omitempty"`
		EndTime     string       `json:"end_time,omitempty"`
		StartDate   string       `json:"start_date,omitempty"`
		EndDate     string       `json:"end_date,omitempty"`
		MinKWh      *json.Number `json:"min_kwh,omitempty"`
		MaxKWh      *json.Number `json:"max_kwh,omitempty"`
		MinCurrent  *json.Number `json:"min_current,omitempty"`
		MaxCurrent  *json.Number `json:"max_current,omitempty"`
		MinPower    *json.Number `json:"min_power,omitempty"`
		MaxPower    *json.Number `json:"max_power,omitempty"`
		MinDuration *int64       `json:"min_duration,omitempty"`
		MaxDuration *int64       `json:"max_duration,omitempty"`
		DayOfWeek   []string     `json:"day_of_week,omitempty"`
		Reservation string       `json:"reservation,omitempty"`
	}{r.StartTime, r.EndTime, r.StartDate, r.EndDate,
		number(r.MinKWh), number(r.MaxKWh), number(r.MinCurrent), number(r.MaxCurrent), number(r.MinPower), number(r.MaxPower),
		r.MinDuration, r.MaxDuration, r.DayOfWeek, r.Reservation})
}
