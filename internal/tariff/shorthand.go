package tariff

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Shorthand is the eDRV rate (spec 000/001): one price per dimension.
type Shorthand struct {
	Currency        string               `json:"currency"`
	PriceComponents []ShorthandComponent `json:"price_components"`
	// MinimumAmount is the least a session costs, in minor units (cents),
	// including VAT: it is what the driver is charged at minimum.
	MinimumAmount *int64 `json:"minimum_amount,omitempty"`
}

// ShorthandComponent prices one dimension: Price in currency units per kWh
// (ENERGY), per hour (TIME, PARKING_TIME) or once (FLAT); Tax is the VAT
// percent; StepSize as in OCPI; GracePeriod is minutes of free TIME or
// PARKING_TIME.
type ShorthandComponent struct {
	Type        Dimension       `json:"type"`
	Price       decimal.Decimal `json:"price"`
	Tax         decimal.Decimal `json:"tax"`
	StepSize    int64           `json:"step_size"`
	GracePeriod int64           `json:"grace_period"`
}

// FromShorthand maps a shorthand rate onto an OCPI tariff with a single
// element without restrictions. A grace period stays on its component (the
// Joule grace_period extension) rather than becoming an element with a
// restriction: OCPI has no restriction for "the first N minutes of
// parking", and max_duration counts from the session start, not from when
// parking begins.
func FromShorthand(s Shorthand) (*Tariff, error) {
	p := &problems{object: "shorthand"}
	if !isCurrencyCode(s.Currency) {
		p.add("currency", fmt.Sprintf("must be a 3-letter ISO 4217 code, got %q", s.Currency))
	}
	if len(s.PriceComponents) == 0 {
		p.add("price_components", "at least one price component is required")
	}
	var el Element
	seen := map[Dimension]bool{}
	for i, sc := range s.PriceComponents {
		f := fmt.Sprintf("price_components[%d]", i)
		if _, ok := dimIndex(sc.Type); !ok {
			p.add(f+".type", fmt.Sprintf("unknown type %q (want FLAT, ENERGY, TIME or PARKING_TIME)", sc.Type))
			continue
		}
		if seen[sc.Type] {
			p.add(f+".type", fmt.Sprintf("%s appears twice: one component per type", sc.Type))
			continue
		}
		seen[sc.Type] = true
		checkAmount(p, f+".price", sc.Price, pricePlaces, maxPrice)
		checkAmount(p, f+".tax", sc.Tax, pricePlaces, 100)
		if sc.StepSize < 0 || sc.StepSize > maxSeconds {
			p.add(f+".step_size", fmt.Sprintf("must be between 0 and %d, got %d", int64(maxSeconds), sc.StepSize))
		}
		switch {
		case sc.GracePeriod < 0 || sc.GracePeriod > maxGraceMin:
			p.add(f+".grace_period", fmt.Sprintf("must be between 0 and %d minutes, got %d", maxGraceMin, sc.GracePeriod))
		case sc.GracePeriod > 0 && sc.Type != DimTime && sc.Type != DimParkingTime:
			p.add(f+".grace_period", "only TIME and PARKING_TIME components can have a grace period")
		}
		vat := sc.Tax
		el.PriceComponents = append(el.PriceComponents, PriceComponent{
			Type: sc.Type, Price: sc.Price, VAT: &vat, StepSize: sc.StepSize, GracePeriod: sc.GracePeriod,
		})
	}
	t := &Tariff{Currency: s.Currency, Elements: []Element{el}}
	if s.MinimumAmount != nil {
		if *s.MinimumAmount < 0 {
			p.add("minimum_amount", fmt.Sprintf("must not be negative, got %d", *s.MinimumAmount))
		}
		incl := decimal.New(*s.MinimumAmount, -minorUnits(s.Currency))
		t.MinPrice = &PriceLimit{InclVAT: &incl}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("shorthand: %w", err)
	}
	return t, nil
}
