package payouts

// SetHook installs the test seam of a Runner: f is called after each committed transition
// named by point ("requested", "confirming"); an error from f stops the run there, as if the
// process had died at that point.
func SetHook(r *Runner, f func(point string, c *Chunk) error) { r.hook = f }
