package ocpp16

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Reading is what billing and the API use from one MeterValue: the
// imported energy register in Wh, the imported power in W and the state of
// charge in percent, each exact (decimal) and present only if reported.
type Reading struct {
	Timestamp time.Time
	EnergyWh  decimal.Decimal // Energy.Active.Import.Register
	HasEnergy bool
	PowerW    decimal.Decimal // Power.Active.Import
	HasPower  bool
	SoC       decimal.Decimal // SoC, percent
	HasSoC    bool
}

var thousand = decimal.NewFromInt(1000)

// ReadMeterValue extracts a Reading. It applies the 1.6 defaults (no
// measurand means Energy.Active.Import.Register, no unit means Wh, except
// that power without a unit is taken as W and SoC as Percent), converts kWh
// and kW exactly, and skips SignedData values. When a measurand is reported
// several times it prefers the Outlet location (the default) to others, and
// the total (no phase) to per-phase values, which are summed over L1..L3
// when there is no total. A malformed value of one of the three measurands
// is an error; other measurands are ignored.
func ReadMeterValue(mv MeterValue) (Reading, error) {
	r := Reading{Timestamp: mv.Timestamp}
	var energy, power, soc pick
	for i, sv := range mv.SampledValue {
		if sv.Format == FormatSignedData {
			continue
		}
		switch measurandOf(sv) {
		case MeasurandEnergyActiveImportRegister:
			v, err := EnergyWh(sv)
			if err != nil {
				return r, fmt.Errorf("sampledValue[%d]: %w", i, err)
			}
			energy.offer(sv, v)
		case MeasurandPowerActiveImport:
			v, err := PowerW(sv)
			if err != nil {
				return r, fmt.Errorf("sampledValue[%d]: %w", i, err)
			}
			power.offer(sv, v)
		case MeasurandSoC:
			v, err := SoCPercent(sv)
			if err != nil {
				return r, fmt.Errorf("sampledValue[%d]: %w", i, err)
			}
			soc.offer(sv, v)
		}
	}
	r.EnergyWh, r.HasEnergy = energy.result()
	r.PowerW, r.HasPower = power.result()
	r.SoC, r.HasSoC = soc.result()
	return r, nil
}

// LatestEnergyWh returns the energy register of the last MeterValue (by
// timestamp) that reports one, e.g. from MeterValues.req meterValue or
// StopTransaction.req transactionData.
func LatestEnergyWh(mvs []MeterValue) (wh decimal.Decimal, at time.Time, ok bool, err error) {
	for _, mv := range mvs {
		r, err := ReadMeterValue(mv)
		if err != nil {
			return wh, at, false, err
		}
		if r.HasEnergy && (!ok || !r.Timestamp.Before(at)) {
			wh, at, ok = r.EnergyWh, r.Timestamp, true
		}
	}
	return wh, at, ok, nil
}

func measurandOf(sv SampledValue) Measurand {
	if sv.Measurand == "" {
		return MeasurandEnergyActiveImportRegister
	}
	return sv.Measurand
}

// EnergyWh returns an energy value in Wh; the unit must be Wh (or absent)
// or kWh.
func EnergyWh(sv SampledValue) (decimal.Decimal, error) {
	v, err := parseValue(sv)
	if err != nil {
		return v, err
	}
	switch sv.Unit {
	case "", UnitWh:
		return v, nil
	case UnitKWh:
		return v.Mul(thousand), nil
	}
	return decimal.Zero, fmt.Errorf("energy in unit %q, want Wh or kWh", sv.Unit)
}

// PowerW returns a power value in W; the unit must be W (or absent) or kW.
func PowerW(sv SampledValue) (decimal.Decimal, error) {
	v, err := parseValue(sv)
	if err != nil {
		return v, err
	}
	switch sv.Unit {
	case "", UnitW:
		return v, nil
	case UnitKW:
		return v.Mul(thousand), nil
	}
	return decimal.Zero, fmt.Errorf("power in unit %q, want W or kW", sv.Unit)
}

// SoCPercent returns a state of charge in percent.
func SoCPercent(sv SampledValue) (decimal.Decimal, error) {
	v, err := parseValue(sv)
	if err != nil {
		return v, err
	}
	if sv.Unit != "" && sv.Unit != UnitPercent {
		return decimal.Zero, fmt.Errorf("SoC in unit %q, want Percent", sv.Unit)
	}
	return v, nil
}

func parseValue(sv SampledValue) (decimal.Decimal, error) {
	v, err := decimal.NewFromString(sv.Value)
	if err != nil {
		return decimal.Zero, fmt.Errorf("%s value %q is not a number", measurandOf(sv), sv.Value)
	}
	return v, nil
}

// WhInt64 returns d as an integer number of Wh and whether that is exact.
func WhInt64(d decimal.Decimal) (int64, bool) {
	i := d.IntPart()
	return i, d.Equal(decimal.NewFromInt(i))
}

// pick chooses among several values of one measurand: the best location
// wins, and within it the total, or else the sum of the phases.
type pick struct {
	rank      int // 0: none yet, 1: other location, 2: Outlet
	total     decimal.Decimal
	hasTotal  bool
	phaseSum  decimal.Decimal
	hasPhases bool
}

func (p *pick) offer(sv SampledValue, v decimal.Decimal) {
	rank := 1
	if sv.Location == "" || sv.Location == LocationOutlet || sv.Location == LocationEV && sv.Measurand == MeasurandSoC {
		rank = 2
	}
	if rank < p.rank {
		return
	}
	if rank > p.rank {
		*p = pick{rank: rank}
	}
	switch sv.Phase {
	case "":
		p.total, p.hasTotal = v, true
	case PhaseL1, PhaseL2, PhaseL3, PhaseL1N, PhaseL2N, PhaseL3N:
		p.phaseSum, p.hasPhases = p.phaseSum.Add(v), true
	}
}

func (p *pick) result() (decimal.Decimal, bool) {
	switch {
	case p.hasTotal:
		return p.total, true
	case p.hasPhases:
		return p.phaseSum, true
	}
	return decimal.Zero, false
}
