package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocpp16/ocpptest"
)

// Each behaviour as the central system sees it (the sandbox error chargers
// of spec 003 are the first four).

func TestBehaviorStartHangs(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	e.start(ChargerConfig{Identity: "E6mayTt", Behavior: BehaviorStartHangs})
	if st := e.remoteStart("E6mayTt"); st != ocpp16.RemoteAccepted {
		t.Fatalf("RemoteStart %s, want Accepted", st)
	}
	e.waitStatus("E6mayTt", 1, ocpp16.StatusPreparing)
	e.noAction("E6mayTt", ocpp16.ActionStartTransaction, 500*time.Millisecond)
}

func TestBehaviorStartFails(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	e.start(ChargerConfig{Identity: "E9svnVs", Behavior: BehaviorStartFails})
	if st := e.remoteStart("E9svnVs"); st != ocpp16.RemoteRejected {
		t.Fatalf("RemoteStart %s, want Rejected", st)
	}
	e.noAction("E9svnVs", ocpp16.ActionStartTransaction, 300*time.Millisecond)
	if slices.Contains(e.statuses("E9svnVs", 1), ocpp16.StatusPreparing) {
		t.Error("a rejected start must not prepare")
	}
}

func TestBehaviorStopIgnored(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "E4JanRe", Behavior: BehaviorStopIgnored})
	e.remoteStart("E4JanRe")
	tx := e.startedTx(ch)
	if st := e.remoteStop("E4JanRe", tx); st != ocpp16.RemoteRejected {
		t.Fatalf("RemoteStop %s, want Rejected", st)
	}
	before := len(e.meterSamples("E4JanRe", tx))
	e.noAction("E4JanRe", ocpp16.ActionStopTransaction, 300*time.Millisecond)
	if after := e.meterSamples("E4JanRe", tx); len(after) <= before {
		t.Errorf("meter values stopped: %d then %d", before, len(after))
	}
	if st := ch.Status(1); st != ocpp16.StatusCharging {
		t.Errorf("status %s, want still Charging", st)
	}
}

func TestBehaviorStopFails(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "E8vsnVn", Behavior: BehaviorStopFails})
	e.remoteStart("E8vsnVn")
	tx := e.startedTx(ch)
	if st := e.remoteStop("E8vsnVn", tx); st != ocpp16.RemoteAccepted {
		t.Fatalf("RemoteStop %s, want Accepted", st)
	}
	e.noAction("E8vsnVn", ocpp16.ActionStopTransaction, 400*time.Millisecond)
	samples := e.meterSamples("E8vsnVn", tx)
	if len(samples) < 2 || samples[len(samples)-1] <= samples[0] {
		t.Errorf("the charger should keep charging, samples %v", samples)
	}
	// The driver can still end it by unplugging.
	_ = ch.Unplug(1)
	if stop := e.waitStop("E8vsnVn"); stop.Reason != ocpp16.ReasonEVDisconnected {
		t.Errorf("StopTransaction %+v", stop)
	}
}

func TestBehaviorUnplugAfter(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", Behavior: BehaviorUnplugAfter, After: 300 * time.Millisecond})
	e.remoteStart("CP1")
	tx := e.startedTx(ch)
	ev := e.waitAction("CP1", ocpp16.ActionStopTransaction)
	stop := ev.Request.(*ocpp16.StopTransactionRequest)
	if stop.Reason != ocpp16.ReasonEVDisconnected || stop.TransactionId != tx {
		t.Errorf("StopTransaction %+v", stop)
	}
	start := e.waitAction("CP1", ocpp16.ActionStartTransaction).Request.(*ocpp16.StartTransactionRequest)
	if d := stop.Timestamp.Sub(start.Timestamp); d < 300*time.Millisecond || d > time.Second {
		t.Errorf("unplugged %v after the start, want 300ms", d)
	}
	e.waitStatusAfter("CP1", ev.Seq, 1, ocpp16.StatusAvailable)
	if slices.Contains(e.statuses("CP1", 1), ocpp16.StatusFinishing) {
		t.Error("an unplug goes straight to Available")
	}
}

// TestBehaviorOffline: the charger drops off mid-transaction, keeps
// metering, comes back and delivers what it queued, in order, with the
// timestamps of when it happened.
func TestBehaviorOffline(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", Behavior: BehaviorOffline, After: 150 * time.Millisecond,
		OfflineFor: 600 * time.Millisecond, MeterInterval: 50 * time.Millisecond})
	e.remoteStart("CP1")
	tx := e.startedTx(ch)
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { return !s.Connected }); err != nil {
		t.Fatal(err)
	}
	wentAt := time.Now()
	time.Sleep(200 * time.Millisecond)
	if err := ch.LocalStop(1); err != nil { // stops while offline
		t.Fatal(err)
	}
	if q := ch.Snapshot().Queued; q < 3 {
		t.Errorf("only %d messages queued while offline", q)
	}
	ev := e.waitStop("CP1")
	if ev.TransactionId != tx {
		t.Errorf("StopTransaction %+v", ev)
	}
	if e.srv.Connects("CP1") != 2 {
		t.Errorf("connects %d", e.srv.Connects("CP1"))
	}
	checkQueuedDelivery(t, e, "CP1", wentAt)
}

// checkQueuedDelivery checks the MeterValues and StopTransaction made
// while offline: delivered after the reconnect, in order, each stamped
// when it was made (well before it arrived).
func checkQueuedDelivery(t *testing.T, e *env, id string, wentAt time.Time) {
	t.Helper()
	var last time.Time
	queued := 0
	for _, ev := range e.srv.Events(id) {
		var stamp time.Time
		switch r := ev.Request.(type) {
		case *ocpp16.MeterValuesRequest:
			stamp = r.MeterValue[0].Timestamp
		case *ocpp16.StopTransactionRequest:
			stamp = r.Timestamp
		case *ocpp16.StartTransactionRequest:
			stamp = r.Timestamp
		default:
			continue
		}
		if stamp.Before(last) {
			t.Errorf("%s stamped %v arrived after one stamped %v", ev.Action, stamp, last)
		}
		last = stamp
		if stamp.After(wentAt) && ev.At.Sub(stamp) > 150*time.Millisecond {
			queued++
		}
	}
	if queued < 3 {
		t.Errorf("only %d messages look queued (arrived well after their timestamp)", queued)
	}
}

// TestOfflineQueueHoldsAWholeTransaction: started, metered and stopped
// while offline, the transaction arrives complete after the reconnect;
// its MeterValues and StopTransaction carry the id the central system
// gives the late StartTransaction.
func TestOfflineQueueHoldsAWholeTransaction(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", MeterInterval: 50 * time.Millisecond})
	e.waitStatus("CP1", 1, ocpp16.StatusAvailable)
	ch.GoOffline(700 * time.Millisecond)
	wentAt := time.Now()
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { return !s.Connected }); err != nil {
		t.Fatal(err)
	}
	if err := ch.LocalStart(e.ctx, 1, "OFFLINE1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	if err := ch.Unplug(1); err != nil {
		t.Fatal(err)
	}
	stop := e.waitStop("CP1")
	start := e.waitAction("CP1", ocpp16.ActionStartTransaction).Request.(*ocpp16.StartTransactionRequest)
	txs := e.srv.Transactions("CP1")
	if len(txs) != 1 || stop.TransactionId != txs[0].ID || start.IdTag != "OFFLINE1" {
		t.Fatalf("transactions %+v, stop %+v", txs, stop)
	}
	if len(txs[0].MeterValues) < 3 {
		t.Errorf("%d meter values reached the transaction", len(txs[0].MeterValues))
	}
	if slices.Contains(e.srv.Actions("CP1"), ocpp16.ActionAuthorize) {
		t.Error("an offline start cannot authorize online")
	}
	checkQueuedDelivery(t, e, "CP1", wentAt)
}

func TestBehaviorReconnect(t *testing.T) {
	e := newEnv(t, ocpptest.Options{})
	ch := e.start(ChargerConfig{Identity: "CP1", Behavior: BehaviorReconnect, After: 200 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Connects("CP1") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.srv.Connects("CP1"); n != 2 {
		t.Fatalf("connects %d, want 2", n)
	}
	if err := ch.WaitFor(e.ctx, func(s Snapshot) bool { return s.Connected }); err != nil {
		t.Fatal(err)
	}
	boots := 0
	for _, a := range e.srv.Actions("CP1") {
		if a == ocpp16.ActionBootNotification {
			boots++
		}
	}
	if boots != 1 {
		t.Errorf("%d BootNotifications; a reconnect is not a reboot", boots)
	}
	// Still fully usable on the new connection.
	e.remoteStart("CP1")
	e.startedTx(ch)
}
