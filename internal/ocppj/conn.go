// Package ocppj is the OCPP-J 1.6 RPC layer over websocket, for both the
// central system and the charge point side: framing, message ids, one
// outstanding CALL per direction with a timeout, a writer goroutine per
// connection with a bounded queue, keepalive pings and clean closing.
//
// A connection is made by Accept (server) or Dial (client) and driven by
// Serve, which reads until the connection ends. Conn.Call sends a CALL and
// waits for its answer; the Options.Handler answers the peer's CALLs.
package ocppj

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Conn is one OCPP-J websocket connection.
type Conn struct {
	ws          *websocket.Conn
	opts        Options
	identity    string
	remoteAddr  string
	subprotocol string
	ids         *idGen

	idle       *idleWaiter // nil: wait for messages inside the websocket read
	sendq      chan *bytes.Buffer
	writing    atomic.Bool // a writeLoop goroutine is running
	writeTimer *time.Timer
	pingTimer  *time.Timer
	pinging    atomic.Bool

	// Our outgoing CALL: callSem admits one at a time; pending* name the
	// CALL awaiting its answer, which the reader delivers on resultCh.
	callSem    chan struct{}
	pendMu     sync.Mutex
	pendActive bool
	pendID     [MaxIDLength]byte
	pendLen    int
	pendAction string
	resultCh   chan callResult

	// The peer's CALLs, served in order by a dispatcher goroutine that runs
	// only while there is work.
	inq         chan inbound
	dispatching atomic.Bool
	hookMu      sync.Mutex
	inHandler   bool
	afterReply  []func()

	serving   atomic.Bool
	ctx       context.Context // Serve's context, for handlers
	wg        sync.WaitGroup  // writer, dispatcher and ping goroutines
	goMu      sync.Mutex      // guards noSpawn and wg.Add
	noSpawn   bool            // Serve is waiting for the goroutines: start no more
	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type callResult struct {
	payload []byte
	err     error
}

// inbound is a peer's CALL waiting for the handler: its id and payload
// are spans of buf (kept small: a queue of them lives with every
// connection).
type inbound struct {
	buf                          *bytes.Buffer // owns the bytes
	action                       string
	idOff, idEnd, payOff, payEnd int32
}

func (in *inbound) id() []byte      { return in.buf.Bytes()[in.idOff:in.idEnd] }
func (in *inbound) payload() []byte { return in.buf.Bytes()[in.payOff:in.payEnd] }

func newConn(ws *websocket.Conn, opts Options, identity, remoteAddr string) *Conn {
	opts = opts.withDefaults()
	ws.SetReadLimit(opts.ReadLimit)
	c := &Conn{
		ws:          ws,
		opts:        opts,
		identity:    identity,
		remoteAddr:  remoteAddr,
		subprotocol: ws.Subprotocol(),
		ids:         newIDGen(),
		sendq:       make(chan *bytes.Buffer, opts.QueueSize),
		callSem:     make(chan struct{}, 1),
		resultCh:    make(chan callResult, 1),
		inq:         make(chan inbound, opts.QueueSize),
		closed:      make(chan struct{}),
		ctx:         context.Background(),
	}
	c.writeTimer = time.AfterFunc(time.Hour, func() { c.shutdown(ErrWriteTimeout, false) })
	c.writeTimer.Stop()
	return c
}

// log is the connection's logger (made when needed: an idle connection
// keeps none).
func (c *Conn) log() *slog.Logger { return c.opts.Logger.With("identity", c.identity) }

// Identity is the charge point identity this connection belongs to, as
// given to Accept or Dial.
func (c *Conn) Identity() string { return c.identity }

// RemoteAddr is the peer's network address (server side) or the URL dialled.
func (c *Conn) RemoteAddr() string { return c.remoteAddr }

// Subprotocol is the negotiated websocket subprotocol, e.g. "ocpp1.6".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Err is why the connection closed, nil while it is open or after a clean close.
func (c *Conn) Err() error {
	select {
	case <-c.closed:
		return c.closeErr
	default:
		return nil
	}
}

// Serve reads and answers messages until the connection ends or ctx is
// cancelled (which closes the connection cleanly). Handlers get a context
// derived from ctx. Serve returns nil after a normal close by either side,
// ctx's error after cancellation, otherwise what broke the connection. All
// goroutines of the connection have ended when it returns.
func (c *Conn) Serve(ctx context.Context) error {
	if !c.serving.CompareAndSwap(false, true) {
		return errors.New("ocppj: Serve called twice")
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.ctx = ctx
	// On the parent, not on ctx: ctx would then need a children map of its
	// own, for every connection.
	stop := context.AfterFunc(parent, func() { c.shutdown(parent.Err(), true) })
	defer stop()

	if c.opts.PingInterval > 0 {
		c.pingTimer = time.AfterFunc(time.Hour, c.pingTick)
		c.pingTimer.Reset(c.opts.PingInterval)
	}
	err := c.readLoop()
	c.shutdown(err, false)
	cancel()
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	c.goMu.Lock()
	c.noSpawn = true
	c.goMu.Unlock()
	c.wg.Wait()
	c.writeTimer.Stop()
	c.drainSendq()
	return c.Err()
}

// spawn runs f in a goroutine that Serve waits for; it reports false (and
// runs nothing) once Serve is winding down.
func (c *Conn) spawn(f func()) bool {
	c.goMu.Lock()
	defer c.goMu.Unlock()
	if c.noSpawn {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// Close closes the connection with a websocket close handshake.
func (c *Conn) Close() error {
	c.shutdown(nil, true)
	return nil
}

// CloseNow drops the connection without a close handshake, as a network
// failure would; the peer sees the TCP connection end.
func (c *Conn) CloseNow() {
	c.shutdown(errors.New("ocppj: connection dropped locally"), false)
}

// shutdown closes the connection once, recording why. A clean close
// (graceful) sends a close frame and waits briefly for the peer's.
func (c *Conn) shutdown(cause error, graceful bool) {
	c.closeOnce.Do(func() {
		c.closeErr = normalizeCloseErr(cause)
		close(c.closed)
		if graceful {
			// Close waits for the peer's close frame, which the reader
			// consumes; never block the caller on it.
			go func() { _ = c.ws.Close(websocket.StatusNormalClosure, "") }()
			return
		}
		_ = c.ws.CloseNow()
	})
}

// normalizeCloseErr maps the ways a connection can end cleanly to nil.
func normalizeCloseErr(err error) error {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return nil
	}
	return err
}

func (c *Conn) readLoop() error {
	for {
		if c.idle != nil {
			if err := c.idle.wait(); err != nil {
				return fmt.Errorf("ocppj: read: %w", err)
			}
		}
		// A context without Done keeps the websocket library from arming a
		// timer per read; closing the connection unblocks the read instead.
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return fmt.Errorf("ocppj: read: %w", err)
		}
		buf := getBuf()
		if _, err := buf.ReadFrom(r); err != nil {
			putBuf(buf)
			return fmt.Errorf("ocppj: read: %w", err)
		}
		if typ != websocket.MessageText {
			c.log().Warn("ocppj: binary websocket message; OCPP-J uses text frames, reading it anyway")
		}
		c.handleMessage(buf)
	}
}

// handleMessage routes one received message; it takes ownership of buf.
func (c *Conn) handleMessage(buf *bytes.Buffer) {
	f, ferr := decodeFrame(buf.Bytes())
	if ferr != nil {
		c.handleBadFrame(&f, ferr, buf.Bytes())
		putBuf(buf)
		return
	}
	switch f.typ {
	case TypeCall:
		in := inbound{buf: buf, action: internAction(f.action)}
		in.payOff, in.payEnd = spanOf(buf, f.payload)
		in.idOff, in.idEnd = spanOf(buf, f.id)
		c.enqueueInbound(in)
	case TypeCallResult:
		c.deliver(f.id, callResult{payload: bytes.Clone(f.payload)})
		putBuf(buf)
	case TypeCallError:
		c.deliver(f.id, callResult{err: f.callError()})
		putBuf(buf)
	}
}

// handleBadFrame answers a malformed message. A broken CALL (or anything
// whose type is unreadable or unknown) gets a CALLERROR with its id, or with
// id "-1" when the id itself cannot be read, as OCPP 2.0.1 prescribes and
// 1.6 leaves open: the peer gets told rather than left waiting. A broken
// CALLRESULT or CALLERROR is never answered (a CALLERROR only answers a
// CALL); if it names our pending CALL, that CALL fails with the error.
func (c *Conn) handleBadFrame(f *frame, ferr *Error, raw []byte) {
	c.log().Warn("ocppj: malformed message", "code", ferr.Code, "error", ferr.Description, "message", truncate(raw, 256))
	if (f.typ == TypeCallResult || f.typ == TypeCallError) && len(f.id) > 0 && len(f.id) <= MaxIDLength {
		c.deliver(f.id, callResult{err: ferr})
		return
	}
	id := f.id
	if len(id) == 0 {
		id = []byte("-1")
	}
	out := getBuf()
	appendError(out, id, ferr)
	c.enqueue(context.Background(), out)
}

// spanOf returns where sub lies in buf's bytes. A sub that is not a slice
// of them (an id unquoted into a copy) is appended to buf first; spans
// taken before stay valid, being offsets.
func spanOf(buf *bytes.Buffer, sub []byte) (start, end int32) {
	if len(sub) == 0 {
		return 0, 0
	}
	b := buf.Bytes()
	if off := cap(b) - cap(sub); off >= 0 && off+len(sub) <= len(b) && &b[off] == &sub[0] {
		return int32(off), int32(off + len(sub))
	}
	start = int32(buf.Len())
	buf.Write(sub)
	return start, int32(buf.Len())
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

// putBuf recycles a buffer; a huge one is left to the collector so that one
// large message does not pin its memory forever.
func putBuf(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	bufPool.Put(b)
}
