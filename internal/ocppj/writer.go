package ocppj

import (
	"bytes"
	"context"
	"fmt"

	"github.com/coder/websocket"
)

// enqueue hands a frame to the writer, which owns it from then on. It waits
// while the queue is full: that wait is bounded because a writer stuck on a
// peer for WriteTimeout closes the connection.
func (c *Conn) enqueue(ctx context.Context, buf *bytes.Buffer) error {
	select {
	case c.sendq <- buf:
	case <-c.closed:
		putBuf(buf)
		return c.closedErr()
	case <-ctx.Done():
		putBuf(buf)
		return ctx.Err()
	}
	if c.writing.CompareAndSwap(false, true) && !c.spawn(c.writeLoop) {
		c.writing.Store(false) // closing: Serve recycles what is queued
	}
	return nil
}

// writeLoop is the only writer of data frames, so that a slow peer blocks
// nothing but its own connection. Like the dispatcher it runs only while
// frames are queued: an idle connection has no writer goroutine (and no
// stack to keep), one reader only.
func (c *Conn) writeLoop() {
	for {
		select {
		case <-c.closed:
			return
		case buf := <-c.sendq:
			// No deadline on the context: the library would arm a timer per
			// write. The reusable writeTimer enforces WriteTimeout instead.
			c.writeTimer.Reset(c.opts.WriteTimeout)
			err := c.ws.Write(context.Background(), websocket.MessageText, buf.Bytes())
			c.writeTimer.Stop()
			putBuf(buf)
			if err != nil {
				c.shutdown(fmt.Errorf("ocppj: write: %w", err), false)
				return
			}
			continue
		default:
		}
		c.writing.Store(false)
		// A frame queued between the empty check and the Store above found
		// writing still true and started nobody: take it over.
		if len(c.sendq) == 0 || !c.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// pingTick runs on the keepalive timer: a ping every PingInterval, in a
// short-lived goroutine.
func (c *Conn) pingTick() {
	select {
	case <-c.closed:
		return
	default:
	}
	if c.pinging.CompareAndSwap(false, true) && !c.spawn(c.ping) {
		c.pinging.Store(false)
		return
	}
	c.pingTimer.Reset(c.opts.PingInterval)
}

func (c *Conn) drainSendq() {
	for {
		select {
		case buf := <-c.sendq:
			putBuf(buf)
		default:
			return
		}
	}
}

// ping runs in its own short-lived goroutine because a ping waits for the
// pong, which the reader receives.
func (c *Conn) ping() {
	defer c.pinging.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.PingTimeout)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil {
		select {
		case <-c.closed:
		default:
			c.log().Warn("ocppj: keepalive failed, closing", "error", err)
			c.shutdown(fmt.Errorf("ocppj: keepalive: %w", err), false)
		}
	}
}

func (c *Conn) closedErr() error {
	if err := c.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return ErrClosed
}
