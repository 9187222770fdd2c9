package payouts_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/internal/rss"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// benchSheets caches generated sheets by format and size.
var benchSheets sync.Map

// benchSheet is a payout sheet of n rows: USDTTRC20 to two addresses, amounts as numbers in
// XLSX (10.01, 10.02...; all distinct), names and notes.
func benchSheet(b testing.TB, format string, n int) []byte {
	key := fmt.Sprint(format, n)
	if v, ok := benchSheets.Load(key); ok {
		return v.([]byte)
	}
	b.Helper()
	row := func(i int) (string, string, decimal.Decimal, string, string, string) {
		addr := tronA
		if i%2 == 1 {
			addr = tronB
		}
		return "USDTTRC20", addr, decimal.New(1001+int64(i), -2), fmt.Sprintf("R%07d", i), fmt.Sprintf("Payee %d", i), "bench"
	}
	var buf bytes.Buffer
	switch format {
	case "csv":
		buf.WriteString(corpusHeader + "\n")
		for i := range n {
			c, a, amt, ref, name, note := row(i)
			fmt.Fprintf(&buf, "%s,%s,%s,%s,%s,%s\n", c, a, amt, ref, name, note)
		}
	case "xlsx":
		f := excelize.NewFile()
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			b.Fatal(err)
		}
		if err := sw.SetRow("A1", stdHeader); err != nil {
			b.Fatal(err)
		}
		for i := range n {
			c, a, amt, ref, name, note := row(i)
			num, _ := amt.Float64() // a spreadsheet stores numbers as binary floats
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			if err := sw.SetRow(cell, []any{c, a, num, ref, name, note}); err != nil {
				b.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Write(&buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	benchSheets.Store(key, buf.Bytes())
	return buf.Bytes()
}

// cpuTime is the CPU time this process has used (user and system, all threads): a figure
// that other load on the machine disturbs less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadSheet reads a 10k-row XLSX and CSV: rows/s and allocations per row.
func BenchmarkReadSheet(b *testing.B) {
	for _, format := range []string{"xlsx", "csv"} {
		b.Run(fmt.Sprintf("%s-10k", format), func(b *testing.B) {
			const n = 10_000
			data := benchSheet(b, format, n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				sh, err := payouts.ReadSheet("bench."+format, bytes.NewReader(data), payouts.ReadOptions{})
				if err != nil || len(sh.Rows) != n || len(sh.Errors) > 0 {
					b.Fatalf("%v: %d rows, errors %v", err, len(sh.Rows), sh.Errors)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/sheet")
		})
	}
}

// BenchmarkValidateSheet measures the whole validation of `payouts import`, for an XLSX of
// 10k and of 100k rows (issue 5: under 1 s and under 10 s), and the process's peak RSS:
//
//	make bench BENCH=BenchmarkValidateSheet PKG=./payouts/
//
// One timed iteration reads the sheet (ReadSheet), reads the recent payouts from PostgreSQL
// (Store.PaidRecently, over a store that already holds a batch of 10k other rows), and
// validates every row (Validate): currency known and withdrawals enabled; the address on its
// network with its checksum (a third of the rows USDTBEP20 to EIP-55 mixed-case addresses,
// whose Keccak is computed, a third USDTTRC20 to base58check addresses, a third BTC to bech32
// addresses; every address distinct); the amount positive, within the decimals, at least the
// minimum withdrawal and under the per-row cap; references unique; repeats in the sheet and
// against the store; and each currency's total, plus the expected fees, against the batch cap
// and the balance.
func BenchmarkValidateSheet(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("xlsx-%dk", n/1000), func(b *testing.B) {
			conn := dbtest.New(b)
			st := payouts.NewStore(ledger.NewStore(conn, ledger.DefaultChart()), benchPolicy())
			st.Now = func() time.Time { return testNow }
			// What the store already holds: an earlier batch of 10k rows, to other addresses.
			earlier := benchRows(10_000, 1<<40)
			if _, err := st.Import(ctx, payouts.ImportRequest{Sheet: sheetOf("earlier", earlier), By: "alice",
				ExpectedFee: st.Policy().ExpectedFeeFunc(nil)}); err != nil {
				b.Fatal(err)
			}
			data := benchValidationSheet(b, n)
			env := corpusEnv()
			env.Balances = map[string]decimal.Decimal{}
			for cur := range env.Currencies {
				env.Balances[cur] = decimal.New(1, 12)
			}
			env.ExpectedFee = st.Policy().ExpectedFeeFunc(env.Currencies)
			env.Limits = payouts.Limits{
				MaxRowAmount:   map[string]decimal.Decimal{"USDTBEP20": decimal.New(1, 6), "USDTTRC20": decimal.New(1, 6), "BTC": decimal.NewFromInt(10)},
				MaxBatchAmount: map[string]decimal.Decimal{"USDTBEP20": decimal.New(1, 11), "USDTTRC20": decimal.New(1, 11), "BTC": decimal.New(1, 6)},
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			peak := 0.0
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				b.StopTimer()
				debug.FreeOSMemory() // what the setup left behind is not this iteration's
				rss.ResetPeak()
				b.StartTimer()
				sh, err := payouts.ReadSheet("bench.xlsx", bytes.NewReader(data), payouts.ReadOptions{})
				if err != nil {
					b.Fatal(err)
				}
				env.PaidRecently, err = st.PaidRecently(ctx, testNow.Add(-payouts.RepeatWindow))
				if err != nil {
					b.Fatal(err)
				}
				errs, totals, err := payouts.Validate(ctx, sh, env)
				if err != nil || len(errs) > 0 || len(totals) != 3 || totals[0].Rows+totals[1].Rows+totals[2].Rows != n {
					b.Fatalf("%v: errors %v, totals %+v", err, errs[:min(len(errs), 5)], totals)
				}
				peak = max(peak, rss.PeakMB())
			}
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/sheet")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/sheet")
			b.ReportMetric(peak, "peak-RSS-MB")
		})
	}
}

// benchPolicy expects the sandbox's withdrawal fees.
func benchPolicy() payouts.Policy {
	p := testPolicy()
	p.Fees = map[string]payouts.Fee{}
	for cur, f := range sandbox.DefaultOptions(testNow).WithdrawFees {
		p.Fees[cur] = payouts.Fee{Fixed: f.Fixed, Percent: f.Percent}
	}
	return p
}

// benchRows are n valid rows, lines from 2, addresses and amounts distinct by seed: by turns
// USDTBEP20 to an EIP-55 address, USDTTRC20 to a TRON address, BTC to a bech32 address.
func benchRows(n int, seed uint64) []payouts.Row {
	out := make([]payouts.Row, n)
	for i := range out {
		k := seed + uint64(i)
		r := payouts.Row{Line: i + 2, Reference: fmt.Sprintf("R%d-%07d", seed, i), Name: fmt.Sprintf("Payee %d", i), Note: "bench"}
		switch i % 3 {
		case 0:
			r.Currency, r.Address, r.Amount = "USDTBEP20", payouts.ValidAddress("evm", k), decimal.New(1000+int64(i), -2)
		case 1:
			r.Currency, r.Address, r.Amount = "USDTTRC20", payouts.ValidAddress("tron", k), decimal.New(1000+int64(i), -2)
		default:
			r.Currency, r.Address, r.Amount = "BTC", payouts.ValidAddress("btc", k), decimal.New(100_000+int64(i), -8)
		}
		out[i] = r
	}
	return out
}

// benchValidationSheet is benchRows(n) as an XLSX whose amounts are numeric cells (binary
// floats, as a spreadsheet stores them).
func benchValidationSheet(b *testing.B, n int) []byte {
	key := fmt.Sprint("validation", n)
	if v, ok := benchSheets.Load(key); ok {
		return v.([]byte)
	}
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
	}
	if err := sw.SetRow("A1", stdHeader); err != nil {
		b.Fatal(err)
	}
	for _, r := range benchRows(n, 1) {
		num, _ := r.Amount.Float64()
		cell, _ := excelize.CoordinatesToCellName(1, r.Line)
		if err := sw.SetRow(cell, []any{r.Currency, r.Address, num, r.Reference, r.Name, r.Note}); err != nil {
			b.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		b.Fatal(err)
	}
	benchSheets.Store(key, buf.Bytes())
	return buf.Bytes()
}
