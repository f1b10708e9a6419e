// Package apitest starts a real Joule (the same app as `joule serve`) on a
// loopback port for end-to-end tests, on SQLite or PostgreSQL, and gives
// tests a small JSON client for it.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// Joule is a running server.
type Joule struct {
	App *app.App
	URL string
	Key string // the sandbox organization's test key
	DSN string
	// Client makes the requests (default http.DefaultClient).
	Client *http.Client
	stop   context.CancelFunc
	done   chan struct{}
}

// Each runs fn against a fresh Joule on SQLite and on PostgreSQL.
func Each(t *testing.T, fn func(t *testing.T, j *Joule)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, Start(t, filepath.Join(t.TempDir(), "joule.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, Start(t, storetest.PostgresDSN(t))) })
}

// Start runs Joule on dsn until the test ends.
func Start(t testing.TB, dsn string) *Joule {
	t.Helper()
	return StartWith(t, dsn, nil)
}

// StartWith is Start with the configuration adjusted by configure.
func StartWith(t testing.TB, dsn string, configure func(*app.Config)) *Joule {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg := app.Config{DatabaseURL: dsn, Addr: "127.0.0.1:0", Version: "test", Logger: log, JobPoll: 20 * time.Millisecond}
	if configure != nil {
		configure(&cfg)
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	j := &Joule{App: a, URL: a.BaseURL(), Key: a.Sandbox.Key, DSN: dsn, stop: cancel, done: make(chan struct{})}
	go func() { defer close(j.done); _ = a.Run(ctx) }()
	t.Cleanup(j.Stop)
	return j
}

// Stop shuts the server down and waits for it.
func (j *Joule) Stop() {
	j.stop()
	<-j.done
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// NewOrg creates another organization with a key of each mode.
func (j *Joule) NewOrg(t testing.TB, name string) (testKey, liveKey string) {
	t.Helper()
	testKey, liveKey = org.NewKey(true), org.NewKey(false)
	ctx := context.Background()
	err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		o, err := org.Create(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := org.AddKey(ctx, tx, o.ID, "test", testKey); err != nil {
			return err
		}
		_, err = org.AddKey(ctx, tx, o.ID, "live", liveKey)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return testKey, liveKey
}

// LiveKey adds a live key to the sandbox organization.
func (j *Joule) LiveKey(t testing.TB) string {
	t.Helper()
	k := org.NewKey(false)
	ctx := context.Background()
	if err := j.App.DB.InTx(ctx, func(tx *store.Tx) error { _, err := org.AddKey(ctx, tx, j.App.Sandbox.OrgID, "live", k); return err }); err != nil {
		t.Fatal(err)
	}
	return k
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.Status, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %T from %d: %v: %s", v, r.Status, err, r.Body)
	}
}

// Do sends a request with key; body may be nil, a string/[]byte (sent as
// is) or a value (sent as JSON). Extra headers come in pairs.
func (j *Joule) Do(t testing.TB, key, method, path string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewBuffer(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewBuffer(raw)
	}
	req, err := http.NewRequest(method, j.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := j.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Must is Do that fails the test unless the status is want.
func (j *Joule) Must(t testing.TB, want int, key, method, path string, body any, headers ...string) map[string]any {
	t.Helper()
	r := j.Do(t, key, method, path, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(t)
}

// FreeAddr returns a loopback address with a free port, for tests that
// start a `joule serve` process of their own.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
