package payouts

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readCSV reads CSV text: UTF-8 (with or without a BOM), the separator , ; or tab that the
// header line has most of (or that an Excel "sep=" first line names), quotes as RFC 4180. Row numbers are the ones a spreadsheet program shows
// for the file: blank lines count, and a quoted cell spanning lines is one row.
func readCSV(sh *Sheet, data []byte, opts ReadOptions) error {
	b := newBuilder(sh, "csv", opts)
	raw := b.raw
	if bytes.HasPrefix(data, utf8BOM) {
		raw.bom = true
		data = data[len(utf8BOM):]
	}
	raw.crlf = bytes.Contains(data[:min(len(data), 64<<10)], []byte("\r\n"))
	raw.sep = detectSeparator(data)
	// Excel's "sep=;" first line names the separator, and Excel does not show it as a row.
	if sep, rest, ok := sepLine(data); ok {
		raw.sep, raw.sepLine, data = sep, true, rest
	}

	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = raw.sep
	r.FieldsPerRecord = -1
	r.LazyQuotes = false
	// Rows are numbered as a spreadsheet shows them: the gap between the line where the
	// previous record ended and the line where this one starts is made of blank lines, each
	// an empty row.
	prevRow, prevEnd := 0, 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			row := prevRow + max(pe.StartLine-prevEnd, 1)
			b.rowError(row, "", "the CSV is malformed here (%s): a quote inside a cell must be doubled (\"\") and a quoted cell must be closed", csvReason(pe.Err))
			raw.lastLine = max(raw.lastLine, row)
			prevRow, prevEnd = row, pe.Line
			if b.raw.headerLine == 0 {
				// Without a header nothing else can be read.
				break
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("payouts: %s: unable to read the CSV: %w", sh.Name, err)
		}
		start, _ := r.FieldPos(0)
		lastStart, _ := r.FieldPos(len(rec) - 1)
		row := prevRow + max(start-prevEnd, 1)
		prevRow, prevEnd = row, lastStart+strings.Count(rec[len(rec)-1], "\n")
		cells := make([]cell, len(rec))
		for i, f := range rec {
			if utf8.ValidString(f) {
				cells[i] = cell{text: f}
			} else {
				cells[i] = cell{text: strings.ToValidUTF8(f, "\uFFFD"), kind: kindBadUTF8}
			}
		}
		if err := b.add(row, cells, false); err != nil {
			return err
		}
	}
	b.finish()
	return nil
}

func csvReason(err error) string {
	switch {
	case errors.Is(err, csv.ErrBareQuote):
		return "a stray quote"
	case errors.Is(err, csv.ErrQuote):
		return "a quote not closed"
	}
	return err.Error()
}

// detectSeparator picks , ; or tab by counting them, outside quotes, in the first
// non-blank line (the header). A tie is a comma.
func detectSeparator(data []byte) rune {
	line := data
	for len(line) > 0 {
		var rest []byte
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, rest = line[:i], line[i+1:]
		}
		if len(bytes.TrimSpace(line)) > 0 {
			break
		}
		line = rest
	}
	commas, semis, tabs, quoted := 0, 0, 0, false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			commas++
		case c == ';':
			semis++
		case c == '\t':
			tabs++
		}
	}
	switch {
	case tabs > commas && tabs > semis:
		return '\t' // Excel's "Text (Tab delimited)"
	case semis > commas:
		return ';'
	}
	return ','
}

// sepLine recognises a first line "sep=;" (or , | tab) and returns the separator and the
// data after that line.
func sepLine(data []byte) (rune, []byte, bool) {
	line, rest, found := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if !found || len(line) != 5 || !bytes.EqualFold(line[:4], []byte("sep=")) {
		return 0, nil, false
	}
	switch c := rune(line[4]); c {
	case ',', ';', '\t', '|':
		return c, rest, true
	}
	return 0, nil, false
}
