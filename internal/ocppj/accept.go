package ocppj

import (
	"bufio"
	"fmt"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// Buffer sizes of an accepted connection. The HTTP server's 4 KiB reader
// and writer would stay with the websocket for the connection's life;
// OCPP messages are a few hundred bytes, answers less, and a larger one is
// read or written through in place (at the cost of a second system call),
// so 256 bytes each keeps an idle charger cheap.
const (
	readBufferSize  = 256
	writeBufferSize = 256
)

// smallBuffers hands the websocket library a hijacked connection with
// smaller buffers than the HTTP server's, and keeps the connection and its
// reader for the idle wait (idle.go).
type smallBuffers struct {
	http.ResponseWriter
	conn net.Conn
	br   *bufio.Reader
}

func (s *smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	// The handshake answer may still sit in the server's writer.
	if err := brw.Writer.Flush(); err != nil {
		return conn, brw, err
	}
	br := brw.Reader
	if br.Buffered() == 0 {
		// Nothing read ahead (the client waits for our answer before it
		// sends): the server's reader can go.
		br = bufio.NewReaderSize(conn, readBufferSize)
	}
	s.conn, s.br = conn, br
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, writeBufferSize)), nil
}

// Subprotocol16 is the websocket subprotocol of OCPP 1.6J.
const Subprotocol16 = "ocpp1.6"

// AcceptOptions configure the server side of a connection.
type AcceptOptions struct {
	Options
	// Identity is the charge point identity the caller has established
	// (typically from the URL path and HTTP Basic auth, checked before
	// calling Accept). It labels the connection and its logs.
	Identity string
	// Subprotocols the server agrees to, in order of preference.
	// Default: ocpp1.6 only.
	Subprotocols []string
	// OriginPatterns allow cross-origin (browser) clients; chargers send no
	// Origin header and need none.
	OriginPatterns []string
}

// Accept upgrades an HTTP request to an OCPP-J connection; use it inside an
// http.Handler, then call Serve on the result (from the same handler).
//
// The client must offer one of the subprotocols. If it offers none we
// support, OCPP-J 1.6 §3.1.2 says to complete the websocket handshake
// without a Sec-WebSocket-Protocol header and close at once; Accept does so
// (close status 1002) and returns ErrSubprotocol. Other handshake failures
// have already been answered with an HTTP error when Accept returns.
func Accept(w http.ResponseWriter, r *http.Request, opts AcceptOptions) (*Conn, error) {
	subs := opts.Subprotocols
	if len(subs) == 0 {
		subs = []string{Subprotocol16}
	}
	hj := &smallBuffers{ResponseWriter: w}
	ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		Subprotocols:   subs,
		OriginPatterns: opts.OriginPatterns,
	})
	if err != nil {
		return nil, fmt.Errorf("ocppj: accept %q: %w", opts.Identity, err)
	}
	if ws.Subprotocol() == "" {
		_ = ws.Close(websocket.StatusProtocolError, "subprotocol "+subs[0]+" required")
		return nil, fmt.Errorf("%w: client %q offered %q", ErrSubprotocol, opts.Identity, r.Header.Values("Sec-WebSocket-Protocol"))
	}
	c := newConn(ws, opts.Options, opts.Identity, r.RemoteAddr)
	c.idle = newIdleWaiter(hj.conn, hj.br)
	return c, nil
}
