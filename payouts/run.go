package payouts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

// Runner pays an approved batch through Nord PAY, chunk by chunk, so that no row is ever in
// two confirmed requests (ARCHITECTURE.md, Invariant 5):
//
//   - each chunk's state is committed before every remote call: planned before the request,
//     requested (with the quote) before the checks, confirming before the confirm;
//   - a chunk found confirming at start-up may have been confirmed by a process that died:
//     it becomes unknown;
//   - an unknown chunk keeps its rows (the database refuses them to any other chunk) and is
//     never requested again; a person closes it with Store.Resolve;
//   - the quote must match the approved rows exactly, its fee must be under the ceilings and
//     near the expected fee, the balance must cover it, and it must not be about to expire,
//     or the chunk fails without a confirm;
//   - a confirmed chunk is booked to the ledger in the transaction that marks it confirmed.
//
// One process runs a batch at a time (a session advisory lock per batch); the transitions
// are compare-and-set as well, so even without the lock two processes could not both send
// the confirm of one chunk.
type Runner struct {
	Store  *Store
	Client *nordpay.Client
	// Actor names who runs the batch in the audit log. Defaults to "nordpay-jobs run".
	Actor string
	// Logger gets a debug line per chunk transition, a warning per failed or unknown chunk
	// and per request sent again. Defaults to discarding.
	Logger *slog.Logger
	// OnChange, if set, is told each chunk transition once it is committed (for the command
	// line's progress lines).
	OnChange func(c *Chunk)
	// Sleep waits between attempts of a failed request. Defaults to a context-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error

	// hook is a test seam called after each committed transition; an error stops the run
	// there, as if the process had died.
	hook func(point string, c *Chunk) error
}

// RunOptions say how to run a batch.
type RunOptions struct {
	// DryRun checks the approvals and the balance and shows the requests a run would send,
	// and sends none: no quote is requested (a request is a POST to the payment API, and a
	// preview should not touch it), nothing is confirmed, nothing is written.
	DryRun bool
}

// PlannedRequest is what a run would send for one chunk (a dry run's output).
type PlannedRequest struct {
	// Chunk is the chunk's number: existing, or the one the run would create.
	Chunk int
	// Existing is true for a chunk already planned or requested by an earlier run.
	Existing    bool
	Lines       []int
	Request     nordpay.MultiWithdrawRequest
	Amount      decimal.Decimal
	ExpectedFee decimal.Decimal
}

// RunResult is what a run did (or, dry, would do).
type RunResult struct {
	Batch  string
	DryRun bool
	// State is the batch's state afterwards.
	State BatchState
	// Recovered are the chunks found confirming at start-up, now unknown.
	Recovered []int
	// Chunks are the batch's chunks afterwards.
	Chunks []*Chunk
	// Requests are what a dry run would send.
	Requests []PlannedRequest
	// Balances are Nord PAY's balances as a dry run read them.
	Balances map[string]decimal.Decimal
	// Problems say what stopped the run, or would stop it.
	Problems []string
}

// NotApprovedError says why a batch may not be run now; it matches ErrNotApproved.
type NotApprovedError struct {
	Batch  string
	Reason string
}

// Error names the batch and the reason.
func (e *NotApprovedError) Error() string {
	return fmt.Sprintf("payouts: batch %s is not approved: %s", e.Batch, e.Reason)
}

// Unwrap makes errors.Is(err, ErrNotApproved) true.
func (e *NotApprovedError) Unwrap() error { return ErrNotApproved }

// work is a run after the lock: recover, check the approvals, plan, and take the chunks
// through; an error stops it where it is.
func (r *Runner) work(ctx context.Context, b *Batch, res *RunResult) error {
	// A chunk left confirming is unknown whatever else is wrong (an expired approval, say):
	// recover it first, so that status shows it as needing a person.
	if err := r.recoverConfirming(ctx, b, res); err != nil {
		return err
	}
	until, err := r.approvedUntil(ctx, b)
	if err != nil {
		return err
	}
	if err := r.plan(ctx, b); err != nil {
		return err
	}
	chunks, err := loadChunks(ctx, r.Store.db, b.ID)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if c.State != ChunkPlanned && c.State != ChunkRequested {
			continue
		}
		if err := r.runChunk(ctx, b, c, until); err != nil {
			return err
		}
	}
	return nil
}

// expiredDuringRun says that the approvals stopped sufficing while the batch ran.
func expiredDuringRun(b *Batch, until time.Time) error {
	return &NotApprovedError{Batch: b.ID, Reason: "the approval expired at " + until.Format(time.RFC3339) + " during the run; approve it again and run again"}
}

func (r *Runner) actor() string {
	if r.Actor == "" {
		return "nordpay-jobs run"
	}
	return r.Actor
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Run pays the batch: recovers chunks left confirming, plans chunks for the rows that are in
// no live chunk, and takes every planned or requested chunk through request, checks and
// confirm. It stops at the first failure that would fail the next chunk too (the API
// unreachable, the approval expired, the database); the chunks keep their state and a new
// run continues. A chunk that fails its checks or ends unknown does not stop the others.
func (r *Runner) Run(ctx context.Context, batch string, opts RunOptions) (res *RunResult, err error) {
	s := r.Store
	res = &RunResult{Batch: batch, DryRun: opts.DryRun}
	if opts.DryRun {
		return r.dryRun(ctx, batch, res)
	}
	unlock, err := s.lockBatch(ctx, batch)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, unlock()) }()

	b, err := s.Batch(ctx, batch)
	if err != nil {
		return res, err
	}
	if b.State == BatchRejected {
		return res, fmt.Errorf("%w: batch %s has %d error(s) and cannot be run", ErrRejected, batch, b.Errors)
	}
	runErr := r.work(ctx, b, res)
	if runErr != nil {
		res.Problems = append(res.Problems, runErr.Error())
	}
	// The batch's state is derived afresh, whatever happened, on a context the caller's
	// cancellation does not cut short.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var st *BatchStatus
	serr := s.inTx(wctx, "batch "+batch+" state", func(tx *sqlx.Tx) error {
		var err error
		st, err = s.refresh(wctx, tx, batch, s.now())
		return err
	})
	if serr != nil {
		return res, errors.Join(runErr, serr)
	}
	res.State, res.Chunks = st.State, st.Chunks
	return res, runErr
}

// approvedUntil checks that the batch's rows are what was approved, and returns when the
// approvals stop sufficing; a *NotApprovedError says why they do not.
func (r *Runner) approvedUntil(ctx context.Context, b *Batch) (time.Time, error) {
	s := r.Store
	rows, err := loadRows(ctx, s.db, b.ID)
	if err != nil {
		return time.Time{}, err
	}
	if d := digestOf(rows); d != b.Digest {
		return time.Time{}, &NotApprovedError{Batch: b.ID, Reason: fmt.Sprintf(
			"its rows changed since the import and approval (digest now %s, approved %s); import the sheet again", short(d), short(b.Digest))}
	}
	plain, fees := splitRows(rows)
	if totals := Totals(plain, fees); !sameTotals(totals, b.Totals) {
		return time.Time{}, &NotApprovedError{Batch: b.ID, Reason: "its rows no longer add up to the approved control totals"}
	}
	st, err := status(ctx, s.db, b, s.now())
	if err != nil {
		return time.Time{}, err
	}
	now := s.now()
	st.derive(s.policy, now)
	if st.Approved() {
		return st.ApprovedUntil, nil
	}
	var why []string
	for _, a := range st.Approvals {
		switch {
		case a.SheetSHA256 != b.SheetSHA256 || a.Digest != b.Digest:
			why = append(why, a.Approver+"'s approval is bound to another sheet or other totals")
		case !a.ExpiresAt.After(now):
			why = append(why, a.Approver+"'s approval expired at "+a.ExpiresAt.Format(time.RFC3339))
		}
	}
	reason := fmt.Sprintf("%d of %d required approval(s) valid", len(st.ValidApprovers), st.RequiredApprovers)
	if len(why) > 0 {
		reason += " (" + strings.Join(why, "; ") + ")"
	}
	return time.Time{}, &NotApprovedError{Batch: b.ID, Reason: reason + "; run `payouts approve " + b.ID + " --by NAME`"}
}

func sameTotals(a, b []Total) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Currency != b[i].Currency || a[i].Rows != b[i].Rows || !a[i].Amount.Equal(b[i].Amount) ||
			!a[i].ExpectedFee.Equal(b[i].ExpectedFee) {
			return false
		}
	}
	return true
}

// recoverConfirming turns the chunks left confirming by a run that stopped into unknown ones: their
// confirm may have been sent. The batch's run lock is held, so no live run is confirming.
func (r *Runner) recoverConfirming(ctx context.Context, b *Batch, res *RunResult) error {
	s := r.Store
	now := s.now()
	var changed []*Chunk
	err := s.inTx(ctx, "recovery of batch "+b.ID, func(tx *sqlx.Tx) error {
		changed, res.Recovered = changed[:0], res.Recovered[:0]
		chunks, err := loadChunks(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		for _, c := range chunks {
			if c.State != ChunkConfirming {
				continue
			}
			next := *c
			next.State = ChunkUnknown
			next.UpdatedAt = now
			next.Reason = fmt.Sprintf("found confirming at start-up: the confirm of %s may have been sent at %s by a run that stopped; find out from Nord PAY whether it was paid, then run `payouts resolve %s --chunk %d --outcome paid|failed --by NAME`",
				c.Identifier(), c.ConfirmSentAt.Format(time.RFC3339), b.ID, c.N)
			if err := moveChunk(ctx, tx, ChunkConfirming, &next, r.actor(), nil); err != nil {
				return err
			}
			res.Recovered = append(res.Recovered, c.N)
			changed = append(changed, &next)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range changed {
		r.changed(c)
	}
	return nil
}

// plan cuts the rows that are in no live chunk into planned chunks, in one transaction.
func (r *Runner) plan(ctx context.Context, b *Batch) error {
	s := r.Store
	now := s.now()
	return s.inTx(ctx, "planning of batch "+b.ID, func(tx *sqlx.Tx) error {
		chunks, err := loadChunks(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		free, err := freeRows(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		next := 1
		for _, c := range chunks {
			next = max(next, c.N+1)
		}
		planned := planChunks(free, s.policy.RowsPerRequest, next)
		for _, p := range planned {
			if err := insertChunk(ctx, tx, b.ID, p, now, r.actor()); err != nil {
				return err
			}
		}
		return audit(ctx, tx, now, r.actor(), "run started", b.ID, 0, map[string]any{
			"planned_chunks": len(planned), "planned_rows": len(free),
		})
	})
}

// freeRows are the rows of a batch that are in no live (not failed) chunk, by currency, then
// line.
func freeRows(ctx context.Context, q sqlx.QueryerContext, batch string) ([]storedRow, error) {
	return queryRows(ctx, q, fmt.Sprintf("payouts: batch %s", batch), "find the rows to pay", `
		SELECT r.line, r.currency, r.address, r.amount::text, r.expected_fee::text, r.reference, r.name, r.note
		FROM payout_rows r
		WHERE r.batch_id = $1
		  AND NOT EXISTS (
		      SELECT 1 FROM payout_chunk_rows cr
		      WHERE cr.batch_id = r.batch_id AND cr.line = r.line AND NOT cr.released)
		ORDER BY r.currency, r.line`, batch)
}

// plannedChunk is a chunk before it is stored.
type plannedChunk struct {
	n        int
	currency string
	rows     []storedRow
}

// planChunks cuts rows (sorted by currency, then line) into chunks of one currency and at
// most per rows, numbered from next.
func planChunks(rows []storedRow, per, next int) []plannedChunk {
	var out []plannedChunk
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Currency == rows[i].Currency && j-i < per {
			j++
		}
		out = append(out, plannedChunk{n: next, currency: rows[i].Currency, rows: rows[i:j]})
		next++
		i = j
	}
	return out
}

func (p plannedChunk) totals() (amount, fee decimal.Decimal) {
	for _, r := range p.rows {
		amount = amount.Add(r.Amount)
		fee = fee.Add(r.ExpectedFee)
	}
	return amount, fee
}

func (p plannedChunk) request() nordpay.MultiWithdrawRequest {
	req := nordpay.MultiWithdrawRequest{Currency: p.currency, AddressesAndAmounts: make([]nordpay.Payee, len(p.rows))}
	for i, r := range p.rows {
		req.AddressesAndAmounts[i] = nordpay.Payee{Address: r.Address, Amount: r.Amount}
	}
	return req
}

func (p plannedChunk) lines() []int {
	out := make([]int, len(p.rows))
	for i, r := range p.rows {
		out[i] = r.Line
	}
	return out
}

// insertChunk stores a planned chunk and its rows; the database refuses a row that is
// already in a live chunk.
func insertChunk(ctx context.Context, tx *sqlx.Tx, batch string, p plannedChunk, now time.Time, actor string) error {
	amount, fee := p.totals()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO payout_chunks (batch_id, n, currency, state, row_count, amount, expected_fee, created_at, updated_at)
		VALUES ($1, $2, $3, 'planned', $4, $5, $6, $7, $7)`,
		batch, p.n, p.currency, len(p.rows), amount.String(), fee.String(), now); err != nil {
		return fmt.Errorf("payouts: chunk %s/%d: unable to plan it: %w", batch, p.n, err)
	}
	lines := p.lines()
	positions := make([]int, len(lines))
	for i := range positions {
		positions[i] = i + 1
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO payout_chunk_rows (batch_id, chunk_n, line, position)
		SELECT $1, $2, l, p FROM unnest($3::int[], $4::int[]) AS x (l, p)`,
		batch, p.n, pq.Array(lines), pq.Array(positions)); err != nil {
		if isConstraint(err, "payout_chunk_rows_one_live_chunk") {
			return fmt.Errorf("%w: chunk %s/%d: a row is already in another live chunk", ErrChunkState, batch, p.n)
		}
		return fmt.Errorf("payouts: chunk %s/%d: unable to assign its rows: %w", batch, p.n, err)
	}
	return audit(ctx, tx, now, actor, "planned", batch, p.n, map[string]any{
		"currency": p.currency, "rows": len(p.rows), "amount": amount, "expected_fee": fee,
	})
}

// stepError stops a run at a chunk, leaving it in the state it has; a later run continues.
func stepError(c *Chunk, what string, err error) error {
	return fmt.Errorf("payouts: chunk %s/%d (%s): %s: %w", c.Batch, c.N, c.Currency, what, err)
}

// runChunk takes one chunk from planned or requested to an end (confirmed, failed, unknown),
// or returns an error that stops the run with the chunk left where it was.
func (r *Runner) runChunk(ctx context.Context, b *Batch, c *Chunk, until time.Time) error {
	s := r.Store
	requests := 0
	fresh := false // the quote was requested by this run, just now
	for {
		now := s.now()
		switch c.State {
		case ChunkPlanned:
			if !now.Before(until) {
				return stepError(c, "not requested", expiredDuringRun(b, until))
			}
			if requests >= s.policy.MaxRequests {
				return stepError(c, "not requested again", fmt.Errorf("requested %d times in this run and every quote expired before it could be confirmed; run again", requests))
			}
			rows, err := chunkRows(ctx, s.db, c.Batch, c.N)
			if err != nil {
				return err
			}
			req := plannedChunk{currency: c.Currency, rows: rows}.request()
			requests++
			quote, err := r.request(ctx, c, req)
			if err != nil {
				if refused(err) {
					next := *c
					next.State, next.UpdatedAt = ChunkFailed, s.now()
					next.Reason = "the request was refused: " + err.Error()
					if err := r.move(ctx, c, &next); err != nil {
						return err
					}
					return nil
				}
				return stepError(c, "nothing was confirmed, run again later; requesting a quote failed", err)
			}
			next := *c
			next.Requests++
			next.UpdatedAt = s.now()
			if quote.Identifier == "" || quote.ExpiresAt.IsZero() {
				next.State = ChunkFailed
				next.Reason = "the quote has no identifier or no expires_at; not confirmed"
				return r.move(ctx, c, &next)
			}
			next.State, next.Quote, next.Reason = ChunkRequested, quote, ""
			if err := r.move(ctx, c, &next); err != nil {
				return err
			}
			fresh = true
			if err := r.at("requested", c); err != nil {
				return err
			}
		case ChunkRequested:
			if err := r.checkAndConfirm(ctx, b, c, until, fresh); err != nil {
				return err
			}
			if c.State == ChunkPlanned {
				fresh = false
				continue
			}
			return nil
		default:
			return nil
		}
	}
}

// checkAndConfirm checks a requested chunk's quote and confirms it; c ends confirmed, failed,
// unknown, or planned (the quote expired: request again).
func (r *Runner) checkAndConfirm(ctx context.Context, b *Batch, c *Chunk, until time.Time, fresh bool) error {
	s := r.Store
	q := c.Quote
	rows, err := chunkRows(ctx, s.db, c.Batch, c.N)
	if err != nil {
		return err
	}
	balance, err := r.balance(ctx, c.Currency)
	if err != nil {
		return stepError(c, "nothing was confirmed, run again later; reading the balance before the confirm failed", err)
	}
	now := s.now()
	fail := func(reason string) error {
		next := *c
		next.State, next.UpdatedAt, next.Reason = ChunkFailed, now, reason+"; not confirmed"
		return r.move(ctx, c, &next)
	}
	left := q.ExpiresAt.Sub(now)
	switch {
	case left <= 0 || (left < s.policy.MinQuoteLifetime && !fresh):
		// Expired (or, held from an earlier run, about to): nothing was confirmed, so a new
		// quote is safe.
		next := *c
		next.State, next.UpdatedAt, next.Quote = ChunkPlanned, now, nil
		next.Reason = fmt.Sprintf("quote %s expired at %s (or was about to); requesting again", q.Identifier, q.ExpiresAt.Time.UTC().Format(time.RFC3339))
		return r.move(ctx, c, &next)
	case left < s.policy.MinQuoteLifetime:
		return fail(fmt.Sprintf("quote %s expires in %s, under the minimum of %s left that a confirm needs",
			q.Identifier, left.Round(time.Second), s.policy.MinQuoteLifetime))
	}
	if problem := s.policy.checkQuote(c, rows); problem != "" {
		return fail(fmt.Sprintf("quote %s: %s", q.Identifier, problem))
	}
	if balance.LessThan(q.Amount) {
		return fail(fmt.Sprintf("the %s balance %s does not cover the quote's %s", c.Currency, balance, q.Amount))
	}
	if !now.Before(until) {
		return stepError(c, "not confirmed", expiredDuringRun(b, until))
	}

	if err := ctx.Err(); err != nil {
		return stepError(c, "not confirmed", err)
	}
	// The point of no return: committed confirming before the confirm is sent, so that a
	// crash from here on leaves a chunk that the next start turns unknown.
	next := *c
	next.State, next.UpdatedAt, next.ConfirmSentAt = ChunkConfirming, now, now
	if err := r.move(ctx, c, &next); err != nil {
		return err
	}
	if err := r.at("confirming", c); err != nil {
		return err
	}
	ans, cerr := r.Client.ConfirmMultiWithdraw(ctx, q.Identifier)

	// Whatever the caller's context says now, what the confirm did must be written down.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	next = *c
	next.UpdatedAt = s.now()
	switch {
	case cerr == nil:
		next.State = ChunkConfirmed
		next.WithdrawalID = ans.ID.String()
		next.Reason = ""
		detail := map[string]any{"withdrawal_id": next.WithdrawalID, "detail": ans.Detail, "status": ans.Status}
		err := s.inTx(wctx, fmt.Sprintf("confirmation of chunk %s/%d", c.Batch, c.N), func(tx *sqlx.Tx) error {
			if err := moveChunk(wctx, tx, ChunkConfirming, &next, r.actor(), detail); err != nil {
				return err
			}
			return s.book(wctx, tx, &next, next.ConfirmSentAt)
		})
		if err != nil {
			return stepError(c, fmt.Sprintf("Nord PAY confirmed quote %s (withdrawal %s), but recording it failed; the chunk stays confirming, the next run marks it unknown, and it must be resolved as paid",
				q.Identifier, next.WithdrawalID), err)
		}
		*c = next
		r.changed(c)
		return nil
	case !confirmRefused(cerr) && !errors.Is(cerr, nordpay.ErrRequestExpired):
		// No answer, a 5xx, "Withdraw request not found" (what a second confirm of an
		// executed identifier answers), or any answer that does not say plainly that
		// nothing was paid: the withdrawal may have been executed.
		next.State = ChunkUnknown
		next.Reason = fmt.Sprintf("the confirm of quote %s may have been executed: %v; find out from Nord PAY whether it was paid, then run `payouts resolve %s --chunk %d --outcome paid|failed --by NAME`",
			q.Identifier, cerr, c.Batch, c.N)
		return r.moveWith(wctx, c, ChunkConfirming, &next)
	case errors.Is(cerr, nordpay.ErrRequestExpired):
		next.State, next.Quote, next.ConfirmSentAt = ChunkPlanned, nil, time.Time{}
		next.Reason = fmt.Sprintf("Nord PAY said quote %s expired at the confirm (nothing was paid); requesting again", q.Identifier)
		return r.moveWith(wctx, c, ChunkConfirming, &next)
	default:
		next.State = ChunkFailed
		next.Reason = fmt.Sprintf("Nord PAY refused the confirm of quote %s: %v; nothing was paid", q.Identifier, cerr)
		if err := r.moveWith(wctx, c, ChunkConfirming, &next); err != nil {
			return err
		}
		if errors.Is(cerr, nordpay.ErrUnauthorized) {
			return stepError(c, "the confirm was refused", cerr)
		}
		return nil
	}
}

// checkQuote compares a quote with the rows it must pay and the fee rules; it returns what is
// wrong, or "".
func (p Policy) checkQuote(c *Chunk, rows []storedRow) string {
	q := c.Quote
	if !strings.EqualFold(q.Currency, c.Currency) {
		return fmt.Sprintf("currency %q, not %s", q.Currency, c.Currency)
	}
	if len(q.AddressesAndAmounts) != len(rows) || len(rows) != c.Rows {
		return fmt.Sprintf("%d rows quoted, %d approved", len(q.AddressesAndAmounts), len(rows))
	}
	pairs, problem := pairQuote(rows, q.AddressesAndAmounts)
	if problem != "" {
		return problem
	}
	var amount, fee decimal.Decimal
	for i, r := range rows {
		qr := q.AddressesAndAmounts[pairs[i]]
		switch {
		case qr.ServiceFee.IsNegative() || qr.ServiceFee.GreaterThan(qr.Amount):
			return fmt.Sprintf("row %d (%s): fee %s for an amount of %s", r.Line, r.Reference, qr.ServiceFee, qr.Amount)
		}
		amount = amount.Add(qr.Amount)
		fee = fee.Add(qr.ServiceFee)
	}
	switch {
	case !amount.Equal(c.Amount) || !q.Amount.Equal(amount):
		return fmt.Sprintf("total %s quoted, rows sum to %s, %s approved", q.Amount, amount, c.Amount)
	case !q.ServiceFee.Equal(fee):
		return fmt.Sprintf("total fee %s, but the rows' fees sum to %s", q.ServiceFee, fee)
	}
	if ceiling, ok := p.FeeCeiling[c.Currency]; ok && fee.GreaterThan(ceiling) {
		return fmt.Sprintf("fee %s %s is above the ceiling of %s", fee, c.Currency, ceiling)
	}
	if fee.Mul(decimal.NewFromInt(100)).GreaterThan(amount.Mul(p.FeeCeilingPercent)) {
		return fmt.Sprintf("fee %s is %s%% of %s, above the ceiling of %s%%", fee,
			fee.Mul(decimal.NewFromInt(100)).Div(amount).StringFixed(2), amount, p.FeeCeilingPercent)
	}
	if _, ok := p.Fees[c.Currency]; ok {
		slack := c.ExpectedFee.Mul(p.FeeTolerancePercent).Shift(-2).Add(p.FeeTolerance[c.Currency])
		if fee.Sub(c.ExpectedFee).Abs().GreaterThan(slack) {
			return fmt.Sprintf("fee %s is not near the expected %s (tolerance %s)", fee, c.ExpectedFee, slack)
		}
	}
	return ""
}

// pairQuote matches each approved row with its quoted row: the one at the same position,
// or, when the quote lists the same rows in another order, the one with the same address
// (hex and bech32 addresses compared without case, as their networks do) and the same
// amount. pairs[i] is the index in quoted of rows[i]; problem names the first row that is
// not quoted exactly as approved.
func pairQuote(rows []storedRow, quoted []nordpay.QuotedPayee) (pairs []int, problem string) {
	pairs = make([]int, len(rows))
	inOrder := -1 // the first position where the quote differs
	for i, r := range rows {
		pairs[i] = i
		if inOrder < 0 && (addressKey(quoted[i].Address) != addressKey(r.Address) || !quoted[i].Amount.Equal(r.Amount)) {
			inOrder = i
		}
	}
	if inOrder < 0 {
		return pairs, ""
	}
	free := make(map[string][]int, len(quoted))
	for k, qr := range quoted {
		key := payeeKey("", qr.Address, qr.Amount)
		free[key] = append(free[key], k)
	}
	for i, r := range rows {
		key := payeeKey("", r.Address, r.Amount)
		ks := free[key]
		if len(ks) == 0 {
			// Not the same rows in another order: say where the quote first differs.
			r, qr := rows[inOrder], quoted[inOrder]
			if addressKey(qr.Address) != addressKey(r.Address) {
				return nil, fmt.Sprintf("row %d (%s): address %q quoted, %q approved", r.Line, r.Reference, qr.Address, r.Address)
			}
			return nil, fmt.Sprintf("row %d (%s): amount %s quoted, %s approved", r.Line, r.Reference, qr.Amount, r.Amount)
		}
		pairs[i], free[key] = ks[0], ks[1:]
	}
	return pairs, ""
}

// confirmRefused reports whether a confirm's error says plainly that Nord PAY executed
// nothing: one of the business refusals of withdraw.txt that a confirm can meet (not enough
// balance; the currency unavailable; under the minimum), a 422 on the body, a wrong key, or
// a rate limit. Only then may the chunk fail and its rows go into a new request. Any other
// answer (a 404 whatever its text, another 4xx such as a 409 "already confirmed", a 5xx, no
// answer) may follow an executed confirm, for example one that a proxy sent twice.
func confirmRefused(err error) bool {
	var apiErr *nordpay.Error
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.Kind {
	case nordpay.ErrNotEnoughBalance, nordpay.ErrCurrencyUnavailable, nordpay.ErrBelowMinimum,
		nordpay.ErrValidation, nordpay.ErrUnauthorized, nordpay.ErrRateLimited:
		return true
	}
	return false
}

// refused reports whether a request failed for good (the API answered no), as opposed to a
// failure a later attempt may not meet.
func refused(err error) bool {
	for _, kind := range []error{nordpay.ErrNotEnoughBalance, nordpay.ErrBelowMinimum, nordpay.ErrCurrencyUnavailable,
		nordpay.ErrValidation, nordpay.ErrBadRequest, nordpay.ErrNotFound} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// request asks for a quote, again after a transport failure, a 5xx or a 429 (a quote moves
// no money; an unconfirmed one expires), at most three times.
func (r *Runner) request(ctx context.Context, c *Chunk, req nordpay.MultiWithdrawRequest) (*nordpay.MultiWithdrawQuote, error) {
	const attempts = 3
	for i := 1; ; i++ {
		q, err := r.Client.RequestMultiWithdraw(ctx, req)
		if err == nil {
			return q, nil
		}
		var apiErr *nordpay.Error
		if i >= attempts || ctx.Err() != nil || !errors.As(err, &apiErr) || !apiErr.Retryable() {
			return nil, err
		}
		wait := time.Duration(250*(1<<(i-1)))*time.Millisecond + time.Duration(rand.Int64N(int64(250*time.Millisecond)))
		if apiErr.RetryAfter > 0 {
			wait = max(wait, min(apiErr.RetryAfter, time.Minute))
		}
		r.logger().LogAttrs(ctx, slog.LevelWarn, "payouts: requesting again", slog.String("batch", c.Batch),
			slog.Int("chunk", c.N), slog.Int("attempt", i), slog.String("reason", err.Error()))
		if err := r.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// balance reads Nord PAY's balance of a currency (GET /balance/, retried by the client).
func (r *Runner) balance(ctx context.Context, currency string) (decimal.Decimal, error) {
	bs, err := r.Client.Balances(ctx)
	if err != nil {
		return decimal.Zero, err
	}
	for _, b := range bs {
		if b.Currency == currency {
			return b.Balance, nil
		}
	}
	return decimal.Zero, nil
}

// move commits a transition of c (from its current state) and updates c.
func (r *Runner) move(ctx context.Context, c *Chunk, next *Chunk) error {
	return r.moveWith(ctx, c, c.State, next)
}

func (r *Runner) moveWith(ctx context.Context, c *Chunk, from ChunkState, next *Chunk) error {
	s := r.Store
	err := s.inTx(ctx, fmt.Sprintf("chunk %s/%d", c.Batch, c.N), func(tx *sqlx.Tx) error {
		return moveChunk(ctx, tx, from, next, r.actor(), nil)
	})
	if err != nil {
		return err
	}
	*c = *next
	r.changed(c)
	return nil
}

// changed logs and reports a committed transition.
func (r *Runner) changed(c *Chunk) {
	attrs := []slog.Attr{slog.String("batch", c.Batch), slog.Int("chunk", c.N), slog.String("currency", c.Currency),
		slog.String("state", string(c.State)), slog.Int("rows", c.Rows), slog.String("amount", c.Amount.String())}
	if id := c.Identifier(); id != "" {
		attrs = append(attrs, slog.String("identifier", id))
	}
	if c.Reason != "" {
		attrs = append(attrs, slog.String("reason", c.Reason))
	}
	level := slog.LevelDebug
	if c.State == ChunkUnknown || c.State == ChunkFailed {
		level = slog.LevelWarn
	}
	r.logger().LogAttrs(context.Background(), level, "payouts: chunk", attrs...)
	if r.OnChange != nil {
		cp := *c
		r.OnChange(&cp)
	}
}

// at calls the test hook.
func (r *Runner) at(point string, c *Chunk) error {
	if r.hook == nil {
		return nil
	}
	return r.hook(point, c)
}

// dryRun shows what a run would send, after the checks a run makes first; it writes nothing
// and sends no withdraw request.
func (r *Runner) dryRun(ctx context.Context, batch string, res *RunResult) (*RunResult, error) {
	s := r.Store
	b, err := s.Batch(ctx, batch)
	if err != nil {
		return res, err
	}
	st, err := s.Status(ctx, batch)
	if err != nil {
		return res, err
	}
	res.State, res.Chunks = st.State, st.Chunks
	if b.State == BatchRejected {
		res.Problems = append(res.Problems, fmt.Sprintf("the sheet has %d error(s); the batch can never be run", b.Errors))
		return res, nil
	}
	if _, err := r.approvedUntil(ctx, b); err != nil {
		if !errors.Is(err, ErrNotApproved) {
			return res, err
		}
		res.Problems = append(res.Problems, err.Error())
	}
	next := 1
	for _, c := range st.Chunks {
		next = max(next, c.N+1)
		switch c.State {
		case ChunkConfirming:
			res.Problems = append(res.Problems, fmt.Sprintf("chunk %d is confirming: a run would mark it unknown, for a person to resolve", c.N))
		case ChunkPlanned, ChunkRequested:
			rows, err := chunkRows(ctx, s.db, batch, c.N)
			if err != nil {
				return res, err
			}
			p := plannedChunk{n: c.N, currency: c.Currency, rows: rows}
			res.Requests = append(res.Requests, PlannedRequest{Chunk: c.N, Existing: true, Lines: p.lines(),
				Request: p.request(), Amount: c.Amount, ExpectedFee: c.ExpectedFee})
		}
	}
	free, err := freeRows(ctx, s.db, batch)
	if err != nil {
		return res, err
	}
	for _, p := range planChunks(free, s.policy.RowsPerRequest, next) {
		amount, fee := p.totals()
		res.Requests = append(res.Requests, PlannedRequest{Chunk: p.n, Lines: p.lines(), Request: p.request(),
			Amount: amount, ExpectedFee: fee})
	}
	if len(res.Requests) == 0 {
		return res, nil
	}
	bs, err := r.Client.Balances(ctx)
	if err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("reading the balances: %v", err))
		return res, nil
	}
	res.Balances = map[string]decimal.Decimal{}
	for _, b := range bs {
		res.Balances[b.Currency] = b.Balance
	}
	need := map[string]decimal.Decimal{}
	for _, p := range res.Requests {
		need[p.Request.Currency] = need[p.Request.Currency].Add(p.Amount)
	}
	curs := make([]string, 0, len(need))
	for c := range need {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		if res.Balances[c].LessThan(need[c]) {
			res.Problems = append(res.Problems, fmt.Sprintf("the %s balance %s does not cover the %s to pay", c, res.Balances[c], need[c]))
		}
	}
	return res, nil
}
