package webhook

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/joule-ev/joule/internal/jobs"
)

// dispatcher is the in-process side of delivery: it bounds concurrent
// attempts per endpoint and in total, tracks the attempts in flight, and
// spaces out the retries of jobs that found their endpoint busy.
type dispatcher struct {
	perEndpoint, total int

	mu       sync.Mutex
	inFlight int
	flights  map[string]*flight // by delivery id
	eps      map[string]*epState
}

// epState is what the dispatcher knows of one endpoint. Idle entries are
// kept (for their latency) until there are maxIdleEndpoints of them.
type epState struct {
	inFlight int
	latency  time.Duration        // moving average of attempt durations
	waiting  map[string]time.Time // deliveries put back, and when they return
	blocked  int                  // workers waiting in acquire
	freed    chan struct{}        // closed when a slot is released
	started  map[string]time.Time // attempts in flight, by delivery
}

// latencyNow is the endpoint's expected attempt duration: its average, or
// longer when an attempt in flight has already taken longer (the endpoint
// just became slow, and the average learns it only when attempts end).
func (e *epState) latencyNow(now time.Time) time.Duration {
	l := e.latency
	for _, at := range e.started {
		l = max(l, now.Sub(at))
	}
	return l
}

func newDispatcher(perEndpoint, total int) *dispatcher {
	return &dispatcher{perEndpoint: perEndpoint, total: total, flights: map[string]*flight{}, eps: map[string]*epState{}}
}

// flight is an attempt in progress. The job worker that started it waits on
// done for a while; if it stops waiting (detaches) before the HTTP exchange
// ends, the attempt records its outcome and wakes the job itself.
type flight struct {
	delivery, endpoint string
	deadline           time.Time
	done               chan struct{} // closed once the outcome is recorded

	mu       sync.Mutex
	httpDone bool      // the exchange is over; only recording remains
	detached bool      // no worker waits: the attempt must wake the job
	job      *jobs.Job // the job of the worker waiting, if any

	// Set before done is closed.
	final bool      // the delivery is resolved (succeeded, failed or gone)
	next  time.Time // the next attempt, when not final
	err   error     // what failed (attempt or recording), for the job's log
}

// attach marks a worker as waiting for the outcome again (the job came
// back while the attempt was still running). Once the exchange is over the
// attempt has already decided whether to wake the job, and this changes
// nothing: the worker just waits for done.
func (f *flight) attach(j *jobs.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.httpDone {
		f.detached, f.job = false, j
	}
}

// detach marks that no worker waits any more. It reports false when the
// exchange is already over: the outcome is being recorded and is worth
// waiting for.
func (f *flight) detach() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.httpDone {
		return false
	}
	f.detached = true
	return true
}

// exchanged marks the HTTP exchange over and reports whether the attempt
// must wake the job (no worker waits for it), or else the waiting worker's
// job (whose completion the attempt may record with its outcome).
func (f *flight) exchanged() (wake bool, waiting *jobs.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.httpDone = true
	if f.detached {
		return true, nil
	}
	return false, f.job
}

// initialLatency is assumed of an endpoint until its first attempt ends.
const initialLatency = 50 * time.Millisecond

const maxIdleEndpoints = 10000

func (d *dispatcher) ep(endpoint string) *epState {
	e := d.eps[endpoint]
	if e == nil {
		e = &epState{latency: initialLatency, waiting: map[string]time.Time{}, started: map[string]time.Time{}}
		d.eps[endpoint] = e
	}
	return e
}

// hold is how long a job worker waits for an attempt to the endpoint before
// leaving it to run on its own: a few times the endpoint's usual latency,
// and not at all for an endpoint that is usually slower than holdWorker.
func (d *dispatcher) hold(endpoint string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := 3 * d.ep(endpoint).latencyNow(time.Now())
	if h > holdWorker {
		return 0
	}
	return max(h, 20*time.Millisecond)
}

// flight returns the attempt in progress for a delivery, if any.
func (d *dispatcher) flight(delivery string) *flight {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flights[delivery]
}

// maxSlotWait bounds how long a job worker may wait for a slot of a fast
// endpoint before the job is put back. Waiting a few milliseconds for a
// receiver that answers in a few milliseconds is far cheaper than a round
// trip through the job table; a slow endpoint's jobs are put back at once.
const maxSlotWait = 100 * time.Millisecond

// minSlotWait is the least a job waits for a slot of a fast endpoint.
const minSlotWait = 20 * time.Millisecond

// acquire takes a slot for an attempt to the endpoint, and removes the
// delivery from the endpoint's waiting list (its job is running now). When
// the endpoint is full it waits only if a slot is expected within
// maxSlotWait.
func (d *dispatcher) acquire(ctx context.Context, endpoint, delivery string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.ep(endpoint) // not dropped while this worker counts in e.blocked
	delete(e.waiting, delivery)
	var deadline time.Time
	for {
		if e.inFlight < d.perEndpoint && d.inFlight < d.total {
			e.inFlight++
			d.inFlight++
			return true
		}
		if deadline.IsZero() {
			expect := e.latencyNow(time.Now()) * time.Duration(1+e.blocked/d.perEndpoint)
			if expect > maxSlotWait {
				return false
			}
			// At least minSlotWait: a fast endpoint's slot turns over in
			// well under a millisecond but its waiters wake in turn, and a
			// job put back costs two more writes (its retry and its claim).
			deadline = time.Now().Add(min(max(2*expect, minSlotWait), maxSlotWait))
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return false
		}
		if e.freed == nil {
			e.freed = make(chan struct{})
		}
		freed := e.freed
		e.blocked++
		d.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		d.mu.Lock()
		e.blocked--
		if ctx.Err() != nil {
			return false
		}
	}
}

// release gives a slot back without an attempt.
func (d *dispatcher) release(endpoint string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releaseLocked(endpoint)
}

func (d *dispatcher) releaseLocked(endpoint string) {
	e := d.ep(endpoint)
	e.inFlight--
	d.inFlight--
	if e.freed != nil { // wake the workers waiting for a slot; they race for it
		close(e.freed)
		e.freed = nil
	}
	d.drop()
}

// drop forgets idle endpoints once there are too many (deleted endpoints
// would otherwise accumulate).
func (d *dispatcher) drop() {
	if len(d.eps) < maxIdleEndpoints {
		return
	}
	for k, e := range d.eps {
		if e.inFlight == 0 && e.blocked == 0 && len(e.waiting) == 0 {
			delete(d.eps, k)
		}
	}
}

// start registers an attempt holding a slot taken by acquire; j is the job
// of the worker that will wait for it.
func (d *dispatcher) start(delivery, endpoint string, timeout time.Duration, j *jobs.Job) *flight {
	now := time.Now()
	f := &flight{delivery: delivery, endpoint: endpoint, deadline: now.Add(timeout), done: make(chan struct{}), job: j}
	d.mu.Lock()
	d.flights[delivery] = f
	d.ep(endpoint).started[delivery] = now
	d.mu.Unlock()
	return f
}

// exchangeOver is called when an attempt's HTTP exchange has ended: it
// feeds the endpoint's latency average and frees the slot (the receiver is
// no longer busy with it) while the outcome is being recorded.
func (d *dispatcher) exchangeOver(f *flight, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.ep(f.endpoint)
	e.latency = (4*e.latency + took) / 5
	delete(e.started, f.delivery)
	d.releaseLocked(f.endpoint)
}

// finish ends an attempt whose outcome is recorded, and wakes its waiters.
func (d *dispatcher) finish(f *flight) {
	d.mu.Lock()
	delete(d.flights, f.delivery)
	d.mu.Unlock()
	close(f.done)
}

// busyDelay is when a job that found its endpoint busy should come back:
// about when a slot is expected to be free for it, given the deliveries
// already waiting and the endpoint's recent attempt durations. Spacing the
// waiters this way keeps a large backlog for a slow endpoint from cycling
// through the job table every second. With ±10 % jitter, at least 10 ms,
// at most 5 min.
func (d *dispatcher) busyDelay(endpoint, delivery string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	e := d.ep(endpoint)
	for k, at := range e.waiting {
		if now.Sub(at) > time.Minute { // its job ran elsewhere or is gone
			delete(e.waiting, k)
		}
	}
	ahead := len(e.waiting) / d.perEndpoint
	delay := e.latencyNow(now) * time.Duration(1+ahead)
	if d.inFlight >= d.total {
		delay = holdWorker
	}
	delay = time.Duration(float64(delay) * (0.9 + 0.2*rand.Float64()))
	delay = min(max(delay, 10*time.Millisecond), 5*time.Minute)
	e.waiting[delivery] = now.Add(delay)
	return delay
}
