package main

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is the progress bar of a long command, on stderr. It draws only when stderr is a
// terminal and --no-progress was not given, so that pipes, logs, scripts and tests never see
// it; when it does not draw, its methods do nothing, and callers need no checks. Clear it
// (finish) before writing to stdout: on a terminal both share the screen.
type progress struct {
	w     io.Writer // nil: draw nothing
	bar   *progressbar.ProgressBar
	name  string // the current phase
	total int64
	shown string    // the description drawn
	drawn time.Time // when the bar was last drawn
}

// progressEvery is how often the bar is drawn at most, unless what it says changes.
const progressEvery = 100 * time.Millisecond

// newProgress returns the progress of a command; off is its --no-progress flag.
func newProgress(m *Main, off bool) *progress {
	if off || !isTerminal(m.Err) {
		return &progress{}
	}
	return &progress{w: m.Err}
}

// on reports whether the bar is drawn: log lines written to stderr meanwhile would tear it.
func (p *progress) on() bool { return p.w != nil }

// phase shows a bar for a step of the command: name says what it does (short: the line
// must fit a terminal), total is how many steps it takes (0 or less when not known: a
// spinner instead), and unit names them for a count and a rate ("rows": "350 rows/s"; ""
// shows no rate, and a spinner no count). Called again with the current name, it keeps the
// bar and only takes the new total.
func (p *progress) phase(name string, total int64, unit string) {
	if p.w == nil {
		return
	}
	if total <= 0 {
		total = -1
	}
	if p.bar != nil && name == p.name {
		if total != p.total {
			p.total = total
			p.bar.ChangeMax64(total)
		}
		return
	}
	p.finish()
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true), // the phase shows as it starts
	}
	if total > 0 || unit != "" {
		opts = append(opts, progressbar.OptionShowCount())
	}
	if unit != "" {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	if total < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	} else {
		opts = append(opts, progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30))
	}
	p.name, p.total, p.shown, p.drawn = name, total, name, time.Now()
	p.bar = progressbar.NewOptions64(total, opts...)
}

// set moves the bar to done steps of the current phase, with detail after its name ("" for
// none). The bar is drawn at once when the detail changes or the phase ends, else at most
// every progressEvery: a count in between is left for the next call.
func (p *progress) set(done int64, detail string) {
	if p.bar == nil {
		return
	}
	shown := p.name
	if detail != "" {
		shown += ": " + detail
	}
	now := time.Now()
	if shown == p.shown && now.Sub(p.drawn) < progressEvery && (p.total < 0 || done < p.total) {
		return
	}
	p.drawn = now
	_ = p.bar.Set64(done) // a bar that cannot draw must not fail the command
	if shown != p.shown {
		p.shown = shown
		p.bar.Describe(shown) // drawn again, with the count just set
	}
}

// finish clears the bar, if any; the next phase starts a new one.
func (p *progress) finish() {
	if p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	p.bar, p.name, p.shown = nil, "", ""
}
