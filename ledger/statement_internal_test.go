package ledger

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseNumeric(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"0", "-0", "12.3400", "-100.0185000000000000", "99.51830200000000000000", "0.000000000000000001",
		"123456789012345678", "1234567890123456789", "-9223372036854775808", "12345.123456789012345678",
		"100", "100.000", "-0.5",
	} {
		got, err := parseNumeric([]byte(in))
		if err != nil {
			t.Errorf("parseNumeric(%q): %v", in, err)
			continue
		}
		if want := decimal.RequireFromString(in); !got.Equal(want) {
			t.Errorf("parseNumeric(%q) = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"", "-", "1.2.3", "NaN", "1e5x", "abc"} {
		if _, err := parseNumeric([]byte(in)); err == nil {
			t.Errorf("parseNumeric(%q) took it", in)
		}
	}
}

func TestArrayItems(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"{}": nil, "{1}": {"1"}, "{1,2.5,NULL}": {"1", "2.5", "NULL"},
	} {
		a := newArrayItems([]byte(in))
		var got []string
		for {
			item, ok := a.next()
			if !ok {
				break
			}
			got = append(got, string(item))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %q, want %q", in, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: %q, want %q", in, got, want)
			}
		}
	}
}
