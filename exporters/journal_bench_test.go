package exporters_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/internal/rss"
	"github.com/nordpay/nordpay-jobs/ledger"
)

// journalSynthEntry is the i-th of n synthetic entries spread over October 2026: a paid
// invoice transaction of four postings (net, network fee, service fee, gross) in USDTBEP20,
// amounts varying with i, USD values alongside (like ledger's BenchmarkBatch).
func journalSynthEntry(i, n int, e *ledger.Entry) {
	const cur = "USDTBEP20"
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
	step := journalTo.Sub(journalFrom) / time.Duration(n)
	*e = ledger.Entry{
		Source:      ledger.SourceInvoice,
		ExternalID:  id,
		OccurredAt:  journalFrom.Add(time.Duration(i) * step),
		Description: "invoice payment " + id + " (order " + strconv.Itoa(i) + ")",
		TxHash:      fmt.Sprintf("0x%064x", i),
		Label:       "order " + strconv.Itoa(i),
		Address:     fmt.Sprintf("0x%040x", i%5000),
		SourceRef:   strconv.Itoa(100_000 + i%5000),
		Postings: append(e.Postings[:0],
			ledger.Posting{Account: "assets:nordpay:" + cur, Type: ledger.Asset, Currency: cur, Amount: net, AmountUSD: netUSD},
			ledger.Posting{Account: "expenses:fees:network:" + cur, Type: ledger.Expense, Currency: cur, Amount: network, AmountUSD: networkUSD},
			ledger.Posting{Account: "expenses:fees:service:" + cur, Type: ledger.Expense, Currency: cur, Amount: service, AmountUSD: serviceUSD},
			ledger.Posting{Account: "income:invoices:" + cur, Type: ledger.Income, Currency: cur, Amount: gross.Neg(), AmountUSD: grossUSD},
		),
	}
}

// journalSeed loads n synthetic entries through the ledger's bulk loader into a fresh
// database of the benchmark's own, and returns its URL and a Store on it.
func journalSeed(ctx context.Context, b *testing.B, n int) (string, *ledger.Store) {
	b.Helper()
	url := dbtest.URL(b)
	conn, err := db.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := conn.Close(); err != nil {
			b.Error(err)
		}
	})
	store := ledger.NewStore(conn, ledger.DefaultChart())
	batch, err := store.BeginBatch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer batch.Rollback() //nolint:errcheck // a no-op after Commit
	var e ledger.Entry
	for i := range n {
		journalSynthEntry(i, n, &e)
		if err := batch.Add(ctx, &e); err != nil {
			b.Fatal(err)
		}
	}
	res, err := batch.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if res.Booked != n {
		b.Fatalf("booked %d of %d", res.Booked, n)
	}
	return url, store
}

// journalBenchSizes reads a comma-separated list of entry counts from the environment.
func journalBenchSizes(b *testing.B, env string, def []int) []int {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want entry counts like 100000,1000000", env, v)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkJournalBalances compares `nordpay-jobs ledger balances` with `hledger bal` on
// the same 100k transactions (400k postings): the ledger's balances are a query in
// PostgreSQL; hledger's are computed by reading the whole journal. It reports, per run,
// store.Balances in process (balances-ms), the built command as a process
// (cli-ms: start, connect, query, print JSON), `hledger -f FILE bal` (hledger-ms), the ratios
// hledger/cli and hledger/balances, and, once, how fast the journal was written. The three
// answers are checked to agree exactly. JOURNAL_BENCH_SIZES=1000000 for another size.
//
//	make bench BENCH=JournalBalances PKG=./exporters/
func BenchmarkJournalBalances(b *testing.B) {
	for _, n := range journalBenchSizes(b, "JOURNAL_BENCH_SIZES", []int{100_000}) {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			url, store := journalSeed(ctx, b, n)
			dir := b.TempDir()
			journal := filepath.Join(dir, "ledger.journal")
			start := time.Now()
			journalWriteFile(ctx, b, store, journal)
			written := time.Since(start)
			info, err := os.Stat(journal)
			if err != nil {
				b.Fatal(err)
			}
			bin := filepath.Join(dir, "nordpay-jobs")
			if out, err := exec.Command("go", "build", "-o", bin, "github.com/nordpay/nordpay-jobs/cmd/nordpay-jobs").CombinedOutput(); err != nil {
				b.Fatalf("building nordpay-jobs: %v\n%s", err, out)
			}
			hledger, err := exec.LookPath("hledger")
			if err != nil {
				b.Fatal("hledger is not installed; `make bench` installs it (scripts/ensure-tools.sh)")
			}

			var inProcess, cli, hl time.Duration
			var ours []ledger.Balance
			var cliOut, hlOut []byte
			for b.Loop() {
				t0 := time.Now()
				if ours, err = store.Balances(ctx, time.Time{}); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				cmd := exec.Command(bin, "ledger", "balances", "--json")
				cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "NORDPAY_JOBS_CONFIG=")
				if cliOut, err = cmd.Output(); err != nil {
					b.Fatalf("nordpay-jobs ledger balances: %v", journalStderr(err))
				}
				t2 := time.Now()
				if hlOut, err = exec.Command(hledger, "-f", journal, "bal", "-O", "csv", "--layout=bare", "--no-total").Output(); err != nil {
					b.Fatalf("hledger bal: %v", journalStderr(err))
				}
				t3 := time.Now()
				inProcess, cli, hl = inProcess+t1.Sub(t0), cli+t2.Sub(t1), hl+t3.Sub(t2)
			}
			journalBenchAgree(b, ours, cliOut, hlOut)
			runs := float64(b.N)
			b.ReportMetric(inProcess.Seconds()*1000/runs, "balances-ms")
			b.ReportMetric(cli.Seconds()*1000/runs, "cli-ms")
			b.ReportMetric(hl.Seconds()*1000/runs, "hledger-ms")
			b.ReportMetric(hl.Seconds()/cli.Seconds(), "x-hledger/cli")
			b.ReportMetric(hl.Seconds()/inProcess.Seconds(), "x-hledger/balances")
			b.ReportMetric(float64(n)/written.Seconds(), "journal-entries/s")
			b.ReportMetric(float64(info.Size())/(1<<20), "journal-MB")
		})
	}
}

func journalWriteFile(ctx context.Context, b *testing.B, store *ledger.Store, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	err = exporters.WriteJournal(ctx, f, store, exporters.Hledger, exporters.JournalOptions{From: journalFrom, To: journalTo})
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		b.Fatal(err)
	}
}

func journalStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return err.Error() + ": " + string(ee.Stderr)
	}
	return err.Error()
}

// journalBenchAgree checks that store.Balances, the command's JSON and hledger's CSV hold the
// same non-zero balances.
func journalBenchAgree(b *testing.B, ours []ledger.Balance, cliOut, hlOut []byte) {
	b.Helper()
	want := map[string]string{}
	for _, x := range ours {
		if !x.Balance.IsZero() {
			want[x.Account+" "+x.Currency] = x.Balance.String()
		}
	}
	var cli []struct{ Account, Currency, Balance string }
	if err := json.Unmarshal(cliOut, &cli); err != nil {
		b.Fatalf("ledger balances --json: %v", err)
	}
	fromCLI := map[string]string{}
	for _, x := range cli {
		if d := decimal.RequireFromString(x.Balance); !d.IsZero() {
			fromCLI[x.Account+" "+x.Currency] = d.String()
		}
	}
	fromHledger := map[string]string{}
	rows := journalCSV(b, string(hlOut))
	for _, r := range rows[1:] {
		if d := decimal.RequireFromString(r[2]); !d.IsZero() {
			fromHledger[r[0]+" "+r[1]] = d.String()
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(fromCLI) || fmt.Sprint(want) != fmt.Sprint(fromHledger) {
		b.Fatalf("balances disagree:\nstore   %v\ncli     %v\nhledger %v", want, fromCLI, fromHledger)
	}
	if len(want) == 0 {
		b.Fatal("no balances")
	}
}

// journalCounter counts what is written, and drops it.
type journalCounter struct{ n int64 }

func (c *journalCounter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkWriteJournal writes a month of n synthetic entries (four postings each) as an
// hledger and a beancount journal, to a writer that drops the bytes, and reports entries/s,
// MB/s of journal text and the process's peak RSS while writing: it stays flat as n grows,
// because the entries are streamed. JOURNAL_WRITE_SIZES=1000000 for one size.
//
//	make bench BENCH=WriteJournal PKG=./exporters/
func BenchmarkWriteJournal(b *testing.B) {
	for _, n := range journalBenchSizes(b, "JOURNAL_WRITE_SIZES", []int{100_000, 1_000_000}) {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			_, store := journalSeed(ctx, b, n)
			for _, format := range journalFormats {
				b.Run(string(format), func(b *testing.B) {
					var elapsed time.Duration
					var written int64
					var peak float64
					for b.Loop() {
						runtime.GC()
						rss.ResetPeak()
						var out journalCounter
						start := time.Now()
						err := exporters.WriteJournal(ctx, &out, store, format, exporters.JournalOptions{From: journalFrom, To: journalTo})
						elapsed += time.Since(start)
						if err != nil {
							b.Fatal(err)
						}
						written += out.n
						peak = max(peak, rss.PeakMB())
					}
					b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "entries/s")
					b.ReportMetric(float64(written)/(1<<20)/elapsed.Seconds(), "MB/s")
					b.ReportMetric(peak, "peak-RSS-MB")
				})
			}
		})
	}
}
