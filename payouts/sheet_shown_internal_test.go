package payouts

import "testing"

func TestPlainNumFmt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code     string
		plain    bool
		decimals int32
	}{
		{"0", true, 0}, {"#,##0", true, 0}, {"0.00", true, 2}, {"#,##0.00", true, 2}, {"0.0##", true, 3},
		{`#,##0.00 "USDT"`, true, 2}, {`[$€-407] #,##0.00;[Red]-#,##0.00`, true, 2}, {`€#,##0.00`, true, 2},
		{builtinNumFmt[44], true, 2}, {builtinNumFmt[5], true, 0},
		{"0%", false, 0}, {"0.00E+00", false, 0}, {"# ?/?", false, 0}, {"#,##0,", false, 0},
		{"[>100]0;0.00", false, 0}, {"[DBNum1]0.00", false, 0}, {";;;", false, 0}, {"General", false, 0},
		{"0.00 x", false, 0}, {`0.00"`, false, 0},
	} {
		plain, decimals := plainNumFmt(tc.code)
		if plain != tc.plain || plain && decimals != tc.decimals {
			t.Errorf("plainNumFmt(%q) = %v, %d; want %v, %d", tc.code, plain, decimals, tc.plain, tc.decimals)
		}
	}
}

func TestShownNumber(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"10": "10", "1,234.50": "1234.5", "$ 1,234.50 USDT": "1234.5", "(10.40)": "10.4", "-10.40": "10.4",
		"1.0E+01": "10", "10.40 EUR": "10.4", "10 2/5": "", "1040%": "", "": "", "USDT": "",
	} {
		d, ok := shownNumber(text)
		if got := map[bool]string{true: d.String()}[ok]; got != want {
			t.Errorf("shownNumber(%q) = %q, %v; want %q", text, d, ok, want)
		}
	}
}
