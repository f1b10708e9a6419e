package ocppj

import (
	"log/slog"
	"time"
)

// Options tune a connection. The zero value is usable: every zero field
// takes the default named in its comment.
type Options struct {
	// Handler answers the peer's CALLs. Nil answers every CALL NotImplemented.
	Handler Handler
	// CallTimeout bounds the wait for the answer to one of our CALLs.
	// Default 30s.
	CallTimeout time.Duration
	// PingInterval is the websocket ping keepalive period. Default 30s;
	// negative disables pinging.
	PingInterval time.Duration
	// PingTimeout bounds the wait for a pong; a peer that misses it is
	// considered gone and the connection closed. Default 10s.
	PingTimeout time.Duration
	// WriteTimeout bounds one websocket write; a peer that does not read
	// for that long is disconnected. Default 10s.
	WriteTimeout time.Duration
	// QueueSize bounds the messages waiting for the writer and the peer's
	// CALLs waiting for the handler. Default 4: with one outstanding CALL
	// per direction a well-behaved peer never needs more than two; beyond
	// it the reader (or the sender) waits, which slows only this peer.
	QueueSize int
	// ReadLimit is the largest message accepted, in bytes; a larger one
	// closes the connection (websocket status 1009). Default 1 MiB.
	ReadLimit int64
	// Logger receives protocol faults and dropped messages. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.PingInterval == 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
