package payouts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nordpay/nordpay-jobs/internal/spreadsheet"
	"github.com/xuri/excelize/v2"
)

// Statuses of a row in the report.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// WriteReport writes the sheet back in its own format (CSV with the same separator, BOM,
// "sep=" line and line ends; XLSX) with two more columns: status ("ok" or "error") and errors (the
// row's problems, joined). Rows keep the numbers they had, so that the errors printed
// elsewhere point at the same rows; problems of the whole sheet follow the last row. errs is
// what Validate returned (which includes the sheet's read errors). Text from the sheet is
// neutralised against formula injection. The sheet must come from ReadSheet.
func WriteReport(w io.Writer, sheet *Sheet, errs []RowError) error {
	raw, ok := sheet.Raw.(*rawSheet)
	if !ok || raw == nil {
		return errors.New("payouts: report: the sheet was not read by ReadSheet")
	}
	rep := buildReport(raw, errs)
	var err error
	if raw.format == "xlsx" {
		err = rep.writeXLSX(w)
	} else {
		err = rep.writeCSV(w, raw)
	}
	if err != nil {
		return fmt.Errorf("payouts: unable to write the report of %s: %w", sheet.Name, err)
	}
	return nil
}

// reportLine is one row of the report: its number, cells, status and errors.
type reportLine struct {
	line   int
	cells  []string
	status string
	errors string
	header bool
	blank  bool // an empty row, kept so that the rows below keep their numbers
}

type report struct {
	width int // data columns; status and errors follow
	lines []reportLine
}

func buildReport(raw *rawSheet, errs []RowError) *report {
	msgs := map[int][]string{}
	last := raw.lastLine
	for _, e := range errs {
		m := e.Message
		if e.Field != "" {
			m = e.Field + ": " + m
		}
		msgs[e.Row] = append(msgs[e.Row], m)
		last = max(last, e.Row)
	}
	rep := &report{width: len(raw.header)}
	for _, r := range raw.rows {
		rep.width = max(rep.width, len(r.cells))
	}
	usable := raw.headerLine > 0
	for _, c := range raw.cols[:requiredFields] {
		usable = usable && c >= 0
	}
	byLine := make(map[int][]string, len(raw.rows))
	for _, r := range raw.rows {
		byLine[r.line] = r.cells
	}
	headerLine := max(raw.headerLine, 1) // an empty sheet gets a header of status and errors
	for n := 1; n <= max(last, headerLine); n++ {
		cells, has := byLine[n]
		switch {
		case n == headerLine:
			rep.lines = append(rep.lines, reportLine{line: n, cells: raw.header, header: true})
		case len(msgs[n]) > 0:
			rep.lines = append(rep.lines, reportLine{line: n, cells: cells, status: StatusError, errors: strings.Join(msgs[n], "; ")})
		case has && usable:
			rep.lines = append(rep.lines, reportLine{line: n, cells: cells, status: StatusOK})
		case has:
			rep.lines = append(rep.lines, reportLine{line: n, cells: cells, status: StatusError, errors: "not read: see the problems of the whole sheet below"})
		default:
			rep.lines = append(rep.lines, reportLine{line: n, blank: true})
		}
	}
	next := max(last, headerLine) + 1
	for _, m := range msgs[0] {
		rep.lines = append(rep.lines, reportLine{line: next, status: StatusError, errors: "whole sheet: " + m})
		next++
	}
	return rep
}

// values are a line's cells padded to the width, then status and errors, neutralised.
func (rep *report) values(l reportLine) []string {
	out := make([]string, rep.width+2)
	for i, c := range l.cells {
		out[i] = neutralise(c)
	}
	if l.header {
		out[rep.width], out[rep.width+1] = "status", "errors"
	} else {
		out[rep.width], out[rep.width+1] = l.status, neutralise(l.errors)
	}
	return out
}

func (rep *report) writeCSV(w io.Writer, raw *rawSheet) error {
	if raw.bom {
		if _, err := w.Write(utf8BOM); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	if raw.sep != 0 {
		cw.Comma = raw.sep
	}
	cw.UseCRLF = raw.crlf
	if raw.sepLine {
		eol := "\n"
		if raw.crlf {
			eol = "\r\n"
		}
		if _, err := io.WriteString(w, "sep="+string(cw.Comma)+eol); err != nil {
			return err
		}
	}
	for _, l := range rep.lines {
		if err := cw.Write(rep.values(l)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (rep *report) writeXLSX(w io.Writer) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := f.SetSheetName(f.GetSheetName(0), templateSheet); err != nil {
		return err
	}
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return err
	}
	bad, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "9C0006"},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFC7CE"}}})
	if err != nil {
		return err
	}
	good, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "006100"},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"C6EFCE"}}})
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(templateSheet)
	if err != nil {
		return err
	}
	headerLine := 1
	for _, l := range rep.lines {
		if l.header {
			headerLine = l.line
			break
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: headerLine, TopLeftCell: fmt.Sprintf("A%d", headerLine+1), ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := sw.SetColWidth(rep.width+1, rep.width+1, 10); err != nil {
		return err
	}
	if err := sw.SetColWidth(rep.width+2, rep.width+2, 80); err != nil {
		return err
	}
	for _, l := range rep.lines {
		if l.blank {
			continue
		}
		vals := rep.values(l)
		row := make([]any, len(vals))
		for i, v := range vals {
			row[i] = v
		}
		switch {
		case l.header:
			for i := range row {
				row[i] = excelize.Cell{StyleID: header, Value: vals[i]}
			}
		case l.status == StatusError:
			row[rep.width] = excelize.Cell{StyleID: bad, Value: l.status}
		case l.status == StatusOK:
			row[rep.width] = excelize.Cell{StyleID: good, Value: l.status}
		}
		if err := sw.SetRow(fmt.Sprintf("A%d", l.line), row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.Write(w)
}

// neutralise makes text from a sheet inert in a spreadsheet cell (internal/spreadsheet, the rule
// every CSV and XLSX writer of the project follows).
func neutralise(s string) string { return spreadsheet.Neutralise(s) }
