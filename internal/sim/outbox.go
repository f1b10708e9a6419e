package sim

import (
	"context"
	"errors"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
)

// The outbox is the charger's one ordered queue of messages to the central
// system. One sender goroutine delivers it head first, one CALL at a time,
// so a StatusNotification never overtakes the StartTransaction before it.
//
// Transaction messages (StartTransaction, MeterValues and StopTransaction
// of a transaction) survive a lost connection and are delivered after the
// reconnect, in order, with the timestamps they were made with; one
// answered with a CALLERROR is tried TransactionMessageAttempts times in
// all (OCPP 1.6 §4.10), waiting ReconnectDelay times the attempt between. Everything else is only queued while the
// charger is online and booted, and dropped when the connection goes.
type outMsg struct {
	action string
	// build makes the payload when it is sent, so that a message queued
	// before its transaction had an id can carry the id; false drops it.
	build func() (ocpp16.Request, bool)
	// onReply gets the validated confirmation (e.g. *ocpp16.StartTransactionResponse).
	onReply func(resp any)
	// tx marks a transaction message.
	tx bool
	// local, instead of a CALL, is a step run in queue order (a reboot).
	local    func()
	attempts int
	// done, if set, receives the error when the message fails or is dropped.
	done chan error
}

var (
	errDropped = errors.New("sim: message dropped: charger offline")
	errStopped = errors.New("sim: charger stopped")
)

func (m *outMsg) fail(err error) {
	if m.done != nil {
		m.done <- err
	}
}

func (ch *Charger) onlineLocked() bool { return ch.conn != nil && ch.booted }

func (ch *Charger) enqueueLocked(m *outMsg) {
	switch {
	case ch.stopped:
		m.fail(errStopped)
		return
	case !m.tx && m.local == nil && !ch.onlineLocked():
		m.fail(errDropped)
		return
	case m.action == ocpp16.ActionMeterValues && len(ch.queue) >= ch.cfg.MaxQueued:
		ch.log.Warn("sim: queue full, dropping MeterValues", "queued", len(ch.queue))
		m.fail(errDropped)
		return
	}
	ch.queue = append(ch.queue, m)
	ch.kickSender()
	ch.notifyLocked()
}

func (ch *Charger) kickSender() {
	select {
	case ch.kick <- struct{}{}:
	default:
	}
}

// purgeLocked drops what must not outlive a connection.
func (ch *Charger) purgeLocked() {
	kept := ch.queue[:0]
	for _, m := range ch.queue {
		if m.tx || m.local != nil {
			kept = append(kept, m)
			continue
		}
		m.fail(errDropped)
	}
	clear(ch.queue[len(kept):])
	ch.queue = kept
}

// pop removes m if it is still the head (a purge may have removed it).
func (ch *Charger) pop(m *outMsg) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if len(ch.queue) > 0 && ch.queue[0] == m {
		ch.queue[0] = nil
		ch.queue = ch.queue[1:]
		ch.notifyLocked()
	}
}

func (ch *Charger) sendLoop(ctx context.Context) {
	defer ch.wg.Done()
	defer func() {
		ch.mu.Lock()
		for _, m := range ch.queue {
			m.fail(errStopped)
		}
		ch.queue = nil
		ch.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch.kick:
		}
		for ctx.Err() == nil {
			ch.mu.Lock()
			conn, booted := ch.conn, ch.booted
			var head *outMsg
			if len(ch.queue) > 0 {
				head = ch.queue[0]
			}
			ch.mu.Unlock()
			if conn == nil || isDone(conn.Done()) {
				break // the run loop kicks us when a new connection is up
			}
			if !booted {
				ch.boot(ctx, conn)
				continue
			}
			if head == nil {
				break
			}
			ch.deliver(ctx, conn, head)
		}
	}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// deliver sends the head message once and decides its fate.
func (ch *Charger) deliver(ctx context.Context, conn *ocppj.Conn, m *outMsg) {
	if m.local != nil {
		ch.pop(m)
		m.local()
		return
	}
	req, ok := m.build()
	if !ok {
		ch.pop(m)
		m.fail(errDropped)
		return
	}
	resp, err := ch.call(ctx, conn, m.action, req)
	var callErr *ocppj.Error
	switch {
	case err == nil:
		ch.pop(m)
		if m.onReply != nil {
			m.onReply(resp)
		}
	case errors.As(err, &callErr):
		m.attempts++
		ch.mu.Lock()
		maxAttempts := ch.settings.int(keyTransactionMessageAttempts)
		ch.mu.Unlock()
		if !m.tx || m.attempts >= maxAttempts {
			ch.log.Warn("sim: message refused, dropping it", "action", m.action, "error", err, "attempts", m.attempts)
			ch.pop(m)
			m.fail(err)
			return
		}
		ch.log.Warn("sim: transaction message refused, retrying", "action", m.action, "error", err, "attempts", m.attempts)
		sleep(ctx, conn, ch.fleet.cfg.ReconnectDelay*time.Duration(m.attempts))
	default:
		// No answer (timeout, connection lost): a transaction message stays
		// at the head and is sent again, after the reconnect if need be.
		if !m.tx {
			ch.pop(m)
			m.fail(err)
		}
	}
}

// call sends one CALL, validates the confirmation and records statistics.
func (ch *Charger) call(ctx context.Context, conn *ocppj.Conn, action string, req ocpp16.Request) (any, error) {
	start := time.Now()
	raw, err := conn.Call(ctx, action, req)
	var resp any
	if err == nil {
		var perr *ocppj.Error
		if resp, perr = ocpp16.DecodeResponse(action, raw); perr != nil {
			err = perr
		}
	}
	elapsed := time.Since(start)
	_, isCallErr := ocppj.AsError(err)
	ch.stats.call(elapsed, err == nil, isCallErr)
	ch.fleet.stats.call(elapsed, err == nil, isCallErr)
	if err != nil && ctx.Err() == nil {
		ch.log.Debug("sim: call failed", "action", action, "error", err)
	}
	return resp, err
}

// sleep waits d unless ctx ends or the connection closes first; it reports
// whether the full wait elapsed.
func sleep(ctx context.Context, conn *ocppj.Conn, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var closed <-chan struct{}
	if conn != nil {
		closed = conn.Done()
	}
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-closed:
		return false
	}
}
