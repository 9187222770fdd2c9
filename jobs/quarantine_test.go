package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// TestQuarantineResolvedByBookingAndDismissal follows malformed records from the sandbox
// through the sync, the reconciliation of a later month, Nord PAY correcting two of them
// (the sync books them and resolves their records in the same transaction), and a person
// dismissing the last one (it has no id, so nothing can ever book it).
func TestQuarantineResolvedByBookingAndDismissal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The bad records are from October: they fail November's reconciliation only through
	// the quarantine check, which lists every unresolved record whatever its month.
	at := reconStart.Add(36 * time.Hour)
	created := at.Format(time.RFC3339)
	d := decimal.RequireFromString
	corrected := func(id string) nordpay.Transaction {
		return nordpay.Transaction{ID: nordpay.ID(id), SourceType: nordpay.SourceInvoice,
			Source:   nordpay.Source{ID: nordpay.ID("inv-" + id), Label: "order " + id},
			Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTBEP20"}},
			Amount:   d("25"), AmountUSD: d("25"), NetworkFee: d("0.5"), NetworkFeeUSD: d("0.5"),
			ServiceFee: d("0.25"), ServiceFeeUSD: d("0.25"), TxHash: "0xfixed" + id, IsPaid: true,
			CreatedAt: nordpay.Time{Time: at}}
	}
	noID := `{"source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": 5, "is_paid": true, "created_at": "` + created + `"}`

	clock := sandbox.NewClock(testNow)
	newSandbox := func(fix func(*sandbox.Server)) *sandbox.Server {
		opts := sandbox.DefaultOptions(testNow)
		opts.APIKey = "quarantine-test"
		opts.Now = clock.Now
		opts.InitialBalances = nil
		opts.Invoices = sandbox.Generator{Start: testStart, End: testNow, Count: 1200, UnpaidRate: 0.05}
		opts.Wallets = sandbox.Generator{Start: testStart, End: testNow, Count: 600, UnpaidRate: 0.05}
		sb, err := sandbox.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		sb.AddRawTransaction(nordpay.SourceInvoice, at, at, noID) // served, unchanged, by both
		fix(sb)
		return sb
	}
	// Before: Nord PAY serves 990001 with a negative amount and 990002 with an amount that
	// does not decode. After: both corrected, the same ids.
	before := newSandbox(func(sb *sandbox.Server) {
		sb.AddRawTransaction(nordpay.SourceInvoice, at, at, `{"id": 990001, "source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": -25, "is_paid": true, "created_at": "`+created+`"}`)
		sb.AddRawTransaction(nordpay.SourceInvoice, at, at, `{"id": "990002", "source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": "twenty-five", "is_paid": true, "created_at": "`+created+`"}`)
	})
	after := newSandbox(func(sb *sandbox.Server) {
		sb.AddTransaction(corrected("990001"), time.Time{})
		sb.AddTransaction(corrected("990002"), time.Time{})
	})
	var api atomic.Pointer[sandbox.Server]
	api.Store(before)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.Load().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	client, err := nordpay.New(nordpay.Options{BaseURL: srv.URL, APIKey: "quarantine-test",
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	conn := dbtest.New(t)
	chart := ledger.DefaultChart()
	store := ledger.NewStore(conn, chart)
	b := &bundle{sb: before, db: conn, store: store, clock: clock,
		syncer: &jobs.Syncer{Client: client, Store: store, Chart: chart, Now: clock.Now}}
	sync := func() jobs.SyncResult { return b.run(t, jobs.SyncOptions{From: reconStart, To: testNow}) }
	quarantineCheck := func(rep *exporters.Reconciliation) exporters.ReconciliationCheck {
		return *rep.Check(exporters.CheckQuarantine)
	}
	record := func(id string) ledger.Quarantined {
		t.Helper()
		qs, err := store.Quarantine(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.ExternalID == id {
				return q
			}
		}
		t.Fatalf("no quarantined record %q among %+v", id, qs)
		return ledger.Quarantined{}
	}

	first := sync()
	if first.Quarantined != 3 || first.QuarantineResolved != 0 {
		t.Fatalf("first sync: %+v", first)
	}
	if q := record("990002"); q.Reason != ledger.ReasonUndecodable || !strings.Contains(string(q.Raw), "twenty-five") {
		t.Errorf("the undecodable record, kept under its id: %+v", q)
	}
	rep := b.reconcile(t, jobs.ReconcileOptions{})
	reconCheckStatuses(t, rep, map[string]exporters.CheckStatus{
		exporters.CheckMovements: exporters.CheckPassed, exporters.CheckCompleteness: exporters.CheckPassed,
		exporters.CheckBalance: exporters.CheckPassed, exporters.CheckPayouts: exporters.CheckNotApplicable,
		exporters.CheckQuarantine: exporters.CheckFailed,
	})
	if c := quarantineCheck(rep); c.Total != 3 || len(c.Exceptions) != 3 || !strings.Contains(c.Rule, "unresolved") {
		t.Fatalf("quarantine check before: %+v", c)
	}

	api.Store(after)
	b.sb = after
	second := sync()
	if second.Booked != 2 || second.QuarantineResolved != 2 || second.Quarantined != 1 {
		t.Fatalf("the sync after the correction: %+v; want both corrected records booked and resolved", second)
	}
	for _, id := range []string{"990001", "990002"} {
		var entry int64
		if err := conn.Get(&entry, `SELECT id FROM journal_entries WHERE source = 'invoice' AND external_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		q := record(id)
		if q.Resolution != ledger.ResolutionBooked || q.ResolvedBy != ledger.ResolvedBySync ||
			!strings.Contains(q.Note, "journal entry "+decimal.NewFromInt(entry).String()) {
			t.Errorf("record %s after the correction: %+v", id, q)
		}
	}
	assertBalancesMatchSandbox(t, b)
	rep = b.reconcile(t, jobs.ReconcileOptions{})
	c := quarantineCheck(rep)
	if c.Status != exporters.CheckFailed || c.Total != 1 || len(c.Exceptions) != 1 || c.Exceptions[0].Kind != ledger.ReasonNoID ||
		!strings.Contains(c.Summary, "1 unresolved") || !strings.Contains(c.Summary, "2 booked") {
		t.Fatalf("quarantine check with the no-id record left: %+v", c)
	}

	lost := record("")
	if lost.Resolved() || lost.SeenCount != 2 {
		t.Fatalf("the record without an id: %+v", lost)
	}
	if _, err := store.Dismiss(ctx, ledger.Dismissal{IDs: []int64{lost.ID}, By: "carol", Note: "no id: nothing to book"}); err != nil {
		t.Fatal(err)
	}
	rep = b.reconcile(t, jobs.ReconcileOptions{})
	if !rep.Reconciled() {
		t.Fatalf("the report does not reconcile once every record is resolved: %+v", rep.Checks)
	}
	if c := quarantineCheck(rep); c.Total != 0 || len(c.Exceptions) != 0 || !strings.Contains(c.Summary, "3 resolved (2 booked once corrected, 1 dismissed)") {
		t.Errorf("quarantine check after the dismissal: %+v", c)
	}

	third := sync()
	if third.Quarantined != 1 || third.QuarantineResolved != 0 || third.Booked != 0 {
		t.Fatalf("third sync: %+v", third)
	}
	if q := record(""); q.Resolution != ledger.ResolutionDismissed || q.SeenCount != 3 {
		t.Errorf("a dismissed record seen again: %+v", q)
	}
}
