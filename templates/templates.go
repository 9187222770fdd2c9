// Package templates holds the layouts of what nordpay-jobs exports, as data: which columns a
// statement has, in which order, under which headers, how times are written, and how the
// output is cut into files. The layouts shipped with the binary are YAML files embedded from
// this directory; a user directory (--template-dir, config export.template_dir) can override
// any of them by name, or add new ones, without a rebuild.
//
// A statement template is a YAML file named NAME.yaml:
//
//	kind: statement              # required
//	description: one line shown by `nordpay-jobs export templates`
//	formats: [csv, xlsx]         # which --format values may use it (default both)
//	summary_rows: true           # opening, total and closing rows per currency
//	split_by_currency: false     # CSV: one file per currency, OUT-<CUR>.csv
//	max_lines: 0                 # CSV: at most this many lines per file, header included,
//	                             # as OUT-001.csv, OUT-002.csv, ... (0: no limit)
//	time_format: rfc3339         # rfc3339, date, dd/mm/yyyy or mm/dd/yyyy
//	columns:
//	  - header: Date             # the column's title, unique in the template
//	    field: time              # what it shows: one of Fields
//	    required: false          # a line with no value here is an error (e.g. no USD value)
//
// Unknown keys, unknown fields and unknown time formats are errors that name the file and
// the column.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed *.yaml
var embedded embed.FS

// KindStatement is the kind of a statement template.
const KindStatement = "statement"

// Default is the template a statement uses when none is named.
const Default = "default"

// The formats a statement template can be written in.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// Template is one statement layout, as loaded and checked.
type Template struct {
	// Name is the file name without .yaml; --template selects by it.
	Name string `yaml:"-"`
	// Source says where the template came from, for errors and listings: "embedded
	// default.yaml" or the path of a user file.
	Source string `yaml:"-"`

	Kind        string   `yaml:"kind"`
	Description string   `yaml:"description"`
	Formats     []string `yaml:"formats"`
	// SummaryRows adds an opening row, a total row and a closing row per currency.
	SummaryRows bool `yaml:"summary_rows"`
	// SplitByCurrency writes one CSV file per currency (OUT-<CUR>.csv).
	SplitByCurrency bool `yaml:"split_by_currency"`
	// MaxLines limits a CSV file to this many lines, the header included, by cutting the
	// statement into numbered files (OUT-001.csv, ...). 0 means no limit.
	MaxLines int `yaml:"max_lines"`
	// TimeFormat names how times are written: see TimeFormats. Defaults to rfc3339.
	TimeFormat string   `yaml:"time_format"`
	Columns    []Column `yaml:"columns"`
}

// Column is one column of a template.
type Column struct {
	// Header is the column's title in the header row.
	Header string `yaml:"header"`
	// Field names what the column shows: one of Fields.
	Field string `yaml:"field"`
	// Required makes a statement line with no value in this column an error, for
	// importers that reject empty cells (a USD amount for Xero).
	Required bool `yaml:"required"`
}

// FieldKind says what sort of value a field holds, and so how it is written.
type FieldKind string

// Field kinds.
const (
	// KindText is text the exporter makes itself (a row kind, a source).
	KindText FieldKind = "text"
	// KindUserText is text a user or the API controls (a label, an address, a currency
	// code); it is neutralised against formula injection in every format.
	KindUserText FieldKind = "user text"
	// KindAmount is an amount in the statement's currency, at the currency's precision.
	KindAmount FieldKind = "amount"
	// KindUSD is an informational USD value.
	KindUSD FieldKind = "USD amount"
	// KindTime is a time in UTC.
	KindTime FieldKind = "time"
	// KindInteger is a whole number.
	KindInteger FieldKind = "integer"
)

// Field is one value a statement column can show.
type Field struct {
	Name        string
	Kind        FieldKind
	Description string
}

// Fields are the values a statement template's columns can show; the exporters implement
// every one of them.
var Fields = []Field{
	{"row", KindText, "what the row is: opening, line, total or closing"},
	{"currency", KindUserText, "the currency code (USDTBEP20, BTC, ...), as Nord PAY's currency list names it"},
	{"time", KindTime, "when the transaction happened (occurred_at, UTC); the period's start on an opening row, its end on a closing row"},
	{"booked_at", KindTime, "when the entry was booked into the ledger (UTC)"},
	{"kind", KindText, "invoice, wallet, withdrawal, opening, manual or reversal"},
	{"entry_id", KindInteger, "the ledger's entry id"},
	{"external_id", KindUserText, "Nord PAY's id of the transaction (or the payout row's id)"},
	{"tx_hash", KindUserText, "the chain transaction hash"},
	{"label", KindUserText, "the invoice's or wallet's label, or the payout reference"},
	{"address", KindUserText, "the address paid to or from"},
	{"reference", KindUserText, "the invoice, wallet or withdrawal request the transaction belongs to"},
	{"payee", KindUserText, "the label, or the address when there is no label"},
	{"description", KindUserText, "the ledger entry's one-line description"},
	{"gross", KindAmount, "the amount before fees: received (positive) or paid out (negative)"},
	{"network_fee", KindAmount, "the network fee"},
	{"service_fee", KindAmount, "Nord PAY's service fee (withdrawal fees included)"},
	{"fees", KindAmount, "network fee plus service fee"},
	{"net", KindAmount, "what the line adds to the balance: gross minus fees"},
	{"balance", KindAmount, "the running balance after the line; the opening or closing balance on those rows"},
	{"credit", KindAmount, "net when it is positive (money in), else empty"},
	{"debit", KindAmount, "minus net when net is negative (money out), else empty"},
	{"gross_usd", KindUSD, "gross in USD, as booked"},
	{"network_fee_usd", KindUSD, "network fee in USD"},
	{"service_fee_usd", KindUSD, "service fee in USD"},
	{"fees_usd", KindUSD, "fees in USD"},
	{"net_usd", KindUSD, "net in USD"},
	{"credit_usd", KindUSD, "net in USD when net is positive"},
	{"debit_usd", KindUSD, "minus net in USD when net is negative"},
}

// FieldByName returns the field of that name.
func FieldByName(name string) (Field, bool) {
	i := slices.IndexFunc(Fields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return Field{}, false
	}
	return Fields[i], true
}

// TimeFormat is a way of writing times, in text (CSV) and as a spreadsheet number format.
type TimeFormat struct {
	Name string
	// Layout is the Go time layout of the text form.
	Layout string
	// Spreadsheet is the number format of the date cells of an XLSX file.
	Spreadsheet string
}

// TimeFormats are the values of time_format.
var TimeFormats = []TimeFormat{
	{"rfc3339", "2006-01-02T15:04:05.999999Z07:00", "yyyy-mm-dd hh:mm:ss"},
	{"date", "2006-01-02", "yyyy-mm-dd"},
	{"dd/mm/yyyy", "02/01/2006", "dd/mm/yyyy"},
	{"mm/dd/yyyy", "01/02/2006", "mm/dd/yyyy"},
}

// Time returns the template's time format.
func (t *Template) Time() TimeFormat {
	for _, f := range TimeFormats {
		if f.Name == t.TimeFormat {
			return f
		}
	}
	return TimeFormats[0]
}

// Allows reports whether the template may be written in format.
func (t *Template) Allows(format string) bool { return slices.Contains(t.Formats, format) }

// ErrUnknown is returned for a template name that neither the user directory nor the
// embedded templates hold.
var ErrUnknown = errors.New("templates: unknown template")

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// Load returns the statement template of that name: dir/NAME.yaml when dir is set and holds
// it, else the embedded one. A dir that does not exist is an error, not a silent fallback.
func Load(name, dir string) (*Template, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w %q: a template name is lower-case letters, digits, '.', '_' and '-'", ErrUnknown, name)
	}
	if dir != "" {
		if err := checkDir(dir); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, name+".yaml")
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			return Parse(name, path, data)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("templates: %w", err)
		}
	}
	data, err := embedded.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(names(dir), ", "))
	}
	return Parse(name, "embedded "+name+".yaml", data)
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("templates: template directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("templates: template directory %s is not a directory", dir)
	}
	return nil
}

// names lists the statement template names of the embedded set and dir, sorted: files of
// another kind (a payout sheet's layout) are left out, files that do not parse are kept (so
// that List shows their error).
func names(dir string) []string {
	seen := map[string]bool{}
	add := func(fsys fs.FS) {
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			return
		}
		for _, e := range entries {
			n, ok := strings.CutSuffix(e.Name(), ".yaml")
			if !ok || e.IsDir() || !validName.MatchString(n) {
				continue
			}
			var head struct {
				Kind string `yaml:"kind"`
			}
			if data, err := fs.ReadFile(fsys, e.Name()); err == nil && yaml.Unmarshal(data, &head) == nil &&
				head.Kind != "" && head.Kind != KindStatement {
				continue
			}
			seen[n] = true
		}
	}
	add(embedded)
	if dir != "" {
		add(os.DirFS(dir))
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Source returns the YAML of the template of that name as Load would read it, to copy into
// a template directory and change.
func Source(name, dir string) ([]byte, error) {
	t, err := Load(name, dir)
	if err != nil {
		return nil, err
	}
	if path, ok := strings.CutPrefix(t.Source, "embedded "); ok {
		data, err := embedded.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(t.Source)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return data, nil
}

// Listed is one template of List: loaded, or the error that prevents it from loading.
type Listed struct {
	Name     string
	Template *Template
	Err      error
}

// List returns every template, embedded or in dir (which overrides by name), sorted by
// name, each loaded or with its error, for `nordpay-jobs export templates`.
func List(dir string) ([]Listed, error) {
	if dir != "" {
		if err := checkDir(dir); err != nil {
			return nil, err
		}
	}
	var out []Listed
	for _, n := range names(dir) {
		t, err := Load(n, dir)
		out = append(out, Listed{Name: n, Template: t, Err: err})
	}
	return out, nil
}

// Parse reads and checks a statement template; source names it in errors.
func Parse(name, source string, data []byte) (*Template, error) {
	t := &Template{Name: name, Source: source}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("templates: %s: the file is empty", source)
		}
		return nil, fmt.Errorf("templates: %s: %s", source, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("templates: %s: %w", source, err)
	}
	return t, nil
}

// check validates a decoded template and fills the defaults.
func (t *Template) check() error {
	if t.Kind != KindStatement {
		return fmt.Errorf("kind is %q; a statement template says kind: %s", t.Kind, KindStatement)
	}
	if len(t.Formats) == 0 {
		t.Formats = []string{FormatCSV, FormatXLSX}
	}
	for _, f := range t.Formats {
		if f != FormatCSV && f != FormatXLSX {
			return fmt.Errorf("formats: %q is neither %s nor %s", f, FormatCSV, FormatXLSX)
		}
	}
	if t.TimeFormat == "" {
		t.TimeFormat = TimeFormats[0].Name
	}
	if !slices.ContainsFunc(TimeFormats, func(f TimeFormat) bool { return f.Name == t.TimeFormat }) {
		known := make([]string, len(TimeFormats))
		for i, f := range TimeFormats {
			known[i] = f.Name
		}
		return fmt.Errorf("time_format: unknown format %q (known: %s)", t.TimeFormat, strings.Join(known, ", "))
	}
	if t.MaxLines < 0 || t.MaxLines == 1 {
		return fmt.Errorf("max_lines: %d leaves no room for a line under the header; use 0 (no limit) or at least 2", t.MaxLines)
	}
	if t.MaxLines > 0 && t.SummaryRows {
		return errors.New("max_lines and summary_rows do not go together: the opening and closing rows would land in different files")
	}
	if len(t.Columns) == 0 {
		return errors.New("columns: a template needs at least one column")
	}
	headers := map[string]int{}
	hasCurrency, native := false, ""
	for i, c := range t.Columns {
		where := fmt.Sprintf("column %d (%q)", i+1, c.Header)
		if strings.TrimSpace(c.Header) == "" {
			return fmt.Errorf("column %d: the header is empty", i+1)
		}
		if prev, ok := headers[c.Header]; ok {
			return fmt.Errorf("%s: the header is also column %d's; headers must be unique", where, prev)
		}
		headers[c.Header] = i + 1
		f, ok := FieldByName(c.Field)
		if !ok {
			known := make([]string, len(Fields))
			for j, f := range Fields {
				known[j] = f.Name
			}
			return fmt.Errorf("%s: unknown field %q (known: %s)", where, c.Field, strings.Join(known, ", "))
		}
		switch {
		case f.Name == "currency":
			hasCurrency = true
		case f.Kind == KindAmount && native == "":
			native = c.Header
		}
	}
	if native != "" && !hasCurrency && !t.SplitByCurrency && t.Allows(FormatCSV) {
		return fmt.Errorf("column %q is in each currency's own units, but the template has no currency column and does not set split_by_currency: true, so amounts in different currencies would share a CSV file", native)
	}
	return nil
}
