package sim

import (
	"strconv"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
)

// wusPerWh converts watt-microseconds, the unit energy is integrated in
// (exact for any power and any clock resolution down to a microsecond), to Wh.
const wusPerWh = 3600 * 1_000_000

type connector struct {
	id             int
	status         ocpp16.ChargePointStatus
	plugged        bool
	finishing      bool // stopped, car still plugged (KeepPlugged)
	evDisconnected bool // unplugged during a transaction that goes on
	operative      bool
	inoperativeDue bool // ChangeAvailability Inoperative Scheduled after the transaction
	energyWus      int64
	lastAccrual    time.Time
	tx             *transaction
	profiles       []ocpp16.ChargingProfile
}

type transaction struct {
	local      int // our own number, for logs
	id         int // the central system's, once confirmed
	confirmed  bool
	idTag      string
	started    time.Time
	startWus   int64
	begin      ocpp16.MeterValue
	meterTimer *time.Timer
	strike     *time.Timer // the unplug_after or offline behaviour
}

func (c *connector) meterWh() int64 { return c.energyWus / wusPerWh }

func (c *connector) stopTimers() {
	if c.tx == nil {
		return
	}
	if c.tx.meterTimer != nil {
		c.tx.meterTimer.Stop()
	}
	if c.tx.strike != nil {
		c.tx.strike.Stop()
	}
}

func (ch *Charger) now() time.Time { return ch.clock.Now().UTC().Truncate(time.Millisecond) }

// accrueLocked integrates the energy drawn since the last accrual at the
// power drawn since then; call it before anything that changes the power.
func (ch *Charger) accrueLocked(c *connector) {
	now := ch.clock.Now()
	if c.tx != nil && !c.lastAccrual.IsZero() {
		if dt := now.Sub(c.lastAccrual); dt > 0 {
			c.energyWus += int64(ch.powerLocked(c)) * dt.Microseconds()
		}
	}
	c.lastAccrual = now
}

// powerLocked is the power drawn now, in W: the configured power, capped
// by charging profiles, and nothing outside a charging transaction.
func (ch *Charger) powerLocked(c *connector) int {
	if c.tx == nil || c.evDisconnected {
		return 0
	}
	p := ch.cfg.PowerW
	if limit, ok := ch.limitWLocked(c); ok && limit < p {
		p = limit
	}
	return p
}

func (ch *Charger) socLocked(c *connector) int {
	if c.tx == nil {
		return 0
	}
	charged := (c.energyWus - c.tx.startWus) / wusPerWh
	soc := ch.cfg.InitialSoC + int(charged*100/ch.cfg.BatteryWh)
	return min(soc, 100)
}

// deriveStatusLocked is the OCPP status a connector's state implies.
func (ch *Charger) deriveStatusLocked(c *connector) ocpp16.ChargePointStatus {
	if c.id == 0 {
		if ch.operative {
			return ocpp16.StatusAvailable
		}
		return ocpp16.StatusUnavailable
	}
	switch {
	case c.tx != nil && c.evDisconnected:
		return ocpp16.StatusSuspendedEV
	case c.tx != nil && ch.powerLocked(c) == 0:
		return ocpp16.StatusSuspendedEVSE
	case c.tx != nil:
		return ocpp16.StatusCharging
	case !c.operative || !ch.operative:
		return ocpp16.StatusUnavailable
	case c.finishing:
		return ocpp16.StatusFinishing
	case c.plugged:
		return ocpp16.StatusPreparing
	}
	return ocpp16.StatusAvailable
}

// refreshStatusLocked reports a connector's status if it has changed.
func (ch *Charger) refreshStatusLocked(c *connector) {
	st := ch.deriveStatusLocked(c)
	if st == c.status {
		return
	}
	c.status = st
	ch.enqueueLocked(ch.statusMsgLocked(c))
	ch.notifyLocked()
}

// statusMsgLocked is a StatusNotification of the connector's status now.
func (ch *Charger) statusMsgLocked(c *connector) *outMsg {
	req := &ocpp16.StatusNotificationRequest{ConnectorId: c.id, ErrorCode: ocpp16.ErrorNoError, Status: c.status}
	ts := ch.now()
	req.Timestamp = &ts
	if c.status == ocpp16.StatusSuspendedEV && c.evDisconnected {
		req.Info = "EV side disconnected"
	}
	return &outMsg{
		action: ocpp16.ActionStatusNotification,
		build:  func() (ocpp16.Request, bool) { return req, true },
	}
}

// startTransactionLocked begins a transaction on a connector: the
// StartTransaction is queued first, then the status change it causes.
func (ch *Charger) startTransactionLocked(c *connector, idTag string, profile *ocpp16.ChargingProfile) {
	ch.accrueLocked(c)
	ch.nextTx++
	tx := &transaction{local: ch.nextTx, idTag: idTag, started: ch.now(), startWus: c.energyWus}
	c.tx, c.finishing, c.evDisconnected, c.plugged = tx, false, false, true
	if profile != nil {
		ch.installProfileLocked(c, *profile)
	}
	tx.begin = ch.sampleLocked(c, ocpp16.ContextTransactionBegin)
	req := &ocpp16.StartTransactionRequest{ConnectorId: c.id, IdTag: idTag, MeterStart: int(c.meterWh()), Timestamp: tx.started}
	ch.enqueueLocked(&outMsg{
		action: ocpp16.ActionStartTransaction,
		tx:     true,
		build:  func() (ocpp16.Request, bool) { return req, true },
		onReply: func(resp any) {
			conf := resp.(*ocpp16.StartTransactionResponse)
			ch.mu.Lock()
			defer ch.mu.Unlock()
			tx.id, tx.confirmed = conf.TransactionId, true
			ch.notifyLocked()
			if conf.IdTagInfo.Status != ocpp16.AuthorizationAccepted && c.tx == tx && ch.settings.bool(keyStopTxOnInvalidID) {
				ch.log.Info("sim: idTag refused at StartTransaction, stopping", "status", conf.IdTagInfo.Status)
				ch.stopTransactionLocked(c, ocpp16.ReasonDeAuthorized, "")
			}
		},
	})
	ch.refreshStatusLocked(c)
	ch.armMeterLocked(c, tx)
	switch ch.cfg.Behavior {
	case BehaviorUnplugAfter:
		tx.strike = time.AfterFunc(ch.cfg.After, func() {
			ch.log.Info("sim: unplug_after behaviour: the driver unplugs")
			_ = ch.Unplug(c.id)
		})
	case BehaviorOffline:
		tx.strike = time.AfterFunc(ch.cfg.After, func() { ch.GoOffline(ch.cfg.OfflineFor) })
	}
	ch.log.Debug("sim: transaction started", "connector", c.id, "idTag", idTag, "local", tx.local)
}

// stopTransactionLocked ends a connector's transaction: StopTransaction is
// queued, then Finishing, then (unless the car stays plugged) Available.
func (ch *Charger) stopTransactionLocked(c *connector, reason ocpp16.Reason, idTag string) {
	ch.accrueLocked(c)
	tx := c.tx
	end := ch.sampleLocked(c, ocpp16.ContextTransactionEnd)
	c.stopTimers()
	c.tx = nil
	c.dropTxProfilesLocked()
	req := &ocpp16.StopTransactionRequest{
		IdTag:           idTag,
		MeterStop:       int(c.meterWh()),
		Timestamp:       end.Timestamp,
		Reason:          reason,
		TransactionData: []ocpp16.MeterValue{tx.begin, end},
	}
	ch.enqueueLocked(&outMsg{
		action: ocpp16.ActionStopTransaction,
		tx:     true,
		build: func() (ocpp16.Request, bool) {
			ch.mu.Lock()
			defer ch.mu.Unlock()
			if !tx.confirmed {
				// Its StartTransaction never got through: the central
				// system knows no such transaction.
				ch.log.Warn("sim: dropping StopTransaction of an unconfirmed transaction", "local", tx.local)
				return nil, false
			}
			req.TransactionId = tx.id
			return req, true
		},
	})
	switch {
	case reason == ocpp16.ReasonEVDisconnected:
		c.plugged = false
	case c.plugged:
		c.finishing = true
		ch.refreshStatusLocked(c)
		if !ch.cfg.KeepPlugged {
			c.plugged, c.finishing = false, false
		}
	}
	if c.inoperativeDue {
		c.operative, c.inoperativeDue = false, false
	}
	ch.refreshStatusLocked(c)
	ch.log.Debug("sim: transaction stopped", "connector", c.id, "reason", reason, "local", tx.local)
}

// sampleLocked reads the connector's meter: energy register, power and,
// during a transaction, the car's state of charge.
func (ch *Charger) sampleLocked(c *connector, context ocpp16.ReadingContext) ocpp16.MeterValue {
	mv := ocpp16.MeterValue{Timestamp: ch.now(), SampledValue: []ocpp16.SampledValue{
		{Value: strconv.FormatInt(c.meterWh(), 10), Context: context, Measurand: ocpp16.MeasurandEnergyActiveImportRegister,
			Location: ocpp16.LocationOutlet, Unit: ocpp16.UnitWh},
		{Value: strconv.Itoa(ch.powerLocked(c)), Context: context, Measurand: ocpp16.MeasurandPowerActiveImport,
			Location: ocpp16.LocationOutlet, Unit: ocpp16.UnitW},
	}}
	if c.tx != nil {
		mv.SampledValue = append(mv.SampledValue, ocpp16.SampledValue{Value: strconv.Itoa(ch.socLocked(c)),
			Context: context, Measurand: ocpp16.MeasurandSoC, Location: ocpp16.LocationEV, Unit: ocpp16.UnitPercent})
	}
	return mv
}

// meterValuesMsg queues a reading; during a transaction it is a
// transaction message carrying the transaction's id.
func (ch *Charger) meterValuesMsg(c *connector, mv ocpp16.MeterValue) *outMsg {
	tx := c.tx
	req := &ocpp16.MeterValuesRequest{ConnectorId: c.id, MeterValue: []ocpp16.MeterValue{mv}}
	return &outMsg{
		action: ocpp16.ActionMeterValues,
		tx:     tx != nil,
		build: func() (ocpp16.Request, bool) {
			if tx == nil {
				return req, true
			}
			ch.mu.Lock()
			defer ch.mu.Unlock()
			if !tx.confirmed {
				return nil, false
			}
			id := tx.id
			req.TransactionId = &id
			return req, true
		},
	}
}

// armMeterLocked schedules the transaction's next periodic reading.
func (ch *Charger) armMeterLocked(c *connector, tx *transaction) {
	interval := ch.settings.meterInterval
	if interval <= 0 || ch.stopped {
		return
	}
	if tx.meterTimer != nil {
		tx.meterTimer.Stop()
	}
	tx.meterTimer = time.AfterFunc(interval, func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if c.tx != tx || ch.stopped {
			return
		}
		ch.accrueLocked(c)
		ch.refreshStatusLocked(c) // a charging profile's period may have changed the limit
		ch.enqueueLocked(ch.meterValuesMsg(c, ch.sampleLocked(c, ocpp16.ContextSamplePeriodic)))
		ch.armMeterLocked(c, tx)
	})
}
