package db

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseMigrations(t *testing.T) {
	t.Parallel()
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}

	t.Run("SortsByVersion", func(t *testing.T) {
		t.Parallel()
		ms, err := parseMigrations(fstest.MapFS{
			"m/010_ten.up.sql":       sql,
			"m/002_two_words.up.sql": sql,
			"m/001_one.up.sql":       sql,
		}, "m")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.String())
		}
		if strings.Join(got, ",") != "001_one,002_two_words,010_ten" {
			t.Errorf("got %v", got)
		}
	})

	for _, tc := range []struct{ outcome, file, wantErr string }{
		{"ErrNoNumber", "currencies.up.sql", "not named NNN_name.up.sql"},
		{"ErrShortNumber", "1_currencies.up.sql", "not named NNN_name.up.sql"},
		{"ErrDownMigration", "002_currencies.down.sql", "not named NNN_name.up.sql"},
		{"ErrNoUp", "002_currencies.sql", "not named NNN_name.up.sql"},
		{"ErrUpperCaseName", "002_Currencies.up.sql", "not named NNN_name.up.sql"},
		{"ErrVersionZero", "000_zero.up.sql", "version must be a number from 001"},
		{"ErrDuplicateVersion", "001_again.up.sql", "have the same version 1"},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			_, err := parseMigrations(fstest.MapFS{
				"m/001_currencies.up.sql": sql,
				"m/" + tc.file:            sql,
			}, "m")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parse with %s: err = %v, want %q", tc.file, err, tc.wantErr)
			}
		})
	}

	t.Run("ErrEmptyFile", func(t *testing.T) {
		t.Parallel()
		_, err := parseMigrations(fstest.MapFS{"m/001_x.up.sql": &fstest.MapFile{}}, "m")
		if err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("err = %v, want an empty-file error", err)
		}
	})
}

func TestPending(t *testing.T) {
	t.Parallel()
	m1 := Migration{Version: 1, Name: "one", Checksum: "c1"}
	m2 := Migration{Version: 2, Name: "two", Checksum: "c2"}
	m3 := Migration{Version: 3, Name: "three", Checksum: "c3"}

	for _, tc := range []struct {
		outcome        string
		known, applied []Migration
		want           string // versions of the pending ones
		wantErr        error
	}{
		{"AllPendingOnFreshDatabase", []Migration{m1, m2}, nil, "1,2", nil},
		{"OnlyNewOnesPending", []Migration{m1, m2, m3}, []Migration{m1}, "2,3", nil},
		{"NothingPendingWhenUpToDate", []Migration{m1, m2}, []Migration{m1, m2}, "", nil},
		{"ErrUnknownVersion", []Migration{m1}, []Migration{m1, m2}, "", ErrUnknownVersion},
		{"ErrChecksumMismatch", []Migration{m1, m2}, []Migration{{Version: 1, Name: "one", Checksum: "edited"}}, "", ErrChecksumMismatch},
		{"ErrOutOfOrder", []Migration{m1, m2, m3}, []Migration{m1, m3}, "", ErrOutOfOrder},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			todo, err := pending(tc.known, tc.applied)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var got []string
			for _, m := range todo {
				got = append(got, string(rune('0'+m.Version)))
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("pending = %v, want %s", got, tc.want)
			}
		})
	}
}
