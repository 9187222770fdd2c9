package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/prometheus/client_golang/prometheus"
)

// schedNow is where the injected clock of scheduler tests starts.
var schedNow = utc("2026-11-20T12:00:30Z")

// recorder is a test kind: it records every slot it is asked to run and does what run says.
type recorder struct {
	mu    sync.Mutex
	slots []jobs.Slot
	run   func(ctx context.Context, s jobs.Slot) (jobs.Result, error)
}

func (r *recorder) kind(name string, coalesce bool) jobs.Kind {
	return jobs.Kind{Name: name, Coalesce: coalesce, New: func(config.Job) (jobs.Runner, error) {
		return jobs.RunnerFunc(func(ctx context.Context, s jobs.Slot) (jobs.Result, error) {
			r.mu.Lock()
			r.slots = append(r.slots, s)
			f := r.run
			r.mu.Unlock()
			if f != nil {
				return f(ctx, s)
			}
			return jobs.Result{Summary: map[string]string{"slot": s.Time.Format(time.RFC3339)}}, nil
		}), nil
	}}
}

// times lists the slots run, as RFC 3339 UTC.
func (r *recorder) times() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.slots))
	for _, s := range r.slots {
		out = append(out, s.Time.UTC().Format(time.RFC3339))
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.slots)
}

// testJob is a job over DefaultJob.
func testJob(name, kind, spec string, mods ...func(*config.Job)) config.Job {
	j := config.DefaultJob()
	j.Name, j.Kind, j.Schedule = name, kind, spec
	for _, f := range mods {
		f(&j)
	}
	return j
}

// newTestScheduler builds a scheduler whose attempts never really sleep, over the given kinds.
func newTestScheduler(t *testing.T, o jobs.SchedulerOptions, kinds ...jobs.Kind) *jobs.Scheduler {
	t.Helper()
	reg := jobs.NewRegistry()
	for _, k := range kinds {
		if err := reg.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	o.Kinds = reg
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	}
	s, err := jobs.NewScheduler(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openPool opens a connection pool of its own to url, closed before the database is dropped.
func openPool(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	conn, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
	})
	return conn
}

func runsOf(t *testing.T, conn *sqlx.DB, job string) []jobs.Run {
	t.Helper()
	runs, err := jobs.NewRunStore(conn).History(context.Background(), job, 10000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(runs)
	return runs
}

func mustGet(t *testing.T, conn *sqlx.DB, job string, slot time.Time) jobs.Run {
	t.Helper()
	r, ok, err := jobs.NewRunStore(conn).Get(context.Background(), job, slot)
	if err != nil || !ok {
		t.Fatalf("run %s %s: %v %v", job, slot, ok, err)
	}
	return r
}

// abandon writes the record of a run whose process died while it held the slot.
func abandon(t *testing.T, conn *sqlx.DB, job, kind string, slot, leaseUntil time.Time, attempts int) {
	t.Helper()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO scheduled_jobs (job, created_at) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING`, []any{job, slot}},
		{`INSERT INTO job_runs (job, slot, kind, triggered_by, state, owner, lease_until, heartbeat_at, attempts, created_at, started_at)
		  VALUES ($1, $2, $3, 'schedule', 'running', 'dead-host/4242/dead', $4, $2, $5, $2, $2)`, []any{job, slot, kind, leaseUntil, attempts}},
	} {
		if _, err := conn.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSchedCatchUp(t *testing.T) {
	t.Parallel()
	hourly := "0 * * * *"
	window := func(d time.Duration) func(*config.Job) { return func(j *config.Job) { j.CatchUp = config.Duration(d) } }
	setup := func(t *testing.T, coalesce bool, mods ...func(*config.Job)) (*jobs.Scheduler, *recorder, *sandbox.Clock, *sqlx.DB) {
		clock := sandbox.NewClock(utc("2026-11-20T10:00:10Z"))
		rec := &recorder{}
		conn := dbtest.New(t)
		s := newTestScheduler(t, jobs.SchedulerOptions{DB: conn, Now: clock.Now,
			Jobs: []config.Job{testJob("job", "test", hourly, mods...)}}, rec.kind("test", coalesce))
		return s, rec, clock, conn
	}
	t.Run("RunsMissedSlotsWithinTheWindow", func(t *testing.T) {
		t.Parallel()
		s, rec, clock, conn := setup(t, false, window(5*time.Hour))
		if _, err := s.Trigger(context.Background(), "job"); err != nil { // 10:00 ran, then the process stopped
			t.Fatal(err)
		}
		clock.Set(utc("2026-11-20T20:30:00Z")) // down for ten hours; the window is five
		if err := s.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		equalStrings(t, "slots run", rec.times(), []string{"2026-11-20T10:00:00Z",
			"2026-11-20T16:00:00Z", "2026-11-20T17:00:00Z", "2026-11-20T18:00:00Z", "2026-11-20T19:00:00Z", "2026-11-20T20:00:00Z"})
		for _, r := range runsOf(t, conn, "job")[1:] {
			if r.Trigger != jobs.TriggerCatchUp || r.State != jobs.StateSucceeded {
				t.Errorf("%s: %s %s", r.Slot, r.Trigger, r.State)
			}
		}
		if err := s.CatchUp(context.Background()); err != nil || rec.count() != 6 {
			t.Fatalf("a second catch-up ran %d slots more: %v", rec.count()-6, err)
		}
	})
	t.Run("CoalescingKindRunsOnlyTheLatest", func(t *testing.T) {
		t.Parallel()
		s, rec, clock, _ := setup(t, true, window(24*time.Hour))
		if _, err := s.Trigger(context.Background(), "job"); err != nil {
			t.Fatal(err)
		}
		clock.Set(utc("2026-11-20T20:30:00Z"))
		if err := s.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		equalStrings(t, "slots run", rec.times(), []string{"2026-11-20T10:00:00Z", "2026-11-20T20:00:00Z"})
	})
	t.Run("NothingRecordedYetLooksBackTheWindow", func(t *testing.T) {
		t.Parallel()
		s, rec, _, _ := setup(t, false, window(150*time.Minute))
		if err := s.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		equalStrings(t, "slots run", rec.times(), []string{"2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z"})
	})
	t.Run("ZeroWindowIsOff", func(t *testing.T) {
		t.Parallel()
		s, rec, _, _ := setup(t, false, window(0))
		if err := s.CatchUp(context.Background()); err != nil || rec.count() != 0 {
			t.Fatalf("ran %v: %v", rec.times(), err)
		}
	})
	t.Run("SpringForwardSlotIsNotLost", func(t *testing.T) {
		t.Parallel()
		// A nightly job at 02:30 Berlin time, down over the night clocks sprang forward: the
		// 29th's slot, whose 02:30 did not exist, runs as 03:00 CEST.
		clock := sandbox.NewClock(utc("2026-03-28T02:00:00Z"))
		rec := &recorder{}
		s := newTestScheduler(t, jobs.SchedulerOptions{DB: dbtest.New(t), Now: clock.Now, Jobs: []config.Job{
			testJob("nightly", "test", "30 2 * * *", window(72*time.Hour), func(j *config.Job) { j.TimeZone = "Europe/Berlin" })}},
			rec.kind("test", false))
		if _, err := s.Trigger(context.Background(), "nightly"); err != nil {
			t.Fatal(err)
		}
		clock.Set(utc("2026-03-30T12:00:00Z"))
		if err := s.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		equalStrings(t, "slots run", rec.times(), []string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"})
		rec.mu.Lock()
		local := rec.slots[1].Time.Format("2006-01-02 15:04 MST")
		rec.mu.Unlock()
		if local != "2026-03-29 03:00 CEST" {
			t.Fatalf("the runner saw the slot as %s", local)
		}
	})
}

func TestSchedThreeReplicasRunEachSlotOnce(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	clock := sandbox.NewClock(utc("2026-11-20T12:00:00Z"))
	const replicas = 3
	var (
		recs   [replicas]*recorder
		scheds [replicas]*jobs.Scheduler
	)
	for i := range replicas {
		recs[i] = &recorder{run: func(ctx context.Context, s jobs.Slot) (jobs.Result, error) {
			time.Sleep(5 * time.Millisecond) // long enough for the others to arrive meanwhile
			return jobs.Result{}, nil
		}}
		scheds[i] = newTestScheduler(t, jobs.SchedulerOptions{DB: openPool(t, url), Now: clock.Now,
			Owner: fmt.Sprintf("replica-%d", i), Jobs: []config.Job{
				testJob("minutely", "test", "* * * * *", func(j *config.Job) { j.CatchUp = config.Duration(time.Hour) }),
			}}, recs[i].kind("test", false))
	}
	// 12:00 ran; from then on, each minute every replica's cron fires and its poll catches up,
	// all at once.
	clock.Set(utc("2026-11-20T12:00:00.2Z"))
	if _, err := scheds[0].Trigger(context.Background(), "minutely"); err != nil {
		t.Fatal(err)
	}
	const minutes = 30
	for m := 1; m < minutes; m++ {
		clock.Set(utc("2026-11-20T12:00:00Z").Add(time.Duration(m)*time.Minute + 200*time.Millisecond))
		var wg sync.WaitGroup
		for _, s := range scheds {
			wg.Go(func() {
				if _, err := s.Trigger(context.Background(), "minutely"); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				if err := s.CatchUp(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// Then all three were down for 20 minutes, and start together.
	clock.Advance(20 * time.Minute)
	var wg sync.WaitGroup
	for _, s := range scheds {
		wg.Go(func() {
			if err := s.CatchUp(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	ran := map[string]int{}
	perReplica := make([]int, replicas)
	for i, r := range recs {
		for _, slot := range r.times() {
			ran[slot]++
		}
		perReplica[i] = r.count()
	}
	if len(ran) != minutes+20 {
		t.Fatalf("%d distinct slots ran, want %d", len(ran), minutes+20)
	}
	for slot, n := range ran {
		if n != 1 {
			t.Errorf("slot %s ran %d times", slot, n)
		}
	}
	runs := runsOf(t, openPool(t, url), "minutely")
	if len(runs) != minutes+20 {
		t.Fatalf("%d run records, want %d", len(runs), minutes+20)
	}
	for _, r := range runs {
		if r.State != jobs.StateSucceeded || r.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts (%s)", r.Slot, r.State, r.Attempts, r.Error)
		}
	}
	t.Logf("slots run per replica: %v", perReplica)
}

func TestSchedAbandonedRunIsTakenOverAfterItsLeaseExpires(t *testing.T) {
	t.Parallel()
	slot := utc("2026-11-20T12:00:00Z")
	setup := func(t *testing.T, coalesce bool) (*jobs.Scheduler, *recorder, *sandbox.Clock, *sqlx.DB) {
		clock := sandbox.NewClock(schedNow)
		rec := &recorder{}
		conn := dbtest.New(t)
		s := newTestScheduler(t, jobs.SchedulerOptions{DB: conn, Now: clock.Now, Lease: time.Minute,
			Jobs: []config.Job{testJob("job", "test", "0 12 * * *")}}, rec.kind("test", coalesce))
		return s, rec, clock, conn
	}
	t.Run("TakenOverOnceTheLeaseExpires", func(t *testing.T) {
		t.Parallel()
		s, rec, clock, conn := setup(t, false)
		abandon(t, conn, "job", "test", slot, schedNow.Add(30*time.Second), 1)

		if err := s.TakeOver(context.Background()); err != nil || rec.count() != 0 {
			t.Fatalf("taken over while the lease lives: %v %v", rec.times(), err)
		}
		if o, err := s.Trigger(context.Background(), "job"); err != nil || o.Ran || !strings.Contains(o.Note, "running on owner dead-host") {
			t.Fatalf("the schedule ran a slot held by another owner: %+v %v", o, err)
		}
		clock.Advance(31 * time.Second)
		if err := s.TakeOver(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := mustGet(t, conn, "job", slot)
		if rec.count() != 1 || r.State != jobs.StateSucceeded || r.Attempts != 2 || r.Owner != s.Owner() {
			t.Fatalf("after the lease expired: ran %v, record %+v", rec.times(), r)
		}
		rec.mu.Lock()
		attempt := rec.slots[0].Attempt
		rec.mu.Unlock()
		if attempt != 2 {
			t.Fatalf("the runner was told attempt %d", attempt)
		}
	})
	t.Run("GivesUpWhenTheAttemptsAreUsedUp", func(t *testing.T) {
		t.Parallel()
		s, rec, _, conn := setup(t, false)
		abandon(t, conn, "job", "test", slot, schedNow.Add(-time.Second), 3)
		if err := s.TakeOver(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := mustGet(t, conn, "job", slot)
		if rec.count() != 0 || r.State != jobs.StateFailed || !strings.Contains(r.Error, "gave up after 3 attempts") {
			t.Fatalf("ran %v, record %+v", rec.times(), r)
		}
	})
	t.Run("CoalescingKindClosesItWhenALaterSlotSucceeded", func(t *testing.T) {
		t.Parallel()
		s, rec, clock, conn := setup(t, true)
		abandon(t, conn, "job", "test", slot.Add(-24*time.Hour), slot.Add(-time.Hour), 1)
		clock.Set(slot.Add(time.Second))
		if _, err := s.Trigger(context.Background(), "job"); err != nil { // today's slot: succeeds
			t.Fatal(err)
		}
		if err := s.TakeOver(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := mustGet(t, conn, "job", slot.Add(-24*time.Hour))
		if rec.count() != 1 || r.State != jobs.StateSkipped || !strings.Contains(r.Error, "later slot has succeeded") {
			t.Fatalf("ran %v, record %+v", rec.times(), r)
		}
	})
}

func TestSchedSkipsASlotWhileThePreviousRunIsGoing(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	clock := sandbox.NewClock(utc("2026-11-20T12:00:10Z"))
	started, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{run: func(ctx context.Context, s jobs.Slot) (jobs.Result, error) {
		if s.Time.Minute() == 0 {
			close(started)
			<-release
		}
		return jobs.Result{}, nil
	}}
	job := []config.Job{testJob("sync", "test", "*/15 * * * *")}
	// The injected clock jumps 15 minutes while the heartbeat (real time) sleeps: a lease of an
	// hour keeps the long run alive, as its heartbeats would.
	a := newTestScheduler(t, jobs.SchedulerOptions{DB: openPool(t, url), Now: clock.Now, Owner: "a", Lease: time.Hour, Jobs: job}, rec.kind("test", true))
	b := newTestScheduler(t, jobs.SchedulerOptions{DB: openPool(t, url), Now: clock.Now, Owner: "b", Lease: time.Hour, Jobs: job}, rec.kind("test", true))

	first := make(chan jobs.Outcome, 1)
	go func() {
		o, err := a.Trigger(context.Background(), "sync")
		if err != nil {
			t.Error(err)
		}
		first <- o
	}()
	<-started
	clock.Set(utc("2026-11-20T12:15:05Z"))
	for _, s := range []*jobs.Scheduler{a, b} {
		o, err := s.Trigger(context.Background(), "sync")
		if err != nil {
			t.Fatal(err)
		}
		if o.Ran || o.Run.State != jobs.StateSkipped || !strings.Contains(o.Run.Error, "slot 2026-11-20T12:00:00Z is still going (owner a)") {
			t.Fatalf("%s: %+v", s.Owner(), o)
		}
	}
	close(release)
	if o := <-first; o.Run.State != jobs.StateSucceeded {
		t.Fatalf("the long run: %+v", o)
	}
	runs := runsOf(t, openPool(t, url), "sync")
	if len(runs) != 2 || runs[1].State != jobs.StateSkipped || rec.count() != 1 {
		t.Fatalf("records %+v; ran %v", runs, rec.times())
	}
}

func TestSchedRetries(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, run func(ctx context.Context, s jobs.Slot) (jobs.Result, error), mods ...func(*config.Job)) (*jobs.Scheduler, *recorder, *[]time.Duration) {
		rec := &recorder{run: run}
		var sleeps []time.Duration
		var mu sync.Mutex
		s := newTestScheduler(t, jobs.SchedulerOptions{DB: dbtest.New(t), Now: sandbox.NewClock(schedNow).Now,
			Sleep: func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				sleeps = append(sleeps, d)
				return ctx.Err()
			},
			Jobs: []config.Job{testJob("job", "test", "0 * * * *", mods...)}}, rec.kind("test", false))
		return s, rec, &sleeps
	}
	boom := errors.New("the API said 502")
	t.Run("SucceedsOnTheThirdAttemptWithDoublingBackoff", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		s, _, sleeps := setup(t, func(context.Context, jobs.Slot) (jobs.Result, error) {
			if n.Add(1) < 3 {
				return jobs.Result{}, boom
			}
			return jobs.Result{Summary: "ok"}, nil
		}, func(j *config.Job) { j.Retries.Backoff = config.Duration(30 * time.Second) })
		o, err := s.Trigger(context.Background(), "job")
		if err != nil || o.Run.State != jobs.StateSucceeded || o.Run.Attempts != 3 || string(o.Run.Result) != `"ok"` {
			t.Fatalf("%+v %v", o.Run, err)
		}
		if fmt.Sprint(*sleeps) != "[30s 1m0s]" {
			t.Fatalf("backoff %v", *sleeps)
		}
	})
	t.Run("FailsWhenTheAttemptsAreUsedUp", func(t *testing.T) {
		t.Parallel()
		s, rec, _ := setup(t, func(context.Context, jobs.Slot) (jobs.Result, error) { return jobs.Result{}, boom })
		o, err := s.Trigger(context.Background(), "job")
		if err == nil || !strings.Contains(err.Error(), "jobs: job job slot 2026-11-20T12:00:00Z: attempt 3 of 3: the API said 502") {
			t.Fatalf("err = %v", err)
		}
		if o.Run.State != jobs.StateFailed || o.Run.Attempts != 3 || rec.count() != 3 {
			t.Fatalf("%+v", o.Run)
		}
	})
	t.Run("PermanentErrorsAreNotRetried", func(t *testing.T) {
		t.Parallel()
		s, rec, _ := setup(t, func(context.Context, jobs.Slot) (jobs.Result, error) {
			return jobs.Result{}, jobs.Permanent(jobs.ErrNoStart)
		})
		o, err := s.Trigger(context.Background(), "job")
		if err == nil || !strings.Contains(err.Error(), "pass --from") || o.Run.Attempts != 1 || rec.count() != 1 {
			t.Fatalf("%+v %v", o.Run, err)
		}
	})
	t.Run("TimeoutIsTimedOut", func(t *testing.T) {
		t.Parallel()
		s, _, _ := setup(t, func(ctx context.Context, _ jobs.Slot) (jobs.Result, error) {
			<-ctx.Done()
			return jobs.Result{}, ctx.Err()
		}, func(j *config.Job) { j.Timeout = config.Duration(30 * time.Millisecond); j.Retries.MaxAttempts = 2 })
		o, err := s.Trigger(context.Background(), "job")
		if err == nil || o.Run.State != jobs.StateTimedOut || o.Run.Attempts != 2 || !strings.Contains(o.Run.Error, "timeout expired after 30ms") {
			t.Fatalf("%+v %v", o.Run, err)
		}
	})
	t.Run("PanicIsAFailedAttempt", func(t *testing.T) {
		t.Parallel()
		s, _, _ := setup(t, func(context.Context, jobs.Slot) (jobs.Result, error) { panic("nil map") },
			func(j *config.Job) { j.Retries.MaxAttempts = 1 })
		o, err := s.Trigger(context.Background(), "job")
		if err == nil || o.Run.State != jobs.StateFailed || !strings.Contains(o.Run.Error, "panic: nil map") {
			t.Fatalf("%+v %v", o.Run, err)
		}
	})
}

func TestSchedLeaseIsRenewedWhileRunning(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	rec := &recorder{run: func(context.Context, jobs.Slot) (jobs.Result, error) {
		time.Sleep(1200 * time.Millisecond) // four leases long
		return jobs.Result{}, nil
	}}
	job := []config.Job{testJob("job", "test", "* * * * * *")}
	// Real time: the heartbeat runs on a real ticker, every third of the lease.
	a := newTestScheduler(t, jobs.SchedulerOptions{DB: openPool(t, url), Owner: "a", Lease: 300 * time.Millisecond, Jobs: job}, rec.kind("test", false))
	b := newTestScheduler(t, jobs.SchedulerOptions{DB: openPool(t, url), Owner: "b", Lease: 300 * time.Millisecond, Jobs: job}, rec.kind("test", false))
	done := make(chan jobs.Outcome, 1)
	go func() {
		o, err := a.Trigger(context.Background(), "job")
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	for {
		select {
		case o := <-done:
			if o.Run.State != jobs.StateSucceeded || o.Run.Owner != "a" || o.Run.Attempts != 1 || rec.count() != 1 {
				t.Fatalf("%+v; ran %d times", o.Run, rec.count())
			}
			return
		case <-time.After(50 * time.Millisecond):
			if err := b.TakeOver(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSchedShutdown(t *testing.T) {
	t.Parallel()
	// A yearly job with a year of catch-up: serve runs its slot at once, and nothing else.
	yearly := []config.Job{testJob("yearly", "test", "0 0 1 1 *", func(j *config.Job) { j.CatchUp = config.Duration(366 * 24 * time.Hour) })}
	slot := utc("2026-01-01T00:00:00Z")
	t.Run("WaitsForTheRunningJob", func(t *testing.T) {
		t.Parallel()
		started, release := make(chan struct{}), make(chan struct{})
		var cancelled atomic.Bool
		rec := &recorder{run: func(ctx context.Context, _ jobs.Slot) (jobs.Result, error) {
			close(started)
			<-release
			cancelled.Store(ctx.Err() != nil)
			return jobs.Result{}, nil
		}}
		conn := dbtest.New(t)
		s := newTestScheduler(t, jobs.SchedulerOptions{DB: conn, Now: sandbox.NewClock(schedNow).Now, Jobs: yearly,
			PollInterval: 20 * time.Millisecond, ShutdownTimeout: time.Minute}, rec.kind("test", false))
		ctx, stop := context.WithCancel(context.Background())
		returned := make(chan error, 1)
		go func() { returned <- s.Run(ctx) }()
		<-started
		if h := s.Health(context.Background()); !h.OK {
			t.Errorf("health while running: %+v", h)
		}
		stop() // SIGTERM
		select {
		case err := <-returned:
			t.Fatalf("Run returned while its job was running: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		if err := <-returned; err != nil {
			t.Fatal(err)
		}
		if r := mustGet(t, conn, "yearly", slot); r.State != jobs.StateSucceeded || cancelled.Load() {
			t.Fatalf("record %+v; the job's context was cancelled: %v", r, cancelled.Load())
		}
		if h := s.Health(context.Background()); h.OK || h.Scheduler != "not running" {
			t.Fatalf("health after stop: %+v", h)
		}
	})
	t.Run("CancelsAfterTheDeadlineAndReleasesTheRun", func(t *testing.T) {
		t.Parallel()
		url := dbtest.URL(t)
		started := make(chan struct{})
		var first atomic.Bool
		first.Store(true)
		rec := &recorder{run: func(ctx context.Context, s jobs.Slot) (jobs.Result, error) {
			if first.CompareAndSwap(true, false) {
				close(started)
				<-ctx.Done()
				return jobs.Result{}, ctx.Err()
			}
			return jobs.Result{}, nil
		}}
		clock := sandbox.NewClock(schedNow)
		s := newTestScheduler(t, jobs.SchedulerOptions{DB: openPool(t, url), Now: clock.Now, Jobs: yearly, Owner: "first",
			PollInterval: 20 * time.Millisecond, ShutdownTimeout: 100 * time.Millisecond}, rec.kind("test", false))
		ctx, stop := context.WithCancel(context.Background())
		returned := make(chan error, 1)
		go func() { returned <- s.Run(ctx) }()
		<-started
		t0 := time.Now()
		stop()
		if err := <-returned; err != nil {
			t.Fatal(err)
		}
		if took := time.Since(t0); took < 100*time.Millisecond || took > 5*time.Second {
			t.Fatalf("shutdown took %s with a 100ms deadline", took)
		}
		conn := openPool(t, url)
		r := mustGet(t, conn, "yearly", slot)
		if r.State != jobs.StateRunning || r.Attempts != 0 || r.LeaseUntil.After(clock.Now()) || !strings.Contains(r.Error, "interrupted") {
			t.Fatalf("the cut-short run was not released: %+v", r)
		}
		// The next replica takes it over at once, as its first attempt.
		next := newTestScheduler(t, jobs.SchedulerOptions{DB: conn, Now: clock.Now, Jobs: yearly, Owner: "next"}, rec.kind("test", false))
		if err := next.TakeOver(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := mustGet(t, conn, "yearly", slot); r.State != jobs.StateSucceeded || r.Attempts != 1 || r.Owner != "next" {
			t.Fatalf("after the takeover: %+v", r)
		}
	})
}

func TestSchedManualRunsAndBackfill(t *testing.T) {
	t.Parallel()
	clock := sandbox.NewClock(utc("2026-11-20T12:34:00Z"))
	var fail atomic.Bool
	rec := &recorder{run: func(_ context.Context, s jobs.Slot) (jobs.Result, error) {
		if fail.Load() {
			return jobs.Result{}, jobs.Permanent(errors.New("disk full"))
		}
		return jobs.Result{Summary: map[string]string{"prev": s.Prev.UTC().Format(time.RFC3339)}}, nil
	}}
	conn := dbtest.New(t)
	s := newTestScheduler(t, jobs.SchedulerOptions{DB: conn, Now: clock.Now, Jobs: []config.Job{testJob("hourly", "test", "0 * * * *")}},
		rec.kind("test", false))
	ctx := context.Background()

	t.Run("RunNowRunsTheLatestDueSlotOnce", func(t *testing.T) {
		o, err := s.RunNow(ctx, "hourly", time.Time{}, false)
		if err != nil || !o.Ran || !o.Run.Slot.Equal(utc("2026-11-20T12:00:00Z")) || o.Run.Trigger != jobs.TriggerManual {
			t.Fatalf("%+v %v", o, err)
		}
		o, err = s.RunNow(ctx, "hourly", time.Time{}, false)
		if err != nil || o.Ran || !strings.Contains(o.Note, "already succeeded") {
			t.Fatalf("again: %+v %v", o, err)
		}
		o, err = s.RunNow(ctx, "hourly", time.Time{}, true)
		if err != nil || !o.Ran || o.Run.State != jobs.StateSucceeded {
			t.Fatalf("--force: %+v %v", o, err)
		}
	})
	t.Run("UnknownJobAndFutureSlot", func(t *testing.T) {
		if _, err := s.RunNow(ctx, "nope", time.Time{}, false); !errors.Is(err, jobs.ErrUnknownJob) {
			t.Fatalf("err = %v", err)
		}
		if _, err := s.RunNow(ctx, "hourly", clock.Now().Add(time.Hour), false); !errors.Is(err, jobs.ErrFutureSlot) {
			t.Fatalf("a future slot: err = %v, want ErrFutureSlot", err)
		}
	})
	t.Run("BackfillRunsEverySlotOfTheRangeWithItsPeriod", func(t *testing.T) {
		slots, err := s.BackfillSlots("hourly", utc("2026-11-19T09:00:00Z"), utc("2026-11-19T12:00:00Z"))
		if err != nil || len(slots) != 3 || !slots[0].Equal(utc("2026-11-19T09:00:00Z")) {
			t.Fatalf("slots %v %v", slots, err)
		}
		fail.Store(true)
		for i, slot := range slots {
			if i == 1 {
				fail.Store(false)
			}
			o, err := s.Backfill(ctx, "hourly", slot, false)
			if (i == 0) != (err != nil) {
				t.Fatalf("slot %s: %+v %v", slot, o.Run, err)
			}
		}
		r := mustGet(t, conn, "hourly", slots[1])
		var res map[string]string
		if err := json.Unmarshal(r.Result, &res); err != nil || r.Trigger != jobs.TriggerBackfill || res["prev"] != "2026-11-19T09:00:00Z" {
			t.Fatalf("%+v %s", r, r.Result)
		}
		// Again: the failed slot runs, the succeeded ones do not.
		before := rec.count()
		for _, slot := range slots {
			if _, err := s.Backfill(ctx, "hourly", slot, false); err != nil {
				t.Fatal(err)
			}
		}
		if rec.count() != before+1 || mustGet(t, conn, "hourly", slots[0]).State != jobs.StateSucceeded {
			t.Fatalf("the second backfill ran %d slots", rec.count()-before)
		}
	})
	t.Run("BackfillRefusesTheFutureAndHugeRanges", func(t *testing.T) {
		if _, err := s.BackfillSlots("hourly", utc("2026-11-20T00:00:00Z"), utc("2026-11-21T00:00:00Z")); !errors.Is(err, jobs.ErrFutureSlot) {
			t.Fatalf("a range into the future: err = %v, want ErrFutureSlot", err)
		}
		if _, err := s.BackfillSlots("hourly", utc("2020-01-01T00:00:00Z"), utc("2026-01-01T00:00:00Z")); err == nil ||
			!strings.Contains(err.Error(), "at most 10000") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSchedStartupErrorsNameTheJob(t *testing.T) {
	t.Parallel()
	conn := dbtest.New(t)
	rec := &recorder{}
	build := func(jobsCfg ...config.Job) (*jobs.Scheduler, error) {
		reg := jobs.NewRegistry()
		if err := reg.Register(rec.kind(jobs.KindSync, true)); err != nil {
			t.Fatal(err)
		}
		return jobs.NewScheduler(jobs.SchedulerOptions{DB: conn, Kinds: reg, Jobs: jobsCfg})
	}
	for _, tc := range []struct {
		name string
		job  config.Job
		says string
	}{
		{"BadSpec", testJob("pull", "sync", "61 * * * *"), `jobs: job pull: schedule "61 * * * *"`},
		{"UnknownZone", testJob("pull", "sync", "0 * * * *", func(j *config.Job) { j.TimeZone = "Mars/Olympus" }), `jobs: job pull: time zone "Mars/Olympus"`},
		{"SpecWithoutFields", testJob("pull", "sync", "CRON_TZ=UTC"), "jobs: job pull: schedule"},
		{"KindNotInThisBuild", testJob("nightly", jobs.KindStatements, "30 0 * * *"), "jobs: job nightly: job kind statements is not available in this build"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := build(tc.job)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want %q", err, tc.says)
			}
		})
	}
	t.Run("DisabledJobOfAMissingKindIsListedNotRun", func(t *testing.T) {
		t.Parallel()
		s, err := build(testJob("nightly", jobs.KindStatements, "30 0 * * *", func(j *config.Job) { j.Enabled = false }))
		if err != nil {
			t.Fatal(err)
		}
		if info := s.Jobs(); len(info) != 1 || info[0].Available || info[0].Enabled {
			t.Fatalf("%+v", info)
		}
		if _, err := s.RunNow(context.Background(), "nightly", time.Time{}, false); !errors.Is(err, jobs.ErrKindNotAvailable) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSchedMetricsCountRuns(t *testing.T) {
	t.Parallel()
	conn := dbtest.New(t)
	clock := sandbox.NewClock(schedNow)
	rec := &recorder{run: func(context.Context, jobs.Slot) (jobs.Result, error) { return jobs.Result{Booked: 7}, nil }}
	reg := prometheus.NewRegistry()
	metrics, err := jobs.NewMetrics(reg, jobs.NewRunStore(conn))
	if err != nil {
		t.Fatal(err)
	}
	metrics.RegisterPayoutChunks(func(context.Context) (map[string]int64, error) {
		return map[string]int64{"confirmed": 4, "unknown": 1}, nil
	})
	s := newTestScheduler(t, jobs.SchedulerOptions{DB: conn, Now: clock.Now, Metrics: metrics,
		Jobs: []config.Job{testJob("sync", jobs.KindSync, "*/15 * * * *")}}, rec.kind(jobs.KindSync, true))
	for range 2 {
		if _, err := s.Trigger(context.Background(), "sync"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(15 * time.Minute)
	}
	got := gather(t, reg)
	for name, want := range map[string]float64{
		`nordpay_jobs_runs_total{job="sync",outcome="succeeded"}`:                 2,
		`nordpay_jobs_runs_total{job="sync",outcome="failed"}`:                    0,
		`nordpay_jobs_transactions_booked_total{job="sync"}`:                      14,
		`nordpay_jobs_run_duration_seconds_count{job="sync",outcome="succeeded"}`: 2,
		`nordpay_jobs_last_success_timestamp_seconds{job="sync"}`:                 float64(schedNow.Add(15 * time.Minute).Unix()),
		`nordpay_jobs_payout_chunks{state="unknown"}`:                             1,
		`nordpay_jobs_runs_in_progress{job="sync"}`:                               0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}

// gather flattens a registry into "name{labels}" -> value (histograms give _count).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[mf.GetName()+key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[mf.GetName()+key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}
