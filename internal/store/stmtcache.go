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
// Inside a transaction only statements that leave no rows open are reused:
// ExecContext and QueryRowContext (whose row is read at once). A statement
// with open rows would be reset by a second use of the same statement on
// the same connection, so QueryContext inside a transaction prepares anew.
// Reads outside transactions go through the pool, where database/sql holds
// the connection for as long as the rows are open: they all reuse.

// maxCached bounds the cache; queries built at run time beyond it simply
// run unprepared.
const maxCached = 2000

type stmtCache struct {
	pool *sql.DB
	// deferred: the pool is SQLite's single write connection. Preparing
	// needs a free connection, which a transaction asking for a statement
	// holds; so a missing statement is run unprepared this once and
	// prepared by the next InTx before it begins (see prepareDeferred).
	deferred bool
	mu       sync.RWMutex
	m        map[string]*sql.Stmt // nil value: does not prepare
	pending  map[string]struct{}
}

func newStmtCache(pool *sql.DB, deferred bool) *stmtCache {
	return &stmtCache{pool: pool, deferred: deferred, m: make(map[string]*sql.Stmt), pending: make(map[string]struct{})}
}

// get returns the prepared statement for query, or nil when there is none
// (yet): the cache is full, the query does not prepare (for example a
// script of several statements: the caller runs it as is and gets the real
// error, if any), or, on the write connection, it is prepared later.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m)+len(c.pending) >= maxCached {
		return nil
	}
	if c.deferred {
		c.pending[query] = struct{}{}
		return nil
	}
	st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		st = nil
	}
	c.m[query] = st
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
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	c.mu.RUnlock()
	for _, query := range queries {
		st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), query)
		if err != nil {
			st = nil
		}
		c.mu.Lock()
		if _, done := c.m[query]; done {
			if st != nil {
				_ = st.Close() // another transaction prepared it meanwhile
			}
		} else {
			c.m[query] = st
		}
		delete(c.pending, query)
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
	if st := p.c.get(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

func (p cachedPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.c.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

func (p cachedPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.c.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// ExecContext runs a statement in the transaction (prepared once per
// connection on SQLite).
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c := tx.DB.writeStmts; c != nil && !tx.readOnly {
		if st := c.get(ctx, query); st != nil {
			return tx.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs a query for one row in the transaction (prepared
// once per connection on SQLite). Scan the row before the next query.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if c := tx.DB.writeStmts; c != nil && !tx.readOnly {
		if st := c.get(ctx, query); st != nil {
			return tx.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
		}
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

// QueryPrepared is QueryContext with the statement prepared once per
// connection on SQLite, for queries run often. Close the rows before the
// same query runs again in the transaction: both would share one statement.
func (tx *Tx) QueryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c := tx.DB.writeStmts; c != nil && !tx.readOnly {
		if st := c.get(ctx, query); st != nil {
			return tx.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		}
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}
