package store

import (
	"context"
	"database/sql"
	"sync"
)

// SQLite parses every statement it runs unless the statement is prepared,
// and with the pure-Go driver parsing costs as much as running a typical
// statement. Joule's queries are a few hundred constant strings, so on
// SQLite each one is prepared once per connection and reused (pgx keeps its
// own per-connection statement cache on PostgreSQL, so nothing is done
// there).
//
// A statement with open rows would be reset by a second use of the same
// statement on the same connection, so the cache holds up to maxSlots
// statements per query: in a transaction, each run of a query through
// QueryContext (whose rows may still be open) takes the next slot, and
// ExecContext and QueryRowContext use the next unused one. A group-commit
// transaction runs the same query for many writes; beyond maxSlots, the
// query runs unprepared. Reads outside transactions go through the pool,
// where database/sql holds the connection for as long as the rows are
// open: they all use slot 0.
//
// Preparing takes a connection of the pool. A transaction holds one, and
// waiting for another could wait forever (SQLite has one write connection;
// the read transactions of ReadTx could hold every read connection), so a
// statement a transaction asks for is run unprepared this once and
// prepared before the next transaction begins (prepareDeferred).

// maxCached bounds the cache; queries built at run time beyond it simply
// run unprepared.
const maxCached = 2000

// maxSlots bounds the statements of one query (see above).
const maxSlots = 4

type stmtKey struct {
	query string
	slot  uint8
}

type stmtCache struct {
	pool    *sql.DB
	mu      sync.RWMutex
	m       map[stmtKey]*sql.Stmt // nil value: does not prepare
	pending map[stmtKey]struct{}
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: make(map[stmtKey]*sql.Stmt), pending: make(map[stmtKey]struct{})}
}

// get returns the prepared statement for query, or nil when there is none
// (yet): the cache is full, the query does not prepare (for example a
// script of several statements: the caller runs it as is and gets the real
// error, if any), or the caller holds a connection (inTx) and it is
// prepared later.
func (c *stmtCache) get(ctx context.Context, key stmtKey, inTx bool) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[key]; ok {
		return st
	}
	if len(c.m)+len(c.pending) >= maxCached {
		return nil
	}
	if inTx {
		c.pending[key] = struct{}{}
		return nil
	}
	st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), key.query)
	if err != nil {
		st = nil
	}
	c.m[key] = st
	return st
}

// prepareDeferred prepares the statements transactions asked for. It must
// run when the caller holds no connection of the pool, and holds no lock
// while it waits for one (the transaction holding it may need the cache).
func (c *stmtCache) prepareDeferred(ctx context.Context) {
	c.mu.RLock()
	if len(c.pending) == 0 {
		c.mu.RUnlock()
		return
	}
	keys := make([]stmtKey, 0, len(c.pending))
	for k := range c.pending {
		keys = append(keys, k)
	}
	c.mu.RUnlock()
	for _, key := range keys {
		st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), key.query)
		if err != nil {
			st = nil
		}
		c.mu.Lock()
		if _, done := c.m[key]; done {
			if st != nil {
				_ = st.Close() // another transaction prepared it meanwhile
			}
		} else {
			c.m[key] = st
		}
		delete(c.pending, key)
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		if st != nil {
			_ = st.Close()
		}
	}
	clear(c.m)
}

// cachedPool is the read pool with prepared statements.
type cachedPool struct {
	*sql.DB
	c *stmtCache
}

func (p cachedPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.c.get(ctx, stmtKey{query: query}, false); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

func (p cachedPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.c.get(ctx, stmtKey{query: query}, false); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

func (p cachedPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.c.get(ctx, stmtKey{query: query}, false); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// stmt returns the transaction's use of the cached statement of query, or
// nil to run it unprepared. rows: the caller leaves rows open.
func (tx *Tx) stmt(ctx context.Context, query string, rows bool) *sql.Stmt {
	c := tx.DB.writeStmts
	if tx.readOnly {
		c = tx.DB.readStmts
	}
	if c == nil {
		return nil
	}
	slot := tx.slots[query]
	if slot >= maxSlots {
		return nil
	}
	if rows {
		if tx.slots == nil {
			tx.slots = make(map[string]uint8)
		}
		tx.slots[query] = slot + 1
	}
	st := c.get(ctx, stmtKey{query, slot}, true)
	if st == nil {
		return nil
	}
	return tx.Tx.StmtContext(ctx, st)
}

// ExecContext runs a statement in the transaction (prepared once per
// connection on SQLite).
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, query, false); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs a query for one row in the transaction (prepared
// once per connection on SQLite).
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, query, false); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction (prepared once per
// connection on SQLite, for its first run in the transaction).
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, query, true); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}
