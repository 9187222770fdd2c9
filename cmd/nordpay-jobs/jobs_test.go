package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

// writeConfig writes a configuration file for one test.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nordpay-jobs.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const jobsConfig = `
sync:
  start: 2026-11-10
jobs:
  - name: sync
    kind: sync
    schedule: "*/15 * * * *"
  - name: sync-berlin
    kind: sync
    schedule: "0 3 * * *"
    time_zone: Europe/Berlin
    enabled: false
  - name: statements
    kind: statements
    schedule: "30 0 * * *"
    enabled: false
`

func TestJobsCommands(t *testing.T) {
	t.Parallel()
	_, env := startSandbox(t)
	cfg := writeConfig(t, jobsConfig)
	jobsRun := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, env, append([]string{"--config", cfg}, args...)...)
	}

	t.Run("ListShowsNextRunsInTheJobZoneAndUTC", func(t *testing.T) {
		code, out, stderr := jobsRun("jobs", "list")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"NEXT RUN (ZONE)", "NEXT RUN (UTC)", "*/15 * * * *", "Europe/Berlin", " CET ", "disabled"} {
			if !strings.Contains(out, want) {
				t.Errorf("jobs list lacks %q:\n%s", want, out)
			}
		}
		code, out, _ = jobsRun("jobs", "list", "--json")
		var list []struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Next      string `json:"next"`
			NextUTC   string `json:"next_utc"`
		}
		if code != ExitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 {
			t.Fatalf("jobs list --json: exit %d\n%s", code, out)
		}
		if b := list[1]; b.Name != "sync-berlin" || !strings.HasSuffix(b.Next, "T03:00:00+01:00") || !strings.HasSuffix(b.NextUTC, "T02:00:00Z") {
			t.Fatalf("the Berlin job's next run: %+v", b)
		}
		if !list[2].Available || strings.Contains(out, "not in this build") {
			t.Fatalf("every kind is in this build: %+v", list[2])
		}
	})
	t.Run("RunOnceThenAlreadyDone", func(t *testing.T) {
		code, out, stderr := jobsRun("jobs", "run", "sync", "--json")
		var o struct {
			Ran bool `json:"ran"`
			Run struct {
				State   string `json:"state"`
				Trigger string `json:"trigger"`
				Result  struct {
					Booked int `json:"booked"`
				} `json:"result"`
			} `json:"run"`
		}
		if code != ExitOK || json.Unmarshal([]byte(out), &o) != nil || !o.Ran || o.Run.State != "succeeded" || o.Run.Trigger != "manual" || o.Run.Result.Booked < 2500 {
			t.Fatalf("jobs run sync: exit %d %+v\n%s\n%s", code, o, out, stderr)
		}
		code, out, _ = jobsRun("jobs", "run", "sync")
		if code != ExitOK || !strings.Contains(out, "not run: already succeeded") {
			t.Fatalf("jobs run sync again: exit %d\n%s", code, out)
		}
	})
	t.Run("History", func(t *testing.T) {
		code, out, _ := jobsRun("jobs", "history", "sync", "--json")
		var runs []map[string]any
		if code != ExitOK || json.Unmarshal([]byte(out), &runs) != nil || len(runs) != 1 || runs[0]["state"] != "succeeded" {
			t.Fatalf("jobs history --json: exit %d\n%s", code, out)
		}
		code, out, _ = jobsRun("jobs", "history")
		if code != ExitOK || !strings.Contains(out, "succeeded") || !strings.Contains(out, "manual") {
			t.Fatalf("jobs history: exit %d\n%s", code, out)
		}
	})
	t.Run("BackfillRunsEachSlotOfTheRange", func(t *testing.T) {
		code, out, stderr := jobsRun("jobs", "backfill", "sync", "--from", "2026-11-19T00:00:00Z", "--to", "2026-11-19T01:00:00Z", "--json")
		var outs []struct {
			Ran bool `json:"ran"`
			Run struct {
				Slot, State, Trigger string
			} `json:"run"`
		}
		if code != ExitOK || json.Unmarshal([]byte(out), &outs) != nil || len(outs) != 4 {
			t.Fatalf("jobs backfill: exit %d\n%s\n%s", code, out, stderr)
		}
		for _, o := range outs {
			if !o.Ran || o.Run.State != "succeeded" || o.Run.Trigger != "backfill" {
				t.Errorf("%+v", o)
			}
		}
		code, out, _ = jobsRun("jobs", "backfill", "sync", "--from", "2026-11-19T00:00:00Z", "--to", "2026-11-19T01:00:00Z")
		if code != ExitOK || strings.Count(out, "not run: already succeeded") != 4 {
			t.Fatalf("the same backfill again: exit %d\n%s", code, out)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			cfg  string
			args []string
			code int
			says string
		}{
			{"UnknownJob", cfg, []string{"jobs", "run", "nope"}, ExitUsage, `jobs: no such job "nope"`},
			{"StatementsWithoutOutDir", cfg, []string{"jobs", "run", "statements"}, ExitError, "jobs: job statements: settings: out_dir is required"},
			{"BackfillWithoutRange", cfg, []string{"jobs", "backfill", "sync"}, ExitUsage, "--from and --to are both required"},
			{"BadSlot", cfg, []string{"jobs", "run", "sync", "--slot", "soon"}, ExitUsage, "--slot"},
			{"FutureSlot", cfg, []string{"jobs", "run", "sync", "--slot", "2999-01-01"}, ExitUsage, "slot 2999-01-01T00:00:00Z is in the future"},
			{"BackfillIntoTheFuture", cfg, []string{"jobs", "backfill", "sync", "--from", "2026-11-19", "--to", "2999-01-01"}, ExitUsage,
				"backfill to 2999-01-01T00:00:00Z is in the future"},
			{"ReconcileWithABadFormat", writeConfig(t, "jobs:\n  - {name: monthly, kind: reconcile, schedule: \"0 6 1 * *\", settings: {out_dir: /, format: pdf}}\n"),
				[]string{"serve", "--admin-addr", ""}, ExitError, `jobs: job monthly: settings: format "pdf": want xlsx or csv`},
			{"InboxWithoutDir", writeConfig(t, "jobs:\n  - {name: inbox, kind: payouts-inbox, schedule: \"*/5 * * * *\"}\n"),
				[]string{"jobs", "run", "inbox"}, ExitError, "jobs: job inbox: settings: dir is required"},
			{"BadSpec", writeConfig(t, "jobs:\n  - {name: pull, kind: sync, schedule: \"0 25 * * *\"}\n"),
				[]string{"serve", "--admin-addr", ""}, ExitError, `jobs: job pull: schedule "0 25 * * *"`},
			{"UnknownZone", writeConfig(t, "jobs:\n  - {name: pull, kind: sync, schedule: \"@daily\", time_zone: Europe/Berln}\n"),
				[]string{"serve"}, ExitError, `jobs: job pull: time zone "Europe/Berln"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, _, stderr := run(t, env, append([]string{"--config", tc.cfg}, tc.args...)...)
				if code != tc.code || !strings.Contains(stderr, tc.says) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
					t.Fatalf("exit %d, stderr %q; want %d saying %q", code, stderr, tc.code, tc.says)
				}
				if strings.Contains(stderr, "cli-key") {
					t.Fatalf("the API key leaked: %s", stderr)
				}
			})
		}
	})
}

// TestJobsRunStatementsAndReconcile runs the statements and reconcile kinds as wired by the
// command: files named for their period in their output directories.
func TestJobsRunStatementsAndReconcile(t *testing.T) {
	t.Parallel()
	_, env := startSandbox(t)
	statements, reports := t.TempDir(), t.TempDir()
	cfg := writeConfig(t, `
sync:
  start: 2026-11-10
jobs:
  - name: sync
    kind: sync
    schedule: "*/15 * * * *"
  - name: statements
    kind: statements
    schedule: "30 0 * * *"
    settings:
      out_dir: `+statements+`
      formats: [csv, xlsx, beancount]
  - name: reconcile
    kind: reconcile
    schedule: "0 6 1 * *"
    settings:
      out_dir: `+reports+`
      format: csv
`)
	jobsRun := func(args ...string) string {
		t.Helper()
		code, out, stderr := run(t, env, append([]string{"--config", cfg, "jobs", "run"}, args...)...)
		if code != ExitOK {
			t.Fatalf("jobs run %v: exit %d\n%s\n%s", args, code, out, stderr)
		}
		return out
	}
	jobsRun("sync")
	out := jobsRun("statements", "--slot", "2026-11-16T00:30:00Z", "--json")
	var o struct {
		Run struct {
			State  string `json:"state"`
			Result struct {
				Files []string `json:"files"`
				Lines int      `json:"lines"`
			} `json:"result"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil || o.Run.State != "succeeded" || len(o.Run.Result.Files) != 3 || o.Run.Result.Lines < 100 {
		t.Fatalf("jobs run statements: %v\n%s", err, out)
	}
	for _, name := range []string{"statement-2026-11-15.csv", "statement-2026-11-15.xlsx", "statement-2026-11-15.beancount"} {
		if fi, err := os.Stat(filepath.Join(statements, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	out = jobsRun("reconcile", "--slot", "2026-12-01T06:00:00Z")
	if !strings.Contains(out, "reconcile slot 2026-12-01T06:00:00Z: succeeded") || !strings.Contains(out, `"reconciled": true`) && !strings.Contains(out, `"reconciled":true`) {
		t.Fatalf("jobs run reconcile:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(reports, "reconciliation-2026-11", "summary.csv")); err != nil {
		t.Fatal(err)
	}
}

// TestJobsReconcileDifferencesExitThree: a reconcile slot whose month does not reconcile is a
// check that found differences, exit 3 as report reconcile, in jobs run and jobs backfill.
func TestJobsReconcileDifferencesExitThree(t *testing.T) {
	t.Parallel()
	sb, env := startSandbox(t)
	reports := t.TempDir()
	cfg := writeConfig(t, `
sync:
  start: 2026-11-10
jobs:
  - name: sync
    kind: sync
    schedule: "*/15 * * * *"
  - name: reconcile
    kind: reconcile
    schedule: "0 6 1 * *"
    settings:
      out_dir: `+reports+`
      format: csv
`)
	jobs := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, env, append([]string{"--config", cfg, "jobs"}, args...)...)
	}
	if code, out, stderr := jobs("run", "sync"); code != ExitOK {
		t.Fatalf("jobs run sync: exit %d\n%s\n%s", code, out, stderr)
	}
	// Paid at Nord PAY, never synced: the completeness check finds it missing from the ledger.
	d := decimal.RequireFromString
	sb.AddTransaction(nordpay.Transaction{ID: "planted-1", SourceType: nordpay.SourceInvoice,
		Source:   nordpay.Source{ID: "inv-planted"},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTTRC20"}},
		Amount:   d("40"), AmountUSD: d("40"), NetworkFee: d("1"), NetworkFeeUSD: d("1"), ServiceFee: d("0.4"), ServiceFeeUSD: d("0.4"),
		IsPaid: true, CreatedAt: nordpay.Time{Time: time.Date(2026, 11, 15, 8, 0, 0, 0, time.UTC)}}, time.Time{})

	code, out, stderr := jobs("run", "reconcile", "--slot", "2026-12-01T06:00:00Z")
	if code != ExitDifferences || !strings.Contains(out, "reconcile slot 2026-12-01T06:00:00Z: failed after 1 attempt(s)") ||
		!strings.Contains(stderr, "2026-11 does not reconcile") {
		t.Fatalf("jobs run reconcile: exit %d, want %d\n%s\n%s", code, ExitDifferences, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(reports, "reconciliation-2026-11", "exceptions.csv")); err != nil {
		t.Fatalf("the report is written either way: %v", err)
	}
	code, out, stderr = jobs("backfill", "reconcile", "--from", "2026-12-01", "--to", "2026-12-02")
	if code != ExitDifferences || !strings.Contains(stderr, "backfill of reconcile: 1 of 1 slots do not reconcile") {
		t.Fatalf("jobs backfill reconcile: exit %d, want %d\n%s\n%s", code, ExitDifferences, out, stderr)
	}
}

// TestJobsPayoutsInbox drops a good and a bad sheet into an inbox, runs the job as the
// command wires it (the checks and report of payouts import), approves the batch, and runs
// the job again: the batch is paid, once.
func TestJobsPayoutsInbox(t *testing.T) {
	t.Parallel()
	sb, _, env := payoutEnv(t)
	inbox := t.TempDir()
	cfg := writeConfig(t, payoutConfig+`
jobs:
  - name: payouts-inbox
    kind: payouts-inbox
    schedule: "*/5 * * * *"
    settings:
      dir: `+inbox+`
      min_age: 0s
`)
	for name, body := range map[string]string{
		"march.csv": payoutSheet,
		// Other payees (no repeat of march.csv's rows, whichever is read first), one address bad.
		"broken.csv": strings.Replace(strings.ReplaceAll(payoutSheet, "00a", "00b"), "0x00000000000000000000000000000000000000b2", "0xnope", 1),
	} {
		if err := os.WriteFile(filepath.Join(inbox, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	runInbox := func() string {
		t.Helper()
		return runOK(t, env, ExitOK, "--config", cfg, "jobs", "run", "payouts-inbox", "--slot", "now", "--force", "--json")
	}
	out := runInbox()
	var o struct {
		Run struct {
			State  string `json:"state"`
			Result struct {
				Imported []struct{ File, Batch, Path, Report string } `json:"imported"`
				Rejected []struct {
					File, Batch, Path, Report string
					Problems                  int
				} `json:"rejected"`
				Runs []struct{ Batch, State string } `json:"runs"`
			} `json:"result"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil || o.Run.State != "succeeded" || len(o.Run.Result.Imported) != 1 || len(o.Run.Result.Rejected) != 1 {
		t.Fatalf("jobs run payouts-inbox: %v\n%s", err, out)
	}
	good, bad := o.Run.Result.Imported[0], o.Run.Result.Rejected[0]
	if good.File != "march.csv" || filepath.Dir(good.Path) != filepath.Join(inbox, "processed") || bad.File != "broken.csv" ||
		filepath.Dir(bad.Path) != filepath.Join(inbox, "rejected") || bad.Problems != 1 {
		t.Fatalf("result %+v", o.Run.Result)
	}
	report, err := os.ReadFile(bad.Report)
	if err != nil || !strings.Contains(string(report), "status,errors") || !strings.Contains(string(report), "address") {
		t.Fatalf("the rejected sheet's report: %v\n%s", err, report)
	}
	st := status(t, env, good.Batch)
	if st.State != "imported" {
		t.Fatalf("status %+v", st)
	}
	// Waiting for approval: the next run leaves it alone.
	if out := runInbox(); strings.Contains(out, good.Batch) {
		t.Fatalf("a batch waiting for approval was run:\n%s", out)
	}
	runOK(t, env, ExitOK, "payouts", "approve", good.Batch, "--by", "bob")
	if err := json.Unmarshal([]byte(runInbox()), &o); err != nil || len(o.Run.Result.Runs) != 1 || o.Run.Result.Runs[0].State != "paid" {
		t.Fatalf("the run after the approval: %v %+v", err, o.Run.Result)
	}
	if n := paidOnce(t, sb); n != 4 {
		t.Fatalf("%d of 4 rows paid", n)
	}
	if err := json.Unmarshal([]byte(runInbox()), &o); err != nil || len(o.Run.Result.Runs) != 0 || paidOnce(t, sb) != 4 {
		t.Fatalf("the run after the payment: %v %+v", err, o.Run.Result)
	}
	runOK(t, env, ExitOK, "ledger", "verify")
}

// TestJobsBadScheduleBeforeDatabase: a mistyped schedule or zone is the error serve and jobs
// report, also when the database is down at the same time.
func TestJobsBadScheduleBeforeDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, job, want string }{
		{"Zone", `{name: pull, kind: sync, schedule: "*/15 * * * *", time_zone: Mars/Olympus}`, `job pull: time zone "Mars/Olympus"`},
		{"Spec", `{name: pull, kind: sync, schedule: "61 * * * *"}`, `job pull: schedule "61 * * * *"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, "database_url: postgres://nobody@127.0.0.1:1/none?connect_timeout=1\njobs:\n  - "+tc.job+"\n")
			for _, args := range [][]string{{"serve", "--admin-addr", ""}, {"jobs", "list"}} {
				code, _, stderr := run(t, nil, append(args, "--config", cfg)...)
				if code != ExitError || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "unable to connect") {
					t.Errorf("%v: exit %d, stderr %q; want exit 1 naming %q", args, code, stderr, tc.want)
				}
			}
		})
	}
}
