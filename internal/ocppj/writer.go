package ocppj

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/coder/websocket"
)

// enqueue hands a frame to the writer goroutine, which owns it from then
// on. It waits while the queue is full: that wait is bounded because a
// writer stuck on a peer for WriteTimeout closes the connection.
func (c *Conn) enqueue(ctx context.Context, buf *bytes.Buffer) error {
	select {
	case c.sendq <- buf:
		return nil
	case <-c.closed:
		putBuf(buf)
		return c.closedErr()
	case <-ctx.Done():
		putBuf(buf)
		return ctx.Err()
	}
}

// writeLoop is the only writer of data frames, so that a slow peer blocks
// nothing but its own connection, and it drives the keepalive pings.
func (c *Conn) writeLoop() {
	defer c.wg.Done()
	var tick <-chan time.Time
	if c.opts.PingInterval > 0 {
		t := time.NewTicker(c.opts.PingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case buf := <-c.sendq:
			// No deadline on the context: the library would arm a timer per
			// write. The reusable writeTimer enforces WriteTimeout instead.
			c.writeTimer.Reset(c.opts.WriteTimeout)
			err := c.ws.Write(context.Background(), websocket.MessageText, buf.Bytes())
			c.writeTimer.Stop()
			putBuf(buf)
			if err != nil {
				c.shutdown(fmt.Errorf("ocppj: write: %w", err), false)
				c.drainSendq()
				return
			}
		case <-tick:
			if c.pinging.CompareAndSwap(false, true) {
				c.wg.Add(1)
				go c.ping()
			}
		case <-c.closed:
			c.drainSendq()
			return
		}
	}
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
	defer c.wg.Done()
	defer c.pinging.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.PingTimeout)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil {
		select {
		case <-c.closed:
		default:
			c.log.Warn("ocppj: keepalive failed, closing", "error", err)
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
