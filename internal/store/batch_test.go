package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

func insertOrg(ctx context.Context, tx *store.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO organizations (id,name,configurations,created_at,updated_at) VALUES ($1,'n','{}',$2,$2)`, id, store.Now())
	return err
}

func countOrgs(t *testing.T, db *store.DB, like string) int {
	t.Helper()
	var n int
	if err := db.Q().QueryRowContext(context.Background(), `SELECT count(*) FROM organizations WHERE id LIKE $1`, like).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBatchCommitsEveryWrite: concurrent writes handed to Batch are all
// committed when Batch returns, each after-commit hook runs once, and a
// write that fails gets its own error without taking the others with it
// (nor leaving its partial effects behind).
func TestBatchCommitsEveryWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 300
		boom := errors.New("boom")
		var hooks atomic.Int64
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
					if err := insertOrg(ctx, tx, fmt.Sprintf("o_%03d", i)); err != nil {
						return err
					}
					tx.AfterCommit(func() { hooks.Add(1) })
					if i%50 == 7 {
						return boom // after its insert: the insert must not stay
					}
					return nil
				})
			}()
		}
		wg.Wait()
		failed := 0
		for i, err := range errs {
			switch {
			case i%50 == 7:
				failed++
				if !errors.Is(err, boom) {
					t.Errorf("write %d: err = %v, want boom", i, err)
				}
			case err != nil:
				t.Errorf("write %d: %v", i, err)
			}
		}
		if got := countOrgs(t, db, "o_%"); got != n-failed {
			t.Fatalf("%d rows committed, want %d", got, n-failed)
		}
		if got := hooks.Load(); got != int64(n-failed) {
			t.Fatalf("after-commit hooks ran %d times, want %d (once per committed write)", got, n-failed)
		}
	})
}

// TestBatchSkipsAbandonedWrite: a write whose context ended before its
// batch began is not applied, and Batch says so.
func TestBatchSkipsAbandonedWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error { return insertOrg(ctx, tx, "o_gone") })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := countOrgs(t, db, "o_gone"); got != 0 {
			t.Fatal("a write whose caller gave up was applied")
		}
	})
}

// TestBatchAfterClose: once the database is closed, Batch refuses.
func TestBatchAfterClose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error { return insertOrg(ctx, tx, "o_1") }); err != nil {
			t.Fatal(err)
		}
		db.Close()
		err := db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error { return insertOrg(ctx, tx, "o_2") })
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	})
}

// TestNextCounterUnique: concurrent transactions that commit each get a
// distinct number, also when others roll back.
func TestNextCounterUnique(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 100
		got := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.InTx(ctx, func(tx *store.Tx) error {
					v, err := db.NextCounter(ctx, tx, "ocpp_transaction")
					got[i] = v
					if err == nil && i%10 == 0 {
						return errors.New("roll back")
					}
					return err
				})
				if err != nil && err.Error() != "roll back" {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i, v := range got {
			if i%10 == 0 {
				continue // rolled back: on SQLite its number is handed out again
			}
			if v <= 0 || seen[v] {
				t.Fatalf("number %d handed out twice or not at all: %v", v, got)
			}
			seen[v] = true
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := db.NextCounter(ctx, tx, "no_such_counter")
			return err
		})
		if err == nil {
			t.Fatal("an unknown counter gave a number")
		}
	})
}

// TestReadTxSeesOneState: a read transaction sees the state of its first
// read throughout, even when a write commits in between (on SQLite it runs
// on a WAL snapshot, without the write lock).
func TestReadTxSeesOneState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.InTx(ctx, func(tx *store.Tx) error { return insertOrg(ctx, tx, "o_a") }); err != nil {
			t.Fatal(err)
		}
		if db.Dialect == store.Postgres {
			return // ReadTx is InTx there: READ COMMITTED, rows kept consistent by locks
		}
		err := db.ReadTx(ctx, func(tx *store.Tx) error {
			var first, second int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM organizations`).Scan(&first); err != nil {
				return err
			}
			// A writer is not blocked by the read transaction.
			if err := db.InTx(ctx, func(w *store.Tx) error { return insertOrg(ctx, w, "o_b") }); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM organizations`).Scan(&second); err != nil {
				return err
			}
			if first != 1 || second != 1 {
				return fmt.Errorf("counts %d then %d inside one read transaction, want 1 and 1", first, second)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := countOrgs(t, db, "o_%"); got != 2 {
			t.Fatalf("%d rows after the read, want 2", got)
		}
	})
}

// TestPreparedStatementsReused: the same statements run many times, inside
// and outside transactions, give the right answers (the SQLite statement
// cache must not mix them up).
func TestPreparedStatementsReused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for i := range 20 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insertOrg(ctx, tx, fmt.Sprintf("o_%02d", i)); err != nil {
					return err
				}
				rows, err := tx.QueryContext(ctx, `SELECT id FROM organizations WHERE id LIKE $1 ORDER BY id`, "o_%")
				if err != nil {
					return err
				}
				var ids []string
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						rows.Close()
						return err
					}
					ids = append(ids, id)
				}
				rows.Close()
				if len(ids) != i+1 || ids[i] != fmt.Sprintf("o_%02d", i) {
					return fmt.Errorf("round %d: rows %v", i, ids)
				}
				for _, id := range ids {
					var got string
					if err := tx.QueryRowContext(ctx, `SELECT id FROM organizations WHERE id = $1`, id).Scan(&got); err != nil || got != id {
						return fmt.Errorf("round %d: row %s read as %q: %v", i, id, got, err)
					}
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := countOrgs(t, db, "o_%"); got != i+1 {
				t.Fatalf("round %d: read pool sees %d rows", i, got)
			}
		}
	})
}

// TestPreparedStatementsWithOpenRows: on SQLite a transaction may run a
// query again while the rows of its first run are still open (read inside
// the loop over them); the second run must not reset the first's cached
// statement. Both kinds of transaction are checked. (PostgreSQL allows one
// open result per connection, so code that runs on both never does this.)
func TestPreparedStatementsWithOpenRows(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	const list = `SELECT id FROM organizations WHERE id LIKE $1 ORDER BY id`
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		for i := range 5 {
			if err := insertOrg(ctx, tx, fmt.Sprintf("o_%d", i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	nested := func(tx *store.Tx) error {
		rows, err := tx.QueryContext(ctx, list, "o_%")
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			inner, err := tx.QueryContext(ctx, list, id)
			if err != nil {
				return err
			}
			m := 0
			for inner.Next() {
				m++
			}
			inner.Close()
			var again string
			if err := tx.QueryRowContext(ctx, list, id).Scan(&again); err != nil || again != id || m != 1 {
				return fmt.Errorf("inner reads of %s: %d rows, %q, %v", id, m, again, err)
			}
			n++
		}
		if n != 5 {
			return fmt.Errorf("outer loop saw %d rows, want 5", n)
		}
		return rows.Err()
	}
	for range 3 { // the statements are cached after the first rounds
		if err := db.InTx(ctx, nested); err != nil {
			t.Fatal("write transaction:", err)
		}
		if err := db.ReadTx(ctx, nested); err != nil {
			t.Fatal("read transaction:", err)
		}
	}
}

// TestBatchSurvivesPanic: a write that panics fails its batch and panics in
// the goroutine that led it; the group commit goes on working.
func TestBatchSurvivesPanic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		func() {
			defer func() {
				if p := recover(); p == nil {
					t.Error("the panic did not reach the leader")
				}
			}()
			_ = db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
				if err := insertOrg(ctx, tx, "o_panic"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if err := db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error { return insertOrg(ctx, tx, "o_after") }); err != nil {
			t.Fatal("after a panic:", err)
		}
		if countOrgs(t, db, "o_panic") != 0 || countOrgs(t, db, "o_after") != 1 {
			t.Fatal("the panicking write was committed, or the next one was not")
		}
	})
}
