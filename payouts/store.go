package payouts

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
)

// Sentinel errors, checked with errors.Is by the command line to choose its message and exit
// code; each error the store returns wraps one of them when it is a refusal rather than a
// failure.
var (
	// ErrBatchNotFound: no batch has the given id.
	ErrBatchNotFound = errors.New("payouts: no such batch")
	// ErrDuplicateSheet: the same sheet (by SHA-256) was imported before; --force imports it again.
	ErrDuplicateSheet = errors.New("payouts: the same sheet was already imported")
	// ErrRejected: the batch's sheet is invalid; it can be neither approved nor run.
	ErrRejected = errors.New("payouts: the batch's sheet is invalid")
	// ErrApprovalRefused: this approval may not be given (the importer, twice, changed rows).
	ErrApprovalRefused = errors.New("payouts: approval refused")
	// ErrNotApproved: the batch lacks enough valid approvals for what it is asked to do.
	ErrNotApproved = errors.New("payouts: the batch is not approved")
	// ErrRepeat: an import repeats rows of other batches (same address, amount and
	// currency) without --allow-repeat.
	ErrRepeat = errors.New("payouts: rows repeat rows of other batches")
	// ErrBusy: another process is running the same batch.
	ErrBusy = errors.New("payouts: the batch is being run by another process")
	// ErrChunkState: a chunk is not in the state the operation needs (resolve of a chunk that
	// is not unknown; a chunk moved by someone else meanwhile).
	ErrChunkState = errors.New("payouts: the chunk is not in the expected state")
)

// BatchState is the lifecycle of a batch, derived from its sheet, approvals and chunks.
type BatchState string

// Batch states.
const (
	// BatchRejected: the sheet is invalid; nothing of it can be paid.
	BatchRejected BatchState = "rejected"
	// BatchImported: waiting for approvals.
	BatchImported BatchState = "imported"
	// BatchApproved: enough valid approvals; not run yet.
	BatchApproved BatchState = "approved"
	// BatchRunning: some chunk is planned, requested or confirming: a run is under way, or
	// stopped and waits to be run again.
	BatchRunning BatchState = "running"
	// BatchAttention: some chunk's outcome is unknown; a person must resolve it.
	BatchAttention BatchState = "attention"
	// BatchPartial: some rows are in failed chunks only; a new run retries them.
	BatchPartial BatchState = "partial"
	// BatchPaid: every row is in a confirmed chunk.
	BatchPaid BatchState = "paid"
)

// ChunkState is the state of one request to Nord PAY, persisted before every remote call.
type ChunkState string

// Chunk states and their meaning; the database allows only the transitions of
// db/migrations/004_payouts.up.sql.
const (
	// ChunkPlanned: rows assigned; no quote held (a request may have been sent and its answer
	// lost: an unconfirmed quote expires harmlessly).
	ChunkPlanned ChunkState = "planned"
	// ChunkRequested: a quote is held (identifier, amounts, fee, expiry); not confirmed.
	ChunkRequested ChunkState = "requested"
	// ChunkConfirming: the confirm is being sent. Found at start-up, it becomes unknown.
	ChunkConfirming ChunkState = "confirming"
	// ChunkConfirmed: Nord PAY accepted the confirm (or a person said it paid); booked.
	ChunkConfirmed ChunkState = "confirmed"
	// ChunkFailed: nothing was paid; the rows are released for a later chunk.
	ChunkFailed ChunkState = "failed"
	// ChunkUnknown: the confirm may have executed; the rows are held until a person resolves it.
	ChunkUnknown ChunkState = "unknown"
)

// Batch is one imported sheet.
type Batch struct {
	ID          string
	SheetSHA256 string
	FileName    string
	Format      string
	ImportedBy  string
	CreatedAt   time.Time
	// State as last stored; BatchStatus.State is the one derived now.
	State BatchState
	// Forced is set when the same sheet had been imported before and --force was given.
	Forced bool
	Rows   int
	Errors int
	// Totals are the control totals per currency, sorted by currency.
	Totals []Total
	// Digest is the hex SHA-256 over Totals and every row (see Digest).
	Digest string
}

// Approval is one person's approval of a batch, bound to what they saw.
type Approval struct {
	Approver    string
	ApprovedAt  time.Time
	ExpiresAt   time.Time
	SheetSHA256 string
	Digest      string
}

// Chunk is one multiple-withdraw request of a batch: the rows of one currency, at most
// Policy.RowsPerRequest of them.
type Chunk struct {
	Batch    string
	N        int
	Currency string
	State    ChunkState
	Rows     int
	// Amount and ExpectedFee sum the chunk's rows.
	Amount      decimal.Decimal
	ExpectedFee decimal.Decimal
	// Quote is the current quote, nil when none is held.
	Quote *nordpay.MultiWithdrawQuote
	// Requests counts the requests sent for this chunk.
	Requests      int
	ConfirmSentAt time.Time
	// WithdrawalID is what the confirm answered.
	WithdrawalID string
	Reason       string
	ResolvedBy   string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Identifier is the identifier of the chunk's quote, "" when none.
func (c *Chunk) Identifier() string {
	if c.Quote == nil {
		return ""
	}
	return c.Quote.Identifier
}

// Store keeps batches, approvals, chunks and their audit trail in PostgreSQL, next to the
// ledger that confirmed chunks are booked to. It is safe for concurrent use.
type Store struct {
	db     *sqlx.DB
	ledger *ledger.Store
	policy Policy
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// NewStore returns a Store on the ledger's database (migrated), applying policy.
func NewStore(l *ledger.Store, policy Policy) *Store {
	return &Store{db: l.DB(), ledger: l, policy: policy.withDefaults(), Now: time.Now}
}

// Policy returns the rules the store applies, defaults filled in.
func (s *Store) Policy() Policy { return s.policy }

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// inTx runs f in a transaction and commits it; what names the work for errors.
func (s *Store) inTx(ctx context.Context, what string, f func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("payouts: %s: unable to begin a transaction: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("payouts: %s: unable to commit: %w", what, err)
	}
	return nil
}

// OSAccount is who really ran an audited action: the operating-system user and the host
// name of the process ("" when unknown). Unlike --by, which anyone may type, it is what the
// machine says; it is recorded in every audit line as os_user and host.
type OSAccount struct {
	User string `json:"os_user"`
	Host string `json:"host"`
}

// String is user@host, with "?" for an unknown part.
func (a OSAccount) String() string {
	u, h := a.User, a.Host
	if u == "" {
		u = "?"
	}
	if h == "" {
		h = "?"
	}
	return u + "@" + h
}

// Known reports whether both the user and the host are known: only then can two accounts
// be said to be the same.
func (a OSAccount) Known() bool { return a.User != "" && a.Host != "" }

// processAccount is this process's account, read once.
var processAccount = sync.OnceValue(func() OSAccount {
	var a OSAccount
	if u, err := user.Current(); err == nil {
		a.User = u.Username
	}
	if a.User == "" {
		a.User = os.Getenv("USER")
	}
	if h, err := os.Hostname(); err == nil {
		a.Host = h
	}
	return a
})

// accountKey carries an OSAccount in a context, in place of the process's (tests).
type accountKey struct{}

// CurrentAccount is the OS account the audit records for work done with ctx.
func CurrentAccount(ctx context.Context) OSAccount {
	if a, ok := ctx.Value(accountKey{}).(OSAccount); ok {
		return a
	}
	return processAccount()
}

// audit appends one line to the audit log, in the caller's transaction, with the OS account
// that ran it (os_user, host) added to the detail.
func audit(ctx context.Context, tx sqlx.ExecerContext, at time.Time, actor, action, batch string, chunk int, detail map[string]any) error {
	d := make(map[string]any, len(detail)+2)
	for k, v := range detail {
		d[k] = v
	}
	acct := CurrentAccount(ctx)
	d["os_user"], d["host"] = acct.User, acct.Host
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("payouts: batch %s: encoding the audit detail of %q: %w", batch, action, err)
	}
	var n any
	if chunk > 0 {
		n = chunk
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO payout_audit (at, actor, action, batch_id, chunk_n, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		at, actor, action, batch, n, string(raw))
	if err != nil {
		return fmt.Errorf("payouts: batch %s: unable to write the audit line %q: %w", batch, action, err)
	}
	return nil
}

// ImportRecord is what the audit log says of a batch's import.
type ImportRecord struct {
	// Account is the OS account that imported the batch (zero for an import audited before
	// accounts were recorded).
	Account OSAccount
	// AllowRepeat: the importer passed --allow-repeat.
	AllowRepeat bool
	// RepeatRows counts the rows that repeated earlier payouts (or an earlier row of the
	// sheet) when the batch was imported with --allow-repeat; -1 when not recorded.
	RepeatRows int
}

// importRecord reads the audit line of a batch's import; nil when there is none.
func importRecord(ctx context.Context, q sqlx.QueryerContext, batch string) (*ImportRecord, error) {
	var raw []byte
	err := q.QueryRowxContext(ctx, `
		SELECT detail
		FROM payout_audit
		WHERE batch_id = $1 AND action IN ('imported', 'import rejected') AND chunk_n IS NULL
		ORDER BY id
		LIMIT 1`, batch).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read the audit line of its import: %w", batch, err)
	}
	var d struct {
		OSUser      string `json:"os_user"`
		Host        string `json:"host"`
		AllowRepeat bool   `json:"allow_repeat"`
		RepeatRows  *int   `json:"repeat_rows"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("payouts: batch %s: the audit line of its import: %w", batch, err)
	}
	r := &ImportRecord{Account: OSAccount{User: d.OSUser, Host: d.Host}, AllowRepeat: d.AllowRepeat, RepeatRows: -1}
	if d.RepeatRows != nil {
		r.RepeatRows = *d.RepeatRows
	}
	return r, nil
}

// ImportRecord returns what the audit log says of a batch's import: the OS account, and
// whether --allow-repeat was given and how many rows it let through. Nil when the log has
// no import line for the batch.
func (s *Store) ImportRecord(ctx context.Context, batch string) (*ImportRecord, error) {
	return importRecord(ctx, s.db, batch)
}

// AuditLine is one line of a batch's audit log.
type AuditLine struct {
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Action string         `json:"action"`
	Chunk  int            `json:"chunk,omitempty"`
	Detail map[string]any `json:"detail,omitempty"`
}

// Audit returns a batch's audit log, oldest first.
func (s *Store) Audit(ctx context.Context, batch string) ([]AuditLine, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT at, actor, action, coalesce(chunk_n, 0), detail
		FROM payout_audit
		WHERE batch_id = $1
		ORDER BY id`, batch)
	if err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read the audit log: %w", batch, err)
	}
	defer rows.Close()
	var out []AuditLine
	for rows.Next() {
		var l AuditLine
		var raw []byte
		if err := rows.Scan(&l.At, &l.Actor, &l.Action, &l.Chunk, &raw); err != nil {
			return nil, fmt.Errorf("payouts: batch %s: unable to read the audit log: %w", batch, err)
		}
		if err := json.Unmarshal(raw, &l.Detail); err != nil {
			return nil, fmt.Errorf("payouts: batch %s: audit detail: %w", batch, err)
		}
		l.At = l.At.UTC()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read the audit log: %w", batch, err)
	}
	return out, nil
}

// batchColumns are read by scanBatch, in order.
const batchColumns = `id, sheet_sha256, file_name, format, imported_by, created_at, state, forced,
	row_count, error_count, control_totals, control_digest`

type scanner interface{ Scan(dest ...any) error }

func scanBatch(sc scanner) (*Batch, error) {
	var b Batch
	var totals []byte
	if err := sc.Scan(&b.ID, &b.SheetSHA256, &b.FileName, &b.Format, &b.ImportedBy, &b.CreatedAt, &b.State,
		&b.Forced, &b.Rows, &b.Errors, &totals, &b.Digest); err != nil {
		return nil, err
	}
	b.CreatedAt = b.CreatedAt.UTC()
	var err error
	if b.Totals, err = decodeTotals(totals); err != nil {
		return nil, fmt.Errorf("batch %s: control totals: %w", b.ID, err)
	}
	return &b, nil
}

// getBatch reads a batch; lock takes a row lock (FOR UPDATE) in the caller's transaction.
func getBatch(ctx context.Context, q sqlx.QueryerContext, id string, lock bool) (*Batch, error) {
	query := `SELECT ` + batchColumns + ` FROM payout_batches WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	b, err := scanBatch(q.QueryRowxContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrBatchNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read it: %w", id, err)
	}
	return b, nil
}

// Batch returns one batch as stored.
func (s *Store) Batch(ctx context.Context, id string) (*Batch, error) {
	return getBatch(ctx, s.db, id, false)
}

// totalJSON is a Total as stored in control_totals and printed by --json.
type totalJSON struct {
	Currency    string `json:"currency"`
	Rows        int    `json:"rows"`
	Amount      string `json:"amount"`
	ExpectedFee string `json:"expected_fee"`
}

func encodeTotals(ts []Total) (string, error) {
	out := make([]totalJSON, len(ts))
	for i, t := range ts {
		out[i] = totalJSON{Currency: t.Currency, Rows: t.Rows, Amount: t.Amount.String(), ExpectedFee: t.ExpectedFee.String()}
	}
	raw, err := json.Marshal(out)
	return string(raw), err
}

func decodeTotals(raw []byte) ([]Total, error) {
	var in []totalJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	out := make([]Total, len(in))
	for i, t := range in {
		a, err := decimal.NewFromString(t.Amount)
		if err != nil {
			return nil, fmt.Errorf("%s amount %q: %w", t.Currency, t.Amount, err)
		}
		f, err := decimal.NewFromString(t.ExpectedFee)
		if err != nil {
			return nil, fmt.Errorf("%s expected fee %q: %w", t.Currency, t.ExpectedFee, err)
		}
		out[i] = Total{Currency: t.Currency, Rows: t.Rows, Amount: a, ExpectedFee: f}
	}
	return out, nil
}

// storedRow is a row as the database holds it: the sheet's row and the fee expected for it.
type storedRow struct {
	Row
	ExpectedFee decimal.Decimal
}

// Totals computes the control totals of rows, per currency, sorted by currency; fees holds
// each row's expected fee (nil for none).
func Totals(rows []Row, fees []decimal.Decimal) []Total {
	by := map[string]*Total{}
	for i, r := range rows {
		t := by[r.Currency]
		if t == nil {
			t = &Total{Currency: r.Currency}
			by[r.Currency] = t
		}
		t.Rows++
		t.Amount = t.Amount.Add(r.Amount)
		if i < len(fees) {
			t.ExpectedFee = t.ExpectedFee.Add(fees[i])
		}
	}
	out := make([]Total, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// Digest is what an approval is bound to: the hex SHA-256 over the control totals and every
// row's line, currency, address, amount, expected fee and reference (names and notes do not
// move money and are left out). A run recomputes it from the stored rows, so an approval
// does not cover rows changed behind its back.
func Digest(rows []Row, fees []decimal.Decimal) string {
	h := sha256.New()
	fmt.Fprintln(h, "nordpay-jobs payout digest v1")
	for _, t := range Totals(rows, fees) {
		fmt.Fprintf(h, "total %s %d %s %s\n", strconv.Quote(t.Currency), t.Rows, t.Amount.String(), t.ExpectedFee.String())
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rows[order[a]].Line < rows[order[b]].Line })
	for _, i := range order {
		r := rows[i]
		fee := decimal.Zero
		if i < len(fees) {
			fee = fees[i]
		}
		fmt.Fprintf(h, "row %d %s %s %s %s %s\n", r.Line, strconv.Quote(r.Currency), strconv.Quote(r.Address),
			r.Amount.String(), fee.String(), strconv.Quote(r.Reference))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loadRows reads every row of a batch, in line order.
func loadRows(ctx context.Context, q sqlx.QueryerContext, batch string) ([]storedRow, error) {
	return queryRows(ctx, q, fmt.Sprintf("payouts: batch %s", batch), "read the rows", `
		SELECT line, currency, address, amount::text, expected_fee::text, reference, name, note
		FROM payout_rows
		WHERE batch_id = $1
		ORDER BY line`, batch)
}

// queryRows runs query, which selects the columns scanRow reads, and collects its rows.
// who starts every error ("payouts: batch X"); doing says what failed ("read the rows").
func queryRows(ctx context.Context, q sqlx.QueryerContext, who, doing, query string, args ...any) ([]storedRow, error) {
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: unable to %s: %w", who, doing, err)
	}
	defer rows.Close()
	var out []storedRow
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", who, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: unable to %s: %w", who, doing, err)
	}
	return out, nil
}

func scanRow(sc scanner) (storedRow, error) {
	var r storedRow
	var amount, fee string
	if err := sc.Scan(&r.Line, &r.Currency, &r.Address, &amount, &fee, &r.Reference, &r.Name, &r.Note); err != nil {
		return r, fmt.Errorf("unable to read a row: %w", err)
	}
	var err error
	if r.Amount, err = decimal.NewFromString(amount); err != nil {
		return r, fmt.Errorf("row %d: amount %q: %w", r.Line, amount, err)
	}
	if r.ExpectedFee, err = decimal.NewFromString(fee); err != nil {
		return r, fmt.Errorf("row %d: expected fee %q: %w", r.Line, fee, err)
	}
	return r, nil
}

// digestOf recomputes the digest of stored rows.
func digestOf(rows []storedRow) string {
	plain, fees := splitRows(rows)
	return Digest(plain, fees)
}

func splitRows(rows []storedRow) ([]Row, []decimal.Decimal) {
	plain := make([]Row, len(rows))
	fees := make([]decimal.Decimal, len(rows))
	for i, r := range rows {
		plain[i], fees[i] = r.Row, r.ExpectedFee
	}
	return plain, fees
}

// chunkColumns are read by scanChunk, in order.
const chunkColumns = `batch_id, n, currency, state, row_count, amount::text, expected_fee::text, quote,
	requests, confirm_sent_at, coalesce(withdrawal_id, ''), reason, coalesce(resolved_by, ''), created_at, updated_at`

func scanChunk(sc scanner) (*Chunk, error) {
	var c Chunk
	var amount, fee string
	var quote []byte
	var sent sql.NullTime
	if err := sc.Scan(&c.Batch, &c.N, &c.Currency, &c.State, &c.Rows, &amount, &fee, &quote, &c.Requests, &sent,
		&c.WithdrawalID, &c.Reason, &c.ResolvedBy, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	var err error
	if c.Amount, err = decimal.NewFromString(amount); err != nil {
		return nil, fmt.Errorf("chunk %s/%d: amount %q: %w", c.Batch, c.N, amount, err)
	}
	if c.ExpectedFee, err = decimal.NewFromString(fee); err != nil {
		return nil, fmt.Errorf("chunk %s/%d: expected fee %q: %w", c.Batch, c.N, fee, err)
	}
	if len(quote) > 0 {
		var q nordpay.MultiWithdrawQuote
		if err := nordpay.Unmarshal(quote, &q); err != nil {
			return nil, fmt.Errorf("chunk %s/%d: stored quote: %w", c.Batch, c.N, err)
		}
		c.Quote = &q
	}
	if sent.Valid {
		c.ConfirmSentAt = sent.Time.UTC()
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

// loadChunks reads a batch's chunks in order.
func loadChunks(ctx context.Context, q sqlx.QueryerContext, batch string) ([]*Chunk, error) {
	rows, err := q.QueryxContext(ctx, `SELECT `+chunkColumns+` FROM payout_chunks WHERE batch_id = $1 ORDER BY n`, batch)
	if err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read the chunks: %w", batch, err)
	}
	defer rows.Close()
	var out []*Chunk
	for rows.Next() {
		c, err := scanChunk(rows)
		if err != nil {
			return nil, fmt.Errorf("payouts: batch %s: unable to read a chunk: %w", batch, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read the chunks: %w", batch, err)
	}
	return out, nil
}

// getChunk reads one chunk; lock takes a row lock in the caller's transaction.
func getChunk(ctx context.Context, q sqlx.QueryerContext, batch string, n int, lock bool) (*Chunk, error) {
	query := `SELECT ` + chunkColumns + ` FROM payout_chunks WHERE batch_id = $1 AND n = $2`
	if lock {
		query += ` FOR UPDATE`
	}
	c, err := scanChunk(q.QueryRowxContext(ctx, query, batch, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: batch %s has no chunk %d", ErrChunkState, batch, n)
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: chunk %s/%d: unable to read it: %w", batch, n, err)
	}
	return c, nil
}

// chunkRows reads the rows a chunk sends, in request order.
func chunkRows(ctx context.Context, q sqlx.QueryerContext, batch string, n int) ([]storedRow, error) {
	return queryRows(ctx, q, fmt.Sprintf("payouts: chunk %s/%d", batch, n), "read its rows", `
		SELECT r.line, r.currency, r.address, r.amount::text, r.expected_fee::text, r.reference, r.name, r.note
		FROM payout_chunk_rows cr
		JOIN payout_rows r ON r.batch_id = cr.batch_id AND r.line = cr.line
		WHERE cr.batch_id = $1 AND cr.chunk_n = $2
		ORDER BY cr.position`, batch, n)
}

// moveChunk stores next, a changed copy of a chunk that was in state from, and audits the
// transition, in the caller's transaction. It fails with ErrChunkState when the chunk is no
// longer in from (someone else moved it): the caller must not make the remote call it was
// about to make.
func moveChunk(ctx context.Context, tx *sqlx.Tx, from ChunkState, next *Chunk, actor string, detail map[string]any) error {
	var quote, identifier any
	var qAmount, qFee, qExpires any
	if next.Quote != nil {
		raw, err := nordpay.Marshal(next.Quote)
		if err != nil {
			return fmt.Errorf("payouts: chunk %s/%d: encoding the quote: %w", next.Batch, next.N, err)
		}
		quote, identifier = string(raw), next.Quote.Identifier
		qAmount, qFee, qExpires = next.Quote.Amount.String(), next.Quote.ServiceFee.String(), next.Quote.ExpiresAt.UTC()
	}
	var sent, resolvedBy, withdrawal any
	if !next.ConfirmSentAt.IsZero() {
		sent = next.ConfirmSentAt.UTC()
	}
	if next.ResolvedBy != "" {
		resolvedBy = next.ResolvedBy
	}
	if next.WithdrawalID != "" {
		withdrawal = next.WithdrawalID
	}
	res, err := tx.ExecContext(ctx, `
		UPDATE payout_chunks
		SET state = $3, identifier = $4, quote_amount = $5, quote_fee = $6, quote_expires_at = $7,
		    quote = $8, requests = $9, confirm_sent_at = $10, withdrawal_id = $11, reason = $12,
		    resolved_by = $13, updated_at = $14
		WHERE batch_id = $1 AND n = $2 AND state = $15`,
		next.Batch, next.N, string(next.State), identifier, qAmount, qFee, qExpires, quote, next.Requests,
		sent, withdrawal, next.Reason, resolvedBy, next.UpdatedAt.UTC(), string(from))
	if err != nil {
		return fmt.Errorf("payouts: chunk %s/%d: unable to move it from %s to %s: %w", next.Batch, next.N, from, next.State, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("payouts: chunk %s/%d: %w", next.Batch, next.N, err)
	} else if n != 1 {
		return fmt.Errorf("%w: chunk %s/%d is no longer %s", ErrChunkState, next.Batch, next.N, from)
	}
	d := map[string]any{"from": string(from), "to": string(next.State)}
	if next.Reason != "" {
		d["reason"] = next.Reason
	}
	if id := next.Identifier(); id != "" {
		d["identifier"] = id
	}
	for k, v := range detail {
		d[k] = v
	}
	return audit(ctx, tx, next.UpdatedAt, actor, string(from)+" -> "+string(next.State), next.Batch, next.N, d)
}

// lockBatch takes the batch's session advisory lock on a connection of its own, so that two
// `payouts run` of one batch cannot overlap; a process that dies releases it with its
// connection. The chunk transitions are compare-and-set as well, so the lock is a second
// guard, not the only one. unlock releases it and the connection.
func (s *Store) lockBatch(ctx context.Context, batch string) (unlock func() error, err error) {
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to get a connection for the run lock: %w", batch, err)
	}
	key := lockKey(batch)
	var got bool
	if err := conn.QueryRowxContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return nil, errors.Join(fmt.Errorf("payouts: batch %s: unable to take the run lock: %w", batch, err), conn.Close())
	}
	if !got {
		return nil, errors.Join(fmt.Errorf("%w: batch %s", ErrBusy, batch), conn.Close())
	}
	return func() error {
		// A fresh context: the run's may be cancelled, and the lock must go either way.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// The session must end, or the pooled connection would keep the lock: a bad
			// connection is closed instead of going back to the pool.
			rawErr := conn.Raw(func(any) error { return driver.ErrBadConn })
			if errors.Is(rawErr, driver.ErrBadConn) {
				rawErr = nil
			}
			return errors.Join(fmt.Errorf("payouts: batch %s: unable to release the run lock, closing its connection: %w", batch, err),
				rawErr, conn.Close())
		}
		return conn.Close()
	}, nil
}

// lockKey maps a batch id to the advisory lock key of its runs.
func lockKey(batch string) int64 {
	h := fnv.New64a()
	h.Write([]byte("nordpay-jobs payouts run " + batch))
	return int64(h.Sum64())
}

// Person folds a person's name for comparison, as the database's payouts_person does:
// "Alice  Smith" and "alice smith" are one person.
func Person(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}

// isConstraint reports whether err is a violation of the named constraint or index.
func isConstraint(err error, name string) bool {
	e := pq.As(err, pqerror.UniqueViolation)
	return e != nil && e.Constraint == name
}

// dbRefusal returns the message of a trigger's refusal (check or restrict violation), or "".
func dbRefusal(err error) string {
	if e := pq.As(err, pqerror.CheckViolation, pqerror.RestrictViolation); e != nil {
		return e.Message
	}
	return ""
}
