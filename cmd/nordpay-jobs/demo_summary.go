package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// demoSummaryFile is the summary the demo writes in --out, for scripts (and TestDemo).
const demoSummaryFile = "demo-summary.json"

// demoFile is one file the demo wrote.
type demoFile struct {
	// Path is absolute.
	Path string `json:"path"`
	// Size is in bytes.
	Size int64 `json:"size"`
	// What says what is in it, for people.
	What string `json:"what"`
}

// demoSummary is what the demo did and found; demo-summary.json holds it. Amounts are exact
// decimal strings.
type demoSummary struct {
	// Out is the absolute directory of the files.
	Out string `json:"out"`
	// Month is the sandbox's month, YYYY-MM.
	Month string `json:"month"`
	Seed  int64  `json:"seed"`
	// Sync is the first sync of the month.
	Sync demoSyncJSON `json:"sync"`
	// Booked are the transactions the sync booked, per currency.
	Booked []demoBookedJSON `json:"booked"`
	// Openings are the opening balances booked (what the sandbox held before the month),
	// per currency.
	Openings  map[string]string `json:"opening_balances"`
	Statement demoStatementJSON `json:"statement"`
	Reconcile demoReconcileJSON `json:"reconcile"`
	Payouts   demoPayoutsJSON   `json:"payouts"`
	// Balances are GET /balance/ after the payouts, which the ledger's assets equal.
	Balances map[string]string `json:"balances"`
	// Verify is `ledger verify` after the payouts.
	Verify demoVerifyJSON `json:"verify"`
	// Files are the files written before the summary, in order.
	Files []demoFile `json:"files"`
}

type demoSyncJSON struct {
	Fetched       int64 `json:"fetched"`
	Booked        int64 `json:"booked"`
	AlreadyBooked int64 `json:"already_booked"`
	Unpaid        int64 `json:"unpaid"`
	Quarantined   int64 `json:"quarantined"`
}

type demoBookedJSON struct {
	Currency     string `json:"currency"`
	Transactions int64  `json:"transactions"`
	Gross        string `json:"gross"`
	NetworkFees  string `json:"network_fees"`
	ServiceFees  string `json:"service_fees"`
	Net          string `json:"net"`
}

// demoStatementJSON is the CSV statement of the month, as export statement --json said it.
type demoStatementJSON struct {
	File       string                      `json:"file"`
	Lines      int64                       `json:"lines"`
	Currencies []demoStatementCurrencyJSON `json:"currencies"`
}

type demoStatementCurrencyJSON struct {
	Currency string `json:"currency"`
	Lines    int64  `json:"lines"`
	Opening  string `json:"opening"`
	Net      string `json:"net"`
	Closing  string `json:"closing"`
}

type demoReconcileJSON struct {
	Month      string `json:"month"`
	Reconciled bool   `json:"reconciled"`
	File       string `json:"file"`
}

type demoPayoutsJSON struct {
	Batch      string   `json:"batch"`
	State      string   `json:"state"`
	Rows       int      `json:"rows"`
	RowsPaid   int      `json:"rows_paid"`
	Chunks     int      `json:"chunks"`
	ImportedBy string   `json:"imported_by"`
	ApprovedBy []string `json:"approved_by"`
	// Paid is one element per row of the sheet.
	Paid []demoPaymentJSON `json:"paid"`
}

// demoPaymentJSON is one payout row: what the sandbox paid for it (its own record, which
// the API never reports) and how often the ledger booked it.
type demoPaymentJSON struct {
	Reference       string `json:"reference"`
	Currency        string `json:"currency"`
	Address         string `json:"address"`
	Amount          string `json:"amount"`
	ServiceFee      string `json:"service_fee"`
	WithdrawalID    int64  `json:"withdrawal_id"`
	Identifier      string `json:"identifier"`
	SandboxPayments int    `json:"sandbox_payments"`
	LedgerEntries   int    `json:"ledger_entries"`
}

type demoVerifyJSON struct {
	Passed bool `json:"passed"`
	Checks int  `json:"checks"`
}

// finish writes demo-summary.json and prints the summary: the key figures and every file.
func (d *demo) finish() error {
	d.sum.Files = d.files
	data, err := json.MarshalIndent(d.sum, "", "  ")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	path := filepath.Join(d.dir, demoSummaryFile)
	if err := writeFileAtomic(path, append(data, '\n')); err != nil {
		return err
	}
	if err := d.addFile(path, "this summary as JSON, for scripts"); err != nil {
		return err
	}

	m, s := d.m, d.sum
	m.printf("\nSummary (seed %d, month %s)\n", s.Seed, s.Month)
	var total int64
	parts := make([]string, len(s.Booked))
	for i, b := range s.Booked {
		total += b.Transactions
		parts[i] = fmt.Sprintf("%s %d", b.Currency, b.Transactions)
	}
	m.printf("  Booked:         %d transactions (%s); %d unpaid counted, not booked; %d quarantined\n",
		total, strings.Join(parts, ", "), s.Sync.Unpaid, s.Sync.Quarantined)
	m.printf("  Opening:        balances held before %s booked in %d currencies (ledger opening-balances)\n", s.Month, len(s.Openings))
	m.printf("  Statement:      %d lines in %d currencies; opening + net = closing in each\n", s.Statement.Lines, len(s.Statement.Currencies))
	m.printf("  Reconciliation: %s reconciled (report reconcile exited 0)\n", s.Reconcile.Month)
	currencies := map[string]bool{}
	for _, p := range s.Payouts.Paid {
		currencies[p.Currency] = true
	}
	m.printf("  Payouts:        batch %s %s: %d rows in %d currencies, imported by %s, approved by %s; each row paid once and booked once\n",
		s.Payouts.Batch, s.Payouts.State, s.Payouts.RowsPaid, len(currencies), s.Payouts.ImportedBy, strings.Join(s.Payouts.ApprovedBy, ", "))
	m.printf("  Ledger:         verify passed %d checks; assets equal GET /balance/ in %d currencies after the payouts\n", s.Verify.Checks, len(s.Balances))
	m.printf("  Files in %s:\n", d.dir)
	tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
	for _, f := range d.files {
		name, err := filepath.Rel(d.dir, f.Path)
		if err != nil {
			name = f.Path
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", name, humanSize(f.Size), f.What)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	m.printf("Done in %s. The throwaway database and the sandbox are removed on exit; the files stay.\n", time.Since(d.start).Round(100*time.Millisecond))
	return nil
}

// humanSize writes a file size for people: 512 B, 12.4 KiB, 1.3 MiB (rounded down).
func humanSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		t := n * 10 >> 10
		return fmt.Sprintf("%d.%d KiB", t/10, t%10)
	default:
		t := n * 10 >> 20
		return fmt.Sprintf("%d.%d MiB", t/10, t%10)
	}
}

// writeFileAtomic puts data at path through a temporary file beside it, so that path is never
// half written.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return errors.Join(fmt.Errorf("demo: writing %s: %w", path, err), tmp.Close(), os.Remove(tmp.Name()))
	}
	if err := tmp.Chmod(0o644); err != nil {
		return errors.Join(fmt.Errorf("demo: writing %s: %w", path, err), tmp.Close(), os.Remove(tmp.Name()))
	}
	if err := tmp.Close(); err != nil {
		return errors.Join(fmt.Errorf("demo: writing %s: %w", path, err), os.Remove(tmp.Name()))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errors.Join(fmt.Errorf("demo: writing %s: %w", path, err), os.Remove(tmp.Name()))
	}
	return nil
}
