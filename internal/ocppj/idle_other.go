//go:build !linux

package ocppj

import (
	"bufio"
	"net"
)

// idleWaiter is Linux-only (idle_linux.go); elsewhere the reader waits in
// the websocket read.
type idleWaiter struct{}

func newIdleWaiter(net.Conn, *bufio.Reader) *idleWaiter { return nil }

func (*idleWaiter) wait() error { return nil }
