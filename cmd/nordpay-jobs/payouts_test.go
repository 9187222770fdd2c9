package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// payoutConfig is the config file of the payout command tests: two rows per request, the
// sandbox's fees as the expected ones.
const payoutConfig = `payouts:
  rows_per_request: 2
  fees:
    USDTBEP20: {fixed: 0.5, percent: 0.5}
    USDTERC20: {fixed: 5, percent: 0.5}
`

// payoutSheet pays three USDTBEP20 rows (two chunks) and one USDTERC20 row (one chunk).
const payoutSheet = `currency,address,amount,reference,name,note
USDTBEP20,0x00000000000000000000000000000000000000a1,20,INV-1,Ann,
USDTBEP20,0x00000000000000000000000000000000000000a2,21.5,INV-2,Ben,
USDTBEP20,0x00000000000000000000000000000000000000a3,22,INV-3,Cy,
USDTERC20,0x00000000000000000000000000000000000000a4,200,INV-4,Di,first payout
`

// gate holds the nth call of a route until the client goes away, optionally after letting
// the sandbox execute it: the test kills the process while the call is in flight.
type gate struct {
	mu     sync.Mutex
	armed  bool
	route  string
	nth    int
	mode   string // "before": never reaches the sandbox; "after": executed, answer withheld; "answered": answered in full
	count  int
	hit    chan struct{}
	closed bool
}

func (g *gate) arm(route string, nth int, mode string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.route, g.nth, g.mode, g.count, g.hit, g.closed = true, route, nth, mode, 0, make(chan struct{}), false
}

func (g *gate) disarm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = false
}

// take reports whether this call is the one to hold.
func (g *gate) take(r *http.Request) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.armed || g.closed || r.Method+" "+r.URL.Path != g.route {
		return "", false
	}
	g.count++
	if g.count != g.nth {
		return "", false
	}
	g.closed = true
	return g.mode, true
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode, ok := g.take(r)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		switch mode {
		case "before":
			// Read the body, so that the server notices when the client goes away.
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				close(g.hit)
				return
			}
		case "answered":
			h.ServeHTTP(w, r)
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			close(g.hit)
			return
		case "after":
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		close(g.hit)
		<-r.Context().Done()
	})
}

// payoutEnv serves a sandbox on the real clock behind a gate, and returns the environment of
// the commands: database, API, config file.
func payoutEnv(t *testing.T, mod ...func(*sandbox.Options)) (*sandbox.Server, *gate, map[string]string) {
	t.Helper()
	opts := sandbox.DefaultOptions(time.Now())
	opts.APIKey = "cli-key"
	opts.Invoices, opts.Wallets, opts.WalletCount = sandbox.Generator{}, sandbox.Generator{}, 1
	for _, f := range mod {
		f(&opts)
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	srv := httptest.NewServer(g.wrap(sb))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nordpay-jobs.yaml")
	if err := os.WriteFile(cfg, []byte(payoutConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return sb, g, map[string]string{
		"NORDPAY_BASE_URL": srv.URL, "NORDPAY_API_KEY": "cli-key", "DATABASE_URL": dbtest.URL(t),
		"NORDPAY_JOBS_CONFIG": cfg, "DIR": dir,
	}
}

// writeSheet writes a sheet into the test's directory.
func writeSheet(t *testing.T, env map[string]string, name, body string) string {
	t.Helper()
	p := filepath.Join(env["DIR"], name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runOK runs a command that must exit with code, and checks that the key never shows.
func runOK(t *testing.T, env map[string]string, code int, args ...string) string {
	t.Helper()
	got, out, stderr := run(t, env, args...)
	if got != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, stderr)
	}
	if strings.Contains(out+stderr, "cli-key") {
		t.Fatalf("%s: the API key leaked", strings.Join(args, " "))
	}
	return out
}

// importApproved imports the standard sheet as alice and has bob approve it.
func importApproved(t *testing.T, env map[string]string) string {
	t.Helper()
	sheet := writeSheet(t, env, "march.csv", payoutSheet)
	var res struct{ Batch string }
	if err := json.Unmarshal([]byte(runOK(t, env, ExitOK, "payouts", "import", sheet, "--by", "alice", "--json")), &res); err != nil {
		t.Fatal(err)
	}
	runOK(t, env, ExitOK, "payouts", "approve", res.Batch, "--by", "bob")
	return res.Batch
}

type statusOut struct {
	Batch  string `json:"batch"`
	State  string `json:"state"`
	Chunks []struct {
		N          int    `json:"n"`
		Currency   string `json:"currency"`
		State      string `json:"state"`
		Identifier string `json:"identifier"`
		Rows       int    `json:"rows"`
		Amount     string `json:"amount"`
		Fee        string `json:"fee"`
	} `json:"chunks"`
	NeedsPerson []int `json:"needs_person"`
}

func status(t *testing.T, env map[string]string, batch string) statusOut {
	t.Helper()
	var st statusOut
	out := runOK(t, env, ExitOK, "payouts", "status", batch, "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

func (s statusOut) states() string {
	var parts []string
	for _, c := range s.Chunks {
		parts = append(parts, fmt.Sprintf("%d:%s", c.N, c.State))
	}
	return strings.Join(parts, " ")
}

// paidOnce checks the sandbox's record: each of the sheet's four rows paid at most once; it
// returns how many were paid.
func paidOnce(t *testing.T, sb *sandbox.Server) int {
	t.Helper()
	seen := map[string]int{}
	for _, p := range sb.Payments() {
		k := p.Currency + " " + p.Address + " " + p.Amount.String()
		seen[k]++
		if seen[k] > 1 {
			t.Errorf("ROW PAID TWICE: %s", k)
		}
	}
	return len(seen)
}

// settle resolves unknown chunks from the sandbox's record and runs again until the batch is
// paid, as a person would.
func settle(t *testing.T, env map[string]string, sb *sandbox.Server, batch string) {
	t.Helper()
	for range 5 {
		st := status(t, env, batch)
		if st.State == "paid" {
			break
		}
		for _, n := range st.NeedsPerson {
			outcome := "failed"
			for _, p := range sb.Payments() {
				if p.Identifier == st.Chunks[n-1].Identifier {
					outcome = "paid"
				}
			}
			runOK(t, env, ExitOK, "payouts", "resolve", batch, "--chunk", fmt.Sprint(n), "--outcome", outcome, "--by", "dave", "--note", "checked")
		}
		if code, _, stderr := run(t, env, "payouts", "run", batch); code != ExitOK && code != ExitDifferences {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
	}
	if st := status(t, env, batch); st.State != "paid" {
		t.Fatalf("batch %s: %s", st.State, st.states())
	}
	if n := paidOnce(t, sb); n != 4 {
		t.Fatalf("%d of 4 rows paid", n)
	}
	runOK(t, env, ExitOK, "ledger", "verify")
}

func TestPayoutsCommands(t *testing.T) {
	t.Parallel()
	sb, _, env := payoutEnv(t)

	// Templates, in both formats; an existing file is never overwritten.
	xlsx := filepath.Join(env["DIR"], "template.xlsx")
	out := runOK(t, env, ExitOK, "payouts", "template", "--out", xlsx)
	if !strings.Contains(out, "USDTBEP20") || strings.Contains(out, "USDCERC20") {
		t.Fatalf("template: %s", out)
	}
	if b, err := os.ReadFile(xlsx); err != nil || !bytes.HasPrefix(b, []byte("PK")) {
		t.Fatalf("the XLSX template is not a workbook: %v", err)
	}
	runOK(t, env, ExitError, "payouts", "template", "--out", xlsx)
	csvPath := filepath.Join(env["DIR"], "template.csv")
	runOK(t, env, ExitOK, "payouts", "template", "--out", csvPath)
	if b, err := os.ReadFile(csvPath); err != nil || !strings.HasPrefix(string(b), "currency,address,amount,reference") {
		t.Fatalf("CSV template %q %v", b, err)
	}
	runOK(t, env, ExitUsage, "payouts", "template", "--out", filepath.Join(env["DIR"], "x.txt"))

	// Import: the JSON shape of ARCHITECTURE.md, amounts as strings.
	sheet := writeSheet(t, env, "march.csv", payoutSheet)
	code, out, stderr := run(t, env, "payouts", "import", sheet, "--by", "alice", "--json")
	if code != ExitOK {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, stderr)
	}
	noBar(t, stderr)
	var imp struct {
		Batch  string           `json:"batch"`
		Valid  bool             `json:"valid"`
		Rows   int              `json:"rows"`
		Errors []map[string]any `json:"errors"`
		Totals []map[string]any `json:"totals"`
	}
	if err := json.Unmarshal([]byte(out), &imp); err != nil || !imp.Valid || imp.Rows != 4 || imp.Errors == nil ||
		len(imp.Errors) != 0 || len(imp.Totals) != 2 {
		t.Fatalf("import --json: %v\n%s", err, out)
	}
	if imp.Totals[0]["currency"] != "USDTBEP20" || imp.Totals[0]["rows"] != float64(3) || imp.Totals[0]["amount"] != "63.5" ||
		imp.Totals[0]["expected_fee"] != "1.8175" {
		t.Fatalf("totals %v", imp.Totals)
	}
	batch := imp.Batch

	// The same file again is refused, unless forced.
	_, _, stderr = run(t, env, "payouts", "import", sheet, "--by", "carol")
	if !strings.Contains(stderr, "already imported as batch "+batch) || !strings.Contains(stderr, "--force") {
		t.Fatalf("second import: %s", stderr)
	}
	// Forced, its rows repeat those of the first batch: that needs --allow-repeat as well.
	code, out, _ = run(t, env, "payouts", "import", sheet, "--by", "carol", "--force")
	if code != ExitDifferences || !strings.Contains(out, "--allow-repeat") {
		t.Fatalf("forced import without --allow-repeat: exit %d\n%s", code, out)
	}
	forced := runOK(t, env, ExitOK, "payouts", "import", sheet, "--by", "carol", "--force", "--allow-repeat")
	if !strings.Contains(forced, "forced") {
		t.Fatalf("forced import: %s", forced)
	}

	// Approval: not by the importer, not of another file; then bob.
	_, _, stderr = run(t, env, "payouts", "approve", batch, "--by", "Alice")
	if !strings.Contains(stderr, "approval refused") {
		t.Fatalf("approval by the importer: %s", stderr)
	}
	other := writeSheet(t, env, "other.csv", strings.Replace(payoutSheet, "20,INV-1", "25,INV-1", 1))
	runOK(t, env, ExitError, "payouts", "approve", batch, "--by", "bob", "--sheet", other)
	runOK(t, env, ExitUsage, "payouts", "approve", batch)
	out = runOK(t, env, ExitOK, "payouts", "approve", batch, "--by", "bob", "--sheet", sheet)
	if !strings.Contains(out, "1 of 1 approval(s)") || !strings.Contains(out, "63.5") {
		t.Fatalf("approve: %s", out)
	}

	// A dry run sends nothing.
	out = runOK(t, env, ExitOK, "payouts", "run", batch, "--dry-run")
	if !strings.Contains(out, "chunk 1 (new chunk) USDTBEP20: 2 rows") || !strings.Contains(out, "chunk 3 (new chunk) USDTERC20: 1 rows") ||
		sb.Requests("/balance/withdraw/multiple/request") != 0 {
		t.Fatalf("dry run: %s", out)
	}

	out = runOK(t, env, ExitOK, "payouts", "run", batch)
	if !strings.Contains(out, "chunk 3 USDTERC20, 1 rows, 200: confirmed") || !strings.Contains(out, "batch "+batch+": paid") {
		t.Fatalf("run: %s", out)
	}
	// Each line says where the run is: the chunk's place among the run's chunks, and their number.
	for _, want := range []string{"\n[1/3] chunk 1 USDTBEP20, 2 rows, 41.5: requested", "\n[2/3] chunk 2 USDTBEP20, 1 rows, 22: confirmed",
		"\n[3/3] chunk 3 USDTERC20, 1 rows, 200: confirmed"} {
		if !strings.Contains("\n"+out, want) {
			t.Errorf("run: no line %q:\n%s", want[1:], out)
		}
	}
	if n := paidOnce(t, sb); n != 4 {
		t.Fatalf("%d rows paid", n)
	}

	// status --json: the shape of ARCHITECTURE.md.
	raw := runOK(t, env, ExitOK, "payouts", "status", batch, "--json")
	var shape map[string]any
	if err := json.Unmarshal([]byte(raw), &shape); err != nil {
		t.Fatal(err)
	}
	chunks, _ := shape["chunks"].([]any)
	if shape["batch"] != batch || shape["state"] != "paid" || len(chunks) != 3 {
		t.Fatalf("status --json: %s", raw)
	}
	for _, c := range chunks {
		c := c.(map[string]any)
		for _, key := range []string{"currency", "state", "identifier", "amount", "fee"} {
			if _, ok := c[key].(string); !ok {
				t.Errorf("chunk %v: %q is not a string", c["n"], key)
			}
		}
		for _, key := range []string{"n", "rows"} {
			if _, ok := c[key].(float64); !ok {
				t.Errorf("chunk %v: %q is not a number", c["n"], key)
			}
		}
	}
	out = runOK(t, env, ExitOK, "payouts", "status")
	if !strings.Contains(out, batch) || !strings.Contains(out, "paid") {
		t.Fatalf("status: %s", out)
	}
	out = runOK(t, env, ExitOK, "payouts", "status", batch, "--audit")
	for _, want := range []string{"alice: imported", "Alice: approval refused", "bob: approved", "chunk 1 planned", "chunk 3 requested -> confirming"} {
		if !strings.Contains(out, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, out)
		}
	}
	runOK(t, env, ExitUsage, "payouts", "status", "--audit")
	runOK(t, env, ExitOK, "ledger", "verify")
	out = runOK(t, env, ExitOK, "ledger", "balances", "--json")
	var bs []struct{ Account, Balance string }
	if err := json.Unmarshal([]byte(out), &bs); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Account == "assets:nordpay:USDTBEP20" && b.Balance != "-63.5" {
			t.Fatalf("assets after the payout: %s", b.Balance)
		}
	}
	// A second run pays nothing more.
	runOK(t, env, ExitOK, "payouts", "run", batch)
	if n := paidOnce(t, sb); n != 4 || len(sb.Payments()) != 4 {
		t.Fatalf("%d payments after a second run", len(sb.Payments()))
	}
	runOK(t, env, ExitError, "payouts", "status", "no-such-batch")
	runOK(t, env, ExitUsage, "payouts", "resolve", batch, "--chunk", "1", "--outcome", "maybe", "--by", "dave")
	runOK(t, env, ExitError, "payouts", "resolve", batch, "--chunk", "1", "--outcome", "paid", "--by", "dave")
}

func TestPayoutsImportInvalidSheet(t *testing.T) {
	t.Parallel()
	sb, _, env := payoutEnv(t)
	sheet := writeSheet(t, env, "bad.csv", `currency,address,amount,reference
USDTBEP20,0x00000000000000000000000000000000000000a1,"1,5",INV-1
DOGE,0x00000000000000000000000000000000000000a2,10,INV-2
USDTBEP20,0xnothex,10,INV-3
USDTBEP20,0x00000000000000000000000000000000000000a4,-3,INV-4
USDTBEP20,0x00000000000000000000000000000000000000a5,12,INV-4
`)
	report := filepath.Join(env["DIR"], "bad-report.csv")
	code, out, stderr := run(t, env, "payouts", "import", sheet, "--by", "alice", "--json", "--report", report)
	if code != ExitDifferences {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	var res struct {
		Batch  string `json:"batch"`
		Valid  bool   `json:"valid"`
		Errors []struct {
			Row     int    `json:"row"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Valid || res.Batch == "" {
		t.Fatalf("%v\n%s", err, out)
	}
	rowsWithErrors := map[int]bool{}
	for _, e := range res.Errors {
		rowsWithErrors[e.Row] = true
	}
	for row := 2; row <= 6; row++ {
		if !rowsWithErrors[row] {
			t.Errorf("row %d has no error: %s", row, out)
		}
	}
	if b, err := os.ReadFile(report); err != nil || !strings.Contains(string(b), "error") {
		t.Fatalf("report: %v %s", err, b)
	}
	st := status(t, env, res.Batch)
	if st.State != "rejected" {
		t.Fatalf("status %+v", st)
	}
	runOK(t, env, ExitError, "payouts", "approve", res.Batch, "--by", "bob")
	runOK(t, env, ExitError, "payouts", "run", res.Batch)
	if sb.Requests("/balance/withdraw/multiple/request") != 0 || sb.Requests("/balance/withdraw/multiple/confirm") != 0 {
		t.Fatal("an invalid sheet reached the withdraw API")
	}

	// A file above max_bytes is refused before anything else.
	small := filepath.Join(env["DIR"], "small.yaml")
	if err := os.WriteFile(small, []byte("payouts:\n  max_bytes: 64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := writeSheet(t, env, "big.csv", payoutSheet)
	code, _, stderr = run(t, map[string]string{"DATABASE_URL": env["DATABASE_URL"], "NORDPAY_BASE_URL": env["NORDPAY_BASE_URL"],
		"NORDPAY_API_KEY": "cli-key", "NORDPAY_JOBS_CONFIG": small}, "payouts", "import", big, "--by", "alice")
	if code != ExitDifferences || !strings.Contains(stderr, "larger than") {
		t.Fatalf("oversized file: exit %d %s", code, stderr)
	}
}

func TestPayoutsUnknownOutcomeNeedsAPerson(t *testing.T) {
	t.Parallel()
	sb, _, env := payoutEnv(t)
	batch := importApproved(t, env)
	sb.InjectFault("POST /balance/withdraw/multiple/confirm", sandbox.FaultLostAnswer)
	code, out, _ := run(t, env, "payouts", "run", batch, "--no-progress")
	if code != ExitDifferences || !strings.Contains(out, "NEEDS A PERSON: chunk 1") {
		t.Fatalf("run with a lost confirm: exit %d\n%s", code, out)
	}
	if strings.Contains(out, ": confirmed (withdrawal") || strings.Contains(out, "] chunk") {
		t.Errorf("--no-progress printed the chunks' transitions:\n%s", out)
	}
	st := status(t, env, batch)
	if st.State != "attention" || st.states() != "1:unknown 2:confirmed 3:confirmed" || len(st.NeedsPerson) != 1 || st.NeedsPerson[0] != 1 {
		t.Fatalf("status %+v", st)
	}
	human := runOK(t, env, ExitOK, "payouts", "status")
	if !strings.Contains(human, "NEEDS A PERSON: batch "+batch+" chunk 1") {
		t.Fatalf("status does not show what needs a person:\n%s", human)
	}
	requests := sb.Requests("/balance/withdraw/multiple/request")
	code, _, _ = run(t, env, "payouts", "run", batch)
	if code != ExitDifferences || sb.Requests("/balance/withdraw/multiple/request") != requests {
		t.Fatalf("a re-run requested an unknown chunk again (exit %d)", code)
	}
	runOK(t, env, ExitOK, "payouts", "resolve", batch, "--chunk", "1", "--outcome", "paid", "--by", "dave", "--note", "Nord PAY withdrawal 1")
	if st := status(t, env, batch); st.State != "paid" {
		t.Fatalf("after resolving: %+v", st)
	}
	if paidOnce(t, sb) != 4 {
		t.Fatal("not every row paid")
	}
	runOK(t, env, ExitOK, "ledger", "verify")
}

// TestPayoutsRunKilledBetweenSteps kills a real `payouts run` process (SIGKILL, no cleanup)
// while each kind of call to Nord PAY is in flight, before and after the API executed it,
// then lets a person finish the batch: no row is ever paid twice, and what was in flight is
// either continued (no confirm had been sent) or unknown (one may have been).
func TestPayoutsRunKilledBetweenSteps(t *testing.T) {
	t.Parallel()
	const (
		request = "POST /balance/withdraw/multiple/request"
		confirm = "POST /balance/withdraw/multiple/confirm"
		balance = "GET /balance/"
	)
	for _, tc := range []struct {
		route string
		nth   int
		mode  string
		// the first chunk states after the kill, and after the next run
		killed, next string
		// rows paid at the kill
		paid int
	}{
		{request, 1, "before", "1:planned 2:planned 3:planned", "1:confirmed 2:confirmed 3:confirmed", 0},
		{request, 1, "after", "1:planned 2:planned 3:planned", "1:confirmed 2:confirmed 3:confirmed", 0},
		{balance, 1, "before", "1:requested 2:planned 3:planned", "1:confirmed 2:confirmed 3:confirmed", 0},
		{confirm, 1, "before", "1:confirming 2:planned 3:planned", "1:unknown 2:confirmed 3:confirmed", 0},
		{confirm, 1, "after", "1:confirming 2:planned 3:planned", "1:unknown 2:confirmed 3:confirmed", 2},
		{confirm, 2, "after", "1:confirmed 2:confirming 3:planned", "1:confirmed 2:unknown 3:confirmed", 3},
		{request, 3, "before", "1:confirmed 2:confirmed 3:planned", "1:confirmed 2:confirmed 3:confirmed", 3},
		{confirm, 3, "answered", "", "", 4},
	} {
		t.Run(fmt.Sprintf("%s#%d/%s", strings.ReplaceAll(tc.route, "/", "_"), tc.nth, tc.mode), func(t *testing.T) {
			t.Parallel()
			sb, g, env := payoutEnv(t)
			batch := importApproved(t, env)
			g.arm(tc.route, tc.nth, tc.mode)
			proc := exec.Command(binary, "payouts", "run", batch)
			proc.Env = append(os.Environ(), "NORDPAY_BASE_URL="+env["NORDPAY_BASE_URL"], "NORDPAY_API_KEY=cli-key",
				"DATABASE_URL="+env["DATABASE_URL"], "NORDPAY_JOBS_CONFIG="+env["NORDPAY_JOBS_CONFIG"])
			var stderr bytes.Buffer
			proc.Stderr = &stderr
			if err := proc.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-g.hit:
			case <-time.After(60 * time.Second):
				_ = proc.Process.Kill()
				_ = proc.Wait()
				t.Fatalf("the run never reached %s #%d: %s", tc.route, tc.nth, stderr.String())
			}
			if err := proc.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = proc.Wait() // killed: its exit status says so
			g.disarm()
			if n := paidOnce(t, sb); n != tc.paid {
				t.Fatalf("%d rows paid at the kill, want %d", n, tc.paid)
			}
			if tc.killed != "" {
				if st := status(t, env, batch); st.states() != tc.killed {
					t.Fatalf("after the kill: %s, want %s", st.states(), tc.killed)
				}
				requests := sb.Requests(request)
				code, out, errOut := run(t, env, "payouts", "run", batch)
				st := status(t, env, batch)
				if st.states() != tc.next {
					t.Fatalf("after the next run (exit %d): %s, want %s\n%s%s", code, st.states(), tc.next, out, errOut)
				}
				// The next run's lines number the chunks it takes through (planned and
				// requested ones); a chunk it finds confirming has a line without a number.
				var todo []string
				for _, cs := range strings.Fields(tc.killed) {
					n, state, _ := strings.Cut(cs, ":")
					if state == "planned" || state == "requested" {
						todo = append(todo, n)
					}
				}
				for i, n := range todo {
					if want := fmt.Sprintf("\n[%d/%d] chunk %s ", i+1, len(todo), n); !strings.Contains("\n"+out, want) {
						t.Errorf("the next run has no line starting %q:\n%s", want[1:], out)
					}
				}
				if n, _, found := strings.Cut(tc.killed, ":confirming"); found {
					if want := "\nchunk " + n[len(n)-1:] + " "; !strings.Contains("\n"+out, want) {
						t.Errorf("the next run has no line starting %q:\n%s", want[1:], out)
					}
				}
				if strings.Contains(tc.next, "unknown") {
					if code != ExitDifferences || !strings.Contains(out, "was found confirming") {
						t.Fatalf("the next run: exit %d\n%s", code, out)
					}
					// The unknown chunk was not requested again: only the chunks after it were.
					planned := strings.Count(tc.killed, "planned")
					if sb.Requests(request)-requests != planned {
						t.Fatalf("%d requests after the restart, want %d", sb.Requests(request)-requests, planned)
					}
				}
			}
			settle(t, env, sb, batch)
		})
	}
}

func TestPayoutsConfigExampleIsTheDefault(t *testing.T) {
	t.Parallel()
	c, err := config.Load("../../config/nordpay-jobs.example.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got, want := payoutPolicy(c.Payouts), payoutPolicy(config.Default().Payouts)
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("the example's payouts section drifted from the defaults:\n%+v\n%+v", got, want)
	}
	if c.Payouts.MaxRows != 100_000 || c.Payouts.MaxBytes != 32<<20 || c.Payouts.MaxUnzippedBytes != 256<<20 {
		t.Fatalf("caps %+v", c.Payouts)
	}
	// Amounts in the config are exact decimals, whatever YAML thinks of them.
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("payouts:\n  approvers: 2\n  fee_ceiling:\n    BTC: 0.30000000000000004\n  thresholds:\n    - {currency: BTC, above: 1e-8, approvers: 3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = config.Load(p, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	pol := payoutPolicy(c.Payouts)
	if !pol.FeeCeiling["BTC"].Equal(decimal.RequireFromString("0.30000000000000004")) || pol.Approvers != 2 ||
		!pol.Thresholds[0].Above.Equal(decimal.RequireFromString("0.00000001")) {
		t.Fatalf("policy %+v", pol)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("payouts:\n  approvers: 0\n  rows_per_request: 0\n  fee_ceiling_percent: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = config.Load(bad, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, key := range []string{"payouts.approvers", "payouts.rows_per_request", "payouts.fee_ceiling_percent"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate does not name %s: %v", key, err)
		}
	}
}

// TestPayoutsApproversAreTold: the approver learns that the import and the approval came from
// one OS account (a warning, not a refusal) and that --allow-repeat let rows through; status
// and its audit log show who really ran what; import --json always prints JSON.
func TestPayoutsApproversAreTold(t *testing.T) {
	t.Parallel()
	_, _, env := payoutEnv(t)
	sheet := writeSheet(t, env, "march.csv", payoutSheet)
	var first struct{ Batch string }
	if err := json.Unmarshal([]byte(runOK(t, env, ExitOK, "payouts", "import", sheet, "--by", "alice", "--json")), &first); err != nil {
		t.Fatal(err)
	}

	// A failure that prints nothing else still gives a script JSON, and a person stderr.
	type failure struct {
		Batch *string `json:"batch"`
		Valid *bool   `json:"valid"`
		Error string  `json:"error"`
	}
	for _, tc := range []struct {
		name string
		code int
		args []string
		want string
	}{
		{"SameSheetTwice", ExitError, []string{"payouts", "import", sheet, "--by", "carol", "--json"}, "already imported as batch " + first.Batch},
		{"NoBy", ExitUsage, []string{"payouts", "import", sheet, "--json"}, "--by NAME is required"},
	} {
		code, out, stderr := run(t, env, tc.args...)
		var got failure
		if err := json.Unmarshal([]byte(out), &got); err != nil || code != tc.code || got.Batch == nil || *got.Batch != "" ||
			got.Valid == nil || *got.Valid || !strings.Contains(got.Error, tc.want) || !strings.Contains(stderr, tc.want) {
			t.Fatalf("%s: exit %d, %v\nstdout: %s\nstderr: %s", tc.name, code, err, out, stderr)
		}
	}
	if _, out, _ := run(t, env, "payouts", "import", sheet, "--by", "carol"); out != "" {
		t.Fatalf("without --json, stdout: %q", out)
	}

	// The same sheet again, forced, with --allow-repeat: its 4 rows repeat the first batch's.
	var second struct{ Batch string }
	out := runOK(t, env, ExitOK, "payouts", "import", sheet, "--by", "carol", "--force", "--allow-repeat", "--json")
	if err := json.Unmarshal([]byte(out), &second); err != nil || second.Batch == "" {
		t.Fatalf("import --allow-repeat: %v\n%s", err, out)
	}
	const note = "imported with --allow-repeat: 4 rows repeat earlier payouts"

	// The tests import and approve as one process: one OS account.
	code, out, stderr := run(t, env, "payouts", "approve", second.Batch, "--by", "bob")
	if code != ExitOK || !strings.Contains(out, note) || !strings.Contains(out, "approved by bob") {
		t.Fatalf("approve: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	if strings.Contains(out, "same OS account") {
		t.Fatalf("the warning is on stdout: %s", out)
	}
	if strings.Contains(runOK(t, env, ExitOK, "payouts", "status", first.Batch), "--allow-repeat") {
		t.Fatal("status of a batch imported without --allow-repeat mentions it")
	}
	wantWarning := "imported and approved from the same OS account "
	if !strings.Contains(stderr, wantWarning) || !strings.Contains(stderr, "the approvals are only as separate as the names typed") {
		t.Fatalf("approve: no warning on stderr: %s", stderr)
	}
	text := runOK(t, env, ExitOK, "payouts", "status", second.Batch, "--audit")
	for _, want := range []string{note, "imported by carol at ", " from OS account ", "carol: imported [OS account ", "bob: approved [OS account ", wantWarning} {
		if !strings.Contains(text, want) {
			t.Errorf("status --audit lacks %q:\n%s", want, text)
		}
	}
	var js struct {
		ImportedFrom string `json:"imported_from"`
		AllowRepeat  bool   `json:"allow_repeat"`
		RepeatRows   *int   `json:"repeat_rows"`
		Audit        []struct {
			Action string         `json:"action"`
			Detail map[string]any `json:"detail"`
		} `json:"audit"`
	}
	out = runOK(t, env, ExitOK, "payouts", "status", second.Batch, "--json", "--audit")
	if err := json.Unmarshal([]byte(out), &js); err != nil || !js.AllowRepeat || js.RepeatRows == nil || *js.RepeatRows != 4 ||
		js.ImportedFrom == "" || len(js.Audit) != 2 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for _, l := range js.Audit {
		if _, ok := l.Detail["os_user"]; !ok || l.Detail["host"] == nil {
			t.Fatalf("audit line without the OS account: %+v", l)
		}
	}
	if ws, _ := js.Audit[1].Detail["warnings"].([]any); js.Audit[1].Action != "approved" || len(ws) != 1 {
		t.Fatalf("the approval's audit line lacks the warning: %+v", js.Audit[1])
	}
}
