// Command testpg runs a command against a throwaway PostgreSQL, so that
// database tests need no server set up beforehand:
//
//	go run ./cmd/testpg -- go test -count=1 ./...
//
// It starts a cluster with db/pgtemp, runs the command with TEST_DATABASE_URL
// set to it (stdin, stdout and stderr passed through), stops the cluster (also
// on SIGINT or SIGTERM, which it passes on to the command) and exits with the
// command's exit code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nordpay/nordpay-jobs/db/pgtemp"
)

// envURL is what db/dbtest reads (dbtest.EnvURL); spelled out here so that
// this tool does not link the testing package.
const envURL = "TEST_DATABASE_URL"

func main() {
	os.Exit(run())
}

func run() int {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: testpg -- CMD [ARGS...]\n\n"+
			"Starts a throwaway PostgreSQL, runs CMD with %s set to it, stops it,\n"+
			"and exits with CMD's exit code.\n", envURL)
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		return 2
	}

	// Catch signals from the start, so that an interrupt never leaves a
	// server running.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	cluster, code := startCluster(sigs)
	if cluster == nil {
		return code
	}
	code = runCommand(args, cluster.URL(), sigs)
	if err := cluster.Stop(); err != nil {
		logf("%v", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// startCluster starts PostgreSQL, giving up cleanly on a signal; it returns
// nil and the exit code when there is no cluster to use.
func startCluster(sigs <-chan os.Signal) (*pgtemp.Cluster, int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		cluster *pgtemp.Cluster
		err     error
	}
	done := make(chan result, 1)
	go func() {
		c, err := pgtemp.Start(ctx, pgtemp.Options{Log: prefixWriter{os.Stderr}})
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			logf("%v", r.err)
			return nil, 1
		}
		return r.cluster, 0
	case sig := <-sigs:
		logf("%v while starting PostgreSQL; cleaning up", sig)
		cancel()
		if r := <-done; r.cluster != nil {
			if err := r.cluster.Stop(); err != nil {
				logf("%v", err)
			}
		}
		return nil, 128 + signalNumber(sig)
	}
}

// runCommand runs args with the database URL in its environment, passes
// signals on to it, and returns its exit code.
func runCommand(args []string, url string, sigs <-chan os.Signal) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envURL+"="+url)
	logf("%s=%s %s", envURL, url, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logf("cannot run %s: %v", args[0], err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			logf("passing %v on to %s", sig, args[0])
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				logf("signalling %s: %v", args[0], err)
			}
		case err := <-done:
			return exitCode(err)
		}
	}
}

// exitCode turns Wait's result into a shell-style exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		logf("%v", err)
		return 1
	}
	if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		return 128 + int(status.Signal())
	}
	return exit.ExitCode()
}

func signalNumber(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return int(s)
	}
	return 1
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testpg: "+format+"\n", args...)
}

// prefixWriter marks pgtemp's progress lines (one per Write) as ours.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := fmt.Fprintf(p.w, "testpg: %s", b); err != nil {
		return 0, err
	}
	return len(b), nil
}
