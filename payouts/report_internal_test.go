package payouts

import "testing"

// The cases of exporters.Neutralise's test: the rule must stay the same.
func TestNeutralise(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`=HYPERLINK("http://x","y")`: `'=HYPERLINK("http://x","y")`,
		"+1+1":                       "'+1+1",
		"@SUM(A1)":                   "'@SUM(A1)",
		"-2+3":                       "'-2+3",
		"\t=1":                       "'\t=1",
		"\r=1":                       "'\r=1",
		"\n=1":                       "'\n=1",
		"  =1+1":                     "'  =1+1",
		"＝1+1":                       "'＝1+1",
		"＠x":                         "'＠x",
		"order 42":                   "order 42",
		"":                           "",
		"   ":                        "   ",
		"a=b":                        "a=b",
		"0xAbC":                      "0xAbC",
	} {
		if got := neutralise(in); got != want {
			t.Errorf("neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}
