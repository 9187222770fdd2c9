package exporters

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// ReconciliationFormat names a layout of the reconciliation report.
type ReconciliationFormat string

// The reconciliation report's layouts: one workbook, or a folder of CSV files (one per
// sheet).
const (
	ReconciliationXLSX ReconciliationFormat = "xlsx"
	ReconciliationCSV  ReconciliationFormat = "csv"
)

// Names of the reconciliation's checks, in the order the report lists them.
const (
	CheckMovements    = "movements"
	CheckCompleteness = "completeness"
	CheckBalance      = "balance"
	CheckPayouts      = "unknown payouts"
	CheckQuarantine   = "quarantine"
)

// CheckStatus is the outcome of one check.
type CheckStatus string

// Check outcomes. A check that does not apply (no payout batches yet) is neither passed nor
// failed, and says so, so that nobody reads an empty list as a clean one.
const (
	CheckPassed        CheckStatus = "passed"
	CheckFailed        CheckStatus = "failed"
	CheckNotApplicable CheckStatus = "not applicable"
)

// Reconciliation is the monthly reconciliation report: what the ledger booked in a month
// per currency and per day, and the checks against Nord PAY, each with its exceptions.
// jobs.Reconciler fills it; WriteReconciliation lays it out.
type Reconciliation struct {
	// Month is the month reconciled ("2026-10"), the half-open UTC period [From, To).
	Month    string
	From, To time.Time
	// GeneratedAt is when the report was made.
	GeneratedAt time.Time
	// Currencies are sorted by name.
	Currencies []ReconciliationCurrency
	// Days are sorted by day, then currency.
	Days []ReconciliationDay
	// Checks come in the order of the Check* names.
	Checks []ReconciliationCheck
}

// Reconciled reports whether no check failed: what the command's exit status says.
func (r *Reconciliation) Reconciled() bool {
	for _, c := range r.Checks {
		if c.Status == CheckFailed {
			return false
		}
	}
	return true
}

// Check returns the check of that name, nil if the report has none.
func (r *Reconciliation) Check(name string) *ReconciliationCheck {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// Decimals returns the display precision of a currency of the report (8 when unknown).
func (r *Reconciliation) Decimals(currency string) int32 {
	for _, c := range r.Currencies {
		if c.Currency == currency {
			return c.Decimals
		}
	}
	return reconDefaultDecimals
}

// reconDefaultDecimals is the display precision of a currency Nord PAY does not describe.
const reconDefaultDecimals = 8

// ReconciliationCurrency is one currency's month: the movements between the opening and
// closing balances of the assets account, what Nord PAY's re-pull says, and the balance
// now on both sides.
type ReconciliationCurrency struct {
	Currency string
	// Decimals is the currency's precision, for display; values are exact whatever it is.
	Decimals int32
	// Opening and Closing are the assets balance at the month's start and end.
	Opening, Closing decimal.Decimal
	// Receipts are gross amounts paid by customers; fees, payouts and payout fees what they
	// cost; OpeningBalances what opening balances booked in the month brought in (what
	// Nord PAY held before the first synced day, a movement of its own, not a receipt);
	// Other the postings on accounts outside the chart (debits positive).
	InvoiceReceipts, WalletReceipts decimal.Decimal
	NetworkFees, ServiceFees        decimal.Decimal
	Payouts, PayoutFees             decimal.Decimal
	OpeningBalances                 decimal.Decimal
	Other                           decimal.Decimal
	// Counts of booked invoice and wallet payments and payout rows.
	InvoiceCount, WalletCount, PayoutCount int64
	// What the re-pull of the month found: paid (bookable) transactions with their gross
	// and fees, unpaid ones, and records that break a quarantine rule.
	APIPaidCount                             int64
	APIGross, APINetworkFees, APIServiceFees decimal.Decimal
	APIUnpaidCount                           int64
	APIUnpaidGross                           decimal.Decimal
	APIUnbookableCount                       int64
	// LedgerBalance is the assets account with everything booked; APIBalance what
	// GET /balance/ says now (invalid when it does not list the currency).
	LedgerBalance decimal.Decimal
	APIBalance    decimal.NullDecimal
}

// Receipts is the month's gross receipts, invoices and wallets.
func (c ReconciliationCurrency) Receipts() decimal.Decimal {
	return c.InvoiceReceipts.Add(c.WalletReceipts)
}

// ExpectedClosing is opening + opening balances booked + receipts - network fees - service
// fees - payouts - payout fees.
func (c ReconciliationCurrency) ExpectedClosing() decimal.Decimal {
	return c.Opening.Add(c.OpeningBalances).Add(c.Receipts()).Sub(c.NetworkFees).Sub(c.ServiceFees).Sub(c.Payouts).Sub(c.PayoutFees)
}

// Difference is Closing - ExpectedClosing; zero when the movements explain the closing
// balance.
func (c ReconciliationCurrency) Difference() decimal.Decimal {
	return c.Closing.Sub(c.ExpectedClosing())
}

// BalanceDifference is the ledger's balance now minus Nord PAY's (zero when Nord PAY does
// not list the currency and the ledger holds none of it).
func (c ReconciliationCurrency) BalanceDifference() decimal.Decimal {
	return c.LedgerBalance.Sub(c.APIBalance.Decimal)
}

// ReconciliationDay is one currency's day: what the ledger booked, beside what the re-pull
// found, so that a difference can be found by day before it is found by id.
type ReconciliationDay struct {
	Day      time.Time
	Currency string
	// Booked receipts, fees and payouts, and their USD values (invalid when a posting has
	// none, as a payout whose USD value Nord PAY did not quote: a partial sum would mislead).
	InvoiceCount, WalletCount int64
	InvoiceGross, WalletGross decimal.Decimal
	ReceiptsUSD               decimal.NullDecimal
	NetworkFees, ServiceFees  decimal.Decimal
	FeesUSD                   decimal.NullDecimal
	PayoutCount               int64
	Payouts, PayoutFees       decimal.Decimal
	PayoutsUSD                decimal.NullDecimal
	// The re-pull's paid transactions and fees of the day, and its unpaid ones.
	APIPaidCount                             int64
	APIGross, APINetworkFees, APIServiceFees decimal.Decimal
	APIUnpaidCount                           int64
}

// ReconciliationCheck is one check of the report with its exceptions.
type ReconciliationCheck struct {
	Name string
	// Rule says what must hold, in a sentence.
	Rule   string
	Status CheckStatus
	// Summary says what was found, in a sentence.
	Summary string
	// Exceptions are what breaks the rule; Total counts them all when there were more than
	// the report lists.
	Exceptions []ReconciliationException
	Total      int
}

// ReconciliationException is one thing a check found, for a person to look at.
type ReconciliationException struct {
	Kind     string
	Currency string
	// Source and ID name the transaction (or payout chunk, or quarantined record).
	Source, ID string
	// At is when it happened: the transaction's time at Nord PAY, a payout chunk's confirm,
	// a quarantined record's first sighting. BookedAt is the ledger entry's time. Zero when
	// unknown.
	At, BookedAt time.Time
	// Field is what differs; Ledger and API are the two values where it is an amount.
	Field       string
	Ledger, API decimal.NullDecimal
	Detail      string
	// TxHash and Label identify the payment for a person.
	TxHash, Label string
}

// Difference is Ledger - API when both are known.
func (e ReconciliationException) Difference() decimal.NullDecimal {
	if !e.Ledger.Valid || !e.API.Valid {
		return decimal.NullDecimal{}
	}
	return decimal.NullDecimal{Decimal: e.Ledger.Decimal.Sub(e.API.Decimal), Valid: true}
}

// ErrReconciliationOut is returned when the report's destination cannot be used as it is.
var ErrReconciliationOut = errors.New("exporters: unusable report destination")

// WriteReconciliation writes the report to path, atomically: as one workbook (path is a
// file), or as a folder of CSV files, one per sheet (path is a folder). It is written next
// to path under a temporary name and renamed into place, so a reader never sees half a
// report. An existing report at path is replaced; an existing folder that does not hold one
// is left alone (ErrReconciliationOut).
func WriteReconciliation(path string, format ReconciliationFormat, r *Reconciliation) error {
	switch format {
	case ReconciliationXLSX:
		return reconWriteFileAtomic(path, func(f *os.File) error { return WriteReconciliationXLSX(f, r) })
	case ReconciliationCSV:
		return writeReconciliationFolder(path, r)
	}
	return fmt.Errorf("%w: format %q (want xlsx or csv)", ErrReconciliationOut, format)
}

// reconWriteFileAtomic writes a file through a temporary one in the same folder, synced, then
// renamed over path.
func reconWriteFileAtomic(path string, write func(*os.File) error) (err error) {
	if fi, statErr := os.Stat(path); statErr == nil && fi.IsDir() {
		return fmt.Errorf("%w: %s is a folder, the xlsx report is a file", ErrReconciliationOut, path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("exporters: unable to create the report next to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, reconRemoveAll(tmp.Name()))
		}
	}()
	if err := write(tmp); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Sync(); err != nil {
		return errors.Join(fmt.Errorf("exporters: unable to write %s: %w", tmp.Name(), err), tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("exporters: unable to write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("exporters: unable to move the report to %s: %w", path, err)
	}
	return nil
}

func reconRemoveAll(path string) error {
	if err := os.RemoveAll(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("exporters: unable to remove %s: %w", path, err)
	}
	return nil
}

// writeReconciliationFolder writes the CSV files into a new folder beside path, then swaps
// it in: the old report (if any) is moved aside and removed once the new one is in place.
func writeReconciliationFolder(path string, r *Reconciliation) (err error) {
	path = filepath.Clean(path)
	replace := false
	if fi, statErr := os.Stat(path); statErr == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is a file, the csv report is a folder", ErrReconciliationOut, path)
		}
		ok, err := isReconciliationFolder(path)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s is a folder that holds other files than a reconciliation report; choose another --out", ErrReconciliationOut, path)
		}
		replace = true
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return fmt.Errorf("exporters: unable to use %s: %w", path, statErr)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("exporters: unable to create the report next to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, reconRemoveAll(tmp))
		}
	}()
	if err := WriteReconciliationCSV(tmp, r); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("exporters: unable to open up %s: %w", tmp, err)
	}
	if !replace {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("exporters: unable to move the report to %s: %w", path, err)
		}
		return nil
	}
	old := tmp + ".old"
	if err := os.Rename(path, old); err != nil {
		return fmt.Errorf("exporters: unable to move the previous report aside: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("exporters: unable to move the report to %s: %w", path, err), os.Rename(old, path))
	}
	return reconRemoveAll(old)
}

// isReconciliationFolder reports whether a folder is empty or holds only the files of a
// reconciliation report, which may then be replaced.
func isReconciliationFolder(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("exporters: unable to read %s: %w", dir, err)
	}
	ours := map[string]bool{}
	for _, s := range reconSheetNames {
		ours[s.file] = true
	}
	for _, e := range entries {
		if !ours[e.Name()] {
			return false, nil
		}
	}
	return true, nil
}

// ---- the layout, shared by both formats ----

// reconSheetNames are the sheets of the report and their CSV files.
var reconSheetNames = []struct{ name, file string }{
	{"Summary", "summary.csv"},
	{"Receipts", "receipts.csv"},
	{"Fees", "fees.csv"},
	{"Payouts", "payouts.csv"},
	{"Exceptions", "exceptions.csv"},
}

// reconKind is what a cell holds, which decides how each format writes it.
type reconKind int

const (
	reconEmpty  reconKind = iota
	reconLabel            // our own words: headers, statuses, names of things
	reconText             // text that a user or the API controls: always neutralised
	reconAmount           // an exact decimal, displayed at places
	reconCount            // an integer
	reconDay              // a UTC day
	reconTime             // an instant, to the microsecond: text in CSV, a date cell in XLSX
)

type reconCell struct {
	kind   reconKind
	text   string
	amount decimal.Decimal
	places int32
	count  int64
	at     time.Time
}

func rcLabel(s string) reconCell { return reconCell{kind: reconLabel, text: s} }
func rcText(s string) reconCell  { return reconCell{kind: reconText, text: s} }
func rcCount(n int64) reconCell  { return reconCell{kind: reconCount, count: n} }
func rcDay(t time.Time) reconCell {
	return reconCell{kind: reconDay, at: t.UTC()}
}
func rcAmount(d decimal.Decimal, places int32) reconCell {
	return reconCell{kind: reconAmount, amount: d, places: places}
}
func rcNullAmount(d decimal.NullDecimal, places int32) reconCell {
	if !d.Valid {
		return reconCell{}
	}
	return rcAmount(d.Decimal, places)
}
func rcTime(t time.Time) reconCell {
	if t.IsZero() {
		return reconCell{}
	}
	return reconCell{kind: reconTime, at: t.UTC()}
}

// reconTimeLayout writes instants as the API and the ledger hold them: UTC, microseconds.
const reconTimeLayout = "2006-01-02T15:04:05.000000Z"

// reconUSDPlaces is the display precision of USD values.
const reconUSDPlaces = 2

// reconColumn is a column of a table: its header and width (in characters, for XLSX).
type reconColumn struct {
	header string
	width  float64
}

// reconTable is one table of a sheet: an optional title line, a header row, and rows
// produced as the writer consumes them.
type reconTable struct {
	title   string
	columns []reconColumn
	rows    iter.Seq[[]reconCell]
}

// reconSheet is one sheet (one CSV file): a few lines of text, then tables separated by a
// blank row. A sheet of one table without lines freezes its header and filters its rows.
type reconSheet struct {
	name, file string
	lines      []string
	tables     []reconTable
}

func (s reconSheet) single() bool { return len(s.lines) == 0 && len(s.tables) == 1 }

func reconCols(spec ...any) []reconColumn {
	out := make([]reconColumn, 0, len(spec)/2)
	for i := 0; i+1 < len(spec); i += 2 {
		out = append(out, reconColumn{header: spec[i].(string), width: float64(spec[i+1].(int))})
	}
	return out
}

// reconRowsOf turns a slice into a row sequence.
func reconRowsOf[T any](items []T, row func(T) []reconCell) iter.Seq[[]reconCell] {
	return func(yield func([]reconCell) bool) {
		for _, it := range items {
			if r := row(it); r != nil && !yield(r) {
				return
			}
		}
	}
}

// sheets lays the report out.
func (r *Reconciliation) sheets() []reconSheet {
	return []reconSheet{r.summarySheet(), r.receiptsSheet(), r.feesSheet(), r.payoutsSheet(), r.exceptionsSheet()}
}

func (r *Reconciliation) summarySheet() reconSheet {
	result := "RECONCILED: every check passed"
	if !r.Reconciled() {
		var failed []string
		for _, c := range r.Checks {
			if c.Status == CheckFailed {
				failed = append(failed, c.Name)
			}
		}
		result = "NOT RECONCILED: failed " + strings.Join(failed, ", ") + " (see Exceptions)"
	}
	s := reconSheet{name: reconSheetNames[0].name, file: reconSheetNames[0].file, lines: []string{
		fmt.Sprintf("Nord PAY reconciliation %s: %s to %s (UTC, end excluded)", r.Month,
			r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339)),
		result,
		"Generated " + r.GeneratedAt.UTC().Format(time.RFC3339),
	}}
	s.tables = append(s.tables, reconTable{
		title: "Movements per currency: opening + opening balances booked + receipts - fees - payouts - payout fees = closing",
		columns: reconCols("Currency", 12, "Opening", 18, "Invoice receipts", 18, "Invoice payments", 10, "Wallet receipts", 18,
			"Wallet payments", 10, "Network fees", 16, "Service fees", 16, "Payouts", 18, "Payout rows", 10,
			"Payout fees", 16, "Opening balances booked", 18, "Other (outside the chart)", 16, "Closing", 18, "Expected closing", 18, "Difference", 16),
		rows: reconRowsOf(r.Currencies, func(c ReconciliationCurrency) []reconCell {
			p := c.Decimals
			return []reconCell{rcText(c.Currency), rcAmount(c.Opening, p), rcAmount(c.InvoiceReceipts, p), rcCount(c.InvoiceCount),
				rcAmount(c.WalletReceipts, p), rcCount(c.WalletCount), rcAmount(c.NetworkFees, p), rcAmount(c.ServiceFees, p),
				rcAmount(c.Payouts, p), rcCount(c.PayoutCount), rcAmount(c.PayoutFees, p), rcAmount(c.OpeningBalances, p), rcAmount(c.Other, p),
				rcAmount(c.Closing, p), rcAmount(c.ExpectedClosing(), p), rcAmount(c.Difference(), p)}
		}),
	}, reconTable{
		title:   "Checks",
		columns: reconCols("Check", 16, "Rule", 60, "Status", 14, "Exceptions", 10, "Found", 80),
		rows: reconRowsOf(r.Checks, func(c ReconciliationCheck) []reconCell {
			return []reconCell{rcLabel(c.Name), rcLabel(c.Rule), rcLabel(string(c.Status)), rcCount(int64(c.Total)), rcText(c.Summary)}
		}),
	}, reconTable{
		title: "Completeness per currency: the month pulled again from Nord PAY against the ledger",
		columns: reconCols("Currency", 12, "Nord PAY paid", 10, "Ledger payments", 10, "Nord PAY gross", 18, "Ledger gross", 18,
			"Nord PAY network fees", 16, "Ledger network fees", 16, "Nord PAY service fees", 16, "Ledger service fees", 16,
			"Nord PAY unpaid", 10, "Nord PAY unpaid gross", 18, "Unbookable at Nord PAY", 10),
		rows: reconRowsOf(r.Currencies, func(c ReconciliationCurrency) []reconCell {
			p := c.Decimals
			return []reconCell{rcText(c.Currency), rcCount(c.APIPaidCount), rcCount(c.InvoiceCount + c.WalletCount),
				rcAmount(c.APIGross, p), rcAmount(c.Receipts(), p), rcAmount(c.APINetworkFees, p), rcAmount(c.NetworkFees, p),
				rcAmount(c.APIServiceFees, p), rcAmount(c.ServiceFees, p), rcCount(c.APIUnpaidCount), rcAmount(c.APIUnpaidGross, p),
				rcCount(c.APIUnbookableCount)}
		}),
	}, reconTable{
		title:   "Balance per currency now: the ledger's assets account against GET /balance/",
		columns: reconCols("Currency", 12, "Ledger", 18, "Nord PAY", 18, "Difference", 16),
		rows: reconRowsOf(r.Currencies, func(c ReconciliationCurrency) []reconCell {
			p := c.Decimals
			return []reconCell{rcText(c.Currency), rcAmount(c.LedgerBalance, p), rcNullAmount(c.APIBalance, p), rcAmount(c.BalanceDifference(), p)}
		}),
	})
	return s
}

func (r *Reconciliation) receiptsSheet() reconSheet {
	return reconSheet{name: reconSheetNames[1].name, file: reconSheetNames[1].file, tables: []reconTable{{
		columns: reconCols("Date", 12, "Currency", 12, "Invoice payments", 10, "Invoice gross", 18, "Wallet payments", 10,
			"Wallet gross", 18, "Gross", 18, "Gross USD", 14, "Nord PAY paid", 10, "Nord PAY gross", 18,
			"Gross - Nord PAY", 16, "Nord PAY unpaid", 10),
		rows: reconRowsOf(r.Days, func(d ReconciliationDay) []reconCell {
			gross := d.InvoiceGross.Add(d.WalletGross)
			if d.InvoiceCount+d.WalletCount+d.APIPaidCount+d.APIUnpaidCount == 0 && gross.IsZero() && d.APIGross.IsZero() {
				return nil
			}
			p := r.Decimals(d.Currency)
			return []reconCell{rcDay(d.Day), rcText(d.Currency), rcCount(d.InvoiceCount), rcAmount(d.InvoiceGross, p),
				rcCount(d.WalletCount), rcAmount(d.WalletGross, p), rcAmount(gross, p), rcNullAmount(d.ReceiptsUSD, reconUSDPlaces),
				rcCount(d.APIPaidCount), rcAmount(d.APIGross, p), rcAmount(gross.Sub(d.APIGross), p), rcCount(d.APIUnpaidCount)}
		}),
	}}}
}

func (r *Reconciliation) feesSheet() reconSheet {
	return reconSheet{name: reconSheetNames[2].name, file: reconSheetNames[2].file, tables: []reconTable{{
		columns: reconCols("Date", 12, "Currency", 12, "Network fees", 16, "Service fees", 16, "Fees", 16, "Fees USD", 14,
			"Nord PAY network fees", 16, "Nord PAY service fees", 16, "Fees - Nord PAY", 16),
		rows: reconRowsOf(r.Days, func(d ReconciliationDay) []reconCell {
			fees, api := d.NetworkFees.Add(d.ServiceFees), d.APINetworkFees.Add(d.APIServiceFees)
			if fees.IsZero() && api.IsZero() {
				return nil
			}
			p := r.Decimals(d.Currency)
			return []reconCell{rcDay(d.Day), rcText(d.Currency), rcAmount(d.NetworkFees, p), rcAmount(d.ServiceFees, p),
				rcAmount(fees, p), rcNullAmount(d.FeesUSD, reconUSDPlaces), rcAmount(d.APINetworkFees, p), rcAmount(d.APIServiceFees, p),
				rcAmount(fees.Sub(api), p)}
		}),
	}}}
}

func (r *Reconciliation) payoutsSheet() reconSheet {
	return reconSheet{name: reconSheetNames[3].name, file: reconSheetNames[3].file, tables: []reconTable{{
		columns: reconCols("Date", 12, "Currency", 12, "Payout rows", 10, "Paid to payees", 18, "Payout fees", 16,
			"Debited (payouts + fees)", 18, "USD", 14),
		rows: reconRowsOf(r.Days, func(d ReconciliationDay) []reconCell {
			if d.PayoutCount == 0 && d.Payouts.IsZero() && d.PayoutFees.IsZero() {
				return nil
			}
			p := r.Decimals(d.Currency)
			return []reconCell{rcDay(d.Day), rcText(d.Currency), rcCount(d.PayoutCount), rcAmount(d.Payouts, p),
				rcAmount(d.PayoutFees, p), rcAmount(d.Payouts.Add(d.PayoutFees), p), rcNullAmount(d.PayoutsUSD, reconUSDPlaces)}
		}),
	}}}
}

func (r *Reconciliation) exceptionsSheet() reconSheet {
	return reconSheet{name: reconSheetNames[4].name, file: reconSheetNames[4].file, tables: []reconTable{{
		columns: reconCols("Check", 14, "Kind", 14, "Currency", 12, "Source", 10, "ID", 22, "Time", 28,
			"Booked at (ledger)", 28, "Field", 12, "Ledger", 18, "Nord PAY", 18, "Ledger - Nord PAY", 16,
			"Detail", 70, "Tx hash", 30, "Label", 24),
		rows: func(yield func([]reconCell) bool) {
			for _, c := range r.Checks {
				for _, e := range c.Exceptions {
					p := r.Decimals(e.Currency)
					if !yield([]reconCell{rcLabel(c.Name), rcLabel(e.Kind), rcText(e.Currency), rcText(e.Source), rcText(e.ID),
						rcTime(e.At), rcTime(e.BookedAt), rcLabel(e.Field), rcNullAmount(e.Ledger, p), rcNullAmount(e.API, p),
						rcNullAmount(e.Difference(), p), rcText(e.Detail), rcText(e.TxHash), rcText(e.Label)}) {
						return
					}
				}
				if more := c.Total - len(c.Exceptions); more > 0 {
					if !yield([]reconCell{rcLabel(c.Name), rcLabel("not listed"), {}, {}, {}, {}, {}, {}, {}, {}, {},
						rcLabel(fmt.Sprintf("%d more exceptions of this check are not listed", more)), {}, {}}) {
						return
					}
				}
			}
		},
	}}}
}
