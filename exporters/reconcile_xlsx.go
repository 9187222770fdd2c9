package exporters

import (
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// WriteReconciliationXLSX writes the report as one workbook: sheets Summary, Receipts,
// Fees, Payouts and Exceptions, with styled headers, frozen and filtered where a sheet is
// one table, amounts at each currency's precision, days and times as date cells. Amounts
// are exact: a value of more than 15 significant digits, which a spreadsheet number would
// round, is written as text. Text that a user or the API controls is neutralised
// (Neutralise).
func WriteReconciliationXLSX(w io.Writer, r *Reconciliation) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("exporters: unable to close the workbook: %w", cerr)
		}
	}()
	st, err := newReconStyles(f)
	if err != nil {
		return err
	}
	for i, s := range r.sheets() {
		if i == 0 {
			if err := f.SetSheetName(f.GetSheetName(0), s.name); err != nil {
				return fmt.Errorf("exporters: unable to name sheet %s: %w", s.name, err)
			}
		} else if _, err := f.NewSheet(s.name); err != nil {
			return fmt.Errorf("exporters: unable to add sheet %s: %w", s.name, err)
		}
		if err := writeReconSheet(f, st, s); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	if err := f.Write(w); err != nil {
		return fmt.Errorf("exporters: unable to write the workbook: %w", err)
	}
	return nil
}

// reconStyles are the workbook's cell styles, amounts one per precision.
type reconStyles struct {
	f                                           *excelize.File
	header, title, count, day, time, amountText int
	amounts                                     map[int32]int
}

func newReconStyles(f *excelize.File) (*reconStyles, error) {
	st := &reconStyles{f: f, amounts: map[int32]int{}}
	dayFormat, timeFormat := "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss" // the statement's (rfc3339)
	for _, s := range []struct {
		id    *int
		style *excelize.Style
	}{
		{&st.header, &excelize.Style{
			Font:      &excelize.Font{Bold: true},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
			Border:    []excelize.Border{{Type: "bottom", Color: "7F7F7F", Style: 1}},
			Alignment: &excelize.Alignment{WrapText: true, Vertical: "center"},
		}},
		{&st.title, &excelize.Style{Font: &excelize.Font{Bold: true}}},
		{&st.count, &excelize.Style{NumFmt: 3}}, // #,##0
		{&st.day, &excelize.Style{CustomNumFmt: &dayFormat}},
		{&st.time, &excelize.Style{CustomNumFmt: &timeFormat}},
		{&st.amountText, &excelize.Style{Alignment: &excelize.Alignment{Horizontal: "right"}}},
	} {
		id, err := f.NewStyle(s.style)
		if err != nil {
			return nil, fmt.Errorf("exporters: unable to make a cell style: %w", err)
		}
		*s.id = id
	}
	return st, nil
}

// amount returns the style of amounts at places decimals: "#,##0.00…".
func (st *reconStyles) amount(places int32) (int, error) {
	if id, ok := st.amounts[places]; ok {
		return id, nil
	}
	format := "#,##0"
	if places > 0 {
		format += "." + strings.Repeat("0", int(places))
	}
	id, err := st.f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err != nil {
		return 0, fmt.Errorf("exporters: unable to make the style of %d decimals: %w", places, err)
	}
	st.amounts[places] = id
	return id, nil
}

// reconMaxExactDigits is how many significant digits a spreadsheet number keeps.
const reconMaxExactDigits = 15

// reconSpreadsheetNumber returns the float64 that excelize writes as exactly the digits of d
// (strconv's shortest form), and false when there is none: more than 15 significant
// digits, which a spreadsheet would round. The float64 only carries the value into the
// library; the check below proves the written digits are d's.
func reconSpreadsheetNumber(d decimal.Decimal) (float64, bool) {
	digits := strings.TrimRight(strings.TrimLeft(d.Coefficient().String(), "-"), "0")
	if len(digits) > reconMaxExactDigits {
		return 0, false
	}
	f := d.InexactFloat64()
	back, err := decimal.NewFromString(strconv.FormatFloat(f, 'f', -1, 64))
	if err != nil || !back.Equal(d) {
		return 0, false
	}
	return f, true
}

// reconSerial returns the spreadsheet serial day number of t (as the statement's date
// cells: see stmtSerial) as the float64 nearest to it, which a spreadsheet reads as it is:
// until the year 2079 a float64 step is 0.63 µs, so the microsecond comes back exactly.
// False for a time a spreadsheet cannot show as a date. excelize's own conversion of a
// time.Time rounds twice and can miss the microsecond.
func reconSerial(t time.Time) (float64, bool) {
	t = t.UTC()
	if t.Before(time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC)) || t.Year() > 9999 {
		return 0, false
	}
	micros := (t.Unix()-stmtExcelEpoch.Unix())*1_000_000 + int64(t.Nanosecond()/1000)
	serial, _ := new(big.Rat).SetFrac64(micros, stmtMicrosPerDay).Float64()
	return serial, true
}

// cell turns a report cell into an excelize cell.
func (st *reconStyles) cell(c reconCell) (any, error) {
	switch c.kind {
	case reconLabel:
		return c.text, nil
	case reconText:
		return Neutralise(c.text), nil
	case reconCount:
		return excelize.Cell{StyleID: st.count, Value: c.count}, nil
	case reconDay:
		return excelize.Cell{StyleID: st.day, Value: c.at}, nil
	case reconTime:
		if serial, ok := reconSerial(c.at); ok {
			return excelize.Cell{StyleID: st.time, Value: serial}, nil
		}
		return c.at.Format(reconTimeLayout), nil // a time no spreadsheet can show as a date
	case reconAmount:
		if f, ok := reconSpreadsheetNumber(c.amount); ok {
			id, err := st.amount(c.places)
			if err != nil {
				return nil, err
			}
			return excelize.Cell{StyleID: id, Value: f}, nil
		}
		// As text, written as the CSV writes it: exact, and padded to the currency's decimals.
		return excelize.Cell{StyleID: st.amountText, Value: reconCSVAmount(c.amount, c.places)}, nil
	}
	return nil, nil
}

// writeReconSheet streams one sheet.
func writeReconSheet(f *excelize.File, st *reconStyles, s reconSheet) error {
	sw, err := f.NewStreamWriter(s.name)
	if err != nil {
		return fmt.Errorf("exporters: unable to write sheet %s: %w", s.name, err)
	}
	fail := func(err error) error { return fmt.Errorf("exporters: unable to write sheet %s: %w", s.name, err) }
	widths := map[int]float64{}
	for _, t := range s.tables {
		for i, c := range t.columns {
			widths[i+1] = max(widths[i+1], c.width)
		}
	}
	for col := 1; col <= len(widths); col++ {
		if err := sw.SetColWidth(col, col, widths[col]); err != nil {
			return fail(err)
		}
	}
	if s.single() {
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return fail(err)
		}
	}
	row := 1
	put := func(values []any) error {
		cell, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		row++
		return sw.SetRow(cell, values)
	}
	for _, line := range s.lines {
		if err := put([]any{excelize.Cell{StyleID: st.title, Value: line}}); err != nil {
			return fail(err)
		}
	}
	for i, t := range s.tables {
		if i > 0 || len(s.lines) > 0 {
			row++
		}
		if t.title != "" {
			if err := put([]any{excelize.Cell{StyleID: st.title, Value: t.title}}); err != nil {
				return fail(err)
			}
		}
		header := make([]any, len(t.columns))
		for j, c := range t.columns {
			header[j] = excelize.Cell{StyleID: st.header, Value: c.header}
		}
		headerRow := row
		if err := put(header); err != nil {
			return fail(err)
		}
		values := make([]any, len(t.columns))
		for cells := range t.rows {
			for j := range values {
				values[j] = nil
				if j < len(cells) {
					if values[j], err = st.cell(cells[j]); err != nil {
						return fail(err)
					}
				}
			}
			if err := put(values); err != nil {
				return fail(err)
			}
		}
		if s.single() && row-1 > headerRow {
			last, err := excelize.CoordinatesToCellName(len(t.columns), row-1)
			if err != nil {
				return fail(err)
			}
			if err := sw.AddTable(&excelize.Table{Range: "A1:" + last, Name: "Report" + s.name, StyleName: "TableStyleLight1"}); err != nil {
				return fail(err)
			}
		}
	}
	if err := sw.Flush(); err != nil {
		return fail(err)
	}
	return nil
}
