// Package jsonscan is a small, strict, allocation-free JSON scanner.
//
// OCPP-J needs to tell a syntax error (FormationViolation) from a wrong type
// (TypeConstraintViolation) or a missing field (OccurrenceConstraintViolation),
// and to read a frame's message id even when its payload is broken, so that the
// CALLERROR can carry that id. encoding/json reports all of these as one opaque
// error and only after reading everything, so the framing and validation code
// walks the bytes itself with this package and leaves typed decoding to
// encoding/json once the shape is known to be right.
package jsonscan

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Kind is the JSON type of a value.
type Kind uint8

// The JSON value kinds.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Object
	Array
)

var kindNames = [...]string{"invalid", "null", "boolean", "number", "string", "object", "array"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MaxDepth bounds nesting so that hostile input ("[[[[...") cannot exhaust
// the stack. OCPP 1.6 payloads nest at most five levels.
const MaxDepth = 64

// SyntaxError is returned for input that is not valid JSON.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

func syntaxErr(off int, msg string) error { return &SyntaxError{Offset: off, Msg: msg} }

// IsSyntax reports whether err is a JSON syntax error.
func IsSyntax(err error) bool {
	var se *SyntaxError
	return errors.As(err, &se)
}

// SkipSpace returns the offset of the first non-whitespace byte at or after i.
func SkipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Value scans the single JSON value starting at data[i] (leading whitespace
// allowed) and validates its syntax completely. It returns the value's kind
// and the offsets [start, end) of its bytes.
func Value(data []byte, i int) (k Kind, start, end int, err error) {
	start = SkipSpace(data, i)
	k, end, err = scanValue(data, start, 0)
	return k, start, end, err
}

// Whole validates that data holds exactly one JSON value and nothing else
// but whitespace, and returns its kind.
func Whole(data []byte) (Kind, error) {
	k, _, end, err := Value(data, 0)
	if err != nil {
		return Invalid, err
	}
	if j := SkipSpace(data, end); j != len(data) {
		return Invalid, syntaxErr(j, "trailing data after value")
	}
	return k, nil
}

func scanValue(data []byte, i, depth int) (Kind, int, error) {
	if i >= len(data) {
		return Invalid, i, syntaxErr(i, "unexpected end of input")
	}
	switch c := data[i]; {
	case c == '{':
		end, err := scanObject(data, i, depth+1)
		return Object, end, err
	case c == '[':
		end, err := scanArray(data, i, depth+1)
		return Array, end, err
	case c == '"':
		end, err := scanString(data, i)
		return String, end, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(data, i)
		return Number, end, err
	case c == 't':
		return Bool, i + 4, literal(data, i, "true")
	case c == 'f':
		return Bool, i + 5, literal(data, i, "false")
	case c == 'n':
		return Null, i + 4, literal(data, i, "null")
	default:
		return Invalid, i, syntaxErr(i, fmt.Sprintf("unexpected character %q", c))
	}
}

func literal(data []byte, i int, lit string) error {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return syntaxErr(i, "invalid literal")
	}
	return nil
}

func scanObject(data []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, syntaxErr(i, "nesting too deep")
	}
	i = SkipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, syntaxErr(i, "expected object key")
		}
		end, err := scanString(data, i)
		if err != nil {
			return end, err
		}
		i = SkipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return i, syntaxErr(i, "expected ':' after object key")
		}
		i = SkipSpace(data, i+1)
		if _, i, err = scanValue(data, i, depth); err != nil {
			return i, err
		}
		i = SkipSpace(data, i)
		if i >= len(data) {
			return i, syntaxErr(i, "unterminated object")
		}
		switch data[i] {
		case ',':
			i = SkipSpace(data, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxErr(i, "expected ',' or '}' in object")
		}
	}
}

func scanArray(data []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, syntaxErr(i, "nesting too deep")
	}
	i = SkipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if _, i, err = scanValue(data, i, depth); err != nil {
			return i, err
		}
		i = SkipSpace(data, i)
		if i >= len(data) {
			return i, syntaxErr(i, "unterminated array")
		}
		switch data[i] {
		case ',':
			i = SkipSpace(data, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, syntaxErr(i, "expected ',' or ']' in array")
		}
	}
}

// scanString validates the string token starting at data[i] == '"' and
// returns the offset just past its closing quote.
func scanString(data []byte, i int) (int, error) {
	j := i + 1
	for j < len(data) {
		c := data[j]
		switch {
		case c == '"':
			return j + 1, nil
		case c == '\\':
			if j+1 >= len(data) {
				return j, syntaxErr(j, "unterminated escape")
			}
			switch data[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(data) || !isHex4(data[j+2:j+6]) {
					return j, syntaxErr(j, "invalid \\u escape")
				}
				j += 6
			default:
				return j, syntaxErr(j, "invalid escape")
			}
		case c < 0x20:
			return j, syntaxErr(j, "control character in string")
		case c < utf8.RuneSelf:
			j++
		default:
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				return j, syntaxErr(j, "invalid UTF-8 in string")
			}
			j += size
		}
	}
	return j, syntaxErr(i, "unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func scanNumber(data []byte, i int) (int, error) {
	start := i
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i)
	default:
		return i, syntaxErr(start, "invalid number")
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return j, syntaxErr(start, "invalid number: no digits after '.'")
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return j, syntaxErr(start, "invalid number: no digits in exponent")
		}
		i = j
	}
	return i, nil
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}
