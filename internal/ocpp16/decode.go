package ocpp16

import (
	"context"
	"encoding/json"

	"github.com/joule-ev/joule/internal/ocppj"
)

// message ties an action to its schemas and Go types.
type message struct {
	request, response       *schema
	newRequest, newResponse func() any
}

func msg[Req, Resp any](req, resp *schema) message {
	return message{req, resp, func() any { return new(Req) }, func() any { return new(Resp) }}
}

var messages = map[string]message{
	ActionAuthorize:              msg[AuthorizeRequest, AuthorizeResponse](authorizeReq, authorizeConf),
	ActionBootNotification:       msg[BootNotificationRequest, BootNotificationResponse](bootNotificationReq, bootNotificationConf),
	ActionChangeAvailability:     msg[ChangeAvailabilityRequest, ChangeAvailabilityResponse](changeAvailabilityReq, changeAvailabilityConf),
	ActionChangeConfiguration:    msg[ChangeConfigurationRequest, ChangeConfigurationResponse](changeConfigurationReq, changeConfigurationConf),
	ActionClearCache:             msg[ClearCacheRequest, ClearCacheResponse](empty, clearCacheConf),
	ActionDataTransfer:           msg[DataTransferRequest, DataTransferResponse](dataTransferReq, dataTransferConf),
	ActionGetConfiguration:       msg[GetConfigurationRequest, GetConfigurationResponse](getConfigurationReq, getConfigurationConf),
	ActionHeartbeat:              msg[HeartbeatRequest, HeartbeatResponse](empty, heartbeatConf),
	ActionMeterValues:            msg[MeterValuesRequest, MeterValuesResponse](meterValuesReq, empty),
	ActionRemoteStartTransaction: msg[RemoteStartTransactionRequest, RemoteStartTransactionResponse](remoteStartTransactionReq, remoteStartStopConf),
	ActionRemoteStopTransaction:  msg[RemoteStopTransactionRequest, RemoteStopTransactionResponse](remoteStopTransactionReq, remoteStartStopConf),
	ActionReset:                  msg[ResetRequest, ResetResponse](resetReq, resetConf),
	ActionStartTransaction:       msg[StartTransactionRequest, StartTransactionResponse](startTransactionReq, startTransactionConf),
	ActionStatusNotification:     msg[StatusNotificationRequest, StatusNotificationResponse](statusNotificationReq, empty),
	ActionStopTransaction:        msg[StopTransactionRequest, StopTransactionResponse](stopTransactionReq, stopTransactionConf),
	ActionUnlockConnector:        msg[UnlockConnectorRequest, UnlockConnectorResponse](unlockConnectorReq, unlockConnectorConf),
	ActionSetChargingProfile:     msg[SetChargingProfileRequest, SetChargingProfileResponse](setChargingProfileReq, setChargingProfileConf),
	ActionClearChargingProfile:   msg[ClearChargingProfileRequest, ClearChargingProfileResponse](clearChargingProfileReq, clearChargingProfileConf),
	ActionGetCompositeSchedule:   msg[GetCompositeScheduleRequest, GetCompositeScheduleResponse](getCompositeScheduleReq, getCompositeScheduleConf),
	ActionTriggerMessage:         msg[TriggerMessageRequest, TriggerMessageResponse](triggerMessageReq, triggerMessageConf),
}

// otherActions are the OCPP 1.6 actions of the profiles this package does
// not model (firmware, local auth list, reservation): recognised, so a peer
// asking for them is told NotSupported rather than NotImplemented.
var otherActions = map[string]bool{
	"CancelReservation": true, "DiagnosticsStatusNotification": true, "FirmwareStatusNotification": true,
	"GetDiagnostics": true, "GetLocalListVersion": true, "ReserveNow": true, "SendLocalList": true, "UpdateFirmware": true,
}

func lookup(action string) (message, *ocppj.Error) {
	m, ok := messages[action]
	if !ok {
		if otherActions[action] {
			return m, ocppj.Errorf(ocppj.NotSupported, "action %q is not supported", action)
		}
		return m, ocppj.Errorf(ocppj.NotImplemented, "action %q is not implemented", action)
	}
	return m, nil
}

// ValidateRequest checks a CALL payload against the request schema of
// action. An action outside this package is NotSupported (another 1.6
// profile) or NotImplemented (not OCPP 1.6 at all).
func ValidateRequest(action string, payload []byte) *ocppj.Error {
	m, err := lookup(action)
	if err != nil {
		return err
	}
	return m.request.validate(payload)
}

// ValidateResponse checks a CALLRESULT payload against the confirmation
// schema of action.
func ValidateResponse(action string, payload []byte) *ocppj.Error {
	m, err := lookup(action)
	if err != nil {
		return err
	}
	return m.response.validate(payload)
}

// DecodeRequest validates a CALL payload and decodes it into a pointer to
// the action's request type, e.g. *BootNotificationRequest.
func DecodeRequest(action string, payload []byte) (Request, *ocppj.Error) {
	m, err := lookup(action)
	if err != nil {
		return nil, err
	}
	v := m.newRequest()
	if err := decodeInto(m.request, payload, v); err != nil {
		return nil, err
	}
	return v.(Request), nil
}

// DecodeResponse validates a CALLRESULT payload and decodes it into a
// pointer to the action's confirmation type, e.g. *BootNotificationResponse.
func DecodeResponse(action string, payload []byte) (any, *ocppj.Error) {
	m, err := lookup(action)
	if err != nil {
		return nil, err
	}
	v := m.newResponse()
	if err := decodeInto(m.response, payload, v); err != nil {
		return nil, err
	}
	return v, nil
}

func decodeInto(s *schema, payload []byte, v any) *ocppj.Error {
	if err := s.validate(payload); err != nil {
		return err
	}
	// The payload has the schema's shape, so this cannot fail on anything
	// but a bug in the schema tables; say so rather than blame the peer.
	if err := json.Unmarshal(payload, v); err != nil {
		return ocppj.Errorf(ocppj.InternalError, "decoding validated payload: %v", err)
	}
	return nil
}

// Handle registers fn as mux's handler of Req's action: the payload is
// validated and decoded first, and a payload that fails is answered with
// the matching CALLERROR without calling fn.
func Handle[Req Request](mux *ocppj.Mux, fn func(ctx context.Context, c *ocppj.Conn, req *Req) (any, error)) {
	var zero Req
	m, ok := messages[zero.Action()]
	if !ok {
		panic("ocpp16.Handle: no schema for " + zero.Action())
	}
	mux.Handle(zero.Action(), func(ctx context.Context, c *ocppj.Conn, _ string, payload json.RawMessage) (any, error) {
		req := new(Req)
		if err := decodeInto(m.request, payload, req); err != nil {
			return nil, err
		}
		return fn(ctx, c, req)
	})
}

// Call sends req and returns its validated, decoded confirmation. Resp must
// be the confirmation type of req's action. An invalid confirmation is an
// *ocppj.Error like a CALLERROR would be.
func Call[Resp any](ctx context.Context, c *ocppj.Conn, req Request) (*Resp, error) {
	action := req.Action()
	raw, err := c.Call(ctx, action, req)
	if err != nil {
		return nil, err
	}
	v, perr := DecodeResponse(action, raw)
	if perr != nil {
		return nil, perr
	}
	resp, ok := v.(*Resp)
	if !ok {
		return nil, ocppj.Errorf(ocppj.InternalError, "%s confirmation is %T, not %T", action, v, resp)
	}
	return resp, nil
}

// Unsupported is a fallback for an ocppj.Mux: actions of OCPP 1.6 that have
// no handler are answered NotSupported, anything else NotImplemented.
func Unsupported(_ context.Context, _ *ocppj.Conn, action string, _ json.RawMessage) (any, error) {
	if _, ok := messages[action]; ok || otherActions[action] {
		return nil, ocppj.Errorf(ocppj.NotSupported, "action %q is not supported", action)
	}
	return nil, ocppj.Errorf(ocppj.NotImplemented, "action %q is not implemented", action)
}
