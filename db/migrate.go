package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lib/pq"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change. It is exported so that
// `nordpay-jobs migrate` can say what it applied and operators can compare a
// database with a binary.
type Migration struct {
	// Version is the number in the file name; migrations apply in its order.
	Version int
	// Name is the file name's middle part, "currencies" in 001_currencies.up.sql.
	Name string
	// Checksum is the hex SHA-256 of the file, recorded when the migration is
	// applied so that a later edit of an applied file is caught.
	Checksum string
	// SQL is the file's text. It is empty in what Applied returns.
	SQL string
	// AppliedAt is when the database recorded the migration; zero for a
	// migration that is only known, not applied.
	AppliedAt time.Time
}

// String returns the file's stem, "001_currencies", which is how people refer
// to a migration in logs and errors.
func (m Migration) String() string {
	return fmt.Sprintf("%03d_%s", m.Version, m.Name)
}

// Errors from Migrate that callers and operators must tell apart from a
// broken connection: each means the database and this binary disagree about
// the schema, and retrying will not help.
var (
	// ErrChecksumMismatch means an applied migration's file was edited
	// afterwards; the fix is a new migration, not an edit.
	ErrChecksumMismatch = errors.New("db: an applied migration was changed")
	// ErrUnknownVersion means the database has a migration this binary does
	// not know, usually because a newer nordpay-jobs already migrated it.
	ErrUnknownVersion = errors.New("db: the database has a migration this binary does not know")
	// ErrOutOfOrder means a migration is pending although a higher-numbered
	// one is applied (two branches took the same slot); applying it now could
	// run schema changes in an order nobody tested.
	ErrOutOfOrder = errors.New("db: a migration is pending behind a newer applied one")
)

// migrateLockID is the advisory lock key that serialises migrators across
// replicas: "nordmigr" in ASCII. It is held per transaction, so a crashed
// migrator can never leave it taken.
const migrateLockID int64 = 0x6e6f72646d696772

var fileName = regexp.MustCompile(`^([0-9]{3,})_([a-z0-9]+(?:_[a-z0-9]+)*)\.up\.sql$`)

var knownMigrations = sync.OnceValues(func() ([]Migration, error) {
	return parseMigrations(migrationFiles, "migrations")
})

// Migrations returns every migration embedded in this binary, in version
// order, so that tools can show what a database lacks and tests can build a
// template database. An embedded file whose name is not NNN_name.up.sql is an
// error here, which makes it fail every startup rather than be skipped.
func Migrations() ([]Migration, error) {
	ms, err := knownMigrations()
	if err != nil {
		return nil, err
	}
	return slices.Clone(ms), nil
}

// parseMigrations reads the migrations in dir of fsys.
func parseMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("db: unable to list migrations: %w", err)
	}
	var ms []Migration
	seen := make(map[int]string)
	for _, e := range entries {
		match := fileName.FindStringSubmatch(e.Name())
		if match == nil || e.IsDir() {
			return nil, fmt.Errorf("db: migration file %q is not named NNN_name.up.sql (NNN a number, name lower-case letters, digits and _)", e.Name())
		}
		version, err := strconv.Atoi(match[1])
		if err != nil || version < 1 {
			return nil, fmt.Errorf("db: migration file %q: version must be a number from 001", e.Name())
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("db: migration files %q and %q have the same version %d", other, e.Name(), version)
		}
		seen[version] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("db: unable to read migration %q: %w", e.Name(), err)
		}
		if len(body) == 0 {
			return nil, fmt.Errorf("db: migration file %q is empty", e.Name())
		}
		sum := sha256.Sum256(body)
		ms = append(ms, Migration{
			Version:  version,
			Name:     match[2],
			Checksum: hex.EncodeToString(sum[:]),
			SQL:      string(body),
		})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	return ms, nil
}

// pending compares what a database has applied with what this binary knows
// and returns what is left to apply, in order, or why it must not migrate.
func pending(known, applied []Migration) ([]Migration, error) {
	byVersion := make(map[int]Migration, len(known))
	latestKnown := 0
	for _, m := range known {
		byVersion[m.Version] = m
		latestKnown = max(latestKnown, m.Version)
	}
	done := make(map[int]bool, len(applied))
	latestApplied := 0
	for _, a := range applied {
		m, ok := byVersion[a.Version]
		if !ok {
			return nil, fmt.Errorf("%w: the database has %s, this binary knows migrations up to %03d; run a nordpay-jobs that has it",
				ErrUnknownVersion, a, latestKnown)
		}
		if a.Checksum != m.Checksum {
			return nil, fmt.Errorf("%w: %s has checksum %.12s in the database but %.12s in this binary; add a new migration instead of editing an applied one",
				ErrChecksumMismatch, m, a.Checksum, m.Checksum)
		}
		done[a.Version] = true
		latestApplied = max(latestApplied, a.Version)
	}
	var todo []Migration
	for _, m := range known {
		if done[m.Version] {
			continue
		}
		if m.Version < latestApplied {
			return nil, fmt.Errorf("%w: %s is not applied but %03d already is; renumber it after the latest migration",
				ErrOutOfOrder, m, latestApplied)
		}
		todo = append(todo, m)
	}
	return todo, nil
}

const createSchemaMigrations = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int         PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the pending migrations in version order, each in its own
// transaction, and returns the ones this call applied, so that starting
// several replicas at once is safe: each transaction first takes an advisory
// lock, so concurrent migrators queue and find the work already done. A
// database that is ahead of this binary, or whose applied migrations differ
// from the embedded files, is an error (see ErrUnknownVersion,
// ErrChecksumMismatch, ErrOutOfOrder) and nothing is applied.
func Migrate(ctx context.Context, db *sql.DB) ([]Migration, error) {
	known, err := Migrations()
	if err != nil {
		return nil, err
	}
	var done []Migration
	for {
		m, err := migrateNext(ctx, db, known)
		if err != nil {
			return done, err
		}
		if m == nil {
			return done, nil
		}
		done = append(done, *m)
	}
}

// migrateNext applies the first pending migration in one transaction and
// returns it, or returns nil when there is nothing left to do.
func migrateNext(ctx context.Context, db *sql.DB, known []Migration) (*Migration, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("db: unable to begin a migration transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockID); err != nil {
		return nil, fmt.Errorf("db: unable to take the migration lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
		return nil, fmt.Errorf("db: unable to create schema_migrations: %w", err)
	}
	applied, err := queryApplied(ctx, tx)
	if err != nil {
		return nil, err
	}
	todo, err := pending(known, applied)
	if err != nil {
		return nil, err
	}
	if len(todo) == 0 {
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("db: unable to commit schema_migrations: %w", err)
		}
		return nil, nil
	}

	m := todo[0]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return nil, fmt.Errorf("db: migration %s failed: %w", m, err)
	}
	err = tx.QueryRowContext(ctx, `
		INSERT INTO schema_migrations (version, name, checksum)
		VALUES ($1, $2, $3)
		RETURNING applied_at`,
		m.Version, m.Name, m.Checksum,
	).Scan(&m.AppliedAt)
	if err != nil {
		return nil, fmt.Errorf("db: unable to record migration %s: %w", m, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("db: unable to commit migration %s: %w", m, err)
	}
	return &m, nil
}

// Applied returns the migrations recorded in the database, in version order
// and without their SQL, so that operators and health checks can see where a
// database stands. A database that was never
// migrated has applied nothing, which is not an error.
func Applied(ctx context.Context, db *sql.DB) ([]Migration, error) {
	var exists bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	if err != nil {
		return nil, fmt.Errorf("db: unable to check for schema_migrations: %w", err)
	}
	if !exists {
		return nil, nil
	}
	return queryApplied(ctx, db)
}

// SchemaVersion returns the highest migration version applied to the database and how many
// migrations are applied, in one query; 0, 0 for a database that was never migrated.
func SchemaVersion(ctx context.Context, db *sql.DB) (version, count int, err error) {
	err = db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0), count(*) FROM schema_migrations`).Scan(&version, &count)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == undefinedTable {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("db: unable to read the schema version: %w", err)
	}
	return version, count, nil
}

// undefinedTable is PostgreSQL's SQLSTATE for a table that does not exist.
const undefinedTable = "42P01"

// ErrSchemaOutdated means the database lacks migrations this binary has: every command that
// uses the schema refuses to run until `nordpay-jobs migrate` has brought it up to date,
// rather than fail later on a missing table or column.
var ErrSchemaOutdated = errors.New("db: the database schema is older than this build")

// SchemaError says which schema version a database has and which this build needs. It
// matches ErrSchemaOutdated.
type SchemaError struct {
	// Where names the database, its password redacted (RedactURL).
	Where string
	// Have is the highest migration applied, 0 for none; Applied counts them.
	Have, Applied int
	// Need is the highest migration this build has; Known counts them.
	Need, Known int
}

// Error tells the operator what to run.
func (e *SchemaError) Error() string {
	if e.Have >= e.Need { // every version is there but one in between (see ErrOutOfOrder)
		return fmt.Sprintf("the database at %s has %d of the %d migrations of schema version %d: run nordpay-jobs migrate",
			e.Where, e.Applied, e.Known, e.Need)
	}
	return fmt.Sprintf("the database at %s has schema version %d, this build needs %d: run nordpay-jobs migrate", e.Where, e.Have, e.Need)
}

// Is makes errors.Is(err, ErrSchemaOutdated) hold.
func (e *SchemaError) Is(target error) bool { return target == ErrSchemaOutdated }

// CheckSchema returns a *SchemaError when the database lacks a migration this build has, so
// that a command says "run nordpay-jobs migrate" instead of failing on a missing relation.
// where names the database in the error; pass it through RedactURL. A database ahead of this
// build passes: migrations add to the schema, and replicas of an older build keep running
// while a newer one rolls out (migrate itself refuses such a database, see ErrUnknownVersion).
func CheckSchema(ctx context.Context, db *sql.DB, where string) error {
	known, err := Migrations()
	if err != nil {
		return err
	}
	need := 0
	if len(known) > 0 {
		need = known[len(known)-1].Version
	}
	have, applied, err := SchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if have > need || have == need && applied >= len(known) {
		return nil
	}
	return &SchemaError{Where: where, Have: have, Applied: applied, Need: need, Known: len(known)}
}

// querier is what queryApplied needs from a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryApplied(ctx context.Context, q querier) ([]Migration, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT version, name, checksum, applied_at
		FROM schema_migrations
		ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("db: unable to read schema_migrations: %w", err)
	}
	defer rows.Close()
	var applied []Migration
	for rows.Next() {
		var m Migration
		if err := rows.Scan(&m.Version, &m.Name, &m.Checksum, &m.AppliedAt); err != nil {
			return nil, fmt.Errorf("db: unable to read schema_migrations: %w", err)
		}
		applied = append(applied, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: unable to read schema_migrations: %w", err)
	}
	return applied, nil
}
