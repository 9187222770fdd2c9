package jobs_test

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// The reconciled month is November 2026 (testStart); the sandbox's history starts a week
// before it, so the month opens with a balance, and runs to testNow.
var reconStart = testStart.AddDate(0, 0, -7)

func reconcileSetup(t *testing.T) *bundle {
	t.Helper()
	b := setup(t, func(o *sandbox.Options) {
		o.Invoices.Start, o.Wallets.Start = reconStart, reconStart
		o.Invoices.Count, o.Wallets.Count = 2500, 1200
	})
	return b
}

func (b *bundle) reconcile(t *testing.T, opts jobs.ReconcileOptions) *exporters.Reconciliation {
	t.Helper()
	if opts.Month.IsZero() {
		opts.Month = testStart.Add(36 * time.Hour)
	}
	r := &jobs.Reconciler{Client: b.syncer.Client, Store: b.store, Now: b.clock.Now}
	res, err := r.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched == 0 || res.APIPull <= 0 || res.Ledger <= 0 {
		t.Errorf("result: %+v", res)
	}
	return res.Report
}

func reconCheckStatuses(t *testing.T, rep *exporters.Reconciliation, want map[string]exporters.CheckStatus) {
	t.Helper()
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		if c.Status != want[c.Name] {
			t.Errorf("check %s: %s (%s), want %s; exceptions %+v", c.Name, c.Status, c.Summary, want[c.Name], c.Exceptions)
		}
	}
	if !slices.Equal(names, []string{exporters.CheckMovements, exporters.CheckCompleteness, exporters.CheckBalance, exporters.CheckPayouts, exporters.CheckQuarantine}) {
		t.Errorf("checks %v", names)
	}
}

// reconTruth sums what the sandbox serves, per currency: the paid transactions of the month by
// source, their fees, and the net of those before it.
type reconTruth struct {
	invoice, wallet, network, service, opening decimal.Decimal
	invoices, wallets, unpaid                  int64
}

func reconSandboxTruth(b *bundle, from, to time.Time) map[string]*reconTruth {
	out := map[string]*reconTruth{}
	for _, source := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
		for tx := range b.sb.Transactions(source, time.Time{}, time.Time{}) {
			at := tx.CreatedAt.Time
			if !at.Before(to) {
				continue
			}
			c := out[tx.Currency.Name]
			if c == nil {
				c = &reconTruth{}
				out[tx.Currency.Name] = c
			}
			switch {
			case at.Before(from):
				if tx.IsPaid {
					c.opening = c.opening.Add(tx.Net())
				}
			case !tx.IsPaid:
				c.unpaid++
			case source == nordpay.SourceInvoice:
				c.invoice, c.invoices = c.invoice.Add(tx.Amount), c.invoices+1
			default:
				c.wallet, c.wallets = c.wallet.Add(tx.Amount), c.wallets+1
			}
			if tx.IsPaid && !at.Before(from) {
				c.network, c.service = c.network.Add(tx.NetworkFee), c.service.Add(tx.ServiceFee)
			}
		}
	}
	return out
}

func TestReconcileCleanMonth(t *testing.T) {
	t.Parallel()
	b := reconcileSetup(t)
	b.run(t, jobs.SyncOptions{From: reconStart, To: testNow, Overlap: 5 * time.Minute})
	rep := b.reconcile(t, jobs.ReconcileOptions{})

	if !rep.Reconciled() || rep.Month != "2026-11" || !rep.From.Equal(testStart) || !rep.To.Equal(testStart.AddDate(0, 1, 0)) {
		t.Fatalf("report %s [%s, %s) reconciled %v: %+v", rep.Month, rep.From, rep.To, rep.Reconciled(), rep.Checks)
	}
	reconCheckStatuses(t, rep, map[string]exporters.CheckStatus{
		exporters.CheckMovements: exporters.CheckPassed, exporters.CheckCompleteness: exporters.CheckPassed,
		exporters.CheckBalance: exporters.CheckPassed, exporters.CheckPayouts: exporters.CheckNotApplicable,
		exporters.CheckQuarantine: exporters.CheckPassed,
	})
	if c := rep.Check(exporters.CheckPayouts); !strings.Contains(c.Summary, "not applicable: payout chunks were not looked at") {
		t.Errorf("payouts check says %q", c.Summary)
	}

	t.Run("FiguresEqualTheSandbox", func(t *testing.T) {
		want := reconSandboxTruth(b, rep.From, rep.To)
		balances := b.sb.Balances()
		seen := 0
		for _, c := range rep.Currencies {
			w := want[c.Currency]
			if w == nil {
				t.Errorf("currency %s is not the sandbox's", c.Currency)
				continue
			}
			seen++
			closing := w.opening.Add(w.invoice).Add(w.wallet).Sub(w.network).Sub(w.service)
			for _, f := range []struct {
				name      string
				got, want decimal.Decimal
			}{
				{"opening", c.Opening, w.opening}, {"invoice receipts", c.InvoiceReceipts, w.invoice},
				{"wallet receipts", c.WalletReceipts, w.wallet}, {"network fees", c.NetworkFees, w.network},
				{"service fees", c.ServiceFees, w.service}, {"closing", c.Closing, closing},
				{"expected closing", c.ExpectedClosing(), closing}, {"API gross", c.APIGross, w.invoice.Add(w.wallet)},
				{"ledger balance", c.LedgerBalance, balances[c.Currency]}, {"API balance", c.APIBalance.Decimal, balances[c.Currency]},
			} {
				if !f.got.Equal(f.want) {
					t.Errorf("%s %s: %s, want %s", c.Currency, f.name, f.got, f.want)
				}
			}
			if c.InvoiceCount != w.invoices || c.WalletCount != w.wallets || c.APIPaidCount != w.invoices+w.wallets || c.APIUnpaidCount != w.unpaid {
				t.Errorf("%s counts: %+v, want %+v", c.Currency, c, w)
			}
			if !c.Payouts.IsZero() || !c.Other.IsZero() || !c.Difference().IsZero() || !c.APIBalance.Valid || c.Decimals == 0 {
				t.Errorf("%s: %+v", c.Currency, c)
			}
		}
		if seen != len(want) {
			t.Errorf("%d currencies in the report, %d in the sandbox", seen, len(want))
		}
	})
	t.Run("DaysAddUpToTheMonth", func(t *testing.T) {
		sums := map[string][2]decimal.Decimal{}
		for _, d := range rep.Days {
			if d.Day.Before(rep.From) || !d.Day.Before(rep.To) || d.Day.Hour() != 0 {
				t.Errorf("day %s outside the month", d.Day)
			}
			s := sums[d.Currency]
			sums[d.Currency] = [2]decimal.Decimal{s[0].Add(d.InvoiceGross).Add(d.WalletGross), s[1].Add(d.APIGross)}
			if !d.InvoiceGross.Add(d.WalletGross).Equal(d.APIGross) {
				t.Errorf("%s %s: ledger %s, API %s", d.Day, d.Currency, d.InvoiceGross.Add(d.WalletGross), d.APIGross)
			}
		}
		for _, c := range rep.Currencies {
			if s := sums[c.Currency]; !s[0].Equal(c.Receipts()) || !s[1].Equal(c.APIGross) {
				t.Errorf("%s: days %s / %s, month %s / %s", c.Currency, s[0], s[1], c.Receipts(), c.APIGross)
			}
		}
	})
	t.Run("UnknownPayoutsHook", func(t *testing.T) {
		none := b.reconcile(t, jobs.ReconcileOptions{UnknownPayouts: func(context.Context) ([]jobs.PayoutException, error) { return nil, nil }})
		if c := none.Check(exporters.CheckPayouts); c.Status != exporters.CheckPassed || !none.Reconciled() {
			t.Errorf("no unknown chunk: %+v", c)
		}
		one := b.reconcile(t, jobs.ReconcileOptions{UnknownPayouts: func(context.Context) ([]jobs.PayoutException, error) {
			return []jobs.PayoutException{{Batch: "b-1", Chunk: 2, Currency: "USDTBEP20", Rows: 3, Amount: decimal.RequireFromString("300.5"),
				Identifier: "uuid-1", Since: testNow.Add(-time.Hour)}}, nil
		}})
		c := one.Check(exporters.CheckPayouts)
		if c.Status != exporters.CheckFailed || one.Reconciled() || len(c.Exceptions) != 1 || c.Exceptions[0].ID != "b-1/2" ||
			!c.Exceptions[0].Ledger.Decimal.Equal(decimal.RequireFromString("300.5")) {
			t.Errorf("one unknown chunk: %+v", c)
		}
		r := &jobs.Reconciler{Client: b.syncer.Client, Store: b.store}
		_, err := r.Run(context.Background(), jobs.ReconcileOptions{Month: testStart, UnknownPayouts: func(context.Context) ([]jobs.PayoutException, error) {
			return nil, errors.New("payouts: down")
		}})
		if err == nil || !strings.Contains(err.Error(), "payouts: down") {
			t.Errorf("a failing hook: %v", err)
		}
	})
}

// TestReconcileProgress follows the re-pull of November through the progress callback: one
// call before the first window, one after each (daily windows: 30 days and a margin on each
// side, per source), calls within a window every 10,000 records (a 30-day window holding
// most of 24,000 invoices), counts that never go down, and a last call with every window
// done and every record read.
func TestReconcileProgress(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Invoices.Count = 24_000 })
	r := &jobs.Reconciler{Client: b.syncer.Client, Store: b.store, Now: b.clock.Now}
	follow := func(t *testing.T, window time.Duration) (calls []jobs.ReconcileProgress, fetched int64) {
		t.Helper()
		res, err := r.Run(context.Background(), jobs.ReconcileOptions{Month: testStart, Window: window,
			Progress: func(p jobs.ReconcileProgress) { calls = append(calls, p) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) == 0 {
			t.Fatal("the callback was never called")
		}
		if first := calls[0]; first.WindowsDone != 0 || first.Fetched != 0 || first.Windows == 0 {
			t.Errorf("first call %+v, want no window done of some", first)
		}
		for i := 1; i < len(calls); i++ {
			prev, p := calls[i-1], calls[i]
			if p.Windows != prev.Windows || p.WindowsDone < prev.WindowsDone || p.WindowsDone > prev.WindowsDone+1 ||
				p.Fetched < prev.Fetched || p.WindowsDone == prev.WindowsDone && p.Fetched == prev.Fetched {
				t.Errorf("call %d %+v after %+v", i, p, prev)
			}
		}
		if last := calls[len(calls)-1]; last.WindowsDone != last.Windows || last.Fetched != res.Fetched || res.Fetched == 0 {
			t.Errorf("last call %+v; the run fetched %d", last, res.Fetched)
		}
		return calls, res.Fetched
	}

	t.Run("EveryWindow", func(t *testing.T) {
		calls, _ := follow(t, 24*time.Hour)
		if w := calls[0].Windows; w != 2*(30+2) {
			t.Errorf("%d windows, want 64: November's 30 days and a day on each side, for invoices and wallets", w)
		}
	})
	t.Run("WithinAWindow", func(t *testing.T) {
		calls, fetched := follow(t, 720*time.Hour)
		within := 0
		for i := 1; i < len(calls); i++ {
			if calls[i].WindowsDone == calls[i-1].WindowsDone {
				within++
				if calls[i].Fetched-calls[i-1].Fetched < 10_000 {
					t.Errorf("call %d %+v only %d records after the one before", i, calls[i], calls[i].Fetched-calls[i-1].Fetched)
				}
			}
		}
		if within == 0 || int64(within) > fetched/10_000 {
			t.Errorf("%d calls within a window for %d records: %+v", within, fetched, calls)
		}
	})
}

// TestReconcileAssumesNothingOfWindowBounds re-pulls the month from an API that reads
// start_date and end_date three hours off (as if in another time zone; the documents say
// nothing of how the bounds are read), one way and the other. Every query then returns
// records outside its window and misses some inside it: only a re-pull that keeps what any
// query returns, once per id, and reaches past the month's ends finds the whole month.
func TestReconcileAssumesNothingOfWindowBounds(t *testing.T) {
	t.Parallel()
	b := reconcileSetup(t)
	b.run(t, jobs.SyncOptions{From: reconStart, To: testNow, Overlap: 5 * time.Minute})
	for _, shift := range []time.Duration{3 * time.Hour, -3 * time.Hour} {
		t.Run(shift.String(), func(t *testing.T) {
			var queries atomic.Int32
			skew := func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
				q := r.URL.Query()
				for _, name := range []string{"start_date", "end_date"} {
					if v := q.Get(name); v != "" {
						at, err := nordpay.ParseTime(v)
						if err != nil {
							t.Errorf("%s=%q: %v", name, v, err)
							continue
						}
						q.Set(name, at.Add(shift).Format(nordpay.TimeLayout))
					}
				}
				if strings.HasSuffix(r.URL.Path, "/transactions") {
					queries.Add(1)
				}
				r.URL.RawQuery = q.Encode()
				return w
			}
			b.wrap.Store(&skew)
			defer b.wrap.Store(nil)
			rep := b.reconcile(t, jobs.ReconcileOptions{})
			if queries.Load() == 0 {
				t.Fatal("the re-pull made no query through the skewing API")
			}
			reconCheckStatuses(t, rep, map[string]exporters.CheckStatus{
				exporters.CheckMovements: exporters.CheckPassed, exporters.CheckCompleteness: exporters.CheckPassed,
				exporters.CheckBalance: exporters.CheckPassed, exporters.CheckPayouts: exporters.CheckNotApplicable,
				exporters.CheckQuarantine: exporters.CheckPassed,
			})
			for _, c := range rep.Currencies {
				if c.APIPaidCount != c.InvoiceCount+c.WalletCount || !c.APIGross.Equal(c.Receipts()) {
					t.Errorf("%s: Nord PAY %d paid, %s gross; the ledger %d, %s", c.Currency, c.APIPaidCount, c.APIGross,
						c.InvoiceCount+c.WalletCount, c.Receipts())
				}
			}
		})
	}
}

// TestReconcilePayouts pays two people through the sandbox and books the withdrawal rows
// as the payouts package does (its posting rule, no USD value for the amounts): the month
// shows them as payouts and payout fees, per currency and on their day, every check passes,
// and the Payouts sheet leaves the USD value empty rather than showing a sum short of it.
func TestReconcilePayouts(t *testing.T) {
	t.Parallel()
	b := reconcileSetup(t)
	ctx := context.Background()
	b.run(t, jobs.SyncOptions{From: reconStart, To: testNow, Overlap: 5 * time.Minute})
	d := decimal.RequireFromString
	client := b.syncer.Client
	quote, err := client.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDTBEP20", AddressesAndAmounts: []nordpay.Payee{
		{Address: "0x" + strings.Repeat("ab", 20), Amount: d("25")},
		{Address: "0x" + strings.Repeat("cd", 20), Amount: d("40.5")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ConfirmMultiWithdraw(ctx, quote.Identifier); err != nil {
		t.Fatal(err)
	}
	chart := ledger.DefaultChart()
	paidAt := testNow.Add(-time.Minute)
	var paid, fees decimal.Decimal
	for i, q := range quote.AddressesAndAmounts {
		w := ledger.Withdrawal{ExternalID: "batch-1/row-" + string(rune('1'+i)), Currency: quote.Currency, Address: q.Address,
			Reference: "row " + string(rune('1'+i)), Amount: q.Amount, ServiceFee: q.ServiceFee,
			ServiceFeeUSD: decimal.NullDecimal{Decimal: q.ServiceFeeUSD, Valid: true}, Identifier: quote.Identifier, At: paidAt}
		if _, _, err := b.store.Post(ctx, chart.WithdrawalEntry(w)); err != nil {
			t.Fatal(err)
		}
		paid, fees = paid.Add(q.Amount.Sub(q.ServiceFee)), fees.Add(q.ServiceFee)
	}
	if fees.IsZero() {
		t.Fatal("the sandbox charged no withdrawal fee")
	}

	rep := b.reconcile(t, jobs.ReconcileOptions{})
	reconCheckStatuses(t, rep, map[string]exporters.CheckStatus{
		exporters.CheckMovements: exporters.CheckPassed, exporters.CheckCompleteness: exporters.CheckPassed,
		exporters.CheckBalance: exporters.CheckPassed, exporters.CheckPayouts: exporters.CheckNotApplicable,
		exporters.CheckQuarantine: exporters.CheckPassed,
	})
	var cur *exporters.ReconciliationCurrency
	for i := range rep.Currencies {
		if rep.Currencies[i].Currency == "USDTBEP20" {
			cur = &rep.Currencies[i]
		}
	}
	if cur == nil || cur.PayoutCount != 2 || !cur.Payouts.Equal(paid) || !cur.PayoutFees.Equal(fees) || !cur.Difference().IsZero() {
		t.Fatalf("USDTBEP20: %+v; want 2 payouts of %s and fees of %s", cur, paid, fees)
	}
	day := time.Date(paidAt.Year(), paidAt.Month(), paidAt.Day(), 0, 0, 0, 0, time.UTC)
	found := false
	for _, dd := range rep.Days {
		if dd.Currency != "USDTBEP20" || !dd.Day.Equal(day) {
			if dd.PayoutCount != 0 {
				t.Errorf("payouts on %s %s: %+v", dd.Day, dd.Currency, dd)
			}
			continue
		}
		found = true
		if dd.PayoutCount != 2 || !dd.Payouts.Equal(paid) || !dd.PayoutFees.Equal(fees) || dd.PayoutsUSD.Valid {
			t.Errorf("the day of the payouts: %+v", dd)
		}
	}
	if !found {
		t.Fatalf("no day %s for USDTBEP20", day)
	}

	dir := filepath.Join(t.TempDir(), "recon")
	if err := exporters.WriteReconciliation(dir, exporters.ReconciliationCSV, rep); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "payouts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{day.Format("2006-01-02"), "USDTBEP20", "2", paid.StringFixed(18), fees.StringFixed(18), paid.Add(fees).StringFixed(18), ""}
	if len(rows) != 2 || !slices.Equal(rows[1], want) {
		t.Errorf("payouts.csv:\n got %q\nwant %q", rows, want)
	}
}

// hostileLabel is a label that a spreadsheet would run as a formula if it were not
// neutralised.
const hostileLabel = `=HYPERLINK("http://x","y")`

func TestReconcilePlantedDifferences(t *testing.T) {
	t.Parallel()
	b := reconcileSetup(t)
	ctx := context.Background()
	chart := ledger.DefaultChart()

	// Before the sync books them, the ledger gets its own version of three transactions of
	// the month: one with another service fee, one the API says is unpaid, one the API
	// does not have at all.
	var paid, unpaid *nordpay.Transaction
	for tx := range b.sb.Transactions(nordpay.SourceInvoice, testStart.AddDate(0, 0, 3), testStart.AddDate(0, 0, 4)) {
		switch {
		case tx.IsPaid && paid == nil && tx.Currency.Name == "USDTTRC20":
			paid = &tx
		case !tx.IsPaid && unpaid == nil:
			unpaid = &tx
		}
	}
	if paid == nil || unpaid == nil {
		t.Fatal("no transactions to plant")
	}
	changed := *paid
	changed.ServiceFee = changed.ServiceFee.Add(decimal.RequireFromString("0.01"))
	booked := *unpaid
	booked.IsPaid = true
	extra := *paid
	extra.ID = "not-at-the-api"
	extra.CreatedAt = nordpay.Time{Time: testStart.AddDate(0, 0, 9)}
	for _, tx := range []*nordpay.Transaction{&changed, &booked, &extra} {
		if _, _, err := b.store.Post(ctx, chart.TransactionEntry(tx, ledger.SourceInvoice)); err != nil {
			t.Fatal(err)
		}
	}
	// A record no rule can book: quarantined by the sync, unbookable at the re-pull.
	at := testStart.AddDate(0, 0, 5)
	b.sb.AddRawTransaction(nordpay.SourceWallet, at, at,
		`{"id": 990001, "source_type": "wallet", "currency": {"name": "DOGECOIN"}, "amount": 5, "is_paid": true, "created_at": "2026-11-06T00:00:00Z", "source": {"label": "@SUM(A1)"}}`)
	b.run(t, jobs.SyncOptions{From: reconStart, To: testNow, Overlap: 5 * time.Minute})

	// After the sync: a payment the ledger has not seen (the API's balance moves with it).
	missingAt := testStart.AddDate(0, 0, 12).Add(90 * time.Minute)
	d := decimal.RequireFromString
	b.sb.AddTransaction(nordpay.Transaction{ID: "late-1", SourceType: nordpay.SourceWallet,
		Source:   nordpay.Source{ID: "w-late", Label: hostileLabel, Address: "+1+1"},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTBEP20"}},
		Amount:   d("12.5"), AmountUSD: d("12.5"), NetworkFee: d("0"), ServiceFee: d("0.125"), ServiceFeeUSD: d("0.125"),
		TxHash: "0xlate", IsPaid: true, CreatedAt: nordpay.Time{Time: missingAt}}, time.Time{})

	rep := b.reconcile(t, jobs.ReconcileOptions{})
	if rep.Reconciled() {
		t.Fatal("a report with planted differences reconciles")
	}
	reconCheckStatuses(t, rep, map[string]exporters.CheckStatus{
		exporters.CheckMovements: exporters.CheckPassed, exporters.CheckCompleteness: exporters.CheckFailed,
		exporters.CheckBalance: exporters.CheckFailed, exporters.CheckPayouts: exporters.CheckNotApplicable,
		exporters.CheckQuarantine: exporters.CheckFailed,
	})

	t.Run("Completeness", func(t *testing.T) {
		c := rep.Check(exporters.CheckCompleteness)
		got := map[string]exporters.ReconciliationException{}
		for _, e := range c.Exceptions {
			got[e.Kind+" "+e.ID+" "+e.Field] = e
			if e.Kind == ledger.DiffUnexplained {
				t.Errorf("unexplained: %+v", e)
			}
		}
		for _, want := range []string{
			"missing late-1 ",
			"changed " + string(paid.ID) + " service_fee",
			"changed " + string(paid.ID) + " net",
			"booked unpaid " + string(unpaid.ID) + " ",
			"extra not-at-the-api ",
			"unbookable 990001 ",
		} {
			if _, ok := got[want]; !ok {
				t.Errorf("no exception %q among %v", want, reconKeys(got))
			}
		}
		if len(got) != 6 || c.Total != 6 {
			t.Errorf("%d exceptions (total %d), want 6: %v", len(got), c.Total, reconKeys(got))
		}
		m := got["missing late-1 "]
		if m.Label != hostileLabel || m.Currency != "USDTBEP20" || m.Source != ledger.SourceWallet || !m.At.Equal(missingAt) ||
			!m.API.Decimal.Equal(d("12.5")) || m.Ledger.Valid {
			t.Errorf("missing: %+v", m)
		}
		f := got["changed "+string(paid.ID)+" service_fee"]
		if !f.Ledger.Decimal.Equal(changed.ServiceFee) || !f.API.Decimal.Equal(paid.ServiceFee) ||
			!f.Difference().Decimal.Equal(d("0.01")) || !f.At.Equal(paid.CreatedAt.Time) {
			t.Errorf("changed fee: %+v", f)
		}
	})
	t.Run("Balance", func(t *testing.T) {
		c := rep.Check(exporters.CheckBalance)
		diffs := map[string]decimal.Decimal{}
		for _, e := range c.Exceptions {
			diffs[e.Currency] = e.Difference().Decimal
		}
		// USDTBEP20: the missing net; USDTTRC20: the extra entry's net, less the fee; the
		// unpaid one's currency: its net.
		wantBEP := d("-12.375")
		if !diffs["USDTBEP20"].Add(reconBookedNet(&booked, "USDTBEP20")).Equal(wantBEP) {
			t.Errorf("USDTBEP20 differs by %s (all: %v)", diffs["USDTBEP20"], diffs)
		}
		trc := extra.Net().Sub(d("0.01")).Add(reconBookedNet(&booked, "USDTTRC20"))
		if !diffs["USDTTRC20"].Equal(trc) {
			t.Errorf("USDTTRC20 differs by %s, want %s", diffs["USDTTRC20"], trc)
		}
	})
	t.Run("Quarantine", func(t *testing.T) {
		c := rep.Check(exporters.CheckQuarantine)
		if len(c.Exceptions) != 1 || c.Exceptions[0].Kind != ledger.ReasonUnknownCurrency || c.Exceptions[0].ID != "990001" ||
			!strings.Contains(c.Exceptions[0].Detail, "DOGECOIN") {
			t.Errorf("quarantine: %+v", c.Exceptions)
		}
	})
	t.Run("XLSX", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "recon.xlsx")
		if err := exporters.WriteReconciliation(path, exporters.ReconciliationXLSX, rep); err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := f.GetSheetList(); !slices.Equal(got, []string{"Summary", "Receipts", "Fees", "Payouts", "Exceptions"}) {
			t.Fatalf("sheets %v", got)
		}
		sheet := func(name string) [][]string {
			rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		reconCheckSummary(t, rep, sheet("Summary"))
		reconCheckExceptions(t, sheet("Exceptions"))
		receipts := sheet("Receipts")
		if len(receipts) < 2 || receipts[0][0] != "Date" {
			t.Fatalf("receipts sheet: %v", receipts[:min(2, len(receipts))])
		}
		day, err := excelize.ExcelDateToTime(reconFloat(t, receipts[1][0]), false)
		if err != nil || !day.Equal(rep.From) {
			t.Errorf("first day cell %q = %v (%v), want %v", receipts[1][0], day, err, rep.From)
		}
	})
	t.Run("CSV", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "recon")
		if err := exporters.WriteReconciliation(dir, exporters.ReconciliationCSV, rep); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"exceptions.csv", "fees.csv", "payouts.csv", "receipts.csv", "summary.csv"}) {
			t.Fatalf("files %v", names)
		}
		read := func(name string) [][]string {
			raw, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			r := csv.NewReader(strings.NewReader(string(raw)))
			r.FieldsPerRecord = -1
			rows, err := r.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		reconCheckSummary(t, rep, read("summary.csv"))
		reconCheckExceptions(t, read("exceptions.csv"))
	})
}

// reconBookedNet is the net of a planted entry if it is in currency.
func reconBookedNet(tx *nordpay.Transaction, currency string) decimal.Decimal {
	if tx.Currency.Name != currency {
		return decimal.Zero
	}
	return tx.Net()
}

func reconKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func reconFloat(t *testing.T, s string) float64 {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return d.InexactFloat64()
}

// reconCheckSummary finds the movements table of a Summary sheet read back (raw values) and
// compares every figure with the report, exactly.
func reconCheckSummary(t *testing.T, rep *exporters.Reconciliation, rows [][]string) {
	t.Helper()
	start := -1
	for i, r := range rows {
		if len(r) > 1 && r[0] == "Currency" && r[1] == "Opening" {
			start = i + 1
			break
		}
	}
	if start < 0 || !strings.Contains(rows[1][0], "NOT RECONCILED") {
		t.Fatalf("summary sheet: %v", rows[:min(6, len(rows))])
	}
	for i, c := range rep.Currencies {
		r := rows[start+i]
		if r[0] != c.Currency {
			t.Fatalf("row %d is %v, want %s", start+i, r, c.Currency)
		}
		for j, want := range []decimal.Decimal{c.Opening, c.InvoiceReceipts, decimal.NewFromInt(c.InvoiceCount), c.WalletReceipts,
			decimal.NewFromInt(c.WalletCount), c.NetworkFees, c.ServiceFees, c.Payouts, decimal.NewFromInt(c.PayoutCount),
			c.PayoutFees, c.OpeningBalances, c.Other, c.Closing, c.ExpectedClosing(), c.Difference()} {
			got, err := decimal.NewFromString(r[j+1])
			if err != nil || !got.Equal(want) {
				t.Errorf("%s column %d: %q, want %s", c.Currency, j+1, r[j+1], want)
			}
		}
	}
}

// reconCheckExceptions checks that user text came out inert.
func reconCheckExceptions(t *testing.T, rows [][]string) {
	t.Helper()
	found := false
	for _, r := range rows {
		for _, cell := range r {
			for _, bad := range []string{"=", "+", "@"} {
				if strings.HasPrefix(cell, bad) {
					t.Errorf("cell %q starts with %q", cell, bad)
				}
			}
			if cell == "'"+hostileLabel {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("the hostile label is not there, neutralised")
	}
}
