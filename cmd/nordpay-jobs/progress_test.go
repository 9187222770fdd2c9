package main

import (
	"bytes"
	"strings"
	"testing"
)

// noBar fails the test if a command drew a progress bar on stderr, which is not a terminal
// in tests: a bar redraws its line with carriage returns.
func noBar(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "█") {
		t.Errorf("a progress bar on a stderr that is not a terminal: %q", stderr)
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	t.Run("NothingWithoutATerminal", func(t *testing.T) {
		t.Parallel()
		var stderr bytes.Buffer
		for _, off := range []bool{false, true} {
			p := newProgress(&Main{Stdio: Stdio{Err: &stderr}}, off)
			if p.on() {
				t.Fatal("a bar on a buffer")
			}
			p.phase("reading", 0, "rows")
			p.set(5000, "detail")
			p.phase("validating", 10, "rows")
			p.set(10, "")
			p.finish()
		}
		if stderr.Len() != 0 {
			t.Fatalf("wrote %q", stderr.String())
		}
	})
	t.Run("PhasesOnATerminal", func(t *testing.T) {
		t.Parallel()
		var screen bytes.Buffer
		p := &progress{w: &screen} // what newProgress returns on a terminal
		p.phase("reading", 0, "rows")
		p.set(1500, "")
		p.phase("reading", 0, "rows") // the same phase: the same bar
		p.set(3000, "")
		p.phase("validating", 10, "rows")
		p.set(4, "first rows")
		p.set(10, "")                       // the end of the phase: the bar clears itself
		p.set(11, "")                       // past it: ignored
		p.phase("reconcile", 4, "")         // a known total...
		p.phase("reconcile", 6, "")         // ...that grows
		p.phase("storing the batch", 0, "") // a spinner
		p.finish()
		for _, want := range []string{"reading", "validating", "reconcile", "storing the batch", "\r"} {
			if !strings.Contains(screen.String(), want) {
				t.Errorf("the screen lacks %q: %q", want, screen.String())
			}
		}
		n := screen.Len()
		p.set(12, "after")
		p.finish()
		if screen.Len() != n {
			t.Errorf("drew after finish: %q", screen.String()[n:])
		}
	})
}
