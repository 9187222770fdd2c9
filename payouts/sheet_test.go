package payouts_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/payouts"
)

// Addresses that pass CheckAddress on their networks.
const (
	tronA  = "TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t9j"
	tronB  = "TVzUhHX8SqgVd1mmuogaQWw7EYEpsXgfKN"
	evmCap = "0x52908400098527886E0F7030069857D2E4169EE7" // all caps: no checksum
	evm55  = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" // EIP-55
	btcA   = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
)

// readString reads a sheet held in a string.
func readString(t *testing.T, name, content string, opts payouts.ReadOptions) *payouts.Sheet {
	t.Helper()
	sh, err := payouts.ReadSheet(name, strings.NewReader(content), opts)
	if err != nil {
		t.Fatalf("ReadSheet(%s): %v", name, err)
	}
	return sh
}

// readBytes reads a sheet held in bytes.
func readBytes(t *testing.T, name string, content []byte, opts payouts.ReadOptions) *payouts.Sheet {
	t.Helper()
	sh, err := payouts.ReadSheet(name, bytes.NewReader(content), opts)
	if err != nil {
		t.Fatalf("ReadSheet(%s): %v", name, err)
	}
	return sh
}

// xlsxOf builds a workbook with excelize: rows of cell values from A1 (a nil value leaves the
// cell empty), and edit for anything else.
func xlsxOf(t testing.TB, rows [][]any, edit func(f *excelize.File, sheet string)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	for r, row := range rows {
		for c, v := range row {
			if v == nil {
				continue
			}
			ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
			if err := f.SetCellValue(sheet, ref, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if edit != nil {
		edit(f, sheet)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// wantRows compares rows by line, currency, address, amount (exactly) and reference.
func wantRows(t *testing.T, got []payouts.Row, want []payouts.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Line != w.Line || g.Currency != w.Currency || g.Address != w.Address ||
			g.Amount.String() != w.Amount.String() || g.Reference != w.Reference ||
			(w.Name != "" && g.Name != w.Name) || (w.Note != "" && g.Note != w.Note) {
			t.Errorf("row %d: got %+v (amount %s), want %+v (amount %s)", i, g, g.Amount, w, w.Amount)
		}
	}
}

func noErrors(t *testing.T, sh *payouts.Sheet) {
	t.Helper()
	if len(sh.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", sh.Errors)
	}
}

// hasError asserts that errs holds exactly one error at row and field, containing substr.
func hasError(t *testing.T, errs []payouts.RowError, row int, field, substr string) {
	t.Helper()
	n := 0
	for _, e := range errs {
		if e.Row == row && e.Field == field {
			n++
			if !strings.Contains(e.Message, substr) {
				t.Errorf("row %d %s: message %q lacks %q", row, field, e.Message, substr)
			}
		}
	}
	if n != 1 {
		t.Errorf("want one error at row %d field %q (%q), got %d in %+v", row, field, substr, n, errs)
	}
}

// The fixtures written by LibreOffice and European Excel read as their README says.
func TestReadSheetFixtures(t *testing.T) {
	t.Parallel()
	want := []payouts.Row{
		{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("25.5"), Reference: "LO-1", Name: "Ana Lima", Note: "March commission"},
		{Line: 3, Currency: "USDTTRC20", Address: tronB, Amount: dec("20.25"), Reference: "LO-2", Name: "Bo Chen", Note: "formula with a cached value"},
		{Line: 4, Currency: "USDTBEP20", Address: evmCap, Amount: dec("12.000001"), Reference: "LO-3", Name: "Cy"},
		{Line: 5, Currency: "BTC", Address: btcA, Amount: dec("0.0015"), Reference: "LO-4", Name: "Di"},
	}
	t.Run("LibreOfficeXLSX", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile("testdata/good/libreoffice.xlsx")
		if err != nil {
			t.Fatal(err)
		}
		sh := readBytes(t, "libreoffice.xlsx", data, payouts.ReadOptions{})
		noErrors(t, sh)
		if sh.Format != "xlsx" {
			t.Errorf("format %q", sh.Format)
		}
		sum := sha256.Sum256(data)
		if sh.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("SHA256 %s", sh.SHA256)
		}
		wantRows(t, sh.Rows, want)
		if got := sh.Rows[0].Amount.Add(sh.Rows[1].Amount); got.String() != "45.75" {
			t.Errorf("USDTTRC20 sum %s, want 45.75", got)
		}
	})
	t.Run("EuropeanExcelCSVWithDecimalComma", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile("testdata/good/excel-eu.csv")
		if err != nil {
			t.Fatal(err)
		}
		sh := readBytes(t, "excel-eu.csv", data, payouts.ReadOptions{DecimalComma: true})
		noErrors(t, sh)
		if sh.Format != "csv" {
			t.Errorf("format %q", sh.Format)
		}
		wantRows(t, sh.Rows, want)
	})
	t.Run("EuropeanExcelCSVWithoutDecimalComma", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile("testdata/good/excel-eu.csv")
		if err != nil {
			t.Fatal(err)
		}
		sh := readBytes(t, "excel-eu.csv", data, payouts.ReadOptions{})
		if len(sh.Rows) != 0 || len(sh.Errors) != 4 {
			t.Fatalf("want 4 errors and no rows, got %d rows, errors %+v", len(sh.Rows), sh.Errors)
		}
		for i, e := range sh.Errors {
			if e.Row != i+2 || e.Field != "amount" || !strings.Contains(e.Message, "--decimal-comma") {
				t.Errorf("error %d: %+v", i, e)
			}
		}
	})
}

func TestReadSheetHeaders(t *testing.T) {
	t.Parallel()
	t.Run("AliasesCaseSpacesAndPunctuation", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "Coin,Wallet Address,Amount (crypto),Payment_Reference,Payee,MEMO,Bank\n"+
			"usdttrc20, "+tronA+" ,10.5,R-1,Ana,hi,ignored\n", payouts.ReadOptions{})
		noErrors(t, sh)
		wantRows(t, sh.Rows, []payouts.Row{{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("10.5"), Reference: "R-1", Name: "Ana", Note: "hi"}})
		if got := sh.IgnoredColumns(); len(got) != 1 || got[0] != "Bank" {
			t.Errorf("ignored %q", got)
		}
	})
	for _, h := range [][4]string{
		{"to", "sum", "asset", "ref"}, {"wallet", "value", "token", "id"}, {"ADDRESS", "AMOUNT", "CURRENCY", "REFERENCE"},
		{"wallet-address", "amount", "coin", "payment reference"},
	} {
		t.Run("Alias_"+strings.Join(h[:], "_"), func(t *testing.T) {
			t.Parallel()
			sh := readString(t, "a.csv", strings.Join(h[:], ",")+"\n"+tronA+",1,USDTTRC20,X\n", payouts.ReadOptions{})
			noErrors(t, sh)
			wantRows(t, sh.Rows, []payouts.Row{{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("1"), Reference: "X"}})
		})
	}
	t.Run("MissingColumnsNamed", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "currency,wallet,qty\nUSDTTRC20,"+tronA+",1\n", payouts.ReadOptions{})
		if len(sh.Rows) != 0 || len(sh.Errors) != 2 {
			t.Fatalf("rows %v errors %+v", sh.Rows, sh.Errors)
		}
		hasError(t, sh.Errors, 0, "amount", `no "amount" column`)
		hasError(t, sh.Errors, 0, "reference", `"qty"`)
	})
	t.Run("DuplicatedColumnNamed", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "currency,address,amount,reference,wallet\nUSDTTRC20,"+tronA+",1,R,"+tronB+"\n", payouts.ReadOptions{})
		if len(sh.Rows) != 0 {
			t.Fatalf("rows %v", sh.Rows)
		}
		hasError(t, sh.Errors, 0, "address", `B ("address"), E ("wallet")`)
	})
	t.Run("OnlyHeader", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "currency,address,amount,reference\n\n,,,\n", payouts.ReadOptions{})
		if len(sh.Errors) != 1 || sh.Errors[0].Row != 0 || !strings.Contains(sh.Errors[0].Message, "no payout rows") {
			t.Fatalf("errors %+v", sh.Errors)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "", payouts.ReadOptions{})
		if len(sh.Errors) != 1 || !strings.Contains(sh.Errors[0].Message, "empty") {
			t.Fatalf("errors %+v", sh.Errors)
		}
	})
}

func TestReadSheetCSV(t *testing.T) {
	t.Parallel()
	const hdr = "currency,address,amount,reference,name,note\n"
	t.Run("RowNumbersCountBlankLinesAndMultilineCells", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "\n"+hdr+
			"USDTTRC20,"+tronA+",1,R1,\"Ana\nLima\",x\n"+ // rows 2 (header on 2), record on lines 3-4
			"\n"+ // blank row
			",,,,,\n"+ // an empty row of separators
			"USDTTRC20,"+tronB+",2,R2,,\n"+
			"USDTTRC20,"+tronB+",oops,R3,,\n", payouts.ReadOptions{})
		wantRows(t, sh.Rows, []payouts.Row{
			{Line: 3, Currency: "USDTTRC20", Address: tronA, Amount: dec("1"), Reference: "R1", Name: "Ana\nLima"},
			{Line: 6, Currency: "USDTTRC20", Address: tronB, Amount: dec("2"), Reference: "R2"},
		})
		hasError(t, sh.Errors, 7, "amount", "not a number")
	})
	t.Run("SemicolonBOMAndCRLF", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "\uFEFFcurrency;address;amount;reference\r\nUSDTTRC20;"+tronA+";1.5;R1\r\n", payouts.ReadOptions{})
		noErrors(t, sh)
		wantRows(t, sh.Rows, []payouts.Row{{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("1.5"), Reference: "R1"}})
	})
	t.Run("ExcelSepLine", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "sep=;\r\ncurrency;address;amount;reference\r\nUSDTTRC20;"+tronA+";x;R1\r\n", payouts.ReadOptions{})
		hasError(t, sh.Errors, 2, "amount", "not a number") // Excel shows the header as row 1
	})
	t.Run("SemicolonWithDecimalCommaInQuotes", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", "currency;address;amount;reference\nUSDTTRC20;"+tronA+";\"1,5\";R1\n", payouts.ReadOptions{DecimalComma: true})
		noErrors(t, sh)
		wantRows(t, sh.Rows, []payouts.Row{{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("1.5"), Reference: "R1"}})
	})
	t.Run("InvalidUTF8", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", hdr+"USDTTRC20,"+tronA+",1,R1,Jos\xe9,\n", payouts.ReadOptions{})
		if len(sh.Rows) != 0 {
			t.Fatalf("rows %v", sh.Rows)
		}
		hasError(t, sh.Errors, 2, "name", "UTF-8")
	})
	t.Run("BareQuote", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", hdr+"USDTTRC20,"+tronA+",1,R1,Ana \"the boss\",\nUSDTTRC20,"+tronB+",2,R2,,\n", payouts.ReadOptions{})
		hasError(t, sh.Errors, 2, "", "quote")
		wantRows(t, sh.Rows, []payouts.Row{{Line: 3, Currency: "USDTTRC20", Address: tronB, Amount: dec("2"), Reference: "R2"}})
	})
	t.Run("UTF16Refused", func(t *testing.T) {
		t.Parallel()
		_, err := payouts.ReadSheet("a.csv", bytes.NewReader([]byte{0xFF, 0xFE, 'c', 0}), payouts.ReadOptions{})
		if !errors.Is(err, payouts.ErrNotASheet) || !strings.Contains(err.Error(), "CSV UTF-8") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestReadSheetAmounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in           string
		decimalComma bool
		want         string // the amount, or "" for an error
		msg          string // part of the error
	}{
		{"25.5", false, "25.5", ""},
		{" 25.50 ", false, "25.5", ""},
		{"0.000000000000000001", false, "0.000000000000000001", ""},
		{"123456789012345678.123456789", false, "123456789012345678.123456789", ""},
		{".5", false, "0.5", ""},
		{"7", false, "7", ""},
		{"-5", false, "-5", ""}, // negative: Validate says it must be positive
		{"1,5", false, "", "--decimal-comma"},
		{"1,5", true, "1.5", ""},
		{"1,234", false, "", "ambiguous"},
		{"1,234", true, "1.234", ""},
		{"1,234.50", false, "", "thousands separators"},
		{"1.234,50", false, "", "thousands separators"},
		{"1.234,50", true, "", "--decimal-comma"},
		{"1.5", true, "", "--decimal-comma"},
		{"1.234.567", false, "", "thousands separators"},
		{"1,234,567", true, "", "thousands separators"},
		{"1e3", false, "", "exponent"},
		{"1E+3", false, "", "exponent"},
		{"1.5e-3", false, "", "exponent"},
		{"1 234", false, "", "spaces"},
		{"1\u00a0234", false, "", "spaces"},
		{"1'234", false, "", "separators"},
		{"$25", false, "", "currency symbol"},
		{"25 USDT", false, "", "currency symbol"},
		{"25%", false, "", "currency symbol"},
		{"ten", false, "", "not a number"},
		{"", false, "", "empty"},
		{"=10+10", false, "", "currency symbol"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			sh := readString(t, "a.csv", "currency;address;amount;reference\nUSDTTRC20;"+tronA+";"+tc.in+";R1\n", payouts.ReadOptions{DecimalComma: tc.decimalComma})
			if tc.want != "" {
				noErrors(t, sh)
				if len(sh.Rows) != 1 || sh.Rows[0].Amount.String() != tc.want {
					t.Fatalf("rows %+v, want amount %s", sh.Rows, tc.want)
				}
				return
			}
			if len(sh.Rows) != 0 {
				t.Fatalf("rows %+v", sh.Rows)
			}
			hasError(t, sh.Errors, 2, "amount", tc.msg)
		})
	}
}

func TestReadSheetXLSX(t *testing.T) {
	t.Parallel()
	header := []any{"currency", "address", "amount", "reference", "name", "note"}
	t.Run("FloatArtefactsAndNumericText", func(t *testing.T) {
		t.Parallel()
		data := xlsxOf(t, [][]any{header,
			{"USDTTRC20", tronA, 0.1 + tenths(2), "R1"}, // 0.30000000000000004
			{"USDTTRC20", tronA, "12.000001", "R2"},     // a text cell
			{"USDTTRC20", tronA, 1.5e-7, "R3"},
			{"USDTTRC20", tronA, 1234567.891, 1001}, // a numeric reference
			{"USDTTRC20", tronA, "0.123456789012345678", "R5"},
		}, nil)
		sh := readBytes(t, "a.xlsx", data, payouts.ReadOptions{})
		noErrors(t, sh)
		wantRows(t, sh.Rows, []payouts.Row{
			{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("0.3"), Reference: "R1"},
			{Line: 3, Currency: "USDTTRC20", Address: tronA, Amount: dec("12.000001"), Reference: "R2"},
			{Line: 4, Currency: "USDTTRC20", Address: tronA, Amount: dec("0.00000015"), Reference: "R3"},
			{Line: 5, Currency: "USDTTRC20", Address: tronA, Amount: dec("1234567.891"), Reference: "1001"},
			{Line: 6, Currency: "USDTTRC20", Address: tronA, Amount: dec("0.123456789012345678"), Reference: "R5"},
		})
	})
	t.Run("DatesBooleansErrorsAndFormulas", func(t *testing.T) {
		t.Parallel()
		data := xlsxOf(t, [][]any{header,
			{"USDTTRC20", tronA, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "R1"},
			{"USDTTRC20", tronA, true, "R2"},
			{"USDTTRC20", tronA, nil, "R3"},
			{"USDTTRC20", tronA, nil, "R4"},
		}, func(f *excelize.File, s string) {
			if err := f.SetCellFormula(s, "C4", "10+10.25"); err != nil { // no cached value
				t.Fatal(err)
			}
			if err := f.SetCellFormula(s, "C5", "A1*2"); err != nil {
				t.Fatal(err)
			}
		})
		sh := readBytes(t, "a.xlsx", data, payouts.ReadOptions{})
		if len(sh.Rows) != 0 {
			t.Fatalf("rows %+v", sh.Rows)
		}
		hasError(t, sh.Errors, 2, "amount", "date")
		hasError(t, sh.Errors, 3, "amount", "TRUE/FALSE")
		hasError(t, sh.Errors, 4, "amount", "formula without a cached value")
		hasError(t, sh.Errors, 5, "amount", "formula without a cached value")
	})
	t.Run("HiddenRowRefused", func(t *testing.T) {
		t.Parallel()
		data := xlsxOf(t, [][]any{header,
			{"USDTTRC20", tronA, "1", "R1"},
			{"USDTTRC20", tronB, "2", "R2"},
		}, func(f *excelize.File, s string) {
			if err := f.SetRowVisible(s, 3, false); err != nil {
				t.Fatal(err)
			}
		})
		sh := readBytes(t, "a.xlsx", data, payouts.ReadOptions{})
		hasError(t, sh.Errors, 3, "", "hidden")
		wantRows(t, sh.Rows, []payouts.Row{{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("1"), Reference: "R1"}})
	})
	t.Run("SheetNamedPayoutsPreferred", func(t *testing.T) {
		t.Parallel()
		data := xlsxOf(t, [][]any{{"notes"}, {"not this one"}}, func(f *excelize.File, s string) {
			if _, err := f.NewSheet("Payouts"); err != nil {
				t.Fatal(err)
			}
			for i, v := range []string{"currency", "address", "amount", "reference", "USDTTRC20", tronA, "3", "R1"} {
				ref, _ := excelize.CoordinatesToCellName(i%4+1, i/4+3) // header on row 3
				if err := f.SetCellStr("Payouts", ref, v); err != nil {
					t.Fatal(err)
				}
			}
		})
		sh := readBytes(t, "a.xlsx", data, payouts.ReadOptions{})
		noErrors(t, sh)
		wantRows(t, sh.Rows, []payouts.Row{{Line: 4, Currency: "USDTTRC20", Address: tronA, Amount: dec("3"), Reference: "R1"}})
	})
	t.Run("GapsKeepRowNumbers", func(t *testing.T) {
		t.Parallel()
		data := xlsxOf(t, [][]any{header, {"USDTTRC20", tronA, "1", "R1"}, nil, nil, {"USDTTRC20", tronB, "x", "R2"}}, nil)
		sh := readBytes(t, "a.xlsx", data, payouts.ReadOptions{})
		hasError(t, sh.Errors, 5, "amount", "not a number")
	})
}

// tenths returns n/10 at run time, so that 0.1+0.2 is computed in float64 (a constant
// expression would be exact).
func tenths(n float64) float64 { return n / 10 }

func TestReadSheetLimits(t *testing.T) {
	t.Parallel()
	t.Run("DefaultMaxBytes", func(t *testing.T) {
		t.Parallel()
		big := bytes.Repeat([]byte("x"), payouts.DefaultMaxBytes+1)
		_, err := payouts.ReadSheet("big.csv", bytes.NewReader(big), payouts.ReadOptions{})
		if !errors.Is(err, payouts.ErrSheetTooLarge) || !strings.Contains(err.Error(), "big.csv") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("MaxRows", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		b.WriteString("currency,address,amount,reference\n")
		for i := range 11 {
			b.WriteString("USDTTRC20," + tronA + ",1,R" + string(rune('a'+i)) + "\n")
		}
		_, err := payouts.ReadSheet("rows.csv", strings.NewReader(b.String()), payouts.ReadOptions{MaxRows: 10})
		if !errors.Is(err, payouts.ErrSheetTooLarge) || !strings.Contains(err.Error(), "more than 10") {
			t.Fatalf("err %v", err)
		}
		if _, err := payouts.ReadSheet("rows.csv", strings.NewReader(b.String()), payouts.ReadOptions{MaxRows: 11}); err != nil {
			t.Fatalf("11 rows with MaxRows 11: %v", err)
		}
	})
	t.Run("ZipBombByDefaultLimit", func(t *testing.T) {
		t.Parallel()
		data := zipBomb(t, payouts.DefaultMaxUnzippedBytes+1)
		if len(data) > 1<<20 {
			t.Fatalf("the bomb is %d bytes", len(data))
		}
		_, err := payouts.ReadSheet("bomb.xlsx", bytes.NewReader(data), payouts.ReadOptions{})
		if !errors.Is(err, payouts.ErrSheetTooLarge) || !strings.Contains(err.Error(), "ZIP bomb") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("NotASheet", func(t *testing.T) {
		t.Parallel()
		for name, data := range map[string][]byte{
			"a.xlsx": []byte("currency,address\n"),
			"a.xls":  {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0},
			"a.pdf":  []byte("%PDF-1.7\n"),
			"a.bin":  {1, 2, 0, 4},
			"z.xlsx": []byte("PK\x03\x04garbage"),
		} {
			if _, err := payouts.ReadSheet(name, bytes.NewReader(data), payouts.ReadOptions{}); !errors.Is(err, payouts.ErrNotASheet) {
				t.Errorf("%s: err %v", name, err)
			}
		}
	})
}

// TestReadSheetProgress reads sheets of 2,500 and 2,048 rows with a progress callback: it is
// told the rows read every 1,024 rows, then once with them all, in XLSX and in CSV.
func TestReadSheetProgress(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"xlsx", "csv"} {
		for _, n := range []int{2500, 2048} {
			t.Run(fmt.Sprintf("%s-%d", format, n), func(t *testing.T) {
				t.Parallel()
				var calls []int
				sh := readBytes(t, "progress."+format, benchSheet(t, format, n),
					payouts.ReadOptions{Progress: func(rows int) { calls = append(calls, rows) }})
				if len(sh.Rows) != n || len(sh.Errors) > 0 {
					t.Fatalf("%d rows, errors %v", len(sh.Rows), sh.Errors)
				}
				want := []int{1024, 2048}
				if n != 2048 {
					want = append(want, n)
				}
				if !slices.Equal(calls, want) {
					t.Errorf("progress %v, want %v", calls, want)
				}
			})
		}
	}
	t.Run("NoRows", func(t *testing.T) {
		t.Parallel()
		var calls []int
		readString(t, "empty.csv", corpusHeader+"\n", payouts.ReadOptions{Progress: func(rows int) { calls = append(calls, rows) }})
		if !slices.Equal(calls, []int{0}) {
			t.Errorf("progress %v, want [0]", calls)
		}
	})
}

func TestRowErrorDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e    payouts.RowError
		want string
	}{
		{payouts.RowError{Row: 7, Field: "amount", Message: "m"}, "f.xlsx row 7, amount: m"},
		{payouts.RowError{Row: 7, Message: "m"}, "f.xlsx row 7: m"},
		{payouts.RowError{Field: "currency", Message: "m"}, "f.xlsx, currency: m"},
	} {
		if got := tc.e.Describe("f.xlsx"); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}

// TestGoodTestdataMatchesFixtures keeps the copies in testdata equal to the shared fixtures
// when those are present (CI clones only this repository, hence the copies).
func TestGoodTestdataMatchesFixtures(t *testing.T) {
	t.Parallel()
	const shared = "../../shared/fixtures/payout-sheets"
	for _, name := range []string{"libreoffice.xlsx", "excel-eu.csv"} {
		orig, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			t.Skipf("shared fixtures not here: %v", err)
		}
		copyData, err := os.ReadFile(filepath.Join("testdata/good", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(orig, copyData) {
			t.Errorf("testdata/good/%s differs from %s", name, filepath.Join(shared, name))
		}
	}
}

// A date cell written by LibreOffice (its own date format code) is refused as an amount.
func TestReadSheetLibreOfficeTypes(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/libreoffice/types.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	sh := readBytes(t, "types.xlsx", data, payouts.ReadOptions{})
	hasError(t, sh.Errors, 2, "amount", "a date")
	hasError(t, sh.Errors, 3, "amount", `"TRUE" is not a number`)
	hasError(t, sh.Errors, 4, "amount", `"12:30" is not a number`)
	hasError(t, sh.Errors, 6, "amount", `"10%" is not a number`)
	if len(sh.Errors) != 4 {
		t.Errorf("errors %+v", sh.Errors)
	}
	wantRows(t, sh.Rows, []payouts.Row{{Line: 5, Currency: "USDTTRC20", Address: tronB, Amount: dec("25.5"), Reference: "LO-OK", Name: "Di", Note: "fine"}})
}
