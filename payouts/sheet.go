package payouts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Limits of ReadSheet when ReadOptions leaves them zero.
const (
	// DefaultMaxRows is the most payout rows (non-empty rows below the header) a sheet may hold.
	DefaultMaxRows = 100_000
	// DefaultMaxBytes is the largest file ReadSheet accepts: 32 MiB.
	DefaultMaxBytes = 32 << 20
	// DefaultMaxUnzippedBytes bounds the sum of the unzipped sizes of an XLSX's parts: 256 MiB.
	DefaultMaxUnzippedBytes = 256 << 20
)

// progressEvery is how many rows ReadSheet and Validate handle between two calls of their
// Progress callback: often enough for a bar, rare enough to cost nothing.
const progressEvery = 1024

// Errors of ReadSheet for a file that cannot be read at all, for errors.Is. Everything else
// (a missing column, a bad amount on row 7) is a RowError in Sheet.Errors.
var (
	// ErrSheetTooLarge: the file is above MaxBytes, its unzipped parts above
	// MaxUnzippedBytes, or it holds more than MaxRows payout rows.
	ErrSheetTooLarge = errors.New("sheet too large")
	// ErrNotASheet: the file is neither an XLSX workbook nor CSV text that can be read.
	ErrNotASheet = errors.New("not a payout sheet")
)

// The canonical column names, in template order.
const (
	ColCurrency  = "currency"
	ColAddress   = "address"
	ColAmount    = "amount"
	ColReference = "reference"
	ColName      = "name"
	ColNote      = "note"
)

// Columns are the canonical column names of a payout sheet, in template order; the first
// four are required.
var Columns = []string{ColCurrency, ColAddress, ColAmount, ColReference, ColName, ColNote}

// field indexes into Columns; a fieldMask holds one bit per field.
const (
	fCurrency = iota
	fAddress
	fAmount
	fReference
	fName
	fNote
	nFields
)

type fieldMask uint8

func (m fieldMask) has(f int) bool { return m&(1<<f) != 0 }

const requiredFields = 4 // currency, address, amount, reference

// headerAliases maps a header, squashed (see squash), to its column.
var headerAliases = func() map[string]int {
	m := map[string]int{}
	for f, names := range [nFields][]string{
		fCurrency:  {"currency", "currencies", "coin", "asset", "token", "ccy", "currencycode"},
		fAddress:   {"address", "wallet", "walletaddress", "to", "toaddress", "recipientaddress", "payeeaddress", "destination", "destinationaddress", "payoutaddress", "cryptoaddress", "addr"},
		fAmount:    {"amount", "sum", "value", "amountcrypto", "payoutamount", "amounttopay"},
		fReference: {"reference", "ref", "id", "paymentreference", "paymentref", "paymentid", "payoutid", "referenceid", "externalid"},
		fName:      {"name", "recipient", "payee", "recipientname", "payeename", "beneficiary", "fullname"},
		fNote:      {"note", "notes", "comment", "comments", "memo", "description", "remark", "remarks"},
	} {
		for _, n := range names {
			m[n] = f
		}
	}
	return m
}()

// squash folds a header for matching: lower case, letters and digits only, so that
// "Wallet Address", "wallet_address" and "wallet-address" are one name, and "Amount (crypto)"
// is "amountcrypto".
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ReadSheet reads a payout sheet, XLSX or CSV, decided by the file's first bytes (a ZIP
// archive is an XLSX) and then by the extension of name. Columns are found by their header
// (the sheet's first non-empty row), ignoring case, spaces, punctuation and common aliases
// ("wallet" is the address, "coin" the currency...); a column with another header is ignored
// (and written back by WriteReport).
//
// It returns an error (ErrSheetTooLarge, ErrNotASheet, or the reader's) only when the file
// cannot be read at all; every other problem is a RowError in Sheet.Errors with the row
// number the spreadsheet program shows. Rows that could not be read are left out of
// Sheet.Rows; Validate still checks what could be read of them. Empty rows are skipped.
//
// Amounts are exact decimals. In CSV, and in text cells of an XLSX, an amount is digits
// with at most one decimal point (or comma, with opts.DecimalComma); thousands separators,
// spaces, currency symbols and exponent notation are refused, and "1,234" without
// DecimalComma is refused as ambiguous. A numeric XLSX cell is taken as the spreadsheet
// shows it (15 significant digits, so a stored 0.30000000000000004 is 0.3); a date, a
// TRUE/FALSE, an error value or a formula without a cached value is refused. A hidden
// XLSX row that holds data is refused too (an approver would not see it).
func ReadSheet(name string, r io.Reader, opts ReadOptions) (*Sheet, error) {
	opts = opts.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("payouts: %s: unable to read the file: %w", name, err)
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("payouts: %s: %w: the file is larger than %s", name, ErrSheetTooLarge, sizeText(opts.MaxBytes))
	}
	sum := sha256.Sum256(data)
	sh := &Sheet{Name: name, SHA256: hex.EncodeToString(sum[:])}
	format, err := detectFormat(name, data)
	if err != nil {
		return nil, err
	}
	sh.Format = format
	switch format {
	case "xlsx":
		err = readXLSX(sh, data, opts)
	default:
		err = readCSV(sh, data, opts)
	}
	if err != nil {
		return nil, err
	}
	return sh, nil
}

func (o ReadOptions) withDefaults() ReadOptions {
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxUnzippedBytes <= 0 {
		o.MaxUnzippedBytes = DefaultMaxUnzippedBytes
	}
	return o
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// detectFormat decides between XLSX and CSV, and refuses what is neither with a hint.
func detectFormat(name string, data []byte) (string, error) {
	ext := strings.ToLower(filepath.Ext(name))
	notSheet := func(why string) error {
		return fmt.Errorf("payouts: %s: %w: %s", name, ErrNotASheet, why)
	}
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "xlsx", nil
	case bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return "", notSheet("an empty ZIP archive")
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return "", notSheet("an Excel 97-2003 (.xls) file or a password-protected workbook: save it as .xlsx (without a password) or as CSV UTF-8")
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return "", notSheet("UTF-16 text (Excel's \"Unicode Text\"): save it as \"CSV UTF-8\"")
	case bytes.HasPrefix(data, []byte("%PDF")):
		return "", notSheet("a PDF document")
	}
	switch ext {
	case ".xlsx", ".xlsm", ".xltx", ".xltm":
		return "", notSheet("the name says XLSX but the content is not a ZIP archive (a damaged or renamed file?)")
	case ".xls", ".ods", ".numbers":
		return "", notSheet(ext + " files are not read: save it as .xlsx or as CSV UTF-8")
	}
	probe := data[:min(len(data), 8192)]
	if bytes.IndexByte(probe, 0) >= 0 {
		return "", notSheet("binary content: not an XLSX workbook nor CSV text")
	}
	return "csv", nil
}

// rawSheet is what WriteReport and Validate need beyond Sheet.Rows: the cells as written and
// the rows that did not parse. It is Sheet.Raw.
type rawSheet struct {
	format     string
	sep        rune // CSV separator
	bom, crlf  bool // CSV: the file had a UTF-8 BOM, CRLF line ends
	sepLine    bool // CSV: the file started with Excel's "sep=" line
	headerLine int  // 0 when the sheet has no header
	header     []string
	rows       []rawRow     // non-empty rows below the header, in order
	partial    []parsedRow  // rows with a parse error, as far as they parsed
	ignored    []string     // headers of the columns that were ignored
	lastLine   int          // the last row with content (or a CSV syntax error)
	cols       [nFields]int // cell index of each field, -1 when absent
}

type rawRow struct {
	line  int
	cells []string
}

// parsedRow is a row and the fields that failed to parse (bad).
type parsedRow struct {
	Row
	bad fieldMask
}

// IgnoredColumns lists the headers of the columns that ReadSheet did not recognise and
// ignored (they are kept in the report), so that a caller can say so.
func (s *Sheet) IgnoredColumns() []string {
	if raw, ok := s.Raw.(*rawSheet); ok {
		return append([]string(nil), raw.ignored...)
	}
	return nil
}

// Describe formats a problem for a person: "march.xlsx row 7, amount: ..." (a problem of
// the whole sheet has no row).
func (e RowError) Describe(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if e.Row > 0 {
		fmt.Fprintf(&b, " row %d", e.Row)
	}
	if e.Field != "" {
		b.WriteString(", " + e.Field)
	}
	b.WriteString(": " + e.Message)
	return b.String()
}

// cellKind is what a cell held, beyond its text: XLSX knows numbers, dates and the rest.
type cellKind uint8

const (
	kindText    cellKind = iota // text (every CSV cell)
	kindNumber                  // a number: text is the stored value
	kindDate                    // a number with a date or time format, or an ISO date cell
	kindBool                    // TRUE or FALSE
	kindError                   // an error value such as #DIV/0!
	kindNoCache                 // a formula without a cached value
	kindBadUTF8                 // CSV: not valid UTF-8
)

// cell is one cell of a row as a reader hands it to the builder.
type cell struct {
	text string
	kind cellKind
	num  decimal.Decimal // kindNumber: the value, set by builder.add
	bad  string          // kindNumber: why the stored number cannot be read
}

// builder turns rows of cells into a Sheet: header, fields, errors, limits.
type builder struct {
	sh      *Sheet
	raw     *rawSheet
	opts    ReadOptions
	usable  bool // the header has every required column, once each
	dataRow int  // payout rows so far
}

func newBuilder(sh *Sheet, format string, opts ReadOptions) *builder {
	raw := &rawSheet{format: format}
	for i := range raw.cols {
		raw.cols[i] = -1
	}
	sh.Raw = raw
	return &builder{sh: sh, raw: raw, opts: opts}
}

func (b *builder) sheetError(field, format string, args ...any) {
	b.sh.Errors = append(b.sh.Errors, RowError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (b *builder) rowError(line int, field, format string, args ...any) {
	b.sh.Errors = append(b.sh.Errors, RowError{Row: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func blank(cells []cell) bool {
	for _, c := range cells {
		if c.kind == kindNoCache || c.kind == kindError || c.kind == kindBadUTF8 || strings.TrimSpace(c.text) != "" {
			return false
		}
	}
	return true
}

// add takes the next row of the sheet (its cells' texts are kept for the report). It
// returns ErrSheetTooLarge (wrapped) past MaxRows.
func (b *builder) add(line int, cells []cell, hidden bool) error {
	if b.raw.headerLine == 0 {
		if blank(cells) {
			return nil
		}
		b.raw.lastLine = line
		b.header(line, cells)
		return nil
	}
	if b.usable && b.payoutBlank(cells) || !b.usable && blank(cells) {
		return nil
	}
	b.raw.lastLine = line
	b.dataRow++
	if b.dataRow > b.opts.MaxRows {
		return fmt.Errorf("payouts: %s: %w: more than %d payout rows (row %d)", b.sh.Name, ErrSheetTooLarge, b.opts.MaxRows, line)
	}
	if b.opts.Progress != nil && b.dataRow%progressEvery == 0 {
		b.opts.Progress(b.dataRow)
	}
	texts := make([]string, len(cells))
	for i := range cells {
		c := &cells[i]
		texts[i] = c.text
		if c.kind == kindNumber && c.text != "" {
			// Read once, as the spreadsheet shows it, for the row and for the report.
			d, err := spreadsheetNumber(c.text)
			if err != nil {
				c.bad = err.Error()
			} else {
				c.num, c.text, texts[i] = d, d.String(), d.String()
			}
		}
	}
	b.raw.rows = append(b.raw.rows, rawRow{line: line, cells: texts})
	if !b.usable {
		return nil
	}
	b.row(line, cells, hidden)
	return nil
}

// payoutBlank reports whether every cell of the six known columns is blank: only such a row
// is skipped (a row with only an unknown column filled carries nothing to pay).
func (b *builder) payoutBlank(cells []cell) bool {
	for _, i := range b.raw.cols {
		if i >= 0 && i < len(cells) && !blank(cells[i:i+1]) {
			return false
		}
	}
	return true
}

// header maps columns by the header row.
func (b *builder) header(line int, cells []cell) {
	raw := b.raw
	raw.headerLine = line
	raw.header = make([]string, len(cells))
	var seen [nFields][]int
	for i, c := range cells {
		h := strings.TrimSpace(c.text)
		raw.header[i] = c.text
		if h == "" {
			continue
		}
		if f, ok := headerAliases[squash(h)]; ok {
			seen[f] = append(seen[f], i)
		} else {
			raw.ignored = append(raw.ignored, h)
		}
	}
	b.usable = true
	for f, at := range seen {
		switch {
		case len(at) == 0 && f < requiredFields:
			b.usable = false
			found := make([]string, 0, len(cells))
			for _, c := range cells {
				if h := strings.TrimSpace(c.text); h != "" {
					found = append(found, fmt.Sprintf("%q", h))
				}
			}
			b.sheetError(Columns[f], "no %q column: the header (row %d) has %s", Columns[f], line, strings.Join(found, ", "))
		case len(at) > 1:
			b.usable = false
			names := make([]string, len(at))
			for k, i := range at {
				names[k] = fmt.Sprintf("%s (%q)", columnName(i), strings.TrimSpace(cells[i].text))
			}
			b.sheetError(Columns[f], "%d columns are read as %q: %s; keep one", len(at), Columns[f], strings.Join(names, ", "))
		case len(at) == 1:
			raw.cols[f] = at[0]
		}
	}
}

// columnName is a column's letter as a spreadsheet shows it (0 is A).
func columnName(i int) string {
	name := ""
	for i++; i > 0; i = (i - 1) / 26 {
		name = string(rune('A'+(i-1)%26)) + name
	}
	return name
}

// row parses one payout row.
func (b *builder) row(line int, cells []cell, hidden bool) {
	pr := parsedRow{Row: Row{Line: line}}
	before := len(b.sh.Errors)
	get := func(f int) cell {
		if i := b.raw.cols[f]; i >= 0 && i < len(cells) {
			return cells[i]
		}
		return cell{}
	}
	for i, c := range cells {
		if c.kind == kindBadUTF8 {
			field := ""
			for f, at := range b.raw.cols {
				if at == i {
					field = Columns[f]
				}
			}
			b.rowError(line, field, "column %s is not valid UTF-8 text: save the file as \"CSV UTF-8\"", columnName(i))
			for f, at := range b.raw.cols {
				if at == i {
					pr.bad |= 1 << f
				}
			}
		}
	}
	for f := range nFields {
		if pr.bad.has(f) {
			continue
		}
		c := get(f)
		text := strings.TrimSpace(c.text)
		var problem string
		switch c.kind {
		case kindNoCache:
			problem = "formula without a cached value: open the file in Excel or LibreOffice and save it again, or paste the values"
		case kindError:
			problem = fmt.Sprintf("the cell shows an error (%s)", text)
		}
		if problem == "" {
			switch f {
			case fCurrency:
				pr.Currency = strings.ToUpper(text)
			case fAddress:
				pr.Address = text
			case fAmount:
				pr.Amount, problem = b.amount(c, text)
			case fReference:
				pr.Reference = text
			case fName:
				pr.Name = text
			case fNote:
				pr.Note = text
			}
			if problem == "" && f < requiredFields && text == "" {
				problem = "empty: the column is required"
			}
		}
		if problem != "" {
			pr.bad |= 1 << f
			b.rowError(line, Columns[f], "%s", problem)
		}
	}
	if hidden {
		b.rowError(line, "", "the row is hidden (or filtered out): an approver would not see it; unhide it or delete it")
	}
	if len(b.sh.Errors) > before {
		b.raw.partial = append(b.raw.partial, pr)
		return
	}
	b.sh.Rows = append(b.sh.Rows, pr.Row)
}

// amount reads an amount cell.
func (b *builder) amount(c cell, text string) (decimal.Decimal, string) {
	switch c.kind {
	case kindNumber:
		if text == "" {
			return decimal.Decimal{}, ""
		}
		return c.num, c.bad
	case kindDate:
		return decimal.Decimal{}, "a date or time in the amount column: write the amount as a number"
	case kindBool:
		return decimal.Decimal{}, "a TRUE/FALSE value in the amount column: write the amount as a number"
	}
	if text == "" {
		return decimal.Decimal{}, ""
	}
	return parseAmountText(text, b.opts.DecimalComma)
}

// finish adds the sheet-level errors found at the end, and reports the rows read.
func (b *builder) finish() {
	if b.opts.Progress != nil && (b.dataRow == 0 || b.dataRow%progressEvery != 0) {
		b.opts.Progress(b.dataRow) // unless add has just said it
	}
	switch {
	case b.raw.headerLine == 0:
		b.sheetError("", "the sheet is empty: it needs a header row (%s) and payout rows below it", strings.Join(Columns, ", "))
	case b.dataRow == 0:
		b.sheetError("", "no payout rows below the header (row %d)", b.raw.headerLine)
	}
}

// maxAmountText bounds what is parsed as an amount.
const maxAmountText = 64

// parseAmountText reads an amount written as text, or returns why it cannot. A sign is
// accepted so that Validate can say that the amount must be positive.
func parseAmountText(s string, decimalComma bool) (decimal.Decimal, string) {
	fail := func(format string, args ...any) (decimal.Decimal, string) {
		return decimal.Decimal{}, fmt.Sprintf(format, args...)
	}
	if len(s) > maxAmountText || !utf8.ValidString(s) {
		return fail("not a number")
	}
	body, neg := s, false
	switch {
	case strings.HasPrefix(body, "-"), strings.HasPrefix(body, "\u2212"):
		neg, body = true, strings.TrimPrefix(strings.TrimPrefix(body, "-"), "\u2212")
	case strings.HasPrefix(body, "+"):
		body = body[1:]
	}
	var digits, points, commas, spaces, exps, others int
	prev := rune(0)
	for _, r := range body {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.':
			points++
		case r == ',':
			commas++
		case r == 'e' || r == 'E':
			exps++
		case (r == '+' || r == '-') && (prev == 'e' || prev == 'E'):
			// the exponent's sign
		case unicode.IsSpace(r) || r == '\'' || r == '\u2019' || r == '_':
			spaces++
		default:
			others++
		}
		prev = r
	}
	switch {
	case digits == 0:
		return fail("%q is not a number", s)
	case others > 0:
		return fail("%q is not a number: write the amount alone, without a currency symbol, unit or sign", s)
	case exps > 0:
		if exps == 1 && spaces == 0 {
			return fail("%q: exponent notation is not accepted in a payout amount; write the number in full", s)
		}
		return fail("%q is not a number", s)
	case spaces > 0:
		return fail("%q: spaces or separators inside a number are not accepted; write digits and one decimal separator only", s)
	}
	if decimalComma {
		switch {
		case points > 0:
			return fail("%q: a point in an amount read with --decimal-comma: the decimal separator is the comma, and thousands separators are not accepted", s)
		case commas > 1:
			return fail("%q: thousands separators are not accepted; write digits and one decimal comma only", s)
		}
		body = strings.Replace(body, ",", ".", 1)
	} else {
		switch {
		case commas > 0 && thousandsGrouped(body):
			if points == 0 && commas == 1 {
				return fail("%q is ambiguous: a thousands separator or a decimal comma? Thousands separators are not accepted; for a decimal comma, read the file with --decimal-comma", s)
			}
			return fail("%q: thousands separators are not accepted; write the number without them", s)
		case commas == 1 && points == 0:
			return fail("%q has a decimal comma: write it with a point, or read the file with --decimal-comma", s)
		case commas > 0:
			return fail("%q: thousands separators are not accepted; write digits and one decimal point only", s)
		case points > 1:
			return fail("%q: thousands separators are not accepted; write digits and one decimal point only", s)
		}
	}
	d, err := decimal.NewFromString(body)
	if err != nil {
		return fail("%q is not a number", s)
	}
	if neg {
		d = d.Neg()
	}
	return d, ""
}

// thousandsGrouped reports whether s (digits, commas and at most one point) has its integer
// part grouped by commas in threes: 1,234 or 12,345,678.90.
func thousandsGrouped(s string) bool {
	intPart, _, _ := strings.Cut(s, ".")
	groups := strings.Split(intPart, ",")
	if len(groups) < 2 || len(groups[0]) == 0 || len(groups[0]) > 3 {
		return false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return false
		}
	}
	return true
}

// spreadsheetDigits is the precision of a spreadsheet number: Excel and LibreOffice show
// (and compute with) 15 significant digits.
const spreadsheetDigits = 15

// maxExponent bounds the decimal exponent of a stored number: no payout amount needs more,
// and a huge exponent would make an enormous decimal.
const maxExponent = 30

// spreadsheetNumber reads the stored text of a numeric XLSX cell ("25.5", "1.5E-3",
// "0.30000000000000004") as the spreadsheet shows it: rounded to 15 significant digits,
// which removes binary floating-point artefacts (0.1+0.2 is stored as 0.30000000000000004
// and shown as 0.3). The rounding is done on the decimal text, never in float64. (Shortest
// round-trip formatting, strconv 'g' -1, would keep 0.30000000000000004: it is already the
// shortest text of that float.) A number with more significant digits than that cannot be
// held by a numeric cell anyway; amounts that need them are written as text.
func spreadsheetNumber(stored string) (decimal.Decimal, error) {
	if len(stored) > maxAmountText {
		return decimal.Decimal{}, fmt.Errorf("the stored number %q is too long", stored)
	}
	d, err := decimal.NewFromString(stored)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("the stored number %q cannot be read", stored)
	}
	if d.IsZero() {
		return decimal.Zero, nil
	}
	exp, digits := int(d.Exponent()), d.NumDigits()
	if exp < -maxExponent-spreadsheetDigits || exp+digits > maxExponent {
		return decimal.Decimal{}, fmt.Errorf("the number %s is out of range for an amount", stored)
	}
	if digits > spreadsheetDigits {
		// The most significant digit is at 10^(exp+digits-1); keep 15 digits from there.
		d = canonical(d.Round(int32(spreadsheetDigits - (exp + digits))))
	}
	return d, nil
}

// canonical drops trailing zeros: 1.500 is 1.5, and 1.5E-3 is 0.0015.
func canonical(d decimal.Decimal) decimal.Decimal {
	c, err := decimal.NewFromString(d.String())
	if err != nil {
		return d
	}
	return c
}
