package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// ReconcileOptions say which month to reconcile and how to pull it again from Nord PAY.
type ReconcileOptions struct {
	// Month is any time in the month to reconcile: the UTC calendar month
	// [first day, first day of the next month).
	Month time.Time
	// Window is the span of one API call of the re-pull. The month is pulled window by
	// window, plus one window on each side of it (the margins), so that a record the API
	// files under a neighbouring window is still found. Defaults to 24h.
	Window time.Duration
	// Overlap widens each call's query on both sides, because the API documents neither
	// whether end_date is inclusive nor how exactly it reads the bounds. Records are
	// deduplicated on their id, never judged by the bounds of the query that returned them;
	// those outside the month only pair an entry whose time moved. Defaults to 5 minutes.
	Overlap time.Duration
	// UnknownPayouts lists the payout chunks whose confirm has an unknown outcome (the
	// command and the reconcile job read them from the payouts store). When nil, the check is
	// reported as not applicable, never as passed.
	UnknownPayouts func(ctx context.Context) ([]PayoutException, error)
	// Progress, if set, is told how far the re-pull of the month has got (for a progress
	// bar): once before the first window, every 10,000 records read, and after each window.
	// The counts never go down; the last call has WindowsDone equal to Windows, and the
	// comparison with the ledger follows it. It runs on Run's goroutine and should return
	// quickly. Nil reports nothing (the reconcile job passes nil).
	Progress func(ReconcileProgress)
}

// ReconcileProgress is how far the re-pull of a month has got.
type ReconcileProgress struct {
	// Windows is the number of API calls of the whole re-pull (every source, the margins
	// included); WindowsDone of them are done.
	Windows, WindowsDone int
	// Fetched counts the records read so far, as ReconcileResult.Fetched does.
	Fetched int64
}

// reconcileProgressEvery is how many records the re-pull reads between two progress calls
// within a window.
const reconcileProgressEvery = 10_000

// PayoutException is a payout chunk in an unknown state: its confirm may have executed, so
// money may have left without a withdrawal entry, until a person resolves it.
type PayoutException struct {
	Batch      string
	Chunk      int
	Currency   string
	Rows       int
	Amount     decimal.Decimal
	Identifier string
	// Since is when the chunk went into the unknown state.
	Since  time.Time
	Detail string
}

// Reconciler makes the monthly reconciliation report: the ledger's movements per currency
// and per day, and the checks against Nord PAY (completeness of the month, balance now,
// payouts in an unknown state, quarantined records).
type Reconciler struct {
	Client *nordpay.Client
	Store  *ledger.Store
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger gets a line per phase. Defaults to discarding.
	Logger *slog.Logger
}

// ReconcileResult is the report and what making it cost.
type ReconcileResult struct {
	Report *exporters.Reconciliation
	// Fetched counts the records the re-pull read (including the margins and those of
	// overlapping queries that were dropped).
	Fetched int64
	// APIPull is the time of the re-pull (the API, decoding, and copying the facts into the
	// database); Ledger the time of everything else: the ledger's summary and the comparison
	// in SQL, the quarantine, building the report.
	APIPull, Ledger time.Duration
}

// MonthOf returns the UTC calendar month holding t, as [from, to).
func MonthOf(t time.Time) (from, to time.Time) {
	t = t.UTC()
	from = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 1, 0)
}

// Rules of the checks, as the report states them.
const (
	ruleMovements    = "opening + opening balances booked + receipts - network fees - service fees - payouts - payout fees = closing, per currency"
	ruleCompleteness = "every paid invoice and wallet transaction Nord PAY lists for the month is booked, once, with the same time, currency, amount and fees; nothing else is booked; a record Nord PAY serves unbookable passes only once its quarantine record (same source and fingerprint) is resolved"
	ruleBalance      = "the ledger's assets balance with everything booked equals GET /balance/, per currency, exactly"
	rulePayouts      = "no payout chunk is in an unknown state"
	ruleQuarantine   = "no quarantined record is unresolved, whatever its month: each unresolved one is listed until a sync books its corrected version or a person dismisses it (nordpay-jobs ledger quarantine resolve); resolved records are counted in the summary, not listed (ledger quarantine list --all shows them)"
)

// Run makes the report of one month. It reads the ledger in one snapshot, taken as it
// starts (before the re-pull); GET /balance/ is read right after. A sync running at the
// same time can make the balance check differ by what it books meanwhile: run the report
// when no sync runs, or run it again.
func (r *Reconciler) Run(ctx context.Context, opts ReconcileOptions) (*ReconcileResult, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	logger := r.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Month.IsZero() {
		return nil, errors.New("reconcile: no month given")
	}
	if opts.Window <= 0 {
		opts.Window = 24 * time.Hour
	}
	if opts.Overlap <= 0 {
		opts.Overlap = 5 * time.Minute
	}
	from, to := MonthOf(opts.Month)
	res := &ReconcileResult{}
	started := time.Now()

	apiCurrencies, err := r.Client.Currencies(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: fetching the currency list: %w", err)
	}
	stored, err := r.Store.Currencies(ctx)
	if err != nil {
		return nil, err
	}
	decimals := map[string]int32{}
	for name, c := range stored {
		decimals[name] = int32(c.Decimals)
	}
	known := make(map[string]bool, len(apiCurrencies))
	for _, c := range apiCurrencies {
		known[c.Name] = true
		decimals[c.Name] = int32(c.Decimals)
	}

	cmp, err := r.Store.BeginComparison(ctx, from, to)
	if err != nil {
		return nil, err
	}
	defer cmp.Rollback() //nolint:errcheck // after Compare it does nothing; on failure the error that matters is returned
	balances, err := r.Client.Balances(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: fetching the balances: %w", err)
	}
	resolved, err := resolvedQuarantine(ctx, r.Store)
	if err != nil {
		return nil, err
	}
	p := &repull{cmp: cmp, chart: r.Store.Chart(), known: known, seen: map[[32]byte]bool{}, ids: newIDSet(),
		progress: opts.Progress, resolved: resolved, dismissed: map[unbookableKey]int{}}
	// The month's windows, and one more on each side of it: see source.
	windows := splitWindows(from.Add(-opts.Window), to.Add(opts.Window), opts.Window)
	sources := []string{ledger.SourceInvoice, ledger.SourceWallet}
	p.windows = len(sources) * len(windows)
	p.report()
	for _, source := range sources {
		if err := p.source(ctx, r.Client, source, windows, opts.Overlap); err != nil {
			return nil, err
		}
	}
	res.Fetched = p.fetched
	res.APIPull = time.Since(started)
	logger.LogAttrs(ctx, slog.LevelInfo, "reconcile: month pulled again", slog.Time("from", from), slog.Time("to", to),
		slog.Int64("fetched", p.fetched), slog.Duration("took", res.APIPull))

	started = time.Now()
	cres, err := cmp.Compare(ctx)
	if err != nil {
		return nil, err
	}
	quarantine, err := r.Store.QuarantinedRecords(ctx, ledger.QuarantineFilter{})
	if err != nil {
		return nil, err
	}
	quarantineCounts, err := r.Store.CountQuarantine(ctx)
	if err != nil {
		return nil, err
	}
	payoutsCheck := exporters.ReconciliationCheck{Name: exporters.CheckPayouts, Rule: rulePayouts,
		Status: exporters.CheckNotApplicable, Summary: "not applicable: payout chunks were not looked at"}
	if opts.UnknownPayouts != nil {
		unknown, err := opts.UnknownPayouts(ctx)
		if err != nil {
			return nil, fmt.Errorf("reconcile: listing the payout chunks in an unknown state: %w", err)
		}
		payoutsCheck = checkPayouts(unknown)
	}

	rep := &exporters.Reconciliation{Month: from.Format("2006-01"), From: from, To: to, GeneratedAt: now().UTC()}
	b := reportBuilder{rep: rep, decimals: decimals}
	b.figures(cres, balances)
	rep.Checks = []exporters.ReconciliationCheck{
		b.checkMovements(),
		checkCompleteness(cres, p),
		b.checkBalance(),
		payoutsCheck,
		checkQuarantine(quarantine, quarantineCounts),
	}
	res.Report = rep
	res.Ledger = time.Since(started)
	logger.LogAttrs(ctx, slog.LevelInfo, "reconcile: compared with the ledger", slog.Int("differences", cres.Total),
		slog.Int("days_compared_by_entry", cres.DaysCompared), slog.Bool("reconciled", rep.Reconciled()),
		slog.Duration("took", res.Ledger))
	return res, nil
}

// repull streams the month from the API into the comparison.
type repull struct {
	cmp   *ledger.Comparison
	chart ledger.Chart
	known map[string]bool
	// seen holds the records without a time already added (they cannot be placed in a
	// window, so overlapping queries would add them twice).
	seen map[[32]byte]bool
	// ids holds the (source, id) of every record added: a record that several queries
	// return is added once.
	ids *idSet

	fetched, bookable, unpaid, unbookable int64

	// resolved holds the (source, fingerprint) of every resolved quarantined record;
	// dismissed counts, by the key of its Difference, each unbookable record of the re-pull
	// that is one of them (the same raw record as the sync quarantined it), so that the
	// completeness check counts it instead of failing on it.
	resolved  map[[2]string]bool
	dismissed map[unbookableKey]int

	// progress is ReconcileOptions.Progress; reported is fetched as last reported, windows
	// and windowsDone the windows of every source and those pulled.
	progress             func(ReconcileProgress)
	reported             int64
	windows, windowsDone int
}

// report tells the progress callback, if any, how far the re-pull is.
func (p *repull) report() {
	if p.progress == nil {
		return
	}
	p.reported = p.fetched
	p.progress(ReconcileProgress{Windows: p.windows, WindowsDone: p.windowsDone, Fetched: p.fetched})
}

// source pulls one source's windows: the month's, and one more on each side (Run cuts
// them, so that the progress knows their number beforehand). The documents leave open
// whether end_date is inclusive and how the API reads a bound (which time field, which
// zone, to what precision), so no record is judged by the bounds of the query that
// returned it: whatever any query returns is kept, once per (source, id), and the
// comparison places it by its created_at (outside the month, it only pairs an entry whose
// time moved). A record without an id cannot be told from its copies that way: it is kept
// by the window whose own range [start, end) holds its created_at.
func (p *repull) source(ctx context.Context, client *nordpay.Client, source string, windows []nordpay.Window, overlap time.Duration) error {
	isKnown := func(c string) bool { return p.known[c] }
	for _, w := range windows {
		query := nordpay.Window{Start: w.Start.Add(-overlap), End: w.End.Add(overlap)}
		for tx, err := range client.Transactions(ctx, source, query) {
			if p.progress != nil && p.fetched-p.reported >= reconcileProgressEvery {
				p.report()
			}
			var rec *nordpay.RecordError
			switch {
			case errors.As(err, &rec):
				p.fetched++
				if p.once(source, rec.Raw) {
					f := ledger.Fact{Source: source, State: ledger.FactUnbookable,
						Reason: ledger.ReasonUndecodable + ": " + rec.Err.Error() + "; raw " + reconShorten(string(rec.Raw))}
					p.noteResolved(f, rec.Raw)
					if err := p.cmp.Add(ctx, f); err != nil {
						return err
					}
					p.unbookable++
				}
				continue
			case err != nil:
				return fmt.Errorf("reconcile: pulling %s transactions from %s to %s again: %w", source,
					query.Start.Format(time.RFC3339), query.End.Format(time.RFC3339), err)
			}
			p.fetched++
			at := tx.CreatedAt.UTC()
			if id := tx.ID.String(); strings.TrimSpace(id) != "" {
				if !p.ids.add(source, id) {
					continue // another query returned it already
				}
			} else if !at.IsZero() && (at.Before(w.Start) || !at.Before(w.End)) {
				continue // another window's
			}
			if err := p.add(ctx, tx, source, at, isKnown); err != nil {
				return err
			}
		}
		p.windowsDone++
		p.report()
	}
	return nil
}

// idSet is a set of (source, id) keys. Ids written as canonical unsigned integers, as Nord
// PAY documents them, take 8 bytes each: a month of a million records holds a few tens of
// MB.
type idSet struct {
	nums map[string]map[uint64]struct{}
	strs map[string]struct{}
}

func newIDSet() *idSet {
	return &idSet{nums: map[string]map[uint64]struct{}{}, strs: map[string]struct{}{}}
}

// add adds a key, reporting whether it was new.
func (s *idSet) add(source, id string) bool {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && (id == "0" || id[0] != '0') {
		m := s.nums[source]
		if m == nil {
			m = map[uint64]struct{}{}
			s.nums[source] = m
		}
		if _, ok := m[n]; ok {
			return false
		}
		m[n] = struct{}{}
		return true
	}
	key := source + "\x00" + id
	if _, ok := s.strs[key]; ok {
		return false
	}
	s.strs[key] = struct{}{}
	return true
}

// once reports whether a record without a time is seen for the first time.
func (p *repull) once(source string, raw []byte) bool {
	key := sha256.Sum256(append([]byte(source+"\x00"), raw...))
	if p.seen[key] {
		return false
	}
	p.seen[key] = true
	return true
}

// add classifies one transaction as the sync would (ledger.CheckTransaction, paid or not)
// and adds it: a bookable one as the entry the posting rule makes of it.
func (p *repull) add(ctx context.Context, tx *nordpay.Transaction, source string, at time.Time, isKnown func(string) bool) error {
	problem := ledger.CheckTransaction(tx, source, isKnown)
	if problem == nil && tx.IsPaid {
		entry := p.chart.TransactionEntry(tx, source)
		p.bookable++
		return p.cmp.AddEntry(ctx, &entry)
	}
	f := ledger.Fact{Source: source, ExternalID: tx.ID.String(), At: at, Currency: tx.Currency.Name,
		Gross: tx.Amount, NetworkFee: tx.NetworkFee, ServiceFee: tx.ServiceFee, Net: tx.Net(),
		TxHash: tx.TxHash, Label: tx.Source.Label, State: ledger.FactUnpaid}
	if problem != nil {
		if at.IsZero() && !p.once(source, []byte(f.ExternalID+"\x00"+problem.Error())) {
			return nil
		}
		f.State, f.Reason = ledger.FactUnbookable, problem.Error()
		p.unbookable++
		// The sync quarantines the record as it marshals it again (see Syncer.fillBatch).
		raw, err := nordpay.Marshal(tx)
		if err != nil {
			raw = []byte(fmt.Sprintf("%+v", *tx))
		}
		p.noteResolved(f, raw)
	} else {
		p.unpaid++
	}
	return p.cmp.Add(ctx, f)
}

// unbookableKey is what a DiffUnbookable difference and the fact it comes from share.
type unbookableKey struct{ source, externalID, reason string }

// noteResolved counts an unbookable fact whose raw record (as the sync quarantines it:
// the same source and fingerprint) has a resolved quarantine record.
func (p *repull) noteResolved(f ledger.Fact, raw []byte) {
	sum := sha256.Sum256(raw)
	if p.resolved[[2]string{f.Source, hex.EncodeToString(sum[:])}] {
		p.dismissed[unbookableKey{f.Source, f.ExternalID, f.Reason}]++
	}
}

// resolvedQuarantine returns the (source, fingerprint) of every resolved quarantined record.
func resolvedQuarantine(ctx context.Context, store *ledger.Store) (map[[2]string]bool, error) {
	records, err := store.QuarantinedRecords(ctx, ledger.QuarantineFilter{All: true})
	if err != nil {
		return nil, err
	}
	out := map[[2]string]bool{}
	for _, q := range records {
		if q.Resolved() {
			out[[2]string{q.Source, q.Fingerprint}] = true
		}
	}
	return out, nil
}

// reportBuilder turns the comparison into the report's figures.
type reportBuilder struct {
	rep      *exporters.Reconciliation
	decimals map[string]int32
}

func (b reportBuilder) places(currency string) int32 {
	if d, ok := b.decimals[currency]; ok {
		return d
	}
	return 8
}

// figures fills the per-currency and per-day figures.
func (b reportBuilder) figures(cres *ledger.ComparisonResult, balances []nordpay.Balance) {
	curs := map[string]*exporters.ReconciliationCurrency{}
	cur := func(name string) *exporters.ReconciliationCurrency {
		c := curs[name]
		if c == nil {
			c = &exporters.ReconciliationCurrency{Currency: name, Decimals: b.places(name)}
			curs[name] = c
		}
		return c
	}
	for _, s := range cres.Summary.Currencies {
		c := cur(s.Currency)
		c.Opening, c.Closing, c.LedgerBalance = s.Opening, s.Closing, s.Current
		c.InvoiceReceipts, c.InvoiceCount = s.InvoiceReceipts.Amount, s.InvoiceReceipts.Count
		c.WalletReceipts, c.WalletCount = s.WalletReceipts.Amount, s.WalletReceipts.Count
		c.NetworkFees, c.ServiceFees = s.NetworkFees.Amount, s.ServiceFees.Amount
		c.Payouts, c.PayoutCount, c.PayoutFees = s.Payouts.Amount, s.Payouts.Count, s.PayoutFees.Amount
		c.OpeningBalances = s.OpeningBalances.Amount
		c.Other = s.Other.Amount
	}
	type dayKey struct {
		day int64
		cur string
	}
	days := map[dayKey]*exporters.ReconciliationDay{}
	day := func(t time.Time, name string) *exporters.ReconciliationDay {
		k := dayKey{t.Unix(), name}
		d := days[k]
		if d == nil {
			d = &exporters.ReconciliationDay{Day: t.UTC(), Currency: name}
			days[k] = d
		}
		return d
	}
	for _, s := range cres.Summary.Days {
		d := day(s.Day, s.Currency)
		d.InvoiceCount, d.InvoiceGross = s.InvoiceReceipts.Count, s.InvoiceReceipts.Amount
		d.WalletCount, d.WalletGross = s.WalletReceipts.Count, s.WalletReceipts.Amount
		d.ReceiptsUSD = sumUSD(s.InvoiceReceipts, s.WalletReceipts)
		d.NetworkFees, d.ServiceFees = s.NetworkFees.Amount, s.ServiceFees.Amount
		d.FeesUSD = sumUSD(s.NetworkFees, s.ServiceFees)
		d.PayoutCount, d.Payouts, d.PayoutFees = s.Payouts.Count, s.Payouts.Amount, s.PayoutFees.Amount
		d.PayoutsUSD = sumUSD(s.Payouts, s.PayoutFees)
	}
	for _, f := range cres.Facts {
		c, d := cur(f.Currency), day(f.Day, f.Currency)
		switch f.State {
		case ledger.FactBookable:
			c.APIPaidCount += f.Count
			c.APIGross = c.APIGross.Add(f.Gross)
			c.APINetworkFees = c.APINetworkFees.Add(f.NetworkFee)
			c.APIServiceFees = c.APIServiceFees.Add(f.ServiceFee)
			d.APIPaidCount += f.Count
			d.APIGross = d.APIGross.Add(f.Gross)
			d.APINetworkFees = d.APINetworkFees.Add(f.NetworkFee)
			d.APIServiceFees = d.APIServiceFees.Add(f.ServiceFee)
		case ledger.FactUnpaid:
			c.APIUnpaidCount += f.Count
			c.APIUnpaidGross = c.APIUnpaidGross.Add(f.Gross)
			d.APIUnpaidCount += f.Count
		case ledger.FactUnbookable:
			c.APIUnbookableCount += f.Count
		}
	}
	for _, bal := range balances {
		if _, ok := curs[bal.Currency]; !ok && bal.Balance.IsZero() {
			continue // nothing on either side
		}
		c := cur(bal.Currency)
		c.APIBalance = decimal.NullDecimal{Decimal: bal.Balance, Valid: true}
	}
	for _, c := range curs {
		b.rep.Currencies = append(b.rep.Currencies, *c)
	}
	sort.Slice(b.rep.Currencies, func(i, j int) bool { return b.rep.Currencies[i].Currency < b.rep.Currencies[j].Currency })
	for _, d := range days {
		b.rep.Days = append(b.rep.Days, *d)
	}
	sort.Slice(b.rep.Days, func(i, j int) bool {
		x, y := b.rep.Days[i], b.rep.Days[j]
		if !x.Day.Equal(y.Day) {
			return x.Day.Before(y.Day)
		}
		return x.Currency < y.Currency
	})
}

// sumUSD is the USD value of two movements; invalid when a posting of either has none.
func sumUSD(a, b ledger.Movement) decimal.NullDecimal {
	x, y := a.USD(), b.USD()
	return decimal.NullDecimal{Decimal: x.Decimal.Add(y.Decimal), Valid: x.Valid && y.Valid}
}

func reconStatus(failed bool) exporters.CheckStatus {
	if failed {
		return exporters.CheckFailed
	}
	return exporters.CheckPassed
}

func (b reportBuilder) checkMovements() exporters.ReconciliationCheck {
	c := exporters.ReconciliationCheck{Name: exporters.CheckMovements, Rule: ruleMovements}
	for _, cur := range b.rep.Currencies {
		if cur.Difference().IsZero() {
			continue
		}
		c.Exceptions = append(c.Exceptions, exporters.ReconciliationException{
			Kind: "does not add up", Currency: cur.Currency, Field: "closing",
			Ledger: decimal.NullDecimal{Decimal: cur.Closing, Valid: true},
			Detail: fmt.Sprintf("opening %s + opening balances booked %s + receipts %s - network fees %s - service fees %s - payouts %s - payout fees %s = %s, but the closing balance is %s: the assets account moved %s against accounts outside the chart",
				cur.Opening, cur.OpeningBalances, cur.Receipts(), cur.NetworkFees, cur.ServiceFees, cur.Payouts, cur.PayoutFees,
				cur.ExpectedClosing(), cur.Closing, cur.Difference()),
		})
	}
	c.Total = len(c.Exceptions)
	c.Status = reconStatus(c.Total > 0)
	c.Summary = fmt.Sprintf("%d currencies; %d do not add up", len(b.rep.Currencies), c.Total)
	return c
}

func (b reportBuilder) checkBalance() exporters.ReconciliationCheck {
	c := exporters.ReconciliationCheck{Name: exporters.CheckBalance, Rule: ruleBalance}
	for _, cur := range b.rep.Currencies {
		if d := cur.BalanceDifference(); !d.IsZero() {
			detail := fmt.Sprintf("the ledger holds %s, Nord PAY says %s", cur.LedgerBalance, cur.APIBalance.Decimal)
			if !cur.APIBalance.Valid {
				detail = fmt.Sprintf("the ledger holds %s, Nord PAY does not list the currency", cur.LedgerBalance)
			}
			c.Exceptions = append(c.Exceptions, exporters.ReconciliationException{
				Kind: "balance differs", Currency: cur.Currency, Field: "balance",
				Ledger: decimal.NullDecimal{Decimal: cur.LedgerBalance, Valid: true}, API: cur.APIBalance, Detail: detail,
			})
		}
	}
	c.Total = len(c.Exceptions)
	c.Status = reconStatus(c.Total > 0)
	c.Summary = fmt.Sprintf("%d currencies compared; %d differ", len(b.rep.Currencies), c.Total)
	return c
}

func checkCompleteness(cres *ledger.ComparisonResult, p *repull) exporters.ReconciliationCheck {
	c := exporters.ReconciliationCheck{Name: exporters.CheckCompleteness, Rule: ruleCompleteness, Total: cres.Total}
	kinds := map[string]int{}
	dismissed, left := 0, maps.Clone(p.dismissed)
	for _, d := range cres.Differences {
		if k := (unbookableKey{d.Source, d.ExternalID, d.Reason}); d.Kind == ledger.DiffUnbookable && left[k] > 0 {
			// A person (or a sync) resolved its quarantine record: counted, not a failure.
			left[k]--
			dismissed++
			continue
		}
		kinds[d.Kind]++
		e := exporters.ReconciliationException{Kind: d.Kind, Currency: d.Currency, Source: d.Source, ID: d.ExternalID,
			At: d.At, BookedAt: d.BookedAt, Field: d.Field, Ledger: d.Ledger, API: d.Theirs, Detail: d.Detail,
			TxHash: d.TxHash, Label: d.Label}
		c.Exceptions = append(c.Exceptions, e)
	}
	c.Total -= dismissed
	c.Status = reconStatus(c.Total > 0)
	var parts []string
	for _, k := range []string{ledger.DiffMissing, ledger.DiffExtra, ledger.DiffChanged, ledger.DiffBookedUnpaid,
		ledger.DiffUnbookable, ledger.DiffOtherEntry, ledger.DiffUnexplained} {
		if kinds[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	found := "no differences"
	if len(parts) > 0 {
		found = strings.Join(parts, ", ")
		if c.Total > len(c.Exceptions) {
			found += fmt.Sprintf(" (the first %d of %d listed)", len(c.Exceptions), c.Total)
		}
	}
	if dismissed > 0 {
		found += fmt.Sprintf("; %d unbookable record(s) dismissed in quarantine", dismissed)
	}
	var paid, unpaid, unbookable int64
	for _, f := range cres.Facts {
		switch f.State {
		case ledger.FactBookable:
			paid += f.Count
		case ledger.FactUnpaid:
			unpaid += f.Count
		case ledger.FactUnbookable:
			unbookable += f.Count
		}
	}
	c.Summary = fmt.Sprintf("Nord PAY lists %d paid, %d unpaid and %d unbookable transactions in the month (%d records read with the margins); %d day(s) of a currency compared entry by entry; %s",
		paid, unpaid, unbookable, p.fetched, cres.DaysCompared, found)
	return c
}

func checkPayouts(unknown []PayoutException) exporters.ReconciliationCheck {
	c := exporters.ReconciliationCheck{Name: exporters.CheckPayouts, Rule: rulePayouts, Total: len(unknown)}
	for _, u := range unknown {
		c.Exceptions = append(c.Exceptions, exporters.ReconciliationException{
			Kind: "unknown outcome", Currency: u.Currency, Source: "payout", ID: fmt.Sprintf("%s/%d", u.Batch, u.Chunk),
			At: u.Since, Field: "amount", Ledger: decimal.NullDecimal{Decimal: u.Amount, Valid: true},
			Detail: strings.TrimSpace(fmt.Sprintf("chunk %d of batch %s: %d rows, %s %s, request %s; resolve it with `nordpay-jobs payouts resolve`. %s",
				u.Chunk, u.Batch, u.Rows, u.Amount, u.Currency, u.Identifier, u.Detail)),
		})
	}
	c.Status = reconStatus(len(unknown) > 0)
	c.Summary = fmt.Sprintf("%d payout chunk(s) in an unknown state", len(unknown))
	return c
}

// maxRawInReport is how much of a record's raw text the report shows.
const maxRawInReport = 1000

// reconShorten cuts a raw record to maxRawInReport bytes (on a character boundary).
func reconShorten(raw string) string {
	if len(raw) <= maxRawInReport {
		return raw
	}
	return strings.ToValidUTF8(raw[:maxRawInReport], "") + "…"
}

// checkQuarantine lists the unresolved records; the resolved ones are only counted.
func checkQuarantine(records []ledger.Quarantined, counts ledger.QuarantineCounts) exporters.ReconciliationCheck {
	c := exporters.ReconciliationCheck{Name: exporters.CheckQuarantine, Rule: ruleQuarantine, Total: len(records)}
	for _, q := range records {
		raw := reconShorten(string(q.Raw))
		detail := q.Detail
		if detail != "" {
			detail += "; "
		}
		c.Exceptions = append(c.Exceptions, exporters.ReconciliationException{
			Kind: q.Reason, Source: q.Source, ID: q.ExternalID, At: q.FirstSeen, Field: "record",
			Detail: fmt.Sprintf("%sseen %d time(s), first %s, last %s; quarantined record %d: resolved when a sync books its corrected version, or dismiss it: nordpay-jobs ledger quarantine resolve %d --by NAME --note WHY; raw %s",
				detail, q.SeenCount, q.FirstSeen.Format(time.RFC3339), q.LastSeen.Format(time.RFC3339), q.ID, q.ID, raw),
		})
	}
	c.Status = reconStatus(len(records) > 0)
	c.Summary = fmt.Sprintf("%d unresolved record(s) in quarantine; %d resolved (%d booked once corrected, %d dismissed), not listed",
		len(records), counts.Booked+counts.Dismissed, counts.Booked, counts.Dismissed)
	return c
}
