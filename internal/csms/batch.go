package csms

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/joule-ev/joule/internal/store"
)

// batcher commits the writes of many chargers' messages together (group
// commit): a message handler hands over its write and waits until the
// transaction holding it has committed, then acknowledges the message. So
// nothing acknowledged is lost in a crash, and the database sees one
// transaction per batch instead of one per message.
type batcher struct {
	db     *store.DB
	in     chan write
	max    int
	linger time.Duration
	log    *slog.Logger
}

type write struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *store.Tx) error
	done chan error
}

func newBatcher(db *store.DB, max int, linger time.Duration, log *slog.Logger) *batcher {
	return &batcher{db: db, in: make(chan write, 4*max), max: max, linger: linger, log: log}
}

// Do runs fn in the next batch's transaction and returns once it committed
// (or failed). fn must only touch the database: a batch that fails is
// retried one write at a time, so fn may run more than once.
func (b *batcher) Do(ctx context.Context, fn func(ctx context.Context, tx *store.Tx) error) error {
	w := write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.in <- w:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *batcher) run(ctx context.Context) {
	batch := make([]write, 0, b.max)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = batch[:0]
		select {
		case w := <-b.in:
			batch = append(batch, w)
		case <-ctx.Done():
			return
		}
		// Take whatever else is already waiting, then linger briefly for more
		// only while the batch is small.
	fill:
		for len(batch) < b.max {
			select {
			case w := <-b.in:
				batch = append(batch, w)
			default:
				if b.linger <= 0 || len(batch) > 1 {
					break fill
				}
				timer.Reset(b.linger)
				select {
				case w := <-b.in:
					batch = append(batch, w)
					timer.Stop()
				case <-timer.C:
					break fill
				}
			}
		}
		b.commit(ctx, batch)
	}
}

func (b *batcher) commit(ctx context.Context, batch []write) {
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
	wctx := context.WithoutCancel(ctx)
	err := b.db.InTx(wctx, func(tx *store.Tx) error {
		for _, w := range live {
			if err := w.fn(wctx, tx); err != nil {
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
		w.done <- b.db.InTx(wctx, func(tx *store.Tx) error { return w.fn(wctx, tx) })
	}
	if !errors.Is(err, context.Canceled) {
		b.log.Warn("csms: batch failed; writes retried one by one", "writes", len(live), "err", err)
	}
}
