package exporters

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/shopspring/decimal"
)

// WriteReconciliationCSV writes the report into dir, which must exist, as one CSV file per
// sheet (summary.csv, receipts.csv, fees.csv, payouts.csv, exceptions.csv): RFC 4180 (CRLF),
// UTF-8, days as 2006-01-02, times in RFC 3339 UTC with microseconds, amounts exact with "."
// and at least the currency's decimals, no thousands separators. summary.csv holds the
// Summary sheet's blocks one after the other, each with its own header row, separated by an
// empty line. Text that a user or the API controls is neutralised (Neutralise).
func WriteReconciliationCSV(dir string, r *Reconciliation) error {
	for _, s := range r.sheets() {
		if err := writeReconCSVFile(filepath.Join(dir, s.file), s); err != nil {
			return err
		}
	}
	return nil
}

func writeReconCSVFile(path string, s reconSheet) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("exporters: unable to create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("exporters: unable to write %s: %w", path, cerr)
		}
	}()
	w := newCSVWriter(f)
	fail := func(err error) error { return fmt.Errorf("exporters: unable to write %s: %w", path, err) }
	for _, line := range s.lines {
		if err := w.write([]string{line}); err != nil {
			return fail(err)
		}
	}
	record := []string{}
	for i, t := range s.tables {
		if i > 0 || len(s.lines) > 0 {
			if err := w.write(nil); err != nil {
				return fail(err)
			}
		}
		if t.title != "" {
			if err := w.write([]string{t.title}); err != nil {
				return fail(err)
			}
		}
		record = record[:0]
		for _, c := range t.columns {
			record = append(record, c.header)
		}
		if err := w.write(record); err != nil {
			return fail(err)
		}
		for cells := range t.rows {
			record = record[:0]
			for _, c := range cells {
				record = append(record, reconCSVCell(c))
			}
			if err := w.write(record); err != nil {
				return fail(err)
			}
		}
	}
	if err := w.flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	return nil
}

// reconCSVCell formats one cell for CSV.
func reconCSVCell(c reconCell) string {
	switch c.kind {
	case reconLabel:
		return c.text
	case reconText:
		return Neutralise(c.text)
	case reconCount:
		return strconv.FormatInt(c.count, 10)
	case reconDay:
		return c.at.Format("2006-01-02")
	case reconTime:
		return c.at.Format(reconTimeLayout)
	case reconAmount:
		return reconCSVAmount(c.amount, c.places)
	}
	return ""
}

// reconCSVAmount writes d exactly, padded to places decimals; never rounded to them.
func reconCSVAmount(d decimal.Decimal, places int32) string {
	if -d.Exponent() > places {
		return d.String()
	}
	return d.StringFixed(places)
}
