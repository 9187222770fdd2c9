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

func TestWithdrawalEntryUSD(t *testing.T) {
	t.Parallel()
	usd := func(s string) decimal.NullDecimal { return decimal.NewNullDecimal(d(s)) }
	base := ledger.Withdrawal{ExternalID: "batch-1/ref-9", Currency: "BNBBEP20", Address: "0xabc", Reference: "ref-9",
		Amount: d("0.04"), ServiceFee: d("0.0007"), AmountUSD: usd("24.5"), ServiceFeeUSD: usd("0.43"),
		Identifier: "uuid-1", At: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		mod  func(*ledger.Withdrawal)
		// want maps each account to "amount usd" ("null" for no USD value).
		want map[string]string
	}{
		{"EachPostingCarriesItsUSDValue", func(*ledger.Withdrawal) {}, map[string]string{
			"payouts:BNBBEP20":                "0.0393 24.07",
			"expenses:fees:withdraw:BNBBEP20": "0.0007 0.43",
			"assets:nordpay:BNBBEP20":         "-0.04 -24.5",
		}},
		{"NoAmountUSDMeansNone", func(w *ledger.Withdrawal) { w.AmountUSD = decimal.NullDecimal{} }, map[string]string{
			"payouts:BNBBEP20":                "0.0393 null",
			"expenses:fees:withdraw:BNBBEP20": "0.0007 null",
			"assets:nordpay:BNBBEP20":         "-0.04 null",
		}},
		{"NoFeeUSDMeansNone", func(w *ledger.Withdrawal) { w.ServiceFeeUSD = decimal.NullDecimal{} }, map[string]string{
			"payouts:BNBBEP20":                "0.0393 null",
			"expenses:fees:withdraw:BNBBEP20": "0.0007 null",
			"assets:nordpay:BNBBEP20":         "-0.04 null",
		}},
		{"NoFeeNoFeePosting", func(w *ledger.Withdrawal) { w.ServiceFee, w.ServiceFeeUSD = decimal.Zero, usd("0") }, map[string]string{
			"payouts:BNBBEP20":        "0.04 24.5",
			"assets:nordpay:BNBBEP20": "-0.04 -24.5",
		}},
		// A fee too small to show in its currency but quoted in USD keeps the USD values
		// balanced, on a zero posting.
		{"FeeZeroButItsUSDNot", func(w *ledger.Withdrawal) { w.ServiceFee = decimal.Zero }, map[string]string{
			"payouts:BNBBEP20":                "0.04 24.07",
			"expenses:fees:withdraw:BNBBEP20": "0 0.43",
			"assets:nordpay:BNBBEP20":         "-0.04 -24.5",
		}},
		{"FeeZeroUSDUnknown", func(w *ledger.Withdrawal) { w.ServiceFee, w.AmountUSD = decimal.Zero, decimal.NullDecimal{} }, map[string]string{
			"payouts:BNBBEP20":        "0.04 null",
			"assets:nordpay:BNBBEP20": "-0.04 null",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := base
			tc.mod(&w)
			e := ledger.DefaultChart().WithdrawalEntry(w)
			if err := e.Validate(); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range e.Postings {
				u := "null"
				if p.AmountUSD.Valid {
					u = p.AmountUSD.Decimal.String()
				}
				got[p.Account] = p.Amount.String() + " " + u
			}
			if len(got) != len(tc.want) {
				t.Fatalf("postings %v, want %v", got, tc.want)
			}
			for acct, want := range tc.want {
				if got[acct] != want {
					t.Errorf("%s: %q, want %q", acct, got[acct], want)
				}
			}
		})
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
