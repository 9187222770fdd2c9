package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// lockedBuffer collects a subprocess's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveConfig runs one sync job whose only slot due is today's 00:00 UTC (caught up at start),
// so that serve runs exactly one slot, at once, pulling everything up to it.
func serveConfig(adminAddr, shutdown, lease string) string {
	return fmt.Sprintf(`
sync:
  start: 2026-11-10
serve:
  admin_addr: %q
  shutdown_timeout: %s
  lease: %s
  poll_interval: 300ms
jobs:
  - name: sync
    kind: sync
    schedule: "0 0 * * *"
    catch_up: 48h
`, adminAddr, shutdown, lease)
}

// slowSandbox serves enough transactions slowly enough that a sync takes a few seconds.
func slowSandbox(t *testing.T) (paid int, env map[string]string) {
	t.Helper()
	sb, env := startSandbox(t, func(o *sandbox.Options) {
		o.Faults.Latency = 250 * time.Millisecond
		o.Invoices.Count, o.Wallets.Count = 6000, 3000
	})
	for _, source := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
		for tx := range sb.Transactions(source, time.Time{}, time.Time{}) {
			if tx.IsPaid {
				paid++
			}
		}
	}
	return paid, env
}

// startServe starts `nordpay-jobs serve` with JSON logs.
func startServe(t *testing.T, env map[string]string, cfg string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", cfg, "--log-format", "json")
	cmd.Env = append(os.Environ(), "NORDPAY_BASE_URL="+env["NORDPAY_BASE_URL"], "NORDPAY_API_KEY=cli-key", "DATABASE_URL="+env["DATABASE_URL"])
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // the test failed before it ended the process; the error is the test's
			_ = cmd.Wait()
		}
	})
	return cmd, stderr
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, stderr *lockedBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s\n%s", what, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type runRow struct {
	State    string  `db:"state"`
	Owner    string  `db:"owner"`
	Attempts int     `db:"attempts"`
	Error    *string `db:"error"`
}

func syncRun(t *testing.T, conn *sqlx.DB) (runRow, bool) {
	t.Helper()
	var rows []runRow
	if err := conn.Select(&rows, `SELECT state, owner, attempts, error FROM job_runs WHERE job = 'sync' ORDER BY slot DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return runRow{}, false
	}
	return rows[0], true
}

func entries(t *testing.T, conn *sqlx.DB) int {
	t.Helper()
	var n int
	if err := conn.Get(&n, `SELECT count(*) FROM journal_entries`); err != nil {
		t.Fatal(err)
	}
	return n
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func exitWithin(t *testing.T, cmd *exec.Cmd, d time.Duration, stderr *lockedBuffer) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("serve did not exit within %s\n%s", d, stderr.String())
		return nil
	}
}

func openDB(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	conn, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestServeSIGTERMWaitsForTheRunningJob sends SIGTERM to serve in the middle of a sync: it
// stops triggering, lets the sync finish, records it, and exits 0.
func TestServeSIGTERMWaitsForTheRunningJob(t *testing.T) {
	t.Parallel()
	paid, env := slowSandbox(t)
	addr := freeAddr(t)
	conn := openDB(t, env["DATABASE_URL"])
	cmd, stderr := startServe(t, env, writeConfig(t, serveConfig(addr, "60s", "60s")))

	waitFor(t, "the sync to start", stderr, func() bool { r, ok := syncRun(t, conn); return ok && r.State == "running" })
	waitFor(t, "/healthz", stderr, func() bool { code, _ := get(t, "http://"+addr+"/healthz"); return code == http.StatusOK })
	if code, body := get(t, "http://"+addr+"/metrics"); code != http.StatusOK || !strings.Contains(body, `nordpay_jobs_runs_in_progress{job="sync"} 1`) ||
		!strings.Contains(body, `nordpay_jobs_payout_chunks{state="unknown"} 0`) || !strings.Contains(body, `nordpay_jobs_payout_chunks{state="confirmed"} 0`) {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	if code, _ := get(t, "http://"+addr+"/livez"); code != http.StatusOK {
		t.Fatalf("/livez: %d", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := exitWithin(t, cmd, 60*time.Second, stderr); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
	}
	r, _ := syncRun(t, conn)
	if r.State != "succeeded" || r.Attempts != 1 {
		t.Fatalf("the sync running at SIGTERM: %+v\n%s", r, stderr.String())
	}
	if n := entries(t, conn); n != paid {
		t.Fatalf("%d entries booked, the sandbox has %d paid transactions", n, paid)
	}
	logs := stderr.String()
	stopping, finished := strings.Index(logs, `"msg":"scheduler stopping: waiting for running jobs"`), strings.Index(logs, `"msg":"job finished"`)
	if stopping < 0 || finished < stopping {
		t.Fatalf("the sync did not finish after SIGTERM (stopping at %d, finished at %d):\n%s", stopping, finished, logs)
	}
	slot := time.Now().UTC().Truncate(24 * time.Hour).Format(time.RFC3339)
	for _, want := range []string{`"job":"sync"`, `"slot":"` + slot + `"`, `"outcome":"succeeded"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the JSON logs lack %s", want)
		}
	}
	if strings.Contains(logs, "cli-key") {
		t.Fatal("the API key leaked into the logs")
	}
}

// TestServeShutdownDeadlineReleasesTheRun: when the sync outlasts the shutdown deadline, it
// is cancelled and released, and the next process runs it at once.
func TestServeShutdownDeadlineReleasesTheRun(t *testing.T) {
	t.Parallel()
	paid, env := slowSandbox(t)
	conn := openDB(t, env["DATABASE_URL"])
	cfg := writeConfig(t, serveConfig("", "500ms", "60s"))
	cmd, stderr := startServe(t, env, cfg)
	waitFor(t, "the sync to start", stderr, func() bool { r, ok := syncRun(t, conn); return ok && r.State == "running" })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := exitWithin(t, cmd, 20*time.Second, stderr); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
	}
	r, _ := syncRun(t, conn)
	if r.State != "running" || r.Attempts != 0 || r.Error == nil || !strings.Contains(*r.Error, "interrupted") {
		t.Fatalf("the cut-short sync was not released: %+v\n%s", r, stderr.String())
	}
	next, stderr2 := startServe(t, env, cfg)
	waitFor(t, "the next process to finish the sync", stderr2, func() bool { r, _ := syncRun(t, conn); return r.State == "succeeded" })
	if err := next.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := exitWithin(t, next, 20*time.Second, stderr2); err != nil {
		t.Fatal(err)
	}
	if r, _ := syncRun(t, conn); r.Attempts != 1 || entries(t, conn) != paid {
		t.Fatalf("after the restart: %+v, %d of %d entries", r, entries(t, conn), paid)
	}
}

// TestServeKilledRunIsTakenOverAfterItsLease kills serve (SIGKILL: no cleanup) in the middle
// of a sync; another serve, already running, takes the run over once its lease expires and
// books the rest.
func TestServeKilledRunIsTakenOverAfterItsLease(t *testing.T) {
	t.Parallel()
	paid, env := slowSandbox(t)
	conn := openDB(t, env["DATABASE_URL"])
	cfg := writeConfig(t, serveConfig("", "10s", "3s"))
	first, stderr := startServe(t, env, cfg)
	waitFor(t, "the sync to book something", stderr, func() bool { return entries(t, conn) > 0 })
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil {
		t.Fatal("serve exited cleanly after SIGKILL")
	}
	dead, _ := syncRun(t, conn)
	if dead.State != "running" || entries(t, conn) >= paid {
		t.Fatalf("the killed run: %+v, %d of %d entries; the test needs a run killed part-way", dead, entries(t, conn), paid)
	}
	killedAt := time.Now()
	second, stderr2 := startServe(t, env, cfg)
	waitFor(t, "the takeover", stderr2, func() bool { r, _ := syncRun(t, conn); return r.State == "succeeded" })
	if took := time.Since(killedAt); took < 2*time.Second {
		t.Fatalf("taken over %s after the kill, before the 3s lease could expire", took)
	}
	r, _ := syncRun(t, conn)
	if r.Attempts != 2 || r.Owner == dead.Owner {
		t.Fatalf("after the takeover: %+v (the dead owner was %s)", r, dead.Owner)
	}
	if n := entries(t, conn); n != paid {
		t.Fatalf("%d entries booked, the sandbox has %d paid transactions", n, paid)
	}
	if !strings.Contains(stderr2.String(), `"msg":"job taken over: its owner stopped renewing the lease"`) {
		t.Fatalf("no takeover in the logs:\n%s", stderr2.String())
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := exitWithin(t, second, 20*time.Second, stderr2); err != nil {
		t.Fatal(err)
	}
}
