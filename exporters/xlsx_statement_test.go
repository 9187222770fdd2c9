package exporters_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/exporters"
)

// serialTime reads a date cell's raw value (days since 1899-12-30, the 1900 date system)
// back to the microsecond.
func serialTime(t *testing.T) func(string) time.Time {
	return func(s string) time.Time {
		t.Helper()
		d, err := decimal.NewFromString(s)
		if err != nil {
			t.Errorf("date cell %q is not a serial number", s)
			return time.Time{}
		}
		micros := d.Mul(decimal.NewFromInt(86_400_000_000)).Round(0).IntPart()
		return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).Add(time.Duration(micros) * time.Microsecond)
	}
}

// readSheet returns a currency sheet's rows by header: the lines (the table), then the
// rows under the empty row.
func readSheet(t *testing.T, f *excelize.File, sheet string) (header []string, rows []stmtRow) {
	t.Helper()
	all, err := f.GetRows(sheet)
	if err != nil {
		t.Fatalf("sheet %s: %v", sheet, err)
	}
	header = all[0]
	for _, rec := range all[1:] {
		if len(rec) == 0 {
			continue // the empty row between the table and the summary rows
		}
		row := stmtRow{}
		for i, h := range header {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return header, rows
}

// TestStatementXLSXEqualsTheLedger reads an XLSX statement back with raw cell values and
// compares it with the ledger exactly, then checks what makes it a good spreadsheet.
func TestStatementXLSXEqualsTheLedger(t *testing.T) {
	t.Parallel()
	fx := stmtSetup(t)
	path := filepath.Join(t.TempDir(), "october.xlsx")
	res, _, err := fx.export(t, exporters.StatementXLSX, path, exporters.StatementOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkXMLParts(t, path)
	f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.GetSheetList(), ","); got != "Summary,ETH,USDTBEP20,XYZ" {
		t.Fatalf("sheets %s", got)
	}
	places := map[string]int{"USDTBEP20": 6, "ETH": 18, "XYZ": 5}
	for _, cur := range []string{"ETH", "USDTBEP20", "XYZ"} {
		header, rows := readSheet(t, f, cur)
		if len(header) != 20 || header[0] != "Row" {
			t.Fatalf("%s header %v", cur, header)
		}
		opening, total, closing, lines := groupRows(t, rows)
		fx.checkStatement(t, cur, places[cur], opening, total, closing, lines, serialTime(t))

		// A frozen, styled header and a table with filters over exactly the lines.
		panes, err := f.GetPanes(cur)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: panes %+v, %v", cur, panes, err)
		}
		tables, err := f.GetTables(cur)
		if err != nil || len(tables) != 1 || tables[0].Range != "A1:T"+itoa(len(lines)+1) {
			t.Errorf("%s: tables %+v, %v; want one over A1:T%d", cur, tables, err, len(lines)+1)
		}
		if s := cellStyle(t, f, cur, "A1"); s.Font == nil || !s.Font.Bold {
			t.Errorf("%s: the header is not bold: %+v", cur, s)
		}
	}

	// Number cells hold exact decimals with a number format at the currency's precision (or
	// the value's); values of more than 15 digits are text; times are date cells.
	for _, c := range []struct {
		sheet, cell, value string
		typ                excelize.CellType
		format             string
	}{
		{"USDTBEP20", "L2", "250.500000", excelize.CellTypeUnset, "0.000000"},        // gross of the first line
		{"USDTBEP20", "L3", "1.12345678", excelize.CellTypeUnset, "0.00000000"},      // more decimals than 6
		{"USDTBEP20", "C2", "", excelize.CellTypeUnset, "yyyy-mm-dd hh:mm:ss"},       // a date
		{"ETH", "L2", "12345.123456789012345678", excelize.CellTypeInlineString, ""}, // 23 digits: text
		{"ETH", "M2", "0.000000000000000001", excelize.CellTypeUnset, strings.Repeat("0", 1) + "." + strings.Repeat("0", 18)},
		{"USDTBEP20", "H2", `'=HYPERLINK("http://x","y")`, excelize.CellTypeInlineString, ""}, // inert
	} {
		typ, err := f.GetCellType(c.sheet, c.cell)
		if err != nil || typ != c.typ {
			t.Errorf("%s!%s: type %v (%v), want %v", c.sheet, c.cell, typ, err, c.typ)
		}
		if c.value != "" {
			if v, err := f.GetCellValue(c.sheet, c.cell); err != nil || v != c.value {
				t.Errorf("%s!%s = %q (%v), want %q", c.sheet, c.cell, v, err, c.value)
			}
		}
		if c.format != "" {
			if s := cellStyle(t, f, c.sheet, c.cell); s.CustomNumFmt == nil || *s.CustomNumFmt != c.format {
				t.Errorf("%s!%s: number format %v, want %q", c.sheet, c.cell, s.CustomNumFmt, c.format)
			}
		}
	}

	// The Summary sheet: a row per currency, equal to the result and the ledger.
	summary, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range res.Currencies {
		row := summary[i+1]
		if row[0] != c.Currency || !stmtDec(row[1]).Equal(fx.balance(t, c.Currency, stmtFrom)) || row[2] != itoa(int(c.Lines)) ||
			!stmtDec(row[7]).Equal(fx.balance(t, c.Currency, stmtTo)) || !stmtDec(row[6]).Equal(c.Net) || row[8] != "ok" {
			t.Errorf("summary row %v, result %+v", row, c)
		}
	}
}

// TestStatementXLSXInjection checks that no cell of an XLSX statement is a formula and that
// user text that would start one carries the apostrophe.
func TestStatementXLSXInjection(t *testing.T) {
	t.Parallel()
	fx := stmtSetup(t)
	path := filepath.Join(t.TempDir(), "out.xlsx")
	if _, _, err := fx.export(t, exporters.StatementXLSX, path, exporters.StatementOptions{Currency: "USDTBEP20"}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/sheet") {
			continue
		}
		body := readZipFile(t, zf)
		if bytes.Contains(body, []byte("<f>")) || bytes.Contains(body, []byte("<f ")) {
			t.Errorf("%s holds a formula", zf.Name)
		}
	}
	f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, rows := readSheet(t, f, "USDTBEP20")
	seen := map[string]bool{}
	for _, r := range rows {
		for _, h := range []string{"Label", "Reference", "Description"} {
			seen[r[h]] = true
		}
	}
	for _, label := range stmtInjections {
		if !seen["'"+label] {
			t.Errorf("the label %q is not in the sheet as '%s", label, label)
		}
	}
}

// TestStatementXLSXLibreOffice converts an XLSX statement with LibreOffice (headless) and
// checks what it read: every sheet, the exact amounts, the text cell of more than 15 digits,
// the dates. LibreOffice gives up on a file it would have to repair.
func TestStatementXLSXLibreOffice(t *testing.T) {
	t.Parallel()
	fx := stmtSetup(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "october.xlsx")
	if _, _, err := fx.export(t, exporters.StatementXLSX, path, exporters.StatementOptions{}); err != nil {
		t.Fatal(err)
	}
	sheet := libreOfficeSheets(t, path)
	usdt := sheet("USDTBEP20")
	if strings.Join(usdt[0][:5], ",") != "Row,Currency,Time (UTC),Booked at (UTC),Kind" {
		t.Fatalf("USDTBEP20 header %v", usdt[0])
	}
	first := usdt[1]
	if first[2] != "2026-10-01 00:00:00" || first[11] != "250.500000" || first[14] != "247.495000" || first[7] != `'=HYPERLINK("http://x","y")` {
		t.Errorf("LibreOffice read the first line as %v", first)
	}
	if usdt[2][11] != "1.12345678" || usdt[2][2] != "2026-10-02 10:11:12" {
		t.Errorf("LibreOffice read the second line as %v", usdt[2])
	}
	eth := sheet("ETH")
	if eth[1][11] != "12345.123456789012345678" || eth[1][12] != "0.000000000000000001" {
		t.Errorf("LibreOffice read the ETH line as %v", eth[1])
	}
	summary := sheet("Summary")
	if len(summary) < 4 || summary[1][0] != "ETH" || summary[2][0] != "USDTBEP20" || summary[2][8] != "ok" {
		t.Errorf("LibreOffice read the summary as %v", summary)
	}
}

// libreOfficeSheets converts a workbook with LibreOffice (headless), every sheet to CSV as
// shown, and returns a function that reads a sheet's rows back. LibreOffice gives up on a
// file it would have to repair, and so does the test: it fails, never skips, when
// LibreOffice is not installed.
func libreOfficeSheets(t *testing.T, path string) func(name string) [][]string {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		t.Fatal("LibreOffice (soffice) is not installed: `make test` installs it (scripts/ensure-tools.sh); by hand: apt-get install libreoffice-calc-nogui")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "csv")
	// Filter options: comma, double quote, UTF-8, from line 1, ..., and -1: every sheet, each
	// to NAME-SHEET.csv (LibreOffice 7.2+). Its own profile, so parallel runs do not meet.
	cmd := exec.Command(soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--headless", "--norestore",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1", "--outdir", out, path)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, output)
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return func(name string) [][]string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(out, base+"-"+name+".csv"))
		if err != nil {
			entries, _ := os.ReadDir(out)
			t.Fatalf("LibreOffice wrote no %s sheet (%v); it wrote %v", name, err, entries)
		}
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return recs
	}
}

// checkXMLParts checks that every XML part of the package is well-formed.
func checkXMLParts(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	names := map[string]bool{}
	for _, zf := range zr.File {
		if names[zf.Name] {
			t.Errorf("the package has %s twice", zf.Name)
		}
		names[zf.Name] = true
		if !strings.HasSuffix(zf.Name, ".xml") && !strings.HasSuffix(zf.Name, ".rels") {
			continue
		}
		dec := xml.NewDecoder(bytes.NewReader(readZipFile(t, zf)))
		for {
			if _, err := dec.Token(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("%s is not well-formed XML: %v", zf.Name, err)
				}
				break
			}
		}
	}
	for _, want := range []string{"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet1.xml", "xl/tables/table1.xml"} {
		if !names[want] {
			t.Errorf("the package has no %s", want)
		}
	}
}

func readZipFile(t *testing.T, zf *zip.File) []byte {
	t.Helper()
	rc, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: %v", zf.Name, err)
	}
	return b
}

func cellStyle(t *testing.T, f *excelize.File, sheet, cell string) *excelize.Style {
	t.Helper()
	id, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func itoa(n int) string { return decimal.NewFromInt(int64(n)).String() }
