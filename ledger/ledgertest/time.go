package ledgertest

import (
	"fmt"
	"time"
)

// timeScanner scans a timestamptz and prints it in UTC with microseconds.
type timeScanner struct{ t time.Time }

func (s *timeScanner) Scan(v any) error {
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("ledgertest: want a time, got %T", v)
	}
	s.t = t
	return nil
}

func (s timeScanner) String() string { return s.t.UTC().Format("2006-01-02T15:04:05.000000Z") }
