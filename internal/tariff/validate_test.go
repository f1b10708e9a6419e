package tariff

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseRejects(t *testing.T) {
	const ok = `{"type":"ENERGY","price":0.25,"vat":10,"step_size":1}`
	el := func(comp, restr string) string {
		if restr == "" {
			return `{"currency":"EUR","elements":[{"price_components":[` + comp + `]}]}`
		}
		return `{"currency":"EUR","elements":[{"price_components":[` + comp + `],"restrictions":` + restr + `}]}`
	}
	cases := []struct {
		name, json, field string
	}{
		{"no elements", `{"currency":"EUR","elements":[]}`, "elements"},
		{"elements missing", `{"currency":"EUR"}`, "elements"},
		{"no components", `{"currency":"EUR","elements":[{"price_components":[]}]}`, "elements[0].price_components"},
		{"currency lower case", `{"currency":"eur","elements":[{"price_components":[` + ok + `]}]}`, "currency"},
		{"currency 4 letters", `{"currency":"EURO","elements":[{"price_components":[` + ok + `]}]}`, "currency"},
		{"currency missing", `{"elements":[{"price_components":[` + ok + `]}]}`, "currency"},
		{"tariff type", `{"currency":"EUR","type":"CHEAP","elements":[{"price_components":[` + ok + `]}]}`, "type"},
		{"negative price", el(`{"type":"ENERGY","price":-0.25,"step_size":1}`, ""), "elements[0].price_components[0].price"},
		{"5 decimals", el(`{"type":"ENERGY","price":0.12345,"step_size":1}`, ""), "elements[0].price_components[0].price"},
		{"huge exponent", el(`{"type":"ENERGY","price":1e-9000,"step_size":1}`, ""), "elements[0].price_components[0].price"},
		{"huge price", el(`{"type":"ENERGY","price":1e400,"step_size":1}`, ""), "elements[0].price_components[0].price"},
		{"price missing", el(`{"type":"ENERGY","step_size":1}`, ""), "elements[0].price_components[0].price"},
		{"price null", el(`{"type":"ENERGY","price":null,"step_size":1}`, ""), "elements[0].price_components[0].price"},
		{"step_size missing", el(`{"type":"ENERGY","price":1}`, ""), "elements[0].price_components[0].step_size"},
		{"negative step_size", el(`{"type":"ENERGY","price":1,"step_size":-1}`, ""), "elements[0].price_components[0].step_size"},
		{"unknown type", el(`{"type":"POWER","price":1,"step_size":1}`, ""), "elements[0].price_components[0].type"},
		{"type missing", el(`{"price":1,"step_size":1}`, ""), "elements[0].price_components[0].type"},
		{"two ENERGY in one element", el(ok+","+ok, ""), "elements[0].price_components[1].type"},
		{"vat over 100", el(`{"type":"ENERGY","price":1,"vat":120,"step_size":1}`, ""), "elements[0].price_components[0].vat"},
		{"negative vat", el(`{"type":"ENERGY","price":1,"vat":-1,"step_size":1}`, ""), "elements[0].price_components[0].vat"},
		{"grace on energy", el(`{"type":"ENERGY","price":1,"step_size":1,"grace_period":5}`, ""), "elements[0].price_components[0].grace_period"},
		{"start_time 25:00", el(ok, `{"start_time":"25:00"}`), "elements[0].restrictions.start_time"},
		{"start_time 9:00", el(ok, `{"start_time":"9:00"}`), "elements[0].restrictions.start_time"},
		{"end_time 12:60", el(ok, `{"end_time":"12:60"}`), "elements[0].restrictions.end_time"},
		{"start_date format", el(ok, `{"start_date":"15-01-2024"}`), "elements[0].restrictions.start_date"},
		{"end_date not a day", el(ok, `{"end_date":"2024-02-30"}`), "elements[0].restrictions.end_date"},
		{"dates reversed", el(ok, `{"start_date":"2024-02-01","end_date":"2024-01-01"}`), "elements[0].restrictions.end_date"},
		{"kwh reversed", el(ok, `{"min_kwh":20,"max_kwh":10}`), "elements[0].restrictions.max_kwh"},
		{"negative kwh", el(ok, `{"min_kwh":-1}`), "elements[0].restrictions.min_kwh"},
		{"max_power 0", el(ok, `{"max_power":0}`), "elements[0].restrictions.max_power"},
		{"current reversed", el(ok, `{"min_current":32,"max_current":16}`), "elements[0].restrictions.max_current"},
		{"negative duration", el(ok, `{"min_duration":-5}`), "elements[0].restrictions.min_duration"},
		{"durations reversed", el(ok, `{"min_duration":600,"max_duration":300}`), "elements[0].restrictions.max_duration"},
		{"day", el(ok, `{"day_of_week":["MONDAY","FUNDAY"]}`), "elements[0].restrictions.day_of_week[1]"},
		{"reservation value", el(ok, `{"reservation":"YES"}`), "elements[0].restrictions.reservation"},
		{"reservation with energy", el(ok, `{"reservation":"RESERVATION"}`), "elements[0].price_components[0].type"},
		{"min above max", `{"currency":"EUR","min_price":{"excl_vat":10},"max_price":{"excl_vat":5},"elements":[{"price_components":[` + ok + `]}]}`, "min_price.excl_vat"},
		{"incl below excl", `{"currency":"EUR","min_price":{"excl_vat":10,"incl_vat":9},"elements":[{"price_components":[` + ok + `]}]}`, "min_price.incl_vat"},
		{"empty min_price", `{"currency":"EUR","min_price":{},"elements":[{"price_components":[` + ok + `]}]}`, "min_price"},
		{"validity reversed", `{"currency":"EUR","start_date_time":"2024-02-01T00:00:00Z","end_date_time":"2024-01-01T00:00:00Z","elements":[{"price_components":[` + ok + `]}]}`, "end_date_time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			if err == nil {
				t.Fatal("accepted")
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%v: not a *FieldError", err)
			}
			if !hasField(err, c.field) {
				t.Errorf("error %q does not name %s", err, c.field)
			}
		})
	}
}

// hasField reports whether any joined FieldError names field.
func hasField(err error, field string) bool {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Field == field {
		return true
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if hasField(e, field) {
				return true
			}
		}
	}
	if u := errors.Unwrap(err); u != nil {
		return hasField(u, field)
	}
	return false
}

func TestParseReportsAllProblems(t *testing.T) {
	_, err := Parse([]byte(`{"currency":"eu","elements":[{"price_components":[{"type":"ENERGY","price":-1,"step_size":1}],"restrictions":{"start_time":"25:00"}}]}`))
	for _, f := range []string{"currency", "elements[0].price_components[0].price", "elements[0].restrictions.start_time"} {
		if !hasField(err, f) {
			t.Errorf("%q does not name %s", err, f)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	// OCPI allows fields Joule does not use, null optional fields, a
	// timestamp without zone, prices with trailing zeros and step_size 0.
	tf := mustParse(t, `{"country_code":"NL","party_id":"TST","id":"x","currency":"EUR","tariff_alt_text":[{"language":"en","text":"cheap"}],
	 "energy_mix":{"is_green_energy":true},"unknown":1,"last_updated":"2024-01-01T00:00:00",
	 "min_price":{"excl_vat":"0.50","incl_vat":null},
	 "elements":[{"price_components":[{"type":"ENERGY","price":"0.2500000","vat":null,"step_size":0}],"restrictions":null}]}`)
	if !tf.LastUpdated.Equal(at("2024-01-01T00:00:00Z")) {
		t.Errorf("last_updated = %s", tf.LastUpdated)
	}
	if tf.HasParkingTime() {
		t.Error("HasParkingTime without PARKING_TIME")
	}
}

func TestHasParkingTime(t *testing.T) {
	tf := mustParse(t, `{"currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":1,"step_size":1}]},
	 {"price_components":[{"type":"PARKING_TIME","price":1,"step_size":1}],"restrictions":{"start_time":"10:00"}}]}`)
	if !tf.HasParkingTime() {
		t.Error("HasParkingTime = false")
	}
}

func TestPriceValidatesTariff(t *testing.T) {
	// A tariff built in code is checked too.
	tf := &Tariff{Currency: "EUR", Elements: []Element{{PriceComponents: []PriceComponent{{Type: DimEnergy, Price: dec("-1")}}}}}
	if _, err := Price(tf, oneCharge("2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "1")); !hasField(err, "elements[0].price_components[0].price") {
		t.Errorf("Price with a negative price: %v", err)
	}
}

func TestShorthand(t *testing.T) {
	min := int64(500)
	tf, err := FromShorthand(Shorthand{Currency: "USD", MinimumAmount: &min, PriceComponents: []ShorthandComponent{
		{Type: DimFlat, Price: dec("1"), Tax: dec("10")},
		{Type: DimEnergy, Price: dec("0.25"), Tax: dec("10"), StepSize: 1},
		{Type: DimTime, Price: dec("1.20"), Tax: dec("10"), StepSize: 60, GracePeriod: 30},
		{Type: DimParkingTime, Price: dec("6"), Tax: dec("10"), StepSize: 60, GracePeriod: 15},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !tf.HasParkingTime() {
		t.Error("HasParkingTime = false")
	}
	// 2 h charging with 20 kWh (first 30 min free), then 25 min parking
	// (first 15 free).
	s := Session{Start: at("2024-01-15T10:00:00Z"), End: at("2024-01-15T12:25:00Z"), Periods: []Period{
		period(Charging, "2024-01-15T10:00:00Z", "20"), period(Parking, "2024-01-15T12:00:00Z", "0")}}
	r := mustPrice(t, tf, s)
	// 1 + 5 + 1.5 h x 1.20 + 10 min x 6/h = 1 + 5 + 1.8 + 1 = 8.80; +10%.
	wantTotals(t, r, "8.8", "9.68")
	if r.AmountMinor != 968 {
		t.Errorf("amount_minor = %d", r.AmountMinor)
	}
	var grace int
	for _, l := range r.Breakdown {
		if l.Kind == KindGrace {
			grace++
			if !l.ExclVAT.IsZero() {
				t.Errorf("grace line costs %s", l.ExclVAT)
			}
		}
	}
	if grace != 2 {
		t.Errorf("%d grace lines, want 2\n%s", grace, breakdown(r))
	}

	// minimum_amount is the least charged, incl. VAT: a short session pays
	// 5.00 and its excl. VAT part is 5.00 less the tariff's VAT (10%).
	short := Session{Start: at("2024-01-15T10:00:00Z"), End: at("2024-01-15T10:10:00Z"), Periods: []Period{period(Charging, "2024-01-15T10:00:00Z", "1")}}
	r = mustPrice(t, tf, short)
	if r.AmountMinor != 500 || !r.TotalInclVAT.Equal(dec("5")) {
		t.Errorf("short session charged %d (%s), want 500", r.AmountMinor, r.TotalInclVAT)
	}
	if want := dec("5").DivRound(dec("1.1"), amountPlaces); !r.TotalExclVAT.Equal(want) {
		t.Errorf("excl = %s, want %s", r.TotalExclVAT, want)
	}
}

func TestShorthandRejects(t *testing.T) {
	neg := int64(-1)
	cases := []struct {
		name  string
		s     Shorthand
		field string
	}{
		{"currency", Shorthand{Currency: "US", PriceComponents: []ShorthandComponent{{Type: DimEnergy, Price: dec("1")}}}, "currency"},
		{"no components", Shorthand{Currency: "USD"}, "price_components"},
		{"type", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: "KWH", Price: dec("1")}}}, "price_components[0].type"},
		{"duplicate", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: DimEnergy, Price: dec("1")}, {Type: DimEnergy, Price: dec("2")}}}, "price_components[1].type"},
		{"negative price", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: DimEnergy, Price: dec("-1")}}}, "price_components[0].price"},
		{"precision", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: DimEnergy, Price: dec("0.00001")}}}, "price_components[0].price"},
		{"tax", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: DimEnergy, Price: dec("1"), Tax: dec("-3")}}}, "price_components[0].tax"},
		{"step", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: DimEnergy, Price: dec("1"), StepSize: -1}}}, "price_components[0].step_size"},
		{"grace on flat", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: DimFlat, Price: dec("1"), GracePeriod: 5}}}, "price_components[0].grace_period"},
		{"negative grace", Shorthand{Currency: "USD", PriceComponents: []ShorthandComponent{{Type: DimTime, Price: dec("1"), GracePeriod: -5}}}, "price_components[0].grace_period"},
		{"minimum", Shorthand{Currency: "USD", MinimumAmount: &neg, PriceComponents: []ShorthandComponent{{Type: DimTime, Price: dec("1")}}}, "minimum_amount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromShorthand(c.s)
			if !hasField(err, c.field) {
				t.Errorf("error %v does not name %s", err, c.field)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "shorthand: ") {
				t.Errorf("error %q does not say it is about the shorthand", err)
			}
		})
	}
}

func TestTariffJSONRoundTrip(t *testing.T) {
	// A shorthand rate is stored as OCPI JSON and parsed back (internal/rates
	// does this); the JSON has prices as numbers, as OCPI wants.
	min := int64(250)
	tf, err := FromShorthand(Shorthand{Currency: "EUR", MinimumAmount: &min, PriceComponents: []ShorthandComponent{
		{Type: DimEnergy, Price: dec("0.2500"), Tax: dec("21"), StepSize: 1},
		{Type: DimParkingTime, Price: dec("6"), Tax: dec("21"), StepSize: 60, GracePeriod: 15}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"price":0.25,`) || !strings.Contains(string(b), `"min_price":{"incl_vat":2.5}`) {
		t.Errorf("json %s", b)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", b, err)
	}
	s := Session{Start: at("2024-01-15T10:00:00Z"), End: at("2024-01-15T11:00:00Z"), Periods: []Period{
		period(Charging, "2024-01-15T10:00:00Z", "8"), period(Parking, "2024-01-15T10:30:00Z", "0")}}
	a, b2 := mustPrice(t, tf, s), mustPrice(t, back, s)
	if !a.TotalInclVAT.Equal(b2.TotalInclVAT) || !a.TotalInclVAT.Equal(dec("4.235")) {
		t.Errorf("priced %s before and %s after the round trip, want 4.235", a.TotalInclVAT, b2.TotalInclVAT)
	}

	// An OCPI tariff with restrictions survives too.
	ocpi := mustParse(t, complexTariff)
	b, err = json.Marshal(ocpi)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"max_current":32`) {
		t.Errorf("json %s", b)
	}
	if _, err := Parse(b); err != nil {
		t.Errorf("Parse(%s): %v", b, err)
	}
}
