package csms_test

import (
	"testing"
	"time"

	ocppgo "github.com/lorenzodonini/ocpp-go/ocpp1.6"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/core"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/types"
	"github.com/lorenzodonini/ocpp-go/ws"

	"github.com/joule-ev/joule/internal/apitest"
)

// TestInteropOCPPGo runs the charge-point side of lorenzodonini/ocpp-go (an
// implementation nobody here wrote) against Joule's real central system over
// HTTP Basic auth: boot, heartbeat, status, a transaction with meter values,
// and a command from Joule answered by ocpp-go.
func TestInteropOCPPGo(t *testing.T) {
	j := apitest.Start(t, t.TempDir()+"/j.db")
	id, pw := newStation(t, j, "OCPPGO-1")
	client := ws.NewClient()
	client.SetBasicAuth("OCPPGO-1", pw)
	cp := ocppgo.NewChargePoint("OCPPGO-1", nil, client)
	cp.SetCoreHandler(coreHandler{})
	if err := cp.Start("ws://" + j.App.Addr() + "/ocpp"); err != nil {
		t.Fatalf("ocpp-go could not connect: %v", err)
	}
	defer cp.Stop()

	boot, err := cp.BootNotification("Model-X", "Vendor-Y")
	if err != nil || boot.Status != core.RegistrationStatusAccepted {
		t.Fatalf("BootNotification: %+v %v", boot, err)
	}
	if _, err := cp.Heartbeat(); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if _, err := cp.StatusNotification(1, core.NoError, core.ChargePointStatusPreparing); err != nil {
		t.Fatalf("StatusNotification: %v", err)
	}
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	st, err := cp.StartTransaction(1, "SOME-TAG", 1000, types.NewDateTime(started))
	if err != nil || st.TransactionId == 0 {
		t.Fatalf("StartTransaction: %+v %v", st, err)
	}
	txID := st.TransactionId
	if _, err := cp.MeterValues(1, []types.MeterValue{{Timestamp: types.NewDateTime(started.Add(30 * time.Second)),
		SampledValue: []types.SampledValue{{Value: "1.5", Unit: types.UnitOfMeasureKWh, Measurand: types.MeasurandEnergyActiveImportRegister}}}},
		func(r *core.MeterValuesRequest) { r.TransactionId = &txID }); err != nil {
		t.Fatalf("MeterValues: %v", err)
	}
	if _, err := cp.StopTransaction(2600, types.NewDateTime(started.Add(time.Minute)), txID); err != nil {
		t.Fatalf("StopTransaction: %v", err)
	}
	stn := j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id, nil)
	if stn["online"] != true || stn["boot_info"].(map[string]any)["vendor"] != "Vendor-Y" {
		t.Fatalf("station as Joule recorded it: %v", stn)
	}
	if f := j.Must(t, 200, j.Key, "GET", "/v1/chargestations/"+id+"/faults", nil)["data"].([]any); len(f) != 0 {
		t.Fatalf("faults: %v", f)
	}
	r := j.Must(t, 200, j.Key, "POST", "/v1/chargestations/"+id+"/commands/Reset", map[string]any{"type": "Soft"})
	if r["response"].(map[string]any)["status"] != "Accepted" {
		t.Fatalf("Reset answered by ocpp-go: %v", r)
	}
}

type coreHandler struct{}

func (coreHandler) OnChangeAvailability(*core.ChangeAvailabilityRequest) (*core.ChangeAvailabilityConfirmation, error) {
	return core.NewChangeAvailabilityConfirmation(core.AvailabilityStatusAccepted), nil
}
func (coreHandler) OnChangeConfiguration(*core.ChangeConfigurationRequest) (*core.ChangeConfigurationConfirmation, error) {
	return core.NewChangeConfigurationConfirmation(core.ConfigurationStatusAccepted), nil
}
func (coreHandler) OnClearCache(*core.ClearCacheRequest) (*core.ClearCacheConfirmation, error) {
	return core.NewClearCacheConfirmation(core.ClearCacheStatusAccepted), nil
}
func (coreHandler) OnDataTransfer(*core.DataTransferRequest) (*core.DataTransferConfirmation, error) {
	return core.NewDataTransferConfirmation(core.DataTransferStatusRejected), nil
}
func (coreHandler) OnGetConfiguration(*core.GetConfigurationRequest) (*core.GetConfigurationConfirmation, error) {
	return core.NewGetConfigurationConfirmation(nil), nil
}
func (coreHandler) OnRemoteStartTransaction(*core.RemoteStartTransactionRequest) (*core.RemoteStartTransactionConfirmation, error) {
	return core.NewRemoteStartTransactionConfirmation(types.RemoteStartStopStatusRejected), nil
}
func (coreHandler) OnRemoteStopTransaction(*core.RemoteStopTransactionRequest) (*core.RemoteStopTransactionConfirmation, error) {
	return core.NewRemoteStopTransactionConfirmation(types.RemoteStartStopStatusRejected), nil
}
func (coreHandler) OnReset(*core.ResetRequest) (*core.ResetConfirmation, error) {
	return core.NewResetConfirmation(core.ResetStatusAccepted), nil
}
func (coreHandler) OnUnlockConnector(*core.UnlockConnectorRequest) (*core.UnlockConnectorConfirmation, error) {
	return core.NewUnlockConnectorConfirmation(core.UnlockStatusNotSupported), nil
}
