package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/spf13/cobra"
)

// Exit codes of the command-line contract.
const (
	ExitOK          = 0 // success
	ExitError       = 1 // the command failed
	ExitUsage       = 2 // the command line is wrong
	ExitDifferences = 3 // a check found differences (reconciliation, payout sheet)
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise it comes from
// the module's build information.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "dev"
}

// ExitError ends a command with a given exit code; Message may be empty when the command has
// already said what it found (exit 3 after a report).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode attaches an exit code to an error.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// commandError marks an error returned by a command's own work, as opposed to cobra's
// complaints about the command line (which exit 2).
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// usageError is a wrong command line found by our own checks.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef builds a usage error (exit 2).
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// Run executes one command line and returns its exit code. It is main without the process:
// tests call it directly.
func Run(ctx context.Context, args []string, stdio Stdio, getenv func(string) string) int {
	m := &Main{Stdio: stdio, Now: time.Now, Getenv: getenv}
	root := newRootCommand(m)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if cerr := m.Close(); err == nil && cerr != nil {
		err = &commandError{cerr}
	}
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ce *commandError
	var ue *usageError
	var ee *exitError
	switch {
	case errors.As(err, &ue):
		code = ExitUsage
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ce):
		code = ExitError
	default:
		code = ExitUsage // cobra: unknown command, bad flag, wrong arguments
	}
	if ee == nil || ee.err != nil {
		fmt.Fprintf(stdio.Err, "nordpay-jobs: %s\n", oneLine(err.Error()))
	}
	if code == ExitUsage {
		cmd, _, ferr := root.Find(args)
		if ferr != nil || cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stdio.Err, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// oneLine keeps an error on one line, as the contract asks.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// action adapts a command's work to cobra, marking its errors as the command's own.
func action(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			var ue *usageError
			var ee *exitError
			if errors.As(err, &ue) || errors.As(err, &ee) {
				return err
			}
			return &commandError{err}
		}
		return nil
	}
}

const rootLong = `nordpay-jobs keeps the books of a merchant that takes crypto through Nord PAY.

It pulls invoice and wallet transactions into a double-entry ledger in PostgreSQL (every
network and service fee booked on its own), writes statements and monthly reconciliation
reports, and pays many people at once from approved spreadsheets.

Configuration, highest precedence first:
  flags                 --database-url, --base-url, --log-level, --log-format
  environment           DATABASE_URL, NORDPAY_API_KEY, NORDPAY_BASE_URL, NORDPAY_JOBS_CONFIG
  YAML file             --config PATH or NORDPAY_JOBS_CONFIG (see config/nordpay-jobs.example.yaml)
  defaults

The API key is read from NORDPAY_API_KEY (or the file) only, never from a flag, so that it
does not show in the process list; it never appears in any output.

Exit codes: 0 success, 1 error, 2 wrong command line, 3 a check found differences.
Money is exact everywhere: amounts are decimals, never floating point.`

const rootExample = `  # try everything on a throwaway database and the built-in sandbox API
  nordpay-jobs demo

  # create or upgrade the schema, then book everything since October
  export DATABASE_URL=postgres://localhost/nordpay NORDPAY_API_KEY=...
  nordpay-jobs migrate
  nordpay-jobs sync --from 2026-10-01
  nordpay-jobs ledger balances

  # serve the fake Nord PAY API for local testing
  NORDPAY_API_KEY=k nordpay-jobs sandbox --addr 127.0.0.1:8089`

func newRootCommand(m *Main) *cobra.Command {
	root := &cobra.Command{
		Use:           "nordpay-jobs",
		Short:         "Nord PAY books, statements, reconciliation and mass payouts",
		Long:          rootLong,
		Example:       rootExample,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Annotations[groupAnnotation] != "" {
				return nil // a group only prints its help: a bad configuration is not its business
			}
			if err := m.loadConfig(cmd.Flags().Changed); err != nil {
				return configError(err, cmd.Flags().Changed("config"))
			}
			return nil
		},
	}
	root.SetVersionTemplate("nordpay-jobs {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&m.flags.configPath, "config", "", "YAML configuration file (env NORDPAY_JOBS_CONFIG)")
	pf.StringVar(&m.flags.databaseURL, "database-url", "", "PostgreSQL URL (env DATABASE_URL)")
	pf.StringVar(&m.flags.baseURL, "base-url", "", "Nord PAY API root (env NORDPAY_BASE_URL; default https://api.nord-pay.com/)")
	pf.StringVar(&m.flags.logLevel, "log-level", "", "log level: debug, info, warn, error (default info)")
	pf.StringVar(&m.flags.logFormat, "log-format", "", "log format on stderr: text or json (default text)")

	root.AddCommand(
		newMigrateCommand(m),
		newSyncCommand(m),
		newLedgerCommand(m),
		newSandboxCommand(m),
		newDemoCommand(m),
		newExportCommand(m),
		newReportCommand(m),
		newPayoutsCommand(m),
		newServeCommand(m), newJobsCommand(m),
	)
	var setFlagErrors func(*cobra.Command)
	setFlagErrors = func(c *cobra.Command) {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
		for _, sub := range c.Commands() {
			setFlagErrors(sub)
		}
	}
	setFlagErrors(root)
	root.InitDefaultCompletionCmd() // now rather than at Execute, so that guardGroups sees it
	guardGroups(root)
	return root
}

// groupAnnotation marks the commands guardGroups made runnable.
const groupAnnotation = "nordpay-jobs/group"

// guardGroups makes every command that only groups others (it has subcommands and no Run of
// its own) refuse an unknown subcommand: cobra checks the arguments of runnable commands only,
// so `jobs rnu` would print the help of jobs and exit 0. Without arguments a group still prints
// its help and exits 0.
func guardGroups(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = unknownSubcommand
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		c.DisableFlagsInUseLine = true // its usage is "GROUP" (the help) or "GROUP [command]"
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[groupAnnotation] = "true"
	}
	for _, sub := range c.Commands() {
		guardGroups(sub)
	}
}

// unknownSubcommand is the argument check of a group: any argument is a subcommand that does
// not exist, reported with the closest name cobra suggests.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := closestSubcommand(cmd, args[0]); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return &usageError{errors.New(msg)}
}

// closestSubcommand picks, of the subcommands cobra suggests for typed, the one fewest edits
// away (the first of equals); "" when cobra suggests none.
func closestSubcommand(cmd *cobra.Command, typed string) string {
	if cmd.DisableSuggestions {
		return ""
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
	}
	best, bestDist := "", 0
	for _, s := range cmd.SuggestionsFor(typed) {
		if d := editDistance(strings.ToLower(typed), strings.ToLower(s)); best == "" || d < bestDist {
			best, bestDist = s, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// configError sorts a configuration problem by who must fix it: a value given on the command
// line (a flag, or a --config file that does not exist) is a usage error, exit 2; a value in
// the file or the environment is an error, exit 1.
func configError(err error, configFlag bool) error {
	var ve *config.ValidationError
	if errors.As(err, &ve) && ve.FromFlag() || configFlag && errors.Is(err, fs.ErrNotExist) {
		return &usageError{err}
	}
	return &commandError{err}
}

// argsUsage wraps a cobra argument check so that its complaint exits 2.
func argsUsage(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}
