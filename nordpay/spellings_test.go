package nordpay_test

// Integers and flags in every spelling the documents leave open, field by field, and the
// client's GET /currencies/ and transaction stream against a server that uses them.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

func TestIntegerSpellings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		json string
		want int
	}{
		{`18`, 18},
		{`18.0`, 18},
		{`18.000000000000000000000`, 18},
		{`1.8E1`, 18},
		{`1.8e+1`, 18},
		{`180E-1`, 18},
		{`0.18E2`, 18},
		{`"18"`, 18},
		{`" 18 "`, 18},
		{`"18.0"`, 18},
		{`"1.8E1"`, 18},
		{`"+18"`, 18},
		{`0`, 0},
		{`-0`, 0},
		{`0.0E5`, 0},
		{`0E999999999`, 0},
		{`-3`, -3},
		{`"-3.0"`, -3},
		{`5E-0000000`, 5},
		{`9223372036854775807`, 9223372036854775807},
		{`-9223372036854775808`, -9223372036854775808},
		{`null`, 0},
	} {
		t.Run(tc.json, func(t *testing.T) {
			t.Parallel()
			var got nordpay.Currency
			if err := nordpay.Unmarshal([]byte(`{"decimals":`+tc.json+`,"confirmations":`+tc.json+`}`), &got); err != nil {
				t.Fatalf("decode %s: %v", tc.json, err)
			}
			if got.Decimals != tc.want || got.Confirmations != tc.want {
				t.Fatalf("decode %s = %d, %d; want %d", tc.json, got.Decimals, got.Confirmations, tc.want)
			}
		})
	}
	for _, tc := range []struct{ json, why string }{
		{`18.5`, "is not an integer"},
		{`"18.5"`, "is not an integer"},
		{`1.85E1`, "is not an integer"},
		{`1E-1000000000`, "is not an integer"},
		{`0.0000000000000000000001`, "is not an integer"},
		{`9223372036854775808`, "out of range"},
		{`1E19`, "out of range"},
		{`1E1000000000`, "out of range"},
		{`""`, "empty"},
		{`"eighteen"`, "not a number"},
		{`"0x12"`, "not a number"},
		{`"1_8"`, "not a number"},
		{`"NaN"`, "not a number"},
		{`"Infinity"`, "not a number"},
		{`"18 "`, ""}, // spaces are fine: this one decodes
		{`true`, "want a number"},
		{`[18]`, "want a number"},
		{`{"v":18}`, "want a number"},
	} {
		t.Run("Rejects"+tc.json, func(t *testing.T) {
			t.Parallel()
			var got nordpay.Currency
			err := nordpay.Unmarshal([]byte(`{"name":"USDTBEP20","decimals":`+tc.json+`}`), &got)
			if tc.why == "" {
				if err != nil || got.Decimals != 18 {
					t.Fatalf("decode %s = %d, %v", tc.json, got.Decimals, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decode %s = %d, want an error", tc.json, got.Decimals)
			}
			// The error names the field, the value, and what is wrong with it.
			msg := err.Error()
			value := strings.Trim(tc.json, `"`)
			if len(value) > 30 {
				value = value[:30]
			}
			if !strings.Contains(msg, "/decimals") || !strings.Contains(msg, value) || !strings.Contains(msg, tc.why) {
				t.Fatalf("decode %s: error %q should name /decimals, %s and %q", tc.json, msg, value, tc.why)
			}
			var serr *json.SemanticError
			if !errors.As(err, &serr) || serr.JSONPointer != "/decimals" {
				t.Fatalf("decode %s: error %#v is not a SemanticError at /decimals", tc.json, err)
			}
		})
	}
}

func TestParseInteger(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"12300E-2": 123, "1.5E1": 15, "5.": 5, "0005": 5, "1E+0000003": 1000, "-1.2E1": -12, " 7 ": 7,
		"100E-2": 1, "1000000000000000000E-18": 1,
	} {
		if got, err := nordpay.ParseInteger(in); err != nil || got != want {
			t.Errorf("ParseInteger(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"1E-0000005", ".5", "-", "1e", "1E+", "12 3", "١٨", "1,0"} {
		if got, err := nordpay.ParseInteger(in); err == nil {
			t.Errorf("ParseInteger(%q) = %d, want an error", in, got)
		}
	}
}

func TestFlagSpellings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		json string
		want bool
	}{
		{`true`, true}, {`false`, false},
		{`"true"`, true}, {`"false"`, false},
		{`"TRUE"`, true}, {`"False"`, false}, {`" tRuE "`, true},
		{`1`, true}, {`0`, false},
		{`1.0`, true}, {`0E3`, false},
		{`"1"`, true}, {`"0"`, false},
	} {
		t.Run(tc.json, func(t *testing.T) {
			t.Parallel()
			var cur nordpay.Currency
			err := nordpay.Unmarshal([]byte(`{"is_deposit_enabled":`+tc.json+`,"is_withdraw_enabled":`+tc.json+`}`), &cur)
			if err != nil {
				t.Fatalf("decode %s: %v", tc.json, err)
			}
			if cur.IsDepositEnabled == nil || cur.IsWithdrawEnabled == nil ||
				cur.DepositEnabled() != tc.want || cur.WithdrawEnabled() != tc.want {
				t.Fatalf("decode %s = %v, %v; want %v", tc.json, cur.IsDepositEnabled, cur.IsWithdrawEnabled, tc.want)
			}
			var tx nordpay.Transaction
			if err := nordpay.Unmarshal([]byte(`{"is_paid":`+tc.json+`,"is_postback_sended":`+tc.json+`}`), &tx); err != nil {
				t.Fatalf("decode is_paid %s: %v", tc.json, err)
			}
			if tx.IsPaid != tc.want || tx.IsPostbackSended != tc.want {
				t.Fatalf("decode is_paid %s = %v, %v; want %v", tc.json, tx.IsPaid, tx.IsPostbackSended, tc.want)
			}
		})
	}
	t.Run("NullIsAbsent", func(t *testing.T) {
		t.Parallel()
		var cur nordpay.Currency
		if err := nordpay.Unmarshal([]byte(`{"is_deposit_enabled":null,"is_withdraw_enabled":null}`), &cur); err != nil {
			t.Fatal(err)
		}
		if cur.IsDepositEnabled != nil || cur.IsWithdrawEnabled != nil || !cur.WithdrawEnabled() {
			t.Fatalf("null flags: %v %v", cur.IsDepositEnabled, cur.IsWithdrawEnabled)
		}
		var tx nordpay.Transaction
		if err := nordpay.Unmarshal([]byte(`{"is_paid":null}`), &tx); err != nil || tx.IsPaid {
			t.Fatalf("null is_paid = %v, %v", tx.IsPaid, err)
		}
	})
	for _, bad := range []string{`"yes"`, `"no"`, `"on"`, `"t"`, `"y"`, `""`, `2`, `-1`, `0.5`, `"2"`, `"paid"`, `[]`, `{}`, `"null"`} {
		t.Run("Rejects"+bad, func(t *testing.T) {
			t.Parallel()
			var cur nordpay.Currency
			err := nordpay.Unmarshal([]byte(`{"name":"USDTBEP20","is_withdraw_enabled":`+bad+`}`), &cur)
			if err == nil {
				t.Fatalf("decode %s = %v, want an error", bad, *cur.IsWithdrawEnabled)
			}
			if msg := err.Error(); !strings.Contains(msg, "/is_withdraw_enabled") || !strings.Contains(msg, strings.Trim(bad, `"`)) {
				t.Fatalf("decode %s: error %q should name the field and the value", bad, msg)
			}
			var tx nordpay.Transaction
			err = nordpay.Unmarshal([]byte(`{"id":1,"is_paid":`+bad+`}`), &tx)
			if err == nil || !strings.Contains(err.Error(), "/is_paid") {
				t.Fatalf("decode is_paid %s: %v, want an error naming /is_paid", bad, err)
			}
		})
	}
}

func TestParseFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"true": true, "FALSE": false, " 1 ": true, "0": false, "1E0": true} {
		if got, err := nordpay.ParseFlag(in); err != nil || got != want {
			t.Errorf("ParseFlag(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yes", "no", "", "2", "truee", "-0.5"} {
		if got, err := nordpay.ParseFlag(in); err == nil {
			t.Errorf("ParseFlag(%q) = %v, want an error", in, got)
		}
	}
}

// A currency nested in a transaction reports its errors at their full path.
func TestNestedCurrencyErrorPath(t *testing.T) {
	t.Parallel()
	var txs []nordpay.Transaction
	err := nordpay.Unmarshal([]byte(`[{"id":1,"currency":{"name":"USDTBEP20","decimals":18}},
		{"id":2,"currency":{"name":"USDTBEP20","decimals":"18.5"}}]`), &txs)
	if err == nil || !strings.Contains(err.Error(), `"/1/currency/decimals"`) || !strings.Contains(err.Error(), "18.5") {
		t.Fatalf("error %v, want one naming /1/currency/decimals and 18.5", err)
	}
}

// oddCurrencies is GET /currencies/ as an API might send it: every integer and flag spelled
// differently, and the documented spellings beside them.
const oddCurrencies = `[
 {"name": "USDTBEP20", "token": "USDT", "network": "BEP20", "contract": "0x55d3", "decimals": 18.0,
  "confirmations": "5", "network_fee": 0, "min_deposit": 1, "min_withdraw": "10",
  "is_deposit_enabled": "true", "is_withdraw_enabled": 1, "rate": 1.0},
 {"name": "USDTTRC20", "decimals": 1.8E1, "confirmations": "2.0E1",
  "is_deposit_enabled": "TRUE", "is_withdraw_enabled": "0", "rate": "0.9998"},
 {"name": "BNBBEP20", "decimals": "18", "confirmations": 15,
  "is_deposit_enabled": 0, "is_withdraw_enabled": "False", "rate": 612.5},
 {"name": "BTC", "decimals": "8", "confirmations": null,
  "is_deposit_enabled": null, "is_withdraw_enabled": "1", "rate": null},
 {"name": "TRX", "decimals": 6, "confirmations": 19,
  "is_deposit_enabled": true, "is_withdraw_enabled": false}
]`

func TestClientCurrenciesOddSpellings(t *testing.T) {
	t.Parallel()
	serve := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/currencies/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}
	}
	t.Run("Decodes", func(t *testing.T) {
		t.Parallel()
		client, _ := rawSetup(t, serve(oddCurrencies))
		cs, err := client.Currencies(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		type want struct {
			decimals, confirmations int
			deposit, withdraw       string // "true", "false" or "nil"
		}
		flag := func(b *bool) string {
			if b == nil {
				return "nil"
			}
			if *b {
				return "true"
			}
			return "false"
		}
		wants := map[string]want{
			"USDTBEP20": {18, 5, "true", "true"},
			"USDTTRC20": {18, 20, "true", "false"},
			"BNBBEP20":  {18, 15, "false", "false"},
			"BTC":       {8, 0, "nil", "true"},
			"TRX":       {6, 19, "true", "false"},
		}
		if len(cs) != len(wants) {
			t.Fatalf("%d currencies, want %d", len(cs), len(wants))
		}
		for _, c := range cs {
			w := wants[c.Name]
			got := want{c.Decimals, c.Confirmations, flag(c.IsDepositEnabled), flag(c.IsWithdrawEnabled)}
			if got != w {
				t.Errorf("%s: got %+v, want %+v", c.Name, got, w)
			}
		}
		if !cs[0].MinWithdraw.Equal(decimal.NewFromInt(10)) || !cs[1].Rate.Valid || !cs[1].Rate.Decimal.Equal(decimal.RequireFromString("0.9998")) || cs[3].Rate.Valid {
			t.Errorf("money fields: %+v", cs)
		}
	})
	t.Run("NonIntegralDecimalsIsAnError", func(t *testing.T) {
		t.Parallel()
		client, _ := rawSetup(t, serve(`[{"name": "USDTBEP20", "decimals": 18}, {"name": "X", "decimals": 18.5}]`))
		_, err := client.Currencies(context.Background())
		if err == nil || !strings.Contains(err.Error(), "/1/decimals") || !strings.Contains(err.Error(), "18.5") {
			t.Fatalf("error %v, want one naming /1/decimals and 18.5", err)
		}
	})
	t.Run("UnknownFlagIsAnError", func(t *testing.T) {
		t.Parallel()
		client, _ := rawSetup(t, serve(`[{"name": "USDTBEP20", "is_withdraw_enabled": "yes"}]`))
		_, err := client.Currencies(context.Background())
		if err == nil || !strings.Contains(err.Error(), "/0/is_withdraw_enabled") || !strings.Contains(err.Error(), `"yes"`) {
			t.Fatalf("error %v, want one naming /0/is_withdraw_enabled and \"yes\"", err)
		}
	})
}

// The transaction stream takes the same spellings, in the transaction and in its currency.
func TestClientTransactionsOddSpellings(t *testing.T) {
	t.Parallel()
	body := `[
	 {"id": 1, "source_type": "invoice", "currency": {"name": "USDTBEP20", "decimals": "18", "confirmations": 5.0},
	  "amount": 10, "is_paid": "true", "is_postback_sended": 0, "created_at": "2026-11-01T10:00:00Z"},
	 {"id": 2, "source_type": "invoice", "currency": {"name": "USDTBEP20", "decimals": "18", "confirmations": 5.0},
	  "amount": 10, "is_paid": "0", "is_postback_sended": "FALSE", "created_at": "2026-11-01T10:00:01Z"},
	 {"id": 3, "source_type": "invoice", "currency": "USDTBEP20",
	  "amount": 10, "is_paid": 1, "created_at": "2026-11-01T10:00:02Z"}
	]`
	client, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(body))
	})
	var paid []string
	n := 0
	for tx, err := range client.InvoiceTransactions(context.Background(), nordpay.Window{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if tx.IsPaid {
			paid = append(paid, tx.ID.String())
		}
		if tx.ID == "1" && (tx.Currency.Decimals != 18 || tx.Currency.Confirmations != 5) {
			t.Errorf("currency %+v", tx.Currency)
		}
	}
	if n != 3 || strings.Join(paid, ",") != "1,3" {
		t.Fatalf("%d transactions, paid %v; want 3, [1 3]", n, paid)
	}
}

// Timestamps are documented as ISO 8601 strings (invoice-transactions.txt, withdraw.txt's
// expires_at, ASSUMPTIONS.md): a number is not guessed to be unix seconds or milliseconds,
// it is an error naming the field.
func TestTimestampNumberIsAnError(t *testing.T) {
	t.Parallel()
	var q nordpay.MultiWithdrawQuote
	err := nordpay.Unmarshal([]byte(`{"identifier":"u","expires_at":1781258672}`), &q)
	if err == nil || !strings.Contains(err.Error(), "/expires_at") || !strings.Contains(err.Error(), "1781258672") {
		t.Fatalf("error %v, want one naming /expires_at and the value", err)
	}
}
