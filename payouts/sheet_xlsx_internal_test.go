package payouts

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

type scannedRow struct {
	row   int
	kinds []cellKind
}

// scanAll runs a scanner over a worksheet to its end.
func scanAll(sheetData string, dateStyle []bool) ([]scannedRow, error) {
	s := newKindScanner(strings.NewReader(wrapSheet(sheetData)), dateStyle)
	var out []scannedRow
	for n := 1; n < 1<<20 && !s.done; n++ {
		if k := s.at(n); k != nil || s.row == n {
			out = append(out, scannedRow{n, append([]cellKind(nil), k...)})
		}
	}
	return out, s.err
}

func scanAllXML(sheetData string, dateStyle []bool) ([]scannedRow, error) {
	s := &xmlKindScanner{dec: xml.NewDecoder(strings.NewReader(wrapSheet(sheetData))), dateStyle: dateStyle}
	var out []scannedRow
	for n := 1; n < 1<<20 && !s.done; n++ {
		if k := s.at(n); k != nil || s.row == n {
			out = append(out, scannedRow{n, append([]cellKind(nil), k...)})
		}
	}
	return out, s.err
}

func wrapSheet(sheetData string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1"/><sheetData>` +
		sheetData + `</sheetData><pageMargins left="0.7"/></worksheet>`
}

func TestKindScanner(t *testing.T) {
	t.Parallel()
	dates := []bool{false, true} // style 1 is a date
	for _, tc := range []struct {
		name, xml string
		want      []scannedRow
	}{
		{"Kinds", `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>1.5</v></c><c r="C1" s="1"><v>45000</v></c>` +
			`<c r="D1" t="b"><v>1</v></c><c r="E1" t="e"><v>#N/A</v></c><c r="F1"><f>A1*2</f></c><c r="G1" t="str"><f>A1</f><v>x</v></c>` +
			`<c r="H1" s="1"/><c r="I1" t="inlineStr"><is><r><rPr><b/></rPr><t>a</t></r></is></c><c r="J1" t="d"><v>2026-01-01</v></c></row>`,
			[]scannedRow{{1, []cellKind{kindText, kindNumber, kindDate, kindBool, kindError, kindNoCache, kindText, kindText, kindText, kindDate}}}},
		{"NoReferences", `<row><c t="s"><v>0</v></c><c><v>2</v></c></row><row><c><f>1+1</f></c></row>`,
			[]scannedRow{{1, []cellKind{kindText, kindNumber}}, {2, []cellKind{kindNoCache}}}},
		{"GapsAndSelfClosingRows", `<row r="2"/><row r="5" spans="1:3" hidden="1"><c r="C5"><v>1</v></c></row>`,
			[]scannedRow{{2, nil}, {5, []cellKind{kindText, kindText, kindNumber}}}},
		{"CommentsCDATAPrefixes", `<!-- <row r="9"><c r="A9"><v>1</v></c></row> --><x:row r="1" xmlns:x="urn:x">` +
			`<x:c r="A1" t='str'><x:f><![CDATA[<c r="Z1"></c>]]></x:f><x:v>ok</x:v></x:c><?pi <c>?><x:c r = "B1" ><x:v >3</x:v></x:c></x:row>`,
			[]scannedRow{{1, []cellKind{kindText, kindNumber}}}},
		{"FormulaSelfClosingWithValue", `<row r="1"><c r="A1"><f t="shared" si="0"/><v>7</v></c></row>`,
			[]scannedRow{{1, []cellKind{kindNumber}}}},
		{"QuotedGreaterThan", `<row r="1"><c r="A1" xr:uid="a>b"><v>7</v></c></row>`,
			[]scannedRow{{1, []cellKind{kindNumber}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scanAll(tc.xml, dates)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{`<row r="2"></row><row r="1"></row>`, `<row r="1"><c r="1A"><v>1</v></c></row>`, `<row r="1"><c r="A1"><v>1</v>`} {
		if _, err := scanAll(bad, nil); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzKindScanner checks the hand-written scanner against the encoding/xml one.
func FuzzKindScanner(f *testing.F) {
	for _, s := range []string{
		`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>1.5</v></c><c r="C1"><f>A1</f></c></row>`,
		`<row><c><v>1</v></c></row><row r="3"/><!-- x --><row><c t="b"><v>1</v></c></row>`,
		`<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[<c>]]></t></is></c></row>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sheetData string) {
		if strings.ContainsAny(sheetData, "&") {
			return // entities in attribute values: Excel writes none in r, s and t
		}
		want, werr := scanAllXML(sheetData, []bool{false, true})
		got, gerr := scanAll(sheetData, []bool{false, true})
		if werr != nil {
			return
		}
		if gerr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got  %v, %v\n want %v", sheetData, got, gerr, want)
		}
	})
}

// xmlKindScanner is the scanner written with encoding/xml's RawToken: slower, and kept as
// the oracle that the hand-written kindScanner is checked against.
type xmlKindScanner struct {
	dec       *xml.Decoder
	dateStyle []bool
	row       int        // the row that kinds describe
	kinds     []cellKind // by column index (0 is A)
	done      bool
	err       error
}

// at returns the kinds of row n's cells, or nil when the XML has no such row. Rows are
// asked for in increasing order.
func (s *xmlKindScanner) at(n int) []cellKind {
	for !s.done && s.row < n {
		s.next()
	}
	if s.row == n {
		return s.kinds
	}
	return nil
}

// next reads the next <row> element.
func (s *xmlKindScanner) next() {
	for {
		tok, err := s.dec.RawToken()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.err = err
			}
			s.done = true
			return
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local != "row" {
				continue
			}
			r := s.row + 1
			if v := attr(el, "r"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n <= s.row {
					s.err, s.done = fmt.Errorf("row number %q out of order", v), true
					return
				}
				r = n
			}
			s.row = r
			s.kinds = s.kinds[:0]
			s.readRow()
			return
		case xml.EndElement:
			if el.Name.Local == "sheetData" {
				s.done = true
				return
			}
		}
	}
}

// readRow reads the cells of a row up to its end.
func (s *xmlKindScanner) readRow() {
	col := -1
	for {
		tok, err := s.dec.RawToken()
		if err != nil {
			s.err, s.done = fmt.Errorf("row %d: %w", s.row, err), true
			return
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local != "c" {
				continue
			}
			col++
			if ref := attr(el, "r"); ref != "" {
				c, ok := columnIndex(ref)
				if !ok {
					s.err, s.done = fmt.Errorf("bad cell reference %q", ref), true
					return
				}
				col = c
			}
			kind := s.readCell(el)
			if s.err != nil {
				return
			}
			if col >= 16384 {
				continue // beyond a spreadsheet's last column
			}
			for len(s.kinds) <= col {
				s.kinds = append(s.kinds, kindText)
			}
			s.kinds[col] = kind
		case xml.EndElement:
			if el.Name.Local == "row" {
				return
			}
		}
	}
}

// readCell reads a <c> element to its end and classifies it.
func (s *xmlKindScanner) readCell(start xml.StartElement) cellKind {
	typ := attr(start, "t")
	style := -1
	if v := attr(start, "s"); v != "" {
		style, _ = strconv.Atoi(v)
	}
	hasF, hasV := false, false
	for depth := 0; ; {
		tok, err := s.dec.RawToken()
		if err != nil {
			s.err, s.done = fmt.Errorf("row %d: %w", s.row, err), true
			return kindText
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				switch el.Name.Local {
				case "f":
					hasF = true
				case "v":
					hasV = true
				}
			}
		case xml.EndElement:
			if depth == 0 {
				return kindOf(typ, style, hasF, hasV, s.dateStyle)
			}
			depth--
		}
	}
}

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}
