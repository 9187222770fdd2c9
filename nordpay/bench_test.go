package nordpay_test

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/internal/rss"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// BenchmarkStreamWindow decodes one window of n transactions streamed from the sandbox over
// loopback HTTP. It reports transactions per second, heap allocations per transaction and the
// peak RSS reached while streaming, for the whole process: the client and the in-process
// sandbox together, so the client's own share is at most that.
//
//	make bench BENCH=StreamWindow PKG=./nordpay/
func BenchmarkStreamWindow(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			opts := sandbox.DefaultOptions(start.Add(48 * time.Hour))
			opts.APIKey = "bench"
			opts.Invoices = sandbox.Generator{Start: start, End: start.Add(24 * time.Hour), Count: n, UnpaidRate: 0.05}
			opts.Wallets = sandbox.Generator{}
			sb, err := sandbox.New(opts)
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(sb)
			defer srv.Close()
			client, err := nordpay.New(nordpay.Options{BaseURL: srv.URL, APIKey: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			w := nordpay.Window{Start: start, End: start.Add(24 * time.Hour)}
			ctx := context.Background()
			runtime.GC()
			rss.ResetPeak()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got := 0
				for tx, err := range client.InvoiceTransactions(ctx, w) {
					if err != nil {
						b.Fatal(err)
					}
					if tx.ID == "" {
						b.Fatal("transaction without id")
					}
					got++
				}
				if got != n {
					b.Fatalf("decoded %d transactions, want %d", got, n)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			total := float64(n) * float64(b.N)
			b.ReportMetric(total/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/tx")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/tx")
			b.ReportMetric(rss.PeakMB(), "peak-RSS-MB")
		})
	}
}
