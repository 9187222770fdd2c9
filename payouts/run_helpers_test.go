package payouts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// Routes of the sandbox that payout tests count and fault.
const (
	routeRequest = "POST /balance/withdraw/multiple/request"
	routeConfirm = "POST /balance/withdraw/multiple/confirm"
	routeBalance = "GET /balance/"
)

var (
	testNow = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	d       = decimal.RequireFromString
	// errKilled stands for a process that died at a hook point.
	errKilled = errors.New("killed here by the test")
)

// testPolicy charges what the sandbox charges (DefaultOptions' WithdrawFees), so the fee
// checks pass unless a test changes them.
func testPolicy() payouts.Policy {
	return payouts.Policy{
		Approvers:      1,
		ApprovalTTL:    24 * time.Hour,
		RowsPerRequest: 3,
		Fees: map[string]payouts.Fee{
			"USDTBEP20": {Fixed: d("0.5"), Percent: d("0.5")},
			"USDTTRC20": {Fixed: d("1"), Percent: d("0.5")},
		},
		FeeCeilingPercent: d("15"),
		MinQuoteLifetime:  30 * time.Second,
	}
}

// bundle is what a payout test works with.
type bundle struct {
	db      *sqlx.DB
	ledger  *ledger.Store
	store   *payouts.Store
	sb      *sandbox.Server
	clock   *sandbox.Clock
	client  *nordpay.Client
	runner  *payouts.Runner
	policy  payouts.Policy
	current map[string]nordpay.Currency
}

type setupOptions struct {
	policy  payouts.Policy
	sandbox func(*sandbox.Options)
	handler func(http.Handler) http.Handler
}

// setup builds a database, a sandbox on a settable clock (no generated transactions), a
// client with fast retries, a store and a runner.
func setup(t *testing.T, mods ...func(*setupOptions)) *bundle {
	t.Helper()
	o := setupOptions{policy: testPolicy()}
	for _, m := range mods {
		m(&o)
	}
	clock := sandbox.NewClock(testNow)
	so := sandbox.DefaultOptions(testNow)
	so.APIKey = "payout-key"
	so.Now = clock.Now
	so.Invoices, so.Wallets, so.WalletCount = sandbox.Generator{}, sandbox.Generator{}, 1
	if o.sandbox != nil {
		o.sandbox(&so)
	}
	sb, err := sandbox.New(so)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = sb
	if o.handler != nil {
		h = o.handler(sb)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client, err := nordpay.New(nordpay.Options{
		BaseURL: srv.URL, APIKey: "payout-key", MaxRetries: 4,
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	conn := dbtest.New(t)
	l := ledger.NewStore(conn, ledger.DefaultChart())
	st := payouts.NewStore(l, o.policy)
	st.Now = clock.Now
	cur := map[string]nordpay.Currency{}
	for _, c := range sandbox.DefaultCurrencies() {
		cur[c.Name] = c
	}
	return &bundle{
		db: conn, ledger: l, store: st, sb: sb, clock: clock, client: client, policy: st.Policy(), current: cur,
		runner: &payouts.Runner{Store: st, Client: client, Actor: "test run",
			Sleep: func(context.Context, time.Duration) error { return nil }},
	}
}

// address makes a distinct EVM-looking address per seed.
func address(seed string) string {
	h := sha256.Sum256([]byte(seed))
	return "0x" + hex.EncodeToString(h[:20])
}

// rows makes n rows of currency, lines from first, amounts 10, 11, 12, ...
func rows(currency string, first, n int) []payouts.Row {
	out := make([]payouts.Row, n)
	for i := range out {
		ref := fmt.Sprintf("%s-%03d", currency, first+i)
		out[i] = payouts.Row{Line: first + i, Currency: currency, Address: address(ref),
			Amount: decimal.NewFromInt(int64(10 + i)), Reference: ref, Name: "Payee " + ref}
	}
	return out
}

// sheetOf wraps rows in a sheet whose hash depends on its content and salt.
func sheetOf(salt string, rs ...[]payouts.Row) *payouts.Sheet {
	sh := &payouts.Sheet{Name: "payouts-" + salt + ".csv", Format: "csv"}
	h := sha256.New()
	fmt.Fprintln(h, salt)
	for _, part := range rs {
		for _, r := range part {
			sh.Rows = append(sh.Rows, r)
			fmt.Fprintln(h, r.Line, r.Currency, r.Address, r.Amount, r.Reference)
		}
	}
	sh.SHA256 = hex.EncodeToString(h.Sum(nil))
	return sh
}

// importSheet imports a sheet as alice.
func (b *bundle) importSheet(t *testing.T, sh *payouts.Sheet) *payouts.Batch {
	t.Helper()
	batch, err := b.store.Import(context.Background(), payouts.ImportRequest{
		Sheet: sh, By: "alice", ExpectedFee: b.policy.ExpectedFeeFunc(b.current)})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return batch
}

// approved imports a standard sheet (5 USDTTRC20 rows, 2 USDTBEP20 rows) and has bob approve it.
func (b *bundle) approved(t *testing.T) (*payouts.Batch, []payouts.Row) {
	t.Helper()
	trc, bep := rows("USDTTRC20", 2, 5), rows("USDTBEP20", 7, 2)
	batch := b.importSheet(t, sheetOf(t.Name(), trc, bep))
	if _, err := b.store.Approve(context.Background(), batch.ID, "bob", payouts.ApproveOptions{}); err != nil {
		t.Fatalf("approve: %v", err)
	}
	return batch, append(trc, bep...)
}

// run runs the batch and returns the result and error.
func (b *bundle) run(t *testing.T, batch string) (*payouts.RunResult, error) {
	t.Helper()
	return b.runner.Run(context.Background(), batch, payouts.RunOptions{})
}

// status reads a batch's status.
func (b *bundle) status(t *testing.T, batch string) *payouts.BatchStatus {
	t.Helper()
	st, err := b.store.Status(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// payKey names a payment by what identifies a row.
func payKey(currency, address string, amount decimal.Decimal) string {
	return currency + " " + address + " " + amount.String()
}

// paidAtMostOnce checks the sandbox's own record: no row paid twice, nothing paid that is not
// a row. It returns how many rows were paid.
func (b *bundle) paidAtMostOnce(t *testing.T, rs []payouts.Row) int {
	t.Helper()
	want := map[string]bool{}
	for _, r := range rs {
		want[payKey(r.Currency, r.Address, r.Amount)] = true
	}
	seen := map[string]int{}
	for _, p := range b.sb.Payments() {
		k := payKey(p.Currency, p.Address, p.Amount)
		if !want[k] {
			t.Errorf("the sandbox paid %s, which is no row", k)
		}
		seen[k]++
		if seen[k] > 1 {
			t.Errorf("ROW PAID TWICE: %s (identifier %s)", k, p.Identifier)
		}
	}
	return len(seen)
}

// paidExactlyOnce checks that every row was paid once.
func (b *bundle) paidExactlyOnce(t *testing.T, rs []payouts.Row) {
	t.Helper()
	if n := b.paidAtMostOnce(t, rs); n != len(rs) {
		t.Errorf("%d of %d rows paid", n, len(rs))
	}
}

// ledgerMatchesSandbox checks that the ledger booked exactly what the sandbox paid, and that
// `ledger verify` passes.
func (b *bundle) ledgerMatchesSandbox(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	paid, fees := map[string]decimal.Decimal{}, map[string]decimal.Decimal{}
	for _, p := range b.sb.Payments() {
		paid[p.Currency] = paid[p.Currency].Add(p.Amount)
		fees[p.Currency] = fees[p.Currency].Add(p.ServiceFee)
	}
	bs, err := b.ledger.Balances(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]decimal.Decimal{}
	for _, bal := range bs {
		got[bal.Account] = bal.Balance
	}
	for cur, amount := range paid {
		if a := got["assets:nordpay:"+cur]; !a.Equal(amount.Neg()) {
			t.Errorf("assets:nordpay:%s = %s, the sandbox paid %s", cur, a, amount)
		}
		if p := got["payouts:"+cur]; !p.Equal(amount.Sub(fees[cur])) {
			t.Errorf("payouts:%s = %s, want %s", cur, p, amount.Sub(fees[cur]))
		}
		if f := got["expenses:fees:withdraw:"+cur]; !f.Equal(fees[cur]) {
			t.Errorf("expenses:fees:withdraw:%s = %s, want %s", cur, f, fees[cur])
		}
	}
	var entries int
	if err := b.db.Get(&entries, `SELECT count(*) FROM journal_entries WHERE source = 'withdrawal'`); err != nil {
		t.Fatal(err)
	}
	if entries != len(b.sb.Payments()) {
		t.Errorf("%d withdrawal entries for %d payments", entries, len(b.sb.Payments()))
	}
	rep, err := b.ledger.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("ledger verify fails: %+v", rep.Checks)
	}
}

// chunkStates lists the chunks' states in order, "1:confirmed 2:unknown".
func chunkStates(st *payouts.BatchStatus) string {
	var parts []string
	for _, c := range st.Chunks {
		parts = append(parts, fmt.Sprintf("%d:%s", c.N, c.State))
	}
	return strings.Join(parts, " ")
}

// tamper rewrites the JSON answers of one route, for quotes that do not match.
func tamper(route string, f func(m map[string]any)) func(http.Handler) http.Handler {
	method, path, _ := strings.Cut(route, " ")
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method || strings.TrimSuffix(r.URL.Path, "/") != strings.TrimSuffix(path, "/") {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if rec.Code == http.StatusOK {
				var m map[string]any
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.UseNumber()
				if err := dec.Decode(&m); err == nil {
					f(m)
					if b, err := json.Marshal(m); err == nil {
						body = b
					}
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			_, _ = io.Copy(w, bytes.NewReader(body))
		})
	}
}

// counter counts calls across goroutines.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
	return c.n[k]
}
