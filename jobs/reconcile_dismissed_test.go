package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// TestReconcileCompletenessDismissedUnbookable: Nord PAY keeps serving two malformed records
// of the reconciled month (one that decodes with a negative amount, one that does not
// decode). The completeness check fails on each until its quarantine record is dismissed;
// then it counts it in its summary instead.
func TestReconcileCompletenessDismissedUnbookable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(o *sandbox.Options) {
		o.Invoices.Count, o.Wallets.Count = 600, 300
	})
	at := testStart.Add(36 * time.Hour)
	created := at.Format(time.RFC3339)
	b.sb.AddRawTransaction(nordpay.SourceInvoice, at, at, `{"id": 990101, "source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": -25, "is_paid": true, "created_at": "`+created+`"}`)
	b.sb.AddRawTransaction(nordpay.SourceInvoice, at, at, `{"id": "990102", "source_type": "invoice", "currency": {"name": "USDTBEP20"}, "amount": "twenty-five", "is_paid": true, "created_at": "`+created+`"}`)
	if res := b.run(t, jobs.SyncOptions{From: testStart, To: testNow}); res.Quarantined != 2 {
		t.Fatalf("sync: %+v; want 2 records quarantined", res)
	}
	completeness := func(rep *exporters.Reconciliation) exporters.ReconciliationCheck {
		return *rep.Check(exporters.CheckCompleteness)
	}
	dismiss := func(id string) {
		t.Helper()
		qs, err := b.store.Quarantine(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.ExternalID == id {
				if _, err := b.store.Dismiss(ctx, ledger.Dismissal{IDs: []int64{q.ID}, By: "carol", Note: "Nord PAY says it is void"}); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatalf("no quarantined record %s among %+v", id, qs)
	}

	c := completeness(b.reconcile(t, jobs.ReconcileOptions{}))
	if c.Status != exporters.CheckFailed || c.Total != 2 || len(c.Exceptions) != 2 || !strings.Contains(c.Summary, "2 unbookable") ||
		strings.Contains(c.Summary, "dismissed") {
		t.Fatalf("completeness before the dismissal: %+v", c)
	}

	dismiss("990101") // the other one stays unresolved: it still fails the check
	c = completeness(b.reconcile(t, jobs.ReconcileOptions{}))
	if c.Status != exporters.CheckFailed || c.Total != 1 || len(c.Exceptions) != 1 || !strings.Contains(c.Exceptions[0].Detail, "990102") ||
		!strings.Contains(c.Summary, "1 unbookable record(s) dismissed in quarantine") {
		t.Fatalf("completeness with one record dismissed: %+v", c)
	}

	dismiss("990102")
	rep := b.reconcile(t, jobs.ReconcileOptions{})
	c = completeness(rep)
	if c.Status != exporters.CheckPassed || c.Total != 0 || len(c.Exceptions) != 0 ||
		!strings.Contains(c.Summary, "2 unbookable record(s) dismissed in quarantine") {
		t.Fatalf("completeness after both dismissals: %+v", c)
	}
	if !rep.Reconciled() {
		t.Fatalf("the month does not reconcile once both records are dismissed: %+v", rep.Checks)
	}
}
