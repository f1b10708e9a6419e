package ocppj

import (
	"context"
	"errors"
	"runtime/debug"
)

// enqueueInbound queues a peer's CALL for the handler. The dispatcher
// goroutine exists only while CALLs are waiting (as the writer exists only
// while frames are queued), so an idle connection costs one goroutine, its
// reader.
func (c *Conn) enqueueInbound(in inbound) {
	select {
	case c.inq <- in:
	case <-c.closed:
		putBuf(in.buf)
		return
	}
	if c.dispatching.CompareAndSwap(false, true) && !c.spawn(c.dispatch) {
		c.dispatching.Store(false)
	}
}

func (c *Conn) dispatch() {
	for {
		select {
		case in := <-c.inq:
			c.serveCall(in)
			continue
		default:
		}
		c.dispatching.Store(false)
		// A CALL queued between the empty check and the Store above found
		// dispatching still true and started nobody: take it over.
		if len(c.inq) == 0 || !c.dispatching.CompareAndSwap(false, true) {
			return
		}
	}
}

// serveCall runs the handler for one CALL and queues the answer.
func (c *Conn) serveCall(in inbound) {
	defer putBuf(in.buf)
	select {
	case <-c.closed:
		return
	default:
	}
	c.hookMu.Lock()
	c.inHandler = true
	c.hookMu.Unlock()

	res, err := c.invoke(in)

	out := getBuf()
	if err == nil {
		if err = appendResult(out, in.id(), res); err != nil {
			out.Reset()
			c.log().Error("ocppj: cannot encode result", "action", in.action, "error", err)
		}
	}
	if err != nil {
		appendError(out, in.id(), c.toCallError(in.action, err))
	}
	_ = c.enqueue(context.Background(), out)

	c.hookMu.Lock()
	hooks := c.afterReply
	c.afterReply = nil
	c.inHandler = false
	c.hookMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// invoke calls the handler, turning a panic into an InternalError: one bad
// message must never take the process down.
func (c *Conn) invoke(in inbound) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log().Error("ocppj: handler panicked", "action", in.action, "panic", p, "stack", string(debug.Stack()))
			res, err = nil, Errorf(InternalError, "internal error while handling %s", in.action)
		}
	}()
	if c.opts.Handler == nil {
		return nil, Errorf(NotImplemented, "action %q is not implemented", in.action)
	}
	return c.opts.Handler.HandleCall(c.ctx, c, in.action, in.payload())
}

// toCallError keeps a handler's *Error and hides any other error behind an
// InternalError, logging it: internal details are not the peer's business.
func (c *Conn) toCallError(action string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	c.log().Error("ocppj: handler failed", "action", action, "error", err)
	return Errorf(InternalError, "internal error while handling %s", action)
}

// AfterReply registers fn to run once the answer to the CALL being handled
// has been queued, so anything fn sends reaches the peer after that answer
// (OCPP requires e.g. the TriggerMessage confirmation to precede the
// triggered message). Call it from within a Handler on this connection;
// elsewhere fn runs at once. fn runs on the connection's dispatcher and
// should not block long: the peer's next CALL waits for it.
func (c *Conn) AfterReply(fn func()) {
	c.hookMu.Lock()
	if c.inHandler {
		c.afterReply = append(c.afterReply, fn)
		c.hookMu.Unlock()
		return
	}
	c.hookMu.Unlock()
	fn()
}

// internAction returns the action as a string without allocating for the
// actions OCPP 1.6 defines.
func internAction(b []byte) string {
	if s, ok := knownActions[string(b)]; ok {
		return s
	}
	return string(b)
}

var knownActions = func() map[string]string {
	m := make(map[string]string)
	for _, a := range []string{
		"Authorize", "BootNotification", "CancelReservation", "ChangeAvailability", "ChangeConfiguration",
		"ClearCache", "ClearChargingProfile", "DataTransfer", "DiagnosticsStatusNotification",
		"FirmwareStatusNotification", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics",
		"GetLocalListVersion", "Heartbeat", "MeterValues", "RemoteStartTransaction", "RemoteStopTransaction",
		"ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "StartTransaction",
		"StatusNotification", "StopTransaction", "TriggerMessage", "UnlockConnector", "UpdateFirmware",
	} {
		m[a] = a
	}
	return m
}()
