package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func paidTx() *nordpay.Transaction {
	tx := &nordpay.Transaction{
		ID: "77", SourceType: nordpay.SourceInvoice, Amount: d("100.000000000000000001"), AmountUSD: d("100"),
		NetworkFee: d("0.5"), NetworkFeeUSD: d("0.5"), ServiceFee: d("1.000000000000000001"), ServiceFeeUSD: d("1"),
		TxHash: "0xabc", IsPaid: true, CreatedAt: nordpay.Time{Time: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)},
	}
	tx.Currency.Name = "USDTBEP20"
	tx.Source.ID = "12"
	tx.Source.Label = "Order #12\n=SUM(A1)"
	tx.Source.Address = "0x5290"
	return tx
}

func TestTransactionEntry(t *testing.T) {
	t.Parallel()
	chart := ledger.DefaultChart()
	t.Run("InvoiceBooksNetFeesAndGross", func(t *testing.T) {
		e := chart.TransactionEntry(paidTx(), ledger.SourceInvoice)
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"assets:nordpay:USDTBEP20":        "98.5",
			"expenses:fees:network:USDTBEP20": "0.5",
			"expenses:fees:service:USDTBEP20": "1.000000000000000001",
			"income:invoices:USDTBEP20":       "-100.000000000000000001",
		}
		if len(e.Postings) != len(want) {
			t.Fatalf("postings %+v", e.Postings)
		}
		for _, p := range e.Postings {
			if w, ok := want[p.Account]; !ok || !p.Amount.Equal(d(w)) || p.Currency != "USDTBEP20" || !p.AmountUSD.Valid {
				t.Errorf("posting %s %s (usd %v), want %s", p.Account, p.Amount, p.AmountUSD, w)
			}
		}
		if e.Source != "invoice" || e.ExternalID != "77" || e.SourceRef != "12" || e.TxHash != "0xabc" || !strings.Contains(e.Description, "Order #12 =SUM(A1)") {
			t.Fatalf("entry %+v", e)
		}
	})
	t.Run("WalletIncomeAndZeroFeesLeftOut", func(t *testing.T) {
		tx := paidTx()
		tx.SourceType = nordpay.SourceWallet
		tx.NetworkFee, tx.NetworkFeeUSD = decimal.Zero, decimal.Zero
		e := chart.TransactionEntry(tx, ledger.SourceWallet)
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		if len(e.Postings) != 3 || e.Postings[len(e.Postings)-1].Account != "income:wallets:USDTBEP20" {
			t.Fatalf("postings %+v", e.Postings)
		}
	})
	t.Run("RenamedAccounts", func(t *testing.T) {
		c := chart
		c.Assets = "Assets:Crypto:{CUR}"
		e := c.TransactionEntry(paidTx(), ledger.SourceInvoice)
		if e.Postings[0].Account != "Assets:Crypto:USDTBEP20" {
			t.Fatalf("postings %+v", e.Postings)
		}
	})
}

func TestCheckTransaction(t *testing.T) {
	t.Parallel()
	known := func(c string) bool { return c == "USDTBEP20" }
	for _, tc := range []struct {
		name   string
		mod    func(*nordpay.Transaction)
		reason string
	}{
		{"Valid", func(*nordpay.Transaction) {}, ""},
		{"UnpaidZeroIsFine", func(tx *nordpay.Transaction) {
			tx.IsPaid = false
			tx.Amount, tx.NetworkFee, tx.ServiceFee = decimal.Zero, decimal.Zero, decimal.Zero
		}, ""},
		{"NoID", func(tx *nordpay.Transaction) { tx.ID = "" }, ledger.ReasonNoID},
		{"NoTime", func(tx *nordpay.Transaction) { tx.CreatedAt = nordpay.Time{} }, ledger.ReasonNoTime},
		{"UnknownCurrency", func(tx *nordpay.Transaction) { tx.Currency.Name = "DOGE" }, ledger.ReasonUnknownCurrency},
		{"NoCurrency", func(tx *nordpay.Transaction) { tx.Currency.Name = "" }, ledger.ReasonUnknownCurrency},
		{"NegativeAmount", func(tx *nordpay.Transaction) { tx.Amount = d("-1") }, ledger.ReasonNegative},
		{"NegativeFee", func(tx *nordpay.Transaction) { tx.ServiceFee = d("-0.1") }, ledger.ReasonNegative},
		{"FeesAboveAmount", func(tx *nordpay.Transaction) { tx.NetworkFee = d("99.5") }, ledger.ReasonFeesAboveAmount},
		{"PaidZero", func(tx *nordpay.Transaction) {
			tx.Amount, tx.NetworkFee, tx.ServiceFee = decimal.Zero, decimal.Zero, decimal.Zero
		}, ledger.ReasonZeroAmount},
		{"WrongEndpoint", func(tx *nordpay.Transaction) { tx.SourceType = nordpay.SourceWallet }, ledger.ReasonWrongSource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := paidTx()
			tc.mod(tx)
			p := ledger.CheckTransaction(tx, ledger.SourceInvoice, known)
			switch {
			case tc.reason == "" && p != nil:
				t.Fatalf("rejected: %v", p)
			case tc.reason != "" && (p == nil || p.Reason != tc.reason):
				t.Fatalf("got %v, want %q", p, tc.reason)
			}
		})
	}
}

func TestWithdrawalEntry(t *testing.T) {
	t.Parallel()
	w := ledger.Withdrawal{ExternalID: "batch-1/ref-9", Currency: "USDTTRC20", Address: "TAMCL27", Reference: "ref-9",
		Amount: d("25.5"), ServiceFee: d("1"), AmountUSD: decimal.NewNullDecimal(d("25.5")), ServiceFeeUSD: decimal.NewNullDecimal(d("1")),
		Identifier: "uuid-1", At: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	e := ledger.DefaultChart().WithdrawalEntry(w)
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range e.Postings {
		got[p.Account] = p.Amount.String()
	}
	if got["payouts:USDTTRC20"] != "24.5" || got["expenses:fees:withdraw:USDTTRC20"] != "1" || got["assets:nordpay:USDTTRC20"] != "-25.5" {
		t.Fatalf("postings %v", got)
	}
	w.AmountUSD = decimal.NullDecimal{}
	e = ledger.DefaultChart().WithdrawalEntry(w)
	if err := e.Validate(); err != nil || e.Postings[0].AmountUSD.Valid {
		t.Fatalf("without USD values: %v %+v", err, e.Postings)
	}
}

func TestEntryValidate(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	p := func(acct, cur, amt string) ledger.Posting {
		return ledger.Posting{Account: acct, Currency: cur, Amount: d(amt)}
	}
	for _, tc := range []struct {
		name string
		e    ledger.Entry
		want error
	}{
		{"Balanced", ledger.Entry{Source: "manual", ExternalID: "1", OccurredAt: at, Postings: []ledger.Posting{p("a", "BTC", "1"), p("b", "BTC", "-1")}}, nil},
		{"Unbalanced", ledger.Entry{Source: "manual", ExternalID: "1", OccurredAt: at, Postings: []ledger.Posting{p("a", "BTC", "1"), p("b", "BTC", "-0.99999999")}}, ledger.ErrUnbalanced},
		{"BalancedInSumNotPerCurrency", ledger.Entry{Source: "manual", ExternalID: "1", OccurredAt: at, Postings: []ledger.Posting{p("a", "BTC", "1"), p("b", "ETH", "-1")}}, ledger.ErrUnbalanced},
		{"OnePosting", ledger.Entry{Source: "manual", ExternalID: "1", OccurredAt: at, Postings: []ledger.Posting{p("a", "BTC", "0")}}, ledger.ErrInvalid},
		{"NoID", ledger.Entry{Source: "manual", OccurredAt: at, Postings: []ledger.Posting{p("a", "BTC", "1"), p("b", "BTC", "-1")}}, ledger.ErrInvalid},
		{"NoTime", ledger.Entry{Source: "manual", ExternalID: "1", Postings: []ledger.Posting{p("a", "BTC", "1"), p("b", "BTC", "-1")}}, ledger.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.e.Validate()
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestChartValidate(t *testing.T) {
	t.Parallel()
	if err := ledger.DefaultChart().Validate(); err != nil {
		t.Fatal(err)
	}
	c := ledger.DefaultChart()
	c.Payouts = "payouts"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "{CUR}") {
		t.Fatalf("template without {CUR}: %v", err)
	}
	c = ledger.DefaultChart()
	c.WalletIncome = c.InvoiceIncome
	if err := c.Validate(); err == nil {
		t.Fatal("two roles on one account accepted")
	}
}
