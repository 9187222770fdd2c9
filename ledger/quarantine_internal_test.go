package ledger

import (
	"context"
	"strings"
	"testing"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
)

// TestResolveBookedProbesTheUniqueIndex checks the plan of the statement every booking
// batch runs: one probe of journal_entries' unique index per unresolved quarantined record,
// no join, never a scan of journal_entries, with fresh statistics and with none.
func TestResolveBookedProbesTheUniqueIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := dbtest.New(t)
	for _, q := range []string{
		`INSERT INTO journal_entries (source, external_id, occurred_at)
		 SELECT 'invoice', 'tx-' || i, timestamptz '2026-11-01' + i * interval '1 second'
		 FROM generate_series(1, 200000) i`,
		`INSERT INTO quarantined_records (source, external_id, reason, raw, fingerprint)
		 SELECT 'invoice', 'tx-' || (i * 1000), 'negative amount', '{}', 'f' || i
		 FROM generate_series(1, 300) i`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	explain := func(t *testing.T) string {
		t.Helper()
		var lines []string
		if err := conn.SelectContext(ctx, &lines, `EXPLAIN `+resolveBooked); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	check := func(t *testing.T, plan string) {
		t.Helper()
		if !strings.Contains(plan, "SubPlan") || !strings.Contains(plan, "Index Scan using journal_entries_source_external_id_key") ||
			strings.Contains(plan, "Seq Scan on journal_entries") || strings.Contains(plan, "Join") {
			t.Errorf("the plan does not probe the unique index:\n%s", plan)
		}
	}
	t.Run("NoStatistics", func(t *testing.T) { check(t, explain(t)) })
	t.Run("Analyzed", func(t *testing.T) {
		if _, err := conn.ExecContext(ctx, `ANALYZE journal_entries, quarantined_records`); err != nil {
			t.Fatal(err)
		}
		check(t, explain(t))
	})
}
