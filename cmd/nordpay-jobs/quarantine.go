package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/spf13/cobra"
)

const quarantineLong = `The quarantine holds the records Nord PAY served that the sync could not book: no id, no
time, an unknown currency, a negative amount, fees above the amount, undecodable JSON. Each is
kept with its reason and the record as received, and is never booked. The monthly
reconciliation (report reconcile) fails while any record is unresolved.

A record is resolved in one of two ways:
  booked     by the sync itself, when it books the same source and id after the record
             was quarantined: Nord PAY corrected the record (a record without an id cannot
             be resolved this way)
  dismissed  by a person who looked at it and decided that nothing is to be booked:
             ledger quarantine resolve ID --by NAME --note WHY

A resolved record that Nord PAY serves again unchanged stays resolved; a new malformed
version of it (other bytes) is a new record.

Without a subcommand, quarantine lists the unresolved records, as list does.`

const quarantineExample = `  # what is in quarantine (unresolved records), then each record as Nord PAY sent it
  nordpay-jobs ledger quarantine
  nordpay-jobs ledger quarantine list --json | jq '.[] | {id, reason, raw}'

  # a test payment that Nord PAY will never correct: dismiss it, saying why
  nordpay-jobs ledger quarantine resolve 12 --by carol --note "test invoice of 2026-11-02, no money moved"

  # everything, with who resolved what, when and why
  nordpay-jobs ledger quarantine list --all`

func newLedgerQuarantineCommand(m *Main) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "quarantine",
		Short:   "List and resolve the records the sync could not book",
		Long:    quarantineLong,
		Example: quarantineExample,
	}
	addQuarantineList(m, cmd)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List quarantined records (unresolved ones unless --all)",
		Long:    quarantineLong,
		Example: quarantineExample,
	}
	addQuarantineList(m, list)
	cmd.AddCommand(list, newLedgerQuarantineResolveCommand(m))
	return cmd
}

// addQuarantineList makes cmd list the quarantine: `ledger quarantine` and
// `ledger quarantine list` are the same command.
func addQuarantineList(m *Main, cmd *cobra.Command) {
	var all, asJSON bool
	cmd.Args = argsUsage(cobra.NoArgs)
	cmd.RunE = action(func(cmd *cobra.Command, _ []string) error {
		conn, err := m.OpenDB(cmd.Context())
		if err != nil {
			return err
		}
		store := ledger.NewStore(conn, m.Config.Ledger.Accounts)
		qs, err := store.QuarantinedRecords(cmd.Context(), ledger.QuarantineFilter{All: all})
		if err != nil {
			return err
		}
		if asJSON {
			return m.printJSON(quarantineJSONs(qs))
		}
		counts, err := store.CountQuarantine(cmd.Context())
		if err != nil {
			return err
		}
		return printQuarantine(m, qs, all, counts)
	})
	cmd.Flags().BoolVar(&all, "all", false, "resolved records too, with who resolved them, when and why")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print [{"id", "source", "external_id", "reason", "detail", "first_seen", "last_seen", "seen_count", "state", "raw", ...}]`)
}

// quarantineJSON is one record of `ledger quarantine --json`; raw is the record as Nord PAY
// served it (as text).
type quarantineJSON struct {
	ID          int64      `json:"id"`
	Source      string     `json:"source"`
	ExternalID  string     `json:"external_id"`
	Reason      string     `json:"reason"`
	Detail      string     `json:"detail"`
	FirstSeen   time.Time  `json:"first_seen"`
	LastSeen    time.Time  `json:"last_seen"`
	SeenCount   int        `json:"seen_count"`
	State       string     `json:"state"` // unresolved, booked or dismissed
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy  string     `json:"resolved_by,omitempty"`
	Note        string     `json:"note,omitempty"`
	Fingerprint string     `json:"fingerprint"`
	Raw         string     `json:"raw"`
}

const stateUnresolved = "unresolved"

func quarantineJSONs(qs []ledger.Quarantined) []quarantineJSON {
	out := make([]quarantineJSON, len(qs))
	for i, q := range qs {
		j := quarantineJSON{ID: q.ID, Source: q.Source, ExternalID: q.ExternalID, Reason: q.Reason, Detail: q.Detail,
			FirstSeen: q.FirstSeen, LastSeen: q.LastSeen, SeenCount: q.SeenCount, State: stateUnresolved,
			Fingerprint: q.Fingerprint, Raw: string(q.Raw)}
		if q.Resolved() {
			at := q.ResolvedAt
			j.State, j.ResolvedAt, j.ResolvedBy, j.Note = q.Resolution, &at, q.ResolvedBy, q.Note
		}
		out[i] = j
	}
	return out
}

// printQuarantine writes the records as a table for people; the raw records are left to
// --json.
func printQuarantine(m *Main, qs []ledger.Quarantined, all bool, c ledger.QuarantineCounts) error {
	resolved := c.Booked + c.Dismissed
	if len(qs) == 0 {
		if all {
			m.printf("the quarantine is empty\n")
		} else {
			m.printf("no unresolved quarantined records (%d resolved: --all lists them)\n", resolved)
		}
		return nil
	}
	tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', 0)
	header := "id\tsource\texternal id\tseen\tfirst seen\tlast seen\treason"
	if all {
		header += "\tstate"
	}
	fmt.Fprintln(tw, header)
	for _, q := range qs {
		reason := q.Reason
		if q.Detail != "" {
			reason += ": " + q.Detail
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s", q.ID, terminalText(q.Source), orDash(terminalText(q.ExternalID)),
			q.SeenCount, q.FirstSeen.Format(time.RFC3339), q.LastSeen.Format(time.RFC3339), terminalText(reason))
		if all {
			state := stateUnresolved
			if q.Resolved() {
				state = fmt.Sprintf("%s by %s at %s: %s", q.Resolution, q.ResolvedBy, q.ResolvedAt.Format(time.RFC3339), q.Note)
			}
			fmt.Fprintf(tw, "\t%s", terminalText(state))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("ledger quarantine: unable to print the records: %w", err)
	}
	m.printf("%d unresolved, %d resolved (%d booked, %d dismissed)\n", c.Unresolved, resolved, c.Booked, c.Dismissed)
	if c.Unresolved > 0 {
		m.printf("The reconciliation fails while a record is unresolved. The sync resolves one when it books\n" +
			"its corrected version; dismiss one that will never be booked, saying why:\n" +
			"  nordpay-jobs ledger quarantine resolve ID --by NAME --note WHY\n")
	}
	return nil
}

// terminalText makes text from Nord PAY (ids, reasons, details) or a person safe to print in
// a table on a terminal: control and formatting characters (tabs, newlines, escape
// sequences, bidirectional overrides) are shown as Go escapes instead of acting.
func terminalText(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !unsafeRune(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func unsafeRune(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

func newLedgerQuarantineResolveCommand(m *Main) *cobra.Command {
	var by, note string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "resolve ID... --by NAME --note TEXT",
		Short: "Dismiss quarantined records a person has looked at",
		Long: `Resolve quarantined records as dismissed: a person looked at each one (ledger quarantine
list shows its id, ledger quarantine list --json the record itself) and decided that nothing
is to be booked for it; --note says why, for whoever reads the books next. The records stop
failing the monthly reconciliation; ledger quarantine list --all still shows them, with who
dismissed them, when and why.

Dismiss only what will never be booked (a test payment, a record Nord PAY also serves
correctly under another id, a payment settled another way). A record whose corrected version
Nord PAY will serve needs nothing: the sync books it and resolves the record by itself. A
dismissed record that Nord PAY serves again unchanged stays dismissed; a new malformed
version of it is a new record.

All the ids or none: when an id does not exist, or is resolved already (by a sync or a
person), nothing is resolved and the command exits 1 naming each such id.

Exit codes: 0 resolved, 1 refused or failed, 2 wrong command line (no id, no --by, no --note).`,
		Example: `  # a test payment: no money moved
  nordpay-jobs ledger quarantine resolve 12 --by carol --note "test invoice of 2026-11-02, no money moved (Nord PAY dashboard)"

  # several records, one reason
  nordpay-jobs ledger quarantine resolve 12 13 14 --by carol --note "duplicates of invoice 990002, booked"`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("give the id of at least one record to resolve (ledger quarantine lists them)")
			}
			return nil
		},
		RunE: action(func(cmd *cobra.Command, args []string) error {
			ids := make([]int64, len(args))
			for i, a := range args {
				id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(a), "#"), 10, 64)
				if err != nil || id < 1 {
					return usagef("%q is not a quarantined record id: want a number that ledger quarantine lists", a)
				}
				ids[i] = id
			}
			if strings.TrimSpace(by) == "" {
				return usagef("--by NAME is required: who decided")
			}
			if strings.TrimSpace(note) == "" {
				return usagef(`--note TEXT is required: why nothing is to be booked, e.g. --note "test payment, no money moved"`)
			}
			conn, err := m.OpenDB(cmd.Context())
			if err != nil {
				return err
			}
			qs, err := ledger.NewStore(conn, m.Config.Ledger.Accounts).Dismiss(cmd.Context(),
				ledger.Dismissal{IDs: ids, By: by, Note: note, At: m.Now().UTC()})
			if err != nil {
				return err
			}
			if asJSON {
				return m.printJSON(quarantineJSONs(qs))
			}
			for _, q := range qs {
				m.printf("quarantined record %d (%s %s, %s) dismissed by %s\n", q.ID, terminalText(q.Source),
					orDash(terminalText(q.ExternalID)), terminalText(q.Reason), terminalText(q.ResolvedBy))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&by, "by", "", "who decided (required)")
	cmd.Flags().StringVar(&note, "note", "", "why nothing is to be booked (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the dismissed records as ledger quarantine --json does")
	return cmd
}
