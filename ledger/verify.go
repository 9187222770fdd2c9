package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lib/pq"
)

// Check is the outcome of one invariant check over the whole ledger. Its JSON form is what
// `ledger verify --json` prints, snake_case like every --json.
type Check struct {
	// Name says what must hold.
	Name string `json:"name"`
	// OK is true when nothing breaks it.
	OK bool `json:"ok"`
	// Offenders counts what breaks it: entries, postings or triggers, as the name says.
	Offenders int64 `json:"offenders"`
	// Examples describe up to ten offenders, each naming its entry (source/external id).
	Examples []string `json:"examples"`
}

// Report is the outcome of Verify, one Check per invariant.
type Report struct {
	Checks []Check `json:"checks"`
}

// OK reports whether every invariant holds, which is what `ledger verify` exits on.
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// maxExamples is how many offenders a check describes.
const maxExamples = 10

// A verifyCheck is a query whose rows are the offenders: an entry id (NULL when the offender
// is not an entry) and what is wrong. The entry's name is looked up for the examples.
type verifyCheck struct {
	name  string
	query string
	// triggers: the query takes the tables and names of ledgerTriggers as $1 and $2.
	triggers bool
}

// ledgerTriggers are the triggers that enforce invariants 1 and 2 (migration 002).
var ledgerTriggers = [][2]string{
	{"postings", "postings_balance"},
	{"postings", "postings_append_only"},
	{"postings", "postings_no_truncate"},
	{"journal_entries", "journal_entries_append_only"},
	{"journal_entries", "journal_entries_no_truncate"},
	{"accounts", "accounts_keep"},
	{"accounts", "accounts_no_truncate"},
}

var verifyChecks = []verifyCheck{
	{"every entry balances per currency", `
		SELECT entry_id, 'postings in ' || currency || ' sum to ' || sum(amount) || ', not 0'
		FROM postings
		GROUP BY entry_id, currency
		HAVING sum(amount) <> 0`, false},
	{"every entry with USD values on all postings balances in USD", `
		SELECT entry_id, 'USD values sum to ' || sum(amount_usd) || ', not 0'
		FROM postings
		GROUP BY entry_id
		HAVING count(*) = count(amount_usd) AND sum(amount_usd) <> 0`, false},
	{"every entry has at least two postings, numbered 1..n", `
		SELECT e.id, CASE
			WHEN p.n IS NULL THEN 'no postings'
			WHEN p.n < 2 THEN 'only one posting'
			ELSE 'lines ' || p.first_line || '..' || p.last_line || ' for ' || p.n || ' postings'
		END
		FROM journal_entries e
		LEFT JOIN (
			SELECT entry_id, count(*) AS n, min(line) AS first_line, max(line) AS last_line
			FROM postings
			GROUP BY entry_id
		) p ON p.entry_id = e.id
		WHERE p.n IS NULL OR p.n < 2 OR p.first_line <> 1 OR p.last_line <> p.n`, false},
	{"every posting's account exists, in the posting's currency", `
		SELECT p.entry_id, CASE
			WHEN a.id IS NULL THEN 'line ' || p.line || ' posts to account ' || p.account_id || ', which does not exist'
			ELSE 'line ' || p.line || ' posts ' || p.currency || ' to ' || a.name || ', which is in ' || a.currency
		END
		FROM postings p
		LEFT JOIN accounts a ON a.id = p.account_id
		WHERE a.id IS NULL OR a.currency <> p.currency`, false},
	{"every posting's entry exists", `
		SELECT p.entry_id, count(*) || ' posting(s) of a missing entry'
		FROM postings p
		WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = p.entry_id)
		GROUP BY p.entry_id`, false},
	{"every posting occurred when its entry did", `
		SELECT p.entry_id, 'line ' || p.line || ' occurred at ' || p.occurred_at || ', the entry at ' || e.occurred_at
		FROM postings p
		JOIN journal_entries e ON e.id = p.entry_id
		WHERE p.occurred_at <> e.occurred_at`, false},
	{"every posting has an amount", `
		SELECT entry_id, 'line ' || line || ' has no amount'
		FROM postings
		WHERE amount IS NULL`, false},
	{"each (source, external id) is booked once", `
		SELECT min(id), 'booked ' || count(*) || ' times (entries ' || string_agg(id::text, ', ' ORDER BY id) || ')'
		FROM journal_entries
		GROUP BY source, external_id
		HAVING count(*) > 1
		UNION ALL
		SELECT NULL, 'the unique key journal_entries_source_external_id_key is missing'
		WHERE NOT EXISTS (
			SELECT 1 FROM pg_constraint
			WHERE conrelid = 'journal_entries'::regclass AND contype = 'u'
			  AND conname = 'journal_entries_source_external_id_key')`, false},
	{"the balance and append-only triggers exist and are enabled", `
		SELECT NULL::bigint, x.trigger || ' on ' || x.tbl || CASE
			WHEN t.oid IS NULL THEN ' is missing'
			ELSE ' is disabled (tgenabled ' || t.tgenabled::text || ')'
		END
		FROM unnest($1::text[], $2::text[]) AS x (tbl, trigger)
		LEFT JOIN pg_trigger t ON t.tgrelid = to_regclass(x.tbl) AND t.tgname = x.trigger
		WHERE t.oid IS NULL OR t.tgenabled NOT IN ('O', 'A')`, true},
}

// Verify re-checks every invariant over the whole ledger, set-wise in SQL and in one
// snapshot, so that a ledger changed behind the triggers' back (by a superuser, a restore,
// or a bug in them) is caught. Each check counts its offenders and describes a few.
func (s *Store) Verify(ctx context.Context) (Report, error) {
	var r Report
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return r, fmt.Errorf("ledger: unable to begin verifying: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	tables, triggers := make([]string, len(ledgerTriggers)), make([]string, len(ledgerTriggers))
	for i, t := range ledgerTriggers {
		tables[i], triggers[i] = t[0], t[1]
	}
	for _, c := range verifyChecks {
		var args []any
		if c.triggers {
			args = []any{pq.Array(tables), pq.Array(triggers)}
		}
		check := Check{Name: c.name}
		var examples pq.StringArray
		err := tx.QueryRowContext(ctx, `
			WITH bad (entry_id, problem) AS (`+c.query+`)
			SELECT (SELECT count(*) FROM bad),
			       coalesce((
			           SELECT array_agg(example ORDER BY entry_id NULLS FIRST, example)
			           FROM (
			               SELECT b.entry_id,
			                      CASE
			                          WHEN b.entry_id IS NULL THEN ''
			                          WHEN e.id IS NULL THEN 'entry ' || b.entry_id || ' (missing): '
			                          ELSE e.source || '/' || e.external_id || ' (entry ' || b.entry_id || '): '
			                      END || b.problem AS example
			               FROM (SELECT * FROM bad ORDER BY entry_id NULLS FIRST, problem LIMIT `+fmt.Sprint(maxExamples)+`) b
			               LEFT JOIN journal_entries e ON e.id = b.entry_id
			           ) x
			       ), '{}')`, args...).Scan(&check.Offenders, &examples)
		if err != nil {
			return r, fmt.Errorf("ledger: unable to check that %s: %w", c.name, err)
		}
		check.OK = check.Offenders == 0
		check.Examples = []string(examples)
		r.Checks = append(r.Checks, check)
	}
	if err := tx.Commit(); err != nil {
		return r, fmt.Errorf("ledger: unable to finish verifying: %w", err)
	}
	return r, nil
}
