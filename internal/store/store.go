// Package store opens Joule's database (embedded SQLite or PostgreSQL), runs
// its migrations and runs transactions. Every query in Joule is written once,
// in the SQL both databases accept ($1 placeholders, RETURNING, ON CONFLICT);
// the few places where they differ are methods on DB, so that they live here
// and nowhere else.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Dialect names the database behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Querier is what both *sql.DB and *sql.Tx offer; read helpers accept it so
// that they run inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is an open Joule database.
type DB struct {
	Dialect Dialect
	// write runs transactions. On SQLite it holds a single connection: SQLite
	// has one writer at a time anyway, and queueing in database/sql is far
	// cheaper than spinning on SQLITE_BUSY.
	write *sql.DB
	// read serves reads outside transactions (WAL readers run concurrently).
	read *sql.DB
	// counters serves NextCounter on PostgreSQL (nil on SQLite).
	counters *sql.DB
	url      string
	// On SQLite, prepared statements of the write connection and of the
	// read pool (see stmtcache.go); nil on PostgreSQL.
	writeStmts, readStmts *stmtCache
	batch                 *batcher // group commit (batch.go)
	// SQLite: the background WAL checkpointer.
	stopCheckpoints context.CancelFunc
	checkpointsDone chan struct{}
}

// Options tune Open.
type Options struct {
	// MaxConns bounds the PostgreSQL pool and the SQLite read pool (default 16).
	MaxConns int
}

// Open opens the database named by dsn: a postgres:// or postgresql:// URL,
// or an SQLite file path (optionally prefixed with sqlite: or file:).
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	if opt.MaxConns <= 0 {
		opt.MaxConns = 16
	}
	db := &DB{url: dsn, batch: newBatcher()}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db.Dialect = Postgres
		pool, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		pool.SetMaxOpenConns(opt.MaxConns)
		pool.SetMaxIdleConns(opt.MaxConns)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		db.write, db.read = pool, pool
		// NextCounter's own statements run on a pool of their own: a caller
		// holding a transaction connection must never wait for one of the
		// main pool, which other such callers may hold all of.
		counters, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		counters.SetMaxOpenConns(2)
		counters.SetMaxIdleConns(2)
		counters.SetConnMaxIdleTime(5 * time.Minute)
		db.counters = counters
	default:
		db.Dialect = SQLite
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
		if path == "" {
			return nil, errors.New("store: empty SQLite path")
		}
		base := "file:" + path + sqliteParams(path)
		// The write connection never checkpoints the WAL itself: a
		// checkpoint copies pages into the database file and fsyncs it, which
		// would stall the commit that happened to trigger it and every write
		// queued behind it. A background goroutine checkpoints instead
		// (checkpointLoop), concurrently with writers.
		// journal_size_limit: the WAL file, reused from its start after each
		// complete checkpoint, is cut back to 64 MiB when it grew beyond
		// (a bulk import leaves it large otherwise).
		w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)")
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		r, err := sql.Open("sqlite", base)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		r.SetMaxOpenConns(opt.MaxConns)
		r.SetMaxIdleConns(opt.MaxConns)
		db.write, db.read = w, r
		db.writeStmts, db.readStmts = newStmtCache(w), newStmtCache(r)
		ckctx, stop := context.WithCancel(context.Background())
		db.stopCheckpoints, db.checkpointsDone = stop, make(chan struct{})
		go db.checkpointLoop(ckctx)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.write.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", db.Dialect, err)
	}
	return db, nil
}

func sqliteParams(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(1)&_time_format=sqlite"
}

// checkpointLoop copies the WAL back into the database file every 100 ms
// (a PASSIVE checkpoint: it never blocks readers or writers, and does
// nothing when no transaction committed since the last one). Without it the
// write connection's auto-checkpoint would do this work, fsync included,
// inside a commit every thousand pages.
func (db *DB) checkpointLoop(ctx context.Context) {
	defer close(db.checkpointsDone)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var busy, log, done int
		_ = db.read.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done)
	}
}

// Close closes the pools.
func (db *DB) Close() error {
	var err error
	if db.batch != nil {
		db.batch.close()
	}
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
		<-db.checkpointsDone
		db.stopCheckpoints = nil
	}
	if db.writeStmts != nil {
		db.writeStmts.close()
		db.readStmts.close()
	}
	if db.counters != nil {
		_ = db.counters.Close()
	}
	if db.write != nil {
		err = db.write.Close()
	}
	if db.read != nil && db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Q returns the pool for reads outside a transaction.
func (db *DB) Q() Querier {
	if db.readStmts != nil {
		return cachedPool{db.read, db.readStmts}
	}
	return db.read
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error { return db.write.PingContext(ctx) }

// ForUpdate is the row-lock clause for a SELECT inside a transaction. SQLite
// transactions here are BEGIN IMMEDIATE and hold the database's write lock,
// so they need none.
func (db *DB) ForUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// SkipLocked is ForUpdate for work queues: concurrent claimers skip each
// other's rows instead of waiting on them.
func (db *DB) SkipLocked() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// NextCounter hands out the next value of a counter (the counters table).
// On SQLite it counts inside tx (which holds the only write lock anyway).
// On PostgreSQL it counts in a statement of its own, on a connection of
// its own, so that the counter's row is locked for that statement only, not
// until tx commits: every charger's StartTransaction takes a number, and a
// hot row locked for a whole transaction would serialize them all. A number
// taken by a transaction that then rolls back is skipped (numbers are
// unique, not gapless).
func (db *DB) NextCounter(ctx context.Context, tx *Tx, name string) (int64, error) {
	var q Querier = tx
	if db.counters != nil {
		q = db.counters
	}
	var v int64
	err := q.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: next %s: %w", name, err)
	}
	return v, nil
}

// Tx is a transaction with hooks that run after it commits.
type Tx struct {
	*sql.Tx
	DB          *DB
	afterCommit []func()
	readOnly    bool             // ReadTx: on the read pool, whose statements are not the write cache's
	slots       map[string]uint8 // the next free statement slot of queries run with QueryContext (stmtcache.go)
	memo        map[any]any
}

// Memo returns the value remembered under key in this transaction, or
// computes it with fn and remembers it. It is for reads that many writes of
// one transaction repeat (a group commit holds many) and that change only
// through writes which call Forget in the same transaction.
func (tx *Tx) Memo(key any, fn func() (any, error)) (any, error) {
	if v, ok := tx.memo[key]; ok {
		return v, nil
	}
	v, err := fn()
	if err != nil {
		return nil, err
	}
	if tx.memo == nil {
		tx.memo = make(map[any]any)
	}
	tx.memo[key] = v
	return v, nil
}

// Forget drops what Memo remembers under key.
func (tx *Tx) Forget(key any) { delete(tx.memo, key) }

// AfterCommit registers f to run once the transaction has committed (for
// example to wake a worker for a job the transaction enqueued). It never runs
// if the transaction rolls back.
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// InTx runs fn in a transaction and commits it if fn returns nil. Conflicts
// that the database reports as retryable (PostgreSQL serialization failures
// and deadlocks, SQLite busy) rerun fn from the start, so fn must not have
// effects outside the transaction.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	const attempts = 5
	var err error
	for i := 0; i < attempts; i++ {
		err = db.inTx(ctx, fn)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(i+1) * 5 * time.Millisecond)
	}
	return err
}

func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.writeStmts != nil {
		db.writeStmts.prepareDeferred(ctx)
	}
	stx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{Tx: stx, DB: db}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// ReadTx runs fn in a transaction that only reads, for reads that must see
// one consistent state across several statements. On SQLite it runs on the
// read pool (a WAL snapshot, taken at the first read), so it neither takes
// the write lock nor waits for it; on PostgreSQL it is InTx (rows locked
// with ForUpdate stay consistent the same way). fn must not write.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	if db.Dialect == Postgres {
		return db.InTx(ctx, fn)
	}
	db.readStmts.prepareDeferred(ctx)
	stx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin read: %w", err)
	}
	defer func() { _ = stx.Rollback() }()
	return fn(&Tx{Tx: stx, DB: db, readOnly: true})
}

func retryable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLSTATE 40001") || strings.Contains(s, "SQLSTATE 40P01") ||
		strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked")
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either database.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "UNIQUE constraint failed")
}

// Redacted returns the database URL with any password removed, for logs.
func (db *DB) Redacted() string {
	if db.Dialect == SQLite {
		return db.url
	}
	u, err := url.Parse(db.url)
	if err != nil {
		return "postgres"
	}
	return u.Redacted()
}

// Now is the database's notion of the current time: UTC, to the microsecond
// (PostgreSQL's precision), so values round-trip exactly on both databases.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// UTC normalizes t for storage. TIMESTAMP columns hold UTC wall-clock time on
// both databases; SQLite compares them as text, which is only correct when
// every value is in UTC.
func UTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// NullTime converts an optional time for storage.
func NullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return UTC(*t)
}

// JSON encodes v for a TEXT column holding JSON.
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: JSON of %T: %v", v, err)) // only our own types are stored
	}
	return string(b)
}

// FromJSON decodes a TEXT column holding JSON.
func FromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("store: decode %T: %w", v, err)
	}
	return nil
}
