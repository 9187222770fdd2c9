package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
)

// binary is the nordpay-jobs executable built once for the tests that need a real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nordpay-jobs-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "nordpay-jobs")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building nordpay-jobs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes a command line in-process with the given environment.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestHelpTeaches(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, nil, "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Exit codes", "NORDPAY_API_KEY", "DATABASE_URL", "migrate", "sandbox", "demo", "Examples:"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, cmd := range []string{"migrate", "sandbox", "demo"} {
		code, out, _ := run(t, nil, cmd, "--help")
		if code != ExitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--database-url") {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
	code, out, _ = run(t, nil, "--version")
	if code != ExitOK || !strings.HasPrefix(out, "nordpay-jobs ") {
		t.Fatalf("--version: exit %d %q", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		says string
	}{
		{"UnknownCommand", nil, []string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{"UnknownFlag", nil, []string{"migrate", "--nope"}, ExitUsage, "unknown flag: --nope"},
		{"ExtraArgument", nil, []string{"migrate", "now"}, ExitUsage, "unknown command"},
		{"BadShare", map[string]string{"NORDPAY_API_KEY": "k"}, []string{"sandbox", "--fault-rate", "2"}, ExitUsage, "--fault-rate 2"},
		{"NoDatabase", nil, []string{"migrate"}, ExitError, "no database: set DATABASE_URL"},
		{"BadConfigFromEnv", map[string]string{"NORDPAY_BASE_URL": "ftp://x"}, []string{"migrate"}, ExitError, "(from env NORDPAY_BASE_URL)"},
		{"BadConfigFromFlag", nil, []string{"migrate", "--log-format", "xml"}, ExitUsage, "(from flag --log-format)"},
		{"SandboxWithoutKey", nil, []string{"sandbox"}, ExitError, "no API key"},
		{"UnreachableDatabase", map[string]string{"DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"}, []string{"migrate"}, ExitError, "xxxxx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.says) {
				t.Fatalf("exit %d, stderr %q; want exit %d saying %q", code, stderr, tc.code, tc.says)
			}
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); !strings.HasPrefix(lines[0], "nordpay-jobs: ") {
				t.Fatalf("the error is not one line starting with the program name: %q", stderr)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Fatalf("the database password leaked: %q", stderr)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	code, out, stderr := run(t, map[string]string{"DATABASE_URL": url}, "migrate")
	known, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if code != ExitOK || !strings.Contains(out, fmt.Sprintf("schema is up to date (version %d)", len(known))) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	code, out, _ = run(t, nil, "migrate", "--json", "--database-url", url)
	var got struct {
		Applied []string `json:"applied"`
		Version int      `json:"version"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &got) != nil || got.Version != len(known) || len(got.Applied) != 0 {
		t.Fatalf("--json: exit %d, %s", code, out)
	}
}

// freeAddr finds a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSandboxServes is the acceptance check of the foundation: with
// `NORDPAY_API_KEY=k nordpay-jobs sandbox --addr A` running, /balance/ answers with the key and
// 401 without it, and /currencies/ answers without a key.
func TestSandboxServes(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "sandbox", "--addr", addr, "--seed", "7")
	cmd.Env = append(os.Environ(), "NORDPAY_API_KEY=k")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	banner, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(banner, "listening on http://"+addr) {
		t.Fatalf("banner %q, err %v, stderr %s", banner, err, stderr.String())
	}
	get := func(path, key string) (int, []byte) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if key != "" {
			req.Header.Set("X-API-KEY", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	status, body := get("/balance/", "k")
	var balances []map[string]any
	if status != 200 || json.Unmarshal(body, &balances) != nil || len(balances) == 0 || balances[0]["currency"] == nil {
		t.Fatalf("/balance/ with the key: %d %s", status, body)
	}
	if status, body := get("/balance/", ""); status != 401 || !strings.Contains(string(body), "detail") {
		t.Fatalf("/balance/ without the key: %d %s", status, body)
	}
	if status, body := get("/currencies/", ""); status != 200 || !strings.Contains(string(body), "USDTBEP20") {
		t.Fatalf("/currencies/ without a key: %d %s", status, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sandbox did not exit cleanly on SIGTERM: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop on SIGTERM")
	}
}

// TestDemo runs the demo as `make demo` does: its own throwaway PostgreSQL and sandbox. It
// checks the steps it prints, then what it leaves in --out (see checkDemoFiles), and runs it
// a second time over the same directory, which must work too.
func TestDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	demo := func(t *testing.T) string {
		t.Helper()
		cmd := exec.Command(binary, "demo", "--out", dir)
		cmd.Env = append(os.Environ(), "DATABASE_URL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo: %v\n%s", err, out)
		}
		return string(out)
	}
	out := demo(t)
	known, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(known))
	for i, m := range known {
		names[i] = m.String()
	}
	applied := fmt.Sprintf("applied %d migration(s): %s", len(known), strings.Join(names, ", "))
	for _, want := range []string{"started a throwaway cluster", "Sandbox API: serving", applied, "currencies", "booked 0, ", "equal Nord PAY", "verify passed", "Done in",
		"Files go to " + dir,
		"$ nordpay-jobs export statement --from ", "$ nordpay-jobs report reconcile --month ", ": reconciled",
		"$ nordpay-jobs payouts import ", "$ nordpay-jobs payouts approve ", "$ nordpay-jobs payouts run ", ": paid",
		"Ledger after the payouts: assets equal Nord PAY's GET /balance/", "Summary", "Files in " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "verify passed") < 2 {
		t.Errorf("demo output should say verify passed before and after the payouts:\n%s", out)
	}
	checkDemoFiles(t, dir, out)
	if t.Failed() {
		return
	}
	t.Run("Again", func(t *testing.T) {
		checkDemoFiles(t, dir, demo(t))
	})
}
