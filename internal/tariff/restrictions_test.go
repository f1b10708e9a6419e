package tariff

import (
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the host's zoneinfo
)

// twoPrices is a tariff with one restricted TIME or ENERGY price and a
// default after it, so the cost says how long (or how much) the restricted
// element applied.
func twoPrices(t *testing.T, dim, restricted, restrictions, fallback string) *Tariff {
	t.Helper()
	return mustParse(t, `{"currency":"EUR","elements":[
	 {"price_components":[{"type":"`+dim+`","price":`+restricted+`,"step_size":1}],"restrictions":`+restrictions+`},
	 {"price_components":[{"type":"`+dim+`","price":`+fallback+`,"step_size":1}]}]}`)
}

func oneCharge(start, end string, kwh string) Session {
	return Session{Start: at(start), End: at(end), Periods: []Period{period(Charging, start, kwh)}}
}

func TestTimeOfDay(t *testing.T) {
	cases := []struct {
		name, restrictions string
		start, end         string
		want               string // TIME at 10/h restricted, 1/h otherwise
	}{
		{"inside", `{"start_time":"09:00","end_time":"17:00"}`, "2024-01-15T10:00:00Z", "2024-01-15T12:00:00Z", "20"},
		{"crosses end", `{"start_time":"09:00","end_time":"17:00"}`, "2024-01-15T16:00:00Z", "2024-01-15T18:00:00Z", "11"},
		{"crosses start", `{"start_time":"09:00","end_time":"17:00"}`, "2024-01-15T08:30:00Z", "2024-01-15T09:30:00Z", "5.5"},
		{"start inclusive", `{"start_time":"09:00"}`, "2024-01-15T09:00:00Z", "2024-01-15T10:00:00Z", "10"},
		{"end exclusive", `{"end_time":"09:00"}`, "2024-01-15T09:00:00Z", "2024-01-15T10:00:00Z", "1"},
		{"start only runs to midnight", `{"start_time":"23:00"}`, "2024-01-15T22:00:00Z", "2024-01-16T01:00:00Z", "12"},
		{"end only starts at midnight", `{"end_time":"01:00"}`, "2024-01-15T23:00:00Z", "2024-01-16T02:00:00Z", "12"},
		{"end 00:00 is end of day", `{"start_time":"22:00","end_time":"00:00"}`, "2024-01-15T21:00:00Z", "2024-01-16T01:00:00Z", "22"},
		{"wraps past midnight", `{"start_time":"22:00","end_time":"06:00"}`, "2024-01-15T21:00:00Z", "2024-01-16T07:00:00Z", "82"},
		{"wrap, morning part only", `{"start_time":"22:00","end_time":"06:00"}`, "2024-01-16T05:00:00Z", "2024-01-16T07:00:00Z", "11"},
		{"equal start and end: all day", `{"start_time":"10:00","end_time":"10:00"}`, "2024-01-15T09:00:00Z", "2024-01-15T11:00:00Z", "20"},
		{"over several days", `{"start_time":"12:00","end_time":"13:00"}`, "2024-01-15T00:00:00Z", "2024-01-18T00:00:00Z", "99"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tf := twoPrices(t, "TIME", "10", c.restrictions, "1")
			r := mustPrice(t, tf, oneCharge(c.start, c.end, "0"))
			wantTotals(t, r, c.want, c.want)
		})
	}
}

func TestTimeZone(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	tf := twoPrices(t, "TIME", "10", `{"start_time":"22:00","end_time":"06:00"}`, "1")
	// 21:00Z-05:00Z in January is 22:00-06:00 in Amsterdam: all night price.
	s := oneCharge("2024-01-15T21:00:00Z", "2024-01-16T05:00:00Z", "0")
	wantTotals(t, mustPrice(t, tf, s), "71", "71") // UTC: 21-22 day, 22-05 night
	s.Location = ams
	wantTotals(t, mustPrice(t, tf, s), "80", "80")

	// A nil location is UTC.
	s.Location = nil
	wantTotals(t, mustPrice(t, tf, s), "71", "71")
}

func TestDaylightSavingTime(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	// 2024-03-31: 02:00 CET jumps to 03:00 CEST at 01:00Z. [02:30, 04:00)
	// local is then 01:00Z-02:00Z: the wall clock never reads 02:30, yet the
	// element applies from the jump.
	tf := twoPrices(t, "TIME", "10", `{"start_time":"02:30","end_time":"04:00"}`, "1")
	s := oneCharge("2024-03-31T00:00:00Z", "2024-03-31T03:00:00Z", "0")
	s.Location = ams
	wantTotals(t, mustPrice(t, tf, s), "12", "12")

	// 2024-10-27: 03:00 CEST falls back to 02:00 CET at 01:00Z. The wall
	// clock reads 02:30-03:00 twice: 00:30Z-01:00Z and 01:30Z-02:00Z.
	tf = twoPrices(t, "TIME", "10", `{"start_time":"02:30","end_time":"03:00"}`, "1")
	s = oneCharge("2024-10-27T00:00:00Z", "2024-10-27T02:00:00Z", "0")
	s.Location = ams
	wantTotals(t, mustPrice(t, tf, s), "11", "11")

	// Day boundaries are local too: Sunday starts at 22:00Z on Saturday in
	// summer (UTC+2).
	tf = twoPrices(t, "TIME", "10", `{"day_of_week":["SUNDAY"]}`, "1")
	s = oneCharge("2024-07-06T21:00:00Z", "2024-07-06T23:00:00Z", "0")
	s.Location = ams
	wantTotals(t, mustPrice(t, tf, s), "11", "11")
}

func TestDates(t *testing.T) {
	tf := twoPrices(t, "ENERGY", "0.50", `{"start_date":"2024-01-15","end_date":"2024-01-16"}`, "0.20")
	// 20 kWh evenly over 22:00-02:00: 10 kWh on the 15th (start inclusive),
	// 10 on the 16th (end exclusive).
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-15T22:00:00Z", "2024-01-16T02:00:00Z", "20")), "7", "7")
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-14T22:00:00Z", "2024-01-15T02:00:00Z", "20")), "7", "7")
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-16T00:00:00Z", "2024-01-16T02:00:00Z", "20")), "4", "4")
}

func TestDayOfWeek(t *testing.T) {
	tf := twoPrices(t, "TIME", "10", `{"day_of_week":["SATURDAY","SUNDAY"]}`, "1")
	// Friday 23:00 to Monday 01:00: 1 h Friday, 48 h weekend, 1 h Monday.
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-19T23:00:00Z", "2024-01-22T01:00:00Z", "0")), "482", "482")

	// ANDed with a time window that wraps: the day is the day at each
	// instant, so Saturday night past midnight is Sunday's.
	tf = twoPrices(t, "TIME", "10", `{"day_of_week":["SATURDAY"],"start_time":"22:00","end_time":"02:00"}`, "1")
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-20T21:00:00Z", "2024-01-21T03:00:00Z", "0")), "24", "24")
}

func TestEnergyThresholds(t *testing.T) {
	// First kWh free (max_kwh exclusive), then 0.20 (min_kwh inclusive).
	tf := mustParse(t, `{"currency":"EUR","elements":[
	 {"price_components":[{"type":"ENERGY","price":0,"step_size":1}],"restrictions":{"max_kwh":1}},
	 {"price_components":[{"type":"ENERGY","price":0.20,"step_size":1}],"restrictions":{"min_kwh":1}}]}`)
	r := mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "3"))
	wantTotals(t, r, "0.4", "0.4")
	if len(r.Breakdown) != 2 || !r.Breakdown[0].Quantity.Equal(dec("1")) || !r.Breakdown[1].Quantity.Equal(dec("2")) {
		t.Errorf("want 1 kWh free then 2 kWh:\n%s", breakdown(r))
	}
	// The split falls at the proportional instant: 1 of 3 kWh after 20 min.
	if got := r.Breakdown[1].From; !got.Equal(at("2024-01-15T10:20:00Z")) {
		t.Errorf("threshold at %s, want 10:20", got)
	}

	// A kWh threshold also switches a TIME price: 6/h once 2 kWh are in.
	tf = twoPrices(t, "TIME", "6", `{"min_kwh":2}`, "0")
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "4")), "3", "3")

	// Exactly at the threshold at a period boundary.
	tf = twoPrices(t, "ENERGY", "1", `{"min_kwh":2}`, "0")
	s := Session{Start: at("2024-01-15T10:00:00Z"), End: at("2024-01-15T12:00:00Z"), Periods: []Period{
		period(Charging, "2024-01-15T10:00:00Z", "2"), period(Charging, "2024-01-15T11:00:00Z", "0.5")}}
	wantTotals(t, mustPrice(t, tf, s), "0.5", "0.5")
}

func TestCurrentAndPower(t *testing.T) {
	cases := []struct {
		name, restrictions string
		p                  Period
		want               string // 10/h when active, 1/h otherwise
	}{
		{"min_current inclusive", `{"min_current":16}`, Period{MaxCurrentA: dec("16")}, "10"},
		{"min_current below", `{"min_current":16}`, Period{MaxCurrentA: dec("15.9")}, "1"},
		{"max_current exclusive", `{"max_current":16}`, Period{MaxCurrentA: dec("16")}, "1"},
		{"max_current below", `{"max_current":16}`, Period{MaxCurrentA: dec("15.9")}, "10"},
		{"unknown current is 0 A", `{"max_current":16}`, Period{}, "10"},
		{"min_power inclusive", `{"min_power":11}`, Period{MaxPowerKW: dec("11")}, "10"},
		{"max_power exclusive", `{"max_power":11}`, Period{MaxPowerKW: dec("11")}, "1"},
		{"power from energy", `{"min_power":11}`, Period{EnergyKWh: dec("11")}, "10"},
		{"power from energy, below", `{"min_power":11}`, Period{EnergyKWh: dec("10.99")}, "1"},
		{"range", `{"min_power":7,"max_power":22}`, Period{MaxPowerKW: dec("11")}, "10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tf := twoPrices(t, "TIME", "10", c.restrictions, "1")
			p := c.p
			p.Start = at("2024-01-15T10:00:00Z")
			s := Session{Start: p.Start, End: at("2024-01-15T11:00:00Z"), Periods: []Period{p}}
			wantTotals(t, mustPrice(t, tf, s), c.want, c.want)
		})
	}
}

func TestDuration(t *testing.T) {
	// First 30 minutes free (max_duration exclusive), then 2/h from 30
	// minutes (min_duration inclusive); split inside one period.
	tf := mustParse(t, `{"currency":"EUR","elements":[
	 {"price_components":[{"type":"TIME","price":0,"step_size":1}],"restrictions":{"max_duration":1800}},
	 {"price_components":[{"type":"TIME","price":2,"step_size":1}],"restrictions":{"min_duration":1800}}]}`)
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:30:00Z", "0")), "2", "2")
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T10:30:00Z", "0")), "0", "0")

	// The duration counts from the start of charging, after a reservation.
	s := Session{Start: at("2024-01-15T09:00:00Z"), End: at("2024-01-15T11:00:00Z"), Periods: []Period{
		{Start: at("2024-01-15T09:00:00Z"), State: Reserved}, period(Charging, "2024-01-15T10:00:00Z", "0")}}
	wantTotals(t, mustPrice(t, tf, s), "1", "1")
}

func TestReservationSeparation(t *testing.T) {
	// Reservation elements never price the session; session elements never
	// price the reservation.
	tf := mustParse(t, `{"currency":"EUR","elements":[
	 {"price_components":[{"type":"TIME","price":100,"step_size":1}],"restrictions":{"reservation":"RESERVATION"}},
	 {"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`)
	wantTotals(t, mustPrice(t, tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "0")), "1", "1")
	s := Session{Start: at("2024-01-15T09:00:00Z"), End: at("2024-01-15T09:30:00Z"),
		Periods: []Period{{Start: at("2024-01-15T09:00:00Z"), State: Reserved}}}
	r := mustPrice(t, tf, s)
	wantTotals(t, r, "50", "50")
	if !r.Reservation.ExclVAT.Equal(dec("50")) || !r.Time.ExclVAT.IsZero() {
		t.Errorf("reservation %s, time %s: want the reservation bucket", r.Reservation.ExclVAT, r.Time.ExclVAT)
	}
	// RESERVATION_EXPIRES only applies once the reservation expired.
	tf = mustParse(t, `{"currency":"EUR","elements":[
	 {"price_components":[{"type":"FLAT","price":4,"step_size":1}],"restrictions":{"reservation":"RESERVATION_EXPIRES"}},
	 {"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`)
	wantTotals(t, mustPrice(t, tf, s), "0", "0")
	s.ReservationExpired = true
	wantTotals(t, mustPrice(t, tf, s), "4", "4")
}
