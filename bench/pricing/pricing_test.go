// Package pricing benchmarks the tariff engine (internal/tariff) on a
// demanding session, with a baseline measured in the same run:
//
//	go test -run '^$' -bench . -benchmem ./bench/pricing
//
// BenchmarkPrice24h prices a 24 h session of 1-minute periods (1440 meter
// samples) against a tariff with a time-of-day split, a kWh tier, TIME and
// PARKING_TIME with step sizes, and min/max prices, in a DST time zone (the
// same session as internal/tariff's BenchmarkPrice24h). BenchmarkBaseline
// does the least any exact pricing of those samples must do: the 1440
// energy amounts multiplied by one price and summed with the same decimal
// type, no tariff rules at all.
package pricing

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/joule-ev/joule/internal/tariff"
)

const tariffJSON = `{"currency":"EUR","min_price":{"excl_vat":1,"incl_vat":1.21},"max_price":{"excl_vat":500},"elements":[
 {"price_components":[{"type":"FLAT","price":0.5,"vat":21,"step_size":1}]},
 {"price_components":[{"type":"ENERGY","price":0.20,"vat":21,"step_size":500},{"type":"TIME","price":1.2,"vat":21,"step_size":300}],
  "restrictions":{"start_time":"23:00","end_time":"07:00"}},
 {"price_components":[{"type":"ENERGY","price":0.30,"vat":21,"step_size":1}],"restrictions":{"min_kwh":50}},
 {"price_components":[{"type":"ENERGY","price":0.35,"vat":21,"step_size":1},{"type":"TIME","price":2.4,"vat":21,"step_size":60},
  {"type":"PARKING_TIME","price":6,"vat":21,"step_size":300}]}]}`

func session(b *testing.B) tariff.Session {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2024, 1, 15, 8, 0, 0, 0, time.UTC)
	s := tariff.Session{Start: start, End: start.Add(24 * time.Hour), Location: ams}
	for i := range 24 * 60 {
		p := tariff.Period{Start: start.Add(time.Duration(i) * time.Minute), EnergyKWh: decimal.RequireFromString("0.183"),
			MaxPowerKW: decimal.RequireFromString("11"), MaxCurrentA: decimal.RequireFromString("16")}
		if i >= 20*60 {
			p.State, p.EnergyKWh = tariff.Parking, decimal.Zero
		}
		s.Periods = append(s.Periods, p)
	}
	return s
}

func BenchmarkPrice24h(b *testing.B) {
	tf, err := tariff.Parse([]byte(tariffJSON))
	if err != nil {
		b.Fatal(err)
	}
	s := session(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tariff.Price(tf, s); err != nil {
			b.Fatal(err)
		}
	}
}

var sink decimal.Decimal

func BenchmarkBaseline(b *testing.B) {
	s := session(b)
	price := decimal.RequireFromString("0.35")
	b.ReportAllocs()
	for b.Loop() {
		total := decimal.Zero
		for _, p := range s.Periods {
			total = total.Add(p.EnergyKWh.Mul(price))
		}
		sink = total.Round(2)
	}
}
