package payouts_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// A sheet from European Excel (semicolons, decimal commas) read with DecimalComma, then
// validated: row 3's amount is refused, row 2 makes the control total.
func ExampleReadSheet() {
	const sheet = "Coin;Wallet;Amount;Ref;Payee\r\n" +
		"USDTTRC20;TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t9j;25,5;INV-1;Ana Lima\r\n" +
		"USDTTRC20;TVzUhHX8SqgVd1mmuogaQWw7EYEpsXgfKN;1e3;INV-2;Bo Chen\r\n"
	sh, err := payouts.ReadSheet("march.csv", strings.NewReader(sheet), payouts.ReadOptions{DecimalComma: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	env := payouts.ValidationEnv{Currencies: map[string]nordpay.Currency{
		"USDTTRC20": {Name: "USDTTRC20", Network: "TRC20", Decimals: 6, MinWithdraw: decimal.NewFromInt(10)},
	}}
	errs, totals, err := payouts.Validate(context.Background(), sh, env)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range errs {
		fmt.Println(e.Describe(sh.Name))
	}
	for _, t := range totals {
		fmt.Println(t.Currency, t.Rows, t.Amount)
	}
	// Output:
	// march.csv row 3, amount: "1e3": exponent notation is not accepted in a payout amount; write the number in full
	// USDTTRC20 1 25.5
}
