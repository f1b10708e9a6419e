package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Group commit. Many small writes that each must be durable before their
// caller goes on (a charger's message before its answer, a webhook
// attempt's outcome, a finished job) are committed together: a caller hands
// its write to Batch and waits until the transaction holding it has
// committed. The database then sees one transaction per batch instead of
// one per write, which on SQLite (one writer, one commit at a time) is most
// of the cost of a small write, and on PostgreSQL saves a WAL flush per
// write. A batch starts as soon as the previous one has committed, so a
// lone write waits for nobody.

// maxBatch bounds the writes committed together. On PostgreSQL, where
// every statement is a round trip and a batch holds its row locks until it
// commits, batches are smaller and several run at once (each on its own
// connection): PostgreSQL flushes concurrent commits together by itself.
const (
	maxBatch         = 256
	maxBatchPostgres = 32
	postgresBatchers = 4
)

// ErrClosed is returned by Batch once the database is closed.
var ErrClosed = errors.New("store: database closed")

type batchWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *Tx) error
	done chan error
}

type batcher struct {
	in      chan batchWrite
	start   sync.Once
	running atomic.Bool
	stop    sync.Once
	quit    chan struct{} // closed by Close
	ended   chan struct{} // closed when the loop has returned
}

// close stops the loop after the batch in progress.
func (b *batcher) close() {
	b.stop.Do(func() { close(b.quit) })
	if b.running.Load() {
		<-b.ended
	}
}

func newBatcher() *batcher {
	return &batcher{in: make(chan batchWrite, 4*maxBatch), quit: make(chan struct{}), ended: make(chan struct{})}
}

// Batch runs fn in the next group-commit transaction and returns once that
// transaction committed (nil) or failed (fn's error, or the database's).
// fn must only touch the database through tx: a batch that fails is
// retried one write at a time, so fn may run more than once, and effects
// meant for after the commit go in tx.AfterCommit. A write whose ctx ends
// before its batch begins is not applied; once its batch has begun, it
// waits for the outcome (the write may be committed).
func (db *DB) Batch(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	b := db.batch
	b.start.Do(func() {
		b.running.Store(true)
		loops, size := 1, maxBatch
		if db.Dialect == Postgres {
			loops, size = postgresBatchers, maxBatchPostgres
		}
		var wg sync.WaitGroup
		for range loops {
			wg.Add(1)
			go func() { defer wg.Done(); db.batchLoop(size) }()
		}
		go func() { wg.Wait(); close(b.ended) }()
	})
	w := batchWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.in <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.quit:
		return ErrClosed
	}
	select {
	case err := <-w.done:
		return err
	case <-b.ended:
		// Close waits for the batch in progress; a write still queued
		// when the loop ended was never applied.
		select {
		case err := <-w.done:
			return err
		default:
			return ErrClosed
		}
	}
}

func (db *DB) batchLoop(size int) {
	b := db.batch
	batch := make([]batchWrite, 0, size)
	for {
		batch = batch[:0]
		select {
		case w := <-b.in:
			batch = append(batch, w)
		case <-b.quit:
			return
		}
	fill:
		for len(batch) < size {
			select {
			case w := <-b.in:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		db.commitBatch(batch)
	}
}

func (db *DB) commitBatch(batch []batchWrite) {
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
