package ocppj

import (
	"bufio"
	"errors"
	"net"
	"syscall"
)

// An idle charger's connection costs its reader goroutine's stack, which
// the runtime sizes for the deepest point it reached. A reader blocked in
// the websocket library's read sits below a dozen frames (frame header,
// buffered reader, net.Conn, poller) and keeps an 8 KiB stack; so between
// messages the reader waits for the socket to become readable from a
// shallow frame instead (a non-consuming peek through the poller), and the
// collector shrinks its stack to 2 KiB while the charger is idle. Plain TCP
// connections only: TLS buffers records of its own.
type idleWaiter struct {
	raw syscall.RawConn
	br  *bufio.Reader
}

func newIdleWaiter(conn net.Conn, br *bufio.Reader) *idleWaiter {
	tc, ok := conn.(*net.TCPConn)
	if !ok || br == nil {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &idleWaiter{raw: raw, br: br}
}

// wait returns once a byte can be read (or the connection ended: the read
// that follows reports it).
func (w *idleWaiter) wait() error {
	if w.br.Buffered() > 0 {
		return nil
	}
	err := w.raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
	})
	return err
}
