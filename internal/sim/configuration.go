package sim

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
)

// The configuration keys the simulated charger knows (OCPP 1.6 §9.1 and
// §9.4). Keys not listed here are answered NotSupported by
// ChangeConfiguration and reported as unknown by GetConfiguration.
const (
	keyHeartbeatInterval          = "HeartbeatInterval"
	keyMeterValueSampleInterval   = "MeterValueSampleInterval"
	keyStopTxOnEVSideDisconnect   = "StopTransactionOnEVSideDisconnect"
	keyStopTxOnInvalidID          = "StopTransactionOnInvalidId"
	keyAuthorizeRemoteTxRequests  = "AuthorizeRemoteTxRequests"
	keyNumberOfConnectors         = "NumberOfConnectors"
	keyTransactionMessageAttempts = "TransactionMessageAttempts"
)

type keyKind uint8

const (
	kindInt keyKind = iota
	kindBool
	kindList
)

type keyDef struct {
	name     string
	kind     keyKind
	readonly bool
}

var keyDefs = []keyDef{
	{keyAuthorizeRemoteTxRequests, kindBool, false},
	{"ChargeProfileMaxStackLevel", kindInt, true},
	{"ChargingScheduleAllowedChargingRateUnit", kindList, true},
	{"ChargingScheduleMaxPeriods", kindInt, true},
	{"ClockAlignedDataInterval", kindInt, false},
	{"ConnectionTimeOut", kindInt, false},
	{"GetConfigurationMaxKeys", kindInt, true},
	{keyHeartbeatInterval, kindInt, false},
	{"LocalAuthorizeOffline", kindBool, false},
	{"LocalPreAuthorize", kindBool, false},
	{"MaxChargingProfilesInstalled", kindInt, true},
	{"MeterValuesAlignedData", kindList, false},
	{"MeterValuesSampledData", kindList, false},
	{keyMeterValueSampleInterval, kindInt, false},
	{keyNumberOfConnectors, kindInt, true},
	{"ResetRetries", kindInt, false},
	{keyStopTxOnEVSideDisconnect, kindBool, false},
	{keyStopTxOnInvalidID, kindBool, false},
	{"StopTxnAlignedData", kindList, false},
	{"StopTxnSampledData", kindList, false},
	{"SupportedFeatureProfiles", kindList, true},
	{keyTransactionMessageAttempts, kindInt, false},
	{"UnlockConnectorOnEVSideDisconnect", kindBool, false},
	{"WebSocketPingInterval", kindInt, false},
}

func lookupKey(name string) (keyDef, bool) {
	for _, d := range keyDefs {
		if d.name == name {
			return d, true
		}
	}
	return keyDef{}, false
}

// settings are the charger's configuration values. meterInterval keeps the
// configured sample interval exactly, since tests use sub-second ones that
// the integer-seconds key cannot hold.
type settings struct {
	values        map[string]string
	meterInterval time.Duration
}

func newSettings(cfg ChargerConfig) settings {
	s := settings{values: map[string]string{
		keyAuthorizeRemoteTxRequests:              "false",
		"ChargeProfileMaxStackLevel":              "8",
		"ChargingScheduleAllowedChargingRateUnit": "Current,Power",
		"ChargingScheduleMaxPeriods":              "24",
		"ClockAlignedDataInterval":                "0",
		"ConnectionTimeOut":                       "120",
		"GetConfigurationMaxKeys":                 strconv.Itoa(len(keyDefs)),
		"LocalAuthorizeOffline":                   "true",
		"LocalPreAuthorize":                       "false",
		"MaxChargingProfilesInstalled":            "16",
		"MeterValuesAlignedData":                  "",
		"MeterValuesSampledData":                  "Energy.Active.Import.Register,Power.Active.Import,SoC",
		keyNumberOfConnectors:                     strconv.Itoa(cfg.Connectors),
		"ResetRetries":                            "1",
		keyStopTxOnEVSideDisconnect:               "true",
		keyStopTxOnInvalidID:                      "true",
		"StopTxnAlignedData":                      "",
		"StopTxnSampledData":                      "Energy.Active.Import.Register",
		"SupportedFeatureProfiles":                "Core,SmartCharging,RemoteTrigger",
		keyTransactionMessageAttempts:             strconv.Itoa(cfg.TransactionMessageAttempts),
		"UnlockConnectorOnEVSideDisconnect":       "true",
		"WebSocketPingInterval":                   "30",
	}}
	s.setSeconds(keyHeartbeatInterval, 0)
	s.meterInterval = cfg.MeterInterval
	s.setSeconds(keyMeterValueSampleInterval, cfg.MeterInterval)
	return s
}

func (s *settings) bool(key string) bool { return strings.EqualFold(s.values[key], "true") }

func (s *settings) int(key string) int {
	n, _ := strconv.Atoi(s.values[key])
	return n
}

// setSeconds records a duration under an integer-seconds key, rounding a
// sub-second one up to 1 so that it does not read as "disabled".
func (s *settings) setSeconds(key string, d time.Duration) {
	secs := int(d.Round(time.Second) / time.Second)
	if d > 0 && secs == 0 {
		secs = 1
	}
	s.values[key] = strconv.Itoa(secs)
}

// change applies ChangeConfiguration's rules: unknown keys NotSupported,
// read-only keys and malformed values Rejected.
func (s *settings) change(key, value string) ocpp16.ConfigurationStatus {
	def, ok := lookupKey(key)
	if !ok {
		return ocpp16.ConfigurationNotSupported
	}
	if def.readonly {
		return ocpp16.ConfigurationRejected
	}
	switch def.kind {
	case kindInt:
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return ocpp16.ConfigurationRejected
		}
		if key == keyMeterValueSampleInterval {
			s.meterInterval = time.Duration(n) * time.Second
		}
	case kindBool:
		if !strings.EqualFold(value, "true") && !strings.EqualFold(value, "false") {
			return ocpp16.ConfigurationRejected
		}
		value = strings.ToLower(value)
	}
	s.values[key] = value
	return ocpp16.ConfigurationAccepted
}

// get answers GetConfiguration: the requested keys, or all of them.
func (s *settings) get(keys []string) ocpp16.GetConfigurationResponse {
	var resp ocpp16.GetConfigurationResponse
	if len(keys) == 0 {
		for _, d := range keyDefs {
			keys = append(keys, d.name)
		}
	}
	for _, k := range keys {
		def, ok := lookupKey(k)
		if !ok {
			if !slices.Contains(resp.UnknownKey, k) {
				resp.UnknownKey = append(resp.UnknownKey, k)
			}
			continue
		}
		v := s.values[k]
		resp.ConfigurationKey = append(resp.ConfigurationKey, ocpp16.KeyValue{Key: k, Readonly: def.readonly, Value: &v})
	}
	return resp
}

// secondsOf reads an integer-seconds value (already validated).
func secondsOf(v string) time.Duration {
	n, _ := strconv.Atoi(v)
	return time.Duration(n) * time.Second
}
