package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/payouts"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"
)

const openingLong = `Book what Nord PAY held before the first day the ledger was synced from.

The sync books movements only. A merchant whose Nord PAY account held money before that day
(and the sandbox, which starts with balances) has assets in the ledger that fall short of
GET /balance/ by exactly that, and the reconciliation's balance check fails every month until
the opening balances are booked.

Each currency gets one entry at --at: Dr assets:nordpay:<CUR>, Cr equity:opening:<CUR> (the
accounts ledger.accounts.assets and ledger.accounts.opening_balances name), source "opening",
external id the currency, with a USD value at the rate Nord PAY last listed for it
(informational). The ledger's unique key books it once: running the command again books
nothing and says so. An opening balance occurs at --at: a balance at --at does not count it,
a statement or reconciliation of a period that starts at --at shows it as a movement of its
own ("opening" lines; "opening balances booked" in the reconciliation), never as a receipt.

Where the amounts come from:
  --from-api   GET /balance/ now, less the ledger's assets now, per currency: after a full
               sync from --at to now, the ledger's assets then equal Nord PAY's. The command
               refuses (exit 1, nothing booked) while a sync runs (nordpay-jobs sync, or a
               serve replica's sync job), when a source's watermark is more than --max-lag
               old, when a source was not synced from --at, and while a payout chunk is
               confirming or in an unknown state; it says what to do. Anything Nord PAY
               shows after the last sync would be counted here and booked again by the next
               sync: run nordpay-jobs sync right before, with the scheduler's sync stopped.
               --currency C (repeatable) keeps those currencies only.
  --currency C --amount X   (repeatable, in pairs) what Nord PAY held at --at, from its
               statement, for currencies the last sync saw listed. The entry books X less
               what the ledger holds at --at already (a sync from --at also books what its
               overlap finds just before it).

The amounts are shown before anything is booked; --dry-run shows them only. A currency that
cannot get an opening balance (the ledger holds more than Nord PAY; it has one already and
the amounts differ) is shown with the reason, nothing at all is booked, and the command
exits 3.

Corrections: the ledger is append-only, and a currency's opening balance is booked once. A
wrong one is corrected by a reversing entry between the same two accounts, booked in psql
with all its postings in one INSERT (see db/migrations/002_ledger.up.sql), e.g. for 2500 that
should have been 2400 USDTBEP20:
  source 'reversal', external id 'opening/USDTBEP20/1', at the same --at,
  Dr equity:opening:USDTBEP20 100, Cr assets:nordpay:USDTBEP20 -100
The reconciliation counts it with the opening balances, and ledger verify checks it.`

const openingExample = `  # after the first full sync from October: book what Nord PAY held before it
  nordpay-jobs sync --from 2026-10-01
  nordpay-jobs ledger opening-balances --at 2026-10-01 --from-api --by alice --dry-run
  nordpay-jobs ledger opening-balances --at 2026-10-01 --from-api --by alice

  # from Nord PAY's statement instead, per currency
  nordpay-jobs ledger opening-balances --at 2026-10-01 --by alice \
      --currency USDTTRC20 --amount 10000 --currency BTC --amount 0.05`

// openingDefaultMaxLag is how old a source's watermark may be for --from-api.
const openingDefaultMaxLag = 10 * time.Minute

// Statuses of a currency in `ledger opening-balances` (and its --json).
const (
	openingBook    = "book"   // to be booked: before booking, and with --dry-run
	openingBooked  = "booked" // booked by this run
	openingAlready = "already booked"
	openingNothing = "nothing to book"
	openingRefused = "refused" // cannot get one; Detail says why, and nothing is booked
)

// Where the amounts of `ledger opening-balances` come from, as its output says.
const (
	openingFromAPI  = "GET /balance/ less the ledger's assets"
	openingByAmount = "the amounts given"
)

// openingLine is one currency of `ledger opening-balances`; its JSON is the command's.
type openingLine struct {
	Currency string `json:"currency"`
	// API is GET /balance/ and Ledger the assets account now (--from-api); or Held is the
	// --amount given and Ledger the assets account at --at.
	API    *string `json:"api_balance,omitempty"`
	Held   *string `json:"held,omitempty"`
	Ledger string  `json:"ledger_balance"`
	// Amount is the opening balance's entry: to book, booked, or booked before.
	Amount  string `json:"amount"`
	Status  string `json:"status"`
	EntryID int64  `json:"entry_id,omitempty"`
	Detail  string `json:"detail,omitempty"`

	amount decimal.Decimal
}

// openingJSON is what `ledger opening-balances --json` prints.
type openingJSON struct {
	At         time.Time     `json:"at"`
	Basis      string        `json:"basis"`
	By         string        `json:"by"`
	DryRun     bool          `json:"dry_run"`
	Booked     int           `json:"booked"`
	Currencies []openingLine `json:"currencies"`
}

// openingFlags are the command line of `ledger opening-balances`.
type openingFlags struct {
	at, by             string
	fromAPI            bool
	currencies, amount []string
	dryRun, asJSON     bool
	maxLag             time.Duration
}

func newLedgerOpeningCommand(m *Main) *cobra.Command {
	f := openingFlags{maxLag: openingDefaultMaxLag}
	cmd := &cobra.Command{
		Use:     "opening-balances --at T (--from-api | --currency C --amount X ...) --by NAME",
		Short:   "Book what Nord PAY held before the first synced day, once per currency",
		Long:    openingLong,
		Example: openingExample,
		Args:    argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			at, amounts, err := f.parse(m.Now())
			if err != nil {
				return err
			}
			return runOpening(cmd.Context(), m, f, at, amounts)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.at, "at", "", "when the balances were held: a date (midnight UTC, the first synced day) or an RFC 3339 time; required")
	fl.BoolVar(&f.fromAPI, "from-api", false, "the amounts are GET /balance/ less the ledger's assets, now")
	fl.StringArrayVar(&f.currencies, "currency", nil, "a currency (repeatable): with --amount, the amount's; with --from-api, keep only these")
	fl.StringArrayVar(&f.amount, "amount", nil, "the opening balance of the --currency at the same position (repeatable)")
	fl.StringVar(&f.by, "by", "", "who books them (kept in the entries' description); required")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show the amounts, book nothing")
	fl.BoolVar(&f.asJSON, "json", false, `print {"at", "basis", "by", "dry_run", "booked", "currencies": [{"currency", "api_balance", "ledger_balance", "amount", "status", "entry_id", "detail"}]}; amounts are strings`)
	fl.DurationVar(&f.maxLag, "max-lag", f.maxLag, "with --from-api, how old each source's sync watermark may be")
	return cmd
}

// parse checks the command line: the time, and for --amount the amounts by currency.
func (f openingFlags) parse(now time.Time) (time.Time, map[string]decimal.Decimal, error) {
	if f.at == "" {
		return time.Time{}, nil, usagef("--at is required: when the opening balances were held, e.g. --at 2026-10-01 (the first synced day)")
	}
	at, err := config.ParseTime(f.at)
	if err != nil {
		return time.Time{}, nil, usagef("--at: %v", err)
	}
	if at.After(now) {
		return time.Time{}, nil, usagef("--at %s is in the future: an opening balance is what was held before the first synced day", f.at)
	}
	if strings.TrimSpace(f.by) == "" {
		return time.Time{}, nil, usagef("--by is required: who books the opening balances")
	}
	if f.maxLag <= 0 {
		return time.Time{}, nil, usagef("--max-lag %s: want a positive duration", f.maxLag)
	}
	seen := map[string]bool{}
	for _, c := range f.currencies {
		if strings.TrimSpace(c) == "" || c != strings.TrimSpace(c) {
			return time.Time{}, nil, usagef("--currency %q: want a currency name such as USDTBEP20", c)
		}
		if seen[c] {
			return time.Time{}, nil, usagef("--currency %s is given twice", c)
		}
		seen[c] = true
	}
	switch {
	case f.fromAPI && len(f.amount) > 0:
		return time.Time{}, nil, usagef("give either --from-api or --currency C --amount X, not both")
	case f.fromAPI:
		return at, nil, nil
	case len(f.amount) == 0:
		return time.Time{}, nil, usagef("give --from-api, or --currency C --amount X for each currency")
	case len(f.amount) != len(f.currencies):
		return time.Time{}, nil, usagef("%d --currency and %d --amount: give them in pairs, --currency C --amount X", len(f.currencies), len(f.amount))
	}
	amounts := map[string]decimal.Decimal{}
	for i, s := range f.amount {
		d, err := decimal.NewFromString(strings.TrimSpace(s))
		if err != nil || !d.IsPositive() {
			return time.Time{}, nil, usagef("--amount %q for %s: want a positive decimal such as 2500.5", s, f.currencies[i])
		}
		amounts[f.currencies[i]] = d
	}
	return at, amounts, nil
}

// runOpening is `ledger opening-balances` once the command line is known good.
func runOpening(ctx context.Context, m *Main, f openingFlags, at time.Time, amounts map[string]decimal.Decimal) error {
	conn, err := m.OpenDB(ctx)
	if err != nil {
		return err
	}
	store := ledger.NewStore(conn, m.Config.Ledger.Accounts)
	out := openingJSON{At: at.UTC(), Basis: openingByAmount, By: strings.TrimSpace(f.by), DryRun: f.dryRun}
	var lines []openingLine
	if f.fromAPI {
		out.Basis = openingFromAPI
		release, err := store.LockOutSyncs(ctx)
		if errors.Is(err, ledger.ErrSyncRunning) {
			return errors.New("opening-balances: a sync is running (nordpay-jobs sync, or the sync job of a serve replica): --from-api needs the ledger and Nord PAY to stand still; run it when the sync has ended, right after a sync of your own")
		}
		if err != nil {
			return err
		}
		defer func() {
			if rerr := release(); rerr != nil {
				m.Logger.Warn("opening-balances: sync lock not released cleanly", "error", rerr)
			}
		}()
		if lines, err = openingFromAPILines(ctx, m, store, f, at); err != nil {
			return err
		}
	} else if lines, err = openingAmountLines(ctx, store, f, at, amounts); err != nil {
		return err
	}
	if err := openingCheckExisting(ctx, store, lines); err != nil {
		return err
	}

	var refused []string
	var entries []ledger.Entry
	var index []int // lines[index[i]] is entries[i]'s
	currencies, err := store.Currencies(ctx)
	if err != nil {
		return err
	}
	for i, l := range lines {
		switch l.Status {
		case openingRefused:
			refused = append(refused, l.Currency)
		case openingBook:
			o := ledger.Opening{Currency: l.Currency, Amount: l.amount, At: at, By: out.By, Basis: out.Basis}
			if c, ok := currencies[l.Currency]; ok && c.Rate.Valid {
				o.AmountUSD = decimal.NullDecimal{Decimal: l.amount.Mul(c.Rate.Decimal), Valid: true}
			}
			entries = append(entries, m.Config.Ledger.Accounts.OpeningEntry(o))
			index = append(index, i)
		}
	}
	if len(refused) == 0 && len(entries) > 0 && !f.dryRun {
		posted, err := store.PostEntries(ctx, entries)
		if err != nil {
			return err
		}
		for i, p := range posted {
			l := &lines[index[i]]
			l.EntryID = p.ID
			if p.Booked {
				l.Status = openingBooked
				out.Booked++
			} else {
				l.Status, l.Detail = openingAlready, "booked by someone else meanwhile"
			}
		}
	}
	out.Currencies = lines
	if f.asJSON {
		if err := m.printJSON(out); err != nil {
			return err
		}
	} else {
		printOpening(m, out, len(entries), len(refused) > 0)
	}
	if len(refused) > 0 {
		return withCode(ExitDifferences, fmt.Errorf("opening-balances: nothing booked: %s cannot get an opening balance (see the reasons above)", strings.Join(refused, ", ")))
	}
	return nil
}

// openingFromAPILines checks that the ledger is synced up to now from --at, and that no
// payout is half done, then reads GET /balance/ and the ledger's assets.
func openingFromAPILines(ctx context.Context, m *Main, store *ledger.Store, f openingFlags, at time.Time) ([]openingLine, error) {
	now := m.Now().UTC()
	sources := m.Config.Sync.Sources
	if len(sources) == 0 {
		sources = []string{ledger.SourceInvoice, ledger.SourceWallet}
	}
	for _, src := range sources {
		wm, ok, err := store.Watermark(ctx, src)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("opening-balances: %s transactions were never synced: run nordpay-jobs sync --from %s first, then this right after", src, at.Format(time.RFC3339))
		}
		if lag := now.Sub(wm); lag > f.maxLag {
			return nil, fmt.Errorf("opening-balances: the %s watermark %s is %s old, more than --max-lag %s: what Nord PAY shows since then is in GET /balance/ but not yet in the ledger; run nordpay-jobs sync first, then this right after",
				src, wm.Format(time.RFC3339), lag.Truncate(time.Second), f.maxLag)
		}
		from, ok, err := store.SyncedFrom(ctx, src)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("opening-balances: no sync of %s transactions has finished well yet: run nordpay-jobs sync --from %s first, then this right after",
				src, at.Format(time.RFC3339))
		}
		if from.After(at) {
			return nil, fmt.Errorf("opening-balances: %s transactions were synced from %s only, after --at %s: what happened in between would be counted as the opening balance; run nordpay-jobs sync --from %s first",
				src, from.Format(time.RFC3339), at.Format(time.RFC3339), at.Format(time.RFC3339))
		}
	}
	ps := payouts.NewStore(store, payoutPolicy(m.Config.Payouts))
	before, err := openingPayoutsSettled(ctx, ps)
	if err != nil {
		return nil, err
	}
	client, err := m.Client()
	if err != nil {
		return nil, err
	}
	balances, err := client.Balances(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening-balances: reading GET /balance/: %w", err)
	}
	assets, err := openingAssets(ctx, store, time.Time{})
	if err != nil {
		return nil, err
	}
	after, err := openingPayoutsSettled(ctx, ps)
	if err != nil {
		return nil, err
	}
	if !maps.Equal(before, after) {
		return nil, errors.New("opening-balances: payout chunks changed state while the balances were read: run it again when no payout runs")
	}

	api := map[string]nordpay.Balance{}
	for _, b := range balances {
		api[b.Currency] = b
	}
	keep := func(c string) bool { return len(f.currencies) == 0 || slices.Contains(f.currencies, c) }
	names := map[string]bool{}
	for c, b := range api {
		if keep(c) && (!b.Balance.IsZero() || !assets[c].IsZero()) {
			names[c] = true
		}
	}
	for c, a := range assets {
		if keep(c) && !a.IsZero() {
			names[c] = true
		}
	}
	for _, c := range f.currencies {
		names[c] = true
	}
	var lines []openingLine
	for _, c := range slices.Sorted(maps.Keys(names)) {
		l := openingLine{Currency: c, Ledger: assets[c].String()}
		b, listed := api[c]
		if listed {
			s := b.Balance.String()
			l.API = &s
		}
		diff := b.Balance.Sub(assets[c])
		l.amount, l.Amount = diff, diff.String()
		switch {
		case !listed && assets[c].IsZero():
			l.Status, l.Detail = openingRefused, "GET /balance/ does not list it, and the ledger holds none"
		case !listed:
			l.Status, l.Detail = openingRefused, "GET /balance/ does not list it, and the ledger holds some: see nordpay-jobs report reconcile"
		case diff.IsZero():
			l.Status = openingNothing
		case diff.IsNegative():
			l.Status = openingRefused
			l.Detail = fmt.Sprintf("the ledger holds %s more than Nord PAY: an opening balance cannot explain that; see nordpay-jobs report reconcile", diff.Neg())
		default:
			l.Status = openingBook
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// openingPayoutsSettled returns the payout chunks per state, or an error while any may have
// moved Nord PAY's balance without a withdrawal entry in the ledger (confirming, unknown).
func openingPayoutsSettled(ctx context.Context, ps *payouts.Store) (map[payouts.ChunkState]int64, error) {
	counts, err := ps.CountChunks(ctx)
	if err != nil {
		return nil, err
	}
	if n := counts[payouts.ChunkConfirming] + counts[payouts.ChunkUnknown]; n > 0 {
		return nil, fmt.Errorf("opening-balances: %d payout chunk(s) are confirming or in an unknown state (%d unknown): their withdrawals may have left Nord PAY's balance without being booked; let nordpay-jobs payouts run finish, resolve unknown chunks with nordpay-jobs payouts resolve, then run this again",
			n, counts[payouts.ChunkUnknown])
	}
	return counts, nil
}

// openingAssets is every currency's assets balance before at (zero: now).
func openingAssets(ctx context.Context, store *ledger.Store, at time.Time) (map[string]decimal.Decimal, error) {
	bs, err := store.Balances(ctx, at)
	if err != nil {
		return nil, err
	}
	chart := store.Chart()
	out := map[string]decimal.Decimal{}
	for _, b := range bs {
		if b.Account == chart.AssetsAccount(b.Currency) {
			out[b.Currency] = b.Balance
		}
	}
	return out, nil
}

// openingAmountLines are the lines of --currency C --amount X, for currencies the last
// sync saw listed. X is what Nord PAY held at --at; the entry books what the ledger does
// not hold at --at already (a sync from --at books the transactions its overlap finds
// just before it).
func openingAmountLines(ctx context.Context, store *ledger.Store, f openingFlags, at time.Time, amounts map[string]decimal.Decimal) ([]openingLine, error) {
	known, err := store.Currencies(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range f.currencies {
		if _, ok := known[c]; !ok {
			if len(known) == 0 {
				return nil, usagef("--currency %s: the ledger knows no currency yet; run nordpay-jobs sync once first, so that Nord PAY's currency list is known", c)
			}
			return nil, usagef("--currency %s: not a currency Nord PAY lists (the last sync saw %s)", c, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}
	assets, err := openingAssets(ctx, store, at)
	if err != nil {
		return nil, err
	}
	var lines []openingLine
	for _, c := range slices.Sorted(maps.Keys(amounts)) {
		held := amounts[c].String()
		diff := amounts[c].Sub(assets[c])
		l := openingLine{Currency: c, Held: &held, Ledger: assets[c].String(), amount: diff, Amount: diff.String(), Status: openingBook}
		switch {
		case diff.IsZero():
			l.Status = openingNothing
		case diff.IsNegative():
			l.Status = openingRefused
			l.Detail = fmt.Sprintf("the ledger holds %s at --at already, more than the %s given", assets[c], held)
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// openingCheckExisting looks at what is booked already: a currency with an opening
// balance gets no second one (the same amount is simply booked already).
func openingCheckExisting(ctx context.Context, store *ledger.Store, lines []openingLine) error {
	existing, err := store.Openings(ctx)
	if err != nil {
		return err
	}
	for i := range lines {
		l := &lines[i]
		if l.Status == openingRefused {
			continue
		}
		if o, ok := existing[l.Currency]; ok {
			l.EntryID = o.EntryID
			booked := fmt.Sprintf("booked as entry %d at %s (%s)", o.EntryID, o.At.Format(time.RFC3339), o.Description)
			switch {
			case l.Status == openingNothing && l.API != nil, l.Status == openingBook && l.amount.Equal(o.Amount) && l.API == nil:
				l.Status, l.amount, l.Amount, l.Detail = openingAlready, o.Amount, o.Amount.String(), booked
			default:
				l.Status = openingRefused
				l.Detail = fmt.Sprintf("it has an opening balance of %s already, %s, and %s differs from it; a correction is a reversing entry (see --help), and nordpay-jobs report reconcile shows what differs",
					o.Amount, booked, l.Amount)
			}
		}
	}
	return nil
}

// printOpening writes the plan or what was booked, for people; refused says that nothing
// was booked because a currency cannot get an opening balance (the error says so).
func printOpening(m *Main, out openingJSON, toBook int, refused bool) {
	m.printf("opening balances at %s, from %s:\n", out.At.Format(time.RFC3339), out.Basis)
	if len(out.Currencies) == 0 {
		m.printf("  no currency: Nord PAY and the ledger hold nothing\n")
		return
	}
	tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
	if out.Basis == openingFromAPI {
		fmt.Fprintln(tw, "  currency\tNord PAY now\tledger now\topening balance\tstatus")
	} else {
		fmt.Fprintln(tw, "  currency\theld at --at\tledger at --at\topening balance\tstatus")
	}
	for _, l := range out.Currencies {
		api := "-"
		switch {
		case l.API != nil:
			api = *l.API
		case l.Held != nil:
			api = *l.Held
		}
		status := l.Status
		if status == openingBook && out.DryRun {
			status = "would book"
		}
		if l.EntryID != 0 && l.Status != openingRefused {
			status += fmt.Sprintf(" (entry %d)", l.EntryID)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", l.Currency, api, l.Ledger, l.Amount, status)
	}
	tw.Flush()
	for _, l := range out.Currencies {
		if l.Detail != "" && l.Status != openingAlready {
			m.printf("  %s: %s\n", l.Currency, l.Detail)
		}
	}
	switch {
	case refused:
	case out.DryRun:
		m.printf("dry run: nothing booked; %d opening balance(s) to book\n", toBook)
	case out.Booked > 0:
		m.printf("booked %d opening balance(s) at %s by %s\n", out.Booked, out.At.Format(time.RFC3339), out.By)
	default:
		m.printf("nothing booked: every currency has its opening balance already, or needs none\n")
	}
}
