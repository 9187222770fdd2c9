package payouts_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/payouts"
)

func TestImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("KeepsRowsTotalsAndDigest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sh := sheetOf("keep", rows("USDTTRC20", 2, 3), rows("USDTBEP20", 5, 1))
		batch := b.importSheet(t, sh)
		if batch.State != payouts.BatchImported || batch.Rows != 4 || batch.Forced || len(batch.ID) != 15 {
			t.Fatalf("batch %+v", batch)
		}
		if len(batch.Totals) != 2 || batch.Totals[0].Currency != "USDTBEP20" || batch.Totals[1].Rows != 3 ||
			!batch.Totals[1].Amount.Equal(d("33")) || !batch.Totals[1].ExpectedFee.Equal(d("3.165")) {
			t.Fatalf("totals %+v", batch.Totals)
		}
		stored, err := b.store.Batch(ctx, batch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Digest != batch.Digest || stored.SheetSHA256 != sh.SHA256 || len(stored.Totals) != 2 ||
			!stored.Totals[1].ExpectedFee.Equal(d("3.165")) {
			t.Fatalf("stored %+v, imported %+v", stored, batch)
		}
		var n int
		if err := b.db.Get(&n, `SELECT count(*) FROM payout_rows WHERE batch_id = $1`, batch.ID); err != nil || n != 4 {
			t.Fatalf("%d rows stored, %v", n, err)
		}
		lines, err := b.store.Audit(ctx, batch.ID)
		if err != nil || len(lines) != 1 || lines[0].Action != "imported" || lines[0].Actor != "alice" {
			t.Fatalf("audit %+v %v", lines, err)
		}
		if st := b.status(t, batch.ID); st.State != payouts.BatchImported || st.Approved() || st.RequiredApprovers != 1 {
			t.Fatalf("status %+v", st)
		}
	})

	t.Run("SameSheetRefusedUnlessForced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sh := sheetOf("twice", rows("USDTTRC20", 2, 2))
		first := b.importSheet(t, sh)
		_, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sh, By: "carol"})
		var dup *payouts.DuplicateSheetError
		if !errors.Is(err, payouts.ErrDuplicateSheet) || !errors.As(err, &dup) || dup.Existing.ID != first.ID ||
			!strings.Contains(err.Error(), "--force") {
			t.Fatalf("second import: %v", err)
		}
		if found, err := b.store.FindSheet(ctx, sh.SHA256); err != nil || found == nil || found.ID != first.ID {
			t.Fatalf("FindSheet: %+v %v", found, err)
		}
		// Forced, the same rows are still repeats: --allow-repeat must say so too.
		if _, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sh, By: "carol", Force: true}); !errors.Is(err, payouts.ErrRepeat) {
			t.Fatalf("forced import without AllowRepeat: %v", err)
		}
		forced, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sh, By: "carol", Force: true, AllowRepeat: true})
		if err != nil || !forced.Forced || forced.ID == first.ID {
			t.Fatalf("forced import: %+v %v", forced, err)
		}
		lines, err := b.store.Audit(ctx, first.ID)
		if err != nil || len(lines) != 2 || lines[1].Action != "import refused" || lines[1].Actor != "carol" {
			t.Fatalf("audit of the first batch: %+v %v", lines, err)
		}
		// The database itself refuses a second unforced batch of the same sheet.
		_, err = b.db.Exec(`INSERT INTO payout_batches (id, sheet_sha256, file_name, format, imported_by, created_at,
			state, row_count, control_digest, updated_at)
			SELECT 'x-1', sheet_sha256, file_name, format, 'mallory', now(), 'imported', 0, control_digest, now()
			FROM payout_batches WHERE id = $1`, first.ID)
		if err == nil || !strings.Contains(err.Error(), "payout_batches_sheet_once") {
			t.Fatalf("the database took a second import of the same sheet: %v", err)
		}
	})

	t.Run("InvalidSheetIsRejectedAndNeverPaid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sh := sheetOf("bad", rows("USDTTRC20", 2, 2))
		req := payouts.ImportRequest{Sheet: sh, By: "alice",
			Errors: []payouts.RowError{{Row: 3, Field: "amount", Message: "not a number"}}}
		batch, err := b.store.Import(ctx, req)
		if err != nil || batch.State != payouts.BatchRejected || batch.Errors != 1 {
			t.Fatalf("%+v %v", batch, err)
		}
		var n int
		if err := b.db.Get(&n, `SELECT count(*) FROM payout_rows WHERE batch_id = $1`, batch.ID); err != nil || n != 0 {
			t.Fatalf("a rejected batch kept %d rows (%v)", n, err)
		}
		if _, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{}); !errors.Is(err, payouts.ErrRejected) {
			t.Fatalf("approve: %v", err)
		}
		if _, err := b.run(t, batch.ID); !errors.Is(err, payouts.ErrRejected) {
			t.Fatalf("run: %v", err)
		}
		// Importing the same invalid sheet again reports it again instead of "duplicate".
		if again, err := b.store.Import(ctx, req); err != nil || again.State != payouts.BatchRejected {
			t.Fatalf("again: %+v %v", again, err)
		}
		if b.sb.Requests("/balance/withdraw/multiple/request") != 0 {
			t.Fatal("a request reached the sandbox")
		}
	})

	t.Run("NeedsAnImporter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if _, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sheetOf("x", rows("USDTTRC20", 2, 1)), By: "  "}); err == nil {
			t.Fatal("imported without a name")
		}
	})
}

func TestApprove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ByTheImporterRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch := b.importSheet(t, sheetOf("own", rows("USDTTRC20", 2, 2)))
		for _, name := range []string{"alice", "  ALICE ", "Alice"} {
			_, err := b.store.Approve(ctx, batch.ID, name, payouts.ApproveOptions{})
			if !errors.Is(err, payouts.ErrApprovalRefused) || !strings.Contains(err.Error(), "imported it") {
				t.Fatalf("approval by %q: %v", name, err)
			}
		}
		if st := b.status(t, batch.ID); len(st.Approvals) != 0 || st.State != payouts.BatchImported {
			t.Fatalf("status %+v", st)
		}
		lines, err := b.store.Audit(ctx, batch.ID)
		if err != nil || len(lines) != 4 || lines[1].Action != "approval refused" {
			t.Fatalf("refusals are not audited: %+v %v", lines, err)
		}
		// Nor can anyone write such an approval by hand.
		_, err = b.db.Exec(`INSERT INTO payout_approvals (batch_id, approver, approved_at, expires_at, sheet_sha256, control_digest)
			SELECT id, ' Alice', now(), now() + interval '1 hour', sheet_sha256, control_digest FROM payout_batches WHERE id = $1`, batch.ID)
		if err == nil || !strings.Contains(err.Error(), "cannot approve it") {
			t.Fatalf("the database took the importer's approval: %v", err)
		}
		if _, err := b.run(t, batch.ID); !errors.Is(err, payouts.ErrNotApproved) {
			t.Fatalf("run without approval: %v", err)
		}
		if b.sb.Requests(routeRequest) != 0 {
			t.Fatal("an unapproved batch reached the API")
		}
	})

	t.Run("OncePerPersonWhileValid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch := b.importSheet(t, sheetOf("twice", rows("USDTTRC20", 2, 1)))
		st, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{})
		if err != nil || !st.Approved() || st.State != payouts.BatchApproved || !st.ApprovedUntil.Equal(testNow.Add(24*time.Hour)) {
			t.Fatalf("%+v %v", st, err)
		}
		if _, err := b.store.Approve(ctx, batch.ID, "BOB", payouts.ApproveOptions{}); !errors.Is(err, payouts.ErrApprovalRefused) {
			t.Fatalf("second approval by bob: %v", err)
		}
		b.clock.Advance(25 * time.Hour)
		if st := b.status(t, batch.ID); st.Approved() || st.State != payouts.BatchImported {
			t.Fatalf("an expired approval still counts: %+v", st)
		}
		if st, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{}); err != nil || !st.Approved() {
			t.Fatalf("approving again after expiry: %v", err)
		}
	})

	t.Run("ExpiredApprovalRefusedAtRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch, _ := b.approved(t)
		b.clock.Advance(24*time.Hour + time.Second)
		_, err := b.run(t, batch.ID)
		var na *payouts.NotApprovedError
		if !errors.Is(err, payouts.ErrNotApproved) || !errors.As(err, &na) || !strings.Contains(err.Error(), "bob's approval expired") {
			t.Fatalf("run: %v", err)
		}
		if b.sb.Requests(routeRequest) != 0 || len(b.status(t, batch.ID).Chunks) != 0 {
			t.Fatal("an expired approval planned or requested something")
		}
	})

	t.Run("ThresholdAsksForMoreApprovers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *setupOptions) {
			o.policy.Thresholds = []payouts.Threshold{{Currency: "USDTTRC20", Above: d("40"), Approvers: 2}}
		})
		big := b.importSheet(t, sheetOf("big", rows("USDTTRC20", 2, 4)))      // 10+11+12+13 = 46
		small := b.importSheet(t, sheetOf("small", rows("USDTTRC20", 20, 3))) // 33
		st, err := b.store.Approve(ctx, big.ID, "bob", payouts.ApproveOptions{})
		if err != nil || st.RequiredApprovers != 2 || st.Approved() {
			t.Fatalf("one approval of a big batch: %+v %v", st, err)
		}
		if _, err := b.run(t, big.ID); !errors.Is(err, payouts.ErrNotApproved) || !strings.Contains(err.Error(), "1 of 2") {
			t.Fatalf("run: %v", err)
		}
		if st, err := b.store.Approve(ctx, big.ID, "carol", payouts.ApproveOptions{}); err != nil || !st.Approved() {
			t.Fatalf("second approval: %+v %v", st, err)
		}
		if st, err := b.store.Approve(ctx, small.ID, "bob", payouts.ApproveOptions{}); err != nil || st.RequiredApprovers != 1 || !st.Approved() {
			t.Fatalf("small batch: %+v %v", st, err)
		}
	})

	t.Run("OtherSheetRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch := b.importSheet(t, sheetOf("reviewed", rows("USDTTRC20", 2, 1)))
		other := sheetOf("another", rows("USDTTRC20", 2, 1))
		_, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{SheetSHA256: other.SHA256})
		if !errors.Is(err, payouts.ErrApprovalRefused) || !strings.Contains(err.Error(), "is not the one imported") {
			t.Fatalf("%v", err)
		}
		if _, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{SheetSHA256: strings.ToUpper(batch.SheetSHA256)}); err != nil {
			t.Fatalf("the right sheet: %v", err)
		}
		// An approval bound to other totals cannot be written by hand either.
		_, err = b.db.Exec(`INSERT INTO payout_approvals (batch_id, approver, approved_at, expires_at, sheet_sha256, control_digest)
			SELECT id, 'carol', now(), now() + interval '1 hour', sheet_sha256, repeat('0', 64) FROM payout_batches WHERE id = $1`, batch.ID)
		if err == nil || !strings.Contains(err.Error(), "bound to another sheet or other control totals") {
			t.Fatalf("%v", err)
		}
	})

	t.Run("RowsChangedSinceImportRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch := b.importSheet(t, sheetOf("changed", rows("USDTTRC20", 2, 2)))
		if _, err := b.db.Exec(`UPDATE payout_rows SET amount = 1000 WHERE batch_id = $1 AND line = 2`, batch.ID); err == nil {
			t.Fatal("a row was changed in place")
		}
		// A superuser gets past the trigger; the digest catches it.
		tamperRows(t, b, `UPDATE payout_rows SET address = '0xbad' WHERE batch_id = $1 AND line = 2`, batch.ID)
		_, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{})
		if !errors.Is(err, payouts.ErrApprovalRefused) || !strings.Contains(err.Error(), "rows changed since the import") {
			t.Fatalf("%v", err)
		}
	})

	t.Run("RowsChangedAfterApprovalRefusedAtRun", func(t *testing.T) {
		t.Parallel()
		for _, change := range []string{
			`UPDATE payout_rows SET amount = amount + 1000 WHERE batch_id = $1 AND line = 2`,
			`UPDATE payout_rows SET address = '0xattacker' WHERE batch_id = $1 AND line = 3`,
			`INSERT INTO payout_rows (batch_id, line, currency, address, amount, reference) VALUES ($1, 99, 'USDTTRC20', '0xextra', 50, 'extra')`,
		} {
			b := setup(t)
			batch, _ := b.approved(t)
			if _, err := b.db.Exec(change, batch.ID); err == nil {
				t.Fatalf("the database took %q after approval", change)
			}
			tamperRows(t, b, change, batch.ID)
			_, err := b.run(t, batch.ID)
			if !errors.Is(err, payouts.ErrNotApproved) || !strings.Contains(err.Error(), "rows changed") {
				t.Fatalf("%s: run: %v", change, err)
			}
			if b.sb.Requests(routeRequest) != 0 {
				t.Fatalf("%s: changed rows reached the API", change)
			}
		}
	})
}

// tamperRows changes payout rows behind the triggers' back, as a superuser could.
func tamperRows(t *testing.T, b *bundle, query string, args ...any) {
	t.Helper()
	for _, q := range []string{`ALTER TABLE payout_rows DISABLE TRIGGER USER`, query, `ALTER TABLE payout_rows ENABLE TRIGGER USER`} {
		var err error
		if q == query {
			_, err = b.db.Exec(q, args...)
		} else {
			_, err = b.db.Exec(q)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	batch, rs := b.approved(t)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Resolve(ctx, batch.ID, 1, payouts.OutcomeFailed, "dave", ""); !errors.Is(err, payouts.ErrChunkState) {
		t.Fatalf("resolving a confirmed chunk: %v", err)
	}
	if _, err := b.store.Resolve(ctx, batch.ID, 42, payouts.OutcomeFailed, "dave", ""); !errors.Is(err, payouts.ErrChunkState) {
		t.Fatalf("resolving a chunk that does not exist: %v", err)
	}
	if _, err := b.store.Resolve(ctx, "nope", 1, payouts.OutcomeFailed, "dave", ""); !errors.Is(err, payouts.ErrBatchNotFound) {
		t.Fatalf("resolving in a batch that does not exist: %v", err)
	}
	if _, err := b.store.Resolve(ctx, batch.ID, 1, "maybe", "dave", ""); err == nil {
		t.Fatal("outcome maybe accepted")
	}
	if _, err := b.store.Resolve(ctx, batch.ID, 1, payouts.OutcomePaid, "", ""); err == nil {
		t.Fatal("an unnamed resolution accepted")
	}
	b.paidExactlyOnce(t, rs)
}

func TestPaidRecently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	// 40 days ago: a batch imported and paid then; then one imported then but paid 10 days ago.
	b.clock.Set(testNow.Add(-40 * 24 * time.Hour))
	old, oldRows := b.approved(t)
	if _, err := b.run(t, old.ID); err != nil {
		t.Fatal(err)
	}
	late := b.importSheet(t, sheetOf("late", rows("USDTTRC20", 20, 1)))
	b.clock.Set(testNow.Add(-10 * 24 * time.Hour))
	if _, err := b.store.Approve(ctx, late.ID, "bob", payouts.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.run(t, late.ID); err != nil {
		t.Fatal(err)
	}
	// 40 days ago too: a batch imported and never approved nor run; it can still be.
	b.clock.Set(testNow.Add(-40 * 24 * time.Hour))
	b.importSheet(t, sheetOf("stale", rows("USDTBEP20", 50, 1)))
	// Today: a batch imported, not run (one of its rows to a bech32 address); and a rejected one.
	b.clock.Set(testNow)
	btc := payouts.Row{Line: 31, Currency: "BTC", Address: btcA, Amount: d("0.01"), Reference: "BTC-31"}
	b.importSheet(t, sheetOf("pending", rows("USDTBEP20", 30, 1), []payouts.Row{btc}))
	if _, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sheetOf("rejected", rows("USDTBEP20", 40, 1)), By: "alice",
		Errors: []payouts.RowError{{Row: 40, Message: "bad"}}}); err != nil {
		t.Fatal(err)
	}
	check, err := b.store.PaidRecently(ctx, testNow.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		row  payouts.Row
		want bool
	}{
		{"PaidLongAgo", oldRows[0], false},
		{"ImportedLongAgoPaidRecently", rows("USDTTRC20", 20, 1)[0], true},
		{"ImportedNotPaid", rows("USDTBEP20", 30, 1)[0], true},
		{"Rejected", rows("USDTBEP20", 40, 1)[0], false},
		{"OtherAmount", payouts.Row{Currency: "USDTBEP20", Address: rows("USDTBEP20", 30, 1)[0].Address, Amount: d("10.01")}, false},
		{"AddressCase", payouts.Row{Currency: "USDTBEP20", Address: strings.ToUpper(rows("USDTBEP20", 30, 1)[0].Address[2:]), Amount: d("10")}, false},
		{"ChecksummedAddress", payouts.Row{Currency: "USDTBEP20", Address: "0x" + strings.ToUpper(rows("USDTBEP20", 30, 1)[0].Address[2:]), Amount: d("10.000")}, true},
		{"OldBatchNeverRun", rows("USDTBEP20", 50, 1)[0], true},
		{"Bech32SameAddressUpperCase", payouts.Row{Currency: "BTC", Address: strings.ToUpper(btcA), Amount: d("0.010")}, true},
		{"Bech32OtherAmount", payouts.Row{Currency: "BTC", Address: btcA, Amount: d("0.02")}, false},
	} {
		got, err := check(ctx, tc.row.Currency, tc.row.Address, tc.row.Amount)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestImportRefusesRepeatsImportedMeanwhile: two operators import two sheets (different
// files) that pay the same row; each was validated before the other was imported, so
// validation passed both. Import checks again, under a lock, and keeps only one.
func TestImportRefusesRepeatsImportedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OneAfterTheOther", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		shared := rows("USDTTRC20", 2, 1)
		first := sheetOf("first", shared, rows("USDTTRC20", 3, 1))
		second := sheetOf("second", shared, rows("USDTBEP20", 3, 1))
		// Both validated now: neither is imported yet, so no repeat is seen.
		check, err := b.store.PaidRecently(ctx, testNow.Add(-payouts.RepeatWindow))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range append(first.Rows, second.Rows...) {
			if seen, _ := check(ctx, r.Currency, r.Address, r.Amount); seen {
				t.Fatalf("row %d seen before any import", r.Line)
			}
		}
		b.importSheet(t, first)
		_, err = b.store.Import(ctx, payouts.ImportRequest{Sheet: second, By: "carol"})
		var rep *payouts.RepeatError
		if !errors.Is(err, payouts.ErrRepeat) || !errors.As(err, &rep) || len(rep.Errors) != 1 || rep.Errors[0].Row != 2 ||
			!strings.Contains(rep.Errors[0].Message, "--allow-repeat") || !strings.Contains(err.Error(), second.Name) {
			t.Fatalf("second import: %v", err)
		}
		var n int
		if err := b.db.Get(&n, `SELECT count(*) FROM payout_batches`); err != nil || n != 1 {
			t.Fatalf("%d batches kept (%v)", n, err)
		}
		if _, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: second, By: "carol", AllowRepeat: true}); err != nil {
			t.Fatalf("with AllowRepeat: %v", err)
		}
	})

	t.Run("AtTheSameTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		shared := rows("USDTTRC20", 2, 3)
		sheets := []*payouts.Sheet{sheetOf("one", shared), sheetOf("two", shared), sheetOf("three", shared), sheetOf("four", shared)}
		errs := make([]error, len(sheets))
		var wg sync.WaitGroup
		for i, sh := range sheets {
			wg.Go(func() {
				_, errs[i] = b.store.Import(ctx, payouts.ImportRequest{Sheet: sh, By: fmt.Sprint("op", i)})
			})
		}
		wg.Wait()
		kept := 0
		for _, err := range errs {
			switch {
			case err == nil:
				kept++
			case !errors.Is(err, payouts.ErrRepeat):
				t.Fatalf("import: %v", err)
			}
		}
		if kept != 1 {
			t.Fatalf("%d of %d sheets with the same rows kept", kept, len(sheets))
		}
	})
}
