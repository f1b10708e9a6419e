package tariff

import (
	"testing"
	"time"
)

func TestProject(t *testing.T) {
	tf := mustParse(t, `{"currency":"EUR","elements":[{"price_components":[
	 {"type":"ENERGY","price":0.25,"step_size":1},{"type":"TIME","price":2,"step_size":900},
	 {"type":"PARKING_TIME","price":6,"step_size":300}]}]}`)
	// Charging 10:00-10:30 with 5 kWh: 1.25 + 1.00 so far.
	s := Session{Start: at("2024-01-15T10:00:00Z"), End: at("2024-01-15T10:30:00Z"),
		Periods: []Period{period(Charging, "2024-01-15T10:00:00Z", "5")}}
	wantTotals(t, mustPrice(t, tf, s), "2.25", "2.25")

	cases := []struct {
		kw, want string
	}{
		// 15 more minutes at 11 kW: charging would cost 1.9375 + 1.50 =
		// 3.4375, but parking costs 1.25 + 1.00 + 1.50 = 3.75.
		{"11", "3.75"},
		// At 50 kW charging is dearer: 4.375 + 1.50.
		{"50", "5.875"},
	}
	for _, c := range cases {
		r, err := Project(tf, s, 15*time.Minute, dec(c.kw))
		if err != nil {
			t.Fatal(err)
		}
		wantTotals(t, r, c.want, c.want)
	}

	// The projection includes min_price and the step round-up: 1 more
	// minute of charging bills the full 15-minute TIME step.
	minTariff := mustParse(t, `{"currency":"EUR","min_price":{"excl_vat":10},"elements":[{"price_components":[
	 {"type":"TIME","price":2,"step_size":900}]}]}`)
	r, err := Project(minTariff, s, time.Minute, dec("11"))
	if err != nil {
		t.Fatal(err)
	}
	wantTotals(t, r, "10", "10")
	r, err = Project(mustParse(t, `{"currency":"EUR","elements":[{"price_components":[{"type":"TIME","price":2,"step_size":900}]}]}`), s, time.Minute, dec("11"))
	if err != nil {
		t.Fatal(err)
	}
	wantTotals(t, r, "1.5", "1.5")

	// A session that has not begun: only the start fee and the interval.
	start := at("2024-01-15T10:00:00Z")
	r, err = Project(mustParse(t, `{"currency":"EUR","elements":[{"price_components":[{"type":"FLAT","price":1,"step_size":1},{"type":"ENERGY","price":0.5,"step_size":1}]}]}`),
		Session{Start: start, End: start}, 30*time.Minute, dec("22"))
	if err != nil {
		t.Fatal(err)
	}
	wantTotals(t, r, "6.5", "6.5")

	// Slower can be dearer: TIME costs 10/h below 7 kW. Charging at 22 kW
	// for an hour costs 6.60 + 1; at just under 7 kW, 2.0997 + 10.
	slow := mustParse(t, `{"currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.3,"step_size":1}]},
	 {"price_components":[{"type":"TIME","price":10,"step_size":1}],"restrictions":{"max_power":7}},
	 {"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`)
	r, err = Project(slow, Session{Start: start, End: start}, time.Hour, dec("22"))
	if err != nil {
		t.Fatal(err)
	}
	wantTotals(t, r, "12.0997", "12.0997")

	// A kWh threshold ahead: TIME costs 10/h until 30 kWh. At 50 kW the
	// 25 kWh session passes 30 kWh after 6 minutes: 7.50 + 1.90. Charging
	// just the 5 kWh to the threshold keeps the hour at 10/h: 3.00 + 10,
	// dearer than pausing (2.50 + 10).
	tier := mustParse(t, `{"currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.1,"step_size":1}]},
	 {"price_components":[{"type":"TIME","price":10,"step_size":1}],"restrictions":{"max_kwh":30}},
	 {"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`)
	sofar := Session{Start: start, End: start, Periods: []Period{{Start: start, EnergyKWh: dec("25")}}}
	r, err = Project(tier, sofar, time.Hour, dec("50"))
	if err != nil {
		t.Fatal(err)
	}
	wantTotals(t, r, "13", "13")

	if _, err := Project(tf, s, -time.Minute, dec("11")); err == nil {
		t.Error("negative interval accepted")
	}
	if _, err := Project(tf, s, time.Minute, dec("-1")); err == nil {
		t.Error("negative power accepted")
	}
}
