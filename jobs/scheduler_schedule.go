package jobs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads a job's schedule: the standard five fields (minute hour day-of-month month
// day-of-week), or six with a leading seconds field (for tests and demos with one-second
// schedules), or a descriptor (@hourly, @daily, @weekly, @monthly, @yearly). @every is
// refused by ParseSchedule: its slots depend on when a process started, so replicas would
// not agree on them.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// maxTransitions bounds the search for daylight-saving gaps between two slots (two a year).
const maxTransitions = 24

// Schedule is a job's cron schedule in its time zone, with a defined behaviour at
// daylight-saving changes, where robfig/cron's own is surprising:
//
//   - Spring forward: robfig/cron skips a slot whose wall-clock time does not exist that day
//     (02:30 in Europe/Berlin on the last Sunday of March) until the next day. Here such a slot
//     runs at the first instant after the gap (03:00 local), as ISC cron does; several slots
//     in the gap make that one slot.
//   - Fall back: robfig/cron runs a slot whose wall-clock time happens twice (02:30) twice.
//     Here a schedule with fixed hours runs once, at the first occurrence; a schedule whose
//     hour field matches every hour (*/15 * * * *) keeps running through both passes, so it
//     never pauses for an hour.
//
// A slot is an instant: the same in every replica, whatever its clock's zone.
type Schedule struct {
	spec     string
	loc      *time.Location
	sched    *cron.SpecSchedule // in loc
	wall     *cron.SpecSchedule // the same fields read as UTC: wall-clock times without DST
	allHours bool
}

// ParseSchedule reads spec in time zone tz (an IANA name such as Europe/Berlin; empty means
// UTC). A bad spec, an unknown zone, or a spec that never fires is an error, never a panic.
func ParseSchedule(spec, tz string) (s *Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("the schedule is empty")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("schedule %q: set the zone with time_zone, not in the spec", spec)
	}
	if strings.HasPrefix(spec, "@every") {
		return nil, fmt.Errorf("schedule %q: @every is not supported (its slots depend on when each replica started); write a cron spec such as */15 * * * *", spec)
	}
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %v", tz, err)
	}
	defer func() {
		// robfig/cron's parser has panicked on odd input before; a spec is user input.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("schedule %q: %v", spec, r)
		}
	}()
	parsed, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v", spec, err)
	}
	ss, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("schedule %q: not a cron spec", spec)
	}
	in := *ss
	in.Location = loc
	wall := *ss
	wall.Location = time.UTC
	const hours = 1<<24 - 1
	s = &Schedule{spec: spec, loc: loc, sched: &in, wall: &wall, allHours: ss.Hour&hours == hours}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", spec)
	}
	return s, nil
}

// String returns the spec as written.
func (s *Schedule) String() string { return s.spec }

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first slot strictly after t, in the schedule's zone, or the zero time if
// there is none within five years. It satisfies cron.Schedule, so robfig/cron triggers on it.
func (s *Schedule) Next(t time.Time) time.Time {
	for range 1000 {
		n := s.sched.Next(t)
		if g, ok := s.gapSlot(t, n); ok {
			return g
		}
		if n.IsZero() {
			return n
		}
		if !s.allHours && s.repeated(n) {
			t = n // the first pass of this wall-clock time was the slot
			continue
		}
		return n.In(s.loc)
	}
	return time.Time{}
}

// gapSlot finds a slot hidden in a spring-forward gap after t and before n (any time when n
// is zero): the transition instant, when the spec matches a wall-clock time inside the gap.
func (s *Schedule) gapSlot(t, n time.Time) (time.Time, bool) {
	at := t
	for range maxTransitions {
		_, end := at.In(s.loc).ZoneBounds()
		if end.IsZero() || (!n.IsZero() && end.After(n)) {
			return time.Time{}, false
		}
		_, before := end.Add(-time.Second).In(s.loc).Zone()
		_, after := end.In(s.loc).Zone()
		if after > before && end.After(t) {
			gapEnd := wallClock(end.In(s.loc))
			gapStart := gapEnd.Add(-time.Duration(after-before) * time.Second)
			if w := s.wall.Next(gapStart.Add(-time.Nanosecond)); !w.IsZero() && w.Before(gapEnd) {
				return end.In(s.loc), true
			}
		}
		at = end
	}
	return time.Time{}, false
}

// repeated reports whether n is the second pass of a wall-clock time that a fall-back
// transition repeats.
func (s *Schedule) repeated(n time.Time) bool {
	start, _ := n.In(s.loc).ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, before := start.Add(-time.Second).In(s.loc).Zone()
	_, after := start.In(s.loc).Zone()
	return before > after && n.Sub(start) < time.Duration(before-after)*time.Second
}

// wallClock returns t's wall-clock reading as a UTC time.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// Last returns the latest slot at or before t, or the zero time if there is none within
// five years.
func (s *Schedule) Last(t time.Time) time.Time {
	for back := time.Second; back <= 6*366*24*time.Hour; back *= 2 {
		n := s.Next(t.Add(-back))
		if n.IsZero() || n.After(t) {
			continue
		}
		for {
			m := s.Next(n)
			if m.IsZero() || m.After(t) {
				return n
			}
			n = m
		}
	}
	return time.Time{}
}

// Prev returns the slot before slot (the start of the period slot closes), or the zero time.
func (s *Schedule) Prev(slot time.Time) time.Time {
	return s.Last(slot.Add(-time.Nanosecond))
}

// Between returns the slots in (from, to], oldest first, keeping only the latest limit of
// them; dropped is how many earlier ones were left out.
func (s *Schedule) Between(from, to time.Time, limit int) (slots []time.Time, dropped int) {
	for n := s.Next(from); !n.IsZero() && !n.After(to); n = s.Next(n) {
		slots = append(slots, n)
		if limit > 0 && len(slots) > 2*limit {
			dropped += len(slots) - limit
			slots = append(slots[:0], slots[len(slots)-limit:]...)
		}
	}
	if limit > 0 && len(slots) > limit {
		dropped += len(slots) - limit
		slots = slots[len(slots)-limit:]
	}
	return slots, dropped
}
