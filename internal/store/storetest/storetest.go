// Package storetest runs store-backed tests on both databases: a fresh SQLite
// file and a fresh PostgreSQL schema per test.
//
// PostgreSQL comes from JOULE_TEST_POSTGRES (default
// postgres://root@127.0.0.1:5432/test?sslmode=disable). When it is
// unreachable the PostgreSQL half skips, unless JOULE_REQUIRE_POSTGRES=1 (set
// by CI), in which case it fails.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/store"
)

// PostgresURL is the server used by PostgreSQL tests.
func PostgresURL() string {
	if u := os.Getenv("JOULE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

var (
	pgOnce sync.Once
	pgErr  error
)

// Each runs fn as two subtests, "sqlite" and "postgres", each with its own
// migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a migrated database in a fresh file under t.TempDir().
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db := open(t, filepath.Join(t.TempDir(), "joule.db"))
	return db
}

// Postgres returns a migrated database in a fresh schema that is dropped when
// the test ends. It skips (or fails under JOULE_REQUIRE_POSTGRES=1) when the
// server is unreachable.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	return open(t, dsn)
}

// PostgresDSN creates a fresh schema and returns a URL whose connections use
// it, for tests that start a server process of their own.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	pgOnce.Do(func() {
		db, err := store.Open(ctx, PostgresURL(), store.Options{MaxConns: 2})
		if err != nil {
			pgErr = err
			return
		}
		db.Close()
	})
	if pgErr != nil {
		if os.Getenv("JOULE_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL required but unreachable: %v", pgErr)
		}
		t.Skipf("PostgreSQL unreachable (%v); set JOULE_TEST_POSTGRES", pgErr)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := store.Open(ctx, PostgresURL(), store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Q().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Q().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(fmt.Errorf("migrate %s: %w", db.Dialect, err))
	}
	return db
}
