package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/ledger"
	"go.yaml.in/yaml/v3"
)

// The job kinds a configuration may name. Only the kinds registered in a Registry can run;
// the others are rejected at start with ErrKindNotAvailable.
const (
	// KindSync pulls Nord PAY transactions into the ledger, up to the slot (SyncKind).
	KindSync = "sync"
	// KindStatements writes the statements of the whole UTC day before the slot
	// (PreviousDay, StatementsKind).
	KindStatements = "statements"
	// KindReconcile writes the reconciliation report of the whole UTC month before the slot
	// (PreviousMonth, ReconcileKind).
	KindReconcile = "reconcile"
	// KindPayoutsInbox imports the payout sheets found in a directory and runs the approved
	// batches (PayoutsInboxKind).
	KindPayoutsInbox = "payouts-inbox"
)

// KnownKinds lists every kind name the configuration accepts, registered or not.
var KnownKinds = []string{KindSync, KindStatements, KindReconcile, KindPayoutsInbox}

// ErrKindNotAvailable is returned at start for an enabled job whose kind this build does not
// register (yet).
var ErrKindNotAvailable = errors.New("is not available in this build")

// Runner does the work of one job for one slot. It must honour ctx: its deadline is the job's
// timeout, and it is cancelled at shutdown (after the grace period) or when the run's lease is
// lost to another replica. A run may be repeated for the same slot (a retry, a takeover after
// a crash, a backfill), so a runner must be idempotent per slot.
type Runner interface {
	Run(ctx context.Context, slot Slot) (Result, error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, slot Slot) (Result, error)

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, slot Slot) (Result, error) { return f(ctx, slot) }

// Slot is what a runner is asked to do: the scheduled time and how the run came about.
type Slot struct {
	// Job is the configured job's name.
	Job string
	// Time is the slot, in the job's time zone: its identity in the run history.
	Time time.Time
	// Prev is the schedule's slot before Time (zero when there is none): [Prev, Time) is the
	// period the slot closes.
	Prev time.Time
	// Trigger says why the slot runs. A backfill asks for the slot's period only.
	Trigger Trigger
	// Attempt counts from 1, across retries and takeovers.
	Attempt int
	// Logger carries the job, kind, slot, trigger and attempt attributes.
	Logger *slog.Logger
}

// Result is what a successful run reports.
type Result struct {
	// Summary is stored as JSON in the run's record (job_runs.result) and shown by
	// `jobs history`.
	Summary any
	// Booked counts the transactions the run booked, for
	// nordpay_jobs_transactions_booked_total.
	Booked int64
}

// Kind is one sort of job: how to build the runner of a configured job from its settings.
type Kind struct {
	// Name is one of KnownKinds.
	Name string
	// Coalesce says that a run for a slot also does the work of every earlier slot (sync pulls
	// from its watermark up to the slot), so catch-up runs only the latest missed slot, and an
	// abandoned run that a later slot has overtaken is closed as skipped instead of rerun.
	// Kinds whose slots each own a period (statements: a day) leave it false.
	Coalesce bool
	// New builds the runner of one job. It is called once per job, when the job first runs (or
	// at the start of `serve`), so that commands that only list jobs need no API key. Its
	// error is a startup error; decode the job's settings with DecodeSettings.
	New func(job config.Job) (Runner, error)
}

// Registry holds the kinds this build can run.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]Kind{}} }

// Register adds a kind. Registering a name twice, or a kind without New, is an error.
func (r *Registry) Register(k Kind) error {
	if k.Name == "" || k.New == nil {
		return fmt.Errorf("jobs: kind %q: a kind needs a name and New", k.Name)
	}
	if _, dup := r.kinds[k.Name]; dup {
		return fmt.Errorf("jobs: kind %q is registered twice", k.Name)
	}
	r.kinds[k.Name] = k
	return nil
}

// Lookup returns the kind registered under name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

// Error returns the marked error's text.
func (e *permanentError) Error() string { return e.err.Error() }

// Unwrap returns the marked error.
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a configuration problem, not a network
// hiccup): the run fails at once instead of using up its attempts.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// DecodeSettings decodes a job's free-form settings into v (a pointer to a struct with yaml
// tags, holding the defaults). Unknown settings are errors, as everywhere in the
// configuration.
func DecodeSettings(settings map[string]any, v any) error {
	if len(settings) == 0 {
		return nil
	}
	data, err := yaml.Marshal(settings)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("settings: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// PreviousDay returns the whole UTC day before the slot's UTC date, [from, to): what a
// statements job writes. A slot at 00:30 UTC on 2 November writes 1 November; a slot at
// 00:30 Europe/Berlin (23:30 UTC the day before) writes the day before that, the last day
// that is over.
func PreviousDay(slot time.Time) (from, to time.Time) {
	u := slot.UTC()
	to = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	return to.AddDate(0, 0, -1), to
}

// PreviousMonth returns the whole UTC month before the slot's UTC month, [from, to): what a
// reconcile job reports on.
func PreviousMonth(slot time.Time) (from, to time.Time) {
	u := slot.UTC()
	to = time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	return to.AddDate(0, -1, 0), to
}

// SyncKindOptions wire the sync kind to the configuration.
type SyncKindOptions struct {
	// Syncer returns the syncer to copy for each run. It is called when a sync job first
	// runs, because it needs the API key.
	Syncer func() (*Syncer, error)
	// Defaults are the options of the configuration's sync section (Window, Overlap,
	// Lookback, Sources, Start); a job's settings override them.
	Defaults SyncOptions
}

// syncSettings are the settings a sync job may set; zero values keep the sync section's.
type syncSettings struct {
	Sources  []string        `yaml:"sources"`
	Window   config.Duration `yaml:"window"`
	Overlap  config.Duration `yaml:"overlap"`
	Lookback config.Duration `yaml:"lookback"`
	Start    string          `yaml:"start"`
}

// SyncKind is the sync job: a slot pulls every source from its watermark (minus the
// lookback) up to the slot time, so a later slot does the work of any earlier one
// (Coalesce). A backfilled slot pulls exactly its period [previous slot, slot) again, which
// books only what is missing. The result is the `sync --json` summary.
func SyncKind(o SyncKindOptions) Kind {
	return Kind{
		Name:     KindSync,
		Coalesce: true,
		New: func(job config.Job) (Runner, error) {
			var set syncSettings
			if err := DecodeSettings(job.Settings, &set); err != nil {
				return nil, err
			}
			opts := o.Defaults
			if len(set.Sources) > 0 {
				opts.Sources = set.Sources
			}
			for _, src := range opts.Sources {
				if src != ledger.SourceInvoice && src != ledger.SourceWallet {
					return nil, fmt.Errorf("settings: sources: %q is not invoice or wallet", src)
				}
			}
			if set.Window != 0 {
				opts.Window = set.Window.D()
			}
			if set.Overlap != 0 {
				opts.Overlap = set.Overlap.D()
			}
			if set.Lookback != 0 {
				opts.Lookback = set.Lookback.D()
			}
			if set.Start != "" {
				start, err := config.ParseTime(set.Start)
				if err != nil {
					return nil, fmt.Errorf("settings: start: %v", err)
				}
				opts.Start = start
			}
			if opts.Window != 0 && opts.Window < time.Minute {
				return nil, fmt.Errorf("settings: window %s is shorter than a minute", opts.Window)
			}
			if opts.Overlap < 0 || (opts.Window != 0 && opts.Overlap >= opts.Window) {
				return nil, fmt.Errorf("settings: overlap %s must be at least 0 and shorter than the window", opts.Overlap)
			}
			if o.Syncer == nil {
				return nil, errors.New("the sync kind has no syncer")
			}
			base, err := o.Syncer()
			if err != nil {
				return nil, err
			}
			return RunnerFunc(func(ctx context.Context, slot Slot) (Result, error) {
				s := *base // a copy per run: its own logger, no progress bar
				s.Logger = slot.Logger
				s.Progress = nil
				run := opts
				run.To = slot.Time.UTC()
				if slot.Trigger == TriggerBackfill && !slot.Prev.IsZero() {
					run.From = slot.Prev.UTC()
				}
				res, err := s.Run(ctx, run)
				if errors.Is(err, ErrNoStart) {
					err = Permanent(err)
				}
				return Result{Summary: res, Booked: res.Booked}, err
			}), nil
		},
	}
}

// logger is the slot's logger, or one that discards when a runner is called without one.
func (s Slot) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
