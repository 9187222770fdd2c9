package nordpay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

func TestAmountSpellings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		json string
		want string
	}{
		{`1E-8`, "0.00000001"},
		{`1e-8`, "0.00000001"},
		{`2.5e-7`, "0.00000025"},
		{`1.2E+3`, "1200"},
		{`12.50`, "12.5"},
		{`"12.5"`, "12.5"},
		{`" 7 "`, "7"},
		{`0.000000000000000001`, "0.000000000000000001"},
		{`12.345678901234567891`, "12.345678901234567891"},
		{`123456789012345678901234567890.123456789012345678`, "123456789012345678901234567890.123456789012345678"},
		{`0.30000000000000004`, "0.30000000000000004"},
		{`-0`, "0"},
		{`null`, "0"},
	}
	for _, c := range cases {
		t.Run(c.json, func(t *testing.T) {
			var got struct {
				Amount decimal.Decimal `json:"amount"`
			}
			if err := nordpay.Unmarshal([]byte(`{"amount":`+c.json+`}`), &got); err != nil {
				t.Fatalf("decode %s: %v", c.json, err)
			}
			if !got.Amount.Equal(decimal.RequireFromString(c.want)) {
				t.Fatalf("decode %s = %s, want %s", c.json, got.Amount, c.want)
			}
		})
	}
	for _, bad := range []string{`"NaN"`, `"Infinity"`, `"1,5"`, `"0x10"`, `"1_000"`, `"12 USD"`, `""`, `true`} {
		t.Run("Rejects"+bad, func(t *testing.T) {
			var got struct {
				Amount decimal.Decimal `json:"amount"`
			}
			if err := nordpay.Unmarshal([]byte(`{"amount":`+bad+`}`), &got); err == nil {
				t.Fatalf("decode %s = %s, want an error", bad, got.Amount)
			}
		})
	}
}

func TestAmountsGoOutAsExactNumbers(t *testing.T) {
	t.Parallel()
	body, err := nordpay.Marshal(nordpay.MultiWithdrawRequest{
		Currency: "USDTBEP20",
		AddressesAndAmounts: []nordpay.Payee{
			{Address: "0xabc", Amount: decimal.RequireFromString("0.000000000000000001")},
			{Address: "0xdef", Amount: decimal.RequireFromString("100.10")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"currency":"USDTBEP20","addresses_and_amounts":[{"address":"0xabc","amount":0.000000000000000001},{"address":"0xdef","amount":100.1}]}`
	if string(body) != want {
		t.Fatalf("body\n got %s\nwant %s", body, want)
	}
}

func TestIDSpellings(t *testing.T) {
	t.Parallel()
	cases := map[string]nordpay.ID{
		`17`:                       "17",
		`"17"`:                     "17",
		`17.0`:                     "17",
		`1.7E1`:                    "17",
		`98765432109876543210987`:  "98765432109876543210987",
		`"a3f1-uuid"`:              "a3f1-uuid",
		`null`:                     "",
		`"  42 "`:                  "42",
		`123456789012345678901234`: "123456789012345678901234",
	}
	for in, want := range cases {
		var got struct {
			ID nordpay.ID `json:"id"`
		}
		if err := nordpay.Unmarshal([]byte(`{"id":`+in+`}`), &got); err != nil {
			t.Fatalf("decode id %s: %v", in, err)
		}
		if got.ID != want {
			t.Errorf("decode id %s = %q, want %q", in, got.ID, want)
		}
	}
	var bad struct {
		ID nordpay.ID `json:"id"`
	}
	if err := nordpay.Unmarshal([]byte(`{"id":{"x":1}}`), &bad); err == nil {
		t.Fatal("an object id decoded without error")
	}
}

func TestTimeSpellings(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 6, 20, 14, 22, 10, 345678000, time.UTC)
	for _, in := range []string{
		"2025-06-20T14:22:10.345678Z",
		"2025-06-20T16:22:10.345678+02:00",
		"2025-06-20T14:22:10.345678+0000",
		"2025-06-20T14:22:10.345678",
		"2025-06-20 14:22:10.345678",
		"2025-06-20 14:22:10.345678Z",
	} {
		var got struct {
			At nordpay.Time `json:"at"`
		}
		if err := nordpay.Unmarshal([]byte(`{"at":"`+in+`"}`), &got); err != nil {
			t.Fatalf("decode %s: %v", in, err)
		}
		if !got.At.Equal(want) || got.At.Location() != time.UTC {
			t.Errorf("decode %s = %v, want %v in UTC", in, got.At, want)
		}
	}
	var date struct {
		At nordpay.Time `json:"at"`
	}
	if err := nordpay.Unmarshal([]byte(`{"at":"2021-01-31"}`), &date); err != nil || !date.At.Equal(time.Date(2021, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("date-only: %v %v", date.At, err)
	}
	var bad struct {
		At nordpay.Time `json:"at"`
	}
	if err := nordpay.Unmarshal([]byte(`{"at":"yesterday"}`), &bad); err == nil {
		t.Fatal("a nonsense time decoded without error")
	}
	out, _ := nordpay.Marshal(struct {
		At nordpay.Time `json:"at"`
	}{nordpay.Time{Time: want.In(time.FixedZone("X", 3600))}})
	if string(out) != `{"at":"2025-06-20T14:22:10.345678Z"}` {
		t.Fatalf("encode = %s", out)
	}
}

func TestTransactionDecodesTolerantly(t *testing.T) {
	t.Parallel()
	// The documented object, with an unknown field, a duplicate name, the currency as a bare
	// name, nulls where strings are expected, and fields missing.
	raw := `{"id": "9", "source_type": "wallet", "unknown_field": {"a": [1, 2]},
		"source": {"id": 3, "label": "Shop", "address": "T9y...", "currency": "USDTTRC20",
			"postback_url": null, "created_at": "2025-06-20T14:22:10Z", "updated_at": null},
		"currency": "USDTTRC20",
		"amount": "100.000001", "amount_usd": 100, "network_fee": 1, "network_fee_usd": 1,
		"service_fee": 5E-1, "service_fee_usd": 0.5, "tx_hash": null,
		"is_paid": true, "is_paid": true, "created_at": "2025-06-20T15:22:10.345678Z"}`
	var tx nordpay.Transaction
	if err := nordpay.Unmarshal([]byte(raw), &tx); err != nil {
		t.Fatal(err)
	}
	if tx.ID != "9" || tx.SourceType != nordpay.SourceWallet || tx.Currency.Name != "USDTTRC20" ||
		tx.Source.Currency != "USDTTRC20" || tx.Source.ID != "3" || tx.TxHash != "" || !tx.IsPaid {
		t.Fatalf("decoded %+v", tx)
	}
	if got := tx.Net(); !got.Equal(decimal.RequireFromString("98.500001")) {
		t.Fatalf("net = %s", got)
	}
}

func TestCurrencyFlags(t *testing.T) {
	t.Parallel()
	var cs []nordpay.Currency
	err := nordpay.Unmarshal([]byte(`[
		{"name": "A", "decimals": 6},
		{"name": "B", "decimals": 18, "is_withdraw_enabled": false, "min_withdraw": "1E+1", "rate": 612.5}]`), &cs)
	if err != nil {
		t.Fatal(err)
	}
	if !cs[0].WithdrawEnabled() || !cs[0].DepositEnabled() || cs[0].Rate.Valid {
		t.Errorf("absent flags: %+v", cs[0])
	}
	if cs[1].WithdrawEnabled() || !cs[1].MinWithdraw.Equal(decimal.NewFromInt(10)) || !cs[1].Rate.Decimal.Equal(decimal.RequireFromString("612.5")) {
		t.Errorf("explicit flags: %+v", cs[1])
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := nordpay.Secret("k-123-very-secret")
	for _, got := range []string{
		s.String(), sprintf("%v|%s|%q|%x|%#v|%+v|%d", s, s, s, s, s, s, s),
		sprintf("%v %+v %#v", struct{ K nordpay.Secret }{s}, struct{ K nordpay.Secret }{s}, struct{ K nordpay.Secret }{s}),
	} {
		if strings.Contains(got, "very-secret") {
			t.Fatalf("secret leaked: %s", got)
		}
	}
	if s.Reveal() != "k-123-very-secret" {
		t.Fatal("Reveal lost the value")
	}
	out, _ := nordpay.Marshal(struct{ K nordpay.Secret }{s})
	if strings.Contains(string(out), "very-secret") {
		t.Fatalf("secret leaked into JSON: %s", out)
	}
}
