package sandbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	t.Run("MissingKey401", func(t *testing.T) {
		for _, p := range []string{"/balance/", "/invoice/transactions", "/wallet/", "/invoice/123"} {
			resp, b, err := e.request("GET", p, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusUnauthorized || detail(t, b) == "" {
				t.Errorf("GET %s without key: %d %s", p, resp.StatusCode, b)
			}
		}
		resp, b, _ := e.request("POST", "/balance/withdraw/request", `{}`, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST without key: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("WrongKey401NotEchoed", func(t *testing.T) {
		resp, b, _ := e.request("GET", "/balance/", "", "wrong-key-xyz")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong key: %d", resp.StatusCode)
		}
		if bytes.Contains(b, []byte("wrong-key-xyz")) || bytes.Contains(b, []byte(testKey)) {
			t.Errorf("key echoed: %s", b)
		}
		for k, v := range resp.Header {
			if strings.Contains(strings.Join(v, " "), testKey) {
				t.Errorf("key echoed in header %s", k)
			}
		}
	})
	t.Run("CurrenciesWithoutKey", func(t *testing.T) {
		for _, p := range []string{"/currencies/", "/currencies", "/currencies/rates"} {
			resp, b, err := e.request("GET", p, "", "")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s without key: %v %v %s", p, err, resp.StatusCode, b)
			}
		}
	})
}

func TestCurrencies(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	curs := mustGet[[]nordpay.Currency](e, "/currencies/")
	if len(curs) != 8 {
		t.Fatalf("%d currencies", len(curs))
	}
	byName := map[string]nordpay.Currency{}
	for _, c := range curs {
		byName[c.Name] = c
		if c.IsDepositEnabled == nil || c.IsWithdrawEnabled == nil || !c.Rate.Valid {
			t.Errorf("%s lacks an assumed field: %+v", c.Name, c)
		}
	}
	u := byName["USDTBEP20"]
	if u.Decimals != 18 || u.Contract != "0x55d398326f99059fF775485246999027B3197955" || u.Confirmations != 5 ||
		!u.NetworkFee.IsZero() || !u.MinDeposit.Equal(dec("1")) || !u.MinWithdraw.Equal(dec("10")) || !u.Rate.Decimal.Equal(dec("1")) {
		t.Errorf("USDTBEP20: %+v", u)
	}
	if byName["USDCERC20"].WithdrawEnabled() {
		t.Error("USDCERC20 should have withdrawals disabled")
	}
	if !byName["BNBBEP20"].Rate.Decimal.Equal(dec("612.5")) || byName["BTC"].Decimals != 8 {
		t.Error("BNB rate or BTC decimals")
	}
	rates := mustGet[[]nordpay.Rate](e, "/currencies/rates")
	if len(rates) != 8 || rates[3].Name != "BNBBEP20" || !rates[3].Rate.Equal(dec("612.5")) {
		t.Errorf("rates: %+v", rates)
	}
	if err := e.s.SetCurrency("BTC", func(c *nordpay.Currency) { c.MinWithdraw = dec("0.001") }); err != nil {
		t.Fatal(err)
	}
	for _, c := range mustGet[[]nordpay.Currency](e, "/currencies") {
		if c.Name == "BTC" && !c.MinWithdraw.Equal(dec("0.001")) {
			t.Errorf("SetCurrency not served: %s", c.MinWithdraw)
		}
	}
	if err := e.s.SetCurrency("NOPE", func(*nordpay.Currency) {}); err == nil {
		t.Error("SetCurrency of an unknown currency succeeded")
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	t.Run("NotFound", func(t *testing.T) {
		code, b := e.get("/nope")
		if code != 404 || string(b) != `{"detail":"Not Found"}` {
			t.Errorf("%d %s", code, b)
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		resp, b, _ := e.request("GET", "/balance/withdraw/confirm", "", testKey)
		if resp.StatusCode != 405 || string(b) != `{"detail":"Method Not Allowed"}` || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%d %s %v", resp.StatusCode, b, resp.Header)
		}
		code, _ := e.post("/balance/", "{}")
		if code != 405 {
			t.Errorf("POST /balance/: %d", code)
		}
	})
	t.Run("TrailingSlash", func(t *testing.T) {
		for _, p := range []string{"/balance", "/balance/", "/invoice/transactions", "/invoice/transactions/", "/wallet", "/wallet/"} {
			if code, b := e.get(p); code != 200 {
				t.Errorf("GET %s: %d %s", p, code, b)
			}
		}
		if code, _ := e.post("/balance/withdraw/confirm/", `{"identifier":"x"}`); code != 404 {
			t.Errorf("confirm with slash: %d", code)
		}
	})
	t.Run("RequestsCounted", func(t *testing.T) {
		before := e.s.Requests("GET /balance/")
		e.get("/balance")
		e.get("/balance/")
		if got := e.s.Requests("GET /balance"); got != before+2 {
			t.Errorf("Requests = %d, want %d", got, before+2)
		}
		e.get("/invoice/1234567")
		if e.s.Requests("GET /invoice/{identifier}") < 1 || e.s.Requests("/invoice/{identifier}") < 1 {
			t.Error("parameter route not counted")
		}
		if e.s.Requests("POST /balance/withdraw/multiple/confirm") != 0 {
			t.Error("a route nobody called has requests")
		}
	})
}

func TestWallets(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	wallets := mustGet[[]nordpay.Wallet](e, "/wallet/")
	if len(wallets) != 12 {
		t.Fatalf("%d wallets", len(wallets))
	}
	seen := map[string]bool{}
	for _, w := range wallets {
		if seen[string(w.ID)] || w.Address == "" || w.Currency == "" || w.CreatedAt.IsZero() {
			t.Errorf("bad wallet %+v", w)
		}
		seen[string(w.ID)] = true
	}
	one := mustGet[nordpay.Wallet](e, "/wallet/"+string(wallets[3].ID))
	if one != wallets[3] {
		t.Errorf("GET /wallet/{id} = %+v, want %+v", one, wallets[3])
	}
	t.Run("PerWalletTransactions", func(t *testing.T) {
		all := mustGet[[]nordpay.Transaction](e, "/wallet/transactions?start_date=2026-02-10")
		sum := 0
		for _, w := range wallets {
			txs := mustGet[[]nordpay.Transaction](e, "/wallet/"+string(w.ID)+"/transactions?start_date=2026-02-10")
			for _, tx := range txs {
				if tx.Source.ID != w.ID || tx.Currency.Name != string(w.Currency) || tx.SourceType != "wallet" {
					t.Fatalf("wallet %s served %+v", w.ID, tx)
				}
			}
			sum += len(txs)
		}
		if sum != len(all) || sum < 100 {
			t.Errorf("per-wallet windows hold %d transactions, the stream %d", sum, len(all))
		}
	})
	t.Run("Create", func(t *testing.T) {
		code, b := e.post("/wallet/create", `{"currency":"BTC","label":"Cold, \"x\""}`)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var w nordpay.Wallet
		if err := nordpay.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		if w.Currency != "BTC" || w.Label != `Cold, "x"` || !strings.HasPrefix(w.Address, "bc1q") || !w.CreatedAt.Equal(t0) {
			t.Errorf("created %+v", w)
		}
		if got := mustGet[nordpay.Wallet](e, "/wallet/"+string(w.ID)); got != w {
			t.Errorf("GET created wallet = %+v", got)
		}
		if n := len(mustGet[[]nordpay.Wallet](e, "/wallet")); n != 13 {
			t.Errorf("%d wallets after create", n)
		}
		code, b = e.post("/wallet/create", `{"currency":"XXX"}`)
		if code != 422 || len(vdetailsOf(t, b)) != 2 {
			t.Errorf("bad create: %d %s", code, b)
		}
	})
	t.Run("QRCode", func(t *testing.T) {
		qr := mustGet[nordpay.QRCode](e, "/wallet/"+string(wallets[0].ID)+"/qrcode")
		raw, err := base64.StdEncoding.DecodeString(qr.QRCode)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.Bounds().Dx() < 50 {
			t.Fatalf("not a PNG: %v", err)
		}
	})
	t.Run("BadID", func(t *testing.T) {
		code, b := e.get("/wallet/abc")
		d := vdetailsOf(t, b)
		if code != 422 || len(d) != 1 || d[0].Type != "int_parsing" || locString(d[0].Loc) != "path.id" {
			t.Errorf("%d %s", code, b)
		}
		code, b = e.get("/wallet/999999999")
		if code != 404 || detail(t, b) != "Wallet not found" {
			t.Errorf("%d %s", code, b)
		}
	})
}

func TestInvoices(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	txs := mustGet[[]nordpay.Transaction](e, "/invoice/transactions?start_date=2026-02-20&end_date=2026-02-21")
	if len(txs) < 10 {
		t.Fatalf("%d transactions in a day", len(txs))
	}
	tx := txs[len(txs)/2]
	t.Run("ByIDAndUUID", func(t *testing.T) {
		byID := mustGet[nordpay.Invoice](e, "/invoice/"+string(tx.Source.ID))
		byUUID := mustGet[nordpay.Invoice](e, "/invoice/"+tx.Source.UUID)
		if byID.UUID != tx.Source.UUID || byUUID.ID != tx.Source.ID || byID.Label != tx.Source.Label ||
			!byID.Amount.Equal(tx.Source.Amount) || string(byID.Currency) != tx.Currency.Name || byID.URL == "" {
			t.Errorf("invoice %+v / %+v for tx source %+v", byID, byUUID, tx.Source)
		}
		if tx.IsPaid && byID.Status != "paid" {
			t.Errorf("status %q of a paid invoice", byID.Status)
		}
		its := mustGet[[]nordpay.Transaction](e, "/invoice/"+tx.Source.UUID+"/transactions")
		if len(its) != 1 || its[0].ID != tx.ID {
			t.Errorf("invoice transactions: %+v", its)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		for _, id := range []string{"1", "99999999", "00000000-0000-4000-8000-000000000000", tx.Source.UUID[:35] + "0", "garbage"} {
			if code, b := e.get("/invoice/" + id); code != 404 || detail(t, b) != "Invoice not found" {
				if id != tx.Source.UUID {
					t.Errorf("GET /invoice/%s: %d %s", id, code, b)
				}
			}
		}
	})
	t.Run("List", func(t *testing.T) {
		invs := mustGet[[]nordpay.Invoice](e, "/invoice/")
		if len(invs) != 3000 {
			t.Errorf("%d invoices, want 3000", len(invs))
		}
	})
	t.Run("CreateAndPay", func(t *testing.T) {
		code, b := e.post("/invoice/create", `{"currency":"USDTTRC20","amount":"200 USD","expires_time":60,"label":"Order #123","postback_url":"https://example.com/pb"}`)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var inv nordpay.Invoice
		if err := nordpay.Unmarshal(b, &inv); err != nil {
			t.Fatal(err)
		}
		if !inv.Amount.Equal(dec("200")) || inv.Status != "waiting" || !inv.ExpiresAt.Equal(t0.Add(time.Hour)) || inv.Address[0] != 'T' {
			t.Errorf("created %+v", inv)
		}
		before := e.balances()["USDTTRC20"]
		e.clock.Advance(time.Minute)
		ptx, err := e.s.PayInvoice(inv.UUID, dec("200"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.PayInvoice("nope", dec("1")); err == nil {
			t.Error("paid an unknown invoice")
		}
		got := mustGet[nordpay.Invoice](e, "/invoice/"+string(inv.ID))
		if got.Status != "paid" || !got.ReceivedAmount.Equal(dec("200")) {
			t.Errorf("after payment %+v", got)
		}
		its := mustGet[[]nordpay.Transaction](e, "/invoice/"+string(inv.ID)+"/transactions")
		if len(its) != 1 || canon(t, its[0]) != canon(t, ptx) {
			t.Errorf("invoice transactions %+v, want %+v", its, ptx)
		}
		all := mustGet[[]nordpay.Transaction](e, "/invoice/transactions?start_date="+t0.Format(time.RFC3339))
		if len(all) != 1 || all[0].ID != ptx.ID {
			t.Errorf("window after t0: %+v", all)
		}
		want := before.Add(dec("200")).Sub(dec("1")).Sub(dec("2")) // network fee 1, service fee 1%
		if got := e.balances()["USDTTRC20"]; !got.Equal(want) {
			t.Errorf("balance %s, want %s", got, want)
		}
	})
	t.Run("CreateValidation", func(t *testing.T) {
		code, b := e.post("/invoice/create", `{"currency":"BTC","allowed_currencies":["ETHERC20"],"amount":"1"}`)
		if d := vdetailsOf(t, b); code != 422 || d[0].Type != "value_error" {
			t.Errorf("both currencies: %d %s", code, b)
		}
		code, b = e.post("/invoice/create", `{"currency":"BTC","amount":"1","expires_time":1}`)
		if d := vdetailsOf(t, b); code != 422 || d[0].Type != "greater_than_equal" || d[0].Ctx["ge"] != float64(30) {
			t.Errorf("expires_time 1: %d %s", code, b)
		}
		code, b = e.post("/invoice/create", `{"currency":"BTC","amount":"1 EUR"}`)
		if d := vdetailsOf(t, b); code != 422 || locString(d[0].Loc) != "body.amount" {
			t.Errorf("unit EUR: %d %s", code, b)
		}
		code, b = e.post("/invoice/create", `{"allowed_currencies":["BTC","ETHERC20"],"amount":"50"}`)
		if code != 200 || !bytes.Contains(b, []byte(`"currency":null`)) {
			t.Errorf("multi-currency invoice: %d %s", code, b)
		}
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	base := func() Options { o := DefaultOptions(t0); o.APIKey = "k"; return o }
	cases := map[string]func(*Options){
		"NoKey":            func(o *Options) { o.APIKey = "" },
		"EndBeforeStart":   func(o *Options) { o.Invoices.End = o.Invoices.Start },
		"NegativeCount":    func(o *Options) { o.Wallets.Count = -1 },
		"RateOver1":        func(o *Options) { o.Faults.Rate = 1.5 },
		"UnknownBalance":   func(o *Options) { o.InitialBalances["DOGE"] = dec("1") },
		"UnknownFee":       func(o *Options) { o.WithdrawFees["DOGE"] = Fee{} },
		"LateWithoutDelay": func(o *Options) { o.Invoices.LateDelay = 0 },
		"TooManyDecimals":  func(o *Options) { o.Currencies[1].NetworkFee = dec("0.0000001") },
		"DuplicateCurrency": func(o *Options) {
			o.Currencies = append(o.Currencies, o.Currencies[0])
		},
	}
	for name, mutate := range cases {
		o := base()
		mutate(&o)
		if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := New(base()); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := New(Options{APIKey: "k"}); err != nil {
		t.Errorf("zero options with a key: %v", err)
	}
}
