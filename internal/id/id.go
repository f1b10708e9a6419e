// Package id makes object ids: 24 lowercase hex characters, time-ordered,
// in the shape of the ids in the spec's examples (a MongoDB ObjectID layout:
// 4 bytes of Unix seconds, 5 random bytes fixed per process, 3 bytes of counter).
package id

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

var (
	processRandom [5]byte
	counter       atomic.Uint32
)

func init() {
	if _, err := rand.Read(processRandom[:]); err != nil {
		panic("id: no randomness: " + err.Error())
	}
	var c [4]byte
	_, _ = rand.Read(c[:])
	counter.Store(binary.BigEndian.Uint32(c[:]))
}

// New returns a fresh id for the current time.
func New() string { return NewAt(time.Now()) }

// NewAt returns a fresh id whose time part is t. Ids made in the same second
// by one process sort by creation order (until the 24-bit counter wraps).
func NewAt(t time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(t.Unix()))
	copy(b[4:9], processRandom[:])
	c := counter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// Valid reports whether s has the shape of an id.
func Valid(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Time returns the creation second encoded in a valid id.
func Time(s string) time.Time {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 12 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint32(b[0:4])), 0).UTC()
}
