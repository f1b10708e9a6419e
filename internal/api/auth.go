package api

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// keyCache keeps recent authentications for a short time so that a busy
// client costs one database read per key per TTL, not one per request. A
// revoked key stops working within the TTL.
type keyCache struct {
	db  *store.DB
	ttl time.Duration
	mu  sync.Mutex
	m   map[[32]byte]cachedKey
}

type cachedKey struct {
	p       org.Principal
	expires time.Time
}

func newKeyCache(db *store.DB, ttl time.Duration) *keyCache {
	return &keyCache{db: db, ttl: ttl, m: map[[32]byte]cachedKey{}}
}

func (c *keyCache) Authenticate(ctx context.Context, secret string) (org.Principal, error) {
	k := sha256.Sum256([]byte(secret))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.p, nil
	}
	p, err := org.Authenticate(ctx, c.db.Q(), secret)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[k] = cachedKey{p: p, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return p, nil
}
