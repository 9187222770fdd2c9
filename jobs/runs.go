package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// State is where a run record stands.
type State string

// The states of a run record. Only running is not final.
const (
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateSkipped   State = "skipped"
	StateTimedOut  State = "timed_out"
)

// Trigger says why a slot ran.
type Trigger string

// The triggers of a run.
const (
	// TriggerSchedule is robfig/cron firing at the slot.
	TriggerSchedule Trigger = "schedule"
	// TriggerCatchUp is a slot missed while no replica ran (within the job's catch-up window).
	TriggerCatchUp Trigger = "catch-up"
	// TriggerManual is `nordpay-jobs jobs run NAME`.
	TriggerManual Trigger = "manual"
	// TriggerBackfill is `nordpay-jobs jobs backfill NAME --from T --to T`.
	TriggerBackfill Trigger = "backfill"
)

// ErrNoSchedulerTables means the database was not migrated to a schema with job_runs.
var ErrNoSchedulerTables = errors.New("jobs: the database has no scheduler tables (job_runs): run `nordpay-jobs migrate` first")

// Run is the record of one job's slot: the unit that runs once across replicas.
type Run struct {
	// Job and Slot identify the record; Slot is in UTC.
	Job  string    `json:"job"`
	Slot time.Time `json:"slot"`
	// Kind is the job's kind when the slot last started.
	Kind string `json:"kind"`
	// Trigger says why the slot ran (schedule, catch-up, manual, backfill).
	Trigger Trigger `json:"trigger"`
	// State is running until the outcome: succeeded, failed, skipped or timed_out.
	State State `json:"state"`
	// Owner is the process (host/pid/random) that holds or last held the run.
	Owner string `json:"owner"`
	// LeaseUntil is when a running record's owner must have renewed its lease; zero once
	// finished.
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// HeartbeatAt is the owner's last renewal.
	HeartbeatAt time.Time `json:"heartbeat_at,omitzero"`
	// Attempts counts the attempts started, across retries and takeovers.
	Attempts int `json:"attempts"`
	// Error is the last attempt's error, or why the slot was skipped or released.
	Error string `json:"error,omitempty"`
	// Result is the runner's summary, as JSON.
	Result json.RawMessage `json:"result,omitempty"`
	// CreatedAt is when the slot was first claimed; StartedAt when its current run began
	// (a rerun restarts it); FinishedAt when the outcome was recorded.
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Duration is how long the run took (until now for a running one, measured by now).
func (r Run) Duration(now time.Time) time.Duration {
	if r.FinishedAt.IsZero() {
		return now.Sub(r.StartedAt)
	}
	return r.FinishedAt.Sub(r.StartedAt)
}

// RunStore keeps the run records in PostgreSQL (tables job_runs and scheduled_jobs).
type RunStore struct {
	db *sqlx.DB
}

// NewRunStore returns the store of db.
func NewRunStore(db *sqlx.DB) *RunStore { return &RunStore{db: db} }

// Check returns ErrNoSchedulerTables when the schema lacks the scheduler's tables, so that a
// binary started against an old schema says what to do.
func (s *RunStore) Check(ctx context.Context) error {
	var ok bool
	if err := s.db.QueryRowContext(ctx, `SELECT to_regclass('job_runs') IS NOT NULL`).Scan(&ok); err != nil {
		return fmt.Errorf("jobs: checking for the scheduler tables: %w", err)
	}
	if !ok {
		return ErrNoSchedulerTables
	}
	return nil
}

// Ping checks that the database answers.
func (s *RunStore) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("jobs: database: %w", err)
	}
	return nil
}

const runColumns = `job, slot, kind, triggered_by, state, owner, lease_until, heartbeat_at, attempts, error, result,
	created_at, started_at, finished_at`

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanRun(r rowScanner) (Run, error) {
	var (
		run                        Run
		trigger, state             string
		lease, heartbeat, finished sql.NullTime
		errText                    sql.NullString
		result                     []byte
		slot, createdAt, startedAt time.Time
	)
	if err := r.Scan(&run.Job, &slot, &run.Kind, &trigger, &state, &run.Owner, &lease, &heartbeat, &run.Attempts,
		&errText, &result, &createdAt, &startedAt, &finished); err != nil {
		return Run{}, err
	}
	run.Slot, run.CreatedAt, run.StartedAt = slot.UTC(), createdAt.UTC(), startedAt.UTC()
	run.Trigger, run.State, run.Error = Trigger(trigger), State(state), errText.String
	if lease.Valid {
		run.LeaseUntil = lease.Time.UTC()
	}
	if heartbeat.Valid {
		run.HeartbeatAt = heartbeat.Time.UTC()
	}
	if finished.Valid {
		run.FinishedAt = finished.Time.UTC()
	}
	if len(result) > 0 {
		run.Result = json.RawMessage(result)
	}
	return run, nil
}

// redoMode says which finished records a claim may start again.
type redoMode int

const (
	redoNone       redoMode = iota // the schedule and catch-up: a finished slot stays finished
	redoUnfinished                 // jobs run / backfill: failed, timed-out and skipped slots run again
	redoAll                        // --force: succeeded slots too
)

// claimOutcome is what a claim found and did.
type claimOutcome int

const (
	claimWon        claimOutcome = iota // a new run record, or a finished one started again
	claimTakenOver                      // an abandoned running record, its lease expired
	claimBusy                           // this slot runs elsewhere, its lease alive
	claimDone                           // this slot has finished and may not run again
	claimSkipped                        // recorded as skipped: an earlier run of the job is still going
	claimWaiting                        // not started, nothing written: another run of the job is going
	claimSuperseded                     // an abandoned record closed as skipped: a later slot did its work
	claimGaveUp                         // an abandoned record closed as failed: its attempts are used up
)

// claimRequest asks for the right to run one slot.
type claimRequest struct {
	job, kind   string
	slot        time.Time
	trigger     Trigger
	owner       string
	now         time.Time
	leaseUntil  time.Time
	redo        redoMode
	maxAttempts int
	coalesce    bool
	// recordSkip records a new slot as skipped when another run of the job is going (the
	// schedule's rule); otherwise the claim waits and writes nothing (catch-up, manual runs
	// and backfills come back for the slot).
	recordSkip bool
}

// claimResult is the record after the claim and what happened to it.
type claimResult struct {
	run      Run
	outcome  claimOutcome
	previous string // the owner of an abandoned run, or of the run that is still going
	other    time.Time
}

// claim decides, in one transaction holding the job's row lock, whether this owner runs the
// slot: so that across replicas a slot runs once, a job runs one slot at a time, and an
// abandoned run is taken over once.
func (s *RunStore) claim(ctx context.Context, req claimRequest) (res claimResult, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("jobs: job %s slot %s: claiming: %w", req.job, fmtSlot(req.slot), err)
	}
	defer func() {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) && err == nil {
			err = rerr
		}
	}()
	wrap := func(what string, err error) error {
		return fmt.Errorf("jobs: job %s slot %s: %s: %w", req.job, fmtSlot(req.slot), what, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO scheduled_jobs (job, created_at) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING`,
		req.job, req.now); err != nil {
		return res, wrap("recording the job", err)
	}
	var locked string
	if err := tx.QueryRowContext(ctx, `SELECT job FROM scheduled_jobs WHERE job = $1 FOR UPDATE`, req.job).Scan(&locked); err != nil {
		return res, wrap("locking the job", err)
	}
	existing, found, err := getRun(ctx, tx, req.job, req.slot)
	if err != nil {
		return res, wrap("reading the run", err)
	}
	var (
		otherSlot  time.Time
		otherOwner string
	)
	err = tx.QueryRowContext(ctx, `
		SELECT slot, owner FROM job_runs
		WHERE job = $1 AND state = 'running' AND lease_until > $2 AND slot <> $3
		ORDER BY slot LIMIT 1`, req.job, req.now, req.slot).Scan(&otherSlot, &otherOwner)
	otherLive := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, wrap("looking for a run still going", err)
	}
	res.other, res.previous = otherSlot.UTC(), otherOwner

	one := func(q string, args ...any) (Run, error) {
		return scanRun(tx.QueryRowContext(ctx, q, args...))
	}
	switch {
	case !found && otherLive && !req.recordSkip:
		res.outcome = claimWaiting
		return res, nil
	case !found && otherLive:
		res.outcome = claimSkipped
		reason := fmt.Sprintf("skipped: the run of slot %s is still going (owner %s)", fmtSlot(otherSlot), otherOwner)
		res.run, err = one(`
			INSERT INTO job_runs (job, slot, kind, triggered_by, state, owner, attempts, error, created_at, started_at, finished_at)
			VALUES ($1, $2, $3, $4, 'skipped', $5, 0, $6, $7, $7, $7)
			RETURNING `+runColumns, req.job, req.slot, req.kind, string(req.trigger), req.owner, reason, req.now)
	case !found:
		res.outcome = claimWon
		res.run, err = one(`
			INSERT INTO job_runs (job, slot, kind, triggered_by, state, owner, lease_until, heartbeat_at, attempts, created_at, started_at)
			VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, 1, $7, $7)
			RETURNING `+runColumns, req.job, req.slot, req.kind, string(req.trigger), req.owner, req.leaseUntil, req.now)
	case existing.State == StateRunning && existing.LeaseUntil.After(req.now):
		res.outcome, res.run, res.previous = claimBusy, existing, existing.Owner
		return res, nil
	case existing.State == StateRunning:
		res.previous = existing.Owner
		var later bool
		if req.coalesce && !otherLive {
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = $1 AND slot > $2 AND state = 'succeeded')`,
				req.job, req.slot).Scan(&later); err != nil {
				return res, wrap("looking for a later run", err)
			}
		}
		switch {
		case otherLive:
			res.outcome, res.run = claimWaiting, existing
			return res, nil
		case later:
			res.outcome = claimSuperseded
			res.run, err = one(`
				UPDATE job_runs SET state = 'skipped', lease_until = NULL, finished_at = $3,
					error = $4
				WHERE job = $1 AND slot = $2 RETURNING `+runColumns, req.job, req.slot, req.now,
				fmt.Sprintf("skipped: abandoned by owner %s (lease expired at %s), and a later slot has succeeded since", existing.Owner, fmtSlot(existing.LeaseUntil)))
		case existing.Attempts >= req.maxAttempts:
			res.outcome = claimGaveUp
			res.run, err = one(`
				UPDATE job_runs SET state = 'failed', lease_until = NULL, finished_at = $3, error = $4
				WHERE job = $1 AND slot = $2 RETURNING `+runColumns, req.job, req.slot, req.now,
				fmt.Sprintf("gave up after %d attempts: abandoned by owner %s (lease expired at %s); last error: %s",
					existing.Attempts, existing.Owner, fmtSlot(existing.LeaseUntil), orNone(existing.Error)))
		default:
			res.outcome = claimTakenOver
			res.run, err = one(`
				UPDATE job_runs SET owner = $3, lease_until = $4, heartbeat_at = $5, attempts = attempts + 1
				WHERE job = $1 AND slot = $2 RETURNING `+runColumns, req.job, req.slot, req.owner, req.leaseUntil, req.now)
		}
	case req.redo == redoAll || (req.redo == redoUnfinished && existing.State != StateSucceeded):
		if otherLive {
			res.outcome, res.run = claimWaiting, existing
			return res, nil
		}
		res.outcome = claimWon
		res.run, err = one(`
			UPDATE job_runs SET kind = $3, triggered_by = $4, state = 'running', owner = $5, lease_until = $6, heartbeat_at = $7,
				attempts = 1, error = NULL, result = NULL, started_at = $7, finished_at = NULL
			WHERE job = $1 AND slot = $2 RETURNING `+runColumns,
			req.job, req.slot, req.kind, string(req.trigger), req.owner, req.leaseUntil, req.now)
	default:
		res.outcome, res.run = claimDone, existing
		return res, nil
	}
	if err != nil {
		return res, wrap("writing the run", err)
	}
	if err := tx.Commit(); err != nil {
		return res, wrap("committing the claim", err)
	}
	return res, nil
}

func getRun(ctx context.Context, q sqlx.QueryerContext, job string, slot time.Time) (Run, bool, error) {
	run, err := scanRun(q.QueryRowxContext(ctx, `SELECT `+runColumns+` FROM job_runs WHERE job = $1 AND slot = $2`, job, slot))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, err
	}
	return run, true, nil
}

// Get returns the record of one slot.
func (s *RunStore) Get(ctx context.Context, job string, slot time.Time) (Run, bool, error) {
	run, ok, err := getRun(ctx, s.db, job, slot)
	if err != nil {
		return run, ok, fmt.Errorf("jobs: job %s slot %s: reading the run: %w", job, fmtSlot(slot), err)
	}
	return run, ok, nil
}

// heartbeat renews the lease of a running record this owner holds; false means the lease
// was lost (another replica took the run over).
func (s *RunStore) heartbeat(ctx context.Context, job string, slot time.Time, owner string, now, leaseUntil time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE job_runs SET lease_until = $4, heartbeat_at = $5
		WHERE job = $1 AND slot = $2 AND owner = $3 AND state = 'running'`, job, slot, owner, leaseUntil, now)
	if err != nil {
		return false, fmt.Errorf("jobs: job %s slot %s: renewing the lease: %w", job, fmtSlot(slot), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("jobs: job %s slot %s: renewing the lease: %w", job, fmtSlot(slot), err)
	}
	return n == 1, nil
}

// nextAttempt counts a new attempt, keeping the last error, and returns the attempt number;
// false means the lease was lost.
func (s *RunStore) nextAttempt(ctx context.Context, job string, slot time.Time, owner, lastErr string) (int, bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `
		UPDATE job_runs SET attempts = attempts + 1, error = $4
		WHERE job = $1 AND slot = $2 AND owner = $3 AND state = 'running'
		RETURNING attempts`, job, slot, owner, lastErr).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("jobs: job %s slot %s: counting the attempt: %w", job, fmtSlot(slot), err)
	}
	return n, true, nil
}

// finish records the outcome of a running record this owner holds; false means the lease
// was lost and nothing was written.
func (s *RunStore) finish(ctx context.Context, job string, slot time.Time, owner string, state State, errText string,
	result []byte, now time.Time) (run Run, ok bool, err error) {
	wrap := func(err error) error {
		return fmt.Errorf("jobs: job %s slot %s: recording the outcome %s: %w", job, fmtSlot(slot), state, err)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return run, false, wrap(err)
	}
	defer func() {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) && err == nil {
			err = wrap(rerr)
		}
	}()
	run, err = scanRun(tx.QueryRowContext(ctx, `
		UPDATE job_runs SET state = $4, lease_until = NULL, error = NULLIF($5, ''), result = $6, finished_at = $7
		WHERE job = $1 AND slot = $2 AND owner = $3 AND state = 'running'
		RETURNING `+runColumns, job, slot, owner, string(state), errText, nullJSON(result), now))
	if errors.Is(err, sql.ErrNoRows) {
		return run, false, nil
	}
	if err != nil {
		return run, false, wrap(err)
	}
	if state == StateSucceeded {
		if _, err := tx.ExecContext(ctx, `
			UPDATE scheduled_jobs SET last_success_slot = GREATEST(COALESCE(last_success_slot, $2), $2),
				last_success_at = GREATEST(COALESCE(last_success_at, $3), $3)
			WHERE job = $1`, job, slot, now); err != nil {
			return run, false, wrap(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return run, false, wrap(err)
	}
	return run, true, nil
}

// release gives up a running record this owner holds without an outcome (its attempt was cut
// short by a shutdown): the lease ends now, so that the next replica takes the run over at
// once, and the cut-short attempt is not counted.
func (s *RunStore) release(ctx context.Context, job string, slot time.Time, owner, reason string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE job_runs SET lease_until = $4, attempts = GREATEST(attempts - 1, 0), error = $5
		WHERE job = $1 AND slot = $2 AND owner = $3 AND state = 'running'`, job, slot, owner, now, reason)
	if err != nil {
		return fmt.Errorf("jobs: job %s slot %s: releasing the run: %w", job, fmtSlot(slot), err)
	}
	return nil
}

// runKey names one slot of one job.
type runKey struct {
	job  string
	slot time.Time
}

// expired lists running records of the given jobs whose lease has expired by now.
func (s *RunStore) expired(ctx context.Context, jobs []string, now time.Time) ([]runKey, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT job, slot FROM job_runs
		WHERE state = 'running' AND lease_until <= $1 AND job = ANY($2)
		ORDER BY slot LIMIT 100`, now, pq.Array(jobs))
	if err != nil {
		return nil, fmt.Errorf("jobs: looking for abandoned runs: %w", err)
	}
	defer rows.Close()
	var out []runKey
	for rows.Next() {
		var k runKey
		if err := rows.Scan(&k.job, &k.slot); err != nil {
			return nil, fmt.Errorf("jobs: looking for abandoned runs: %w", err)
		}
		k.slot = k.slot.UTC()
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: looking for abandoned runs: %w", err)
	}
	return out, nil
}

// LastSlot returns the latest slot recorded for job, whatever its state.
func (s *RunStore) LastSlot(ctx context.Context, job string) (time.Time, bool, error) {
	var t sql.NullTime
	if err := s.db.QueryRowContext(ctx, `SELECT max(slot) FROM job_runs WHERE job = $1`, job).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("jobs: job %s: reading the last slot: %w", job, err)
	}
	return t.Time.UTC(), t.Valid, nil
}

// Latest returns the record of job's latest slot.
func (s *RunStore) Latest(ctx context.Context, job string) (Run, bool, error) {
	run, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM job_runs WHERE job = $1 ORDER BY slot DESC LIMIT 1`, job))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("jobs: job %s: reading the latest run: %w", job, err)
	}
	return run, true, nil
}

// History returns the latest limit records, newest slot first: of one job, or of all when
// job is empty.
func (s *RunStore) History(ctx context.Context, job string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 20
	}
	q := `SELECT ` + runColumns + ` FROM job_runs ORDER BY slot DESC, job LIMIT $1`
	args := []any{limit}
	if job != "" {
		q = `SELECT ` + runColumns + ` FROM job_runs WHERE job = $2 ORDER BY slot DESC LIMIT $1`
		args = append(args, job)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("jobs: reading the run history: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("jobs: reading the run history: %w", err)
		}
		out = append(out, run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: reading the run history: %w", err)
	}
	return out, nil
}

// LastSuccess returns, per job, when a run of it last succeeded (across replicas).
func (s *RunStore) LastSuccess(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT job, last_success_at FROM scheduled_jobs WHERE last_success_at IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("jobs: reading the last successes: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			job string
			at  time.Time
		)
		if err := rows.Scan(&job, &at); err != nil {
			return nil, fmt.Errorf("jobs: reading the last successes: %w", err)
		}
		out[job] = at.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: reading the last successes: %w", err)
	}
	return out, nil
}

// nullJSON turns an empty document into SQL NULL.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// fmtSlot writes a slot as RFC 3339 UTC, the form logs, errors and the CLI use.
func fmtSlot(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
