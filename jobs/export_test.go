package jobs

import "context"

// SetInboxHook installs the test seam of a PayoutsInbox: f is called at each named point
// ("claimed", "validated", "imported", "report moved") with the claimed name; an error from
// f stops the sheet there, as if the process had died at that point.
func SetInboxHook(in *PayoutsInbox, f func(point, claimed string) error) { in.hook = f }

// SetStatementsHook installs the test seam of the statements kind: f is called after each
// format of a slot is written, before the next one; an error from f fails the run.
func SetStatementsHook(o *StatementsKindOptions, f func(ctx context.Context, format string) error) {
	o.afterFormat = f
}
