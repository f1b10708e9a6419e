package ocppj

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeFrameValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Frame
	}{
		{"call", `[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]`,
			Frame{Type: TypeCall, ID: "19223201", Action: "BootNotification", Payload: json.RawMessage(`{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}`)}},
		{"call with whitespace", " [ 2 , \"a\" , \"Heartbeat\" , { } ] \n",
			Frame{Type: TypeCall, ID: "a", Action: "Heartbeat", Payload: json.RawMessage(`{ }`)}},
		{"escaped id", `[2,"a\"b","Heartbeat",{}]`,
			Frame{Type: TypeCall, ID: `a"b`, Action: "Heartbeat", Payload: json.RawMessage(`{}`)}},
		{"result", `[3,"19223201",{"status":"Accepted","currentTime":"2013-02-01T20:53:32.486Z","interval":300}]`,
			Frame{Type: TypeCallResult, ID: "19223201", Payload: json.RawMessage(`{"status":"Accepted","currentTime":"2013-02-01T20:53:32.486Z","interval":300}`)}},
		{"error", `[4,"162376037","NotSupported","SetDisplayMessageRequest not implemented",{}]`,
			Frame{Type: TypeCallError, ID: "162376037", Error: &Error{Code: NotSupported, Description: "SetDisplayMessageRequest not implemented", Details: json.RawMessage(`{}`)}}},
		{"error with 1.6 typo", `[4,"1","OccurenceConstraintViolation","",{"x":1}]`,
			Frame{Type: TypeCallError, ID: "1", Error: &Error{Code: OccurrenceConstraintViolation, Details: json.RawMessage(`{"x":1}`)}}},
		{"36 character id", `[3,"123456789012345678901234567890123456",{}]`,
			Frame{Type: TypeCallResult, ID: "123456789012345678901234567890123456", Payload: json.RawMessage(`{}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFrame([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if got.Type != tt.want.Type || got.ID != tt.want.ID || got.Action != tt.want.Action || !bytes.Equal(got.Payload, tt.want.Payload) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if (got.Error == nil) != (tt.want.Error == nil) {
				t.Fatalf("error %v, want %v", got.Error, tt.want.Error)
			}
			if got.Error != nil {
				if got.Error.Code != tt.want.Error.Code || got.Error.Description != tt.want.Error.Description ||
					string(got.Error.Details.(json.RawMessage)) != string(tt.want.Error.Details.(json.RawMessage)) {
					t.Fatalf("error %+v, want %+v", got.Error, tt.want.Error)
				}
			}
		})
	}
}

func TestDecodeFrameInvalid(t *testing.T) {
	tests := []struct {
		in     string
		code   ErrorCode
		id     string // id that a CALLERROR must carry; "" if unreadable
		msgTyp MessageType
	}{
		{``, FormationViolation, "", 0},
		{`not json`, FormationViolation, "", 0},
		{`{"a":1}`, FormationViolation, "", 0},
		{`[]`, FormationViolation, "", 0},
		{`[2]`, FormationViolation, "", TypeCall},
		{`["2","id","Heartbeat",{}]`, FormationViolation, "id", 0},
		{`[2.0,"id","Heartbeat",{}]`, FormationViolation, "id", 0},
		{`[2,17,"Heartbeat",{}]`, FormationViolation, "", TypeCall},
		{`[2,"","Heartbeat",{}]`, FormationViolation, "", TypeCall},
		{`[2,"1234567890123456789012345678901234567","Heartbeat",{}]`, FormationViolation, "1234567890123456789012345678901234567", TypeCall},
		{`[2,"id","Heartbeat"]`, FormationViolation, "id", TypeCall},
		{`[2,"id","Heartbeat",{},{}]`, FormationViolation, "id", TypeCall},
		{`[2,"id",7,{}]`, FormationViolation, "id", TypeCall},
		{`[2,"id","",{}]`, FormationViolation, "id", TypeCall},
		{`[2,"id","Heartbeat",[]]`, FormationViolation, "id", TypeCall},
		{`[2,"id","Heartbeat","{}"]`, FormationViolation, "id", TypeCall},
		{`[2,"id","Heartbeat",{"a":}]`, FormationViolation, "id", TypeCall},
		{`[2,"id","Heartbeat",{}`, FormationViolation, "id", TypeCall},
		{`[2,"id","Heartbeat",{}] x`, FormationViolation, "id", TypeCall},
		{`[5,"id","Heartbeat",{}]`, ProtocolError, "id", 5},
		{`[99999999999999999999,"id",{}]`, ProtocolError, "id", 0},
		{`[3,"id"]`, FormationViolation, "id", TypeCallResult},
		{`[3,"id","x"]`, FormationViolation, "id", TypeCallResult},
		{`[4,"id","GenericError","x"]`, FormationViolation, "id", TypeCallError},
		{`[4,"id","GenericError",5,{}]`, FormationViolation, "id", TypeCallError},
		{`[4,"id","GenericError","x",null]`, FormationViolation, "id", TypeCallError},
		{"[2,\"id\",\"Heart\xffbeat\",{}]", FormationViolation, "id", TypeCall},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := DecodeFrame([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeFrame(%q) succeeded: %+v", tt.in, f)
			}
			if err.Code != tt.code {
				t.Errorf("code %s, want %s (%s)", err.Code, tt.code, err.Description)
			}
			if f.ID != tt.id {
				t.Errorf("id %q, want %q", f.ID, tt.id)
			}
			if f.Type != tt.msgTyp {
				t.Errorf("type %d, want %d", f.Type, tt.msgTyp)
			}
		})
	}
}

func TestEncodeFrames(t *testing.T) {
	var buf bytes.Buffer
	if err := appendCall(&buf, []byte(`i"d`), "Heartbeat", struct{}{}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `[2,"i\"d","Heartbeat",{}]`; got != want {
		t.Errorf("call %s, want %s", got, want)
	}
	buf.Reset()
	if err := appendResult(&buf, []byte("1"), map[string]string{"status": "<Accepted>"}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `[3,"1",{"status":"<Accepted>"}]`; got != want {
		t.Errorf("result %s, want %s", got, want)
	}
	buf.Reset()
	if err := appendResult(&buf, []byte("1"), "not an object"); err == nil {
		t.Errorf("non-object payload accepted: %s", buf.String())
	}
	buf.Reset()
	if err := appendResult(&buf, []byte("1"), json.RawMessage(`[1]`)); err == nil {
		t.Errorf("non-object raw payload accepted: %s", buf.String())
	}
	buf.Reset()
	appendError(&buf, []byte("-1"), &Error{Code: FormationViolation, Description: "bad\n\xff", Details: map[string]int{"offset": 3}})
	if got, want := buf.String(), `[4,"-1","FormationViolation","bad\u000a`+"\uFFFD"+`",{"offset":3}]`; got != want {
		t.Errorf("error %s, want %s", got, want)
	}
	buf.Reset()
	appendError(&buf, []byte("7"), &Error{Code: GenericError, Details: []int{1}})
	if got, want := buf.String(), `[4,"7","GenericError","",{}]`; got != want {
		t.Errorf("error with bad details %s, want %s", got, want)
	}
	// Everything we encode must decode again.
	f, derr := DecodeFrame(buf.Bytes())
	if derr != nil || f.Error.Code != GenericError || f.ID != "7" {
		t.Errorf("round trip: %+v %v", f, derr)
	}
}

func TestErrorCodeKnown(t *testing.T) {
	for _, c := range []ErrorCode{NotImplemented, NotSupported, InternalError, ProtocolError, SecurityError, FormationViolation,
		PropertyConstraintViolation, OccurrenceConstraintViolation, "OccurenceConstraintViolation", TypeConstraintViolation, GenericError} {
		if !c.Known() {
			t.Errorf("%s not known", c)
		}
	}
	if ErrorCode("FormatViolation").Known() {
		t.Error("the OCPP 2.0.1 code FormatViolation is not an OCPP 1.6 code")
	}
}

func TestIDsAreUniqueAndShort(t *testing.T) {
	g1, g2 := newIDGen(), newIDGen()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		for _, g := range []*idGen{g1, g2} {
			id := string(g.next(nil))
			if seen[id] || len(id) > MaxIDLength || strings.ContainsAny(id, `"\`) {
				t.Fatalf("bad id %q", id)
			}
			seen[id] = true
		}
	}
}
