package ocppj

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/coder/websocket"
)

// DialOptions configure the client (charge point) side of a connection.
type DialOptions struct {
	Options
	// Identity labels the connection and its logs; the URL already names it.
	Identity string
	// Username and Password, when Username is set, are sent as HTTP Basic
	// auth (OCPP security profiles 1 and 2: identity and AuthorizationKey).
	Username, Password string
	// TLSConfig is used for wss:// URLs when HTTPClient is nil.
	TLSConfig *tls.Config
	// HTTPClient makes the handshake request; share one among many
	// connections (the simulator does). Default: a client using TLSConfig.
	HTTPClient *http.Client
	// Subprotocol to request. Default ocpp1.6.
	Subprotocol string
	// Header holds extra handshake headers.
	Header http.Header
}

// Dial connects to an OCPP-J server at url (ws:// or wss://, the identity
// already in the path) and returns the connection; call Serve on it. ctx
// bounds the handshake only. The server must agree to the subprotocol.
func Dial(ctx context.Context, url string, opts DialOptions) (*Conn, error) {
	sub := opts.Subprotocol
	if sub == "" {
		sub = Subprotocol16
	}
	header := opts.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if opts.Username != "" {
		req := http.Request{Header: header}
		req.SetBasicAuth(opts.Username, opts.Password)
	}
	client := opts.HTTPClient
	if client == nil && opts.TLSConfig != nil {
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: opts.TLSConfig, Proxy: http.ProxyFromEnvironment}}
	}
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:   client,
		HTTPHeader:   header,
		Subprotocols: []string{sub},
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("ocppj: dial %s: HTTP %d: %w", url, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("ocppj: dial %s: %w", url, err)
	}
	if ws.Subprotocol() != sub {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("%w: %s answered %q, want %q", ErrSubprotocol, url, ws.Subprotocol(), sub)
	}
	return newConn(ws, opts.Options, opts.Identity, url), nil
}
