package tariff

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

const timeAndParking = `{"currency":"EUR","elements":[{"price_components":[
 {"type":"TIME","price":2,"vat":10,"step_size":1},{"type":"PARKING_TIME","price":6,"vat":20,"step_size":1}]}]}`

func TestPausedIsTimeNotParking(t *testing.T) {
	tf := mustParse(t, timeAndParking)
	s := Session{Start: at("2024-01-15T10:00:00Z"), End: at("2024-01-15T13:00:00Z"), Periods: []Period{
		period(Charging, "2024-01-15T10:00:00Z", "5"),
		period(Paused, "2024-01-15T11:00:00Z", "0"),
		period(Parking, "2024-01-15T12:00:00Z", "0")}}
	r := mustPrice(t, tf, s)
	if !r.Time.ExclVAT.Equal(dec("4")) || !r.Parking.ExclVAT.Equal(dec("6")) {
		t.Errorf("time %s parking %s, want 4 and 6", r.Time.ExclVAT, r.Parking.ExclVAT)
	}
	if r.ChargingTime != 2*time.Hour || r.ParkingTime != time.Hour {
		t.Errorf("charging %s parking %s", r.ChargingTime, r.ParkingTime)
	}
	// VAT per component: 4 x 1.10 + 6 x 1.20.
	wantTotals(t, r, "10", "11.6")
}

func TestSplitInterpolatesEnergy(t *testing.T) {
	// V20's tariff, but with one period across 17:00: 16:30-17:30, 3 kWh.
	tf := mustParse(t, `{"currency":"EUR","elements":[
	 {"price_components":[{"type":"ENERGY","price":0.2,"step_size":1}],"restrictions":{"end_time":"17:00"}},
	 {"price_components":[{"type":"ENERGY","price":0.27,"step_size":1}],"restrictions":{"start_time":"17:00"}}]}`)
	r := mustPrice(t, tf, oneCharge("2024-01-15T16:30:00Z", "2024-01-15T17:30:00Z", "3"))
	wantTotals(t, r, "0.705", "0.705") // 1.5 x 0.20 + 1.5 x 0.27
	if len(r.Breakdown) != 2 || !r.Breakdown[0].Quantity.Equal(dec("1.5")) || !r.Breakdown[0].To.Equal(at("2024-01-15T17:00:00Z")) {
		t.Errorf("want two lines split at 17:00:\n%s", breakdown(r))
	}
	// A share that is not a finite decimal keeps 9 places, and the pieces
	// still add up to the period's energy.
	r = mustPrice(t, tf, oneCharge("2024-01-15T16:40:00Z", "2024-01-15T17:40:00Z", "1"))
	if q := r.Breakdown[0].Quantity.Add(r.Breakdown[1].Quantity); !q.Equal(dec("1")) || !r.Breakdown[0].Quantity.Equal(dec("0.333333333")) {
		t.Errorf("shares %s + %s", r.Breakdown[0].Quantity, r.Breakdown[1].Quantity)
	}
}

func TestLinesMerge(t *testing.T) {
	// 120 one-minute periods on one element make one line per dimension.
	tf := mustParse(t, timeAndParking)
	start := at("2024-01-15T10:00:00Z")
	s := Session{Start: start, End: start.Add(2 * time.Hour)}
	for i := range 120 {
		s.Periods = append(s.Periods, Period{Start: start.Add(time.Duration(i) * time.Minute), EnergyKWh: dec("0.1")})
	}
	r := mustPrice(t, tf, s)
	if len(r.Breakdown) != 1 || r.Breakdown[0].Duration != 2*time.Hour {
		t.Errorf("want one TIME line of 2h:\n%s", breakdown(r))
	}
	if !r.EnergyKWh.Equal(dec("12")) {
		t.Errorf("energy %s", r.EnergyKWh)
	}
}

func TestMinPriceDerivesMissingSide(t *testing.T) {
	// OCPI min_price with excl_vat only: incl follows the tariff's highest
	// VAT rate, whatever the session cost.
	tf := mustParse(t, `{"currency":"EUR","min_price":{"excl_vat":2},"elements":[{"price_components":[
	 {"type":"ENERGY","price":0.25,"vat":20,"step_size":1}]}]}`)
	r := mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "4"))
	wantTotals(t, r, "2", "2.4")
	if len(r.Breakdown) != 2 || r.Breakdown[1].Kind != KindMinPrice || !r.Breakdown[1].ExclVAT.Equal(dec("1")) {
		t.Errorf("want a min_price line of 1.00:\n%s", breakdown(r))
	}
	r = mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "0"))
	wantTotals(t, r, "2", "2.4")
}

func TestMaxPriceEachSide(t *testing.T) {
	// Caps apply to excl. and incl. independently: with 25% VAT on energy,
	// incl. hits its cap before excl. does.
	tf := mustParse(t, `{"currency":"EUR","max_price":{"excl_vat":10,"incl_vat":11},"elements":[{"price_components":[
	 {"type":"ENERGY","price":0.25,"vat":25,"step_size":1}]}]}`)
	r := mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "36"))
	wantTotals(t, r, "9", "11")
	if !r.Adjustment.ExclVAT.IsZero() || !r.Adjustment.InclVAT.Equal(dec("-0.25")) {
		t.Errorf("adjustment %s / %s", r.Adjustment.ExclVAT, r.Adjustment.InclVAT)
	}
}

func TestRoundingOnceHalfAwayFromZero(t *testing.T) {
	// 0.125 incl. VAT charges 0.13.
	tf := mustParse(t, `{"currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.125,"step_size":1}]}]}`)
	r := mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "1"))
	if r.AmountMinor != 13 || !r.Charged.Equal(dec("0.13")) {
		t.Errorf("charged %s (%d), want 0.13", r.Charged, r.AmountMinor)
	}
	tf = mustParse(t, `{"currency":"EUR","elements":[
	 {"price_components":[{"type":"TIME","price":0.05,"step_size":1}],"restrictions":{"end_time":"10:20"}},
	 {"price_components":[{"type":"TIME","price":0.05,"step_size":1}],"restrictions":{"end_time":"10:40"}},
	 {"price_components":[{"type":"TIME","price":0.05,"step_size":1}]}]}`)
	r = mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:30:00Z", "0"))
	// 1.5 h x 0.05 = 0.075 exactly, from three lines that are not finite
	// decimals (0.01666..., 0.01666..., 0.041666...): summed exactly, then
	// rounded once.
	if !r.TotalInclVAT.Equal(dec("0.075")) || r.AmountMinor != 8 {
		t.Errorf("total %s charged %d, want exactly 0.075 and 8", r.TotalInclVAT, r.AmountMinor)
	}
}

func TestMinorUnits(t *testing.T) {
	tf := mustParse(t, `{"currency":"JPY","elements":[{"price_components":[{"type":"ENERGY","price":45.5,"vat":10,"step_size":1}]}]}`)
	r := mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "3"))
	// 136.5 x 1.1 = 150.15 yen: charged 150, in yen.
	if r.AmountMinor != 150 {
		t.Errorf("JPY amount_minor = %d, want 150", r.AmountMinor)
	}
	tf.Currency = "KWD"
	if r = mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "3")); r.AmountMinor != 150150 {
		t.Errorf("KWD amount_minor = %d, want 150150", r.AmountMinor)
	}
}

func TestTariffValidity(t *testing.T) {
	tf := mustParse(t, `{"currency":"EUR","start_date_time":"2024-01-01T00:00:00Z","end_date_time":"2024-02-01T00:00:00Z",
	 "elements":[{"price_components":[{"type":"ENERGY","price":1,"step_size":1}]}]}`)
	if _, err := Price(tf, oneCharge("2023-12-31T23:00:00Z", "2024-01-01T01:00:00Z", "1")); err == nil {
		t.Error("priced a session that started before the tariff")
	}
	if _, err := Price(tf, oneCharge("2024-02-01T00:00:00Z", "2024-02-01T01:00:00Z", "1")); err == nil {
		t.Error("priced a session that started after the tariff")
	}
	// Started while valid: the tariff applies to the whole session.
	mustPrice(t, tf, oneCharge("2024-01-31T23:00:00Z", "2024-02-01T01:00:00Z", "1"))
}

func TestSessionRejects(t *testing.T) {
	tf := mustParse(t, timeAndParking)
	start := at("2024-01-15T10:00:00Z")
	cases := []struct {
		name  string
		s     Session
		field string
	}{
		{"end before start", Session{Start: start, End: start.Add(-time.Second)}, "end"},
		{"too long", Session{Start: start, End: start.Add(400 * 24 * time.Hour)}, "end"},
		{"first period late", Session{Start: start, End: start.Add(time.Hour), Periods: []Period{{Start: start.Add(time.Minute)}}}, "periods[0].start"},
		{"out of order", Session{Start: start, End: start.Add(time.Hour), Periods: []Period{{Start: start}, {Start: start.Add(2 * time.Minute)}, {Start: start.Add(time.Minute)}}}, "periods[2].start"},
		{"after end", Session{Start: start, End: start.Add(time.Hour), Periods: []Period{{Start: start}, {Start: start.Add(2 * time.Hour)}}}, "periods[1].start"},
		{"negative energy", Session{Start: start, End: start.Add(time.Hour), Periods: []Period{{Start: start, EnergyKWh: dec("-1")}}}, "periods[0].energy_kwh"},
		{"bad state", Session{Start: start, End: start.Add(time.Hour), Periods: []Period{{Start: start, State: 9}}}, "periods[0].state"},
		{"energy while reserved", Session{Start: start, End: start.Add(time.Hour), Periods: []Period{{Start: start, State: Reserved, EnergyKWh: dec("1")}}}, "periods[0].energy_kwh"},
		{"reservation after charging", Session{Start: start, End: start.Add(time.Hour), Periods: []Period{{Start: start}, {Start: start.Add(time.Minute), State: Reserved}}}, "periods[1].state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Price(tf, c.s)
			if !hasField(err, c.field) {
				t.Errorf("error %v does not name %s", err, c.field)
			}
		})
	}
}

func TestLiveCostSoFar(t *testing.T) {
	// A running session: End is now, no periods yet means the start fee.
	tf := mustParse(t, `{"currency":"EUR","elements":[{"price_components":[
	 {"type":"FLAT","price":0.5,"vat":20,"step_size":1},{"type":"ENERGY","price":0.25,"vat":10,"step_size":1}]}]}`)
	now := at("2024-01-15T10:00:00Z")
	wantTotals(t, mustPrice(t, tf, Session{Start: now, End: now}), "0.5", "0.6")
	s := Session{Start: now, End: now.Add(30 * time.Minute), Periods: []Period{period(Charging, "2024-01-15T10:00:00Z", "5.5")}}
	wantTotals(t, mustPrice(t, tf, s), "1.875", "2.1125")
}

func TestCDRSession(t *testing.T) {
	cdr, err := ParseCDR([]byte(`{"id":"c","currency":"EUR","start_date_time":"2024-01-15T09:55:00Z","end_date_time":"2024-01-15T12:00:00Z",
	 "cdr_location":{"time_zone":"Europe/Amsterdam"},
	 "charging_periods":[
	  {"start_date_time":"2024-01-15T10:00:00Z","dimensions":[{"type":"ENERGY","volume":10},{"type":"MAX_POWER","volume":11},{"type":"CURRENT","volume":16},{"type":"TIME","volume":0.5},{"type":"PARKING_TIME","volume":0.5}]},
	  {"start_date_time":"2024-01-15T11:00:00Z","dimensions":[{"type":"PARKING_TIME","volume":1}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cdr.Session()
	if err != nil {
		t.Fatal(err)
	}
	if s.Location.String() != "Europe/Amsterdam" || !s.Start.Equal(at("2024-01-15T10:00:00Z")) || s.ReservationExpired {
		t.Errorf("session %+v", s)
	}
	want := []Period{
		{Start: at("2024-01-15T10:00:00Z"), State: Charging, EnergyKWh: dec("10"), MaxPowerKW: dec("11"), MaxCurrentA: dec("16")},
		{Start: at("2024-01-15T10:30:00Z"), State: Parking, MaxCurrentA: dec("16")},
		{Start: at("2024-01-15T11:00:00Z"), State: Parking},
	}
	if len(s.Periods) != len(want) {
		t.Fatalf("periods %+v", s.Periods)
	}
	for i, p := range s.Periods {
		w := want[i]
		if !p.Start.Equal(w.Start) || p.State != w.State || !p.EnergyKWh.Equal(w.EnergyKWh) || !p.MaxPowerKW.Equal(w.MaxPowerKW) || !p.MaxCurrentA.Equal(w.MaxCurrentA) {
			t.Errorf("period %d = %+v, want %+v", i, p, w)
		}
	}
	tf := mustParse(t, timeAndParking)
	r, err := PriceCDR(tf, cdr)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals(t, r, "10", "11.9") // 0.5 h x 2 + 1.5 h x 6

	tf.Currency = "USD"
	if _, err := PriceCDR(tf, cdr); err == nil {
		t.Error("priced a EUR CDR with a USD tariff")
	}
	if _, err := ParseCDR([]byte(`{"currency":"EUR","charging_periods":[]}`)); !hasField(err, "start_date_time") || !hasField(err, "charging_periods") {
		t.Errorf("ParseCDR of an empty CDR: %v", err)
	}
}

func TestResultJSON(t *testing.T) {
	tf := mustParse(t, timeAndParking)
	r := mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T10:01:00Z", "0"))
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		TotalCost   map[string]string `json:"total_cost"`
		Charged     string            `json:"charged"`
		AmountMinor int64             `json:"amount_minor"`
		Breakdown   []map[string]any  `json:"breakdown"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	// One minute at 2/h: 0.0333...; +10% VAT.
	if got.TotalCost["excl_vat"] != "0.0333333333333333" || got.Charged != "0.04" || got.AmountMinor != 4 {
		t.Errorf("json %s", b)
	}
	l := got.Breakdown[0]
	if l["dimension"] != "TIME" || l["unit"] != "h" || l["duration"] != "1m0s" || l["unit_price"] != "2.00" || l["vat_percent"] != "10" {
		t.Errorf("line %v", l)
	}
	if b, _ := json.Marshal(Amount{ExclVAT: decimal.NewFromInt(5), InclVAT: dec("5.5")}); string(b) != `{"excl_vat":"5.00","incl_vat":"5.50"}` {
		t.Errorf("amount json %s", b)
	}
}
