package exporters

import (
	"encoding/xml"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/templates"
)

func TestStmtDecimal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		places int
		want   string
	}{
		{"0", 6, "0.000000"},
		{"0", 0, "0"},
		{"1.5", 6, "1.500000"},
		{"-1.5", 2, "-1.50"},
		{"1.2300", 2, "1.23"},           // trailing zeros are not digits of the value
		{"1.12345678", 6, "1.12345678"}, // more than the precision: kept, never rounded
		{"-0.000000000000000001", 18, "-0.000000000000000001"},
		{"0.000000000000000001", 2, "0.000000000000000001"},
		{"123456789012345678.123456789012345678", 2, "123456789012345678.123456789012345678"}, // big.Int path
		{"1E+3", 2, "1000.00"},
		{"12345", 0, "12345"},
		{"-9223372036854775808", 0, "-9223372036854775808"},
		{"1E-30", 30, "0.000000000000000000000000000001"},
	} {
		got := string(stmtDecimal([]byte("x"), decimal.RequireFromString(tc.in), tc.places))
		if got != "x"+tc.want {
			t.Errorf("stmtDecimal(%s, %d) = %q, want %q", tc.in, tc.places, got[1:], tc.want)
		}
	}
	// Against the slow, obvious way, on random values of every size and scale.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		d := decimal.New(r.Int64N(math.MaxInt64)-r.Int64N(math.MaxInt64), -r.Int32N(25))
		places := r.IntN(20)
		want := d.String()
		if dot := strings.IndexByte(want, '.'); dot < 0 && places > 0 {
			want += "." + strings.Repeat("0", places)
		} else if dot >= 0 && len(want)-dot-1 < places {
			want += strings.Repeat("0", places-(len(want)-dot-1))
		}
		if got := string(stmtDecimal(nil, d, places)); got != want {
			t.Fatalf("stmtDecimal(%s, %d) = %q, want %q", d, places, got, want)
		}
	}
}

func TestStmtSum(t *testing.T) {
	t.Parallel()
	// Small amounts at mixed scales, then ones that overflow an int64: the sum must equal
	// decimal's own, exactly.
	r := rand.New(rand.NewPCG(3, 4))
	var s stmtSum
	want := decimal.Zero
	for i := range 100000 {
		var d decimal.Decimal
		switch {
		case i < 50000:
			d = decimal.New(r.Int64N(1e12)-5e11, -r.Int32N(9))
		case i == 50000:
			d = decimal.RequireFromString("9223372036854775807.123")
		case i%1000 == 0:
			d = decimal.New(r.Int64N(math.MaxInt64), -r.Int32N(19))
		default:
			d = decimal.New(r.Int64N(1e6), -18)
		}
		s.add(d)
		want = want.Add(d)
		if i%9999 == 0 && !s.value().Equal(want) {
			t.Fatalf("after %d: %s, want %s", i, s.value(), want)
		}
	}
	if !s.value().Equal(want) || !s.big {
		t.Fatalf("sum %s (big %v), want %s", s.value(), s.big, want)
	}
	var small stmtSum
	for _, d := range []string{"0.1", "0.02", "-0.12", "5", "1E+2"} {
		small.add(decimal.RequireFromString(d))
	}
	if small.value().String() != "105" || small.big {
		t.Fatalf("small sum %s (big %v)", small.value(), small.big)
	}
	var edge stmtSum
	edge.add(decimal.New(math.MaxInt64, 0))
	edge.add(decimal.New(1, 0))
	if edge.value().String() != "9223372036854775808" {
		t.Fatalf("overflowing sum %s", edge.value())
	}
}

func TestStmtSerial(t *testing.T) {
	t.Parallel()
	epoch := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), "61"},
		{time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "46296"},
		{time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC), "46296.5"},
		{time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC), "46296.25"},
	} {
		if got := string(stmtSerial(nil, tc.at)); got != tc.want {
			t.Errorf("stmtSerial(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
	if stmtSerial(nil, time.Date(1900, 2, 28, 0, 0, 0, 0, time.UTC)) != nil {
		t.Error("a date before 1900-03-01 has a serial")
	}
	// Every microsecond comes back: serial * 86400e6, rounded.
	r := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		at := time.Date(1950+r.IntN(150), 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(365*86400e6)) * time.Microsecond)
		s := decimal.RequireFromString(string(stmtSerial(nil, at)))
		back := epoch.Add(time.Duration(s.Mul(decimal.NewFromInt(86_400_000_000)).Round(0).IntPart()) * time.Microsecond)
		if !back.Equal(at) {
			t.Fatalf("%s -> %s -> %s", at, s, back)
		}
	}
}

func TestStmtDigits(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]int{
		"0.000000": {0, 6}, "100": {1, 0}, "-123.450000": {5, 6}, "0.000000000000000001": {1, 18},
		"123456789012345.6": {16, 1}, "12345.123456789012345678": {23, 18},
	} {
		sig, scale := stmtDigits([]byte(in))
		if sig != want[0] || scale != want[1] {
			t.Errorf("stmtDigits(%s) = %d, %d; want %v", in, sig, scale, want)
		}
	}
}

func TestStmtCellText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"a & b <c>":      "a &amp; b &lt;c&gt;",
		"bell\x07":       "bell_x0007_",
		"_x0041_ stays":  "_x005F_x0041_ stays",
		"_x41_ is text":  "_x41_ is text",
		"tab\tline\nend": "tab\tline\nend",
		"cr\r":           "cr_x000D_",
		"bad \xff utf8":  "bad _xFFFD_ utf8",
		"ünïcødé":        "ünïcødé",
	} {
		got := string(stmtCellText(nil, in))
		if got != want {
			t.Errorf("stmtCellText(%q) = %q, want %q", in, got, want)
		}
		if err := xml.Unmarshal([]byte("<t>"+got+"</t>"), new(string)); err != nil {
			t.Errorf("stmtCellText(%q) is not XML text: %v", in, err)
		}
	}
}

// TestStmtKnowsEveryField makes sure the exporter writes every field a template may name.
func TestStmtKnowsEveryField(t *testing.T) {
	t.Parallel()
	tpl := &templates.Template{Name: "all", Source: "test", Kind: templates.KindStatement}
	for _, f := range templates.Fields {
		tpl.Columns = append(tpl.Columns, templates.Column{Header: f.Name, Field: f.Name})
	}
	l, err := compileStmtLayout(tpl)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range l.columns {
		if c.id == stmtFieldMoney && c.money < 0 {
			t.Errorf("column %d (%s) has no value", i, c.field)
		}
	}
	tpl.Columns = append(tpl.Columns, templates.Column{Header: "x", Field: "nope"})
	if _, err := compileStmtLayout(tpl); err == nil || !strings.Contains(err.Error(), `column 29 ("x"): the statement exporter does not know field "nope"`) {
		t.Fatalf("err = %v", err)
	}
}
