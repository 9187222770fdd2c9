package payouts

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestSpreadsheetNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ stored, want string }{
		{"25.5", "25.5"},
		{"0.30000000000000004", "0.3"}, // 0.1+0.2
		{"0.30000000000000027", "0.3"}, // 0.1*3 and similar
		{"1.0000000000000002", "1"},    // 1 + epsilon
		{"12.000001", "12.000001"},     // from the LibreOffice fixture
		{"1.5E-3", "0.0015"},           // Excel's spelling of small numbers
		{"1.5000000000000001E-7", "0.00000015"},
		{"123456789012345678", "123456789012346000"}, // 15 significant digits, as a spreadsheet shows it
		{"-2.5", "-2.5"},
		{"0", "0"},
		{"100", "100"},
		{"99999999999999.99", "100000000000000"}, // 16 significant digits round to 15
	} {
		got, err := spreadsheetNumber(tc.stored)
		if err != nil || got.String() != tc.want {
			t.Errorf("spreadsheetNumber(%q) = %s, %v; want %s", tc.stored, got, err, tc.want)
		}
	}
	for _, bad := range []string{"1E+99", "1E-99", "abc", "", strings.Repeat("9", 80)} {
		if d, err := spreadsheetNumber(bad); err == nil {
			t.Errorf("spreadsheetNumber(%q) = %s, want an error", bad, d)
		}
	}
	// Why 15 significant digits and not the shortest round trip: the shortest text of the
	// float 0.1+0.2 is 0.30000000000000004 itself.
	f, _ := strconv.ParseFloat("0.30000000000000004", 64)
	if s := strconv.FormatFloat(f, 'g', -1, 64); s != "0.30000000000000004" {
		t.Errorf("shortest round trip %s", s)
	}
}

func TestDateFormats(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]bool{
		"General": false, "@": false, "0.00": false, "#,##0.00": false, "0.00E+00": false,
		`#,##0.00 "USDT"`: false, `[$€-407]#,##0.00`: false, `[Red]0.00;[Blue]-0.00`: false, `0.00\m`: false,
		"yyyy-mm-dd": true, "d/m/yyyy": true, "dd.mm.yy": true, "h:mm": true, "[h]:mm:ss": true,
		`[$-409]mmmm d, yyyy`: true, "mm:ss.0": true, `"Date: "yyyy`: true,
	} {
		if got := dateFormatCode(code); got != want {
			t.Errorf("dateFormatCode(%q) = %v, want %v", code, got, want)
		}
	}
	for id, want := range map[int]bool{0: false, 2: false, 4: false, 14: true, 22: true, 45: true, 49: false, 57: true} {
		if got := dateFormatID(id); got != want {
			t.Errorf("dateFormatID(%d) = %v", id, got)
		}
	}
}

func TestColumns(t *testing.T) {
	t.Parallel()
	for i, name := range map[int]string{0: "A", 25: "Z", 26: "AA", 27: "AB", 701: "ZZ", 702: "AAA", 16383: "XFD"} {
		if got := columnName(i); got != name {
			t.Errorf("columnName(%d) = %s, want %s", i, got, name)
		}
		if got, ok := columnIndex(name + "12"); !ok || got != i {
			t.Errorf("columnIndex(%s12) = %d, %v", name, got, ok)
		}
	}
	for _, bad := range []string{"", "12", "A", "AAAAA1", "A-1"} {
		if _, ok := columnIndex(bad); ok {
			t.Errorf("columnIndex(%q) accepted", bad)
		}
	}
}

func TestSeparator(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]rune{
		"a,b,c\n":                ',',
		"a;b;c\n":                ';',
		"\n\n a;b;c\r\n":         ';',
		`"a;b",c` + "\n":         ',',
		"amount;note,x;y\n":      ';',
		"single\n":               ',',
		"":                       ',',
		"a,b;c;d\nx,y,z,w,v\n":   ';',
		`"x,y,z";"a,b";c` + "\n": ';',
		"a\tb\tc,d\n":            '\t',
	} {
		if got := detectSeparator([]byte(in)); got != want {
			t.Errorf("detectSeparator(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseAmountText(f *testing.F) {
	for _, s := range []string{"1", "1.5", "1,5", "1,234", "1e3", "-0", "+1", ".5", "5.", "1 234", "$1", "\u22121", "0.000000000000000001"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, decimalComma bool) {
		d, problem := parseAmountText(s, decimalComma)
		if problem != "" {
			return
		}
		// What is accepted is digits with one separator and an optional sign: it reads back.
		back, p2 := parseAmountText(d.String(), false)
		if p2 != "" || !back.Equal(d) {
			t.Errorf("%q read as %s, which reads back as %s (%s)", s, d, back, p2)
		}
		if strings.ContainsAny(s, "eE") {
			t.Errorf("%q accepted with an exponent", s)
		}
	})
}

func FuzzReadSheet(f *testing.F) {
	f.Add("a.csv", []byte("currency,address,amount,reference\nUSDTTRC20,T,1,R\n"), false)
	f.Add("a.csv", []byte("\xef\xbb\xbfcurrency;address;amount;reference\r\n\"x\"\"\";;\"1,5\";\n"), true)
	f.Add("a.xlsx", []byte("PK\x03\x04"), false)
	f.Fuzz(func(t *testing.T, name string, data []byte, decimalComma bool) {
		sh, err := ReadSheet(name, bytes.NewReader(data), ReadOptions{DecimalComma: decimalComma, MaxBytes: 1 << 16})
		if err != nil {
			return
		}
		for _, r := range sh.Rows {
			if r.Line < 2 || r.Reference == "" || r.Currency == "" || r.Address == "" {
				t.Errorf("row %+v", r)
			}
		}
		var buf bytes.Buffer
		if err := WriteReport(&buf, sh, sh.Errors); err != nil {
			t.Errorf("WriteReport: %v", err)
		}
	})
}
