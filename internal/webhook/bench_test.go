package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// BenchmarkDelivery measures webhook deliveries per second to a local
// receiver — events emitted one per transaction by BENCH_PRODUCERS (8)
// concurrent producers (as sessions, top-ups and chargers emit them; with
// one, the producer's own commits bound the rate), fanned out, delivered,
// signed and recorded — against a baseline of plain HTTP POSTs of the same
// body from the same process, with the same concurrency (the per-endpoint
// limit), in the same run. ns/op is Joule's time per delivery.
func BenchmarkDelivery(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchDelivery(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchDelivery(b, storetest.Postgres(b)) })
}

func benchDelivery(b *testing.B, db *store.DB) {
	var got atomic.Int64
	var body []byte
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		once.Do(func() { body = raw })
		got.Add(1)
	}))
	defer srv.Close()
	const concurrency = 4
	j := startJoule(b, db, Options{MaxInFlightPerEndpoint: concurrency}, 16)
	p := org.Principal{OrgID: newOrg(b, db), TestMode: true}
	j.endpoint(b, p, srv.URL, "user.*")

	b.ResetTimer()
	start := time.Now()
	var emitted atomic.Int64
	var producers sync.WaitGroup
	n := 8
	if v, err := strconv.Atoi(os.Getenv("BENCH_PRODUCERS")); err == nil && v > 0 {
		n = v
	}
	for range n {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for emitted.Add(1) <= int64(b.N) {
				if _, err := j.emitErr(p, "user.updated"); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	producers.Wait()
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	joule := time.Since(start)
	b.StopTimer()

	// The baseline: the same body POSTed b.N times by `concurrency`
	// goroutines through a client like Joule's.
	client := newClient(false, concurrency)
	var next atomic.Int64
	var wg sync.WaitGroup
	start = time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	plain := time.Since(start)

	dps, pps := float64(b.N)/joule.Seconds(), float64(b.N)/plain.Seconds()
	b.ReportMetric(dps, "deliveries/s")
	b.ReportMetric(pps, "posts/s")
	b.ReportMetric(pps/dps, "slowdown")
	b.Logf("N=%d, %d producers: Joule %.0f deliveries/s, plain POSTs %.0f/s: Joule takes %.1fx the time of a bare POST", b.N, n, dps, pps, pps/dps)
}
