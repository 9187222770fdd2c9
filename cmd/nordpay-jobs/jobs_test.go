package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		for _, want := range []string{"NEXT RUN (ZONE)", "NEXT RUN (UTC)", "*/15 * * * *", "Europe/Berlin", " CET ", "not in this build", "disabled"} {
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
		if list[2].Available {
			t.Fatalf("statements is not in this build: %+v", list[2])
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
			{"KindNotInThisBuild", cfg, []string{"jobs", "run", "statements"}, ExitError, "job kind statements is not available in this build"},
			{"BackfillWithoutRange", cfg, []string{"jobs", "backfill", "sync"}, ExitUsage, "--from and --to are both required"},
			{"BadSlot", cfg, []string{"jobs", "run", "sync", "--slot", "soon"}, ExitUsage, "--slot"},
			{"EnabledKindNotInThisBuild", writeConfig(t, "jobs:\n  - {name: nightly, kind: reconcile, schedule: \"0 6 1 * *\"}\n"),
				[]string{"jobs", "list"}, ExitError, "jobs: job nightly: job kind reconcile is not available in this build"},
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
