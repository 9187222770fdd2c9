package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
)

// TestDatabaseRejectionsAreSentinels stages rows that Add would refuse, straight into the
// COPY, so that only the database's trigger stands between them and the ledger.
func TestDatabaseRejectionsAreSentinels(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)

	for _, tc := range []struct {
		outcome string
		slots   []any // a1, m1, u1, a2, m2, u2 (account ids are those of usdt and btc below)
		want    error
	}{
		{"ErrUnbalanced", []any{"usdt", "5", nil, "usdt2", "-4", nil}, ErrUnbalanced},
		{"ErrInvalidMissingAccount", []any{"usdt", "5", nil, int64(424242), "-5", nil}, ErrInvalid},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conn := dbtest.New(t)
			s := NewStore(conn, DefaultChart())
			ids := map[string]int64{}
			for name, cur := range map[string]string{"usdt": "USDT", "usdt2": "USDT"} {
				id, err := s.AccountID(ctx, "x:"+name, Asset, cur)
				if err != nil {
					t.Fatal(err)
				}
				ids[name] = id
			}
			b, err := s.BeginBatch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Rollback() //nolint:errcheck // a no-op after Commit
			row := []any{int64(0), "manual", "bad-1", at, "", "", "", "", ""}
			for _, v := range tc.slots {
				if name, ok := v.(string); ok && ids[name] != 0 {
					v = ids[name]
				}
				row = append(row, v)
			}
			row = append(row, nil, nil, nil, nil, nil, nil)
			if _, err := b.copy.ExecContext(ctx, row...); err != nil {
				t.Fatal(err)
			}
			b.staged++
			_, err = b.Commit(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Commit = %v, want %v", err, tc.want)
			}
			t.Log(err)
			var n int
			if err := conn.GetContext(ctx, &n, `SELECT count(*) FROM journal_entries`); err != nil || n != 0 {
				t.Errorf("%d entries (%v) after a rejected batch, want none", n, err)
			}
		})
	}
}
