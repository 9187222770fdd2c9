package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
)

var (
	sumFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	sumTo   = sumFrom.AddDate(0, 1, 0)
)

// sumTx is a paid transaction of source in currency with the given amounts.
func sumTx(id, source, currency string, at time.Time, gross, network, service string) *nordpay.Transaction {
	g, n, s := dec(gross), dec(network), dec(service)
	return &nordpay.Transaction{
		ID: nordpay.ID(id), SourceType: source,
		Source:   nordpay.Source{ID: nordpay.ID("src-" + id), Label: "order " + id},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: currency}},
		Amount:   g, AmountUSD: g, NetworkFee: n, NetworkFeeUSD: n, ServiceFee: s, ServiceFeeUSD: s,
		TxHash: "0x" + id, IsPaid: true, CreatedAt: nordpay.Time{Time: at},
	}
}

func sumEntry(id, source, currency string, at time.Time, gross, network, service string) ledger.Entry {
	return ledger.DefaultChart().TransactionEntry(sumTx(id, source, currency, at, gross, network, service), source)
}

func (b bundle) sumPost(t *testing.T, es ...ledger.Entry) {
	t.Helper()
	for _, e := range es {
		if _, _, err := b.store.Post(b.ctx, e); err != nil {
			t.Fatalf("post %s/%s: %v", e.Source, e.ExternalID, err)
		}
	}
}

func TestRoleOf(t *testing.T) {
	t.Parallel()
	c := ledger.DefaultChart()
	for account, want := range map[string]ledger.Role{
		"assets:nordpay:BTC":             ledger.RoleAssets,
		"income:invoices:BTC":            ledger.RoleInvoiceIncome,
		"income:wallets:BTC":             ledger.RoleWalletIncome,
		"expenses:fees:network:BTC":      ledger.RoleNetworkFees,
		"expenses:fees:service:BTC":      ledger.RoleServiceFees,
		"payouts:BTC":                    ledger.RolePayouts,
		"expenses:fees:withdraw:BTC":     ledger.RoleWithdrawFees,
		"equity:opening:BTC":             ledger.RoleOpeningBalances,
		"equity:opening-balances:BTC":    ledger.RoleOther,
		"assets:nordpay:ETHERC20":        ledger.RoleOther, // another currency's account
		"expenses:fees:service:BTC:more": ledger.RoleOther,
	} {
		if got := c.RoleOf(account, "BTC"); got != want {
			t.Errorf("RoleOf(%q) = %q, want %q", account, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	b := setup(t)
	chart := ledger.DefaultChart()
	const cur = "USDTBEP20"
	day2 := sumFrom.AddDate(0, 0, 1)
	b.sumPost(t,
		// Before the month: the opening balance.
		sumEntry("sep", ledger.SourceInvoice, cur, sumFrom.Add(-time.Hour), "100", "1", "2"), // net 97
		// The month.
		sumEntry("i1", ledger.SourceInvoice, cur, sumFrom, "10.5", "0.5", "0.105"),         // net 9.895
		sumEntry("i2", ledger.SourceInvoice, cur, day2.Add(3*time.Hour), "20", "0", "0.2"), // net 19.8
		sumEntry("w1", ledger.SourceWallet, cur, day2.Add(5*time.Hour), "0.000000000000000001", "0", "0"),
		sumEntry("b1", ledger.SourceInvoice, "BTC", day2, "0.5", "0.0001", "0.005"), // another currency
		chart.WithdrawalEntry(ledger.Withdrawal{ExternalID: "batch/1", Currency: cur, Address: "0xabc", Reference: "r1",
			Amount: dec("30"), ServiceFee: dec("1.5"), At: day2.Add(6 * time.Hour)}),
		// A correction against an account outside the chart.
		ledger.Entry{Source: ledger.SourceManual, ExternalID: "fix-1", OccurredAt: day2.Add(7 * time.Hour), Postings: []ledger.Posting{
			{Account: chart.AssetsAccount(cur), Type: ledger.Asset, Currency: cur, Amount: dec("4")},
			{Account: "equity:corrections:" + cur, Type: ledger.Equity, Currency: cur, Amount: dec("-4")},
		}},
		// An opening balance booked inside the month: a movement of its own.
		chart.OpeningEntry(ledger.Opening{Currency: cur, Amount: dec("50"), At: day2.Add(8 * time.Hour), By: "alice"}),
		// At the month's end (excluded) and after it: only the current balance.
		sumEntry("nov", ledger.SourceInvoice, cur, sumTo, "1000", "0", "0"),
	)
	s, err := b.store.Summarize(b.ctx, sumFrom, sumTo)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Currencies) != 2 || s.Currencies[0].Currency != "BTC" || s.Currencies[1].Currency != cur {
		t.Fatalf("currencies %+v", s.Currencies)
	}
	u := s.Currencies[1]
	for _, c := range []struct {
		name      string
		got, want decimal.Decimal
	}{
		{"opening", u.Opening, dec("97")},
		{"invoice receipts", u.InvoiceReceipts.Amount, dec("30.5")},
		{"wallet receipts", u.WalletReceipts.Amount, dec("0.000000000000000001")},
		{"network fees", u.NetworkFees.Amount, dec("0.5")},
		{"service fees", u.ServiceFees.Amount, dec("0.305")},
		{"payouts", u.Payouts.Amount, dec("28.5")},
		{"payout fees", u.PayoutFees.Amount, dec("1.5")},
		{"other", u.Other.Amount, dec("-4")},
		{"opening balances", u.OpeningBalances.Amount, dec("50")},
		{"assets", u.Assets.Amount, dec("9.895").Add(dec("19.8")).Add(dec("0.000000000000000001")).Sub(dec("30")).Add(dec("4")).Add(dec("50"))},
		{"closing", u.Closing, dec("97").Add(dec("9.895")).Add(dec("19.8")).Add(dec("0.000000000000000001")).Sub(dec("30")).Add(dec("4")).Add(dec("50"))},
		{"current", u.Current, u.Closing.Add(dec("1000"))},
		// The opening balance is in the identity; only the correction outside the chart is not.
		{"difference", u.Difference(), dec("4")},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
	if u.InvoiceReceipts.Count != 2 || u.WalletReceipts.Count != 1 || u.Payouts.Count != 1 {
		t.Errorf("counts: invoice %d, wallet %d, payouts %d", u.InvoiceReceipts.Count, u.WalletReceipts.Count, u.Payouts.Count)
	}
	if !u.InvoiceReceipts.AmountUSD.Equal(dec("30.5")) {
		t.Errorf("invoice receipts USD %s", u.InvoiceReceipts.AmountUSD)
	}
	// The withdrawal has no USD values: its movements say so rather than sum to zero.
	if usd := u.InvoiceReceipts.USD(); !usd.Valid || !usd.Decimal.Equal(dec("30.5")) {
		t.Errorf("invoice receipts USD() %+v", usd)
	}
	if u.Payouts.USD().Valid || u.PayoutFees.USD().Valid || u.Payouts.USDMissing != 1 || u.InvoiceReceipts.USDMissing != 0 {
		t.Errorf("payouts USD %+v (%d missing), payout fees USD %+v", u.Payouts.USD(), u.Payouts.USDMissing, u.PayoutFees.USD())
	}

	t.Run("AgreesWithBalances", func(t *testing.T) {
		for at, want := range map[time.Time]decimal.Decimal{sumFrom: u.Opening, sumTo: u.Closing, {}: u.Current} {
			bs, err := b.store.Balances(b.ctx, at)
			if err != nil {
				t.Fatal(err)
			}
			for _, bal := range bs {
				if bal.Account == chart.AssetsAccount(cur) && !bal.Balance.Equal(want) {
					t.Errorf("balance at %v: %s, summary %s", at, bal.Balance, want)
				}
			}
		}
	})
	t.Run("Days", func(t *testing.T) {
		var days []string
		for _, d := range s.Days {
			days = append(days, fmt.Sprintf("%s %s %d/%s %d/%s", d.Day.Format("01-02"), d.Currency,
				d.InvoiceReceipts.Count, d.InvoiceReceipts.Amount, d.WalletReceipts.Count, d.WalletReceipts.Amount))
		}
		want := []string{"10-01 USDTBEP20 1/10.5 0/0", "10-02 BTC 1/0.5 0/0", "10-02 USDTBEP20 1/20 1/0.000000000000000001"}
		if fmt.Sprint(days) != fmt.Sprint(want) {
			t.Errorf("days %v, want %v", days, want)
		}
	})
	t.Run("BadPeriod", func(t *testing.T) {
		if _, err := b.store.Summarize(b.ctx, sumTo, sumFrom); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("reversed period: %v", err)
		}
	})
}

// compareBundle books n transactions over three days of October at random microseconds
// (and some at nanoseconds, which the ledger rounds), and returns them.
func compareBundle(t *testing.T, n int) (bundle, []*nordpay.Transaction) {
	t.Helper()
	b := setup(t)
	r := rand.New(rand.NewPCG(1, 2))
	var txs []*nordpay.Transaction
	for i := range n {
		at := sumFrom.AddDate(0, 0, 2+i%3).Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
		if i%5 != 0 {
			at = at.Truncate(time.Microsecond)
		}
		source := ledger.SourceInvoice
		if i%3 == 0 {
			source = ledger.SourceWallet
		}
		cur := []string{"USDTBEP20", "BTC"}[i%2]
		gross := decimal.New(r.Int64N(1_000_000_000)+1, -int32(r.IntN(12)))
		tx := sumTx(fmt.Sprintf("t%04d", i), source, cur, at, gross.String(), "0", gross.Mul(dec("0.01")).String())
		if i%4 == 0 {
			tx.NetworkFee = gross.Mul(dec("0.001"))
		}
		txs = append(txs, tx)
	}
	batch, err := b.store.BeginBatch(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Rollback() //nolint:errcheck // a no-op after Commit
	for _, tx := range txs {
		e := ledger.DefaultChart().TransactionEntry(tx, tx.SourceType)
		if err := batch.Add(b.ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := batch.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	return b, txs
}

// compare runs a comparison of October with the facts add gives.
func (b bundle) sumCompare(t *testing.T, add func(c *ledger.Comparison)) *ledger.ComparisonResult {
	t.Helper()
	c, err := b.store.BeginComparison(b.ctx, sumFrom, sumTo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Rollback() //nolint:errcheck // a no-op after Compare
	add(c)
	res, err := c.Compare(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sumAddTx(t *testing.T, ctx context.Context, c *ledger.Comparison, tx *nordpay.Transaction) {
	t.Helper()
	e := ledger.DefaultChart().TransactionEntry(tx, tx.SourceType)
	if err := c.AddEntry(ctx, &e); err != nil {
		t.Fatal(err)
	}
}

func TestComparisonOfAnEqualMonthComparesNoDay(t *testing.T) {
	t.Parallel()
	b, txs := compareBundle(t, 3000)
	res := b.sumCompare(t, func(c *ledger.Comparison) {
		for _, tx := range txs {
			sumAddTx(t, b.ctx, c, tx)
		}
		// Unpaid, and outside the period: counted, not compared.
		unpaid := sumTx("unpaid-1", ledger.SourceInvoice, "BTC", sumFrom.Add(time.Hour), "5", "0", "0")
		if err := c.Add(b.ctx, ledger.Fact{Source: ledger.SourceInvoice, ExternalID: string(unpaid.ID), At: unpaid.CreatedAt.Time,
			State: ledger.FactUnpaid, Currency: "BTC", Gross: unpaid.Amount}); err != nil {
			t.Fatal(err)
		}
		sumAddTx(t, b.ctx, c, sumTx("margin", ledger.SourceInvoice, "BTC", sumFrom.Add(-time.Minute), "7", "0", "0"))
	})
	// The weights of the first level are computed by Go for the facts and by SQL for the
	// ledger: a single time on which they disagree would make its day differ.
	if res.DaysCompared != 0 || res.Total != 0 {
		t.Fatalf("an equal month: %d day(s) compared, %d differences: %+v", res.DaysCompared, res.Total, res.Differences)
	}
	var paid, unpaid int64
	for _, f := range res.Facts {
		switch f.State {
		case ledger.FactBookable:
			paid += f.Count
		case ledger.FactUnpaid:
			unpaid += f.Count
		}
	}
	if paid != int64(len(txs)) || unpaid != 1 {
		t.Errorf("fact totals: %d paid, %d unpaid; want %d and 1", paid, unpaid, len(txs))
	}
}

func TestComparisonFindsDifferences(t *testing.T) {
	t.Parallel()
	b, txs := compareBundle(t, 600)
	// Two transactions of the same day and currency whose amounts a bug swapped: the day's
	// counts and sums are the same, only the weighted sums differ.
	var swapA, swapB *nordpay.Transaction
	for _, x := range txs {
		for _, y := range txs {
			if x != y && swapA == nil && x.SourceType == y.SourceType && x.Currency.Name == y.Currency.Name &&
				x.CreatedAt.Truncate(24*time.Hour).Equal(y.CreatedAt.Truncate(24*time.Hour)) && !x.Amount.Equal(y.Amount) &&
				x.NetworkFee.IsZero() && y.NetworkFee.IsZero() && x.CreatedAt.Day() == 3 {
				swapA, swapB = x, y
			}
		}
	}
	if swapA == nil {
		t.Fatal("no pair to swap")
	}
	var (
		extra   = txs[1]
		moved   = txs[2]
		refee   = txs[4]
		unpaid  = txs[7]
		missing = sumTx("missing-1", ledger.SourceWallet, "BTC", sumFrom.AddDate(0, 0, 20), "3.25", "0", "0.01")
	)
	skip := map[*nordpay.Transaction]bool{extra: true, moved: true, refee: true, unpaid: true, swapA: true, swapB: true}
	for _, x := range []*nordpay.Transaction{extra, moved, refee, unpaid} {
		if x == swapA || x == swapB {
			t.Fatal("the test picked one transaction twice")
		}
	}
	// A manual entry on the receipts accounts, which the source cannot explain.
	b.sumPost(t, ledger.Entry{Source: ledger.SourceManual, ExternalID: "fix-1", OccurredAt: sumFrom.AddDate(0, 0, 25), Postings: []ledger.Posting{
		{Account: "expenses:fees:service:BTC", Type: ledger.Expense, Currency: "BTC", Amount: dec("0.5")},
		{Account: "assets:nordpay:BTC", Type: ledger.Asset, Currency: "BTC", Amount: dec("-0.5")},
	}})

	res := b.sumCompare(t, func(c *ledger.Comparison) {
		for _, tx := range txs {
			if !skip[tx] {
				sumAddTx(t, b.ctx, c, tx)
			}
		}
		a, bb := *swapA, *swapB
		a.Amount, a.AmountUSD, a.ServiceFee, a.ServiceFeeUSD = swapB.Amount, swapB.AmountUSD, swapB.ServiceFee, swapB.ServiceFeeUSD
		bb.Amount, bb.AmountUSD, bb.ServiceFee, bb.ServiceFeeUSD = swapA.Amount, swapA.AmountUSD, swapA.ServiceFee, swapA.ServiceFeeUSD
		sumAddTx(t, b.ctx, c, &a)
		sumAddTx(t, b.ctx, c, &bb)
		m := *moved
		m.CreatedAt = nordpay.Time{Time: moved.CreatedAt.Add(-time.Hour)}
		if m.CreatedAt.Before(sumFrom.AddDate(0, 0, 2)) {
			m.CreatedAt = nordpay.Time{Time: moved.CreatedAt.Add(time.Hour)}
		}
		sumAddTx(t, b.ctx, c, &m)
		r := *refee
		r.ServiceFee = refee.ServiceFee.Add(dec("0.01"))
		sumAddTx(t, b.ctx, c, &r)
		if err := c.Add(b.ctx, ledger.Fact{Source: unpaid.SourceType, ExternalID: string(unpaid.ID), At: unpaid.CreatedAt.Time,
			State: ledger.FactUnpaid, Currency: unpaid.Currency.Name, Gross: unpaid.Amount}); err != nil {
			t.Fatal(err)
		}
		sumAddTx(t, b.ctx, c, missing)
		if err := c.Add(b.ctx, ledger.Fact{Source: ledger.SourceInvoice, ExternalID: "bad-1", State: ledger.FactUnbookable,
			Reason: ledger.ReasonUnknownCurrency, Currency: "DOGE", Label: "=HYPERLINK(\"http://x\",\"y\")"}); err != nil {
			t.Fatal(err)
		}
	})

	got := map[string]bool{}
	for _, d := range res.Differences {
		got[d.Kind+" "+d.ExternalID+" "+d.Field] = true
		if d.Kind == ledger.DiffUnexplained {
			t.Errorf("unexplained: %+v", d)
		}
	}
	for _, want := range []string{
		"extra " + string(extra.ID) + " ",
		"missing missing-1 ",
		"changed " + string(moved.ID) + " time",
		"changed " + string(refee.ID) + " service_fee",
		"changed " + string(refee.ID) + " net",
		"booked unpaid " + string(unpaid.ID) + " ",
		"changed " + string(swapA.ID) + " gross",
		"changed " + string(swapB.ID) + " gross",
		"changed " + string(swapA.ID) + " service_fee",
		"unbookable bad-1 ",
		"other entry fix-1 ",
	} {
		if !got[want] {
			t.Errorf("no difference %q among %v", want, got)
		}
	}
	if len(got) != 14 { // the above, and the swapped pair's other service fee and both nets
		t.Errorf("%d differences, want 14: %v", len(got), got)
	}
	if res.Total != len(res.Differences) {
		t.Errorf("total %d, listed %d", res.Total, len(res.Differences))
	}
	for _, d := range res.Differences {
		if d.ExternalID == string(refee.ID) && d.Field == ledger.FieldServiceFee {
			if !d.Ledger.Decimal.Equal(refee.ServiceFee) || !d.Theirs.Decimal.Equal(refee.ServiceFee.Add(dec("0.01"))) || d.EntryID == 0 {
				t.Errorf("changed fee: %+v", d)
			}
		}
	}
}

func TestComparisonRejectsMalformedFacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.store.BeginComparison(b.ctx, sumFrom, sumTo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Rollback() //nolint:errcheck // checked below
	if err := c.Add(b.ctx, ledger.Fact{Source: ledger.SourceInvoice, ExternalID: "x", State: ledger.FactBookable, Currency: "BTC"}); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("bookable fact without a time: %v", err)
	}
	if err := c.Add(b.ctx, ledger.Fact{Source: ledger.SourceInvoice, ExternalID: "x", State: "maybe"}); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("fact of an unknown state: %v", err)
	}
	w := ledger.DefaultChart().WithdrawalEntry(ledger.Withdrawal{ExternalID: "b/1", Currency: "BTC", Amount: dec("1"), At: sumFrom})
	if err := c.AddEntry(b.ctx, &w); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("a withdrawal as a transaction fact: %v", err)
	}
	if err := c.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compare(b.ctx); err == nil {
		t.Error("compare after rollback succeeded")
	}
	if _, err := b.store.BeginComparison(b.ctx, sumTo, sumFrom); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("reversed period: %v", err)
	}
}
