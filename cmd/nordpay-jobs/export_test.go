package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/db"
)

// exportEnv syncs the sandbox's 2026-11-10 .. 2026-11-20T12:00 into a fresh ledger and
// returns the environment to run commands against it.
func exportEnv(t *testing.T) map[string]string {
	t.Helper()
	_, env := startSandbox(t)
	if code, _, stderr := run(t, env, "sync", "--from", "2026-11-10", "--to", "2026-11-20T12:00:00Z", "--no-progress"); code != ExitOK {
		t.Fatalf("sync: exit %d\n%s", code, stderr)
	}
	return env
}

// exportResult is what `export statement --json` prints.
type exportResult struct {
	Files      []string `json:"files"`
	Removed    []string `json:"removed"`
	Lines      int64    `json:"lines"`
	Currencies []struct {
		Currency, Opening, Closing, Net string
		Lines                           int64
	} `json:"currencies"`
}

func TestExportStatement(t *testing.T) {
	t.Parallel()
	env := exportEnv(t)
	dir := t.TempDir()

	// The closing balances must be `ledger balances --at` the end of the period.
	code, out, _ := run(t, env, "ledger", "balances", "--at", "2026-11-15", "--json")
	var balances []struct{ Account, Currency, Balance string }
	if code != ExitOK || json.Unmarshal([]byte(out), &balances) != nil {
		t.Fatalf("ledger balances: exit %d\n%s", code, out)
	}
	closing := map[string]decimal.Decimal{}
	for _, b := range balances {
		if strings.HasPrefix(b.Account, "assets:nordpay:") {
			closing[b.Currency] = decimal.RequireFromString(b.Balance)
		}
	}

	t.Run("CSV", func(t *testing.T) {
		path := filepath.Join(dir, "nov.csv")
		code, out, stderr := run(t, env, "export", "statement", "--from", "2026-11-12", "--to", "2026-11-15", "--out", path, "--json")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var res exportResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("--json: %v\n%s", err, out)
		}
		if len(res.Files) != 1 || res.Files[0] != path || res.Lines < 100 || len(res.Currencies) == 0 {
			t.Fatalf("result %+v", res)
		}
		var lines int64
		for _, c := range res.Currencies {
			if !decimal.RequireFromString(c.Closing).Equal(closing[c.Currency]) {
				t.Errorf("%s: closing %s, ledger balances says %s", c.Currency, c.Closing, closing[c.Currency])
			}
			if !decimal.RequireFromString(c.Opening).Add(decimal.RequireFromString(c.Net)).Equal(decimal.RequireFromString(c.Closing)) {
				t.Errorf("%s: %+v does not add up", c.Currency, c)
			}
			lines += c.Lines
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// header, and per currency opening, lines, total and closing
		if n := int64(strings.Count(string(data), "\r\n")); n != 1+lines+3*int64(len(res.Currencies)) || lines != res.Lines {
			t.Fatalf("the file has %d lines for %d statement lines", n, lines)
		}
	})
	t.Run("XLSX", func(t *testing.T) {
		path := filepath.Join(dir, "nov.xlsx")
		code, out, stderr := run(t, env, "export", "statement", "--from", "2026-11-12", "--to", "2026-11-15", "--out", path, "--currency", "USDTBEP20")
		if code != ExitOK || !strings.Contains(out, "wrote "+path) || !strings.Contains(out, "USDTBEP20") {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := strings.Join(f.GetSheetList(), ","); got != "Summary,USDTBEP20" {
			t.Fatalf("sheets %s", got)
		}
	})
	t.Run("Xero", func(t *testing.T) {
		path := filepath.Join(dir, "xero.csv")
		code, out, stderr := run(t, env, "export", "statement", "--from", "2026-11-10", "--to", "2026-11-20T12:00:00Z", "--out", path, "--template", "xero", "--json")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var res exportResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Files) < 3 || filepath.Base(res.Files[0]) != "xero-001.csv" {
			t.Fatalf("files %v for %d lines", res.Files, res.Lines)
		}
		for _, p := range res.Files {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(data), "\r\n"); n > 1000 {
				t.Errorf("%s has %d lines", p, n)
			}
		}
		// An hour of it again to the same --out: one file, and the earlier export's others
		// are removed and listed.
		code, out, stderr = run(t, env, "export", "statement", "--from", "2026-11-10", "--to", "2026-11-10T01:00:00Z", "--out", path, "--template", "xero")
		if code != ExitOK {
			t.Fatalf("again: exit %d\n%s", code, stderr)
		}
		for _, p := range res.Files[1:] {
			if !strings.Contains(out, "removed "+p) {
				t.Errorf("the output does not say %s was removed:\n%s", p, out)
			}
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s: %v; want it removed", p, err)
			}
		}
		code, out, stderr = run(t, env, "export", "statement", "--from", "2026-11-10", "--to", "2026-11-10T01:00:00Z", "--out", path, "--template", "xero", "--json")
		var again exportResult
		if code != ExitOK || json.Unmarshal([]byte(out), &again) != nil || len(again.Files) != 1 || again.Removed == nil || len(again.Removed) != 0 {
			t.Errorf("the same again: exit %d, %+v\n%s", code, again, stderr)
		}
	})
	t.Run("UnknownCurrencyIsAUsageError", func(t *testing.T) {
		for _, name := range []string{"nope.csv", "nope.xlsx"} {
			path := filepath.Join(dir, name)
			code, _, stderr := run(t, env, "export", "statement", "--from", "2026-11-12", "--to", "2026-11-15", "--out", path, "--currency", "NOPE")
			if code != ExitUsage || !strings.Contains(stderr, `no account in currency "NOPE"`) {
				t.Errorf("%s: exit %d, stderr %q; want 2 naming the currency", name, code, stderr)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
	t.Run("Journal", func(t *testing.T) {
		path := filepath.Join(dir, "nov.journal")
		code, out, stderr := run(t, env, "export", "statement", "--from", "2026-11-12", "--to", "2026-11-15", "--out", path)
		if code != ExitOK || !strings.Contains(out, "wrote "+path) {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Fatalf("the journal: %v", err)
		}
	})
}

func TestExportStatementUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "s.csv")
	base := []string{"export", "statement", "--from", "2026-11-01", "--to", "2026-12-01"}
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"NoFlags", []string{"export", "statement"}, "--from, --to, --out required"},
		{"NoOut", base, "--out required"},
		{"BadFrom", []string{"export", "statement", "--from", "yesterday", "--to", "2026-12-01", "--out", out}, `--from: "yesterday" is neither a date`},
		{"EmptyPeriod", []string{"export", "statement", "--from", "2026-12-01", "--to", "2026-12-01", "--out", out}, "is not before --to"},
		{"BadFormat", append(base, "--out", out, "--format", "pdf"), `--format "pdf"`},
		{"NoFormat", append(base, "--out", filepath.Join(dir, "s.txt")), "the extension of --out"},
		{"UnknownTemplate", append(base, "--out", out, "--template", "sage"), `--template: unknown template "sage" (known: default, quickbooks, xero)`},
		{"TemplateFormat", append(base, "--out", filepath.Join(dir, "s.xlsx"), "--template", "xero"), "--template xero is for csv only, not xlsx"},
		{"TemplateJournal", append(base, "--out", filepath.Join(dir, "s.journal"), "--template", "default"), "--template applies to csv and xlsx, not hledger"},
		{"NoTemplateDir", append(base, "--out", out, "--template-dir", filepath.Join(dir, "nope")), "is not a directory"},
		{"NoOutDir", append(base, "--out", filepath.Join(dir, "nope", "s.csv")), "does not exist"},
		{"Stdout", append(base, "--out", "-"), "--out: name a file"},
		{"JournalNotMidnight", []string{"export", "statement", "--from", "2026-10-15T12:00:00Z", "--to", "2026-11-01", "--format", "hledger", "--out", out},
			"--from 2026-10-15T12:00:00Z: a hledger journal dates its entries by UTC day; give a date (midnight UTC), e.g. 2026-10-15"},
		{"Argument", append(base, "--out", out, "extra"), "unknown command"},
		{"UnknownFlag", append(base, "--out", out, "--currencies", "BTC"), "unknown flag: --currencies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, nil, tc.args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.says) || !strings.HasPrefix(stderr, "nordpay-jobs: ") ||
				!strings.Contains(stderr, "Run 'nordpay-jobs export statement --help' for usage.") {
				t.Fatalf("exit %d, stderr %q; want exit 2 saying %q", code, stderr, tc.says)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("usage errors left %v", entries)
	}
}

// TestExportStatementLeavesNothing breaks the ledger (as only a superuser can) so that the
// statement does not add up: the command exits 1 and writes nothing, not even a temporary
// file, and an older statement at --out stays as it was.
func TestExportStatementLeavesNothing(t *testing.T) {
	t.Parallel()
	env := exportEnv(t)
	conn, err := db.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		`ALTER TABLE postings DISABLE TRIGGER USER`,
		`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
		 SELECT e.id, 99, p.account_id, p.currency, 1, e.occurred_at
		 FROM journal_entries e JOIN postings p ON p.entry_id = e.id AND p.line = 1
		 WHERE e.occurred_at >= '2026-11-12' ORDER BY e.occurred_at LIMIT 1`,
		`ALTER TABLE postings ENABLE TRIGGER USER`,
	} {
		if _, err := conn.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"s.csv", "s.xlsx"} {
		dir := t.TempDir()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("yesterday's statement"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := run(t, env, "export", "statement", "--from", "2026-11-12", "--to", "2026-11-15", "--out", path)
		if code != ExitError || !strings.Contains(stderr, "the statement does not add up") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("%s: exit %d, stderr %q", name, code, stderr)
		}
		entries, _ := os.ReadDir(dir)
		data, _ := os.ReadFile(path)
		if len(entries) != 1 || string(data) != "yesterday's statement" {
			t.Fatalf("%s: the directory holds %v, %q", name, entries, data)
		}
	}
}

func TestExportTemplates(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, nil, "export", "templates")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"default", "xero", "quickbooks", "embedded xero.yaml", "fields:", "net_usd", "payee"} {
		if !strings.Contains(out, want) {
			t.Errorf("export templates lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, nil, "export", "templates", "--show", "xero")
	if code != ExitOK || !strings.Contains(out, "max_lines: 1000") {
		t.Fatalf("--show xero: exit %d\n%s", code, out)
	}

	// A template directory from the configuration file, overriding xero and adding one.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("kind: statement\ndescription: just the net\ncolumns:\n  - {header: Cur, field: currency}\n  - {header: Net, field: net}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("export:\n  template_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, nil, "export", "templates", "--config", cfg)
	if code != ExitOK || !strings.Contains(out, "just the net") || !strings.Contains(out, filepath.Join(dir, "mine.yaml")) {
		t.Fatalf("export templates with a template_dir: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(cfg, []byte("export:\n  template_dir: "+filepath.Join(dir, "gone")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, nil, "export", "statement", "--config", cfg, "--from", "2026-11-01", "--to", "2026-12-01", "--out", filepath.Join(t.TempDir(), "x.csv"))
	if code != ExitError || !strings.Contains(stderr, "export.template_dir (from file "+cfg+")") {
		t.Fatalf("a missing template_dir: exit %d, %q", code, stderr)
	}
}

func TestExportHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, nil, "export", "statement", "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Examples:", "opening", "closing", "--template", "xero", "quickbooks", "OUT-001.csv", "hledger", "beancount", "--database-url", "renamed into place"} {
		if !strings.Contains(out, want) {
			t.Errorf("export statement --help lacks %q", want)
		}
	}
	code, out, _ = run(t, nil, "--help")
	if code != ExitOK || !strings.Contains(out, "export") {
		t.Fatalf("the root help does not list export:\n%s", out)
	}
}

// TestExportStatementExamplesRun runs every example of `export statement --help` against a
// ledger, each writing into a folder of its own: an example that teaches a command line the
// command refuses teaches nothing.
func TestExportStatementExamplesRun(t *testing.T) {
	t.Parallel()
	env := exportEnv(t)
	tplDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(tplDir, "mine.yaml"), []byte("kind: statement\ncolumns:\n  - {header: Currency, field: currency}\n  - {header: Date, field: time}\n  - {header: Net, field: net}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(exportStatementExample, "\n") {
		line = strings.TrimSpace(line)
		args, ok := strings.CutPrefix(line, "nordpay-jobs ")
		if !ok {
			continue
		}
		n++
		fields := strings.Fields(args)
		dir := t.TempDir()
		for i := 1; i < len(fields); i++ {
			switch fields[i-1] {
			case "--out":
				fields[i] = filepath.Join(dir, filepath.Base(fields[i]))
			case "--template-dir":
				fields[i] = tplDir
			}
		}
		code, _, stderr := run(t, env, append(fields, "--no-progress")...)
		if code != ExitOK {
			t.Errorf("the example %q: exit %d\n%s", line, code, stderr)
			continue
		}
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Errorf("the example %q wrote nothing (%v)", line, err)
		}
	}
	if n < 4 {
		t.Fatalf("%d examples found", n)
	}
}
