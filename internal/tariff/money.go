package tariff

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// minorUnits is the number of decimal places of a currency's minor unit
// (ISO 4217), which is what payment providers charge in: cents for most,
// whole units for JPY or KRW, thousandths for KWD.
func minorUnits(currency string) int32 {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	case "CLF", "UYW":
		return 4
	}
	return 2
}

// charge is the one rounding of the engine: the total incl. VAT to the minor
// unit, half away from zero (decimal.Round's rule).
func charge(inclVAT decimal.Decimal, places int32) (decimal.Decimal, int64, error) {
	rounded := inclVAT.Round(places)
	minor := rounded.Shift(places).BigInt()
	if !minor.IsInt64() {
		return decimal.Zero, 0, fmt.Errorf("tariff: total %s does not fit in minor units", shortString(inclVAT))
	}
	return rounded, minor.Int64(), nil
}

// formatMoney writes an exact amount with at least two decimals ("5.50",
// "1.184"), never losing a digit.
func formatMoney(d decimal.Decimal) string {
	if d.Equal(d.Truncate(2)) {
		return d.StringFixed(2)
	}
	return d.String()
}
