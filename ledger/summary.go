package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// Role says what an account of the chart is for; summaries and comparisons group postings
// by role, so that a renamed chart (config ledger.accounts) reads the same.
type Role string

// The roles of the chart, and RoleOther for an account outside it (a manual correction to
// an account of its own).
const (
	RoleAssets          Role = "assets"
	RoleInvoiceIncome   Role = "invoice_income"
	RoleWalletIncome    Role = "wallet_income"
	RoleNetworkFees     Role = "network_fees"
	RoleServiceFees     Role = "service_fees"
	RolePayouts         Role = "payouts"
	RoleWithdrawFees    Role = "withdraw_fees"
	RoleOpeningBalances Role = "opening_balances"
	RoleOther           Role = "other"
)

// RoleOf says which role the account name plays for currency, so that a report can tell
// receipts from fees whatever the accounts are called; RoleOther when the chart does not
// name it.
func (c Chart) RoleOf(account, currency string) Role {
	for _, f := range c.fields() {
		if name(f.template, currency) == account {
			return Role(f.role)
		}
	}
	return RoleOther
}

// Movement is what the postings of one role moved in a period: how many postings, and how
// much, in the direction the role is read (see Flows).
type Movement struct {
	Count     int64
	Amount    decimal.Decimal
	AmountUSD decimal.Decimal
	// USDMissing counts the postings without a USD value (a payout whose USD value Nord PAY
	// did not quote); AmountUSD sums the others only.
	USDMissing int64
	// weighted is the sum of amount x checkWeight(occurred_at), as booked (not flipped):
	// what a comparison matches against the other side's figures.
	weighted decimal.Decimal
}

// USD returns AmountUSD, or nothing when a posting has no USD value and the sum would be
// short of it.
func (m Movement) USD() decimal.NullDecimal {
	return decimal.NullDecimal{Decimal: m.AmountUSD, Valid: m.USDMissing == 0}
}

func (m *Movement) add(count, usdMissing int64, amount, usd, weighted decimal.Decimal) {
	m.Count += count
	m.USDMissing += usdMissing
	m.Amount = m.Amount.Add(amount)
	m.AmountUSD = m.AmountUSD.Add(usd)
	m.weighted = m.weighted.Add(weighted)
}

// Flows are the movements of one currency in a period, by role, each positive in the
// direction finance reads it: receipts are the gross amounts customers paid (the income
// postings, negated); fees, payouts and payout fees are what they cost (debits); opening
// balances are what the opening-balances account brought in (its postings, negated: an
// opening balance booked in the period, or its correction). Assets is the net change of
// the assets account, and Other the postings on accounts outside the chart (debits
// positive). Because every entry balances, Assets = opening balances + receipts - fees -
// payouts - payout fees - Other.
type Flows struct {
	InvoiceReceipts Movement
	WalletReceipts  Movement
	NetworkFees     Movement
	ServiceFees     Movement
	Payouts         Movement
	PayoutFees      Movement
	OpeningBalances Movement
	Assets          Movement
	Other           Movement
}

// add books one group of postings of role into the flows.
func (f *Flows) add(role Role, count, usdMissing int64, amount, usd, weighted decimal.Decimal) {
	switch role {
	case RoleAssets:
		f.Assets.add(count, usdMissing, amount, usd, weighted)
	case RoleInvoiceIncome:
		f.InvoiceReceipts.add(count, usdMissing, amount.Neg(), usd.Neg(), weighted)
	case RoleWalletIncome:
		f.WalletReceipts.add(count, usdMissing, amount.Neg(), usd.Neg(), weighted)
	case RoleNetworkFees:
		f.NetworkFees.add(count, usdMissing, amount, usd, weighted)
	case RoleServiceFees:
		f.ServiceFees.add(count, usdMissing, amount, usd, weighted)
	case RolePayouts:
		f.Payouts.add(count, usdMissing, amount, usd, weighted)
	case RoleWithdrawFees:
		f.PayoutFees.add(count, usdMissing, amount, usd, weighted)
	case RoleOpeningBalances:
		f.OpeningBalances.add(count, usdMissing, amount.Neg(), usd.Neg(), weighted)
	default:
		f.Other.add(count, usdMissing, amount, usd, weighted)
	}
}

// CurrencySummary is one currency's movements over a period, between the assets balances
// at its ends.
type CurrencySummary struct {
	Currency string
	// Opening and Closing are the assets account's balance at the period's start and end
	// (postings before From, before To); Current counts every posting booked, whatever its
	// time, for comparison with what Nord PAY holds now.
	Opening, Closing, Current decimal.Decimal
	Flows
}

// ExpectedClosing is what the movements say the closing balance should be: opening +
// opening balances booked in the period + receipts - network fees - service fees -
// payouts - payout fees.
func (c CurrencySummary) ExpectedClosing() decimal.Decimal {
	return c.Opening.Add(c.OpeningBalances.Amount).Add(c.InvoiceReceipts.Amount).Add(c.WalletReceipts.Amount).
		Sub(c.NetworkFees.Amount).Sub(c.ServiceFees.Amount).
		Sub(c.Payouts.Amount).Sub(c.PayoutFees.Amount)
}

// Difference is Closing - ExpectedClosing: zero when the period's movements explain the
// closing balance, which they do unless something was booked outside the chart.
func (c CurrencySummary) Difference() decimal.Decimal { return c.Closing.Sub(c.ExpectedClosing()) }

// DaySummary is one currency's movements on one day (a 24-hour bin starting at the
// period's start, so whole UTC days for a period that starts at midnight).
type DaySummary struct {
	Day      time.Time
	Currency string
	Flows
}

// Summary is what the ledger booked over a period, per currency and per day: the figures of
// the reconciliation report.
type Summary struct {
	From, To time.Time
	// Currencies are sorted by name; every currency with an account is there.
	Currencies []CurrencySummary
	// Days are sorted by day, then currency; only days with postings are there.
	Days []DaySummary
}

// summarySettings are the settings of a summary's (and a comparison's) transaction. jit
// off: compiling the aggregates cost more than it saved. The parallel costs are zeroed
// because the planner, which cannot know how many days a timestamp column holds, expects
// one group per few postings, so a partial aggregate in each worker looks like a waste and
// parallel plans lose; see summaryWorkMem.
const summarySettings = `
	SELECT set_config('jit', 'off', true),
	       set_config('parallel_setup_cost', '0', true),
	       set_config('parallel_tuple_cost', '0', true)`

// summaryWorkMem is work_mem during the summary query, for the same misestimate: with what
// the planner thinks a million groups need, it sorts the month's postings (to disk) or
// gathers them all into one process, where hashing them in each worker into the few hundred
// groups there are is what fits. Measured at 4M postings: sorted 2-4 s, gathered 2.8 s,
// hashed in the workers 1.3 s. It is only an estimate's: the real groups (accounts x days)
// take a few MB.
const summaryWorkMem = "1GB"

// checkWeightSQL is a weight drawn from the time of day of a posting (%[1]s, a timestamptz
// expression; $1 is the origin of the days) by the MINSTD generator: an integer in
// [1, 2^31-1) that looks random. Sums of amount x weight over a day differ between two sides
// when an amount moved between transactions of different times, which plain sums cannot see.
// The microseconds since the day's start come out of a float exactly (under 2^37, far below
// a float's 2^53); checkWeight computes the same in Go.
const checkWeightSQL = `(((round(date_part('epoch', %[1]s - date_bin('1 day', %[1]s, $1::timestamptz)) * 1000000)::int8 %% 2147483647) * 48271) %% 2147483647 + 1)`

// summaryQuery reads every posting of [From, To) once, grouped by account and day, and the
// assets accounts' postings outside the period once, summed per account and side (part 0
// before, 2 after): the opening and current balances. The second part is grouped by account
// alone, so that the planner, which knows how many accounts there are, sums in each worker
// (grouped by side as well, it gathered every posting into one process first: 0.27 s at
// 350k postings); it reads the index on postings (account_id, occurred_at) when the history
// is long.
var summaryQuery = fmt.Sprintf(`
	SELECT account_id, 1, date_bin('1 day', occurred_at, $1::timestamptz), count(*), sum(amount),
	       coalesce(sum(amount_usd), 0), count(*) - count(amount_usd), sum(amount * %s)
	FROM postings
	WHERE occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz
	GROUP BY account_id, 3
	UNION ALL
	SELECT o.account_id, v.part, NULL, 0, v.amount, 0, 0, 0
	FROM (
		SELECT account_id,
		       coalesce(sum(amount) FILTER (WHERE occurred_at < $1::timestamptz), 0) AS before,
		       coalesce(sum(amount) FILTER (WHERE occurred_at >= $2::timestamptz), 0) AS after
		FROM postings
		WHERE account_id = ANY($3::bigint[]) AND (occurred_at < $1::timestamptz OR occurred_at >= $2::timestamptz)
		GROUP BY account_id
	) o
	CROSS JOIN LATERAL (VALUES (0, o.before), (2, o.after)) AS v (part, amount)`, fmt.Sprintf(checkWeightSQL, "occurred_at"))

// Summarize sums what the ledger booked over [from, to), per currency and per day, in one
// read of the period's postings (and of the assets accounts' postings outside it, for the
// opening and current balances), in one snapshot.
func (s *Store) Summarize(ctx context.Context, from, to time.Time) (*Summary, error) {
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to begin a summary: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	if _, err := tx.ExecContext(ctx, summarySettings); err != nil {
		return nil, fmt.Errorf("ledger: unable to set up a summary: %w", err)
	}
	roles, err := s.roles(ctx, tx)
	if err != nil {
		return nil, err
	}
	sum, err := summarize(ctx, tx, roles, from.UTC(), to.UTC())
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("ledger: unable to finish a summary: %w", err)
	}
	return sum, nil
}

func checkPeriod(from, to time.Time) error {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return fmt.Errorf("%w: a period needs a start before its end (got %s to %s)", ErrInvalid,
			from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

// accountRoles is every account of the ledger with its role under the store's chart.
type accountRoles struct {
	byID map[int64]Account
	role map[int64]Role
}

// ids returns the ids of the accounts of role, sorted.
func (r accountRoles) ids(roles ...Role) []int64 {
	var out []int64
	for id, role := range r.role {
		for _, want := range roles {
			if role == want {
				out = append(out, id)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// roles reads the accounts inside tx, so that they are those of its snapshot.
func (s *Store) roles(ctx context.Context, tx *sqlx.Tx) (accountRoles, error) {
	r := accountRoles{byID: map[int64]Account{}, role: map[int64]Role{}}
	rows, err := tx.QueryContext(ctx, `SELECT id, name, type, currency FROM accounts`)
	if err != nil {
		return r, fmt.Errorf("ledger: unable to list accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Name, &a.Type, &a.Currency); err != nil {
			return r, fmt.Errorf("ledger: unable to read accounts: %w", err)
		}
		r.byID[a.ID] = a
		r.role[a.ID] = s.chart.RoleOf(a.Name, a.Currency)
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("ledger: unable to read accounts: %w", err)
	}
	return r, nil
}

// summarize runs summaryQuery in tx and folds its rows into a Summary.
func summarize(ctx context.Context, tx *sqlx.Tx, roles accountRoles, from, to time.Time) (*Summary, error) {
	var workMem string
	if err := tx.QueryRowContext(ctx, `SELECT current_setting('work_mem'), set_config('work_mem', $1, true)`, summaryWorkMem).Scan(&workMem, new(string)); err != nil {
		return nil, fmt.Errorf("ledger: unable to set up a summary: %w", err)
	}
	sum, err := summaryRows(ctx, tx, roles, from, to)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('work_mem', $1, true)`, workMem); err != nil {
		return nil, fmt.Errorf("ledger: unable to finish a summary: %w", err)
	}
	return sum, nil
}

// summaryRows runs summaryQuery and folds its rows into a Summary.
func summaryRows(ctx context.Context, tx *sqlx.Tx, roles accountRoles, from, to time.Time) (*Summary, error) {
	rows, err := tx.QueryContext(ctx, summaryQuery, from, to, pq.Array(roles.ids(RoleAssets)))
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to summarize %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	defer rows.Close()
	currencies := map[string]*CurrencySummary{}
	for _, a := range roles.byID {
		if currencies[a.Currency] == nil {
			currencies[a.Currency] = &CurrencySummary{Currency: a.Currency}
		}
	}
	type dayKey struct {
		day int64
		cur string
	}
	days := map[dayKey]*DaySummary{}
	for rows.Next() {
		var (
			account               int64
			part                  int
			day                   sql.NullTime
			count, usdMissing     int64
			amount, usd, weighted decimal.Decimal
		)
		if err := rows.Scan(&account, &part, &day, &count, &amount, &usd, &usdMissing, &weighted); err != nil {
			return nil, fmt.Errorf("ledger: unable to read the summary: %w", err)
		}
		a, ok := roles.byID[account]
		if !ok {
			return nil, fmt.Errorf("ledger: postings on account %d, which does not exist (run `nordpay-jobs ledger verify`)", account)
		}
		role := roles.role[account]
		c := currencies[a.Currency]
		switch part {
		case 0: // assets before the period
			c.Opening = c.Opening.Add(amount)
			c.Current = c.Current.Add(amount)
		case 2: // assets after it
			c.Current = c.Current.Add(amount)
		default:
			c.Flows.add(role, count, usdMissing, amount, usd, weighted)
			if role == RoleAssets {
				c.Current = c.Current.Add(amount)
			}
			k := dayKey{day.Time.Unix(), a.Currency}
			d := days[k]
			if d == nil {
				d = &DaySummary{Day: day.Time.UTC(), Currency: a.Currency}
				days[k] = d
			}
			d.Flows.add(role, count, usdMissing, amount, usd, weighted)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read the summary: %w", err)
	}
	out := &Summary{From: from, To: to}
	for _, c := range currencies {
		c.Closing = c.Opening.Add(c.Assets.Amount)
		out.Currencies = append(out.Currencies, *c)
	}
	sort.Slice(out.Currencies, func(i, j int) bool { return out.Currencies[i].Currency < out.Currencies[j].Currency })
	for _, d := range days {
		out.Days = append(out.Days, *d)
	}
	sort.Slice(out.Days, func(i, j int) bool {
		if !out.Days[i].Day.Equal(out.Days[j].Day) {
			return out.Days[i].Day.Before(out.Days[j].Day)
		}
		return out.Days[i].Currency < out.Days[j].Currency
	})
	return out, nil
}

// ---- comparison with what Nord PAY says ----

// FactState says what the ledger should do with an outside fact.
type FactState string

// Fact states: a bookable fact must be booked exactly as the posting rule books it; an
// unpaid one must not be booked (it moves no money); an unbookable one breaks a quarantine
// rule and cannot be booked until a person looks at it.
const (
	FactBookable   FactState = "bookable"
	FactUnpaid     FactState = "unpaid"
	FactUnbookable FactState = "unbookable"
)

// Fact is what an outside source (the Nord PAY API) says about one transaction, as a
// comparison holds it: its key, its time, and the amounts of the entry the posting rule
// makes of it (for an unpaid or unbookable fact, the amounts as the source gives them).
type Fact struct {
	Source, ExternalID string
	// At is the transaction's time; zero when the source did not give one.
	At     time.Time
	State  FactState
	Reason string // why the fact is unbookable
	// Currency, and the gross amount, fees and net, positive as the customer paid them.
	Currency                           string
	Gross, NetworkFee, ServiceFee, Net decimal.Decimal
	// TxHash and Label identify the payment for a person.
	TxHash, Label string
}

// Difference kinds: what a comparison found between the ledger and the outside source.
const (
	// DiffMissing: the source has a bookable transaction the ledger has not booked.
	DiffMissing = "missing"
	// DiffExtra: the ledger has an entry the source does not list in the period.
	DiffExtra = "extra"
	// DiffChanged: both have it, and Field differs.
	DiffChanged = "changed"
	// DiffBookedUnpaid: the ledger booked a transaction the source says is unpaid.
	DiffBookedUnpaid = "booked unpaid"
	// DiffUnbookable: the source's record breaks a quarantine rule, so it is not booked.
	DiffUnbookable = "unbookable"
	// DiffOtherEntry: an entry of another source (manual, reversal, ...) posts to the
	// receipts or fees accounts the comparison covers.
	DiffOtherEntry = "other entry"
	// DiffUnexplained: a day's figures differ and no entry explains it.
	DiffUnexplained = "unexplained"
)

// Fields a DiffChanged names.
const (
	FieldTime       = "time"
	FieldCurrency   = "currency"
	FieldGross      = "gross"
	FieldNetworkFee = "network_fee"
	FieldServiceFee = "service_fee"
	FieldNet        = "net"
	FieldPostings   = "postings"
)

// Difference is one thing a comparison found, for a person to look at.
type Difference struct {
	Kind               string
	Source, ExternalID string
	// Currency is the source's, else the ledger's.
	Currency string
	// At is the source's time for the transaction; zero when it has none.
	At time.Time
	// EntryID and BookedAt (the entry's occurred_at) name the ledger's entry; zero when
	// nothing is booked.
	EntryID  int64
	BookedAt time.Time
	// Field is what differs (DiffChanged; a role for DiffUnexplained); Ledger and Theirs
	// are the two amounts where the field is one.
	Field          string
	Ledger, Theirs decimal.NullDecimal
	// Detail explains it in a sentence; Reason is the quarantine rule broken.
	Detail, Reason string
	// TxHash and Label identify the payment for a person: the source's, else the ledger's.
	TxHash, Label string
}

// FactTotal sums the facts of one source, currency, day and state in the period, as the
// outside source gives them.
type FactTotal struct {
	Source, Currency                   string
	Day                                time.Time
	State                              FactState
	Count                              int64
	Gross, NetworkFee, ServiceFee, Net decimal.Decimal
}

// ComparisonResult is what Compare found: the ledger's summary of the period, the source's
// totals, and every difference.
type ComparisonResult struct {
	Summary *Summary
	// Facts are the source's totals per source, currency, day and state, sorted.
	Facts []FactTotal
	// Differences are sorted by time, then key; Total counts them all, even when
	// Differences holds only the first MaxDifferences.
	Differences []Difference
	Total       int
	// DaysCompared is how many days (of one currency each) had figures that differed and
	// were compared entry by entry.
	DaysCompared int
}

// MaxDifferences is how many differences a comparison lists; the rest are counted. A
// ledger that misses a whole month would otherwise list a million lines.
const MaxDifferences = 100_000

// A Comparison holds what an outside source says about the transactions of a period, and
// compares it with the ledger in one snapshot. Facts are COPY'd into a temporary table as
// they come, and summed per day on the way (nothing is held in memory per fact, except the
// few unbookable ones); Compare matches the sums, then the facts, with the ledger in SQL.
//
// The comparison is two-level, so that a month of a million transactions is compared in
// seconds. First, per currency and day, the ledger's receipts (per source: count, sum) and
// fees (sum), from the same read of the postings as the Summary, against the facts'; each
// also as a sum of amount x a weight drawn from the time of day, which moves when an amount
// moves between two transactions of the same day (the facts' weights are computed here, by
// checkWeight, the ledger's in SQL, by checkWeightSQL; both from the time rounded to the
// microsecond as the ledger stores it). Then, only for the currencies' days where anything
// differs, fact by fact and entry by entry: missing, extra, changed (time, currency, gross,
// fees, net, postings), booked though unpaid, other entries on the receipts and fees
// accounts. A day that agrees at the first level has as many transactions of each source,
// with the same receipts and fees at the same times; what it cannot see is a transaction
// booked under another id at the same microsecond with the same amounts. Unbookable facts
// are always listed.
//
// A Comparison is not safe for concurrent use. It holds one database transaction until
// Compare or Rollback.
type Comparison struct {
	s        *Store
	tx       *sqlx.Tx
	copy     *sql.Stmt // nil once the COPY is closed
	args     []any
	from, to time.Time

	totals     map[factKey]*FactTotal
	checks     map[checkKey]dayCheck
	unbookable []Fact
	unbookN    int
	err        error
	done       bool
}

// factKey groups the facts of the period for FactTotal.
type factKey struct {
	source, currency string
	day              int64 // Unix seconds of the day's start
	state            FactState
}

const (
	factsTable  = "ledger_comparison_facts"
	createFacts = `
		CREATE TEMPORARY TABLE ledger_comparison_facts (
			source      text        NOT NULL,
			external_id text        NOT NULL,
			at          timestamptz,
			state       text        NOT NULL,
			reason      text        NOT NULL,
			currency    text        NOT NULL,
			gross       numeric     NOT NULL,
			network_fee numeric     NOT NULL,
			service_fee numeric     NOT NULL,
			net         numeric     NOT NULL,
			tx_hash     text        NOT NULL,
			label       text        NOT NULL
		) ON COMMIT DROP`
)

var factColumns = []string{"source", "external_id", "at", "state", "reason", "currency",
	"gross", "network_fee", "service_fee", "net", "tx_hash", "label"}

// comparedSources are the sources whose entries a comparison matches with facts.
var comparedSources = []string{SourceInvoice, SourceWallet}

// BeginComparison starts a comparison over [from, to): a REPEATABLE READ transaction
// (every figure comes from the snapshot of its first statement, taken here), its temporary
// table, and a COPY into it. Facts outside the period may be added too (a margin on both
// sides): they pair an entry of the period with its fact when the time moved.
func (s *Store) BeginComparison(ctx context.Context, from, to time.Time) (*Comparison, error) {
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to begin a comparison: %w", err)
	}
	c := &Comparison{s: s, tx: tx, args: make([]any, len(factColumns)), from: from.UTC(), to: to.UTC(),
		totals: map[factKey]*FactTotal{}, checks: map[checkKey]dayCheck{}}
	if _, err := tx.ExecContext(ctx, summarySettings); err != nil {
		return nil, c.abort(fmt.Errorf("ledger: unable to set up a comparison: %w", err))
	}
	if _, err := tx.ExecContext(ctx, createFacts); err != nil {
		return nil, c.abort(fmt.Errorf("ledger: unable to create the comparison's table: %w", err))
	}
	if c.copy, err = tx.PrepareContext(ctx, pq.CopyIn(factsTable, factColumns...)); err != nil {
		return nil, c.abort(fmt.Errorf("ledger: unable to start copying facts: %w", err))
	}
	return c, nil
}

func (c *Comparison) abort(err error) error {
	c.done = true
	if rbErr := c.tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
		return errors.Join(err, fmt.Errorf("ledger: unable to roll back a comparison: %w", rbErr))
	}
	return err
}

// AddEntry adds a bookable fact: the entry the posting rule makes of a paid transaction
// (Chart.TransactionEntry), which the ledger must hold exactly. Its postings are read by
// role under the store's chart; an entry with a posting the rule would not make (another
// role, another currency) is ErrInvalid.
func (c *Comparison) AddEntry(ctx context.Context, e *Entry) error {
	f := Fact{Source: e.Source, ExternalID: e.ExternalID, At: e.OccurredAt, State: FactBookable,
		TxHash: e.TxHash, Label: e.Label}
	if len(e.Postings) > 0 {
		f.Currency = e.Postings[0].Currency
	}
	income := RoleInvoiceIncome
	if e.Source == SourceWallet {
		income = RoleWalletIncome
	}
	for _, p := range e.Postings {
		if p.Currency != f.Currency {
			return fmt.Errorf("%w: %s/%s posts in %s and %s; a comparison takes one currency per transaction",
				ErrInvalid, e.Source, e.ExternalID, f.Currency, p.Currency)
		}
		switch c.s.chart.RoleOf(p.Account, p.Currency) {
		case RoleAssets:
			f.Net = f.Net.Add(p.Amount)
		case RoleNetworkFees:
			f.NetworkFee = f.NetworkFee.Add(p.Amount)
		case RoleServiceFees:
			f.ServiceFee = f.ServiceFee.Add(p.Amount)
		case income:
			f.Gross = f.Gross.Sub(p.Amount)
		default:
			return fmt.Errorf("%w: %s/%s posts to %s, which is not an account of a %s transaction",
				ErrInvalid, e.Source, e.ExternalID, p.Account, e.Source)
		}
	}
	return c.Add(ctx, f)
}

// Add adds a fact as it is: an unpaid or unbookable one (a bookable one is better added by
// AddEntry, which reads the amounts off the entry the posting rule makes). Its time is
// rounded to the microsecond, as the ledger stores times. A database error breaks the
// comparison: Add and Compare return it from then on.
func (c *Comparison) Add(ctx context.Context, f Fact) error {
	if c.done {
		return errors.New("ledger: add to a finished comparison")
	}
	if c.err != nil {
		return c.err
	}
	switch f.State {
	case FactBookable, FactUnpaid, FactUnbookable:
	default:
		return fmt.Errorf("%w: fact %s/%s has state %q", ErrInvalid, f.Source, f.ExternalID, f.State)
	}
	if f.State == FactBookable && (f.ExternalID == "" || f.At.IsZero() || f.Currency == "") {
		return fmt.Errorf("%w: bookable fact %s/%s needs an id, a time and a currency", ErrInvalid, f.Source, f.ExternalID)
	}
	if !f.At.IsZero() {
		f.At = f.At.Round(time.Microsecond).UTC()
	}
	a := c.args
	a[0], a[1], a[2], a[3], a[4], a[5] = f.Source, f.ExternalID, nil, string(f.State), f.Reason, f.Currency
	if !f.At.IsZero() {
		a[2] = f.At
	}
	a[6], a[7], a[8], a[9] = f.Gross.String(), f.NetworkFee.String(), f.ServiceFee.String(), f.Net.String()
	a[10], a[11] = storableText([]byte(f.TxHash)), storableText([]byte(f.Label))
	if _, err := c.copy.ExecContext(ctx, a...); err != nil {
		c.err = fmt.Errorf("ledger: unable to stage fact %s/%s: %w", f.Source, f.ExternalID, err)
		return c.err
	}
	inPeriod := !f.At.IsZero() && !f.At.Before(c.from) && f.At.Before(c.to)
	if f.State == FactUnbookable && (inPeriod || f.At.IsZero()) {
		c.unbookN++
		if len(c.unbookable) < MaxDifferences {
			c.unbookable = append(c.unbookable, f)
		}
	}
	if inPeriod {
		c.sum(f)
	}
	return nil
}

// sum adds a fact of the period to the day's totals and, when bookable, to the day's checks
// as the ledger books them (income as a credit).
func (c *Comparison) sum(f Fact) {
	since := f.At.Sub(c.from)
	dayStart := c.from.Add(since.Truncate(24 * time.Hour))
	day := dayStart.Unix()
	k := factKey{source: f.Source, currency: f.Currency, day: day, state: f.State}
	t := c.totals[k]
	if t == nil {
		t = &FactTotal{Source: f.Source, Currency: f.Currency, Day: dayStart, State: f.State}
		c.totals[k] = t
	}
	t.Count++
	t.Gross, t.NetworkFee, t.ServiceFee, t.Net = t.Gross.Add(f.Gross), t.NetworkFee.Add(f.NetworkFee), t.ServiceFee.Add(f.ServiceFee), t.Net.Add(f.Net)
	if f.State != FactBookable {
		return
	}
	w := decimal.NewFromInt(checkWeight(f.At.Sub(dayStart).Microseconds()))
	income := RoleInvoiceIncome
	if f.Source == SourceWallet {
		income = RoleWalletIncome
	}
	addCheck(c.checks, checkKey{day: day, currency: f.Currency, role: income}, dayCheck{count: 1, sum: f.Gross.Neg(), weighted: f.Gross.Neg().Mul(w)})
	if !f.NetworkFee.IsZero() {
		addCheck(c.checks, checkKey{day: day, currency: f.Currency, role: RoleNetworkFees}, dayCheck{sum: f.NetworkFee, weighted: f.NetworkFee.Mul(w)})
	}
	if !f.ServiceFee.IsZero() {
		addCheck(c.checks, checkKey{day: day, currency: f.Currency, role: RoleServiceFees}, dayCheck{sum: f.ServiceFee, weighted: f.ServiceFee.Mul(w)})
	}
}

// checkWeight is checkWeightSQL in Go: the weight of a time from its microseconds since the
// start of its day.
func checkWeight(usInDay int64) int64 {
	return (usInDay%2147483647)*48271%2147483647 + 1
}

// Rollback abandons the comparison. It is safe after Compare (it does nothing), so callers
// can defer it.
func (c *Comparison) Rollback() error {
	if c.done {
		return nil
	}
	c.done = true
	var errs []error
	if c.copy != nil {
		if err := c.copy.Close(); err != nil && c.err == nil {
			errs = append(errs, fmt.Errorf("ledger: unable to end the comparison's copy: %w", err))
		}
		c.copy = nil
	}
	if err := c.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		errs = append(errs, fmt.Errorf("ledger: unable to roll back a comparison: %w", err))
	}
	return errors.Join(errs...)
}

// closeCopy ends the COPY, which is when the server reports a bad row.
func (c *Comparison) closeCopy(ctx context.Context) error {
	if c.copy == nil {
		return nil
	}
	stmt := c.copy
	c.copy = nil
	_, err := stmt.ExecContext(ctx)
	if closeErr := stmt.Close(); err == nil && closeErr != nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("ledger: unable to copy the facts: %w", err)
	}
	return nil
}

// Compare matches the facts with the ledger over the period and ends the comparison.
func (c *Comparison) Compare(ctx context.Context) (*ComparisonResult, error) {
	if c.done {
		return nil, errors.New("ledger: compare of a finished comparison")
	}
	defer c.Rollback() //nolint:errcheck // the comparison changes nothing; its table goes with the transaction
	if c.err != nil {
		return nil, c.err
	}
	if err := c.closeCopy(ctx); err != nil {
		return nil, err
	}
	roles, err := c.s.roles(ctx, c.tx)
	if err != nil {
		return nil, err
	}
	sum, err := summarize(ctx, c.tx, roles, c.from, c.to)
	if err != nil {
		return nil, err
	}
	res := &ComparisonResult{Summary: sum, Facts: c.factTotals()}
	mismatches := compareDays(sum, c.checks)
	diffs := &diffList{}
	if buckets := mismatches.buckets(); len(buckets) > 0 {
		res.DaysCompared = len(buckets)
		if err := c.compareEntries(ctx, roles, buckets, diffs); err != nil {
			return nil, err
		}
	}
	if err := c.listUnbookable(ctx, diffs); err != nil {
		return nil, err
	}
	mismatches.unexplained(diffs, c.from)
	diffs.sort()
	res.Differences, res.Total = diffs.list, diffs.total
	return res, nil
}

// factTotals returns the period's fact totals, sorted.
func (c *Comparison) factTotals() []FactTotal {
	out := make([]FactTotal, 0, len(c.totals))
	for _, t := range c.totals {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.Source != b.Source:
			return a.Source < b.Source
		case a.Currency != b.Currency:
			return a.Currency < b.Currency
		case !a.Day.Equal(b.Day):
			return a.Day.Before(b.Day)
		}
		return a.State < b.State
	})
	return out
}

// dayCheck is a first-level figure of one day on one side: how many, how much, and how
// much weighted by the time of day.
type dayCheck struct {
	count         int64
	sum, weighted decimal.Decimal
}

func (d dayCheck) equal(o dayCheck) bool {
	return d.count == o.count && d.sum.Equal(o.sum) && d.weighted.Equal(o.weighted)
}

// checkKey names a first-level figure: a day, a currency and a role.
type checkKey struct {
	day      int64 // Unix seconds of the day's start
	currency string
	role     Role
}

func addCheck(m map[checkKey]dayCheck, k checkKey, d dayCheck) {
	prev := m[k]
	m[k] = dayCheck{count: prev.count + d.count, sum: prev.sum.Add(d.sum), weighted: prev.weighted.Add(d.weighted)}
}

// dayMismatches are the first-level figures that differ.
type dayMismatches struct {
	// figures holds, per differing key, the ledger's and the facts' figure.
	figures map[checkKey][2]dayCheck
}

// bucket is one currency's day, the unit compared entry by entry.
type bucket struct {
	day      time.Time
	currency string
}

// buckets returns the currencies' days whose figures differ, sorted.
func (m dayMismatches) buckets() []bucket {
	seen := map[bucket]bool{}
	var out []bucket
	for k := range m.figures {
		b := bucket{time.Unix(k.day, 0).UTC(), k.currency}
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].day.Equal(out[j].day) {
			return out[i].day.Before(out[j].day)
		}
		return out[i].currency < out[j].currency
	})
	return out
}

// comparedRoles are the roles of the first-level comparison; counts are compared for the
// income roles only (one posting per transaction; a fee of zero has no posting).
var comparedRoles = []Role{RoleInvoiceIncome, RoleWalletIncome, RoleNetworkFees, RoleServiceFees}

// compareDays compares the ledger's first-level figures, from the summary's days, with the
// facts'.
func compareDays(sum *Summary, facts map[checkKey]dayCheck) dayMismatches {
	ledger := map[checkKey]dayCheck{}
	for _, d := range sum.Days {
		day := d.Day.Unix()
		for _, role := range comparedRoles {
			var m Movement
			switch role {
			case RoleInvoiceIncome:
				m = Movement{Count: d.InvoiceReceipts.Count, Amount: d.InvoiceReceipts.Amount.Neg(), weighted: d.InvoiceReceipts.weighted}
			case RoleWalletIncome:
				m = Movement{Count: d.WalletReceipts.Count, Amount: d.WalletReceipts.Amount.Neg(), weighted: d.WalletReceipts.weighted}
			case RoleNetworkFees:
				m = Movement{Amount: d.NetworkFees.Amount, weighted: d.NetworkFees.weighted}
			case RoleServiceFees:
				m = Movement{Amount: d.ServiceFees.Amount, weighted: d.ServiceFees.weighted}
			}
			if m.Count == 0 && m.Amount.IsZero() && m.weighted.IsZero() {
				continue
			}
			addCheck(ledger, checkKey{day: day, currency: d.Currency, role: role}, dayCheck{count: m.Count, sum: m.Amount, weighted: m.weighted})
		}
	}
	m := dayMismatches{figures: map[checkKey][2]dayCheck{}}
	compare := func(k checkKey) {
		if l, f := ledger[k], facts[k]; !l.equal(f) {
			m.figures[k] = [2]dayCheck{l, f}
		}
	}
	for k := range ledger {
		compare(k)
	}
	for k := range facts {
		if _, seen := ledger[k]; !seen {
			compare(k)
		}
	}
	return m
}

// unexplained adds a DiffUnexplained for every differing figure that no listed difference
// of its day and currency explains, so that a mismatch is never silent.
func (m dayMismatches) unexplained(diffs *diffList, from time.Time) {
	if len(m.figures) == 0 {
		return
	}
	type dayCur struct {
		day int64
		cur string
	}
	explained := map[dayCur]bool{}
	for _, d := range diffs.list {
		for _, t := range []time.Time{d.At, d.BookedAt} {
			if !t.IsZero() && !t.Before(from) {
				explained[dayCur{from.Add(t.Sub(from).Truncate(24 * time.Hour)).Unix(), d.Currency}] = true
			}
		}
	}
	keys := make([]checkKey, 0, len(m.figures))
	for k := range m.figures {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.day != b.day {
			return a.day < b.day
		}
		if a.currency != b.currency {
			return a.currency < b.currency
		}
		return a.role < b.role
	})
	for _, k := range keys {
		if explained[dayCur{k.day, k.currency}] {
			continue
		}
		fig := m.figures[k]
		day := time.Unix(k.day, 0).UTC()
		diffs.add(Difference{Kind: DiffUnexplained, Currency: k.currency, At: day, Field: string(k.role),
			Ledger: decimal.NullDecimal{Decimal: fig[0].sum, Valid: true},
			Theirs: decimal.NullDecimal{Decimal: fig[1].sum, Valid: true},
			Detail: fmt.Sprintf("on the day from %s the %s postings in %s (%d, as booked, weighted sum %s) differ from the source's (%d, weighted sum %s), and no entry was found that differs",
				day.Format(time.RFC3339), k.role, k.currency, fig[0].count, fig[0].weighted, fig[1].count, fig[1].weighted)})
	}
}

// diffList collects differences up to MaxDifferences, counting the rest, each once.
type diffList struct {
	list  []Difference
	total int
	seen  map[string]bool
}

func (l *diffList) add(d Difference) {
	if d.ExternalID != "" {
		key := d.Kind + "\x00" + d.Source + "\x00" + d.ExternalID + "\x00" + d.Field
		if l.seen == nil {
			l.seen = map[string]bool{}
		}
		if l.seen[key] {
			return
		}
		l.seen[key] = true
	}
	l.total++
	if len(l.list) < MaxDifferences {
		l.list = append(l.list, d)
	}
}

func (l *diffList) sort() {
	sort.SliceStable(l.list, func(i, j int) bool {
		a, b := l.list[i], l.list[j]
		ta, tb := a.At, b.At
		if ta.IsZero() {
			ta = a.BookedAt
		}
		if tb.IsZero() {
			tb = b.BookedAt
		}
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.ExternalID < b.ExternalID
	})
}

// compareEntriesQuery compares, in the given buckets (a currency's day each), every fact
// with its entry and every entry with its fact, and returns the pairs that differ, each
// entry with its postings summed by role. An entry is in a bucket when it has a posting on
// one of the currency's accounts that day (a LATERAL subquery, which OFFSET 0 keeps from
// being flattened, makes the planner read each bucket's day through an index, and each
// entry by id, rather than scan the month: it cannot judge a day's share of it from the
// bounds); a fact when its time and currency are. A fact whose entry is not in its bucket is paired with its entry of any
// time (a moved time, another currency); an entry whose fact is not in its bucket comes
// back unpaired (has_fact false) for Go to look its fact up (lookupFacts).
//
// $1, $2 the buckets' day starts and currencies; $3 the compared sources; $4..$8 the
// account ids of assets, invoice income, wallet income, network fees and service fees; $9
// the wallet source (whose income account differs).
const compareEntriesQuery = `
	WITH buckets AS (
		SELECT b.lo, b.lo + interval '1 day' AS hi, b.currency
		FROM unnest($1::timestamptz[], $2::text[]) AS b (lo, currency)
	), bucket_entries AS (
		SELECT DISTINCT q.entry_id
		FROM buckets b
		CROSS JOIN LATERAL (
			SELECT p.entry_id FROM postings p
			WHERE p.account_id = ANY(ARRAY(SELECT a.id FROM accounts a WHERE a.currency = b.currency))
			  AND p.occurred_at >= b.lo AND p.occurred_at < b.hi
			OFFSET 0
		) q
	), day_entries AS (
		SELECT e.*
		FROM bucket_entries be
		CROSS JOIN LATERAL (
			SELECT e.id, e.source, e.external_id, e.occurred_at, e.tx_hash, e.label
			FROM journal_entries e WHERE e.id = be.entry_id
			OFFSET 0
		) e
	), day_facts AS (
		SELECT f.*
		FROM ledger_comparison_facts f
		JOIN buckets b ON f.currency = b.currency AND f.at >= b.lo AND f.at < b.hi
	), joined AS MATERIALIZED (
		SELECT f.source AS f_source, f.external_id AS f_external_id, f.at, f.state, f.currency,
		       f.gross, f.network_fee, f.service_fee, f.net, f.tx_hash AS f_tx_hash, f.label AS f_label,
		       e.id, e.source AS e_source, e.external_id AS e_external_id, e.occurred_at,
		       e.tx_hash AS e_tx_hash, e.label AS e_label
		FROM day_facts f
		FULL JOIN day_entries e ON e.source = f.source AND e.external_id = f.external_id
	), pairs AS (
		SELECT f_source IS NOT NULL AS has_fact, coalesce(f_source, e_source) AS source,
		       coalesce(f_external_id, e_external_id) AS external_id, at, state, currency,
		       gross, network_fee, service_fee, net, f_tx_hash AS tx_hash, f_label AS label,
		       id AS entry_id, occurred_at, e_tx_hash AS entry_tx_hash, e_label AS entry_label
		FROM joined
		WHERE id IS NOT NULL
		UNION ALL
		SELECT true, j.f_source, j.f_external_id, j.at, j.state, j.currency,
		       j.gross, j.network_fee, j.service_fee, j.net, j.f_tx_hash, j.f_label,
		       x.id, x.occurred_at, x.tx_hash, x.label
		FROM joined j
		LEFT JOIN journal_entries x ON x.source = j.f_source AND x.external_id = j.f_external_id
		WHERE j.id IS NULL
	)
	SELECT p.has_fact, p.source, p.external_id, p.at, coalesce(p.state, ''), coalesce(p.currency, ''),
	       p.gross, p.network_fee, p.service_fee, p.net, coalesce(p.tx_hash, ''), coalesce(p.label, ''),
	       coalesce(p.entry_id, 0), p.occurred_at, coalesce(p.entry_tx_hash, ''), coalesce(p.entry_label, ''),
	       coalesce(a.n, 0), coalesce(a.cur_min, ''), coalesce(a.cur_max, ''),
	       coalesce(a.inv, 0), coalesce(a.wal, 0), coalesce(a.nf, 0), coalesce(a.sf, 0), coalesce(a.net, 0),
	       coalesce(a.other, 0), coalesce(a.touch, 0)
	FROM pairs p
	LEFT JOIN LATERAL (
		SELECT count(*) AS n, min(q.currency) AS cur_min, max(q.currency) AS cur_max,
		       -coalesce(sum(q.amount) FILTER (WHERE q.account_id = ANY($5::bigint[])), 0) AS inv,
		       -coalesce(sum(q.amount) FILTER (WHERE q.account_id = ANY($6::bigint[])), 0) AS wal,
		       coalesce(sum(q.amount) FILTER (WHERE q.account_id = ANY($7::bigint[])), 0) AS nf,
		       coalesce(sum(q.amount) FILTER (WHERE q.account_id = ANY($8::bigint[])), 0) AS sf,
		       coalesce(sum(q.amount) FILTER (WHERE q.account_id = ANY($4::bigint[])), 0) AS net,
		       coalesce(sum(abs(q.amount)) FILTER (WHERE NOT q.account_id = ANY($4::bigint[] || $5 || $6 || $7 || $8)), 0) AS other,
		       coalesce(sum(abs(q.amount)) FILTER (WHERE q.account_id = ANY($5::bigint[] || $6 || $7 || $8)), 0) AS touch
		FROM postings q
		WHERE q.entry_id = p.entry_id
	) a ON p.entry_id IS NOT NULL
	WHERE CASE
		WHEN NOT p.has_fact THEN p.source = ANY($3::text[]) OR a.touch <> 0
		WHEN p.state = 'unbookable' THEN false
		WHEN p.state <> 'bookable' THEN p.entry_id IS NOT NULL
		WHEN p.entry_id IS NULL THEN true
		ELSE NOT coalesce(
			p.at = p.occurred_at AND a.cur_min = p.currency AND a.cur_max = p.currency AND a.other = 0
			AND a.nf = p.network_fee AND a.sf = p.service_fee AND a.net = p.net
			AND CASE WHEN p.source = $9 THEN a.wal = p.gross AND a.inv = 0 ELSE a.inv = p.gross AND a.wal = 0 END,
			false)
	END`

// compareEntries compares the given buckets fact by fact and entry by entry, and lists what
// differs.
func (c *Comparison) compareEntries(ctx context.Context, roles accountRoles, buckets []bucket, diffs *diffList) error {
	days, curs := make([]time.Time, len(buckets)), make([]string, len(buckets))
	for i, b := range buckets {
		days[i], curs[i] = b.day, b.currency
	}
	rows, err := c.tx.QueryContext(ctx, compareEntriesQuery, pq.Array(days), pq.Array(curs), pq.Array(comparedSources),
		pq.Array(roles.ids(RoleAssets)), pq.Array(roles.ids(RoleInvoiceIncome)), pq.Array(roles.ids(RoleWalletIncome)),
		pq.Array(roles.ids(RoleNetworkFees)), pq.Array(roles.ids(RoleServiceFees)), SourceWallet)
	if err != nil {
		return fmt.Errorf("ledger: unable to compare %d day(s) entry by entry: %w", len(buckets), err)
	}
	defer rows.Close()
	var unpaired []pairRow // entries whose fact is not in their bucket
	for rows.Next() {
		var (
			r       pairRow
			at, occ sql.NullTime
			amounts [4]decimal.NullDecimal
		)
		if err := rows.Scan(&r.hasFact, &r.source, &r.externalID, &at, &r.state, &r.currency,
			&amounts[0], &amounts[1], &amounts[2], &amounts[3], &r.txHash, &r.label,
			&r.entryID, &occ, &r.entryTxHash, &r.entryLabel,
			&r.postings, &r.curMin, &r.curMax, &r.inv, &r.wal, &r.nf, &r.sf, &r.net, &r.other, &r.touch); err != nil {
			return fmt.Errorf("ledger: unable to read the entry comparison: %w", err)
		}
		if at.Valid {
			r.at = at.Time.UTC()
		}
		if occ.Valid {
			r.occurredAt = occ.Time.UTC()
		}
		r.gross, r.networkFee, r.serviceFee, r.factNet = amounts[0].Decimal, amounts[1].Decimal, amounts[2].Decimal, amounts[3].Decimal
		if !r.hasFact && (r.source == SourceInvoice || r.source == SourceWallet) {
			unpaired = append(unpaired, r)
			continue
		}
		r.explain(diffs)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: unable to read the entry comparison: %w", err)
	}
	return c.lookupFacts(ctx, unpaired, diffs)
}

// lookupFacts finds, among all the facts (any time, the margins too), those of entries that
// had none in their bucket, and explains each entry with its fact, or as extra.
func (c *Comparison) lookupFacts(ctx context.Context, entries []pairRow, diffs *diffList) error {
	if len(entries) == 0 {
		return nil
	}
	sources, ids := make([]string, len(entries)), make([]string, len(entries))
	for i, r := range entries {
		sources[i], ids[i] = r.source, r.externalID
	}
	rows, err := c.tx.QueryContext(ctx, `
		SELECT f.source, f.external_id, f.at, f.state, f.currency, f.gross, f.network_fee, f.service_fee, f.net, f.tx_hash, f.label
		FROM ledger_comparison_facts f
		WHERE (f.source, f.external_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
		pq.Array(sources), pq.Array(ids))
	if err != nil {
		return fmt.Errorf("ledger: unable to look up the facts of %d entries: %w", len(entries), err)
	}
	defer rows.Close()
	facts := map[[2]string]pairRow{}
	for rows.Next() {
		var (
			f  pairRow
			at sql.NullTime
		)
		if err := rows.Scan(&f.source, &f.externalID, &at, &f.state, &f.currency, &f.gross, &f.networkFee, &f.serviceFee,
			&f.factNet, &f.txHash, &f.label); err != nil {
			return fmt.Errorf("ledger: unable to read the facts of entries: %w", err)
		}
		if at.Valid {
			f.at = at.Time.UTC()
		}
		facts[[2]string{f.source, f.externalID}] = f
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: unable to read the facts of entries: %w", err)
	}
	for _, r := range entries {
		if f, ok := facts[[2]string{r.source, r.externalID}]; ok {
			if f.state == string(FactUnbookable) {
				continue // listed with the unbookable facts
			}
			r.hasFact = true
			r.at, r.state, r.currency = f.at, f.state, f.currency
			r.gross, r.networkFee, r.serviceFee, r.factNet = f.gross, f.networkFee, f.serviceFee, f.factNet
			r.txHash, r.label = f.txHash, f.label
			if r.state == string(FactUnpaid) || r.differs() {
				r.explain(diffs)
			}
			continue
		}
		r.explain(diffs)
	}
	return nil
}

// differs reports whether a paired entry differs from its bookable fact (what the SQL of
// compareEntriesQuery decides for the pairs it makes).
func (r pairRow) differs() bool {
	gross, wrong := r.inv, r.wal
	if r.source == SourceWallet {
		gross, wrong = r.wal, r.inv
	}
	return !r.at.Equal(r.occurredAt) || r.curMin != r.currency || r.curMax != r.currency || !r.other.IsZero() ||
		!r.nf.Equal(r.networkFee) || !r.sf.Equal(r.serviceFee) || !r.net.Equal(r.factNet) ||
		!gross.Equal(r.gross) || !wrong.IsZero()
}

// pairRow is one row of compareEntriesQuery: a fact, its entry, or both.
type pairRow struct {
	hasFact                                bool
	source, externalID, state, currency    string
	at, occurredAt                         time.Time
	gross, networkFee, serviceFee, factNet decimal.Decimal
	txHash, label, entryTxHash, entryLabel string
	entryID, postings                      int64
	curMin, curMax                         string
	inv, wal, nf, sf, net, other, touch    decimal.Decimal
}

// explain turns a differing pair into differences.
func (r pairRow) explain(diffs *diffList) {
	base := Difference{Source: r.source, ExternalID: r.externalID, Currency: r.currency, At: r.at,
		EntryID: r.entryID, BookedAt: r.occurredAt, TxHash: r.txHash, Label: r.label}
	if base.Currency == "" {
		base.Currency = r.curMin
	}
	if !r.hasFact || base.TxHash == "" && base.Label == "" {
		base.TxHash, base.Label = r.entryTxHash, r.entryLabel
	}
	switch {
	case !r.hasFact && r.source != SourceInvoice && r.source != SourceWallet:
		d := base
		d.Kind = DiffOtherEntry
		d.Detail = fmt.Sprintf("%s entry %d posts %s to the receipts or fees accounts, which the source does not explain", r.source, r.entryID, r.touch)
		diffs.add(d)
	case !r.hasFact:
		d := base
		d.Kind = DiffExtra
		d.Ledger = decimal.NullDecimal{Decimal: r.grossBooked(), Valid: true}
		d.Detail = fmt.Sprintf("booked as entry %d, but the source does not list it in the period", r.entryID)
		diffs.add(d)
	case r.state == string(FactUnpaid):
		d := base
		d.Kind = DiffBookedUnpaid
		d.Ledger = decimal.NullDecimal{Decimal: r.grossBooked(), Valid: true}
		d.Theirs = decimal.NullDecimal{Decimal: r.gross, Valid: true}
		d.Detail = fmt.Sprintf("booked as entry %d, but the source says it is unpaid", r.entryID)
		diffs.add(d)
	case r.entryID == 0:
		d := base
		d.Kind = DiffMissing
		d.Theirs = decimal.NullDecimal{Decimal: r.gross, Valid: true}
		d.Detail = "paid at the source, not booked in the ledger"
		diffs.add(d)
	default:
		r.changes(base, diffs)
	}
}

// grossBooked is the gross the entry booked for its source.
func (r pairRow) grossBooked() decimal.Decimal {
	if r.source == SourceWallet {
		return r.wal
	}
	return r.inv
}

// changes lists each field of a paired entry that differs from its fact.
func (r pairRow) changes(base Difference, diffs *diffList) {
	changed := func(field string, ledger, theirs decimal.Decimal, detail string) {
		d := base
		d.Kind, d.Field, d.Detail = DiffChanged, field, detail
		d.Ledger = decimal.NullDecimal{Decimal: ledger, Valid: true}
		d.Theirs = decimal.NullDecimal{Decimal: theirs, Valid: true}
		diffs.add(d)
	}
	n := 0
	if !r.at.Equal(r.occurredAt) {
		d := base
		d.Kind, d.Field = DiffChanged, FieldTime
		d.Detail = fmt.Sprintf("booked at %s, the source says %s", r.occurredAt.Format(time.RFC3339Nano), r.at.Format(time.RFC3339Nano))
		diffs.add(d)
		n++
	}
	if r.curMin != r.currency || r.curMax != r.currency {
		d := base
		d.Kind, d.Field = DiffChanged, FieldCurrency
		booked := r.curMin
		if r.curMax != r.curMin {
			booked = r.curMin + " and " + r.curMax
		}
		d.Detail = fmt.Sprintf("booked in %s, the source says %s", booked, r.currency)
		diffs.add(d)
		n++
	}
	for _, f := range []struct {
		field          string
		ledger, theirs decimal.Decimal
	}{
		{FieldGross, r.grossBooked(), r.gross},
		{FieldNetworkFee, r.nf, r.networkFee},
		{FieldServiceFee, r.sf, r.serviceFee},
		{FieldNet, r.net, r.factNet},
	} {
		if !f.ledger.Equal(f.theirs) {
			changed(f.field, f.ledger, f.theirs, fmt.Sprintf("%s booked %s, the source says %s", f.field, f.ledger, f.theirs))
			n++
		}
	}
	wrongIncome := r.wal
	if r.source == SourceWallet {
		wrongIncome = r.inv
	}
	if stray := r.other.Add(wrongIncome.Abs()); !stray.IsZero() {
		changed(FieldPostings, stray, decimal.Zero,
			fmt.Sprintf("entry %d posts %s to accounts a %s transaction does not use", r.entryID, stray, r.source))
		n++
	}
	if n == 0 {
		// The SQL saw a difference the fields above do not name.
		changed(FieldPostings, decimal.NewFromInt(r.postings), decimal.Zero, fmt.Sprintf("entry %d differs from the source in a way not itemized", r.entryID))
	}
}

// listUnbookable lists the period's unbookable facts (and those without a time), noting
// any that the ledger nevertheless booked.
func (c *Comparison) listUnbookable(ctx context.Context, diffs *diffList) error {
	if len(c.unbookable) == 0 {
		return nil
	}
	sources, ids := make([]string, len(c.unbookable)), make([]string, len(c.unbookable))
	for i, f := range c.unbookable {
		sources[i], ids[i] = f.Source, f.ExternalID
	}
	type booked struct {
		id int64
		at time.Time
	}
	bookings := map[[2]string]booked{}
	rows, err := c.tx.QueryContext(ctx, `
		SELECT e.source, e.external_id, e.id, e.occurred_at
		FROM unnest($1::text[], $2::text[]) AS k (source, external_id)
		JOIN journal_entries e ON e.source = k.source AND e.external_id = k.external_id`,
		pq.Array(sources), pq.Array(ids))
	if err != nil {
		return fmt.Errorf("ledger: unable to look up the unbookable facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k [2]string
		var b booked
		if err := rows.Scan(&k[0], &k[1], &b.id, &b.at); err != nil {
			return fmt.Errorf("ledger: unable to read the unbookable facts: %w", err)
		}
		bookings[k] = booked{b.id, b.at.UTC()}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: unable to read the unbookable facts: %w", err)
	}
	for _, f := range c.unbookable {
		d := Difference{Kind: DiffUnbookable, Source: f.Source, ExternalID: f.ExternalID, Currency: f.Currency, At: f.At,
			Reason: f.Reason, TxHash: f.TxHash, Label: f.Label, Detail: "the source's record cannot be booked: " + f.Reason}
		if !f.Gross.IsZero() {
			d.Theirs = decimal.NullDecimal{Decimal: f.Gross, Valid: true}
		}
		if b, ok := bookings[[2]string{f.Source, f.ExternalID}]; ok && f.ExternalID != "" {
			d.EntryID, d.BookedAt = b.id, b.at
			d.Detail += fmt.Sprintf("; yet it is booked as entry %d", b.id)
		}
		diffs.add(d)
	}
	diffs.total += c.unbookN - len(c.unbookable)
	return nil
}
