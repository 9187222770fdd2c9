package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/ledger"
)

// synthEntry is the i-th entry of a synthetic window: a paid invoice transaction booked by
// the default chart, four postings (net, network fee, service fee, gross), amounts varying
// with i so that nothing repeats.
func synthEntry(chart ledger.Chart, i int, e *ledger.Entry) {
	const cur = "USDTBEP20"
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	gross := decimal.New(int64(1_000_000+i*37%9_000_000), -4) // 100.0000 .. 999.9999
	network := decimal.New(int64(100+i%900), -6)
	service := gross.Mul(decimal.New(5, -3)).Round(6)
	net := gross.Sub(network).Sub(service)
	usd := func(d decimal.Decimal) decimal.NullDecimal {
		return decimal.NullDecimal{Decimal: d.Mul(decimal.New(9998, -4)).Round(8), Valid: true}
	}
	netUSD, networkUSD, serviceUSD := usd(net), usd(network), usd(service)
	grossUSD := decimal.NullDecimal{Decimal: netUSD.Decimal.Add(networkUSD.Decimal).Add(serviceUSD.Decimal).Neg(), Valid: true}
	id := strconv.Itoa(7_000_000_000 + i*7919)
	*e = ledger.Entry{
		Source:      ledger.SourceInvoice,
		ExternalID:  id,
		OccurredAt:  start.Add(time.Duration(i) * 50 * time.Millisecond),
		Description: "invoice payment " + id + " (order " + strconv.Itoa(i) + ")",
		TxHash:      fmt.Sprintf("0x%064x", i),
		Label:       "order " + strconv.Itoa(i),
		Address:     fmt.Sprintf("0x%040x", i%5000),
		SourceRef:   strconv.Itoa(100_000 + i%5000),
		Postings: append(e.Postings[:0],
			ledger.Posting{Account: chart.AssetsAccount(cur), Type: ledger.Asset, Currency: cur, Amount: net, AmountUSD: netUSD},
			ledger.Posting{Account: "expenses:fees:network:" + cur, Type: ledger.Expense, Currency: cur, Amount: network, AmountUSD: networkUSD},
			ledger.Posting{Account: "expenses:fees:service:" + cur, Type: ledger.Expense, Currency: cur, Amount: service, AmountUSD: serviceUSD},
			ledger.Posting{Account: "income:invoices:" + cur, Type: ledger.Income, Currency: cur, Amount: gross.Neg(), AmountUSD: grossUSD},
		),
	}
}

// BenchmarkBatch loads n synthetic entries of four postings into an empty ledger through a
// Batch, and, in the same run, the ceiling: a plain COPY of the same rows into
// journal_entries and postings (balance trigger on) of another empty ledger. It reports both
// as entries/s, their ratio (loader time / COPY time) and the process's peak RSS during the
// loader.
//
//	make bench BENCH=Batch PKG=./ledger/
func BenchmarkBatch(b *testing.B) {
	for _, n := range []int{200_000, 1_000_000} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			var loader, ceiling time.Duration
			var peak int64
			for b.Loop() {
				b.StopTimer()
				conn := dbtest.New(b)
				store := ledger.NewStore(conn, ledger.DefaultChart())
				runtime.GC()
				resetPeakRSS(b)
				b.StartTimer()

				start := time.Now()
				res := loadBatch(ctx, b, store, n)
				loader += time.Since(start)

				b.StopTimer()
				peak = max(peak, peakRSS(b))
				if res.Booked != n {
					b.Fatalf("booked %d of %d", res.Booked, n)
				}
				closeDB(b, conn)
				conn = dbtest.New(b)
				start = time.Now()
				plainCopy(ctx, b, conn, n)
				ceiling += time.Since(start)
				closeDB(b, conn)
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/loader.Seconds(), "entries/s")
			b.ReportMetric(float64(n)*float64(b.N)/ceiling.Seconds(), "copy-entries/s")
			b.ReportMetric(loader.Seconds()/ceiling.Seconds(), "x-copy-time")
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
		})
	}
}

func loadBatch(ctx context.Context, b *testing.B, store *ledger.Store, n int) ledger.BatchResult {
	batch, err := store.BeginBatch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer batch.Rollback() //nolint:errcheck // a no-op after Commit
	var e ledger.Entry
	for i := range n {
		synthEntry(store.Chart(), i, &e)
		if err := batch.Add(ctx, &e); err != nil {
			b.Fatal(err)
		}
	}
	batch.SetWatermark(ledger.SourceInvoice, time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC))
	res, err := batch.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// plainCopy is the ceiling: the same entries and postings COPYed straight into the ledger's
// tables in one transaction, ids assigned by the client.
func plainCopy(ctx context.Context, b *testing.B, conn *sqlx.DB, n int) {
	store := ledger.NewStore(conn, ledger.DefaultChart())
	var e ledger.Entry
	synthEntry(store.Chart(), 0, &e)
	accounts := make([]int64, len(e.Postings))
	for i, p := range e.Postings {
		id, err := store.AccountID(ctx, p.Account, p.Type, p.Currency)
		if err != nil {
			b.Fatal(err)
		}
		accounts[i] = id
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	entries, err := tx.PrepareContext(ctx, pq.CopyIn("journal_entries",
		"id", "source", "external_id", "occurred_at", "description", "tx_hash", "label", "address", "source_ref"))
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		synthEntry(store.Chart(), i, &e)
		if _, err := entries.ExecContext(ctx, int64(i+1), e.Source, e.ExternalID, e.OccurredAt,
			e.Description, e.TxHash, e.Label, e.Address, e.SourceRef); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := entries.ExecContext(ctx); err != nil {
		b.Fatal(err)
	}
	if err := entries.Close(); err != nil {
		b.Fatal(err)
	}
	postings, err := tx.PrepareContext(ctx, pq.CopyIn("postings",
		"entry_id", "line", "account_id", "currency", "amount", "amount_usd", "occurred_at"))
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		synthEntry(store.Chart(), i, &e)
		for l, p := range e.Postings {
			if _, err := postings.ExecContext(ctx, int64(i+1), int64(l+1), accounts[l], p.Currency,
				p.Amount.String(), p.AmountUSD.Decimal.String(), e.OccurredAt); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := postings.ExecContext(ctx); err != nil {
		b.Fatal(err)
	}
	if err := postings.Close(); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func closeDB(b *testing.B, conn *sqlx.DB) {
	if err := conn.Close(); err != nil {
		b.Fatal(err)
	}
}

// resetPeakRSS resets the kernel's high-water mark of this process's RSS (Linux), so that
// peakRSS measures from here.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not measured: %v", err)
	}
}

// peakRSS returns the process's peak RSS in bytes since resetPeakRSS (VmHWM), 0 if unknown.
func peakRSS(b *testing.B) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Logf("peak RSS not measured: %v", err)
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}
