package payouts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nordpay/nordpay-jobs/payouts"
)

// TestAuditRecordsTheOSAccount: --by is a name anyone may type; every audit line also says
// which OS user on which host ran it, and an approval from the importer's own OS account is
// warned about (and audited) but not refused: one finance laptop may be shared.
func TestAuditRecordsTheOSAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := payouts.WithAccount(context.Background(), payouts.OSAccount{User: "alice", Host: "finance-laptop"})
	bob := payouts.WithAccount(context.Background(), payouts.OSAccount{User: "bob", Host: "bob-desk"})
	imp := func(ctx context.Context, salt string) *payouts.Batch {
		t.Helper()
		batch, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sheetOf(t.Name()+salt, rows("USDTTRC20", 2, 2)),
			By: "alice", ExpectedFee: b.policy.ExpectedFeeFunc(b.current), AllowRepeat: true})
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		return batch
	}

	// Another person on another machine: no warning.
	one := imp(alice, "1")
	st, err := b.store.Approve(bob, one.ID, "bob", payouts.ApproveOptions{})
	if err != nil || len(st.Warnings) != 0 {
		t.Fatalf("approve from another account: %v, warnings %q", err, st.Warnings)
	}
	lines, err := b.store.Audit(context.Background(), one.ID)
	if err != nil || len(lines) != 2 {
		t.Fatalf("audit: %v %+v", err, lines)
	}
	if d := lines[0].Detail; lines[0].Action != "imported" || d["os_user"] != "alice" || d["host"] != "finance-laptop" {
		t.Fatalf("import line %+v", lines[0])
	}
	if d := lines[1].Detail; lines[1].Action != "approved" || d["os_user"] != "bob" || d["host"] != "bob-desk" || d["warnings"] != nil {
		t.Fatalf("approval line %+v", lines[1])
	}
	if rec, err := b.store.ImportRecord(context.Background(), one.ID); err != nil || rec.Account.String() != "alice@finance-laptop" {
		t.Fatalf("import record %+v %v", rec, err)
	}

	// "bob" typed on alice's account: approved, with a warning that is in the audit.
	two := imp(alice, "2")
	st, err = b.store.Approve(alice, two.ID, "bob", payouts.ApproveOptions{})
	if err != nil {
		t.Fatalf("approve from the importer's account: %v", err)
	}
	want := "imported and approved from the same OS account alice@finance-laptop: the approvals are only as separate as the names typed"
	if len(st.Warnings) != 1 || st.Warnings[0] != want || !st.Approved() {
		t.Fatalf("warnings %q, approved %v", st.Warnings, st.Approved())
	}
	lines, err = b.store.Audit(context.Background(), two.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := lines[len(lines)-1]
	if ws, _ := last.Detail["warnings"].([]any); last.Action != "approved" || len(ws) != 1 || ws[0] != want {
		t.Fatalf("approval line %+v", last)
	}

	// The same host but another user, or an unknown account, is no warning.
	three := imp(alice, "3")
	other := payouts.WithAccount(context.Background(), payouts.OSAccount{User: "carol", Host: "finance-laptop"})
	if st, err := b.store.Approve(other, three.ID, "carol", payouts.ApproveOptions{}); err != nil || len(st.Warnings) != 0 {
		t.Fatalf("another user on the same host: %v %q", err, st.Warnings)
	}
	four := imp(payouts.WithAccount(context.Background(), payouts.OSAccount{}), "4")
	unknown := payouts.WithAccount(context.Background(), payouts.OSAccount{})
	if st, err := b.store.Approve(unknown, four.ID, "bob", payouts.ApproveOptions{}); err != nil || len(st.Warnings) != 0 {
		t.Fatalf("unknown accounts: %v %q", err, st.Warnings)
	}

	// Without a test account, the process's: its host at least is known here.
	five := imp(context.Background(), "5")
	rec, err := b.store.ImportRecord(context.Background(), five.ID)
	if err != nil || rec.Account != payouts.CurrentAccount(context.Background()) || rec.Account.Host == "" {
		t.Fatalf("process account %+v %v", rec, err)
	}

	// A refused approval records the account as well.
	if _, err := b.store.Approve(alice, five.ID, "alice", payouts.ApproveOptions{}); err == nil {
		t.Fatal("the importer approved")
	}
	lines, err = b.store.Audit(context.Background(), five.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := lines[len(lines)-1]; last.Action != "approval refused" || last.Detail["os_user"] != "alice" {
		t.Fatalf("refusal line %+v", last)
	}
}

// TestImportRecordsAllowRepeat: the approvers must learn that --allow-repeat let rows through,
// and how many.
func TestImportRecordsAllowRepeat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	trc := rows("USDTTRC20", 2, 3)
	first := b.importSheet(t, sheetOf(t.Name()+"1", trc))
	rec, err := b.store.ImportRecord(ctx, first.ID)
	if err != nil || rec.AllowRepeat || rec.RepeatRows != -1 {
		t.Fatalf("without --allow-repeat: %+v %v", rec, err)
	}
	// Two rows repeat the first batch; one new row is on the sheet twice.
	fresh := rows("USDTBEP20", 10, 1)[0]
	twice := fresh
	twice.Line, twice.Reference = 11, "again"
	sh := sheetOf(t.Name()+"2", trc[:2], []payouts.Row{fresh, twice})
	if _, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sh, By: "alice"}); err == nil ||
		!strings.Contains(err.Error(), "--allow-repeat") {
		t.Fatalf("repeats without --allow-repeat: %v", err)
	}
	second, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sh, By: "alice", AllowRepeat: true})
	if err != nil {
		t.Fatal(err)
	}
	rec, err = b.store.ImportRecord(ctx, second.ID)
	if err != nil || !rec.AllowRepeat || rec.RepeatRows != 3 {
		t.Fatalf("with --allow-repeat: %+v %v", rec, err)
	}
	if rec, err := b.store.ImportRecord(ctx, "20990101-000000"); err != nil || rec != nil {
		t.Fatalf("no such batch: %+v %v", rec, err)
	}
}
