package sandbox

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// withdrawEnv is a sandbox with no generated transactions, so balances are exactly the
// initial ones.
func withdrawEnv(t *testing.T) *env {
	return setup(t, func(o *Options) {
		o.Invoices.Count, o.Wallets.Count = 0, 0
		o.InitialBalances = map[string]decimal.Decimal{"USDTBEP20": dec("1000"), "BTC": dec("0.01")}
	})
}

// quote posts a withdrawal request that must succeed and decodes the quote.
func (e *env) quote(path, body string) (nordpay.MultiWithdrawQuote, []byte) {
	e.t.Helper()
	code, b := e.post(path, body)
	if code != 200 {
		e.t.Fatalf("request: %d %s", code, b)
	}
	var q nordpay.MultiWithdrawQuote
	if err := nordpay.Unmarshal(b, &q); err != nil {
		e.t.Fatal(err)
	}
	return q, b
}

func TestWithdrawMultiple(t *testing.T) {
	t.Parallel()
	e := withdrawEnv(t)
	body := `{"currency":"USDTBEP20","addresses_and_amounts":[{"address":"0xaaa","amount":100.0},{"address":"0xbbb","amount":"250.5"},{"address":"0xccc","amount":1E+1}]}`
	q, b := e.quote("/balance/withdraw/multiple/request", body)
	// Fees: 0.5 + 0.5% of the amount.
	wantFees := []string{"1", "1.7525", "0.55"}
	if len(q.AddressesAndAmounts) != 3 {
		t.Fatalf("rows: %+v", q.AddressesAndAmounts)
	}
	for i, r := range q.AddressesAndAmounts {
		if !r.ServiceFee.Equal(dec(wantFees[i])) {
			t.Errorf("row %d fee %s, want %s", i, r.ServiceFee, wantFees[i])
		}
		if !r.ServiceFeeUSD.Equal(r.ServiceFee.Round(2)) {
			t.Errorf("row %d fee usd %s", i, r.ServiceFeeUSD)
		}
	}
	if !q.Amount.Equal(dec("360.5")) || !q.ServiceFee.Equal(dec("3.3025")) || !q.AmountUSD.Equal(dec("360.5")) {
		t.Errorf("totals %s %s %s", q.Amount, q.ServiceFee, q.AmountUSD)
	}
	if !q.ExpiresAt.Equal(t0.Add(5*time.Minute)) || !strings.Contains(string(b), `"expires_at":"2026-03-01T12:05:00.000000Z"`) {
		t.Errorf("expires_at %s in %s", q.ExpiresAt, b)
	}
	if len(q.Identifier) != 36 {
		t.Errorf("identifier %q", q.Identifier)
	}
	if got := e.balances()["USDTBEP20"]; !got.Equal(dec("1000")) {
		t.Errorf("balance moved at request time: %s", got)
	}
	if len(e.s.Payments()) != 0 {
		t.Error("payments before confirm")
	}

	confirm := fmt.Sprintf(`{"identifier":%q}`, q.Identifier)
	t.Run("SingleConfirmRefusesMultiple", func(t *testing.T) {
		code, b := e.post("/balance/withdraw/confirm", confirm)
		if code != 404 || detail(t, b) != "Withdraw request not found" {
			t.Errorf("%d %s", code, b)
		}
	})
	code, b := e.post("/balance/withdraw/multiple/confirm", confirm)
	if code != 200 || string(b) != `{"detail":"Withdrawal request created and waiting for admin approval","status":"pending","id":1}` {
		t.Fatalf("confirm: %d %s", code, b)
	}
	code, b = e.post("/balance/withdraw/multiple/confirm", confirm)
	if code != 404 || detail(t, b) != "Withdraw request not found" {
		t.Errorf("second confirm: %d %s", code, b)
	}
	if got := e.balances()["USDTBEP20"]; !got.Equal(dec("639.5")) {
		t.Errorf("balance after confirm %s, want 639.5", got)
	}
	if got := e.s.Balances()["USDTBEP20"]; !got.Equal(dec("639.5")) {
		t.Errorf("Balances() %s", got)
	}
	pays := e.s.Payments()
	if len(pays) != 3 {
		t.Fatalf("%d payments, want 3 (recorded once)", len(pays))
	}
	for i, p := range pays {
		want := q.AddressesAndAmounts[i]
		if p.WithdrawalID != 1 || p.Identifier != q.Identifier || !p.Multiple || p.Currency != "USDTBEP20" || p.Row != i ||
			p.Address != want.Address || !p.Amount.Equal(want.Amount) || !p.ServiceFee.Equal(want.ServiceFee) || !p.ConfirmedAt.Equal(t0) {
			t.Errorf("payment %d: %+v", i, p)
		}
	}
}

func TestWithdrawSingle(t *testing.T) {
	t.Parallel()
	e := withdrawEnv(t)
	code, b := e.post("/balance/withdraw/request", `{"currency":"BTC","address":"bc1qxyz","amount":0.001}`)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var q nordpay.WithdrawQuote
	if err := nordpay.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	// 0.0001 + 0.5% of 0.001 = 0.000105, at 8 decimals.
	if q.Address != "bc1qxyz" || !q.Amount.Equal(dec("0.001")) || !q.ServiceFee.Equal(dec("0.000105")) ||
		!q.AmountUSD.Equal(dec("65")) || !q.ServiceFeeUSD.Equal(dec("6.83")) {
		t.Errorf("quote %+v", q)
	}
	confirm := fmt.Sprintf(`{"identifier":%q}`, q.Identifier)
	if code, _ := e.post("/balance/withdraw/multiple/confirm", confirm); code != 404 {
		t.Errorf("multiple confirm of a single identifier: %d", code)
	}
	if code, b := e.post("/balance/withdraw/confirm", confirm); code != 200 || !strings.Contains(string(b), `"id":1`) {
		t.Errorf("confirm: %d %s", code, b)
	}
	if got := e.balances()["BTC"]; !got.Equal(dec("0.009")) {
		t.Errorf("BTC balance %s", got)
	}
	if p := e.s.Payments(); len(p) != 1 || p[0].Multiple || p[0].Address != "bc1qxyz" {
		t.Errorf("payments %+v", p)
	}
}

func TestWithdrawBusinessErrors(t *testing.T) {
	t.Parallel()
	e := withdrawEnv(t)
	cases := []struct {
		name, path, body string
		code             int
		msg              string
	}{
		{"Disabled", "/balance/withdraw/request", `{"currency":"USDCERC20","address":"0x1","amount":100}`, 400, "USDCERC20 is not available for withdraw at this moment"},
		{"DisabledMultiple", "/balance/withdraw/multiple/request", `{"currency":"USDCERC20","addresses_and_amounts":[{"address":"0x1","amount":100}]}`, 400, "USDCERC20 is not available for withdraw at this moment"},
		{"BelowMinimum", "/balance/withdraw/request", `{"currency":"USDTBEP20","address":"0x1","amount":9.99}`, 400, "Amount is less than minimum withdraw amount for USDTBEP20 (10)"},
		{"BelowMinimumOneRow", "/balance/withdraw/multiple/request", `{"currency":"BTC","addresses_and_amounts":[{"address":"a","amount":0.001},{"address":"b","amount":0.0004}]}`, 400, "Amount is less than minimum withdraw amount for BTC (0.0005)"},
		{"NotEnoughBalance", "/balance/withdraw/request", `{"currency":"USDTBEP20","address":"0x1","amount":1000.000000000000000001}`, 400, "Not enough balance"},
		{"NotEnoughBalanceTotal", "/balance/withdraw/multiple/request", `{"currency":"USDTBEP20","addresses_and_amounts":[{"address":"a","amount":600},{"address":"b","amount":400.5}]}`, 400, "Not enough balance"},
		{"ZeroBalance", "/balance/withdraw/request", `{"currency":"ETHERC20","address":"0x1","amount":1}`, 400, "Not enough balance"},
		{"UnknownIdentifier", "/balance/withdraw/confirm", `{"identifier":"00000000-0000-4000-8000-000000000000"}`, 404, "Withdraw request not found"},
		{"UnknownIdentifierMultiple", "/balance/withdraw/multiple/confirm", `{"identifier":"nope"}`, 404, "Withdraw request not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b := e.post(c.path, c.body)
			if code != c.code || detail(t, b) != c.msg {
				t.Errorf("%d %s, want %d %q", code, b, c.code, c.msg)
			}
		})
	}
	t.Run("DisabledBySetCurrency", func(t *testing.T) {
		e := withdrawEnv(t)
		if err := e.s.SetCurrency("USDTBEP20", func(c *nordpay.Currency) { off := false; c.IsWithdrawEnabled = &off }); err != nil {
			t.Fatal(err)
		}
		code, b := e.post("/balance/withdraw/request", `{"currency":"USDTBEP20","address":"0x1","amount":100}`)
		if code != 400 || detail(t, b) != "USDTBEP20 is not available for withdraw at this moment" {
			t.Errorf("%d %s", code, b)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		e := withdrawEnv(t)
		q, _ := e.quote("/balance/withdraw/multiple/request", `{"currency":"USDTBEP20","addresses_and_amounts":[{"address":"a","amount":10}]}`)
		confirm := fmt.Sprintf(`{"identifier":%q}`, q.Identifier)
		e.clock.Advance(5*time.Minute + time.Microsecond)
		code, b := e.post("/balance/withdraw/multiple/confirm", confirm)
		if code != 400 || detail(t, b) != "Withdraw request expired" {
			t.Errorf("%d %s", code, b)
		}
		e.clock.Advance(-time.Microsecond) // exactly expires_at: still valid
		if code, b := e.post("/balance/withdraw/multiple/confirm", confirm); code != 200 {
			t.Errorf("at expires_at: %d %s", code, b)
		}
	})
	t.Run("BalanceGoneAtConfirm", func(t *testing.T) {
		e := withdrawEnv(t)
		body := `{"currency":"USDTBEP20","addresses_and_amounts":[{"address":"a","amount":600}]}`
		q1, _ := e.quote("/balance/withdraw/multiple/request", body)
		q2, _ := e.quote("/balance/withdraw/multiple/request", body)
		if q1.Identifier == q2.Identifier {
			t.Fatal("two requests, one identifier")
		}
		if code, _ := e.post("/balance/withdraw/multiple/confirm", fmt.Sprintf(`{"identifier":%q}`, q1.Identifier)); code != 200 {
			t.Fatal("first confirm failed")
		}
		code, b := e.post("/balance/withdraw/multiple/confirm", fmt.Sprintf(`{"identifier":%q}`, q2.Identifier))
		if code != 400 || detail(t, b) != "Not enough balance" {
			t.Errorf("%d %s", code, b)
		}
		if len(e.s.Payments()) != 1 {
			t.Errorf("payments %+v", e.s.Payments())
		}
	})
}

func TestValidation422(t *testing.T) {
	t.Parallel()
	e := withdrawEnv(t)
	type want struct{ typ, loc string }
	cases := []struct {
		name, path, body string
		want             []want
	}{
		{"InvalidJSON", "/balance/withdraw/request", `{"currency": "BTC",`, []want{{"json_invalid", "body.19"}}},
		{"EmptyBody", "/balance/withdraw/confirm", ``, []want{{"missing", "body"}}},
		{"NotAnObject", "/balance/withdraw/request", `[1,2]`, []want{{"model_attributes_type", "body"}}},
		{"AllMissing", "/balance/withdraw/request", `{}`, []want{{"missing", "body.currency"}, {"missing", "body.address"}, {"missing", "body.amount"}}},
		{"WrongTypes", "/balance/withdraw/request", `{"currency":"DOGE","address":12,"amount":"abc"}`, []want{{"enum", "body.currency"}, {"string_type", "body.address"}, {"decimal_parsing", "body.amount"}}},
		{"AmountZero", "/balance/withdraw/request", `{"currency":"BTC","address":"x","amount":0}`, []want{{"greater_than", "body.amount"}}},
		{"AmountNegative", "/balance/withdraw/request", `{"currency":"BTC","address":"x","amount":-5}`, []want{{"greater_than", "body.amount"}}},
		{"AmountBool", "/balance/withdraw/request", `{"currency":"BTC","address":"x","amount":true}`, []want{{"decimal_type", "body.amount"}}},
		{"EmptyRows", "/balance/withdraw/multiple/request", `{"currency":"BTC","addresses_and_amounts":[]}`, []want{{"too_short", "body.addresses_and_amounts"}}},
		{"RowsNotList", "/balance/withdraw/multiple/request", `{"currency":"BTC","addresses_and_amounts":{}}`, []want{{"list_type", "body.addresses_and_amounts"}}},
		{"RowProblems", "/balance/withdraw/multiple/request", `{"currency":"BTC","addresses_and_amounts":[{"address":"a","amount":1},{"address":"b"},{"amount":0},"x"]}`,
			[]want{{"missing", "body.addresses_and_amounts.1.amount"}, {"missing", "body.addresses_and_amounts.2.address"}, {"greater_than", "body.addresses_and_amounts.2.amount"}, {"model_attributes_type", "body.addresses_and_amounts.3"}}},
		{"IdentifierMissing", "/balance/withdraw/confirm", `{"id":"x"}`, []want{{"missing", "body.identifier"}}},
		{"IdentifierNotString", "/balance/withdraw/multiple/confirm", `{"identifier":5}`, []want{{"string_type", "body.identifier"}}},
		{"BadDates", "/invoice/transactions?start_date=yesterday&end_date=2026-13-45", ``, []want{{"datetime_from_date_parsing", "query.start_date"}, {"datetime_from_date_parsing", "query.end_date"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := "POST"
			if strings.Contains(c.path, "?") {
				method = "GET"
			}
			code, b := e.do(method, c.path, c.body)
			if code != 422 {
				t.Fatalf("%d %s", code, b)
			}
			got := vdetailsOf(t, b)
			if len(got) != len(c.want) {
				t.Fatalf("details %s, want %v", b, c.want)
			}
			for i, w := range c.want {
				if got[i].Type != w.typ || locString(got[i].Loc) != w.loc || got[i].Msg == "" {
					t.Errorf("detail %d = %+v, want %v", i, got[i], w)
				}
			}
		})
	}
	t.Run("GreaterThanShape", func(t *testing.T) {
		_, b := e.post("/balance/withdraw/request", `{"currency":"BTC","address":"x","amount":0}`)
		want := `{"detail":[{"type":"greater_than","loc":["body","amount"],"msg":"Input should be greater than 0","input":0,"ctx":{"gt":0}}]}`
		if string(b) != want {
			t.Errorf("got  %s\nwant %s", b, want)
		}
	})
	t.Run("MissingShape", func(t *testing.T) {
		_, b := e.post("/balance/withdraw/confirm", `{}`)
		want := `{"detail":[{"type":"missing","loc":["body","identifier"],"msg":"Field required","input":{}}]}`
		if string(b) != want {
			t.Errorf("got  %s\nwant %s", b, want)
		}
	})
	t.Run("EnumShape", func(t *testing.T) {
		_, b := e.post("/balance/withdraw/request", `{"currency":"DOGE","address":"x","amount":1}`)
		d := vdetailsOf(t, b)
		if !strings.HasPrefix(d[0].Msg, "Input should be 'USDTBEP20', 'USDTTRC20'") || !strings.HasSuffix(d[0].Msg, "or 'USDCERC20'") || d[0].Input != "DOGE" {
			t.Errorf("enum detail %+v", d[0])
		}
	})
}
