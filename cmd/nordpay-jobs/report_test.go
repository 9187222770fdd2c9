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
		for _, want := range []string{"reconciliation 2026-11 (2026-11-01 to 2026-12-01 UTC): reconciled", "passed          completeness",
			"not applicable  unknown payouts", "report written to " + out} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
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
		code, stdout, stderr := run(t, env, "report", "reconcile", "--month", "2026-11", "--format", "csv", "--out", out, "--json")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
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
		if !strings.Contains(stdout.String(), "NOT RECONCILED") || !strings.Contains(stdout.String(), "failed          completeness") ||
			!strings.Contains(stdout.String(), "failed          balance") {
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
		if status["completeness"] != "failed" || status["balance"] != "failed" || status["movements"] != "passed" || status["unknown payouts"] != "not applicable" {
			t.Errorf("checks %v", status)
		}
	})
}
