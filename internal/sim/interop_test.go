// The interop test runs the charge-point side of lorenzodonini/ocpp-go, an
// OCPP 1.6J implementation nobody here wrote, against our central-system
// side, to prove wire compatibility.

package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	ocppgoerr "github.com/lorenzodonini/ocpp-go/ocpp"
	ocppgo "github.com/lorenzodonini/ocpp-go/ocpp1.6"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/core"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/firmware"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/types"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocpp16/ocpptest"
)

// TestInteropWithOCPPGoChargePoint connects the charge point of
// github.com/lorenzodonini/ocpp-go, an implementation written elsewhere, to
// a central system built on our ocppj and ocpp16, and runs a whole
// transaction plus commands the other way: proof of wire compatibility.
func TestInteropWithOCPPGoChargePoint(t *testing.T) {
	srv, err := ocpptest.Start(ocpptest.Options{HeartbeatInterval: 300 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	cp := ocppgo.NewChargePoint("OCPPGO1", nil, nil)
	cp.SetCoreHandler(&ocppGoHandler{t: t})
	if err := cp.Start(srv.URL); err != nil {
		t.Fatalf("ocpp-go could not connect: %v", err)
	}
	defer cp.Stop()

	boot, err := cp.BootNotification("Model-X", "Vendor-Y", func(r *core.BootNotificationRequest) { r.FirmwareVersion = "1.2.3" })
	if err != nil || boot.Status != core.RegistrationStatusAccepted || boot.Interval != 300 || boot.CurrentTime == nil {
		t.Fatalf("BootNotification: %+v %v", boot, err)
	}
	hb, err := cp.Heartbeat()
	if err != nil || hb.CurrentTime == nil || time.Since(hb.CurrentTime.Time) > time.Minute {
		t.Fatalf("Heartbeat: %+v %v", hb, err)
	}
	if _, err := cp.StatusNotification(1, core.NoError, core.ChargePointStatusPreparing); err != nil {
		t.Fatalf("StatusNotification: %v", err)
	}
	auth, err := cp.Authorize("TAG-42")
	if err != nil || auth.IdTagInfo == nil || auth.IdTagInfo.Status != types.AuthorizationStatusAccepted {
		t.Fatalf("Authorize: %+v %v", auth, err)
	}
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	st, err := cp.StartTransaction(1, "TAG-42", 1000, types.NewDateTime(started))
	if err != nil || st.TransactionId == 0 || st.IdTagInfo.Status != types.AuthorizationStatusAccepted {
		t.Fatalf("StartTransaction: %+v %v", st, err)
	}
	txID := st.TransactionId
	mv, err := cp.MeterValues(1, []types.MeterValue{{
		Timestamp: types.NewDateTime(started.Add(30 * time.Second)),
		SampledValue: []types.SampledValue{
			{Value: "1.5", Unit: types.UnitOfMeasureKWh, Measurand: types.MeasurandEnergyActiveImportRegister, Context: types.ReadingContextSamplePeriodic},
			{Value: "7.4", Unit: types.UnitOfMeasureKW, Measurand: types.MeasurandPowerActiveImport},
		},
	}}, func(r *core.MeterValuesRequest) { r.TransactionId = &txID })
	if err != nil || mv == nil {
		t.Fatalf("MeterValues: %v", err)
	}

	// The other direction: our central system commands ocpp-go's charge point.
	conf, err := ocpptest.Call[ocpp16.GetConfigurationResponse](ctx, srv, "OCPPGO1",
		&ocpp16.GetConfigurationRequest{Key: []string{"HeartbeatInterval", "Nope"}})
	if err != nil || len(conf.ConfigurationKey) != 1 || *conf.ConfigurationKey[0].Value != "300" || len(conf.UnknownKey) != 1 {
		t.Fatalf("GetConfiguration to ocpp-go: %+v %v", conf, err)
	}
	stopResp, err := ocpptest.Call[ocpp16.RemoteStopTransactionResponse](ctx, srv, "OCPPGO1",
		&ocpp16.RemoteStopTransactionRequest{TransactionId: txID})
	if err != nil || stopResp.Status != ocpp16.RemoteAccepted {
		t.Fatalf("RemoteStopTransaction to ocpp-go: %+v %v", stopResp, err)
	}

	stop, err := cp.StopTransaction(2600, types.NewDateTime(started.Add(time.Minute)), txID, func(r *core.StopTransactionRequest) {
		r.Reason = core.ReasonRemote
		r.TransactionData = []types.MeterValue{{Timestamp: types.NewDateTime(started.Add(time.Minute)),
			SampledValue: []types.SampledValue{{Value: "2600", Context: types.ReadingContextTransactionEnd}}}}
	})
	if err != nil || stop == nil {
		t.Fatalf("StopTransaction: %v", err)
	}

	// A CALLERROR from our side, parsed by ocpp-go: the Firmware Management
	// profile is OCPP 1.6 but not supported by this central system.
	_, err = cp.DiagnosticsStatusNotification(firmware.DiagnosticsStatusIdle)
	var ocppErr *ocppgoerr.Error
	if !errors.As(err, &ocppErr) || ocppErr.Code != "NotSupported" {
		t.Errorf("DiagnosticsStatusNotification: %v, want a NotSupported CALLERROR", err)
	}

	// What our side made of it.
	want := []string{ocpp16.ActionBootNotification, ocpp16.ActionHeartbeat, ocpp16.ActionStatusNotification,
		ocpp16.ActionAuthorize, ocpp16.ActionStartTransaction, ocpp16.ActionMeterValues, ocpp16.ActionStopTransaction}
	if got := srv.Actions("OCPPGO1"); len(got) != len(want) {
		t.Fatalf("server saw %v, want %v", got, want)
	}
	tx, ok := srv.Transaction(txID)
	if !ok || tx.MeterStart != 1000 || tx.MeterStop != 2600 || tx.Reason != ocpp16.ReasonRemote || !tx.Started.Equal(started) {
		t.Fatalf("transaction %+v", tx)
	}
	r, err := ocpp16.ReadMeterValue(tx.MeterValues[0])
	if err != nil || r.EnergyWh.IntPart() != 1500 || r.PowerW.IntPart() != 7400 {
		t.Errorf("meter value read as %+v (%v)", r, err)
	}
	b := srv.Events("OCPPGO1")[0].Request.(*ocpp16.BootNotificationRequest)
	if b.ChargePointVendor != "Vendor-Y" || b.ChargePointModel != "Model-X" || b.FirmwareVersion != "1.2.3" {
		t.Errorf("boot %+v", b)
	}
}

// ocppGoHandler is the ocpp-go charge point's side of the commands.
type ocppGoHandler struct{ t *testing.T }

func (h *ocppGoHandler) OnChangeAvailability(*core.ChangeAvailabilityRequest) (*core.ChangeAvailabilityConfirmation, error) {
	return core.NewChangeAvailabilityConfirmation(core.AvailabilityStatusAccepted), nil
}

func (h *ocppGoHandler) OnChangeConfiguration(*core.ChangeConfigurationRequest) (*core.ChangeConfigurationConfirmation, error) {
	return core.NewChangeConfigurationConfirmation(core.ConfigurationStatusAccepted), nil
}

func (h *ocppGoHandler) OnClearCache(*core.ClearCacheRequest) (*core.ClearCacheConfirmation, error) {
	return core.NewClearCacheConfirmation(core.ClearCacheStatusAccepted), nil
}

func (h *ocppGoHandler) OnDataTransfer(*core.DataTransferRequest) (*core.DataTransferConfirmation, error) {
	return core.NewDataTransferConfirmation(core.DataTransferStatusRejected), nil
}

func (h *ocppGoHandler) OnGetConfiguration(req *core.GetConfigurationRequest) (*core.GetConfigurationConfirmation, error) {
	v := "300"
	conf := core.NewGetConfigurationConfirmation([]core.ConfigurationKey{{Key: "HeartbeatInterval", Readonly: false, Value: &v}})
	conf.UnknownKey = []string{"Nope"}
	return conf, nil
}

func (h *ocppGoHandler) OnRemoteStartTransaction(*core.RemoteStartTransactionRequest) (*core.RemoteStartTransactionConfirmation, error) {
	return core.NewRemoteStartTransactionConfirmation(types.RemoteStartStopStatusRejected), nil
}

func (h *ocppGoHandler) OnRemoteStopTransaction(req *core.RemoteStopTransactionRequest) (*core.RemoteStopTransactionConfirmation, error) {
	return core.NewRemoteStopTransactionConfirmation(types.RemoteStartStopStatusAccepted), nil
}

func (h *ocppGoHandler) OnReset(*core.ResetRequest) (*core.ResetConfirmation, error) {
	return core.NewResetConfirmation(core.ResetStatusAccepted), nil
}

func (h *ocppGoHandler) OnUnlockConnector(*core.UnlockConnectorRequest) (*core.UnlockConnectorConfirmation, error) {
	return core.NewUnlockConnectorConfirmation(core.UnlockStatusUnlocked), nil
}
