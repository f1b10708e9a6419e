package tariff

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func mustParse(t testing.TB, js string) *Tariff {
	t.Helper()
	tf, err := Parse([]byte(js))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tf
}

func mustPrice(t testing.TB, tf *Tariff, s Session) *Result {
	t.Helper()
	r, err := Price(tf, s)
	if err != nil {
		t.Fatalf("Price: %v", err)
	}
	return r
}

// period is a shorthand for tests: state, start (RFC 3339), kWh.
func period(state State, start, kwh string) Period {
	return Period{Start: at(start), State: state, EnergyKWh: dec(kwh)}
}

func wantTotals(t *testing.T, r *Result, excl, incl string) {
	t.Helper()
	if !r.TotalExclVAT.Equal(dec(excl)) || !r.TotalInclVAT.Equal(dec(incl)) {
		t.Errorf("totals = %s / %s, want %s / %s\n%s", r.TotalExclVAT, r.TotalInclVAT, excl, incl, breakdown(r))
	}
}

func breakdown(r *Result) string {
	var s string
	for _, l := range r.Breakdown {
		s += "  " + string(l.Dimension) + " " + string(l.Kind) + " " + l.From.Format("15:04:05") + "-" + l.To.Format("15:04:05") +
			" " + l.Quantity.String() + " " + l.Unit + " x " + l.UnitPrice.String() + " = " + l.ExclVAT.String() + "\n"
	}
	return s
}

func minutes(n string) time.Duration {
	d, err := time.ParseDuration(n + "m")
	if err != nil {
		panic(err)
	}
	return d
}
