package jobs

// SetInboxHook installs the test seam of a PayoutsInbox: f is called at each named point
// ("claimed", "validated", "imported", "report moved") with the claimed name; an error from
// f stops the sheet there, as if the process had died at that point.
func SetInboxHook(in *PayoutsInbox, f func(point, claimed string) error) { in.hook = f }
