package nordpay_test

// The client against the sandbox over real HTTP: every endpoint, every documented error.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/shopspring/decimal"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bundle is what a sandbox test needs.
type bundle struct {
	client *nordpay.Client
	sb     *sandbox.Server
	clock  *sandbox.Clock
	url    string
	key    string
	opts   sandbox.Options
	logs   *syncBuffer
}

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// setup starts a sandbox with a small generated history and a client for it. The client logs
// at debug level into b.logs and never sleeps between retries.
func setup(t *testing.T, mod ...func(*sandbox.Options)) *bundle {
	t.Helper()
	clk := sandbox.NewClock(testNow)
	opts := sandbox.DefaultOptions(testNow)
	opts.APIKey = "sk-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	opts.Now = clk.Now
	opts.Invoices.Count = 2000
	opts.Wallets.Count = 1000
	for _, f := range mod {
		f(&opts)
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	client, err := nordpay.New(nordpay.Options{
		BaseURL: srv.URL,
		APIKey:  nordpay.Secret(opts.APIKey),
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:   func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{client: client, sb: sb, clock: clk, url: srv.URL, key: opts.APIKey, opts: opts, logs: logs}
}

func currencyByName(t *testing.T, cs []nordpay.Currency, name string) nordpay.Currency {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("currency %s not listed", name)
	return nordpay.Currency{}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	c := b.client

	t.Run("Currencies", func(t *testing.T) {
		cs, err := c.Currencies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"USDTBEP20", "USDTTRC20", "USDTERC20", "BNBBEP20", "ETHERC20", "TRXTRC20", "BTC"} {
			cur := currencyByName(t, cs, name)
			if !cur.WithdrawEnabled() || cur.MinWithdraw.Sign() <= 0 || !cur.Rate.Valid {
				t.Errorf("%s: %+v", name, cur)
			}
		}
		if cur := currencyByName(t, cs, "USDTBEP20"); cur.Decimals != 18 || cur.Token != "USDT" || cur.Network != "BEP20" {
			t.Errorf("USDTBEP20 = %+v", cur)
		}
	})
	t.Run("Rates", func(t *testing.T) {
		rs, err := c.Rates(ctx)
		if err != nil || len(rs) == 0 {
			t.Fatalf("rates %v, err %v", rs, err)
		}
		for _, r := range rs {
			if r.Name == "BNBBEP20" && !r.Rate.Equal(decimal.RequireFromString("612.5")) {
				t.Errorf("BNB rate %s", r.Rate)
			}
		}
	})
	t.Run("Balances", func(t *testing.T) {
		bs, err := c.Balances(ctx)
		if err != nil || len(bs) == 0 {
			t.Fatalf("balances %v, err %v", bs, err)
		}
	})
	t.Run("InvoicesAndTheirTransactions", func(t *testing.T) {
		var first nordpay.Invoice
		n := 0
		for inv, err := range c.Invoices(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				first = *inv
			}
			n++
		}
		if n == 0 || first.ID == "" || first.UUID == "" {
			t.Fatalf("%d invoices, first %+v", n, first)
		}
		byID, err := c.Invoice(ctx, first.ID.String())
		if err != nil {
			t.Fatal(err)
		}
		byUUID, err := c.Invoice(ctx, first.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if byID.ID != first.ID || byUUID.ID != first.ID {
			t.Fatalf("by id %+v, by uuid %+v, want %s", byID, byUUID, first.ID)
		}
		found := 0
		for tx, err := range c.InvoiceTransactionsOf(ctx, first.ID.String(), nordpay.Window{}) {
			if err != nil {
				t.Fatal(err)
			}
			if tx.Source.ID != first.ID || tx.SourceType != nordpay.SourceInvoice {
				t.Fatalf("transaction of another invoice: %+v", tx)
			}
			found++
		}
		if found == 0 {
			t.Fatalf("invoice %s has no transactions", first.ID)
		}
		if _, err := c.Invoice(ctx, "no-such-invoice"); !errors.Is(err, nordpay.ErrNotFound) {
			t.Fatalf("unknown invoice: err %v", err)
		}
	})
	t.Run("CreateInvoiceAndPayIt", func(t *testing.T) {
		inv, err := c.CreateInvoice(ctx, nordpay.CreateInvoiceRequest{
			Currency: "USDTBEP20", Amount: "200 USD", ExpiresTime: 60, Label: "Order #123",
			PostbackURL: "https://example.com/postback",
		})
		if err != nil {
			t.Fatal(err)
		}
		if inv.ID == "" || inv.UUID == "" || inv.Address == "" || inv.Label != "Order #123" {
			t.Fatalf("created %+v", inv)
		}
		got, err := c.Invoice(ctx, inv.UUID)
		if err != nil || got.ID != inv.ID {
			t.Fatalf("get %+v, err %v", got, err)
		}
		if _, err := b.sb.PayInvoice(inv.ID.String(), decimal.RequireFromString("200")); err != nil {
			t.Fatal(err)
		}
		var txs []nordpay.Transaction
		for tx, err := range c.InvoiceTransactionsOf(ctx, inv.UUID, nordpay.Window{}) {
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, *tx)
		}
		if len(txs) != 1 || !txs[0].Amount.Equal(decimal.NewFromInt(200)) || !txs[0].IsPaid {
			t.Fatalf("transactions of the paid invoice: %+v", txs)
		}
		_, err = c.CreateInvoice(ctx, nordpay.CreateInvoiceRequest{Currency: "USDTBEP20", Amount: "1", ExpiresTime: 5, Label: "x"})
		if !errors.Is(err, nordpay.ErrValidation) {
			t.Fatalf("expires_time 5: err %v", err)
		}
	})
	t.Run("WalletsAndTheirTransactions", func(t *testing.T) {
		var wallets []nordpay.Wallet
		for w, err := range c.Wallets(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			wallets = append(wallets, *w)
		}
		if len(wallets) == 0 {
			t.Fatal("no wallets")
		}
		w, err := c.Wallet(ctx, wallets[0].ID.String())
		if err != nil || w.Address != wallets[0].Address {
			t.Fatalf("wallet %+v, err %v", w, err)
		}
		qr, err := c.WalletQRCode(ctx, w.ID.String())
		if err != nil {
			t.Fatal(err)
		}
		png, err := base64.StdEncoding.DecodeString(qr)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("qrcode is not a base64 PNG: %v", err)
		}
		all := 0
		for tx, err := range c.WalletTransactions(ctx, nordpay.Window{Start: testNow.AddDate(0, 0, -40), End: testNow}) {
			if err != nil {
				t.Fatal(err)
			}
			if tx.SourceType != nordpay.SourceWallet {
				t.Fatalf("source type %q", tx.SourceType)
			}
			all++
		}
		mine := 0
		for tx, err := range c.WalletTransactionsOf(ctx, w.ID.String(), nordpay.Window{}) {
			if err != nil {
				t.Fatal(err)
			}
			if tx.Source.ID != w.ID || tx.Currency.Name != string(w.Currency) {
				t.Fatalf("transaction %s of wallet %s in %s, want wallet %s in %s", tx.ID, tx.Source.ID, tx.Currency.Name, w.ID, w.Currency)
			}
			mine++
		}
		if all == 0 || mine == 0 || mine >= all {
			t.Fatalf("wallet transactions: %d in all, %d of wallet %s", all, mine, w.ID)
		}
		created, err := c.CreateWallet(ctx, nordpay.CreateWalletRequest{Currency: "USDTTRC20", Label: "Shop 2"})
		if err != nil || created.ID == "" || created.Currency != "USDTTRC20" || created.Address == "" {
			t.Fatalf("created %+v, err %v", created, err)
		}
	})
	t.Run("SingleWithdraw", func(t *testing.T) {
		q, err := c.RequestWithdraw(ctx, nordpay.WithdrawRequest{Currency: "USDTTRC20", Address: "TAMCL27geZuMxmsxp5L5VyafAA8BmYUdvp", Amount: decimal.RequireFromString("12.5")})
		if err != nil {
			t.Fatal(err)
		}
		if q.Identifier == "" || !q.Amount.Equal(decimal.RequireFromString("12.5")) || !q.ExpiresAt.After(testNow) {
			t.Fatalf("quote %+v", q)
		}
		conf, err := c.ConfirmWithdraw(ctx, q.Identifier)
		if err != nil || conf.Status != "pending" || conf.ID == "" {
			t.Fatalf("confirm %+v, err %v", conf, err)
		}
	})
	t.Run("MultipleWithdraw", func(t *testing.T) {
		before := len(b.sb.Payments())
		req := nordpay.MultiWithdrawRequest{Currency: "USDTBEP20", AddressesAndAmounts: []nordpay.Payee{
			{Address: "0x52908400098527886E0F7030069857D2E4169EE7", Amount: decimal.RequireFromString("10.000000000000000001")},
			{Address: "0x8617E340B3D01FA5F11F306F4090FD50E238070D", Amount: decimal.RequireFromString("25")},
		}}
		q, err := c.RequestMultiWithdraw(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(q.AddressesAndAmounts) != 2 || !q.Amount.Equal(decimal.RequireFromString("35.000000000000000001")) ||
			!q.AddressesAndAmounts[0].Amount.Equal(req.AddressesAndAmounts[0].Amount) {
			t.Fatalf("quote %+v", q)
		}
		fees := decimal.Zero
		for _, row := range q.AddressesAndAmounts {
			fees = fees.Add(row.ServiceFee)
		}
		if !fees.Equal(q.ServiceFee) {
			t.Fatalf("row fees sum to %s, quote says %s", fees, q.ServiceFee)
		}
		if _, err := c.ConfirmMultiWithdraw(ctx, q.Identifier); err != nil {
			t.Fatal(err)
		}
		paid := b.sb.Payments()[before:]
		if len(paid) != 2 || paid[0].Identifier != q.Identifier || !paid[0].Amount.Equal(req.AddressesAndAmounts[0].Amount) {
			t.Fatalf("sandbox paid %+v", paid)
		}
	})
}

func TestDocumentedErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	c := b.client
	payee := func(amount string) []nordpay.Payee {
		return []nordpay.Payee{{Address: "0x52908400098527886E0F7030069857D2E4169EE7", Amount: decimal.RequireFromString(amount)}}
	}
	cs, err := c.Currencies(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Unauthorized", func(t *testing.T) {
		wrong, err := nordpay.New(nordpay.Options{BaseURL: b.url, APIKey: "wrong-key"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wrong.Balances(ctx); !errors.Is(err, nordpay.ErrUnauthorized) {
			t.Fatalf("wrong key: %v", err)
		}
		none, _ := nordpay.New(nordpay.Options{BaseURL: b.url})
		if _, err := none.Balances(ctx); !errors.Is(err, nordpay.ErrUnauthorized) {
			t.Fatalf("no key: %v", err)
		}
		if _, err := none.Currencies(ctx); err != nil {
			t.Fatalf("currencies need no key: %v", err)
		}
	})
	t.Run("Validation", func(t *testing.T) {
		_, err := c.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDTBEP20"})
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrValidation) || !errors.As(err, &e) || len(e.Details) == 0 || e.Status != 422 {
			t.Fatalf("empty list: %v", err)
		}
		_, err = c.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDTBEP20", AddressesAndAmounts: payee("-5")})
		if !errors.Is(err, nordpay.ErrValidation) || !strings.Contains(err.Error(), "amount") {
			t.Fatalf("negative amount: %v", err)
		}
	})
	t.Run("NotEnoughBalance", func(t *testing.T) {
		_, err := c.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDTBEP20", AddressesAndAmounts: payee("999999999999")})
		if !errors.Is(err, nordpay.ErrNotEnoughBalance) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("BelowMinimum", func(t *testing.T) {
		min := currencyByName(t, cs, "USDTERC20").MinWithdraw
		_, err := c.RequestWithdraw(ctx, nordpay.WithdrawRequest{Currency: "USDTERC20", Address: "0x52908400098527886E0F7030069857D2E4169EE7", Amount: min.Sub(decimal.New(1, -6))})
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrBelowMinimum) || !errors.As(err, &e) || e.Currency != "USDTERC20" || !e.Minimum.Equal(min) {
			t.Fatalf("err %v (minimum %s, want %s)", err, e.Minimum, min)
		}
	})
	t.Run("CurrencyUnavailable", func(t *testing.T) {
		_, err := c.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDCERC20", AddressesAndAmounts: payee("100")})
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrCurrencyUnavailable) || !errors.As(err, &e) || e.Currency != "USDCERC20" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("RequestNotFound", func(t *testing.T) {
		if _, err := c.ConfirmMultiWithdraw(ctx, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, nordpay.ErrRequestNotFound) {
			t.Fatalf("unknown identifier: %v", err)
		}
		q, err := c.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDTBEP20", AddressesAndAmounts: payee("11")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ConfirmMultiWithdraw(ctx, q.Identifier); err != nil {
			t.Fatal(err)
		}
		_, err = c.ConfirmMultiWithdraw(ctx, q.Identifier)
		if !errors.Is(err, nordpay.ErrRequestNotFound) || nordpay.OutcomeUnknown(err) {
			t.Fatalf("second confirm: %v", err)
		}
		if _, err := c.ConfirmWithdraw(ctx, q.Identifier); !errors.Is(err, nordpay.ErrRequestNotFound) {
			t.Fatalf("a multiple identifier at the single confirm: %v", err)
		}
	})
	t.Run("RequestExpired", func(t *testing.T) {
		eb := setup(t)
		q, err := eb.client.RequestWithdraw(ctx, nordpay.WithdrawRequest{Currency: "USDTBEP20", Address: "0x52908400098527886E0F7030069857D2E4169EE7", Amount: decimal.NewFromInt(20)})
		if err != nil {
			t.Fatal(err)
		}
		eb.clock.Advance(eb.opts.QuoteTTL + time.Second)
		_, err = eb.client.ConfirmWithdraw(ctx, q.Identifier)
		if !errors.Is(err, nordpay.ErrRequestExpired) || len(eb.sb.Payments()) != 0 {
			t.Fatalf("err %v, payments %v", err, eb.sb.Payments())
		}
	})
	t.Run("RateLimited", func(t *testing.T) {
		b.sb.InjectFault("POST /balance/withdraw/multiple/request", sandbox.Fault429)
		_, err := c.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDTBEP20", AddressesAndAmounts: payee("11")})
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrRateLimited) || !errors.As(err, &e) || e.RetryAfter <= 0 {
			t.Fatalf("err %v", err)
		}
		b.sb.InjectFault("GET /balance/", sandbox.Fault429)
		if _, err := c.Balances(ctx); err != nil {
			t.Fatalf("a read is retried after 429: %v", err)
		}
	})
	t.Run("ServerError", func(t *testing.T) {
		b.sb.InjectFault("POST /balance/withdraw/request", sandbox.Fault500)
		before := b.sb.Requests("POST /balance/withdraw/request")
		_, err := c.RequestWithdraw(ctx, nordpay.WithdrawRequest{Currency: "USDTBEP20", Address: "0x52908400098527886E0F7030069857D2E4169EE7", Amount: decimal.NewFromInt(20)})
		if !errors.Is(err, nordpay.ErrServer) || b.sb.Requests("POST /balance/withdraw/request") != before+1 {
			t.Fatalf("err %v; a write was sent %d times", err, b.sb.Requests("POST /balance/withdraw/request")-before)
		}
		b.sb.InjectFault("GET /currencies/", sandbox.Fault502)
		b.sb.InjectFault("GET /currencies/", sandbox.Fault500)
		if _, err := c.Currencies(ctx); err != nil {
			t.Fatalf("a read is retried after 5xx: %v", err)
		}
	})
	t.Run("LostConfirmAnswer", func(t *testing.T) {
		q, err := c.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{Currency: "USDTBEP20", AddressesAndAmounts: payee("12")})
		if err != nil {
			t.Fatal(err)
		}
		before := len(b.sb.Payments())
		b.sb.InjectFault("POST /balance/withdraw/multiple/confirm", sandbox.FaultLostAnswer)
		_, err = c.ConfirmMultiWithdraw(ctx, q.Identifier)
		if !nordpay.OutcomeUnknown(err) || !errors.Is(err, nordpay.ErrTransport) {
			t.Fatalf("lost answer: %v", err)
		}
		if got := len(b.sb.Payments()) - before; got != 1 {
			t.Fatalf("the sandbox paid %d rows; the confirm did execute", got)
		}
	})
}

// TestBalanceEqualsServedTransactions checks exact decoding end to end: the sum of nets of every
// paid transaction streamed over day windows, plus the initial balances, equals /balance/ to
// the last decimal, whatever spelling the numbers came in.
func TestBalanceEqualsServedTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(o *sandbox.Options) { o.EndDateInclusive = false })
	sum := map[string]decimal.Decimal{}
	for cur, amt := range b.opts.InitialBalances {
		sum[cur] = amt
	}
	seen := map[string]bool{}
	start := b.opts.Invoices.Start.Truncate(24 * time.Hour)
	for day := start; day.Before(testNow); day = day.Add(24 * time.Hour) {
		w := nordpay.Window{Start: day, End: day.Add(24 * time.Hour)}
		for _, source := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
			for tx, err := range b.client.Transactions(ctx, source, w) {
				if err != nil {
					t.Fatal(err)
				}
				key := source + "/" + tx.ID.String()
				if seen[key] {
					t.Fatalf("%s served twice with an exclusive end", key)
				}
				seen[key] = true
				if tx.IsPaid {
					sum[tx.Currency.Name] = sum[tx.Currency.Name].Add(tx.Net())
				}
			}
		}
	}
	bs, err := b.client.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bal := range bs {
		if !bal.Balance.Equal(sum[bal.Currency]) {
			t.Errorf("%s: /balance/ %s, sum of served nets %s", bal.Currency, bal.Balance, sum[bal.Currency])
		}
	}
}

func TestLateTransactionsAppearLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(o *sandbox.Options) {
		o.Invoices.LateRate = 0.5
		o.Invoices.LateDelay = 6 * time.Hour
	})
	w := nordpay.Window{Start: testNow.Add(-3 * time.Hour), End: testNow}
	count := func() int {
		n := 0
		for _, err := range b.client.InvoiceTransactions(ctx, w) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	before := count()
	b.clock.Advance(7 * time.Hour)
	if after := count(); after <= before {
		t.Fatalf("the window held %d transactions, and %d after the late ones arrived", before, after)
	}
}

func TestStreamFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	w := nordpay.Window{Start: testNow.AddDate(0, 0, -30), End: testNow}
	count := func() (int, error) {
		n := 0
		for _, err := range b.client.InvoiceTransactions(ctx, w) {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	want, err := count()
	if err != nil {
		t.Fatal(err)
	}
	b.sb.InjectFault("GET /invoice/transactions", sandbox.FaultDrop)
	b.sb.InjectFault("GET /invoice/transactions", sandbox.Fault502)
	if got, err := count(); err != nil || got != want {
		t.Fatalf("after a drop and a 502: %d transactions, err %v; want %d", got, err, want)
	}
	b.sb.InjectFault("GET /invoice/transactions", sandbox.FaultMidStream)
	got, err := count()
	if err == nil {
		// A cut before the first element is retried; a later one must be an error.
		if got != want {
			t.Fatalf("mid-stream cut: %d of %d without an error", got, want)
		}
	} else if !errors.Is(err, nordpay.ErrTransport) || got >= want {
		t.Fatalf("mid-stream cut: %d of %d, err %v", got, want, err)
	}
}

// TestKeyNeverLeaks drives every path that prints: debug logs of every call and retry, every
// error kind, dumps of the client.
func TestKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(o *sandbox.Options) { o.APIKey = "sk-live-DO-NOT-LEAK-4242" })
	var outputs []string
	keep := func(v any, err error) {
		if err != nil {
			outputs = append(outputs, err.Error(), sprintf("%v %+v %#v", err, err, err))
		}
	}
	keep(b.client.Balances(ctx))
	b.sb.InjectFault("GET /balance/", sandbox.Fault500)
	keep(b.client.Balances(ctx))
	b.sb.InjectFault("POST /balance/withdraw/confirm", sandbox.FaultDrop)
	keep(b.client.ConfirmWithdraw(ctx, "x"))
	keep(b.client.ConfirmWithdraw(ctx, "x"))
	keep(b.client.RequestMultiWithdraw(ctx, nordpay.MultiWithdrawRequest{}))
	keep(b.client.Invoice(ctx, "missing"))
	wrong, _ := nordpay.New(nordpay.Options{BaseURL: b.url, APIKey: "sk-live-DO-NOT-LEAK-4243"})
	keep(wrong.Balances(ctx))
	for _, err := range b.client.InvoiceTransactions(ctx, nordpay.Window{Start: testNow.Add(-time.Hour)}) {
		keep(nil, err)
	}
	outputs = append(outputs, b.logs.String(), sprintf("%v %+v %#v %s", b.client, b.client, b.client, b.client),
		sprintf("%+v", struct{ C *nordpay.Client }{b.client}))
	if len(outputs) < 10 || !strings.Contains(b.logs.String(), "path=/balance/") {
		t.Fatalf("the test did not exercise the outputs it checks: %d outputs, logs %q", len(outputs), b.logs.String())
	}
	for _, out := range outputs {
		if strings.Contains(out, "DO-NOT-LEAK") {
			t.Fatalf("the API key leaked: %s", out)
		}
	}
}
