package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"time"

	"github.com/shopspring/decimal"
)

// EntryFilter selects booked entries for statements, journals and reports.
type EntryFilter struct {
	// From and To bound the entries' occurred_at, half-open [From, To). A zero From or To
	// leaves that side open.
	From, To time.Time
	// Currency, if set, keeps only the postings in that currency, and only the entries
	// that have one.
	Currency string
}

// BookedEntry is an entry as the ledger holds it: the booked Entry, with its id and when it
// was booked. Postings come in line order.
type BookedEntry struct {
	// ID is the entry's id; ids grow with booking, not with OccurredAt.
	ID int64
	// BookedAt is when the entry was written to the ledger.
	BookedAt time.Time
	Entry
}

// AllAccounts returns every account of the ledger, sorted by name, so that an export can
// declare the accounts before it lists entries.
func (s *Store) AllAccounts(ctx context.Context) ([]Account, error) { return allAccounts(ctx, s.db) }

// allAccounts reads every account through q (the pool or a snapshot's transaction).
func allAccounts(ctx context.Context, q queryer) ([]Account, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, type, currency FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to list accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Name, &a.Type, &a.Currency); err != nil {
			return nil, fmt.Errorf("ledger: unable to read accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read accounts: %w", err)
	}
	return out, nil
}

// Entries streams the entries of f, ordered by occurred_at then id, each with its
// postings, reading them from the database as the caller consumes them: memory stays flat
// however many entries the period holds. The iteration stops at the first error, which is
// yielded with a nil entry. Each entry is fresh, so a caller may keep it.
func (s *Store) Entries(ctx context.Context, f EntryFilter) iter.Seq2[*BookedEntry, error] {
	return entries(ctx, s.db, f)
}

// entries is Entries through q (the pool or a snapshot's transaction).
func entries(ctx context.Context, q queryer, f EntryFilter) iter.Seq2[*BookedEntry, error] {
	return func(yield func(*BookedEntry, error) bool) {
		accounts, err := allAccounts(ctx, q)
		if err != nil {
			yield(nil, err)
			return
		}
		byID := make(map[int64]Account, len(accounts))
		for _, a := range accounts {
			byID[a.ID] = a
		}
		var from, to, cur any // NULL: no bound, no filter
		if !f.From.IsZero() {
			from = f.From.UTC()
		}
		if !f.To.IsZero() {
			to = f.To.UTC()
		}
		if f.Currency != "" {
			cur = f.Currency
		}
		// The index on journal_entries (occurred_at) gives the entries in order, and the
		// postings primary key their lines: no sort of the whole period.
		rows, err := q.QueryContext(ctx, `
			SELECT e.id, e.source, e.external_id, e.occurred_at, e.booked_at, e.description,
			       e.tx_hash, e.label, e.address, e.source_ref,
			       p.account_id, p.currency, p.amount, p.amount_usd
			FROM journal_entries e
			JOIN postings p ON p.entry_id = e.id
			WHERE ($1::timestamptz IS NULL OR e.occurred_at >= $1::timestamptz)
			  AND ($2::timestamptz IS NULL OR e.occurred_at < $2::timestamptz)
			  AND ($3::text IS NULL OR p.currency = $3::text)
			ORDER BY e.occurred_at, e.id, p.line`,
			from, to, cur)
		if err != nil {
			yield(nil, fmt.Errorf("ledger: unable to read entries: %w", err))
			return
		}
		defer rows.Close()
		var (
			open *BookedEntry
			row  BookedEntry
			acc  int64
			p    Posting
			usd  sql.NullString
		)
		for rows.Next() {
			if err := rows.Scan(&row.ID, &row.Source, &row.ExternalID, &row.OccurredAt, &row.BookedAt, &row.Description,
				&row.TxHash, &row.Label, &row.Address, &row.SourceRef,
				&acc, &p.Currency, &p.Amount, &usd); err != nil {
				yield(nil, fmt.Errorf("ledger: unable to read entries: %w", err))
				return
			}
			a, ok := byID[acc]
			if !ok {
				yield(nil, fmt.Errorf("ledger: entry %d posts to account %d, which does not exist", row.ID, acc))
				return
			}
			p.Account, p.Type = a.Name, a.Type
			p.AmountUSD = decimal.NullDecimal{}
			if usd.Valid {
				d, err := decimal.NewFromString(usd.String)
				if err != nil {
					yield(nil, fmt.Errorf("ledger: entry %d has a USD value %q that is not a number: %w", row.ID, usd.String, err))
					return
				}
				p.AmountUSD = decimal.NullDecimal{Decimal: d, Valid: true}
			}
			if open == nil || open.ID != row.ID {
				if open != nil && !yield(open, nil) {
					return
				}
				e := row
				e.OccurredAt, e.BookedAt = e.OccurredAt.UTC(), e.BookedAt.UTC()
				e.Postings = make([]Posting, 0, 4)
				open = &e
			}
			open.Postings = append(open.Postings, p)
		}
		if err := rows.Err(); err != nil {
			yield(nil, fmt.Errorf("ledger: unable to read entries: %w", err))
			return
		}
		if open != nil {
			yield(open, nil)
		}
	}
}
