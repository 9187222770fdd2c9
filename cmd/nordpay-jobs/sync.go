package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newSyncCommand(m *Main) *cobra.Command {
	var (
		from, to, source string
		window           time.Duration
		asJSON, noBar    bool
	)
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Pull Nord PAY transactions into the ledger",
		Long: `Pull invoice and wallet transactions from Nord PAY into the ledger.

The range is cut into windows (sync.window, one day by default); each window is one API call
and one database transaction, and the source's watermark moves only when its window commits.
Without --from, a run starts sync.lookback (48h) before the watermark, to book transactions
that Nord PAY shows late; the very first run needs --from or sync.start. Without --to it runs
to now. Windows are half-open [from, to); each window's query reaches sync.overlap further on
both sides, because the API does not say whether end_date is inclusive.

Each paid transaction becomes one balanced entry: Dr assets (net), Dr network fee, Dr service
fee, Cr income (gross), with USD values alongside. Pulling the same period again books
nothing twice. Unpaid transactions move no money and are only counted. A malformed record
(no id, unknown currency, a negative amount, fees above the amount, undecodable) is
quarantined with its reason and reported; it never stops the run.

If the API fails mid-window, that window is rolled back, the command exits 1 and says where
the next run will continue.

A --to after now is taken as now, with a note on stderr: what Nord PAY answers now holds
nothing later, and the stored watermark never moves past the time a window was fetched, so
the next plain sync continues from there. When the range is empty the command says why:
right after a sync without lookback there is nothing to pull (exit 0); a --to before where
the run would start (the watermark less sync.lookback, or sync.start) pulls nothing and is
a usage error (exit 2): give --from as well to pull an earlier range again. A --from after
now is a usage error too.`,
		Example: `  # the first run: everything since October
  nordpay-jobs sync --from 2026-10-01

  # nightly: from the watermark (minus the lookback) to now
  nordpay-jobs sync

  # one day of wallet transactions again, as JSON for a script
  nordpay-jobs sync --from 2026-11-01 --to 2026-11-02 --source wallet --json`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			opts, err := syncOptions(m.Config.Sync, from, to, source, window)
			if err != nil {
				return err
			}
			if now := m.Now().UTC(); opts.From.After(now) {
				return usagef("--from %s is in the future (now is %s): nothing to pull", from, now.Format(time.RFC3339))
			}
			conn, err := m.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			client, err := m.Client()
			if err != nil {
				return err
			}
			s := &jobs.Syncer{Client: client, Store: ledger.NewStore(conn, m.Config.Ledger.Accounts),
				Chart: m.Config.Ledger.Accounts, Now: m.Now, Logger: m.Logger}
			if !noBar && isTerminal(m.Err) {
				bar := &barProgress{w: m.Err}
				s.Progress = bar
				defer bar.finish()
				s.Logger = nil // the bar says it; a log line per window would tear it
			}
			res, err := s.Run(cmd.Context(), opts)
			if s.Progress != nil {
				s.Progress.(*barProgress).finish()
			}
			if !res.CappedTo.IsZero() && len(res.Sources) > 0 {
				fmt.Fprintf(m.Err, "note: --to %s is in the future: pulled up to now, %s; the next sync continues from there\n",
					to, res.Sources[0].To.Format(time.RFC3339))
			}
			if asJSON {
				if perr := m.printJSON(res); perr != nil {
					return perr
				}
			} else {
				printSyncSummary(m.Out, res)
			}
			if err != nil {
				return err
			}
			return emptyRangeError(res, to, m.Config.Sync)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start of the range: a date (2026-10-01, midnight UTC) or an RFC 3339 time")
	f.StringVar(&to, "to", "", "end of the range, exclusive (default now)")
	f.StringVar(&source, "source", "all", "which transactions: invoice, wallet or all")
	f.DurationVar(&window, "window", 0, "span of one window (default sync.window, 24h)")
	f.BoolVar(&asJSON, "json", false, `print {"fetched", "booked", "already_booked", "unpaid", "quarantined", ...}`)
	f.BoolVar(&noBar, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

// syncOptions merges the flags over the configuration.
func syncOptions(c config.Sync, from, to, source string, window time.Duration) (jobs.SyncOptions, error) {
	opts := jobs.SyncOptions{Window: c.Window.D(), Overlap: c.Overlap.D(), Lookback: c.Lookback.D(), Sources: c.Sources}
	var err error
	if c.Start != "" {
		if opts.Start, err = config.ParseTime(c.Start); err != nil {
			return opts, err
		}
	}
	if from != "" {
		if opts.From, err = config.ParseTime(from); err != nil {
			return opts, usagef("--from: %v", err)
		}
	}
	if to != "" {
		if opts.To, err = config.ParseTime(to); err != nil {
			return opts, usagef("--to: %v", err)
		}
	}
	if !opts.From.IsZero() && !opts.To.IsZero() && !opts.From.Before(opts.To) {
		return opts, usagef("--from %s is not before --to %s", from, to)
	}
	switch source {
	case "all", "":
	case ledger.SourceInvoice, ledger.SourceWallet:
		opts.Sources = []string{source}
	default:
		return opts, usagef("--source %q: want invoice, wallet or all", source)
	}
	if window != 0 {
		if window < time.Minute {
			return opts, usagef("--window %s: want at least 1m", window)
		}
		opts.Window = window
		if opts.Overlap >= window {
			opts.Overlap = window / 2
		}
	}
	return opts, nil
}

// emptyRangeError is the error of a run that pulled nothing for a reason the command line
// or the configuration explains (a range that ends before it starts); nil when every empty
// range is simply up to date. to is the --to flag as given.
func emptyRangeError(r jobs.SyncResult, to string, c config.Sync) error {
	for _, s := range r.Sources {
		if s.Empty != jobs.EmptyEndsBeforeStart {
			continue
		}
		end := s.To.Format(time.RFC3339)
		switch {
		case to != "" && s.FromWatermark:
			return usagef("nothing to pull: --to %s ends before where the %s sync would start, %s (its watermark %s less sync.lookback %s); that range was pulled already: give --from as well to pull it again",
				to, s.Source, s.From.Format(time.RFC3339), s.Watermark.Format(time.RFC3339), c.Lookback.D())
		case to != "":
			return usagef("nothing to pull: --to %s is not after sync.start %s, where the first %s sync starts: give --from as well",
				to, c.Start, s.Source)
		case s.FromWatermark:
			// A watermark a little after now (another replica's clock runs ahead), and no
			// lookback: nothing to pull yet.
		default:
			return fmt.Errorf("sync: nothing to pull: sync.start %s, where the first %s sync starts, is not before now (%s)", c.Start, s.Source, end)
		}
	}
	return nil
}

// printSyncSummary writes what a sync did, for people.
func printSyncSummary(w io.Writer, r jobs.SyncResult) {
	for _, s := range r.Sources {
		switch s.Empty {
		case "":
			fmt.Fprintf(w, "synced %s transactions from %s to %s\n", s.Source, s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
		case jobs.EmptyUpToDate:
			fmt.Fprintf(w, "nothing to pull for %s: synced up to %s already\n", s.Source, s.To.Format(time.RFC3339))
		default:
			fmt.Fprintf(w, "nothing to pull for %s: the range from %s to %s ends before it starts\n", s.Source,
				s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
		}
	}
	fmt.Fprintf(w, "windows %d: fetched %d, booked %d new, %d already booked, %d unpaid, %d quarantined\n",
		r.Windows, r.Fetched, r.Booked, r.AlreadyBooked, r.Unpaid, r.Quarantined)
	if len(r.Totals) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "currency\tentries\tgross\tnetwork fees\tservice fees\tnet\t")
		for _, t := range r.Totals {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", t.Currency, t.Entries, t.Gross, t.NetworkFees, t.ServiceFees, t.Net)
		}
		tw.Flush()
	}
	if len(r.QuarantineReasons) > 0 {
		reasons := make([]string, 0, len(r.QuarantineReasons))
		for reason, n := range r.QuarantineReasons {
			reasons = append(reasons, fmt.Sprintf("%d %s", n, reason))
		}
		sort.Strings(reasons)
		fmt.Fprintf(w, "quarantined records (not booked; see nordpay-jobs ledger quarantine): %s\n", strings.Join(reasons, ", "))
	}
	if r.QuarantineResolved > 0 {
		fmt.Fprintf(w, "%d quarantined record(s) resolved by booking their corrected version\n", r.QuarantineResolved)
	}
}

// isTerminal reports whether w is a terminal, where a progress bar belongs.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// barProgress draws the sync's progress on a terminal: windows done, transactions fetched.
type barProgress struct {
	w       io.Writer
	bar     *progressbar.ProgressBar
	fetched int64
	done    bool
}

func (p *barProgress) Planned(windows int) {
	p.bar = progressbar.NewOptions(windows,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("sync"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
}

func (p *barProgress) WindowDone(source string, w nordpay.Window, r jobs.WindowResult) {
	p.fetched += r.Fetched
	p.bar.Describe(fmt.Sprintf("sync %s %s, %d transactions", source, w.Start.Format("2006-01-02"), p.fetched))
	_ = p.bar.Add(1)
}

func (p *barProgress) finish() {
	if p.bar != nil && !p.done {
		p.done = true
		_ = p.bar.Finish()
	}
}
