package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/spf13/cobra"
)

func newLedgerCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Inspect the ledger: balances, invariant checks, the quarantine, opening balances",
		Args:  argsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(newLedgerBalancesCommand(m), newLedgerVerifyCommand(m), newLedgerQuarantineCommand(m),
		newLedgerOpeningCommand(m))
	return cmd
}

// balanceJSON is one element of `ledger balances --json`, as ARCHITECTURE.md fixes it.
type balanceJSON struct {
	Account  string `json:"account"`
	Currency string `json:"currency"`
	Balance  string `json:"balance"`
}

func newLedgerBalancesCommand(m *Main) *cobra.Command {
	var at string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "balances",
		Short: "Balance of every account per currency",
		Long: `Print the balance of every account, per currency, from the postings booked before --at
(half-open: a posting at exactly --at is not counted); without --at, everything booked.
Debits are positive: assets and expenses show positive balances, income negative.`,
		Example: `  nordpay-jobs ledger balances
  nordpay-jobs ledger balances --at 2026-11-01 --json`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			var when time.Time
			if at != "" {
				t, err := config.ParseTime(at)
				if err != nil {
					return usagef("--at: %v", err)
				}
				when = t
			}
			conn, err := m.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			bs, err := ledger.NewStore(conn, m.Config.Ledger.Accounts).Balances(cmd.Context(), when)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]balanceJSON, len(bs))
				for i, b := range bs {
					out[i] = balanceJSON{Account: b.Account, Currency: b.Currency, Balance: b.Balance.String()}
				}
				return m.printJSON(out)
			}
			if len(bs) == 0 {
				m.printf("the ledger is empty\n")
				return nil
			}
			tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "account\tcurrency\tbalance\tUSD")
			for _, b := range bs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Account, b.Currency, b.Balance, b.BalanceUSD.StringFixed(2))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&at, "at", "", "balances before this time: a date (midnight UTC) or an RFC 3339 time")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print [{"account", "currency", "balance"}, ...] with exact decimal strings`)
	return cmd
}

func newLedgerVerifyCommand(m *Main) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-check every invariant over the whole ledger (exit 3 if any fails)",
		Long: `Re-check every invariant of the ledger over all of it, in the database: every entry balances
per currency (and in USD), has at least two postings; every posting's account and entry exist
and agree on currency and time; each external fact is booked once; the balance and
append-only triggers are in place and enabled. Exit 0 when all hold, 3 when any fails, with
examples that name the entries.`,
		Example: `  nordpay-jobs ledger verify || echo "the ledger needs attention"`,
		Args:    argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			conn, err := m.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := ledger.NewStore(conn, m.Config.Ledger.Accounts).Verify(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if err := m.printJSON(rep); err != nil {
					return err
				}
			} else {
				for _, c := range rep.Checks {
					mark := "ok  "
					if !c.OK {
						mark = "FAIL"
					}
					m.printf("%s %s", mark, c.Name)
					if !c.OK {
						m.printf(" (%d)", c.Offenders)
					}
					m.printf("\n")
					for _, ex := range c.Examples {
						m.printf("       %s\n", ex)
					}
				}
			}
			if !rep.OK() {
				return withCode(ExitDifferences, fmt.Errorf("ledger verify: some invariants do not hold"))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the checks as JSON")
	return cmd
}
