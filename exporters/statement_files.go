package exporters

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// AtomicFiles writes the files of an export so that none is ever seen half written: each
// is written under a hidden temporary name in its final directory, and Commit flushes,
// syncs and renames them into place; Abort (or a failed Commit) removes them. A file that
// already exists under a final name is replaced only at Commit.
//
// The files are OUT itself (suffix "") or siblings named with a suffix before OUT's
// extension: out.csv with "-001" is out-001.csv.
type AtomicFiles struct {
	path  string
	files []*atomicFile
	done  bool
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

// Commit puts every file in place: flushed, synced to disk, renamed over its final name,
// and the directory synced. On error the files not yet renamed are removed.
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
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
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
