package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// checkUsageError fails unless stderr is the one-line error of a wrong command line followed
// by the hint at the command's help.
func checkUsageError(t *testing.T, stderr, says, helpOf string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "nordpay-jobs: ") || !strings.Contains(lines[0], says) ||
		lines[1] != "Run '"+helpOf+" --help' for usage." {
		t.Fatalf("stderr %q; want one line saying %q, then the hint at %s --help", stderr, says, helpOf)
	}
}

// TestUnknownSubcommandOfAGroup: a mistyped subcommand is a wrong command line (exit 2) with
// cobra's closest suggestion, at every level, not the group's help and exit 0.
func TestUnknownSubcommandOfAGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		group string
		says  string
	}{
		{"JobsRun", []string{"jobs", "rnu", "sync"}, "nordpay-jobs jobs", `unknown command "rnu" for "nordpay-jobs jobs"; did you mean "run"?`},
		{"PayoutsImport", []string{"payouts", "improt", "x.csv"}, "nordpay-jobs payouts", `unknown command "improt" for "nordpay-jobs payouts"; did you mean "import"?`},
		{"Ledger", []string{"ledger", "bogus"}, "nordpay-jobs ledger", `unknown command "bogus" for "nordpay-jobs ledger"`},
		// quarantine runs list by itself, so cobra checks its arguments: no suggestion.
		{"LedgerQuarantine", []string{"ledger", "quarantine", "lsit"}, "nordpay-jobs ledger quarantine", `unknown command "lsit" for "nordpay-jobs ledger quarantine"`},
		{"Export", []string{"export", "bogus"}, "nordpay-jobs export", `unknown command "bogus" for "nordpay-jobs export"`},
		{"ExportStatement", []string{"export", "statment"}, "nordpay-jobs export", `unknown command "statment" for "nordpay-jobs export"; did you mean "statement"?`},
		{"Report", []string{"report", "bogus"}, "nordpay-jobs report", `unknown command "bogus" for "nordpay-jobs report"`},
		{"ReportReconcile", []string{"report", "reconcle"}, "nordpay-jobs report", `unknown command "reconcle" for "nordpay-jobs report"; did you mean "reconcile"?`},
		{"Root", []string{"migrat"}, "nordpay-jobs", `unknown command "migrat" for "nordpay-jobs"; did you mean "migrate"?`},
		{"Completion", []string{"completion", "fihs"}, "nordpay-jobs completion", `unknown command "fihs" for "nordpay-jobs completion"; did you mean "fish"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, nil, tc.args...)
			if code != ExitUsage || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d", code, stdout, stderr, ExitUsage)
			}
			checkUsageError(t, stderr, tc.says, tc.group)
		})
	}
	t.Run("NoSuggestionWhenNothingIsClose", func(t *testing.T) {
		t.Parallel()
		if _, _, stderr := run(t, nil, "ledger", "bogus"); strings.Contains(stderr, "did you mean") {
			t.Fatalf("stderr %q", stderr)
		}
	})
}

// TestEveryGroupGuarded walks the command tree: every command that only groups others says
// an unknown subcommand is a usage error, and prints its help (exit 0) without one, even with
// a configuration that does not validate (a group does not need one).
func TestEveryGroupGuarded(t *testing.T) {
	t.Parallel()
	var groups [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Annotations[groupAnnotation] != "" {
			groups = append(groups, path)
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(newRootCommand(&Main{}), nil)
	for _, want := range []string{"", "jobs", "payouts", "ledger", "export", "report", "completion"} {
		found := false
		for _, g := range groups {
			found = found || strings.Join(g, " ") == want
		}
		if !found {
			t.Errorf("group %q is not guarded; guarded: %q", want, groups)
		}
	}
	badEnv := map[string]string{"NORDPAY_BASE_URL": "ftp://x"}
	for _, g := range groups {
		path := strings.TrimSpace("nordpay-jobs " + strings.Join(g, " "))
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, badEnv, append(g, "zzzz", "more")...)
			if code != ExitUsage {
				t.Fatalf("%s zzzz: exit %d, stdout %q", path, code, stdout)
			}
			checkUsageError(t, stderr, `unknown command "zzzz" for "`+path+`"`, path)
			code, stdout, stderr = run(t, badEnv, g...)
			if code != ExitOK || !strings.Contains(stdout, "Available Commands:") || stderr != "" {
				t.Fatalf("%s: exit %d, stdout %q, stderr %q; want its help and exit 0", path, code, stdout, stderr)
			}
		})
	}
}

// TestBadConfigurationExitCode: a bad value given on the command line is a wrong command line
// (exit 2); one in the file or the environment is an error (exit 1).
func TestBadConfigurationExitCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badFile, []byte("log:\n  level: loud\nserve:\n  admin_addr: nowhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	typoFile := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typoFile, []byte("log:\n  levle: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nonexistent.yaml")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		says string
	}{
		{"LogLevelFlag", nil, []string{"--log-level", "bogus", "migrate"}, ExitUsage, `log.level: "bogus" is not one of debug, info, warn, error (from flag --log-level)`},
		{"LogFormatFlag", nil, []string{"migrate", "--log-format", "xml"}, ExitUsage, "(from flag --log-format)"},
		{"BaseURLFlag", nil, []string{"--base-url", "not a url", "migrate"}, ExitUsage, "(from flag --base-url)"},
		{"DatabaseURLFlag", nil, []string{"ledger", "balances", "--database-url", "mysql://db"}, ExitUsage, "(from flag --database-url)"},
		{"AdminAddrFlag", nil, []string{"serve", "--admin-addr", "nonsense:abc"}, ExitUsage, `serve.admin_addr: "nonsense:abc" is not host:port`},
		{"MissingConfigFlag", nil, []string{"--config", missing, "migrate"}, ExitUsage, "nonexistent.yaml"},
		{"FlagAndFileBothBad", nil, []string{"--config", badFile, "--log-format", "xml", "migrate"}, ExitUsage, "(from flag --log-format)"},
		{"FlagAndEnvBothBad", map[string]string{"NORDPAY_BASE_URL": "ftp://x"}, []string{"--log-level", "bogus", "migrate"}, ExitUsage, "(from env NORDPAY_BASE_URL)"},

		{"BadEnv", map[string]string{"NORDPAY_BASE_URL": "ftp://x"}, []string{"migrate"}, ExitError, "(from env NORDPAY_BASE_URL)"},
		{"BadFileValue", nil, []string{"--config", badFile, "migrate"}, ExitError, `log.level: "loud" is not one of debug, info, warn, error (from file ` + badFile + ")"},
		{"BadFileValueUnderServe", nil, []string{"serve", "--config", badFile}, ExitError, `serve.admin_addr: "nowhere" is not host:port`},
		{"UnknownFileKey", nil, []string{"--config", typoFile, "migrate"}, ExitError, "levle"},
		{"MissingConfigFromEnv", map[string]string{"NORDPAY_JOBS_CONFIG": missing}, []string{"migrate"}, ExitError, "nonexistent.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tc.env, tc.args...)
			if code != tc.code || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d", code, stdout, stderr, tc.code)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if !strings.HasPrefix(lines[0], "nordpay-jobs: ") || !strings.Contains(lines[0], tc.says) {
				t.Fatalf("stderr %q; want the first line saying %q", stderr, tc.says)
			}
			if hint := strings.Contains(stderr, "--help' for usage."); hint != (tc.code == ExitUsage) || len(lines) > 2 {
				t.Fatalf("stderr %q: a usage error ends with the help hint, an error is one line", stderr)
			}
		})
	}
}
