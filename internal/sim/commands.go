package sim

import (
	"context"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
)

// commands builds the handlers of the central system's CALLs. Each handler
// decides its answer from the current state; what the answer sets in
// motion runs in AfterReply, so that the charger's own messages (status
// changes, StartTransaction, a triggered message) follow the answer on the
// wire, as OCPP requires.
func (ch *Charger) commands() *ocppj.Mux {
	m := ocppj.NewMux()
	m.Fallback(ocpp16.Unsupported)
	handle(ch, m, ch.remoteStart)
	handle(ch, m, ch.remoteStop)
	handle(ch, m, ch.setChargingProfile)
	handle(ch, m, ch.clearChargingProfile)
	handle(ch, m, ch.getCompositeSchedule)
	handle(ch, m, ch.changeConfiguration)
	handle(ch, m, ch.getConfiguration)
	handle(ch, m, ch.triggerMessage)
	handle(ch, m, ch.reset)
	handle(ch, m, ch.unlockConnector)
	handle(ch, m, ch.changeAvailability)
	handle(ch, m, func(c *ocppj.Conn, req *ocpp16.ClearCacheRequest) any {
		return ocpp16.ClearCacheResponse{Status: ocpp16.ClearCacheAccepted}
	})
	handle(ch, m, func(c *ocppj.Conn, req *ocpp16.DataTransferRequest) any {
		return ocpp16.DataTransferResponse{Status: ocpp16.DataTransferUnknownVendorID}
	})
	return m
}

// handle registers a command handler, counting commands and running it
// with the charger locked.
func handle[Req ocpp16.Request](ch *Charger, m *ocppj.Mux, fn func(c *ocppj.Conn, req *Req) any) {
	ocpp16.Handle(m, func(ctx context.Context, c *ocppj.Conn, req *Req) (any, error) {
		ch.stats.commands.Add(1)
		ch.fleet.stats.commands.Add(1)
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return fn(c, req), nil
	})
}

// afterReply runs fn, with the charger locked, once the answer is queued.
func (ch *Charger) afterReply(c *ocppj.Conn, fn func()) {
	c.AfterReply(func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if !ch.stopped {
			fn()
		}
	})
}

func (ch *Charger) remoteStart(conn *ocppj.Conn, req *ocpp16.RemoteStartTransactionRequest) any {
	reject := ocpp16.RemoteStartTransactionResponse{Status: ocpp16.RemoteRejected}
	if ch.cfg.Behavior == BehaviorStartFails || !ch.operative {
		return reject
	}
	var c *connector
	if req.ConnectorId != nil {
		var err error
		if c, err = ch.connectorLocked(*req.ConnectorId); err != nil {
			return reject
		}
	} else {
		for _, cand := range ch.connectors[1:] {
			if cand.tx == nil && cand.operative {
				c = cand
				break
			}
		}
	}
	if c == nil || c.tx != nil || !c.operative {
		return reject
	}
	if p := req.ChargingProfile; p != nil && p.ChargingProfilePurpose != ocpp16.PurposeTxProfile {
		return reject // OCPP 1.6 §5.11: only a TxProfile may come with a remote start
	}
	ch.afterReply(conn, func() {
		if c.tx != nil {
			return
		}
		// The driver plugs in (or already has): Preparing.
		ch.accrueLocked(c)
		c.plugged, c.finishing = true, false
		ch.refreshStatusLocked(c)
		if ch.cfg.Behavior == BehaviorStartHangs {
			ch.log.Info("sim: start_hangs behaviour: never starting", "connector", c.id)
			return
		}
		if ch.settings.bool(keyAuthorizeRemoteTxRequests) && ch.onlineLocked() {
			result := make(chan error, 1)
			auth := ch.authorizeMsg(req.IdTag, result)
			onReply := auth.onReply
			auth.onReply = func(resp any) {
				onReply(resp)
				if <-result != nil {
					return
				}
				ch.mu.Lock()
				defer ch.mu.Unlock()
				if c.tx == nil {
					ch.startTransactionLocked(c, req.IdTag, req.ChargingProfile)
				}
			}
			ch.enqueueLocked(auth)
			return
		}
		ch.startTransactionLocked(c, req.IdTag, req.ChargingProfile)
	})
	return ocpp16.RemoteStartTransactionResponse{Status: ocpp16.RemoteAccepted}
}

func (ch *Charger) txConnectorLocked(transactionID int) *connector {
	for _, c := range ch.connectors[1:] {
		if c.tx != nil && c.tx.confirmed && c.tx.id == transactionID {
			return c
		}
	}
	return nil
}

func (ch *Charger) remoteStop(conn *ocppj.Conn, req *ocpp16.RemoteStopTransactionRequest) any {
	c := ch.txConnectorLocked(req.TransactionId)
	if c == nil || ch.cfg.Behavior == BehaviorStopIgnored {
		return ocpp16.RemoteStopTransactionResponse{Status: ocpp16.RemoteRejected}
	}
	if ch.cfg.Behavior == BehaviorStopFails {
		ch.log.Info("sim: stop_fails behaviour: accepting the stop and charging on", "transaction", req.TransactionId)
		return ocpp16.RemoteStopTransactionResponse{Status: ocpp16.RemoteAccepted}
	}
	tx := c.tx
	ch.afterReply(conn, func() {
		if c.tx == tx {
			ch.stopTransactionLocked(c, ocpp16.ReasonRemote, "")
		}
	})
	return ocpp16.RemoteStopTransactionResponse{Status: ocpp16.RemoteAccepted}
}

func (ch *Charger) setChargingProfile(conn *ocppj.Conn, req *ocpp16.SetChargingProfileRequest) any {
	reject := ocpp16.SetChargingProfileResponse{Status: ocpp16.ChargingProfileRejected}
	if req.ConnectorId < 0 || req.ConnectorId >= len(ch.connectors) {
		return reject
	}
	c, p := ch.connectors[req.ConnectorId], req.CsChargingProfiles
	switch p.ChargingProfilePurpose {
	case ocpp16.PurposeTxProfile:
		// Only for a running transaction, and that one if it is named.
		if c.id == 0 || c.tx == nil || (p.TransactionId != nil && (!c.tx.confirmed || *p.TransactionId != c.tx.id)) {
			return reject
		}
	case ocpp16.PurposeChargePointMaxProfile:
		if c.id != 0 {
			return reject
		}
	}
	ch.afterReply(conn, func() {
		for _, t := range ch.affected(c) {
			ch.accrueLocked(t)
		}
		ch.installProfileLocked(c, p)
		for _, t := range ch.affected(c) {
			ch.refreshStatusLocked(t)
		}
	})
	return ocpp16.SetChargingProfileResponse{Status: ocpp16.ChargingProfileAccepted}
}

// affected lists the connectors whose limit a profile on c can change.
func (ch *Charger) affected(c *connector) []*connector {
	if c.id == 0 {
		return ch.connectors[1:]
	}
	return []*connector{c}
}

func (ch *Charger) clearChargingProfile(conn *ocppj.Conn, req *ocpp16.ClearChargingProfileRequest) any {
	matches := func(c *connector, p ocpp16.ChargingProfile) bool {
		if req.Id != nil {
			return p.ChargingProfileId == *req.Id
		}
		return (req.ConnectorId == nil || *req.ConnectorId == c.id) &&
			(req.ChargingProfilePurpose == "" || req.ChargingProfilePurpose == p.ChargingProfilePurpose) &&
			(req.StackLevel == nil || *req.StackLevel == p.StackLevel)
	}
	found := false
	for _, c := range ch.connectors {
		for _, p := range c.profiles {
			found = found || matches(c, p)
		}
	}
	if !found {
		return ocpp16.ClearChargingProfileResponse{Status: ocpp16.ClearChargingProfileUnknown}
	}
	ch.afterReply(conn, func() {
		for _, c := range ch.connectors[1:] {
			ch.accrueLocked(c)
		}
		for _, c := range ch.connectors {
			kept := c.profiles[:0]
			for _, p := range c.profiles {
				if !matches(c, p) {
					kept = append(kept, p)
				}
			}
			c.profiles = kept
		}
		for _, c := range ch.connectors[1:] {
			ch.refreshStatusLocked(c)
		}
	})
	return ocpp16.ClearChargingProfileResponse{Status: ocpp16.ClearChargingProfileAccepted}
}

// getCompositeSchedule reports the limit in force now as a one-period
// schedule: the simulator does not plan ahead.
func (ch *Charger) getCompositeSchedule(_ *ocppj.Conn, req *ocpp16.GetCompositeScheduleRequest) any {
	if req.ConnectorId < 0 || req.ConnectorId >= len(ch.connectors) {
		return ocpp16.GetCompositeScheduleResponse{Status: ocpp16.CompositeScheduleRejected}
	}
	limit := ch.cfg.PowerW * len(ch.connectors[1:])
	if req.ConnectorId > 0 {
		limit = ch.cfg.PowerW
		if l, ok := ch.limitWLocked(ch.connectors[req.ConnectorId]); ok {
			limit = min(limit, l)
		}
	}
	unit, value := ocpp16.RateUnitW, float64(limit)
	if req.ChargingRateUnit == ocpp16.RateUnitA {
		unit, value = ocpp16.RateUnitA, float64(int(float64(limit)/voltsPerPhase/3*10))/10
	}
	start, id, duration := ch.now(), req.ConnectorId, req.Duration
	return ocpp16.GetCompositeScheduleResponse{
		Status: ocpp16.CompositeScheduleAccepted, ConnectorId: &id, ScheduleStart: &start,
		ChargingSchedule: &ocpp16.ChargingSchedule{Duration: &duration, StartSchedule: &start, ChargingRateUnit: unit,
			ChargingSchedulePeriod: []ocpp16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: value}}},
	}
}

func (ch *Charger) changeConfiguration(_ *ocppj.Conn, req *ocpp16.ChangeConfigurationRequest) any {
	before := ch.settings.meterInterval
	status := ch.settings.change(req.Key, req.Value)
	if status != ocpp16.ConfigurationAccepted {
		return ocpp16.ChangeConfigurationResponse{Status: status}
	}
	switch req.Key {
	case keyHeartbeatInterval:
		ch.setHeartbeatLocked(secondsOf(req.Value))
	case keyMeterValueSampleInterval:
		if ch.settings.meterInterval != before {
			for _, c := range ch.connectors[1:] {
				if c.tx != nil {
					ch.armMeterLocked(c, c.tx)
				}
			}
		}
	}
	return ocpp16.ChangeConfigurationResponse{Status: status}
}

func (ch *Charger) getConfiguration(_ *ocppj.Conn, req *ocpp16.GetConfigurationRequest) any {
	return ch.settings.get(req.Key)
}

func (ch *Charger) triggerMessage(conn *ocppj.Conn, req *ocpp16.TriggerMessageRequest) any {
	targets := ch.connectors
	if req.ConnectorId != nil {
		if *req.ConnectorId < 0 || *req.ConnectorId >= len(ch.connectors) {
			return ocpp16.TriggerMessageResponse{Status: ocpp16.TriggerRejected}
		}
		targets = ch.connectors[*req.ConnectorId : *req.ConnectorId+1]
	}
	var send func()
	switch req.RequestedMessage {
	case ocpp16.TriggerBootNotification:
		send = func() { ch.enqueueLocked(ch.triggeredBootMsg()) }
	case ocpp16.TriggerHeartbeat:
		send = func() { ch.enqueueLocked(heartbeatMsg()) }
	case ocpp16.TriggerStatusNotification:
		send = func() {
			for _, c := range targets {
				ch.enqueueLocked(ch.statusMsgLocked(c))
			}
		}
	case ocpp16.TriggerMeterValues:
		send = func() {
			for _, c := range targets {
				if c.id == 0 {
					continue
				}
				ch.accrueLocked(c)
				ch.enqueueLocked(ch.meterValuesMsg(c, ch.sampleLocked(c, ocpp16.ContextTrigger)))
			}
		}
	default: // the Firmware Management profile, which the simulator lacks
		return ocpp16.TriggerMessageResponse{Status: ocpp16.TriggerNotImplemented}
	}
	ch.afterReply(conn, send)
	return ocpp16.TriggerMessageResponse{Status: ocpp16.TriggerAccepted}
}

// reset stops every transaction (reason SoftReset or HardReset) and
// reboots. A soft reset sends the StopTransactions first; a hard one goes
// down at once and delivers them after booting again.
func (ch *Charger) reset(conn *ocppj.Conn, req *ocpp16.ResetRequest) any {
	hard := req.Type == ocpp16.ResetHard
	ch.afterReply(conn, func() {
		reason := ocpp16.ReasonSoftReset
		if hard {
			reason = ocpp16.ReasonHardReset
			ch.enqueueLocked(ch.rebootMsg(true))
		}
		for _, c := range ch.connectors[1:] {
			if c.tx != nil {
				ch.stopTransactionLocked(c, reason, "")
			}
		}
		if !hard {
			ch.enqueueLocked(ch.rebootMsg(false))
		}
	})
	return ocpp16.ResetResponse{Status: ocpp16.ResetAccepted}
}

// unlockConnector ends the connector's transaction (reason UnlockCommand)
// and releases the cable, so the car is unplugged.
func (ch *Charger) unlockConnector(conn *ocppj.Conn, req *ocpp16.UnlockConnectorRequest) any {
	c, err := ch.connectorLocked(req.ConnectorId)
	if err != nil {
		return ocpp16.UnlockConnectorResponse{Status: ocpp16.UnlockNotSupported}
	}
	ch.afterReply(conn, func() {
		if c.tx != nil {
			ch.stopTransactionLocked(c, ocpp16.ReasonUnlockCommand, "")
		}
		c.plugged, c.finishing = false, false
		ch.refreshStatusLocked(c)
	})
	return ocpp16.UnlockConnectorResponse{Status: ocpp16.UnlockUnlocked}
}

// changeAvailability applies at once to idle connectors and is Scheduled
// for those in a transaction, which become Unavailable when it ends.
func (ch *Charger) changeAvailability(conn *ocppj.Conn, req *ocpp16.ChangeAvailabilityRequest) any {
	if req.ConnectorId < 0 || req.ConnectorId >= len(ch.connectors) {
		return ocpp16.ChangeAvailabilityResponse{Status: ocpp16.AvailabilityRejected}
	}
	targets := []*connector{ch.connectors[req.ConnectorId]}
	if req.ConnectorId == 0 {
		targets = ch.connectors
	}
	operative := req.Type == ocpp16.AvailabilityOperative
	status := ocpp16.AvailabilityAccepted
	for _, c := range targets {
		if !operative && c.tx != nil {
			status = ocpp16.AvailabilityScheduled
		}
	}
	ch.afterReply(conn, func() {
		if req.ConnectorId == 0 {
			ch.operative = operative
		}
		for _, c := range targets {
			switch {
			case operative:
				c.operative, c.inoperativeDue = true, false
			case c.tx != nil:
				c.inoperativeDue = true
			default:
				c.operative = false
			}
		}
		for _, c := range ch.connectors {
			ch.refreshStatusLocked(c)
		}
	})
	return ocpp16.ChangeAvailabilityResponse{Status: status}
}
