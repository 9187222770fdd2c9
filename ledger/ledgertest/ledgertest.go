// Package ledgertest holds helpers for tests that compare ledgers.
package ledgertest

import (
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"
)

// Snapshot renders the whole ledger as sorted lines of content: every posting with its
// entry's identity, time and descriptive fields, its account name, currency and amounts.
// Database ids and booking times are left out, so two ledgers built by different runs compare
// equal exactly when they hold the same books.
func Snapshot(t testing.TB, db *sqlx.DB) []string {
	t.Helper()
	rows, err := db.Query(`
		SELECT e.source, e.external_id, e.occurred_at, e.description, e.tx_hash, e.label, e.address,
		       e.source_ref, p.line, a.name, p.currency, p.amount::text, coalesce(p.amount_usd::text, '-')
		FROM journal_entries e
		JOIN postings p ON p.entry_id = e.id
		JOIN accounts a ON a.id = p.account_id
		ORDER BY e.source, e.external_id, p.line`)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var source, ext, desc, hash, label, addr, ref, acct, cur, amt, usd string
		var at fmt.Stringer
		var occurred timeScanner
		var line int
		if err := rows.Scan(&source, &ext, &occurred, &desc, &hash, &label, &addr, &ref, &line, &acct, &cur, &amt, &usd); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		at = occurred
		out = append(out, fmt.Sprintf("%s/%s %s %q %s %q %s %s #%d %s %s %s usd %s", source, ext, at, desc, hash, label, addr, ref, line, acct, cur, amt, usd))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return out
}

// Diff returns the first difference between two snapshots, or "" when they are equal.
func Diff(a, b []string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("line %d:\n  %s\n  %s", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d lines against %d", len(a), len(b))
	}
	return ""
}
