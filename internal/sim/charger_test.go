package sim

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocpp16/ocpptest"
	"github.com/joule-ev/joule/internal/ocppj"
)

func TestBootStatusAndHeartbeat(t *testing.T) {
	e := newEnv(t, ocpptest.Options{HeartbeatInterval: 3 * time.Second})
	ch := e.start(ChargerConfig{Identity: "CP1", Connectors: 2, HeartbeatInterval: 100 * time.Millisecond})
	for c := 0; c <= 2; c++ {
		e.waitStatus("CP1", c, ocpp16.StatusAvailable)
	}
	boot := e.srv.Events("CP1")[0].Request.(*ocpp16.BootNotificationRequest)
	if boot.ChargePointVendor != "Joule" || boot.ChargePointModel != "Sim" {
		t.Errorf("boot %+v", boot)
	}
	e.waitAction("CP1", ocpp16.ActionHeartbeat)
	if s := ch.Snapshot(); s.HeartbeatInterval != 100*time.Millisecond || !s.Connected || s.Boots != 1 {
		t.Errorf("snapshot %+v", s)
	}
}

func TestHeartbeatIntervalFromServer(t *testing.T) {
	e := newEnv(t, ocpptest.Options{HeartbeatInterval: time.Second})
	ch, _ := e.fleet.Add(ChargerConfig{Identity: "CP1"})
	_ = ch.Start(e.ctx)
	_ = ch.WaitBooted(e.ctx)
	if got := ch.Snapshot().HeartbeatInterval; got != time.Second {
		t.Fatalf("heartbeat interval %v, want the server's 1s", got)
	}
	e.waitAction("CP1", ocpp16.ActionHeartbeat)
}

func TestBootRetriedWhilePending(t *testing.T) {
	var boots atomic.Int32
	e := newEnv(t, ocpptest.Options{
		RetryInterval: time.Second,
		Registration: func(string, *ocpp16.BootNotificationRequest) ocpp16.RegistrationStatus {
			if boots.Add(1) == 1 {
				return ocpp16.RegistrationPending
			}
			return ocpp16.RegistrationAccepted
		},
	})
	start := time.Now()
	e.start(ChargerConfig{Identity: "CP1"})
	if boots.Load() != 2 || time.Since(start) < time.Second {
		t.Errorf("%d boots in %v; want a retry after the 1s interval", boots.Load(), time.Since(start))
	}
	// Nothing but BootNotification before the accept.
	if a := e.srv.Actions("CP1"); a[0] != ocpp16.ActionBootNotification || a[1] != ocpp16.ActionBootNotification {
		t.Errorf("actions %v", a)
	}
}

func TestRemoteStartAndStop(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", PowerW: 36000, MeterStartWh: 5000})
	if st := e.remoteStart("CP1"); st != ocpp16.RemoteAccepted {
		t.Fatalf("RemoteStart %s", st)
	}
	e.waitStatus("CP1", 1, ocpp16.StatusCharging)
	tx := e.startedTx(ch)
	start := e.waitAction("CP1", ocpp16.ActionStartTransaction).Request.(*ocpp16.StartTransactionRequest)
	if start.IdTag != "REMOTE1" || start.MeterStart != 5000 || start.ConnectorId != 1 {
		t.Errorf("StartTransaction %+v", start)
	}
	// Preparing -> StartTransaction -> Charging, in that order.
	evs := e.srv.Events("CP1")
	prep, st, chg := indexOf(evs, isStatus(1, ocpp16.StatusPreparing)), indexOf(evs, isAction(ocpp16.ActionStartTransaction)),
		indexOf(evs, isStatus(1, ocpp16.StatusCharging))
	if !(prep >= 0 && prep < st && st < chg) {
		t.Errorf("order: Preparing %d, StartTransaction %d, Charging %d", prep, st, chg)
	}
	// Meter values with a rising register.
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { return s.Connector(1).MeterWh > 5002 }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	samples := e.meterSamples("CP1", tx)
	if len(samples) < 2 || !slices.IsSorted(samples) || samples[len(samples)-1] <= 5000 {
		t.Fatalf("meter samples %v", samples)
	}
	mv := e.waitAction("CP1", ocpp16.ActionMeterValues).Request.(*ocpp16.MeterValuesRequest)
	r, err := ocpp16.ReadMeterValue(mv.MeterValue[0])
	if err != nil || !r.HasPower || r.PowerW.IntPart() != 36000 || !r.HasSoC {
		t.Errorf("meter value %+v (%v)", r, err)
	}

	if st := e.remoteStop("CP1", tx); st != ocpp16.RemoteAccepted {
		t.Fatalf("RemoteStop %s", st)
	}
	stopEv := e.waitAction("CP1", ocpp16.ActionStopTransaction)
	stop := stopEv.Request.(*ocpp16.StopTransactionRequest)
	if stop.Reason != ocpp16.ReasonRemote || stop.TransactionId != tx || int64(stop.MeterStop) < samples[len(samples)-1] {
		t.Errorf("StopTransaction %+v after samples %v", stop, samples)
	}
	e.waitStatusAfter("CP1", stopEv.Seq, 1, ocpp16.StatusAvailable)
	evs = e.srv.Events("CP1")
	stopAt := indexOf(evs, isAction(ocpp16.ActionStopTransaction))
	fin := indexOf(evs[stopAt:], isStatus(1, ocpp16.StatusFinishing))
	avail := indexOf(evs[stopAt:], isStatus(1, ocpp16.StatusAvailable))
	if !(fin > 0 && fin < avail) {
		t.Errorf("after StopTransaction: Finishing %d, Available %d; statuses %v", fin, avail, e.statuses("CP1", 1))
	}

	// The register carries over to the next transaction.
	if st := e.remoteStart("CP1"); st != ocpp16.RemoteAccepted {
		t.Fatal(st)
	}
	next, err := e.srv.WaitEvent(e.ctx, "CP1", func(ev ocpptest.Event) bool {
		r, ok := ev.Request.(*ocpp16.StartTransactionRequest)
		return ok && r.Timestamp.After(start.Timestamp)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := next.Request.(*ocpp16.StartTransactionRequest).MeterStart; got != stop.MeterStop {
		t.Errorf("second meterStart %d, want the first meterStop %d", got, stop.MeterStop)
	}
}

func TestRemoteCommandsRejectedWhenImpossible(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	e.start(ChargerConfig{Identity: "CP1"})
	if st := e.remoteStop("CP1", 12345); st != ocpp16.RemoteRejected {
		t.Errorf("stop of an unknown transaction: %s", st)
	}
	seven := 7
	resp, err := ocpptest.Call[ocpp16.RemoteStartTransactionResponse](e.ctx, e.srv, "CP1",
		&ocpp16.RemoteStartTransactionRequest{ConnectorId: &seven, IdTag: "X"})
	if err != nil || resp.Status != ocpp16.RemoteRejected {
		t.Errorf("start on a missing connector: %v %v", resp, err)
	}
	e.remoteStart("CP1")
	e.waitStatus("CP1", 1, ocpp16.StatusCharging)
	if st := e.remoteStart("CP1"); st != ocpp16.RemoteRejected {
		t.Errorf("start on a busy connector: %s", st)
	}
	// An action of another OCPP 1.6 profile is NotSupported.
	c, _ := e.srv.WaitConnected(e.ctx, "CP1")
	_, err = c.Call(e.ctx, "ReserveNow", map[string]any{})
	if ce, ok := ocppj.AsError(err); !ok || ce.Code != ocppj.NotSupported {
		t.Errorf("ReserveNow: %v", err)
	}
}

func TestLocalStartStop(t *testing.T) {
	e := newEnv(t, ocpptest.Options{Authorize: func(_, idTag string) ocpp16.AuthorizationStatus {
		if idTag == "BLOCKED" {
			return ocpp16.AuthorizationBlocked
		}
		return ocpp16.AuthorizationAccepted
	}})
	ch := e.start(ChargerConfig{Identity: "CP1"})
	if err := ch.LocalStart(e.ctx, 1, "BLOCKED"); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("LocalStart with a blocked tag: %v", err)
	}
	if err := ch.LocalStart(e.ctx, 1, "DRIVER1"); err != nil {
		t.Fatal(err)
	}
	tx := e.startedTx(ch)
	if err := ch.LocalStop(1); err != nil {
		t.Fatal(err)
	}
	stop := e.waitStop("CP1")
	if stop.Reason != ocpp16.ReasonLocal || stop.IdTag != "DRIVER1" || stop.TransactionId != tx {
		t.Errorf("StopTransaction %+v", stop)
	}
	starts := 0
	for _, a := range e.srv.Actions("CP1") {
		if a == ocpp16.ActionStartTransaction {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("%d StartTransactions; the blocked tag must not start one", starts)
	}
	a := e.srv.Actions("CP1")
	if i := slices.Index(a, ocpp16.ActionAuthorize); i < 0 || i > slices.Index(a, ocpp16.ActionStartTransaction) {
		t.Errorf("Authorize must precede StartTransaction: %v", a)
	}
}

func TestStartRefusedByCentralSystemStops(t *testing.T) {
	e := newEnv(t, ocpptest.Options{Authorize: func(_, idTag string) ocpp16.AuthorizationStatus {
		return ocpp16.AuthorizationInvalid
	}})
	e.start(ChargerConfig{Identity: "CP1"})
	e.remoteStart("CP1")
	if stop := e.waitStop("CP1"); stop.Reason != ocpp16.ReasonDeAuthorized {
		t.Errorf("StopTransaction %+v, want reason DeAuthorized", stop)
	}
}

func TestChargingProfilesSuspendAndResume(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", PowerW: 11000})
	e.remoteStart("CP1")
	tx := e.startedTx(ch)
	setLimit := func(limit float64) ocpp16.ChargingProfileStatus {
		resp, err := ocpptest.Call[ocpp16.SetChargingProfileResponse](e.ctx, e.srv, "CP1", &ocpp16.SetChargingProfileRequest{
			ConnectorId: 1,
			CsChargingProfiles: ocpp16.ChargingProfile{ChargingProfileId: 1, TransactionId: &tx, StackLevel: 0,
				ChargingProfilePurpose: ocpp16.PurposeTxProfile, ChargingProfileKind: ocpp16.KindRelative,
				ChargingSchedule: ocpp16.ChargingSchedule{ChargingRateUnit: ocpp16.RateUnitW,
					ChargingSchedulePeriod: []ocpp16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: limit}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	if st := setLimit(0); st != ocpp16.ChargingProfileAccepted {
		t.Fatalf("pause: %s", st)
	}
	e.waitStatus("CP1", 1, ocpp16.StatusSuspendedEVSE)
	paused := ch.Snapshot().Connector(1)
	time.Sleep(200 * time.Millisecond)
	if now := ch.Snapshot().Connector(1); now.MeterWh != paused.MeterWh || now.PowerW != 0 || now.Status != ocpp16.StatusSuspendedEVSE {
		t.Errorf("paused meter went from %+v to %+v", paused, now)
	}
	if st := setLimit(3700); st != ocpp16.ChargingProfileAccepted {
		t.Fatalf("resume: %s", st)
	}
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool {
		return s.Connector(1).Status == ocpp16.StatusCharging && s.Connector(1).PowerW == 3700
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := ocpptest.Call[ocpp16.ClearChargingProfileResponse](e.ctx, e.srv, "CP1", &ocpp16.ClearChargingProfileRequest{})
	if err != nil || resp.Status != ocpp16.ClearChargingProfileAccepted {
		t.Fatalf("clear: %v %v", resp, err)
	}
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { return s.Connector(1).PowerW == 11000 }); err != nil {
		t.Fatal(err)
	}
	resp, _ = ocpptest.Call[ocpp16.ClearChargingProfileResponse](e.ctx, e.srv, "CP1", &ocpp16.ClearChargingProfileRequest{})
	if resp.Status != ocpp16.ClearChargingProfileUnknown {
		t.Errorf("clearing nothing: %s", resp.Status)
	}
	// A TxProfile needs a transaction.
	other := tx + 1
	resp2, _ := ocpptest.Call[ocpp16.SetChargingProfileResponse](e.ctx, e.srv, "CP1", &ocpp16.SetChargingProfileRequest{
		ConnectorId: 1, CsChargingProfiles: ocpp16.ChargingProfile{ChargingProfileId: 2, TransactionId: &other,
			ChargingProfilePurpose: ocpp16.PurposeTxProfile, ChargingProfileKind: ocpp16.KindRelative,
			ChargingSchedule: ocpp16.ChargingSchedule{ChargingRateUnit: ocpp16.RateUnitA,
				ChargingSchedulePeriod: []ocpp16.ChargingSchedulePeriod{{Limit: 6}}}},
	})
	if resp2.Status != ocpp16.ChargingProfileRejected {
		t.Errorf("TxProfile for another transaction: %s", resp2.Status)
	}
}

func TestConfigurationKeys(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", Connectors: 2})
	get, err := ocpptest.Call[ocpp16.GetConfigurationResponse](e.ctx, e.srv, "CP1",
		&ocpp16.GetConfigurationRequest{Key: []string{"NumberOfConnectors", "Bogus"}})
	if err != nil || len(get.ConfigurationKey) != 1 || *get.ConfigurationKey[0].Value != "2" ||
		!get.ConfigurationKey[0].Readonly || !slices.Equal(get.UnknownKey, []string{"Bogus"}) {
		t.Fatalf("GetConfiguration: %+v %v", get, err)
	}
	all, _ := ocpptest.Call[ocpp16.GetConfigurationResponse](e.ctx, e.srv, "CP1", &ocpp16.GetConfigurationRequest{})
	if len(all.ConfigurationKey) != len(keyDefs) {
		t.Errorf("all keys: %d, want %d", len(all.ConfigurationKey), len(keyDefs))
	}
	change := func(key, value string) ocpp16.ConfigurationStatus {
		resp, err := ocpptest.Call[ocpp16.ChangeConfigurationResponse](e.ctx, e.srv, "CP1",
			&ocpp16.ChangeConfigurationRequest{Key: key, Value: value})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	for _, c := range []struct {
		key, value string
		want       ocpp16.ConfigurationStatus
	}{
		{"Bogus", "1", ocpp16.ConfigurationNotSupported},
		{"NumberOfConnectors", "3", ocpp16.ConfigurationRejected},
		{"MeterValueSampleInterval", "soon", ocpp16.ConfigurationRejected},
		{"StopTransactionOnEVSideDisconnect", "maybe", ocpp16.ConfigurationRejected},
		{"MeterValueSampleInterval", "1", ocpp16.ConfigurationAccepted},
		{"HeartbeatInterval", "1", ocpp16.ConfigurationAccepted},
		{"StopTransactionOnEVSideDisconnect", "FALSE", ocpp16.ConfigurationAccepted},
	} {
		if got := change(c.key, c.value); got != c.want {
			t.Errorf("ChangeConfiguration %s=%s: %s, want %s", c.key, c.value, got, c.want)
		}
	}
	if ch.Snapshot().HeartbeatInterval != time.Second {
		t.Errorf("HeartbeatInterval not applied: %v", ch.Snapshot().HeartbeatInterval)
	}
	// MeterValueSampleInterval 1s: samples a second apart.
	e.remoteStart("CP1")
	tx := e.startedTx(ch)
	first := e.waitAction("CP1", ocpp16.ActionMeterValues)
	second, err := e.srv.WaitEvent(e.ctx, "CP1", func(ev ocpptest.Event) bool {
		return ev.Action == ocpp16.ActionMeterValues && ev.Seq > first.Seq
	})
	if err != nil {
		t.Fatal(err)
	}
	gap := second.Request.(*ocpp16.MeterValuesRequest).MeterValue[0].Timestamp.Sub(first.Request.(*ocpp16.MeterValuesRequest).MeterValue[0].Timestamp)
	if gap < 900*time.Millisecond || gap > 1500*time.Millisecond {
		t.Errorf("samples %v apart, want 1s", gap)
	}
	// StopTransactionOnEVSideDisconnect=false: unplugging suspends instead.
	if err := ch.Unplug(1); err != nil {
		t.Fatal(err)
	}
	ev := e.waitStatus("CP1", 1, ocpp16.StatusSuspendedEV)
	if info := ev.Request.(*ocpp16.StatusNotificationRequest).Info; info != "EV side disconnected" {
		t.Errorf("info %q", info)
	}
	e.noAction("CP1", ocpp16.ActionStopTransaction, 200*time.Millisecond)
	if err := ch.Plug(1); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("CP1", 1, ocpp16.StatusCharging)
	if s := ch.Snapshot().Connector(1); s.TransactionID != tx {
		t.Errorf("transaction after replug %+v", s)
	}
}

func TestTriggerMessage(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1"})
	trigger := func(m ocpp16.MessageTrigger, connector *int) ocpp16.TriggerMessageStatus {
		resp, err := ocpptest.Call[ocpp16.TriggerMessageResponse](e.ctx, e.srv, "CP1",
			&ocpp16.TriggerMessageRequest{RequestedMessage: m, ConnectorId: connector})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	one, nine := 1, 9
	e.waitStatus("CP1", 1, ocpp16.StatusAvailable)
	before := len(e.srv.Events("CP1"))
	if st := trigger(ocpp16.TriggerStatusNotification, &one); st != ocpp16.TriggerAccepted {
		t.Fatal(st)
	}
	if st := trigger(ocpp16.TriggerMeterValues, &one); st != ocpp16.TriggerAccepted {
		t.Fatal(st)
	}
	if st := trigger(ocpp16.TriggerHeartbeat, nil); st != ocpp16.TriggerAccepted {
		t.Fatal(st)
	}
	if st := trigger(ocpp16.TriggerBootNotification, nil); st != ocpp16.TriggerAccepted {
		t.Fatal(st)
	}
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { return s.Boots == 2 }); err != nil {
		t.Fatal(err)
	}
	if st := trigger(ocpp16.TriggerDiagnosticsStatusNotification, nil); st != ocpp16.TriggerNotImplemented {
		t.Errorf("diagnostics: %s", st)
	}
	if st := trigger(ocpp16.TriggerStatusNotification, &nine); st != ocpp16.TriggerRejected {
		t.Errorf("missing connector: %s", st)
	}
	var got []string
	for _, ev := range e.srv.Events("CP1")[before:] {
		got = append(got, ev.Action)
	}
	want := []string{ocpp16.ActionStatusNotification, ocpp16.ActionMeterValues, ocpp16.ActionHeartbeat, ocpp16.ActionBootNotification}
	if len(got) < 4 || !slices.Equal(got[:4], want) {
		t.Errorf("triggered %v, want %v first", got, want)
	}
	mv := e.srv.Events("CP1")[before+1].Request.(*ocpp16.MeterValuesRequest)
	if mv.TransactionId != nil || mv.MeterValue[0].SampledValue[0].Context != ocpp16.ContextTrigger {
		t.Errorf("triggered meter value %+v", mv)
	}
}

func TestResetUnlockAndAvailability(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", Connectors: 2})

	// ChangeAvailability: idle connector at once, busy one Scheduled.
	two := 2
	avail := func(connector int, typ ocpp16.AvailabilityType) ocpp16.AvailabilityStatus {
		resp, err := ocpptest.Call[ocpp16.ChangeAvailabilityResponse](e.ctx, e.srv, "CP1",
			&ocpp16.ChangeAvailabilityRequest{ConnectorId: connector, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	if st := avail(two, ocpp16.AvailabilityInoperative); st != ocpp16.AvailabilityAccepted {
		t.Fatal(st)
	}
	e.waitStatus("CP1", 2, ocpp16.StatusUnavailable)
	e.remoteStart("CP1")
	tx := e.startedTx(ch)
	if st := avail(1, ocpp16.AvailabilityInoperative); st != ocpp16.AvailabilityScheduled {
		t.Errorf("busy connector: %s", st)
	}

	// UnlockConnector ends the transaction, then Unavailable as scheduled.
	resp, err := ocpptest.Call[ocpp16.UnlockConnectorResponse](e.ctx, e.srv, "CP1", &ocpp16.UnlockConnectorRequest{ConnectorId: 1})
	if err != nil || resp.Status != ocpp16.UnlockUnlocked {
		t.Fatalf("unlock %v %v", resp, err)
	}
	if stop := e.waitStop("CP1"); stop.Reason != ocpp16.ReasonUnlockCommand || stop.TransactionId != tx {
		t.Errorf("StopTransaction %+v", stop)
	}
	e.waitStatus("CP1", 1, ocpp16.StatusUnavailable)
	if st := avail(0, ocpp16.AvailabilityOperative); st != ocpp16.AvailabilityAccepted {
		t.Fatal(st)
	}
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool {
		return s.Connector(1).Status == ocpp16.StatusAvailable && s.Connector(2).Status == ocpp16.StatusAvailable
	}); err != nil {
		t.Fatal(err)
	}

	// Soft reset during a transaction: StopTransaction(SoftReset), reconnect, boot again.
	e.remoteStart("CP1")
	e.startedTx(ch)
	rr, err := ocpptest.Call[ocpp16.ResetResponse](e.ctx, e.srv, "CP1", &ocpp16.ResetRequest{Type: ocpp16.ResetSoft})
	if err != nil || rr.Status != ocpp16.ResetAccepted {
		t.Fatalf("reset %v %v", rr, err)
	}
	if _, err := e.srv.WaitEvent(e.ctx, "CP1", func(ev ocpptest.Event) bool {
		r, ok := ev.Request.(*ocpp16.StopTransactionRequest)
		return ok && r.Reason == ocpp16.ReasonSoftReset
	}); err != nil {
		t.Fatal(err)
	}
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { return s.Boots == 2 }); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Connects("CP1"); n != 2 {
		t.Errorf("%d connections, want a reconnect after the reset", n)
	}
}

func TestCallErrorOnTransactionMessageIsRetried(t *testing.T) {
	var refused atomic.Int32
	e := newEnv(t, ocpptest.Options{Refuse: func(_, action string) *ocppj.Error {
		if action == ocpp16.ActionStartTransaction && refused.Add(1) <= 2 {
			return ocppj.Errorf(ocppj.InternalError, "database busy")
		}
		return nil
	}})
	ch := e.start(ChargerConfig{Identity: "CP1"})
	if err := ch.LocalStart(e.ctx, 1, "TAG"); err != nil {
		t.Fatal(err)
	}
	e.startedTx(ch)
	if refused.Load() != 3 {
		t.Errorf("StartTransaction tried %d times, want 3", refused.Load())
	}
	if s := ch.Stats(); s.CallErrors != 2 || s.Failures != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestBasicAuth(t *testing.T) {
	e := newEnv(t, ocpptest.Options{CheckAuth: func(identity, user, pass string, ok bool) bool {
		return ok && user == identity && pass == "secret-"+identity
	}})
	e.start(ChargerConfig{Identity: "CP1", Password: "secret-CP1"})
	bad, _ := e.fleet.Add(ChargerConfig{Identity: "CP2", Password: "wrong"})
	_ = bad.Start(e.ctx)
	ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
	defer cancel()
	if err := bad.WaitBooted(ctx); err == nil {
		t.Fatal("a charger with the wrong password booted")
	}
	if s := bad.Stats(); s.ConnectFailures == 0 || s.Connects != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestStatsHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}} {
		got := h.quantile(c.q)
		if diff := got - c.want; diff < -c.want/16 || diff > c.want/16 {
			t.Errorf("q%.2f = %v, want %v ±6%%", c.q, got, c.want)
		}
	}
	for us := uint64(0); us < 1<<30; us = us*3/2 + 1 {
		if v := bucketValue(bucketOf(us)); float64(v) < float64(us)*0.93 || float64(v) > float64(us)*1.07+1 {
			t.Fatalf("bucket of %dµs holds %dµs", us, v)
		}
	}
}

func TestParseBehavior(t *testing.T) {
	if b, err := ParseBehavior(" Stop-Fails "); err != nil || b != BehaviorStopFails {
		t.Errorf("%v %v", b, err)
	}
	if _, err := ParseBehavior("explode"); err == nil {
		t.Error("unknown behaviour accepted")
	}
}
