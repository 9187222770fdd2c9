package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/payouts"
	"github.com/spf13/cobra"
)

// jobKinds is the one place where job kinds are registered, each wired to the configuration
// and its dependencies: sync, statements, reconcile and payouts-inbox. A configured, enabled
// job whose kind is not registered here stops `serve` (and `jobs run`) with "job kind X is
// not available in this build".
func (m *Main) jobKinds(conn *sqlx.DB) (*jobs.Registry, error) {
	reg := jobs.NewRegistry()
	syncDefaults, err := syncOptions(m.Config.Sync, "", "", "all", 0)
	if err != nil {
		return nil, err
	}
	if err := reg.Register(jobs.SyncKind(jobs.SyncKindOptions{
		Defaults: syncDefaults,
		Syncer: func() (*jobs.Syncer, error) {
			client, err := m.Client()
			if err != nil {
				return nil, err
			}
			return &jobs.Syncer{Client: client, Store: ledger.NewStore(conn, m.Config.Ledger.Accounts),
				Chart: m.Config.Ledger.Accounts, Now: m.Now, Logger: m.Logger}, nil
		},
	})); err != nil {
		return nil, err
	}
	// statements, reconcile and payouts-inbox live in the jobs package; their dependencies
	// come from here. Those that need the API key ask for it only when a job of theirs runs.
	chart := m.Config.Ledger.Accounts
	ledgerStore := ledger.NewStore(conn, chart)
	payoutStore := payouts.NewStore(ledgerStore, payoutPolicy(m.Config.Payouts))
	payoutStore.Now = m.Now
	kinds := []jobs.Kind{
		jobs.StatementsKind(jobs.StatementsKindOptions{Store: ledgerStore, TemplateDir: m.Config.Export.TemplateDir, Now: m.Now}),
		jobs.ReconcileKind(jobs.ReconcileKindOptions{
			Reconciler: func() (*jobs.Reconciler, error) {
				client, err := m.Client()
				if err != nil {
					return nil, err
				}
				return &jobs.Reconciler{Client: client, Store: ledgerStore, Now: m.Now, Logger: m.Logger}, nil
			},
			UnknownPayouts: jobs.UnknownPayouts(payoutStore),
			Window:         m.Config.Sync.Window.D(),
			Overlap:        m.Config.Sync.Overlap.D(),
		}),
		jobs.PayoutsInboxKind(jobs.PayoutsInboxKindOptions{
			Inbox: func() (*jobs.PayoutsInbox, error) {
				client, err := m.Client()
				if err != nil {
					return nil, err
				}
				c := m.Config.Payouts
				return &jobs.PayoutsInbox{
					Store: payoutStore, Client: client, DB: conn,
					// The same checks and report as `payouts import`.
					Env: func(ctx context.Context, allowRepeat bool) (payouts.ValidationEnv, error) {
						return validationEnv(ctx, m, payoutStore, client, allowRepeat)
					},
					WriteReport: writeReportFile,
					Read:        payouts.ReadOptions{MaxRows: c.MaxRows, MaxBytes: c.MaxBytes, MaxUnzippedBytes: c.MaxUnzippedBytes},
					Now:         m.Now,
					Logger:      m.Logger,
				}, nil
			},
		}),
	}
	for _, k := range kinds {
		if err := reg.Register(k); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// checkSchedules parses every job's schedule in its zone. It runs before anything is opened:
// a mistyped spec is the error an operator sees, not a database that is down at the same time.
func (m *Main) checkSchedules() error {
	for _, j := range m.Config.Jobs {
		if _, err := jobs.ParseSchedule(j.Schedule, j.TimeZone); err != nil {
			return fmt.Errorf("jobs: job %s: %v", j.Name, err)
		}
	}
	return nil
}

// newScheduler plans the configured jobs against the database.
func (m *Main) newScheduler(ctx context.Context, metrics *jobs.Metrics) (*jobs.Scheduler, error) {
	if err := m.checkSchedules(); err != nil {
		return nil, err
	}
	conn, err := m.OpenDB(ctx)
	if err != nil {
		return nil, err
	}
	if err := jobs.NewRunStore(conn).Check(ctx); err != nil {
		return nil, err
	}
	reg, err := m.jobKinds(conn)
	if err != nil {
		return nil, err
	}
	return jobs.NewScheduler(jobs.SchedulerOptions{
		DB: conn, Jobs: m.Config.Jobs, Kinds: reg,
		Lease: m.Config.Serve.Lease.D(), PollInterval: m.Config.Serve.PollInterval.D(), ShutdownTimeout: m.Config.Serve.ShutdownTimeout.D(),
		Now: m.Now, Logger: m.Logger, Metrics: metrics,
	})
}

func newJobsCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Inspect and drive the scheduled jobs: list, history, run, backfill",
		Long: `Inspect and drive the jobs that serve runs (the jobs section of the configuration).

Every run goes through the same run records as serve's: one record per job and slot in
PostgreSQL, so a slot runs once however many replicas, CronJobs and people ask for it.`,
	}
	cmd.AddCommand(newJobsListCommand(m), newJobsHistoryCommand(m), newJobsRunCommand(m), newJobsBackfillCommand(m))
	return cmd
}

// jobListing is one line of `jobs list --json`.
type jobListing struct {
	jobs.JobInfo
	NextUTC time.Time `json:"next_utc"`
	LastRun *jobs.Run `json:"last_run"`
}

func newJobsListCommand(m *Main) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "The configured jobs, their next run (in the job's zone and UTC) and last run",
		Example: `  nordpay-jobs jobs list
  nordpay-jobs jobs list --json`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			s, err := m.newScheduler(cmd.Context(), nil)
			if err != nil {
				return err
			}
			var out []jobListing
			for _, info := range s.Jobs() {
				l := jobListing{JobInfo: info, NextUTC: info.Next.UTC()}
				last, ok, err := s.Store().Latest(cmd.Context(), info.Name)
				if err != nil {
					return err
				}
				if ok {
					l.LastRun = &last
				}
				out = append(out, l)
			}
			if asJSON {
				return m.printJSON(out)
			}
			tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tSTATUS\tSCHEDULE\tZONE\tNEXT RUN (ZONE)\tNEXT RUN (UTC)\tLAST SLOT\tLAST STATE")
			for _, l := range out {
				status := "enabled"
				switch {
				case !l.Available:
					status = "not in this build"
				case !l.Enabled:
					status = "disabled"
				}
				lastSlot, lastState := "-", "-"
				if l.LastRun != nil {
					lastSlot, lastState = l.LastRun.Slot.Format(time.RFC3339), string(l.LastRun.State)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Kind, status, l.Schedule, l.TimeZone,
					l.Next.Format("2006-01-02 15:04:05 MST"), l.NextUTC.Format(time.RFC3339), lastSlot, lastState)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the jobs as JSON")
	return cmd
}

func newJobsHistoryCommand(m *Main) *cobra.Command {
	var (
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "history [NAME]",
		Short: "The latest runs, of one job or of all, newest slot first",
		Example: `  nordpay-jobs jobs history
  nordpay-jobs jobs history sync --limit 5 --json`,
		Args: argsUsage(cobra.MaximumNArgs(1)),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 10000 {
				return usagef("--limit %d: want 1 to 10000", limit)
			}
			conn, err := m.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			store := jobs.NewRunStore(conn)
			if err := store.Check(cmd.Context()); err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			runs, err := store.History(cmd.Context(), name, limit)
			if err != nil {
				return err
			}
			if asJSON {
				if runs == nil {
					runs = []jobs.Run{}
				}
				return m.printJSON(runs)
			}
			tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSLOT\tTRIGGER\tSTATE\tATTEMPTS\tDURATION\tOWNER\tERROR OR RESULT")
			now := m.Now()
			for _, r := range runs {
				detail := r.Error
				if detail == "" {
					detail = string(r.Result)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Job, r.Slot.Format(time.RFC3339), r.Trigger, r.State, r.Attempts,
					r.Duration(now).Round(time.Millisecond), r.Owner, clip(oneLine(detail), 120))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runs as JSON")
	return cmd
}

// outcomeJSON is what `jobs run --json` and `jobs backfill --json` print per slot.
type outcomeJSON struct {
	Ran  bool     `json:"ran"`
	Note string   `json:"note,omitempty"`
	Run  jobs.Run `json:"run"`
}

func newJobsRunCommand(m *Main) *cobra.Command {
	var (
		slotFlag      string
		force, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Run one slot of a job now, once across replicas",
		Long: `Run one slot of a job now, through the same run records as serve: if a replica runs or
ran the slot, it is not run again (a slot that failed, timed out or was skipped is).

Without --slot it is the job's latest slot due (the last time of its schedule at or before
now), so a Kubernetes CronJob running "jobs run sync" on the job's schedule and serve never
both run a slot. --slot now runs a slot at the current second; --slot T one at time T
(for sync: pull up to T; statements: the UTC day before T; reconcile: the month before T;
payouts-inbox: whatever is in the inbox now, whatever T).

Exit 0 when the slot succeeded, had already succeeded, runs elsewhere, or was skipped
because the job's previous run is still going; 1 when it failed or timed out; 2 for an
unknown job or a slot in the future; 3 when a reconcile slot's month does not reconcile (as
report reconcile).`,
		Example: `  nordpay-jobs jobs run sync
  nordpay-jobs jobs run sync --slot now --json
  nordpay-jobs jobs run statements --slot 2026-11-02T00:30:00Z --force`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			var slot time.Time
			switch strings.TrimSpace(slotFlag) {
			case "":
			case "now":
				slot = m.Now().Truncate(time.Second)
			default:
				t, err := config.ParseTime(slotFlag)
				if err != nil {
					return usagef("--slot: %v", err)
				}
				slot = t
			}
			s, err := m.newScheduler(cmd.Context(), nil)
			if err != nil {
				return err
			}
			o, err := s.RunNow(cmd.Context(), args[0], slot, force)
			if errors.Is(err, jobs.ErrUnknownJob) || errors.Is(err, jobs.ErrFutureSlot) {
				return &usageError{err}
			}
			if o.Run.Job != "" {
				if perr := m.printOutcome(o, asJSON); perr != nil && err == nil {
					err = perr
				}
			}
			if errors.Is(err, jobs.ErrNotReconciled) {
				return withCode(ExitDifferences, err)
			}
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&slotFlag, "slot", "", "the slot: a date or RFC 3339 time, or now (default the latest slot due)")
	f.BoolVar(&force, "force", false, "run the slot again even if it succeeded")
	f.BoolVar(&asJSON, "json", false, `print {"ran", "note", "run": {...}}`)
	return cmd
}

func newJobsBackfillCommand(m *Main) *cobra.Command {
	var (
		from, to      string
		force, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "backfill NAME --from T --to T",
		Short: "Run every slot of a job in [from, to), oldest first, once across replicas",
		Long: `Run every slot of a job's schedule in [--from, --to), oldest first, through the same run
records as serve: slots that succeeded are left alone (unless --force), slots that failed,
timed out or were skipped run again.

What a slot does depends on the kind: a sync slot pulls exactly its period (from the previous
slot to the slot) and books only what is missing; a statements slot writes the UTC day before
it (files named for the day, so each slot its own); a reconcile slot the UTC month before it;
a payouts-inbox slot processes the inbox as it is now (backfilling it is pointless).

Exit 0 when every slot succeeded (or had); 1 when any failed; 2 for an unknown job or a --to
in the future; 3 when every slot that failed was a reconcile month that does not reconcile.`,
		Example: `  nordpay-jobs jobs backfill sync --from 2026-11-01 --to 2026-11-02
  nordpay-jobs jobs backfill statements --from 2026-10-01 --to 2026-11-01 --json`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return usagef("--from and --to are both required")
			}
			fromT, err := config.ParseTime(from)
			if err != nil {
				return usagef("--from: %v", err)
			}
			toT, err := config.ParseTime(to)
			if err != nil {
				return usagef("--to: %v", err)
			}
			if !fromT.Before(toT) {
				return usagef("--from %s is not before --to %s", from, to)
			}
			s, err := m.newScheduler(cmd.Context(), nil)
			if err != nil {
				return err
			}
			slots, err := s.BackfillSlots(args[0], fromT, toT)
			if errors.Is(err, jobs.ErrUnknownJob) || errors.Is(err, jobs.ErrFutureSlot) {
				return &usageError{err}
			}
			if err != nil {
				return err
			}
			var (
				outs                 []outcomeJSON
				failed, unreconciled int
			)
			for _, slot := range slots {
				if cmd.Context().Err() != nil {
					break
				}
				o, err := s.Backfill(cmd.Context(), args[0], slot, force)
				if err != nil {
					failed++
					if errors.Is(err, jobs.ErrNotReconciled) {
						unreconciled++
					}
					m.Logger.Error("backfill: slot failed", "job", args[0], "slot", slot.UTC().Format(time.RFC3339), "error", err.Error())
				}
				if asJSON {
					outs = append(outs, outcomeJSON{Ran: o.Ran, Note: o.Note, Run: o.Run})
				} else if o.Run.Job != "" {
					if perr := m.printOutcome(o, false); perr != nil {
						return perr
					}
				}
			}
			if asJSON {
				if outs == nil {
					outs = []outcomeJSON{}
				}
				if err := m.printJSON(outs); err != nil {
					return err
				}
			}
			switch {
			case cmd.Context().Err() != nil:
				return fmt.Errorf("backfill of %s interrupted", args[0])
			case failed > 0 && unreconciled == failed:
				return withCode(ExitDifferences, fmt.Errorf("backfill of %s: %d of %d slots do not reconcile (see jobs history %s)",
					args[0], failed, len(slots), args[0]))
			case failed > 0:
				return fmt.Errorf("backfill of %s: %d of %d slots failed (see jobs history %s)", args[0], failed, len(slots), args[0])
			case len(slots) == 0 && !asJSON:
				m.printf("no slot of %s in [%s, %s)\n", args[0], from, to)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start of the range: a date (midnight UTC) or an RFC 3339 time")
	f.StringVar(&to, "to", "", "end of the range, exclusive (not in the future)")
	f.BoolVar(&force, "force", false, "run slots again even if they succeeded")
	f.BoolVar(&asJSON, "json", false, `print a list of {"ran", "note", "run": {...}}`)
	return cmd
}

// printOutcome writes what asking for one slot did.
func (m *Main) printOutcome(o jobs.Outcome, asJSON bool) error {
	if asJSON {
		return m.printJSON(outcomeJSON{Ran: o.Ran, Note: o.Note, Run: o.Run})
	}
	r := o.Run
	line := fmt.Sprintf("%s slot %s: ", r.Job, r.Slot.Format(time.RFC3339))
	switch {
	case o.Ran && r.State != jobs.StateRunning:
		line += fmt.Sprintf("%s after %d attempt(s) in %s", r.State, r.Attempts, r.Duration(m.Now()).Round(time.Millisecond))
		if o.Note != "" {
			line += " (" + o.Note + ")"
		}
	case o.Ran:
		line += "interrupted: " + r.Error
	default:
		line += "not run: " + o.Note
	}
	m.printf("%s\n", line)
	if o.Ran && len(r.Result) > 0 {
		m.printf("  result: %s\n", r.Result)
	}
	return nil
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
