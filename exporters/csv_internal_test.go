package exporters

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
)

// TestCSVWriterKeepsEveryByte checks that a field comes back from a CSV reader exactly as it
// was written, a CR or an LF inside it included (encoding/csv's Writer, with CRLF line ends,
// drops the CR and turns the LF into CRLF), that records end with CRLF, and that fields are
// quoted where encoding/csv quotes them.
func TestCSVWriterKeepsEveryByte(t *testing.T) {
	t.Parallel()
	records := [][]string{
		{"plain", "", "with,comma", `with "quotes"`, "\r=1+1", "a\rb", "line\nbreak", " leading space", "\tx", `\.`, "ünï"},
		{},
		{"last"},
	}
	var out bytes.Buffer
	w := newCSVWriter(&out)
	for i, rec := range records {
		if i == 0 {
			for _, f := range rec[:5] {
				w.field(f)
			}
			for _, f := range rec[5:] {
				w.fieldBytes([]byte(f))
			}
			if err := w.endRecord(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := w.write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	want := "plain,,\"with,comma\",\"with \"\"quotes\"\"\",\"\r=1+1\",\"a\rb\",\"line\nbreak\",\" leading space\",\"\tx\",\"\\.\",ünï\r\n\r\nlast\r\n"
	if got := out.String(); got != want {
		t.Fatalf("wrote\n%q\nwant\n%q", got, want)
	}
	r := csv.NewReader(bytes.NewReader(out.Bytes()))
	r.FieldsPerRecord = -1
	got, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// A CSV reader skips the empty record.
	if len(got) != 2 || !slices.Equal(got[0], records[0]) || !slices.Equal(got[1], records[2]) {
		t.Fatalf("read back %q", got)
	}
}
