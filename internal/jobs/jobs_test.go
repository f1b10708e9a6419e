package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

func enqueue(t *testing.T, db *store.DB, q *jobs.Queue, n jobs.New) {
	t.Helper()
	if err := db.InTx(context.Background(), func(tx *store.Tx) error { _, err := q.Enqueue(context.Background(), tx, n); return err }); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRetryThenSucceed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		q := jobs.NewQueue(db, jobs.Options{PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
		var calls atomic.Int32
		q.Handle("flaky", func(ctx context.Context, j *jobs.Job) error {
			var p struct{ N int }
			if err := j.Decode(&p); err != nil || p.N != 7 {
				return jobs.Permanent(fmt.Errorf("bad payload %v %v", p, err))
			}
			if calls.Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go q.Run(ctx)
		enqueue(t, db, q, jobs.New{Kind: "flaky", Payload: map[string]int{"N": 7}})
		waitFor(t, 5*time.Second, func() bool {
			s, _ := jobs.Stats(ctx, db.Q())
			return s[jobs.StateCompleted] == 1
		})
		if calls.Load() != 3 {
			t.Fatalf("calls = %d, want 3", calls.Load())
		}
	})
}

func TestPermanentAndMaxAttemptsDiscard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		q := jobs.NewQueue(db, jobs.Options{PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond }})
		var calls atomic.Int32
		q.Handle("perm", func(ctx context.Context, j *jobs.Job) error { calls.Add(1); return jobs.Permanent(errors.New("no")) })
		q.Handle("max", func(ctx context.Context, j *jobs.Job) error { calls.Add(1); return errors.New("again") })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go q.Run(ctx)
		enqueue(t, db, q, jobs.New{Kind: "perm"})
		enqueue(t, db, q, jobs.New{Kind: "max", MaxAttempts: 3})
		waitFor(t, 5*time.Second, func() bool {
			s, _ := jobs.Stats(ctx, db.Q())
			return s[jobs.StateDiscarded] == 2
		})
		if calls.Load() != 4 {
			t.Fatalf("calls = %d, want 1 + 3", calls.Load())
		}
	})
}

func TestTimerScheduleAndCancel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := jobs.NewQueue(db, jobs.Options{PollInterval: 20 * time.Millisecond})
		fired := make(chan string, 10)
		q.Handle("timer", func(ctx context.Context, j *jobs.Job) error {
			var p string
			_ = j.Decode(&p)
			fired <- p
			return nil
		})
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := q.Schedule(ctx, tx, jobs.New{Kind: "timer", Payload: "first", UniqueKey: "t1", RunAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			// Rescheduling moves the same timer instead of adding one.
			if err := q.Schedule(ctx, tx, jobs.New{Kind: "timer", Payload: "moved", UniqueKey: "t1", RunAt: time.Now().Add(100 * time.Millisecond)}); err != nil {
				return err
			}
			if err := q.Schedule(ctx, tx, jobs.New{Kind: "timer", Payload: "cancelled", UniqueKey: "t2", RunAt: time.Now().Add(100 * time.Millisecond)}); err != nil {
				return err
			}
			ok, err := q.Cancel(ctx, tx, "t2")
			if !ok {
				return errors.New("cancel found nothing")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		start := time.Now()
		go q.Run(rctx)
		select {
		case p := <-fired:
			if p != "moved" {
				t.Fatalf("fired %q", p)
			}
			if time.Since(start) < 50*time.Millisecond {
				t.Fatal("timer fired early")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timer did not fire")
		}
		select {
		case p := <-fired:
			t.Fatalf("unexpected second firing %q", p)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// Several queues (as several processes would) share one table: every job
// runs exactly once and never concurrently with itself.
func TestNoConcurrentDoubleRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const n = 200
		var (
			mu      sync.Mutex
			running = map[string]bool{}
			runs    = map[string]int{}
			overlap atomic.Int32
		)
		h := func(ctx context.Context, j *jobs.Job) error {
			mu.Lock()
			if running[j.ID] {
				overlap.Add(1)
			}
			running[j.ID] = true
			runs[j.ID]++
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			running[j.ID] = false
			mu.Unlock()
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var queues []*jobs.Queue
		for i := 0; i < 4; i++ {
			q := jobs.NewQueue(db, jobs.Options{Workers: 4, PollInterval: 5 * time.Millisecond})
			q.Handle("work", h)
			queues = append(queues, q)
			go q.Run(ctx)
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i := 0; i < n; i++ {
				if _, err := queues[0].Enqueue(ctx, tx, jobs.New{Kind: "work", Payload: i}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, func() bool {
			s, _ := jobs.Stats(ctx, db.Q())
			return s[jobs.StateCompleted] == n
		})
		mu.Lock()
		defer mu.Unlock()
		if len(runs) != n || overlap.Load() != 0 {
			t.Fatalf("runs=%d overlap=%d", len(runs), overlap.Load())
		}
		for id, c := range runs {
			if c != 1 {
				t.Fatalf("job %s ran %d times", id, c)
			}
		}
	})
}

// TestKilledWorkerJobRunsAgain starts a child process that claims a job and
// is killed with SIGKILL in the middle of running it; after "restart" (a new
// queue on the same database) the job runs again once its lease lapses.
func TestKilledWorkerJobRunsAgain(t *testing.T) {
	if os.Getenv("JOBS_CHILD_DSN") != "" {
		childWorker()
		return
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var dsn string
			if name == "sqlite" {
				dsn = t.TempDir() + "/jobs.db"
			} else {
				dsn = storetest.PostgresDSN(t)
			}
			ctx := context.Background()
			db, err := store.Open(ctx, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			q := jobs.NewQueue(db, jobs.Options{Lease: time.Second, PollInterval: 20 * time.Millisecond})
			enqueue(t, db, q, jobs.New{Kind: "crashy", Payload: "x"})

			started := t.TempDir() + "/started"
			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWorkerJobRunsAgain$")
			cmd.Env = append(os.Environ(), "JOBS_CHILD_DSN="+dsn, "JOBS_CHILD_MARK="+started)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, func() bool { _, err := os.Stat(started); return err == nil })
			_ = cmd.Process.Kill() // SIGKILL mid-run
			_ = cmd.Wait()

			var attempts int
			var state string
			_ = db.Q().QueryRowContext(ctx, `SELECT state, attempts FROM jobs`).Scan(&state, &attempts)
			if state != jobs.StateRunning || attempts != 1 {
				t.Fatalf("after kill: state=%s attempts=%d", state, attempts)
			}
			done := make(chan int, 1)
			q.Handle("crashy", func(ctx context.Context, j *jobs.Job) error { done <- j.Attempt; return nil })
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go q.Run(rctx)
			select {
			case a := <-done:
				if a != 2 {
					t.Fatalf("rerun attempt = %d", a)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("job not rerun after its worker was killed")
			}
		})
	}
}

func childWorker() {
	ctx := context.Background()
	db, err := store.Open(ctx, os.Getenv("JOBS_CHILD_DSN"), store.Options{})
	if err != nil {
		os.Exit(3)
	}
	q := jobs.NewQueue(db, jobs.Options{Lease: time.Second, PollInterval: 20 * time.Millisecond})
	q.Handle("crashy", func(ctx context.Context, j *jobs.Job) error {
		_ = os.WriteFile(os.Getenv("JOBS_CHILD_MARK"), nil, 0o600)
		select {} // hang until killed
	})
	_ = q.Run(ctx)
}
