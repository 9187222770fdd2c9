package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/ledger/ledgertest"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/shopspring/decimal"
)

var (
	syncNow   = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	syncStart = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
)

// startSandbox serves a sandbox with a fixed clock and no initial balances.
func startSandbox(t *testing.T, mod ...func(*sandbox.Options)) (*sandbox.Server, map[string]string) {
	t.Helper()
	opts := sandbox.DefaultOptions(syncNow)
	opts.APIKey = "cli-key"
	opts.Now = func() time.Time { return syncNow }
	opts.InitialBalances = nil
	opts.Invoices = sandbox.Generator{Start: syncStart, End: syncNow, Count: 2000, UnpaidRate: 0.05}
	opts.Wallets = sandbox.Generator{Start: syncStart, End: syncNow, Count: 1000, UnpaidRate: 0.05}
	for _, f := range mod {
		f(&opts)
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, map[string]string{"NORDPAY_BASE_URL": srv.URL, "NORDPAY_API_KEY": "cli-key", "DATABASE_URL": dbtest.URL(t)}
}

func TestSyncAndLedgerCommands(t *testing.T) {
	t.Parallel()
	sb, env := startSandbox(t)

	code, out, stderr := run(t, env, "sync", "--from", "2026-11-10", "--to", "2026-11-20T12:00:00Z", "--json")
	if code != ExitOK {
		t.Fatalf("sync: exit %d\n%s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("sync --json: %v\n%s", err, out)
	}
	for _, key := range []string{"fetched", "booked", "already_booked", "unpaid", "quarantined"} {
		if _, ok := res[key].(float64); !ok {
			t.Errorf("sync --json lacks the number %q: %s", key, out)
		}
	}
	if res["booked"].(float64) < 2500 {
		t.Fatalf("booked %v", res["booked"])
	}

	code, out, _ = run(t, env, "ledger", "balances", "--json")
	var balances []struct {
		Account, Currency, Balance string
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &balances) != nil || len(balances) == 0 {
		t.Fatalf("ledger balances --json: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, `"balance": "`) {
		t.Fatalf("balances are not JSON strings: %s", out)
	}
	for cur, want := range sb.Balances() {
		for _, b := range balances {
			if b.Account == "assets:nordpay:"+cur && !decimal.RequireFromString(b.Balance).Equal(want) {
				t.Errorf("%s: ledger %s, sandbox %s", cur, b.Balance, want)
			}
		}
	}

	code, out, _ = run(t, env, "ledger", "balances", "--at", "2026-11-15")
	if code != ExitOK || !strings.Contains(out, "assets:nordpay:USDTBEP20") {
		t.Fatalf("ledger balances --at: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "ledger", "verify")
	if code != ExitOK || strings.Contains(out, "FAIL") {
		t.Fatalf("ledger verify: exit %d\n%s", code, out)
	}

	code, out, _ = run(t, env, "sync", "--to", "2026-11-20T12:00:00Z")
	if code != ExitOK || !strings.Contains(out, "booked 0 new") {
		t.Fatalf("a second sync from the watermark: exit %d\n%s", code, out)
	}
}

func TestSyncCommandErrors(t *testing.T) {
	t.Parallel()
	_, env := startSandbox(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		says string
	}{
		{"BadFrom", env, []string{"sync", "--from", "yesterday"}, ExitUsage, `--from: "yesterday" is neither a date`},
		{"FromAfterTo", env, []string{"sync", "--from", "2026-11-02", "--to", "2026-11-01"}, ExitUsage, "is not before --to"},
		{"BadSource", env, []string{"sync", "--source", "cash"}, ExitUsage, `--source "cash"`},
		{"NoStart", env, []string{"sync"}, ExitError, "pass --from"},
		{"APIDown", map[string]string{"NORDPAY_BASE_URL": "http://127.0.0.1:1/", "NORDPAY_API_KEY": "cli-key", "DATABASE_URL": env["DATABASE_URL"]},
			[]string{"sync", "--from", "2026-11-10", "--no-progress"}, ExitError, "fetching the currency list"},
		{"BadAtTime", env, []string{"ledger", "balances", "--at", "soon"}, ExitUsage, "--at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.says) {
				t.Fatalf("exit %d, stderr %q; want %d saying %q", code, stderr, tc.code, tc.says)
			}
			if strings.Contains(stderr, "cli-key") {
				t.Fatalf("the API key leaked: %s", stderr)
			}
		})
	}
}

func TestVerifyExitsThreeOnABrokenLedger(t *testing.T) {
	t.Parallel()
	_, env := startSandbox(t)
	if code, _, stderr := run(t, env, "sync", "--from", "2026-11-10", "--to", "2026-11-11"); code != ExitOK {
		t.Fatalf("sync: %s", stderr)
	}
	conn, err := db.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A superuser can switch the guards off; verify must notice what got in meanwhile.
	for _, q := range []string{
		`ALTER TABLE postings DISABLE TRIGGER USER`,
		`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
		 SELECT e.id, 99, p.account_id, p.currency, 1, e.occurred_at FROM journal_entries e JOIN postings p ON p.entry_id = e.id AND p.line = 1 ORDER BY e.id LIMIT 1`,
		`ALTER TABLE postings ENABLE TRIGGER USER`,
	} {
		if _, err := conn.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := run(t, env, "ledger", "verify")
	if code != ExitDifferences || !strings.Contains(out, "FAIL") || !strings.Contains(stderr, "invariants do not hold") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestSyncKilledMidWindow kills a real sync process (SIGKILL, no cleanup) in the middle of
// its run, runs it again, and compares the ledger with an uninterrupted run's.
func TestSyncKilledMidWindow(t *testing.T) {
	t.Parallel()
	_, env := startSandbox(t, func(o *sandbox.Options) {
		o.Faults.Latency = 150 * time.Millisecond
		o.Invoices.Count, o.Wallets.Count = 6000, 3000
	})
	args := []string{"sync", "--from", "2026-11-10", "--to", "2026-11-20T12:00:00Z", "--window", "6h", "--no-progress"}
	cmdEnv := func(dbURL string) []string {
		return append(os.Environ(), "NORDPAY_BASE_URL="+env["NORDPAY_BASE_URL"], "NORDPAY_API_KEY=cli-key", "DATABASE_URL="+dbURL)
	}

	killed, err := db.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer killed.Close()
	proc := exec.Command(binary, args...)
	proc.Env = cmdEnv(env["DATABASE_URL"])
	var stderr bytes.Buffer
	proc.Stderr = &stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until a few windows have committed, then kill it inside the next one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := killed.Get(&n, `SELECT count(*) FROM journal_entries`); err != nil {
			t.Fatal(err)
		}
		if n > 500 {
			break
		}
		if time.Now().After(deadline) {
			proc.Process.Kill()
			t.Fatalf("the sync booked nothing in 30s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(70 * time.Millisecond)
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err == nil {
		t.Fatal("the sync finished before it was killed; the test proves nothing")
	}
	var partial int
	if err := killed.Get(&partial, `SELECT count(*) FROM journal_entries`); err != nil {
		t.Fatal(err)
	}

	again := exec.Command(binary, args...)
	again.Env = cmdEnv(env["DATABASE_URL"])
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("the sync after the kill: %v\n%s", err, out)
	}

	whole := dbtest.URL(t)
	clean := exec.Command(binary, args...)
	clean.Env = cmdEnv(whole)
	if out, err := clean.CombinedOutput(); err != nil {
		t.Fatalf("the uninterrupted sync: %v\n%s", err, out)
	}
	wholeDB, err := db.Open(context.Background(), whole)
	if err != nil {
		t.Fatal(err)
	}
	defer wholeDB.Close()
	got, want := ledgertest.Snapshot(t, killed), ledgertest.Snapshot(t, wholeDB)
	if d := ledgertest.Diff(got, want); d != "" {
		t.Fatalf("killed-and-resumed ledger differs from the uninterrupted one: %s", d)
	}
	var total int
	if err := wholeDB.Get(&total, `SELECT count(*) FROM journal_entries`); err != nil {
		t.Fatal(err)
	}
	if partial == 0 || partial >= total {
		t.Fatalf("the kill left %d of %d entries; the test needs a run killed part-way", partial, total)
	}
}

// startLiveSandbox serves a sandbox on the real clock (the command's own), with
// transactions over the days before now; mod may change its options.
func startLiveSandbox(t *testing.T, start time.Time, mod ...func(*sandbox.Options)) (*sandbox.Server, map[string]string) {
	t.Helper()
	now := time.Now().UTC()
	return startSandbox(t, append([]func(*sandbox.Options){func(o *sandbox.Options) {
		o.Now = time.Now
		o.Invoices = sandbox.Generator{Start: start, End: now, Count: 1200, UnpaidRate: 0.05}
		o.Wallets = sandbox.Generator{Start: start, End: now, Count: 600, UnpaidRate: 0.05}
	}}, mod...)...)
}

// TestSyncFutureTo: a --to in the future pulls up to now, with a note, and the plain sync
// after it books a payment made after the first run.
func TestSyncFutureTo(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().AddDate(0, 0, -3).Truncate(24 * time.Hour)
	sb, env := startLiveSandbox(t, start)
	future := time.Now().UTC().AddDate(0, 0, 6).Format(time.DateOnly)
	code, _, stderr := run(t, env, "sync", "--from", start.Format(time.DateOnly), "--to", future, "--no-progress")
	if code != ExitOK || !strings.Contains(stderr, "--to "+future+" is in the future: pulled up to now") {
		t.Fatalf("sync --to %s: exit %d\n%s", future, code, stderr)
	}
	conn, err := db.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var late int
	if err := conn.Get(&late, `SELECT count(*) FROM sync_watermarks WHERE watermark > now()`); err != nil || late != 0 {
		t.Fatalf("%d watermark(s) after now (%v)", late, err)
	}

	d := decimal.RequireFromString
	sb.AddTransaction(nordpay.Transaction{ID: "after-first-run", SourceType: nordpay.SourceInvoice,
		Source:   nordpay.Source{ID: "inv-after", Label: "after"},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTBEP20"}},
		Amount:   d("25"), AmountUSD: d("25"), ServiceFee: d("0.25"), ServiceFeeUSD: d("0.25"),
		IsPaid: true, CreatedAt: nordpay.Time{Time: time.Now().UTC()}}, time.Time{})
	code, out, stderr := run(t, env, "sync", "--json", "--no-progress")
	if code != ExitOK {
		t.Fatalf("the plain sync: exit %d\n%s", code, stderr)
	}
	var res struct{ Booked int64 }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Booked != 1 {
		t.Fatalf("the plain sync booked %d (%v), want the payment made after the first run:\n%s", res.Booked, err, out)
	}
	var n int
	if err := conn.Get(&n, `SELECT count(*) FROM journal_entries WHERE external_id = 'after-first-run'`); err != nil || n != 1 {
		t.Fatalf("the payment is booked %d times (%v)", n, err)
	}
}

// TestSyncEmptyRangeSaysWhy: a range that ends before the run starts is a usage error that
// names the flags; a --from in the future too.
func TestSyncEmptyRangeSaysWhy(t *testing.T) {
	t.Parallel()
	_, env := startSandbox(t)
	if code, _, stderr := run(t, env, "sync", "--from", "2026-11-10", "--to", "2026-11-20T12:00:00Z", "--no-progress"); code != ExitOK {
		t.Fatalf("sync: exit %d\n%s", code, stderr)
	}
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"ToBeforeTheWatermark", []string{"sync", "--to", "2026-11-15"},
			[]string{"nothing to pull: --to 2026-11-15 ends before where the invoice sync would start, 2026-11-18T12:00:00Z",
				"watermark 2026-11-20T12:00:00Z less sync.lookback 48h0m0s", "give --from as well"}},
		{"FromInTheFuture", []string{"sync", "--from", time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)},
			[]string{"is in the future", "nothing to pull"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, env, append(tc.args, "--no-progress")...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitUsage, stdout, stderr)
			}
			for _, s := range tc.says {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}
