package payouts

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

func decs(ss ...string) []decimal.Decimal {
	out := make([]decimal.Decimal, len(ss))
	for i, s := range ss {
		out[i] = decimal.RequireFromString(s)
	}
	return out
}

func join(ds []decimal.Decimal) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, " ")
}

func TestShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		total   string
		weights []string
		want    string
	}{
		{"Even", "30", []string{"1", "1", "1"}, "10 10 10"},
		{"CentLeftOverGoesToTheFirst", "100", []string{"1", "1", "1"}, "33.34 33.33 33.33"},
		{"LargestRemainder", "1", []string{"1", "1", "1", "1", "1", "1", "1"}, "0.15 0.15 0.14 0.14 0.14 0.14 0.14"},
		{"Proportional", "61.25", []string{"0.04", "0.06"}, "24.5 36.75"},
		{"FinerThanCents", "612.5123456", []string{"1", "2"}, "204.1707819 408.3415637"},
		{"OneRow", "12.34", []string{"7"}, "12.34"},
		{"ZeroWeightGetsNothing", "10", []string{"0", "3", "1"}, "0 7.5 2.5"},
		{"TinyTotal", "0.01", []string{"1", "1"}, "0.01 0"},
		{"HugeWeights", "1000", []string{"123456789012345678901234567890", "1"}, "1000 0"},
		{"AmountsLikeASandboxChunk", "33", []string{"10", "11", "12"}, "10 11 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			total := decimal.RequireFromString(tc.total)
			got := share(total, decs(tc.weights...))
			if join(got) != tc.want {
				t.Fatalf("share(%s, %v) = %s, want %s", tc.total, tc.weights, join(got), tc.want)
			}
			sum := decimal.Zero
			for _, v := range got {
				sum = sum.Add(v)
			}
			if !sum.Equal(total) {
				t.Fatalf("parts add up to %s, not %s", sum, total)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		total   string
		weights []string
	}{
		{"NoWeights", "10", nil},
		{"ZeroWeights", "10", []string{"0", "0"}},
		{"NegativeWeight", "10", []string{"5", "-1"}},
		{"ZeroTotal", "0", []string{"1"}},
		{"NegativeTotal", "-5", []string{"1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := share(decimal.RequireFromString(tc.total), decs(tc.weights...)); got != nil {
				t.Fatalf("share = %s, want nil", join(got))
			}
		})
	}
}

func TestQuoteUSD(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	row := func(amount, fee, feeUSD string) nordpay.QuotedPayee {
		return nordpay.QuotedPayee{Address: "0x" + amount, Amount: d(amount), ServiceFee: d(fee), ServiceFeeUSD: d(feeUSD)}
	}
	show := func(vs []decimal.NullDecimal) string {
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = "null"
			if v.Valid {
				parts[i] = v.Decimal.String()
			}
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name              string
		quote             nordpay.MultiWithdrawQuote
		amounts, feesWant string
	}{
		{"TotalSharedByAmount", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{row("0.04", "0.0007", "0.43"), row("0.06", "0.0008", "0.49")},
			Amount:              d("0.1"), AmountUSD: d("61.25"), ServiceFee: d("0.0015"), ServiceFeeUSD: d("0.92"),
		}, "24.5 36.75", "0.43 0.49"},
		{"RowsOwnAmountUSD", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{
				{Amount: d("10"), ServiceFee: d("1"), ServiceFeeUSD: d("1"), AmountUSD: decimal.NewNullDecimal(d("9.99"))},
				{Amount: d("20"), ServiceFee: d("1"), ServiceFeeUSD: d("1"), AmountUSD: decimal.NewNullDecimal(d("20.01"))},
			},
			Amount: d("30"), AmountUSD: d("30"), ServiceFee: d("2"), ServiceFeeUSD: d("2"),
		}, "9.99 20.01", "1 1"},
		{"SomeRowsWithoutOwnAmountUSD", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{
				{Amount: d("10"), ServiceFee: d("1"), ServiceFeeUSD: d("1"), AmountUSD: decimal.NewNullDecimal(d("9.99"))},
				{Amount: d("20"), ServiceFee: d("1"), ServiceFeeUSD: d("1")},
			},
			Amount: d("30"), AmountUSD: d("30"), ServiceFee: d("2"), ServiceFeeUSD: d("2"),
		}, "10 20", "1 1"},
		{"NoAmountUSD", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{row("10", "1", "1"), row("20", "1", "1")},
			Amount:              d("30"), ServiceFee: d("2"), ServiceFeeUSD: d("2"),
		}, "null null", "1 1"},
		{"RowFeesUSDAbsentTotalShared", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{row("10", "1", "0"), row("20", "2", "0"), row("30", "0", "0")},
			Amount:              d("60"), AmountUSD: d("59.99"), ServiceFee: d("3"), ServiceFeeUSD: d("2.99"),
		}, "10 20 29.99", "1 1.99 0"},
		{"NoFeeAtAll", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{row("10", "0", "0")},
			Amount:              d("10"), AmountUSD: d("10"),
		}, "10", "0"},
		{"NegativeFeeUSDIsUnknown", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{row("10", "1", "-1")},
			Amount:              d("10"), AmountUSD: d("10"), ServiceFee: d("1"),
		}, "10", "null"},
		{"NegativeAmountUSDIsUnknown", nordpay.MultiWithdrawQuote{
			AddressesAndAmounts: []nordpay.QuotedPayee{row("10", "1", "1")},
			Amount:              d("10"), AmountUSD: d("-10"), ServiceFee: d("1"), ServiceFeeUSD: d("1"),
		}, "null", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			amounts, fees := quoteUSD(&tc.quote)
			if got := show(amounts); got != tc.amounts {
				t.Errorf("amounts %s, want %s", got, tc.amounts)
			}
			if got := show(fees); got != tc.feesWant {
				t.Errorf("fees %s, want %s", got, tc.feesWant)
			}
		})
	}
}
