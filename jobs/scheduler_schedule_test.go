package jobs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/robfig/cron/v3"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// nexts lists n slots after from, as RFC 3339 UTC.
func nexts(s interface{ Next(time.Time) time.Time }, from time.Time, n int) []string {
	var out []string
	for t := from; len(out) < n; {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	return out
}

func mustSchedule(t *testing.T, spec, tz string) *jobs.Schedule {
	t.Helper()
	s, err := jobs.ParseSchedule(spec, tz)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// TestScheduleDaylightSaving pins down what happens at DST changes. Europe/Berlin springs
// forward on 2026-03-29 (02:00 CET -> 03:00 CEST: 02:xx does not exist) and falls back on
// 2026-10-25 (03:00 CEST -> 02:00 CET: 02:xx happens twice).
func TestScheduleDaylightSaving(t *testing.T) {
	t.Parallel()
	t.Run("RobfigSkipsTheSpringForwardSlot", func(t *testing.T) {
		t.Parallel()
		// What robfig/cron does alone, and why Schedule wraps it: the 29th has no run.
		raw, err := cron.ParseStandard("CRON_TZ=Europe/Berlin 30 2 * * *")
		if err != nil {
			t.Fatal(err)
		}
		equalStrings(t, "robfig/cron", nexts(raw, utc("2026-03-28T12:00:00Z"), 2),
			[]string{"2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"})
	})
	t.Run("SpringForwardSlotRunsAtTheEndOfTheGap", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "30 2 * * *", "Europe/Berlin")
		// 2026-03-29T01:00Z is 03:00 CEST, the first instant after the gap.
		equalStrings(t, "ours", nexts(s, utc("2026-03-27T12:00:00Z"), 4),
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"})
		if got := s.Next(utc("2026-03-28T12:00:00Z")).Format(time.RFC3339); got != "2026-03-29T03:00:00+02:00" {
			t.Fatalf("the slot in the job's zone is %s", got)
		}
	})
	t.Run("SeveralGapSlotsMakeOne", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "*/20 2 * * *", "Europe/Berlin")
		equalStrings(t, "ours", nexts(s, utc("2026-03-28T03:00:00Z"), 4),
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:20:00Z", "2026-03-30T00:40:00Z"})
	})
	t.Run("SlotAtTheEndOfTheGapRunsOnce", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "30 2,3 * * *", "Europe/Berlin")
		equalStrings(t, "ours", nexts(s, utc("2026-03-28T12:00:00Z"), 3),
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"})
	})
	t.Run("IntervalsKeepTheirPaceInSpring", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "*/30 * * * *", "Europe/Berlin")
		equalStrings(t, "ours", nexts(s, utc("2026-03-29T00:00:00Z"), 3),
			[]string{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"})
	})
	t.Run("FallBackFixedTimeRunsOnce", func(t *testing.T) {
		t.Parallel()
		raw, err := cron.ParseStandard("CRON_TZ=Europe/Berlin 30 2 * * *")
		if err != nil {
			t.Fatal(err)
		}
		equalStrings(t, "robfig/cron runs it twice", nexts(raw, utc("2026-10-24T12:00:00Z"), 2),
			[]string{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"})
		s := mustSchedule(t, "30 2 * * *", "Europe/Berlin")
		equalStrings(t, "ours: the first 02:30 only", nexts(s, utc("2026-10-24T12:00:00Z"), 2),
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"})
	})
	t.Run("FallBackIntervalsRunThroughBothPasses", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "*/30 * * * *", "Europe/Berlin")
		equalStrings(t, "ours", nexts(s, utc("2026-10-24T23:45:00Z"), 5),
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"})
	})
	t.Run("NewYorkSpringForward", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "30 2 * * *", "America/New_York")
		equalStrings(t, "ours", nexts(s, utc("2026-03-07T12:00:00Z"), 2),
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"})
	})
	t.Run("LastAndPrevSeeTheGapSlot", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "30 2 * * *", "Europe/Berlin")
		if got := s.Last(utc("2026-03-29T12:00:00Z")); !got.Equal(utc("2026-03-29T01:00:00Z")) {
			t.Fatalf("Last = %s", got)
		}
		if got := s.Prev(utc("2026-03-30T00:30:00Z")); !got.Equal(utc("2026-03-29T01:00:00Z")) {
			t.Fatalf("Prev = %s", got)
		}
	})
}

func TestScheduleSlots(t *testing.T) {
	t.Parallel()
	t.Run("LastIsInclusive", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "*/15 * * * *", "UTC")
		for at, want := range map[string]string{
			"2026-11-20T12:00:00Z": "2026-11-20T12:00:00Z",
			"2026-11-20T12:14:59Z": "2026-11-20T12:00:00Z",
			"2026-11-20T12:15:00Z": "2026-11-20T12:15:00Z",
		} {
			if got := s.Last(utc(at)); !got.Equal(utc(want)) {
				t.Errorf("Last(%s) = %s, want %s", at, got, want)
			}
		}
	})
	t.Run("LastOfARareSchedule", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "0 6 1 1 *", "UTC")
		if got := s.Last(utc("2026-11-20T12:00:00Z")); !got.Equal(utc("2026-01-01T06:00:00Z")) {
			t.Fatalf("Last = %s", got)
		}
	})
	t.Run("SecondsField", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "*/2 * * * * *", "UTC")
		equalStrings(t, "six fields", nexts(s, utc("2026-11-20T12:00:00Z"), 3),
			[]string{"2026-11-20T12:00:02Z", "2026-11-20T12:00:04Z", "2026-11-20T12:00:06Z"})
	})
	t.Run("BetweenKeepsTheLatest", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "* * * * * *", "UTC")
		slots, dropped := s.Between(utc("2026-11-20T12:00:00Z"), utc("2026-11-20T13:00:00Z"), 10)
		if len(slots) != 10 || dropped != 3590 || !slots[9].Equal(utc("2026-11-20T13:00:00Z")) || !slots[0].Equal(utc("2026-11-20T12:59:51Z")) {
			t.Fatalf("%d slots (%v .. %v), %d dropped", len(slots), slots[0], slots[len(slots)-1], dropped)
		}
	})
	t.Run("Descriptors", func(t *testing.T) {
		t.Parallel()
		s := mustSchedule(t, "@daily", "Europe/Berlin")
		if got := s.Next(utc("2026-11-20T12:00:00Z")); !got.Equal(utc("2026-11-20T23:00:00Z")) {
			t.Fatalf("@daily in Berlin: %s", got)
		}
	})
}

func TestScheduleErrorsNeverPanic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ spec, tz, says string }{
		{"", "UTC", "empty"},
		{"61 * * * *", "UTC", "above maximum"},
		{"* * *", "UTC", "expected"},
		{"every day", "UTC", `schedule "every day"`},
		{"@every 5m", "UTC", "@every is not supported"},
		{"CRON_TZ=UTC", "UTC", "set the zone with time_zone"},
		{"TZ=Europe/Berlin 0 * * * *", "UTC", "set the zone with time_zone"},
		{"0 0 30 2 *", "UTC", "never fires"},
		{"0 * * * *", "Europe/Berln", `time zone "Europe/Berln"`},
	} {
		t.Run(tc.spec+"/"+tc.tz, func(t *testing.T) {
			t.Parallel()
			_, err := jobs.ParseSchedule(tc.spec, tc.tz)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want it to say %q", err, tc.says)
			}
		})
	}
}
