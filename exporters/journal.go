package exporters

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
)

// JournalFormat names a plain-text accounting format.
type JournalFormat string

// The plain-text accounting formats.
const (
	Hledger   JournalFormat = "hledger"
	Beancount JournalFormat = "beancount"
)

// JournalOptions select what a journal holds.
type JournalOptions struct {
	// From and To bound the period, half-open [From, To). Both are required and must be
	// midnight UTC: a journal dates entries by day, so a bound inside a day could not be
	// told apart from the day's other entries (ErrJournalOptions otherwise).
	From, To time.Time
	// Currency, if set, keeps one currency.
	Currency string
}

// ErrJournalOptions is returned, wrapped, for options or a format that WriteJournal refuses
// before it reads anything, so that a command can report a usage error.
var ErrJournalOptions = errors.New("exporters: invalid journal options")

// ErrJournalStale is returned, wrapped, when the ledger changed while a journal was being
// written (a sync booked into the period between the reads): the journal would not agree
// with itself, and a new run gives a consistent one.
var ErrJournalStale = errors.New("exporters: the ledger changed while the journal was written; write it again")

// ErrJournalPrecision is returned, wrapped, for a beancount journal whose amounts beancount
// cannot add exactly: it computes with 28 significant digits (Python's default decimal
// context), so a currency with many decimals and large totals would be rounded.
var ErrJournalPrecision = errors.New("exporters: beancount cannot hold these amounts exactly")

// beancountDigits is the precision of Python's default decimal context, which beancount
// computes with.
const beancountDigits = 28

// equityOpening is the account, in our naming, that the opening entry balances against.
const equityOpening = "equity:opening-balances"

// WriteJournal writes the ledger's entries of a period as a journal in format: commodity and
// account declarations, an opening entry at From that brings every account to its balance
// at From, the period's entries in time order, and balance assertions for every account at
// the end of the period (the balances of store.Balances(ctx, To)). It streams the entries,
// so memory stays flat however many the period holds.
//
// Before it asserts the closing balances, it checks that the opening balances plus the
// entries it wrote add up to them; if not (ErrJournalStale), or on any other error, what was
// written to w is incomplete and the caller should discard it.
//
// The README's "Journals" section describes the files: names, metadata, and how our account
// and currency names map to each format.
func WriteJournal(ctx context.Context, w io.Writer, store *ledger.Store, format JournalFormat, opts JournalOptions) error {
	return writeJournal(ctx, w, store, format, opts)
}

// WriteJournalSnapshot is WriteJournal reading the ledger in sn, a snapshot the caller
// opened (Store.BeginStatement) and closes, so that the journal holds the same entries as
// the statements written from it (WriteStatementSnapshot); the currencies' precision is
// read from store. sn serves one reader at a time: write one file after the other.
func WriteJournalSnapshot(ctx context.Context, w io.Writer, store *ledger.Store, sn *ledger.StatementSnapshot, format JournalFormat, opts JournalOptions) error {
	return writeJournal(ctx, w, snapshotJournalSource{sn, store}, format, opts)
}

// journalSource is what a journal reads the ledger through: a Store, or a snapshot of it.
type journalSource interface {
	AllAccounts(ctx context.Context) ([]ledger.Account, error)
	Currencies(ctx context.Context) (map[string]nordpay.Currency, error)
	Balances(ctx context.Context, at time.Time) ([]ledger.Balance, error)
	Entries(ctx context.Context, f ledger.EntryFilter) iter.Seq2[*ledger.BookedEntry, error]
}

// snapshotJournalSource reads the ledger in a snapshot, and the currencies from the store.
type snapshotJournalSource struct {
	*ledger.StatementSnapshot
	store *ledger.Store
}

func (s snapshotJournalSource) Currencies(ctx context.Context) (map[string]nordpay.Currency, error) {
	return s.store.Currencies(ctx)
}

func writeJournal(ctx context.Context, w io.Writer, store journalSource, format JournalFormat, opts JournalOptions) error {
	d, err := journalDialectOf(format)
	if err != nil {
		return err
	}
	if err := opts.validate(); err != nil {
		return err
	}
	p, err := planJournal(ctx, store, d, opts)
	if err != nil {
		return err
	}
	out := &journalOut{b: bufio.NewWriterSize(w, 64<<10)}
	d.declare(out, p)
	d.opening(out, p)
	filter := ledger.EntryFilter{From: p.from, To: p.to, Currency: opts.Currency}
	for e, err := range store.Entries(ctx, filter) {
		if err != nil {
			return fmt.Errorf("exporters: unable to read the entries of the journal: %w", err)
		}
		if err := p.add(e); err != nil {
			return err
		}
		d.entry(out, p, e)
		if out.err != nil {
			return fmt.Errorf("exporters: unable to write the journal: %w", out.err)
		}
	}
	if err := p.reconcile(); err != nil {
		return err
	}
	if n := d.maxDigits(); n > 0 {
		if err := p.checkDigits(n); err != nil {
			return err
		}
	}
	d.assertions(out, p)
	if err := out.flush(); err != nil {
		return fmt.Errorf("exporters: unable to write the journal: %w", err)
	}
	return nil
}

func (o JournalOptions) validate() error {
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"start", o.From}, {"end", o.To}} {
		if b.t.IsZero() {
			return fmt.Errorf("%w: a journal needs the period's %s", ErrJournalOptions, b.name)
		}
		if u := b.t.UTC(); !u.Equal(u.Truncate(24 * time.Hour)) {
			return fmt.Errorf("%w: the period's %s %s is not midnight UTC; journals date entries by UTC day, so a period must start and end at midnight UTC",
				ErrJournalOptions, b.name, u.Format(time.RFC3339Nano))
		}
	}
	if !o.From.Before(o.To) {
		return fmt.Errorf("%w: the period [%s, %s) is empty", ErrJournalOptions,
			o.From.UTC().Format(time.DateOnly), o.To.UTC().Format(time.DateOnly))
	}
	return nil
}

// journalDialect is the syntax of one format. Its methods write to out, which keeps the first
// write error.
type journalDialect interface {
	// accountName is an account's name in the format; equity is the opening-balances account.
	accountName(a ledger.Account) string
	equityName() string
	// symbol is a currency's commodity symbol in the format.
	symbol(currency string) string
	// maxDigits is how many significant digits the format's program computes with; 0 for
	// exact arithmetic.
	maxDigits() int
	declare(out *journalOut, p *journalPlan)
	opening(out *journalOut, p *journalPlan)
	entry(out *journalOut, p *journalPlan, e *ledger.BookedEntry)
	assertions(out *journalOut, p *journalPlan)
}

func journalDialectOf(f JournalFormat) (journalDialect, error) {
	switch f {
	case Hledger:
		return hledgerDialect{}, nil
	case Beancount:
		return beancountDialect{}, nil
	}
	return nil, fmt.Errorf("%w: unknown journal format %q (want %q or %q)", ErrJournalOptions, f, Hledger, Beancount)
}

// journalPlan is what a journal declares and asserts, read before the entries, and the
// running totals that check the entries against it.
type journalPlan struct {
	from, to time.Time // UTC midnights
	currency string    // the filter, or ""
	accounts []*journalAccount
	byName   map[string]*journalAccount // by ledger name
	// commodities are the currencies of the accounts, sorted.
	commodities []*journalCommodity
	byCurrency  map[string]*journalCommodity
	equity      string // the opening-balances account in the format's syntax

	day     time.Time // the last date formatted, and its text
	dayText string
}

// journalAccount is one ledger account of the journal.
type journalAccount struct {
	ledger.Account
	name    string          // in the format's syntax
	opening decimal.Decimal // balance at From
	closing decimal.Decimal // balance at To
	running decimal.Decimal // opening plus the entries written so far
}

// journalCommodity is one currency of the journal.
type journalCommodity struct {
	currency string
	symbol   string // in the format's syntax
	// precision is the decimals to display: the currency's, or more if an amount has more.
	precision int32
	// equity is what the opening entry posts to the opening-balances account (zero in a
	// ledger that balances); opened says the opening entry has postings in this currency.
	equity decimal.Decimal
	opened bool
	// absTotal bounds every sum a program computes from the journal: the sum of the
	// absolute values of the amounts written.
	absTotal decimal.Decimal
}

// planJournal reads the accounts, currencies and the balances at both ends of the period.
func planJournal(ctx context.Context, store journalSource, d journalDialect, opts JournalOptions) (*journalPlan, error) {
	p := &journalPlan{
		from: opts.From.UTC(), to: opts.To.UTC(), currency: opts.Currency,
		byName: map[string]*journalAccount{}, byCurrency: map[string]*journalCommodity{},
		equity: d.equityName(),
	}
	accounts, err := store.AllAccounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporters: unable to read the accounts for the journal: %w", err)
	}
	currencies, err := store.Currencies(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporters: unable to read the currencies for the journal: %w", err)
	}
	names := map[string]string{p.equity: equityOpening} // format name -> ledger name
	symbols := map[string]string{}                      // format symbol -> currency
	for _, a := range accounts {
		if opts.Currency != "" && a.Currency != opts.Currency {
			continue
		}
		ja := &journalAccount{Account: a, name: d.accountName(a)}
		if other, ok := names[ja.name]; ok {
			return nil, fmt.Errorf("exporters: accounts %q and %q would both be %q in a %s journal; rename one in the chart of accounts",
				other, a.Name, ja.name, journalFormatOf(d))
		}
		names[ja.name] = a.Name
		p.accounts = append(p.accounts, ja)
		p.byName[a.Name] = ja
		if _, ok := p.byCurrency[a.Currency]; ok {
			continue
		}
		c := &journalCommodity{currency: a.Currency, symbol: d.symbol(a.Currency)}
		if other, ok := symbols[c.symbol]; ok {
			return nil, fmt.Errorf("exporters: currencies %q and %q would both be %q in a %s journal", other, a.Currency, c.symbol, journalFormatOf(d))
		}
		symbols[c.symbol] = a.Currency
		if cur, ok := currencies[a.Currency]; ok {
			c.precision = int32(cur.Decimals)
		}
		p.byCurrency[a.Currency] = c
		p.commodities = append(p.commodities, c)
	}
	sort.Slice(p.commodities, func(i, j int) bool { return p.commodities[i].currency < p.commodities[j].currency })

	// Both balance reads come before the entries are read: a booking that lands between
	// them and the entries shows as a difference in reconcile, never as a wrong journal.
	opening, err := store.Balances(ctx, p.from)
	if err != nil {
		return nil, fmt.Errorf("exporters: unable to read the opening balances for the journal: %w", err)
	}
	closing, err := store.Balances(ctx, p.to)
	if err != nil {
		return nil, fmt.Errorf("exporters: unable to read the closing balances for the journal: %w", err)
	}
	for _, set := range []struct {
		balances []ledger.Balance
		opening  bool
	}{{opening, true}, {closing, false}} {
		for _, b := range set.balances {
			ja, ok := p.byName[b.Account]
			if !ok {
				if (opts.Currency == "" || b.Currency == opts.Currency) && !b.Balance.IsZero() {
					return nil, fmt.Errorf("%w: account %s was created after the journal listed the accounts", ErrJournalStale, b.Account)
				}
				continue
			}
			c := p.byCurrency[ja.Currency]
			// A sum in NUMERIC has as many decimals as the most precise of its terms, so
			// the closing balances say how many decimals the period's amounts have: the
			// declared precision covers them all, and no report rounds an amount.
			c.precision = max(c.precision, -b.Balance.Exponent())
			if set.opening {
				ja.opening, ja.running = b.Balance, b.Balance
				if !b.Balance.IsZero() {
					c.opened = true
					c.equity = c.equity.Sub(b.Balance)
					c.count(b.Balance)
				}
			} else {
				ja.closing = b.Balance
				c.count(b.Balance)
			}
		}
	}
	return p, nil
}

// count adds an amount written to the journal to the bound of its commodity.
func (c *journalCommodity) count(d decimal.Decimal) { c.absTotal = c.absTotal.Add(d.Abs()) }

// add checks an entry against the plan and adds it to the running balances.
func (p *journalPlan) add(e *ledger.BookedEntry) error {
	for _, po := range e.Postings {
		ja, ok := p.byName[po.Account]
		if !ok {
			return fmt.Errorf("%w: entry %s/%s posts to account %s, which was not there when the journal began",
				ErrJournalStale, e.Source, e.ExternalID, po.Account)
		}
		if po.Currency != ja.Currency {
			return fmt.Errorf("exporters: entry %s/%s posts %s to account %s, which is in %s",
				e.Source, e.ExternalID, po.Currency, ja.Name, ja.Currency)
		}
		c := p.byCurrency[ja.Currency]
		if -po.Amount.Exponent() > c.precision {
			return fmt.Errorf("%w: entry %s/%s has an amount %s with more decimals than the balances",
				ErrJournalStale, e.Source, e.ExternalID, po.Amount)
		}
		ja.running = ja.running.Add(po.Amount)
		c.count(po.Amount)
	}
	return nil
}

// reconcile checks that the opening balances plus the entries written make the closing
// balances the journal is about to assert.
func (p *journalPlan) reconcile() error {
	for _, ja := range p.accounts {
		if !ja.running.Equal(ja.closing) {
			return fmt.Errorf("%w: account %s opens at %s and its entries bring it to %s, but its balance at %s is %s",
				ErrJournalStale, ja.Name, ja.opening, ja.running, p.to.Format(time.RFC3339), ja.closing)
		}
	}
	return nil
}

// checkDigits refuses a journal whose sums would need more than n significant digits: every
// sum a program computes from the journal is at most the commodity's absTotal, and has the
// commodity's precision (the journals that limit digits write every amount at it).
func (p *journalPlan) checkDigits(n int) error {
	for _, c := range p.commodities {
		if c.absTotal.GreaterThanOrEqual(decimal.New(1, int32(n)-c.precision)) {
			return fmt.Errorf("%w: %s has %d decimals and its amounts add up to %s in this journal, more than %d significant digits; export hledger, or a shorter period",
				ErrJournalPrecision, c.currency, c.precision, c.absTotal.Truncate(0), n)
		}
	}
	return nil
}

// date returns t's UTC day as YYYY-MM-DD, remembering the last one: entries come in time order.
func (p *journalPlan) date(t time.Time) string {
	t = t.UTC()
	if y, m, d := t.Date(); y != p.day.Year() || m != p.day.Month() || d != p.day.Day() || p.dayText == "" {
		p.day, p.dayText = t, t.Format(time.DateOnly)
	}
	return p.dayText
}

// lastDay is the period's last date: the day before To.
func (p *journalPlan) lastDay() time.Time { return p.to.AddDate(0, 0, -1) }

func journalFormatOf(d journalDialect) JournalFormat {
	if _, ok := d.(beancountDialect); ok {
		return Beancount
	}
	return Hledger
}

// journalOut writes through a buffer and keeps the first error, so the dialects write
// without checking every call and WriteJournal checks once per entry.
type journalOut struct {
	b   *bufio.Writer
	err error
}

func (o *journalOut) s(parts ...string) {
	for _, s := range parts {
		if _, err := o.b.WriteString(s); err != nil && o.err == nil {
			o.err = err
		}
	}
}

func (o *journalOut) flush() error {
	if o.err != nil {
		return o.err
	}
	return o.b.Flush()
}

// journalLine folds text that a user or the API controls onto one line: every control
// character (line feeds, carriage returns, tabs, NEL) and the Unicode line and paragraph
// separators become a space, and invalid UTF-8 becomes U+FFFD. Each dialect then escapes
// what its syntax needs.
func journalLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// journalTags are the entry's descriptive fields, in the order the journals list them.
func journalTags(e *ledger.BookedEntry) [][2]string {
	return [][2]string{
		{"time", e.OccurredAt.UTC().Format(time.RFC3339Nano)},
		{"source", e.Source},
		{"external_id", e.ExternalID},
		{"source_ref", e.SourceRef},
		{"tx_hash", e.TxHash},
		{"label", e.Label},
		{"address", e.Address},
	}
}
