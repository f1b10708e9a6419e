package tariff

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// Bounds that keep every computation small and exact. Prices carry at most 4
// decimal places (DESIGN §4); quantities in restrictions at most 6.
const (
	pricePlaces    = 4
	quantityPlaces = 6
	maxPrice       = 1_000_000     // per unit, in currency units
	maxQuantity    = 1_000_000_000 // kWh, kW, A in restrictions
	maxSeconds     = 1_000_000_000 // step sizes, durations (about 31 years)
	maxGraceMin    = 1_000_000     // grace periods, minutes
)

// Index of each dimension in an element's component table.
const (
	dimFlat = iota
	dimEnergy
	dimTime
	dimParking
	numDims
)

func dimIndex(d Dimension) (int, bool) {
	switch d {
	case DimFlat:
		return dimFlat, true
	case DimEnergy:
		return dimEnergy, true
	case DimTime:
		return dimTime, true
	case DimParkingTime:
		return dimParking, true
	}
	return 0, false
}

// compiled is a validated tariff in the form the engine evaluates.
type compiled struct {
	currency   string
	minor      int32 // decimal places of the currency's minor unit
	elements   []element
	minPrice   bound
	maxPrice   bound
	maxVAT     decimal.Decimal // highest VAT percent of any component
	validFrom  time.Time       // zero: no start_date_time
	validUntil time.Time       // zero: no end_date_time
	grace      bool            // some component has a grace period

	// Where an element can switch on or off, for splitting periods.
	wallClock []int           // seconds of the local day
	durations []time.Duration // since the session clock started
	kwh       []decimal.Decimal
	kw        []decimal.Decimal // power bounds, for projections
}

// bound is a min_price or max_price; a nil side is derived when pricing.
type bound struct {
	set        bool
	excl, incl *decimal.Decimal
}

type element struct {
	index int
	when  restriction
	comp  [numDims]*component
}

type component struct {
	price decimal.Decimal
	vat   *decimal.Decimal // nil: no VAT applies
	step  int64            // Wh for ENERGY, seconds for time; 0: no rounding
	grace time.Duration
}

// Validate reports every reason the engine could not price with t, each as
// a *FieldError naming the field.
func (t *Tariff) Validate() error {
	_, err := compile(t)
	return err
}

// compile validates t and builds its evaluable form in one pass, so Price
// can never run on a tariff that Validate would reject.
func compile(t *Tariff) (*compiled, error) {
	p := &problems{object: "tariff"}
	c := &compiled{currency: t.Currency, minor: minorUnits(t.Currency), maxVAT: decimal.Zero}
	if !isCurrencyCode(t.Currency) {
		p.add("currency", fmt.Sprintf("must be a 3-letter ISO 4217 code, got %q", t.Currency))
	}
	switch t.Type {
	case "", "AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR":
	default:
		p.add("type", fmt.Sprintf("unknown tariff type %q", t.Type))
	}
	c.minPrice = checkPrice(p, "min_price", t.MinPrice)
	c.maxPrice = checkPrice(p, "max_price", t.MaxPrice)
	checkMinMax(p, c.minPrice, c.maxPrice)
	if t.StartDateTime != nil {
		c.validFrom = t.StartDateTime.Time
	}
	if t.EndDateTime != nil {
		c.validUntil = t.EndDateTime.Time
		if t.StartDateTime != nil && !c.validUntil.After(c.validFrom) {
			p.add("end_date_time", "must be after start_date_time")
		}
	}
	if len(t.Elements) == 0 {
		p.add("elements", "at least one element is required")
	}
	b := boundaries{}
	for i, e := range t.Elements {
		c.elements = append(c.elements, compileElement(p, c, &b, i, e))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	c.wallClock, c.durations, c.kwh, c.kw = b.sorted()
	return c, nil
}

func compileElement(p *problems, c *compiled, b *boundaries, i int, e Element) element {
	path := fmt.Sprintf("elements[%d]", i)
	el := element{index: i}
	if e.Restrictions != nil {
		el.when = compileRestrictions(p, path+".restrictions", e.Restrictions, b)
	}
	if len(e.PriceComponents) == 0 {
		p.add(path+".price_components", "at least one price component is required")
	}
	for j, pc := range e.PriceComponents {
		cp := fmt.Sprintf("%s.price_components[%d]", path, j)
		d, ok := dimIndex(pc.Type)
		if !ok {
			if pc.Type == "" {
				p.add(cp+".type", "required")
			} else {
				p.add(cp+".type", fmt.Sprintf("unknown dimension %q (want FLAT, ENERGY, TIME or PARKING_TIME)", pc.Type))
			}
			continue
		}
		if el.comp[d] != nil {
			p.add(cp+".type", fmt.Sprintf("second %s component in one element: only one per dimension can apply", pc.Type))
			continue
		}
		if el.when.reservation != resNone && (d == dimEnergy || d == dimParking) {
			p.add(cp+".type", fmt.Sprintf("a reservation element can only have FLAT and TIME components, not %s", pc.Type))
		}
		checkAmount(p, cp+".price", pc.Price, pricePlaces, maxPrice)
		comp := &component{price: pc.Price, vat: pc.VAT, step: pc.StepSize}
		if pc.VAT != nil {
			checkAmount(p, cp+".vat", *pc.VAT, pricePlaces, 100)
			c.maxVAT = decimal.Max(c.maxVAT, *pc.VAT)
		}
		if pc.StepSize < 0 || pc.StepSize > maxSeconds {
			p.add(cp+".step_size", fmt.Sprintf("must be between 0 and %d, got %d", int64(maxSeconds), pc.StepSize))
		}
		if pc.GracePeriod != 0 {
			switch {
			case d != dimTime && d != dimParking:
				p.add(cp+".grace_period", "only TIME and PARKING_TIME components can have a grace period")
			case pc.GracePeriod < 0 || pc.GracePeriod > maxGraceMin:
				p.add(cp+".grace_period", fmt.Sprintf("must be between 0 and %d minutes, got %d", maxGraceMin, pc.GracePeriod))
			default:
				comp.grace = time.Duration(pc.GracePeriod) * time.Minute
				c.grace = true
			}
		}
		el.comp[d] = comp
	}
	return el
}

func checkPrice(p *problems, field string, pr *PriceLimit) bound {
	if pr == nil {
		return bound{}
	}
	if pr.ExclVAT == nil && pr.InclVAT == nil {
		p.add(field, "needs excl_vat, incl_vat or both")
	}
	if pr.ExclVAT != nil {
		checkAmount(p, field+".excl_vat", *pr.ExclVAT, pricePlaces, maxPrice*1000)
	}
	if pr.InclVAT != nil {
		checkAmount(p, field+".incl_vat", *pr.InclVAT, pricePlaces, maxPrice*1000)
	}
	if pr.ExclVAT != nil && pr.InclVAT != nil && pr.InclVAT.LessThan(*pr.ExclVAT) {
		p.add(field+".incl_vat", "must not be less than excl_vat")
	}
	return bound{set: true, excl: pr.ExclVAT, incl: pr.InclVAT}
}

func checkMinMax(p *problems, lo, hi bound) {
	if lo.excl != nil && hi.excl != nil && lo.excl.GreaterThan(*hi.excl) {
		p.add("min_price.excl_vat", "must not exceed max_price.excl_vat")
	}
	if lo.incl != nil && hi.incl != nil && lo.incl.GreaterThan(*hi.incl) {
		p.add("min_price.incl_vat", "must not exceed max_price.incl_vat")
	}
}

// checkAmount rejects negative, too precise and absurdly large numbers. The
// exponent is looked at before any arithmetic, so a hostile exponent cannot
// make validation (or later pricing) slow.
func checkAmount(p *problems, field string, d decimal.Decimal, places int32, limit int64) bool {
	switch {
	case d.IsNegative():
		p.add(field, "must not be negative, got "+d.String())
	case d.Exponent() < -64 || !d.Equal(d.Truncate(places)):
		p.add(field, fmt.Sprintf("at most %d decimal places allowed, got %s", places, shortString(d)))
	case d.Exponent() > 18 || d.GreaterThan(decimal.NewFromInt(limit)):
		p.add(field, fmt.Sprintf("must not exceed %d, got %s", limit, shortString(d)))
	default:
		return true
	}
	return false
}

// shortString keeps error messages small for values with huge exponents.
func shortString(d decimal.Decimal) string {
	if d.Exponent() < -64 || d.Exponent() > 64 {
		return d.Coefficient().String() + "e" + fmt.Sprint(d.Exponent())
	}
	return d.String()
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// requirePresent reports required OCPI fields that are absent (or null), which
// decoding alone cannot tell from zero values. (min_price/max_price may lack
// excl_vat: tariffs made from the shorthand only have incl_vat, and the
// engine derives the other side.)
func requirePresent(data []byte) error {
	type component struct {
		Price    *json.RawMessage `json:"price"`
		StepSize *json.RawMessage `json:"step_size"`
	}
	var doc struct {
		Elements []struct {
			PriceComponents []component `json:"price_components"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("tariff: decode: %w", err)
	}
	p := &problems{object: "tariff"}
	for i, e := range doc.Elements {
		for j, pc := range e.PriceComponents {
			path := fmt.Sprintf("elements[%d].price_components[%d]", i, j)
			if pc.Price == nil {
				p.add(path+".price", "required")
			}
			if pc.StepSize == nil {
				p.add(path+".step_size", "required")
			}
		}
	}
	return p.err()
}

// boundaries gathers the values at which restrictions change.
type boundaries struct {
	wallClock map[int]bool
	durations map[time.Duration]bool
	kwh, kw   []decimal.Decimal
}

func (b *boundaries) addWallClock(sec int) {
	if b.wallClock == nil {
		b.wallClock = map[int]bool{0: true} // open-ended time and date ranges change at midnight
	}
	b.wallClock[sec%86400] = true
}

func (b *boundaries) addDuration(d time.Duration) {
	if b.durations == nil {
		b.durations = map[time.Duration]bool{}
	}
	b.durations[d] = true
}

func (b *boundaries) sorted() ([]int, []time.Duration, []decimal.Decimal, []decimal.Decimal) {
	var wc []int
	for s := range b.wallClock {
		wc = append(wc, s)
	}
	sort.Ints(wc)
	var ds []time.Duration
	for d := range b.durations {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return wc, ds, sortedUnique(b.kwh), sortedUnique(b.kw)
}

func sortedUnique(ds []decimal.Decimal) []decimal.Decimal {
	sort.Slice(ds, func(i, j int) bool { return ds[i].LessThan(ds[j]) })
	out := ds[:0]
	for i, d := range ds {
		if i == 0 || !d.Equal(out[len(out)-1]) {
			out = append(out, d)
		}
	}
	return out
}
