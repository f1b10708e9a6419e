package ocppj

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/joule-ev/joule/internal/ocppj/jsonscan"
)

// MessageType is the first element of an OCPP-J frame.
type MessageType int

// The three OCPP-J message types.
const (
	TypeCall       MessageType = 2 // [2, "id", "Action", {payload}]
	TypeCallResult MessageType = 3 // [3, "id", {payload}]
	TypeCallError  MessageType = 4 // [4, "id", "errorCode", "errorDescription", {errorDetails}]
)

// MaxIDLength is the longest message id OCPP-J 1.6 allows (§4.1.4).
const MaxIDLength = 36

// Frame is one decoded OCPP-J message.
type Frame struct {
	Type    MessageType
	ID      string
	Action  string          // CALL only
	Payload json.RawMessage // CALL and CALLRESULT; aliases the decoded bytes
	Error   *Error          // CALLERROR only
}

// DecodeFrame parses one OCPP-J message strictly. When it fails, the
// returned Frame still carries the Type and ID if they could be read, so the
// caller can answer a broken CALL with a CALLERROR bearing its id.
func DecodeFrame(data []byte) (Frame, *Error) {
	f, err := decodeFrame(data)
	out := Frame{Type: f.typ, ID: string(f.id), Action: string(f.action), Payload: f.payload}
	if err == nil && f.typ == TypeCallError {
		out.Error = f.callError()
	}
	return out, err
}

// frame is the allocation-light form used on the hot path: its slices alias
// the read buffer.
type frame struct {
	typ     MessageType
	id      []byte
	action  []byte
	payload []byte
	code    []byte
	desc    []byte
	details []byte
}

func (f *frame) callError() *Error {
	e := &Error{Code: normalizeCode(ErrorCode(f.code)), Description: string(f.desc)}
	if len(f.details) > 0 {
		e.Details = json.RawMessage(bytes.Clone(f.details))
	}
	return e
}

// decodeFrame implements DecodeFrame's rules. The mapping of faults to
// OCPP-J 1.6 error codes (§4.2.3) is:
//   - not JSON, not an array, an element of the wrong JSON type, an empty or
//     over-long id, too few or too many elements: FormationViolation
//     ("not conform the PDU structure");
//   - an integer messageTypeId other than 2, 3 or 4: ProtocolError. OCPP-J 1.6
//     §4.1.3 says the payload of such a message is ignored; we answer it so
//     the peer learns why nothing happened.
func decodeFrame(data []byte) (f frame, perr *Error) {
	start := jsonscan.SkipSpace(data, 0)
	if start >= len(data) || data[start] != '[' {
		return f, Errorf(FormationViolation, "message is not a JSON array")
	}
	var typeErr *Error // a bad messageTypeId, reported once the id is known
	n := 0
	walkErr := jsonscan.EachElement(data[start:], func(i int, k jsonscan.Kind, raw []byte) error {
		n = i + 1
		switch i {
		case 0:
			typeErr = f.readType(k, raw)
			return nil
		case 1:
			if k != jsonscan.String {
				return Errorf(FormationViolation, "uniqueId must be a string, got %s", k)
			}
			id, err := jsonscan.Unquote(raw)
			if err != nil {
				return Errorf(FormationViolation, "uniqueId: %v", err)
			}
			if len(id) == 0 {
				return Errorf(FormationViolation, "uniqueId is empty")
			}
			f.id = id
			if typeErr != nil {
				return typeErr
			}
			if len(id) > MaxIDLength {
				return Errorf(FormationViolation, "uniqueId longer than %d characters", MaxIDLength)
			}
			return nil
		}
		return f.readRest(i, k, raw)
	})
	if walkErr != nil {
		if e, ok := walkErr.(*Error); ok {
			return f, e
		}
		return f, Errorf(FormationViolation, "%v", walkErr)
	}
	if n < 2 {
		if typeErr != nil {
			return f, typeErr
		}
		return f, Errorf(FormationViolation, "message has %d elements", n)
	}
	if want := f.typ.elements(); n != want {
		return f, Errorf(FormationViolation, "%s has %d elements, want %d", f.typ, n, want)
	}
	return f, nil
}

func (f *frame) readType(k jsonscan.Kind, raw []byte) *Error {
	if k != jsonscan.Number || !jsonscan.IsInteger(raw) {
		return Errorf(FormationViolation, "messageTypeId must be an integer, got %s", k)
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return Errorf(ProtocolError, "unknown messageTypeId %s", raw)
	}
	f.typ = MessageType(v)
	if f.typ.elements() == 0 {
		return Errorf(ProtocolError, "unknown messageTypeId %d", v)
	}
	return nil
}

// readRest reads elements 2.. of a frame whose type and id are known.
func (f *frame) readRest(i int, k jsonscan.Kind, raw []byte) error {
	if i >= f.typ.elements() {
		return Errorf(FormationViolation, "%s has more than %d elements", f.typ, f.typ.elements())
	}
	want := jsonscan.Object
	switch {
	case f.typ == TypeCall && i == 2, f.typ == TypeCallError && (i == 2 || i == 3):
		want = jsonscan.String
	}
	if k != want {
		return Errorf(FormationViolation, "%s element %d must be a JSON %s, got %s", f.typ, i, want, k)
	}
	if want == jsonscan.String {
		s, err := jsonscan.Unquote(raw)
		if err != nil {
			return Errorf(FormationViolation, "%s element %d: %v", f.typ, i, err)
		}
		raw = s
	}
	switch {
	case f.typ == TypeCall && i == 2:
		if len(raw) == 0 {
			return Errorf(FormationViolation, "action is empty")
		}
		f.action = raw
	case f.typ == TypeCall && i == 3, f.typ == TypeCallResult && i == 2:
		f.payload = raw
	case i == 2:
		f.code = raw
	case i == 3:
		f.desc = raw
	default:
		f.details = raw
	}
	return nil
}

// elements is the exact array length of a message type, 0 if unknown.
func (t MessageType) elements() int {
	switch t {
	case TypeCall:
		return 4
	case TypeCallResult:
		return 3
	case TypeCallError:
		return 5
	}
	return 0
}

func (t MessageType) String() string {
	switch t {
	case TypeCall:
		return "CALL"
	case TypeCallResult:
		return "CALLRESULT"
	case TypeCallError:
		return "CALLERROR"
	}
	return "message type " + strconv.Itoa(int(t))
}

// appendCall writes [2,"id","action",payload].
func appendCall(buf *bytes.Buffer, id []byte, action string, payload any) error {
	buf.WriteString(`[2,`)
	appendString(buf, id)
	buf.WriteByte(',')
	appendString(buf, []byte(action))
	buf.WriteByte(',')
	if err := appendPayload(buf, payload); err != nil {
		return err
	}
	buf.WriteByte(']')
	return nil
}

// appendResult writes [3,"id",payload].
func appendResult(buf *bytes.Buffer, id []byte, payload any) error {
	buf.WriteString(`[3,`)
	appendString(buf, id)
	buf.WriteByte(',')
	if err := appendPayload(buf, payload); err != nil {
		return err
	}
	buf.WriteByte(']')
	return nil
}

// appendError writes [4,"id","code","description",details].
func appendError(buf *bytes.Buffer, id []byte, e *Error) {
	mark := buf.Len()
	buf.WriteString(`[4,`)
	appendString(buf, id)
	buf.WriteByte(',')
	appendString(buf, []byte(e.Code))
	buf.WriteByte(',')
	desc := e.Description
	if !utf8.ValidString(desc) {
		desc = strings.ToValidUTF8(desc, "\uFFFD")
	}
	appendString(buf, []byte(desc))
	buf.WriteByte(',')
	if err := appendPayload(buf, e.Details); err != nil {
		// Details that do not marshal to an object are dropped rather than
		// losing the error itself.
		buf.Truncate(mark)
		appendError(buf, id, &Error{Code: e.Code, Description: e.Description})
		return
	}
	buf.WriteByte(']')
}

// appendPayload writes v as a JSON object. nil becomes {}.
func appendPayload(buf *bytes.Buffer, v any) error {
	mark := buf.Len()
	switch p := v.(type) {
	case nil:
		buf.WriteString("{}")
		return nil
	case json.RawMessage:
		return appendRawObject(buf, p)
	case []byte:
		return appendRawObject(buf, p)
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Truncate(mark)
		return Errorf(InternalError, "encoding payload: %v", err)
	}
	// Encode ends with a newline, which has no place inside the frame.
	buf.Truncate(buf.Len() - 1)
	if b := buf.Bytes()[mark:]; len(b) == 0 || b[0] != '{' {
		buf.Truncate(mark)
		return Errorf(InternalError, "payload %T is not a JSON object", v)
	}
	return nil
}

func appendRawObject(buf *bytes.Buffer, raw []byte) error {
	if len(raw) == 0 {
		buf.WriteString("{}")
		return nil
	}
	if k, err := jsonscan.Whole(raw); err != nil || k != jsonscan.Object {
		return Errorf(InternalError, "raw payload is not a JSON object")
	}
	buf.Write(raw)
	return nil
}

// appendString writes s as a JSON string. Ids and actions are nearly always
// plain ASCII, so the common case is a straight copy.
func appendString(buf *bytes.Buffer, s []byte) {
	buf.WriteByte('"')
	last := 0
	for i, c := range s {
		var esc string
		switch {
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c < 0x20:
			esc = `\u00` + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&0xf])
		default:
			continue
		}
		buf.Write(s[last:i])
		buf.WriteString(esc)
		last = i + 1
	}
	buf.Write(s[last:])
	buf.WriteByte('"')
}
