package payouts

import (
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// templateNotes explain each column, as the XLSX template's header comments.
var templateNotes = [nFields]string{
	fCurrency:  "Required. Nord PAY's currency name, token and network together: USDTTRC20, USDTBEP20, BTC... Pick it from the list.",
	fAddress:   "Required. The recipient's address on that currency's network: 0x... for ERC20/BEP20, T... for TRC20, bc1..., 1... or 3... for BTC. Copy and paste it from the recipient; never type it.",
	fAmount:    "Required. The amount in the currency (not in USD), with a point as the decimal separator and no thousands separators, at most the currency's decimals. Nord PAY's service fee is taken from it: the recipient receives the amount minus the fee.",
	fReference: "Required, unique in the sheet: your id of this payment (invoice number, employee id...). It names the row in every report.",
	fName:      "Optional. Who is paid, for the people who approve the sheet.",
	fNote:      "Optional. Anything the approvers should know.",
}

// templateWidths are the columns' widths in the XLSX template.
var templateWidths = [nFields]float64{14, 46, 16, 20, 26, 36}

// WriteTemplate writes an empty payout sheet for finance to fill in. format is "xlsx": a
// sheet "payouts" with the header (frozen), a comment on each header cell explaining the
// column, a drop-down of currencies (when given) on the currency column, and the address,
// amount and reference columns formatted as text, so that a spreadsheet keeps what is typed
// (no 1.5E-7, no lost leading zeros, no dates). Or "csv": the header line only.
func WriteTemplate(w io.Writer, format string, currencies []string) error {
	switch strings.ToLower(strings.TrimPrefix(format, ".")) {
	case "csv":
		if _, err := io.WriteString(w, strings.Join(Columns, ",")+"\n"); err != nil {
			return fmt.Errorf("payouts: unable to write the template: %w", err)
		}
		return nil
	case "xlsx":
		return writeTemplateXLSX(w, currencies)
	}
	return fmt.Errorf("payouts: unknown template format %q: use xlsx or csv", format)
}

const templateSheet = "payouts"

func writeTemplateXLSX(w io.Writer, currencies []string) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("payouts: unable to close the template: %w", cerr)
		}
	}()
	wrap := func(what string, err error) error {
		return fmt.Errorf("payouts: template: unable to %s: %w", what, err)
	}
	if err := f.SetSheetName(f.GetSheetName(0), templateSheet); err != nil {
		return wrap("name the sheet", err)
	}
	header, err := f.NewStyle(&excelize.Style{
		Font:   &excelize.Font{Bold: true},
		Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Border: []excelize.Border{{Type: "bottom", Color: "7F7F7F", Style: 1}},
	})
	if err != nil {
		return wrap("make the header style", err)
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": text
	if err != nil {
		return wrap("make the text style", err)
	}
	for i, name := range Columns {
		col := columnName(i)
		if err := f.SetColWidth(templateSheet, col, col, templateWidths[i]); err != nil {
			return wrap("size column "+col, err)
		}
		if i == fAddress || i == fAmount || i == fReference {
			if err := f.SetColStyle(templateSheet, col, text); err != nil {
				return wrap("format column "+col+" as text", err)
			}
		}
		cellRef := col + "1"
		if err := f.SetCellStr(templateSheet, cellRef, name); err != nil {
			return wrap("write the header", err)
		}
		if err := f.SetCellStyle(templateSheet, cellRef, cellRef, header); err != nil {
			return wrap("style the header", err)
		}
		if err := f.AddComment(templateSheet, excelize.Comment{
			Cell: cellRef, Author: "nordpay-jobs",
			Paragraph: []excelize.RichTextRun{{Text: templateNotes[i]}},
			Width:     320, Height: 110,
		}); err != nil {
			return wrap("add the note on "+cellRef, err)
		}
	}
	if len(currencies) > 0 {
		if err := addCurrencyList(f, currencies); err != nil {
			return wrap("add the currency list", err)
		}
	}
	if err := f.SetPanes(templateSheet, &excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return wrap("freeze the header", err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("payouts: unable to write the template: %w", err)
	}
	return nil
}

// addCurrencyList puts a drop-down on the currency column: an inline list when it fits the
// 255 characters a spreadsheet allows, else a list on a hidden sheet.
func addCurrencyList(f *excelize.File, currencies []string) error {
	dv := excelize.NewDataValidation(true)
	dv.SetSqref("A2:A1048576")
	dv.SetError(excelize.DataValidationErrorStyleStop, "Unknown currency", "Pick one of Nord PAY's currencies from the list.")
	inline := len(strings.Join(currencies, ",")) <= 255
	for _, c := range currencies {
		inline = inline && !strings.ContainsAny(c, ",\"")
	}
	if inline {
		if err := dv.SetDropList(currencies); err != nil {
			return err
		}
	} else {
		const list = "currencies"
		if _, err := f.NewSheet(list); err != nil {
			return err
		}
		for i, c := range currencies {
			if err := f.SetCellStr(list, fmt.Sprintf("A%d", i+1), c); err != nil {
				return err
			}
		}
		if err := f.SetSheetVisible(list, false); err != nil {
			return err
		}
		dv.SetSqrefDropList(fmt.Sprintf("%s!$A$1:$A$%d", list, len(currencies)))
	}
	return f.AddDataValidation(templateSheet, dv)
}
