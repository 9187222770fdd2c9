package ledger

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"
)

// Opening is what Nord PAY held in one currency before the first day the ledger was synced
// from. The sync books movements only, so without it the ledger's assets fall short of
// GET /balance/ by exactly that amount, every month.
type Opening struct {
	Currency string
	// Amount is what was held: positive.
	Amount decimal.Decimal
	// AmountUSD is its informational USD value; invalid when unknown.
	AmountUSD decimal.NullDecimal
	// At is when it was held: the entry occurs at At, so a balance at At (postings before
	// it) does not count it, and a period starting at At shows it as a movement.
	At time.Time
	// By is who booked it; Basis says where the amount came from, for the description.
	By, Basis string
}

// OpeningEntry is the posting rule for an opening balance: Dr assets, Cr the
// opening-balances equity account, booked as (SourceOpening, currency), so that each
// currency gets one opening balance at most; a wrong one is corrected by a reversing entry.
func (c Chart) OpeningEntry(o Opening) Entry {
	cur := o.Currency
	desc := fmt.Sprintf("opening balance of %s, booked by %s", cur, oneLine(o.By))
	if o.Basis != "" {
		desc += " (" + oneLine(o.Basis) + ")"
	}
	neg := decimal.NullDecimal{Decimal: o.AmountUSD.Decimal.Neg(), Valid: o.AmountUSD.Valid}
	return Entry{
		Source:      SourceOpening,
		ExternalID:  cur,
		OccurredAt:  o.At.UTC(),
		Description: desc,
		Postings: []Posting{
			{Account: name(c.Assets, cur), Type: Asset, Currency: cur, Amount: o.Amount, AmountUSD: o.AmountUSD},
			{Account: name(c.OpeningBalances, cur), Type: Equity, Currency: cur, Amount: o.Amount.Neg(), AmountUSD: neg},
		},
	}
}

// BookedOpening is an opening balance in the ledger.
type BookedOpening struct {
	EntryID  int64
	Currency string
	At       time.Time
	// Amount is what the entry put on the assets account.
	Amount      decimal.Decimal
	Description string
	BookedAt    time.Time
}

// Openings returns the opening balances booked, by currency, so that a second booking can
// say what is there instead of trying again.
func (s *Store) Openings(ctx context.Context) (map[string]BookedOpening, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.id, e.external_id, e.occurred_at, e.booked_at, e.description, a.name, a.currency, p.amount
		FROM journal_entries e
		JOIN postings p ON p.entry_id = e.id
		JOIN accounts a ON a.id = p.account_id
		WHERE e.source = $1
		ORDER BY e.id, p.line`,
		SourceOpening)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the opening balances: %w", err)
	}
	defer rows.Close()
	out := map[string]BookedOpening{}
	for rows.Next() {
		var (
			id                   int64
			cur, desc, acct, ccy string
			at, bookedAt         time.Time
			amount               decimal.Decimal
		)
		if err := rows.Scan(&id, &cur, &at, &bookedAt, &desc, &acct, &ccy, &amount); err != nil {
			return nil, fmt.Errorf("ledger: unable to read the opening balances: %w", err)
		}
		o := out[cur]
		o.EntryID, o.Currency, o.At, o.BookedAt, o.Description = id, cur, at.UTC(), bookedAt.UTC(), desc
		if acct == s.chart.AssetsAccount(ccy) {
			o.Amount = o.Amount.Add(amount)
		}
		out[cur] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read the opening balances: %w", err)
	}
	return out, nil
}

// Posted is what PostEntries did with one entry.
type Posted struct {
	Source, ExternalID string
	// ID is the entry's id; Booked is false when the entry was booked before under its
	// (source, external id), and ID is that entry's.
	ID     int64
	Booked bool
}

// PostEntries books several entries in one transaction, each idempotently as Post does:
// all of them are in the ledger afterwards, or, on error, none of this call's.
func (s *Store) PostEntries(ctx context.Context, entries []Entry) ([]Posted, error) {
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return nil, err
		}
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to begin a transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	out, err := s.postEntriesTx(ctx, tx, entries)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, dbError(fmt.Sprintf("unable to commit %d entries", len(entries)), err)
	}
	return out, nil
}

func (s *Store) postEntriesTx(ctx context.Context, tx *sqlx.Tx, entries []Entry) ([]Posted, error) {
	// A fixed order, so that two callers booking overlapping sets wait for each other
	// rather than deadlock on the unique key.
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := entries[order[i]], entries[order[j]]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.ExternalID < b.ExternalID
	})
	out := make([]Posted, len(entries))
	for _, i := range order {
		e := entries[i]
		id, booked, err := s.PostTx(ctx, tx, e)
		if err != nil {
			return nil, err
		}
		out[i] = Posted{Source: e.Source, ExternalID: e.ExternalID, ID: id, Booked: booked}
	}
	return out, nil
}
