package ocpp16

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestReadMeterValue(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		samples []SampledValue
		energy  string // "" when absent
		power   string
		soc     string
		wantErr bool
	}{
		{name: "defaults: energy register in Wh", samples: []SampledValue{{Value: "12345"}}, energy: "12345"},
		{name: "kWh converted exactly", samples: []SampledValue{{Value: "12.3456", Unit: UnitKWh, Measurand: MeasurandEnergyActiveImportRegister}}, energy: "12345.6"},
		{name: "power in kW and W, SoC", samples: []SampledValue{
			{Value: "11.04", Measurand: MeasurandPowerActiveImport, Unit: UnitKW},
			{Value: "63", Measurand: MeasurandSoC, Unit: UnitPercent, Location: LocationEV},
			{Value: "900", Unit: UnitWh},
		}, energy: "900", power: "11040", soc: "63"},
		{name: "power without unit is W", samples: []SampledValue{{Value: "7400", Measurand: MeasurandPowerActiveImport}}, power: "7400"},
		{name: "phases summed without a total", samples: []SampledValue{
			{Value: "1", Phase: PhaseL1}, {Value: "2", Phase: PhaseL2}, {Value: "3", Phase: PhaseL3}, {Value: "100", Phase: PhaseN},
		}, energy: "6"},
		{name: "total preferred to phases", samples: []SampledValue{
			{Value: "1", Phase: PhaseL1}, {Value: "50"}, {Value: "2", Phase: PhaseL2},
		}, energy: "50"},
		{name: "outlet preferred to inlet", samples: []SampledValue{
			{Value: "1000", Location: LocationInlet}, {Value: "990", Location: LocationOutlet}, {Value: "1005", Location: LocationInlet},
		}, energy: "990"},
		{name: "inlet used when alone", samples: []SampledValue{{Value: "1000", Location: LocationInlet}}, energy: "1000"},
		{name: "signed data skipped", samples: []SampledValue{{Value: "AB12CD", Format: FormatSignedData}, {Value: "5"}}, energy: "5"},
		{name: "other measurands ignored", samples: []SampledValue{{Value: "230.1", Measurand: MeasurandVoltage, Unit: UnitV}, {Value: "x", Measurand: MeasurandTemperature}}},
		{name: "malformed energy", samples: []SampledValue{{Value: "12,5"}}, wantErr: true},
		{name: "energy in a power unit", samples: []SampledValue{{Value: "12", Unit: UnitW}}, wantErr: true},
		{name: "SoC in Wh", samples: []SampledValue{{Value: "12", Measurand: MeasurandSoC, Unit: UnitWh}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadMeterValue(MeterValue{Timestamp: at, SampledValue: tt.samples})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error, got %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !r.Timestamp.Equal(at) {
				t.Errorf("timestamp %v", r.Timestamp)
			}
			for _, c := range []struct {
				name string
				got  decimal.Decimal
				has  bool
				want string
			}{{"energy", r.EnergyWh, r.HasEnergy, tt.energy}, {"power", r.PowerW, r.HasPower, tt.power}, {"soc", r.SoC, r.HasSoC, tt.soc}} {
				if c.has != (c.want != "") || (c.has && !c.got.Equal(decimal.RequireFromString(c.want))) {
					t.Errorf("%s = %v (present %v), want %q", c.name, c.got, c.has, c.want)
				}
			}
		})
	}
}

func TestLatestEnergyWhAndWhInt64(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	mvs := []MeterValue{
		{Timestamp: t0.Add(2 * time.Minute), SampledValue: []SampledValue{{Value: "2.5", Unit: UnitKWh}}},
		{Timestamp: t0, SampledValue: []SampledValue{{Value: "1000"}}},
		{Timestamp: t0.Add(3 * time.Minute), SampledValue: []SampledValue{{Value: "50", Measurand: MeasurandSoC}}},
	}
	wh, at, ok, err := LatestEnergyWh(mvs)
	if err != nil || !ok || !at.Equal(t0.Add(2*time.Minute)) || !wh.Equal(decimal.NewFromInt(2500)) {
		t.Fatalf("got %v at %v (%v, %v)", wh, at, ok, err)
	}
	if n, exact := WhInt64(wh); n != 2500 || !exact {
		t.Errorf("WhInt64 = %d, %v", n, exact)
	}
	if n, exact := WhInt64(decimal.RequireFromString("2500.4")); n != 2500 || exact {
		t.Errorf("WhInt64(2500.4) = %d, %v", n, exact)
	}
	if _, _, ok, _ := LatestEnergyWh(nil); ok {
		t.Error("energy found in nothing")
	}
}
