package ocppj

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Call sends a CALL and waits for its answer. It returns the CALLRESULT
// payload, or an *Error when the peer answered with a CALLERROR (or with a
// malformed answer), ErrTimeout when no answer came within
// Options.CallTimeout, or ErrClosed.
//
// OCPP-J allows one outstanding CALL per direction: concurrent Calls on one
// connection wait for their turn (ctx bounds that wait too). payload must
// marshal to a JSON object; a json.RawMessage is sent as is.
func (c *Conn) Call(ctx context.Context, action string, payload any) (json.RawMessage, error) {
	select {
	case c.callSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("ocppj: %s: waiting for the previous call: %w", action, ctx.Err())
	case <-c.closed:
		return nil, c.closedErr()
	}
	defer func() { <-c.callSem }()

	buf := getBuf()
	var idBuf [MaxIDLength]byte
	id := c.ids.next(idBuf[:0])
	if err := appendCall(buf, id, action, payload); err != nil {
		putBuf(buf)
		return nil, fmt.Errorf("ocppj: %s: %w", action, err)
	}
	c.pendMu.Lock()
	c.pendLen = copy(c.pendID[:], id)
	c.pendAction = action
	c.pendActive = true
	c.pendMu.Unlock()
	if err := c.enqueue(ctx, buf); err != nil {
		c.clearPending()
		return nil, fmt.Errorf("ocppj: %s: %w", action, err)
	}

	// A pooled timer: a connection keeps none between its calls.
	timer := callTimers.Get().(*time.Timer)
	timer.Reset(c.opts.CallTimeout)
	defer func() {
		timer.Stop()
		callTimers.Put(timer)
	}()
	var giveUp error
	select {
	case r := <-c.resultCh:
		return r.payload, r.err
	case <-timer.C:
		giveUp = ErrTimeout
	case <-ctx.Done():
		giveUp = ctx.Err()
	case <-c.closed:
		giveUp = c.closedErr()
	}
	if c.clearPending() {
		return nil, fmt.Errorf("ocppj: %s: %w", action, giveUp)
	}
	// The answer won the race against giving up: it is in resultCh.
	r := <-c.resultCh
	return r.payload, r.err
}

// callTimers are the timers of calls in progress (since Go 1.23 a stopped
// timer's channel holds no stale tick, so they can be reused).
var callTimers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// clearPending forgets the pending CALL; it reports false if the reader
// has already claimed it for delivery.
func (c *Conn) clearPending() bool {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	if !c.pendActive {
		return false
	}
	c.pendActive = false
	return true
}

// deliver hands an answer to the pending CALL with that id. Answers to no
// pending CALL (late ones, after a timeout, or bogus ones) are dropped.
func (c *Conn) deliver(id []byte, r callResult) {
	c.pendMu.Lock()
	if !c.pendActive || string(id) != string(c.pendID[:c.pendLen]) {
		c.pendMu.Unlock()
		c.log().Warn("ocppj: dropping answer to no pending call (late or unknown id)", "id", string(id))
		return
	}
	c.pendActive = false
	action := c.pendAction
	c.pendMu.Unlock()
	if e, ok := r.err.(*Error); ok {
		c.log().Debug("ocppj: call answered with error", "action", action, "code", e.Code, "description", e.Description)
	}
	c.resultCh <- r // buffered; exactly one delivery per pending CALL
}
