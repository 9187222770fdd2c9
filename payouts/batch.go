package payouts

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
)

// Policy is the rules a batch is approved and paid under; the config's payouts section fills
// it. Zero values take the defaults they name.
type Policy struct {
	// Approvers is how many distinct people, none of them the importer, must approve a
	// batch. Defaults to 1.
	Approvers int
	// Thresholds ask for more approvers when a batch's total in a currency is above an amount.
	Thresholds []Threshold
	// ApprovalTTL is how long an approval stays valid. Defaults to 24 hours.
	ApprovalTTL time.Duration
	// RowsPerRequest caps the rows of one chunk (one multiple-withdraw request). Defaults to 100.
	RowsPerRequest int
	// Fees are the expected withdrawal fees per currency: what validation shows before
	// approval, and what a quote's fee must be near. A currency without one has an expected
	// fee of zero and no "near the expected fee" check (the ceilings still apply).
	Fees map[string]Fee
	// FeeCeiling caps the quoted fee of one chunk per currency, in that currency; a currency
	// absent here has no absolute cap.
	FeeCeiling map[string]decimal.Decimal
	// FeeCeilingPercent caps the quoted fee of one chunk as a percentage of its amount.
	// Defaults to 5 (percent).
	FeeCeilingPercent decimal.Decimal
	// FeeTolerancePercent is how far (either way) a quoted fee may be from the expected fee,
	// as a percentage of the expected fee. Defaults to 10 (percent).
	FeeTolerancePercent decimal.Decimal
	// FeeTolerance adds an absolute slack per currency to FeeTolerancePercent.
	FeeTolerance map[string]decimal.Decimal
	// MinQuoteLifetime is how much validity a quote must have left to be confirmed: a
	// confirm must not race the quote's expiry. Defaults to 30 seconds.
	MinQuoteLifetime time.Duration
	// MaxRequests bounds how many times one run requests a chunk's quote (a quote that keeps
	// expiring). Defaults to 3.
	MaxRequests int
}

// Threshold asks for Approvers approvals of a batch whose total in Currency is above Above.
type Threshold struct {
	Currency  string
	Above     decimal.Decimal
	Approvers int
}

// Fee is an expected withdrawal fee: Fixed per row plus Percent of the row's amount,
// rounded to the currency's decimals.
type Fee struct {
	Fixed   decimal.Decimal
	Percent decimal.Decimal
}

// DefaultPolicy returns the policy with every default.
func DefaultPolicy() Policy { return Policy{}.withDefaults() }

func (p Policy) withDefaults() Policy {
	if p.Approvers <= 0 {
		p.Approvers = 1
	}
	if p.ApprovalTTL <= 0 {
		p.ApprovalTTL = 24 * time.Hour
	}
	if p.RowsPerRequest <= 0 {
		p.RowsPerRequest = 100
	}
	if p.FeeCeilingPercent.IsZero() {
		p.FeeCeilingPercent = decimal.NewFromInt(5)
	}
	if p.FeeTolerancePercent.IsZero() {
		p.FeeTolerancePercent = decimal.NewFromInt(10)
	}
	if p.MinQuoteLifetime <= 0 {
		p.MinQuoteLifetime = 30 * time.Second
	}
	if p.MaxRequests <= 0 {
		p.MaxRequests = 3
	}
	return p
}

// RequiredApprovers is how many approvals a batch with these control totals needs: Approvers,
// or more when a threshold is crossed.
func (p Policy) RequiredApprovers(totals []Total) int {
	p = p.withDefaults()
	n := p.Approvers
	for _, th := range p.Thresholds {
		for _, t := range totals {
			if t.Currency == th.Currency && t.Amount.GreaterThan(th.Above) && th.Approvers > n {
				n = th.Approvers
			}
		}
	}
	return n
}

// ExpectedFee returns the fee expected for paying amount in currency, rounded to decimals
// places (no rounding when decimals is negative), and whether the policy knows the fee.
func (p Policy) ExpectedFee(currency string, amount decimal.Decimal, decimals int) (decimal.Decimal, bool) {
	f, ok := p.Fees[currency]
	if !ok {
		return decimal.Zero, false
	}
	fee := f.Fixed.Add(amount.Mul(f.Percent).Shift(-2))
	if decimals >= 0 {
		fee = fee.Round(int32(decimals))
	}
	return fee, true
}

// ExpectedFeeFunc is ExpectedFee in the shape ValidationEnv and ImportRequest take, rounding
// to the decimals of Nord PAY's currencies.
func (p Policy) ExpectedFeeFunc(currencies map[string]nordpay.Currency) func(string, decimal.Decimal) decimal.Decimal {
	return func(currency string, amount decimal.Decimal) decimal.Decimal {
		decimals := -1
		if c, ok := currencies[currency]; ok {
			decimals = c.Decimals
		}
		fee, _ := p.ExpectedFee(currency, amount, decimals)
		return fee
	}
}

// ImportRequest is a parsed and validated sheet to keep as a batch.
type ImportRequest struct {
	Sheet *Sheet
	// Errors are the sheet's problems, from reading and from validation; any of them makes
	// the batch rejected (kept for the record, never payable).
	Errors []RowError
	// By names the importer, who may not approve the batch.
	By string
	// Force imports a sheet that was imported before.
	Force bool
	// AllowRepeat accepts rows that repeat rows of other batches (see PaidRecently). Without
	// it, Import checks that again under a lock, as the database stands at the import, and
	// refuses repeats with a *RepeatError: two sheets with the same rows imported at the
	// same time, each validated before the other was imported, cannot both be kept.
	AllowRepeat bool
	// ExpectedFee is the fee expected for each row; nil means zero.
	ExpectedFee func(currency string, amount decimal.Decimal) decimal.Decimal
}

// DuplicateSheetError refuses a sheet imported before; it matches ErrDuplicateSheet.
type DuplicateSheetError struct {
	// Existing is the earlier batch of the same sheet.
	Existing *Batch
}

// Error names the earlier batch and the way out.
func (e *DuplicateSheetError) Error() string {
	b := e.Existing
	return fmt.Sprintf("payouts: this sheet (SHA-256 %s) was already imported as batch %s by %s on %s; pass --force to import it again",
		short(b.SheetSHA256), b.ID, b.ImportedBy, b.CreatedAt.Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrDuplicateSheet) true.
func (e *DuplicateSheetError) Unwrap() error { return ErrDuplicateSheet }

// short abbreviates a hex hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// FindSheet returns the first batch (not rejected) of the sheet with this SHA-256, or nil.
func (s *Store) FindSheet(ctx context.Context, sha string) (*Batch, error) {
	b, err := scanBatch(s.db.QueryRowxContext(ctx, `
		SELECT `+batchColumns+`
		FROM payout_batches
		WHERE sheet_sha256 = $1 AND state <> 'rejected'
		ORDER BY created_at, id
		LIMIT 1`, sha))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: unable to look for an earlier import of sheet %s: %w", short(sha), err)
	}
	return b, nil
}

// newBatchID is a date and six random hex digits: short enough to type, hard to mistype into
// another batch's id.
func newBatchID(now time.Time) (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("payouts: unable to draw a batch id: %w", err)
	}
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:]), nil
}

// Import keeps a sheet as a new batch: its rows (COPY'd), control totals and digest, in one
// transaction, audited. A sheet with errors becomes a rejected batch without rows. The same
// sheet (by SHA-256) is refused with a *DuplicateSheetError unless req.Force.
func (s *Store) Import(ctx context.Context, req ImportRequest) (*Batch, error) {
	sh := req.Sheet
	if sh == nil {
		return nil, errors.New("payouts: import: no sheet")
	}
	if Person(req.By) == "" {
		return nil, errors.New("payouts: import: the importer's name is required (--by)")
	}
	if len(sh.SHA256) != 64 {
		return nil, fmt.Errorf("payouts: import of %s: the sheet has no SHA-256", sh.Name)
	}
	if sh.Format != "xlsx" && sh.Format != "csv" {
		return nil, fmt.Errorf("payouts: import of %s: unknown format %q", sh.Name, sh.Format)
	}
	now := s.now()
	fees := make([]decimal.Decimal, len(sh.Rows))
	if req.ExpectedFee != nil {
		for i, r := range sh.Rows {
			fees[i] = req.ExpectedFee(r.Currency, r.Amount)
		}
	}
	b := &Batch{
		SheetSHA256: sh.SHA256,
		FileName:    sh.Name,
		Format:      sh.Format,
		ImportedBy:  strings.TrimSpace(req.By),
		CreatedAt:   now,
		State:       BatchImported,
		Rows:        len(sh.Rows),
		Errors:      len(req.Errors),
		Totals:      Totals(sh.Rows, fees),
		Digest:      Digest(sh.Rows, fees),
	}
	if b.Errors > 0 {
		b.State = BatchRejected
	}
	totals, err := encodeTotals(b.Totals)
	if err != nil {
		return nil, fmt.Errorf("payouts: import of %s: encoding the totals: %w", sh.Name, err)
	}
	var dup *Batch
	var repeatRows int
	for attempt := 0; ; attempt++ {
		if b.ID, err = newBatchID(now); err != nil {
			return nil, err
		}
		dup = nil
		err = s.inTx(ctx, "import of "+sh.Name, func(tx *sqlx.Tx) error {
			if b.State != BatchRejected {
				earlier, err := scanBatch(tx.QueryRowxContext(ctx, `
					SELECT `+batchColumns+`
					FROM payout_batches
					WHERE sheet_sha256 = $1 AND state <> 'rejected'
					ORDER BY created_at, id
					LIMIT 1`, sh.SHA256))
				switch {
				case errors.Is(err, sql.ErrNoRows):
				case err != nil:
					return fmt.Errorf("payouts: import of %s: unable to look for an earlier import: %w", sh.Name, err)
				case !req.Force:
					dup = earlier
					return audit(ctx, tx, now, b.ImportedBy, "import refused", earlier.ID, 0, map[string]any{
						"reason": "the same sheet was imported before; --force not given", "file": sh.Name,
						"sheet_sha256": sh.SHA256,
					})
				default:
					b.Forced = true
				}
				if !req.AllowRepeat {
					if err := checkRepeats(ctx, tx, sh, now); err != nil {
						return err
					}
				} else if repeatRows, err = countRepeats(ctx, tx, sh, now); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `
				INSERT INTO payout_batches (id, sheet_sha256, file_name, format, imported_by, created_at, state,
				                            forced, row_count, error_count, control_totals, control_digest, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $6)`,
				b.ID, b.SheetSHA256, b.FileName, b.Format, b.ImportedBy, now, string(b.State), b.Forced,
				b.Rows, b.Errors, totals, b.Digest)
			if err != nil {
				return err
			}
			if b.State != BatchRejected {
				if err := copyRows(ctx, tx, b.ID, sh.Rows, fees); err != nil {
					return err
				}
			}
			detail := map[string]any{
				"file": sh.Name, "format": sh.Format, "sheet_sha256": sh.SHA256, "rows": b.Rows,
				"errors": b.Errors, "control_digest": b.Digest, "totals": b.Totals, "forced": b.Forced,
				"allow_repeat": req.AllowRepeat,
			}
			if req.AllowRepeat && b.State != BatchRejected {
				// What --allow-repeat let through, for the approvers (payouts approve, status).
				detail["repeat_rows"] = repeatRows
			}
			action := "imported"
			if b.State == BatchRejected {
				action = "import rejected"
				if len(req.Errors) > 0 {
					first := req.Errors[:min(len(req.Errors), 10)]
					detail["first_errors"] = first
				}
			}
			return audit(ctx, tx, now, b.ImportedBy, action, b.ID, 0, detail)
		})
		if err == nil || attempt >= 3 || !isConstraint(err, "payout_batches_pkey") {
			break
		}
	}
	switch {
	case isConstraint(err, "payout_batches_sheet_once"):
		// Imported concurrently by someone else.
		earlier, ferr := s.FindSheet(ctx, sh.SHA256)
		if ferr != nil || earlier == nil {
			return nil, errors.Join(fmt.Errorf("%w: sheet %s", ErrDuplicateSheet, short(sh.SHA256)), ferr)
		}
		return nil, &DuplicateSheetError{Existing: earlier}
	case err != nil:
		if msg := dbRefusal(err); msg != "" {
			return nil, fmt.Errorf("payouts: import of %s: the database refused it: %s", sh.Name, msg)
		}
		if strings.HasPrefix(err.Error(), "payouts:") {
			return nil, err
		}
		return nil, fmt.Errorf("payouts: import of %s: %w", sh.Name, err)
	case dup != nil:
		return nil, &DuplicateSheetError{Existing: dup}
	}
	return b, nil
}

// copyRows COPYs a batch's rows in.
func copyRows(ctx context.Context, tx *sqlx.Tx, batch string, rows []Row, fees []decimal.Decimal) error {
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("payout_rows",
		"batch_id", "line", "currency", "address", "amount", "expected_fee", "reference", "name", "note"))
	if err != nil {
		return fmt.Errorf("payouts: batch %s: unable to start copying the rows: %w", batch, err)
	}
	for i, r := range rows {
		if _, err := stmt.ExecContext(ctx, batch, r.Line, r.Currency, r.Address, r.Amount.String(), fees[i].String(),
			r.Reference, r.Name, r.Note); err != nil {
			return errors.Join(fmt.Errorf("payouts: batch %s: row %d: unable to copy it: %w", batch, r.Line, err), stmt.Close())
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return errors.Join(fmt.Errorf("payouts: batch %s: unable to copy the rows: %w", batch, err), stmt.Close())
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("payouts: batch %s: unable to finish copying the rows: %w", batch, err)
	}
	return nil
}

// ApproveOptions refine an approval.
type ApproveOptions struct {
	// SheetSHA256, when set, is the hash of the file the approver reviewed: the approval is
	// refused unless it is the imported sheet.
	SheetSHA256 string
}

// ApprovalError refuses an approval and says why; it matches ErrApprovalRefused.
type ApprovalError struct {
	Batch  string
	Reason string
}

// Error names the batch and the reason.
func (e *ApprovalError) Error() string {
	return fmt.Sprintf("payouts: batch %s: approval refused: %s", e.Batch, e.Reason)
}

// Unwrap makes errors.Is(err, ErrApprovalRefused) true.
func (e *ApprovalError) Unwrap() error { return ErrApprovalRefused }

// Approve records by's approval of a batch, bound to the batch's sheet hash and to the digest
// of its control totals and rows as they are now, valid for Policy.ApprovalTTL. It is refused
// (an *ApprovalError, audited) for the importer, for a second valid approval by the same
// person, for a sheet other than the imported one, and when the stored rows no longer match
// the digest taken at import.
func (s *Store) Approve(ctx context.Context, batch, by string, opts ApproveOptions) (*BatchStatus, error) {
	now := s.now()
	var refused *ApprovalError
	var st *BatchStatus
	err := s.inTx(ctx, "approval of batch "+batch, func(tx *sqlx.Tx) error {
		b, err := getBatch(ctx, tx, batch, true)
		if err != nil {
			return err
		}
		refuse := func(reason string) error {
			refused = &ApprovalError{Batch: batch, Reason: reason}
			return audit(ctx, tx, now, orUnnamed(by), "approval refused", batch, 0, map[string]any{"reason": reason})
		}
		switch {
		case b.State == BatchRejected:
			return fmt.Errorf("%w: batch %s has %d error(s) and cannot be approved; fix the sheet and import it again", ErrRejected, batch, b.Errors)
		case Person(by) == "":
			return refuse("the approver's name is required (--by)")
		case Person(by) == Person(b.ImportedBy):
			return refuse(fmt.Sprintf("%s imported it; someone else must approve it", strings.TrimSpace(by)))
		case opts.SheetSHA256 != "" && !strings.EqualFold(opts.SheetSHA256, b.SheetSHA256):
			return refuse(fmt.Sprintf("the sheet reviewed (SHA-256 %s) is not the one imported (SHA-256 %s)", short(strings.ToLower(opts.SheetSHA256)), short(b.SheetSHA256)))
		}
		rows, err := loadRows(ctx, tx, batch)
		if err != nil {
			return err
		}
		if d := digestOf(rows); d != b.Digest {
			return refuse(fmt.Sprintf("the rows changed since the import (digest %s, imported %s)", short(d), short(b.Digest)))
		}
		st, err = status(ctx, tx, b, now)
		if err != nil {
			return err
		}
		st.derive(s.policy, now)
		if st.State == BatchPaid {
			return refuse("every row is paid already")
		}
		for _, a := range st.Approvals {
			if Person(a.Approver) == Person(by) && a.ExpiresAt.After(now) {
				return refuse(fmt.Sprintf("%s approved it already, valid until %s", a.Approver, a.ExpiresAt.Format(time.RFC3339)))
			}
		}
		// --by is not authenticated: say so when the importer's OS account approves too. One
		// finance laptop may be shared, so this warns (and is audited) but does not refuse.
		var warnings []string
		imp, err := importRecord(ctx, tx, batch)
		if err != nil {
			return err
		}
		if acct := CurrentAccount(ctx); imp != nil && acct.Known() && imp.Account == acct {
			warnings = append(warnings, fmt.Sprintf("imported and approved from the same OS account %s: the approvals are only as separate as the names typed", acct))
		}
		a := Approval{Approver: strings.TrimSpace(by), ApprovedAt: now, ExpiresAt: now.Add(s.policy.ApprovalTTL),
			SheetSHA256: b.SheetSHA256, Digest: b.Digest}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO payout_approvals (batch_id, approver, approved_at, expires_at, sheet_sha256, control_digest)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			batch, a.Approver, a.ApprovedAt, a.ExpiresAt, a.SheetSHA256, a.Digest)
		if err != nil {
			if msg := dbRefusal(err); msg != "" {
				return refuse(msg)
			}
			return fmt.Errorf("payouts: batch %s: unable to record the approval: %w", batch, err)
		}
		detail := map[string]any{
			"expires_at": a.ExpiresAt, "sheet_sha256": a.SheetSHA256, "control_digest": a.Digest, "totals": b.Totals,
		}
		if len(warnings) > 0 {
			detail["warnings"] = warnings
		}
		if err := audit(ctx, tx, now, a.Approver, "approved", batch, 0, detail); err != nil {
			return err
		}
		st, err = s.refresh(ctx, tx, batch, now)
		if st != nil {
			st.Warnings = warnings
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return st, nil
}

func orUnnamed(by string) string {
	if strings.TrimSpace(by) == "" {
		return "(unnamed)"
	}
	return strings.TrimSpace(by)
}

// BatchStatus is a batch as it stands now: its derived state, approvals and chunks.
type BatchStatus struct {
	Batch *Batch
	// State is derived now from the sheet, the approvals and the chunks.
	State     BatchState
	Approvals []Approval
	// RequiredApprovers is what Policy asks of this batch; ValidApprovers are the distinct
	// people whose approval is valid now; ApprovedUntil is when the batch stops being
	// approved (zero when it is not).
	RequiredApprovers int
	ValidApprovers    []string
	ApprovedUntil     time.Time
	Chunks            []*Chunk
	// RowsPaid counts rows in confirmed chunks; RowsUnknown rows in unknown chunks.
	RowsPaid, RowsUnknown int
	// Warnings are what Approve found worth telling the approver without refusing (the
	// importer's OS account approving too); they are in the approval's audit line.
	Warnings []string
}

// Approved reports whether the batch has enough valid approvals now.
func (st *BatchStatus) Approved() bool { return len(st.ValidApprovers) >= st.RequiredApprovers }

// NeedsPerson lists the chunks whose outcome is unknown: a person must find out whether
// they were paid and run `payouts resolve`.
func (st *BatchStatus) NeedsPerson() []*Chunk {
	var out []*Chunk
	for _, c := range st.Chunks {
		if c.State == ChunkUnknown {
			out = append(out, c)
		}
	}
	return out
}

// status derives a batch's status at now.
func status(ctx context.Context, q sqlx.QueryerContext, b *Batch, now time.Time) (*BatchStatus, error) {
	st := &BatchStatus{Batch: b, RequiredApprovers: DefaultPolicy().Approvers}
	rows, err := q.QueryxContext(ctx, `
		SELECT approver, approved_at, expires_at, sheet_sha256, control_digest
		FROM payout_approvals
		WHERE batch_id = $1
		ORDER BY approved_at, id`, b.ID)
	if err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read the approvals: %w", b.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Approval
		if err := rows.Scan(&a.Approver, &a.ApprovedAt, &a.ExpiresAt, &a.SheetSHA256, &a.Digest); err != nil {
			return nil, fmt.Errorf("payouts: batch %s: unable to read an approval: %w", b.ID, err)
		}
		a.ApprovedAt, a.ExpiresAt = a.ApprovedAt.UTC(), a.ExpiresAt.UTC()
		st.Approvals = append(st.Approvals, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to read the approvals: %w", b.ID, err)
	}
	if st.Chunks, err = loadChunks(ctx, q, b.ID); err != nil {
		return nil, err
	}
	counts, err := q.QueryxContext(ctx, `
		SELECT c.state, count(*)
		FROM payout_chunk_rows cr
		JOIN payout_chunks c ON c.batch_id = cr.batch_id AND c.n = cr.chunk_n
		WHERE cr.batch_id = $1 AND NOT cr.released AND c.state IN ('confirmed', 'unknown')
		GROUP BY c.state`, b.ID)
	if err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to count paid rows: %w", b.ID, err)
	}
	defer counts.Close()
	for counts.Next() {
		var state ChunkState
		var n int
		if err := counts.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("payouts: batch %s: unable to count paid rows: %w", b.ID, err)
		}
		if state == ChunkConfirmed {
			st.RowsPaid = n
		} else {
			st.RowsUnknown = n
		}
	}
	if err := counts.Err(); err != nil {
		return nil, fmt.Errorf("payouts: batch %s: unable to count paid rows: %w", b.ID, err)
	}
	return st, nil
}

// derive fills the approval summary and State from the policy at now.
func (st *BatchStatus) derive(p Policy, now time.Time) {
	st.RequiredApprovers = p.RequiredApprovers(st.Batch.Totals)
	latest := map[string]Approval{}
	for _, a := range st.Approvals {
		if a.SheetSHA256 != st.Batch.SheetSHA256 || a.Digest != st.Batch.Digest || !a.ExpiresAt.After(now) ||
			Person(a.Approver) == Person(st.Batch.ImportedBy) {
			continue
		}
		if prev, ok := latest[Person(a.Approver)]; !ok || a.ExpiresAt.After(prev.ExpiresAt) {
			latest[Person(a.Approver)] = a
		}
	}
	valid := make([]Approval, 0, len(latest))
	for _, a := range latest {
		valid = append(valid, a)
	}
	sort.Slice(valid, func(i, j int) bool { return valid[i].ExpiresAt.After(valid[j].ExpiresAt) })
	st.ValidApprovers = st.ValidApprovers[:0]
	for _, a := range valid {
		st.ValidApprovers = append(st.ValidApprovers, a.Approver)
	}
	sort.Strings(st.ValidApprovers)
	st.ApprovedUntil = time.Time{}
	if len(valid) >= st.RequiredApprovers {
		st.ApprovedUntil = valid[st.RequiredApprovers-1].ExpiresAt
	}
	st.State = deriveState(st)
}

func deriveState(st *BatchStatus) BatchState {
	if st.Batch.State == BatchRejected {
		return BatchRejected
	}
	open := false
	for _, c := range st.Chunks {
		switch c.State {
		case ChunkUnknown:
			return BatchAttention
		case ChunkPlanned, ChunkRequested, ChunkConfirming:
			open = true
		}
	}
	switch {
	case open:
		return BatchRunning
	case st.Batch.Rows > 0 && st.RowsPaid == st.Batch.Rows:
		return BatchPaid
	case len(st.Chunks) > 0:
		return BatchPartial
	case st.Approved():
		return BatchApproved
	}
	return BatchImported
}

// storeState writes the derived state to the batch row when it changed.
func storeState(ctx context.Context, tx *sqlx.Tx, st *BatchStatus, now time.Time) error {
	if st.State == st.Batch.State {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE payout_batches SET state = $2, updated_at = $3 WHERE id = $1`,
		st.Batch.ID, string(st.State), now); err != nil {
		return fmt.Errorf("payouts: batch %s: unable to store its state %s: %w", st.Batch.ID, st.State, err)
	}
	st.Batch.State = st.State
	return nil
}

// refresh re-derives and stores a batch's state in the caller's transaction.
func (s *Store) refresh(ctx context.Context, tx *sqlx.Tx, batch string, now time.Time) (*BatchStatus, error) {
	b, err := getBatch(ctx, tx, batch, false)
	if err != nil {
		return nil, err
	}
	st, err := status(ctx, tx, b, now)
	if err != nil {
		return nil, err
	}
	st.derive(s.policy, now)
	return st, storeState(ctx, tx, st, now)
}

// Status returns a batch as it stands now.
func (s *Store) Status(ctx context.Context, batch string) (*BatchStatus, error) {
	b, err := getBatch(ctx, s.db, batch, false)
	if err != nil {
		return nil, err
	}
	st, err := status(ctx, s.db, b, s.now())
	if err != nil {
		return nil, err
	}
	st.derive(s.policy, s.now())
	return st, nil
}

// List returns the status of every batch, newest first.
func (s *Store) List(ctx context.Context) ([]*BatchStatus, error) {
	var ids []string
	if err := sqlx.SelectContext(ctx, s.db, &ids, `SELECT id FROM payout_batches ORDER BY created_at DESC, id DESC`); err != nil {
		return nil, fmt.Errorf("payouts: unable to list the batches: %w", err)
	}
	out := make([]*BatchStatus, 0, len(ids))
	for _, id := range ids {
		st, err := s.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Outcome is what a person found out about a chunk whose outcome was unknown.
type Outcome string

// Outcomes of `payouts resolve`.
const (
	// OutcomePaid: the withdrawal went through; the chunk is confirmed and booked.
	OutcomePaid Outcome = "paid"
	// OutcomeFailed: nothing was paid; the rows are released and a new run pays them.
	OutcomeFailed Outcome = "failed"
)

// Resolve closes a chunk whose outcome is unknown, as a named person found out: paid books it
// to the ledger like a confirmed chunk; failed releases its rows for the next run. Anything
// but an unknown chunk is refused with ErrChunkState. A wrong "failed" pays the rows twice:
// resolve only with evidence from Nord PAY.
func (s *Store) Resolve(ctx context.Context, batch string, n int, outcome Outcome, by, note string) (*Chunk, error) {
	if Person(by) == "" {
		return nil, fmt.Errorf("payouts: chunk %s/%d: the name of who resolves it is required (--by)", batch, n)
	}
	if outcome != OutcomePaid && outcome != OutcomeFailed {
		return nil, fmt.Errorf("payouts: chunk %s/%d: outcome %q is neither paid nor failed", batch, n, outcome)
	}
	now := s.now()
	var next *Chunk
	err := s.inTx(ctx, fmt.Sprintf("resolution of chunk %s/%d", batch, n), func(tx *sqlx.Tx) error {
		if _, err := getBatch(ctx, tx, batch, false); err != nil {
			return err
		}
		c, err := getChunk(ctx, tx, batch, n, true)
		if err != nil {
			return err
		}
		if c.State != ChunkUnknown {
			return fmt.Errorf("%w: chunk %s/%d is %s; only an unknown outcome is resolved by hand", ErrChunkState, batch, n, c.State)
		}
		cp := *c
		next = &cp
		next.ResolvedBy = strings.TrimSpace(by)
		next.UpdatedAt = now
		next.Reason = fmt.Sprintf("resolved %s by %s", outcome, next.ResolvedBy)
		if note != "" {
			next.Reason += ": " + note
		}
		detail := map[string]any{"outcome": string(outcome), "note": note, "was": c.Reason}
		if outcome == OutcomePaid {
			next.State = ChunkConfirmed
			if err := moveChunk(ctx, tx, ChunkUnknown, next, next.ResolvedBy, detail); err != nil {
				return err
			}
			if err := s.book(ctx, tx, next, c.ConfirmSentAt); err != nil {
				return err
			}
		} else {
			next.State = ChunkFailed
			if err := moveChunk(ctx, tx, ChunkUnknown, next, next.ResolvedBy, detail); err != nil {
				return err
			}
		}
		_, err = s.refresh(ctx, tx, batch, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// book posts one withdrawal entry per row of a confirmed chunk, in the transaction that
// confirms it: Cr assets (amount), Dr payouts (amount - fee), Dr withdraw fees (fee), under
// the external id "<batch>/<reference>", with the USD values of the confirmed quote
// (quoteUSD), or none where the quote gives none.
func (s *Store) book(ctx context.Context, tx *sqlx.Tx, c *Chunk, at time.Time) error {
	if c.Quote == nil {
		return fmt.Errorf("payouts: chunk %s/%d: no quote to book", c.Batch, c.N)
	}
	rows, err := chunkRows(ctx, tx, c.Batch, c.N)
	if err != nil {
		return err
	}
	if len(rows) != len(c.Quote.AddressesAndAmounts) {
		return fmt.Errorf("payouts: chunk %s/%d: %d rows but %d quoted", c.Batch, c.N, len(rows), len(c.Quote.AddressesAndAmounts))
	}
	// Each row is booked with its own quoted fee, wherever the quote listed it.
	pairs, problem := pairQuote(rows, c.Quote.AddressesAndAmounts)
	if problem != "" {
		return fmt.Errorf("payouts: chunk %s/%d: the quote does not match its rows: %s", c.Batch, c.N, problem)
	}
	if at.IsZero() {
		at = s.now()
	}
	chart := s.ledger.Chart()
	amountsUSD, feesUSD := quoteUSD(c.Quote)
	for i, r := range rows {
		k := pairs[i]
		q := c.Quote.AddressesAndAmounts[k]
		w := ledger.Withdrawal{
			ExternalID:    c.Batch + "/" + r.Reference,
			Currency:      c.Currency,
			Address:       r.Address,
			Reference:     r.Reference,
			Amount:        r.Amount,
			ServiceFee:    q.ServiceFee,
			AmountUSD:     amountsUSD[k],
			ServiceFeeUSD: feesUSD[k],
			Identifier:    c.Quote.Identifier,
			At:            at,
		}
		if _, _, err := s.ledger.PostTx(ctx, tx, chart.WithdrawalEntry(w)); err != nil {
			return fmt.Errorf("payouts: chunk %s/%d: row %d (%s): unable to book it: %w", c.Batch, c.N, r.Line, r.Reference, err)
		}
	}
	return nil
}

// RepeatWindow is how far back the repeat check looks (issue 5: "paid in the last 30
// days"): the same address, amount and currency in a batch imported, or confirmed, within
// it needs --allow-repeat.
const RepeatWindow = 30 * 24 * time.Hour

// PaidRecently returns a check, in the shape ValidationEnv takes, of whether the same
// address, amount and currency was paid since a time, or may yet be: a row of a batch
// imported since then (unless rejected: approved or not, paid or not), a row of any batch
// that is not rejected and not paid, however old (it can still be approved and run), or a
// row whose confirm was sent since then (confirmed, or unknown: it may have been paid).
// Counting the unpaid batches too means that a sheet imported twice (--force), or a stale
// batch and its corrected copy, still need --allow-repeat to pay the same people twice. The
// set is read once, so a sheet of 100k rows costs one query.
func (s *Store) PaidRecently(ctx context.Context, since time.Time) (func(ctx context.Context, currency, address string, amount decimal.Decimal) (bool, error), error) {
	seen, err := recentPayees(ctx, s.db, since)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, currency, address string, amount decimal.Decimal) (bool, error) {
		_, ok := seen[payeeKey(currency, address, amount)]
		return ok, nil
	}, nil
}

// payeeRef names the row of another batch that a payee key was found in.
type payeeRef struct {
	batch string
	line  int
}

// recentPayees reads the payee keys PaidRecently describes, each with one row it is in.
func recentPayees(ctx context.Context, q sqlx.QueryerContext, since time.Time) (map[string]payeeRef, error) {
	rows, err := q.QueryxContext(ctx, `
		SELECT r.currency, r.address, r.amount::text, r.batch_id, r.line
		FROM payout_rows r
		JOIN payout_batches b ON b.id = r.batch_id
		WHERE b.state <> 'rejected' AND (b.created_at >= $1 OR b.state <> 'paid')
		UNION ALL
		SELECT r.currency, r.address, r.amount::text, r.batch_id, r.line
		FROM payout_chunks c
		JOIN payout_batches b ON b.id = c.batch_id
		JOIN payout_chunk_rows cr ON cr.batch_id = c.batch_id AND cr.chunk_n = c.n AND NOT cr.released
		JOIN payout_rows r ON r.batch_id = cr.batch_id AND r.line = cr.line
		WHERE c.state IN ('confirmed', 'unknown', 'confirming') AND c.confirm_sent_at >= $1
		  AND b.created_at < $1 AND b.state = 'paid'`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("payouts: unable to read recent payouts: %w", err)
	}
	defer rows.Close()
	seen := map[string]payeeRef{}
	for rows.Next() {
		var cur, addr, amount string
		var ref payeeRef
		if err := rows.Scan(&cur, &addr, &amount, &ref.batch, &ref.line); err != nil {
			return nil, fmt.Errorf("payouts: unable to read recent payouts: %w", err)
		}
		a, err := decimal.NewFromString(amount)
		if err != nil {
			return nil, fmt.Errorf("payouts: recent payout amount %q: %w", amount, err)
		}
		key := payeeKey(cur, addr, a)
		if _, ok := seen[key]; !ok {
			seen[key] = ref
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payouts: unable to read recent payouts: %w", err)
	}
	return seen, nil
}

// importLockKey is the transaction advisory lock that serialises the repeat check of
// imports: two sheets with the same row, imported at once, cannot both pass it.
var importLockKey = lockKey("\x00import")

// RepeatError refuses an import whose rows repeat rows of other batches (see PaidRecently)
// that were imported or paid after the sheet was validated; it matches ErrRepeat.
type RepeatError struct {
	File string
	// Errors name each repeated row, in the shape of Validate's errors.
	Errors []RowError
}

// Error names the file and the first rows.
func (e *RepeatError) Error() string {
	lines := make([]string, 0, 3)
	for _, r := range e.Errors[:min(len(e.Errors), 3)] {
		lines = append(lines, fmt.Sprint(r.Row))
	}
	more := ""
	if len(e.Errors) > 3 {
		more = fmt.Sprintf(" and %d more", len(e.Errors)-3)
	}
	return fmt.Sprintf("payouts: import of %s refused: row(s) %s%s repeat rows of other batches imported or paid within the last 30 days, or not paid yet; --allow-repeat accepts that",
		e.File, strings.Join(lines, ", "), more)
}

// Unwrap makes errors.Is(err, ErrRepeat) true.
func (e *RepeatError) Unwrap() error { return ErrRepeat }

// checkRepeats refuses, in the import's transaction, rows that repeat rows of other batches
// (PaidRecently's rule as the database stands now, under a lock that every such check takes):
// validation read PaidRecently before the import, and another import may have come since.
func checkRepeats(ctx context.Context, tx *sqlx.Tx, sh *Sheet, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, importLockKey); err != nil {
		return fmt.Errorf("payouts: import of %s: unable to take the import lock: %w", sh.Name, err)
	}
	seen, err := recentPayees(ctx, tx, now.Add(-RepeatWindow))
	if err != nil {
		return err
	}
	var errs []RowError
	for _, r := range sh.Rows {
		if ref, ok := seen[payeeKey(r.Currency, r.Address, r.Amount)]; ok {
			errs = append(errs, RowError{Row: r.Line, Message: fmt.Sprintf(
				"%s %s to this address is also on row %d of batch %s (imported or paid within the last 30 days, or not paid yet): a repeat needs --allow-repeat",
				r.Amount, r.Currency, ref.line, ref.batch)})
		}
	}
	if len(errs) > 0 {
		return &RepeatError{File: sh.Name, Errors: errs}
	}
	return nil
}

// countRepeats counts the rows of a sheet imported with --allow-repeat that the repeat check
// would have refused: the same address, amount and currency as a row of another batch
// (PaidRecently's rule) or as an earlier row of the sheet. It only informs the approvers.
func countRepeats(ctx context.Context, tx *sqlx.Tx, sh *Sheet, now time.Time) (int, error) {
	seen, err := recentPayees(ctx, tx, now.Add(-RepeatWindow))
	if err != nil {
		return 0, err
	}
	inSheet := make(map[string]bool, len(sh.Rows))
	n := 0
	for _, r := range sh.Rows {
		key := payeeKey(r.Currency, r.Address, r.Amount)
		if _, ok := seen[key]; ok || inSheet[key] {
			n++
		}
		inSheet[key] = true
	}
	return n, nil
}

// payeeKey identifies a payment by currency, address (hex and bech32 addresses compared
// without case, as addressKey does: "BC1Q..." and "bc1q..." are one address) and exact
// amount (10 and 10.00 are one amount).
func payeeKey(currency, address string, amount decimal.Decimal) string {
	return currency + "\x00" + addressKey(strings.TrimSpace(address)) + "\x00" + amount.String()
}
