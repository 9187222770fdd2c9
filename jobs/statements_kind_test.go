package jobs_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/jobs"
)

// runKind builds a kind's runner for one job and runs one slot of it.
func runKind(t *testing.T, kind jobs.Kind, settings map[string]any, slot time.Time) (jobs.Result, error) {
	t.Helper()
	r, err := kind.New(testJob("job", kind.Name, "30 0 * * *", func(j *config.Job) { j.Settings = settings }))
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(context.Background(), jobs.Slot{Job: "job", Time: slot, Attempt: 1})
}

// dirNames lists a directory, hidden files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestStatementsKindWritesThePreviousDay runs the statements kind over a synced ledger: one
// file per format named for the day, every entry of the day in it, nothing else in the
// directory; the same slot again rewrites the same files.
func TestStatementsKindWritesThePreviousDay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.run(t, jobs.SyncOptions{Start: testStart})
	kind := jobs.StatementsKind(jobs.StatementsKindOptions{Store: b.store, Now: b.clock.Now})
	slot := time.Date(2026, 11, 16, 0, 30, 0, 0, time.UTC)
	from, to := jobs.PreviousDay(slot)
	var ids []string
	if err := b.db.Select(&ids, `SELECT external_id FROM journal_entries WHERE occurred_at >= $1 AND occurred_at < $2`, from, to); err != nil {
		t.Fatal(err)
	}
	if len(ids) < 50 {
		t.Fatalf("only %d entries on %s", len(ids), from)
	}

	dir := t.TempDir()
	settings := map[string]any{"out_dir": dir, "formats": []any{"csv", "xlsx", "hledger", "beancount"}}
	res, err := runKind(t, kind, settings, slot)
	if err != nil {
		t.Fatal(err)
	}
	sum := res.Summary.(*jobs.StatementsSummary)
	want := []string{"statement-2026-11-15.beancount", "statement-2026-11-15.csv", "statement-2026-11-15.journal", "statement-2026-11-15.xlsx"}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("the directory holds %v, want %v", got, want)
	}
	if !sum.From.Equal(from) || !sum.To.Equal(to) || len(sum.Files) != 4 || sum.Files[0] != filepath.Join(dir, "statement-2026-11-15.csv") ||
		sum.Lines != int64(len(ids)) || sum.Currencies == 0 {
		t.Fatalf("summary %+v for %d entries", sum, len(ids))
	}

	data, err := os.ReadFile(filepath.Join(dir, "statement-2026-11-15.csv"))
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The header, and per currency opening, lines, total and closing.
	if len(records) != 1+len(ids)+3*sum.Currencies {
		t.Fatalf("%d CSV records for %d entries in %d currencies", len(records), len(ids), sum.Currencies)
	}
	for _, id := range ids {
		if !bytes.Contains(data, []byte(id)) {
			t.Fatalf("entry %s of the day is not in the statement", id)
		}
	}
	f, err := excelize.OpenFile(filepath.Join(dir, "statement-2026-11-15.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	if sheets := f.GetSheetList(); len(sheets) != 1+sum.Currencies || sheets[0] != "Summary" {
		t.Errorf("xlsx sheets %v", sheets)
	}
	f.Close()
	for _, name := range []string{"statement-2026-11-15.journal", "statement-2026-11-15.beancount"} {
		j, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Contains(j, []byte("assets:")) && !bytes.Contains(j, []byte("Assets:")) {
			t.Errorf("%s: %v\n%.300s", name, err, j)
		}
	}

	t.Run("TheSameSlotAgainRewritesItsFiles", func(t *testing.T) {
		if _, err := runKind(t, kind, settings, slot); err != nil {
			t.Fatal(err)
		}
		if got := dirNames(t, dir); !slices.Equal(got, want) {
			t.Fatalf("the directory holds %v, want %v", got, want)
		}
		again, err := os.ReadFile(filepath.Join(dir, "statement-2026-11-15.csv"))
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("the CSV changed: %v", err)
		}
	})
	t.Run("TheNextSlotWritesItsOwnDay", func(t *testing.T) {
		if _, err := runKind(t, kind, settings, slot.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := dirNames(t, dir); len(got) != 8 || !slices.Contains(got, "statement-2026-11-16.csv") || !slices.Contains(got, "statement-2026-11-15.csv") {
			t.Fatalf("the directory holds %v", got)
		}
	})
	t.Run("CurrencyPrefixAndTemplate", func(t *testing.T) {
		dir := t.TempDir()
		res, err := runKind(t, kind, map[string]any{"out_dir": dir, "formats": []any{"csv"}, "currency": "USDTBEP20", "prefix": "daily",
			"template": "quickbooks"}, slot)
		if err != nil {
			t.Fatal(err)
		}
		// quickbooks splits by currency: -<CUR> before the extension.
		if got := dirNames(t, dir); !slices.Equal(got, []string{"daily-USDTBEP20-2026-11-15-USDTBEP20.csv"}) {
			t.Fatalf("the directory holds %v", got)
		}
		if s := res.Summary.(*jobs.StatementsSummary); s.Currencies != 1 {
			t.Fatalf("summary %+v", s)
		}
	})
	t.Run("AStoppedRunLeavesNothing", func(t *testing.T) {
		dir := t.TempDir()
		r, err := kind.New(testJob("job", jobs.KindStatements, "30 0 * * *", func(j *config.Job) {
			j.Settings = map[string]any{"out_dir": dir, "formats": []any{"csv", "xlsx", "hledger"}}
		}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.Run(ctx, jobs.Slot{Job: "job", Time: slot, Attempt: 1}); err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("err = %v", err)
		}
		if got := dirNames(t, dir); len(got) != 0 {
			t.Fatalf("a stopped run left %v", got)
		}
	})
}
