package csms

import (
	"context"

	"github.com/joule-ev/joule/internal/store"
)

// batcher commits the writes of many chargers' messages together (group
// commit, store.DB.Batch): a message handler hands over its write and waits
// until the transaction holding it has committed, then acknowledges the
// message. So nothing acknowledged is lost in a crash, and the database
// sees one transaction per batch instead of one per message.
type batcher struct{ db *store.DB }

// Do runs fn in the next batch's transaction and returns once it committed
// (or failed). fn must only touch the database: a batch that fails is
// retried one write at a time, so fn may run more than once.
func (b batcher) Do(ctx context.Context, fn func(ctx context.Context, tx *store.Tx) error) error {
	return b.db.Batch(ctx, fn)
}
