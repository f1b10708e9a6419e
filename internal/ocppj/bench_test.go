package ocppj

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"
)

type heartbeatConf struct {
	CurrentTime time.Time `json:"currentTime"`
}

func heartbeatMux() *Mux {
	m := NewMux()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m.Handle("Heartbeat", func(context.Context, *Conn, string, json.RawMessage) (any, error) {
		return heartbeatConf{CurrentTime: now}, nil
	})
	return m
}

// BenchmarkRoundTrip measures one client calling a server over loopback:
// a CALL out, the handler, the CALLRESULT back. It is latency-bound (one
// outstanding CALL per connection, as OCPP-J demands).
func BenchmarkRoundTrip(b *testing.B) {
	ts := startServer(b, AcceptOptions{Options: Options{Handler: heartbeatMux(), PingInterval: -1}})
	c := dial(b, ts.url, DialOptions{Options: Options{PingInterval: -1}})
	ctx := context.Background()
	payload := struct{}{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Call(ctx, "Heartbeat", payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkRoundTripParallel spreads calls over many connections, as many
// chargers do against one central system, and reports the throughput.
func BenchmarkRoundTripParallel(b *testing.B) {
	ts := startServer(b, AcceptOptions{Options: Options{Handler: heartbeatMux(), PingInterval: -1, Logger: quietLogger()}})
	const conns = 64
	cs := make([]*Conn, conns)
	for i := range cs {
		cs[i] = dial(b, ts.url, DialOptions{Options: Options{PingInterval: -1}})
	}
	var next atomic.Int64
	b.SetParallelism(conns / 2) // GOMAXPROCS*32 goroutines, each with its own connection
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := cs[int(next.Add(1)-1)%conns]
		ctx := context.Background()
		for pb.Next() {
			if _, err := c.Call(ctx, "Heartbeat", struct{}{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}
