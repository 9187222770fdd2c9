package jobs_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/ledger/ledgertest"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/shopspring/decimal"
)

var (
	testNow   = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	testStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

type bundle struct {
	sb     *sandbox.Server
	db     *sqlx.DB
	store  *ledger.Store
	syncer *jobs.Syncer
	clock  *sandbox.Clock
	// wrap, when set, may replace the response writer of a request before the sandbox serves it.
	wrap atomic.Pointer[func(http.ResponseWriter, *http.Request) http.ResponseWriter]
}

// setup starts a sandbox (no initial balances, so the ledger must explain every balance) and
// a syncer into a fresh database.
func setup(t *testing.T, mod ...func(*sandbox.Options)) *bundle {
	t.Helper()
	b := &bundle{clock: sandbox.NewClock(testNow)}
	opts := sandbox.DefaultOptions(testNow)
	opts.APIKey = "sync-test"
	opts.Now = b.clock.Now
	opts.InitialBalances = nil
	opts.Invoices = sandbox.Generator{Start: testStart, End: testNow, Count: 3000, UnpaidRate: 0.05}
	opts.Wallets = sandbox.Generator{Start: testStart, End: testNow, Count: 1500, UnpaidRate: 0.05}
	for _, f := range mod {
		f(&opts)
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.sb = sb
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := b.wrap.Load(); f != nil {
			w = (*f)(w, r)
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	client, err := nordpay.New(nordpay.Options{BaseURL: srv.URL, APIKey: "sync-test",
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	b.db = dbtest.New(t)
	chart := ledger.DefaultChart()
	b.store = ledger.NewStore(b.db, chart)
	b.syncer = &jobs.Syncer{Client: client, Store: b.store, Chart: chart, Now: b.clock.Now}
	return b
}

func (b *bundle) run(t *testing.T, opts jobs.SyncOptions) jobs.SyncResult {
	t.Helper()
	if opts.Window == 0 {
		opts.Window = 24 * time.Hour
	}
	res, err := b.syncer.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// assertBalancesMatchSandbox checks that every assets account equals the sandbox's /balance/.
func assertBalancesMatchSandbox(t *testing.T, b *bundle) {
	t.Helper()
	bs, err := b.store.Balances(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]decimal.Decimal{}
	chart := ledger.DefaultChart()
	for _, bal := range bs {
		if bal.Account == chart.AssetsAccount(bal.Currency) {
			ours[bal.Currency] = bal.Balance
		}
	}
	for cur, theirs := range b.sb.Balances() {
		if !ours[cur].Equal(theirs) {
			t.Errorf("%s: ledger %s, sandbox /balance/ %s", cur, ours[cur], theirs)
		}
	}
}

// paidCount is how many paid transactions the sandbox serves for the whole history.
func paidCount(b *bundle) (paid, unpaid int) {
	for _, source := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
		for tx := range b.sb.Transactions(source, time.Time{}, time.Time{}) {
			if tx.IsPaid {
				paid++
			} else {
				unpaid++
			}
		}
	}
	return
}

func TestSyncBooksEachTransactionOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	paid, unpaid := paidCount(b)
	first := b.run(t, jobs.SyncOptions{From: testStart, To: testNow, Overlap: 5 * time.Minute})
	if first.Booked != int64(paid) || first.Unpaid < int64(unpaid) || first.Quarantined != 0 {
		t.Fatalf("first sync: %+v; the sandbox has %d paid, %d unpaid", first, paid, unpaid)
	}
	if first.AlreadyBooked == 0 {
		t.Fatalf("overlapping window queries should have met some transactions twice: %+v", first)
	}
	assertBalancesMatchSandbox(t, b)
	want := ledgertest.Snapshot(t, b.db)

	t.Run("SameRangeAgainAddsNothing", func(t *testing.T) {
		again := b.run(t, jobs.SyncOptions{From: testStart, To: testNow, Overlap: 5 * time.Minute})
		if again.Booked != 0 || again.AlreadyBooked < int64(paid) {
			t.Fatalf("second sync: %+v", again)
		}
		if d := ledgertest.Diff(want, ledgertest.Snapshot(t, b.db)); d != "" {
			t.Fatalf("the ledger changed: %s", d)
		}
	})
	t.Run("OverlappingOddWindowsAddNothing", func(t *testing.T) {
		again := b.run(t, jobs.SyncOptions{From: testStart.Add(5 * time.Hour), To: testNow.Add(-3 * time.Hour), Window: 7 * time.Hour, Overlap: time.Hour})
		if again.Booked != 0 {
			t.Fatalf("odd windows: %+v", again)
		}
		if d := ledgertest.Diff(want, ledgertest.Snapshot(t, b.db)); d != "" {
			t.Fatalf("the ledger changed: %s", d)
		}
	})
	t.Run("TotalsAddUp", func(t *testing.T) {
		for _, tot := range first.Totals {
			if !tot.Gross.Sub(tot.NetworkFees).Sub(tot.ServiceFees).Equal(tot.Net) {
				t.Errorf("%s: gross %s - fees %s, %s != net %s", tot.Currency, tot.Gross, tot.NetworkFees, tot.ServiceFees, tot.Net)
			}
		}
	})
	t.Run("LedgerVerifies", func(t *testing.T) {
		rep, err := b.store.Verify(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}

func TestSyncExclusiveEndBoundary(t *testing.T) {
	t.Parallel()
	// Whatever the API does at end_date, windows without overlap lose nothing.
	b := setup(t, func(o *sandbox.Options) { o.EndDateInclusive = false })
	paid, _ := paidCount(b)
	res := b.run(t, jobs.SyncOptions{From: testStart, To: testNow})
	if res.Booked != int64(paid) {
		t.Fatalf("booked %d of %d", res.Booked, paid)
	}
	assertBalancesMatchSandbox(t, b)
}

func TestSyncContinuesFromTheWatermark(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) {
		o.Invoices.LateRate = 0.2
		o.Invoices.LateDelay = 6 * time.Hour
		o.Invoices.End = testNow.Add(24 * time.Hour)
		o.Wallets.End = testNow.Add(24 * time.Hour)
	})
	if _, err := b.syncer.Run(context.Background(), jobs.SyncOptions{}); !errors.Is(err, jobs.ErrNoStart) {
		t.Fatalf("first sync without a start: %v", err)
	}
	first := b.run(t, jobs.SyncOptions{Start: testStart, Lookback: 12 * time.Hour, Overlap: time.Minute})
	wm, ok, err := b.store.Watermark(context.Background(), ledger.SourceInvoice)
	if err != nil || !ok || !wm.Equal(testNow) {
		t.Fatalf("watermark %v %v %v, want %v", wm, ok, err, testNow)
	}
	assertBalancesMatchSandbox(t, b)

	b.clock.Advance(8 * time.Hour)
	second := b.run(t, jobs.SyncOptions{Start: testStart, Lookback: 12 * time.Hour, Overlap: time.Minute})
	if second.Sources[0].From != testNow.Add(-12*time.Hour) {
		t.Fatalf("second run started at %v, want the watermark minus the lookback", second.Sources[0].From)
	}
	if second.Booked == 0 {
		t.Fatalf("nothing new booked after 8 hours: first %+v, second %+v", first, second)
	}
	// The late ones of the first run's last hours are among them: the ledger equals the API.
	assertBalancesMatchSandbox(t, b)
}

func TestSyncQuarantinesMalformedRecords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	at := testStart.Add(36 * time.Hour)
	for _, raw := range []string{
		`{"id": 990001, "source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": -5, "is_paid": true, "created_at": "2026-11-02T12:00:00Z"}`,
		`{"id": 990002, "source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": 5, "network_fee": 3, "service_fee": 3, "is_paid": true, "created_at": "2026-11-02T12:00:00Z"}`,
		`{"id": 990003, "source_type": "invoice", "currency": {"name": "DOGECOIN"}, "amount": 5, "is_paid": true, "created_at": "2026-11-02T12:00:00Z"}`,
		`{"source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": 5, "is_paid": true, "created_at": "2026-11-02T12:00:00Z"}`,
		`{"id": 990005, "source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": "five", "is_paid": true, "created_at": "2026-11-02T12:00:00Z"}`,
	} {
		b.sb.AddRawTransaction(nordpay.SourceInvoice, at, at, raw)
	}
	paid, _ := paidCount(b)
	res := b.run(t, jobs.SyncOptions{From: testStart, To: testNow})
	if res.Quarantined != 5 || res.Booked != int64(paid) {
		t.Fatalf("sync: %+v (want 5 quarantined, %d booked)", res, paid)
	}
	for _, reason := range []string{ledger.ReasonNegative, ledger.ReasonFeesAboveAmount, ledger.ReasonUnknownCurrency, ledger.ReasonNoID, ledger.ReasonUndecodable} {
		if res.QuarantineReasons[reason] != 1 {
			t.Errorf("reason %q counted %d times: %v", reason, res.QuarantineReasons[reason], res.QuarantineReasons)
		}
	}
	b.run(t, jobs.SyncOptions{From: testStart, To: testNow})
	q, err := b.store.Quarantine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 5 {
		t.Fatalf("%d quarantined records after a second sync, want the same 5", len(q))
	}
	for _, r := range q {
		if r.SeenCount != 2 || len(r.Raw) == 0 || r.Reason == "" {
			t.Errorf("quarantined %+v", r)
		}
	}
	assertBalancesMatchSandbox(t, b)
}

func TestSyncAPIErrorRollsTheWindowBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	fail := func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
		// The third invoice window is cut short after 20 kB, some transactions in.
		if r.URL.Path == "/invoice/transactions" && calls.Add(1) == 3 {
			return &cutWriter{ResponseWriter: w, left: 20 << 10}
		}
		return w
	}
	b.wrap.Store(&fail)
	_, err := b.syncer.Run(context.Background(), jobs.SyncOptions{From: testStart, To: testNow, Window: 24 * time.Hour})
	var werr *jobs.WindowError
	if !errors.As(err, &werr) || !errors.Is(err, nordpay.ErrTransport) {
		t.Fatalf("err = %v, want a window error from a cut answer", err)
	}
	if !werr.Window.Start.Equal(testStart.Add(48*time.Hour)) || werr.Source != ledger.SourceInvoice {
		t.Fatalf("failed window %+v", werr)
	}
	wm, ok, _ := b.store.Watermark(context.Background(), ledger.SourceInvoice)
	if !ok || !wm.Equal(testStart.Add(48*time.Hour)) {
		t.Fatalf("watermark %v (%v), want the start of the failed window", wm, ok)
	}
	var late int
	if err := b.db.Get(&late, `SELECT count(*) FROM journal_entries WHERE source = 'invoice' AND occurred_at >= $1`, testStart.Add(48*time.Hour+5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if late != 0 {
		t.Fatalf("%d entries of the failed window or later were booked", late)
	}
	b.wrap.Store(nil)
	b.run(t, jobs.SyncOptions{Start: testStart, To: testNow})
	assertBalancesMatchSandbox(t, b)
}

// cutWriter passes on the first bytes of an answer, then drops the connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) >= c.left {
		c.ResponseWriter.Write(p[:c.left])
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

// paidTx is a paid invoice transaction of 25 USDTBEP20 created at at.
func paidTx(id string, at time.Time) nordpay.Transaction {
	d := decimal.RequireFromString
	return nordpay.Transaction{ID: nordpay.ID(id), SourceType: nordpay.SourceInvoice,
		Source:   nordpay.Source{ID: nordpay.ID("inv-" + id), Label: "order " + id},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTBEP20"}},
		Amount:   d("25"), AmountUSD: d("25"), NetworkFee: d("0.5"), NetworkFeeUSD: d("0.5"),
		ServiceFee: d("0.25"), ServiceFeeUSD: d("0.25"), TxHash: "0x" + id, IsPaid: true,
		CreatedAt: nordpay.Time{Time: at}}
}

// booked reports whether the ledger holds the invoice transaction id.
func booked(t *testing.T, b *bundle, id string) bool {
	t.Helper()
	var n int
	if err := b.db.Get(&n, `SELECT count(*) FROM journal_entries WHERE source = 'invoice' AND external_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestSyncFutureToStopsAtNow: a --to in the future pulls up to now and stores now as the
// watermark, so the next plain sync books what appears after the first run. (Before, the
// watermark became the future --to and every later sync pulled nothing.)
func TestSyncFutureToStopsAtNow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	future := testNow.AddDate(0, 0, 6)
	first := b.run(t, jobs.SyncOptions{From: testStart, To: future, Lookback: time.Hour})
	if !first.CappedTo.Equal(future) || !first.Sources[0].To.Equal(testNow) || first.Booked == 0 {
		t.Fatalf("first run: capped %v, range %+v, booked %d", first.CappedTo, first.Sources, first.Booked)
	}
	for _, source := range []string{ledger.SourceInvoice, ledger.SourceWallet} {
		wm, ok, err := b.store.Watermark(context.Background(), source)
		if err != nil || !ok || !wm.Equal(testNow) {
			t.Fatalf("%s watermark %v %v %v, want now %v", source, wm, ok, err, testNow)
		}
	}

	// A payment made after the first run, two days later.
	b.clock.Advance(48 * time.Hour)
	b.sb.AddTransaction(paidTx("after-1", testNow.Add(26*time.Hour)), time.Time{})
	second := b.run(t, jobs.SyncOptions{Lookback: time.Hour})
	if !second.CappedTo.IsZero() || second.Sources[0].Empty != "" || !second.Sources[0].From.Equal(testNow.Add(-time.Hour)) {
		t.Fatalf("second run: %+v", second.Sources)
	}
	if second.Booked != 1 || !booked(t, b, "after-1") {
		t.Fatalf("the payment made after the first run was not booked: %+v", second)
	}
	assertBalancesMatchSandbox(t, b)
}

// TestSyncEmptyRange: a run whose range is empty says why, and pulls nothing.
func TestSyncEmptyRange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.run(t, jobs.SyncOptions{From: testStart})
	t.Run("UpToDate", func(t *testing.T) {
		res := b.run(t, jobs.SyncOptions{}) // no lookback, same clock: from == to
		for _, s := range res.Sources {
			if s.Empty != jobs.EmptyUpToDate || !s.From.Equal(testNow) || !s.To.Equal(testNow) {
				t.Errorf("source %+v", s)
			}
		}
		if res.Windows != 0 || res.Fetched != 0 {
			t.Errorf("pulled %+v", res)
		}
	})
	t.Run("ToBeforeTheWatermark", func(t *testing.T) {
		res := b.run(t, jobs.SyncOptions{To: testNow.Add(-72 * time.Hour), Lookback: 48 * time.Hour})
		for _, s := range res.Sources {
			if s.Empty != jobs.EmptyEndsBeforeStart || !s.FromWatermark || !s.Watermark.Equal(testNow) ||
				!s.From.Equal(testNow.Add(-48*time.Hour)) {
				t.Errorf("source %+v", s)
			}
		}
		if res.Windows != 0 {
			t.Errorf("pulled %+v", res)
		}
	})
	t.Run("FromAfterNow", func(t *testing.T) {
		if _, err := b.syncer.Run(context.Background(), jobs.SyncOptions{From: testNow.Add(time.Hour)}); err == nil ||
			!strings.Contains(err.Error(), "after its end") {
			t.Errorf("a range from the future: %v", err)
		}
	})
}

// TestSyncRepairsAFutureWatermark: a watermark in the future, as an earlier version stored
// for a --to in the future, stops a plain sync with an error that says what to run; that
// run brings the watermark back, and the plain syncs after it book again.
func TestSyncRepairsAFutureWatermark(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) {
		o.Invoices.End = testNow.AddDate(0, 0, 3)
		o.Wallets.End = testNow.AddDate(0, 0, 3)
	})
	ctx := context.Background()
	b.run(t, jobs.SyncOptions{From: testStart})
	future := testNow.AddDate(0, 0, 6)
	ranAt := testNow.Add(-2 * time.Hour)
	if _, err := b.db.Exec(`UPDATE sync_watermarks SET watermark = $1`, future); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(`INSERT INTO sync_runs (source, started_at, finished_at, from_time, to_time, status)
		VALUES ('invoice', $2, $2, $2, $1, 'ok'), ('wallet', $2, $2, $2, $1, 'ok')`, future, ranAt); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(24 * time.Hour)
	_, err := b.syncer.Run(ctx, jobs.SyncOptions{Lookback: 48 * time.Hour})
	var fw *jobs.FutureWatermarkError
	if !errors.Is(err, jobs.ErrFutureWatermark) || !errors.As(err, &fw) {
		t.Fatalf("a plain sync over a future watermark: %v", err)
	}
	wantFrom := ranAt.Add(-48 * time.Hour).Truncate(24 * time.Hour)
	if !fw.RunStarted.Equal(ranAt) || !fw.SuggestedFrom.Equal(wantFrom) || !strings.Contains(err.Error(), "--from "+wantFrom.Format(time.DateOnly)) {
		t.Fatalf("error %+v: %v", fw, err)
	}

	b.run(t, jobs.SyncOptions{From: fw.SuggestedFrom, Lookback: 48 * time.Hour})
	for _, source := range []string{ledger.SourceInvoice, ledger.SourceWallet} {
		wm, _, err := b.store.Watermark(ctx, source)
		if err != nil || !wm.Equal(b.clock.Now()) {
			t.Fatalf("%s watermark %v (%v), want now %v", source, wm, err, b.clock.Now())
		}
	}
	assertBalancesMatchSandbox(t, b)
	b.clock.Advance(6 * time.Hour)
	if res := b.run(t, jobs.SyncOptions{Lookback: 48 * time.Hour}); res.Booked == 0 {
		t.Fatalf("the plain sync after the repair booked nothing: %+v", res)
	}
	assertBalancesMatchSandbox(t, b)
}
