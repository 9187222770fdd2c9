package exporters

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/nordpay/nordpay-jobs/templates"
)

// stmtCSV writes a statement as RFC 4180 CSV (CRLF line ends, UTF-8, no byte order mark):
// one file, or several when the template splits by currency or limits the lines per file.
type stmtCSV struct {
	run    *stmtRun
	files  Files
	group  string // "-<CUR>" when split by currency
	part   int    // the number of the current file in its group, from 1
	w      *csvWriter
	name   string // the current file's suffix, for errors
	inFile int    // lines written to the current file, the header included
	cell   []byte // the value being formatted
	// parts are the files written per group: the number of the last one.
	parts map[string]int
}

// writeStatementCSV writes the statement of r to files: per currency, its opening row, its
// lines, its total and closing rows (as the template says).
func writeStatementCSV(r *stmtRun, files Files) error {
	s := &stmtCSV{run: r, files: files, parts: map[string]int{}}
	tpl := r.layout.tpl
	var l stmtLine
	for _, c := range r.currencies {
		if tpl.SplitByCurrency {
			if err := s.flush(); err != nil {
				return err
			}
			s.w, s.group, s.part = nil, "-"+stmtFileSafe(c.Currency), 0
			if err := s.open(); err != nil { // every currency gets its file, lines or not
				return err
			}
		}
		if tpl.SummaryRows {
			r.summaryLine(c, stmtRowOpening, &l)
			if err := s.write(&l); err != nil {
				return err
			}
		}
		if err := r.currencyLines(c, s.write); err != nil {
			return err
		}
		if tpl.SummaryRows {
			for _, kind := range []stmtRowKind{stmtRowTotal, stmtRowClosing} {
				r.summaryLine(c, kind, &l)
				if err := s.write(&l); err != nil {
					return err
				}
			}
		}
	}
	if s.w == nil { // no currency at all: the header alone says so
		if err := s.open(); err != nil {
			return err
		}
	}
	if err := s.flush(); err != nil {
		return err
	}
	return s.replaceEarlier()
}

// earlierFiles is what Files implement to clear out an earlier export to the same place
// (AtomicFiles does).
type earlierFiles interface {
	earlier(suffix string) (bool, error)
	replace(suffix string)
}

// replaceEarlier marks, for removal at Commit, the files that an earlier statement of the
// same template left at the same OUT and this one does not rewrite, because it needs fewer
// files: OUT-004.csv and on when this one stops at OUT-003.csv; OUT-<CUR>.csv of a currency
// this one does not have. Only names of this template's pattern are candidates, and of
// those only the ones the earlier export can have written: the numbered files that follow
// on from the last one written here without a gap, and the files of the currencies the
// ledger has (of the one currency asked for, with --currency: statements of other
// currencies to the same OUT are left alone). Anything else, OUT itself included, stays.
func (s *stmtCSV) replaceEarlier() error {
	files, ok := s.files.(earlierFiles)
	tpl := s.run.layout.tpl
	if !ok || (!tpl.SplitByCurrency && tpl.MaxLines == 0) {
		return nil
	}
	groups := make([]string, 0, len(s.parts))
	for g := range s.parts {
		groups = append(groups, g)
	}
	if tpl.SplitByCurrency && s.run.opts.Currency == "" {
		for _, code := range s.run.known {
			if g := "-" + stmtFileSafe(code); !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	slices.Sort(groups)
	for _, g := range groups {
		if tpl.MaxLines == 0 {
			if s.parts[g] > 0 {
				continue // written
			}
			found, err := files.earlier(g)
			if err != nil {
				return err
			}
			if found {
				files.replace(g)
			}
			continue
		}
		for part := s.parts[g] + 1; ; part++ {
			suffix := g + stmtPartSuffix(part)
			found, err := files.earlier(suffix)
			if err != nil {
				return err
			}
			if !found {
				break
			}
			files.replace(suffix)
		}
	}
	return nil
}

// stmtPartSuffix is the suffix of the numbered file part of a group: "-001".
func stmtPartSuffix(part int) string { return fmt.Sprintf("-%03d", part) }

// open starts the next file of the current group with the header row.
func (s *stmtCSV) open() error {
	if err := s.flush(); err != nil {
		return err
	}
	s.part++
	s.parts[s.group] = s.part
	s.name = s.group
	if s.run.layout.tpl.MaxLines > 0 {
		s.name += stmtPartSuffix(s.part)
	}
	w, err := s.files.Create(s.name)
	if err != nil {
		return err
	}
	s.w = newCSVWriter(w)
	s.inFile = 0
	return s.writeRecord(s.run.layout.headers())
}

// write writes one row, starting a new file first when the current one is full.
func (s *stmtCSV) write(l *stmtLine) error {
	if s.w == nil || (s.run.layout.tpl.MaxLines > 0 && s.inFile >= s.run.layout.tpl.MaxLines) {
		if err := s.open(); err != nil {
			return err
		}
	}
	layout := s.run.layout
	for i := range layout.columns {
		c := &layout.columns[i]
		v := c.value(l)
		if v.kind == "" && c.required && l.kind == stmtRowLine {
			return layout.missing(c, l)
		}
		switch v.kind {
		case templates.KindText:
			s.w.field(v.text)
		case templates.KindUserText:
			s.w.field(Neutralise(v.text))
		default:
			s.cell = s.appendCell(s.cell[:0], c, l, v)
			s.w.fieldBytes(s.cell)
		}
	}
	if err := s.w.endRecord(); err != nil {
		return fmt.Errorf("exporters: unable to write the statement (file %q): %w", s.name, err)
	}
	s.inFile++
	return nil
}

// appendCell appends one value as CSV text (quoting is the csvWriter's).
func (s *stmtCSV) appendCell(dst []byte, c *stmtColumn, l *stmtLine, v stmtValue) []byte {
	switch v.kind {
	case templates.KindText:
		return append(dst, v.text...)
	case templates.KindUserText:
		return append(dst, Neutralise(v.text)...)
	case templates.KindAmount, templates.KindUSD:
		return stmtDecimal(dst, v.d, c.places(l))
	case templates.KindTime:
		return v.t.UTC().AppendFormat(dst, s.run.layout.time.Layout)
	case templates.KindInteger:
		return strconv.AppendInt(dst, v.n, 10)
	}
	return dst
}

func (s *stmtCSV) writeRecord(rec []string) error {
	if err := s.w.write(rec); err != nil {
		return fmt.Errorf("exporters: unable to write the statement (file %q): %w", s.name, err)
	}
	s.inFile++
	return nil
}

// flush writes out the current file's buffer.
func (s *stmtCSV) flush() error {
	if s.w == nil {
		return nil
	}
	if err := s.w.flush(); err != nil {
		return fmt.Errorf("exporters: unable to write the statement (file %q): %w", s.name, err)
	}
	return nil
}

// stmtFileSafe keeps a currency code usable in a file name: letters, digits, '.', '_' and '-'
// pass, anything else becomes '_'.
func stmtFileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
