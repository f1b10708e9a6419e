package ocppj

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/joule-ev/joule/internal/ocppj/jsonscan"
)

// FuzzDecodeFrame checks that no input panics the decoder, that the strict
// scanner agrees with encoding/json about what is valid JSON, and that every
// frame that decodes re-encodes to a frame that decodes the same.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`[2,"1","Heartbeat",{}]`,
		`[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]`,
		`[4,"1","GenericError","x",{}]`,
		`[2,"a\u0041\ud83d\ude00","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`,
		`[5,"x"]`, `[`, `[[[[[[[[`, `"\u12`, `[2,"1","A",{"a":[1,2.5e-3,true,false,null,"\\"]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// encoding/json tolerates invalid UTF-8 inside strings; we do not.
		if _, scanErr := jsonscan.Whole(data); utf8.Valid(data) && (scanErr == nil) != json.Valid(data) {
			t.Fatalf("jsonscan and encoding/json disagree on %q: %v", data, scanErr)
		}
		fr, err := DecodeFrame(data)
		if err != nil {
			if !err.Code.Known() {
				t.Fatalf("unknown error code %q", err.Code)
			}
			return
		}
		var buf bytes.Buffer
		switch fr.Type {
		case TypeCall:
			if e := appendCall(&buf, []byte(fr.ID), fr.Action, fr.Payload); e != nil {
				t.Fatalf("re-encode call: %v", e)
			}
		case TypeCallResult:
			if e := appendResult(&buf, []byte(fr.ID), fr.Payload); e != nil {
				t.Fatalf("re-encode result: %v", e)
			}
		case TypeCallError:
			appendError(&buf, []byte(fr.ID), fr.Error)
		}
		again, err := DecodeFrame(buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", buf.Bytes(), err)
		}
		if again.Type != fr.Type || again.ID != fr.ID || again.Action != fr.Action {
			t.Fatalf("round trip changed %+v into %+v", fr, again)
		}
	})
}
