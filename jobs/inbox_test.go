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

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// Sheets of the inbox tests: two valid rows, and one with a bad address.
const (
	goodSheet = "currency,address,amount,reference,name\n" +
		"USDTBEP20,0x00000000000000000000000000000000000000a1,20,INV-1,Ann\n" +
		"USDTBEP20,0x00000000000000000000000000000000000000a2,21.5,INV-2,Ben\n"
	badSheet = "currency,address,amount,reference,name\n" +
		"USDTBEP20,0x00000000000000000000000000000000000000b1,20,INV-1,Ann\n" +
		"USDTBEP20,not-an-address,21.5,INV-2,Ben\n"
)

// errKilled stands for a process that died at a hook point.
var errKilled = errors.New("killed here by the test")

// inboxBundle is a payouts inbox over a sandbox (on a settable clock, with its default
// balances) and a fresh database.
type inboxBundle struct {
	sb    *sandbox.Server
	db    *sqlx.DB
	store *payouts.Store
	inbox *jobs.PayoutsInbox
	dir   string
}

func inboxSetup(t *testing.T) *inboxBundle {
	t.Helper()
	clock := sandbox.NewClock(testNow)
	opts := sandbox.DefaultOptions(testNow)
	opts.APIKey = "inbox-key"
	opts.Now = clock.Now
	opts.Invoices, opts.Wallets, opts.WalletCount = sandbox.Generator{}, sandbox.Generator{}, 1
	sb, client := serveSandbox(t, opts)
	conn := dbtest.New(t)
	st := payouts.NewStore(ledger.NewStore(conn, ledger.DefaultChart()), payoutPolicy())
	st.Now = clock.Now
	// What `payouts import` checks a sheet against (cmd/nordpay-jobs validationEnv).
	env := func(ctx context.Context, allowRepeat bool) (payouts.ValidationEnv, error) {
		env := payouts.ValidationEnv{Currencies: map[string]nordpay.Currency{}, Balances: map[string]decimal.Decimal{},
			AllowRepeat: allowRepeat, Now: clock.Now}
		cs, err := client.Currencies(ctx)
		if err != nil {
			return env, err
		}
		for _, c := range cs {
			env.Currencies[c.Name] = c
		}
		bs, err := client.Balances(ctx)
		if err != nil {
			return env, err
		}
		for _, b := range bs {
			env.Balances[b.Currency] = b.Balance
		}
		env.ExpectedFee = st.Policy().ExpectedFeeFunc(env.Currencies)
		env.PaidRecently, err = st.PaidRecently(ctx, clock.Now().Add(-payouts.RepeatWindow))
		return env, err
	}
	dir := t.TempDir()
	return &inboxBundle{sb: sb, db: conn, store: st, dir: dir, inbox: &jobs.PayoutsInbox{
		Dir: dir, Store: st, Client: client, DB: conn, Env: env, ImportedBy: "inbox:test", RunApproved: true, Now: clock.Now,
	}}
}

// drop writes a sheet into the inbox.
func (b *inboxBundle) drop(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// batches counts the batches by state.
func (b *inboxBundle) batches(t *testing.T) map[string]int {
	t.Helper()
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := b.db.Select(&rows, `SELECT state, count(*) AS n FROM payout_batches GROUP BY state`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out
}

// sub lists a subdirectory of the inbox, hidden files included.
func (b *inboxBundle) sub(t *testing.T, name string) []string {
	t.Helper()
	return dirNames(t, filepath.Join(b.dir, name))
}

// names returns the names of the sheets' final places and reports.
func names(sheets []jobs.InboxSheet) (files, reports []string) {
	for _, s := range sheets {
		files = append(files, filepath.Base(s.Path))
		reports = append(reports, filepath.Base(s.Report))
	}
	return
}

func TestInboxImportsGoodAndRejectsBadSheets(t *testing.T) {
	t.Parallel()
	b := inboxSetup(t)
	ctx := context.Background()
	b.drop(t, "march.csv", goodSheet)
	b.drop(t, "broken.csv", badSheet)
	b.drop(t, "scan.xlsx", "%PDF-1.7 not a workbook")
	b.drop(t, "notes.txt", "not a sheet")
	b.drop(t, ".march.csv.swp", "an editor's")
	b.drop(t, "~$march.xlsx", "an office lock file")

	res, err := b.inbox.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Imported) != 1 || len(res.Rejected) != 2 || res.Ignored != 3 || len(res.Runs) != 0 || len(res.Stuck) != 0 {
		t.Fatalf("result %+v", res)
	}
	good := res.Imported[0]
	if good.File != "march.csv" || good.Batch == "" || good.Rows != 2 || filepath.Dir(good.Path) != filepath.Join(b.dir, jobs.InboxProcessed) ||
		!strings.HasSuffix(good.Path, "--march.csv") || !strings.HasSuffix(good.Report, "--march.report.csv") {
		t.Fatalf("the good sheet: %+v", good)
	}
	report, err := os.ReadFile(good.Report)
	if err != nil || strings.Count(string(report), ",ok,") != 2 {
		t.Fatalf("the good sheet's report: %v\n%s", err, report)
	}
	// The batch's file name is the one in processed/: payouts status leads to the file.
	batch, err := b.store.Batch(ctx, good.Batch)
	if err != nil || batch.FileName != filepath.Base(good.Path) || batch.ImportedBy != "inbox:test" || batch.State != payouts.BatchImported {
		t.Fatalf("batch %+v %v", batch, err)
	}
	files, reports := names(res.Rejected)
	if len(files) != 2 || !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "--broken.csv") }) ||
		!slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "--scan.xlsx") }) {
		t.Fatalf("rejected %v", files)
	}
	for _, r := range res.Rejected {
		data, err := os.ReadFile(r.Report)
		if err != nil {
			t.Fatal(err)
		}
		switch r.File {
		case "broken.csv":
			if r.Batch == "" || r.Problems == 0 || !strings.Contains(string(data), "address") || !strings.HasSuffix(r.Report, ".report.csv") {
				t.Errorf("broken.csv: %+v\n%s", r, data)
			}
		case "scan.xlsx":
			if r.Batch != "" || !strings.Contains(r.Reason, "not a payout sheet") && !strings.Contains(r.Reason, "ZIP") ||
				!strings.HasSuffix(r.Report, ".error.txt") || !strings.Contains(string(data), "scan.xlsx could not be read") {
				t.Errorf("scan.xlsx: %+v\n%s", r, data)
			}
		}
	}
	if got := b.sub(t, jobs.InboxRejected); len(got) != 4 {
		t.Errorf("rejected/ holds %v (reports %v)", got, reports)
	}
	if got := b.sub(t, jobs.InboxProcessing); len(got) != 0 {
		t.Errorf("processing/ holds %v", got)
	}
	if got := dirNames(t, b.dir); !slices.Equal(got, []string{".march.csv.swp", "notes.txt", "processed", "processing", "rejected", "~$march.xlsx"}) {
		t.Errorf("the inbox holds %v", got)
	}
	if got := b.batches(t); got["imported"] != 1 || got["rejected"] != 1 || len(got) != 2 {
		t.Fatalf("batches %v", got)
	}

	t.Run("TheSameSheetAgainIsRejectedNotImported", func(t *testing.T) {
		b.drop(t, "march-copy.csv", goodSheet)
		res, err := b.inbox.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Imported) != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "already imported as batch "+good.Batch) {
			t.Fatalf("result %+v", res)
		}
		report, err := os.ReadFile(res.Rejected[0].Report)
		if err != nil || !strings.Contains(string(report), "already imported as batch "+good.Batch) {
			t.Fatalf("report: %v\n%s", err, report)
		}
		if got := b.batches(t); got["imported"] != 1 || got["rejected"] != 1 {
			t.Fatalf("batches %v", got)
		}
	})
	t.Run("TheSameRowsInAnotherSheetAreRejected", func(t *testing.T) {
		b.drop(t, "march-v2.csv", goodSheet+"\n") // other bytes, the same rows
		res, err := b.inbox.Run(ctx)
		if err != nil || len(res.Rejected) != 1 || res.Rejected[0].Batch == "" || res.Rejected[0].Problems != 2 {
			t.Fatalf("%+v %v", res, err)
		}
		if got := b.batches(t); got["imported"] != 1 || got["rejected"] != 2 {
			t.Fatalf("batches %v", got)
		}
	})
	t.Run("WaitingForApprovalIsLeftAlone", func(t *testing.T) {
		res, err := b.inbox.Run(ctx)
		if err != nil || len(res.Runs) != 0 || len(b.sb.Payments()) != 0 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("ApprovedIsRunOnce", func(t *testing.T) {
		if _, err := b.store.Approve(ctx, good.Batch, "bob", payouts.ApproveOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := b.inbox.Run(ctx)
		if err != nil || len(res.Runs) != 1 || res.Runs[0].Batch != good.Batch || res.Runs[0].State != "paid" {
			t.Fatalf("%+v %v", res, err)
		}
		if len(b.sb.Payments()) != 2 {
			t.Fatalf("payments %+v", b.sb.Payments())
		}
		res, err = b.inbox.Run(ctx)
		if err != nil || len(res.Runs) != 0 || len(b.sb.Payments()) != 2 {
			t.Fatalf("again: %+v %v", res, err)
		}
	})
	t.Run("AnotherImportersBatchIsNotRun", func(t *testing.T) {
		sheet, err := payouts.ReadSheet("cli.csv", strings.NewReader(strings.ReplaceAll(goodSheet, "00a", "00c")), payouts.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		other, err := b.store.Import(ctx, payouts.ImportRequest{Sheet: sheet, By: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Approve(ctx, other.ID, "bob", payouts.ApproveOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := b.inbox.Run(ctx)
		if err != nil || len(res.Runs) != 0 {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

// TestInboxStoppedRunsNeverImportTwice stops a run at each point of a sheet's way (as a
// killed process would) and runs the inbox again: the sheet ends in the right place with its
// report, and there is one batch of it, valid or rejected.
func TestInboxStoppedRunsNeverImportTwice(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"claimed", "validated", "imported", "report moved"} {
		for _, tc := range []struct {
			name, body, dest, state string
		}{
			{"Good", goodSheet, jobs.InboxProcessed, "imported"},
			{"Bad", badSheet, jobs.InboxRejected, "rejected"},
		} {
			t.Run(strings.ReplaceAll(point, " ", "")+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				b := inboxSetup(t)
				ctx := context.Background()
				b.drop(t, "sheet.csv", tc.body)
				stopped := *b.inbox
				jobs.SetInboxHook(&stopped, func(p, _ string) error {
					if p == point {
						return errKilled
					}
					return nil
				})
				res, err := stopped.Run(ctx)
				if !errors.Is(err, errKilled) {
					t.Fatalf("err = %v", err)
				}
				if point != "claimed" && (len(res.Stuck) != 1 || res.Stuck[0].File != "sheet.csv") {
					t.Fatalf("result %+v", res)
				}
				if got := b.sub(t, jobs.InboxProcessing); !slices.ContainsFunc(got, func(n string) bool { return strings.HasSuffix(n, "--sheet.csv") }) {
					t.Fatalf("processing/ holds %v", got)
				}
				imported := point == "imported" || point == "report moved"
				if n := b.batches(t)[tc.state]; (n == 1) != imported {
					t.Fatalf("after stopping at %s: batches %v", point, b.batches(t))
				}

				res, err = b.inbox.Run(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var done []jobs.InboxSheet
				if tc.dest == jobs.InboxProcessed {
					done = res.Imported
				} else {
					done = res.Rejected
				}
				if len(done) != 1 || !done[0].Recovered || done[0].File != "sheet.csv" || done[0].Batch == "" {
					t.Fatalf("the second run: %+v", res)
				}
				if got := b.batches(t); got[tc.state] != 1 || len(got) != 1 {
					t.Fatalf("batches %v: the sheet was imported twice", got)
				}
				if got := b.sub(t, jobs.InboxProcessing); len(got) != 0 {
					t.Fatalf("processing/ holds %v", got)
				}
				got := b.sub(t, tc.dest)
				if len(got) != 2 || filepath.Join(b.dir, tc.dest, got[0]) != done[0].Path && filepath.Join(b.dir, tc.dest, got[1]) != done[0].Path {
					t.Fatalf("%s holds %v; the sheet is at %s", tc.dest, got, done[0].Path)
				}
				report, err := os.ReadFile(done[0].Report)
				if err != nil {
					t.Fatal(err)
				}
				if tc.state == "rejected" && !strings.Contains(string(report), "error") || tc.state == "imported" && strings.Count(string(report), ",ok,") != 2 {
					t.Fatalf("report:\n%s", report)
				}
				batch, err := b.store.Batch(ctx, done[0].Batch)
				if err != nil || batch.FileName != filepath.Base(done[0].Path) {
					t.Fatalf("batch %+v %v", batch, err)
				}
			})
		}
	}
}

func TestInboxWaitsForYoungFilesAndBusyDirectories(t *testing.T) {
	t.Parallel()
	b := inboxSetup(t)
	ctx := context.Background()
	b.drop(t, "fresh.csv", goodSheet)
	young := *b.inbox
	young.MinAge = time.Hour
	res, err := young.Run(ctx)
	if err != nil || res.Waiting != 1 || len(res.Imported) != 0 {
		t.Fatalf("%+v %v", res, err)
	}

	// A second inbox on the same directory while the first one holds it does nothing.
	hold := *b.inbox
	entered, release := make(chan struct{}), make(chan struct{})
	jobs.SetInboxHook(&hold, func(p, _ string) error {
		if p == "claimed" {
			close(entered)
			<-release
		}
		return nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := hold.Run(ctx)
		done <- err
	}()
	<-entered
	res, err = b.inbox.Run(ctx)
	close(release)
	if err != nil || !res.Busy {
		t.Fatalf("the second inbox: %+v %v", res, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := b.batches(t); got["imported"] != 1 {
		t.Fatalf("batches %v", got)
	}
}

// TestInboxKindRunNeedsAPerson runs the kind through the scheduler: an approved batch whose
// confirm answer is lost fails the run at once (a person must resolve it), and the next run
// does not send it again.
func TestInboxKindRunNeedsAPerson(t *testing.T) {
	t.Parallel()
	b := inboxSetup(t)
	ctx := context.Background()
	kind := jobs.PayoutsInboxKind(jobs.PayoutsInboxKindOptions{Inbox: func() (*jobs.PayoutsInbox, error) { return b.inbox, nil }})
	job := testJob("inbox", jobs.KindPayoutsInbox, "*/5 * * * *", func(j *config.Job) {
		j.Settings = map[string]any{"dir": b.dir, "min_age": "0s", "imported_by": "inbox:test"}
	})
	clock := sandbox.NewClock(utc("2026-11-20T12:02:00Z"))
	s := newTestScheduler(t, jobs.SchedulerOptions{DB: b.db, Jobs: []config.Job{job}, Now: clock.Now}, kind)
	b.drop(t, "march.csv", goodSheet)
	o, err := s.RunNow(ctx, "inbox", time.Time{}, false)
	var res jobs.InboxResult
	if err != nil || o.Run.State != jobs.StateSucceeded || json.Unmarshal(o.Run.Result, &res) != nil ||
		len(res.Imported) != 1 || res.Imported[0].File != "march.csv" {
		t.Fatalf("%+v %s %v", o.Run, o.Run.Result, err)
	}
	list, err := b.store.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("%v %v", list, err)
	}
	if _, err := b.store.Approve(ctx, list[0].Batch.ID, "bob", payouts.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	b.sb.InjectFault("POST /balance/withdraw/multiple/confirm", sandbox.FaultLostAnswer)
	clock.Advance(5 * time.Minute)
	o, err = s.RunNow(ctx, "inbox", time.Time{}, false)
	if err == nil || o.Run.State != jobs.StateFailed || o.Run.Attempts != 1 || !strings.Contains(o.Run.Error, "unknown: a person must find out") {
		t.Fatalf("%+v %v", o.Run, err)
	}
	requests := b.sb.Requests("POST /balance/withdraw/multiple/request")
	clock.Advance(5 * time.Minute)
	o, err = s.RunNow(ctx, "inbox", time.Time{}, false)
	if err != nil || o.Run.State != jobs.StateSucceeded || b.sb.Requests("POST /balance/withdraw/multiple/request") != requests {
		t.Fatalf("the next run: %+v %v", o.Run, err)
	}
}
