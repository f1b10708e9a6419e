package ocppj

import (
	"errors"
	"fmt"
)

// ErrorCode is the errorCode of a CALLERROR (OCPP-J 1.6 §4.2.3).
type ErrorCode string

// The CALLERROR codes of OCPP-J 1.6.
const (
	// NotImplemented: the requested action is not known by the receiver.
	NotImplemented ErrorCode = "NotImplemented"
	// NotSupported: the requested action is recognized but not supported.
	NotSupported ErrorCode = "NotSupported"
	// InternalError: the receiver failed while processing the action.
	InternalError ErrorCode = "InternalError"
	// ProtocolError: the payload for the action is incomplete.
	ProtocolError ErrorCode = "ProtocolError"
	// SecurityError: a security issue prevented the receiver from completing the action.
	SecurityError ErrorCode = "SecurityError"
	// FormationViolation: the payload is syntactically incorrect or does not
	// conform to the PDU structure.
	FormationViolation ErrorCode = "FormationViolation"
	// PropertyConstraintViolation: syntactically correct, but a field has an invalid value.
	PropertyConstraintViolation ErrorCode = "PropertyConstraintViolation"
	// OccurrenceConstraintViolation: a field violates occurrence constraints
	// (a required field is missing, an array has too few items).
	//
	// OCPP-J 1.6 spells it "OccurenceConstraintViolation"; later editions and
	// the widely used implementations (ocpp-go among them, which rejects the
	// misspelling) use this spelling, so it is what we send. Both spellings
	// are accepted when received.
	OccurrenceConstraintViolation ErrorCode = "OccurrenceConstraintViolation"
	// TypeConstraintViolation: a field has the wrong data type (e.g. "somestring": 12).
	TypeConstraintViolation ErrorCode = "TypeConstraintViolation"
	// GenericError: any other error.
	GenericError ErrorCode = "GenericError"

	// occurenceTypo is the spelling of the OCPP-J 1.6 document itself.
	occurenceTypo ErrorCode = "OccurenceConstraintViolation"
)

// normalizeCode maps a received errorCode onto the constants above, folding
// the 1.6 document's misspelling into the standard one.
func normalizeCode(c ErrorCode) ErrorCode {
	if c == occurenceTypo {
		return OccurrenceConstraintViolation
	}
	return c
}

// Known reports whether c is one of the OCPP-J 1.6 error codes.
func (c ErrorCode) Known() bool {
	switch normalizeCode(c) {
	case NotImplemented, NotSupported, InternalError, ProtocolError, SecurityError, FormationViolation,
		PropertyConstraintViolation, OccurrenceConstraintViolation, TypeConstraintViolation, GenericError:
		return true
	}
	return false
}

// Error is a CALLERROR: returned by a handler it is sent to the peer as is;
// returned by Conn.Call it is what the peer answered.
type Error struct {
	Code        ErrorCode
	Description string
	// Details is the errorDetails object: anything that marshals to a JSON
	// object when sending (nil sends {}), a json.RawMessage when received.
	Details any
}

func (e *Error) Error() string {
	if e.Description == "" {
		return "ocpp: " + string(e.Code)
	}
	return "ocpp: " + string(e.Code) + ": " + e.Description
}

// Errorf makes an *Error with a formatted description.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Errors of the connection itself (not answers of the peer).
var (
	// ErrClosed: the connection is closed.
	ErrClosed = errors.New("ocppj: connection closed")
	// ErrTimeout: the peer did not answer a CALL within the call timeout.
	ErrTimeout = errors.New("ocppj: call timed out")
	// ErrSubprotocol: the peer did not agree on the OCPP subprotocol.
	ErrSubprotocol = errors.New("ocppj: websocket subprotocol not agreed")
	// ErrWriteTimeout: the peer did not take a message within the write
	// timeout; the connection is closed rather than let one slow peer hold
	// queued messages and the goroutines waiting to queue more.
	ErrWriteTimeout = errors.New("ocppj: write timed out")
)
