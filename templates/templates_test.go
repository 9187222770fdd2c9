package templates_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nordpay/nordpay-jobs/templates"
)

func TestEmbedded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, headers, formats string
		maxLines               int
		split, summary         bool
		timeFormat             string
	}{
		{"default", "Row,Currency,Time (UTC),Booked at (UTC),Kind,External ID,Tx hash,Label,Address,Reference,Description,Gross,Network fee,Service fee,Net,Balance,Gross USD,Network fee USD,Service fee USD,Net USD", "csv,xlsx", 0, false, true, "rfc3339"},
		{"xero", "Date,Amount,Payee,Description,Reference", "csv", 1000, false, false, "dd/mm/yyyy"},
		{"quickbooks", "Date,Description,Credit,Debit", "csv", 0, true, false, "mm/dd/yyyy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := templates.Load(tc.name, "")
			if err != nil {
				t.Fatal(err)
			}
			var headers []string
			for _, c := range tpl.Columns {
				headers = append(headers, c.Header)
			}
			if strings.Join(headers, ",") != tc.headers || strings.Join(tpl.Formats, ",") != tc.formats || tpl.MaxLines != tc.maxLines ||
				tpl.SplitByCurrency != tc.split || tpl.SummaryRows != tc.summary || tpl.TimeFormat != tc.timeFormat ||
				tpl.Source != "embedded "+tc.name+".yaml" || tpl.Description == "" {
				t.Fatalf("%+v", tpl)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := "kind: statement\ncolumns:\n  - {header: A, field: time}\n"
	for name, body := range map[string]string{
		"badfield":    "kind: statement\ncolumns:\n  - {header: A, field: time}\n  - {header: B, field: nett}\n",
		"badkey":      "kind: statement\ncolums: []\n",
		"badkind":     "kind: payout-sheet\ncolumns:\n  - {header: A, field: time}\n",
		"badtime":     "kind: statement\ntime_format: dd.mm.yy\ncolumns:\n  - {header: A, field: time}\n",
		"dupheader":   "kind: statement\ncolumns:\n  - {header: A, field: time}\n  - {header: A, field: kind}\n",
		"noheader":    "kind: statement\ncolumns:\n  - {header: '', field: time}\n",
		"nocolumns":   "kind: statement\n",
		"empty":       "",
		"badformat":   "kind: statement\nformats: [pdf]\ncolumns:\n  - {header: A, field: time}\n",
		"splitsum":    "kind: statement\nmax_lines: 10\nsummary_rows: true\ncolumns:\n  - {header: A, field: time}\n",
		"oneline":     "kind: statement\nmax_lines: 1\ncolumns:\n  - {header: A, field: time}\n",
		"mixed":       "kind: statement\ncolumns:\n  - {header: A, field: time}\n  - {header: Net, field: net}\n",
		"good":        good,
		"xlsxonlymix": "kind: statement\nformats: [xlsx]\ncolumns:\n  - {header: Net, field: net}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, says string }{
		{"badfield", `column 2 ("B"): unknown field "nett" (known: row, currency,`},
		{"badkey", "line 2: field colums not found"},
		{"badkind", `kind is "payout-sheet"`},
		{"badtime", `time_format: unknown format "dd.mm.yy"`},
		{"dupheader", `column 2 ("A"): the header is also column 1's`},
		{"noheader", "column 1: the header is empty"},
		{"nocolumns", "a template needs at least one column"},
		{"empty", "the file is empty"},
		{"badformat", `formats: "pdf"`},
		{"splitsum", "max_lines and summary_rows do not go together"},
		{"oneline", "max_lines: 1 leaves no room"},
		{"mixed", `column "Net" is in each currency's own units`},
	} {
		_, err := templates.Load(tc.name, dir)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), filepath.Join(dir, tc.name+".yaml")) {
			t.Errorf("%s: err = %v; want one naming the file and saying %q", tc.name, err, tc.says)
		}
	}
	for _, name := range []string{"good", "xlsxonlymix"} {
		if _, err := templates.Load(name, dir); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, tc := range []struct{ name, dir, says string }{
		{"nope", dir, `unknown template "nope" (known: badfield,`},
		{"../etc/passwd", "", "a template name is lower-case letters"},
		{"default", filepath.Join(dir, "missing"), "template directory"},
	} {
		_, err := templates.Load(tc.name, tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Load(%q, %q): err = %v; want one saying %q", tc.name, tc.dir, err, tc.says)
		}
		if tc.name == "nope" && !errors.Is(err, templates.ErrUnknown) {
			t.Errorf("an unknown name is not ErrUnknown: %v", err)
		}
	}
}

func TestOverrideAndList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	body := "kind: statement\ndescription: my xero\nformats: [csv]\nmax_lines: 500\ncolumns:\n  - {header: Date, field: time}\n  - {header: Amount, field: net_usd}\n"
	if err := os.WriteFile(filepath.Join(dir, "xero.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: statement\ncolumns: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A layout of another kind (the payout sheet's) is not a statement template.
	if err := os.WriteFile(filepath.Join(dir, "payout-sheet.yaml"), []byte("kind: payout-sheet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Load("xero", dir)
	if err != nil || tpl.MaxLines != 500 || tpl.Source != filepath.Join(dir, "xero.yaml") {
		t.Fatalf("%+v %v", tpl, err)
	}
	if tpl, err := templates.Load("quickbooks", dir); err != nil || tpl.Source != "embedded quickbooks.yaml" {
		t.Fatalf("a name the directory lacks falls back to the embedded one: %+v %v", tpl, err)
	}
	src, err := templates.Source("xero", dir)
	if err != nil || string(src) != body {
		t.Fatalf("Source: %q %v", src, err)
	}
	src, err = templates.Source("default", "")
	if err != nil || !strings.Contains(string(src), "kind: statement") {
		t.Fatalf("Source of an embedded one: %q %v", src, err)
	}
	list, err := templates.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Name)
		switch l.Name {
		case "broken":
			if l.Err == nil {
				t.Error("the broken template listed without its error")
			}
		case "xero":
			if l.Err != nil || l.Template.Description != "my xero" {
				t.Errorf("xero listed as %+v", l)
			}
		}
	}
	if strings.Join(names, ",") != "broken,default,quickbooks,xero" {
		t.Fatalf("listed %v", names)
	}
}

func TestFieldsAreDocumented(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, f := range templates.Fields {
		if f.Name == "" || f.Description == "" || f.Kind == "" || seen[f.Name] {
			t.Errorf("field %+v", f)
		}
		seen[f.Name] = true
	}
}
