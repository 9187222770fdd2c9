package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/payouts"
	"github.com/spf13/cobra"
)

func newReportCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Reports: the monthly reconciliation",
		Args:  argsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(newReportReconcileCommand(m))
	return cmd
}

const reportReconcileLong = `Reconcile one UTC calendar month [first day, first day of the next month) and write the
report as one workbook (--format xlsx: sheets Summary, Receipts, Fees, Payouts, Exceptions) or
as a folder of CSV files, one per sheet (--format csv).

Per currency: the assets balance at the month's start (opening) and end (closing), gross
receipts (invoice, wallet), network fees, service fees, payouts and payout fees, opening
balances booked in the month (ledger opening-balances: a movement of their own, not a
receipt), and whether opening + opening balances booked + receipts - fees - payouts - payout
fees = closing. Receipts, Fees and Payouts hold
the same per day and currency, beside what Nord PAY says for the day.

Checks, each with its exceptions:
  movements        the identity above holds for every currency
  completeness     the month is pulled again from Nord PAY (invoice and wallet transactions)
                   and compared with the ledger: paid transactions missing from the ledger,
                   entries Nord PAY does not list, changed time, currency, amount or fees,
                   booked transactions Nord PAY says are unpaid, records Nord PAY serves that
                   cannot be booked. Unpaid transactions are counted, not booked.
  balance          the ledger's assets balance now equals GET /balance/, exactly
  unknown payouts  no payout chunk is in an unknown state (a confirm whose answer was lost:
                   money may have left without a withdrawal entry); each one is listed,
                   whatever its month, until someone runs payouts resolve
  quarantine       no quarantined record is unresolved, whatever its month: each unresolved
                   one is listed until a sync books its corrected version or someone runs
                   ledger quarantine resolve; resolved ones are counted, not listed

On a terminal, a progress bar on stderr follows the month's re-pull from Nord PAY (windows
done, records read), the comparison with the ledger and the writing of the report
(--no-progress hides it).

Exit 0 when every check passes, 3 when any fails (the report is written either way), 1 on
error, 2 on a wrong command line. The ledger is read in one snapshot as the command starts;
run it when no sync is running, or the balance check may differ by what the sync books.`

const reportReconcileExample = `  nordpay-jobs report reconcile --month 2026-10 --format xlsx --out recon-2026-10.xlsx
  nordpay-jobs report reconcile --month 2026-10 --format csv --out recon-2026-10/ --json

  # In a script that cron runs on the 2nd of each month (0 6 2 * *): last month's report.
  # Exit 3: written, but it does not reconcile; tell finance. Exit 1 or 2: it failed.
  m=$(date -u -d 'last month' +%Y-%m)
  out=/srv/reports/recon-$m.xlsx
  nordpay-jobs report reconcile --month "$m" --out "$out"
  case $? in
    0) ;;
    3) echo "The exceptions are in $out" | mail -s "Nord PAY $m does not reconcile" finance@example.com ;;
    *) echo "report reconcile $m failed" >&2; exit 1 ;;
  esac`

func newReportReconcileCommand(m *Main) *cobra.Command {
	var (
		month, format, out string
		asJSON, noBar      bool
	)
	cmd := &cobra.Command{
		Use:     "reconcile",
		Short:   "Monthly reconciliation report (exit 3 if anything does not reconcile)",
		Long:    reportReconcileLong,
		Example: reportReconcileExample,
		Args:    argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			start, err := time.Parse("2006-01", strings.TrimSpace(month))
			if err != nil {
				return usagef("--month %q: want a month as YYYY-MM, e.g. 2026-10", month)
			}
			f := exporters.ReconciliationFormat(format)
			if f != exporters.ReconciliationXLSX && f != exporters.ReconciliationCSV {
				return usagef("--format %q: want xlsx or csv", format)
			}
			if strings.TrimSpace(out) == "" {
				return usagef("--out is required: the workbook (xlsx) or the folder (csv) to write")
			}
			conn, err := m.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			client, err := m.Client()
			if err != nil {
				return err
			}
			store := ledger.NewStore(conn, m.Config.Ledger.Accounts)
			r := &jobs.Reconciler{Client: client, Store: store, Now: m.Now, Logger: m.Logger}
			opts := jobs.ReconcileOptions{Month: start,
				Window: m.Config.Sync.Window.D(), Overlap: m.Config.Sync.Overlap.D(),
				UnknownPayouts: jobs.UnknownPayouts(payouts.NewStore(store, payoutPolicy(m.Config.Payouts)))}
			bar := newProgress(m, noBar)
			defer bar.finish()
			// The bar's steps are the re-pull's windows, then the comparison with the ledger
			// (after the last window) and the writing of the report.
			var steps int64
			name := "reconcile " + start.Format("2006-01")
			if bar.on() {
				r.Logger = nil // the bar says it; a log line would tear it
				bar.phase(name+": reading balances", 0, "")
				opts.Progress = func(p jobs.ReconcileProgress) {
					steps = int64(p.Windows)
					bar.phase(name, steps+2, "")
					detail := fmt.Sprintf("re-pull, %d records", p.Fetched)
					if p.WindowsDone == p.Windows {
						detail = "comparing with the ledger"
					}
					bar.set(int64(p.WindowsDone), detail)
				}
			}
			res, err := r.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			bar.set(steps+1, "writing the report")
			if err := exporters.WriteReconciliation(out, f, res.Report); err != nil {
				return err
			}
			bar.finish()
			if asJSON {
				if err := m.printJSON(reconcileSummary(res.Report, f, out)); err != nil {
					return err
				}
			} else if err := printReconcileSummary(m.Out, res.Report, f, out); err != nil {
				return err
			}
			if !res.Report.Reconciled() {
				return withCode(ExitDifferences, fmt.Errorf("report reconcile: %s does not reconcile; the exceptions are in %s", res.Report.Month, out))
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&month, "month", "", "the month to reconcile, YYYY-MM (UTC)")
	fl.StringVar(&format, "format", "xlsx", "xlsx (one workbook) or csv (a folder of files)")
	fl.StringVar(&out, "out", "", "where to write: a .xlsx file, or a folder for csv")
	fl.BoolVar(&asJSON, "json", false, `print a summary object: {"month", "reconciled", "currencies": [...], "checks": [...]}; amounts are strings`)
	fl.BoolVar(&noBar, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

// reconcileJSON is the summary `report reconcile --json` prints. Amounts are exact
// decimal strings.
type reconcileJSON struct {
	Month      string                  `json:"month"`
	From       time.Time               `json:"from"`
	To         time.Time               `json:"to"`
	Reconciled bool                    `json:"reconciled"`
	Format     string                  `json:"format"`
	Out        string                  `json:"out"`
	Currencies []reconcileCurrencyJSON `json:"currencies"`
	Checks     []reconcileCheckJSON    `json:"checks"`
}

type reconcileCurrencyJSON struct {
	Currency        string `json:"currency"`
	Opening         string `json:"opening"`
	InvoiceReceipts string `json:"invoice_receipts"`
	WalletReceipts  string `json:"wallet_receipts"`
	NetworkFees     string `json:"network_fees"`
	ServiceFees     string `json:"service_fees"`
	Payouts         string `json:"payouts"`
	PayoutFees      string `json:"payout_fees"`
	OpeningBalances string `json:"opening_balances"`
	Other           string `json:"other"`
	Closing         string `json:"closing"`
	ExpectedClosing string `json:"expected_closing"`
	Difference      string `json:"difference"`
	LedgerBalance   string `json:"ledger_balance"`
	APIBalance      string `json:"api_balance,omitempty"`
	APIPaid         int64  `json:"api_paid"`
	LedgerPayments  int64  `json:"ledger_payments"`
	APIGross        string `json:"api_gross"`
	APIUnpaid       int64  `json:"api_unpaid"`
}

type reconcileCheckJSON struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Exceptions int    `json:"exceptions"`
	Summary    string `json:"summary"`
}

func reconcileSummary(r *exporters.Reconciliation, f exporters.ReconciliationFormat, out string) reconcileJSON {
	s := reconcileJSON{Month: r.Month, From: r.From, To: r.To, Reconciled: r.Reconciled(), Format: string(f), Out: out,
		Currencies: []reconcileCurrencyJSON{}, Checks: []reconcileCheckJSON{}}
	for _, c := range r.Currencies {
		j := reconcileCurrencyJSON{Currency: c.Currency, Opening: c.Opening.String(),
			InvoiceReceipts: c.InvoiceReceipts.String(), WalletReceipts: c.WalletReceipts.String(),
			NetworkFees: c.NetworkFees.String(), ServiceFees: c.ServiceFees.String(),
			Payouts: c.Payouts.String(), PayoutFees: c.PayoutFees.String(), OpeningBalances: c.OpeningBalances.String(), Other: c.Other.String(),
			Closing: c.Closing.String(), ExpectedClosing: c.ExpectedClosing().String(), Difference: c.Difference().String(),
			LedgerBalance: c.LedgerBalance.String(), APIPaid: c.APIPaidCount, LedgerPayments: c.InvoiceCount + c.WalletCount,
			APIGross: c.APIGross.String(), APIUnpaid: c.APIUnpaidCount}
		if c.APIBalance.Valid {
			j.APIBalance = c.APIBalance.Decimal.String()
		}
		s.Currencies = append(s.Currencies, j)
	}
	for _, c := range r.Checks {
		s.Checks = append(s.Checks, reconcileCheckJSON{Name: c.Name, Status: string(c.Status), Exceptions: c.Total, Summary: c.Summary})
	}
	return s
}

// printReconcileSummary writes the report's gist for people.
func printReconcileSummary(w io.Writer, r *exporters.Reconciliation, f exporters.ReconciliationFormat, out string) error {
	verdict := "reconciled"
	if !r.Reconciled() {
		verdict = "NOT RECONCILED"
	}
	fmt.Fprintf(w, "reconciliation %s (%s to %s UTC): %s\n", r.Month, r.From.Format("2006-01-02"), r.To.Format("2006-01-02"), verdict)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "currency\topening\treceipts\tfees\tpayouts\tpayout fees\tclosing\tdifference\t")
	for _, c := range r.Currencies {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Currency, c.Opening, c.Receipts(), c.NetworkFees.Add(c.ServiceFees),
			c.Payouts, c.PayoutFees, c.Closing, c.Difference())
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report reconcile: unable to print the summary: %w", err)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, c.Summary)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report reconcile: unable to print the summary: %w", err)
	}
	_, err := fmt.Fprintf(w, "report written to %s (%s)\n", out, f)
	return err
}
