package payouts_test

import (
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/payouts"
)

// TestReadSheetXLSXShownAmount: a numeric amount cell whose number format shows another
// number than it holds (10.4 shown as 10) is refused, since the approver reads what the
// spreadsheet shows. A format that shows every decimal, General and text cells are read as
// before. A percentage format never shows the amount: such cells are refused too.
func TestReadSheetXLSXShownAmount(t *testing.T) {
	t.Parallel()
	type fmtCase struct {
		value any
		code  string // a custom number format; "" for none (General)
		id    int    // else a built-in one
		want  string // the error's message, or "" when the row is read
	}
	cases := []fmtCase{
		{10.4, "0", 0, `the cell shows "10" but holds 10.4; format the column as text or show every decimal`},
		{1234.4, "#,##0", 0, `the cell shows "1,234" but holds 1234.4`},
		{10.4, "", 1, `the cell shows "10" but holds 10.4`}, // built-in "0"
		{1234.4, "", 3, `the cell shows "1,234" but holds`}, // built-in "#,##0"
		{10.456, "0.00", 0, `the cell shows "10.46" but holds 10.456`},
		{10.4, "0.0%", 0, `the cell shows "1040.0%" but holds 10.4`},
		{10.4, "", 9, `the cell shows "1040%"`}, // built-in "0%"
		{10.4, "0.0E+00", 0, `the cell shows "1.0E+01" but holds 10.4`},
		{10.4, "# ?/?", 0, `the cell shows "10 2/5"`},
		{2500.4, "#,##0,", 0, `the cell shows "3" but holds 2500.4`}, // scaled by 1000
		{10.4, ";;;", 0, `the cell shows "" but holds 10.4`},         // shows nothing
		{10.4, "0.00", 0, ""},
		{1234.5, "#,##0.00", 0, ""},
		{10.4, "", 4, ""},                                 // built-in "#,##0.00"
		{10.4, `#,##0.00 "USDT"`, 0, ""},                  // literal text
		{10.4, `[$€-407] #,##0.00;[Red]-#,##0.00`, 0, ""}, // currency symbol, colour
		{10.4, `0.0##`, 0, ""},                            // optional decimals
		{10, "0.0E+00", 0, ""},                            // 1.0E+01 is 10
		{10.4, "", 0, ""},                                 // General
		{"10.4", "0", 0, ""},                              // a text cell: shown as typed
		{10.4, "@", 0, ""},                                // a number in a text format shows as General
		{-10.4, "0.00;(0.00)", 0, ""},                     // the sign is Validate's business
	}
	rows := [][]any{{"currency", "address", "amount", "reference"}}
	for i, c := range cases {
		rows = append(rows, []any{"USDTTRC20", tronA, c.value, "R" + string(rune('A'+i))})
	}
	data := xlsxOf(t, rows, func(f *excelize.File, s string) {
		for i, c := range cases {
			if c.code == "" && c.id == 0 {
				continue
			}
			st := &excelize.Style{NumFmt: c.id}
			if c.code != "" {
				st.CustomNumFmt = &c.code
			}
			id, err := f.NewStyle(st)
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := excelize.CoordinatesToCellName(3, i+2)
			if err := f.SetCellStyle(s, ref, ref, id); err != nil {
				t.Fatal(err)
			}
		}
	})
	sh := readBytes(t, "a.xlsx", data, payouts.ReadOptions{})
	read := map[int]bool{}
	for _, r := range sh.Rows {
		read[r.Line] = true
	}
	for i, c := range cases {
		line := i + 2
		if c.want == "" {
			for _, e := range sh.Errors {
				if e.Row == line {
					t.Errorf("row %d (%v, format %q/%d): unexpected error %+v", line, c.value, c.code, c.id, e)
				}
			}
			if !read[line] {
				t.Errorf("row %d (%v, format %q/%d) not read", line, c.value, c.code, c.id)
			}
			continue
		}
		hasError(t, sh.Errors, line, "amount", c.want)
	}
	for _, e := range sh.Errors {
		t.Logf("%s", e.Describe("a.xlsx"))
	}
}
