package tariff

import (
	"time"

	"github.com/shopspring/decimal"
)

// amountPlaces is the precision kept where an amount is not a finite
// decimal: a per-hour price times a duration (1 minute at 2.00/h is
// 0.0333...). Lines are kept exact as amount x 3600, and totals are divided
// once from exact sums, so a total that is a finite decimal is exact.
const amountPlaces = 16

// Kind says why a breakdown line exists.
type Kind string

// Breakdown line kinds.
const (
	KindUsage    Kind = "usage"     // volume priced by a component
	KindGrace    Kind = "grace"     // volume inside a component's grace period: free
	KindStepSize Kind = "step_size" // round-up of the session total to the last step_size
	KindMinPrice Kind = "min_price" // raise to the tariff's min_price
	KindMaxPrice Kind = "max_price" // cut to the tariff's max_price
)

// Amount is a cost excluding and including VAT, exact.
type Amount struct {
	ExclVAT decimal.Decimal
	InclVAT decimal.Decimal
}

// Line is one line of the breakdown a driver or an accountant reads.
type Line struct {
	Dimension   Dimension // empty for min_price/max_price lines
	Kind        Kind
	Reservation bool // prices the reservation before the session
	Element     int  // index in the tariff's elements; -1 for min_price/max_price
	From, To    time.Time
	Quantity    decimal.Decimal // in Unit
	Unit        string          // "kWh", "h" or "flat"; empty for min_price/max_price
	Duration    time.Duration   // exact duration of a time line (Quantity is in hours)
	UnitPrice   decimal.Decimal // excl. VAT, per Unit
	ExclVAT     decimal.Decimal // amount before tax
	VAT         *decimal.Decimal
	VATAmount   decimal.Decimal
	InclVAT     decimal.Decimal
}

// Result is a priced session.
type Result struct {
	Currency string
	// The session's cost, exact, after min_price and max_price.
	TotalExclVAT, TotalInclVAT decimal.Decimal
	// Per dimension, before min_price/max_price; Adjustment is what those
	// added (positive) or removed (negative). Reservation holds all costs of
	// a reservation, including its FLAT fee.
	Energy, Time, Parking, Fixed, Reservation, Adjustment Amount
	// Charged is TotalInclVAT rounded once, half away from zero, to the
	// currency's minor unit; AmountMinor is the same in minor units (cents).
	Charged     decimal.Decimal
	AmountMinor int64
	// Volumes: all energy delivered, and time by state (Paused counts as
	// charging time).
	EnergyKWh                                  decimal.Decimal
	ChargingTime, ParkingTime, ReservationTime time.Duration
	Breakdown                                  []Line
}

// line is a breakdown line under construction; quantities are exact.
type line struct {
	dim       int
	kind      Kind
	reserved  bool
	element   int
	from, to  time.Time
	comp      *component
	unitPrice decimal.Decimal
	kwh       decimal.Decimal // ENERGY quantity
	dur       time.Duration   // TIME or PARKING_TIME quantity
}

// scaled returns the line's amount and VAT times 3600, both exact: every
// price is per kWh, per hour or flat, so times 3600 a time line is price x
// seconds, a finite decimal.
func (l *line) scaled() (excl, vat decimal.Decimal) {
	switch l.dim {
	case dimFlat:
		excl = l.unitPrice.Mul(decimal.NewFromInt(3600))
	case dimEnergy:
		excl = l.unitPrice.Mul(l.kwh).Mul(decimal.NewFromInt(3600))
	default:
		excl = l.unitPrice.Mul(decimal.New(int64(l.dur), -9))
	}
	vat = decimal.Zero
	if l.comp.vat != nil {
		vat = excl.Mul(*l.comp.vat).Shift(-2)
	}
	return excl, vat
}

func unscale(d decimal.Decimal) decimal.Decimal {
	return d.DivRound(decimal.NewFromInt(3600), amountPlaces)
}

func (l *line) export(excl, vat decimal.Decimal) Line {
	// Each shown amount is exact, or rounded at amountPlaces, and incl. is
	// excl. plus VAT as shown, so every line adds up on paper.
	out := Line{Kind: l.kind, Reservation: l.reserved, Element: l.element, From: l.from, To: l.to,
		UnitPrice: l.unitPrice, VAT: l.comp.vat, ExclVAT: unscale(excl), VATAmount: unscale(vat)}
	out.InclVAT = out.ExclVAT.Add(out.VATAmount)
	switch l.dim {
	case dimFlat:
		out.Dimension, out.Quantity, out.Unit = DimFlat, decimal.NewFromInt(1), "flat"
	case dimEnergy:
		out.Dimension, out.Quantity, out.Unit = DimEnergy, l.kwh, "kWh"
	default:
		out.Dimension, out.Unit, out.Duration = DimTime, "h", l.dur
		if l.dim == dimParking {
			out.Dimension = DimParkingTime
		}
		out.Quantity = decimal.NewFromInt(int64(l.dur)).DivRound(decimal.NewFromInt(int64(time.Hour)), amountPlaces)
	}
	return out
}

// result totals the lines, applies min_price/max_price and rounds the
// amount charged, once.
func (b *bill) result(end time.Time) (*Result, error) {
	r := &Result{Currency: b.c.currency, EnergyKWh: b.kwh,
		ChargingTime: b.charging, ParkingTime: b.parking, ReservationTime: b.reserved}
	type sum struct{ excl, vat decimal.Decimal }
	var fixed, energy, tm, parking, reservation, all sum
	for i := range b.lines {
		l := &b.lines[i]
		excl, vat := l.scaled()
		s := &tm
		switch {
		case l.reserved:
			s = &reservation
		case l.dim == dimFlat:
			s = &fixed
		case l.dim == dimEnergy:
			s = &energy
		case l.dim == dimParking:
			s = &parking
		}
		s.excl, s.vat = s.excl.Add(excl), s.vat.Add(vat)
		all.excl, all.vat = all.excl.Add(excl), all.vat.Add(vat)
		r.Breakdown = append(r.Breakdown, l.export(excl, vat))
	}
	amount := func(s sum) Amount {
		return Amount{ExclVAT: unscale(s.excl), InclVAT: unscale(s.excl.Add(s.vat))}
	}
	r.Fixed, r.Energy, r.Time, r.Parking, r.Reservation = amount(fixed), amount(energy), amount(tm), amount(parking), amount(reservation)
	raw := amount(all)
	var adj []Line
	r.TotalExclVAT, r.TotalInclVAT, adj = b.c.limit(raw.ExclVAT, raw.InclVAT, end)
	r.Adjustment = Amount{ExclVAT: r.TotalExclVAT.Sub(raw.ExclVAT), InclVAT: r.TotalInclVAT.Sub(raw.InclVAT)}
	r.Breakdown = append(r.Breakdown, adj...)
	var err error
	r.Charged, r.AmountMinor, err = charge(r.TotalInclVAT, b.c.minor)
	if err != nil {
		return nil, err
	}
	return r, nil
}
