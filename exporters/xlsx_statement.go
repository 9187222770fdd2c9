package exporters

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/templates"
)

// An XLSX statement is built in two parts, so that memory stays flat however many lines it
// has, and every amount goes into the file exactly as the ledger holds it:
//
//   - excelize makes the workbook: the sheets (a Summary sheet and one per currency), each
//     with its StreamWriter frame (column widths, frozen and styled header row, the table
//     with its filters), the styles and number formats, the document properties.
//   - the lines are not given to the StreamWriter: its SetRow writes numbers only from Go
//     ints and float64s (a decimal would go through float64), and its Write/SaveAs build the
//     whole zip in memory (308 MB for 1M lines). Instead, excelize writes its parts through
//     stmtZip (File.SetZipWriter), which passes most parts straight into a zip streaming to
//     the file and holds back the small frames of our sheets and tables; then the lines are
//     streamed from the ledger into each held sheet, between its header row and
//     </sheetData>, each number written as its exact decimal text; last come the Summary
//     sheet, whose totals are known only then, and the tables, whose ranges are known only
//     then.
//
// A number cell holds the exact decimal text; a value of more than 15 significant digits
// (more than a spreadsheet's double keeps) goes in as text, right-aligned, so nothing is
// rounded. Times are real date cells (serial day numbers, exact to the microsecond).

// stmtXLSXMaxRows is the number of rows a sheet holds.
const stmtXLSXMaxRows = 1 << 20

// stmtXLSXMaxDigits is the most significant digits a number cell may have: a spreadsheet
// holds numbers as IEEE doubles, exact to 15 digits.
const stmtXLSXMaxDigits = 15

// stmtXLSXMaxScale is the most decimals a number cell may have; number formats exist for
// 0..stmtXLSXMaxScale decimals (Nord PAY's currencies have at most 30).
const stmtXLSXMaxScale = 30

// stmtXLSXTablePlaceholder is the range tables are declared with until their rows are known.
const stmtXLSXTablePlaceholder = "A1:A2"

// stmtXLSXStyles are the style ids of the cells we write ourselves.
type stmtXLSXStyles struct {
	header        int
	text, textB   int // bold variants (the B fields) are for the opening, total and closing rows
	date, dateB   int
	stamp         int // Summary's date-time cells
	big, bigB     int // numbers of more than 15 digits, as right-aligned text
	num, numB     [stmtXLSXMaxScale + 1]int
	integer       int
	label         int
	summaryHeader int
}

// stmtXLSXSheet is one currency's sheet.
type stmtXLSXSheet struct {
	cur   *stmtCurrency
	name  string
	path  string // its part in the zip
	table string // its table's name; "" when it has no table
	ref   string // the table's range, once the rows are written
}

// stmtXLSX writes one XLSX statement.
type stmtXLSX struct {
	run         *stmtRun
	file        *excelize.File
	styles      stmtXLSXStyles
	sheets      []*stmtXLSXSheet
	summaryPath string
	zip         *stmtZip
}

// writeStatementXLSX writes the statement of r as one XLSX file.
func writeStatementXLSX(r *stmtRun, files Files) (err error) {
	out, err := files.Create("")
	if err != nil {
		return err
	}
	x := &stmtXLSX{run: r, file: excelize.NewFile()}
	defer func() {
		if cerr := x.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("exporters: unable to clean up the workbook: %w", cerr)
		}
	}()
	if err := x.build(); err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	// Level 1: the sheets are large and repetitive; level 6 (the default) took twice the time
	// for a file 15% smaller.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	x.zip = &stmtZip{zw: zw, hold: map[string]bool{x.summaryPath: true}, held: map[string]*bytes.Buffer{}}
	for _, s := range x.sheets {
		x.zip.hold[s.path] = true
	}
	x.file.SetZipWriter(func(io.Writer) excelize.ZipWriter { return x.zip })
	if _, err := x.file.WriteTo(io.Discard); err != nil {
		return fmt.Errorf("exporters: unable to write the workbook: %w", err)
	}
	for _, s := range x.sheets {
		if err := x.fillSheet(s); err != nil {
			return err
		}
	}
	if err := x.fillSummary(); err != nil {
		return err
	}
	if err := x.fillTables(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("exporters: unable to write the workbook: %w", err)
	}
	return nil
}

// build makes the workbook: styles, the Summary sheet and a sheet per currency, each with
// its frame.
func (x *stmtXLSX) build() error {
	f := x.file
	now := x.run.opts.Now().UTC().Format(time.RFC3339)
	if err := f.SetDocProps(&excelize.DocProperties{
		Title: "Nord PAY statement", Creator: "nordpay-jobs", Created: now, Modified: now,
		Description: fmt.Sprintf("statement from %s to %s (exclusive), template %s",
			stmtTimeText(x.run.opts.From), stmtTimeText(x.run.opts.To), x.run.layout.tpl.Name),
	}); err != nil {
		return fmt.Errorf("exporters: unable to set the workbook's properties: %w", err)
	}
	if err := x.makeStyles(); err != nil {
		return err
	}
	const summary = "Summary"
	if err := f.SetSheetName("Sheet1", summary); err != nil {
		return fmt.Errorf("exporters: unable to name the summary sheet: %w", err)
	}
	sw, err := f.NewStreamWriter(summary)
	if err != nil {
		return fmt.Errorf("exporters: unable to start the summary sheet: %w", err)
	}
	if err := sw.SetColWidth(1, 1, 26); err != nil {
		return fmt.Errorf("exporters: unable to lay out the summary sheet: %w", err)
	}
	if err := sw.SetColWidth(2, len(stmtSummaryHeaders), 20); err != nil {
		return fmt.Errorf("exporters: unable to lay out the summary sheet: %w", err)
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("exporters: unable to lay out the summary sheet: %w", err)
	}
	if err := sw.SetRow("A1", stmtHeaderCells(stmtSummaryHeaders, x.styles.summaryHeader)); err != nil {
		return fmt.Errorf("exporters: unable to write the summary header: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("exporters: unable to write the summary sheet: %w", err)
	}
	x.summaryPath = "xl/worksheets/sheet" + strconv.Itoa(sw.SheetID) + ".xml"

	names := map[string]bool{strings.ToLower(summary): true}
	tables := map[string]bool{}
	layout := x.run.layout
	lastCol, err := excelize.ColumnNumberToName(len(layout.columns))
	if err != nil {
		return fmt.Errorf("exporters: template %s has too many columns: %w", layout.tpl.Name, err)
	}
	for _, c := range x.run.currencies {
		s := &stmtXLSXSheet{cur: c, name: stmtUniqueName(stmtSheetName(c.Currency), names, 31, " ")}
		if _, err := f.NewSheet(s.name); err != nil {
			return fmt.Errorf("exporters: unable to add the %s sheet: %w", c.Currency, err)
		}
		sw, err := f.NewStreamWriter(s.name)
		if err != nil {
			return fmt.Errorf("exporters: unable to start the %s sheet: %w", c.Currency, err)
		}
		for i, col := range layout.columns {
			if err := sw.SetColWidth(i+1, i+1, stmtColumnWidth(col)); err != nil {
				return fmt.Errorf("exporters: unable to lay out the %s sheet: %w", c.Currency, err)
			}
		}
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return fmt.Errorf("exporters: unable to lay out the %s sheet: %w", c.Currency, err)
		}
		if err := sw.SetRow("A1", stmtHeaderCells(layout.headers(), x.styles.header)); err != nil {
			return fmt.Errorf("exporters: unable to write the %s header: %w", c.Currency, err)
		}
		s.table = stmtUniqueName("Lines_"+stmtTableSafe(c.Currency), tables, 255, "_")
		// The range is a placeholder: the table XML is rewritten with the real one when the
		// rows are known (fillTables).
		if err := sw.AddTable(&excelize.Table{
			Range: "A1:" + lastCol + "2", Name: s.table, StyleName: "TableStyleMedium2",
		}); err != nil {
			return fmt.Errorf("exporters: unable to add the %s table: %w", c.Currency, err)
		}
		if err := sw.Flush(); err != nil {
			return fmt.Errorf("exporters: unable to write the %s sheet: %w", c.Currency, err)
		}
		s.path = "xl/worksheets/sheet" + strconv.Itoa(sw.SheetID) + ".xml"
		s.ref = "A1:" + lastCol + "2"
		x.sheets = append(x.sheets, s)
	}
	return nil
}

// makeStyles registers the styles of the cells we write.
func (x *stmtXLSX) makeStyles() error {
	f := x.file
	st := &x.styles
	bold := &excelize.Font{Bold: true}
	var err error
	add := func(dst *int, s *excelize.Style) {
		if err == nil {
			*dst, err = f.NewStyle(s)
		}
	}
	add(&st.header, &excelize.Style{
		Font:      &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"305496"}},
		Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
	})
	st.summaryHeader = st.header
	add(&st.textB, &excelize.Style{Font: bold})
	st.label = st.textB
	timeFmt := x.run.layout.time.Spreadsheet
	add(&st.date, &excelize.Style{CustomNumFmt: &timeFmt})
	add(&st.dateB, &excelize.Style{CustomNumFmt: &timeFmt, Font: bold})
	stampFmt := "yyyy-mm-dd hh:mm:ss"
	add(&st.stamp, &excelize.Style{CustomNumFmt: &stampFmt})
	add(&st.big, &excelize.Style{Alignment: &excelize.Alignment{Horizontal: "right"}})
	add(&st.bigB, &excelize.Style{Alignment: &excelize.Alignment{Horizontal: "right"}, Font: bold})
	add(&st.integer, &excelize.Style{NumFmt: 1}) // "0"
	for places := range stmtXLSXMaxScale + 1 {
		numFmt := "0"
		if places > 0 {
			numFmt += "." + strings.Repeat("0", places)
		}
		add(&st.num[places], &excelize.Style{CustomNumFmt: &numFmt})
		add(&st.numB[places], &excelize.Style{CustomNumFmt: &numFmt, Font: bold})
	}
	if err != nil {
		return fmt.Errorf("exporters: unable to make the workbook's styles: %w", err)
	}
	return nil
}

func stmtHeaderCells(headers []string, style int) []any {
	cells := make([]any, len(headers))
	for i, h := range headers {
		cells[i] = excelize.Cell{StyleID: style, Value: h}
	}
	return cells
}

// stmtColumnWidth guesses a readable width for a column from what it holds.
func stmtColumnWidth(c stmtColumn) float64 {
	switch c.field {
	case "tx_hash":
		return 40
	case "description":
		return 44
	case "address", "payee":
		return 32
	case "label", "reference", "external_id":
		return 22
	case "row", "kind", "currency", "entry_id":
		return 12
	}
	switch c.kind {
	case templates.KindTime:
		return 20
	case templates.KindAmount, templates.KindUSD:
		return 18
	}
	return 16
}

// stmtSheetName makes a currency code a valid sheet name.
func stmtSheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, strings.Trim(s, "'"))
	if s == "" {
		s = "_"
	}
	return s
}

// stmtTableSafe makes a currency code usable in a table name.
func stmtTableSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return r
		}
		return '_'
	}, s)
}

// stmtUniqueName cuts name to max characters and numbers it ("name (2)", or "name_2" when
// sep is "_") when taken, case-insensitively.
func stmtUniqueName(name string, taken map[string]bool, max int, sep string) string {
	cut := func(s string, n int) string {
		if utf8.RuneCountInString(s) <= n {
			return s
		}
		return string([]rune(s)[:n])
	}
	out := cut(name, max)
	for i := 2; taken[strings.ToLower(out)]; i++ {
		suffix := " (" + strconv.Itoa(i) + ")"
		if sep == "_" {
			suffix = "_" + strconv.Itoa(i)
		}
		out = cut(name, max-len(suffix)) + suffix
	}
	taken[strings.ToLower(out)] = true
	return out
}

// held returns the frame excelize wrote for a held part, split around where our rows go.
func (x *stmtXLSX) held(path string) (head, tail []byte, err error) {
	b, ok := x.zip.held[path]
	if !ok {
		return nil, nil, fmt.Errorf("exporters: the workbook has no part %s", path)
	}
	frame := b.Bytes()
	i := bytes.LastIndex(frame, []byte("</sheetData>"))
	if i < 0 {
		return nil, nil, fmt.Errorf("exporters: the part %s has no sheetData", path)
	}
	head, tail = frame[:i], frame[i:]
	// The frame's dimension says A1; a dimension is optional, and a wrong one is worse.
	head = stmtNoDimension(head)
	return head, tail, nil
}

// stmtNoDimension removes the <dimension> element of a sheet's head.
func stmtNoDimension(b []byte) []byte {
	start := bytes.Index(b, []byte("<dimension "))
	if start < 0 {
		return b
	}
	rest := b[start:]
	end := bytes.Index(rest, []byte("</dimension>"))
	if end >= 0 {
		end += len("</dimension>")
	} else if end = bytes.Index(rest, []byte("/>")); end >= 0 {
		end += 2
	} else {
		return b
	}
	out := append([]byte{}, b[:start]...)
	return append(out, rest[end:]...)
}

// fillSheet writes a currency's sheet: the frame's head, the lines, then the opening, total
// and closing rows under them (after an empty row), then the frame's tail.
func (x *stmtXLSX) fillSheet(s *stmtXLSXSheet) error {
	head, tail, err := x.held(s.path)
	if err != nil {
		return err
	}
	part, err := x.zip.zw.Create(s.path)
	if err != nil {
		return fmt.Errorf("exporters: unable to write the %s sheet: %w", s.cur.Currency, err)
	}
	w := &stmtXLSXRows{w: bufio.NewWriterSize(part, 256<<10), row: 1, st: &x.styles}
	w.cols = make([][]byte, len(x.run.layout.columns))
	for i := range w.cols {
		name, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return fmt.Errorf("exporters: %w", err)
		}
		w.cols[i] = []byte(name)
	}
	if _, err := w.w.Write(head); err != nil {
		return fmt.Errorf("exporters: unable to write the %s sheet: %w", s.cur.Currency, err)
	}
	tpl := x.run.layout.tpl
	reserve := 0
	if tpl.SummaryRows {
		reserve = 4
	}
	err = x.run.currencyLines(s.cur, func(l *stmtLine) error {
		if w.row+1 > stmtXLSXMaxRows-reserve {
			return fmt.Errorf("exporters: %s has more lines than an XLSX sheet holds (%d rows); export a shorter period, or as CSV",
				s.cur.Currency, stmtXLSXMaxRows)
		}
		return x.writeLine(w, l, false)
	})
	if err != nil {
		return err
	}
	lastCol := string(w.cols[len(w.cols)-1])
	s.ref = "A1:" + lastCol + strconv.Itoa(max(w.row, 2))
	if tpl.SummaryRows {
		w.row++ // an empty row between the table and the summary rows
		var l stmtLine
		for _, kind := range []stmtRowKind{stmtRowOpening, stmtRowTotal, stmtRowClosing} {
			x.run.summaryLine(s.cur, kind, &l)
			if err := x.writeLine(w, &l, true); err != nil {
				return err
			}
		}
	}
	if _, err := w.w.Write(tail); err != nil {
		return fmt.Errorf("exporters: unable to write the %s sheet: %w", s.cur.Currency, err)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("exporters: unable to write the %s sheet: %w", s.cur.Currency, err)
	}
	return nil
}

// writeLine writes one row of a currency sheet.
func (x *stmtXLSX) writeLine(w *stmtXLSXRows, l *stmtLine, bold bool) error {
	layout := x.run.layout
	w.startRow()
	for i := range layout.columns {
		c := &layout.columns[i]
		v := c.value(l)
		switch v.kind {
		case "":
			if c.required && l.kind == stmtRowLine {
				return layout.missing(c, l)
			}
		case templates.KindText:
			w.text(i, v.text, bold)
		case templates.KindUserText:
			w.text(i, Neutralise(v.text), bold)
		case templates.KindAmount, templates.KindUSD:
			w.number(i, v.d, c.places(l), bold)
		case templates.KindTime:
			w.time(i, v.t, bold, layout.time.Layout)
		case templates.KindInteger:
			w.integer(i, v.n)
		}
	}
	return w.endRow()
}

// stmtSummaryHeaders are the columns of the Summary sheet.
var stmtSummaryHeaders = []string{
	"Currency", "Opening balance", "Lines", "Gross", "Network fees", "Service fees", "Net", "Closing balance",
	"Opening + net = closing", "Gross USD", "Network fees USD", "Service fees USD", "Net USD", "Decimals",
}

// fillSummary writes the Summary sheet: a row per currency, then the period.
func (x *stmtXLSX) fillSummary() error {
	head, tail, err := x.held(x.summaryPath)
	if err != nil {
		return err
	}
	part, err := x.zip.zw.Create(x.summaryPath)
	if err != nil {
		return fmt.Errorf("exporters: unable to write the summary sheet: %w", err)
	}
	w := &stmtXLSXRows{w: bufio.NewWriter(part), row: 1, st: &x.styles}
	for i := range stmtSummaryHeaders {
		name, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return fmt.Errorf("exporters: %w", err)
		}
		w.cols = append(w.cols, []byte(name))
	}
	if _, err := w.w.Write(head); err != nil {
		return fmt.Errorf("exporters: unable to write the summary sheet: %w", err)
	}
	for _, c := range x.run.currencies {
		p := c.Precision
		w.startRow()
		w.text(0, Neutralise(c.Currency), true) // Nord PAY names the currencies
		w.number(1, c.Opening, p, false)
		w.integer(2, c.Lines)
		w.number(3, c.Gross, p, false)
		w.number(4, c.NetworkFees, p, false)
		w.number(5, c.ServiceFees, p, false)
		w.number(6, c.Net, p, false)
		w.number(7, c.Closing, p, false)
		w.text(8, "ok", false) // a statement that does not add up is never written
		for i, d := range []decimal.NullDecimal{c.GrossUSD, c.NetworkFeesUSD, c.ServiceFeesUSD, c.NetUSD} {
			if d.Valid {
				w.number(9+i, d.Decimal, stmtUSDPlaces, false)
			}
		}
		w.integer(13, int64(c.Precision))
		if err := w.endRow(); err != nil {
			return err
		}
	}
	w.row++
	opts := x.run.opts
	for _, info := range []struct {
		label string
		t     time.Time
		text  string
	}{
		{"Period from (UTC)", opts.From, ""},
		{"Period to (UTC, exclusive)", opts.To, ""},
		{"Generated at (UTC)", opts.Now(), ""},
		{"Template", time.Time{}, x.run.layout.tpl.Name + " (" + x.run.layout.tpl.Source + ")"},
		{"Lines", time.Time{}, strconv.FormatInt(x.run.lines, 10)},
	} {
		w.startRow()
		w.text(0, info.label, true)
		if info.text != "" {
			w.text(1, info.text, false)
		} else {
			w.stamp(1, info.t)
		}
		if err := w.endRow(); err != nil {
			return err
		}
	}
	if _, err := w.w.Write(tail); err != nil {
		return fmt.Errorf("exporters: unable to write the summary sheet: %w", err)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("exporters: unable to write the summary sheet: %w", err)
	}
	return nil
}

// fillTables writes the held table parts with their real ranges.
func (x *stmtXLSX) fillTables() error {
	refs := map[string]string{}
	for _, s := range x.sheets {
		refs[s.table] = s.ref
	}
	for _, path := range x.zip.heldOrder {
		if !strings.HasPrefix(path, "xl/tables/") {
			continue
		}
		body := x.zip.held[path].Bytes()
		name, ok := stmtXMLAttr(body, "name")
		ref, known := refs[name]
		if !ok || !known {
			return fmt.Errorf("exporters: the workbook has a table %q (%s) that no sheet declared", name, path)
		}
		old, _ := stmtXMLAttr(body, "ref")
		body = bytes.ReplaceAll(body, []byte(`ref="`+old+`"`), []byte(`ref="`+ref+`"`))
		part, err := x.zip.zw.Create(path)
		if err != nil {
			return fmt.Errorf("exporters: unable to write table %s: %w", name, err)
		}
		if _, err := part.Write(body); err != nil {
			return fmt.Errorf("exporters: unable to write table %s: %w", name, err)
		}
	}
	return nil
}

// stmtXMLAttr returns the value of the first attribute name="..." in b.
func stmtXMLAttr(b []byte, name string) (string, bool) {
	key := []byte(" " + name + `="`)
	i := bytes.Index(b, key)
	if i < 0 {
		return "", false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// stmtZip is the zip excelize writes through: it passes every part to the zip streaming to
// the file, except our sheets and the tables, which it holds (they are small frames) for
// writeStatementXLSX to complete. Its Close does not close the zip: the held parts come
// after.
type stmtZip struct {
	zw        *zip.Writer
	hold      map[string]bool
	held      map[string]*bytes.Buffer
	heldOrder []string
}

// Create starts a part.
func (z *stmtZip) Create(name string) (io.Writer, error) {
	if z.hold[name] || strings.HasPrefix(name, "xl/tables/") {
		if _, dup := z.held[name]; dup {
			return nil, fmt.Errorf("exporters: the workbook writes %s twice", name)
		}
		b := &bytes.Buffer{}
		z.held[name] = b
		z.heldOrder = append(z.heldOrder, name)
		return b, nil
	}
	return z.zw.Create(name)
}

// AddFS adds files; excelize does not use it for new workbooks.
func (z *stmtZip) AddFS(fsys fs.FS) error { return z.zw.AddFS(fsys) }

// Close marks the end of excelize's parts.
func (z *stmtZip) Close() error { return nil }

// stmtXLSXRows writes the rows of a sheet as SpreadsheetML.
type stmtXLSXRows struct {
	w    *bufio.Writer
	st   *stmtXLSXStyles
	cols [][]byte // column letters
	row  int      // the last row started
	rowN []byte   // its number, as text
	buf  []byte   // the row being written
	num  []byte
}

func (w *stmtXLSXRows) startRow() {
	w.row++
	w.rowN = strconv.AppendInt(w.rowN[:0], int64(w.row), 10)
	w.buf = append(w.buf[:0], `<row r="`...)
	w.buf = append(w.buf, w.rowN...)
	w.buf = append(w.buf, `">`...)
}

func (w *stmtXLSXRows) endRow() error {
	w.buf = append(w.buf, `</row>`...)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("exporters: unable to write row %d: %w", w.row, err)
	}
	return nil
}

// cell opens a cell element: <c r="B7" s="3"[ t="..."]>.
func (w *stmtXLSXRows) cell(col, style int, typ string) {
	w.buf = append(w.buf, `<c r="`...)
	w.buf = append(w.buf, w.cols[col]...)
	w.buf = append(w.buf, w.rowN...)
	w.buf = append(w.buf, '"')
	if style != 0 {
		w.buf = append(w.buf, ` s="`...)
		w.buf = strconv.AppendInt(w.buf, int64(style), 10)
		w.buf = append(w.buf, '"')
	}
	if typ != "" {
		w.buf = append(w.buf, ` t="`...)
		w.buf = append(w.buf, typ...)
		w.buf = append(w.buf, '"')
	}
	w.buf = append(w.buf, '>')
}

// text writes an inline string cell.
func (w *stmtXLSXRows) text(col int, s string, bold bool) {
	style := w.st.text
	if bold {
		style = w.st.textB
	}
	w.textStyled(col, s, style)
}

func (w *stmtXLSXRows) textStyled(col int, s string, style int) {
	w.cell(col, style, "inlineStr")
	w.buf = append(w.buf, `<is><t`...)
	if s != strings.TrimSpace(s) || strings.ContainsAny(s, "\n\t") {
		w.buf = append(w.buf, ` xml:space="preserve"`...)
	}
	w.buf = append(w.buf, '>')
	w.buf = stmtCellText(w.buf, s)
	w.buf = append(w.buf, `</t></is></c>`...)
}

// number writes an amount: a number cell holding its exact decimal text, at least places
// decimals, formatted with as many decimals as it has; text when a double cannot hold it.
func (w *stmtXLSXRows) number(col int, d decimal.Decimal, places int, bold bool) {
	w.num = stmtDecimal(w.num[:0], d, places)
	sig, scale := stmtDigits(w.num)
	if sig > stmtXLSXMaxDigits || scale > stmtXLSXMaxScale {
		style := w.st.big
		if bold {
			style = w.st.bigB
		}
		w.textStyled(col, string(w.num), style)
		return
	}
	style := w.st.num[scale]
	if bold {
		style = w.st.numB[scale]
	}
	w.cell(col, style, "")
	w.buf = append(w.buf, `<v>`...)
	w.buf = append(w.buf, w.num...)
	w.buf = append(w.buf, `</v></c>`...)
}

func (w *stmtXLSXRows) integer(col int, n int64) {
	if n >= 1e15 || n <= -1e15 {
		w.textStyled(col, strconv.FormatInt(n, 10), w.st.big)
		return
	}
	w.cell(col, w.st.integer, "")
	w.buf = append(w.buf, `<v>`...)
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.buf = append(w.buf, `</v></c>`...)
}

// time writes a date cell; a time a spreadsheet cannot show as a date goes in as text.
func (w *stmtXLSXRows) time(col int, t time.Time, bold bool, layout string) {
	style := w.st.date
	if bold {
		style = w.st.dateB
	}
	w.timeStyled(col, t, style, layout)
}

func (w *stmtXLSXRows) stamp(col int, t time.Time) {
	w.timeStyled(col, t, w.st.stamp, time.RFC3339Nano)
}

func (w *stmtXLSXRows) timeStyled(col int, t time.Time, style int, layout string) {
	w.num = stmtSerial(w.num[:0], t)
	if w.num == nil {
		w.textStyled(col, t.UTC().Format(layout), style)
		return
	}
	w.cell(col, style, "")
	w.buf = append(w.buf, `<v>`...)
	w.buf = append(w.buf, w.num...)
	w.buf = append(w.buf, `</v></c>`...)
}

// stmtExcelEpoch is day 0 of spreadsheet serial dates (the 1900 system, where the serial of
// any date from 1900-03-01 on is its days since this epoch).
var stmtExcelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

const stmtMicrosPerDay = 86_400_000_000

// stmtSerial appends the serial day number of t (UTC) with 11 decimals, enough for the
// microsecond to come back exactly: (serial * 86400e6) rounded. It returns nil for a time
// before 1900-03-01 or after 9999, which spreadsheets cannot show as dates.
func stmtSerial(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if t.Before(time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC)) || t.Year() > 9999 {
		return nil
	}
	micros := (t.Unix()-stmtExcelEpoch.Unix())*1_000_000 + int64(t.Nanosecond()/1000)
	days, rem := micros/stmtMicrosPerDay, micros%stmtMicrosPerDay
	// rem / 86400e6 to 11 decimals, rounded: rem * 1e11 / 86400e6 = rem * 1000 / 864.
	frac := (rem*1000 + 432) / 864
	if frac >= 100_000_000_000 {
		days, frac = days+1, frac-100_000_000_000
	}
	dst = strconv.AppendInt(dst, days, 10)
	if frac == 0 {
		return dst
	}
	digits := strconv.AppendInt(nil, frac, 10)
	dst = append(dst, '.')
	for range 11 - len(digits) {
		dst = append(dst, '0')
	}
	return append(dst, bytes.TrimRight(digits, "0")...)
}

// stmtDigits counts the significant digits of a decimal text (from the first non-zero
// digit to the last) and its decimals.
func stmtDigits(s []byte) (sig, scale int) {
	first, last := -1, -1
	pos := 0
	dot := bytes.IndexByte(s, '.')
	if dot >= 0 {
		scale = len(s) - dot - 1
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			if first < 0 {
				first = pos
			}
			last = pos
		}
		pos++
	}
	if first < 0 {
		return 0, scale
	}
	return last - first + 1, scale
}

// stmtCellText appends s escaped for an XML text node, with the characters XML 1.0 cannot
// hold (control characters, invalid UTF-8) written as SpreadsheetML's _xHHHH_ escapes, and a
// literal "_xHHHH_" protected by escaping its underscore, so the reader gets s back.
func stmtCellText(dst []byte, s string) []byte {
	plain := true // the usual text: printable ASCII without & < > _
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>' && c != '_'
	}
	if plain {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "_xFFFD_"...)
		case r == '&':
			dst = append(dst, "&amp;"...)
		case r == '<':
			dst = append(dst, "&lt;"...)
		case r == '>':
			dst = append(dst, "&gt;"...)
		case r == '_' && stmtEscapeLike(s[i:]):
			dst = append(dst, "_x005F_"...)
		case r == '\t' || r == '\n':
			dst = append(dst, byte(r))
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF:
			dst = append(dst, fmt.Sprintf("_x%04X_", r)...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// stmtEscapeLike reports whether s starts with _xHHHH_.
func stmtEscapeLike(s string) bool {
	if len(s) < 7 || s[1] != 'x' || s[6] != '_' {
		return false
	}
	for _, c := range []byte(s[2:6]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
