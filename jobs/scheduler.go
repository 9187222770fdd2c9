package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/config"
	"github.com/robfig/cron/v3"
)

// Defaults of SchedulerOptions.
const (
	DefaultLease           = time.Minute
	DefaultPollInterval    = 10 * time.Second
	DefaultShutdownTimeout = time.Minute
)

// maxCatchUpSlots bounds the slots one catch-up runs for a job whose slots each own a period
// (the latest are kept): a one-second schedule with a day's window is not 86,400 runs.
const maxCatchUpSlots = 1000

// catchUpGrace keeps the periodic catch-up away from the slot that robfig/cron is firing.
const catchUpGrace = 5 * time.Second

// releaseTimeout bounds the writes that record a run's end after its context is gone.
const releaseTimeout = 10 * time.Second

// ErrTimedOut is the cause of a run's context when the job's timeout expires.
var ErrTimedOut = errors.New("the job's timeout expired")

// ErrLeaseLost is the cause of a run's context when another replica took the run over
// (this owner's heartbeats stopped reaching the database for longer than the lease).
var ErrLeaseLost = errors.New("the run's lease was lost to another replica")

// errShutdown is the cause of the runs' context when the shutdown deadline passes.
var errShutdown = errors.New("shutdown: the grace period is over")

// ErrUnknownJob is returned for a job name that is not configured.
var ErrUnknownJob = errors.New("jobs: no such job")

// ErrFutureSlot is returned when asked to run a slot (or backfill up to a time) that has not
// come yet: a wrong request, not a failed run.
var ErrFutureSlot = errors.New("is in the future")

// SchedulerOptions configure a Scheduler. Zero values take the defaults they name.
type SchedulerOptions struct {
	// DB holds the run records (migration 005).
	DB *sqlx.DB
	// Jobs are the configured jobs.
	Jobs []config.Job
	// Kinds are the job kinds this build can run.
	Kinds *Registry
	// Owner names this process in run records. Defaults to DefaultOwner().
	Owner string
	// Lease is how long a run stays ours without a heartbeat; heartbeats come every third of
	// it, and a run whose process died is taken over this long after its last heartbeat.
	// Defaults to 1 minute.
	Lease time.Duration
	// PollInterval is how often `serve` looks for abandoned runs and missed slots and proves
	// it is alive (/healthz). Defaults to 10 seconds.
	PollInterval time.Duration
	// ShutdownTimeout is how long `serve` waits for running jobs once asked to stop, before it
	// cancels them. Defaults to 1 minute.
	ShutdownTimeout time.Duration
	// Now is the clock of slots, leases and records. Defaults to time.Now.
	Now func() time.Time
	// Sleep waits between attempts. Defaults to a timer that ctx interrupts.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger gets a line per run. Defaults to discarding.
	Logger *slog.Logger
	// Metrics, if set, counts runs for /metrics.
	Metrics *Metrics
}

// Scheduler runs configured jobs on their cron schedules, each slot once across replicas,
// with PostgreSQL as the truth: robfig/cron only says when to look.
type Scheduler struct {
	opts   SchedulerOptions
	store  *RunStore
	jobs   []*job
	byName map[string]*job
	log    *slog.Logger

	mu       sync.Mutex
	active   map[runKey]bool // slots this process is running
	closing  bool
	inflight sync.WaitGroup
	lastTick atomic.Int64 // unix nanoseconds of the last poll, by Now
	running  atomic.Bool
}

// job is one configured job, planned.
type job struct {
	cfg        config.Job
	kind       Kind
	available  bool
	schedule   *Schedule
	catchingUp atomic.Bool

	mu     sync.Mutex
	runner Runner
}

var jobName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// NewScheduler plans the configured jobs: each schedule is parsed in its time zone, each
// enabled job's kind must be registered. Every problem is an error naming the job; nothing
// panics. Runners are built later (Start, or a job's first run).
func NewScheduler(opts SchedulerOptions) (*Scheduler, error) {
	if opts.DB == nil || opts.Kinds == nil {
		return nil, errors.New("jobs: a scheduler needs a database and a registry of kinds")
	}
	if opts.Owner == "" {
		opts.Owner = DefaultOwner()
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{opts: opts, store: NewRunStore(opts.DB), byName: map[string]*job{}, log: opts.Logger,
		active: map[runKey]bool{}}
	var errs []error
	for _, c := range opts.Jobs {
		j, err := s.plan(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.byName[c.Name]; dup {
			errs = append(errs, fmt.Errorf("jobs: job %q is configured twice", c.Name))
			continue
		}
		s.byName[c.Name] = j
		s.jobs = append(s.jobs, j)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Metrics != nil {
		opts.Metrics.init(s)
	}
	return s, nil
}

// plan checks one job's configuration.
func (s *Scheduler) plan(c config.Job) (*job, error) {
	if !jobName.MatchString(c.Name) {
		return nil, fmt.Errorf("jobs: job %q: the name must be lower-case letters, digits, - and _", c.Name)
	}
	sched, err := ParseSchedule(c.Schedule, c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("jobs: job %s: %v", c.Name, err)
	}
	j := &job{cfg: c, schedule: sched}
	j.kind, j.available = s.opts.Kinds.Lookup(c.Kind)
	if !j.available {
		j.kind = Kind{Name: c.Kind}
		if c.Enabled {
			return nil, fmt.Errorf("jobs: job %s: job kind %s %w (this build runs: %v); disable the job (enabled: false) or use a build that has it",
				c.Name, c.Kind, ErrKindNotAvailable, s.opts.Kinds.Names())
		}
	}
	if c.Timeout.D() <= 0 {
		return nil, fmt.Errorf("jobs: job %s: the timeout must be positive", c.Name)
	}
	if c.Retries.MaxAttempts < 1 {
		return nil, fmt.Errorf("jobs: job %s: retries.max_attempts must be at least 1", c.Name)
	}
	return j, nil
}

// DefaultOwner names this process: host, pid and a random suffix, unique per process.
func DefaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Owner is the name this scheduler writes in the records it holds.
func (s *Scheduler) Owner() string { return s.opts.Owner }

// Store is the scheduler's run store.
func (s *Scheduler) Store() *RunStore { return s.store }

func (s *Scheduler) now() time.Time { return s.opts.Now() }

// runner builds (once) the runner of a job.
func (s *Scheduler) runner(j *job) (Runner, error) {
	if !j.available {
		return nil, fmt.Errorf("jobs: job %s: job kind %s %w (this build runs: %v)", j.cfg.Name, j.cfg.Kind, ErrKindNotAvailable,
			s.opts.Kinds.Names())
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.runner != nil {
		return j.runner, nil
	}
	r, err := j.kind.New(j.cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: job %s: %w", j.cfg.Name, err)
	}
	j.runner = r
	return r, nil
}

// JobInfo describes a configured job for `jobs list`.
type JobInfo struct {
	// Name, Kind, Schedule and TimeZone are as configured (the zone defaults to UTC).
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Schedule string `json:"schedule"`
	TimeZone string `json:"time_zone"`
	// Enabled says whether serve runs the job.
	Enabled bool `json:"enabled"`
	// Available is false when this build cannot run the job's kind.
	Available bool `json:"available"`
	// Next is the next slot after now, in the job's time zone.
	Next time.Time `json:"next"`
	// Timeout, Backoff and CatchUp are Go durations ("1h0m0s"); MaxAttempts counts the first.
	Timeout     string `json:"timeout"`
	MaxAttempts int    `json:"max_attempts"`
	Backoff     string `json:"backoff"`
	CatchUp     string `json:"catch_up"`
}

// Jobs describes the configured jobs, in configuration order.
func (s *Scheduler) Jobs() []JobInfo {
	now := s.now()
	out := make([]JobInfo, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, JobInfo{
			Name: j.cfg.Name, Kind: j.cfg.Kind, Enabled: j.cfg.Enabled, Available: j.available,
			Schedule: j.schedule.String(), TimeZone: j.schedule.Location().String(), Next: j.schedule.Next(now),
			Timeout: j.cfg.Timeout.D().String(), MaxAttempts: j.cfg.Retries.MaxAttempts, Backoff: j.cfg.Retries.Backoff.D().String(),
			CatchUp: j.cfg.CatchUp.D().String(),
		})
	}
	return out
}

// lookup finds a configured job.
func (s *Scheduler) lookup(name string) (*job, error) {
	j, ok := s.byName[name]
	if !ok {
		names := make([]string, 0, len(s.jobs))
		for _, j := range s.jobs {
			names = append(names, j.cfg.Name)
		}
		return nil, fmt.Errorf("%w %q (configured: %v)", ErrUnknownJob, name, names)
	}
	return j, nil
}

// Outcome is what asking for a slot did.
type Outcome struct {
	// Run is the slot's record afterwards.
	Run Run
	// Ran is true when this call ran the slot (whatever the result).
	Ran bool
	// Note says why the slot did not run, or how it came to run here ("taken over from ...").
	Note string
	// Deferred is true when the slot did not start because another run of the job is going,
	// and nothing was recorded: ask again later.
	Deferred bool
}

// Trigger runs the slot due now (the latest at or before the clock) of a job, as robfig/cron
// does when it fires: unless another replica has it, and recorded as skipped when an earlier
// run of the job is still going.
func (s *Scheduler) Trigger(ctx context.Context, name string) (Outcome, error) {
	j, err := s.lookup(name)
	if err != nil {
		return Outcome{}, err
	}
	slot := j.schedule.Last(s.now())
	if slot.IsZero() {
		return Outcome{}, fmt.Errorf("jobs: job %s: no slot of %q before now", name, j.schedule)
	}
	return s.runSlot(ctx, j, slot, TriggerSchedule, redoNone)
}

// RunNow runs one slot of a job on demand (`jobs run`), through the same run records: slot
// zero means the latest slot due. A slot that failed, timed out or was skipped runs again; one
// that succeeded only with force; one running elsewhere is left to its owner.
func (s *Scheduler) RunNow(ctx context.Context, name string, slot time.Time, force bool) (Outcome, error) {
	j, err := s.lookup(name)
	if err != nil {
		return Outcome{}, err
	}
	if slot.IsZero() {
		if slot = j.schedule.Last(s.now()); slot.IsZero() {
			return Outcome{}, fmt.Errorf("jobs: job %s: no slot of %q before now", name, j.schedule)
		}
	}
	if slot.After(s.now()) {
		return Outcome{}, fmt.Errorf("jobs: job %s: slot %s %w", name, fmtSlot(slot), ErrFutureSlot)
	}
	redo := redoUnfinished
	if force {
		redo = redoAll
	}
	return s.runSlot(ctx, j, slot.In(j.schedule.Location()), TriggerManual, redo)
}

// BackfillLimit is the most slots one backfill runs.
const BackfillLimit = 10000

// BackfillSlots lists the slots of a job in [from, to), for `jobs backfill`.
func (s *Scheduler) BackfillSlots(name string, from, to time.Time) ([]time.Time, error) {
	j, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("jobs: job %s: backfill from %s is not before %s", name, fmtSlot(from), fmtSlot(to))
	}
	if to.After(s.now()) {
		return nil, fmt.Errorf("jobs: job %s: backfill to %s %w: slots run once their time has come", name, fmtSlot(to), ErrFutureSlot)
	}
	slots, dropped := j.schedule.Between(from.Add(-time.Nanosecond), to.Add(-time.Nanosecond), BackfillLimit)
	if dropped > 0 {
		return nil, fmt.Errorf("jobs: job %s: the range holds %d slots of %q; backfill at most %d at a time", name,
			len(slots)+dropped, j.schedule, BackfillLimit)
	}
	return slots, nil
}

// Backfill runs one slot of a backfill (see BackfillSlots); a runner is told the trigger, so
// that sync pulls exactly the slot's period.
func (s *Scheduler) Backfill(ctx context.Context, name string, slot time.Time, force bool) (Outcome, error) {
	j, err := s.lookup(name)
	if err != nil {
		return Outcome{}, err
	}
	redo := redoUnfinished
	if force {
		redo = redoAll
	}
	return s.runSlot(ctx, j, slot.In(j.schedule.Location()), TriggerBackfill, redo)
}

// CatchUp runs, for every enabled job, the slots missed since its last recorded slot, within
// its catch-up window (all of them oldest first, or only the latest for a Coalesce kind).
// `serve` does it at start and at every poll.
func (s *Scheduler) CatchUp(ctx context.Context) error {
	var errs []error
	for _, j := range s.jobs {
		if j.cfg.Enabled {
			errs = append(errs, s.catchUp(ctx, j, 0))
		}
	}
	return errors.Join(errs...)
}

// catchUp runs one job's missed slots up to now - grace.
func (s *Scheduler) catchUp(ctx context.Context, j *job, grace time.Duration) error {
	window := j.cfg.CatchUp.D()
	if window <= 0 {
		return nil
	}
	now := s.now().Add(-grace)
	from := now.Add(-window)
	last, ok, err := s.store.LastSlot(ctx, j.cfg.Name)
	if err != nil {
		return err
	}
	if ok && last.After(from) {
		from = last
	}
	var slots []time.Time
	if j.kind.Coalesce {
		if l := j.schedule.Last(now); !l.IsZero() && l.After(from) {
			slots = []time.Time{l}
		}
	} else {
		var dropped int
		slots, dropped = j.schedule.Between(from, now, maxCatchUpSlots)
		if dropped > 0 {
			s.log.LogAttrs(ctx, slog.LevelWarn, "catch-up: too many missed slots; running the latest",
				slog.String("job", j.cfg.Name), slog.Int("dropped", dropped), slog.Int("running", len(slots)))
		}
	}
	if len(slots) > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "catch-up: running missed slots", slog.String("job", j.cfg.Name),
			slog.Int("slots", len(slots)), slog.String("first", fmtSlot(slots[0])), slog.String("window", window.String()))
	}
	var errs []error
	for _, slot := range slots {
		if ctx.Err() != nil {
			break
		}
		o, err := s.runSlot(ctx, j, slot, TriggerCatchUp, redoNone)
		if err != nil {
			errs = append(errs, err)
		}
		if o.Deferred {
			break // another replica is catching up (or a run is going): the next poll goes on from there
		}
	}
	return errors.Join(errs...)
}

// TakeOver runs the records of configured jobs whose owner stopped renewing the lease (a
// process that died): each is taken over by one replica, and continues with its next attempt.
func (s *Scheduler) TakeOver(ctx context.Context) error {
	keys, err := s.expired(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		if _, err := s.takeOver(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Scheduler) expired(ctx context.Context) ([]runKey, error) {
	names := make([]string, 0, len(s.jobs))
	for _, j := range s.jobs {
		if j.available && j.cfg.Enabled {
			names = append(names, j.cfg.Name)
		}
	}
	return s.store.expired(ctx, names, s.now())
}

func (s *Scheduler) takeOver(ctx context.Context, k runKey) (Outcome, error) {
	j := s.byName[k.job]
	run, ok, err := s.store.Get(ctx, k.job, k.slot)
	if err != nil || !ok {
		return Outcome{}, err
	}
	return s.runSlot(ctx, j, k.slot.In(j.schedule.Location()), run.Trigger, redoNone)
}

// runSlot claims a slot and, when this owner won it, runs it with retries, a heartbeat and
// the job's timeout, then records the outcome. ctx is the run's context: when it is cancelled
// the run is released for another replica.
func (s *Scheduler) runSlot(ctx context.Context, j *job, slot time.Time, trigger Trigger, redo redoMode) (Outcome, error) {
	key := runKey{job: j.cfg.Name, slot: slot.UTC()}
	if !s.begin(key) {
		return Outcome{Note: "already running in this process, or shutting down"}, nil
	}
	defer s.end(key)
	runner, err := s.runner(j)
	if err != nil {
		return Outcome{}, err
	}
	now := s.now()
	claim, err := s.store.claim(ctx, claimRequest{
		job: j.cfg.Name, kind: j.cfg.Kind, slot: key.slot, trigger: trigger, owner: s.opts.Owner,
		now: now, leaseUntil: now.Add(s.opts.Lease), redo: redo, maxAttempts: j.cfg.Retries.MaxAttempts, coalesce: j.kind.Coalesce,
		recordSkip: trigger == TriggerSchedule,
	})
	if err != nil {
		return Outcome{}, err
	}
	log := s.log.With(slog.String("job", j.cfg.Name), slog.String("kind", j.cfg.Kind), slog.String("slot", fmtSlot(slot)),
		slog.String("trigger", string(claim.run.Trigger)))
	out := Outcome{Run: claim.run}
	switch claim.outcome {
	case claimBusy:
		out.Note = fmt.Sprintf("running on owner %s (lease until %s)", claim.previous, fmtSlot(claim.run.LeaseUntil))
		return out, nil
	case claimDone:
		out.Note = fmt.Sprintf("already %s (owner %s)", claim.run.State, claim.run.Owner)
		return out, nil
	case claimWaiting:
		if out.Run.Job == "" { // nothing recorded for this slot yet
			out.Run = Run{Job: j.cfg.Name, Slot: key.slot, Kind: j.cfg.Kind, Trigger: trigger}
		}
		out.Deferred = true
		out.Note = fmt.Sprintf("not started: the run of slot %s is still going (owner %s)", fmtSlot(claim.other), claim.previous)
		log.LogAttrs(ctx, slog.LevelInfo, "job waits for its previous run", slog.String("running_slot", fmtSlot(claim.other)))
		return out, nil
	case claimSkipped, claimSuperseded, claimGaveUp:
		out.Note = claim.run.Error
		level := slog.LevelInfo
		if claim.outcome == claimGaveUp {
			level = slog.LevelError
		}
		log.LogAttrs(ctx, level, "job "+string(claim.run.State), slog.String("reason", claim.run.Error))
		s.observe(claim.run, 0, 0)
		return out, nil
	case claimTakenOver:
		out.Note = fmt.Sprintf("taken over from owner %s", claim.previous)
		log.LogAttrs(ctx, slog.LevelWarn, "job taken over: its owner stopped renewing the lease",
			slog.String("previous_owner", claim.previous), slog.Int("attempt", claim.run.Attempts))
	}
	out.Ran = true
	out.Run, err = s.execute(ctx, j, runner, claim.run, log)
	return out, err
}

// begin marks a slot as running in this process; false when it already is, or when the
// scheduler is shutting down.
func (s *Scheduler) begin(k runKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.active[k] {
		return false
	}
	s.active[k] = true
	s.inflight.Add(1)
	return true
}

func (s *Scheduler) end(k runKey) {
	s.mu.Lock()
	delete(s.active, k)
	s.mu.Unlock()
	s.inflight.Done()
}

// execute runs a claimed record to its end: attempts with backoff, under a heartbeat.
func (s *Scheduler) execute(ctx context.Context, j *job, runner Runner, run Run, log *slog.Logger) (Run, error) {
	started := s.now()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopBeat := s.heartbeat(runCtx, cancel, run, log)
	defer stopBeat()
	if m := s.opts.Metrics; m != nil {
		m.running.WithLabelValues(run.Job).Inc()
		defer m.running.WithLabelValues(run.Job).Dec()
	}
	prev := j.schedule.Prev(run.Slot)
	attempt := run.Attempts
	var booked int64
	for {
		alog := log.With(slog.Int("attempt", attempt))
		if cause := context.Cause(runCtx); cause != nil {
			return s.interrupted(ctx, run, attempt, cause, alog)
		}
		alog.LogAttrs(ctx, slog.LevelInfo, "job started", slog.String("owner", s.opts.Owner),
			slog.Int("max_attempts", j.cfg.Retries.MaxAttempts))
		slot := Slot{Job: run.Job, Time: run.Slot.In(j.schedule.Location()), Prev: prev, Trigger: run.Trigger, Attempt: attempt, Logger: alog}
		res, err := s.attempt(runCtx, j, runner, slot, alog)
		booked += res.Booked
		summary, jerr := marshalSummary(res.Summary)
		if jerr != nil {
			alog.LogAttrs(ctx, slog.LevelWarn, "job summary not stored", slog.String("error", jerr.Error()))
		}
		if err == nil {
			return s.record(ctx, j, run, StateSucceeded, "", summary, started, booked, alog)
		}
		if cause := context.Cause(runCtx); cause != nil {
			return s.interrupted(ctx, run, attempt, cause, alog)
		}
		timedOut := errors.Is(err, ErrTimedOut)
		alog.LogAttrs(ctx, slog.LevelWarn, "job attempt failed", slog.String("error", err.Error()), slog.Bool("timed_out", timedOut))
		if attempt >= j.cfg.Retries.MaxAttempts || IsPermanent(err) {
			state := StateFailed
			if timedOut {
				state = StateTimedOut
			}
			msg := fmt.Sprintf("attempt %d of %d: %v", attempt, j.cfg.Retries.MaxAttempts, err)
			out, rerr := s.record(ctx, j, run, state, msg, summary, started, booked, alog)
			if rerr != nil {
				return out, rerr
			}
			// The runner's error stays in the chain, for callers that tell failures apart
			// (ErrNotReconciled exits 3).
			return out, fmt.Errorf("jobs: job %s slot %s: attempt %d of %d: %w", run.Job, fmtSlot(run.Slot),
				attempt, j.cfg.Retries.MaxAttempts, err)
		}
		wait := backoff(j.cfg.Retries.Backoff.D(), attempt)
		alog.LogAttrs(ctx, slog.LevelInfo, "job retrying", slog.String("backoff", wait.String()))
		if serr := s.opts.Sleep(runCtx, wait); serr != nil {
			continue // cut short: the check at the top says why
		}
		n, ok, aerr := s.store.nextAttempt(runCtx, run.Job, run.Slot, s.opts.Owner, err.Error())
		switch {
		case aerr != nil && runCtx.Err() != nil:
			continue
		case aerr != nil:
			return run, aerr
		case !ok:
			cancel(ErrLeaseLost)
			continue
		}
		attempt = n
	}
}

// interrupted ends a run whose context is gone: after a lost lease it leaves the record to
// its new owner; otherwise (shutdown after the grace period, the caller gave up) it releases
// the record, so that another replica, or the next start, takes it over at once.
func (s *Scheduler) interrupted(ctx context.Context, run Run, attempt int, cause error, log *slog.Logger) (Run, error) {
	if errors.Is(cause, ErrLeaseLost) {
		log.LogAttrs(ctx, slog.LevelError, "job abandoned: its lease was lost to another replica")
		return run, fmt.Errorf("jobs: job %s slot %s: %w", run.Job, fmtSlot(run.Slot), ErrLeaseLost)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	reason := fmt.Sprintf("interrupted at attempt %d (%v); released for another replica", attempt, cause)
	if err := s.store.release(wctx, run.Job, run.Slot, s.opts.Owner, reason, s.now()); err != nil {
		return run, err
	}
	log.LogAttrs(ctx, slog.LevelWarn, "job interrupted and released", slog.String("cause", cause.Error()))
	if r, ok, err := s.store.Get(wctx, run.Job, run.Slot); err != nil {
		return run, err
	} else if ok {
		run = r
	}
	return run, fmt.Errorf("jobs: job %s slot %s: %s", run.Job, fmtSlot(run.Slot), reason)
}

// attempt runs the runner once under the job's timeout, turning a panic into an error.
func (s *Scheduler) attempt(ctx context.Context, j *job, runner Runner, slot Slot, log *slog.Logger) (res Result, err error) {
	actx, cancel := context.WithTimeoutCause(ctx, j.cfg.Timeout.D(), ErrTimedOut)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			log.LogAttrs(ctx, slog.LevelError, "job panicked", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	res, err = runner.Run(actx, slot)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrTimedOut) {
		err = fmt.Errorf("%w after %s: %w", ErrTimedOut, j.cfg.Timeout.D(), err)
	}
	return res, err
}

// record writes a run's outcome and counts it.
func (s *Scheduler) record(ctx context.Context, j *job, run Run, state State, msg string, summary []byte, started time.Time,
	booked int64, log *slog.Logger) (Run, error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	done, ok, err := s.store.finish(wctx, run.Job, run.Slot, s.opts.Owner, state, msg, summary, s.now())
	if err != nil {
		return run, err
	}
	if !ok {
		log.LogAttrs(ctx, slog.LevelError, "job outcome not recorded: its lease was lost to another replica", slog.String("outcome", string(state)))
		return run, fmt.Errorf("jobs: job %s slot %s: %w", run.Job, fmtSlot(run.Slot), ErrLeaseLost)
	}
	took := s.now().Sub(started)
	level := slog.LevelInfo
	if state != StateSucceeded {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("outcome", string(state)), slog.Int64("duration_ms", took.Milliseconds()), slog.Int("attempts", done.Attempts)}
	if msg != "" {
		attrs = append(attrs, slog.String("error", msg))
	}
	if booked > 0 {
		attrs = append(attrs, slog.Int64("booked", booked))
	}
	if len(summary) > 0 && len(summary) <= 1024 { // a long summary is in the run record (jobs history)
		attrs = append(attrs, slog.Any("result", json.RawMessage(summary)))
	}
	log.LogAttrs(ctx, level, "job finished", attrs...)
	s.observe(done, took, booked)
	return done, nil
}

// observe counts a finished record.
func (s *Scheduler) observe(run Run, took time.Duration, booked int64) {
	if m := s.opts.Metrics; m != nil {
		m.observe(run.Job, run.State, took, booked)
	}
}

// heartbeat renews the run's lease every third of the lease until stopped; when the record is
// no longer ours it cancels the run with ErrLeaseLost.
func (s *Scheduler) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, run Run, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(s.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				now := s.now()
				ok, err := s.store.heartbeat(ctx, run.Job, run.Slot, s.opts.Owner, now, now.Add(s.opts.Lease))
				switch {
				case err != nil:
					// The database may be back before the lease runs out; if not, another
					// replica takes over and the next heartbeat says so.
					log.LogAttrs(ctx, slog.LevelWarn, "job heartbeat failed", slog.String("error", err.Error()))
				case !ok:
					cancel(ErrLeaseLost)
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// backoff is base doubled per attempt after the first (attempt 1 waits base), at most an hour.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, max(base, time.Hour))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func marshalSummary(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jobs: the result summary: %w", err)
	}
	return b, nil
}

// Start builds the runner of every enabled job, so that a missing API key or a bad setting
// stops `serve` at once rather than at a job's first slot.
func (s *Scheduler) Start() error {
	var errs []error
	for _, j := range s.jobs {
		if j.cfg.Enabled {
			if _, err := s.runner(j); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Run is the daemon: it takes over abandoned runs and catches up missed slots, hands the
// schedules to robfig/cron, and polls (abandoned runs, missed slots, liveness) until ctx is
// cancelled. Then it stops triggering, waits up to ShutdownTimeout for the running jobs, and
// cancels those still going: their records are released, and another replica (or the next
// start) takes them over. Runs are not cancelled by ctx itself. A Scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("jobs: the scheduler is already running")
	}
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)

	clog := cronLogger{log: s.log}
	c := cron.New(cron.WithLocation(time.UTC), cron.WithParser(cronParser), cron.WithLogger(clog), cron.WithChain(cron.Recover(clog)))
	enabled := 0
	for _, j := range s.jobs {
		if !j.cfg.Enabled {
			continue
		}
		enabled++
		c.Schedule(j.schedule, cron.FuncJob(func() {
			if ctx.Err() != nil {
				return
			}
			slot := j.schedule.Last(s.now())
			if slot.IsZero() {
				return
			}
			// Errors are logged and recorded by runSlot; cron has nobody to tell.
			if _, err := s.runSlot(runCtx, j, slot, TriggerSchedule, redoNone); err != nil {
				s.log.LogAttrs(runCtx, slog.LevelError, "job failed", slog.String("job", j.cfg.Name), slog.String("error", err.Error()))
			}
		}))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "scheduler started", slog.String("owner", s.opts.Owner), slog.Int("jobs", enabled),
		slog.String("lease", s.opts.Lease.String()), slog.String("poll_interval", s.opts.PollInterval.String()),
		slog.String("shutdown_timeout", s.opts.ShutdownTimeout.String()))
	s.poll(ctx, runCtx, 0)
	c.Start()
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			s.poll(ctx, runCtx, catchUpGrace)
		}
	}

	cronDone := c.Stop() // no new triggers
	s.mu.Lock()
	s.closing = true
	n := len(s.active)
	s.mu.Unlock()
	s.log.LogAttrs(runCtx, slog.LevelInfo, "scheduler stopping: waiting for running jobs", slog.Int("running", n),
		slog.String("deadline", s.opts.ShutdownTimeout.String()))
	waited := make(chan struct{})
	go func() {
		s.inflight.Wait()
		<-cronDone.Done()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(s.opts.ShutdownTimeout):
		s.log.LogAttrs(runCtx, slog.LevelWarn, "scheduler stopping: the deadline passed; cancelling running jobs")
		cancelRuns(errShutdown)
		select {
		case <-waited:
		case <-time.After(releaseTimeout + 5*time.Second):
			s.log.LogAttrs(runCtx, slog.LevelError, "scheduler stopping: some jobs ignored cancellation; their leases expire on their own")
		}
	}
	s.running.Store(false)
	s.log.LogAttrs(runCtx, slog.LevelInfo, "scheduler stopped")
	return nil
}

// poll proves liveness, takes over abandoned runs and catches up missed slots, each job in
// its own goroutine so that a long run never delays the poll.
func (s *Scheduler) poll(ctx, runCtx context.Context, grace time.Duration) {
	s.lastTick.Store(s.now().UnixNano())
	if s.opts.Metrics != nil {
		s.opts.Metrics.lastTick.Set(float64(s.now().UnixNano()) / 1e9)
	}
	qctx, cancel := context.WithTimeout(ctx, s.opts.PollInterval) // a hung database must not stop the poll
	keys, err := s.expired(qctx)
	cancel()
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "poll: looking for abandoned runs failed", slog.String("error", err.Error()))
	}
	for _, k := range keys {
		if !s.spawn(func() {
			if _, err := s.takeOver(runCtx, k); err != nil {
				s.log.LogAttrs(runCtx, slog.LevelError, "job failed", slog.String("job", k.job), slog.String("slot", fmtSlot(k.slot)),
					slog.String("error", err.Error()))
			}
		}) {
			return
		}
	}
	for _, j := range s.jobs {
		if !j.cfg.Enabled || !j.catchingUp.CompareAndSwap(false, true) {
			continue
		}
		if !s.spawn(func() {
			defer j.catchingUp.Store(false)
			// runCtx for the runs, but no new slot once stopping: catchUp checks ctx between slots.
			if err := s.catchUp(stopAware{Context: runCtx, stop: ctx}, j, grace); err != nil {
				s.log.LogAttrs(runCtx, slog.LevelError, "catch-up failed", slog.String("job", j.cfg.Name), slog.String("error", err.Error()))
			}
		}) {
			j.catchingUp.Store(false)
			return
		}
	}
}

// spawn runs f in a goroutine counted for shutdown; false when shutting down.
func (s *Scheduler) spawn(f func()) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.inflight.Done()
		f()
	}()
	return true
}

// stopAware is a run context whose Err also reports that the daemon is stopping, so that a
// catch-up starts no new slot then, while the slot it runs keeps its context.
type stopAware struct {
	context.Context
	stop context.Context
}

// Err reports the stop as well as the run context's own end.
func (c stopAware) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	return c.stop.Err()
}

// Health is the answer of /healthz.
type Health struct {
	// OK is true when both checks pass (HTTP 200; otherwise 503).
	OK bool `json:"ok"`
	// Database is "ok" or the error of a ping.
	Database string `json:"database"`
	// Scheduler is "ok", "not running", or how long ago the last poll was.
	Scheduler string `json:"scheduler"`
	// LastTick is when the scheduler last polled.
	LastTick time.Time `json:"last_tick,omitzero"`
}

// Health checks that the database answers and that the scheduler is polling (its last poll
// is less than three poll intervals old).
func (s *Scheduler) Health(ctx context.Context) Health {
	h := Health{OK: true, Database: "ok", Scheduler: "ok"}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.store.Ping(pctx); err != nil {
		h.OK, h.Database = false, err.Error()
	}
	last := s.lastTick.Load()
	switch {
	case !s.running.Load():
		h.OK, h.Scheduler = false, "not running"
	case last == 0:
		h.OK, h.Scheduler = false, "no poll yet"
	default:
		h.LastTick = time.Unix(0, last).UTC()
		if age := s.now().Sub(h.LastTick); age > 3*s.opts.PollInterval {
			h.OK, h.Scheduler = false, fmt.Sprintf("last poll %s ago (poll interval %s)", age.Round(time.Second), s.opts.PollInterval)
		}
	}
	return h
}

// Alive reports whether the scheduler polls (the check of /livez, without the database).
func (s *Scheduler) Alive() bool {
	last := s.lastTick.Load()
	return s.running.Load() && last != 0 && s.now().Sub(time.Unix(0, last)) <= 3*s.opts.PollInterval
}

// cronLogger sends robfig/cron's lines to slog: its routine lines at debug, panics at error.
type cronLogger struct{ log *slog.Logger }

// Info logs cron's routine lines at debug level.
func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug("cron: "+msg, kv...)
}

// Error logs cron's errors (a recovered panic, with its stack).
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append([]any{slog.String("error", err.Error())}, kv...)...)
}
