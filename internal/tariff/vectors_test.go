package tariff

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"
)

const vectorDir = "../../../shared/testdata/ocpi-tariffs"

type vector struct {
	name   string
	tariff []byte
	cdr    []byte
	want   struct {
		ExclVAT string `json:"expected_excl_vat"`
		InclVAT string `json:"expected_incl_vat"`
	}
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	dirs, err := os.ReadDir(vectorDir)
	if os.IsNotExist(err) {
		t.Skipf("no test vectors at %s", vectorDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []vector
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		v := vector{name: d.Name()}
		read := func(f string) []byte {
			b, err := os.ReadFile(filepath.Join(vectorDir, d.Name(), f))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		v.tariff, v.cdr = read("tariff.json"), read("cdr.json")
		if err := json.Unmarshal(read("expected.json"), &v.want); err != nil {
			t.Fatalf("%s: expected.json: %v", d.Name(), err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Skipf("no test vectors in %s", vectorDir)
	}
	return out
}

// sameAtPlaces compares got with want at the number of decimal places want
// is written with (rounding got half away from zero, as the vectors do).
func sameAtPlaces(t *testing.T, what string, got decimal.Decimal, want string) {
	t.Helper()
	w := decimal.RequireFromString(want)
	if r := got.Round(-w.Exponent()); !r.Equal(w) {
		t.Errorf("%s = %s (exact %s), want %s", what, r, got, want)
	}
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			tf, err := Parse(v.tariff)
			if err != nil {
				t.Fatal(err)
			}
			cdr, err := ParseCDR(v.cdr)
			if err != nil {
				t.Fatal(err)
			}
			r, err := PriceCDR(tf, cdr)
			if err != nil {
				t.Fatal(err)
			}
			sameAtPlaces(t, "excl_vat", r.TotalExclVAT, v.want.ExclVAT)
			sameAtPlaces(t, "incl_vat", r.TotalInclVAT, v.want.InclVAT)
			if want := r.TotalInclVAT.Round(2).Shift(2).IntPart(); r.AmountMinor != want {
				t.Errorf("amount_minor = %d, want %d", r.AmountMinor, want)
			}
			checkBreakdownAddsUp(t, r)

			// The CLI path prints the same totals.
			var out bytes.Buffer
			if err := Run(v.tariff, v.cdr, &out); err != nil {
				t.Fatal(err)
			}
			var printed struct {
				TotalCost struct {
					ExclVAT string `json:"excl_vat"`
					InclVAT string `json:"incl_vat"`
				} `json:"total_cost"`
				AmountMinor int64 `json:"amount_minor"`
			}
			if err := json.Unmarshal(out.Bytes(), &printed); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			sameAtPlaces(t, "printed excl_vat", decimal.RequireFromString(printed.TotalCost.ExclVAT), v.want.ExclVAT)
			sameAtPlaces(t, "printed incl_vat", decimal.RequireFromString(printed.TotalCost.InclVAT), v.want.InclVAT)
			if printed.AmountMinor != r.AmountMinor {
				t.Errorf("printed amount_minor = %d, want %d", printed.AmountMinor, r.AmountMinor)
			}
		})
	}
}

// checkBreakdownAddsUp: lines sum to the totals, and per-dimension amounts
// plus the min/max adjustment sum to the total.
func checkBreakdownAddsUp(t *testing.T, r *Result) {
	t.Helper()
	var excl, incl decimal.Decimal
	for _, l := range r.Breakdown {
		excl, incl = excl.Add(l.ExclVAT), incl.Add(l.InclVAT)
		if !l.ExclVAT.Add(l.VATAmount).Equal(l.InclVAT) {
			t.Errorf("line %+v: excl + vat != incl", l)
		}
	}
	tolerance := decimal.New(1, -amountPlaces+2)
	if excl.Sub(r.TotalExclVAT).Abs().GreaterThan(tolerance) || incl.Sub(r.TotalInclVAT).Abs().GreaterThan(tolerance) {
		t.Errorf("breakdown sums to %s/%s, totals are %s/%s", excl, incl, r.TotalExclVAT, r.TotalInclVAT)
	}
	dims := r.Energy.ExclVAT.Add(r.Time.ExclVAT).Add(r.Parking.ExclVAT).Add(r.Fixed.ExclVAT).Add(r.Reservation.ExclVAT).Add(r.Adjustment.ExclVAT)
	if dims.Sub(r.TotalExclVAT).Abs().GreaterThan(tolerance) {
		t.Errorf("dimensions sum to %s, total is %s", dims, r.TotalExclVAT)
	}
}
