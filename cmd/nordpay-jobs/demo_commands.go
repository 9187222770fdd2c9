package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// demoIndent puts what a step's command printed under the step.
const demoIndent = "      "

// command runs one nordpay-jobs command line in this process, exactly as the binary runs it,
// with the demo's database, sandbox address and key in its environment (the real
// environment for everything else). It prints the command line, then, indented, what the
// command printed on stderr, and on stdout too when show is set or the command failed. It
// returns the command's stdout, or an error naming the command and its exit status.
func (d *demo) command(ctx context.Context, show bool, args ...string) ([]byte, error) {
	d.m.printf("%s$ nordpay-jobs %s\n", demoIndent, shellJoin(args))
	var stdout, stderr bytes.Buffer
	code := Run(ctx, append(d.globalArgs(), args...), Stdio{In: strings.NewReader(""), Out: &stdout, Err: &stderr}, d.getenv)
	if show || code != ExitOK {
		d.indent(stdout.Bytes())
	}
	d.indent(stderr.Bytes())
	if code != ExitOK {
		return nil, fmt.Errorf("demo: `nordpay-jobs %s` exited %d", shellJoin(args), code)
	}
	return stdout.Bytes(), nil
}

// globalArgs are the flags of the demo's own command line that its commands must share: the
// config file and the log settings. Logs are quieted to warnings unless asked for, so that
// the commands' info lines do not tear the demo's output.
func (d *demo) globalArgs() []string {
	var args []string
	f := d.m.flags
	if f.configPath != "" {
		args = append(args, "--config", f.configPath)
	}
	switch {
	case f.logLevel != "":
		args = append(args, "--log-level", f.logLevel)
	case d.m.Config.Source("log.level") == "default":
		args = append(args, "--log-level", "warn")
	}
	if f.logFormat != "" {
		args = append(args, "--log-format", f.logFormat)
	}
	return args
}

// getenv is the environment of the commands the demo runs.
func (d *demo) getenv(key string) string {
	if v, ok := d.env[key]; ok {
		return v
	}
	return d.m.Getenv(key)
}

// indent prints text under the current step.
func (d *demo) indent(text []byte) {
	s := strings.TrimRight(string(text), "\n")
	if s == "" {
		return
	}
	for _, line := range strings.Split(s, "\n") {
		d.m.printf("%s%s\n", demoIndent, line)
	}
}

// shellJoin writes a command line as a shell would take it back.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		safe := a != ""
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)) {
				safe = false
				break
			}
		}
		if safe {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// path is a file of the demo in --out, as the commands it prints name it.
func (d *demo) path(name string) string { return filepath.Join(d.opts.Out, name) }

// addFile records a file the demo wrote, for the summary.
func (d *demo) addFile(path, what string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("demo: a file the demo wrote: %w", err)
	}
	if fi.Size() == 0 {
		return fmt.Errorf("demo: %s is empty", abs)
	}
	d.files = append(d.files, demoFile{Path: abs, Size: fi.Size(), What: what})
	return nil
}

// statements writes the month's statement in every format with `export statement`.
func (d *demo) statements(ctx context.Context, from, to time.Time) error {
	month := from.Format("2006-01")
	for _, f := range []struct{ ext, name, what string }{
		{".csv", "CSV", "statement of " + month + ", CSV: per currency the opening balance, every line with its fees, the total and the closing balance"},
		{".xlsx", "XLSX", "the same statement as a workbook: a Summary sheet and a sheet per currency"},
		{".journal", "an hledger journal", "the month's entries as an hledger journal, with opening balances and balance assertions"},
		{".beancount", "a beancount journal", "the month's entries as a beancount journal, with opening balances and balance assertions"},
	} {
		out := d.path("statement-" + month + f.ext)
		d.say("Statement of %s as %s", month, f.name)
		stdout, err := d.command(ctx, false, "export", "statement", "--from", from.Format(time.DateOnly),
			"--to", to.Format(time.DateOnly), "--out", out, "--json")
		if err != nil {
			return err
		}
		var res exportStatementJSON
		if err := json.Unmarshal(stdout, &res); err != nil {
			return fmt.Errorf("demo: export statement --json: %w", err)
		}
		for _, p := range res.Files {
			if err := d.addFile(p, f.what); err != nil {
				return err
			}
		}
		files := strings.Join(res.Files, ", ")
		if len(res.Currencies) == 0 {
			d.m.printf("%swrote %s\n", demoIndent, files)
			continue
		}
		d.m.printf("%swrote %s: %d lines in %d currencies; opening + net = closing in each\n", demoIndent, files, res.Lines, len(res.Currencies))
		if f.ext == ".csv" {
			d.sum.Statement = demoStatementJSON{File: d.files[len(d.files)-1].Path, Lines: res.Lines}
			for _, c := range res.Currencies {
				d.sum.Statement.Currencies = append(d.sum.Statement.Currencies, demoStatementCurrencyJSON{
					Currency: c.Currency, Lines: c.Lines, Opening: c.Opening, Net: c.Net, Closing: c.Closing})
			}
		}
	}
	return nil
}

// reconcile writes the month's reconciliation report with `report reconcile`, which must
// reconcile (exit 0).
func (d *demo) reconcile(ctx context.Context, from time.Time) error {
	month := from.Format("2006-01")
	out := d.path("reconcile-" + month + ".xlsx")
	d.say("Reconciliation of %s against Nord PAY (it must reconcile: exit 0)", month)
	if _, err := d.command(ctx, true, "report", "reconcile", "--month", month, "--format", "xlsx", "--out", out); err != nil {
		return err
	}
	if err := d.addFile(out, "reconciliation report of "+month+": sheets Summary, Receipts, Fees, Payouts, Exceptions"); err != nil {
		return err
	}
	d.sum.Reconcile = demoReconcileJSON{Month: month, Reconciled: true, File: d.files[len(d.files)-1].Path}
	return nil
}
