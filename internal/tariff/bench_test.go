package tariff

import (
	"testing"
	"time"
)

// BenchmarkPrice24h prices a 24 h session of 1-minute periods (1440 meter
// samples) against a tariff with a time-of-day split, a kWh tier, TIME and
// PARKING_TIME with step sizes, and min/max prices, in a DST time zone.
func BenchmarkPrice24h(b *testing.B) {
	tf := mustParse(b, `{"currency":"EUR","min_price":{"excl_vat":1,"incl_vat":1.21},"max_price":{"excl_vat":500},"elements":[
	 {"price_components":[{"type":"FLAT","price":0.5,"vat":21,"step_size":1}]},
	 {"price_components":[{"type":"ENERGY","price":0.20,"vat":21,"step_size":500},{"type":"TIME","price":1.2,"vat":21,"step_size":300}],
	  "restrictions":{"start_time":"23:00","end_time":"07:00"}},
	 {"price_components":[{"type":"ENERGY","price":0.30,"vat":21,"step_size":1}],"restrictions":{"min_kwh":50}},
	 {"price_components":[{"type":"ENERGY","price":0.35,"vat":21,"step_size":1},{"type":"TIME","price":2.4,"vat":21,"step_size":60},
	  {"type":"PARKING_TIME","price":6,"vat":21,"step_size":300}]}]}`)
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2024, 1, 15, 8, 0, 0, 0, time.UTC)
	s := Session{Start: start, End: start.Add(24 * time.Hour), Location: ams}
	for i := range 24 * 60 {
		p := Period{Start: start.Add(time.Duration(i) * time.Minute), EnergyKWh: dec("0.183"), MaxPowerKW: dec("11"), MaxCurrentA: dec("16")}
		if i >= 20*60 {
			p.State, p.EnergyKWh = Parking, dec("0")
		}
		s.Periods = append(s.Periods, p)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Price(tf, s); err != nil {
			b.Fatal(err)
		}
	}
}
