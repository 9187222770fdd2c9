package payouts

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// maxZipEntries bounds the parts of a workbook (a real one has a few dozen).
const maxZipEntries = 10_000

// readXLSX reads a workbook's payout sheet: the worksheet named like "payouts", else the
// first visible one. A hidden worksheet named like "payouts" is refused (ErrNotASheet).
//
// The cells' values come from excelize's streaming Rows iterator with raw values. That
// iterator does not say what a cell is (a number, a date, TRUE/FALSE, an error value, a
// formula without a cached value: all come out as bare text or as ""), so a light streaming
// scan of the same worksheet XML (kindScanner) reads each cell's type, style and formula
// flags alongside, row by row. Neither holds the worksheet in memory. Before excelize sees
// the file, the ZIP directory is checked against MaxUnzippedBytes (a ZIP bomb declares
// small sizes in vain: archive/zip refuses to inflate an entry past its declared size).
func readXLSX(sh *Sheet, data []byte, opts ReadOptions) error {
	notSheet := func(format string, args ...any) error {
		return fmt.Errorf("payouts: %s: %w: %s", sh.Name, ErrNotASheet, fmt.Sprintf(format, args...))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return notSheet("not a readable XLSX (ZIP) file: %v", err)
	}
	if len(zr.File) > maxZipEntries {
		return fmt.Errorf("payouts: %s: %w: %d parts in the ZIP archive", sh.Name, ErrSheetTooLarge, len(zr.File))
	}
	var unzipped uint64
	for _, f := range zr.File {
		unzipped += f.UncompressedSize64
		if unzipped > uint64(opts.MaxUnzippedBytes) {
			return fmt.Errorf("payouts: %s: %w: its unzipped content is larger than %s (a ZIP bomb?)", sh.Name, ErrSheetTooLarge, sizeText(opts.MaxUnzippedBytes))
		}
	}
	pkg, err := openPackage(zr)
	if err != nil {
		return notSheet("%v", err)
	}

	xf, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		RawCellValue:      true,
		UnzipSizeLimit:    opts.MaxUnzippedBytes,
		UnzipXMLSizeLimit: min(opts.MaxUnzippedBytes, 16<<20),
	})
	if err != nil {
		return notSheet("excelize cannot open it: %v", err)
	}
	defer xf.Close()
	rows, err := xf.Rows(pkg.sheet)
	if err != nil {
		return notSheet("unable to read sheet %q: %v", pkg.sheet, err)
	}
	defer rows.Close()
	part, err := pkg.zipFile.Open()
	if err != nil {
		return notSheet("unable to read sheet %q: %v", pkg.sheet, err)
	}
	defer part.Close()
	scan := newKindScanner(part, pkg.dateStyle)
	shown := &shownCheck{pkg: pkg}
	defer shown.close()

	b := newBuilder(sh, "xlsx", opts)
	for n := 1; rows.Next(); n++ {
		vals, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return notSheet("unable to read row %d of sheet %q: %v", n, pkg.sheet, err)
		}
		kinds := scan.at(n)
		if scan.err != nil {
			return notSheet("the XML of sheet %q is damaged: %v", pkg.sheet, scan.err)
		}
		cells := make([]cell, max(len(vals), len(kinds)))
		for i := range cells {
			if i < len(vals) {
				cells[i].text = vals[i]
			}
			if i < len(kinds) {
				cells[i].kind = kinds[i]
			}
		}
		if a := b.raw.cols[fAmount]; b.usable && a >= 0 && a < len(vals) && a < len(kinds) && kinds[a] == kindNumber {
			// builder.add keeps bad unless the stored number cannot be read at all.
			cells[a].bad = shown.check(scan.styles[a], vals[a])
		}
		if err := b.add(n, cells, rows.GetRowOpts().Hidden); err != nil {
			return err
		}
	}
	if err := rows.Error(); err != nil {
		if errors.Is(err, excelize.ErrMaxRows) {
			return fmt.Errorf("payouts: %s: %w: %v", sh.Name, ErrSheetTooLarge, err)
		}
		return notSheet("unable to read sheet %q: %v", pkg.sheet, err)
	}
	b.finish()
	return nil
}

// xlsxPackage is what readXLSX needs from the workbook's parts.
type xlsxPackage struct {
	sheet     string         // the chosen worksheet's name
	zipFile   *zip.File      // its XML part
	dateStyle []bool         // by cell style index: the number format shows a date or time
	numFmt    []int          // by cell style index: the number format's id
	customFmt map[int]string // the workbook's own number formats by id
}

type xmlRel struct {
	ID     string `xml:"Id,attr"`
	Type   string `xml:"Type,attr"`
	Target string `xml:"Target,attr"`
}

type xmlRels struct {
	Rels []xmlRel `xml:"Relationship"`
}

type xmlWorkbook struct {
	Sheets []struct {
		Name  string     `xml:"name,attr"`
		State string     `xml:"state,attr"`
		Attrs []xml.Attr `xml:",any,attr"`
	} `xml:"sheets>sheet"`
}

type xmlStyles struct {
	NumFmts []struct {
		ID   int    `xml:"numFmtId,attr"`
		Code string `xml:"formatCode,attr"`
	} `xml:"numFmts>numFmt"`
	Xfs []struct {
		NumFmtID int `xml:"numFmtId,attr"`
	} `xml:"cellXfs>xf"`
}

// maxPackagePart bounds the parts that are read whole here (workbook, relationships, styles).
const maxPackagePart = 16 << 20

// openPackage finds the payout worksheet and the date styles, following the package's
// relationships as excelize does.
func openPackage(zr *zip.Reader) (*xlsxPackage, error) {
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		files[strings.TrimPrefix(f.Name, "/")] = f
	}
	readPart := func(name string, v any) error {
		f := files[name]
		if f == nil {
			return fmt.Errorf("the part %s is missing", name)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("the part %s: %w", name, err)
		}
		defer rc.Close()
		if err := xml.NewDecoder(io.LimitReader(rc, maxPackagePart)).Decode(v); err != nil {
			return fmt.Errorf("the part %s: %w", name, err)
		}
		return nil
	}
	if f := files["mimetype"]; f != nil {
		if rc, err := f.Open(); err == nil {
			mt, _ := io.ReadAll(io.LimitReader(rc, 200))
			rc.Close()
			if bytes.HasPrefix(mt, []byte("application/vnd.oasis.opendocument")) {
				return nil, errors.New("an OpenDocument file (.ods): save it as .xlsx or as CSV UTF-8")
			}
		}
	}
	wbPath := "xl/workbook.xml"
	var root xmlRels
	if err := readPart("_rels/.rels", &root); err == nil {
		for _, r := range root.Rels {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				wbPath = path.Clean(strings.TrimPrefix(r.Target, "/"))
			}
		}
	}
	if files[wbPath] == nil {
		return nil, errors.New("a ZIP archive but not an Excel workbook")
	}
	var wb xmlWorkbook
	if err := readPart(wbPath, &wb); err != nil {
		return nil, err
	}
	dir, base := path.Split(wbPath)
	var rels xmlRels
	if err := readPart(dir+"_rels/"+base+".rels", &rels); err != nil {
		return nil, err
	}
	target := func(r xmlRel) string {
		if strings.HasPrefix(r.Target, "/") {
			return path.Clean(r.Target[1:])
		}
		return path.Join(dir, r.Target)
	}
	byID := map[string]xmlRel{}
	pkg := &xlsxPackage{}
	for _, r := range rels.Rels {
		byID[r.ID] = r
		if strings.HasSuffix(r.Type, "/styles") {
			var st xmlStyles
			if err := readPart(target(r), &st); err != nil {
				return nil, err
			}
			pkg.dateStyle = dateStyles(st)
			pkg.numFmt = make([]int, len(st.Xfs))
			for i, xf := range st.Xfs {
				pkg.numFmt[i] = xf.NumFmtID
			}
			pkg.customFmt = make(map[int]string, len(st.NumFmts))
			for _, f := range st.NumFmts {
				pkg.customFmt[f.ID] = f.Code
			}
		}
	}
	type candidate struct {
		name string
		file *zip.File
		rank int // 0 named like payouts, 1 visible, 2 hidden
	}
	var best *candidate
	for _, s := range wb.Sheets {
		var rel xmlRel
		for _, a := range s.Attrs {
			if a.Name.Local == "id" && a.Name.Space != "" {
				rel = byID[a.Value]
			}
		}
		if !strings.HasSuffix(rel.Type, "/worksheet") || files[target(rel)] == nil {
			continue // a chart sheet, or a dangling relationship
		}
		c := candidate{name: s.Name, file: files[target(rel)], rank: 1}
		named := squash(s.Name) == "payouts" || squash(s.Name) == "payout"
		switch {
		case s.State == "hidden" || s.State == "veryHidden":
			if named {
				// The sheet that would be paid is one an approver does not see in the
				// spreadsheet program (as for a hidden row).
				return nil, fmt.Errorf("the worksheet %q is hidden: an approver would not see it; unhide it, or delete it", s.Name)
			}
			c.rank = 2
		case named:
			c.rank = 0
		}
		if best == nil || c.rank < best.rank {
			best = &c
		}
	}
	switch {
	case best == nil:
		return nil, errors.New("the workbook has no worksheet")
	case best.rank == 2:
		return nil, fmt.Errorf("its only worksheet, %q, is hidden: an approver would not see it; unhide it", best.name)
	}
	pkg.sheet, pkg.zipFile = best.name, best.file
	return pkg, nil
}

// dateStyles marks the cell styles whose number format shows a date or a time.
func dateStyles(st xmlStyles) []bool {
	custom := map[int]string{}
	for _, f := range st.NumFmts {
		custom[f.ID] = f.Code
	}
	out := make([]bool, len(st.Xfs))
	for i, xf := range st.Xfs {
		if code, ok := custom[xf.NumFmtID]; ok {
			out[i] = dateFormatCode(code)
		} else {
			out[i] = dateFormatID(xf.NumFmtID)
		}
	}
	return out
}

// dateFormatID reports whether a built-in number format is a date or a time (ECMA-376
// 18.8.30, with the East Asian ones).
func dateFormatID(id int) bool {
	switch {
	case id >= 14 && id <= 22, id >= 27 && id <= 36, id >= 45 && id <= 47,
		id >= 50 && id <= 58, id >= 71 && id <= 81:
		return true
	}
	return false
}

// dateFormatCode reports whether a custom number format code shows a date or time: a y, m,
// d, h or s outside quoted text, escapes and [colour]/[$-locale] brackets ([h] and [mm]
// are elapsed time and count).
func dateFormatCode(code string) bool {
	lc := strings.ToLower(code)
	if lc == "general" || lc == "@" {
		return false
	}
	for i := 0; i < len(lc); i++ {
		switch c := lc[i]; c {
		case '"':
			if j := strings.IndexByte(lc[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				i = len(lc)
			}
		case '\\', '_', '*':
			i++ // the next character is literal, or padding
		case '[':
			j := strings.IndexByte(lc[i:], ']')
			if j < 0 {
				return false
			}
			if inner := lc[i+1 : i+j]; inner != "" && strings.Trim(inner, "hms") == "" {
				return true
			}
			i += j
		case 'y', 'm', 'd', 'h', 's':
			return true
		}
	}
	return false
}

// kindScanner reads a worksheet's XML as a stream and tells, for each row, what kind of
// value each cell holds (see cellKind). It tokenises the XML itself, without allocating
// per element: it only needs the row and cell elements' r, s and t attributes and whether a
// cell has <f> and <v> children, and encoding/xml's tokens would cost as much again as
// excelize's own pass over the same XML. Comments, CDATA sections, processing
// instructions and namespace prefixes are handled; text is skipped.
type kindScanner struct {
	r         *bufio.Reader
	dateStyle []bool
	row       int        // the row that kinds describe
	kinds     []cellKind // by column index (0 is A)
	styles    []int      // by column index: the cell's style index (0 when it has none)
	done      bool
	err       error

	tag tagToken // the current tag
}

// tagToken is one tag: <name attrs>, </name> or <name attrs/>.
type tagToken struct {
	end, selfClosing bool
	name             []byte // the local name (after any prefix)
	buf              []byte // the tag's text between < and >
	attrs            []byte // the attributes' text, within buf
}

func newKindScanner(r io.Reader, dateStyle []bool) *kindScanner {
	return &kindScanner{r: bufio.NewReaderSize(r, 64<<10), dateStyle: dateStyle}
}

// at returns the kinds of row n's cells, or nil when the XML has no such row. Rows are
// asked for in increasing order.
func (s *kindScanner) at(n int) []cellKind {
	for !s.done && s.row < n {
		s.next()
	}
	if s.row == n {
		return s.kinds
	}
	return nil
}

func (s *kindScanner) fail(err error) {
	if s.err == nil {
		s.err = err
	}
	s.done = true
}

// next reads the next <row> element.
func (s *kindScanner) next() {
	for s.nextTag() {
		t := &s.tag
		switch {
		case t.end && string(t.name) == "sheetData":
			s.done = true
			return
		case t.end || string(t.name) != "row":
			continue
		}
		r := s.row + 1
		if v := t.attr("r"); len(v) > 0 {
			n, err := strconv.Atoi(string(v))
			if err != nil || n <= s.row {
				s.fail(fmt.Errorf("row number %q out of order", v))
				return
			}
			r = n
		}
		s.row = r
		s.kinds = s.kinds[:0]
		s.styles = s.styles[:0]
		if !t.selfClosing {
			s.readRow()
		}
		return
	}
	s.done = true
}

// readRow reads the cells of a row up to its end.
func (s *kindScanner) readRow() {
	col := -1
	for s.nextTag() {
		t := &s.tag
		if t.end {
			if string(t.name) == "row" {
				return
			}
			continue
		}
		if string(t.name) != "c" {
			continue
		}
		col++
		if ref := t.attr("r"); len(ref) > 0 {
			c, ok := columnIndex(string(ref))
			if !ok {
				s.fail(fmt.Errorf("bad cell reference %q", ref))
				return
			}
			col = c
		}
		kind, style := s.readCell()
		if s.done {
			return
		}
		if col >= 16384 {
			continue // beyond a spreadsheet's last column
		}
		for len(s.kinds) <= col {
			s.kinds = append(s.kinds, kindText)
			s.styles = append(s.styles, 0)
		}
		s.kinds[col], s.styles[col] = kind, style
	}
	s.fail(fmt.Errorf("row %d is not closed", s.row))
}

// readCell classifies the <c> element in s.tag, reading it to its end, and returns its
// style index too (0 when it has none).
func (s *kindScanner) readCell() (cellKind, int) {
	t := &s.tag
	typ := string(t.attr("t"))
	style := -1
	if v := t.attr("s"); len(v) > 0 {
		style, _ = strconv.Atoi(string(v))
	}
	return s.classify(t, typ, style), max(style, 0)
}

// classify reads the rest of the <c> element in t and tells its kind.
func (s *kindScanner) classify(t *tagToken, typ string, style int) cellKind {
	hasF, hasV := false, false
	if !t.selfClosing {
		depth := 0
		for {
			if !s.nextTag() {
				s.fail(fmt.Errorf("row %d: a cell is not closed", s.row))
				return kindText
			}
			if t.end {
				if depth == 0 {
					break
				}
				depth--
				continue
			}
			if depth == 0 {
				switch string(t.name) {
				case "f":
					hasF = true
				case "v":
					hasV = true
				}
			}
			if !t.selfClosing {
				depth++
			}
		}
	}
	return kindOf(typ, style, hasF, hasV, s.dateStyle)
}

// kindOf tells a cell's kind from its type attribute t, its style index, whether it has a
// formula (<f>) and a value (<v>), and which styles are date formats.
func kindOf(typ string, style int, hasF, hasV bool, dateStyle []bool) cellKind {
	switch {
	case hasF && !hasV:
		return kindNoCache
	case typ == "b":
		return kindBool
	case typ == "e":
		return kindError
	case typ == "d":
		return kindDate
	case typ == "s" || typ == "str" || typ == "inlineStr":
		return kindText
	case !hasV:
		return kindText // an empty, styled cell
	case style >= 0 && style < len(dateStyle) && dateStyle[style]:
		return kindDate
	}
	return kindNumber
}

// nextTag reads up to and including the next element tag into s.tag, skipping text,
// comments, CDATA sections, processing instructions and declarations. It returns false at
// the end of the input or on an error (then s.err is set, unless it was the end).
func (s *kindScanner) nextTag() bool {
	t := &s.tag
	for {
		if _, err := s.r.ReadSlice('<'); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue // long text
			}
			if !errors.Is(err, io.EOF) {
				s.fail(err)
			}
			s.done = true
			return false
		}
		first, err := s.r.Peek(1)
		if err != nil {
			s.fail(fmt.Errorf("the XML ends inside a tag"))
			return false
		}
		switch first[0] {
		case '?':
			if !s.skipPast("?>") {
				return false
			}
			continue
		case '!':
			if p, _ := s.r.Peek(3); string(p) == "!--" {
				if !s.skipPast("-->") {
					return false
				}
			} else if p, _ := s.r.Peek(8); string(p) == "![CDATA[" {
				if !s.skipPast("]]>") {
					return false
				}
			} else if !s.skipPast(">") {
				return false
			}
			continue
		}
		// An element tag: read to the '>' that is not inside a quoted attribute value.
		t.buf = t.buf[:0]
		var quote byte
		for {
			c, err := s.r.ReadByte()
			if err != nil {
				s.fail(fmt.Errorf("the XML ends inside a tag"))
				return false
			}
			if quote != 0 {
				if c == quote {
					quote = 0
				}
			} else if c == '"' || c == '\'' {
				quote = c
			} else if c == '>' {
				break
			}
			t.buf = append(t.buf, c)
			if len(t.buf) > 1<<20 {
				s.fail(fmt.Errorf("a tag longer than 1 MiB"))
				return false
			}
		}
		b := t.buf
		t.end = len(b) > 0 && b[0] == '/'
		if t.end {
			b = b[1:]
		}
		t.selfClosing = len(b) > 0 && b[len(b)-1] == '/'
		if t.selfClosing {
			b = b[:len(b)-1]
		}
		i := 0
		for i < len(b) && !isXMLSpace(b[i]) {
			i++
		}
		t.name, t.attrs = b[:i], b[i:]
		if j := bytes.LastIndexByte(t.name, ':'); j >= 0 {
			t.name = t.name[j+1:]
		}
		return true
	}
}

// skipPast discards input up to and including end.
func (s *kindScanner) skipPast(end string) bool {
	last := end[len(end)-1]
	var tail []byte
	for {
		chunk, err := s.r.ReadSlice(last)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			s.fail(fmt.Errorf("the XML ends inside a comment or declaration"))
			return false
		}
		tail = append(tail, chunk...)
		if len(tail) > len(end) {
			tail = tail[len(tail)-len(end):]
		}
		if err == nil && bytes.HasSuffix(tail, []byte(end)) {
			return true
		}
	}
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// attr returns the value of the tag's unprefixed attribute name, or nil. Values of the
// attributes read here (r, s, t) hold no entities.
func (t *tagToken) attr(name string) []byte {
	b := t.attrs
	for {
		for len(b) > 0 && isXMLSpace(b[0]) {
			b = b[1:]
		}
		eq := bytes.IndexByte(b, '=')
		if eq < 0 {
			return nil
		}
		key := bytes.TrimRight(b[:eq], " \t\r\n")
		b = bytes.TrimLeft(b[eq+1:], " \t\r\n")
		if len(b) == 0 || (b[0] != '"' && b[0] != '\'') {
			return nil
		}
		end := bytes.IndexByte(b[1:], b[0])
		if end < 0 {
			return nil
		}
		val := b[1 : 1+end]
		b = b[2+end:]
		if string(key) == name {
			return val
		}
	}
}

// columnIndex reads the column of a cell reference: "C7" is 2.
func columnIndex(ref string) (int, bool) {
	col, i := 0, 0
	for ; i < len(ref) && i < 4; i++ {
		c := ref[i] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		col = col*26 + int(c-'a'+1)
	}
	if i == 0 || i == len(ref) || ref[i] < '0' || ref[i] > '9' {
		return 0, false
	}
	return col - 1, true
}

// shownCheck compares an amount cell's stored number with the number the spreadsheet
// shows: a number format such as "0" or "#,##0" shows 10.4 as 10, and the approver, who
// reads the sheet in Excel or LibreOffice, would approve 10 where 10.4 is paid. Only
// numeric cells whose style has a number format other than General (or "@") are looked at.
//
// Each style's format is classified once (styleShown). A plain format (digit placeholders,
// thousands separators, a decimal point, literal text and currency symbols; no percent,
// exponent, fraction, scaling comma, condition or other section trick) shows a positive
// number rounded to its count of decimal places, so the number shows unchanged exactly
// when it has no more decimals than that: no formatting is needed. Any other format, or a
// number it would round, is formatted by excelize (in a scratch workbook, as GetCellValue
// does for a cell with that format) and the shown text read back as a number, ignoring
// thousands separators, currency symbols, literal text and the sign (a negative amount is
// refused anyway). A shown percentage never equals the amount: such a cell is refused.
type shownCheck struct {
	pkg     *xlsxPackage
	styles  map[int]*styleShown // by cell style index
	scratch *excelize.File      // for formatting, made on first use
}

// styleShown is what a cell style's number format does to an amount.
type styleShown struct {
	code     string // the format code; "" when the number shows as stored (General, "@")
	plain    bool   // a plain format: see shownCheck
	decimals int32  // a plain format's decimal places
	scratch  int    // the style id in the scratch workbook, 0 until made
}

// builtinNumFmt holds the codes of the built-in number formats that are not dates (ECMA-376
// 18.8.30; 5 to 8 as Excel shows them in the en-US locale, which excelize does not know).
var builtinNumFmt = map[int]string{
	1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00",
	5: `"$"#,##0_);\("$"#,##0\)`, 6: `"$"#,##0_);[Red]\("$"#,##0\)`,
	7: `"$"#,##0.00_);\("$"#,##0.00\)`, 8: `"$"#,##0.00_);[Red]\("$"#,##0.00\)`,
	9: "0%", 10: "0.00%", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??",
	37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
	41: `_(* #,##0_);_(* \(#,##0\);_(* "-"_);_(@_)`, 42: `_("$"* #,##0_);_("$"* \(#,##0\);_("$"* "-"_);_(@_)`,
	43: `_(* #,##0.00_);_(* \(#,##0.00\);_(* "-"??_);_(@_)`, 44: `_("$"* #,##0.00_);_("$"* \(#,##0.00\);_("$"* "-"??_);_(@_)`,
	48: "##0.0E+0",
}

// style returns what style index s does to a number, classifying it on first use.
func (c *shownCheck) style(s int) *styleShown {
	if st, ok := c.styles[s]; ok {
		return st
	}
	st := &styleShown{}
	if s < len(c.pkg.numFmt) {
		id := c.pkg.numFmt[s]
		code, ok := c.pkg.customFmt[id]
		if !ok {
			code = builtinNumFmt[id] // "" for General, "@" and unknown ids, shown as General
		}
		if lc := strings.ToLower(strings.TrimSpace(code)); lc != "general" && lc != "@" {
			st.code = code
			st.plain, st.decimals = plainNumFmt(code)
		}
	}
	if c.styles == nil {
		c.styles = map[int]*styleShown{}
	}
	c.styles[s] = st
	return st
}

// check returns why the amount stored as raw, in a cell of style index s, must be refused
// because the spreadsheet shows another number, or "".
func (c *shownCheck) check(s int, raw string) string {
	st := c.style(s)
	if st.code == "" {
		return ""
	}
	d, err := spreadsheetNumber(raw)
	if err != nil {
		return "" // builder.add reports it
	}
	if st.plain && d.IsPositive() && d.Round(st.decimals).Equal(d) {
		return ""
	}
	text, err := c.format(st, raw)
	if err != nil {
		return fmt.Sprintf("the cell's number format %q cannot be checked (%v); format the column as text or show every decimal", st.code, err)
	}
	if n, ok := shownNumber(text); ok && n.Equal(d.Abs()) {
		return ""
	}
	return fmt.Sprintf("the cell shows %q but holds %s; format the column as text or show every decimal", strings.TrimSpace(text), d)
}

// format returns the stored number raw as a cell with st's number format shows it.
func (c *shownCheck) format(st *styleShown, raw string) (string, error) {
	const sheet, ref = "Sheet1", "A1"
	if c.scratch == nil {
		c.scratch = excelize.NewFile()
	}
	f := c.scratch
	if st.scratch == 0 {
		code := st.code
		id, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		if err != nil {
			return "", err
		}
		st.scratch = id
	}
	if err := f.SetCellDefault(sheet, ref, raw); err != nil {
		return "", err
	}
	if err := f.SetCellStyle(sheet, ref, ref, st.scratch); err != nil {
		return "", err
	}
	return f.GetCellValue(sheet, ref)
}

func (c *shownCheck) close() {
	if c.scratch != nil {
		c.scratch.Close()
	}
}

// plainNumFmt reports whether a number format's first section (the one for positive
// numbers) is plain (see shownCheck), and its decimal places.
func plainNumFmt(code string) (bool, int32) {
	var decimals int32
	point, digits := false, false
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c == ';':
			return digits, decimals
		case c == '"':
			j := strings.IndexByte(code[i+1:], '"')
			if j < 0 {
				return false, 0
			}
			i += j + 1
		case c == '\\' || c == '_' || c == '*':
			i++ // a literal character, or padding
		case c == '[':
			j := strings.IndexByte(code[i:], ']')
			if j < 0 {
				return false, 0
			}
			// A currency and locale ([$€-407]) or a colour: nothing else (a condition
			// chooses the section, [DBNum1] changes the digits).
			if inner := strings.ToLower(code[i+1 : i+j]); !strings.HasPrefix(inner, "$") && !shownColour(inner) {
				return false, 0
			}
			i += j
		case c == '0' || c == '#' || c == '?':
			digits = true
			if point {
				decimals++
			}
		case c == '.':
			if point {
				return false, 0
			}
			point = true
		case c == ',':
			// A thousands separator between digit placeholders; after them it divides by 1000.
			if point || i+1 >= len(code) || !strings.ContainsRune("0#?", rune(code[i+1])) {
				return false, 0
			}
		case strings.IndexByte(" $-+():!^&'~{}<>=", c) >= 0:
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(code[i:])
			if !unicode.Is(unicode.Sc, r) && r != '\u00a0' {
				return false, 0
			}
			i += size - 1
		default:
			return false, 0 // %, E, /, @, letters, General...
		}
	}
	return digits, decimals
}

func shownColour(s string) bool {
	switch s {
	case "black", "blue", "cyan", "green", "magenta", "red", "white", "yellow":
		return true
	}
	return strings.HasPrefix(s, "color")
}

// shownNumberRE is a number as excelize formats it: thousands separators, a decimal point,
// an exponent.
var shownNumberRE = regexp.MustCompile(`(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)(?:[Ee][+-]?[0-9]+)?`)

// shownNumber reads the number in a cell's shown text ("$ 1,234.50 USDT" is 1234.5),
// without its sign; false when the text holds no number, more than one, or a percentage.
func shownNumber(text string) (decimal.Decimal, bool) {
	loc := shownNumberRE.FindStringIndex(text)
	if loc == nil || strings.ContainsRune(text, '%') || strings.ContainsAny(text[loc[1]:], "0123456789") {
		return decimal.Decimal{}, false
	}
	d, err := decimal.NewFromString(strings.ReplaceAll(text[loc[0]:loc[1]], ",", ""))
	if err != nil {
		return decimal.Decimal{}, false
	}
	return d.Abs(), true
}
