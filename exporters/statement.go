package exporters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/templates"
)

// StatementFormat names the file format of a statement.
type StatementFormat string

// The statement formats (the plain-text journals are written by WriteJournal).
const (
	StatementCSV  StatementFormat = "csv"
	StatementXLSX StatementFormat = "xlsx"
)

// StatementOptions select and shape a statement.
type StatementOptions struct {
	// From and To bound the period, half-open [From, To); both are required. The opening
	// balance is the balance at From (postings before it), the closing one at To.
	From, To time.Time
	// Currency, if set, keeps one currency; otherwise every currency that has a balance or
	// moved in the period gets its section, sorted by code.
	Currency string
	// Template is the layout; nil means the embedded default.
	Template *templates.Template
	// Now is the clock, for the time an XLSX statement says it was made. Defaults to
	// time.Now.
	Now func() time.Time
	// Progress, if set, is called with the number of lines written so far, every few
	// thousand lines and once at the end.
	Progress func(lines int64)
}

// Files creates the files a statement is written to. A statement is one file (suffix ""),
// or, when its template splits it, several named by suffixes put before the extension:
// "-001", "-002", ... (max_lines) or "-USDTBEP20" (split_by_currency), or both
// ("-USDTBEP20-001"). AtomicFiles is the implementation that writes real files.
type Files interface {
	Create(suffix string) (io.Writer, error)
}

// StatementCurrency is what a statement says about one currency; the command prints it.
type StatementCurrency struct {
	Currency string
	// Precision is the number of decimals amounts are written with: the currency's, or,
	// when Nord PAY never said, the most any of its amounts has.
	Precision int
	// Opening and Closing are the balances of the currency's assets account at From and To,
	// each read from the ledger; Opening + Net == Closing is checked before the statement
	// is put in place.
	Opening, Closing decimal.Decimal
	// Lines is the number of statement lines (entries that post in the currency).
	Lines int64
	// Gross, NetworkFees, ServiceFees and Net are the sums of the lines.
	Gross, NetworkFees, ServiceFees, Net decimal.Decimal
	// The USD sums; invalid when a line has no USD value for that column.
	GrossUSD, NetworkFeesUSD, ServiceFeesUSD, NetUSD decimal.NullDecimal
}

// StatementResult says what a written statement holds.
type StatementResult struct {
	// Currencies are the statement's sections, sorted by code.
	Currencies []StatementCurrency
	// Lines is the number of lines over all currencies.
	Lines int64
}

// ErrStatementMismatch is returned when the ledger does not add up: a currency's opening
// balance plus the net of its lines differs from its closing balance, or an entry does not
// balance. Nothing is written then.
var ErrStatementMismatch = errors.New("exporters: the statement does not add up")

// ErrStatementOptions is returned for options that cannot make a statement.
var ErrStatementOptions = errors.New("exporters: invalid statement options")

// WriteStatement writes the statement of opts to files in format. It reads the ledger in
// one snapshot (the opening balances, every line, the closing balances), streams the lines
// (memory stays flat however many there are) and checks, per currency, that the opening
// balance plus the lines' net equals the closing balance read from the ledger; on any error
// it returns before the caller commits the files, which then must be discarded.
func WriteStatement(ctx context.Context, store *ledger.Store, format StatementFormat, files Files, opts StatementOptions) (*StatementResult, error) {
	layout, err := opts.prepare(format)
	if err != nil {
		return nil, err
	}
	sn, err := store.BeginStatement(ctx)
	if err != nil {
		return nil, err
	}
	res, err := writeStatementIn(ctx, store, sn, format, files, opts, layout)
	if cerr := sn.Close(); err == nil && cerr != nil {
		return nil, cerr
	}
	return res, err
}

// WriteStatementSnapshot is WriteStatement reading the ledger in sn, a snapshot the caller
// opened (Store.BeginStatement) and closes: several statements and journals written from
// one snapshot (WriteJournalSnapshot) hold the same entries, even while a sync books into
// their period. sn serves one reader at a time: the statements are written one after the
// other.
func WriteStatementSnapshot(ctx context.Context, store *ledger.Store, sn *ledger.StatementSnapshot, format StatementFormat, files Files, opts StatementOptions) (*StatementResult, error) {
	layout, err := opts.prepare(format)
	if err != nil {
		return nil, err
	}
	return writeStatementIn(ctx, store, sn, format, files, opts, layout)
}

// writeStatementIn writes the statement in sn, which it leaves open.
func writeStatementIn(ctx context.Context, store *ledger.Store, sn *ledger.StatementSnapshot, format StatementFormat, files Files, opts StatementOptions, layout *stmtLayout) (*StatementResult, error) {
	run, err := planStatement(ctx, store, sn, opts, layout)
	if err != nil {
		return nil, err
	}
	// When one currency moved (or one is asked for), the lines are read with the query of
	// one currency, which streams them as the database reads, instead of sorting them all
	// first: for a million lines, 8 s instead of 16 s in the database, and the writing
	// overlaps the reading.
	filter := ledger.EntryFilter{From: opts.From, To: opts.To, Currency: opts.Currency}
	if moved := run.moved(); filter.Currency == "" && len(moved) == 1 {
		filter.Currency = moved[0]
	}
	stop := run.startReader(func(ctx context.Context) iter.Seq2[*ledger.CurrencyEntry, error] {
		return sn.StatementEntries(ctx, filter)
	})
	switch format {
	case StatementCSV:
		err = writeStatementCSV(run, files)
	case StatementXLSX:
		err = writeStatementXLSX(run, files)
	}
	if err == nil {
		err = run.checkDrained()
	}
	stop()
	if err != nil {
		return nil, err
	}
	if opts.Progress != nil {
		opts.Progress(run.lines)
	}
	res := &StatementResult{Lines: run.lines}
	for _, c := range run.currencies {
		res.Currencies = append(res.Currencies, c.StatementCurrency)
	}
	return res, nil
}

// prepare checks the options for a statement in format, fills in their defaults and
// compiles the template's layout.
func (o *StatementOptions) prepare(format StatementFormat) (*stmtLayout, error) {
	if o.From.IsZero() || o.To.IsZero() || !o.From.Before(o.To) {
		return nil, fmt.Errorf("%w: the period needs a start before its end (got %s, %s)", ErrStatementOptions,
			stmtTimeText(o.From), stmtTimeText(o.To))
	}
	if o.Template == nil {
		t, err := templates.Load(templates.Default, "")
		if err != nil {
			return nil, fmt.Errorf("exporters: %w", err)
		}
		o.Template = t
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if format != StatementCSV && format != StatementXLSX {
		return nil, fmt.Errorf("%w: format %q is neither csv nor xlsx", ErrStatementOptions, format)
	}
	if !o.Template.Allows(string(format)) {
		return nil, fmt.Errorf("%w: template %s (%s) is for %s only, not %s", ErrStatementOptions,
			o.Template.Name, o.Template.Source, strings.Join(o.Template.Formats, ", "), format)
	}
	return compileStmtLayout(o.Template)
}

// stmtCurrency is one currency's section while it is written.
type stmtCurrency struct {
	StatementCurrency
	// roles maps the currency's account names to what their postings are on a line.
	roles map[string]stmtRole
	// sums are the running totals of the lines, by stmtSum* index.
	sums [stmtSums]stmtSum
	// usdOK tracks, per USD sum (gross, network fee, service fee, net), whether every line
	// had a value.
	usdOK [4]bool
	// totalCreditDebit says whether a total row shows credit or debit, which are then summed.
	totalCreditDebit bool
	// moved says whether anything posted in the currency during the period.
	moved bool
}

// moved returns the currencies that have lines.
func (r *stmtRun) moved() []string {
	var out []string
	for _, c := range r.currencies {
		if c.moved {
			out = append(out, c.Currency)
		}
	}
	return out
}

// The running totals of a currency's lines: native then USD, then credit and debit.
const (
	stmtSumGross = iota
	stmtSumNetworkFee
	stmtSumServiceFee
	stmtSumNet
	stmtSumGrossUSD
	stmtSumNetworkFeeUSD
	stmtSumServiceFeeUSD
	stmtSumNetUSD
	stmtSumCredit
	stmtSumDebit
	stmtSumCreditUSD
	stmtSumDebitUSD
	stmtSums
)

// stmtRole is what a posting is on a statement line, by its account.
type stmtRole int

const (
	stmtOther      stmtRole = iota // the counterpart: income, payouts, anything else
	stmtNet                        // the assets account: the line's effect on the balance
	stmtNetworkFee                 // network fees
	stmtServiceFee                 // service fees and withdrawal fees
)

// stmtRun is one statement being written: the plan and the stream of entries.
type stmtRun struct {
	ctx        context.Context
	opts       StatementOptions
	layout     *stmtLayout
	currencies []*stmtCurrency
	pending    *ledger.CurrencyEntry // read but belonging to a later currency
	lines      int64
	reported   int64

	// known are the currencies the ledger has accounts in, sorted: the files a split
	// statement may have had in an earlier export.
	known []string

	// The entries come from a reader goroutine in batches (see startReader).
	full, free chan *stmtBatch
	batch      *stmtBatch
	pos        int
}

// stmtBatch is a batch of entries read ahead; its slots (and their postings' arrays) are
// reused once the writer is done with them.
type stmtBatch struct {
	entries []ledger.CurrencyEntry
	n       int
	err     error // after the n entries
}

const (
	stmtBatchSize  = 256
	stmtBatchCount = 8
)

// startReader reads the entries in a goroutine of their own, so that receiving and parsing
// rows runs beside formatting and writing them: on two cores the export takes about as long
// as the database takes to send the rows. The returned stop cancels the reading (the query
// too) and waits for the goroutine.
func (r *stmtRun) startReader(entries func(context.Context) iter.Seq2[*ledger.CurrencyEntry, error]) (stop func()) {
	ctx, cancel := context.WithCancel(r.ctx)
	r.full = make(chan *stmtBatch, stmtBatchCount)
	r.free = make(chan *stmtBatch, stmtBatchCount)
	for range stmtBatchCount {
		r.free <- &stmtBatch{entries: make([]ledger.CurrencyEntry, stmtBatchSize)}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(r.full)
		var b *stmtBatch
		next := func() bool {
			select {
			case b = <-r.free:
				b.n, b.err = 0, nil
				return true
			case <-ctx.Done():
				return false
			}
		}
		send := func() bool {
			select {
			case r.full <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !next() {
			return
		}
		for e, err := range entries(ctx) {
			if err != nil {
				b.err = err
				break
			}
			slot := &b.entries[b.n]
			postings := slot.Postings[:0]
			*slot = *e
			slot.Postings = append(postings, e.Postings...)
			if b.n++; b.n == len(b.entries) {
				if !send() || !next() {
					return
				}
			}
		}
		send()
	}()
	return func() {
		cancel()
		for range r.full { //nolint:revive // drain, so the reader can end
		}
		<-done
	}
}

// planStatement reads, in the snapshot, which currencies the statement has, their
// precision and their opening and closing balances.
func planStatement(ctx context.Context, store *ledger.Store, sn *ledger.StatementSnapshot, opts StatementOptions, layout *stmtLayout) (*stmtRun, error) {
	chart := store.Chart()
	known := map[string]bool{}
	for _, a := range sn.Accounts() {
		known[a.Currency] = true
	}
	if opts.Currency != "" && !known[opts.Currency] {
		return nil, fmt.Errorf("%w: the ledger has no account in currency %q", ErrStatementOptions, opts.Currency)
	}
	bounds, err := sn.Bounds(ctx, opts.From, opts.To, opts.Currency)
	if err != nil {
		return nil, err
	}
	if opts.Currency != "" && len(bounds) == 0 { // named, it gets its section, empty or not
		bounds = []ledger.CurrencyBounds{{Currency: opts.Currency}}
	}
	meta, err := store.Currencies(ctx)
	if err != nil {
		return nil, err
	}
	run := &stmtRun{ctx: ctx, opts: opts, layout: layout, known: slices.Sorted(maps.Keys(known))}
	var unknown []string
	for _, b := range bounds {
		if opts.Currency == "" && !b.Moved && b.Opening.Balance.IsZero() && b.Closing.Balance.IsZero() {
			continue
		}
		code := b.Currency
		c := &stmtCurrency{
			StatementCurrency: StatementCurrency{Currency: code, Opening: b.Opening.Balance, Closing: b.Closing.Balance},
			roles: map[string]stmtRole{
				ledger.AccountName(chart.Assets, code):       stmtNet,
				ledger.AccountName(chart.NetworkFees, code):  stmtNetworkFee,
				ledger.AccountName(chart.ServiceFees, code):  stmtServiceFee,
				ledger.AccountName(chart.WithdrawFees, code): stmtServiceFee,
			},
			usdOK:            [4]bool{true, true, true, true},
			totalCreditDebit: layout.tpl.SummaryRows && layout.usesAny(stmtCredit, stmtDebit, stmtCreditUSD, stmtDebitUSD),
			moved:            b.Moved,
		}
		if m, ok := meta[code]; ok {
			c.Precision = m.Decimals
		} else {
			unknown = append(unknown, code)
		}
		run.currencies = append(run.currencies, c)
	}
	if len(unknown) > 0 {
		scales, err := sn.MaxScales(ctx, unknown, opts.To)
		if err != nil {
			return nil, err
		}
		for _, c := range run.currencies {
			if s, ok := scales[c.Currency]; ok {
				c.Precision = s
			}
		}
	}
	return run, nil
}

// stmtLine is one line of a statement, or one of its opening, total and closing rows.
type stmtLine struct {
	kind     stmtRowKind
	cur      *stmtCurrency
	entry    *ledger.CurrencyEntry // nil on the summary rows
	at       time.Time             // the time column: occurred_at, or the period's bound
	money    [stmtMoneyFields]decimal.Decimal
	has      [stmtMoneyFields]bool
	bookedAt time.Time
}

type stmtRowKind int

const (
	stmtRowLine stmtRowKind = iota
	stmtRowOpening
	stmtRowTotal
	stmtRowClosing
)

func (k stmtRowKind) String() string {
	return [...]string{"line", "opening", "total", "closing"}[k]
}

// The money values of a line, native then USD, in the order of stmtLine.money.
const (
	stmtGross = iota
	stmtNetworkFeeV
	stmtServiceFeeV
	stmtFees
	stmtNetV
	stmtBalance
	stmtCredit
	stmtDebit
	stmtGrossUSD
	stmtNetworkFeeUSD
	stmtServiceFeeUSD
	stmtFeesUSD
	stmtNetUSD
	stmtCreditUSD
	stmtDebitUSD
	stmtMoneyFields
)

// currencyLines streams the lines of c to emit, in time order, computing each line's gross,
// fees, net and running balance from its postings by account, then checks that the
// opening balance plus the lines' net is the closing balance the ledger holds.
func (r *stmtRun) currencyLines(c *stmtCurrency, emit func(*stmtLine) error) error {
	var l stmtLine
	var balance stmtSum
	balance.add(c.Opening)
	for {
		e, err := r.pull()
		if err != nil {
			return err
		}
		if e == nil {
			break
		}
		if e.Currency != c.Currency {
			if e.Currency < c.Currency {
				return fmt.Errorf("exporters: entry %d (%s/%s) in %s came after the %s lines; the ledger's order is broken",
					e.ID, e.Source, e.ExternalID, e.Currency, c.Currency)
			}
			r.pending = e
			break
		}
		c.line(e, &l, &r.layout.used)
		balance.add(l.money[stmtNetV])
		l.money[stmtBalance], l.has[stmtBalance] = balance.value(), true
		c.Lines++
		if err := emit(&l); err != nil {
			return err
		}
		r.lines++
		if r.opts.Progress != nil && r.lines-r.reported >= 10_000 {
			r.reported = r.lines
			r.opts.Progress(r.lines)
		}
	}
	c.Gross, c.NetworkFees = c.sums[stmtSumGross].value(), c.sums[stmtSumNetworkFee].value()
	c.ServiceFees, c.Net = c.sums[stmtSumServiceFee].value(), c.sums[stmtSumNet].value()
	// Each line's gross is minus its other postings, so gross - fees = net holds line by line
	// exactly when every entry balances, which the database enforces; checked here in total.
	if d := c.Gross.Sub(c.NetworkFees).Sub(c.ServiceFees).Sub(c.Net); !d.IsZero() {
		return fmt.Errorf("%w: %s: the lines' gross %s minus fees %s and %s is not their net %s: some entry does not balance (run nordpay-jobs ledger verify)",
			ErrStatementMismatch, c.Currency, c.Gross, c.NetworkFees, c.ServiceFees, c.Net)
	}
	if !c.Opening.Add(c.Net).Equal(c.Closing) || !balance.value().Equal(c.Closing) {
		return fmt.Errorf("%w: %s: opening balance %s at %s plus the net %s of %d lines is %s, but the ledger's balance at %s is %s",
			ErrStatementMismatch, c.Currency, c.Opening, stmtTimeText(r.opts.From), c.Net, c.Lines, c.Opening.Add(c.Net),
			stmtTimeText(r.opts.To), c.Closing)
	}
	for i, p := range []*decimal.NullDecimal{&c.GrossUSD, &c.NetworkFeesUSD, &c.ServiceFeesUSD, &c.NetUSD} {
		*p = decimal.NullDecimal{Decimal: c.sums[stmtSumGrossUSD+i].value(), Valid: c.usdOK[i]}
	}
	return nil
}

// pull returns the next entry of the stream, the pending one first; nil at the end.
func (r *stmtRun) pull() (*ledger.CurrencyEntry, error) {
	if e := r.pending; e != nil {
		r.pending = nil
		return e, nil
	}
	for r.batch == nil || r.pos == r.batch.n {
		if b := r.batch; b != nil {
			if b.err != nil {
				return nil, b.err
			}
			r.free <- b
			r.batch = nil
		}
		b, ok := <-r.full
		if !ok {
			if err := r.ctx.Err(); err != nil {
				return nil, fmt.Errorf("exporters: %w", err)
			}
			return nil, nil
		}
		r.batch, r.pos = b, 0
	}
	e := &r.batch.entries[r.pos]
	r.pos++
	return e, nil
}

// checkDrained makes sure every entry of the stream found its currency.
func (r *stmtRun) checkDrained() error {
	e, err := r.pull()
	if err != nil {
		return err
	}
	if e != nil {
		return fmt.Errorf("exporters: entry %d (%s/%s) is in %s, which the statement did not plan for", e.ID, e.Source, e.ExternalID, e.Currency)
	}
	return nil
}

// line fills l from entry e of c and adds it to c's totals. Only the values the layout
// shows are computed beyond those the totals need: a statement of a million lines makes
// tens of millions of decimal operations.
func (c *stmtCurrency) line(e *ledger.CurrencyEntry, l *stmtLine, used *[stmtMoneyFields]bool) {
	var (
		sums, usd     [4]decimal.Decimal // by stmtRole
		seen, usdMiss [4]bool
	)
	for i := range e.Postings {
		p := &e.Postings[i]
		role := c.roles[p.Account]
		if !seen[role] { // most roles have one posting: no addition
			sums[role], seen[role] = p.Amount, true
			if p.AmountUSD.Valid {
				usd[role] = p.AmountUSD.Decimal
			} else {
				usdMiss[role] = true
			}
			continue
		}
		sums[role] = sums[role].Add(p.Amount)
		if p.AmountUSD.Valid {
			usd[role] = usd[role].Add(p.AmountUSD.Decimal)
		} else {
			usdMiss[role] = true
		}
	}
	nf, sf, net := sums[stmtNetworkFee], sums[stmtServiceFee], sums[stmtNet]
	gross := sums[stmtOther].Neg()
	*l = stmtLine{kind: stmtRowLine, cur: c, entry: e, at: e.OccurredAt, bookedAt: e.BookedAt}
	set := func(i int, d decimal.Decimal) { l.money[i], l.has[i] = d, true }
	set(stmtGross, gross)
	set(stmtNetworkFeeV, nf)
	set(stmtServiceFeeV, sf)
	set(stmtNetV, net)
	if used[stmtFees] {
		set(stmtFees, nf.Add(sf))
	}
	sign := net.Sign()
	switch {
	case sign > 0:
		set(stmtCredit, net)
	case sign < 0 && (used[stmtDebit] || c.totalCreditDebit):
		set(stmtDebit, net.Neg())
	}
	if !usdMiss[stmtOther] {
		set(stmtGrossUSD, usd[stmtOther].Neg())
	}
	if !usdMiss[stmtNetworkFee] {
		set(stmtNetworkFeeUSD, usd[stmtNetworkFee])
	}
	if !usdMiss[stmtServiceFee] {
		set(stmtServiceFeeUSD, usd[stmtServiceFee])
	}
	if !usdMiss[stmtNetworkFee] && !usdMiss[stmtServiceFee] && used[stmtFeesUSD] {
		set(stmtFeesUSD, usd[stmtNetworkFee].Add(usd[stmtServiceFee]))
	}
	if !usdMiss[stmtNet] {
		set(stmtNetUSD, usd[stmtNet])
		switch {
		case sign > 0:
			set(stmtCreditUSD, usd[stmtNet])
		case sign < 0 && (used[stmtDebitUSD] || c.totalCreditDebit):
			set(stmtDebitUSD, usd[stmtNet].Neg())
		}
	}

	c.sums[stmtSumGross].add(gross)
	c.sums[stmtSumNetworkFee].add(nf)
	c.sums[stmtSumServiceFee].add(sf)
	c.sums[stmtSumNet].add(net)
	if c.totalCreditDebit {
		switch {
		case sign > 0:
			c.sums[stmtSumCredit].add(net)
			c.sums[stmtSumCreditUSD].add(l.money[stmtCreditUSD])
		case sign < 0:
			c.sums[stmtSumDebit].add(l.money[stmtDebit])
			c.sums[stmtSumDebitUSD].add(l.money[stmtDebitUSD])
		}
	}
	for i, f := range [4]int{stmtGrossUSD, stmtNetworkFeeUSD, stmtServiceFeeUSD, stmtNetUSD} {
		if !c.usdOK[i] {
			continue
		}
		if l.has[f] {
			c.sums[stmtSumGrossUSD+i].add(l.money[f])
		} else {
			c.usdOK[i] = false
		}
	}
}

// summaryLine fills l as the opening, total or closing row of c (c's lines must be done for
// the total and closing rows).
func (r *stmtRun) summaryLine(c *stmtCurrency, kind stmtRowKind, l *stmtLine) {
	*l = stmtLine{kind: kind, cur: c}
	set := func(i int, d decimal.Decimal) { l.money[i], l.has[i] = d, true }
	switch kind {
	case stmtRowOpening:
		l.at = r.opts.From
		set(stmtBalance, c.Opening)
	case stmtRowClosing:
		l.at = r.opts.To
		set(stmtBalance, c.Closing)
	case stmtRowTotal:
		set(stmtGross, c.Gross)
		set(stmtNetworkFeeV, c.NetworkFees)
		set(stmtServiceFeeV, c.ServiceFees)
		set(stmtFees, c.NetworkFees.Add(c.ServiceFees))
		set(stmtNetV, c.Net)
		// Credit and debit total the money in and the money out of the lines.
		set(stmtCredit, c.sums[stmtSumCredit].value())
		set(stmtDebit, c.sums[stmtSumDebit].value())
		for i, f := range [4]int{stmtGrossUSD, stmtNetworkFeeUSD, stmtServiceFeeUSD, stmtNetUSD} {
			if c.usdOK[i] {
				set(f, c.sums[stmtSumGrossUSD+i].value())
			}
		}
		if c.usdOK[1] && c.usdOK[2] {
			set(stmtFeesUSD, c.sums[stmtSumNetworkFeeUSD].value().Add(c.sums[stmtSumServiceFeeUSD].value()))
		}
		if c.usdOK[3] {
			set(stmtCreditUSD, c.sums[stmtSumCreditUSD].value())
			set(stmtDebitUSD, c.sums[stmtSumDebitUSD].value())
		}
	}
}

// stmtTimeText writes a time for messages.
func stmtTimeText(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
