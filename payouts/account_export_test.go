package payouts

import "context"

// WithAccount makes the audit record a as the OS account of the work done with ctx, in place
// of the process's: the test seam of two people on two machines.
func WithAccount(ctx context.Context, a OSAccount) context.Context {
	return context.WithValue(ctx, accountKey{}, a)
}
