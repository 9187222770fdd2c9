package sandbox

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// gridEnv serves 1000 invoice transactions, one per second from 2026-01-01T00:00:00Z, with
// the clock well after the last one.
func gridEnv(t *testing.T, inclusive bool) (*env, time.Time) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := setup(t, func(o *Options) {
		o.Invoices = Generator{Start: start, End: start.Add(1000 * time.Second), Count: 1000}
		o.Wallets.Count = 0
		o.EndDateInclusive = inclusive
	})
	e.clock.Set(start.Add(2000 * time.Second))
	return e, start
}

func windowQuery(start, end string) string {
	v := url.Values{}
	if start != "" {
		v.Set("start_date", start)
	}
	if end != "" {
		v.Set("end_date", end)
	}
	return "/invoice/transactions?" + v.Encode()
}

func TestWindowBoundaries(t *testing.T) {
	t.Parallel()
	for _, inclusive := range []bool{true, false} {
		e, start := gridEnv(t, inclusive)
		at := func(sec int) string { return start.Add(time.Duration(sec) * time.Second).Format(time.RFC3339Nano) }
		extra := 0
		if inclusive {
			extra = 1
		}
		cases := []struct {
			name, start, end string
			first, n         int
		}{
			{"Both", at(10), at(20), 10, 10 + extra},
			{"EndJustBefore", at(10), start.Add(20*time.Second - time.Microsecond).Format(time.RFC3339Nano), 10, 10},
			{"StartOnly", at(990), "", 990, 10},
			{"EndOnly", "", at(5), 0, 5 + extra},
			{"None", "", "", 0, 1000},
			{"DateStart", "2026-01-01", at(3), 0, 3 + extra},
			{"DateEndAfterAll", "", "2026-01-02", 0, 1000},
			{"NoZone", "2026-01-01T00:00:10", "2026-01-01T00:00:20", 10, 10 + extra},
			{"Offset", "2026-01-01T01:00:10+01:00", "2026-01-01T01:00:20+01:00", 10, 10 + extra},
			{"Empty", at(20), at(10), 0, 0},
			{"AfterAll", at(5000), "", 0, 0},
		}
		for _, c := range cases {
			txs := mustGet[[]nordpay.Transaction](e, windowQuery(c.start, c.end))
			if len(txs) != c.n {
				t.Errorf("inclusive=%v %s: %d transactions, want %d", inclusive, c.name, len(txs), c.n)
				continue
			}
			for k, tx := range txs {
				if want := start.Add(time.Duration(c.first+k) * time.Second); !tx.CreatedAt.Equal(want) {
					t.Errorf("inclusive=%v %s: tx %d created %s, want %s", inclusive, c.name, k, tx.CreatedAt, want)
					break
				}
			}
		}
		// The Go view agrees with the served window.
		from, to := start.Add(10*time.Second), start.Add(20*time.Second)
		n := 0
		for range e.s.Transactions(nordpay.SourceInvoice, from, to) {
			n++
		}
		if n != 10+extra {
			t.Errorf("inclusive=%v: Transactions yields %d", inclusive, n)
		}
	}
}

func TestNotYetCreatedNotServed(t *testing.T) {
	t.Parallel()
	e, start := gridEnv(t, true)
	e.clock.Set(start.Add(100*time.Second + 500*time.Millisecond))
	if n := len(mustGet[[]nordpay.Transaction](e, "/invoice/transactions")); n != 101 {
		t.Errorf("%d served, want 101 (created_at <= now)", n)
	}
}

func TestGoViewMatchesWire(t *testing.T) {
	t.Parallel()
	e := setup(t, nil) // spellings on
	for _, src := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
		from, to := t0.Add(-6*24*time.Hour), t0.Add(-3*24*time.Hour)
		path := "/" + src + "/transactions?start_date=" + url.QueryEscape(from.Format(time.RFC3339)) + "&end_date=" + url.QueryEscape(to.Format(time.RFC3339))
		served := mustGet[[]nordpay.Transaction](e, path)
		var view []nordpay.Transaction
		for tx := range e.s.Transactions(src, from, to) {
			view = append(view, tx)
		}
		if len(served) < 100 || len(served) != len(view) {
			t.Fatalf("%s: served %d, view %d", src, len(served), len(view))
		}
		for i := range served {
			if a, b := canon(t, served[i]), canon(t, view[i]); a != b {
				t.Fatalf("%s tx %d differs:\nwire %s\nview %s", src, i, a, b)
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	fetch := func(seed int64) [][]byte {
		e := setup(t, func(o *Options) { o.Seed = seed })
		var out [][]byte
		for _, p := range []string{"/invoice/transactions", "/wallet/transactions", "/invoice/", "/wallet/", "/balance/"} {
			_, b := e.get(p)
			out = append(out, b)
		}
		return out
	}
	a, b, c := fetch(1), fetch(1), fetch(2)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Errorf("answer %d differs between two sandboxes of seed 1", i)
		}
		if i < 4 && bytes.Equal(a[i], c[i]) {
			t.Errorf("answer %d is the same for seeds 1 and 2", i)
		}
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	streams := map[string][]string{}
	for _, src := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
		var ids []int64
		seen := map[string]bool{}
		for tx := range e.s.Transactions(src, time.Time{}, time.Time{}) {
			if seen[string(tx.ID)] {
				t.Fatalf("%s id %s twice", src, tx.ID)
			}
			seen[string(tx.ID)] = true
			d, err := decimal.NewFromString(string(tx.ID))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.IntPart())
			streams[src] = append(streams[src], string(tx.ID))
		}
		consecutive := 0
		for i := 1; i < len(ids); i++ {
			if ids[i]-ids[i-1] == 1 {
				consecutive++
			}
		}
		if slices.IsSorted(ids) || consecutive > len(ids)/50 {
			t.Errorf("%s ids look sequential (%d consecutive of %d)", src, consecutive, len(ids))
		}
	}
	shared := 0
	inv := map[string]bool{}
	for _, id := range streams[nordpay.SourceInvoice] {
		inv[id] = true
	}
	for _, id := range streams[nordpay.SourceWallet] {
		if inv[id] {
			shared++
		}
	}
	if shared == 0 {
		t.Error("invoice and wallet streams share no id: the (source, id) key goes untested")
	}
	// Served ids are the same values, whatever their spelling.
	_, raw := e.get("/invoice/transactions")
	if !bytes.Contains(raw, []byte(`{"id":"`)) {
		t.Error("no id spelled as a string")
	}
}

var (
	evmHash  = regexp.MustCompile(`^0x[0-9a-f]{64}$`)
	bareHash = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func TestGeneratedValues(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *Options) {
		o.Invoices.Count = 40000
		o.Invoices.UnpaidRate = 0.05
		o.Invoices.LateRate = 0
	})
	hostile, fullPrecision, unpaid, n := 0, 0, 0, 0
	curs := map[string]nordpay.Currency{}
	for _, c := range DefaultCurrencies() {
		curs[c.Name] = c
	}
	for tx := range e.s.Transactions(nordpay.SourceInvoice, time.Time{}, time.Time{}) {
		n++
		c := curs[tx.Currency.Name]
		if tx.Net().IsNegative() {
			t.Fatalf("negative net: %+v", tx)
		}
		if !tx.NetworkFee.Equal(c.NetworkFee) {
			t.Fatalf("network fee %s for %s", tx.NetworkFee, c.Name)
		}
		for _, v := range []decimal.Decimal{tx.Amount, tx.ServiceFee} {
			if places(v) > c.Decimals {
				t.Fatalf("%s has more decimals than %s allows", v, c.Name)
			}
		}
		for _, v := range []decimal.Decimal{tx.AmountUSD, tx.NetworkFeeUSD, tx.ServiceFeeUSD} {
			if places(v) > 2 {
				t.Fatalf("USD value %s not in cents", v)
			}
		}
		if want := tx.Amount.Mul(c.Rate.Decimal).Round(2); !tx.AmountUSD.Equal(want) {
			t.Fatalf("amount_usd %s, want %s", tx.AmountUSD, want)
		}
		if want := tx.Amount.Mul(dec("0.01")).Round(int32(c.Decimals)); !tx.ServiceFee.Equal(want) {
			t.Fatalf("service fee %s of %s, want %s", tx.ServiceFee, tx.Amount, want)
		}
		usd := tx.AmountUSD
		if usd.LessThan(dec("0.5")) || usd.GreaterThan(dec("5200")) && tx.Amount.GreaterThan(c.NetworkFee.Mul(dec("2")).Add(c.MinDeposit).Mul(dec("2"))) {
			t.Fatalf("unrealistic amount %s %s ($%s)", tx.Amount, c.Name, usd)
		}
		if places(tx.Amount) > 8 {
			fullPrecision++
		}
		hash := bareHash
		if c.Network == "BEP20" || c.Network == "ERC20" {
			hash = evmHash
		}
		if !hash.MatchString(tx.TxHash) {
			t.Fatalf("tx_hash %q for %s", tx.TxHash, c.Name)
		}
		if l := tx.Source.Label; !strings.HasPrefix(l, "Order #") {
			hostile++
		}
		if !tx.IsPaid {
			unpaid++
		}
		if tx.Source.Address == "" || len(tx.Source.UUID) != 36 || tx.Source.Status == "" {
			t.Fatalf("source %+v", tx.Source)
		}
	}
	if n != 40000 {
		t.Fatalf("%d transactions", n)
	}
	if hostile < 10 || hostile > 100 {
		t.Errorf("%d hostile labels in %d, want about 0.1%%", hostile, n)
	}
	if fullPrecision < 100 {
		t.Errorf("only %d amounts with full precision", fullPrecision)
	}
	if unpaid < 1600 || unpaid > 2400 {
		t.Errorf("%d unpaid of %d, want about 5%%", unpaid, n)
	}
	// Every number spelling shows up on the wire, and still decodes to the same values
	// (TestGoViewMatchesWire).
	_, raw := e.get("/invoice/transactions?end_date=2026-02-05")
	for _, re := range []string{`"amount":\d\.\d*E\+\d`, `:\d(\.\d+)?[eE]-\d+[,}]`, `"amount":"\d`, `\.\d*0[,}]`, `"id":"\d+"`} {
		if !regexp.MustCompile(re).Match(raw) {
			t.Errorf("no number spelled like %s", re)
		}
	}
}

// sumServed pulls every transaction of both streams over overlapping daily windows,
// deduplicates on (source, id), and returns initial balances + nets of the paid ones:
// what a client's ledger holds before withdrawals.
func sumServed(t *testing.T, e *env, from, to time.Time) map[string]decimal.Decimal {
	t.Helper()
	seen := map[string]bool{}
	out := map[string]decimal.Decimal{}
	for _, src := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
		for d := from; d.Before(to); d = d.Add(24 * time.Hour) {
			path := "/" + src + "/transactions?start_date=" + d.Format("2006-01-02") +
				"&end_date=" + url.QueryEscape(d.Add(25*time.Hour).Format(time.RFC3339))
			for _, tx := range mustGet[[]nordpay.Transaction](e, path) {
				key := src + "/" + string(tx.ID)
				if seen[key] {
					continue
				}
				seen[key] = true
				if tx.IsPaid {
					out[tx.Currency.Name] = out[tx.Currency.Name].Add(tx.Net())
				}
			}
		}
	}
	return out
}

func TestBalancesEqualServedNets(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *Options) {
		o.Invoices.Count = 20000
		o.Invoices.LateRate, o.Wallets.LateRate = 0.2, 0.2
		o.Invoices.UnpaidRate = 0.1
	})
	initial := DefaultOptions(t0).InitialBalances
	from := t0.Add(-31 * 24 * time.Hour).Truncate(24 * time.Hour)
	withdrawn := map[string]decimal.Decimal{}
	check := func(step string) {
		t.Helper()
		served := sumServed(t, e, from, e.clock.Now().Add(24*time.Hour))
		api := e.balances()
		direct := e.s.Balances()
		if len(api) != 8 || len(direct) != 8 {
			t.Fatalf("%s: balances for %d / %d currencies", step, len(api), len(direct))
		}
		for _, c := range DefaultCurrencies() {
			want := initial[c.Name].Add(served[c.Name]).Sub(withdrawn[c.Name])
			if !api[c.Name].Equal(want) || !direct[c.Name].Equal(want) {
				t.Errorf("%s: %s balance %s (Balances() %s), served nets say %s", step, c.Name, api[c.Name], direct[c.Name], want)
			}
		}
	}
	check("at t0")

	// Late transactions near the end appear as the clock moves; the balance follows.
	recent := windowQuery(t0.Add(-3*time.Hour).Format(time.RFC3339), "")
	before := len(mustGet[[]nordpay.Transaction](e, recent))
	e.clock.Advance(2 * time.Hour)
	after := len(mustGet[[]nordpay.Transaction](e, recent))
	if after <= before {
		t.Errorf("no late transaction appeared: %d then %d", before, after)
	}
	check("two hours later")

	// A withdrawal lowers it by its amount.
	q, _ := e.quote("/balance/withdraw/multiple/request", `{"currency":"USDTTRC20","addresses_and_amounts":[{"address":"TX","amount":"123.456789"}]}`)
	if code, b := e.post("/balance/withdraw/multiple/confirm", `{"identifier":"`+q.Identifier+`"}`); code != 200 {
		t.Fatalf("confirm %d %s", code, b)
	}
	withdrawn["USDTTRC20"] = dec("123.456789")
	check("after a withdrawal")

	// An added transaction counts once visible.
	tx := e.s.Transactions(nordpay.SourceWallet, t0.Add(-24*time.Hour), time.Time{})
	var model nordpay.Transaction
	for v := range tx {
		model = v
		break
	}
	model.ID = "987654321"
	model.IsPaid = true
	model.CreatedAt = nordpay.Time{Time: e.clock.Now().Add(-time.Hour)}
	e.s.AddTransaction(model, e.clock.Now().Add(time.Hour))
	check("added, not yet visible")
	e.clock.Advance(time.Hour)
	check("added, visible")

	// The clock moving back recomputes.
	e.clock.Advance(-90 * time.Minute)
	check("clock moved back")
	e.clock.Set(t0.Add(-10 * 24 * time.Hour))
	check("ten days back")
}

func TestRawTransaction(t *testing.T) {
	t.Parallel()
	e, start := gridEnv(t, true)
	raw := `{"id":"bad","source_type":"invoice","amount":"NaN","note":"quarantine me"}`
	e.s.AddRawTransaction(nordpay.SourceInvoice, start.Add(15500*time.Millisecond), time.Time{}, raw)
	before := e.s.Balances()
	_, b := e.get(windowQuery(start.Add(15*time.Second).Format(time.RFC3339), start.Add(16*time.Second).Format(time.RFC3339)))
	if !bytes.Contains(b, []byte(`"created_at":"2026-01-01T00:00:15.000000Z"},`+raw+`,{"id":`)) {
		t.Errorf("raw record not served verbatim between its neighbours:\n%.300s", b)
	}
	n := 0
	for range e.s.Transactions(nordpay.SourceInvoice, start.Add(15*time.Second), start.Add(16*time.Second)) {
		n++
	}
	if n != 2 {
		t.Errorf("Transactions yields %d, want the 2 well-formed ones", n)
	}
	after := e.s.Balances()
	for k, v := range before {
		if !after[k].Equal(v) {
			t.Errorf("raw record moved %s", k)
		}
	}
}

// heapProbe is a ResponseWriter that discards the body and samples the live heap.
type heapProbe struct {
	h        http.Header
	writes   int
	bytes    int64
	maxHeap  uint64
	sampleAt int
}

func (p *heapProbe) Header() http.Header { return p.h }
func (p *heapProbe) WriteHeader(int)     {}
func (p *heapProbe) Write(b []byte) (int, error) {
	p.writes++
	p.bytes += int64(len(b))
	if p.writes%p.sampleAt == 0 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		p.maxHeap = max(p.maxHeap, m.HeapAlloc)
	}
	return len(b), nil
}

func TestMillionWindowFlatMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("streams a million transactions and measures allocations")
	}
	end := t0
	s, err := New(Options{
		APIKey: "k", Seed: 3, Now: func() time.Time { return end },
		Invoices:  Generator{Start: end.Add(-24 * time.Hour), End: end, Count: 1_000_000, UnpaidRate: 0.05, LateRate: 0.01, LateDelay: time.Hour},
		Spellings: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "/invoice/transactions?start_date=2020-01-01", nil)
	req.Header.Set("X-API-KEY", "k")
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	p := &heapProbe{h: http.Header{}, sampleAt: 1000}
	s.ServeHTTP(p, req)
	runtime.ReadMemStats(&m1)
	if p.bytes < 1_000_000*500 {
		t.Fatalf("only %d bytes for a million transactions", p.bytes)
	}
	garbage := m1.TotalAlloc - m0.TotalAlloc
	growth := int64(max(p.maxHeap, m1.HeapAlloc)) - int64(m0.HeapAlloc)
	t.Logf("%d MB streamed in %d writes; allocated %d KB in all; heap grew at most %d KB",
		p.bytes>>20, p.writes, garbage>>10, growth>>10)
	if garbage > 4<<20 {
		t.Errorf("streaming a million transactions allocated %d KB: not flat", garbage>>10)
	}
	if growth > 16<<20 {
		t.Errorf("heap grew by %d KB while streaming", growth>>10)
	}
}
