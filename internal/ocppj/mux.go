package ocppj

import (
	"context"
	"encoding/json"
	"sync"
)

// Handler answers the CALLs a peer sends. The payload is only valid until
// HandleCall returns. The result is marshalled as the CALLRESULT payload
// (nil sends {}); an error of type *Error becomes that CALLERROR, any other
// error an InternalError, and so does a panic.
//
// A connection hands its peer's CALLs to the handler one at a time, in the
// order received: OCPP-J allows one outstanding CALL per direction, and a
// peer that sends more anyway is served sequentially rather than refused.
type Handler interface {
	HandleCall(ctx context.Context, c *Conn, action string, payload json.RawMessage) (any, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Conn, action string, payload json.RawMessage) (any, error)

// HandleCall calls f.
func (f HandlerFunc) HandleCall(ctx context.Context, c *Conn, action string, payload json.RawMessage) (any, error) {
	return f(ctx, c, action, payload)
}

// Mux routes CALLs to handlers by action.
type Mux struct {
	mu       sync.RWMutex
	handlers map[string]HandlerFunc
	fallback HandlerFunc
}

// NewMux returns an empty Mux: every action is NotImplemented until handled.
func NewMux() *Mux { return &Mux{handlers: make(map[string]HandlerFunc)} }

// Handle routes action to h, replacing any earlier handler.
func (m *Mux) Handle(action string, h HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handlers[action] = h
}

// Fallback sets the handler of actions without their own, e.g. to answer
// actions that are part of the protocol but not supported with NotSupported
// rather than NotImplemented.
func (m *Mux) Fallback(h HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fallback = h
}

// HandleCall dispatches to the handler of action.
func (m *Mux) HandleCall(ctx context.Context, c *Conn, action string, payload json.RawMessage) (any, error) {
	m.mu.RLock()
	h, ok := m.handlers[action]
	if !ok {
		h = m.fallback
	}
	m.mu.RUnlock()
	if h == nil {
		return nil, Errorf(NotImplemented, "action %q is not implemented", action)
	}
	return h(ctx, c, action, payload)
}
