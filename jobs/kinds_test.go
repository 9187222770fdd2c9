package jobs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/jobs"
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
