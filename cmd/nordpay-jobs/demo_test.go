package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// checkDemoFiles checks what a demo run left in dir against its summary (demo-summary.json)
// and what it printed (out): every file there, non-empty and listed; the workbooks open;
// the statement CSV adds up; the payouts were paid once and booked once; verify passed; the
// month reconciled; the balances after the payouts are the month's receipts less them.
func checkDemoFiles(t *testing.T, dir, out string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, demoSummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var sum demoSummary
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatalf("%s: %v", demoSummaryFile, err)
	}
	if sum.Out != dir || sum.Month == "" {
		t.Errorf("summary: out %q month %q, want out %q", sum.Out, sum.Month, dir)
	}

	// The files: each listed one exists with its size, and every expected one is listed
	// and printed; no temporary file is left behind.
	month := sum.Month
	want := []string{"statement-" + month + ".csv", "statement-" + month + ".xlsx", "statement-" + month + ".journal",
		"statement-" + month + ".beancount", "reconcile-" + month + ".xlsx", "payouts-sample.xlsx", "payouts-sample-checked.xlsx"}
	listed := map[string]bool{}
	for _, f := range sum.Files {
		fi, err := os.Stat(f.Path)
		switch {
		case err != nil:
			t.Errorf("listed file: %v", err)
		case fi.Size() == 0 || fi.Size() != f.Size:
			t.Errorf("%s: %d bytes, listed as %d", f.Path, fi.Size(), f.Size)
		case filepath.Dir(f.Path) != dir || f.What == "":
			t.Errorf("listed file %+v is not in %s or says nothing", f, dir)
		}
		listed[filepath.Base(f.Path)] = true
	}
	for _, name := range append(want, demoSummaryFile) {
		if name != demoSummaryFile && !listed[name] {
			t.Errorf("%s is not in the summary's files", name)
		}
		if !strings.Contains(out, "\n    "+name+" ") {
			t.Errorf("the printed summary does not list %s", name)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	checkDemoStatementCSV(t, filepath.Join(dir, "statement-"+month+".csv"), sum)

	// The workbooks open with excelize and hold the sheets they should.
	sheets := func(name string) []string {
		t.Helper()
		f, err := excelize.OpenFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return nil
		}
		defer f.Close()
		return f.GetSheetList()
	}
	stmtSheets := []string{"Summary"}
	for _, c := range sum.Statement.Currencies {
		stmtSheets = append(stmtSheets, c.Currency)
	}
	if got := sheets("statement-" + month + ".xlsx"); !slices.Equal(got, stmtSheets) {
		t.Errorf("statement workbook sheets %v, want %v", got, stmtSheets)
	}
	for _, s := range []string{"Summary", "Receipts", "Fees", "Payouts", "Exceptions"} {
		if got := sheets("reconcile-" + month + ".xlsx"); !slices.Contains(got, s) {
			t.Errorf("reconciliation workbook sheets %v lack %s", got, s)
		}
	}
	if f, err := excelize.OpenFile(filepath.Join(dir, "payouts-sample.xlsx")); err != nil {
		t.Errorf("payouts-sample.xlsx: %v", err)
	} else {
		rows, err := f.GetRows(f.GetSheetName(0))
		if err != nil || len(rows) != 1+len(demoPayoutRows) {
			t.Errorf("payouts-sample.xlsx: %d rows (%v), want a header and %d", len(rows), err, len(demoPayoutRows))
		}
		f.Close()
	}

	// The payouts: every row paid once by the sandbox and booked once in the ledger.
	p := sum.Payouts
	if p.State != "paid" || p.Rows != len(demoPayoutRows) || p.RowsPaid != p.Rows || len(p.Paid) != p.Rows {
		t.Errorf("payouts: %+v", p)
	}
	if len(p.ApprovedBy) == 0 || slices.Contains(p.ApprovedBy, p.ImportedBy) {
		t.Errorf("payouts imported by %s, approved by %v", p.ImportedBy, p.ApprovedBy)
	}
	refs := map[string]bool{}
	paidOut := map[string]decimal.Decimal{}
	for _, r := range p.Paid {
		if r.SandboxPayments != 1 || r.LedgerEntries != 1 || refs[r.Reference] || r.WithdrawalID == 0 || r.Identifier == "" {
			t.Errorf("payout row %+v: want paid once, booked once, one row per reference", r)
		}
		refs[r.Reference] = true
		paidOut[r.Currency] = paidOut[r.Currency].Add(decimal.RequireFromString(r.Amount))
	}

	// The ledger: verified, and what Nord PAY holds after the payouts (which the ledger's
	// assets equal) is the opening balance plus the month's receipts less the payouts.
	if !sum.Verify.Passed || sum.Verify.Checks == 0 {
		t.Errorf("verify: %+v", sum.Verify)
	}
	if !sum.Reconcile.Reconciled || sum.Reconcile.Month != month {
		t.Errorf("reconcile: %+v", sum.Reconcile)
	}
	if len(sum.Booked) == 0 || len(sum.Balances) == 0 {
		t.Fatalf("nothing booked (%+v) or no balances (%v)", sum.Booked, sum.Balances)
	}
	// The opening balances: the sandbox's starting balances, booked by the printed step.
	if len(sum.Openings) == 0 || !strings.Contains(out, "$ nordpay-jobs ledger opening-balances --at ") ||
		!strings.Contains(out, fmt.Sprintf("booked %d opening balance(s)", len(sum.Openings))) {
		t.Errorf("opening balances %v; the step is not printed as it should be", sum.Openings)
	}
	for _, b := range sum.Booked {
		opening := decimal.Zero
		if o, ok := sum.Openings[b.Currency]; ok {
			opening = decimal.RequireFromString(o)
		}
		want := opening.Add(decimal.RequireFromString(b.Net)).Sub(paidOut[b.Currency])
		if got, ok := sum.Balances[b.Currency]; !ok || !decimal.RequireFromString(got).Equal(want) {
			t.Errorf("%s: balance after the payouts %s, want %s (opening balance %s + booked net %s less payouts %s)",
				b.Currency, got, want, opening, b.Net, paidOut[b.Currency])
		}
	}
}

// checkDemoStatementCSV reads the demo's statement CSV and checks that it adds up: per line,
// gross - fees = net and the running balance; per currency, the total row sums the lines,
// opening + net = closing, and the figures agree with what the sync booked.
func checkDemoStatementCSV(t *testing.T, path string, sum demoSummary) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil || len(records) < 2 {
		t.Fatalf("%s: %d records, %v", path, len(records), err)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[h] = i
	}
	for _, h := range []string{"Row", "Currency", "Kind", "Gross", "Network fee", "Service fee", "Net", "Balance"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("%s: no %q column in %v", path, h, records[0])
		}
	}
	type section struct {
		opening, gross, network, service, net, balance decimal.Decimal
		lines                                          int64
		rows                                           string // the summary rows seen, in order
		// The lines of the opening balance entry (kind "opening"), apart from the
		// transactions the sync booked.
		openingLines               int64
		openingNet, txNet, txGross decimal.Decimal
	}
	sections := map[string]*section{}
	var order []string
	for n, rec := range records[1:] {
		line := n + 2 // the record's number, the header being 1
		cur := rec[col["Currency"]]
		s := sections[cur]
		if s == nil {
			s = &section{}
			sections[cur] = s
			order = append(order, cur)
		}
		dec := func(name string) decimal.Decimal {
			d, err := decimal.NewFromString(rec[col[name]])
			if err != nil {
				t.Fatalf("%s record %d: %s %q: %v", path, line, name, rec[col[name]], err)
			}
			return d
		}
		switch kind := rec[col["Row"]]; kind {
		case "opening":
			s.opening, s.balance = dec("Balance"), dec("Balance")
			s.rows += "o"
		case "line":
			gross, network, service, net := dec("Gross"), dec("Network fee"), dec("Service fee"), dec("Net")
			if !gross.Sub(network).Sub(service).Equal(net) {
				t.Errorf("%s record %d: gross %s - fees %s, %s != net %s", path, line, gross, network, service, net)
			}
			s.gross, s.network, s.service, s.net = s.gross.Add(gross), s.network.Add(network), s.service.Add(service), s.net.Add(net)
			s.balance = s.balance.Add(net)
			if balance := dec("Balance"); !s.balance.Equal(balance) {
				t.Errorf("%s record %d: balance %s, the lines add up to %s", path, line, balance, s.balance)
				s.balance = balance // one error per wrong line, not one per line after it
			}
			s.lines++
			if rec[col["Kind"]] == "opening" {
				s.openingLines++
				s.openingNet = s.openingNet.Add(net)
			} else {
				s.txNet, s.txGross = s.txNet.Add(net), s.txGross.Add(gross)
			}
		case "total":
			for _, c := range []struct {
				name string
				sum  decimal.Decimal
			}{{"Gross", s.gross}, {"Network fee", s.network}, {"Service fee", s.service}, {"Net", s.net}} {
				if !dec(c.name).Equal(c.sum) {
					t.Errorf("%s %s total %s, the lines add up to %s", cur, c.name, rec[col[c.name]], c.sum)
				}
			}
			s.rows += "t"
		case "closing":
			if closing := dec("Balance"); !s.opening.Add(s.net).Equal(closing) || !s.balance.Equal(closing) {
				t.Errorf("%s: opening %s + net %s != closing %s", cur, s.opening, s.net, closing)
			}
			s.rows += "c"
		default:
			t.Fatalf("%s record %d: row kind %q", path, line, kind)
		}
	}
	var lines int64
	for _, cur := range order {
		if sections[cur].rows != "otc" {
			t.Errorf("%s: summary rows %q, want opening, total, closing", cur, sections[cur].rows)
		}
		lines += sections[cur].lines
	}
	if lines != sum.Statement.Lines || len(order) != len(sum.Statement.Currencies) {
		t.Errorf("%s: %d lines in %d currencies, export statement said %d in %d", path, lines, len(order), sum.Statement.Lines, len(sum.Statement.Currencies))
	}
	for _, b := range sum.Booked {
		s := sections[b.Currency]
		if s == nil || s.lines-s.openingLines != b.Transactions || !s.txNet.Equal(decimal.RequireFromString(b.Net)) || !s.txGross.Equal(decimal.RequireFromString(b.Gross)) {
			t.Errorf("%s: the statement does not show what the sync booked (%+v)", b.Currency, b)
		}
	}
	for cur, o := range sum.Openings {
		s := sections[cur]
		if s == nil || s.openingLines != 1 || !s.openingNet.Equal(decimal.RequireFromString(o)) {
			t.Errorf("%s: the statement does not show the opening balance %s as one line", cur, o)
		}
	}
}
