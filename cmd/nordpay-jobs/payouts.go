package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/payouts"
)

func newPayoutsCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "payouts",
		Short: "Pay many people at once from an approved spreadsheet",
		Long: `Pay many people at once from a spreadsheet (XLSX or CSV) that finance fills in and someone
else approves, through Nord PAY's multiple withdraw request and confirm.

  1. payouts template --out march.xlsx          an empty sheet to fill in
  2. payouts import march.xlsx --by alice        parse and validate; prints the batch id and
                                                 the control totals the approvers must see
  3. payouts approve BATCH --by bob              not by the importer; bound to the sheet's
                                                 hash and control totals; expires
  4. payouts run BATCH                           request, check the quote, confirm, book
  5. payouts status [BATCH]                      every chunk's state
  6. payouts resolve BATCH --chunk N --outcome paid|failed --by carol
                                                 close a chunk whose outcome is unknown

A row is sent in at most one confirmed request, ever. A confirm whose answer is lost is
"unknown": its rows are never requested again until a person finds out from Nord PAY what
happened and resolves it. Settings: the payouts section of the config file.`,
		Args: argsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(
		newPayoutsTemplateCommand(m),
		newPayoutsImportCommand(m),
		newPayoutsApproveCommand(m),
		newPayoutsRunCommand(m),
		newPayoutsStatusCommand(m),
		newPayoutsResolveCommand(m),
	)
	return cmd
}

// payoutPolicy turns the config's payouts section into the rules the payouts package applies.
func payoutPolicy(c config.Payouts) payouts.Policy {
	p := payouts.Policy{
		Approvers:           c.Approvers,
		ApprovalTTL:         c.ApprovalTTL.D(),
		RowsPerRequest:      c.RowsPerRequest,
		FeeCeiling:          c.FeeCeiling,
		FeeCeilingPercent:   c.FeeCeilingPercent,
		FeeTolerancePercent: c.FeeTolerancePercent,
		FeeTolerance:        c.FeeTolerance,
		MinQuoteLifetime:    c.MinQuoteLifetime.D(),
	}
	for _, th := range c.Thresholds {
		p.Thresholds = append(p.Thresholds, payouts.Threshold{Currency: th.Currency, Above: th.Above, Approvers: th.Approvers})
	}
	if len(c.Fees) > 0 {
		p.Fees = make(map[string]payouts.Fee, len(c.Fees))
		for cur, f := range c.Fees {
			p.Fees[cur] = payouts.Fee{Fixed: f.Fixed, Percent: f.Percent}
		}
	}
	return p
}

// payoutStore opens the database and returns the payouts store on it.
func (m *Main) payoutStore(ctx context.Context) (*payouts.Store, error) {
	conn, err := m.OpenDB(ctx)
	if err != nil {
		return nil, err
	}
	st := payouts.NewStore(ledger.NewStore(conn, m.Config.Ledger.Accounts), payoutPolicy(m.Config.Payouts))
	st.Now = m.Now
	return st, nil
}

func newPayoutsTemplateCommand(m *Main) *cobra.Command {
	var out, format string
	var currencies []string
	cmd := &cobra.Command{
		Use:   "template --out FILE",
		Short: "Write an empty payout sheet (XLSX or CSV)",
		Long: `Write an empty payout sheet to fill in: the columns currency, address, amount, reference
(required, unique), name and note. The format follows the file's extension (.xlsx or .csv)
unless --format says. The XLSX has a note on each header, a drop-down of the currencies that
Nord PAY can pay out in (read from the API when NORDPAY_API_KEY is set, or given with
--currency), and the address and amount columns formatted as text. An existing file is never
overwritten.`,
		Example: `  nordpay-jobs payouts template --out march.xlsx
  nordpay-jobs payouts template --out march.csv
  nordpay-jobs payouts template --out march.xlsx --currency USDTTRC20 --currency USDTBEP20`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out FILE is required")
			}
			if format == "" {
				format = strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), ".")
			}
			if format != "xlsx" && format != "csv" {
				return usagef("--format %q: want xlsx or csv (or an --out ending in .xlsx or .csv)", format)
			}
			if len(currencies) == 0 && m.Config.NordPay.APIKey.IsSet() {
				client, err := m.Client()
				if err != nil {
					return err
				}
				cs, err := client.Currencies(cmd.Context())
				if err != nil {
					return fmt.Errorf("payouts template: reading the currency list: %w", err)
				}
				for _, c := range cs {
					if c.WithdrawEnabled() {
						currencies = append(currencies, c.Name)
					}
				}
				sort.Strings(currencies)
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("payouts template: %w", err)
			}
			if err := payouts.WriteTemplate(f, format, currencies); err != nil {
				return errors.Join(err, f.Close(), os.Remove(out))
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("payouts template: %w", err)
			}
			if len(currencies) == 0 {
				m.printf("wrote %s (no currency list: set NORDPAY_API_KEY or pass --currency)\n", out)
			} else {
				m.printf("wrote %s (currencies: %s)\n", out, strings.Join(currencies, ", "))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&out, "out", "", "the file to write (.xlsx or .csv)")
	cmd.Flags().StringVar(&format, "format", "", "xlsx or csv (default: from --out's extension)")
	cmd.Flags().StringArrayVar(&currencies, "currency", nil, "a currency for the drop-down (repeat; default: Nord PAY's withdrawable currencies)")
	return cmd
}

// importJSON is `payouts import --json`, as ARCHITECTURE.md fixes it (plus extra fields).
type importJSON struct {
	Batch             string             `json:"batch"`
	Valid             bool               `json:"valid"`
	Rows              int                `json:"rows"`
	Errors            []payouts.RowError `json:"errors"`
	Totals            []totalJSON        `json:"totals"`
	File              string             `json:"file"`
	SheetSHA256       string             `json:"sheet_sha256,omitempty"`
	Digest            string             `json:"digest,omitempty"`
	Forced            bool               `json:"forced,omitempty"`
	RequiredApprovers int                `json:"required_approvers,omitempty"`
	// Error is why the import failed when nothing else says so (the sheet imported before,
	// an API or database error); the same message goes to stderr.
	Error string `json:"error,omitempty"`
}

// totalJSON is a control total with exact decimal strings.
type totalJSON struct {
	Currency    string `json:"currency"`
	Rows        int    `json:"rows"`
	Amount      string `json:"amount"`
	ExpectedFee string `json:"expected_fee"`
}

func totalsJSON(ts []payouts.Total) []totalJSON {
	out := make([]totalJSON, len(ts))
	for i, t := range ts {
		out[i] = totalJSON{Currency: t.Currency, Rows: t.Rows, Amount: t.Amount.String(), ExpectedFee: t.ExpectedFee.String()}
	}
	return out
}

func newPayoutsImportCommand(m *Main) *cobra.Command {
	var by, report string
	var asJSON, decimalComma, allowRepeat, force, noBar bool
	cmd := &cobra.Command{
		Use:   "import FILE --by NAME",
		Short: "Parse and validate a payout sheet; print the batch id and control totals",
		Long: `Read a payout sheet (XLSX or CSV), validate every row, and keep it as a batch.

Every problem is reported at once, with the row number the spreadsheet shows: unknown
currency or withdrawals disabled, an address not valid for the currency's network, an amount
that is not a positive number within the currency's decimals and minimum, repeated references,
the same address, amount and currency twice (or paid in the last 30 days: --allow-repeat
accepts it: the rows of any batch imported within 30 days, or not paid yet, count), the
configured caps, and the batch total plus expected fees above the balance. The repeat check
is made again when the batch is kept, under a lock: of two sheets with the same rows
imported at the same time, the second is refused (exit 3) unless --allow-repeat.
A sheet with problems becomes a rejected batch (kept for the record, never payable) and the
command exits 3; fix the sheet and import it again.

A valid sheet prints its batch id and control totals per currency (rows, amount, expected
fee): show them to the approvers, whose approval is bound to them. The same file (by SHA-256)
is refused if it was imported before, unless --force.

--report PATH writes the sheet back in its own format with a status and an errors column.

On a terminal, a progress bar on stderr counts the rows read, then validated, then says when
the batch is being stored (--no-progress hides it).`,
		Example: `  nordpay-jobs payouts import march.xlsx --by alice
  nordpay-jobs payouts import march.csv --by alice --decimal-comma --report march-checked.csv
  nordpay-jobs payouts import march.xlsx --by alice --json`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: action(jsonOnFailure(m, &asJSON, func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if payouts.Person(by) == "" {
				return usagef("--by NAME is required: who imports the sheet")
			}
			path := args[0]
			name := filepath.Base(path)
			st, err := m.payoutStore(ctx)
			if err != nil {
				return err
			}
			c := m.Config.Payouts
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("payouts import: %w", err)
			}
			bar := newProgress(m, noBar)
			defer bar.finish()
			read := payouts.ReadOptions{DecimalComma: decimalComma,
				MaxRows: c.MaxRows, MaxBytes: c.MaxBytes, MaxUnzippedBytes: c.MaxUnzippedBytes}
			if bar.on() {
				bar.phase("payouts import: reading rows", 0, "rows")
				read.Progress = func(rows int) { bar.set(int64(rows), "") }
			}
			sheet, err := payouts.ReadSheet(name, f, read)
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("payouts import: %w", cerr)
			}
			bar.finish()
			if errors.Is(err, payouts.ErrSheetTooLarge) || errors.Is(err, payouts.ErrNotASheet) {
				// Nothing could be read: no batch, the reason is the one error.
				if asJSON {
					if perr := m.printJSON(importJSON{File: name, Errors: []payouts.RowError{{Message: err.Error()}}, Totals: []totalJSON{}}); perr != nil {
						return perr
					}
				}
				return withCode(ExitDifferences, err)
			}
			if err != nil {
				return err
			}
			if !force {
				if earlier, err := st.FindSheet(ctx, sheet.SHA256); err != nil {
					return err
				} else if earlier != nil {
					return &payouts.DuplicateSheetError{Existing: earlier}
				}
			}
			client, err := m.Client()
			if err != nil {
				return err
			}
			bar.phase("payouts import: reading balances", 0, "")
			env, err := validationEnv(ctx, m, st, client, allowRepeat)
			if err != nil {
				return err
			}
			if bar.on() {
				env.Progress = func(done, total int) {
					bar.phase("payouts import: validating", int64(total), "rows")
					bar.set(int64(done), "")
				}
			}
			errs, _, err := payouts.Validate(ctx, sheet, env)
			if err != nil {
				return err
			}
			bar.phase("payouts import: storing the batch", 0, "")
			batch, err := st.Import(ctx, payouts.ImportRequest{Sheet: sheet, Errors: errs, By: by, Force: force,
				AllowRepeat: allowRepeat, ExpectedFee: env.ExpectedFee})
			bar.finish()
			var repeat *payouts.RepeatError
			if errors.As(err, &repeat) {
				// Another batch with the same rows was imported since the validation: no
				// batch is kept, and the rows are reported like validation's problems.
				if asJSON {
					out := importJSON{Rows: len(sheet.Rows), Errors: repeat.Errors, Totals: []totalJSON{}, File: name,
						SheetSHA256: sheet.SHA256}
					if perr := m.printJSON(out); perr != nil {
						return errors.Join(err, perr)
					}
				} else {
					for _, e := range repeat.Errors {
						m.printf("%s\n", e.Describe(name))
					}
				}
				if report != "" {
					if rerr := writeReportFile(report, sheet, repeat.Errors); rerr != nil {
						return errors.Join(err, rerr)
					}
				}
				return withCode(ExitDifferences, err)
			}
			if err != nil {
				return err
			}
			if report != "" {
				bar.phase("payouts import: writing the report", 0, "")
				if err := writeReportFile(report, sheet, errs); err != nil {
					return err
				}
				bar.finish()
			}
			required := st.Policy().RequiredApprovers(batch.Totals)
			if asJSON {
				out := importJSON{Batch: batch.ID, Valid: len(errs) == 0, Rows: len(sheet.Rows), Errors: errs,
					Totals: totalsJSON(batch.Totals), File: name, SheetSHA256: batch.SheetSHA256, Digest: batch.Digest,
					Forced: batch.Forced}
				if out.Errors == nil {
					out.Errors = []payouts.RowError{}
				}
				if out.Valid {
					out.RequiredApprovers = required
				}
				if err := m.printJSON(out); err != nil {
					return err
				}
			} else {
				printImport(m.Out, batch, sheet, errs, required, report)
			}
			if len(errs) > 0 {
				return withCode(ExitDifferences, fmt.Errorf("payouts import: %s has %d problem(s); batch %s is rejected, nothing in it can be paid", name, len(errs), batch.ID))
			}
			return nil
		})),
	}
	f := cmd.Flags()
	f.StringVar(&by, "by", "", "who imports the sheet (required; may not approve it)")
	f.StringVar(&report, "report", "", "write the sheet back with status and errors columns to this file")
	f.BoolVar(&asJSON, "json", false, `print {"batch", "valid", "rows", "errors": [...], "totals": [...]}`)
	f.BoolVar(&decimalComma, "decimal-comma", false, "CSV amounts use a decimal comma (1,5 is one and a half)")
	f.BoolVar(&allowRepeat, "allow-repeat", false, "accept the same address, amount and currency twice, or paid in the last 30 days")
	f.BoolVar(&force, "force", false, "import a sheet that was imported before")
	f.BoolVar(&noBar, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

// jsonOnFailure makes `payouts import --json` print JSON on stdout whatever happens: when the
// import fails without having printed anything (the sheet imported before, an API or database
// error, a wrong command line), an object {"batch": "", "valid": false, "error": "..."}; the
// error still goes to stderr and sets the exit code.
func jsonOnFailure(m *Main, asJSON *bool, f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		stdout := &countingWriter{w: m.Out}
		m.Out = stdout
		defer func() { m.Out = stdout.w }()
		err := f(cmd, args)
		if err == nil || !*asJSON || stdout.n > 0 {
			return err
		}
		file := ""
		if len(args) > 0 {
			file = filepath.Base(args[0])
		}
		out := importJSON{File: file, Errors: []payouts.RowError{}, Totals: []totalJSON{}, Error: oneLine(err.Error())}
		if perr := m.printJSON(out); perr != nil {
			return errors.Join(err, perr)
		}
		return err
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// validationEnv gathers what validation checks a sheet against: Nord PAY's currencies and
// balances, the fee schedule, earlier payouts, the caps.
func validationEnv(ctx context.Context, m *Main, st *payouts.Store, client *nordpay.Client, allowRepeat bool) (payouts.ValidationEnv, error) {
	var env payouts.ValidationEnv
	cs, err := client.Currencies(ctx)
	if err != nil {
		return env, fmt.Errorf("payouts import: reading Nord PAY's currencies: %w", err)
	}
	env.Currencies = make(map[string]nordpay.Currency, len(cs))
	for _, c := range cs {
		env.Currencies[c.Name] = c
	}
	bs, err := client.Balances(ctx)
	if err != nil {
		return env, fmt.Errorf("payouts import: reading Nord PAY's balances: %w", err)
	}
	env.Balances = make(map[string]decimal.Decimal, len(bs))
	for _, b := range bs {
		env.Balances[b.Currency] = b.Balance
	}
	env.ExpectedFee = st.Policy().ExpectedFeeFunc(env.Currencies)
	if env.PaidRecently, err = st.PaidRecently(ctx, m.Now().Add(-payouts.RepeatWindow)); err != nil {
		return env, err
	}
	env.AllowRepeat = allowRepeat
	env.Limits = payouts.Limits{MaxRowAmount: m.Config.Payouts.MaxRowAmount, MaxBatchAmount: m.Config.Payouts.MaxBatchAmount}
	env.Now = m.Now
	return env, nil
}

// writeReportFile writes the per-row report, replacing the file only once it is complete.
func writeReportFile(path string, sheet *payouts.Sheet, errs []payouts.RowError) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("payouts import: --report: %w", err)
	}
	if err := payouts.WriteReport(tmp, sheet, errs); err != nil {
		return errors.Join(err, tmp.Close(), os.Remove(tmp.Name()))
	}
	if err := tmp.Close(); err != nil {
		return errors.Join(fmt.Errorf("payouts import: --report: %w", err), os.Remove(tmp.Name()))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errors.Join(fmt.Errorf("payouts import: --report: %w", err), os.Remove(tmp.Name()))
	}
	return nil
}

// printImport tells a person what the import found.
func printImport(w io.Writer, b *payouts.Batch, sheet *payouts.Sheet, errs []payouts.RowError, required int, report string) {
	for _, e := range errs {
		fmt.Fprintln(w, e.Describe(sheet.Name))
	}
	if ignored := sheet.IgnoredColumns(); len(ignored) > 0 {
		fmt.Fprintf(w, "columns ignored: %s\n", strings.Join(ignored, ", "))
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "batch %s: REJECTED, %d problem(s) in %s (%d rows read); nothing in it can be paid. Fix the sheet and import it again.\n",
			b.ID, len(errs), sheet.Name, len(sheet.Rows))
	} else {
		fmt.Fprintf(w, "batch %s: %d rows from %s (SHA-256 %s), imported by %s", b.ID, b.Rows, b.FileName, b.SheetSHA256, b.ImportedBy)
		if b.Forced {
			fmt.Fprint(w, " (forced: this sheet was imported before)")
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "control totals (what the approvers approve):")
		printTotals(w, b.Totals)
		fmt.Fprintf(w, "digest %s\n", b.Digest)
		fmt.Fprintf(w, "next: nordpay-jobs payouts approve %s --by NAME (%d approval(s) needed, not by %s)\n", b.ID, required, b.ImportedBy)
	}
	if report != "" {
		fmt.Fprintf(w, "report written to %s\n", report)
	}
}

func printTotals(w io.Writer, ts []payouts.Total) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  currency\trows\tamount\texpected fee")
	for _, t := range ts {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", t.Currency, t.Rows, t.Amount, t.ExpectedFee)
	}
	_ = tw.Flush() //nolint:errcheck // w is stdout; a failed write has nowhere to be reported
}

func newPayoutsApproveCommand(m *Main) *cobra.Command {
	var by, sheetPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "approve BATCH --by NAME",
		Short: "Approve a batch (not by its importer)",
		Long: `Approve a batch. The approver may not be the importer (names are compared ignoring case and
spaces), and each person counts once. A batch needs payouts.approvers approvals, more when its
total in a currency is above a payouts.thresholds amount.

The approval is bound to the batch's sheet (SHA-256) and to the digest of its control totals
and rows: if the stored rows change, it no longer counts. It expires after
payouts.approval_ttl (24h by default). With --sheet FILE, the approval is refused unless FILE
is the very file that was imported (the one the approver reviewed).`,
		Example: `  nordpay-jobs payouts approve 20261120-3fa9c1 --by bob
  nordpay-jobs payouts approve 20261120-3fa9c1 --by bob --sheet march.xlsx`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if payouts.Person(by) == "" {
				return usagef("--by NAME is required: who approves")
			}
			var opts payouts.ApproveOptions
			if sheetPath != "" {
				sum, err := fileSHA256(sheetPath)
				if err != nil {
					return fmt.Errorf("payouts approve: --sheet: %w", err)
				}
				opts.SheetSHA256 = sum
			}
			st, err := m.payoutStore(ctx)
			if err != nil {
				return err
			}
			s, err := st.Approve(ctx, args[0], by, opts)
			if err != nil {
				return err
			}
			for _, w := range s.Warnings {
				fmt.Fprintf(m.Err, "nordpay-jobs: warning: %s\n", w)
			}
			rec, err := st.ImportRecord(ctx, s.Batch.ID)
			if err != nil {
				return err
			}
			if asJSON {
				out := statusToJSON(s)
				out.addImportRecord(rec)
				return m.printJSON(out)
			}
			if note := allowRepeatNote(rec); note != "" {
				m.printf("%s\n", note)
			}
			m.printf("batch %s approved by %s, valid until %s\n", s.Batch.ID, strings.TrimSpace(by),
				s.Approvals[len(s.Approvals)-1].ExpiresAt.Format(time.RFC3339))
			m.printf("bound to sheet %s (SHA-256 %s) and these control totals (digest %s):\n", s.Batch.FileName, s.Batch.SheetSHA256, s.Batch.Digest)
			printTotals(m.Out, s.Batch.Totals)
			if s.Approved() {
				m.printf("%d of %d approval(s): the batch may run until %s: nordpay-jobs payouts run %s\n",
					len(s.ValidApprovers), s.RequiredApprovers, s.ApprovedUntil.Format(time.RFC3339), s.Batch.ID)
			} else {
				m.printf("%d of %d approval(s): it needs %d more, by other people\n",
					len(s.ValidApprovers), s.RequiredApprovers, s.RequiredApprovers-len(s.ValidApprovers))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&by, "by", "", "who approves (required; not the importer)")
	cmd.Flags().StringVar(&sheetPath, "sheet", "", "the file you reviewed: refuse unless it is the imported one")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the batch's status as JSON")
	return cmd
}

// fileSHA256 is the hex SHA-256 of a file's bytes, as ReadSheet computes it.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	sheet, rerr := payouts.ReadSheet(filepath.Base(path), f, payouts.ReadOptions{})
	if err := f.Close(); err != nil {
		return "", err
	}
	if rerr != nil {
		return "", rerr
	}
	return sheet.SHA256, nil
}

// runJSON is `payouts run --json`.
type runJSON struct {
	Batch     string        `json:"batch"`
	State     string        `json:"state"`
	DryRun    bool          `json:"dry_run"`
	Recovered []int         `json:"recovered_unknown"`
	Chunks    []chunkJSON   `json:"chunks"`
	Requests  []requestJSON `json:"requests,omitempty"`
	Problems  []string      `json:"problems"`
}

// requestJSON is what a dry run would send for one chunk.
type requestJSON struct {
	Chunk       int         `json:"chunk"`
	Existing    bool        `json:"existing"`
	Currency    string      `json:"currency"`
	Rows        int         `json:"rows"`
	Amount      string      `json:"amount"`
	ExpectedFee string      `json:"expected_fee"`
	Lines       []int       `json:"lines"`
	Payees      []payeeJSON `json:"addresses_and_amounts"`
	Balance     *string     `json:"balance,omitempty"`
}

type payeeJSON struct {
	Address string `json:"address"`
	Amount  string `json:"amount"`
}

func newPayoutsRunCommand(m *Main) *cobra.Command {
	var dryRun, asJSON, noLines bool
	var by string
	cmd := &cobra.Command{
		Use:   "run BATCH [--dry-run]",
		Short: "Pay an approved batch: request, check the quote, confirm, book",
		Long: `Pay an approved batch through Nord PAY's multiple withdraw request and confirm.

The rows are cut into chunks, one currency each and at most payouts.rows_per_request rows.
Each chunk goes planned -> requested -> confirming -> confirmed | failed | unknown, and its
state is stored before every call to Nord PAY. Before a confirm, the quote must match the
approved rows exactly (addresses, amounts, currency, count), its fee must be within the
ceilings (payouts.fee_ceiling, payouts.fee_ceiling_percent) and near the expected fee, the
balance must cover it, and it must have payouts.min_quote_lifetime left; otherwise the chunk
fails with the reason and nothing is confirmed. An expired quote is requested again.
Confirmed chunks are booked to the ledger (payout and fee) in the same transaction.

A confirm whose answer is lost (a timeout, a dropped connection, a 5xx), or whose answer does
not say plainly that nothing was paid (any 404, including "Withdraw request not found", or
an unexpected 4xx), makes the chunk unknown: its rows are never requested again until
someone finds out from Nord PAY and runs payouts resolve. Only "Not enough balance", a
currency unavailable or below its minimum, a 422, a 401/403 or a 429 fail the chunk (nothing
was paid; the next run requests its rows again), and "Withdraw request expired" requests it
again at once. A chunk found confirming when a run starts (the previous run died) becomes
unknown too. Failed chunks' rows are requested again by the next run. Running the same batch
twice at once is refused.

--dry-run checks the approvals and the balance and prints the requests a run would send; it
sends none (not even a quote request), confirms nothing and changes nothing.

Each chunk transition is printed as it is stored, with where the run is: "[3/40] chunk 3
USDTTRC20, 100 rows, ...: confirmed" is the third of the 40 chunks this run takes through
(--no-progress prints only the summary; payouts status shows every chunk).

Exit 0 when every row is paid, 3 when a chunk failed or is unknown (status says which), 1
when the run stopped (the API unreachable, the approval expired: run again).`,
		Example: `  nordpay-jobs payouts run 20261120-3fa9c1 --dry-run
  nordpay-jobs payouts run 20261120-3fa9c1`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := m.payoutStore(ctx)
			if err != nil {
				return err
			}
			client, err := m.Client()
			if err != nil {
				return err
			}
			r := &payouts.Runner{Store: st, Client: client, Logger: m.Logger, Actor: runActor(m, by)}
			if !asJSON && !noLines {
				pos := &runPosition{chunks: func(batch string) ([]*payouts.Chunk, error) {
					s, err := st.Status(ctx, batch)
					if err != nil {
						return nil, err
					}
					return s.Chunks, nil
				}}
				r.OnChange = func(c *payouts.Chunk) { m.printf("%s%s\n", pos.of(c), describeChunk(c)) }
			}
			res, runErr := r.Run(ctx, args[0], payouts.RunOptions{DryRun: dryRun})
			if res == nil {
				return runErr
			}
			if asJSON {
				if err := m.printJSON(runToJSON(res)); err != nil {
					return errors.Join(runErr, err)
				}
			} else if dryRun {
				printDryRun(m.Out, res)
			} else if res.State != "" {
				printRunSummary(m.Out, res)
			}
			if runErr != nil {
				return runErr
			}
			if dryRun {
				if len(res.Problems) > 0 {
					return fmt.Errorf("payouts run --dry-run: batch %s would not run: %s", res.Batch, strings.Join(res.Problems, "; "))
				}
				return nil
			}
			switch res.State {
			case payouts.BatchAttention:
				return withCode(ExitDifferences, fmt.Errorf("payouts run: batch %s has chunks whose outcome is unknown; see payouts status %s and resolve them", res.Batch, res.Batch))
			case payouts.BatchPartial:
				return withCode(ExitDifferences, fmt.Errorf("payouts run: batch %s has failed chunks (see payouts status %s); nothing of them was paid, run again to retry them", res.Batch, res.Batch))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and show what would be sent; send nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	cmd.Flags().StringVar(&by, "by", "", "who runs it, for the audit log (default: the user and host)")
	cmd.Flags().BoolVar(&noLines, "no-progress", false, "no line per chunk transition, only the summary")
	return cmd
}

// runPosition says where a run is ("[3/40] "): the place of a chunk among those the run
// takes through, in the order it takes them (by number), and how many they are. The runner
// does not tell its plan, so the chunks are read from the store at the first transition of
// one of them: the run has planned by then, and those it takes through are the planned and
// requested ones, and the one that moved. The chunks found confirming at start-up move
// (to unknown) before the planning and are not the run's to take through: their line has
// no position, and they cause no reading.
type runPosition struct {
	chunks func(batch string) ([]*payouts.Chunk, error)
	loaded bool
	todo   []int        // the run's chunks, ascending
	seen   map[int]bool // the chunks that moved in this run
}

// of returns the position of c for its line, or "" when it is not one of the run's chunks
// or the store could not be read (the line goes without it; the next one tries again).
func (p *runPosition) of(c *payouts.Chunk) string {
	if p.seen == nil {
		p.seen = map[int]bool{}
	}
	recovered := !p.seen[c.N] && c.State == payouts.ChunkUnknown
	p.seen[c.N] = true
	if recovered {
		return ""
	}
	if !p.loaded {
		chunks, err := p.chunks(c.Batch)
		if err != nil {
			return ""
		}
		p.loaded = true
		for _, k := range chunks {
			if k.N == c.N || k.State == payouts.ChunkPlanned || k.State == payouts.ChunkRequested {
				p.todo = append(p.todo, k.N)
			}
		}
		slices.Sort(p.todo)
	}
	i, found := slices.BinarySearch(p.todo, c.N)
	if !found {
		return ""
	}
	return fmt.Sprintf("[%d/%d] ", i+1, len(p.todo))
}

// runActor names the run in the audit log.
func runActor(m *Main, by string) string {
	if strings.TrimSpace(by) != "" {
		return strings.TrimSpace(by)
	}
	user := m.Getenv("USER")
	if user == "" {
		user = "unknown user"
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	return fmt.Sprintf("nordpay-jobs run (%s@%s, pid %d)", user, host, os.Getpid())
}

// describeChunk is one line about a chunk's state, for people.
func describeChunk(c *payouts.Chunk) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chunk %d %s, %d rows, %s: %s", c.N, c.Currency, c.Rows, c.Amount, c.State)
	switch c.State {
	case payouts.ChunkRequested:
		fmt.Fprintf(&b, " (quote %s, fee %s, expires %s)", c.Quote.Identifier, c.Quote.ServiceFee, c.Quote.ExpiresAt.UTC().Format(time.RFC3339))
	case payouts.ChunkConfirmed:
		fmt.Fprintf(&b, " (withdrawal %s, fee %s)", c.WithdrawalID, c.Quote.ServiceFee)
	}
	if c.Reason != "" && c.State != payouts.ChunkConfirmed {
		fmt.Fprintf(&b, ": %s", c.Reason)
	}
	return b.String()
}

func printRunSummary(w io.Writer, res *payouts.RunResult) {
	for _, n := range res.Recovered {
		fmt.Fprintf(w, "chunk %d was found confirming (a run stopped mid-confirm): now unknown\n", n)
	}
	fmt.Fprintf(w, "batch %s: %s\n", res.Batch, res.State)
	for _, c := range res.Chunks {
		if c.State == payouts.ChunkUnknown {
			fmt.Fprintf(w, "NEEDS A PERSON: chunk %d (%s, %d rows, %s, quote %s): %s\n", c.N, c.Currency, c.Rows, c.Amount, c.Identifier(), c.Reason)
		}
	}
}

func printDryRun(w io.Writer, res *payouts.RunResult) {
	fmt.Fprintf(w, "dry run of batch %s (%s): nothing is requested or confirmed\n", res.Batch, res.State)
	for _, c := range res.Chunks {
		if c.State == payouts.ChunkUnknown {
			fmt.Fprintf(w, "chunk %d is unknown and will not be sent again until resolved\n", c.N)
		}
	}
	for _, r := range res.Requests {
		kind := "new chunk"
		if r.Existing {
			kind = "chunk already planned"
		}
		fmt.Fprintf(w, "chunk %d (%s) %s: %d rows, %s, expected fee %s\n", r.Chunk, kind, r.Request.Currency,
			len(r.Lines), r.Amount, r.ExpectedFee)
		for i, p := range r.Request.AddressesAndAmounts {
			fmt.Fprintf(w, "  row %d  %s  %s\n", r.Lines[i], p.Address, p.Amount)
		}
	}
	if len(res.Requests) == 0 {
		fmt.Fprintln(w, "nothing to send")
	}
	// The balances of the currencies to pay, against what the requests need.
	need := map[string]decimal.Decimal{}
	for _, r := range res.Requests {
		need[r.Request.Currency] = need[r.Request.Currency].Add(r.Amount)
	}
	curs := make([]string, 0, len(need))
	for c := range need {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		if b, ok := res.Balances[c]; ok {
			fmt.Fprintf(w, "%s: balance %s, to pay %s\n", c, b, need[c])
		}
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
}

func runToJSON(res *payouts.RunResult) runJSON {
	out := runJSON{Batch: res.Batch, State: string(res.State), DryRun: res.DryRun, Recovered: res.Recovered,
		Chunks: make([]chunkJSON, 0, len(res.Chunks)), Problems: res.Problems}
	if out.Recovered == nil {
		out.Recovered = []int{}
	}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	for _, c := range res.Chunks {
		out.Chunks = append(out.Chunks, toChunkJSON(c))
	}
	for _, r := range res.Requests {
		rj := requestJSON{Chunk: r.Chunk, Existing: r.Existing, Currency: r.Request.Currency, Rows: len(r.Lines),
			Amount: r.Amount.String(), ExpectedFee: r.ExpectedFee.String(), Lines: r.Lines}
		for _, p := range r.Request.AddressesAndAmounts {
			rj.Payees = append(rj.Payees, payeeJSON{Address: p.Address, Amount: p.Amount.String()})
		}
		if b, ok := res.Balances[r.Request.Currency]; ok {
			s := b.String()
			rj.Balance = &s
		}
		out.Requests = append(out.Requests, rj)
	}
	return out
}

// statusJSON is `payouts status BATCH --json`, as ARCHITECTURE.md fixes it (plus extra fields).
type statusJSON struct {
	Batch             string      `json:"batch"`
	State             string      `json:"state"`
	Chunks            []chunkJSON `json:"chunks"`
	File              string      `json:"file"`
	SheetSHA256       string      `json:"sheet_sha256"`
	Digest            string      `json:"digest"`
	ImportedBy        string      `json:"imported_by"`
	CreatedAt         time.Time   `json:"created_at"`
	Forced            bool        `json:"forced"`
	Rows              int         `json:"rows"`
	Errors            int         `json:"errors"`
	RowsPaid          int         `json:"rows_paid"`
	RowsUnknown       int         `json:"rows_unknown"`
	Totals            []totalJSON `json:"totals"`
	RequiredApprovers int         `json:"required_approvers"`
	Approvers         []string    `json:"approvers"`
	ApprovedUntil     *time.Time  `json:"approved_until"`
	// NeedsPerson lists the chunks whose outcome is unknown.
	NeedsPerson []int `json:"needs_person"`
	// Audit is the batch's audit log, with --audit.
	Audit []payouts.AuditLine `json:"audit,omitempty"`
	// ImportedFrom is the OS account (user@host) that ran the import, as the audit log has
	// it; --by is only a name typed.
	ImportedFrom string `json:"imported_from,omitempty"`
	// AllowRepeat: imported with --allow-repeat; RepeatRows is how many rows repeat earlier
	// payouts (absent when the import did not record it).
	AllowRepeat bool `json:"allow_repeat"`
	RepeatRows  *int `json:"repeat_rows,omitempty"`
	// Warnings are the approval's (payouts approve --json).
	Warnings []string `json:"warnings,omitempty"`
}

// addImportRecord adds what the audit log says of the import.
func (out *statusJSON) addImportRecord(rec *payouts.ImportRecord) {
	if rec == nil {
		return
	}
	if rec.Account != (payouts.OSAccount{}) {
		out.ImportedFrom = rec.Account.String()
	}
	out.AllowRepeat = rec.AllowRepeat
	if rec.AllowRepeat && rec.RepeatRows >= 0 {
		n := rec.RepeatRows
		out.RepeatRows = &n
	}
}

// allowRepeatNote tells the approvers that the importer let repeats through, or "".
func allowRepeatNote(rec *payouts.ImportRecord) string {
	switch {
	case rec == nil || !rec.AllowRepeat:
		return ""
	case rec.RepeatRows < 0:
		return "imported with --allow-repeat: rows may repeat earlier payouts (how many was not recorded)"
	}
	return fmt.Sprintf("imported with --allow-repeat: %d rows repeat earlier payouts", rec.RepeatRows)
}

// chunkJSON is one chunk in status and run output; fee is the quoted fee when a quote is
// held, else the expected fee (fee_quoted says which).
type chunkJSON struct {
	N            int        `json:"n"`
	Currency     string     `json:"currency"`
	State        string     `json:"state"`
	Identifier   string     `json:"identifier"`
	Rows         int        `json:"rows"`
	Amount       string     `json:"amount"`
	Fee          string     `json:"fee"`
	FeeQuoted    bool       `json:"fee_quoted"`
	ExpectedFee  string     `json:"expected_fee"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	Requests     int        `json:"requests"`
	WithdrawalID string     `json:"withdrawal_id,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	ResolvedBy   string     `json:"resolved_by,omitempty"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

func toChunkJSON(c *payouts.Chunk) chunkJSON {
	out := chunkJSON{N: c.N, Currency: c.Currency, State: string(c.State), Identifier: c.Identifier(), Rows: c.Rows,
		Amount: c.Amount.String(), Fee: c.ExpectedFee.String(), ExpectedFee: c.ExpectedFee.String(), Requests: c.Requests,
		WithdrawalID: c.WithdrawalID, Reason: c.Reason, ResolvedBy: c.ResolvedBy, UpdatedAt: c.UpdatedAt}
	if c.Quote != nil {
		out.Fee, out.FeeQuoted = c.Quote.ServiceFee.String(), true
		t := c.Quote.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
}

func statusToJSON(s *payouts.BatchStatus) statusJSON {
	b := s.Batch
	out := statusJSON{Warnings: s.Warnings, Batch: b.ID, State: string(s.State), Chunks: make([]chunkJSON, 0, len(s.Chunks)), File: b.FileName,
		SheetSHA256: b.SheetSHA256, Digest: b.Digest, ImportedBy: b.ImportedBy, CreatedAt: b.CreatedAt, Forced: b.Forced,
		Rows: b.Rows, Errors: b.Errors, RowsPaid: s.RowsPaid, RowsUnknown: s.RowsUnknown, Totals: totalsJSON(b.Totals),
		RequiredApprovers: s.RequiredApprovers, Approvers: s.ValidApprovers, NeedsPerson: []int{}}
	if out.Approvers == nil {
		out.Approvers = []string{}
	}
	if !s.ApprovedUntil.IsZero() {
		t := s.ApprovedUntil
		out.ApprovedUntil = &t
	}
	for _, c := range s.Chunks {
		out.Chunks = append(out.Chunks, toChunkJSON(c))
		if c.State == payouts.ChunkUnknown {
			out.NeedsPerson = append(out.NeedsPerson, c.N)
		}
	}
	return out
}

func newPayoutsStatusCommand(m *Main) *cobra.Command {
	var asJSON, withAudit bool
	cmd := &cobra.Command{
		Use:   "status [BATCH]",
		Short: "State of batches and their chunks",
		Long: `Show a batch's state, approvals and every chunk (state, quote identifier, rows, amount, fee,
and why it failed or is unknown); without BATCH, every batch, newest first.

Batch states: rejected (the sheet is invalid), imported (waiting for approvals), approved,
running (chunks in progress, or a run that stopped: run again), attention (a chunk's outcome
is unknown: a person must resolve it), partial (some chunks failed: run again), paid.
Chunks that need a person are listed with the command that closes them. --audit adds the
batch's audit log: every import, approval (and refusal), chunk transition and resolution,
with who and when.`,
		Example: `  nordpay-jobs payouts status
  nordpay-jobs payouts status 20261120-3fa9c1 --json
  nordpay-jobs payouts status 20261120-3fa9c1 --audit`,
		Args: argsUsage(cobra.MaximumNArgs(1)),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := m.payoutStore(ctx)
			if err != nil {
				return err
			}
			if withAudit && len(args) == 0 {
				return usagef("--audit needs a BATCH")
			}
			if len(args) == 1 {
				s, err := st.Status(ctx, args[0])
				if err != nil {
					return err
				}
				var lines []payouts.AuditLine
				if withAudit {
					if lines, err = st.Audit(ctx, args[0]); err != nil {
						return err
					}
				}
				rec, err := st.ImportRecord(ctx, s.Batch.ID)
				if err != nil {
					return err
				}
				if asJSON {
					out := statusToJSON(s)
					out.Audit = lines
					out.addImportRecord(rec)
					return m.printJSON(out)
				}
				printStatus(m.Out, s, rec)
				if withAudit {
					return printAudit(m.Out, lines)
				}
				return nil
			}
			all, err := st.List(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]statusJSON, len(all))
				for i, s := range all {
					out[i] = statusToJSON(s)
				}
				return m.printJSON(out)
			}
			if len(all) == 0 {
				m.printf("no batches\n")
				return nil
			}
			tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "batch\tstate\trows\tpaid\tunknown\timported\tby\tfile")
			for _, s := range all {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", s.Batch.ID, s.State, s.Batch.Rows, s.RowsPaid, s.RowsUnknown,
					s.Batch.CreatedAt.Format(time.RFC3339), s.Batch.ImportedBy, s.Batch.FileName)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, s := range all {
				printNeedsPerson(m.Out, s)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"batch", "state", "chunks": [{"n", "currency", "state", "identifier", "rows", "amount", "fee"}, ...]}`)
	cmd.Flags().BoolVar(&withAudit, "audit", false, "also show the batch's audit log (who did what, when)")
	return cmd
}

// printAudit writes a batch's audit log, one line per event.
func printAudit(w io.Writer, lines []payouts.AuditLine) error {
	fmt.Fprintln(w, "audit log:")
	for _, l := range lines {
		what := l.Action
		if l.Chunk > 0 {
			what = fmt.Sprintf("chunk %d %s", l.Chunk, l.Action)
		}
		// Who typed what name, and which OS account really ran it (when recorded).
		rest := make(map[string]any, len(l.Detail))
		for k, v := range l.Detail {
			rest[k] = v
		}
		osUser, _ := rest["os_user"].(string)
		host, _ := rest["host"].(string)
		_, hasUser := rest["os_user"]
		_, hasHost := rest["host"]
		delete(rest, "os_user")
		delete(rest, "host")
		if hasUser || hasHost {
			what += " [OS account " + payouts.OSAccount{User: osUser, Host: host}.String() + "]"
		}
		detail, err := json.Marshal(rest)
		if err != nil {
			return fmt.Errorf("payouts status: audit detail: %w", err)
		}
		fmt.Fprintf(w, "  %s  %s: %s %s\n", l.At.Format(time.RFC3339), l.Actor, what, detail)
	}
	return nil
}

func printStatus(w io.Writer, s *payouts.BatchStatus, rec *payouts.ImportRecord) {
	b := s.Batch
	fmt.Fprintf(w, "batch %s: %s\n", b.ID, s.State)
	fmt.Fprintf(w, "sheet %s (%s, SHA-256 %s), imported by %s at %s", b.FileName, b.Format, b.SheetSHA256, b.ImportedBy, b.CreatedAt.Format(time.RFC3339))
	if rec != nil && rec.Account != (payouts.OSAccount{}) {
		fmt.Fprintf(w, " from OS account %s", rec.Account)
	}
	if b.Forced {
		fmt.Fprint(w, ", forced")
	}
	fmt.Fprintln(w)
	if note := allowRepeatNote(rec); note != "" {
		fmt.Fprintln(w, note)
	}
	if b.State == payouts.BatchRejected {
		fmt.Fprintf(w, "rejected: %d problem(s); nothing in it can be paid\n", b.Errors)
		return
	}
	fmt.Fprintf(w, "rows %d: %d paid, %d unknown\n", b.Rows, s.RowsPaid, s.RowsUnknown)
	printTotals(w, b.Totals)
	fmt.Fprintf(w, "digest %s\n", b.Digest)
	approvers := "none"
	if len(s.ValidApprovers) > 0 {
		approvers = strings.Join(s.ValidApprovers, ", ")
	}
	fmt.Fprintf(w, "approvals: %d of %d valid (%s)", len(s.ValidApprovers), s.RequiredApprovers, approvers)
	if !s.ApprovedUntil.IsZero() {
		fmt.Fprintf(w, ", approved until %s", s.ApprovedUntil.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	if len(s.Chunks) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "chunk\tcurrency\tstate\trows\tamount\tfee\tidentifier\treason")
		for _, c := range s.Chunks {
			j := toChunkJSON(c)
			fee := j.Fee
			if !j.FeeQuoted {
				fee += " (expected)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", c.N, c.Currency, c.State, c.Rows, c.Amount, fee, orDash(c.Identifier()), oneLine(c.Reason))
		}
		_ = tw.Flush() //nolint:errcheck // w is stdout; a failed write has nowhere to be reported
	}
	printNeedsPerson(w, s)
}

func printNeedsPerson(w io.Writer, s *payouts.BatchStatus) {
	for _, c := range s.NeedsPerson() {
		fmt.Fprintf(w, "NEEDS A PERSON: batch %s chunk %d (%s, %d rows, %s, quote %s): the confirm may have been executed. Find out from Nord PAY, then: nordpay-jobs payouts resolve %s --chunk %d --outcome paid|failed --by NAME\n",
			s.Batch.ID, c.N, c.Currency, c.Rows, c.Amount, c.Identifier(), s.Batch.ID, c.N)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newPayoutsResolveCommand(m *Main) *cobra.Command {
	var chunk int
	var outcome, by, note string
	cmd := &cobra.Command{
		Use:   "resolve BATCH --chunk N --outcome paid|failed --by NAME",
		Short: "Close a chunk whose outcome is unknown",
		Long: `Close a chunk whose confirm may or may not have been executed (state unknown), after finding
out from Nord PAY (its dashboard or support) what happened to the quote identifier that
payouts status shows.

  --outcome paid     the withdrawal went through: the chunk becomes confirmed and is booked
                     to the ledger, like a confirm that answered
  --outcome failed   nothing was paid: the chunk becomes failed and its rows are paid by the
                     next payouts run

Resolving "failed" a chunk that was in fact paid pays its rows twice: resolve with evidence.
Only unknown chunks can be resolved; who resolved it, when and the note go to the audit log.`,
		Example: `  nordpay-jobs payouts resolve 20261120-3fa9c1 --chunk 2 --outcome paid --by carol --note "Nord PAY withdrawal 1841"`,
		Args:    argsUsage(cobra.ExactArgs(1)),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if chunk < 1 {
				return usagef("--chunk N is required (the chunk's number in payouts status)")
			}
			o := payouts.Outcome(outcome)
			if o != payouts.OutcomePaid && o != payouts.OutcomeFailed {
				return usagef("--outcome %q: want paid or failed", outcome)
			}
			if payouts.Person(by) == "" {
				return usagef("--by NAME is required: who found out")
			}
			st, err := m.payoutStore(ctx)
			if err != nil {
				return err
			}
			c, err := st.Resolve(ctx, args[0], chunk, o, by, note)
			if err != nil {
				return err
			}
			if o == payouts.OutcomePaid {
				m.printf("chunk %d of batch %s resolved as paid by %s: confirmed and booked to the ledger\n", c.N, c.Batch, c.ResolvedBy)
			} else {
				m.printf("chunk %d of batch %s resolved as failed by %s: its %d rows will be paid by the next payouts run %s\n", c.N, c.Batch, c.ResolvedBy, c.Rows, c.Batch)
			}
			return nil
		}),
	}
	cmd.Flags().IntVar(&chunk, "chunk", 0, "the chunk's number (payouts status shows it)")
	cmd.Flags().StringVar(&outcome, "outcome", "", "paid or failed")
	cmd.Flags().StringVar(&by, "by", "", "who found out (required)")
	cmd.Flags().StringVar(&note, "note", "", "the evidence, for the audit log")
	return cmd
}
