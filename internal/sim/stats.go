package sim

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats summarises calls made by chargers (to the central system).
type Stats struct {
	// Calls is the number of CALLs sent.
	Calls int64
	// Failures counts CALLs that got no valid CALLRESULT: a CALLERROR, an
	// invalid confirmation, a timeout or a lost connection.
	Failures int64
	// CallErrors counts the CALLERROR answers among the failures.
	CallErrors int64
	// Commands counts the central system's CALLs the chargers answered.
	Commands int64
	// Connects and ConnectFailures count websocket connection attempts.
	Connects, ConnectFailures int64
	// P50, P99 and Max are CALL round-trip latencies, accurate to ~6%.
	P50, P99, Max time.Duration
}

// recorder collects Stats lock-free: many chargers record into one.
type recorder struct {
	calls, failures, callErrors, commands, connects, connectFailures atomic.Int64
	latency                                                          histogram
}

func (r *recorder) call(d time.Duration, ok, callError bool) {
	r.calls.Add(1)
	if !ok {
		r.failures.Add(1)
	}
	if callError {
		r.callErrors.Add(1)
	}
	r.latency.record(d)
}

func (r *recorder) snapshot() Stats {
	return Stats{
		Calls: r.calls.Load(), Failures: r.failures.Load(), CallErrors: r.callErrors.Load(),
		Commands: r.commands.Load(), Connects: r.connects.Load(), ConnectFailures: r.connectFailures.Load(),
		P50: r.latency.quantile(0.50), P99: r.latency.quantile(0.99), Max: time.Duration(r.latency.max.Load()),
	}
}

// histogram counts durations in log-linear microsecond buckets: exact
// below 32µs, then 16 buckets per power of two. Recording is one atomic
// add, so thousands of chargers can share it.
type histogram struct {
	counts [600]atomic.Uint64
	max    atomic.Int64
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func bucketOf(us uint64) int {
	if us < 32 {
		return int(us)
	}
	e := bits.Len64(us) - 5
	i := 32 + (e-1)*16 + int(us>>e) - 16
	if i >= 600 {
		return 599
	}
	return i
}

// bucketValue is the middle of bucket i, in microseconds.
func bucketValue(i int) uint64 {
	if i < 32 {
		return uint64(i)
	}
	e := (i-32)/16 + 1
	m := uint64((i-32)%16 + 16)
	return m<<e + (1<<e)/2
}

func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0
	}
	target := uint64(q*float64(total) + 0.5)
	if target < 1 {
		target = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= target {
			return time.Duration(bucketValue(i)) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load())
}

// Mark is a point in a fleet's call statistics; StatsSince measures the
// calls made after it (a steady-state window that leaves out the connect
// storm at the start and the wind-down at the end).
type Mark struct {
	at                          time.Time
	calls, failures, callErrors int64
	counts                      [600]uint64
}

// WindowStats are the calls made between a Mark and a later point.
type WindowStats struct {
	Elapsed                     time.Duration
	Calls, Failures, CallErrors int64
	CallsPerSecond              float64
	// P50, P99 and Max are the window's CALL round-trip latencies,
	// accurate to ~6%.
	P50, P99, Max time.Duration
}

// Mark records the fleet's statistics now.
func (f *Fleet) Mark() Mark { return f.stats.mark() }

// StatsSince returns the statistics of the calls made since m.
func (f *Fleet) StatsSince(m Mark) WindowStats {
	now := f.stats.mark()
	w := WindowStats{Elapsed: now.at.Sub(m.at), Calls: now.calls - m.calls, Failures: now.failures - m.failures,
		CallErrors: now.callErrors - m.callErrors}
	if w.Elapsed > 0 {
		w.CallsPerSecond = float64(w.Calls) / w.Elapsed.Seconds()
	}
	var diff [600]uint64
	var total uint64
	for i := range diff {
		diff[i] = now.counts[i] - m.counts[i]
		total += diff[i]
	}
	w.P50, w.P99 = quantileOf(&diff, total, 0.50), quantileOf(&diff, total, 0.99)
	for i := len(diff) - 1; i >= 0; i-- {
		if diff[i] > 0 {
			w.Max = time.Duration(bucketValue(i)) * time.Microsecond
			break
		}
	}
	return w
}

func (r *recorder) mark() Mark {
	m := Mark{at: time.Now(), calls: r.calls.Load(), failures: r.failures.Load(), callErrors: r.callErrors.Load()}
	for i := range m.counts {
		m.counts[i] = r.latency.counts[i].Load()
	}
	return m
}

func quantileOf(counts *[600]uint64, total uint64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	target := max(uint64(q*float64(total)+0.5), 1)
	var seen uint64
	for i := range counts {
		seen += counts[i]
		if seen >= target {
			return time.Duration(bucketValue(i)) * time.Microsecond
		}
	}
	return 0
}
