package exporters

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/templates"
)

// stmtLayout is a template made ready to write: each column knows how to get its value.
type stmtLayout struct {
	tpl     *templates.Template
	columns []stmtColumn
	time    templates.TimeFormat
	// used says which money values a column shows.
	used [stmtMoneyFields]bool
}

// usesAny reports whether a column shows one of the money values.
func (l *stmtLayout) usesAny(money ...int) bool {
	for _, m := range money {
		if l.used[m] {
			return true
		}
	}
	return false
}

// stmtColumn is one column of a layout.
type stmtColumn struct {
	header string
	// title is the header as a cell shows it: neutralised, as a user's template may say
	// anything.
	title    string
	field    string
	kind     templates.FieldKind
	required bool
	id       stmtFieldID
	money    int // the index in stmtLine.money of an amount field
}

type stmtFieldID int

const (
	stmtFieldMoney stmtFieldID = iota // an amount: stmtColumn.money says which
	stmtFieldRow
	stmtFieldCurrency
	stmtFieldTime
	stmtFieldBookedAt
	stmtFieldKind
	stmtFieldEntryID
	stmtFieldExternalID
	stmtFieldTxHash
	stmtFieldLabel
	stmtFieldAddress
	stmtFieldReference
	stmtFieldPayee
	stmtFieldDescription
)

var stmtFieldIDs = map[string]stmtFieldID{
	"row": stmtFieldRow, "currency": stmtFieldCurrency, "time": stmtFieldTime, "booked_at": stmtFieldBookedAt,
	"kind": stmtFieldKind, "entry_id": stmtFieldEntryID, "external_id": stmtFieldExternalID, "tx_hash": stmtFieldTxHash,
	"label": stmtFieldLabel, "address": stmtFieldAddress, "reference": stmtFieldReference, "payee": stmtFieldPayee,
	"description": stmtFieldDescription,
}

var stmtMoneyIDs = map[string]int{
	"gross": stmtGross, "network_fee": stmtNetworkFeeV, "service_fee": stmtServiceFeeV, "fees": stmtFees,
	"net": stmtNetV, "balance": stmtBalance, "credit": stmtCredit, "debit": stmtDebit,
	"gross_usd": stmtGrossUSD, "network_fee_usd": stmtNetworkFeeUSD, "service_fee_usd": stmtServiceFeeUSD,
	"fees_usd": stmtFeesUSD, "net_usd": stmtNetUSD, "credit_usd": stmtCreditUSD, "debit_usd": stmtDebitUSD,
}

// compileStmtLayout resolves a template's fields; a field the exporter does not know is an
// error that names the template's file and the column.
func compileStmtLayout(t *templates.Template) (*stmtLayout, error) {
	l := &stmtLayout{tpl: t, time: t.Time()}
	titles := map[string]int{}
	for i, c := range t.Columns {
		f, ok := templates.FieldByName(c.Field)
		col := stmtColumn{header: c.Header, title: Neutralise(c.Header), field: c.Field, kind: f.Kind, required: c.Required, money: -1}
		if prev, dup := titles[col.title]; dup { // "=x" is "'=x" once inert
			return nil, fmt.Errorf("exporters: template %s (%s): column %d (%q): the header is column %d's once made inert (%q); headers must differ",
				t.Name, t.Source, i+1, c.Header, prev, col.title)
		}
		titles[col.title] = i + 1
		if id, known := stmtFieldIDs[c.Field]; known && ok {
			col.id = id
		} else if m, known := stmtMoneyIDs[c.Field]; known && ok {
			col.id, col.money = stmtFieldMoney, m
			l.used[m] = true
		} else {
			return nil, fmt.Errorf("exporters: template %s (%s): column %d (%q): the statement exporter does not know field %q",
				t.Name, t.Source, i+1, c.Header, c.Field)
		}
		l.columns = append(l.columns, col)
	}
	return l, nil
}

// headers returns the header row, neutralised (Neutralise): a user's template may hold a
// header that a spreadsheet would run.
func (l *stmtLayout) headers() []string {
	out := make([]string, len(l.columns))
	for i, c := range l.columns {
		out[i] = c.title
	}
	return out
}

// stmtValue is one cell's value before a format writes it; kind "" means empty.
type stmtValue struct {
	kind templates.FieldKind
	text string
	d    decimal.Decimal
	t    time.Time
	n    int64
}

// value returns the column's value on line l.
func (c *stmtColumn) value(l *stmtLine) stmtValue {
	if c.id == stmtFieldMoney {
		if !l.has[c.money] {
			return stmtValue{}
		}
		return stmtValue{kind: c.kind, d: l.money[c.money]}
	}
	switch c.id {
	case stmtFieldRow:
		return stmtValue{kind: templates.KindText, text: l.kind.String()}
	case stmtFieldCurrency:
		return stmtValue{kind: c.kind, text: l.cur.Currency}
	case stmtFieldTime:
		if l.at.IsZero() {
			return stmtValue{}
		}
		return stmtValue{kind: templates.KindTime, t: l.at}
	}
	e := l.entry
	if e == nil {
		return stmtValue{} // the other fields are empty on the opening, total and closing rows
	}
	text := func(s string) stmtValue {
		if s == "" {
			return stmtValue{}
		}
		return stmtValue{kind: c.kind, text: s}
	}
	switch c.id {
	case stmtFieldBookedAt:
		return stmtValue{kind: templates.KindTime, t: l.bookedAt}
	case stmtFieldKind:
		return text(e.Source)
	case stmtFieldEntryID:
		return stmtValue{kind: templates.KindInteger, n: e.ID}
	case stmtFieldExternalID:
		return text(e.ExternalID)
	case stmtFieldTxHash:
		return text(e.TxHash)
	case stmtFieldLabel:
		return text(e.Label)
	case stmtFieldAddress:
		return text(e.Address)
	case stmtFieldReference:
		return text(e.SourceRef)
	case stmtFieldPayee:
		if strings.TrimSpace(e.Label) != "" {
			return text(e.Label)
		}
		return text(e.Address)
	case stmtFieldDescription:
		return text(e.Description)
	}
	return stmtValue{}
}

// missing returns the error for a required column that line l leaves empty.
func (l *stmtLayout) missing(c *stmtColumn, line *stmtLine) error {
	what := line.kind.String() + " row"
	if e := line.entry; e != nil {
		what = fmt.Sprintf("entry %d (%s/%s)", e.ID, e.Source, e.ExternalID)
	}
	return fmt.Errorf("exporters: template %s (%s): column %q (%s) is required, but %s in %s has no value for it",
		l.tpl.Name, l.tpl.Source, c.header, c.field, what, line.cur.Currency)
}

// stmtUSDPlaces is the precision USD values are written with (more decimals are kept).
const stmtUSDPlaces = 2

// places returns the decimals an amount of the column is written with on line l.
func (c *stmtColumn) places(l *stmtLine) int {
	if c.kind == templates.KindUSD {
		return stmtUSDPlaces
	}
	return l.cur.Precision
}

// stmtDecimal writes d with at least places decimals: padded with zeros, never rounded, so
// an amount with more decimals than its currency's precision keeps them all. No exponent,
// no thousands separator, "." as the decimal point.
func stmtDecimal(dst []byte, d decimal.Decimal, places int) []byte {
	start := len(dst)
	exp := int(d.Exponent())
	if exp > 0 || exp < -18 || d.NumDigits() > 18 {
		return stmtPadDecimals(append(dst, d.String()...), start, places) // exact, trailing zeros dropped
	}
	// The usual amount fits an int64: format it without big.Int.
	coef, scale := d.CoefficientInt64(), -exp
	for scale > 0 && coef%10 == 0 {
		coef /= 10
		scale--
	}
	var digits [24]byte
	u := uint64(coef)
	if coef < 0 {
		dst = append(dst, '-')
		u = uint64(-coef)
	}
	n := strconv.AppendUint(digits[:0], u, 10)
	if whole := len(n) - scale; whole > 0 {
		dst = append(dst, n[:whole]...)
		if scale > 0 {
			dst = append(dst, '.')
			dst = append(dst, n[whole:]...)
		}
	} else {
		dst = append(dst, '0', '.')
		for ; whole < 0; whole++ {
			dst = append(dst, '0')
		}
		dst = append(dst, n...)
	}
	return stmtPadDecimals(dst, start, places)
}

// stmtPadDecimals pads the number dst[start:] with zeros to places decimals.
func stmtPadDecimals(dst []byte, start, places int) []byte {
	have := 0
	if dot := bytes.IndexByte(dst[start:], '.'); dot >= 0 {
		have = len(dst) - start - dot - 1
	} else if places > 0 {
		dst = append(dst, '.')
	}
	for ; have < places; have++ {
		dst = append(dst, '0')
	}
	return dst
}
