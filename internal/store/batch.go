package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Group commit. Many small writes that each must be durable before their
// caller goes on (a charger's message before its answer, a webhook
// attempt's outcome, a finished job) are committed together: a caller hands
// its write to Batch and waits until the transaction holding it has
// committed. The database then sees one transaction per batch instead of
// one per write, which on SQLite (one writer, one commit at a time) is most
// of the cost of a small write, and on PostgreSQL saves a WAL flush per
// write.
//
// There is no committer goroutine: a caller that finds no batch in progress
// (on PostgreSQL, fewer than postgresLeaders) leads, committing its own
// write with whatever else is queued, and the callers that arrive meanwhile
// queue up for the next batch. So a lone write is committed by its own
// goroutine at once, without waking another and waiting for it to be
// scheduled among thousands of chargers' goroutines. A leader then goes on
// with the batches queued meanwhile for up to leadFor, and hands the rest
// to a new goroutine (see lead).

// maxBatch bounds the writes committed together. On PostgreSQL, where
// every statement is a round trip and a batch holds its row locks until it
// commits, batches are smaller and several run at once (each on its own
// connection): PostgreSQL flushes concurrent commits together by itself.
const (
	maxBatch         = 256
	maxBatchPostgres = 32
	postgresLeaders  = 4
)

// ErrClosed is returned by Batch once the database is closed.
var ErrClosed = errors.New("store: database closed")

type batchWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *Tx) error
	done chan error // buffered: the leader never waits for its caller
}

type batcher struct {
	mu      sync.Mutex
	queue   []*batchWrite
	leaders int  // batches being committed
	closed  bool // Close was called: no more batches begin
	idle    sync.Cond
}

func newBatcher() *batcher {
	b := &batcher{}
	b.idle.L = &b.mu
	return b
}

// close lets the batches in progress finish, fails the writes still
// queued, and returns once no batch runs.
func (b *batcher) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, w := range b.queue {
		w.done <- ErrClosed
	}
	b.queue = nil
	for b.leaders > 0 {
		b.idle.Wait()
	}
}

// Batch runs fn in the next group-commit transaction and returns once that
// transaction committed (nil) or failed (fn's error, or the database's).
// fn must only touch the database through tx: a batch that fails is
// retried one write at a time, so fn may run more than once, and effects
// meant for after the commit go in tx.AfterCommit. A write whose ctx ends
// before its batch begins is not applied; once its batch has begun, it
// waits for the outcome (the write may be committed).
func (db *DB) Batch(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := db.batch
	w := &batchWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.queue = append(b.queue, w)
	if b.leaders < db.maxLeaders() {
		b.leaders++
		db.lead() // unlocks b.mu
	} else {
		b.mu.Unlock()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		// Taken out of the queue, it is not applied; already in a batch,
		// its outcome is what counts.
		b.mu.Lock()
		for i, q := range b.queue {
			if q == w {
				b.queue = append(b.queue[:i:i], b.queue[i+1:]...)
				b.mu.Unlock()
				return ctx.Err()
			}
		}
		b.mu.Unlock()
		return <-w.done
	}
}

func (db *DB) maxLeaders() int {
	if db.Dialect == Postgres {
		return postgresLeaders
	}
	return 1
}

// lead commits batches from the head of the queue: the one holding the
// leader's own write, then, for up to leadFor, those queued meanwhile (a
// goroutine that is running commits them sooner than one that must first
// be woken and scheduled, among thousands), and then hands what is left to
// a new leader. It is called with b.mu held, as one of b.leaders, and
// returns with b.mu unlocked.
func (db *DB) lead() {
	b := db.batch
	size := maxBatch
	if db.Dialect == Postgres {
		size = maxBatchPostgres
	}
	start := time.Now()
	for len(b.queue) > 0 && !b.closed {
		if time.Since(start) > leadFor {
			// Its own write is long done: a goroutine of their own leads
			// the rest, and the slot passes to it.
			b.mu.Unlock()
			go func() {
				b.mu.Lock()
				db.lead()
			}()
			return
		}
		n := min(len(b.queue), size)
		batch := make([]*batchWrite, n)
		copy(batch, b.queue)
		b.queue = append(b.queue[:0:0], b.queue[n:]...)
		b.mu.Unlock()
		db.commitLed(batch)
		b.mu.Lock()
	}
	b.leaders--
	if b.leaders == 0 {
		b.idle.Broadcast()
	}
	b.mu.Unlock()
}

// leadFor bounds how long a leader goes on committing others' writes after
// its own (and so how much later its own caller goes on).
const leadFor = time.Millisecond

// commitLed commits a batch in the leader's goroutine. Should a write's fn
// panic, the batch's writes fail, the leader's slot is given back and the
// panic goes on up the leader's stack (a handler's recover turns it into
// an error there).
func (db *DB) commitLed(batch []*batchWrite) {
	defer func() {
		if p := recover(); p != nil {
			for _, w := range batch {
				select {
				case w.done <- fmt.Errorf("store: a write of the batch panicked: %v", p):
				default: // already answered
				}
			}
			b := db.batch
			b.mu.Lock()
			b.leaders--
			if b.leaders == 0 {
				b.idle.Broadcast()
			}
			b.mu.Unlock()
			panic(p)
		}
	}()
	db.commitBatch(batch)
}

func (db *DB) commitBatch(batch []*batchWrite) {
	// A write whose caller has given up is skipped, not applied behind its back.
	live := batch[:0:0]
	for _, w := range batch {
		if w.ctx.Err() != nil {
			w.done <- w.ctx.Err()
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *Tx) error {
		for _, w := range live {
			if err := w.fn(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(live) == 1 {
		for _, w := range live {
			w.done <- err
		}
		return
	}
	// One write failed and took the batch with it: isolate it.
	for _, w := range live {
		w.done <- db.InTx(ctx, func(tx *Tx) error { return w.fn(ctx, tx) })
	}
	slog.Debug("store: batch failed; writes retried one by one", "writes", len(live), "err", err)
}
