package ocpp16

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/ocppj"
)

const ts = `"2024-05-01T10:00:00.123Z"`

const profile = `{"chargingProfileId":7,"transactionId":42,"stackLevel":1,"chargingProfilePurpose":"TxProfile",
	"chargingProfileKind":"Relative","recurrencyKind":"Daily","validFrom":` + ts + `,"validTo":` + ts + `,
	"chargingSchedule":{"duration":3600,"startSchedule":` + ts + `,"chargingRateUnit":"W",
	"chargingSchedulePeriod":[{"startPeriod":0,"limit":0.0,"numberPhases":3},{"startPeriod":60,"limit":7400.5}],
	"minChargingRate":1.5}}`

// examples holds, for every action, a request and a confirmation that are
// valid and set every property the schema has.
var examples = map[string][2]string{
	ActionAuthorize: {`{"idTag":"ABCDEF0123456789"}`,
		`{"idTagInfo":{"expiryDate":` + ts + `,"parentIdTag":"PARENT","status":"Accepted"}}`},
	ActionBootNotification: {`{"chargePointVendor":"Joule","chargePointModel":"Sim-1","chargePointSerialNumber":"S1",
		"chargeBoxSerialNumber":"B1","firmwareVersion":"1.0","iccid":"8901","imsi":"2620","meterType":"M","meterSerialNumber":"MS"}`,
		`{"status":"Accepted","currentTime":` + ts + `,"interval":300}`},
	ActionChangeAvailability:  {`{"connectorId":0,"type":"Inoperative"}`, `{"status":"Scheduled"}`},
	ActionChangeConfiguration: {`{"key":"MeterValueSampleInterval","value":"60"}`, `{"status":"RebootRequired"}`},
	ActionClearCache:          {`{}`, `{"status":"Accepted"}`},
	ActionDataTransfer:        {`{"vendorId":"com.joule","messageId":"m1","data":"anything"}`, `{"status":"UnknownVendorId","data":"x"}`},
	ActionGetConfiguration: {`{"key":["HeartbeatInterval","Nope"]}`,
		`{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"},{"key":"NumberOfConnectors","readonly":true}],"unknownKey":["Nope"]}`},
	ActionHeartbeat: {`{}`, `{"currentTime":"2024-05-01T12:00:00+02:00"}`},
	ActionMeterValues: {`{"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":` + ts + `,"sampledValue":[
		{"value":"1234.5","context":"Sample.Periodic","format":"Raw","measurand":"Energy.Active.Import.Register","phase":"L1","location":"Outlet","unit":"kWh"},
		{"value":"80"}]}]}`, `{}`},
	ActionRemoteStartTransaction: {`{"connectorId":1,"idTag":"TAG","chargingProfile":` + profile + `}`, `{"status":"Accepted"}`},
	ActionRemoteStopTransaction:  {`{"transactionId":42}`, `{"status":"Rejected"}`},
	ActionReset:                  {`{"type":"Soft"}`, `{"status":"Accepted"}`},
	ActionStartTransaction: {`{"connectorId":1,"idTag":"TAG","meterStart":1000,"reservationId":3,"timestamp":` + ts + `}`,
		`{"idTagInfo":{"status":"ConcurrentTx"},"transactionId":42}`},
	ActionStatusNotification: {`{"connectorId":1,"errorCode":"NoError","info":"i","status":"SuspendedEVSE","timestamp":` + ts + `,
		"vendorId":"v","vendorErrorCode":"e"}`, `{}`},
	ActionStopTransaction: {`{"idTag":"TAG","meterStop":2000,"timestamp":` + ts + `,"transactionId":42,"reason":"EVDisconnected",
		"transactionData":[{"timestamp":` + ts + `,"sampledValue":[{"value":"2000","context":"Transaction.End"}]},{"timestamp":` + ts + `,"sampledValue":[]}]}`,
		`{"idTagInfo":{"status":"Accepted"}}`},
	ActionUnlockConnector:      {`{"connectorId":2}`, `{"status":"UnlockFailed"}`},
	ActionSetChargingProfile:   {`{"connectorId":1,"csChargingProfiles":` + profile + `}`, `{"status":"NotSupported"}`},
	ActionClearChargingProfile: {`{"id":7,"connectorId":1,"chargingProfilePurpose":"TxDefaultProfile","stackLevel":0}`, `{"status":"Unknown"}`},
	ActionGetCompositeSchedule: {`{"connectorId":1,"duration":600,"chargingRateUnit":"A"}`,
		`{"status":"Accepted","connectorId":1,"scheduleStart":` + ts + `,"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}}`},
	ActionTriggerMessage: {`{"requestedMessage":"MeterValues","connectorId":1}`, `{"status":"NotImplemented"}`},
}

func TestEveryActionHasExamples(t *testing.T) {
	for action := range messages {
		if _, ok := examples[action]; !ok {
			t.Errorf("no example for %s", action)
		}
	}
}

// TestValidExamplesRoundTrip decodes each valid example into its Go type,
// marshals it back and validates the result again: the Go types and the
// schema tables describe the same messages.
func TestValidExamplesRoundTrip(t *testing.T) {
	for action, ex := range examples {
		for dir, payload := range ex {
			name := action + []string{".req", ".conf"}[dir]
			t.Run(name, func(t *testing.T) {
				decode := DecodeResponse
				if dir == 0 {
					decode = func(a string, p []byte) (any, *ocppj.Error) { return DecodeRequest(a, p) }
				}
				v, err := decode(action, []byte(payload))
				if err != nil {
					t.Fatalf("valid payload rejected: %v", err)
				}
				want := messages[action].newResponse()
				if dir == 0 {
					want = messages[action].newRequest()
				}
				if reflect.TypeOf(v) != reflect.TypeOf(want) {
					t.Fatalf("decoded %T, want %T", v, want)
				}
				again, merr := json.Marshal(v)
				if merr != nil {
					t.Fatal(merr)
				}
				if _, err := decode(action, again); err != nil {
					t.Fatalf("re-marshalled %s rejected: %v", again, err)
				}
				if !sameJSON(t, payload, again) {
					t.Errorf("round trip changed the payload:\n in  %s\n out %s", compact(payload), again)
				}
			})
		}
	}
}

// sameJSON compares two payloads as JSON values (times compared as instants).
func sameJSON(t *testing.T, a string, b []byte) bool {
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(normalize(x), normalize(y))
}

func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	case string:
		if validDateTime([]byte(v)) {
			tm, _ := parseTime(v)
			return tm.UTC().Format("2006-01-02T15:04:05.000Z")
		}
	}
	return v
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

func compact(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestInvalidVariants derives, from each valid example, one payload per
// kind of fault for every top-level property, and checks the error code.
func TestInvalidVariants(t *testing.T) {
	for action, ex := range examples {
		m := messages[action]
		for dir, payload := range ex {
			s, validate := m.request, ValidateRequest
			if dir == 1 {
				s, validate = m.response, ValidateResponse
			}
			var base map[string]any
			if err := json.Unmarshal([]byte(payload), &base); err != nil {
				t.Fatal(err)
			}
			check := func(what string, mutate func(map[string]any), want ocppj.ErrorCode) {
				t.Helper()
				v := clone(base)
				mutate(v)
				b, _ := json.Marshal(v)
				err := validate(action, b)
				if err == nil || err.Code != want {
					t.Errorf("%s.%d %s: %s -> %v, want %s", action, dir, what, b, err, want)
				}
			}
			check("extra property", func(v map[string]any) { v["bogus"] = 1 }, ocppj.FormationViolation)
			for _, p := range s.props {
				if p.required {
					check("missing "+p.name, func(v map[string]any) { delete(v, p.name) }, ocppj.OccurrenceConstraintViolation)
				}
				if _, present := base[p.name]; !present {
					continue
				}
				check("null "+p.name, func(v map[string]any) { v[p.name] = nil }, ocppj.TypeConstraintViolation)
				check("wrong type "+p.name, func(v map[string]any) { v[p.name] = wrongType(p) }, ocppj.TypeConstraintViolation)
				switch {
				case p.typ == tInteger:
					check("fraction "+p.name, func(v map[string]any) { v[p.name] = 1.5 }, ocppj.TypeConstraintViolation)
					check("over 32 bits "+p.name, func(v map[string]any) { v[p.name] = 1 << 40 }, ocppj.PropertyConstraintViolation)
				case p.maxLen > 0:
					check("too long "+p.name, func(v map[string]any) { v[p.name] = strings.Repeat("é", p.maxLen+1) }, ocppj.PropertyConstraintViolation)
					v := clone(base)
					v[p.name] = strings.Repeat("é", p.maxLen)
					if b, _ := json.Marshal(v); validate(action, b) != nil {
						t.Errorf("%s.%d: %s of exactly %d characters rejected", action, dir, p.name, p.maxLen)
					}
				case p.enum != nil:
					check("bad enum "+p.name, func(v map[string]any) { v[p.name] = strings.ToLower(p.enum[0]) }, ocppj.PropertyConstraintViolation)
				case p.dateTime:
					check("bad date-time "+p.name, func(v map[string]any) { v[p.name] = "2024-05-01 10:00:00" }, ocppj.PropertyConstraintViolation)
					check("no zone "+p.name, func(v map[string]any) { v[p.name] = "2024-05-01T10:00:00" }, ocppj.PropertyConstraintViolation)
				}
			}
		}
	}
}

func wrongType(p prop) any {
	switch p.typ {
	case tString:
		return 12
	case tInteger, tNumber:
		return "12"
	case tBool:
		return "true"
	case tObject:
		return []any{}
	default:
		return map[string]any{}
	}
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestNestedFaults(t *testing.T) {
	tests := []struct {
		action, payload string
		code            ocppj.ErrorCode
		where           string
	}{
		{ActionMeterValues, `{"connectorId":1,"meterValue":[]}`, ocppj.OccurrenceConstraintViolation, "meterValue"},
		{ActionMeterValues, `{"connectorId":1,"meterValue":[{"timestamp":` + ts + `,"sampledValue":[]}]}`, ocppj.OccurrenceConstraintViolation, "meterValue[0].sampledValue"},
		{ActionMeterValues, `{"connectorId":1,"meterValue":[{"timestamp":` + ts + `,"sampledValue":[{"value":"1","unit":"kwh"}]}]}`, ocppj.PropertyConstraintViolation, "meterValue[0].sampledValue[0].unit"},
		{ActionMeterValues, `{"connectorId":1,"meterValue":[{"timestamp":` + ts + `,"sampledValue":[{"value":1}]}]}`, ocppj.TypeConstraintViolation, "meterValue[0].sampledValue[0].value"},
		{ActionMeterValues, `{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1"}]}]}`, ocppj.OccurrenceConstraintViolation, "meterValue[0].timestamp"},
		{ActionMeterValues, `{"connectorId":1,"meterValue":[{"timestamp":` + ts + `,"sampledValue":[{"value":"1","extra":1}]}]}`, ocppj.FormationViolation, "meterValue[0].sampledValue[0].extra"},
		{ActionMeterValues, `{"connectorId":1,"meterValue":[{"timestamp":` + ts + `,"sampledValue":[{"value":"1"}]}],"connectorId":2}`, ocppj.FormationViolation, "connectorId"},
		{ActionMeterValues, `{"connectorId":1,"meterValue":{}}`, ocppj.TypeConstraintViolation, "meterValue"},
		{ActionSetChargingProfile, `{"connectorId":1,"csChargingProfiles":` + strings.Replace(profile, `"limit":7400.5`, `"limit":7400.55`, 1) + `}`,
			ocppj.PropertyConstraintViolation, "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[1].limit"},
		{ActionSetChargingProfile, `{"connectorId":1,"csChargingProfiles":` + strings.Replace(profile, `"startPeriod":60,`, ``, 1) + `}`,
			ocppj.OccurrenceConstraintViolation, "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[1].startPeriod"},
		{ActionGetConfiguration, `{"key":["` + strings.Repeat("k", 51) + `"]}`, ocppj.PropertyConstraintViolation, "key[0]"},
		{ActionGetConfiguration, `{"key":[1]}`, ocppj.TypeConstraintViolation, "key[0]"},
		{ActionAuthorize, `{"idTag":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}`, "", ""},
		{ActionAuthorize, `{"idTag":"ABC"`, ocppj.FormationViolation, ""},
		{ActionAuthorize, `["idTag"]`, ocppj.FormationViolation, ""},
		{ActionAuthorize, ``, ocppj.FormationViolation, ""},
		{"FooBar", `{}`, ocppj.NotImplemented, ""},
		{"ReserveNow", `{}`, ocppj.NotSupported, ""},
	}
	for _, tt := range tests {
		err := ValidateRequest(tt.action, []byte(tt.payload))
		if tt.code == "" {
			if err != nil {
				t.Errorf("%s %s: %v", tt.action, tt.payload, err)
			}
			continue
		}
		if err == nil || err.Code != tt.code {
			t.Errorf("%s %s: %v, want %s", tt.action, tt.payload, err, tt.code)
			continue
		}
		if tt.where != "" && !strings.HasPrefix(err.Description, tt.where+": ") {
			t.Errorf("%s: description %q does not name %s", tt.action, err.Description, tt.where)
		}
	}
}

func TestUnsupportedFallback(t *testing.T) {
	for action, want := range map[string]ocppj.ErrorCode{
		"UpdateFirmware": ocppj.NotSupported, ActionReset: ocppj.NotSupported, "Hello": ocppj.NotImplemented,
	} {
		_, err := Unsupported(t.Context(), nil, action, nil)
		if e, ok := ocppj.AsError(err); !ok || e.Code != want {
			t.Errorf("%s: %v, want %s", action, err, want)
		}
	}
}

// required lists, independently of the schema tables, the required
// top-level properties of every message as the 1.6 schemas state them.
var required = map[string][2][]string{
	ActionAuthorize:              {{"idTag"}, {"idTagInfo"}},
	ActionBootNotification:       {{"chargePointVendor", "chargePointModel"}, {"status", "currentTime", "interval"}},
	ActionChangeAvailability:     {{"connectorId", "type"}, {"status"}},
	ActionChangeConfiguration:    {{"key", "value"}, {"status"}},
	ActionClearCache:             {nil, {"status"}},
	ActionDataTransfer:           {{"vendorId"}, {"status"}},
	ActionGetConfiguration:       {nil, nil},
	ActionHeartbeat:              {nil, {"currentTime"}},
	ActionMeterValues:            {{"connectorId", "meterValue"}, nil},
	ActionRemoteStartTransaction: {{"idTag"}, {"status"}},
	ActionRemoteStopTransaction:  {{"transactionId"}, {"status"}},
	ActionReset:                  {{"type"}, {"status"}},
	ActionStartTransaction:       {{"connectorId", "idTag", "meterStart", "timestamp"}, {"idTagInfo", "transactionId"}},
	ActionStatusNotification:     {{"connectorId", "errorCode", "status"}, nil},
	ActionStopTransaction:        {{"meterStop", "timestamp", "transactionId"}, nil},
	ActionUnlockConnector:        {{"connectorId"}, {"status"}},
	ActionSetChargingProfile:     {{"connectorId", "csChargingProfiles"}, {"status"}},
	ActionClearChargingProfile:   {nil, {"status"}},
	ActionGetCompositeSchedule:   {{"connectorId", "duration"}, {"status"}},
	ActionTriggerMessage:         {{"requestedMessage"}, {"status"}},
}

func TestRequiredProperties(t *testing.T) {
	for action, ex := range examples {
		for dir, payload := range ex {
			validate := ValidateRequest
			if dir == 1 {
				validate = ValidateResponse
			}
			var base map[string]any
			_ = json.Unmarshal([]byte(payload), &base)
			for name := range base {
				v := clone(base)
				delete(v, name)
				b, _ := json.Marshal(v)
				err := validate(action, b)
				isRequired := false
				for _, r := range required[action][dir] {
					isRequired = isRequired || r == name
				}
				switch {
				case isRequired && (err == nil || err.Code != ocppj.OccurrenceConstraintViolation):
					t.Errorf("%s.%d without required %s: %v", action, dir, name, err)
				case !isRequired && err != nil:
					t.Errorf("%s.%d without optional %s: %v", action, dir, name, err)
				}
			}
		}
	}
}

// TestStringLimits checks the CiStringN limits of the 1.6 schemas, listed
// here independently of the schema tables.
func TestStringLimits(t *testing.T) {
	limits := []struct {
		action string
		dir    int
		prop   string
		max    int
	}{
		{ActionAuthorize, 0, "idTag", 20},
		{ActionBootNotification, 0, "chargePointVendor", 20},
		{ActionBootNotification, 0, "chargePointModel", 20},
		{ActionBootNotification, 0, "chargePointSerialNumber", 25},
		{ActionBootNotification, 0, "chargeBoxSerialNumber", 25},
		{ActionBootNotification, 0, "firmwareVersion", 50},
		{ActionBootNotification, 0, "iccid", 20},
		{ActionBootNotification, 0, "imsi", 20},
		{ActionBootNotification, 0, "meterType", 25},
		{ActionBootNotification, 0, "meterSerialNumber", 25},
		{ActionChangeConfiguration, 0, "key", 50},
		{ActionChangeConfiguration, 0, "value", 500},
		{ActionDataTransfer, 0, "vendorId", 255},
		{ActionDataTransfer, 0, "messageId", 50},
		{ActionRemoteStartTransaction, 0, "idTag", 20},
		{ActionStartTransaction, 0, "idTag", 20},
		{ActionStatusNotification, 0, "info", 50},
		{ActionStatusNotification, 0, "vendorId", 255},
		{ActionStatusNotification, 0, "vendorErrorCode", 50},
		{ActionStopTransaction, 0, "idTag", 20},
	}
	for _, l := range limits {
		validate := ValidateRequest
		if l.dir == 1 {
			validate = ValidateResponse
		}
		var base map[string]any
		_ = json.Unmarshal([]byte(examples[l.action][l.dir]), &base)
		for _, n := range []int{l.max, l.max + 1} {
			base[l.prop] = strings.Repeat("x", n)
			b, _ := json.Marshal(base)
			err := validate(l.action, b)
			if (err == nil) != (n == l.max) {
				t.Errorf("%s %s of %d characters: %v", l.action, l.prop, n, err)
			}
		}
	}
	nested := map[string]string{
		`{"idTagInfo":{"status":"Accepted","parentIdTag":"%s"}}`: ActionAuthorize,
	}
	for format, action := range nested {
		ok := strings.Replace(format, "%s", strings.Repeat("x", 20), 1)
		bad := strings.Replace(format, "%s", strings.Repeat("x", 21), 1)
		if ValidateResponse(action, []byte(ok)) != nil || ValidateResponse(action, []byte(bad)) == nil {
			t.Errorf("parentIdTag limit of 20 not enforced")
		}
	}
	if ValidateResponse(ActionGetConfiguration, []byte(`{"configurationKey":[{"key":"k","readonly":true,"value":"`+strings.Repeat("v", 501)+`"}]}`)) == nil {
		t.Error("configuration value limit of 500 not enforced")
	}
}
