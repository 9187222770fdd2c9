package exporters

import (
	"errors"
	"io/fs"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAtomicFilesReplace checks how an export removes the files of an earlier one that it
// replaces: only at Commit, after its own files are in place; never at Abort; never a file
// it writes itself; never a folder or a link.
func TestAtomicFilesReplace(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, names ...string) (string, *AtomicFiles) {
		t.Helper()
		dir := t.TempDir()
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("earlier"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir, NewAtomicFiles(filepath.Join(dir, "out.csv"))
	}
	exists := func(t *testing.T, path string) bool {
		t.Helper()
		_, err := os.Lstat(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	create := func(t *testing.T, a *AtomicFiles, suffix string) {
		t.Helper()
		w, err := a.Create(suffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("new")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("RemovedAtCommit", func(t *testing.T) {
		t.Parallel()
		dir, a := setup(t, "out-001.csv", "out-002.csv", "out-003.csv")
		create(t, a, "-001")
		for _, s := range []string{"-002", "-003", "-003"} {
			found, err := a.earlier(s)
			if err != nil || !found {
				t.Fatalf("earlier(%s) = %v, %v", s, found, err)
			}
			a.replace(s)
		}
		if !exists(t, filepath.Join(dir, "out-002.csv")) {
			t.Fatal("removed before Commit")
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		want := []string{filepath.Join(dir, "out-002.csv"), filepath.Join(dir, "out-003.csv")}
		if !slices.Equal(a.Removed(), want) {
			t.Errorf("Removed() = %v, want %v", a.Removed(), want)
		}
		if exists(t, want[0]) || exists(t, want[1]) || !exists(t, filepath.Join(dir, "out-001.csv")) {
			t.Error("the folder does not hold the new export alone")
		}
	})
	t.Run("KeptAtAbort", func(t *testing.T) {
		t.Parallel()
		dir, a := setup(t, "out-002.csv")
		create(t, a, "-001")
		a.replace("-002")
		if err := a.Abort(); err != nil {
			t.Fatal(err)
		}
		if !exists(t, filepath.Join(dir, "out-002.csv")) || exists(t, filepath.Join(dir, "out-001.csv")) || len(a.Removed()) != 0 {
			t.Error("Abort removed the earlier export's file, or left the new one")
		}
	})
	t.Run("WrittenFileKept", func(t *testing.T) {
		t.Parallel()
		dir, a := setup(t, "out-001.csv")
		a.replace("-001")
		create(t, a, "-001")
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "out-001.csv"))
		if err != nil || string(b) != "new" || len(a.Removed()) != 0 {
			t.Errorf("out-001.csv = %q, %v; removed %v", b, err, a.Removed())
		}
	})
	t.Run("OnlyRegularFilesAreEarlier", func(t *testing.T) {
		t.Parallel()
		dir, a := setup(t, "target.csv")
		if err := os.Mkdir(filepath.Join(dir, "out-001.csv"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, "target.csv"), filepath.Join(dir, "out-002.csv")); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"-001", "-002", "-003"} {
			if found, err := a.earlier(s); err != nil || found {
				t.Errorf("earlier(%s) = %v, %v; want false", s, found, err)
			}
		}
	})
	t.Run("ErrRemoveNamesTheFile", func(t *testing.T) {
		t.Parallel()
		dir, a := setup(t, "out-002.csv")
		create(t, a, "-001")
		a.replace("-002")
		// By Commit the earlier file has become a folder that is not empty: it stays.
		stale := filepath.Join(dir, "out-002.csv")
		if err := os.Remove(stale); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(stale, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		err := a.Commit()
		if want := stale + ", left by an earlier export to the same place, could not be removed"; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Commit = %v; want it to say %q", err, want)
		}
		if !exists(t, filepath.Join(dir, "out-001.csv")) || len(a.Removed()) != 0 {
			t.Errorf("the new file is not in place, or Removed() = %v", a.Removed())
		}
	})
}

// TestReconSerial checks that a reconciliation time comes back from its date cell to the
// microsecond, read as a spreadsheet reads it: as a float64.
func TestReconSerial(t *testing.T) {
	t.Parallel()
	epoch := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		at := time.Date(1990+r.IntN(89), 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(365*86400e6)) * time.Microsecond)
		f, ok := reconSerial(at)
		if !ok {
			t.Fatalf("%s has no serial", at)
		}
		x := new(big.Float).SetPrec(200).SetFloat64(f)
		x.Mul(x, big.NewFloat(86_400_000_000)).Add(x, big.NewFloat(0.5))
		micros, _ := x.Int(nil)
		if back := epoch.Add(time.Duration(micros.Int64()) * time.Microsecond); !back.Equal(at) {
			t.Fatalf("%s -> %v -> %s", at, f, back)
		}
	}
	if _, ok := reconSerial(time.Date(1900, 2, 28, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("a date before 1900-03-01 has a serial")
	}
}
