package jobs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/internal/rss"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// BenchmarkSync pulls n transactions (5% unpaid) over 30 day windows from the sandbox over
// loopback HTTP into an empty ledger, then, in the same run, COPYs the same entry and posting
// rows from a file into the same (empty) tables: the ceiling. It reports transactions per
// second of both, their ratio, and the peak RSS of the sync (the process holds the in-process
// sandbox too).
//
//	make bench BENCH=BenchmarkSync PKG=./jobs/
//
// SYNC_BENCH_SIZES=1000000 runs one size; SYNC_BENCH_WINDOW=720h syncs the month in one
// window (the default is one day), to show that memory does not grow with the window.
func BenchmarkSync(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if s := os.Getenv("SYNC_BENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchSyncOnce(b, n)
			}
		})
	}
}

func benchSyncOnce(b *testing.B, n int) {
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -30)
	opts := sandbox.DefaultOptions(end)
	opts.APIKey = "bench"
	opts.InitialBalances = nil
	opts.Invoices = sandbox.Generator{Start: start, End: end, Count: n, UnpaidRate: 0.05}
	opts.Wallets = sandbox.Generator{}
	_, client := serveSandbox(b, opts)
	syncURL := dbtest.URL(b)
	conn, err := db.Open(ctx, syncURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	chart := ledger.DefaultChart()
	syncer := &jobs.Syncer{Client: client, Store: ledger.NewStore(conn, chart), Chart: chart, Now: func() time.Time { return end }}

	runtime.GC()
	rss.ResetPeak()
	t0 := time.Now()
	window := 24 * time.Hour
	if s := os.Getenv("SYNC_BENCH_WINDOW"); s != "" {
		if window, err = time.ParseDuration(s); err != nil {
			b.Fatalf("SYNC_BENCH_WINDOW: %v", err)
		}
	}
	res, err := syncer.Run(ctx, jobs.SyncOptions{From: start, To: end, Sources: []string{ledger.SourceInvoice}, Window: window, Overlap: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	syncTime := time.Since(t0)
	peak := rss.PeakMB()
	if res.Fetched < int64(n) {
		b.Fatalf("fetched %d of %d", res.Fetched, n)
	}

	// The ceiling: the same rows, COPY'd from files into the same tables of a fresh database,
	// by psql's \copy (the file streamed as is, no Go in between).
	dir := b.TempDir()
	for _, table := range []string{"accounts", "journal_entries", "postings"} {
		psql(b, syncURL, fmt.Sprintf(`\copy %s TO '%s/%s.copy'`, table, dir, table))
	}
	ceilingURL := dbtest.URL(b)
	psql(b, ceilingURL, fmt.Sprintf(`\copy accounts FROM '%s/accounts.copy'`, dir))
	t1 := time.Now()
	psql(b, ceilingURL, fmt.Sprintf(`BEGIN; \copy journal_entries FROM '%s/journal_entries.copy'
\copy postings FROM '%s/postings.copy'
COMMIT;`, dir, dir))
	copyTime := time.Since(t1)
	nEntries := res.Booked

	b.ReportMetric(float64(res.Fetched)/syncTime.Seconds(), "sync-tx/s")
	b.ReportMetric(syncTime.Seconds(), "sync-s")
	b.ReportMetric(peak, "sync-peak-RSS-MB")
	b.ReportMetric(float64(res.Fetched)/copyTime.Seconds(), "copy-tx/s")
	b.ReportMetric(copyTime.Seconds(), "copy-s")
	b.ReportMetric(syncTime.Seconds()/copyTime.Seconds(), "sync/copy")
	b.Logf("n=%d: fetched %d, booked %d, unpaid %d in %s (%.0f tx/s, peak RSS %.1f MB); plain COPY of the %d entries and their postings: %s",
		n, res.Fetched, res.Booked, res.Unpaid, syncTime.Round(time.Millisecond), float64(res.Fetched)/syncTime.Seconds(), peak, nEntries, copyTime.Round(time.Millisecond))
}

// psql runs a script with psql against url, failing the benchmark on any error.
func psql(b *testing.B, url, script string) {
	b.Helper()
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("psql: %v\n%s", err, out)
	}
}
