package payouts_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/payouts"
)

func TestValidateFixture(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/good/libreoffice.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	sh := readBytes(t, "libreoffice.xlsx", data, payouts.ReadOptions{})
	errs, totals, err := payouts.Validate(context.Background(), sh, corpusEnv())
	if err != nil || len(errs) > 0 {
		t.Fatalf("Validate: %v, %+v", err, errs)
	}
	want := []payouts.Total{
		{Currency: "BTC", Rows: 1, Amount: dec("0.0015"), ExpectedFee: dec("0.0001075")},            // 0.0001 + 0.5%
		{Currency: "USDTBEP20", Rows: 1, Amount: dec("12.000001"), ExpectedFee: dec("0.560000005")}, // 0.5 + 0.5%
		{Currency: "USDTTRC20", Rows: 2, Amount: dec("45.75"), ExpectedFee: dec("2.22875")},         // 2 x 1 + 0.5%
	}
	if len(totals) != len(want) {
		t.Fatalf("totals %+v", totals)
	}
	for i, w := range want {
		g := totals[i]
		if g.Currency != w.Currency || g.Rows != w.Rows || !g.Amount.Equal(w.Amount) || !g.ExpectedFee.Equal(w.ExpectedFee) {
			t.Errorf("total %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("AllErrorsOfAReadErrorRowToo", func(t *testing.T) {
		t.Parallel()
		// Row 2's amount does not read; its address and reference are still checked.
		sh := readString(t, "a.csv", corpusHeader+"\nUSDTBEP20,"+tronA+",1e3,R1,,\nUSDTTRC20,"+tronB+",20,R1,,\n", payouts.ReadOptions{})
		errs, totals, err := payouts.Validate(ctx, sh, corpusEnv())
		if err != nil {
			t.Fatal(err)
		}
		hasError(t, errs, 2, "address", "TRON")
		hasError(t, errs, 2, "amount", "exponent")
		hasError(t, errs, 2, "reference", "row 3")
		hasError(t, errs, 3, "reference", "row 2")
		if len(errs) != 4 || len(totals) != 0 {
			t.Errorf("errs %+v totals %+v", errs, totals)
		}
	})
	t.Run("SortedByRowThenColumn", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", corpusHeader+"\nUSDT,"+tronA+",-1,R1,,\nBTC,"+btcA+",1,R2,,\n", payouts.ReadOptions{})
		errs, _, err := payouts.Validate(ctx, sh, corpusEnv())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range errs {
			got = append(got, e.Field+"@"+string(rune('0'+e.Row)))
		}
		// Row 3 asks 1 BTC of a 0.05 balance: a whole-sheet error, first.
		if strings.Join(got, " ") != "amount@0 currency@2 amount@2" {
			t.Errorf("order %v: %+v", got, errs)
		}
	})
	t.Run("AllowRepeat", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", corpusHeader+"\nUSDTTRC20,"+tronPaid+",77,R1,,\nUSDTTRC20,"+tronPaid+",77,R2,,\n", payouts.ReadOptions{})
		env := corpusEnv()
		errs, _, err := payouts.Validate(ctx, sh, env)
		if err != nil {
			t.Fatal(err)
		}
		hasError(t, errs, 2, "", "30 days")
		hasError(t, errs, 3, "", "as row 2")
		env.AllowRepeat = true
		env.PaidRecently = func(context.Context, string, string, decimal.Decimal) (bool, error) {
			t.Error("PaidRecently called with AllowRepeat")
			return false, nil
		}
		errs, totals, err := payouts.Validate(ctx, sh, env)
		if err != nil || len(errs) != 0 {
			t.Fatalf("with AllowRepeat: %v %+v", err, errs)
		}
		if len(totals) != 1 || totals[0].Rows != 2 || !totals[0].Amount.Equal(dec("154")) {
			t.Errorf("totals %+v", totals)
		}
	})
	t.Run("PaidRecentlyFails", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", corpusHeader+"\nUSDTTRC20,"+tronA+",20,R1,,\n", payouts.ReadOptions{})
		env := corpusEnv()
		boom := errors.New("database gone")
		env.PaidRecently = func(context.Context, string, string, decimal.Decimal) (bool, error) { return false, boom }
		if _, _, err := payouts.Validate(ctx, sh, env); !errors.Is(err, boom) || !strings.Contains(err.Error(), "row 2") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("BalancesNilIsNotChecked", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", corpusHeader+"\nBTC,"+btcA+",1,R1,,\nUSDCERC20,"+evm55+",60,R2,,\n", payouts.ReadOptions{})
		env := corpusEnv()
		env.Balances = nil
		errs, _, err := payouts.Validate(ctx, sh, env)
		if err != nil || len(errs) != 1 {
			t.Fatalf("%v %+v", err, errs)
		}
		hasError(t, errs, 3, "currency", "disabled")
		env.Balances = map[string]decimal.Decimal{} // present but empty: every balance is zero
		errs, _, _ = payouts.Validate(ctx, sh, env)
		hasError(t, errs, 0, "amount", "not enough BTC")
	})
	t.Run("CapsAreInclusive", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", corpusHeader+"\nUSDTTRC20,"+tronA+",5000,R1,,\nUSDTTRC20,"+tronB+",3000,R2,,\n", payouts.ReadOptions{})
		errs, totals, err := payouts.Validate(ctx, sh, corpusEnv())
		if err != nil || len(errs) != 0 {
			t.Fatalf("%v %+v", err, errs)
		}
		if !totals[0].Amount.Equal(dec("8000")) {
			t.Errorf("totals %+v", totals)
		}
	})
	t.Run("DecimalsIgnoreTrailingZeros", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", corpusHeader+"\nUSDTTRC20,"+tronA+",10.1234560000,R1,,\n", payouts.ReadOptions{})
		errs, _, err := payouts.Validate(ctx, sh, corpusEnv())
		if err != nil || len(errs) != 0 {
			t.Fatalf("%v %+v", err, errs)
		}
	})
	t.Run("HandBuiltSheet", func(t *testing.T) {
		t.Parallel()
		sh := &payouts.Sheet{Name: "x", Rows: []payouts.Row{
			{Line: 2, Currency: "USDTBEP20", Address: evm55, Amount: dec("10"), Reference: "a"},
			{Line: 3, Currency: "USDTBEP20", Address: evm55BadSum, Amount: dec("10.5"), Reference: "b"},
		}}
		errs, totals, err := payouts.Validate(ctx, sh, corpusEnv())
		if err != nil {
			t.Fatal(err)
		}
		hasError(t, errs, 3, "address", "EIP-55")
		if len(errs) != 1 || len(totals) != 1 || totals[0].Rows != 1 {
			t.Errorf("errs %+v totals %+v", errs, totals)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		sh := readString(t, "a.csv", corpusHeader+"\nUSDTTRC20,"+tronA+",20,R1,,\n", payouts.ReadOptions{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := payouts.Validate(cctx, sh, corpusEnv()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
}
