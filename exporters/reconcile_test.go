package exporters_test

import (
	"encoding/csv"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/exporters"
)

func reconDec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// sampleReconciliation is a small report with values that a careless writer would round,
// and text that a careless writer would leave live.
func sampleReconciliation() *exporters.Reconciliation {
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	return &exporters.Reconciliation{
		Month: "2026-10", From: from, To: from.AddDate(0, 1, 0), GeneratedAt: from.AddDate(0, 1, 2),
		Currencies: []exporters.ReconciliationCurrency{
			{Currency: "USDTBEP20", Decimals: 18, Opening: reconDec("106545.100333876227315211"),
				InvoiceReceipts: reconDec("12.5"), InvoiceCount: 2, NetworkFees: reconDec("0.000000000000000001"),
				Closing: reconDec("106557.600333876227315210"), LedgerBalance: reconDec("1"),
				APIBalance: decimal.NullDecimal{Decimal: reconDec("1"), Valid: true}},
			{Currency: "USDTTRC20", Decimals: 6, Opening: reconDec("10"), WalletReceipts: reconDec("2.5"), WalletCount: 1,
				Closing: reconDec("12.5"), LedgerBalance: reconDec("12.5")},
		},
		Days: []exporters.ReconciliationDay{
			{Day: from, Currency: "USDTTRC20", WalletCount: 1, WalletGross: reconDec("2.5"), APIPaidCount: 1, APIGross: reconDec("2.5"),
				ReceiptsUSD: decimal.NullDecimal{Decimal: reconDec("2.4999999"), Valid: true}, ServiceFees: reconDec("0.0000001")},
			{Day: from.AddDate(0, 0, 3), Currency: "USDTBEP20", InvoiceCount: 2, InvoiceGross: reconDec("12.5"),
				NetworkFees: reconDec("0.000000000000000001"), PayoutCount: 1, Payouts: reconDec("3")},
		},
		Checks: []exporters.ReconciliationCheck{
			{Name: exporters.CheckCompleteness, Rule: "all of it", Status: exporters.CheckFailed, Summary: "2 found", Total: 5,
				Exceptions: []exporters.ReconciliationException{
					{Kind: "missing", Currency: "USDTTRC20", Source: "wallet", ID: "-1", At: from.Add(90*time.Minute + 123456*time.Microsecond),
						API: decimal.NullDecimal{Decimal: reconDec("12.5"), Valid: true}, Detail: "@detail",
						TxHash: "+0xhash", Label: `=HYPERLINK("http://x","y")`},
					{Kind: "balance differs", Currency: "=cmd|' /C calc'!A0", Field: "balance",
						Ledger: decimal.NullDecimal{Decimal: reconDec("1.1234567890123456789"), Valid: true},
						API:    decimal.NullDecimal{Decimal: reconDec("1"), Valid: true}},
				}},
			{Name: exporters.CheckPayouts, Rule: "none unknown", Status: exporters.CheckNotApplicable, Summary: "not applicable: no payout batches"},
		},
	}
}

// reconSerialTime reads a spreadsheet serial date-time the way a spreadsheet does (as a
// float64), to the microsecond, with exact arithmetic.
func reconSerialTime(raw string) (time.Time, bool) {
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f <= 0 {
		return time.Time{}, false
	}
	x := new(big.Float).SetPrec(200).SetFloat64(f)
	x.Mul(x, big.NewFloat(86_400_000_000)).Add(x, big.NewFloat(0.5)) // Int truncates: this rounds
	micros, _ := x.Int(nil)
	return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).Add(time.Duration(micros.Int64()) * time.Microsecond), true
}

func TestWriteReconciliationXLSX(t *testing.T) {
	t.Parallel()
	r := sampleReconciliation()
	path := filepath.Join(t.TempDir(), "r.xlsx")
	if err := exporters.WriteReconciliation(path, exporters.ReconciliationXLSX, r); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{"Summary", "Receipts", "Fees", "Payouts", "Exceptions"}) {
		t.Fatalf("sheets %v", got)
	}
	raw := func(sheet string) [][]string {
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	cellType := func(sheet, cell string) excelize.CellType {
		ct, err := f.GetCellType(sheet, cell)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}

	t.Run("ExactAmounts", func(t *testing.T) {
		rows := raw("Summary")
		if !strings.Contains(rows[1][0], "NOT RECONCILED: failed completeness") {
			t.Errorf("result line %q", rows[1][0])
		}
		// Row 6 is the movements table's first currency (3 lines, a blank row, the title,
		// the header).
		if rows[5][0] != "Currency" || rows[6][0] != "USDTBEP20" {
			t.Fatalf("movements table: %v / %v", rows[5], rows[6])
		}
		// 24 significant digits: text, to the last digit.
		if rows[6][1] != "106545.100333876227315211" || cellType("Summary", "B7") == excelize.CellTypeNumber {
			t.Errorf("opening %q (%v)", rows[6][1], cellType("Summary", "B7"))
		}
		// A few digits: a number cell, exactly.
		if rows[6][2] != "12.5" || cellType("Summary", "C7") == excelize.CellTypeInlineString {
			t.Errorf("invoice receipts %q (%v)", rows[6][2], cellType("Summary", "C7"))
		}
		// One significant digit far out: still a number, still exact.
		if rows[6][6] != "0.000000000000000001" {
			t.Errorf("network fees %q", rows[6][6])
		}
		// The number format shows the currency's 18 decimals.
		styleID, err := f.GetCellStyle("Summary", "C7")
		if err != nil {
			t.Fatal(err)
		}
		style, err := f.GetStyle(styleID)
		if err != nil {
			t.Fatal(err)
		}
		if style.CustomNumFmt == nil || *style.CustomNumFmt != "#,##0."+strings.Repeat("0", 18) {
			t.Errorf("number format %v", style.CustomNumFmt)
		}
	})
	t.Run("DaysAreDates", func(t *testing.T) {
		rows := raw("Receipts")
		if len(rows) != 3 || rows[0][0] != "Date" {
			t.Fatalf("receipts %v", rows)
		}
		d, err := decimal.NewFromString(rows[1][0])
		if err != nil {
			t.Fatalf("day cell %q: %v", rows[1][0], err)
		}
		day, err := excelize.ExcelDateToTime(d.InexactFloat64(), false)
		if err != nil || !day.Equal(r.From) {
			t.Errorf("day %v (%v)", day, err)
		}
		if rows[1][7] != "2.4999999" {
			t.Errorf("USD value %q", rows[1][7])
		}
	})
	t.Run("UserTextIsInert", func(t *testing.T) {
		rows := raw("Exceptions")
		if len(rows) != 4 {
			t.Fatalf("exceptions %v", rows)
		}
		// Column 6, the time, is a date cell (TimesAreDates).
		want := []string{"completeness", "missing", "USDTTRC20", "wallet", "'-1", "", "", "", "12.5", "",
			"'@detail", "'+0xhash", `'=HYPERLINK("http://x","y")`}
		if got := slices.Delete(slices.Clone(rows[1]), 5, 6); !slices.Equal(got, want) {
			t.Errorf("exception row\n got %q\nwant %q", got, want)
		}
		if rows[2][2] != "'=cmd|' /C calc'!A0" {
			t.Errorf("currency %q", rows[2][2])
		}
		if rows[2][8] != "1.1234567890123456789" || rows[2][10] != "0.1234567890123456789" {
			t.Errorf("long amounts %q %q", rows[2][8], rows[2][10])
		}
		if !strings.Contains(rows[3][11], "3 more exceptions") {
			t.Errorf("the unlisted rest: %q", rows[3])
		}
		for _, row := range rows {
			for _, cell := range row {
				if strings.HasPrefix(cell, "=") || strings.HasPrefix(cell, "+") || strings.HasPrefix(cell, "@") {
					t.Errorf("live cell %q", cell)
				}
			}
		}
	})
	t.Run("TimesAreDates", func(t *testing.T) {
		// The exception's time is a date cell, as on the statement: a serial day number
		// shown as a date and time, exact to the microsecond.
		rows := raw("Exceptions")
		if len(rows) < 2 || len(rows[1]) < 7 || rows[0][5] != "Time" {
			t.Fatalf("exceptions %q", rows)
		}
		if ct := cellType("Exceptions", "F2"); ct != excelize.CellTypeUnset && ct != excelize.CellTypeNumber {
			t.Errorf("F2 %q is a cell of type %v, not a number", rows[1][5], ct)
		}
		want := r.Checks[0].Exceptions[0].At
		if got, ok := reconSerialTime(rows[1][5]); !ok || !got.Equal(want) {
			t.Errorf("F2 %q is %v, want %v", rows[1][5], got, want)
		}
		if style := cellStyle(t, f, "Exceptions", "F2"); style.CustomNumFmt == nil || *style.CustomNumFmt != "yyyy-mm-dd hh:mm:ss" {
			t.Errorf("F2 number format %v, want yyyy-mm-dd hh:mm:ss", style.CustomNumFmt)
		}
		if rows[1][6] != "" { // no booked time: empty, not a date of 1899
			t.Errorf("G2 %q, want empty", rows[1][6])
		}
	})
	t.Run("FrozenHeaderAndFilters", func(t *testing.T) {
		// Every sheet of one table: its header frozen, its rows a table with filters.
		for sheet, rows := range map[string]int{"Receipts": 3, "Fees": 3, "Payouts": 2, "Exceptions": 4} {
			panes, err := f.GetPanes(sheet)
			if err != nil || !panes.Freeze || panes.YSplit != 1 {
				t.Errorf("%s: panes %+v, %v", sheet, panes, err)
			}
			tables, err := f.GetTables(sheet)
			if err != nil || len(tables) != 1 || !strings.HasPrefix(tables[0].Range, "A1:") || !strings.HasSuffix(tables[0].Range, itoa(rows)) {
				t.Errorf("%s: tables %+v, %v; want one over rows 1 to %d", sheet, tables, err, rows)
			}
		}
	})
	t.Run("NotApplicableSaysSo", func(t *testing.T) {
		found := false
		for _, row := range raw("Summary") {
			if len(row) > 2 && row[0] == exporters.CheckPayouts {
				found = row[2] == "not applicable"
			}
		}
		if !found {
			t.Error("the payouts check is not shown as not applicable")
		}
	})
}

func TestWriteReconciliationCSV(t *testing.T) {
	t.Parallel()
	r := sampleReconciliation()
	dir := filepath.Join(t.TempDir(), "out")
	if err := exporters.WriteReconciliation(dir, exporters.ReconciliationCSV, r); err != nil {
		t.Fatal(err)
	}
	read := func(name string) [][]string {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		// RFC 4180: every record ends with CRLF (the sample's text holds no line break).
		if n := strings.Count(string(raw), "\n"); n == 0 || n != strings.Count(string(raw), "\r\n") || !strings.HasSuffix(string(raw), "\r\n") {
			t.Errorf("%s: %d line ends, %d of them CRLF", name, n, strings.Count(string(raw), "\r\n"))
		}
		cr := csv.NewReader(strings.NewReader(string(raw)))
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	// The blank line between the blocks is no record for a CSV reader: the header is the
	// fifth record.
	summary := read("summary.csv")
	if summary[4][0] != "Currency" || summary[5][0] != "USDTBEP20" || summary[6][0] != "USDTTRC20" {
		t.Fatalf("summary %v", summary[:7])
	}
	// Exact, at least the currency's decimals, never rounded to them.
	if summary[5][1] != "106545.100333876227315211" || summary[5][2] != "12.500000000000000000" || summary[6][4] != "2.500000" {
		t.Errorf("amounts %q %q %q", summary[5][1], summary[5][2], summary[6][4])
	}
	receipts := read("receipts.csv")
	if receipts[1][0] != "2026-10-01" || receipts[1][7] != "2.4999999" {
		t.Errorf("receipts %v", receipts[1])
	}
	fees := read("fees.csv")
	if fees[1][3] != "0.0000001" {
		t.Errorf("a fee below the currency's precision: %q", fees[1][3])
	}
	exc := read("exceptions.csv")
	if exc[1][4] != "'-1" || exc[1][5] != "2026-10-01T01:30:00.123456Z" || exc[1][13] != `'=HYPERLINK("http://x","y")` || exc[2][2] != "'=cmd|' /C calc'!A0" {
		t.Errorf("exceptions %q / %q", exc[1], exc[2])
	}

	t.Run("ReplacesAPreviousReport", func(t *testing.T) {
		r2 := sampleReconciliation()
		r2.Month = "2026-11"
		if err := exporters.WriteReconciliation(dir, exporters.ReconciliationCSV, r2); err != nil {
			t.Fatal(err)
		}
		if got := read("summary.csv")[0][0]; !strings.Contains(got, "2026-11") {
			t.Errorf("summary not replaced: %q", got)
		}
		leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(dir), ".out.tmp-*"))
		if err != nil || len(leftovers) != 0 {
			t.Errorf("left behind: %v %v", leftovers, err)
		}
	})
}

func TestWriteReconciliationRefusesOtherFiles(t *testing.T) {
	t.Parallel()
	r := sampleReconciliation()
	dir := t.TempDir()
	precious := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exporters.WriteReconciliation(dir, exporters.ReconciliationCSV, r); !errors.Is(err, exporters.ErrReconciliationOut) {
		t.Errorf("csv into a folder of other files: %v", err)
	}
	if err := exporters.WriteReconciliation(dir, exporters.ReconciliationXLSX, r); !errors.Is(err, exporters.ErrReconciliationOut) {
		t.Errorf("xlsx onto a folder: %v", err)
	}
	if err := exporters.WriteReconciliation(precious, exporters.ReconciliationCSV, r); !errors.Is(err, exporters.ErrReconciliationOut) {
		t.Errorf("csv onto a file: %v", err)
	}
	if err := exporters.WriteReconciliation(filepath.Join(dir, "x"), "pdf", r); !errors.Is(err, exporters.ErrReconciliationOut) {
		t.Errorf("format pdf: %v", err)
	}
	if b, err := os.ReadFile(precious); err != nil || string(b) != "keep me" {
		t.Errorf("the other file: %q %v", b, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("the folder holds %v (%v)", entries, err)
	}
	// An xlsx written over an existing one replaces it.
	path := filepath.Join(dir, "r.xlsx")
	for range 2 {
		if err := exporters.WriteReconciliation(path, exporters.ReconciliationXLSX, r); err != nil {
			t.Fatal(err)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 2 {
		t.Errorf("after two xlsx: %v (%v)", entries, err)
	}
}

// TestReconciliationXLSXLibreOffice opens the reconciliation workbook with LibreOffice
// (headless), which gives up on a file it would have to repair, and checks what it read on
// every sheet: the amounts exactly at the currency's precision (the long ones as text), the
// days and the exceptions' times as dates, and text that a user or the API controls inert.
func TestReconciliationXLSXLibreOffice(t *testing.T) {
	t.Parallel()
	r := sampleReconciliation()
	hostile := []string{`=HYPERLINK("http://x","y")`, "+1+1", "@SUM(A1)", "-2", "\t=1+1", "\r=1+1"}
	r.Checks[0].Exceptions = append(r.Checks[0].Exceptions, exporters.ReconciliationException{
		Kind: "changed", Currency: "USDTTRC20", Source: hostile[4], ID: hostile[3], Field: "gross",
		Detail: hostile[1], TxHash: hostile[5], Label: hostile[2],
	})
	path := filepath.Join(t.TempDir(), "recon.xlsx")
	if err := exporters.WriteReconciliation(path, exporters.ReconciliationXLSX, r); err != nil {
		t.Fatal(err)
	}
	sheet := libreOfficeSheets(t, path)
	sheets := map[string][][]string{}
	for _, name := range []string{"Summary", "Receipts", "Fees", "Payouts", "Exceptions"} {
		sheets[name] = sheet(name)
	}

	summary := sheets["Summary"]
	if len(summary) < 8 || summary[5][0] != "Currency" || summary[6][0] != "USDTBEP20" || summary[7][0] != "USDTTRC20" {
		t.Fatalf("LibreOffice read the summary as %q", summary)
	}
	for _, c := range []struct {
		row, col int
		want     string
	}{
		{6, 1, "106545.100333876227315211"},  // 24 digits: text, exact
		{6, 2, "12.500000000000000000"},      // a number at the currency's 18 decimals
		{6, 6, "0.000000000000000001"},       // one digit, far out
		{6, 13, "106557.600333876227315210"}, // text, still at the currency's 18 decimals
		{7, 1, "10.000000"},
		{7, 4, "2.500000"},
	} {
		if got := summary[c.row][c.col]; got != c.want {
			t.Errorf("Summary row %d column %d: LibreOffice read %q, want %q", c.row+1, c.col+1, got, c.want)
		}
	}
	if receipts := sheets["Receipts"]; len(receipts) != 3 || receipts[1][0] != "2026-10-01" || receipts[1][7] != "2.50" ||
		receipts[2][3] != "12.500000000000000000" {
		t.Errorf("LibreOffice read the receipts as %q", receipts)
	}
	if payouts := sheets["Payouts"]; len(payouts) != 2 || payouts[1][0] != "2026-10-04" || payouts[1][3] != "3.000000000000000000" {
		t.Errorf("LibreOffice read the payouts as %q", payouts)
	}

	exceptions := sheets["Exceptions"]
	if len(exceptions) != 5 {
		t.Fatalf("LibreOffice read the exceptions as %q", exceptions)
	}
	// The exception's time is a date cell, shown in the date-time format; as text it would
	// read 2026-10-01T01:30:00.123456Z.
	if got := exceptions[1][5]; got != "2026-10-01 01:30:00" {
		t.Errorf("LibreOffice read the exception's time as %q, want the date cell 2026-10-01 01:30:00", got)
	}
	if got := exceptions[1][13]; got != "'"+hostile[0] {
		t.Errorf("label %q", got)
	}
	if got := exceptions[2][8]; got != "1.1234567890123456789" {
		t.Errorf("a 20-digit amount %q", got)
	}
	got := map[string]bool{}
	for _, row := range exceptions {
		for _, cell := range row {
			got[cell] = true
		}
	}
	for _, h := range hostile {
		if !got["'"+h] {
			t.Errorf("%q is not in the Exceptions sheet as '%s", h, h)
		}
	}
	for name, rows := range sheets {
		for i, row := range rows {
			for j, cell := range row {
				if cell == "" || !strings.ContainsAny(cell[:1], "=+-@\t\r") {
					continue
				}
				if _, err := decimal.NewFromString(cell); err == nil && cell[0] == '-' {
					continue // a negative number
				}
				t.Errorf("%s row %d column %d: %q starts a formula", name, i+1, j+1, cell)
			}
		}
	}
}
