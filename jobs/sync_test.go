package jobs_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
