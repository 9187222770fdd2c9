package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/templates"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"
)

func newExportCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write statements: CSV, XLSX, hledger and beancount journals",
		Args:  argsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(newExportStatementCommand(m), newExportTemplatesCommand(m))
	return cmd
}

const exportStatementLong = `Write the account statement of a period [--from, --to) from the ledger.

Per currency (each one with a balance or a movement in the period, or the one --currency
names), in the currency's own units:
  opening   the balance of assets:nordpay:<CUR> at --from (every posting before it)
  lines     one per ledger entry in the currency, in time order: the time it happened
            (occurred_at, UTC; the statement's time), when it was booked (booked_at),
            kind (invoice, wallet, withdrawal, opening, manual, reversal), external id, tx hash,
            label, address, gross, network fee, service fee, net (gross - fees: what the
            line adds to the balance), the running balance, and the USD values as booked
  total     the sums of the lines
  closing   the balance at --to, read from the ledger on its own
Before the file is put in place the command checks, per currency, that the opening balance
plus the net of the lines equals the closing balance; if not, it writes nothing and exits 1.
The ledger is read in one snapshot, so a sync running meanwhile cannot tear the statement.

Formats (--format, or guessed from the extension of --out):
  csv        RFC 4180 (CRLF), UTF-8, times ISO 8601 UTC, amounts with '.' and the
             currency's decimals (padded; an amount with more decimals keeps them all),
             no thousands separators. Text from users or the API (labels, addresses, ids,
             descriptions) that a spreadsheet would run as a formula (=, +, -, @, tab, CR)
             gets a leading apostrophe.
  xlsx       a Summary sheet and a sheet per currency: frozen header, a filterable table
             of the lines, the opening, total and closing rows under it; amounts are
             number cells holding the exact decimal (text when longer than the 15 digits a
             spreadsheet keeps), times are date cells. Written as a stream: memory stays
             flat at a million lines.
  hledger    a journal for hledger (accounts and commodities declared, balance
  beancount  assertions at the end); --template does not apply. Journals date entries by
             UTC day, so --from and --to must be dates (midnight UTC).

Templates (--template, default "default") choose the columns of csv and xlsx; the built-in
ones are default (every column), xero (Xero bank statement import: USD, files of at most
1,000 lines named OUT-001.csv, OUT-002.csv, ...) and quickbooks (Date, Description, Credit,
Debit; one file per currency named OUT-<CUR>.csv). A directory of your own (--template-dir
or export.template_dir) overrides them by name or adds new ones: see
'nordpay-jobs export templates', which lists them and every field a column can show.

The output is written to a temporary file beside --out and renamed into place when
complete: --out is never left half written, also when the command fails or is killed.

A split statement written again to the same --out replaces the earlier one as a whole: once
the new files are in place, the files of the earlier export that the new one did not
rewrite are removed (october-004.csv and on when the new one ends at october-003.csv;
october-BTC.csv when the new one has no BTC), so the folder never holds a mix that could be
imported twice. The command lists each one ("removed ...", and "removed" in --json). Only
names of the template's own pattern for that --out go: numbered files that follow on from
the last one written without a gap, and OUT-<CUR>.csv of a currency the ledger has (with
--currency, that currency's alone, so statements of other currencies to the same --out
stay). --out itself and every other file are left alone, and a statement that fails
removes nothing.`

const exportStatementExample = `  # October's statement, every currency, as CSV
  nordpay-jobs export statement --from 2026-10-01 --to 2026-11-01 --out october.csv

  # the same as a spreadsheet, one currency
  nordpay-jobs export statement --from 2026-10-01 --to 2026-11-01 --currency USDTBEP20 --out october.xlsx

  # for Xero: october-001.csv, october-002.csv, ... of at most 1,000 lines each
  nordpay-jobs export statement --from 2026-10-01 --to 2026-11-01 --template xero --out october.csv

  # from a given time to a given time (RFC 3339, UTC), one currency
  nordpay-jobs export statement --from 2026-10-15T12:00:00Z --to 2026-10-16T12:00:00Z --currency USDTBEP20 --out day.csv

  # a plain-text journal for hledger (journals take whole UTC days)
  nordpay-jobs export statement --from 2026-10-01 --to 2026-11-01 --format hledger --out october.journal

  # the same for beancount (the format from the extension); check it with bean-check october.beancount
  nordpay-jobs export statement --from 2026-10-01 --to 2026-11-01 --out october.beancount

  # a layout of your own: ./templates/mine.yaml
  nordpay-jobs export statement --from 2026-10-01 --to 2026-11-01 --template mine --template-dir ./templates --out mine.csv`

// exportStatementJSON is the output of `export statement --json`; amounts are exact
// decimal strings.
type exportStatementJSON struct {
	Files      []string             `json:"files"`
	Removed    []string             `json:"removed"`
	Format     string               `json:"format"`
	Template   string               `json:"template,omitempty"`
	From       time.Time            `json:"from"`
	To         time.Time            `json:"to"`
	Lines      int64                `json:"lines"`
	Currencies []exportCurrencyJSON `json:"currencies,omitempty"`
}

type exportCurrencyJSON struct {
	Currency       string  `json:"currency"`
	Decimals       int     `json:"decimals"`
	Opening        string  `json:"opening"`
	Lines          int64   `json:"lines"`
	Gross          string  `json:"gross"`
	NetworkFees    string  `json:"network_fees"`
	ServiceFees    string  `json:"service_fees"`
	Net            string  `json:"net"`
	Closing        string  `json:"closing"`
	GrossUSD       *string `json:"gross_usd"`
	NetworkFeesUSD *string `json:"network_fees_usd"`
	ServiceFeesUSD *string `json:"service_fees_usd"`
	NetUSD         *string `json:"net_usd"`
}

// exportFormats maps --format values and --out extensions to formats.
var exportFormats = map[string]string{
	"csv": "csv", "xlsx": "xlsx", "hledger": "hledger", "beancount": "beancount",
	".csv": "csv", ".xlsx": "xlsx", ".journal": "hledger", ".hledger": "hledger", ".ledger": "hledger",
	".beancount": "beancount", ".bean": "beancount",
}

func newExportStatementCommand(m *Main) *cobra.Command {
	var (
		from, to, currency, format, tplName, tplDir, out string
		asJSON, noBar                                    bool
	)
	cmd := &cobra.Command{
		Use:     "statement --from T --to T --out PATH",
		Short:   "Write the statement of a period: opening balance, lines with fees, closing balance",
		Long:    exportStatementLong,
		Example: exportStatementExample,
		Args:    argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			f := cmd.Flags()
			var missing []string
			for _, name := range []string{"from", "to", "out"} {
				if !f.Changed(name) {
					missing = append(missing, "--"+name)
				}
			}
			if len(missing) > 0 {
				return usagef("%s required", strings.Join(missing, ", "))
			}
			start, err := config.ParseTime(from)
			if err != nil {
				return usagef("--from: %v", err)
			}
			end, err := config.ParseTime(to)
			if err != nil {
				return usagef("--to: %v", err)
			}
			if !start.Before(end) {
				return usagef("--from %s is not before --to %s", from, to)
			}
			if out == "" || out == "-" {
				return usagef("--out: name a file (the statement is written beside it, then renamed into place)")
			}
			kind := format
			if kind == "" {
				if kind = exportFormats[strings.ToLower(filepath.Ext(out))]; kind == "" {
					return usagef("--format: pass csv, xlsx, hledger or beancount (the extension of --out %q does not say)", out)
				}
			} else if kind = exportFormats[strings.ToLower(format)]; kind == "" || strings.HasPrefix(format, ".") {
				return usagef("--format %q: want csv, xlsx, hledger or beancount", format)
			}
			journal := kind == "hledger" || kind == "beancount"
			if journal && f.Changed("template") {
				return usagef("--template applies to csv and xlsx, not %s", kind)
			}
			if journal {
				for _, b := range []struct {
					flag, value string
					t           time.Time
				}{{"--from", from, start}, {"--to", to, end}} {
					if u := b.t.UTC(); !u.Equal(u.Truncate(24 * time.Hour)) {
						return usagef("%s %s: a %s journal dates its entries by UTC day; give a date (midnight UTC), e.g. %s",
							b.flag, b.value, kind, u.Format(time.DateOnly))
					}
				}
			}
			if fi, err := os.Stat(filepath.Dir(out)); err != nil || !fi.IsDir() {
				return usagef("--out %s: the directory %s does not exist", out, filepath.Dir(out))
			}
			var tpl *templates.Template
			if !journal {
				if tpl, err = m.loadTemplate(tplName, tplDir, f.Changed("template-dir")); err != nil {
					return err
				}
				if !tpl.Allows(kind) {
					return usagef("--template %s is for %s only, not %s", tpl.Name, strings.Join(tpl.Formats, ", "), kind)
				}
			}

			conn, err := m.OpenDB(ctx)
			if err != nil {
				return err
			}
			store := ledger.NewStore(conn, m.Config.Ledger.Accounts)
			files := exporters.NewAtomicFiles(out)
			defer files.Abort() //nolint:errcheck // a no-op after Commit; its error is reported below otherwise
			bar := newProgress(m, noBar)
			defer bar.finish()
			res := exportStatementJSON{Format: kind, From: start, To: end}
			if journal {
				w, err := files.Create("")
				if err != nil {
					return err
				}
				err = exporters.WriteJournal(ctx, w, store, exporters.JournalFormat(kind),
					exporters.JournalOptions{From: start, To: end, Currency: currency})
				if err != nil {
					return errors.Join(exportUsage(err), files.Abort())
				}
			} else {
				res.Template = tpl.Name
				bar.phase("statement: lines written", 0, "lines")
				r, err := exporters.WriteStatement(ctx, store, exporters.StatementFormat(kind), files, exporters.StatementOptions{
					From: start, To: end, Currency: currency, Template: tpl, Now: m.Now,
					Progress: func(lines int64) { bar.set(lines, "") },
				})
				bar.finish()
				if err != nil {
					return errors.Join(exportUsage(err), files.Abort())
				}
				res.Lines = r.Lines
				for _, c := range r.Currencies {
					res.Currencies = append(res.Currencies, currencyJSON(c))
				}
			}
			if err := files.Commit(); err != nil {
				return err
			}
			res.Files, res.Removed = files.Paths(), append([]string{}, files.Removed()...)
			if asJSON {
				return m.printJSON(res)
			}
			printStatementSummary(m, res)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start of the period: a date (2026-10-01, midnight UTC) or an RFC 3339 time (required)")
	f.StringVar(&to, "to", "", "end of the period, exclusive (required)")
	f.StringVar(&currency, "currency", "", "one currency only (default: every currency with a balance or a movement)")
	f.StringVar(&format, "format", "", "csv, xlsx, hledger or beancount (default: from the extension of --out)")
	f.StringVar(&tplName, "template", templates.Default, "column layout for csv and xlsx: default, xero, quickbooks, or one of --template-dir")
	f.StringVar(&tplDir, "template-dir", "", "directory of your own templates, NAME.yaml (default export.template_dir)")
	f.StringVar(&out, "out", "", "the file to write (required); split statements add -001, -<CUR> before the extension, and remove an earlier export's files they replace")
	f.BoolVar(&asJSON, "json", false, `print {"files", "removed", "lines", "currencies": [{"currency", "opening", "closing", ...}]} with exact decimal strings`)
	f.BoolVar(&noBar, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

// exportUsage makes an error of the options the exporters refuse before they write (a
// currency the ledger does not have) a usage error: exit 2, as the command line is wrong.
func exportUsage(err error) error {
	if errors.Is(err, exporters.ErrStatementOptions) || errors.Is(err, exporters.ErrJournalOptions) {
		return &usageError{err}
	}
	return err
}

// loadTemplate loads a statement template from --template-dir, else export.template_dir,
// else the embedded set; an unknown name is a usage error.
func (m *Main) loadTemplate(name, dir string, dirFlag bool) (*templates.Template, error) {
	source := "flag --template-dir"
	if !dirFlag {
		dir, source = m.Config.Export.TemplateDir, "export.template_dir (from "+m.Config.Source("export.template_dir")+")"
	}
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			if dirFlag {
				return nil, usagef("--template-dir %s is not a directory", dir)
			}
			return nil, fmt.Errorf("%s: %s is not a directory", source, dir)
		}
	}
	tpl, err := templates.Load(name, dir)
	if errors.Is(err, templates.ErrUnknown) {
		return nil, usagef("--template: %v", strings.TrimPrefix(err.Error(), "templates: "))
	}
	return tpl, err
}

func currencyJSON(c exporters.StatementCurrency) exportCurrencyJSON {
	usd := func(d decimal.NullDecimal) *string {
		if !d.Valid {
			return nil
		}
		s := d.Decimal.String()
		return &s
	}
	return exportCurrencyJSON{
		Currency: c.Currency, Decimals: c.Precision, Opening: c.Opening.String(), Lines: c.Lines,
		Gross: c.Gross.String(), NetworkFees: c.NetworkFees.String(), ServiceFees: c.ServiceFees.String(),
		Net: c.Net.String(), Closing: c.Closing.String(),
		GrossUSD: usd(c.GrossUSD), NetworkFeesUSD: usd(c.NetworkFeesUSD), ServiceFeesUSD: usd(c.ServiceFeesUSD), NetUSD: usd(c.NetUSD),
	}
}

// printStatementSummary writes what an export wrote, for people.
func printStatementSummary(m *Main, r exportStatementJSON) {
	for _, p := range r.Files {
		m.printf("wrote %s\n", p)
	}
	for _, p := range r.Removed {
		m.printf("removed %s (left by an earlier export to the same --out; replaced by this one)\n", p)
	}
	if r.Format == "hledger" || r.Format == "beancount" {
		return
	}
	m.printf("%d lines, %d currencies, from %s to %s (exclusive); opening + net = closing for each\n",
		r.Lines, len(r.Currencies), r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	if len(r.Currencies) == 0 {
		return
	}
	tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "currency\tlines\topening\tgross\tfees\tnet\tclosing\t")
	for _, c := range r.Currencies {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s+%s\t%s\t%s\t\n", c.Currency, c.Lines, c.Opening, c.Gross, c.NetworkFees, c.ServiceFees, c.Net, c.Closing)
	}
	tw.Flush()
}

func newExportTemplatesCommand(m *Main) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "List the statement templates and the fields their columns can show",
		Long: `List the statement templates: the built-in ones (default, xero, quickbooks) and those of
the template directory (--template-dir or export.template_dir), which override built-in
ones of the same name. Then every field a column can show.

A template is a YAML file NAME.yaml; copy a built-in one to start (they are printed with
'nordpay-jobs export templates --show NAME'):

  kind: statement              # required
  description: one line for this list
  formats: [csv, xlsx]         # which --format values may use it (default both)
  summary_rows: true           # opening, total and closing rows per currency
  split_by_currency: false     # CSV: one file per currency, OUT-<CUR>.csv
  max_lines: 0                 # CSV: at most this many lines a file, header included,
                               # as OUT-001.csv, OUT-002.csv, ... (0: no limit)
  time_format: rfc3339         # rfc3339, date, dd/mm/yyyy or mm/dd/yyyy
  columns:
    - {header: Date, field: time}
    - {header: Amount, field: net_usd, required: true}   # required: empty is an error

An unknown key, field or time format is an error that names the file and the column.`,
		Example: `  nordpay-jobs export templates
  nordpay-jobs export templates --show xero > my-xero.yaml
  nordpay-jobs export templates --template-dir ./templates`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("template-dir") {
				dir = m.Config.Export.TemplateDir
			}
			if show, _ := cmd.Flags().GetString("show"); show != "" {
				src, err := templates.Source(show, dir)
				if errors.Is(err, templates.ErrUnknown) {
					return usagef("--show: %v", strings.TrimPrefix(err.Error(), "templates: "))
				}
				if err != nil {
					return err
				}
				_, err = m.Out.Write(src)
				return err
			}
			list, err := templates.List(dir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "template\tformats\tsource\tdescription")
			for _, l := range list {
				if l.Err != nil {
					fmt.Fprintf(tw, "%s\t-\t-\tBROKEN: %s\n", l.Name, oneLine(l.Err.Error()))
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Name, strings.Join(l.Template.Formats, ","), l.Template.Source, l.Template.Description)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			m.printf("\nfields:\n")
			tw = tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
			for _, f := range templates.Fields {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Kind, f.Description)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&dir, "template-dir", "", "directory of your own templates (default export.template_dir)")
	cmd.Flags().String("show", "", "print the YAML of one template")
	return cmd
}
