package exporters

import (
	"io"
	"unicode"
	"unicode/utf8"
)

// csvWriter writes RFC 4180 records: fields separated by commas, each record ended by CRLF,
// a field quoted (its quotes doubled) when it holds a comma, a quote, a CR or an LF, or
// starts with a space, as encoding/csv quotes them. Unlike encoding/csv's Writer, it keeps
// every byte of a field as it is: with CRLF line ends, that one drops a CR inside a field
// and turns an LF into CRLF, so a label holding them would not read back as the ledger
// holds it.
//
// Fields are appended to the record being built (field, or fieldBytes for a value formatted
// into a scratch buffer), and endRecord ends it; records are buffered and written in blocks,
// and flush writes out the rest.
type csvWriter struct {
	w   io.Writer
	buf []byte
	// fields counts the fields of the record being built.
	fields int
	err    error
}

// csvFlushAt is the buffered size past which endRecord writes the buffer out.
const csvFlushAt = 64 << 10

func newCSVWriter(w io.Writer) *csvWriter {
	return &csvWriter{w: w, buf: make([]byte, 0, csvFlushAt+4<<10)}
}

// field appends one field to the record.
func (c *csvWriter) field(s string) {
	if c.fields > 0 {
		c.buf = append(c.buf, ',')
	}
	c.fields++
	if !csvNeedsQuotes(s) {
		c.buf = append(c.buf, s...)
		return
	}
	c.buf = append(c.buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			c.buf = append(c.buf, '"')
		}
		c.buf = append(c.buf, s[i])
	}
	c.buf = append(c.buf, '"')
}

// fieldBytes appends one field given as bytes (a value formatted into a scratch buffer).
func (c *csvWriter) fieldBytes(b []byte) {
	if c.fields > 0 {
		c.buf = append(c.buf, ',')
	}
	c.fields++
	if !csvNeedsQuotes(b) {
		c.buf = append(c.buf, b...)
		return
	}
	c.buf = append(c.buf, '"')
	for _, ch := range b {
		if ch == '"' {
			c.buf = append(c.buf, '"')
		}
		c.buf = append(c.buf, ch)
	}
	c.buf = append(c.buf, '"')
}

// endRecord ends the record with CRLF.
func (c *csvWriter) endRecord() error {
	c.buf = append(c.buf, '\r', '\n')
	c.fields = 0
	if len(c.buf) >= csvFlushAt {
		return c.flush()
	}
	return c.err
}

// write writes a whole record.
func (c *csvWriter) write(record []string) error {
	for _, f := range record {
		c.field(f)
	}
	return c.endRecord()
}

// flush writes out what is buffered; the first error sticks.
func (c *csvWriter) flush() error {
	if c.err != nil {
		return c.err
	}
	if len(c.buf) > 0 {
		_, c.err = c.w.Write(c.buf)
		c.buf = c.buf[:0]
	}
	return c.err
}

// csvNeedsQuotes reports whether a field must be quoted: the rule of encoding/csv.
func csvNeedsQuotes[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	if len(s) == 2 && s[0] == '\\' && s[1] == '.' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	if s[0] < utf8.RuneSelf {
		return unicode.IsSpace(rune(s[0]))
	}
	r, _ := utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
	return unicode.IsSpace(r)
}
