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
	"strconv"
	"strings"

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
	sheet     string    // the chosen worksheet's name
	zipFile   *zip.File // its XML part
	dateStyle []bool    // by cell style index: the number format shows a date or time
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
		kind := s.readCell()
		if s.done {
			return
		}
		if col >= 16384 {
			continue // beyond a spreadsheet's last column
		}
		for len(s.kinds) <= col {
			s.kinds = append(s.kinds, kindText)
		}
		s.kinds[col] = kind
	}
	s.fail(fmt.Errorf("row %d is not closed", s.row))
}

// readCell classifies the <c> element in s.tag, reading it to its end.
func (s *kindScanner) readCell() cellKind {
	t := &s.tag
	typ := string(t.attr("t"))
	style := -1
	if v := t.attr("s"); len(v) > 0 {
		style, _ = strconv.Atoi(string(v))
	}
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
	case style >= 0 && style < len(s.dateStyle) && s.dateStyle[style]:
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
