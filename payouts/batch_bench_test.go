package payouts_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// BenchmarkImport keeps a validated sheet of 10k and 100k rows as a batch (rows COPY'd,
// totals, digest, audit), then approves it (which reads every row back and recomputes the
// digest) and plans its chunks with a dry run.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			conn := dbtest.New(b)
			st := payouts.NewStore(ledger.NewStore(conn, ledger.DefaultChart()), testPolicy())
			rs := rows("USDTTRC20", 2, n)
			b.ResetTimer()
			for i := range b.N {
				sh := sheetOf(fmt.Sprint(b.Name(), i), rs)
				batch, err := st.Import(ctx, payouts.ImportRequest{Sheet: sh, By: "alice",
					ExpectedFee: st.Policy().ExpectedFeeFunc(nil)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
