// Package sessions benchmarks complete charging-session lifecycles end to
// end, through the Platform API and real OCPP, on SQLite and PostgreSQL.
//
//	go test -run '^$' -bench Lifecycles -benchtime 3000x ./bench/sessions
//
// (bench/sessions.sh runs it and prints the figures.) One lifecycle is:
// POST /v1/sessions (postpaid) -> the job sends RemoteStartTransaction ->
// the simulated charger starts and its StartTransaction is committed
// (session started) -> at least one MeterValues -> POST .../stop -> the job
// sends RemoteStopTransaction -> StopTransaction (ended, priced, CDR) ->
// the job charges the card through the sandbox provider -> session
// completed and paid. b.N lifecycles run on BENCH_CHARGERS chargers (600)
// back to back; the figure is b.N divided by the time from the first
// start to the last payment. The baseline is b.N plain one-row INSERTs,
// each its own transaction, with the same concurrency, in the same
// database, in the same process, in the same run.
//
// Joule, its job workers and the simulated chargers all run in this one
// process and share the machine's cores.
package sessions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

func BenchmarkLifecycles(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchLifecycles(b, filepath.Join(b.TempDir(), "joule.db")) })
	b.Run("postgres", func(b *testing.B) { benchLifecycles(b, storetest.PostgresDSN(b)) })
}

const rate = `{"currency":"USD","elements":[{"price_components":[{"type":"ENERGY","price":0.40,"vat":10,"step_size":1},{"type":"TIME","price":1.20,"vat":10,"step_size":60}]}]}`

func benchLifecycles(b *testing.B, dsn string) {
	chargers := 600
	if v, err := strconv.Atoi(os.Getenv("BENCH_CHARGERS")); err == nil && v > 0 {
		chargers = v
	}
	chargers = min(chargers, b.N)
	workers := 16 // as `joule serve` runs by default
	if v, err := strconv.Atoi(os.Getenv("BENCH_JOB_WORKERS")); err == nil && v > 0 {
		workers = v
	}
	j := apitest.StartWith(b, dsn, func(c *app.Config) {
		c.JobPoll, c.JobWorkers, c.NoSandboxChargers = 250*time.Millisecond, workers, true
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	cl := &client{url: j.URL, key: j.Key, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: chargers, MaxConnsPerHost: chargers}}}
	cl.must(b, 200, "PATCH", "/v1/organization", `{"configurations":{"meter_value_interval":1,"connector_start_cooldown":0}}`, nil)
	var r, loc, user map[string]any
	cl.must(b, 201, "POST", "/v1/rates", `{"name":"bench","tariff":`+rate+`}`, &r)
	cl.must(b, 201, "POST", "/v1/locations", `{"name":"bench","address":{"streetAndNumber":"A 1","city":"B","country":"USA"},"coordinates":{"latitude":40.7,"longitude":-74}}`, &loc)
	cl.must(b, 201, "POST", "/v1/users", `{"firstname":"Bench"}`, &user)
	fleet := sim.New(sim.Config{URL: "ws://" + j.App.Addr() + "/ocpp", ReconnectDelay: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer fleet.Stop()
	type rig struct {
		ch        *sim.Charger
		connector string
	}
	rigs := make([]rig, chargers)
	for i := range rigs {
		identity := fmt.Sprintf("LC%05d", i)
		var st map[string]any
		cl.must(b, 201, "POST", "/v1/chargestations", fmt.Sprintf(`{"location":%q,"identity":%q,"capabilities":["REMOTE_START_STOP_CAPABLE"],"connectors":[{"evse_id":"US*JOU*E%s","rate":%q}]}`,
			loc["_id"], identity, identity, r["_id"]), &st)
		ch, err := fleet.Add(sim.ChargerConfig{Identity: identity, Password: st["password"].(string), MeterInterval: time.Second, PowerW: 11000})
		if err != nil {
			b.Fatal(err)
		}
		rigs[i] = rig{ch: ch, connector: st["connectors"].([]any)[0].(map[string]any)["_id"].(string)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := fleet.Start(ctx, 500); err != nil {
		b.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if err := fleet.WaitBooted(wctx); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second) // the boot's status notifications

	// Joule: b.N lifecycles on the chargers, back to back.
	var next atomic.Int64
	var mu sync.Mutex
	var ids []string
	started := map[string]time.Time{}
	var phases [4][]time.Duration // create, start, stop, end (see lifecycle)
	var failures atomic.Int64
	b.ResetTimer()
	t0, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for _, rg := range rigs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				begin := time.Now()
				id, ph, err := lifecycle(ctx, cl, rg.ch, user["_id"].(string), rg.connector)
				if err != nil {
					failures.Add(1)
					b.Errorf("lifecycle on %s: %v", rg.ch.Identity(), err)
					continue
				}
				mu.Lock()
				ids = append(ids, id)
				started[id] = begin
				for i := range ph {
					phases[i] = append(phases[i], ph[i])
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	paid, latencies := waitPaid(b, j.App.DB, started, 120*time.Second)
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()

	// The baseline: the same number of plain inserts, same concurrency.
	db := j.App.DB
	bctx := context.Background()
	if err := db.InTx(bctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(bctx, `CREATE TABLE IF NOT EXISTS bench_plain (id TEXT PRIMARY KEY, n BIGINT NOT NULL, at TIMESTAMP NOT NULL)`)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	next.Store(0)
	p0 := time.Now()
	for range chargers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				err := db.InTx(bctx, func(tx *store.Tx) error {
					_, err := tx.ExecContext(bctx, `INSERT INTO bench_plain (id, n, at) VALUES ($1, $2, $3)`, id.New(), n, store.Now())
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	plain := time.Since(p0)

	lps, ips := float64(b.N)/elapsed.Seconds(), float64(b.N)/plain.Seconds()
	b.ReportMetric(lps, "lifecycles/s")
	b.ReportMetric(ips, "inserts/s")
	b.ReportMetric(ips/lps, "inserts/lifecycle-time")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/lifecycle")
	if len(latencies) > 0 {
		b.ReportMetric(pct(latencies, 0.50).Seconds(), "p50-s")
		b.ReportMetric(pct(latencies, 0.99).Seconds(), "p99-s")
	}
	b.Logf("%s: %d lifecycles on %d chargers in %v = %.0f lifecycles/s, %.2f ms of CPU each (%d paid, %d failed; start-to-paid p50 %v, p99 %v); "+
		"baseline: %d plain inserts in %v = %.0f inserts/s, %.1fx the lifecycles' rate",
		db.Dialect, b.N, chargers, elapsed.Round(time.Millisecond), lps, float64(cpu.Microseconds())/1000/float64(b.N), paid, failures.Load(), pct(latencies, 0.5).Round(time.Millisecond),
		pct(latencies, 0.99).Round(time.Millisecond), b.N, plain.Round(time.Millisecond), ips, ips/lps)
	for i, name := range []string{"POST /v1/sessions answered", "then charger started (StartTransaction answered)", "then POST .../stop answered (after the 1.1 s of meter values)", "then charger stopped (StopTransaction answered)"} {
		ds := phases[i]
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		b.Logf("  %-62s p50 %v, p99 %v", name, pct(ds, 0.5).Round(time.Millisecond), pct(ds, 0.99).Round(time.Millisecond))
	}
	if paid != b.N {
		b.Errorf("%d of %d sessions completed and paid", paid, b.N)
	}
}

// lifecycle runs one session on the charger's connector 1 and returns once
// the charger's StopTransaction was answered (the pricing and the payment
// follow in the background; waitPaid waits for them), with the time each
// step took.
func lifecycle(ctx context.Context, cl *client, ch *sim.Charger, user, connector string) (string, [4]time.Duration, error) {
	var ph [4]time.Duration
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t := time.Now()
	step := func(i int) {
		now := time.Now()
		ph[i], t = now.Sub(t), now
	}
	var x map[string]any
	if err := cl.do(ctx, 201, "POST", "/v1/sessions", fmt.Sprintf(`{"user":%q,"connector":%q,"type":"postpaid"}`, user, connector), &x); err != nil {
		return "", ph, err
	}
	step(0)
	id := x["_id"].(string)
	// Started: the charger's StartTransaction has been answered, so the
	// session is started in the database.
	if err := ch.WaitFor(ctx, func(s sim.Snapshot) bool { return s.Connector(1).TransactionID != 0 && s.Queued == 0 }); err != nil {
		return id, ph, err
	}
	step(1)
	time.Sleep(1100 * time.Millisecond) // a MeterValues (every 1 s)
	if err := cl.do(ctx, 200, "POST", "/v1/sessions/"+id+"/stop", "", nil); err != nil {
		return id, ph, err
	}
	step(2)
	// Ended: the StopTransaction has been answered.
	err := ch.WaitFor(ctx, func(s sim.Snapshot) bool { return !s.Connector(1).InTransaction && s.Queued == 0 })
	step(3)
	return id, ph, err
}

// waitPaid waits until every session is completed with its payment
// succeeded; it returns how many are, and each one's time from the start
// request to its completion.
func waitPaid(b *testing.B, db *store.DB, started map[string]time.Time, within time.Duration) (int, []time.Duration) {
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		var n int
		_ = db.Q().QueryRowContext(ctx, `SELECT count(*) FROM sessions s JOIN session_payments p ON p.session_id = s.id
			WHERE s.status = 'completed' AND p.status = 'succeeded'`).Scan(&n)
		if n >= len(started) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	rows, err := db.Q().QueryContext(ctx, `SELECT s.id, s.completed_at FROM sessions s JOIN session_payments p ON p.session_id = s.id
		WHERE s.status = 'completed' AND p.status = 'succeeded'`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			b.Fatal(err)
		}
		if t, ok := started[id]; ok {
			out = append(out, at.Sub(t))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return len(out), out
}

// cpuTime is the CPU time this process (Joule, its jobs and the simulated
// chargers) has used so far: a figure less sensitive than elapsed time to
// other work on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(int(q*float64(len(ds))), len(ds)-1)]
}

// client is a small JSON client safe for concurrent use (apitest's fails
// the test from any goroutine).
type client struct {
	url, key string
	http     *http.Client
}

func (c *client) do(ctx context.Context, want int, method, path, body string, out any) error {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *client) must(b *testing.B, want int, method, path, body string, out any) {
	b.Helper()
	if err := c.do(context.Background(), want, method, path, body, out); err != nil {
		b.Fatal(err)
	}
}
