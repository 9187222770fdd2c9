package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// payoutPolicy charges what the sandbox charges, so that quotes pass the fee checks.
func payoutPolicy() payouts.Policy {
	d := decimal.RequireFromString
	return payouts.Policy{
		Approvers: 1, ApprovalTTL: 24 * time.Hour, RowsPerRequest: 2,
		Fees: map[string]payouts.Fee{
			"USDTBEP20": {Fixed: d("0.5"), Percent: d("0.5")},
			"USDTTRC20": {Fixed: d("1"), Percent: d("0.5")},
		},
		FeeCeilingPercent: d("15"),
		MinQuoteLifetime:  30 * time.Second,
	}
}

// unknownChunk imports a one-row USDTBEP20 sheet as alice, has bob approve it, and runs it
// with the confirm's connection dropped before Nord PAY executes it: the chunk's outcome is
// unknown, and nothing moved.
func unknownChunk(t *testing.T, b *bundle, st *payouts.Store) *payouts.Batch {
	t.Helper()
	ctx := context.Background()
	if bal := b.sb.Balances()["USDTBEP20"]; bal.LessThan(decimal.NewFromInt(100)) {
		t.Fatalf("the sandbox holds %s USDTBEP20: too little to pay from", bal)
	}
	sheet, err := payouts.ReadSheet("one.csv", strings.NewReader("currency,address,amount,reference\nUSDTBEP20,0x00000000000000000000000000000000000000a1,20,INV-1\n"), payouts.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := b.syncer.Client.Currencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]nordpay.Currency{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	batch, err := st.Import(ctx, payouts.ImportRequest{Sheet: sheet, By: "alice", ExpectedFee: st.Policy().ExpectedFeeFunc(byName)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	b.sb.InjectFault("POST /balance/withdraw/multiple/confirm", sandbox.FaultDrop)
	r := &payouts.Runner{Store: st, Client: b.syncer.Client, Sleep: func(context.Context, time.Duration) error { return nil }}
	res, err := r.Run(ctx, batch.ID, payouts.RunOptions{})
	if err != nil || res.State != payouts.BatchAttention {
		t.Fatalf("run: %+v %v", res, err)
	}
	if len(b.sb.Payments()) != 0 {
		t.Fatal("the dropped confirm paid")
	}
	return batch
}

// TestReconcileKind runs the reconcile kind through the scheduler: a clean month writes its
// report and succeeds; a payout chunk in an unknown state makes the run fail at once (no
// retries), naming the check and the report, which lists the chunk.
func TestReconcileKind(t *testing.T) {
	t.Parallel()
	b := reconcileSetup(t)
	b.run(t, jobs.SyncOptions{Start: reconStart})
	st := payouts.NewStore(b.store, payoutPolicy())
	st.Now = b.clock.Now
	dir := t.TempDir()
	kind := jobs.ReconcileKind(jobs.ReconcileKindOptions{
		Reconciler: func() (*jobs.Reconciler, error) {
			return &jobs.Reconciler{Client: b.syncer.Client, Store: b.store, Now: b.clock.Now}, nil
		},
		UnknownPayouts: jobs.UnknownPayouts(st),
	})
	job := testJob("monthly", jobs.KindReconcile, "0 6 1 * *", func(j *config.Job) {
		j.Settings = map[string]any{"out_dir": dir}
		j.Retries.MaxAttempts = 3
	})
	// The scheduler's clock is past the slot; the sandbox's stays in November.
	s := newTestScheduler(t, jobs.SchedulerOptions{DB: b.db, Jobs: []config.Job{job},
		Now: func() time.Time { return utc("2026-12-01T07:00:00Z") }}, kind)
	ctx := context.Background()
	slot := utc("2026-12-01T06:00:00Z")
	report := filepath.Join(dir, "reconciliation-2026-11.xlsx")
	statuses := func(r jobs.Run) (jobs.ReconcileSummary, map[string]string) {
		t.Helper()
		var sum jobs.ReconcileSummary
		if err := json.Unmarshal(r.Result, &sum); err != nil {
			t.Fatalf("result %s: %v", r.Result, err)
		}
		out := map[string]string{}
		for _, c := range sum.Checks {
			out[c.Name] = c.Status
		}
		return sum, out
	}

	t.Run("CleanMonth", func(t *testing.T) {
		o, err := s.RunNow(ctx, "monthly", slot, false)
		if err != nil || o.Run.State != jobs.StateSucceeded {
			t.Fatalf("%+v %v", o, err)
		}
		sum, checks := statuses(o.Run)
		if sum.Month != "2026-11" || sum.Report != report || !sum.Reconciled || checks[exporters.CheckPayouts] != "passed" || len(checks) != 5 {
			t.Fatalf("summary %+v", sum)
		}
		if _, err := os.Stat(report); err != nil {
			t.Fatal(err)
		}
	})

	batch := unknownChunk(t, b, st)

	t.Run("AnUnknownChunkFailsTheRunAtOnce", func(t *testing.T) {
		o, err := s.RunNow(ctx, "monthly", slot, true)
		if err == nil || o.Run.State != jobs.StateFailed || o.Run.Attempts != 1 {
			t.Fatalf("%+v %v", o.Run, err)
		}
		if !errors.Is(err, jobs.ErrNotReconciled) || !jobs.IsPermanent(err) {
			t.Errorf("err = %v: want ErrNotReconciled, Permanent, in the chain", err)
		}
		for _, want := range []string{"reconcile: 2026-11 does not reconcile: unknown payouts (1 exception(s)) failed", "the exceptions are in " + report} {
			if !strings.Contains(o.Run.Error, want) {
				t.Errorf("the error %q lacks %q", o.Run.Error, want)
			}
		}
		sum, checks := statuses(o.Run)
		if sum.Reconciled || checks[exporters.CheckPayouts] != "failed" || checks[exporters.CheckBalance] != "passed" ||
			checks[exporters.CheckCompleteness] != "passed" || checks[exporters.CheckMovements] != "passed" {
			t.Fatalf("checks %v", checks)
		}
		f, err := excelize.OpenFile(report)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := f.GetRows("Exceptions")
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, r := range rows[1:] {
			if r[0] == exporters.CheckPayouts && slices.Contains(r, batch.ID+"/1") {
				found = true
			}
		}
		if !found {
			t.Fatalf("the report's exceptions do not list chunk %s/1: %q", batch.ID, rows)
		}
	})

	t.Run("ResolvedItReconcilesAgain", func(t *testing.T) {
		if _, err := st.Resolve(ctx, batch.ID, 1, payouts.OutcomeFailed, "dave", "nothing left Nord PAY"); err != nil {
			t.Fatal(err)
		}
		o, err := s.RunNow(ctx, "monthly", slot, true)
		if err != nil || o.Run.State != jobs.StateSucceeded {
			t.Fatalf("%+v %v", o.Run, err)
		}
	})

	t.Run("CSVFolder", func(t *testing.T) {
		r, err := kind.New(testJob("csv", jobs.KindReconcile, "0 6 1 * *", func(j *config.Job) {
			j.Settings = map[string]any{"out_dir": dir, "format": "csv", "prefix": "recon"}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(ctx, jobs.Slot{Job: "csv", Time: slot, Attempt: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "recon-2026-11", "summary.csv")); err != nil {
			t.Fatal(err)
		}
	})
}
