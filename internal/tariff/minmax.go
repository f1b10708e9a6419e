package tariff

import (
	"time"

	"github.com/shopspring/decimal"
)

// limit applies min_price, then max_price, to the excl. and the incl. VAT
// totals independently (OCPI: "they both apply"), and returns the lines that
// explain any change.
//
// A side a bound does not give (OCPI's incl_vat is optional; the eDRV
// shorthand gives only incl_vat) is derived with the tariff's highest VAT
// rate. A fixed rate keeps the cost monotone: a ratio taken from the
// session itself would let a session that adds low-VAT energy pay less.
func (c *compiled) limit(excl, incl decimal.Decimal, at time.Time) (decimal.Decimal, decimal.Decimal, []Line) {
	var lines []Line
	apply := func(b bound, kind Kind, pick func(a, b decimal.Decimal) decimal.Decimal) {
		if !b.set {
			return
		}
		bExcl, bIncl := c.sides(b)
		newExcl, newIncl := pick(excl, bExcl), pick(incl, bIncl)
		if newExcl.Equal(excl) && newIncl.Equal(incl) {
			return
		}
		dExcl, dIncl := newExcl.Sub(excl), newIncl.Sub(incl)
		lines = append(lines, Line{Kind: kind, Element: -1, From: at, To: at, Quantity: decimal.NewFromInt(1),
			UnitPrice: dExcl, ExclVAT: dExcl, VATAmount: dIncl.Sub(dExcl), InclVAT: dIncl})
		excl, incl = newExcl, newIncl
	}
	apply(c.minPrice, KindMinPrice, func(a, b decimal.Decimal) decimal.Decimal { return decimal.Max(a, b) })
	apply(c.maxPrice, KindMaxPrice, func(a, b decimal.Decimal) decimal.Decimal { return decimal.Min(a, b) })
	return excl, incl, lines
}

func (c *compiled) sides(b bound) (decimal.Decimal, decimal.Decimal) {
	ratio := decimal.NewFromInt(1).Add(c.maxVAT.Shift(-2))
	switch {
	case b.excl != nil && b.incl != nil:
		return *b.excl, *b.incl
	case b.excl != nil:
		return *b.excl, b.excl.Mul(ratio)
	}
	return b.incl.DivRound(ratio, amountPlaces), *b.incl
}
