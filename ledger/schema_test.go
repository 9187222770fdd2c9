package ledger_test

import (
	"strings"
	"testing"

	"github.com/lib/pq"
)

// TestSchemaByHand types into the database what a person would type into psql, and checks
// that PostgreSQL itself enforces the invariants.
func TestSchemaByHand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A fresh database: accounts 1 and 2 in USDT, 3 in BTC; entry 1 at noon.
	mustExec := func(t *testing.T, q string) {
		t.Helper()
		if _, err := b.db.ExecContext(b.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(t, `
		INSERT INTO accounts (name, type, currency) VALUES
			('assets:nordpay:USDT', 'asset', 'USDT'),
			('income:invoices:USDT', 'income', 'USDT'),
			('assets:nordpay:BTC', 'asset', 'BTC'),
			('income:invoices:BTC', 'income', 'BTC')`)
	mustExec(t, `
		INSERT INTO journal_entries (source, external_id, occurred_at, description)
		VALUES ('manual', 'by-hand-1', '2026-11-03T12:00:00Z', 'typed in psql')`)

	// rejected runs a statement that must fail with the given SQLSTATE and message start.
	rejected := func(t *testing.T, q, code, prefix string) {
		t.Helper()
		_, err := b.db.ExecContext(b.ctx, q)
		pqErr := pq.As(err)
		if pqErr == nil {
			t.Fatalf("%s\nsucceeded (%v), want it rejected", q, err)
		}
		if string(pqErr.Code) != code || !strings.HasPrefix(pqErr.Message, prefix) {
			t.Errorf("%s\nfailed with %s %q, want %s %q...", q, pqErr.Code, pqErr.Message, code, prefix)
		}
		t.Log(pqErr.Message)
	}

	for _, tc := range []struct{ outcome, sql, code, prefix string }{
		{"ErrSingleUnbalancedPosting", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
			VALUES (1, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z')`,
			"23514", "unbalanced entry 1 (manual/by-hand-1): postings in USDT sum to 5"},
		{"ErrTwoPostingsNotSummingToZero", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at) VALUES
				(1, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z'),
				(1, 2, 2, 'USDT', -4.99, '2026-11-03T12:00:00Z')`,
			"23514", "unbalanced entry 1 (manual/by-hand-1): postings in USDT sum to 0.01"},
		{"ErrPostingOfMissingEntry", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at) VALUES
				(99, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z'),
				(99, 2, 2, 'USDT', -5, '2026-11-03T12:00:00Z')`,
			"23503", "invalid posting: entry 99 does not exist"},
		{"ErrPostingToMissingAccount", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at) VALUES
				(1, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z'),
				(1, 2, 42, 'USDT', -5, '2026-11-03T12:00:00Z')`,
			"23503", "invalid posting: entry 1 (manual/by-hand-1) line 2 posts to account 42, which does not exist"},
		{"ErrCurrencyNotTheAccounts", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at) VALUES
				(1, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z'),
				(1, 2, 3, 'USDT', -5, '2026-11-03T12:00:00Z')`,
			"23514", "invalid posting: entry 1 (manual/by-hand-1) line 2 posts USDT to account 3, which is in BTC"},
		{"ErrOccurredAtNotTheEntrys", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at) VALUES
				(1, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z'),
				(1, 2, 2, 'USDT', -5, '2026-11-04T12:00:00Z')`,
			"23514", "invalid posting: entry 1 (manual/by-hand-1) occurred at"},
		{"ErrOneOfTwoCurrenciesUnbalanced", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at) VALUES
				(1, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z'),
				(1, 2, 2, 'USDT', -5, '2026-11-03T12:00:00Z'),
				(1, 3, 3, 'BTC', 1, '2026-11-03T12:00:00Z')`,
			"23514", "unbalanced entry 1 (manual/by-hand-1): postings in BTC sum to 1"},
		{"ErrTwoCurrenciesSummingToZeroTogether", `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at) VALUES
				(1, 1, 1, 'USDT', 5, '2026-11-03T12:00:00Z'),
				(1, 2, 4, 'BTC', -5, '2026-11-03T12:00:00Z')`,
			"23514", "unbalanced entry 1 (manual/by-hand-1): postings in BTC sum to -5"},
	} {
		t.Run(tc.outcome, func(t *testing.T) { rejected(t, tc.sql, tc.code, tc.prefix) })
	}

	t.Run("BalancedPostingsInOneStatementAccepted", func(t *testing.T) {
		mustExec(t, `
			INSERT INTO postings (entry_id, line, account_id, currency, amount, amount_usd, occurred_at) VALUES
				(1, 1, 1, 'USDT', 5, 5.01, '2026-11-03T12:00:00Z'),
				(1, 2, 2, 'USDT', -5, -5.01, '2026-11-03T12:00:00Z')`)
	})

	t.Run("TwoCurrenciesEachBalancedAccepted", func(t *testing.T) {
		mustExec(t, `
			WITH e AS (
				INSERT INTO journal_entries (source, external_id, occurred_at)
				VALUES ('manual', 'by-hand-fx', '2026-11-03T12:30:00Z')
				RETURNING id, occurred_at
			)
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
			SELECT e.id, p.line, p.account, p.currency, p.amount, e.occurred_at
			FROM e, (VALUES (1, 1, 'USDT', 7), (2, 2, 'USDT', -7), (3, 3, 'BTC', 0.1), (4, 4, 'BTC', -0.1))
			     AS p (line, account, currency, amount)`)
	})

	t.Run("EntryAndPostingsInOneStatementAccepted", func(t *testing.T) {
		mustExec(t, `
			WITH e AS (
				INSERT INTO journal_entries (source, external_id, occurred_at)
				VALUES ('manual', 'by-hand-2', '2026-11-03T13:00:00Z')
				RETURNING id, occurred_at
			)
			INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
			SELECT e.id, p.line, p.account, 'USDT', p.amount, e.occurred_at
			FROM e, (VALUES (1, 1, 2.5), (2, 2, -2.5)) AS p (line, account, amount)`)
	})

	for _, tc := range []struct{ outcome, sql, code, prefix string }{
		{"ErrUpdatePosting", `UPDATE postings SET amount = 6 WHERE entry_id = 1 AND line = 1`, "23001", "UPDATE on postings is not allowed"},
		{"ErrDeletePosting", `DELETE FROM postings WHERE entry_id = 1`, "23001", "DELETE on postings is not allowed"},
		{"ErrTruncatePostings", `TRUNCATE postings`, "23001", "TRUNCATE on postings is not allowed"},
		{"ErrUpdateEntry", `UPDATE journal_entries SET description = 'edited' WHERE id = 1`, "23001", "UPDATE on journal_entries is not allowed"},
		{"ErrDeleteEntry", `DELETE FROM journal_entries WHERE id = 1`, "23001", "DELETE on journal_entries is not allowed"},
		{"ErrTruncateEntries", `TRUNCATE journal_entries`, "23001", "TRUNCATE on journal_entries is not allowed"},
		{"ErrTruncateEntriesCascade", `TRUNCATE journal_entries, postings, accounts CASCADE`, "23001", "TRUNCATE on"},
		{"ErrDeleteAccount", `DELETE FROM accounts WHERE id = 3`, "23001", "DELETE of account assets:nordpay:BTC is not allowed"},
		{"ErrChangeAccountCurrency", `UPDATE accounts SET currency = 'ETH' WHERE id = 3`, "23001", "UPDATE of account assets:nordpay:BTC is not allowed"},
		{"ErrTruncateAccounts", `TRUNCATE accounts`, "23001", "TRUNCATE on accounts is not allowed"},
	} {
		t.Run(tc.outcome, func(t *testing.T) { rejected(t, tc.sql, tc.code, tc.prefix) })
	}

	t.Run("AccountRenameAccepted", func(t *testing.T) {
		mustExec(t, `UPDATE accounts SET name = 'assets:cold:BTC' WHERE id = 3`)
	})

	t.Run("OnlyTheAcceptedRowsRemain", func(t *testing.T) {
		if n := b.count(t, "postings"); n != 8 {
			t.Errorf("%d postings, want the 8 accepted", n)
		}
	})
}
