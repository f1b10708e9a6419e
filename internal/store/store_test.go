package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

func TestTimesRoundTripAndCompare(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(250 * time.Millisecond), base.Add(time.Second), base.Add(1234567 * time.Microsecond)}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i, ts := range times {
				_, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, kind, payload, state, max_attempts, run_at, created_at) VALUES ($1,'k','{}','available',1,$2,$2)`,
					string(rune('a'+i)), store.UTC(ts))
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := db.Q().QueryRowContext(ctx, `SELECT run_at FROM jobs WHERE id='e'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(times[4]) {
			t.Fatalf("round trip: got %v want %v", got, times[4])
		}
		var n int
		if err := db.Q().QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE run_at <= $1`, store.UTC(base.Add(600*time.Millisecond))).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("compare: %d rows <= base+600ms, want 3", n)
		}
	})
}

func TestInTxRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		ran := false
		err := db.InTx(ctx, func(tx *store.Tx) error {
			tx.AfterCommit(func() { ran = true })
			if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id,name,configurations,created_at,updated_at) VALUES ('o','n','{}',$1,$1)`, store.Now()); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if ran {
			t.Fatal("after-commit hook ran on rollback")
		}
		var n int
		_ = db.Q().QueryRowContext(ctx, `SELECT count(*) FROM organizations`).Scan(&n)
		if n != 0 {
			t.Fatalf("rollback kept %d rows", n)
		}
		cur, latest, err := db.MigrationStatus(ctx)
		if err != nil || cur != latest || cur == 0 {
			t.Fatalf("migration status %d/%d %v", cur, latest, err)
		}
	})
}
