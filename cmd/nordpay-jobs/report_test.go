package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// reconcileJSONOut is what the test reads of `report reconcile --json`; amounts stay strings.
type reconcileJSONOut struct {
	Month      string `json:"month"`
	Reconciled bool   `json:"reconciled"`
	Out        string `json:"out"`
	Currencies []struct {
		Currency        string `json:"currency"`
		Opening         string `json:"opening"`
		Closing         string `json:"closing"`
		ExpectedClosing string `json:"expected_closing"`
		LedgerBalance   string `json:"ledger_balance"`
		APIBalance      string `json:"api_balance"`
		APIPaid         int64  `json:"api_paid"`
		LedgerPayments  int64  `json:"ledger_payments"`
		InvoiceReceipts string `json:"invoice_receipts"`
	} `json:"currencies"`
	Checks []struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		Exceptions int    `json:"exceptions"`
	} `json:"checks"`
}

func TestReportReconcile(t *testing.T) {
	t.Parallel()
	sb, env := startSandbox(t)
	if code, _, stderr := run(t, env, "sync", "--from", "2026-11-01", "--to", "2026-11-20T12:00:00Z", "--no-progress"); code != ExitOK {
		t.Fatalf("sync: exit %d\n%s", code, stderr)
	}
	dir := t.TempDir()

	t.Run("CleanMonthExitsZero", func(t *testing.T) {
		out := filepath.Join(dir, "clean.xlsx")
		code, stdout, stderr := run(t, env, "report", "reconcile", "--month", "2026-11", "--format", "xlsx", "--out", out)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		noBar(t, stderr)
		if !strings.Contains(stderr, "reconcile: month pulled again") {
			t.Errorf("without a bar, the log lines stay:\n%s", stderr)
		}
		for _, want := range []string{"reconciliation 2026-11 (2026-11-01 to 2026-12-01 UTC): reconciled", "report written to " + out} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		for _, check := range []string{"completeness", "unknown payouts"} {
			if got := checkStatus(stdout, check); got != "passed" {
				t.Errorf("%s: %q\n%s", check, got, stdout)
			}
		}
		f, err := excelize.OpenFile(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := f.GetSheetList(); !slices.Equal(got, []string{"Summary", "Receipts", "Fees", "Payouts", "Exceptions"}) {
			t.Errorf("sheets %v", got)
		}
	})
	t.Run("JSONAndCSV", func(t *testing.T) {
		out := filepath.Join(dir, "clean-csv")
		code, stdout, stderr := run(t, env, "report", "reconcile", "--month", "2026-11", "--format", "csv", "--out", out, "--json", "--no-progress")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		noBar(t, stderr)
		var s reconcileJSONOut
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("--json: %v\n%s", err, stdout)
		}
		if !s.Reconciled || s.Month != "2026-11" || s.Out != out || len(s.Currencies) == 0 || len(s.Checks) != 5 {
			t.Fatalf("summary %+v", s)
		}
		if !strings.Contains(stdout, `"opening": "`) || !strings.Contains(stdout, `"closing": "`) {
			t.Errorf("amounts are not JSON strings:\n%s", stdout)
		}
		balances := sb.Balances()
		for _, c := range s.Currencies {
			if !decimal.RequireFromString(c.LedgerBalance).Equal(balances[c.Currency]) || c.APIPaid != c.LedgerPayments ||
				!decimal.RequireFromString(c.Closing).Equal(decimal.RequireFromString(c.ExpectedClosing)) {
				t.Errorf("%s: %+v, sandbox balance %s", c.Currency, c, balances[c.Currency])
			}
		}
		for _, name := range []string{"summary.csv", "receipts.csv", "fees.csv", "payouts.csv", "exceptions.csv"} {
			if _, err := os.Stat(filepath.Join(out, name)); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("UsageErrorsExitTwo", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			says string
		}{
			{[]string{"--month", "2026-13", "--out", "x.xlsx"}, `--month "2026-13"`},
			{[]string{"--month", "October", "--out", "x.xlsx"}, "want a month as YYYY-MM"},
			{[]string{"--month", "2026-10-01", "--out", "x.xlsx"}, "YYYY-MM"},
			{[]string{"--month", "2026-10", "--format", "pdf", "--out", "x"}, `--format "pdf"`},
			{[]string{"--month", "2026-10"}, "--out is required"},
			{[]string{"--month", "2026-10", "--out", "x", "extra"}, "unknown command"},
		} {
			code, _, stderr := run(t, env, append([]string{"report", "reconcile"}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(stderr, tc.says) {
				t.Errorf("%v: exit %d, stderr %q; want 2 saying %q", tc.args, code, stderr, tc.says)
			}
		}
		code, stdout, _ := run(t, env, "report", "reconcile", "--help")
		if code != ExitOK || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "exit 3") && !strings.Contains(stdout, "3 when any fails") {
			t.Errorf("--help: exit %d\n%s", code, stdout)
		}
	})

	// After the sync: a paid transaction of the month the ledger has not booked. Nord PAY's
	// balance moves with it, so two checks fail.
	d := decimal.RequireFromString
	sb.AddTransaction(nordpay.Transaction{ID: "planted-1", SourceType: nordpay.SourceInvoice,
		Source:   nordpay.Source{ID: "inv-planted", Label: "+SUM(1)"},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTTRC20"}},
		Amount:   d("40"), AmountUSD: d("40"), NetworkFee: d("1"), NetworkFeeUSD: d("1"), ServiceFee: d("0.4"), ServiceFeeUSD: d("0.4"),
		IsPaid: true, CreatedAt: nordpay.Time{Time: time.Date(2026, 11, 15, 8, 0, 0, 0, time.UTC)}}, time.Time{})

	t.Run("PlantedDifferenceExitsThree", func(t *testing.T) {
		out := filepath.Join(dir, "planted.xlsx")
		cmd := exec.Command(binary, "report", "reconcile", "--month", "2026-11", "--format", "xlsx", "--out", out)
		cmd.Env = append(os.Environ(), "NORDPAY_BASE_URL="+env["NORDPAY_BASE_URL"], "NORDPAY_API_KEY=cli-key", "DATABASE_URL="+env["DATABASE_URL"])
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != ExitDifferences {
			t.Fatalf("exit %v, want %d\n%s\n%s", err, ExitDifferences, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), "NOT RECONCILED") || checkStatus(stdout.String(), "completeness") != "failed" ||
			checkStatus(stdout.String(), "balance") != "failed" {
			t.Errorf("stdout:\n%s", stdout.String())
		}
		if !strings.Contains(stderr.String(), "nordpay-jobs: report reconcile: 2026-11 does not reconcile") || strings.Contains(stderr.String(), "cli-key") {
			t.Errorf("stderr:\n%s", stderr.String())
		}
		f, err := excelize.OpenFile(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := f.GetRows("Exceptions", excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, r := range rows[1:] {
			found = append(found, r[0]+"/"+r[1]+"/"+r[2])
			if r[0] == "completeness" && r[4] == "planted-1" && (r[1] != "missing" || r[13] != "'+SUM(1)" || r[9] != "40") {
				t.Errorf("the planted transaction: %q", r)
			}
		}
		if !slices.Contains(found, "completeness/missing/USDTTRC20") || !slices.Contains(found, "balance/balance differs/USDTTRC20") {
			t.Errorf("exceptions %v", found)
		}
	})
	t.Run("PlantedDifferenceJSON", func(t *testing.T) {
		code, stdout, _ := run(t, env, "report", "reconcile", "--month", "2026-11", "--format", "csv", "--out", filepath.Join(dir, "planted-csv"), "--json")
		var s reconcileJSONOut
		if code != ExitDifferences || json.Unmarshal([]byte(stdout), &s) != nil || s.Reconciled {
			t.Fatalf("exit %d\n%s", code, stdout)
		}
		status := map[string]string{}
		for _, c := range s.Checks {
			status[c.Name] = c.Status
		}
		if status["completeness"] != "failed" || status["balance"] != "failed" || status["movements"] != "passed" || status["unknown payouts"] != "passed" {
			t.Errorf("checks %v", status)
		}
	})
}

// checkStatus finds a check's line in the summary `report reconcile` prints (status, name,
// summary, in columns) and returns its status, "" when there is none.
func checkStatus(stdout, name string) string {
	for _, line := range strings.Split(stdout, "\n") {
		for _, status := range []string{"passed", "failed", "not applicable"} {
			rest, ok := strings.CutPrefix(line, status+"  ")
			if ok && strings.HasPrefix(strings.TrimLeft(rest, " "), name+"  ") {
				return status
			}
		}
	}
	return ""
}

// TestReportReconcileUnknownPayout is the acceptance check of the unknown payouts check: a
// month that reconciles stops reconciling (exit 3) once a payout chunk's outcome is unknown,
// and the report lists the chunk; resolved, it reconciles again.
func TestReportReconcileUnknownPayout(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	start := now.Add(-72 * time.Hour).Truncate(time.Hour)
	sb, _, env := payoutEnv(t, func(o *sandbox.Options) {
		o.Now = time.Now
		o.InitialBalances = nil // the ledger must explain every balance
		o.Invoices = sandbox.Generator{Start: start, End: now.Add(-time.Minute), Count: 300, UnpaidRate: 0.05}
	})
	// Enough USDTBEP20 to pay from, booked by the sync like any receipt.
	d := decimal.RequireFromString
	sb.AddTransaction(nordpay.Transaction{ID: "funding-1", SourceType: nordpay.SourceInvoice,
		Source:   nordpay.Source{ID: "inv-funding", Label: "funding"},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTBEP20"}},
		Amount:   d("1000"), AmountUSD: d("1000"), NetworkFee: d("1"), NetworkFeeUSD: d("1"), ServiceFee: d("5"), ServiceFeeUSD: d("5"),
		IsPaid: true, CreatedAt: nordpay.Time{Time: start.Add(time.Hour)}}, time.Time{})
	runOK(t, env, ExitOK, "sync", "--from", start.Format(time.RFC3339), "--no-progress")
	month := now.Format("2006-01")
	out := filepath.Join(env["DIR"], "recon.xlsx")
	if stdout := runOK(t, env, ExitOK, "report", "reconcile", "--month", month, "--out", out); checkStatus(stdout, "unknown payouts") != "passed" {
		t.Fatalf("before any payout:\n%s", stdout)
	}

	// One chunk of one row, whose confirm's connection drops before Nord PAY executes it.
	sheet := writeSheet(t, env, "one.csv", "currency,address,amount,reference\nUSDTBEP20,0x00000000000000000000000000000000000000a1,20,INV-1\n")
	var imp struct{ Batch string }
	if err := json.Unmarshal([]byte(runOK(t, env, ExitOK, "payouts", "import", sheet, "--by", "alice", "--json")), &imp); err != nil {
		t.Fatal(err)
	}
	runOK(t, env, ExitOK, "payouts", "approve", imp.Batch, "--by", "bob")
	sb.InjectFault("POST /balance/withdraw/multiple/confirm", sandbox.FaultDrop)
	runOK(t, env, ExitDifferences, "payouts", "run", imp.Batch)
	if st := status(t, env, imp.Batch); st.states() != "1:unknown" || len(sb.Payments()) != 0 {
		t.Fatalf("status %+v, payments %d", st, len(sb.Payments()))
	}

	code, stdout, stderr := run(t, env, "report", "reconcile", "--month", month, "--out", out)
	if code != ExitDifferences || !strings.Contains(stdout, "NOT RECONCILED") || !strings.Contains(stderr, "does not reconcile") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for check, want := range map[string]string{"unknown payouts": "failed", "balance": "passed", "completeness": "passed", "movements": "passed"} {
		if got := checkStatus(stdout, check); got != want {
			t.Errorf("%s: %q, want %q\n%s", check, got, want, stdout)
		}
	}
	f, err := excelize.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("Exceptions")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var listed bool
	for _, r := range rows[1:] {
		listed = listed || r[0] == "unknown payouts" && slices.Contains(r, imp.Batch+"/1")
	}
	if !listed {
		t.Fatalf("the exceptions do not list chunk %s/1: %q", imp.Batch, rows)
	}

	runOK(t, env, ExitOK, "payouts", "resolve", imp.Batch, "--chunk", "1", "--outcome", "failed", "--by", "dave", "--note", "not in Nord PAY's list")
	runOK(t, env, ExitOK, "report", "reconcile", "--month", month, "--out", out)
}
