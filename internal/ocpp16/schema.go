package ocpp16

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/joule-ev/joule/internal/ocppj"
	"github.com/joule-ev/joule/internal/ocppj/jsonscan"
)

// The OCPP 1.6 JSON schemas use a small part of JSON Schema draft-04:
// objects with additionalProperties false, required lists, strings with
// maxLength, enum or format date-time, integers, numbers with
// multipleOf 0.1, booleans and arrays with minItems. schema mirrors exactly
// that, and validate walks the raw payload against it, so that each kind of
// fault maps to its own CALLERROR code (OCPP-J 1.6 §4.2.3):
//
//	invalid JSON, unknown or duplicate property     FormationViolation
//	wrong JSON type (also null, 1.5 for an integer) TypeConstraintViolation
//	missing required property, too few array items  OccurrenceConstraintViolation
//	string too long, value not in the enum,
//	malformed date-time, integer outside 32 bits,
//	number not a multiple of 0.1                    PropertyConstraintViolation
type schema struct {
	props []prop
}

type valueType uint8

const (
	tString valueType = iota
	tInteger
	tNumber
	tBool
	tObject
	tArray
)

var valueTypeKinds = [...]jsonscan.Kind{tString: jsonscan.String, tInteger: jsonscan.Number, tNumber: jsonscan.Number,
	tBool: jsonscan.Bool, tObject: jsonscan.Object, tArray: jsonscan.Array}

type prop struct {
	name     string
	typ      valueType
	required bool
	maxLen   int      // strings: maximum length in characters, 0 for none
	enum     []string // strings: the allowed values
	dateTime bool     // strings: RFC 3339 date-time
	tenths   bool     // numbers: multipleOf 0.1
	object   *schema  // objects
	items    *prop    // arrays: the schema of each item
	minItems int      // arrays
}

func obj(props ...prop) *schema              { return &schema{props: props} }
func str(name string, maxLen int) prop       { return prop{name: name, typ: tString, maxLen: maxLen} }
func enum(name string, values []string) prop { return prop{name: name, typ: tString, enum: values} }
func dateTime(name string) prop              { return prop{name: name, typ: tString, dateTime: true} }
func integer(name string) prop               { return prop{name: name, typ: tInteger} }
func decimal1(name string) prop              { return prop{name: name, typ: tNumber, tenths: true} }
func boolean(name string) prop               { return prop{name: name, typ: tBool} }
func object(name string, s *schema) prop     { return prop{name: name, typ: tObject, object: s} }
func array(name string, items prop, min int) prop {
	return prop{name: name, typ: tArray, items: &items, minItems: min}
}

// req marks a property required.
func (p prop) req() prop { p.required = true; return p }

// validate checks a whole payload, which must be one JSON object.
func (s *schema) validate(payload []byte) *ocppj.Error {
	k, err := jsonscan.Whole(payload)
	if err != nil {
		return ocppj.Errorf(ocppj.FormationViolation, "payload: %v", err)
	}
	if k != jsonscan.Object {
		return ocppj.Errorf(ocppj.FormationViolation, "payload is a JSON %s, not an object", k)
	}
	var path pathStack
	return s.check(payload, &path)
}

func (s *schema) check(raw []byte, path *pathStack) *ocppj.Error {
	var seen uint64 // bit i: props[i] present; no 1.6 object has 64 properties
	var fault *ocppj.Error
	err := jsonscan.EachMember(raw, func(key []byte, k jsonscan.Kind, val []byte) error {
		name, err := jsonscan.Unquote(key)
		if err != nil {
			return err
		}
		i := s.index(name)
		if i < 0 {
			fault = path.fault(ocppj.FormationViolation, string(name), "is not a property of this message")
			return fault
		}
		if seen&(1<<i) != 0 {
			fault = path.fault(ocppj.FormationViolation, string(name), "appears twice")
			return fault
		}
		seen |= 1 << i
		path.push(s.props[i].name, -1)
		fault = s.props[i].checkValue(k, val, path)
		path.pop()
		if fault != nil {
			return fault
		}
		return nil
	})
	if fault != nil {
		return fault
	}
	if err != nil {
		return path.fault(ocppj.FormationViolation, "", err.Error())
	}
	for i := range s.props {
		if s.props[i].required && seen&(1<<i) == 0 {
			return path.fault(ocppj.OccurrenceConstraintViolation, s.props[i].name, "is required")
		}
	}
	return nil
}

func (s *schema) index(name []byte) int {
	for i := range s.props {
		if s.props[i].name == string(name) {
			return i
		}
	}
	return -1
}

func (p *prop) checkValue(k jsonscan.Kind, val []byte, path *pathStack) *ocppj.Error {
	want := valueTypeKinds[p.typ]
	if k != want || (p.typ == tInteger && !jsonscan.IsInteger(val)) {
		typ := want.String()
		if p.typ == tInteger {
			typ = "integer"
		}
		return path.fault(ocppj.TypeConstraintViolation, "", "must be a JSON "+typ+", got "+describe(k, val))
	}
	switch p.typ {
	case tString:
		return p.checkString(val, path)
	case tInteger:
		if _, err := strconv.ParseInt(string(val), 10, 32); err != nil {
			return path.fault(ocppj.PropertyConstraintViolation, "", "integer "+string(val)+" is out of the 32-bit range")
		}
	case tNumber:
		v, err := strconv.ParseFloat(string(val), 64)
		if err != nil || math.IsInf(v, 0) {
			return path.fault(ocppj.PropertyConstraintViolation, "", "number "+string(val)+" is out of range")
		}
		if p.tenths && !multipleOfTenth(v) {
			return path.fault(ocppj.PropertyConstraintViolation, "", "number "+string(val)+" is not a multiple of 0.1")
		}
	case tObject:
		return p.object.check(val, path)
	case tArray:
		n := 0
		var fault *ocppj.Error
		err := jsonscan.EachElement(val, func(i int, k jsonscan.Kind, raw []byte) error {
			n++
			path.push("", i)
			fault = p.items.checkValue(k, raw, path)
			path.pop()
			if fault != nil {
				return fault
			}
			return nil
		})
		if fault != nil {
			return fault
		}
		if err != nil {
			return path.fault(ocppj.FormationViolation, "", err.Error())
		}
		if n < p.minItems {
			return path.fault(ocppj.OccurrenceConstraintViolation, "", "must have at least "+strconv.Itoa(p.minItems)+" item(s)")
		}
	}
	return nil
}

func (p *prop) checkString(val []byte, path *pathStack) *ocppj.Error {
	s, err := jsonscan.Unquote(val)
	if err != nil {
		return path.fault(ocppj.FormationViolation, "", err.Error())
	}
	if p.maxLen > 0 {
		if n := utf8.RuneCount(s); n > p.maxLen {
			return path.fault(ocppj.PropertyConstraintViolation, "",
				"is "+strconv.Itoa(n)+" characters long, at most "+strconv.Itoa(p.maxLen)+" allowed")
		}
	}
	if p.enum != nil && !contains(p.enum, s) {
		return path.fault(ocppj.PropertyConstraintViolation, "",
			strconv.Quote(string(s))+" is not one of "+strings.Join(p.enum, ", "))
	}
	if p.dateTime && !validDateTime(s) {
		return path.fault(ocppj.PropertyConstraintViolation, "", strconv.Quote(string(s))+" is not an RFC 3339 date-time")
	}
	return nil
}

func contains(values []string, s []byte) bool {
	for _, v := range values {
		if v == string(s) {
			return true
		}
	}
	return false
}

// validDateTime accepts what the schemas' "format": "date-time" means,
// RFC 3339, which is also exactly what time.Time's JSON decoding accepts.
func validDateTime(s []byte) bool {
	_, err := time.Parse(time.RFC3339, string(s))
	return err == nil
}

func multipleOfTenth(v float64) bool {
	x := v * 10
	return math.Abs(x-math.Round(x)) <= 1e-9*math.Max(1, math.Abs(x))
}

// describe names a value in an error message without echoing a long one.
func describe(k jsonscan.Kind, val []byte) string {
	if len(val) > 32 {
		return k.String()
	}
	return k.String() + " " + string(val)
}

// pathStack tracks where in the payload the validator is, for messages
// such as `meterValue[0].sampledValue[2].unit: "kwh" is not one of ...`.
type pathStack struct {
	elems []pathElem
}

type pathElem struct {
	name  string
	index int // array index, or -1 for a property
}

func (p *pathStack) push(name string, index int) { p.elems = append(p.elems, pathElem{name, index}) }
func (p *pathStack) pop()                        { p.elems = p.elems[:len(p.elems)-1] }

// fault makes the error for the current position (plus child, if named).
func (p *pathStack) fault(code ocppj.ErrorCode, child, msg string) *ocppj.Error {
	var b strings.Builder
	for _, e := range p.elems {
		if e.index >= 0 {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	if child != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(child)
	}
	where := b.String()
	if where == "" {
		return &ocppj.Error{Code: code, Description: msg}
	}
	return &ocppj.Error{Code: code, Description: where + ": " + msg, Details: map[string]string{"property": where}}
}
