// Package ocpp16 holds the OCPP 1.6 messages of the Core, Smart Charging and
// Remote Trigger profiles, their validation against the 1.6 JSON schemas and
// meter value helpers.
//
// Each request type has an Action method naming its OCPP action; its
// confirmation is the type of the same name ending in Response. Optional
// fields are pointers or omitempty, so marshalling a value sends exactly the
// fields that are set. Times marshal as RFC 3339; make them UTC.
package ocpp16

import "time"

// Request is implemented by every request (".req") message.
type Request interface {
	Action() string
}

// The actions of the messages in this package.
const (
	ActionAuthorize              = "Authorize"
	ActionBootNotification       = "BootNotification"
	ActionChangeAvailability     = "ChangeAvailability"
	ActionChangeConfiguration    = "ChangeConfiguration"
	ActionClearCache             = "ClearCache"
	ActionDataTransfer           = "DataTransfer"
	ActionGetConfiguration       = "GetConfiguration"
	ActionHeartbeat              = "Heartbeat"
	ActionMeterValues            = "MeterValues"
	ActionRemoteStartTransaction = "RemoteStartTransaction"
	ActionRemoteStopTransaction  = "RemoteStopTransaction"
	ActionReset                  = "Reset"
	ActionStartTransaction       = "StartTransaction"
	ActionStatusNotification     = "StatusNotification"
	ActionStopTransaction        = "StopTransaction"
	ActionUnlockConnector        = "UnlockConnector"
	ActionSetChargingProfile     = "SetChargingProfile"
	ActionClearChargingProfile   = "ClearChargingProfile"
	ActionGetCompositeSchedule   = "GetCompositeSchedule"
	ActionTriggerMessage         = "TriggerMessage"
)

// IdTagInfo is the central system's verdict on an idTag.
type IdTagInfo struct {
	ExpiryDate  *time.Time          `json:"expiryDate,omitempty"`
	ParentIdTag string              `json:"parentIdTag,omitempty"`
	Status      AuthorizationStatus `json:"status"`
}

// AuthorizeRequest (charge point -> central system).
type AuthorizeRequest struct {
	IdTag string `json:"idTag"`
}

// AuthorizeResponse answers AuthorizeRequest.
type AuthorizeResponse struct {
	IdTagInfo IdTagInfo `json:"idTagInfo"`
}

// BootNotificationRequest (charge point -> central system).
type BootNotificationRequest struct {
	ChargePointVendor       string `json:"chargePointVendor"`
	ChargePointModel        string `json:"chargePointModel"`
	ChargePointSerialNumber string `json:"chargePointSerialNumber,omitempty"`
	ChargeBoxSerialNumber   string `json:"chargeBoxSerialNumber,omitempty"`
	FirmwareVersion         string `json:"firmwareVersion,omitempty"`
	Iccid                   string `json:"iccid,omitempty"`
	Imsi                    string `json:"imsi,omitempty"`
	MeterType               string `json:"meterType,omitempty"`
	MeterSerialNumber       string `json:"meterSerialNumber,omitempty"`
}

// BootNotificationResponse answers BootNotificationRequest. Interval is the
// heartbeat interval in seconds when Accepted, otherwise the wait before the
// next BootNotification.
type BootNotificationResponse struct {
	Status      RegistrationStatus `json:"status"`
	CurrentTime time.Time          `json:"currentTime"`
	Interval    int                `json:"interval"`
}

// ChangeAvailabilityRequest (central system -> charge point). Connector 0
// is the whole charge point.
type ChangeAvailabilityRequest struct {
	ConnectorId int              `json:"connectorId"`
	Type        AvailabilityType `json:"type"`
}

// ChangeAvailabilityResponse answers ChangeAvailabilityRequest.
type ChangeAvailabilityResponse struct {
	Status AvailabilityStatus `json:"status"`
}

// ChangeConfigurationRequest (central system -> charge point).
type ChangeConfigurationRequest struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ChangeConfigurationResponse answers ChangeConfigurationRequest.
type ChangeConfigurationResponse struct {
	Status ConfigurationStatus `json:"status"`
}

// ClearCacheRequest (central system -> charge point).
type ClearCacheRequest struct{}

// ClearCacheResponse answers ClearCacheRequest.
type ClearCacheResponse struct {
	Status ClearCacheStatus `json:"status"`
}

// DataTransferRequest (either direction).
type DataTransferRequest struct {
	VendorId  string `json:"vendorId"`
	MessageId string `json:"messageId,omitempty"`
	Data      string `json:"data,omitempty"`
}

// DataTransferResponse answers DataTransferRequest.
type DataTransferResponse struct {
	Status DataTransferStatus `json:"status"`
	Data   string             `json:"data,omitempty"`
}

// GetConfigurationRequest (central system -> charge point). No keys asks
// for all of them.
type GetConfigurationRequest struct {
	Key []string `json:"key,omitempty"`
}

// KeyValue is one configuration key in GetConfigurationResponse. Value is
// nil when the key has no value to report.
type KeyValue struct {
	Key      string  `json:"key"`
	Readonly bool    `json:"readonly"`
	Value    *string `json:"value,omitempty"`
}

// GetConfigurationResponse answers GetConfigurationRequest.
type GetConfigurationResponse struct {
	ConfigurationKey []KeyValue `json:"configurationKey,omitempty"`
	UnknownKey       []string   `json:"unknownKey,omitempty"`
}

// HeartbeatRequest (charge point -> central system).
type HeartbeatRequest struct{}

// HeartbeatResponse answers HeartbeatRequest.
type HeartbeatResponse struct {
	CurrentTime time.Time `json:"currentTime"`
}

// SampledValue is one measurement. Empty optional fields take the 1.6
// defaults: context Sample.Periodic, format Raw, measurand
// Energy.Active.Import.Register, location Outlet, unit Wh.
type SampledValue struct {
	Value     string         `json:"value"`
	Context   ReadingContext `json:"context,omitempty"`
	Format    ValueFormat    `json:"format,omitempty"`
	Measurand Measurand      `json:"measurand,omitempty"`
	Phase     Phase          `json:"phase,omitempty"`
	Location  Location       `json:"location,omitempty"`
	Unit      UnitOfMeasure  `json:"unit,omitempty"`
}

// MeterValue is a set of measurements taken at one time.
type MeterValue struct {
	Timestamp    time.Time      `json:"timestamp"`
	SampledValue []SampledValue `json:"sampledValue"`
}

// MeterValuesRequest (charge point -> central system).
type MeterValuesRequest struct {
	ConnectorId   int          `json:"connectorId"`
	TransactionId *int         `json:"transactionId,omitempty"`
	MeterValue    []MeterValue `json:"meterValue"`
}

// MeterValuesResponse answers MeterValuesRequest.
type MeterValuesResponse struct{}

// RemoteStartTransactionRequest (central system -> charge point).
type RemoteStartTransactionRequest struct {
	ConnectorId     *int             `json:"connectorId,omitempty"`
	IdTag           string           `json:"idTag"`
	ChargingProfile *ChargingProfile `json:"chargingProfile,omitempty"`
}

// RemoteStartTransactionResponse answers RemoteStartTransactionRequest.
type RemoteStartTransactionResponse struct {
	Status RemoteStartStopStatus `json:"status"`
}

// RemoteStopTransactionRequest (central system -> charge point).
type RemoteStopTransactionRequest struct {
	TransactionId int `json:"transactionId"`
}

// RemoteStopTransactionResponse answers RemoteStopTransactionRequest.
type RemoteStopTransactionResponse struct {
	Status RemoteStartStopStatus `json:"status"`
}

// ResetRequest (central system -> charge point).
type ResetRequest struct {
	Type ResetType `json:"type"`
}

// ResetResponse answers ResetRequest.
type ResetResponse struct {
	Status ResetStatus `json:"status"`
}

// StartTransactionRequest (charge point -> central system). MeterStart is
// the energy register in Wh.
type StartTransactionRequest struct {
	ConnectorId   int       `json:"connectorId"`
	IdTag         string    `json:"idTag"`
	MeterStart    int       `json:"meterStart"`
	ReservationId *int      `json:"reservationId,omitempty"`
	Timestamp     time.Time `json:"timestamp"`
}

// StartTransactionResponse answers StartTransactionRequest.
type StartTransactionResponse struct {
	IdTagInfo     IdTagInfo `json:"idTagInfo"`
	TransactionId int       `json:"transactionId"`
}

// StatusNotificationRequest (charge point -> central system).
type StatusNotificationRequest struct {
	ConnectorId     int                  `json:"connectorId"`
	ErrorCode       ChargePointErrorCode `json:"errorCode"`
	Info            string               `json:"info,omitempty"`
	Status          ChargePointStatus    `json:"status"`
	Timestamp       *time.Time           `json:"timestamp,omitempty"`
	VendorId        string               `json:"vendorId,omitempty"`
	VendorErrorCode string               `json:"vendorErrorCode,omitempty"`
}

// StatusNotificationResponse answers StatusNotificationRequest.
type StatusNotificationResponse struct{}

// StopTransactionRequest (charge point -> central system). MeterStop is
// the energy register in Wh; an empty Reason means Local.
type StopTransactionRequest struct {
	IdTag           string       `json:"idTag,omitempty"`
	MeterStop       int          `json:"meterStop"`
	Timestamp       time.Time    `json:"timestamp"`
	TransactionId   int          `json:"transactionId"`
	Reason          Reason       `json:"reason,omitempty"`
	TransactionData []MeterValue `json:"transactionData,omitempty"`
}

// StopTransactionResponse answers StopTransactionRequest.
type StopTransactionResponse struct {
	IdTagInfo *IdTagInfo `json:"idTagInfo,omitempty"`
}

// UnlockConnectorRequest (central system -> charge point).
type UnlockConnectorRequest struct {
	ConnectorId int `json:"connectorId"`
}

// UnlockConnectorResponse answers UnlockConnectorRequest.
type UnlockConnectorResponse struct {
	Status UnlockStatus `json:"status"`
}

// Action implementations.

func (AuthorizeRequest) Action() string              { return ActionAuthorize }
func (BootNotificationRequest) Action() string       { return ActionBootNotification }
func (ChangeAvailabilityRequest) Action() string     { return ActionChangeAvailability }
func (ChangeConfigurationRequest) Action() string    { return ActionChangeConfiguration }
func (ClearCacheRequest) Action() string             { return ActionClearCache }
func (DataTransferRequest) Action() string           { return ActionDataTransfer }
func (GetConfigurationRequest) Action() string       { return ActionGetConfiguration }
func (HeartbeatRequest) Action() string              { return ActionHeartbeat }
func (MeterValuesRequest) Action() string            { return ActionMeterValues }
func (RemoteStartTransactionRequest) Action() string { return ActionRemoteStartTransaction }
func (RemoteStopTransactionRequest) Action() string  { return ActionRemoteStopTransaction }
func (ResetRequest) Action() string                  { return ActionReset }
func (StartTransactionRequest) Action() string       { return ActionStartTransaction }
func (StatusNotificationRequest) Action() string     { return ActionStatusNotification }
func (StopTransactionRequest) Action() string        { return ActionStopTransaction }
func (UnlockConnectorRequest) Action() string        { return ActionUnlockConnector }
func (SetChargingProfileRequest) Action() string     { return ActionSetChargingProfile }
func (ClearChargingProfileRequest) Action() string   { return ActionClearChargingProfile }
func (GetCompositeScheduleRequest) Action() string   { return ActionGetCompositeSchedule }
func (TriggerMessageRequest) Action() string         { return ActionTriggerMessage }
