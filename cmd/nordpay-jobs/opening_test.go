package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// openingOut is what the tests read of `ledger opening-balances --json`.
type openingOut struct {
	At         time.Time `json:"at"`
	Basis      string    `json:"basis"`
	DryRun     bool      `json:"dry_run"`
	Booked     int       `json:"booked"`
	Currencies []struct {
		Currency string  `json:"currency"`
		API      *string `json:"api_balance"`
		Ledger   string  `json:"ledger_balance"`
		Amount   string  `json:"amount"`
		Status   string  `json:"status"`
		EntryID  int64   `json:"entry_id"`
		Detail   string  `json:"detail"`
	} `json:"currencies"`
}

func openingRun(t *testing.T, env map[string]string, args ...string) (int, openingOut, string, string) {
	t.Helper()
	code, stdout, stderr := run(t, env, append([]string{"ledger", "opening-balances"}, args...)...)
	var out openingOut
	if strings.Contains(strings.Join(args, " "), "--json") && stdout != "" {
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("opening-balances --json: %v\n%s", err, stdout)
		}
	}
	return code, out, stdout, stderr
}

// TestOpeningBalances: a sandbox that starts with balances, synced from the first day of
// last month to now; its opening balances booked from the API make the month reconcile
// (balance check included); a second run books nothing; the statement and the journals
// still check, with hledger check and bean-check.
func TestOpeningBalances(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	at := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	month := at.Format("2006-01")
	initial := sandbox.DefaultOptions(now).InitialBalances
	sb, env := startLiveSandbox(t, at, func(o *sandbox.Options) { o.InitialBalances = initial })
	T := at.Format(time.DateOnly)

	if code, _, stderr := run(t, env, "sync", "--from", T, "--no-progress"); code != ExitOK {
		t.Fatalf("sync: exit %d\n%s", code, stderr)
	}
	conn, err := db.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	openings := func() int {
		t.Helper()
		var n int
		if err := conn.Get(&n, `SELECT count(*) FROM journal_entries WHERE source = 'opening'`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Before: the balance check fails by exactly the starting balances.
	dir := t.TempDir()
	code, _, _ := run(t, env, "report", "reconcile", "--month", month, "--format", "csv", "--out", filepath.Join(dir, "before"), "--no-progress")
	if code != ExitDifferences {
		t.Fatalf("the month reconciles before the opening balances are booked: exit %d", code)
	}

	t.Run("DryRun", func(t *testing.T) {
		code, _, stdout, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "alice", "--dry-run")
		if code != ExitOK || !strings.Contains(stdout, "would book") || !strings.Contains(stdout, "dry run: nothing booked; 7 opening balance(s) to book") {
			t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if openings() != 0 {
			t.Fatal("a dry run booked")
		}
	})

	code, out, stdout, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "alice", "--json")
	if code != ExitOK || out.Booked != len(initial) || out.DryRun || !out.At.Equal(at) {
		t.Fatalf("opening-balances: exit %d, %+v\n%s\n%s", code, out, stdout, stderr)
	}
	for _, c := range out.Currencies {
		want, has := initial[c.Currency]
		switch {
		case has && (c.Status != openingBooked || !decimal.RequireFromString(c.Amount).Equal(want) || c.EntryID == 0 || c.API == nil):
			t.Errorf("%s: %+v, want %s booked", c.Currency, c, want)
		case !has && c.Status != openingNothing:
			t.Errorf("%s: %+v, want nothing to book", c.Currency, c)
		}
	}
	if openings() != len(initial) {
		t.Fatalf("%d opening entries, want %d", openings(), len(initial))
	}

	t.Run("AssetsEqualTheAPI", func(t *testing.T) {
		code, stdout, _ := run(t, env, "ledger", "balances", "--json")
		var bs []balanceJSON
		if code != ExitOK || json.Unmarshal([]byte(stdout), &bs) != nil {
			t.Fatalf("balances: exit %d\n%s", code, stdout)
		}
		api := sb.Balances()
		for _, b := range bs {
			switch b.Account {
			case "assets:nordpay:" + b.Currency:
				if !decimal.RequireFromString(b.Balance).Equal(api[b.Currency]) {
					t.Errorf("%s: ledger %s, Nord PAY %s", b.Currency, b.Balance, api[b.Currency])
				}
			case "equity:opening:" + b.Currency:
				if !decimal.RequireFromString(b.Balance).Equal(initial[b.Currency].Neg()) {
					t.Errorf("%s: %s, want %s", b.Account, b.Balance, initial[b.Currency].Neg())
				}
			}
		}
	})

	t.Run("MonthReconciles", func(t *testing.T) {
		out := filepath.Join(dir, "after")
		code, stdout, stderr := run(t, env, "report", "reconcile", "--month", month, "--format", "csv", "--out", out, "--json", "--no-progress")
		var rep reconcileJSONOut
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("report --json: %v\n%s", err, stdout)
		}
		if code != ExitOK || !rep.Reconciled {
			t.Fatalf("the month does not reconcile: exit %d\n%s\n%s", code, stdout, stderr)
		}
		for _, c := range rep.Checks {
			if c.Name == "balance" && c.Status != "passed" {
				t.Errorf("balance check %+v", c)
			}
		}
		var movements struct {
			Currencies []struct {
				Currency        string `json:"currency"`
				OpeningBalances string `json:"opening_balances"`
				InvoiceReceipts string `json:"invoice_receipts"`
			} `json:"currencies"`
		}
		if err := json.Unmarshal([]byte(stdout), &movements); err != nil {
			t.Fatal(err)
		}
		for _, c := range movements.Currencies {
			if got := decimal.RequireFromString(c.OpeningBalances); !got.Equal(initial[c.Currency]) {
				t.Errorf("%s: --json opening_balances %s, want %s", c.Currency, got, initial[c.Currency])
			}
		}
		// The summary shows the opening balances as a movement of their own.
		f, err := os.Open(filepath.Join(out, "summary.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := -1
		seen := 0
		for _, row := range rows {
			if col >= 0 && len(row) <= col {
				break // the end of the movements table
			}
			for i, h := range row {
				if h == "Opening balances booked" {
					col = i
				}
			}
			if col >= 0 {
				if want, ok := initial[row[0]]; ok {
					if !decimal.RequireFromString(row[col]).Equal(want) {
						t.Errorf("%s: opening balances booked %s, want %s", row[0], row[col], want)
					}
					seen++
				}
			}
		}
		if seen != len(initial) {
			t.Errorf("the summary shows the opening balances of %d currencies, want %d:\n%v", seen, len(initial), rows)
		}
	})

	t.Run("AgainBooksNothing", func(t *testing.T) {
		code, out, stdout, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "bob", "--json")
		if code != ExitOK || out.Booked != 0 {
			t.Fatalf("again: exit %d %+v\n%s", code, out, stderr)
		}
		for _, c := range out.Currencies {
			if _, has := initial[c.Currency]; has && (c.Status != openingAlready || !decimal.RequireFromString(c.Amount).Equal(initial[c.Currency])) {
				t.Errorf("%s: %+v", c.Currency, c)
			}
		}
		code, _, stdout, _ = openingRun(t, env, "--at", T, "--from-api", "--by", "bob")
		if code != ExitOK || !strings.Contains(stdout, "nothing booked: every currency has its opening balance already") {
			t.Errorf("again, for people: exit %d\n%s", code, stdout)
		}
		// By hand: the same amount is booked already; another one is refused.
		code, _, stdout, _ = openingRun(t, env, "--at", T, "--by", "bob", "--currency", "USDTTRC20", "--amount", initial["USDTTRC20"].String())
		if code != ExitOK || !strings.Contains(stdout, "already booked") {
			t.Errorf("the same amount by hand: exit %d\n%s", code, stdout)
		}
		code, _, stdout, stderr = openingRun(t, env, "--at", T, "--by", "bob", "--currency", "USDTTRC20", "--amount", "5")
		if code != ExitDifferences || !strings.Contains(stdout, "has an opening balance of 10000 already") ||
			!strings.Contains(stderr, "nothing booked: USDTTRC20 cannot get an opening balance") {
			t.Errorf("another amount by hand: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if openings() != len(initial) {
			t.Errorf("%d opening entries after the second runs", openings())
		}
	})

	t.Run("StatementAndJournalsCheck", func(t *testing.T) {
		to := at.AddDate(0, 1, 0).Format(time.DateOnly)
		for _, format := range []string{"csv", "hledger", "beancount"} {
			path := filepath.Join(dir, "statement."+format)
			if code, stdout, stderr := run(t, env, "export", "statement", "--from", T, "--to", to, "--format", format, "--out", path, "--no-progress"); code != ExitOK {
				t.Fatalf("export %s: exit %d\n%s\n%s", format, code, stdout, stderr)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			switch format {
			case "csv":
				if !strings.Contains(string(data), ",opening,USDTTRC20,") {
					t.Errorf("the statement has no opening line for USDTTRC20")
				}
			case "hledger":
				openingMust(t, "hledger", "-f", path, "check", "--strict", "ordereddates")
				bal := openingMust(t, "hledger", "-f", path, "bal", "equity:opening:USDTTRC20", "--flat", "--no-total")
				if !strings.Contains(bal, "-10000") {
					t.Errorf("hledger bal of the opening account:\n%s", bal)
				}
			case "beancount":
				openingMust(t, "bean-check", path)
				if !strings.Contains(string(data), "open Equity:Opening:USDTTRC20") {
					t.Errorf("the beancount journal does not open Equity:Opening:USDTTRC20")
				}
			}
		}
	})

	t.Run("Verify", func(t *testing.T) {
		if code, stdout, _ := run(t, env, "ledger", "verify"); code != ExitOK || strings.Contains(stdout, "FAIL") {
			t.Fatalf("verify: exit %d\n%s", code, stdout)
		}
	})
}

// openingMust runs a program the tests check files with, failing on any error.
func openingMust(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOpeningBalancesRefuses: --from-api refuses, saying what to do, while the ledger may
// not hold everything up to now from --at; the command line is checked first.
func TestOpeningBalancesRefuses(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	at := now.AddDate(0, 0, -3).Truncate(24 * time.Hour)
	T := at.Format(time.DateOnly)

	t.Run("CommandLine", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			args []string
			says string
		}{
			{"NoAt", []string{"--from-api", "--by", "a"}, "--at is required"},
			{"AtInTheFuture", []string{"--at", now.AddDate(0, 0, 2).Format(time.DateOnly), "--from-api", "--by", "a"}, "is in the future"},
			{"NoBy", []string{"--at", T, "--from-api"}, "--by is required"},
			{"NoSource", []string{"--at", T, "--by", "a"}, "give --from-api, or --currency C --amount X"},
			{"Both", []string{"--at", T, "--by", "a", "--from-api", "--currency", "BTC", "--amount", "1"}, "not both"},
			{"Unpaired", []string{"--at", T, "--by", "a", "--currency", "BTC", "--currency", "ETHERC20", "--amount", "1"}, "in pairs"},
			{"BadAmount", []string{"--at", T, "--by", "a", "--currency", "BTC", "--amount", "-1"}, "want a positive decimal"},
			{"Twice", []string{"--at", T, "--by", "a", "--currency", "BTC", "--amount", "1", "--currency", "BTC", "--amount", "2"}, "given twice"},
		} {
			code, _, _, stderr := openingRun(t, nil, tc.args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.says) {
				t.Errorf("%s: exit %d, stderr %q; want %d saying %q", tc.name, code, stderr, ExitUsage, tc.says)
			}
		}
	})

	t.Run("NeverSynced", func(t *testing.T) {
		t.Parallel()
		_, env := startLiveSandbox(t, at)
		code, _, _, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "a")
		if code != ExitError || !strings.Contains(stderr, "never synced: run nordpay-jobs sync --from") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("WatermarkOld", func(t *testing.T) {
		t.Parallel()
		_, env := startLiveSandbox(t, at)
		if code, _, stderr := run(t, env, "sync", "--from", T, "--to", at.AddDate(0, 0, 1).Format(time.DateOnly), "--no-progress"); code != ExitOK {
			t.Fatalf("sync: %s", stderr)
		}
		code, _, _, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "a")
		if code != ExitError || !strings.Contains(stderr, "more than --max-lag 10m0s") || !strings.Contains(stderr, "run nordpay-jobs sync first") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("SyncedFromLater", func(t *testing.T) {
		t.Parallel()
		_, env := startLiveSandbox(t, at)
		if code, _, stderr := run(t, env, "sync", "--from", at.AddDate(0, 0, 1).Format(time.DateOnly), "--no-progress"); code != ExitOK {
			t.Fatalf("sync: %s", stderr)
		}
		code, _, _, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "a")
		if code != ExitError || !strings.Contains(stderr, "run nordpay-jobs sync --from "+at.Format(time.RFC3339)+" first") {
			t.Errorf("exit %d: %s", code, stderr)
		}
		// At the day the sync started from instead: what the day before brought in counts
		// as held before it.
		code, _, stdout, stderr := openingRun(t, env, "--at", at.AddDate(0, 0, 1).Format(time.DateOnly), "--from-api", "--by", "a", "--dry-run")
		if code != ExitOK || !strings.Contains(stdout, "would book") {
			t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
	t.Run("SyncRunning", func(t *testing.T) {
		t.Parallel()
		_, env := startLiveSandbox(t, at)
		if code, _, stderr := run(t, env, "sync", "--from", T, "--no-progress"); code != ExitOK {
			t.Fatalf("sync: %s", stderr)
		}
		conn, err := db.Open(context.Background(), env["DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		release, err := ledger.NewStore(conn, ledger.DefaultChart()).SyncLock(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		code, _, _, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "a")
		if err := release(); err != nil {
			t.Fatal(err)
		}
		if code != ExitError || !strings.Contains(stderr, "a sync is running") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("LedgerAboveTheAPI", func(t *testing.T) {
		t.Parallel()
		_, env := startLiveSandbox(t, at)
		if code, _, stderr := run(t, env, "sync", "--from", T, "--no-progress"); code != ExitOK {
			t.Fatalf("sync: %s", stderr)
		}
		// An opening balance booked by hand that Nord PAY does not hold.
		if code, _, _, stderr := openingRun(t, env, "--at", T, "--by", "a", "--currency", "BTC", "--amount", "1"); code != ExitOK {
			t.Fatalf("by hand: %s", stderr)
		}
		code, out, _, stderr := openingRun(t, env, "--at", T, "--from-api", "--by", "a", "--json", "--currency", "BTC")
		if code != ExitDifferences || len(out.Currencies) != 1 || out.Currencies[0].Status != openingRefused ||
			!strings.Contains(out.Currencies[0].Detail, "the ledger holds 1 more than Nord PAY") {
			t.Errorf("exit %d %+v: %s", code, out, stderr)
		}
	})
	t.Run("HeldLessThanBooked", func(t *testing.T) {
		t.Parallel()
		_, env := startLiveSandbox(t, at)
		if code, _, stderr := run(t, env, "sync", "--from", T, "--no-progress"); code != ExitOK {
			t.Fatalf("sync: %s", stderr)
		}
		// Two days in, the ledger holds more than 1 USDTBEP20.
		later := at.AddDate(0, 0, 2).Format(time.DateOnly)
		code, _, stdout, stderr := openingRun(t, env, "--at", later, "--by", "a", "--currency", "USDTBEP20", "--amount", "1")
		if code != ExitDifferences || !strings.Contains(stdout, "at --at already, more than the 1 given") {
			t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
}
