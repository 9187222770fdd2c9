package payouts_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// withdrawRoutes are every route of the sandbox that could move money.
var withdrawRoutes = []string{
	"POST /balance/withdraw/request", "POST /balance/withdraw/confirm",
	routeRequest, routeConfirm,
}

// TestBadSheetsAgainstTheSandbox takes every sheet of the bad corpus the way `payouts import`
// does, against the sandbox over HTTP and a real database: currencies and balances read from
// the API, repeats from the store, the sheet read, validated and kept as a batch. Each sheet
// must be refused for exactly its rows and reasons, its batch rejected, and neither an
// approval, a run nor a dry run of it may send anything: at the end, not one withdraw
// request or confirm has reached the sandbox.
func TestBadSheetsAgainstTheSandbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fees := sandbox.DefaultOptions(testNow).WithdrawFees
	b := setup(t, func(o *setupOptions) {
		o.policy.Fees = map[string]payouts.Fee{}
		for cur, f := range fees {
			o.policy.Fees[cur] = payouts.Fee{Fixed: f.Fixed, Percent: f.Percent}
		}
	})
	// The corpus's one recent payout: 77 USDTTRC20 to tronPaid, in a batch imported today.
	b.importSheet(t, sheetOf("earlier", []payouts.Row{{Line: 2, Currency: "USDTTRC20", Address: tronPaid,
		Amount: decimal.NewFromInt(77), Reference: "EARLIER-1"}}))

	env := sandboxEnv(t, b)
	for _, c := range badSheets {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(corpusDir, c.file))
			if err != nil {
				t.Fatalf("%v (regenerate with -update)", err)
			}
			sh, err := payouts.ReadSheet(c.file, bytes.NewReader(data), c.opts)
			if c.readErr != nil {
				if !errors.Is(err, c.readErr) || !strings.Contains(err.Error(), c.want[0].msg) || !strings.Contains(err.Error(), c.file) {
					t.Fatalf("ReadSheet: %v; want %v containing %q and the file name", err, c.readErr, c.want[0].msg)
				}
				return // nothing could be read: no batch
			}
			if err != nil {
				t.Fatalf("ReadSheet: %v", err)
			}
			errs, _, err := payouts.Validate(ctx, sh, env)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			checkCorpusErrors(t, c, errs)
			batch, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sh, Errors: errs, By: "alice", ExpectedFee: env.ExpectedFee})
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if batch.State != payouts.BatchRejected || batch.Errors != len(errs) {
				t.Fatalf("batch %s with %d errors, want rejected with %d", batch.State, batch.Errors, len(errs))
			}
			if _, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{}); !errors.Is(err, payouts.ErrRejected) {
				t.Fatalf("approve: %v", err)
			}
			if _, err := b.run(t, batch.ID); !errors.Is(err, payouts.ErrRejected) {
				t.Fatalf("run: %v", err)
			}
			res, err := b.runner.Run(ctx, batch.ID, payouts.RunOptions{DryRun: true})
			if err != nil || len(res.Problems) == 0 || len(res.Requests) != 0 {
				t.Fatalf("dry run: %+v %v", res, err)
			}
			for _, r := range withdrawRoutes {
				if n := b.sb.Requests(r); n != 0 {
					t.Fatalf("%d %s reached the sandbox", n, r)
				}
			}
		})
	}
	for _, r := range withdrawRoutes {
		if n := b.sb.Requests(r); n != 0 {
			t.Errorf("%d %s reached the sandbox", n, r)
		}
	}
	if len(b.sb.Payments()) != 0 {
		t.Errorf("the sandbox paid %d rows", len(b.sb.Payments()))
	}
	var rows int
	if err := b.db.Get(&rows, `SELECT count(*) FROM payout_rows r JOIN payout_batches b ON b.id = r.batch_id WHERE b.state = 'rejected'`); err != nil || rows != 0 {
		t.Errorf("rejected batches hold %d rows (%v)", rows, err)
	}
}

// TestValidateProgressAgainstTheSandbox validates a sheet of 2,500 rows the way `payouts
// import` does (the sandbox over HTTP, recent payouts from the store) with a progress
// callback: first no row of them all, then every 1,024 rows, last them all.
func TestValidateProgressAgainstTheSandbox(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := sandboxEnv(t, b)
	const n = 2500
	sh, err := payouts.ReadSheet("progress.csv", bytes.NewReader(benchSheet(t, "csv", n)), payouts.ReadOptions{})
	if err != nil || len(sh.Rows) != n {
		t.Fatalf("ReadSheet: %v", err)
	}
	var calls [][2]int
	env.Progress = func(done, total int) { calls = append(calls, [2]int{done, total}) }
	if _, _, err := payouts.Validate(context.Background(), sh, env); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if want := [][2]int{{0, n}, {1024, n}, {2048, n}, {n, n}}; !slices.Equal(calls, want) {
		t.Errorf("progress %v, want %v", calls, want)
	}
}

// sandboxEnv is the validation environment `payouts import` builds, read from the sandbox
// over HTTP and from the store, with the corpus's caps.
func sandboxEnv(t *testing.T, b *bundle) payouts.ValidationEnv {
	t.Helper()
	ctx := context.Background()
	cs, err := b.client.Currencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env := payouts.ValidationEnv{Currencies: map[string]nordpay.Currency{}, Balances: map[string]decimal.Decimal{},
		Limits: corpusEnv().Limits, Now: b.clock.Now}
	for _, c := range cs {
		env.Currencies[c.Name] = c
	}
	bs, err := b.client.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bal := range bs {
		env.Balances[bal.Currency] = bal.Balance
	}
	env.ExpectedFee = b.store.Policy().ExpectedFeeFunc(env.Currencies)
	if env.PaidRecently, err = b.store.PaidRecently(ctx, b.clock.Now().Add(-payouts.RepeatWindow)); err != nil {
		t.Fatal(err)
	}
	return env
}
