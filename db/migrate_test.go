package db_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
)

func versions(ms []db.Migration) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Version
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func knownMigrations(t *testing.T) []db.Migration {
	t.Helper()
	known, err := db.Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	return known
}

func TestMigrations(t *testing.T) {
	t.Parallel()

	t.Run("EmbeddedFilesParseInOrder", func(t *testing.T) {
		t.Parallel()
		known := knownMigrations(t)
		if len(known) == 0 || known[0].Version != 1 || known[0].Name != "currencies" {
			t.Fatalf("Migrations() = %v, want 001_currencies first", known)
		}
		for i, m := range known {
			if i > 0 && m.Version <= known[i-1].Version {
				t.Errorf("%s comes after %s", m, known[i-1])
			}
			sum := sha256.Sum256([]byte(m.SQL))
			if m.Checksum != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: checksum %s is not the SHA-256 of its SQL", m, m.Checksum)
			}
		}
	})
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FreshDatabaseGetsAll", func(t *testing.T) {
		t.Parallel()
		conn := dbtest.Empty(t)
		known := knownMigrations(t)

		got, err := db.Migrate(ctx, conn.DB)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if !equalInts(versions(got), versions(known)) {
			t.Errorf("applied %v, want %v", versions(got), versions(known))
		}
		applied, err := db.Applied(ctx, conn.DB)
		if err != nil {
			t.Fatalf("Applied: %v", err)
		}
		if !equalInts(versions(applied), versions(known)) {
			t.Errorf("Applied() = %v, want %v", versions(applied), versions(known))
		}
		for i, a := range applied {
			if a.Checksum != known[i].Checksum || a.Name != known[i].Name || a.AppliedAt.IsZero() {
				t.Errorf("recorded %+v, want name %s, checksum %s and a time", a, known[i].Name, known[i].Checksum)
			}
		}
	})

	t.Run("SecondRunAppliesNothing", func(t *testing.T) {
		t.Parallel()
		conn := dbtest.New(t) // already migrated by the template

		got, err := db.Migrate(ctx, conn.DB)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("applied %v on a migrated database, want nothing", versions(got))
		}
	})

	t.Run("NeverMigratedDatabaseHasAppliedNothing", func(t *testing.T) {
		t.Parallel()
		applied, err := db.Applied(ctx, dbtest.Empty(t).DB)
		if err != nil || len(applied) != 0 {
			t.Fatalf("Applied on an empty database = %v, %v; want nothing, nil", applied, err)
		}
	})

	t.Run("ConcurrentMigratorsApplyEachOnce", func(t *testing.T) {
		t.Parallel()
		// Each Migrate call runs its transactions on its own server session
		// (the pool opens one per concurrent transaction), as replicas would.
		const replicas = 4
		conn := dbtest.Empty(t)
		known := knownMigrations(t)

		var wg sync.WaitGroup
		results := make([][]db.Migration, replicas)
		errs := make([]error, replicas)
		start := make(chan struct{})
		for i := range replicas {
			wg.Go(func() {
				<-start
				results[i], errs[i] = db.Migrate(ctx, conn.DB)
			})
		}
		close(start)
		wg.Wait()

		appliedBy := make(map[int]int)
		for i := range replicas {
			if errs[i] != nil {
				t.Errorf("replica %d: Migrate: %v", i, errs[i])
			}
			for _, m := range results[i] {
				appliedBy[m.Version]++
			}
		}
		for _, m := range known {
			if appliedBy[m.Version] != 1 {
				t.Errorf("%s applied %d times across replicas, want once", m, appliedBy[m.Version])
			}
		}
	})

	t.Run("ChangedChecksumIsAnError", func(t *testing.T) {
		t.Parallel()
		conn := dbtest.New(t)
		if _, err := conn.ExecContext(ctx, `UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`); err != nil {
			t.Fatal(err)
		}

		_, err := db.Migrate(ctx, conn.DB)
		if !errors.Is(err, db.ErrChecksumMismatch) {
			t.Fatalf("Migrate = %v, want ErrChecksumMismatch", err)
		}
		if !strings.Contains(err.Error(), "001_currencies") {
			t.Errorf("error %q does not name the migration", err)
		}
	})

	t.Run("FutureVersionIsAnError", func(t *testing.T) {
		t.Parallel()
		conn := dbtest.New(t)
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')`); err != nil {
			t.Fatal(err)
		}

		_, err := db.Migrate(ctx, conn.DB)
		if !errors.Is(err, db.ErrUnknownVersion) {
			t.Fatalf("Migrate = %v, want ErrUnknownVersion", err)
		}
		if !strings.Contains(err.Error(), "999_from_the_future") {
			t.Errorf("error %q does not name the unknown migration", err)
		}
	})
}

func TestCheckSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	known := knownMigrations(t)
	latest := known[len(known)-1].Version
	const where = "postgres://app:xxxxx@db/books"

	t.Run("NeverMigratedIsVersionZero", func(t *testing.T) {
		t.Parallel()
		conn := dbtest.Empty(t)
		if v, n, err := db.SchemaVersion(ctx, conn.DB); v != 0 || n != 0 || err != nil {
			t.Fatalf("SchemaVersion = %d, %d, %v; want 0, 0, nil", v, n, err)
		}
		err := db.CheckSchema(ctx, conn.DB, where)
		var se *db.SchemaError
		if !errors.As(err, &se) || !errors.Is(err, db.ErrSchemaOutdated) || se.Have != 0 || se.Need != latest {
			t.Fatalf("CheckSchema = %v", err)
		}
		want := "the database at " + where + " has schema version 0, this build needs " + strconv.Itoa(latest) + ": run nordpay-jobs migrate"
		if err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
	})

	t.Run("MigratedPasses", func(t *testing.T) {
		t.Parallel()
		conn := dbtest.New(t)
		if v, n, err := db.SchemaVersion(ctx, conn.DB); v != latest || n != len(known) || err != nil {
			t.Fatalf("SchemaVersion = %d, %d, %v; want %d, %d, nil", v, n, err, latest, len(known))
		}
		if err := db.CheckSchema(ctx, conn.DB, where); err != nil {
			t.Fatal(err)
		}
	})

	for _, tc := range []struct {
		outcome, change, says string
		outdated              bool
	}{
		{"BehindNamesBothVersions", `DELETE FROM schema_migrations WHERE version = ` + strconv.Itoa(latest),
			"has schema version " + strconv.Itoa(latest-1) + ", this build needs " + strconv.Itoa(latest), true},
		{"GapIsOutdated", `DELETE FROM schema_migrations WHERE version = 1`,
			"has " + strconv.Itoa(len(known)-1) + " of the " + strconv.Itoa(len(known)) + " migrations", true},
		{"AheadPasses", `INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')`, "", false},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			conn := dbtest.New(t)
			if _, err := conn.ExecContext(ctx, tc.change); err != nil {
				t.Fatal(err)
			}
			err := db.CheckSchema(ctx, conn.DB, where)
			if errors.Is(err, db.ErrSchemaOutdated) != tc.outdated || tc.outdated && !strings.Contains(err.Error(), tc.says) ||
				!tc.outdated && err != nil {
				t.Fatalf("CheckSchema = %v; want outdated %v saying %q", err, tc.outdated, tc.says)
			}
		})
	}
}
