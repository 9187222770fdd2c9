package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

// ErrConflict is returned when an account already exists under the name with another type
// or currency: booking to it would put the books in the wrong place, so it needs a person.
var ErrConflict = errors.New("ledger: account conflict")

// Store is the ledger in PostgreSQL, where the invariants are enforced; it is safe for
// concurrent use, so one Store serves every job of the process.
//
// Some calls (AccountID, hence Post and Batch.Add) use a second pooled connection while a
// transaction holds one, so the pool must allow at least two open connections.
type Store struct {
	db    *sqlx.DB
	chart Chart

	mu            sync.RWMutex
	accounts      map[string]Account // by name; accounts are never deleted nor change currency
	accountIDs    map[int64]Account  // the same, by id
	createStaging string             // the staging table's DDL, once known
}

// NewStore returns a Store on a migrated database, booking with the given chart of accounts.
func NewStore(db *sqlx.DB, chart Chart) *Store {
	return &Store{db: db, chart: chart, accounts: map[string]Account{}, accountIDs: map[int64]Account{}}
}

// DB returns the database handle, for jobs that keep their own tables next to the ledger.
func (s *Store) DB() *sqlx.DB { return s.db }

// Chart returns the chart of accounts the store was made with, so that a job holding only
// the store builds entries with the same account names.
func (s *Store) Chart() Chart { return s.chart }

func knownType(t AccountType) bool {
	switch t {
	case Asset, Liability, Equity, Income, Expense:
		return true
	}
	return false
}

// AccountID returns the id of an account, creating it when missing, so that callers name
// accounts and never manage their ids. The account is created in its own transaction (an
// account is harmless on its own), by another pooled connection than any open batch, and
// remembered in memory. An existing account of another type or currency is ErrConflict.
func (s *Store) AccountID(ctx context.Context, name string, typ AccountType, currency string) (int64, error) {
	s.mu.RLock()
	a, ok := s.accounts[name]
	s.mu.RUnlock()
	if !ok {
		if name == "" || currency == "" {
			return 0, fmt.Errorf("%w: an account needs a name and a currency (got %q, %q)", ErrInvalid, name, currency)
		}
		if !knownType(typ) {
			return 0, fmt.Errorf("%w: account %s has unknown type %q", ErrInvalid, name, typ)
		}
		var err error
		if a, err = s.loadAccount(ctx, name, typ, currency); err != nil {
			return 0, err
		}
		s.mu.Lock()
		s.accounts[name] = a
		s.accountIDs[a.ID] = a
		s.mu.Unlock()
	}
	if a.Type != typ || a.Currency != currency {
		return 0, fmt.Errorf("%w: account %s is %s in %s, not %s in %s", ErrConflict, name, a.Type, a.Currency, typ, currency)
	}
	return a.ID, nil
}

// accountByID returns an account AccountID has seen.
func (s *Store) accountByID(id int64) (Account, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.accountIDs[id]
	return a, ok
}

// loadAccount inserts the account unless it exists, and reads it back.
func (s *Store) loadAccount(ctx context.Context, name string, typ AccountType, currency string) (Account, error) {
	a := Account{Name: name}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO accounts (name, type, currency)
		VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`,
		name, string(typ), currency)
	if err != nil {
		return a, fmt.Errorf("ledger: unable to create account %s: %w", name, err)
	}
	err = s.db.QueryRowContext(ctx, `
		SELECT id, type, currency
		FROM accounts
		WHERE name = $1`,
		name).Scan(&a.ID, &a.Type, &a.Currency)
	if err != nil {
		return a, fmt.Errorf("ledger: unable to read account %s: %w", name, err)
	}
	return a, nil
}

// The messages of the balance trigger of migration 002 start with these; the rest of a
// message names the entry.
const (
	unbalancedPrefix     = "unbalanced entry"
	invalidPostingPrefix = "invalid posting"
)

// dbError wraps a database error for what the store was doing, and makes a rejection by the
// ledger's triggers match ErrUnbalanced or ErrInvalid, so callers can tell a bad entry from
// a broken connection.
func dbError(what string, err error) error {
	if pqErr := pq.As(err, pqerror.CheckViolation, pqerror.ForeignKeyViolation); pqErr != nil {
		switch {
		case pqErr.Code == pqerror.CheckViolation && strings.HasPrefix(pqErr.Message, unbalancedPrefix):
			return fmt.Errorf("%w: %s: %w", ErrUnbalanced, what, err)
		case strings.HasPrefix(pqErr.Message, invalidPostingPrefix):
			return fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
		}
	}
	return fmt.Errorf("ledger: %s: %w", what, err)
}

// Post books one entry in its own transaction, idempotently: an entry already booked under
// its (source, external id) is left as it is, and its id is returned with booked=false, so a
// retried call never books twice.
func (s *Store) Post(ctx context.Context, e Entry) (id int64, booked bool, err error) {
	if err := e.Validate(); err != nil {
		return 0, false, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("ledger: unable to begin a transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if id, booked, err = s.PostTx(ctx, tx, e); err != nil {
		return 0, false, err
	}
	if err := tx.Commit(); err != nil {
		return 0, false, dbError(fmt.Sprintf("unable to commit %s/%s", e.Source, e.ExternalID), err)
	}
	return id, booked, nil
}

// PostTx is Post inside the caller's transaction, for a job that books an entry together
// with its own state (a payout row marked paid and its withdrawal entry commit or fail
// together). The transaction should be READ COMMITTED, so that an entry booked concurrently
// under the same key is found. Accounts are created outside it.
func (s *Store) PostTx(ctx context.Context, tx *sqlx.Tx, e Entry) (id int64, booked bool, err error) {
	if err := e.Validate(); err != nil {
		return 0, false, err
	}
	if len(e.Postings) > 1<<15-1 {
		return 0, false, fmt.Errorf("%w: %s/%s has %d postings", ErrInvalid, e.Source, e.ExternalID, len(e.Postings))
	}
	ids := make([]int64, len(e.Postings))
	amounts := make([]string, len(e.Postings))
	usd := make([]string, len(e.Postings)) // "" is NULL
	currencies := make([]string, len(e.Postings))
	for i, p := range e.Postings {
		if ids[i], err = s.AccountID(ctx, p.Account, p.Type, p.Currency); err != nil {
			return 0, false, err
		}
		amounts[i] = p.Amount.String()
		if p.AmountUSD.Valid {
			usd[i] = p.AmountUSD.Decimal.String()
		}
		currencies[i] = p.Currency
	}
	what := e.Source + "/" + e.ExternalID

	err = tx.QueryRowContext(ctx, `
		INSERT INTO journal_entries (source, external_id, occurred_at, description, tx_hash, label, address, source_ref)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (source, external_id) DO NOTHING
		RETURNING id`,
		e.Source, e.ExternalID, e.OccurredAt.UTC(), e.Description, e.TxHash, e.Label, e.Address, e.SourceRef,
	).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `
			SELECT id
			FROM journal_entries
			WHERE source = $1 AND external_id = $2`,
			e.Source, e.ExternalID).Scan(&id)
		if err != nil {
			return 0, false, fmt.Errorf("ledger: unable to find booked entry %s: %w", what, err)
		}
		return id, false, nil
	}
	if err != nil {
		return 0, false, dbError("unable to book entry "+what, err)
	}

	// All postings in one statement: the balance trigger checks each statement.
	_, err = tx.ExecContext(ctx, `
		INSERT INTO postings (entry_id, line, account_id, currency, amount, amount_usd, occurred_at)
		SELECT $1, p.line, p.account_id, p.currency, p.amount::numeric, NULLIF(p.amount_usd, '')::numeric, $2
		FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[])
		     WITH ORDINALITY AS p (account_id, currency, amount, amount_usd, line)`,
		id, e.OccurredAt.UTC(), pq.Array(ids), pq.Array(currencies), pq.Array(amounts), pq.Array(usd))
	if err != nil {
		return 0, false, dbError("unable to book the postings of "+what, err)
	}
	return id, true, nil
}

// Watermark returns how far a source has been synced, so that the next sync starts there;
// ok is false when the source was never synced.
func (s *Store) Watermark(ctx context.Context, source string) (at time.Time, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `
		SELECT watermark
		FROM sync_watermarks
		WHERE source = $1`,
		source).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ledger: unable to read the watermark of %s: %w", source, err)
	}
	return at.UTC(), true, nil
}

// FirstSyncRunReaching returns when the first sync run of source that reached at (its
// range ending at or after it) started, so that a watermark can be traced to the run that
// stored it; ok is false when no run did.
func (s *Store) FirstSyncRunReaching(ctx context.Context, source string, at time.Time) (started time.Time, ok bool, err error) {
	var t sql.NullTime
	err = s.db.QueryRowContext(ctx, `
		SELECT min(started_at)
		FROM sync_runs
		WHERE source = $1 AND to_time >= $2`,
		source, at.UTC()).Scan(&t)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ledger: unable to read the sync runs of %s: %w", source, err)
	}
	return t.Time.UTC(), t.Valid, nil
}

// SyncedFrom returns the earliest start of a sync run of source that finished well, so
// that a caller can tell whether the ledger holds a source's transactions since a time;
// ok is false when no run of it finished well.
func (s *Store) SyncedFrom(ctx context.Context, source string) (from time.Time, ok bool, err error) {
	var t sql.NullTime
	err = s.db.QueryRowContext(ctx, `
		SELECT min(from_time)
		FROM sync_runs
		WHERE source = $1 AND status = $2`,
		source, RunOK).Scan(&t)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ledger: unable to read the sync runs of %s: %w", source, err)
	}
	return t.Time.UTC(), t.Valid, nil
}

// SaveCurrencies stores what /currencies/ says, replacing what was stored for each currency
// listed, so that quarantine rules and payouts use the latest limits and fees. Currencies
// not listed are kept: transactions booked in them still need their metadata.
func (s *Store) SaveCurrencies(ctx context.Context, cs []nordpay.Currency) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: unable to begin a transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, c := range cs {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO currencies (name, token, network, contract, decimals, confirmations, network_fee,
			                        min_deposit, min_withdraw, is_deposit_enabled, is_withdraw_enabled, rate, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())
			ON CONFLICT (name) DO UPDATE SET
				token = excluded.token, network = excluded.network, contract = excluded.contract,
				decimals = excluded.decimals, confirmations = excluded.confirmations,
				network_fee = excluded.network_fee, min_deposit = excluded.min_deposit,
				min_withdraw = excluded.min_withdraw, is_deposit_enabled = excluded.is_deposit_enabled,
				is_withdraw_enabled = excluded.is_withdraw_enabled, rate = excluded.rate,
				updated_at = excluded.updated_at`,
			c.Name, c.Token, c.Network, c.Contract, c.Decimals, c.Confirmations, c.NetworkFee,
			c.MinDeposit, c.MinWithdraw, c.DepositEnabled(), c.WithdrawEnabled(), c.Rate)
		if err != nil {
			return fmt.Errorf("ledger: unable to save currency %s: %w", c.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: unable to commit the currencies: %w", err)
	}
	return nil
}

// Currencies returns the stored currencies by name, so that a sync can quarantine
// transactions in currencies Nord PAY does not list without asking it again.
func (s *Store) Currencies(ctx context.Context) (map[string]nordpay.Currency, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT name, token, network, contract, decimals, confirmations, network_fee,
		       min_deposit, min_withdraw, is_deposit_enabled, is_withdraw_enabled, rate
		FROM currencies`)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the currencies: %w", err)
	}
	defer rows.Close()
	out := map[string]nordpay.Currency{}
	for rows.Next() {
		var c nordpay.Currency
		var deposit, withdraw bool
		if err := rows.Scan(&c.Name, &c.Token, &c.Network, &c.Contract, &c.Decimals, &c.Confirmations, &c.NetworkFee,
			&c.MinDeposit, &c.MinWithdraw, &deposit, &withdraw, &c.Rate); err != nil {
			return nil, fmt.Errorf("ledger: unable to read the currencies: %w", err)
		}
		c.IsDepositEnabled, c.IsWithdrawEnabled = &deposit, &withdraw
		out[c.Name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read the currencies: %w", err)
	}
	return out, nil
}

// Balance is one account's balance at a time, the figure `ledger balances` prints.
type Balance struct {
	Account  string
	Type     AccountType
	Currency string
	// Balance is the sum of the account's postings (debits positive).
	Balance decimal.Decimal
	// BalanceUSD is the sum of the postings' USD values, where known; informational.
	BalanceUSD decimal.Decimal
}

// Balances returns every account's balance from the postings that occurred before at (all
// postings when at is zero), zero balances included, sorted by account name, so that a
// balance at the start of a period and one at its end add up with the postings in between.
func (s *Store) Balances(ctx context.Context, at time.Time) ([]Balance, error) {
	return balances(ctx, s.db, at)
}

// balances is Balances through q (the pool or a snapshot's transaction).
func balances(ctx context.Context, q queryer, at time.Time) ([]Balance, error) {
	var until any // NULL: no bound
	if !at.IsZero() {
		until = at.UTC()
	}
	rows, err := q.QueryContext(ctx, `
		SELECT a.name, a.type, a.currency, coalesce(p.balance, 0), coalesce(p.balance_usd, 0)
		FROM accounts a
		LEFT JOIN (
			SELECT account_id, sum(amount) AS balance, sum(amount_usd) AS balance_usd
			FROM postings
			WHERE $1::timestamptz IS NULL OR occurred_at < $1::timestamptz
			GROUP BY account_id
		) p ON p.account_id = a.id
		ORDER BY a.name`,
		until)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to compute balances: %w", err)
	}
	defer rows.Close()
	var out []Balance
	for rows.Next() {
		var b Balance
		if err := rows.Scan(&b.Account, &b.Type, &b.Currency, &b.Balance, &b.BalanceUSD); err != nil {
			return nil, fmt.Errorf("ledger: unable to read balances: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read balances: %w", err)
	}
	return out, nil
}

// Sync run states.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"
)

// SyncRun is the record of one sync run, kept for `jobs history` and monitoring.
type SyncRun struct {
	ID     int64
	Source string
	// StartedAt and FinishedAt are set by the database when zero.
	StartedAt, FinishedAt time.Time
	// From and To are the pulled range [From, To); zero when unknown.
	From, To time.Time
	// Status is RunRunning, RunOK or RunFailed.
	Status string
	// The counts of the sync summary.
	Fetched, Booked, AlreadyBooked, Unpaid, Quarantined int64
	// Error is the error that failed the run; empty when it did not fail.
	Error string
}

// nullTime is NULL for the zero time, which the run columns use for "unknown".
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// StartSyncRun records that a run of source began over [from, to), before any window is
// pulled, so that a run that dies leaves a trace; it returns the run's id.
func (s *Store) StartSyncRun(ctx context.Context, source string, from, to time.Time) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO sync_runs (source, from_time, to_time, status)
		VALUES ($1, $2, $3, 'running')
		RETURNING id`,
		source, nullTime(from), nullTime(to)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to record the start of a %s sync: %w", source, err)
	}
	return id, nil
}

// FinishSyncRun records a run's outcome and counts (run.ID names it; a zero FinishedAt means
// now), so that history shows how every run ended.
func (s *Store) FinishSyncRun(ctx context.Context, run SyncRun) error {
	if run.Status != RunOK && run.Status != RunFailed {
		return fmt.Errorf("ledger: a sync run finishes %q or %q, not %q", RunOK, RunFailed, run.Status)
	}
	res, err := s.db.ExecContext(ctx, `
		UPDATE sync_runs SET
			finished_at = coalesce($2, now()), status = $3,
			fetched = $4, booked = $5, already_booked = $6, unpaid = $7, quarantined = $8, error = $9
		WHERE id = $1`,
		run.ID, nullTime(run.FinishedAt), run.Status,
		run.Fetched, run.Booked, run.AlreadyBooked, run.Unpaid, run.Quarantined, run.Error)
	if err != nil {
		return fmt.Errorf("ledger: unable to record the end of sync run %d: %w", run.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("ledger: unable to record the end of sync run %d: %w", run.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("ledger: sync run %d does not exist", run.ID)
	}
	return nil
}

// Analyze refreshes PostgreSQL's statistics of the ledger tables. A bulk load grows them
// faster than autovacuum notices, and the statements and reports that read them next would
// be planned for the old sizes (a hash join and a sort spilling to disk instead of an index
// scan in order); a sync calls it once it has booked.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `ANALYZE journal_entries, postings`); err != nil {
		return fmt.Errorf("ledger: unable to analyze the ledger tables: %w", err)
	}
	return nil
}
