package ocppj

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// idGen makes message ids unique per connection and, thanks to the random
// prefix, distinguishable across reconnects: a late answer to a CALL of a
// previous connection can never match a CALL of this one.
type idGen struct {
	prefix [9]byte // 8 hex digits and '-'
	n      atomic.Uint64
}

func newIDGen() *idGen {
	var g idGen
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+).
	hex.Encode(g.prefix[:8], r[:])
	g.prefix[8] = '-'
	return &g
}

// next appends a fresh id to dst: at most 9+20 bytes, within MaxIDLength.
func (g *idGen) next(dst []byte) []byte {
	dst = append(dst, g.prefix[:]...)
	return strconv.AppendUint(dst, g.n.Add(1), 10)
}
