package jsonscan

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// EachElement calls fn for every element of the array value arr (its raw
// bytes, starting with '[', with nothing after it but whitespace),
// validating syntax as it goes. Elements before a
// syntax error are still reported, which lets a caller read a frame's id even
// when a later element is broken. fn returning an error stops the walk.
func EachElement(arr []byte, fn func(i int, k Kind, raw []byte) error) error {
	i := SkipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return syntaxErr(i, "expected array")
	}
	i = SkipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return trailing(arr, i+1)
	}
	for n := 0; ; n++ {
		k, end, err := scanValue(arr, i, 1)
		if err != nil {
			return err
		}
		if err := fn(n, k, arr[i:end]); err != nil {
			return err
		}
		i = SkipSpace(arr, end)
		if i >= len(arr) {
			return syntaxErr(i, "unterminated array")
		}
		switch arr[i] {
		case ',':
			i = SkipSpace(arr, i+1)
		case ']':
			return trailing(arr, i+1)
		default:
			return syntaxErr(i, "expected ',' or ']' in array")
		}
	}
}

// trailing rejects anything but whitespace after the walked value.
func trailing(data []byte, i int) error {
	if j := SkipSpace(data, i); j != len(data) {
		return syntaxErr(j, "trailing data after value")
	}
	return nil
}

// EachMember calls fn for every member of the object value obj, in document
// order, with the member's key still quoted and escaped (use Unquote) and its
// value's raw bytes. fn returning an error stops the walk.
func EachMember(obj []byte, fn func(key []byte, k Kind, raw []byte) error) error {
	i := SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return syntaxErr(i, "expected object")
	}
	i = SkipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return trailing(obj, i+1)
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return syntaxErr(i, "expected object key")
		}
		keyEnd, err := scanString(obj, i)
		if err != nil {
			return err
		}
		key := obj[i:keyEnd]
		i = SkipSpace(obj, keyEnd)
		if i >= len(obj) || obj[i] != ':' {
			return syntaxErr(i, "expected ':' after object key")
		}
		i = SkipSpace(obj, i+1)
		k, end, err := scanValue(obj, i, 1)
		if err != nil {
			return err
		}
		if err := fn(key, k, obj[i:end]); err != nil {
			return err
		}
		i = SkipSpace(obj, end)
		if i >= len(obj) {
			return syntaxErr(i, "unterminated object")
		}
		switch obj[i] {
		case ',':
			i = SkipSpace(obj, i+1)
		case '}':
			return trailing(obj, i+1)
		default:
			return syntaxErr(i, "expected ',' or '}' in object")
		}
	}
}

// Unquote decodes a string token (with its quotes). When the string holds
// no escapes the result aliases tok and nothing is allocated.
func Unquote(tok []byte) ([]byte, error) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return nil, syntaxErr(0, "not a string token")
	}
	body := tok[1 : len(tok)-1]
	esc := -1
	for i, c := range body {
		if c == '\\' {
			esc = i
			break
		}
	}
	if esc < 0 {
		return body, nil
	}
	out := make([]byte, esc, len(body))
	copy(out, body[:esc])
	for i := esc; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(body) {
			return nil, syntaxErr(i, "unterminated escape")
		}
		switch body[i+1] {
		case '"', '\\', '/':
			out = append(out, body[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, ok := decodeU(body[i:])
			if !ok {
				return nil, syntaxErr(i, "invalid \\u escape")
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			return nil, syntaxErr(i, "invalid escape")
		}
		i += 2
	}
	return out, nil
}

// decodeU decodes a \uXXXX escape, joining a surrogate pair when one
// follows; a lone surrogate becomes U+FFFD as in encoding/json.
func decodeU(b []byte) (rune, int, bool) {
	if len(b) < 6 {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	if err != nil {
		return 0, 0, false
	}
	r := rune(v)
	if !utf16.IsSurrogate(r) {
		return r, 6, true
	}
	if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
		if v2, err := strconv.ParseUint(string(b[8:12]), 16, 16); err == nil {
			if dec := utf16.DecodeRune(r, rune(v2)); dec != utf8.RuneError {
				return dec, 12, true
			}
		}
	}
	return utf8.RuneError, 6, true
}

// IsInteger reports whether a number token is written as an integer: no
// fraction and no exponent, the form every OCPP implementation emits for an
// "integer" field and the only one encoding/json decodes into a Go int.
func IsInteger(num []byte) bool {
	for _, c := range num {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return len(num) > 0
}
