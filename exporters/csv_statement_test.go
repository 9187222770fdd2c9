package exporters_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/templates"
)

// readCSV parses a CSV file strictly (RFC 4180 quoting, same number of fields on every
// row) into its header and rows.
func readCSV(t *testing.T, path string) ([]string, []stmtRow) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(data) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		t.Fatalf("%s is not UTF-8 without a byte order mark", path)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Fatalf("%s: lines do not end with CRLF", path)
	}
	r := csv.NewReader(bytes.NewReader(data))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s is empty", path)
	}
	var rows []stmtRow
	for _, rec := range recs[1:] {
		row := stmtRow{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return recs[0], rows
}

func parseRFC3339(t *testing.T) func(string) time.Time {
	return func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Errorf("time %q: %v", s, err)
		}
		return v
	}
}

// TestStatementCSVEqualsTheLedger parses the default CSV statement back and compares every
// line, total and balance with the ledger, to the last of 18 decimals.
func TestStatementCSVEqualsTheLedger(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	path := filepath.Join(t.TempDir(), "october.csv")
	if _, files, err := f.export(t, exporters.StatementCSV, path, exporters.StatementOptions{}); err != nil || len(files) != 1 || files[0] != path {
		t.Fatalf("files %v, err %v", files, err)
	}
	header, rows := readCSV(t, path)
	if strings.Join(header, ",") != "Row,Currency,Time (UTC),Booked at (UTC),Kind,External ID,Tx hash,Label,Address,Reference,Description,Gross,Network fee,Service fee,Net,Balance,Gross USD,Network fee USD,Service fee USD,Net USD" {
		t.Fatalf("header %v", header)
	}
	byCurrency := map[string][]stmtRow{}
	var order []string
	for _, r := range rows {
		c := r["Currency"]
		if len(byCurrency[c]) == 0 {
			order = append(order, c)
		}
		byCurrency[c] = append(byCurrency[c], r)
	}
	if strings.Join(order, ",") != "ETH,USDTBEP20,XYZ" {
		t.Fatalf("currency sections %v", order)
	}
	for cur, places := range map[string]int{"USDTBEP20": 6, "ETH": 18, "XYZ": 5} {
		rs := byCurrency[cur]
		if rs[0]["Row"] != "opening" || rs[len(rs)-2]["Row"] != "total" || rs[len(rs)-1]["Row"] != "closing" {
			t.Errorf("%s: the section is not opening, lines, total, closing", cur)
		}
		opening, total, closing, lines := groupRows(t, rs)
		f.checkStatement(t, cur, places, opening, total, closing, lines, parseRFC3339(t))
	}
	// Spot checks of the text itself: padded, never rounded, full 18 decimals.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		",250.500000,0.500000,2.505000,247.495000,",       // padded to USDTBEP20's 6 decimals
		",1.12345678,0.00000001,0.010000,1.11345677,",     // more decimals than 6: all kept
		",12345.123456789012345678,0.000000000000000001,", // ETH, 18 decimals
		`,"correction, ""quoted""` + "\nsecond line\",",   // RFC 4180 quoting; the line break kept as it is
		",2026-10-02T10:11:12.345678Z,",
	} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the CSV lacks %q", want)
		}
	}
}

// TestStatementCSVInjection checks that labels a spreadsheet would run come out inert.
func TestStatementCSVInjection(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	path := filepath.Join(t.TempDir(), "out.csv")
	if _, _, err := f.export(t, exporters.StatementCSV, path, exporters.StatementOptions{Currency: "USDTBEP20"}); err != nil {
		t.Fatal(err)
	}
	_, rows := readCSV(t, path)
	seen := map[string]bool{}
	for _, r := range rows {
		for _, h := range []string{"Label", "Reference", "Description", "Address", "External ID", "Tx hash"} {
			v := r[h]
			if v == "" {
				continue
			}
			if strings.ContainsAny(v[:1], "=+-@\t\r") {
				t.Errorf("%s %q starts with a formula trigger", h, v)
			}
			seen[v] = true
		}
	}
	for _, label := range stmtInjections {
		if !seen["'"+label] {
			t.Errorf("the label %q is not in the statement as '%s", label, label)
		}
	}
}

// TestStatementXeroSplits checks the xero template: USD amounts, dd/mm/yyyy dates, and
// files of at most 1,000 lines (header included), numbered, covering every line in order.
func TestStatementXeroSplits(t *testing.T) {
	t.Parallel()
	f := stmtBulk(t, 2500)
	xero, err := templates.Load("xero", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, files, err := f.export(t, exporters.StatementCSV, filepath.Join(dir, "xero.csv"), exporters.StatementOptions{Template: xero})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"xero-001.csv", "xero-002.csv", "xero-003.csv"}
	if len(files) != len(want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	wants := f.stmtWants(t, "USDTBEP20")
	if res.Lines != int64(len(wants)) || len(wants) != 2500 {
		t.Fatalf("%d lines, the ledger has %d", res.Lines, len(wants))
	}
	i := 0
	for k, path := range files {
		if filepath.Base(path) != want[k] {
			t.Fatalf("file %d is %s, want %s", k, path, want[k])
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(data, []byte("\r\n")); n > 1000 || (k < 2 && n != 1000) {
			t.Errorf("%s has %d lines; at most 1,000, and the first files full", path, n)
		}
		header, rows := readCSV(t, path)
		if strings.Join(header, ",") != "Date,Amount,Payee,Description,Reference" {
			t.Fatalf("%s: header %v", path, header)
		}
		for _, r := range rows {
			w := wants[i]
			if r["Date"] != w.at.Format("02/01/2006") || r["Reference"] != w.externalID || r["Payee"] != w.label ||
				r["Description"] != w.description {
				t.Fatalf("%s line %d: %v, want %+v", path, i, r, w)
			}
			checkAmount(t, path+" Amount", r["Amount"], w.usd[3].Decimal, 2)
			i++
		}
	}
	if i != len(wants) {
		t.Fatalf("the files hold %d lines, want %d", i, len(wants))
	}
}

// TestStatementXeroNeedsUSD checks that a line without a USD value stops a Xero statement,
// naming the template's file, the column and the entry.
func TestStatementXeroNeedsUSD(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	xero, err := templates.Load("xero", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, _, err = f.export(t, exporters.StatementCSV, filepath.Join(dir, "x.csv"), exporters.StatementOptions{Template: xero, Currency: "USDTBEP20"})
	if err == nil || !strings.Contains(err.Error(), `template xero (embedded xero.yaml): column "Amount" (net_usd) is required`) ||
		!strings.Contains(err.Error(), "withdrawal/batch-1/row-7") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v behind", entries)
	}
}

// TestStatementQuickBooks checks the quickbooks template: one file per currency, credit for
// money in and debit for money out, both positive, mm/dd/yyyy.
func TestStatementQuickBooks(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	qb, err := templates.Load("quickbooks", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, files, err := f.export(t, exporters.StatementCSV, filepath.Join(dir, "qb.csv"), exporters.StatementOptions{Template: qb})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range files {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "qb-ETH.csv qb-USDTBEP20.csv qb-XYZ.csv" {
		t.Fatalf("files %v", names)
	}
	header, rows := readCSV(t, filepath.Join(dir, "qb-USDTBEP20.csv"))
	if strings.Join(header, ",") != "Date,Description,Credit,Debit" {
		t.Fatalf("header %v", header)
	}
	wants := f.stmtWants(t, "USDTBEP20")
	if len(rows) != len(wants) {
		t.Fatalf("%d rows, want %d", len(rows), len(wants))
	}
	for i, w := range wants {
		r := rows[i]
		if r["Date"] != w.at.Format("01/02/2006") || r["Description"] != exporters.Neutralise(w.description) {
			t.Errorf("row %d: %v", i, r)
		}
		switch w.net.Sign() {
		case 1:
			checkAmount(t, "credit", r["Credit"], w.net, 6)
			if r["Debit"] != "" {
				t.Errorf("row %d: money in with a debit %q", i, r["Debit"])
			}
		case -1:
			checkAmount(t, "debit", r["Debit"], w.net.Neg(), 6)
			if r["Credit"] != "" {
				t.Errorf("row %d: money out with a credit %q", i, r["Credit"])
			}
		}
	}
	if rows[3]["Debit"] != "50.000000" || rows[3]["Credit"] != "" {
		t.Errorf("the withdrawal of 50 is %v", rows[3])
	}
}

// TestStatementUserTemplate checks that a template directory overrides an embedded
// template by name, and that a broken one names its file and column.
func TestStatementUserTemplate(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("default.yaml", `kind: statement
description: ours
time_format: date
columns:
  - {header: Day, field: time}
  - {header: Cur, field: currency}
  - {header: In or out, field: net}
  - {header: Who, field: payee}
`)
	tpl, err := templates.Load("default", dir)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Source != filepath.Join(dir, "default.yaml") || tpl.Description != "ours" {
		t.Fatalf("loaded %+v", tpl)
	}
	path := filepath.Join(t.TempDir(), "mine.csv")
	if _, _, err := f.export(t, exporters.StatementCSV, path, exporters.StatementOptions{Template: tpl, Currency: "ETH"}); err != nil {
		t.Fatal(err)
	}
	header, rows := readCSV(t, path)
	if strings.Join(header, ",") != "Day,Cur,In or out,Who" || len(rows) != 2 ||
		rows[0]["Day"] != "2026-10-10" || rows[0]["In or out"] != "12344.999999999999999999" || rows[1]["Who"] != "ünïcødé label" {
		t.Fatalf("header %v rows %v", header, rows)
	}
	if !stmtDec(rows[0]["In or out"]).Equal(stmtDec("12345.123456789012345678").Sub(stmtDec("0.000000000000000001")).Sub(stmtDec("0.123456789012345678"))) {
		t.Fatalf("net %s", rows[0]["In or out"])
	}

	write("broken.yaml", "kind: statement\ncolumns:\n  - {header: A, field: time}\n  - {header: B, field: net_usdd}\n")
	_, err = templates.Load("broken", dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "broken.yaml")) || !strings.Contains(err.Error(), `column 2 ("B"): unknown field "net_usdd"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestStatementCurrencyIsInert books a payment in a currency whose code, as Nord PAY's
// currency list gives it, a spreadsheet would run: the code is API text like a label, and
// comes out inert in every cell of the CSV and XLSX statements, the summary sheet included.
func TestStatementCurrencyIsInert(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	const code = "=1+1"
	e := stmtPayment("invoice", "evil-1", code, stmtFrom.Add(time.Hour), "5", "0", "0.1", "evil")
	if _, _, err := f.store.Post(f.ctx, e); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "s.csv")
	if _, _, err := f.export(t, exporters.StatementCSV, csvPath, exporters.StatementOptions{Currency: code}); err != nil {
		t.Fatal(err)
	}
	_, rows := readCSV(t, csvPath)
	if len(rows) != 4 {
		t.Fatalf("rows %v", rows)
	}
	for _, r := range rows {
		if r["Currency"] != "'"+code {
			t.Errorf("CSV %s row: currency %q, want %q", r["Row"], r["Currency"], "'"+code)
		}
	}
	xlsxPath := filepath.Join(dir, "s.xlsx")
	if _, _, err := f.export(t, exporters.StatementXLSX, xlsxPath, exporters.StatementOptions{Currency: code}); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenFile(xlsxPath, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, sheet := range x.GetSheetList() {
		all, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range all {
			for j, cell := range row {
				if strings.HasPrefix(cell, "=") {
					t.Errorf("%s row %d column %d: %q", sheet, i+1, j+1, cell)
				}
			}
		}
	}
	if v, err := x.GetCellValue("Summary", "A2"); err != nil || v != "'"+code {
		t.Errorf("Summary!A2 = %q (%v), want %q", v, err, "'"+code)
	}
}

// TestStatementTemplatesNeutralise writes the xero and quickbooks statements of entries whose
// payee, reference and description start with what a spreadsheet runs, and checks that no
// cell of any file starts a formula.
func TestStatementTemplatesNeutralise(t *testing.T) {
	t.Parallel()
	f := &stmtFixture{ctx: context.Background(), db: dbtest.New(t)}
	f.store = ledger.NewStore(f.db, ledger.DefaultChart())
	if err := f.store.SaveCurrencies(f.ctx, []nordpay.Currency{{Name: "USDTBEP20", Decimals: 6}}); err != nil {
		t.Fatal(err)
	}
	usd := func(s string) decimal.NullDecimal { return decimal.NullDecimal{Decimal: stmtDec(s), Valid: true} }
	for _, e := range []ledger.Entry{
		stmtPayment("invoice", "-7", "USDTBEP20", stmtFrom.Add(time.Hour), "10", "0", "0.1", `=HYPERLINK("http://x","y")`),
		stmtPayment("wallet", "+8", "USDTBEP20", stmtFrom.Add(2*time.Hour), "20", "0", "0.2", "@SUM(A1)"),
		{Source: ledger.SourceManual, ExternalID: "\r=1", OccurredAt: stmtFrom.Add(3 * time.Hour), Description: "\t=1+1", Label: "-2",
			Postings: []ledger.Posting{
				{Account: "assets:nordpay:USDTBEP20", Type: ledger.Asset, Currency: "USDTBEP20", Amount: stmtDec("-5"), AmountUSD: usd("-5")},
				{Account: "equity:adjustments:USDTBEP20", Type: ledger.Equity, Currency: "USDTBEP20", Amount: stmtDec("5"), AmountUSD: usd("5")},
			}},
	} {
		if _, _, err := f.store.Post(f.ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"xero", "quickbooks"} {
		tpl, err := templates.Load(name, "")
		if err != nil {
			t.Fatal(err)
		}
		_, files, err := f.export(t, exporters.StatementCSV, filepath.Join(t.TempDir(), name+".csv"), exporters.StatementOptions{Template: tpl})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, path := range files {
			_, rows := readCSV(t, path)
			for _, r := range rows {
				for h, v := range r {
					seen[v] = true
					if _, err := decimal.NewFromString(v); err == nil && v[0] == '-' {
						continue // a negative amount
					}
					if v != "" && strings.ContainsAny(v[:1], "=+-@\t\r") {
						t.Errorf("%s: %s %q starts a formula", filepath.Base(path), h, v)
					}
				}
			}
		}
		want := []string{"'\t=1+1"} // the manual entry's description
		if name == "xero" {
			want = append(want, `'=HYPERLINK("http://x","y")`, "'@SUM(A1)", "'-2", "'-7", "'+8", "'\r=1")
		}
		for _, w := range want {
			if !seen[w] {
				t.Errorf("%s: %q is not in the statement", name, w)
			}
		}
	}
}

// TestStatementUserHeadersAreInert writes statements with a template of the user's own
// whose headers a spreadsheet would run: they come out neutralised in the CSV header row,
// in the XLSX header cells and in the names of the XLSX table's columns, which LibreOffice
// opens without a repair. Two headers that are the same once inert are refused.
func TestStatementUserHeadersAreInert(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	dir := t.TempDir()
	hostile := []string{`=HYPERLINK("http://x","y")`, "+1+1", "@SUM(A1)", "-2", "\t=1+1", "\r=1+1", " =1+1", "＝1+1"}
	tplYAML := func(headers ...string) string {
		fields := []string{"time", "currency", "net", "label", "external_id", "description", "address", "tx_hash"}
		var b strings.Builder
		b.WriteString("kind: statement\ncolumns:\n")
		for i, h := range headers {
			b.WriteString("  - {header: " + strconv.Quote(h) + ", field: " + fields[i] + "}\n")
		}
		return b.String()
	}
	if err := os.WriteFile(filepath.Join(dir, "hostile.yaml"), []byte(tplYAML(hostile...)), 0o600); err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Load("hostile", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(hostile))
	for i, h := range hostile {
		want[i] = "'" + h
	}
	out := t.TempDir()

	t.Run("CSV", func(t *testing.T) {
		path := filepath.Join(out, "s.csv")
		if _, _, err := f.export(t, exporters.StatementCSV, path, exporters.StatementOptions{Template: tpl, Currency: "ETH"}); err != nil {
			t.Fatal(err)
		}
		header, rows := readCSV(t, path)
		if !slices.Equal(header, want) || len(rows) == 0 {
			t.Errorf("header %q, want %q", header, want)
		}
	})
	t.Run("XLSX", func(t *testing.T) {
		path := filepath.Join(out, "s.xlsx")
		if _, _, err := f.export(t, exporters.StatementXLSX, path, exporters.StatementOptions{Template: tpl, Currency: "ETH"}); err != nil {
			t.Fatal(err)
		}
		x, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		rows, err := x.GetRows("ETH")
		if err != nil || len(rows) < 2 || !slices.Equal(rows[0], want) {
			t.Fatalf("ETH header %q (%v), want %q", rows, err, want)
		}
		// The table's columns are named after the header cells, and must equal them.
		tables, err := x.GetTables("ETH")
		if err != nil || len(tables) != 1 {
			t.Fatalf("tables %+v (%v)", tables, err)
		}
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		var columns []string
		for _, zf := range zr.File {
			if !strings.HasPrefix(zf.Name, "xl/tables/") {
				continue
			}
			var table struct {
				Columns []struct {
					Name string `xml:"name,attr"`
				} `xml:"tableColumns>tableColumn"`
			}
			if err := xml.Unmarshal(readZipFile(t, zf), &table); err != nil {
				t.Fatalf("%s: %v", zf.Name, err)
			}
			for _, c := range table.Columns {
				columns = append(columns, c.Name)
			}
		}
		if !slices.Equal(columns, want) {
			t.Errorf("table columns %q, want %q", columns, want)
		}
		got := libreOfficeSheets(t, path)("ETH")
		// LibreOffice writes a cell's tab and line ends as they are; the leading apostrophe
		// shows the text is inert.
		for i, h := range got[0] {
			if i < len(want) && h != want[i] {
				t.Errorf("LibreOffice read header %d as %q, want %q", i+1, h, want[i])
			}
		}
	})
	t.Run("ErrSameOnceInert", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "twins.yaml"), []byte(tplYAML("=x", "'=x")), 0o600); err != nil {
			t.Fatal(err)
		}
		twins, err := templates.Load("twins", dir)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "t.csv")
		_, _, err = f.export(t, exporters.StatementCSV, path, exporters.StatementOptions{Template: twins, Currency: "ETH"})
		if err == nil || !strings.Contains(err.Error(), `column 2 ("'=x"): the header is column 1's once made inert`) {
			t.Fatalf("err = %v", err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
			t.Errorf("left %v behind", entries)
		}
	})
}

// TestStatementReexportReplacesEarlierFiles writes a split statement, then a shorter one to
// the same place: the earlier export's files that the new one does not rewrite are removed
// once the new ones are in place (and listed by Removed), so the folder holds one export,
// never a mix a person could import twice. Files that merely look alike stay.
func TestStatementReexportReplacesEarlierFiles(t *testing.T) {
	t.Parallel()
	// export writes a statement to path and returns the base names written and removed.
	export := func(t *testing.T, f *stmtFixture, path string, opts exporters.StatementOptions) (written, removed []string) {
		t.Helper()
		if opts.From.IsZero() {
			opts.From, opts.To = stmtFrom, stmtTo
		}
		files := exporters.NewAtomicFiles(path)
		if _, err := exporters.WriteStatement(f.ctx, f.store, exporters.StatementCSV, files, opts); err != nil {
			t.Fatal(errors.Join(err, files.Abort()))
		}
		if err := files.Commit(); err != nil {
			t.Fatal(err)
		}
		base := func(paths []string) []string {
			out := []string{}
			for _, p := range paths {
				out = append(out, filepath.Base(p))
			}
			return out
		}
		return base(files.Paths()), base(files.Removed())
	}
	plant := func(t *testing.T, dir string, names ...string) {
		t.Helper()
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("mine\r\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	listDir := func(t *testing.T, dir string) []string {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}

	t.Run("Xero", func(t *testing.T) {
		t.Parallel()
		f := stmtBulk(t, 2500)
		xero, err := templates.Load("xero", "")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "xero.csv")
		written, removed := export(t, f, path, exporters.StatementOptions{Template: xero})
		if !slices.Equal(written, []string{"xero-001.csv", "xero-002.csv", "xero-003.csv"}) || len(removed) != 0 {
			t.Fatalf("first export wrote %v, removed %v", written, removed)
		}
		// Files of a person's own, or of other exports, that only look like ours; and a
		// folder, and a numbered file after a gap, which the earlier export did not write.
		mine := []string{"xero.csv", "xero-backup.csv", "xero-02.csv", "xero-0004.csv", "xero-005.csv",
			"xero-002.csv.bak", "xero-USDTBEP20.csv", "other-002.csv", ".xero-003.csv"}
		plant(t, dir, mine...)
		if err := os.Mkdir(filepath.Join(dir, "xero-004.csv"), 0o700); err != nil {
			t.Fatal(err)
		}

		// The first 500 minutes of October: 500 lines, one file.
		written, removed = export(t, f, path, exporters.StatementOptions{Template: xero, To: stmtFrom.Add(500 * time.Minute), From: stmtFrom})
		if !slices.Equal(written, []string{"xero-001.csv"}) || !slices.Equal(removed, []string{"xero-002.csv", "xero-003.csv"}) {
			t.Fatalf("second export wrote %v, removed %v; want xero-001.csv, and xero-002.csv, xero-003.csv removed", written, removed)
		}
		want := append(slices.Clone(mine), "xero-001.csv", "xero-004.csv")
		slices.Sort(want)
		if got := listDir(t, dir); !slices.Equal(got, want) {
			t.Errorf("the folder holds %v, want %v", got, want)
		}
		if _, rows := readCSV(t, path[:len(path)-4]+"-001.csv"); len(rows) != 500 {
			t.Errorf("xero-001.csv has %d lines, want 500", len(rows))
		}

		// A statement that fails writes nothing and removes nothing.
		before := listDir(t, dir)
		files := exporters.NewAtomicFiles(path)
		_, err = exporters.WriteStatement(f.ctx, f.store, exporters.StatementCSV, files, exporters.StatementOptions{
			From: stmtFrom, To: stmtTo, Template: xero, Currency: "NOPE"})
		if err == nil {
			t.Fatal("a statement of an unknown currency was written")
		}
		if err := files.Abort(); err != nil {
			t.Fatal(err)
		}
		if got := listDir(t, dir); !slices.Equal(got, before) || len(files.Removed()) != 0 {
			t.Errorf("after a failed export the folder holds %v, want %v", got, before)
		}
	})

	t.Run("QuickBooks", func(t *testing.T) {
		t.Parallel()
		f := stmtSetup(t)
		qb, err := templates.Load("quickbooks", "")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "qb.csv")
		written, _ := export(t, f, path, exporters.StatementOptions{Template: qb})
		if !slices.Equal(written, []string{"qb-ETH.csv", "qb-USDTBEP20.csv", "qb-XYZ.csv"}) {
			t.Fatalf("first export wrote %v", written)
		}
		// Not a currency of the ledger, not in its case, not the pattern of quickbooks.
		mine := []string{"qb.csv", "qb-NOTACURRENCY.csv", "qb-eth.csv", "qb-ETH-001.csv", "qb-USDTBEP20.csv.old"}
		plant(t, dir, mine...)

		// One currency asked for: the statements of the others to the same place stay.
		written, removed := export(t, f, path, exporters.StatementOptions{Template: qb, Currency: "ETH"})
		if !slices.Equal(written, []string{"qb-ETH.csv"}) || len(removed) != 0 {
			t.Fatalf("--currency ETH wrote %v, removed %v; want nothing removed", written, removed)
		}

		// September: only ETH has a balance or a movement. The USDTBEP20 and XYZ files of
		// the October export would be imported with it: they go.
		written, removed = export(t, f, path, exporters.StatementOptions{Template: qb,
			From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 9, 2, 0, 0, 0, 0, time.UTC)})
		if !slices.Equal(written, []string{"qb-ETH.csv"}) || !slices.Equal(removed, []string{"qb-USDTBEP20.csv", "qb-XYZ.csv"}) {
			t.Fatalf("September wrote %v, removed %v; want qb-ETH.csv, and qb-USDTBEP20.csv, qb-XYZ.csv removed", written, removed)
		}
		want := append(slices.Clone(mine), "qb-ETH.csv")
		slices.Sort(want)
		if got := listDir(t, dir); !slices.Equal(got, want) {
			t.Errorf("the folder holds %v, want %v", got, want)
		}
	})
}
