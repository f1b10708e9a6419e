package ocpp16

import (
	"encoding/json"
	"testing"

	"github.com/joule-ev/joule/internal/ocppj"
)

// FuzzDecode feeds arbitrary payloads to every action's request and
// confirmation decoders: they must never panic, must only answer with the
// codes validation may produce, and whatever they accept must survive a
// marshal and decode again (the Go types can hold every valid payload).
func FuzzDecode(f *testing.F) {
	actions := make([]string, 0, len(examples))
	for action, ex := range examples {
		actions = append(actions, action)
		f.Add(uint8(len(actions)-1), []byte(ex[0]))
		f.Add(uint8(len(actions)-1), []byte(ex[1]))
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		action := actions[int(which)%len(actions)]
		for _, decode := range []func(string, []byte) (any, *ocppj.Error){
			func(a string, p []byte) (any, *ocppj.Error) { return DecodeRequest(a, p) },
			DecodeResponse,
		} {
			v, err := decode(action, payload)
			if err != nil {
				switch err.Code {
				case ocppj.FormationViolation, ocppj.TypeConstraintViolation, ocppj.OccurrenceConstraintViolation,
					ocppj.PropertyConstraintViolation:
				default:
					t.Fatalf("%s: unexpected code %s for %q: %s", action, err.Code, payload, err.Description)
				}
				continue
			}
			again, merr := json.Marshal(v)
			if merr != nil {
				t.Fatalf("%s: marshal %#v: %v", action, v, merr)
			}
			if _, err := decode(action, again); err != nil {
				t.Fatalf("%s: accepted %q but not its re-encoding %s: %v", action, payload, again, err)
			}
		}
	})
}
