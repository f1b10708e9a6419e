package sim

import (
	"math"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
)

// How the simulated charger applies OCPP 1.6 smart charging: the limit on
// a connector is the TxProfile of its transaction (else a TxDefaultProfile
// of the connector, else of connector 0) with the highest stack level that
// has a period in force, capped by connector 0's ChargePointMaxProfile. A
// limit of 0 suspends charging (SuspendedEVSE); a limit in A is converted
// at 230 V per phase (3 phases unless the period says otherwise).

const voltsPerPhase = 230

// installProfileLocked stores p on c, replacing a profile with the same id
// or the same purpose and stack level, as OCPP 1.6 requires.
func (ch *Charger) installProfileLocked(c *connector, p ocpp16.ChargingProfile) {
	kept := c.profiles[:0]
	for _, old := range c.profiles {
		if old.ChargingProfileId == p.ChargingProfileId ||
			(old.ChargingProfilePurpose == p.ChargingProfilePurpose && old.StackLevel == p.StackLevel) {
			continue
		}
		kept = append(kept, old)
	}
	c.profiles = append(kept, p)
}

// dropTxProfilesLocked removes TxProfiles, which end with their transaction.
func (c *connector) dropTxProfilesLocked() {
	kept := c.profiles[:0]
	for _, p := range c.profiles {
		if p.ChargingProfilePurpose != ocpp16.PurposeTxProfile {
			kept = append(kept, p)
		}
	}
	c.profiles = kept
}

// limitWLocked is the power limit on c now, in W, if any profile sets one.
func (ch *Charger) limitWLocked(c *connector) (int, bool) {
	now := ch.clock.Now()
	var txStart time.Time
	txID, confirmed := 0, false
	if c.tx != nil {
		txStart, txID, confirmed = c.tx.started, c.tx.id, c.tx.confirmed
	}
	best := func(profiles []ocpp16.ChargingProfile, purpose ocpp16.ChargingProfilePurpose) (float64, bool) {
		limit, level, found := 0.0, -1, false
		for i := range profiles {
			p := &profiles[i]
			if p.ChargingProfilePurpose != purpose || p.StackLevel <= level {
				continue
			}
			if purpose == ocpp16.PurposeTxProfile && p.TransactionId != nil && (!confirmed || *p.TransactionId != txID) {
				continue
			}
			if l, ok := activeLimitW(p, txStart, now); ok {
				limit, level, found = l, p.StackLevel, true
			}
		}
		return limit, found
	}
	limit, ok := best(c.profiles, ocpp16.PurposeTxProfile)
	if !ok {
		limit, ok = best(c.profiles, ocpp16.PurposeTxDefaultProfile)
	}
	if !ok {
		limit, ok = best(ch.connectors[0].profiles, ocpp16.PurposeTxDefaultProfile)
	}
	if cpMax, found := best(ch.connectors[0].profiles, ocpp16.PurposeChargePointMaxProfile); found && (!ok || cpMax < limit) {
		limit, ok = cpMax, true
	}
	if !ok {
		return 0, false
	}
	return int(math.Round(limit)), true
}

// activeLimitW is the limit of p's period in force at now, in W.
func activeLimitW(p *ocpp16.ChargingProfile, txStart, now time.Time) (float64, bool) {
	if (p.ValidFrom != nil && now.Before(*p.ValidFrom)) || (p.ValidTo != nil && !now.Before(*p.ValidTo)) {
		return 0, false
	}
	s := &p.ChargingSchedule
	start := now
	switch {
	case p.ChargingProfileKind == ocpp16.KindRelative && !txStart.IsZero():
		start = txStart
	case s.StartSchedule != nil:
		start = *s.StartSchedule
	}
	if p.ChargingProfileKind == ocpp16.KindRecurring && now.After(start) {
		period := 24 * time.Hour
		if p.RecurrencyKind == ocpp16.RecurrencyWeekly {
			period *= 7
		}
		start = start.Add(now.Sub(start) / period * period)
	}
	elapsed := now.Sub(start)
	if elapsed < 0 || (s.Duration != nil && elapsed > time.Duration(*s.Duration)*time.Second) {
		return 0, false
	}
	var period *ocpp16.ChargingSchedulePeriod
	for i := range s.ChargingSchedulePeriod {
		if time.Duration(s.ChargingSchedulePeriod[i].StartPeriod)*time.Second <= elapsed {
			period = &s.ChargingSchedulePeriod[i]
		}
	}
	if period == nil {
		return 0, false
	}
	if s.ChargingRateUnit == ocpp16.RateUnitA {
		phases := 3
		if period.NumberPhases != nil {
			phases = *period.NumberPhases
		}
		return period.Limit * voltsPerPhase * float64(phases), true
	}
	return period.Limit, true
}
