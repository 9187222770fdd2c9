package exporters

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// AtomicFiles writes the files of an export so that none is ever seen half written: each
// is written under a hidden temporary name in its final directory, and Commit flushes,
// syncs and renames them into place; Abort (or a failed Commit) removes them. A file that
// already exists under a final name is replaced only at Commit.
//
// The files are OUT itself (suffix "") or siblings named with a suffix before OUT's
// extension: out.csv with "-001" is out-001.csv.
//
// A split statement written again to the same OUT may need fewer files than the last time
// (out-001.csv to out-002.csv where there were out-001.csv to out-005.csv): the writer marks
// the earlier export's files that the new one does not rewrite, and Commit removes them once
// the new files are in place, so that the folder holds one export, never a mix that could be
// imported twice. Removed lists them.
type AtomicFiles struct {
	path    string
	files   []*atomicFile
	stale   []string // an earlier export's files that Commit removes
	removed []string
	done    bool
}

type atomicFile struct {
	final string
	tmp   *os.File
	buf   *bufio.Writer
}

// NewAtomicFiles prepares the files of an export to path; nothing is created yet.
func NewAtomicFiles(path string) *AtomicFiles { return &AtomicFiles{path: path} }

// Name returns the final name of the file with a suffix.
func (a *AtomicFiles) Name(suffix string) string {
	if suffix == "" {
		return a.path
	}
	ext := filepath.Ext(a.path)
	return strings.TrimSuffix(a.path, ext) + suffix + ext
}

// Create starts the file with the given suffix (see Files).
func (a *AtomicFiles) Create(suffix string) (io.Writer, error) {
	if a.done {
		return nil, errors.New("exporters: the export's files are already committed or discarded")
	}
	final := a.Name(suffix)
	for _, f := range a.files {
		if f.final == final {
			return nil, fmt.Errorf("exporters: %s is created twice", final)
		}
	}
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("exporters: unable to create %s: %w", final, err)
	}
	f := &atomicFile{final: final, tmp: tmp, buf: bufio.NewWriterSize(tmp, 256<<10)}
	a.files = append(a.files, f)
	return f.buf, nil
}

// Paths returns the final names of the files created so far, in order.
func (a *AtomicFiles) Paths() []string {
	out := make([]string, len(a.files))
	for i, f := range a.files {
		out[i] = f.final
	}
	return out
}

// Removed returns the files of an earlier export to the same place that Commit removed,
// because the new export, written with fewer files, replaces them; in order.
func (a *AtomicFiles) Removed() []string { return slices.Clone(a.removed) }

// earlier reports whether the file with the suffix is already in place from an earlier
// export: a regular file (a folder, a symbolic link or anything else is never ours).
func (a *AtomicFiles) earlier(suffix string) (bool, error) {
	fi, err := os.Lstat(a.Name(suffix))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("exporters: unable to look for an earlier export's %s: %w", a.Name(suffix), err)
	}
	return fi.Mode().IsRegular(), nil
}

// replace marks the file with the suffix, left by an earlier export, for Commit to remove
// after the new files are in place. Abort leaves it alone, and a file this export writes
// is never removed.
func (a *AtomicFiles) replace(suffix string) {
	if name := a.Name(suffix); !slices.Contains(a.stale, name) {
		a.stale = append(a.stale, name)
	}
}

// Commit puts every file in place: flushed, synced to disk, renamed over its final name,
// and the directory synced. On error the files not yet renamed are removed. Then it removes
// the files of an earlier export that the new ones replace (see replace); when one cannot
// be removed, the new files stay in place and the error names it.
func (a *AtomicFiles) Commit() error {
	if a.done {
		return errors.New("exporters: the export's files are already committed or discarded")
	}
	for _, f := range a.files {
		if err := f.buf.Flush(); err != nil {
			return errors.Join(fmt.Errorf("exporters: unable to write %s: %w", f.final, err), a.Abort())
		}
		if err := f.tmp.Sync(); err != nil {
			return errors.Join(fmt.Errorf("exporters: unable to write %s: %w", f.final, err), a.Abort())
		}
		if err := f.tmp.Chmod(0o644); err != nil {
			return errors.Join(fmt.Errorf("exporters: unable to write %s: %w", f.final, err), a.Abort())
		}
	}
	for i, f := range a.files {
		if err := f.tmp.Close(); err != nil {
			return errors.Join(fmt.Errorf("exporters: unable to write %s: %w", f.final, err), a.abortFrom(i))
		}
		if err := os.Rename(f.tmp.Name(), f.final); err != nil {
			return errors.Join(fmt.Errorf("exporters: unable to put %s in place: %w", f.final, err), a.abortFrom(i+1))
		}
		f.tmp = nil
	}
	a.done = true
	dirs := map[string]bool{}
	for _, f := range a.files {
		dirs[filepath.Dir(f.final)] = true
	}
	var errs []error
	for _, name := range a.stale {
		if slices.Contains(a.Paths(), name) {
			continue // rewritten by this export
		}
		err := os.Remove(name)
		switch {
		case err == nil:
			a.removed = append(a.removed, name)
			dirs[filepath.Dir(name)] = true
		case errors.Is(err, fs.ErrNotExist): // gone meanwhile
		default:
			errs = append(errs, fmt.Errorf("exporters: the new files are in place, but %s, left by an earlier export to the same place, could not be removed: %w", name, err))
		}
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Abort removes every file not yet in place; it is safe to call after Commit (it does
// nothing), so callers may defer it.
func (a *AtomicFiles) Abort() error { return a.abortFrom(0) }

func (a *AtomicFiles) abortFrom(i int) error {
	if a.done {
		return nil
	}
	a.done = true
	var errs []error
	for _, f := range a.files[i:] {
		if f.tmp == nil {
			continue
		}
		if err := f.tmp.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("exporters: unable to close %s: %w", f.tmp.Name(), err))
		}
		if err := os.Remove(f.tmp.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("exporters: unable to remove %s: %w", f.tmp.Name(), err))
		}
		f.tmp = nil
	}
	return errors.Join(errs...)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("exporters: unable to sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("exporters: unable to sync %s: %w", dir, err)
	}
	return nil
}
