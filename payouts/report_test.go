package payouts_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/payouts"
)

func TestWriteReportCSV(t *testing.T) {
	t.Parallel()
	in := "\uFEFFcurrency;address;amount;reference;name;bank\r\n" +
		"USDTTRC20;" + tronA + ";10;R1;\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\";DE01\r\n" +
		"\r\n" +
		"USDTTRC20;" + tronB + ";\"1,5\";R2;Bo;\r\n" +
		"USDT;" + tronB + ";-3;R1;@SUM(A1);\r\n"
	sh := readString(t, "in.csv", in, payouts.ReadOptions{})
	errs, _, err := payouts.Validate(context.Background(), sh, corpusEnv())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := payouts.WriteReport(&buf, sh, errs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\uFEFF") || !strings.Contains(out, "\r\n") {
		t.Errorf("BOM or CRLF lost: %q", out[:min(len(out), 40)])
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF")))
	r.Comma = ';'
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The reader skips the blank line 3; the rows keep their places.
	want := [][]string{
		{"currency", "address", "amount", "reference", "name", "bank", "status", "errors"},
		{"USDTTRC20", tronA, "10", "R1", `'=HYPERLINK("http://x","y")`, "DE01", "error", `reference: reference "R1" is also used on row 5: references must be unique`},
		{"", "", "", "", "", "", "", ""},
		{"USDTTRC20", tronB, "1,5", "R2", "Bo", "", "error", "amount: \"1,5\" has a decimal comma: write it with a point, or read the file with --decimal-comma"},
		{"USDT", tronB, "'-3", "R1", "'@SUM(A1)", "", "error", "currency: unknown currency"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records: %q", len(recs), recs)
	}
	for i := range want {
		for j := range want[i] {
			if j == 7 && i == 4 {
				if !strings.HasPrefix(recs[i][j], want[i][j]) || !strings.Contains(recs[i][j], "; amount: the amount must be positive") ||
					!strings.Contains(recs[i][j], "; reference: ") {
					t.Errorf("row %d errors %q", i+1, recs[i][j])
				}
				continue
			}
			if recs[i][j] != want[i][j] {
				t.Errorf("row %d col %d: %q, want %q", i+1, j+1, recs[i][j], want[i][j])
			}
		}
	}
}

func TestWriteReportWholeSheetErrors(t *testing.T) {
	t.Parallel()
	sh := readString(t, "in.csv", "currency,wallet,sum\nUSDTTRC20,"+tronA+",1\n", payouts.ReadOptions{})
	var buf bytes.Buffer
	if err := payouts.WriteReport(&buf, sh, sh.Errors); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1][3] != "error" || !strings.Contains(recs[1][4], "not read") ||
		recs[2][3] != "error" || !strings.HasPrefix(recs[2][4], `whole sheet: reference: no "reference" column`) {
		t.Errorf("records %q", recs)
	}
}

func TestWriteReportXLSX(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/bad/blank_rows_then_bad_amount.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	sh := readBytes(t, "in.xlsx", data, payouts.ReadOptions{})
	errs, _, err := payouts.Validate(context.Background(), sh, corpusEnv())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := payouts.WriteReport(&buf, sh, errs); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("payouts")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][6] != "status" || rows[0][7] != "errors" ||
		rows[1][6] != "ok" || len(rows[2]) != 0 || len(rows[3]) != 0 ||
		rows[4][2] != "ten" || rows[4][6] != "error" || !strings.Contains(rows[4][7], `amount: "ten" is not a number`) {
		t.Errorf("rows %q", rows)
	}
	// The report reads back as a sheet: status and errors are unknown columns, ignored.
	var again bytes.Buffer
	if err := f.Write(&again); err != nil {
		t.Fatal(err)
	}
	sh2 := readBytes(t, "report.xlsx", again.Bytes(), payouts.ReadOptions{})
	hasError(t, sh2.Errors, 5, "amount", "not a number")
	if got := sh2.IgnoredColumns(); strings.Join(got, ",") != "status,errors" {
		t.Errorf("ignored %q", got)
	}
}

func TestWriteReportNeedsReadSheet(t *testing.T) {
	t.Parallel()
	if err := payouts.WriteReport(&bytes.Buffer{}, &payouts.Sheet{}, nil); err == nil {
		t.Error("a hand-built sheet accepted")
	}
}

func TestWriteReportKeepsSepLine(t *testing.T) {
	t.Parallel()
	sh := readString(t, "in.csv", "sep=;\ncurrency;address;amount;reference\nUSDTTRC20;"+tronA+";20;R1\n", payouts.ReadOptions{})
	var buf bytes.Buffer
	if err := payouts.WriteReport(&buf, sh, sh.Errors); err != nil {
		t.Fatal(err)
	}
	if want := "sep=;\ncurrency;address;amount;reference;status;errors\nUSDTTRC20;" + tronA + ";20;R1;ok;\n"; buf.String() != want {
		t.Errorf("%q, want %q", buf.String(), want)
	}
}
