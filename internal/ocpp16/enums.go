package ocpp16

// The enumerations of the OCPP 1.6 JSON schemas, with every value they
// allow. Each type's values slice is what validation checks against.

// AuthorizationStatus is IdTagInfo.status.
type AuthorizationStatus string

const (
	AuthorizationAccepted     AuthorizationStatus = "Accepted"
	AuthorizationBlocked      AuthorizationStatus = "Blocked"
	AuthorizationExpired      AuthorizationStatus = "Expired"
	AuthorizationInvalid      AuthorizationStatus = "Invalid"
	AuthorizationConcurrentTx AuthorizationStatus = "ConcurrentTx"
)

var authorizationStatuses = []string{"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"}

// RegistrationStatus is BootNotification.conf status.
type RegistrationStatus string

const (
	RegistrationAccepted RegistrationStatus = "Accepted"
	RegistrationPending  RegistrationStatus = "Pending"
	RegistrationRejected RegistrationStatus = "Rejected"
)

var registrationStatuses = []string{"Accepted", "Pending", "Rejected"}

// AvailabilityType is ChangeAvailability.req type.
type AvailabilityType string

const (
	AvailabilityInoperative AvailabilityType = "Inoperative"
	AvailabilityOperative   AvailabilityType = "Operative"
)

var availabilityTypes = []string{"Inoperative", "Operative"}

// AvailabilityStatus is ChangeAvailability.conf status.
type AvailabilityStatus string

const (
	AvailabilityAccepted  AvailabilityStatus = "Accepted"
	AvailabilityRejected  AvailabilityStatus = "Rejected"
	AvailabilityScheduled AvailabilityStatus = "Scheduled"
)

var availabilityStatuses = []string{"Accepted", "Rejected", "Scheduled"}

// ConfigurationStatus is ChangeConfiguration.conf status.
type ConfigurationStatus string

const (
	ConfigurationAccepted       ConfigurationStatus = "Accepted"
	ConfigurationRejected       ConfigurationStatus = "Rejected"
	ConfigurationRebootRequired ConfigurationStatus = "RebootRequired"
	ConfigurationNotSupported   ConfigurationStatus = "NotSupported"
)

var configurationStatuses = []string{"Accepted", "Rejected", "RebootRequired", "NotSupported"}

// ClearCacheStatus is ClearCache.conf status.
type ClearCacheStatus string

const (
	ClearCacheAccepted ClearCacheStatus = "Accepted"
	ClearCacheRejected ClearCacheStatus = "Rejected"
)

var clearCacheStatuses = []string{"Accepted", "Rejected"}

// DataTransferStatus is DataTransfer.conf status.
type DataTransferStatus string

const (
	DataTransferAccepted         DataTransferStatus = "Accepted"
	DataTransferRejected         DataTransferStatus = "Rejected"
	DataTransferUnknownMessageID DataTransferStatus = "UnknownMessageId"
	DataTransferUnknownVendorID  DataTransferStatus = "UnknownVendorId"
)

var dataTransferStatuses = []string{"Accepted", "Rejected", "UnknownMessageId", "UnknownVendorId"}

// RemoteStartStopStatus is the status of RemoteStart/StopTransaction.conf.
type RemoteStartStopStatus string

const (
	RemoteAccepted RemoteStartStopStatus = "Accepted"
	RemoteRejected RemoteStartStopStatus = "Rejected"
)

var remoteStartStopStatuses = []string{"Accepted", "Rejected"}

// ResetType is Reset.req type.
type ResetType string

const (
	ResetHard ResetType = "Hard"
	ResetSoft ResetType = "Soft"
)

var resetTypes = []string{"Hard", "Soft"}

// ResetStatus is Reset.conf status.
type ResetStatus string

const (
	ResetAccepted ResetStatus = "Accepted"
	ResetRejected ResetStatus = "Rejected"
)

var resetStatuses = []string{"Accepted", "Rejected"}

// UnlockStatus is UnlockConnector.conf status.
type UnlockStatus string

const (
	UnlockUnlocked     UnlockStatus = "Unlocked"
	UnlockFailed       UnlockStatus = "UnlockFailed"
	UnlockNotSupported UnlockStatus = "NotSupported"
)

var unlockStatuses = []string{"Unlocked", "UnlockFailed", "NotSupported"}

// ChargePointErrorCode is StatusNotification.req errorCode.
type ChargePointErrorCode string

const (
	ErrorConnectorLockFailure ChargePointErrorCode = "ConnectorLockFailure"
	ErrorEVCommunicationError ChargePointErrorCode = "EVCommunicationError"
	ErrorGroundFailure        ChargePointErrorCode = "GroundFailure"
	ErrorHighTemperature      ChargePointErrorCode = "HighTemperature"
	ErrorInternalError        ChargePointErrorCode = "InternalError"
	ErrorLocalListConflict    ChargePointErrorCode = "LocalListConflict"
	ErrorNoError              ChargePointErrorCode = "NoError"
	ErrorOtherError           ChargePointErrorCode = "OtherError"
	ErrorOverCurrentFailure   ChargePointErrorCode = "OverCurrentFailure"
	ErrorPowerMeterFailure    ChargePointErrorCode = "PowerMeterFailure"
	ErrorPowerSwitchFailure   ChargePointErrorCode = "PowerSwitchFailure"
	ErrorReaderFailure        ChargePointErrorCode = "ReaderFailure"
	ErrorResetFailure         ChargePointErrorCode = "ResetFailure"
	ErrorUnderVoltage         ChargePointErrorCode = "UnderVoltage"
	ErrorOverVoltage          ChargePointErrorCode = "OverVoltage"
	ErrorWeakSignal           ChargePointErrorCode = "WeakSignal"
)

var chargePointErrorCodes = []string{"ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
	"InternalError", "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure", "PowerMeterFailure",
	"PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage", "OverVoltage", "WeakSignal"}

// ChargePointStatus is StatusNotification.req status.
type ChargePointStatus string

const (
	StatusAvailable     ChargePointStatus = "Available"
	StatusPreparing     ChargePointStatus = "Preparing"
	StatusCharging      ChargePointStatus = "Charging"
	StatusSuspendedEVSE ChargePointStatus = "SuspendedEVSE"
	StatusSuspendedEV   ChargePointStatus = "SuspendedEV"
	StatusFinishing     ChargePointStatus = "Finishing"
	StatusReserved      ChargePointStatus = "Reserved"
	StatusUnavailable   ChargePointStatus = "Unavailable"
	StatusFaulted       ChargePointStatus = "Faulted"
)

var chargePointStatuses = []string{"Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV",
	"Finishing", "Reserved", "Unavailable", "Faulted"}

// Reason is StopTransaction.req reason. Absent means Local.
type Reason string

const (
	ReasonEmergencyStop  Reason = "EmergencyStop"
	ReasonEVDisconnected Reason = "EVDisconnected"
	ReasonHardReset      Reason = "HardReset"
	ReasonLocal          Reason = "Local"
	ReasonOther          Reason = "Other"
	ReasonPowerLoss      Reason = "PowerLoss"
	ReasonReboot         Reason = "Reboot"
	ReasonRemote         Reason = "Remote"
	ReasonSoftReset      Reason = "SoftReset"
	ReasonUnlockCommand  Reason = "UnlockCommand"
	ReasonDeAuthorized   Reason = "DeAuthorized"
)

var reasons = []string{"EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss", "Reboot",
	"Remote", "SoftReset", "UnlockCommand", "DeAuthorized"}

// ReadingContext is SampledValue.context. Absent means Sample.Periodic.
type ReadingContext string

const (
	ContextInterruptionBegin ReadingContext = "Interruption.Begin"
	ContextInterruptionEnd   ReadingContext = "Interruption.End"
	ContextSampleClock       ReadingContext = "Sample.Clock"
	ContextSamplePeriodic    ReadingContext = "Sample.Periodic"
	ContextTransactionBegin  ReadingContext = "Transaction.Begin"
	ContextTransactionEnd    ReadingContext = "Transaction.End"
	ContextTrigger           ReadingContext = "Trigger"
	ContextOther             ReadingContext = "Other"
)

var readingContexts = []string{"Interruption.Begin", "Interruption.End", "Sample.Clock", "Sample.Periodic",
	"Transaction.Begin", "Transaction.End", "Trigger", "Other"}

// ValueFormat is SampledValue.format. Absent means Raw.
type ValueFormat string

const (
	FormatRaw        ValueFormat = "Raw"
	FormatSignedData ValueFormat = "SignedData"
)

var valueFormats = []string{"Raw", "SignedData"}

// Measurand is SampledValue.measurand. Absent means Energy.Active.Import.Register.
type Measurand string

const (
	MeasurandEnergyActiveExportRegister   Measurand = "Energy.Active.Export.Register"
	MeasurandEnergyActiveImportRegister   Measurand = "Energy.Active.Import.Register"
	MeasurandEnergyReactiveExportRegister Measurand = "Energy.Reactive.Export.Register"
	MeasurandEnergyReactiveImportRegister Measurand = "Energy.Reactive.Import.Register"
	MeasurandEnergyActiveExportInterval   Measurand = "Energy.Active.Export.Interval"
	MeasurandEnergyActiveImportInterval   Measurand = "Energy.Active.Import.Interval"
	MeasurandEnergyReactiveExportInterval Measurand = "Energy.Reactive.Export.Interval"
	MeasurandEnergyReactiveImportInterval Measurand = "Energy.Reactive.Import.Interval"
	MeasurandPowerActiveExport            Measurand = "Power.Active.Export"
	MeasurandPowerActiveImport            Measurand = "Power.Active.Import"
	MeasurandPowerOffered                 Measurand = "Power.Offered"
	MeasurandPowerReactiveExport          Measurand = "Power.Reactive.Export"
	MeasurandPowerReactiveImport          Measurand = "Power.Reactive.Import"
	MeasurandPowerFactor                  Measurand = "Power.Factor"
	MeasurandCurrentImport                Measurand = "Current.Import"
	MeasurandCurrentExport                Measurand = "Current.Export"
	MeasurandCurrentOffered               Measurand = "Current.Offered"
	MeasurandVoltage                      Measurand = "Voltage"
	MeasurandFrequency                    Measurand = "Frequency"
	MeasurandTemperature                  Measurand = "Temperature"
	MeasurandSoC                          Measurand = "SoC"
	MeasurandRPM                          Measurand = "RPM"
)

var measurands = []string{"Energy.Active.Export.Register", "Energy.Active.Import.Register",
	"Energy.Reactive.Export.Register", "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval",
	"Energy.Active.Import.Interval", "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval",
	"Power.Active.Export", "Power.Active.Import", "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import",
	"Power.Factor", "Current.Import", "Current.Export", "Current.Offered", "Voltage", "Frequency", "Temperature",
	"SoC", "RPM"}

// Phase is SampledValue.phase.
type Phase string

const (
	PhaseL1   Phase = "L1"
	PhaseL2   Phase = "L2"
	PhaseL3   Phase = "L3"
	PhaseN    Phase = "N"
	PhaseL1N  Phase = "L1-N"
	PhaseL2N  Phase = "L2-N"
	PhaseL3N  Phase = "L3-N"
	PhaseL1L2 Phase = "L1-L2"
	PhaseL2L3 Phase = "L2-L3"
	PhaseL3L1 Phase = "L3-L1"
)

var phases = []string{"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"}

// Location is SampledValue.location. Absent means Outlet.
type Location string

const (
	LocationCable  Location = "Cable"
	LocationEV     Location = "EV"
	LocationInlet  Location = "Inlet"
	LocationOutlet Location = "Outlet"
	LocationBody   Location = "Body"
)

var locations = []string{"Cable", "EV", "Inlet", "Outlet", "Body"}

// UnitOfMeasure is SampledValue.unit. Absent means Wh.
type UnitOfMeasure string

// The units of the 1.6 schema. It spells "Celcius"; the 1.6 errata add
// "Celsius" and "Hertz", which chargers in the field send, so both are valid.
const (
	UnitWh         UnitOfMeasure = "Wh"
	UnitKWh        UnitOfMeasure = "kWh"
	UnitVarh       UnitOfMeasure = "varh"
	UnitKvarh      UnitOfMeasure = "kvarh"
	UnitW          UnitOfMeasure = "W"
	UnitKW         UnitOfMeasure = "kW"
	UnitVA         UnitOfMeasure = "VA"
	UnitKVA        UnitOfMeasure = "kVA"
	UnitVar        UnitOfMeasure = "var"
	UnitKvar       UnitOfMeasure = "kvar"
	UnitA          UnitOfMeasure = "A"
	UnitV          UnitOfMeasure = "V"
	UnitK          UnitOfMeasure = "K"
	UnitCelcius    UnitOfMeasure = "Celcius"
	UnitCelsius    UnitOfMeasure = "Celsius"
	UnitFahrenheit UnitOfMeasure = "Fahrenheit"
	UnitPercent    UnitOfMeasure = "Percent"
	UnitHertz      UnitOfMeasure = "Hertz"
)

var unitsOfMeasure = []string{"Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar", "A", "V", "K",
	"Celcius", "Celsius", "Fahrenheit", "Percent", "Hertz"}

// ChargingProfilePurpose is ChargingProfile.chargingProfilePurpose.
type ChargingProfilePurpose string

const (
	PurposeChargePointMaxProfile ChargingProfilePurpose = "ChargePointMaxProfile"
	PurposeTxDefaultProfile      ChargingProfilePurpose = "TxDefaultProfile"
	PurposeTxProfile             ChargingProfilePurpose = "TxProfile"
)

var chargingProfilePurposes = []string{"ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"}

// ChargingProfileKind is ChargingProfile.chargingProfileKind.
type ChargingProfileKind string

const (
	KindAbsolute  ChargingProfileKind = "Absolute"
	KindRecurring ChargingProfileKind = "Recurring"
	KindRelative  ChargingProfileKind = "Relative"
)

var chargingProfileKinds = []string{"Absolute", "Recurring", "Relative"}

// RecurrencyKind is ChargingProfile.recurrencyKind.
type RecurrencyKind string

const (
	RecurrencyDaily  RecurrencyKind = "Daily"
	RecurrencyWeekly RecurrencyKind = "Weekly"
)

var recurrencyKinds = []string{"Daily", "Weekly"}

// ChargingRateUnit is ChargingSchedule.chargingRateUnit.
type ChargingRateUnit string

const (
	RateUnitA ChargingRateUnit = "A"
	RateUnitW ChargingRateUnit = "W"
)

var chargingRateUnits = []string{"A", "W"}

// ChargingProfileStatus is SetChargingProfile.conf status.
type ChargingProfileStatus string

const (
	ChargingProfileAccepted     ChargingProfileStatus = "Accepted"
	ChargingProfileRejected     ChargingProfileStatus = "Rejected"
	ChargingProfileNotSupported ChargingProfileStatus = "NotSupported"
)

var chargingProfileStatuses = []string{"Accepted", "Rejected", "NotSupported"}

// ClearChargingProfileStatus is ClearChargingProfile.conf status.
type ClearChargingProfileStatus string

const (
	ClearChargingProfileAccepted ClearChargingProfileStatus = "Accepted"
	ClearChargingProfileUnknown  ClearChargingProfileStatus = "Unknown"
)

var clearChargingProfileStatuses = []string{"Accepted", "Unknown"}

// GetCompositeScheduleStatus is GetCompositeSchedule.conf status.
type GetCompositeScheduleStatus string

const (
	CompositeScheduleAccepted GetCompositeScheduleStatus = "Accepted"
	CompositeScheduleRejected GetCompositeScheduleStatus = "Rejected"
)

var getCompositeScheduleStatuses = []string{"Accepted", "Rejected"}

// MessageTrigger is TriggerMessage.req requestedMessage.
type MessageTrigger string

const (
	TriggerBootNotification              MessageTrigger = "BootNotification"
	TriggerDiagnosticsStatusNotification MessageTrigger = "DiagnosticsStatusNotification"
	TriggerFirmwareStatusNotification    MessageTrigger = "FirmwareStatusNotification"
	TriggerHeartbeat                     MessageTrigger = "Heartbeat"
	TriggerMeterValues                   MessageTrigger = "MeterValues"
	TriggerStatusNotification            MessageTrigger = "StatusNotification"
)

var messageTriggers = []string{"BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
	"Heartbeat", "MeterValues", "StatusNotification"}

// TriggerMessageStatus is TriggerMessage.conf status.
type TriggerMessageStatus string

const (
	TriggerAccepted       TriggerMessageStatus = "Accepted"
	TriggerRejected       TriggerMessageStatus = "Rejected"
	TriggerNotImplemented TriggerMessageStatus = "NotImplemented"
)

var triggerMessageStatuses = []string{"Accepted", "Rejected", "NotImplemented"}
