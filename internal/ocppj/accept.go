package ocppj

import (
	"fmt"
	"net/http"

	"github.com/coder/websocket"
)

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
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
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
	return newConn(ws, opts.Options, opts.Identity, r.RemoteAddr), nil
}
