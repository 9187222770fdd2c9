package jobs

import (
	"context"

	"github.com/nordpay/nordpay-jobs/payouts"
)

// UnknownPayouts wires ReconcileOptions.UnknownPayouts to the payouts store: every chunk of
// every batch whose confirm has an unknown outcome is an exception of the reconciliation,
// whichever month it reports on, until a person resolves it.
func UnknownPayouts(st *payouts.Store) func(ctx context.Context) ([]PayoutException, error) {
	return func(ctx context.Context) ([]PayoutException, error) {
		chunks, err := st.UnknownChunks(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]PayoutException, 0, len(chunks))
		for _, c := range chunks {
			out = append(out, PayoutException{
				Batch: c.Batch, Chunk: c.N, Currency: c.Currency, Rows: c.Rows, Amount: c.Amount,
				Identifier: c.Identifier(), Since: c.UpdatedAt, Detail: c.Reason,
			})
		}
		return out, nil
	}
}

// CountPayoutChunks wires Metrics.RegisterPayoutChunks to the payouts store, so that
// nordpay_jobs_payout_chunks{state} shows every state, at zero too.
func CountPayoutChunks(st *payouts.Store) PayoutChunkCounter {
	return func(ctx context.Context) (map[string]int64, error) {
		counts, err := st.CountChunks(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]int64, len(counts))
		for state, n := range counts {
			out[string(state)] = n
		}
		return out, nil
	}
}
