package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Resolutions of a quarantined record (migration 006): a record stays in quarantine, and
// fails the reconciliation, until it has one.
const (
	// ResolutionBooked: a sync booked the same (source, external id) after the record was
	// first quarantined, because the API served a corrected version of it.
	ResolutionBooked = "booked"
	// ResolutionDismissed: a person decided that nothing is to be booked, and said why.
	ResolutionDismissed = "dismissed"
)

// ResolvedBySync is who resolves the records a sync books.
const ResolvedBySync = "sync"

// ErrQuarantineNotFound is returned for a quarantined record id that does not exist.
var ErrQuarantineNotFound = errors.New("ledger: no such quarantined record")

// ErrAlreadyResolved is returned for a quarantined record that has a resolution already: a
// resolution is never overwritten.
var ErrAlreadyResolved = errors.New("ledger: quarantined record already resolved")

// Quarantined is a record that could not be booked, kept with the reason for a person.
type Quarantined struct {
	// ID names the stored record (`ledger quarantine resolve ID`); zero before it is stored.
	ID         int64
	Source     string
	ExternalID string
	Reason     string
	Detail     string
	// Raw is the record as received; its SHA-256 identifies it, so a record pulled again
	// is counted, not stored twice. It is stored as text: invalid UTF-8 and NUL bytes are
	// replaced by U+FFFD.
	Raw []byte
	// Fingerprint is the hex SHA-256 of Raw as received; set by the store.
	Fingerprint string
	// FirstSeen, LastSeen and SeenCount are kept by the store; when quarantining, zero times
	// mean now and a zero count means once.
	FirstSeen, LastSeen time.Time
	SeenCount           int
	// Resolution is ResolutionBooked or ResolutionDismissed, or empty while the record is
	// unresolved; ResolvedAt, ResolvedBy and Note say when, by whom and why. The store sets
	// them; Batch.Quarantine ignores them.
	Resolution string
	ResolvedAt time.Time
	ResolvedBy string
	Note       string
}

// Resolved reports whether the record has a resolution.
func (q Quarantined) Resolved() bool { return q.Resolution != "" }

// QuarantineFilter selects the records QuarantinedRecords returns.
type QuarantineFilter struct {
	// All includes the resolved records. Defaults to false: only the unresolved ones.
	All bool
}

const quarantineColumns = `
	id, source, external_id, reason, detail, raw, fingerprint, first_seen_at, last_seen_at, seen_count,
	coalesce(resolution, ''), resolved_at, coalesce(resolved_by, ''), coalesce(note, '')`

// scanQuarantined reads one row of quarantineColumns.
func scanQuarantined(rows interface{ Scan(...any) error }) (Quarantined, error) {
	var q Quarantined
	var raw string
	var resolvedAt sql.NullTime
	err := rows.Scan(&q.ID, &q.Source, &q.ExternalID, &q.Reason, &q.Detail, &raw, &q.Fingerprint, &q.FirstSeen, &q.LastSeen,
		&q.SeenCount, &q.Resolution, &resolvedAt, &q.ResolvedBy, &q.Note)
	if err != nil {
		return q, err
	}
	q.Raw = []byte(raw)
	q.FirstSeen, q.LastSeen = q.FirstSeen.UTC(), q.LastSeen.UTC()
	if resolvedAt.Valid {
		q.ResolvedAt = resolvedAt.Time.UTC()
	}
	return q, nil
}

// Quarantine returns every quarantined record, resolved or not, the most recently seen
// first, for a person to look at.
func (s *Store) Quarantine(ctx context.Context) ([]Quarantined, error) {
	return s.QuarantinedRecords(ctx, QuarantineFilter{All: true})
}

// QuarantinedRecords returns the quarantined records the filter selects (by default the
// unresolved ones, which the reconciliation fails on), the most recently seen first.
func (s *Store) QuarantinedRecords(ctx context.Context, f QuarantineFilter) ([]Quarantined, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT `+quarantineColumns+`
		FROM quarantined_records
		WHERE $1 OR resolved_at IS NULL
		ORDER BY last_seen_at DESC, id DESC`,
		f.All)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the quarantine: %w", err)
	}
	defer rows.Close()
	var out []Quarantined
	for rows.Next() {
		q, err := scanQuarantined(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: unable to read the quarantine: %w", err)
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read the quarantine: %w", err)
	}
	return out, nil
}

// QuarantineCounts counts the quarantined records by state, for summaries that list only
// the unresolved ones.
type QuarantineCounts struct {
	Unresolved, Booked, Dismissed int
}

// CountQuarantine counts the quarantined records by state.
func (s *Store) CountQuarantine(ctx context.Context) (QuarantineCounts, error) {
	var c QuarantineCounts
	err := s.db.QueryRowContext(ctx, `
		SELECT count(*) FILTER (WHERE resolution IS NULL),
		       count(*) FILTER (WHERE resolution = 'booked'),
		       count(*) FILTER (WHERE resolution = 'dismissed')
		FROM quarantined_records`).Scan(&c.Unresolved, &c.Booked, &c.Dismissed)
	if err != nil {
		return c, fmt.Errorf("ledger: unable to count the quarantine: %w", err)
	}
	return c, nil
}

// Dismissal is a person's decision that quarantined records need nothing booked: the
// record was a duplicate, a test, or was settled another way.
type Dismissal struct {
	// IDs are the records to dismiss (Quarantined.ID); repeats count once.
	IDs []int64
	// By is who decided; required.
	By string
	// Note says why; required.
	Note string
	// At is when. Defaults to the database's now().
	At time.Time
}

// Dismiss resolves unresolved quarantined records as ResolutionDismissed, all of them or
// none: when any id does not exist (ErrQuarantineNotFound) or is resolved already
// (ErrAlreadyResolved), nothing changes and the error names every such id. It returns the
// dismissed records in the order of d.IDs.
func (s *Store) Dismiss(ctx context.Context, d Dismissal) ([]Quarantined, error) {
	by, note := strings.TrimSpace(d.By), strings.TrimSpace(d.Note)
	if by == "" || note == "" {
		return nil, fmt.Errorf("%w: a dismissal needs who (by) and why (a note)", ErrInvalid)
	}
	var ids []int64
	for _, id := range d.IDs {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: a dismissal needs at least one record id", ErrInvalid)
	}
	var at any // NULL: now()
	if !d.At.IsZero() {
		at = d.At.UTC()
	}

	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to begin a transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	// Lock the records (in id order, so that two dismissals cannot deadlock), so that a sync
	// booking one of them at the same time waits, then finds it resolved.
	rows, err := tx.QueryContext(ctx, `
		SELECT `+quarantineColumns+`
		FROM quarantined_records
		WHERE id = ANY($1)
		ORDER BY id
		FOR UPDATE`,
		pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read quarantined records: %w", err)
	}
	found := map[int64]Quarantined{}
	for rows.Next() {
		q, err := scanQuarantined(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: unable to read quarantined records: %w", errors.Join(err, rows.Close()))
		}
		found[q.ID] = q
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("ledger: unable to read quarantined records: %w", err)
	}
	var refused []error
	for _, id := range ids {
		q, ok := found[id]
		switch {
		case !ok:
			refused = append(refused, &quarantineError{kind: ErrQuarantineNotFound,
				msg: fmt.Sprintf("quarantined record %d does not exist", id)})
		case q.Resolved():
			refused = append(refused, &quarantineError{kind: ErrAlreadyResolved,
				msg: fmt.Sprintf("quarantined record %d is already resolved: %s by %s at %s (%q)",
					id, q.Resolution, q.ResolvedBy, q.ResolvedAt.Format(time.RFC3339), q.Note)})
		}
	}
	if len(refused) > 0 {
		return nil, &refusal{errs: refused}
	}

	rows, err = tx.QueryContext(ctx, `
		UPDATE quarantined_records
		SET resolution = 'dismissed', resolved_at = coalesce($2::timestamptz, now()), resolved_by = $3, note = $4
		WHERE id = ANY($1) AND resolved_at IS NULL
		RETURNING `+quarantineColumns,
		pq.Array(ids), at, by, note)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to dismiss quarantined records: %w", err)
	}
	dismissed := map[int64]Quarantined{}
	for rows.Next() {
		q, err := scanQuarantined(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: unable to dismiss quarantined records: %w", errors.Join(err, rows.Close()))
		}
		dismissed[q.ID] = q
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("ledger: unable to dismiss quarantined records: %w", err)
	}
	if len(dismissed) != len(ids) { // the rows are locked: only a bug gets here
		return nil, fmt.Errorf("ledger: dismissed %d of %d quarantined records; nothing was resolved", len(dismissed), len(ids))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("ledger: unable to commit the dismissal: %w", err)
	}
	out := make([]Quarantined, len(ids))
	for i, id := range ids {
		out[i] = dismissed[id]
	}
	return out, nil
}

// quarantineError is one refused record: its message names it, errors.Is finds the kind.
type quarantineError struct {
	kind error
	msg  string
}

func (e *quarantineError) Error() string { return e.msg }
func (e *quarantineError) Unwrap() error { return e.kind }

// refusal is a dismissal refused as a whole, on one line.
type refusal struct{ errs []error }

func (r *refusal) Error() string {
	parts := make([]string, len(r.errs))
	for i, err := range r.errs {
		parts[i] = err.Error()
	}
	return "ledger: nothing was resolved: " + strings.Join(parts, "; ")
}

func (r *refusal) Unwrap() []error { return r.errs }

// resolveBooked is the statement a batch runs after booking: every unresolved quarantined
// record with an external id whose (source, external id) has an entry booked since the
// record was first seen is resolved ResolutionBooked. first_seen_at and booked_at are both
// the database's now() of their transactions, so an entry booked in this batch's
// transaction (or in a later one than the record's) counts, and a malformed version of an
// entry booked before stays in quarantine for a person: the API changed its story.
//
// It costs one lookup per unresolved record, whatever the size of the window or of the
// ledger: the unresolved records come from their partial index, and the entry of each is a
// scalar subquery, which PostgreSQL runs as a probe of the unique index on (source,
// external_id) per record and never turns into a join (that could scan journal_entries
// when the planner misjudges the tables' sizes: journal_entries grows by a window at a time
// before its statistics catch up). "resolved_at IS NULL" is checked again on the latest
// version of a row, so a dismissal committed meanwhile is never overwritten.
const resolveBooked = `
	UPDATE quarantined_records q
	SET resolution = 'booked', resolved_at = now(), resolved_by = 'sync',
	    note = 'booked as journal entry ' || (` + bookedEntry + `) || ': Nord PAY served a corrected record'
	WHERE q.resolved_at IS NULL AND q.external_id <> ''
	  AND (` + bookedEntry + `) IS NOT NULL`

// bookedEntry is the id of the entry of quarantined record q booked since q was first seen,
// or NULL (the unique key allows one at most).
const bookedEntry = `
		SELECT j.id
		FROM journal_entries j
		WHERE j.source = q.source AND j.external_id = q.external_id AND j.booked_at >= q.first_seen_at
		LIMIT 1`

// resolveBookedQuarantine runs resolveBooked in the batch's transaction.
func (b *Batch) resolveBookedQuarantine(ctx context.Context) (int, error) {
	res, err := b.tx.ExecContext(ctx, resolveBooked)
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to resolve the quarantined records booked: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to resolve the quarantined records booked: %w", err)
	}
	return int(n), nil
}
