package ledger

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/shopspring/decimal"
)

// MaxBatchPostings is how many postings an entry loaded through a Batch may have: the
// staging table holds them as columns, one row per entry. Every posting rule produces at
// most four; Post takes entries of any size.
const MaxBatchPostings = 4

// batchSettings are the settings of a batch's transaction. work_mem: enough for the commit
// statement's sorts and hashes and the balance trigger's aggregate to stay in memory for a
// window of a few hundred thousand entries (larger ones spill to temporary files, and still
// work). jit off: the commit's row estimates are wild (the staging table is never
// analyzed), and compiling it cost 0.35 s per batch for nothing.
const batchSettings = `SELECT set_config('work_mem', '128MB', true), set_config('jit', 'off', true)`

// A Batch loads many entries in one database transaction, at COPY speed: entries are copied
// into a staging table as they come, one row each, and Commit books those not yet booked,
// with their postings, in one statement, then stores the quarantined records and resolves
// those whose corrected version it booked (a statement each), then the watermarks, then
// commits. Nothing is held in memory per entry (quarantined records excepted), so a
// window of any size loads in flat memory. Either everything of the batch is booked, or
// nothing is.
//
// A Batch is not safe for concurrent use; several batches may run at once, and overlapping
// ones book each entry once.
type Batch struct {
	s    *Store
	tx   *sqlx.Tx
	copy *sql.Stmt // nil once the COPY is closed
	args []any     // one staging row, reused

	staged     int
	quarantine []Quarantined
	quarIndex  map[[2]string]int // (source, fingerprint) -> index in quarantine
	watermarks map[string]watermark
	first      time.Time // the earliest and latest occurred_at staged
	last       time.Time
	sources    []string // staged, each once
	err        error    // the first database error; the batch can only be rolled back after it
	done       bool     // committed or rolled back
}

// BatchResult says what a committed batch did, for the sync summary.
type BatchResult struct {
	// Staged is the number of entries added.
	Staged int
	// Booked is the number of entries newly booked.
	Booked int
	// AlreadyBooked is Staged - Booked: entries booked before, or added twice to the batch.
	AlreadyBooked int
	// Quarantined is the number of distinct records quarantined in this batch, new or seen
	// again.
	Quarantined int
	// QuarantineResolved is the number of quarantined records resolved as booked because
	// this batch booked their (source, external id).
	QuarantineResolved int
	// Totals are the sums of the postings newly booked, per account, sorted by account name.
	Totals []AccountTotal
}

// AccountTotal is what a batch booked to one account.
type AccountTotal struct {
	Account  string
	Type     AccountType
	Currency string
	// Entries is the number of newly booked entries with a posting on the account.
	Entries int
	// Amount and AmountUSD are the sums of those postings (USD where known).
	Amount, AmountUSD decimal.Decimal
}

// The staging table: one row per entry, postings as columns (account id, amount, USD value
// per slot, slots filled from 1), id drawn from the entries' own sequence as the row is
// copied, so the commit joins on a bigint and entries get ids in the batch's order. The
// sequence is named by a constant (%s, filled in once per Store): a call of
// pg_get_serial_sequence per row doubled the cost of the COPY.
const (
	createStaging = `
		CREATE TEMPORARY TABLE ledger_batch_staging (
			pos         bigint      NOT NULL,
			id          bigint      NOT NULL DEFAULT nextval(%s::regclass),
			source      text        NOT NULL,
			external_id text        NOT NULL,
			occurred_at timestamptz NOT NULL,
			description text        NOT NULL,
			tx_hash     text        NOT NULL,
			label       text        NOT NULL,
			address     text        NOT NULL,
			source_ref  text        NOT NULL,
			a1 bigint, m1 numeric, u1 numeric,
			a2 bigint, m2 numeric, u2 numeric,
			a3 bigint, m3 numeric, u3 numeric,
			a4 bigint, m4 numeric, u4 numeric
		) ON COMMIT DROP`
	stagingTable = "ledger_batch_staging"
)

var stagingColumns = []string{
	"pos", "source", "external_id", "occurred_at", "description", "tx_hash", "label", "address", "source_ref",
	"a1", "m1", "u1", "a2", "m2", "u2", "a3", "m3", "u3", "a4", "m4", "u4",
}

// BeginBatch starts a batch: a transaction, its staging table, and a COPY into it.
func (s *Store) BeginBatch(ctx context.Context) (*Batch, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to begin a batch: %w", err)
	}
	b := &Batch{s: s, tx: tx, args: make([]any, len(stagingColumns)), quarIndex: map[[2]string]int{}, watermarks: map[string]watermark{}}
	if _, err := tx.ExecContext(ctx, batchSettings); err != nil {
		return nil, b.abort(fmt.Errorf("ledger: unable to set up a batch: %w", err))
	}
	create, err := s.stagingDDL(ctx, tx)
	if err != nil {
		return nil, b.abort(err)
	}
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return nil, b.abort(fmt.Errorf("ledger: unable to create the staging table: %w", err))
	}
	if b.copy, err = tx.PrepareContext(ctx, pq.CopyIn(stagingTable, stagingColumns...)); err != nil {
		return nil, b.abort(fmt.Errorf("ledger: unable to start copying: %w", err))
	}
	return b, nil
}

// stagingDDL returns the CREATE statement of the staging table, naming the sequence of
// journal_entries.id, which it looks up once.
func (s *Store) stagingDDL(ctx context.Context, tx *sqlx.Tx) (string, error) {
	s.mu.RLock()
	ddl := s.createStaging
	s.mu.RUnlock()
	if ddl != "" {
		return ddl, nil
	}
	var seq sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence('journal_entries', 'id')`).Scan(&seq); err != nil {
		return "", fmt.Errorf("ledger: unable to find the sequence of journal entries: %w", err)
	}
	if !seq.Valid {
		return "", errors.New("ledger: journal_entries.id has no sequence; is the database migrated?")
	}
	ddl = fmt.Sprintf(createStaging, pq.QuoteLiteral(seq.String))
	s.mu.Lock()
	s.createStaging = ddl
	s.mu.Unlock()
	return ddl, nil
}

// abort rolls back after a failed start and returns err with any rollback error.
func (b *Batch) abort(err error) error {
	b.done = true
	if rbErr := b.tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
		return errors.Join(err, fmt.Errorf("ledger: unable to roll back: %w", rbErr))
	}
	return err
}

// Add stages one entry. It is validated first (ErrInvalid, ErrUnbalanced; the batch goes on,
// so the caller may quarantine the record), and its accounts are created as needed. A
// database error breaks the batch: Add and Commit return it from then on.
func (b *Batch) Add(ctx context.Context, e *Entry) error {
	if b.done {
		return errors.New("ledger: add to a finished batch")
	}
	if b.err != nil {
		return b.err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if len(e.Postings) > MaxBatchPostings {
		return fmt.Errorf("%w: %s/%s has %d postings, a batch takes at most %d", ErrInvalid, e.Source, e.ExternalID, len(e.Postings), MaxBatchPostings)
	}
	args := b.args
	args[0] = int64(b.staged)
	args[1], args[2], args[3] = e.Source, e.ExternalID, e.OccurredAt.UTC()
	args[4], args[5], args[6], args[7], args[8] = e.Description, e.TxHash, e.Label, e.Address, e.SourceRef
	for i := range MaxBatchPostings {
		slot := args[9+3*i : 12+3*i]
		if i >= len(e.Postings) {
			slot[0], slot[1], slot[2] = nil, nil, nil
			continue
		}
		p := &e.Postings[i]
		id, err := b.s.AccountID(ctx, p.Account, p.Type, p.Currency)
		if err != nil {
			return err
		}
		slot[0], slot[1], slot[2] = id, p.Amount.String(), nil
		if p.AmountUSD.Valid {
			slot[2] = p.AmountUSD.Decimal.String()
		}
	}
	if _, err := b.copy.ExecContext(ctx, args...); err != nil {
		b.err = fmt.Errorf("ledger: unable to stage %s/%s: %w", e.Source, e.ExternalID, err)
		return b.err
	}
	if !slices.Contains(b.sources, e.Source) {
		b.sources = append(b.sources, e.Source)
	}
	if at := e.OccurredAt; b.staged == 0 || at.Before(b.first) {
		b.first = at
	}
	if at := e.OccurredAt; b.staged == 0 || at.After(b.last) {
		b.last = at
	}
	b.staged++
	return nil
}

// Quarantine sets a record aside in the batch: it is stored at Commit, with the batch, so a
// window that is rolled back quarantines nothing and its next pull counts each record once.
// A record added twice (same source and raw bytes) is one record seen twice.
func (b *Batch) Quarantine(q Quarantined) {
	sum := sha256.Sum256(q.Raw)
	key := [2]string{q.Source, hex.EncodeToString(sum[:])}
	if q.SeenCount < 1 {
		q.SeenCount = 1
	}
	if i, ok := b.quarIndex[key]; ok {
		prev := &b.quarantine[i]
		prev.SeenCount += q.SeenCount
		prev.Reason, prev.Detail, prev.ExternalID = q.Reason, q.Detail, q.ExternalID
		if q.LastSeen.After(prev.LastSeen) {
			prev.LastSeen = q.LastSeen
		}
		if !q.FirstSeen.IsZero() && (prev.FirstSeen.IsZero() || q.FirstSeen.Before(prev.FirstSeen)) {
			prev.FirstSeen = q.FirstSeen
		}
		return
	}
	b.quarIndex[key] = len(b.quarantine)
	b.quarantine = append(b.quarantine, q)
}

// watermark is a watermark to store, and the time the window was fetched (zero: unknown).
type watermark struct{ at, fetched time.Time }

// SetWatermark records how far the batch has synced source; it is stored at Commit, in the
// same transaction as the entries, so the watermark never runs ahead of the ledger. A
// watermark never moves back: a backfill of an old window leaves it where it is.
func (b *Batch) SetWatermark(source string, at time.Time) {
	b.watermarks[source] = watermark{at: at.UTC()}
}

// SetWatermarkFetched is SetWatermark for a window fetched at fetched: what the API
// answered then can hold nothing created later, so the watermark stored is at most
// fetched, whatever the window's end. A stored watermark after fetched cannot be true
// (a sync of a window that ended in the future stored it, before windows were capped at
// their fetch time), and would make every later sync start after what it never pulled:
// it is replaced, even by an earlier one, so that the next sync pulls again from there.
func (b *Batch) SetWatermarkFetched(source string, at, fetched time.Time) {
	if at.After(fetched) {
		at = fetched
	}
	b.watermarks[source] = watermark{at: at.UTC(), fetched: fetched.UTC()}
}

// Commit books the staged entries and their postings, and sums what it booked, in ONE
// statement, in one of two forms:
//
//   - commitNew inserts every staged row as it is: the usual case, once the entries booked
//     already are dropped from the staging table (see commitEntries). A duplicate left (in
//     the batch, or booked at another time) makes the unique key reject the statement,
//     which is then rolled back to a savepoint and redone by commitMixed.
//   - commitMixed inserts entries through ON CONFLICT DO NOTHING in the order of the batch,
//     so an entry booked earlier, or staged earlier in this batch, wins; postings come only
//     from the entries inserted (RETURNING id), so an entry booked concurrently by an
//     overlapping batch is skipped with its postings.
//
// Measured at 1M new entries of 4 postings, commitNew takes 30 s and commitMixed 42 s: ON
// CONFLICT, the sort by position and the join back to the inserted ids cost 12 s together.
//
// Slots are unpivoted in line order and entries come in id order, so both indexes of
// postings grow at their right edge. The sums are per "shape" (the accounts of slots 1-4)
// over the staging rows of the booked entries: a few rows, which Commit folds into
// per-account totals; summing the 4x more posting rows instead cost 7% more.
const (
	// unpivotSlots turns a staging row s into its postings p (line 1..4, empty slots left
	// out), with the account a for its currency; both commit forms use it.
	unpivotSlots = `
		CROSS JOIN LATERAL (VALUES
			(1, s.a1, s.m1, s.u1),
			(2, s.a2, s.m2, s.u2),
			(3, s.a3, s.m3, s.u3),
			(4, s.a4, s.m4, s.u4)
		) AS p (line, account_id, amount, amount_usd)
		LEFT JOIN accounts a ON a.id = p.account_id -- a missing one is for the trigger to report
		WHERE p.account_id IS NOT NULL -- an empty slot
	`
	// shapeSums sums the staged amounts per shape (the accounts of slots 1-4); both commit
	// forms end with it, each with its own filter and GROUP BY.
	shapeSums = `
	SELECT count(*), a1, a2, a3, a4, sum(m1), sum(u1), sum(m2), sum(u2), sum(m3), sum(u3), sum(m4), sum(u4)
	FROM ledger_batch_staging
	`

	commitNew = `
	WITH new_entries AS (
		INSERT INTO journal_entries (id, source, external_id, occurred_at, description, tx_hash, label, address, source_ref)
		SELECT id, source, external_id, occurred_at, description, tx_hash, label, address, source_ref
		FROM ledger_batch_staging
		RETURNING 1
	), new_postings AS (
		INSERT INTO postings (entry_id, line, account_id, currency, amount, amount_usd, occurred_at)
		SELECT s.id, p.line, p.account_id, coalesce(a.currency, ''), p.amount, p.amount_usd, s.occurred_at
		FROM ledger_batch_staging s
` + unpivotSlots + `	)
	-- new_entries is read first (a duplicate fails the statement before any posting is
	-- written), new_postings runs last, when the statement ends.
` + shapeSums + `	WHERE (SELECT count(*) FROM new_entries) > 0
	GROUP BY a1, a2, a3, a4`

	commitMixed = `
	WITH new_entries AS (
		INSERT INTO journal_entries (id, source, external_id, occurred_at, description, tx_hash, label, address, source_ref)
		SELECT id, source, external_id, occurred_at, description, tx_hash, label, address, source_ref
		FROM ledger_batch_staging
		ORDER BY pos
		ON CONFLICT (source, external_id) DO NOTHING
		RETURNING id
	), new_postings AS (
		INSERT INTO postings (entry_id, line, account_id, currency, amount, amount_usd, occurred_at)
		SELECT s.id, p.line, p.account_id, coalesce(a.currency, ''), p.amount, p.amount_usd, s.occurred_at
		FROM (SELECT * FROM ledger_batch_staging WHERE id IN (SELECT id FROM new_entries)) s
` + unpivotSlots + `	)
` + shapeSums + `	WHERE id IN (SELECT id FROM new_entries)
	GROUP BY a1, a2, a3, a4`
)

// Commit books the batch: the entries not yet booked and their postings, then the
// quarantined records; when it booked anything, it resolves the quarantined records whose
// (source, external id) is now booked since they were first seen (resolveBooked); then the
// watermarks, then commits. On error nothing is booked and the batch is rolled back.
func (b *Batch) Commit(ctx context.Context) (BatchResult, error) {
	res := BatchResult{Staged: b.staged}
	if b.done {
		return res, errors.New("ledger: commit of a finished batch")
	}
	if b.err != nil {
		return res, b.fail(b.err)
	}
	if err := b.closeCopy(ctx); err != nil {
		return res, b.fail(err)
	}
	if b.staged > 0 {
		if err := b.commitEntries(ctx, &res); err != nil {
			return res, b.fail(err)
		}
	}
	res.AlreadyBooked = res.Staged - res.Booked
	n, err := b.commitQuarantine(ctx)
	if err != nil {
		return res, b.fail(err)
	}
	res.Quarantined = n
	if res.Booked > 0 {
		if res.QuarantineResolved, err = b.resolveBookedQuarantine(ctx); err != nil {
			return res, b.fail(err)
		}
	}
	if err := b.commitWatermarks(ctx); err != nil {
		return res, b.fail(err)
	}
	b.done = true
	if err := b.tx.Commit(); err != nil {
		return res, dbError("unable to commit the batch", err)
	}
	return res, nil
}

// commitEntries first drops from the staging table the entries booked already at the same
// time (a re-pulled window, or the overlap of a window with the previous one), found by a
// hash join with the entries of the staged time range, not by a lookup per staged entry;
// then runs commitNew, or commitMixed when commitNew meets a duplicate.
func (b *Batch) commitEntries(ctx context.Context, res *BatchResult) error {
	_, err := b.tx.ExecContext(ctx, `
		WITH booked AS MATERIALIZED (
			SELECT source, external_id
			FROM journal_entries
			WHERE occurred_at BETWEEN $1 AND $2 AND source = ANY($3)
		)
		DELETE FROM ledger_batch_staging s
		USING booked b
		WHERE b.source = s.source AND b.external_id = s.external_id`,
		b.first.UTC(), b.last.UTC(), pq.Array(b.sources))
	if err != nil {
		return fmt.Errorf("ledger: unable to look for booked entries: %w", err)
	}
	if _, err := b.tx.ExecContext(ctx, `SAVEPOINT ledger_batch_new`); err != nil {
		return fmt.Errorf("ledger: unable to book the batch: %w", err)
	}
	err = b.book(ctx, commitNew, res)
	if err == nil {
		if _, err := b.tx.ExecContext(ctx, `RELEASE SAVEPOINT ledger_batch_new`); err != nil {
			return fmt.Errorf("ledger: unable to book the batch: %w", err)
		}
		return nil
	}
	if e := pq.As(err, pqerror.UniqueViolation); e == nil || e.Constraint != "journal_entries_source_external_id_key" {
		return err
	}
	if _, err := b.tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT ledger_batch_new`); err != nil {
		return fmt.Errorf("ledger: unable to book the batch: %w", err)
	}
	res.Booked, res.Totals = 0, nil
	return b.book(ctx, commitMixed, res)
}

// book runs one of the commit statements and folds its per-shape sums into res.
func (b *Batch) book(ctx context.Context, query string, res *BatchResult) error {
	rows, err := b.tx.QueryContext(ctx, query)
	if err != nil {
		return dbError("unable to book the batch", err)
	}
	defer rows.Close()
	totals := map[int64]*AccountTotal{}
	var (
		entries  int
		accounts [MaxBatchPostings]sql.NullInt64
		sums     [MaxBatchPostings][2]decimal.NullDecimal // amount, USD
	)
	dest := []any{&entries}
	for i := range MaxBatchPostings {
		dest = append(dest, &accounts[i])
	}
	for i := range MaxBatchPostings {
		dest = append(dest, &sums[i][0], &sums[i][1])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return dbError("unable to book the batch", err)
		}
		res.Booked += entries
		for i, acc := range accounts {
			if !acc.Valid {
				continue
			}
			t := totals[acc.Int64]
			if t == nil {
				a, ok := b.s.accountByID(acc.Int64)
				if !ok {
					return fmt.Errorf("ledger: batch booked to account %d, which it did not stage", acc.Int64)
				}
				t = &AccountTotal{Account: a.Name, Type: a.Type, Currency: a.Currency}
				totals[acc.Int64] = t
			}
			// An entry counts once per account, even if it posts to it twice.
			if !slices.ContainsFunc(accounts[:i], func(prev sql.NullInt64) bool { return prev == acc }) {
				t.Entries += entries
			}
			t.Amount = t.Amount.Add(sums[i][0].Decimal)
			t.AmountUSD = t.AmountUSD.Add(sums[i][1].Decimal)
		}
	}
	if err := rows.Err(); err != nil {
		return dbError("unable to book the batch", err)
	}
	for _, t := range totals {
		res.Totals = append(res.Totals, *t)
	}
	slices.SortFunc(res.Totals, func(x, y AccountTotal) int { return cmp.Compare(x.Account, y.Account) })
	return nil
}

// fail rolls the batch back after err and returns err, with the rollback's error if any.
func (b *Batch) fail(err error) error {
	if rbErr := b.Rollback(); rbErr != nil {
		return errors.Join(err, rbErr)
	}
	return err
}

// closeCopy ends the COPY, which is when the server reports a bad row.
func (b *Batch) closeCopy(ctx context.Context) error {
	if b.copy == nil {
		return nil
	}
	stmt := b.copy
	b.copy = nil
	_, err := stmt.ExecContext(ctx)
	if closeErr := stmt.Close(); err == nil && closeErr != nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("ledger: unable to copy the batch: %w", err)
	}
	return nil
}

// commitQuarantine stores the batch's quarantined records in one statement; a record
// quarantined before is the same row, seen again.
func (b *Batch) commitQuarantine(ctx context.Context) (int, error) {
	if len(b.quarantine) == 0 {
		return 0, nil
	}
	n := len(b.quarantine)
	sources, ids, reasons, details := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	raws, fingerprints := make([]string, n), make([]string, n)
	firsts, lasts := make([]string, n), make([]string, n) // "" is now()
	counts := make([]int64, n)
	for i, q := range b.quarantine {
		sum := sha256.Sum256(q.Raw)
		sources[i], ids[i], reasons[i], details[i] = q.Source, q.ExternalID, q.Reason, q.Detail
		raws[i], fingerprints[i], counts[i] = storableText(q.Raw), hex.EncodeToString(sum[:]), int64(q.SeenCount)
		if !q.FirstSeen.IsZero() {
			firsts[i] = q.FirstSeen.UTC().Format(time.RFC3339Nano)
		}
		if !q.LastSeen.IsZero() {
			lasts[i] = q.LastSeen.UTC().Format(time.RFC3339Nano)
		}
	}
	res, err := b.tx.ExecContext(ctx, `
		INSERT INTO quarantined_records AS q
			(source, external_id, reason, detail, raw, fingerprint, first_seen_at, last_seen_at, seen_count)
		SELECT source, external_id, reason, detail, raw, fingerprint,
		       coalesce(NULLIF(first_seen, '')::timestamptz, now()),
		       coalesce(NULLIF(last_seen, '')::timestamptz, now()),
		       seen_count
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
		     AS r (source, external_id, reason, detail, raw, fingerprint, first_seen, last_seen, seen_count)
		ON CONFLICT (source, fingerprint) DO UPDATE SET
			external_id  = excluded.external_id,
			reason       = excluded.reason,
			detail       = excluded.detail,
			last_seen_at = greatest(q.last_seen_at, excluded.last_seen_at),
			seen_count   = q.seen_count + excluded.seen_count`,
		pq.Array(sources), pq.Array(ids), pq.Array(reasons), pq.Array(details), pq.Array(raws),
		pq.Array(fingerprints), pq.Array(firsts), pq.Array(lasts), pq.Array(counts))
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to store %d quarantined record(s): %w", n, err)
	}
	affected, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to store %d quarantined record(s): %w", n, err)
	}
	return int(affected), nil
}

// storableText turns raw bytes into what a text column accepts: valid UTF-8 without NUL.
func storableText(raw []byte) string {
	return strings.ReplaceAll(strings.ToValidUTF8(string(raw), "\uFFFD"), "\x00", "\uFFFD")
}

func (b *Batch) commitWatermarks(ctx context.Context) error {
	sources := make([]string, 0, len(b.watermarks))
	for s := range b.watermarks {
		sources = append(sources, s)
	}
	slices.SortFunc(sources, cmp.Compare) // a fixed lock order across concurrent batches
	for _, src := range sources {
		wm := b.watermarks[src]
		var fetched any // NULL: never replace a later watermark
		if !wm.fetched.IsZero() {
			fetched = wm.fetched
		}
		_, err := b.tx.ExecContext(ctx, `
			INSERT INTO sync_watermarks AS w (source, watermark)
			VALUES ($1, $2)
			ON CONFLICT (source) DO UPDATE SET
				watermark  = CASE WHEN w.watermark > $3::timestamptz THEN excluded.watermark
				                  ELSE greatest(w.watermark, excluded.watermark) END,
				updated_at = now()`,
			src, wm.at, fetched)
		if err != nil {
			return fmt.Errorf("ledger: unable to store the watermark of %s: %w", src, err)
		}
	}
	return nil
}

// Rollback abandons the batch: nothing of it stays in the database. It is safe to call
// after Commit (it does nothing), so callers can defer it.
func (b *Batch) Rollback() error {
	if b.done {
		return nil
	}
	b.done = true
	var errs []error
	if b.copy != nil {
		// Closing ends the COPY (its rows go nowhere: the transaction is rolled back next).
		// After a cancelled context the connection is already gone; that error is moot.
		if err := b.copy.Close(); err != nil && b.err == nil && !errors.Is(err, driver.ErrBadConn) {
			errs = append(errs, fmt.Errorf("ledger: unable to end the batch's copy: %w", err))
		}
		b.copy = nil
	}
	if err := b.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		errs = append(errs, fmt.Errorf("ledger: unable to roll back the batch: %w", err))
	}
	return errors.Join(errs...)
}
