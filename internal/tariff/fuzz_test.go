package tariff

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: parsing any input never panics, and a tariff Parse accepts can
// be priced (or refused with an error) without panicking.
func FuzzParse(f *testing.F) {
	if dirs, err := os.ReadDir(vectorDir); err == nil {
		for _, d := range dirs {
			if b, err := os.ReadFile(filepath.Join(vectorDir, d.Name(), "tariff.json")); err == nil {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		stepSizeTariff, complexTariff, timeAndParking,
		`{"currency":"EUR","elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1,"grace_period":5}],"restrictions":{"start_time":"22:00","end_time":"06:00","min_kwh":1,"max_duration":600,"day_of_week":["MONDAY"]}}]}`,
		`{"currency":"EUR","min_price":{"incl_vat":1e9999},"elements":[]}`,
		`{"currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":"1e-9999","step_size":1}]}]}`,
		`{"elements":null}`, `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	start := time.Date(2024, 3, 30, 22, 0, 0, 0, time.UTC)
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		f.Fatal(err)
	}
	s := Session{Start: start, End: start.Add(6 * time.Hour), Location: ams, Periods: []Period{
		{Start: start, State: Reserved},
		{Start: start.Add(10 * time.Minute), EnergyKWh: dec("7.5"), MaxCurrentA: dec("16")},
		{Start: start.Add(3 * time.Hour), State: Paused},
		{Start: start.Add(4 * time.Hour), State: Parking},
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := Parse(data)
		if err != nil {
			if tf != nil {
				t.Fatal("Parse returned a tariff with an error")
			}
			return
		}
		if _, err := Price(tf, s); err != nil {
			return
		}
		if _, err := Project(tf, s, 15*time.Minute, dec("50")); err != nil {
			t.Fatalf("Project failed where Price did not: %v", err)
		}
	})
}
