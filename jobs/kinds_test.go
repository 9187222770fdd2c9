package jobs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
)

func TestSchedKindPeriods(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		slot, dayFrom, monthFrom string
	}{
		{"2026-11-02T00:30:00Z", "2026-11-01T00:00:00Z", "2026-10-01T00:00:00Z"},
		// 00:30 in Berlin is still the day before in UTC, and that day is not over: the last
		// whole UTC day is the one before.
		{"2026-11-02T00:30:00+01:00", "2026-10-31T00:00:00Z", "2026-10-01T00:00:00Z"},
		{"2026-01-01T06:00:00Z", "2025-12-31T00:00:00Z", "2025-12-01T00:00:00Z"},
		{"2026-03-01T00:00:00Z", "2026-02-28T00:00:00Z", "2026-02-01T00:00:00Z"},
	} {
		slot, err := time.Parse(time.RFC3339, tc.slot)
		if err != nil {
			t.Fatal(err)
		}
		from, to := jobs.PreviousDay(slot)
		if !from.Equal(utc(tc.dayFrom)) || to.Sub(from) != 24*time.Hour {
			t.Errorf("PreviousDay(%s) = [%s, %s)", tc.slot, from, to)
		}
		from, to = jobs.PreviousMonth(slot)
		if !from.Equal(utc(tc.monthFrom)) || !to.Equal(from.AddDate(0, 1, 0)) {
			t.Errorf("PreviousMonth(%s) = [%s, %s)", tc.slot, from, to)
		}
	}
}

func TestSchedRegistry(t *testing.T) {
	t.Parallel()
	reg := jobs.NewRegistry()
	k := jobs.SyncKind(jobs.SyncKindOptions{})
	if err := reg.Register(k); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(k); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Fatalf("err = %v", err)
	}
	if err := reg.Register(jobs.Kind{Name: "x"}); err == nil {
		t.Fatal("a kind without New was registered")
	}
	if got, ok := reg.Lookup(jobs.KindSync); !ok || !got.Coalesce {
		t.Fatalf("sync: %+v %v", got, ok)
	}
	for _, k := range []jobs.Kind{jobs.StatementsKind(jobs.StatementsKindOptions{}), jobs.ReconcileKind(jobs.ReconcileKindOptions{}),
		jobs.PayoutsInboxKind(jobs.PayoutsInboxKindOptions{})} {
		if err := reg.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(reg.Names(), ","); got != "payouts-inbox,reconcile,statements,sync" {
		t.Fatalf("names %s", got)
	}
	// Each statements and reconcile slot owns its period; an inbox run does whatever is there.
	for kind, coalesce := range map[string]bool{jobs.KindStatements: false, jobs.KindReconcile: false, jobs.KindPayoutsInbox: true} {
		if got, _ := reg.Lookup(kind); got.Coalesce != coalesce {
			t.Errorf("%s: Coalesce %v", kind, got.Coalesce)
		}
	}
	if strings.Join(jobs.KnownKinds, ",") != strings.Join(config.JobKinds, ",") {
		t.Fatalf("jobs.KnownKinds %v and config.JobKinds %v differ", jobs.KnownKinds, config.JobKinds)
	}
}

func TestSchedSyncKindSettings(t *testing.T) {
	t.Parallel()
	syncer := func() (*jobs.Syncer, error) { return &jobs.Syncer{}, nil }
	kind := jobs.SyncKind(jobs.SyncKindOptions{Syncer: syncer, Defaults: jobs.SyncOptions{Window: 24 * time.Hour, Overlap: 5 * time.Minute}})
	for _, tc := range []struct {
		name     string
		settings map[string]any
		says     string
	}{
		{"Fine", map[string]any{"sources": []any{"wallet"}, "lookback": "72h", "start": "2026-01-01"}, ""},
		{"UnknownSetting", map[string]any{"sorces": []any{"wallet"}}, `field sorces not found`},
		{"BadSource", map[string]any{"sources": []any{"cash"}}, `"cash" is not invoice or wallet`},
		{"BadDuration", map[string]any{"lookback": "soon"}, `"soon" is not a duration`},
		{"OverlapTooLong", map[string]any{"overlap": "25h"}, "shorter than the window"},
		{"BadStart", map[string]any{"start": "yesterday"}, "start:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := testJob("sync", jobs.KindSync, "*/15 * * * *", func(j *config.Job) { j.Settings = tc.settings })
			_, err := kind.New(j)
			if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
				t.Fatalf("err = %v, want %q", err, tc.says)
			}
		})
	}
	t.Run("NoAPIKeyIsAStartupError", func(t *testing.T) {
		t.Parallel()
		k := jobs.SyncKind(jobs.SyncKindOptions{Syncer: func() (*jobs.Syncer, error) { return nil, errors.New("no API key") }})
		if _, err := k.New(testJob("sync", jobs.KindSync, "* * * * *")); err == nil || err.Error() != "no API key" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSchedPermanent(t *testing.T) {
	t.Parallel()
	err := jobs.Permanent(jobs.ErrNoStart)
	if !jobs.IsPermanent(err) || !errors.Is(err, jobs.ErrNoStart) || jobs.IsPermanent(jobs.ErrNoStart) || jobs.Permanent(nil) != nil {
		t.Fatal("Permanent does not mark or unwrap")
	}
}

// settingsCase is one job's settings and what New says of them ("" for no error).
type settingsCase struct {
	name     string
	settings map[string]any
	says     string
}

func checkSettings(t *testing.T, kind jobs.Kind, cases []settingsCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := testJob("job", kind.Name, "30 0 * * *", func(j *config.Job) { j.Settings = tc.settings })
			_, err := kind.New(j)
			if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
				t.Fatalf("err = %v, want %q", err, tc.says)
			}
		})
	}
}

func TestStatementsKindSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	kind := jobs.StatementsKind(jobs.StatementsKindOptions{Store: &ledger.Store{}})
	checkSettings(t, kind, []settingsCase{
		{"Defaults", map[string]any{"out_dir": dir}, ""},
		{"EveryFormat", map[string]any{"out_dir": dir, "formats": []any{"csv", "XLSX", "hledger", "beancount"}, "currency": "USDTBEP20", "prefix": "daily"}, ""},
		{"XeroForCSV", map[string]any{"out_dir": dir, "formats": []any{"csv"}, "template": "xero"}, ""},
		{"NoOutDir", nil, "out_dir is required"},
		{"OutDirMissing", map[string]any{"out_dir": filepath.Join(dir, "nope")}, "no such file or directory"},
		{"OutDirIsAFile", map[string]any{"out_dir": file}, "is not a directory"},
		{"UnknownFormat", map[string]any{"out_dir": dir, "formats": []any{"pdf"}}, `"pdf" is not csv, xlsx, hledger or beancount`},
		{"NoFormat", map[string]any{"out_dir": dir, "formats": []any{}}, "name at least one"},
		{"FormatTwice", map[string]any{"out_dir": dir, "formats": []any{"csv", "CSV"}}, "csv is named twice"},
		{"UnknownTemplate", map[string]any{"out_dir": dir, "template": "sage"}, `unknown template "sage"`},
		{"TemplateNotForXLSX", map[string]any{"out_dir": dir, "template": "xero"}, "template xero is for csv only, not xlsx"},
		{"TemplateWithJournalsOnly", map[string]any{"out_dir": dir, "formats": []any{"hledger"}, "template": "default"}, "applies to csv and xlsx"},
		{"PrefixWithADirectory", map[string]any{"out_dir": dir, "prefix": "../up"}, `prefix "../up"`},
		{"HiddenPrefix", map[string]any{"out_dir": dir, "prefix": ".x"}, `prefix ".x"`},
		{"UnknownSetting", map[string]any{"out_dir": dir, "format": "csv"}, "field format not found"},
	})
}

func TestReconcileKindSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kind := jobs.ReconcileKind(jobs.ReconcileKindOptions{Reconciler: func() (*jobs.Reconciler, error) { return &jobs.Reconciler{}, nil }})
	checkSettings(t, kind, []settingsCase{
		{"Defaults", map[string]any{"out_dir": dir}, ""},
		{"CSV", map[string]any{"out_dir": dir, "format": "csv", "prefix": "recon"}, ""},
		{"NoOutDir", map[string]any{"format": "csv"}, "out_dir is required"},
		{"BadFormat", map[string]any{"out_dir": dir, "format": "pdf"}, `format "pdf": want xlsx or csv`},
		{"UnknownSetting", map[string]any{"out_dir": dir, "formats": []any{"csv"}}, "field formats not found"},
	})
	t.Run("NoAPIKeyIsAStartupError", func(t *testing.T) {
		t.Parallel()
		k := jobs.ReconcileKind(jobs.ReconcileKindOptions{Reconciler: func() (*jobs.Reconciler, error) { return nil, errors.New("no API key") }})
		j := testJob("recon", jobs.KindReconcile, "0 6 1 * *", func(j *config.Job) { j.Settings = map[string]any{"out_dir": dir} })
		if _, err := k.New(j); err == nil || err.Error() != "no API key" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPayoutsInboxKindSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kind := jobs.PayoutsInboxKind(jobs.PayoutsInboxKindOptions{Inbox: func() (*jobs.PayoutsInbox, error) { return &jobs.PayoutsInbox{}, nil }})
	checkSettings(t, kind, []settingsCase{
		{"Defaults", map[string]any{"dir": dir}, ""},
		{"Everything", map[string]any{"dir": dir, "imported_by": "finance inbox", "decimal_comma": true, "allow_repeat": true,
			"run_approved": false, "min_age": "0s"}, ""},
		{"NoDir", nil, "dir is required"},
		{"DirMissing", map[string]any{"dir": filepath.Join(dir, "nope")}, "no such file or directory"},
		{"BlankImporter", map[string]any{"dir": dir, "imported_by": "  "}, "imported_by is blank"},
		{"NegativeMinAge", map[string]any{"dir": dir, "min_age": "-1s"}, "min_age -1s is negative"},
		{"BadMinAge", map[string]any{"dir": dir, "min_age": "soon"}, `"soon" is not a duration`},
		{"UnknownSetting", map[string]any{"dir": dir, "importer": "x"}, "field importer not found"},
	})
}

// TestExampleJobsAreAccepted uncomments the jobs the example configuration documents (its
// directories moved into a temporary one) and builds each job's runner: every setting the
// example shows is one the kind accepts.
func TestExampleJobsAreAccepted(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "config", "nordpay-jobs.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "  # - name: statements")
	if start < 0 {
		t.Fatal("the example documents no statements job")
	}
	root := t.TempDir()
	var b strings.Builder
	b.WriteString("jobs:\n")
	for _, line := range strings.Split(text[start:], "\n") {
		// YAML lines are "  # - name: ..." and "  #   kind: ...": drop the "# "; the prose
		// between them is left out.
		if strings.HasPrefix(line, "  # - ") || strings.HasPrefix(line, "  #   ") {
			b.WriteString("  " + strings.TrimPrefix(line, "  # ") + "\n")
		}
	}
	yaml := strings.ReplaceAll(b.String(), "/var/lib/nordpay-jobs", root)
	for _, sub := range []string{"statements", "reconciliation", "payouts-inbox"} {
		if err := os.Mkdir(filepath.Join(root, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(root, "jobs.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	for _, k := range []jobs.Kind{
		jobs.StatementsKind(jobs.StatementsKindOptions{Store: &ledger.Store{}}),
		jobs.ReconcileKind(jobs.ReconcileKindOptions{Reconciler: func() (*jobs.Reconciler, error) { return &jobs.Reconciler{}, nil }}),
		jobs.PayoutsInboxKind(jobs.PayoutsInboxKindOptions{Inbox: func() (*jobs.PayoutsInbox, error) { return &jobs.PayoutsInbox{}, nil }}),
	} {
		if err := reg.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	var kinds []string
	for _, j := range c.Jobs {
		kinds = append(kinds, j.Kind)
		k, ok := reg.Lookup(j.Kind)
		if !ok {
			t.Fatalf("job %s: kind %s", j.Name, j.Kind)
		}
		if len(j.Settings) == 0 {
			t.Errorf("job %s: the example shows no settings", j.Name)
		}
		if _, err := k.New(j); err != nil {
			t.Errorf("job %s: %v", j.Name, err)
		}
	}
	if strings.Join(kinds, ",") != "statements,reconcile,payouts-inbox" {
		t.Fatalf("the example's jobs: %v\n%s", kinds, yaml)
	}
}
