// Package jobs holds the jobs nordpay-jobs runs: the transaction sync now, and statements,
// reconciliation, the payout inbox and the scheduler as they land.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// ErrNoStart is returned by a first sync that has neither a --from nor a configured start.
var ErrNoStart = errors.New("sync: nothing has been synced yet and no start is given: pass --from (e.g. --from 2026-01-01) or set sync.start in the config")

// ErrFutureWatermark is wrapped by the error of a run that finds a source's stored
// watermark after now (see FutureWatermarkError).
var ErrFutureWatermark = errors.New("sync: the stored watermark is after now")

// FutureWatermarkError is a source whose stored watermark is after now. Nothing stores
// one any more (a window's watermark is at most the time it was fetched), but a sync with
// a --to in the future did before: every later sync from the watermark would start after
// what that run never saw, pull nothing, and succeed. A run with an explicit From pulls
// the range again and brings the watermark back.
type FutureWatermarkError struct {
	Source    string
	Watermark time.Time
	Now       time.Time
	// RunStarted is when the first sync run that reached the watermark started; zero when
	// no run record says. SuggestedFrom is where to pull from again: that run's start less
	// the lookback, at midnight UTC (the watermark less a day less the lookback when
	// unknown, and never after now).
	RunStarted, SuggestedFrom time.Time
}

func (e *FutureWatermarkError) Error() string {
	by := "a sync with --to in the future stored it"
	if !e.RunStarted.IsZero() {
		by = fmt.Sprintf("a sync with --to in the future, started %s, stored it", e.RunStarted.Format(time.RFC3339))
	}
	return fmt.Sprintf("sync: the %s watermark %s is after now (%s): %s, so what Nord PAY has shown since that run may never have been pulled, and a sync from the watermark would pull nothing; pull it again once, from before that run: nordpay-jobs sync --from %s, which brings the watermark back to now",
		e.Source, e.Watermark.Format(time.RFC3339), e.Now.Format(time.RFC3339), by, e.SuggestedFrom.Format(time.DateOnly))
}

func (e *FutureWatermarkError) Unwrap() error { return ErrFutureWatermark }

// watermarkSkew is how far after now a stored watermark may be before it is a
// FutureWatermarkError: another replica whose clock runs a little ahead stores its own
// fetch time. A watermark within it is taken as it is (less the lookback), and the next
// window stored replaces it with the fetch time.
const watermarkSkew = time.Minute

// Why a source's range was empty (SourceRange.Empty).
const (
	// EmptyUpToDate: the range starts where it ends: the source is synced up to its end
	// already (a run right after another, without lookback).
	EmptyUpToDate = "up to date"
	// EmptyEndsBeforeStart: the range ends before it starts: To is before the watermark
	// less the lookback (what ends there was pulled already), or not after Start.
	EmptyEndsBeforeStart = "ends before its start"
)

// SyncOptions say what to pull. Zero values take the defaults they name.
type SyncOptions struct {
	// From is where the pull starts. Defaults to the source's watermark minus Lookback, or
	// Start when the source has never been synced. It must not be after To (or now).
	From time.Time
	// To is where it ends (exclusive). Defaults to now; a To after now is taken as now
	// (SyncResult.CappedTo says so): what the API answers now holds nothing later, and a
	// watermark past now would make the next run skip what appears until then.
	To time.Time
	// Sources are ledger.SourceInvoice and/or ledger.SourceWallet. Defaults to both.
	Sources []string
	// Window is the span of one API call and one database transaction. Defaults to 24h.
	Window time.Duration
	// Overlap widens each window's query on both sides. Defaults to 0.
	Overlap time.Duration
	// Lookback is how far before the watermark a run without From starts. Defaults to 0.
	Lookback time.Duration
	// Start is where the first sync of a source begins when From is zero.
	Start time.Time
}

// Syncer pulls Nord PAY transactions into the ledger, window by window. Each window is one
// database transaction; the watermark of a source moves only when its window commits, so a
// run that fails or is killed is continued by the next one, and nothing is booked twice.
type Syncer struct {
	Client *nordpay.Client
	Store  *ledger.Store
	Chart  ledger.Chart
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger gets a line per window. Defaults to discarding.
	Logger *slog.Logger
	// Progress, if set, is told the plan and each finished window (for a progress bar).
	Progress Progress
}

// Progress follows a sync.
type Progress interface {
	// Planned is called once with the number of windows the run will pull.
	Planned(windows int)
	// WindowDone is called after each window commits.
	WindowDone(source string, w nordpay.Window, r WindowResult)
}

// WindowResult counts what one window did.
type WindowResult struct {
	Fetched, Booked, AlreadyBooked, Unpaid, Quarantined int64
	// QuarantineResolved counts the quarantined records resolved because the window booked
	// their corrected version.
	QuarantineResolved int64
}

// SyncResult is what a run did; its JSON form is the contract of `sync --json`.
type SyncResult struct {
	Fetched       int64 `json:"fetched"`
	Booked        int64 `json:"booked"`
	AlreadyBooked int64 `json:"already_booked"`
	Unpaid        int64 `json:"unpaid"`
	Quarantined   int64 `json:"quarantined"`
	// Windows is how many windows were pulled.
	Windows int `json:"windows"`
	// Sources lists, per source, the range pulled.
	Sources []SourceRange `json:"sources"`
	// Totals are per currency sums of what was newly booked.
	Totals []CurrencyTotal `json:"totals"`
	// QuarantineReasons counts this run's quarantined records by reason.
	QuarantineReasons map[string]int64 `json:"quarantine_reasons,omitempty"`
	// QuarantineResolved counts the quarantined records (of earlier runs or this one)
	// resolved because this run booked their corrected version.
	QuarantineResolved int64 `json:"quarantine_resolved,omitempty"`
	// CappedTo is the To asked for when it was after now and the run pulled up to now
	// instead; zero otherwise.
	CappedTo time.Time `json:"to_capped_from,omitzero"`
}

// SourceRange is the span one source was pulled over.
type SourceRange struct {
	Source string    `json:"source"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Watermark is the source's watermark as the run found it; zero when never synced.
	Watermark time.Time `json:"watermark,omitzero"`
	// FromWatermark says From is the watermark less the lookback; FromStart that it is
	// SyncOptions.Start (the source's first sync).
	FromWatermark bool `json:"-"`
	FromStart     bool `json:"-"`
	// Empty says why nothing was pulled (EmptyUpToDate, EmptyEndsBeforeStart); "" when
	// the range was not empty.
	Empty string `json:"empty,omitempty"`
}

// CurrencyTotal sums newly booked transactions of one currency. Amounts are JSON strings.
type CurrencyTotal struct {
	Currency    string          `json:"currency"`
	Entries     int64           `json:"entries"`
	Gross       decimal.Decimal `json:"gross"`
	NetworkFees decimal.Decimal `json:"network_fees"`
	ServiceFees decimal.Decimal `json:"service_fees"`
	Net         decimal.Decimal `json:"net"`
}

// WindowError is a failed window: nothing of it was booked, and the watermark stayed before it.
type WindowError struct {
	Source string
	Window nordpay.Window
	Err    error
}

func (e *WindowError) Error() string {
	return fmt.Sprintf("sync: %s window %s to %s: %v; nothing of this window was booked, and the next run starts again from %s",
		e.Source, e.Window.Start.Format(time.RFC3339), e.Window.End.Format(time.RFC3339), e.Err, e.Window.Start.Format(time.RFC3339))
}

func (e *WindowError) Unwrap() error { return e.Err }

// plan is one source's windows.
type plan struct {
	source    string
	from, to  time.Time
	watermark time.Time
	windows   []nordpay.Window
}

// Run pulls every source over its range. It refreshes the currency list first (unknown
// currencies are quarantined, not booked).
func (s *Syncer) Run(ctx context.Context, opts SyncOptions) (SyncResult, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(opts.Sources) == 0 {
		opts.Sources = []string{ledger.SourceInvoice, ledger.SourceWallet}
	}
	if opts.Window <= 0 {
		opts.Window = 24 * time.Hour
	}
	res := SyncResult{QuarantineReasons: map[string]int64{}}

	currencies, err := s.Client.Currencies(ctx)
	if err != nil {
		return res, fmt.Errorf("sync: fetching the currency list: %w", err)
	}
	if err := s.Store.SaveCurrencies(ctx, currencies); err != nil {
		return res, err
	}
	known := make(map[string]bool, len(currencies))
	for _, c := range currencies {
		known[c.Name] = true
	}

	// Shared with every other sync; `ledger opening-balances` takes it alone to keep syncs
	// out while it reads the ledger and GET /balance/.
	release, err := s.Store.SyncLock(ctx)
	if err != nil {
		return res, err
	}
	defer func() {
		if rerr := release(); rerr != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "sync: lock not released cleanly", slog.String("error", rerr.Error()))
		}
	}()

	nowT := now().UTC()
	to := opts.To.UTC()
	if to.IsZero() || to.After(nowT) {
		if !to.IsZero() {
			res.CappedTo = to
		}
		to = nowT
	}
	var plans []plan
	total := 0
	for _, source := range opts.Sources {
		if source != ledger.SourceInvoice && source != ledger.SourceWallet {
			return res, fmt.Errorf("sync: unknown source %q (want %s or %s)", source, ledger.SourceInvoice, ledger.SourceWallet)
		}
		wm, ok, err := s.Store.Watermark(ctx, source)
		if err != nil {
			return res, err
		}
		sr := SourceRange{Source: source, Watermark: wm, From: opts.From.UTC()}
		switch {
		case !opts.From.IsZero():
			if sr.From.After(to) {
				return res, fmt.Errorf("sync: the range of %s starts at %s, after its end %s (now is %s)", source,
					sr.From.Format(time.RFC3339), to.Format(time.RFC3339), nowT.Format(time.RFC3339))
			}
		case ok && wm.After(nowT.Add(watermarkSkew)):
			return res, s.futureWatermark(ctx, source, wm, nowT, opts.Lookback)
		case ok:
			sr.From, sr.FromWatermark = wm.Add(-opts.Lookback), true
		case !opts.Start.IsZero():
			sr.From, sr.FromStart = opts.Start.UTC(), true
		default:
			return res, ErrNoStart
		}
		sr.To = to
		switch {
		case sr.From.Equal(to):
			sr.Empty = EmptyUpToDate
		case sr.From.After(to):
			sr.Empty = EmptyEndsBeforeStart
		}
		res.Sources = append(res.Sources, sr)
		if sr.Empty != "" {
			logger.LogAttrs(ctx, slog.LevelInfo, "sync: nothing to pull", slog.String("source", source),
				slog.Time("from", sr.From), slog.Time("to", to), slog.String("why", sr.Empty))
			continue
		}
		p := plan{source: source, from: sr.From, to: to, watermark: wm, windows: splitWindows(sr.From, to, opts.Window)}
		total += len(p.windows)
		plans = append(plans, p)
	}
	if s.Progress != nil {
		s.Progress.Planned(total)
	}
	totals := map[string]*CurrencyTotal{}
	for _, p := range plans {
		if err := s.runSource(ctx, p, opts, known, &res, totals, logger, now); err != nil {
			res.Totals = sortedTotals(totals)
			return res, err
		}
	}
	res.Totals = sortedTotals(totals)
	if res.Booked > 0 {
		if err := s.Store.Analyze(ctx); err != nil {
			// What was booked stays booked; only later reads are planned less well.
			logger.LogAttrs(ctx, slog.LevelWarn, "sync: statistics not refreshed", slog.String("error", err.Error()))
		}
	}
	return res, nil
}

// futureWatermark explains a stored watermark after now, with the run that stored it.
func (s *Syncer) futureWatermark(ctx context.Context, source string, wm, now time.Time, lookback time.Duration) error {
	e := &FutureWatermarkError{Source: source, Watermark: wm, Now: now}
	started, ok, err := s.Store.FirstSyncRunReaching(ctx, source, wm)
	if err != nil {
		return err
	}
	from := wm.AddDate(0, 0, -1)
	if ok {
		e.RunStarted, from = started, started
	}
	from = from.Add(-lookback)
	if from.After(now) {
		from = now.Add(-lookback)
	}
	e.SuggestedFrom = from.Truncate(24 * time.Hour)
	return e
}

// runSource pulls one source's windows in order, recording the run.
func (s *Syncer) runSource(ctx context.Context, p plan, opts SyncOptions, known map[string]bool, res *SyncResult,
	totals map[string]*CurrencyTotal, logger *slog.Logger, now func() time.Time) error {
	run := ledger.SyncRun{Source: p.source, From: p.from, To: p.to, StartedAt: now()}
	id, err := s.Store.StartSyncRun(ctx, p.source, p.from, p.to)
	if err != nil {
		return err
	}
	run.ID = id
	finish := func(runErr error) error {
		run.FinishedAt = now()
		run.Status = "ok"
		if runErr != nil {
			run.Status = "failed"
			run.Error = runErr.Error()
		}
		// The run record is written even when the context is gone, so that a failure shows.
		ferr := s.Store.FinishSyncRun(context.WithoutCancel(ctx), run)
		return errors.Join(runErr, ferr)
	}
	// Two stages, overlapped: while window k commits (PostgreSQL's work), window k+1 is
	// fetched, decoded and copied into its own batch (the API's and Go's work, and the COPY's
	// parsing). Commits stay in window order, one at a time, and a window is committed only
	// after the one before it, so the watermark never runs ahead of what is booked, and a
	// window that fails stops the run with every later window rolled back.
	var inflight *pendingWindow
	collect := func() error {
		if inflight == nil {
			return nil
		}
		pw := inflight
		inflight = nil
		<-pw.done
		wr := pw.wr
		if pw.err == nil {
			wr.Booked = int64(pw.res.Booked)
			wr.AlreadyBooked = int64(pw.res.AlreadyBooked)
			wr.Quarantined = int64(pw.res.Quarantined)
			wr.QuarantineResolved = int64(pw.res.QuarantineResolved)
			s.addTotals(totals, pw.res.Totals)
		} else {
			wr = WindowResult{}
		}
		run.Fetched += wr.Fetched
		run.Booked += wr.Booked
		run.AlreadyBooked += wr.AlreadyBooked
		run.Unpaid += wr.Unpaid
		run.Quarantined += wr.Quarantined
		res.Fetched += wr.Fetched
		res.Booked += wr.Booked
		res.AlreadyBooked += wr.AlreadyBooked
		res.Unpaid += wr.Unpaid
		res.Quarantined += wr.Quarantined
		res.QuarantineResolved += wr.QuarantineResolved
		if pw.err != nil {
			return &WindowError{Source: p.source, Window: pw.w, Err: pw.err}
		}
		for reason, n := range pw.reasons {
			res.QuarantineReasons[reason] += n
		}
		res.Windows++
		logger.LogAttrs(ctx, slog.LevelInfo, "sync: window booked", slog.String("source", p.source),
			slog.Time("from", pw.w.Start), slog.Time("to", pw.w.End), slog.Int64("fetched", wr.Fetched),
			slog.Int64("booked", wr.Booked), slog.Int64("already_booked", wr.AlreadyBooked),
			slog.Int64("unpaid", wr.Unpaid), slog.Int64("quarantined", wr.Quarantined),
			slog.Int64("quarantine_resolved", wr.QuarantineResolved))
		if s.Progress != nil {
			s.Progress.WindowDone(p.source, pw.w, wr)
		}
		return nil
	}
	watermark := p.watermark
	for _, w := range p.windows {
		pw, err := s.stageWindow(ctx, p.source, w, opts.Overlap, known, watermark, now)
		if cerr := collect(); cerr != nil {
			if pw != nil {
				_ = pw.batch.Rollback() // a later window is never committed after a failed one
			}
			return finish(cerr)
		}
		if err != nil {
			return finish(&WindowError{Source: p.source, Window: w, Err: err})
		}
		if !pw.watermark.IsZero() {
			watermark = pw.watermark
		}
		pw.commit(ctx)
		inflight = pw
	}
	return finish(collect())
}

// pendingWindow is a window fetched and staged in its batch, committing or committed.
type pendingWindow struct {
	w     nordpay.Window
	batch *ledger.Batch
	// watermark is what the batch stores as the source's watermark; zero when it leaves
	// the stored one alone.
	watermark time.Time
	wr        WindowResult     // what staging counted
	reasons   map[string]int64 // quarantine reasons counted while staging
	done      chan struct{}    // closed when the commit has returned
	res       ledger.BatchResult
	err       error
}

// commit commits the window's batch in the background; done is closed when it returns.
func (pw *pendingWindow) commit(ctx context.Context) {
	pw.done = make(chan struct{})
	go func() {
		defer close(pw.done)
		pw.res, pw.err = pw.batch.Commit(ctx)
	}()
}

// stageWindow streams one window into a new batch with the window's watermark, ready to
// commit. The watermark is the window's end, or the time the window was fetched (by the
// Syncer's clock) when that is earlier: the API's answer holds nothing created after it.
// It is set when it moves the stored one (watermark) forward, or when the stored one is
// after the fetch time, which no fetch can have reached. On error the batch is rolled back
// and nil returned.
func (s *Syncer) stageWindow(ctx context.Context, source string, w nordpay.Window, overlap time.Duration, known map[string]bool,
	watermark time.Time, now func() time.Time) (*pendingWindow, error) {
	batch, err := s.Store.BeginBatch(ctx)
	if err != nil {
		return nil, err
	}
	pw := &pendingWindow{w: w, batch: batch, reasons: map[string]int64{}}
	fetched := now().UTC()
	if err := s.fillBatch(ctx, pw, source, overlap, known); err != nil {
		_ = batch.Rollback() // the error that matters is err
		return nil, err
	}
	at := w.End
	if at.After(fetched) {
		at = fetched
	}
	if at.After(watermark) || watermark.After(fetched) {
		batch.SetWatermarkFetched(source, at, fetched)
		pw.watermark = at
	}
	return pw, nil
}

// fillBatch fetches the window (widened by overlap on both sides) and adds each paid
// transaction to the batch; malformed ones are quarantined in it, unpaid ones counted.
func (s *Syncer) fillBatch(ctx context.Context, pw *pendingWindow, source string, overlap time.Duration, known map[string]bool) error {
	isKnown := func(c string) bool { return known[c] }
	query := nordpay.Window{Start: pw.w.Start.Add(-overlap), End: pw.w.End.Add(overlap)}
	for tx, err := range s.Client.Transactions(ctx, source, query) {
		var rec *nordpay.RecordError
		switch {
		case errors.As(err, &rec):
			pw.wr.Fetched++
			pw.batch.Quarantine(ledger.Quarantined{Source: source, ExternalID: rawID(rec.Raw), Reason: ledger.ReasonUndecodable,
				Detail: rec.Err.Error(), Raw: rec.Raw})
			pw.reasons[ledger.ReasonUndecodable]++
			continue
		case err != nil:
			return err
		}
		pw.wr.Fetched++
		if problem := ledger.CheckTransaction(tx, source, isKnown); problem != nil {
			raw, merr := nordpay.Marshal(tx)
			if merr != nil {
				raw = []byte(fmt.Sprintf("%+v", *tx))
			}
			pw.batch.Quarantine(ledger.Quarantined{Source: source, ExternalID: tx.ID.String(), Reason: problem.Reason, Detail: problem.Detail, Raw: raw})
			pw.reasons[problem.Reason]++
			continue
		}
		if !tx.IsPaid {
			pw.wr.Unpaid++
			continue
		}
		entry := s.Chart.TransactionEntry(tx, source)
		if err := pw.batch.Add(ctx, &entry); err != nil {
			return err
		}
	}
	return nil
}

// rawID returns the id of an undecodable record when its "id" alone still reads as one
// (the record broke elsewhere), spelled as a decoded transaction's id is, so that booking
// the corrected record later resolves the quarantined one; otherwise "".
func rawID(raw []byte) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return ""
	}
	var id nordpay.ID
	if f, ok := fields["id"]; !ok || id.UnmarshalJSON(f) != nil {
		return ""
	}
	return strings.TrimSpace(id.String())
}

// addTotals folds newly booked per-account sums into per-currency gross, fees and net.
func (s *Syncer) addTotals(totals map[string]*CurrencyTotal, accts []ledger.AccountTotal) {
	for _, a := range accts {
		t := totals[a.Currency]
		if t == nil {
			t = &CurrencyTotal{Currency: a.Currency}
			totals[a.Currency] = t
		}
		switch a.Account {
		case s.Chart.AssetsAccount(a.Currency):
			t.Net = t.Net.Add(a.Amount)
			t.Entries += int64(a.Entries)
		case ledger.AccountName(s.Chart.NetworkFees, a.Currency):
			t.NetworkFees = t.NetworkFees.Add(a.Amount)
		case ledger.AccountName(s.Chart.ServiceFees, a.Currency):
			t.ServiceFees = t.ServiceFees.Add(a.Amount)
		case ledger.AccountName(s.Chart.InvoiceIncome, a.Currency), ledger.AccountName(s.Chart.WalletIncome, a.Currency):
			t.Gross = t.Gross.Sub(a.Amount)
		}
	}
}

func sortedTotals(m map[string]*CurrencyTotal) []CurrencyTotal {
	out := make([]CurrencyTotal, 0, len(m))
	for _, t := range m {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// splitWindows cuts [from, to) into windows aligned to multiples of size since the Unix epoch
// (whole UTC days for the default 24h), so that the same period is always pulled the same way.
func splitWindows(from, to time.Time, size time.Duration) []nordpay.Window {
	var out []nordpay.Window
	for start := from; start.Before(to); {
		end := start.Truncate(size).Add(size)
		if end.After(to) {
			end = to
		}
		out = append(out, nordpay.Window{Start: start, End: end})
		start = end
	}
	return out
}
