// Package apperr is the error vocabulary shared by domain packages and the
// API layer: a domain error says what kind of failure it is and carries a
// stable machine-readable code; the API maps the kind to an HTTP status.
// Domain code stays free of net/http.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies a failure the way a client needs to react to it.
type Kind int

const (
	Invalid       Kind = iota + 1 // the request is malformed or fails validation (400/422)
	NotFound                      // no such object for this organization and mode (404)
	Conflict                      // the object's state forbids the request (409)
	NotAllowed                    // the request is refused by a business rule (405, as spec 000 uses it)
	Unauthorized                  // missing or bad credentials (401)
	Forbidden                     // credentials valid but not for this (403)
	PaymentFailed                 // the payment provider declined (402)
	Unavailable                   // a dependency (charger, provider) did not answer in time (503/504)
)

// Error is a domain error with a stable code and a human message.
type Error struct {
	Kind    Kind
	Code    string // stable, snake_case, documented in docs/errors.md
	Message string // exact text where the spec names one
	Field   string // the offending input field, when there is one
	Err     error  // cause, never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New makes an error of the given kind.
func New(kind Kind, code, msg string) *Error { return &Error{Kind: kind, Code: code, Message: msg} }

// Newf makes an error with a formatted message.
func Newf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField reports a bad input field.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: "invalid_field", Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf reports a missing object of the named type.
func NotFoundf(object, id string) *Error {
	return &Error{Kind: NotFound, Code: object + "_not_found", Message: fmt.Sprintf("No %s with id %q", object, id)}
}

// As extracts an *Error from err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err carries the given code.
func Is(err error, code string) bool {
	e, ok := As(err)
	return ok && e.Code == code
}
