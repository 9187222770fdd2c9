// Package dbtest gives each test its own PostgreSQL database, cloned from a
// template that has every migration applied, so that database tests run in
// parallel against the real schema without seeing each other's rows.
//
// The server comes from TEST_DATABASE_URL, which `make test` sets to a
// throwaway cluster. Without a reachable server a test fails, never skips:
// a skipped database test looks like a passing one in CI.
package dbtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/peterldowns/pgtestdb"

	"github.com/nordpay/nordpay-jobs/db"
)

// EnvURL names the environment variable holding the test server's URL, for
// tools that start a server and hand it to `go test`.
const EnvURL = "TEST_DATABASE_URL"

const runMakeTest = "Run the tests with `make test`, which starts a throwaway PostgreSQL and sets " + EnvURL +
	" (or: go run ./cmd/testpg -- go test ./...)."

// New returns a connection to a fresh database of the test's own, with every
// migration applied; it is dropped when the test passes and kept for
// inspection when it fails (its URL is in the test log).
func New(t testing.TB) *sqlx.DB {
	t.Helper()
	return sqlx.NewDb(pgtestdb.New(t, server(t), migrator{}), db.DriverName)
}

// URL returns the URL of a fresh, migrated database of the test's own, for
// tests that run a subprocess (or open several pools) against it. Close
// every connection to it before the test ends, or dropping it fails the test.
func URL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, server(t), migrator{}).URL()
}

// Empty returns a connection to a fresh database of the test's own with no
// migration applied, for tests of the migrations themselves.
func Empty(t testing.TB) *sqlx.DB {
	t.Helper()
	return sqlx.NewDb(pgtestdb.New(t, server(t), pgtestdb.NoopMigrator{}), db.DriverName)
}

// EmptyURL returns the URL of a fresh database of the test's own with no migration applied,
// for tests that run a command against a database that was never migrated.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, server(t), pgtestdb.NoopMigrator{}).URL()
}

// migrator builds the template database with db.Migrate, so tests see the
// schema production gets.
type migrator struct{}

// Hash identifies the template: it changes when any migration file does, so
// pgtestdb builds a new template instead of reusing a stale one.
func (migrator) Hash() (string, error) {
	ms, err := db.Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintln(h, "nordpay-jobs dbtest v1")
	for _, m := range ms {
		fmt.Fprintln(h, m.Version, m.Name, m.Checksum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Migrate applies every migration to the new template database.
func (migrator) Migrate(ctx context.Context, conn *sql.DB, _ pgtestdb.Config) error {
	_, err := db.Migrate(ctx, conn)
	return err
}

// serverConfig is checked once per test binary: every test that needs the
// server gets the same answer, and an unreachable server costs one timeout.
var serverConfig = sync.OnceValues(func() (pgtestdb.Config, error) {
	raw := os.Getenv(EnvURL)
	if raw == "" {
		return pgtestdb.Config{}, errors.New("dbtest: " + EnvURL + " is not set, so there is no PostgreSQL to test against")
	}
	conf, err := parseConfig(raw)
	if err != nil {
		return pgtestdb.Config{}, err
	}
	if err := ping(conf); err != nil {
		return pgtestdb.Config{}, fmt.Errorf("dbtest: cannot reach the PostgreSQL in %s (%s): %w", EnvURL, db.RedactURL(raw), err)
	}
	return conf, nil
})

func server(t testing.TB) pgtestdb.Config {
	t.Helper()
	conf, err := serverConfig()
	if err != nil {
		t.Fatalf("%v\n%s", err, runMakeTest)
	}
	return conf
}

// parseConfig turns a postgres:// URL into pgtestdb's Config.
func parseConfig(raw string) (pgtestdb.Config, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return pgtestdb.Config{}, fmt.Errorf("dbtest: %s must be a postgres://user[:password]@host[:port]/database URL, got %q",
			EnvURL, db.RedactURL(raw))
	}
	conf := pgtestdb.Config{
		DriverName: db.DriverName,
		Host:       u.Hostname(),
		Port:       u.Port(),
		User:       u.User.Username(),
		Database:   strings.TrimPrefix(u.Path, "/"),
	}
	if strings.Contains(conf.Host, ":") {
		conf.Host = "[" + conf.Host + "]" // pgtestdb joins host and port with a colon
	}
	conf.Password, _ = u.User.Password()
	if conf.Port == "" {
		conf.Port = "5432"
	}
	if conf.User == "" {
		conf.User = "postgres"
	}
	if conf.Database == "" {
		conf.Database = "postgres"
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable") // test servers are local; lib/pq would demand TLS
	}
	conf.Options = q.Encode()
	return conf, nil
}

func ping(conf pgtestdb.Config) error {
	conn, err := conf.Connect()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(conn.PingContext(ctx), conn.Close())
	if err != nil && conf.Password != "" && strings.Contains(err.Error(), conf.Password) {
		return errors.New(strings.ReplaceAll(err.Error(), conf.Password, "xxxxx"))
	}
	return err
}
