package payouts_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/payouts"
)

var templateCurrencies = []string{"USDTTRC20", "USDTBEP20", "BTC"}

func TestWriteTemplateCSV(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := payouts.WriteTemplate(&buf, "csv", templateCurrencies); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "currency,address,amount,reference,name,note\n" {
		t.Fatalf("%q", buf.String())
	}
	if err := payouts.WriteTemplate(&buf, "ods", nil); err == nil {
		t.Error("ods accepted")
	}
}

func TestWriteTemplateXLSX(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := payouts.WriteTemplate(&buf, "xlsx", templateCurrencies); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const s = "payouts"
	if got := f.GetSheetList(); len(got) != 1 || got[0] != s {
		t.Fatalf("sheets %v", got)
	}
	for i, name := range payouts.Columns {
		ref, _ := excelize.CoordinatesToCellName(i+1, 1)
		if v, _ := f.GetCellValue(s, ref); v != name {
			t.Errorf("%s = %q, want %q", ref, v, name)
		}
	}
	comments, err := f.GetComments(s)
	if err != nil || len(comments) != len(payouts.Columns) {
		t.Fatalf("comments %v %+v", err, comments)
	}
	for _, c := range comments {
		text := c.Text
		for _, p := range c.Paragraph {
			text += p.Text
		}
		if len(text) < 20 {
			t.Errorf("comment on %s: %q", c.Cell, text)
		}
	}
	dvs, err := f.GetDataValidations(s)
	if err != nil || len(dvs) != 1 {
		t.Fatalf("data validations %v %+v", err, dvs)
	}
	if dvs[0].Type != "list" || !strings.HasPrefix(dvs[0].Sqref, "A2:A") || !strings.Contains(dvs[0].Formula1, "USDTTRC20,USDTBEP20,BTC") {
		t.Errorf("data validation %+v", dvs[0])
	}
	for _, col := range []string{"B", "C", "D"} { // address, amount, reference
		style, err := f.GetColStyle(s, col)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(style)
		if err != nil || st.NumFmt != 49 {
			t.Errorf("column %s: style %d %+v %v, want the text format", col, style, st, err)
		}
	}
	panes, err := f.GetPanes(s)
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("panes %+v %v", panes, err)
	}
}

// A template filled in the way a person would (text in the text columns) reads back.
func TestTemplateFilledReadsBack(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := payouts.WriteTemplate(&buf, "xlsx", templateCurrencies); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range [][]string{
		{"USDTTRC20", tronA, "25.5", "0042", "Ana", "March"},
		{"BTC", btcA, "0.0015", "0043", "Bo", ""},
	} {
		for j, v := range row {
			ref, _ := excelize.CoordinatesToCellName(j+1, i+2)
			if err := f.SetCellStr("payouts", ref, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var filled bytes.Buffer
	if err := f.Write(&filled); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sh := readBytes(t, "filled.xlsx", filled.Bytes(), payouts.ReadOptions{})
	noErrors(t, sh)
	wantRows(t, sh.Rows, []payouts.Row{
		{Line: 2, Currency: "USDTTRC20", Address: tronA, Amount: dec("25.5"), Reference: "0042", Name: "Ana", Note: "March"},
		{Line: 3, Currency: "BTC", Address: btcA, Amount: dec("0.0015"), Reference: "0043", Name: "Bo"},
	})
	if errs, _, err := payouts.Validate(context.Background(), sh, corpusEnv()); err != nil || len(errs) != 0 {
		t.Errorf("Validate: %v %+v", err, errs)
	}
}

func TestWriteTemplateManyCurrencies(t *testing.T) {
	t.Parallel()
	var many []string
	for i := range 60 {
		many = append(many, fmt.Sprintf("TOKEN%02dERC20", i))
	}
	var buf bytes.Buffer
	if err := payouts.WriteTemplate(&buf, "xlsx", many); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dvs, err := f.GetDataValidations("payouts")
	if err != nil || len(dvs) != 1 || !strings.Contains(dvs[0].Formula1, "currencies!$A$1:$A$60") {
		t.Fatalf("data validations %v %+v", err, dvs)
	}
	if visible, _ := f.GetSheetVisible("currencies"); visible {
		t.Error("the list sheet is visible")
	}
	// The reader still picks the payouts sheet.
	sh := readBytes(t, "t.xlsx", buf.Bytes(), payouts.ReadOptions{})
	if len(sh.Errors) != 1 || !strings.Contains(sh.Errors[0].Message, "no payout rows") {
		t.Errorf("errors %+v", sh.Errors)
	}
}
