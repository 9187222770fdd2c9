package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// The subdirectories of a payouts inbox.
const (
	// InboxProcessing holds the sheets a run has claimed and not finished with.
	InboxProcessing = "processing"
	// InboxProcessed holds the sheets imported as valid batches, each with its report.
	InboxProcessed = "processed"
	// InboxRejected holds the sheets that are not payable: invalid (a rejected batch),
	// unreadable, or imported before; each with its report or error.
	InboxRejected = "rejected"
)

// PayoutsInbox imports the payout sheets dropped in a directory, as `payouts import` does,
// and pays the batches it imported once people have approved them.
//
// A sheet (a .csv or .xlsx file, not hidden, unchanged for MinAge) goes through:
//
//  1. claim: renamed into processing/ as STAMP-RANDOM--NAME, a name no other file has; that
//     name is the batch's file name, which is how a later run recognises the import;
//  2. read, checked against the batches (a sheet imported before is not imported again)
//     and validated; the per-row report is written beside it (hidden) before the import;
//  3. import: a batch, valid or rejected, in one transaction;
//  4. the report, then the sheet, renamed into processed/ (valid batch) or rejected/.
//
// A run that stops anywhere (killed, an API or database error) leaves the sheet in
// processing/, and the next run finishes it: it looks for the batch by the sheet's hash and
// its claimed name, so a sheet imported before the stop is moved, never imported twice, and
// one that was not is imported. Nothing is ever deleted: every sheet ends in processed/ or
// rejected/, or waits in processing/ while the error that stops it lasts.
//
// Then, with RunApproved, the batches imported under ImportedBy that are approved (or
// running: a run that stopped) are run, as `payouts run` does. Batches waiting for
// approval, and those that need a person (a chunk unknown or failed), are left alone.
//
// One run at a time works on a directory, across processes (a PostgreSQL advisory lock on
// the directory's path); give each inbox job its own directory.
type PayoutsInbox struct {
	// Dir is the inbox. It must exist; processing/, processed/ and rejected/ are created in
	// it as needed.
	Dir string
	// Store keeps the batches; Client is Nord PAY, for runs.
	Store  *payouts.Store
	Client *nordpay.Client
	// DB holds the lock that keeps two runs off one directory; nil takes no lock.
	DB *sqlx.DB
	// Env gathers what validation checks a sheet against (Nord PAY's currencies and
	// balances, the fees, earlier payouts, the caps), as `payouts import` does.
	Env func(ctx context.Context, allowRepeat bool) (payouts.ValidationEnv, error)
	// WriteReport writes a sheet's per-row report to path (`payouts import --report`),
	// replacing path only once complete. Defaults to payouts.WriteReport through a
	// temporary file.
	WriteReport func(path string, sheet *payouts.Sheet, errs []payouts.RowError) error
	// Read are the reader's options: the decimal comma and the size limits.
	Read payouts.ReadOptions
	// ImportedBy names the importer of the inbox's batches. That name may not approve them,
	// and the inbox runs only the batches imported under it.
	ImportedBy string
	// AllowRepeat accepts rows repeated in a sheet or paid in the last 30 days
	// (`payouts import --allow-repeat`).
	AllowRepeat bool
	// RunApproved runs the inbox's approved batches after the import.
	RunApproved bool
	// MinAge leaves a file whose modification time (the file system's clock) is younger
	// than this for a later run, so that a sheet still being copied in is not read.
	MinAge time.Duration
	// Actor names the inbox's runs in the payouts audit log. Defaults to
	// "nordpay-jobs payouts-inbox".
	Actor string
	// Now is the clock of the claim names. Defaults to time.Now.
	Now func() time.Time
	// Logger gets a line per sheet and per batch run. Defaults to discarding.
	Logger *slog.Logger

	// hook is a test seam called at the named points ("claimed", "validated", "imported",
	// "report moved") with the claimed name; an error stops the sheet's processing there,
	// as if the process had died.
	hook func(point, claimed string) error
}

// InboxResult is what one run of the inbox did: the run's summary in jobs history.
type InboxResult struct {
	// Busy says that another run held the directory: this one did nothing.
	Busy bool `json:"busy,omitempty"`
	// Imported are the sheets that became valid batches (now in processed/); Rejected
	// those that are not payable (now in rejected/).
	Imported []InboxSheet `json:"imported"`
	Rejected []InboxSheet `json:"rejected"`
	// Stuck are the sheets left in processing/ by an error (the next run tries again).
	Stuck []InboxSheet `json:"stuck,omitempty"`
	// Waiting counts the sheets younger than MinAge; Ignored the files of the inbox that are
	// not sheets (another extension, hidden, a directory).
	Waiting int `json:"waiting,omitempty"`
	Ignored int `json:"ignored,omitempty"`
	// Runs are the batches run.
	Runs []InboxRun `json:"runs"`
}

// InboxSheet is what became of one sheet.
type InboxSheet struct {
	// File is the name the sheet was dropped under; Path where it is now.
	File string `json:"file"`
	Path string `json:"path"`
	// Report is the per-row report (or, for a file that could not be read, the error).
	Report string `json:"report,omitempty"`
	// Batch is the batch it became, "" when none (unreadable, imported before).
	Batch string `json:"batch,omitempty"`
	Rows  int    `json:"rows,omitempty"`
	// Problems counts the rejected batch's problems; Reason says why a sheet has no batch,
	// or, for a stuck one, the error.
	Problems int    `json:"problems,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Recovered says that an earlier run had claimed it and stopped.
	Recovered bool `json:"recovered,omitempty"`
}

// InboxRun is one batch run by the inbox.
type InboxRun struct {
	Batch string `json:"batch"`
	// State is the batch's state afterwards ("" when the run did not start).
	State string `json:"state,omitempty"`
	// Note says why the run stopped or what needs a person.
	Note string `json:"note,omitempty"`
}

// Run processes the inbox once: the sheets an earlier run left in processing/, then the new
// ones, then the approved batches. A sheet that is not payable is a result, not an error;
// the error joins what stopped sheets or runs (the next run tries them again), and is
// Permanent when all that went wrong is batches that need a person.
func (in *PayoutsInbox) Run(ctx context.Context) (res *InboxResult, err error) {
	res = &InboxResult{Imported: []InboxSheet{}, Rejected: []InboxSheet{}, Runs: []InboxRun{}}
	if in.Store == nil || in.Env == nil {
		return res, errors.New("payouts-inbox: no payouts store or validation")
	}
	unlock, ok, err := in.lock(ctx)
	if err != nil {
		return res, err
	}
	if !ok {
		res.Busy = true
		in.logger().LogAttrs(ctx, slog.LevelInfo, "payouts-inbox: another run holds the directory", slog.String("dir", in.Dir))
		return res, nil
	}
	defer func() { err = errors.Join(err, unlock()) }()
	for _, sub := range []string{InboxProcessing, InboxProcessed, InboxRejected} {
		if err := os.MkdirAll(filepath.Join(in.Dir, sub), 0o755); err != nil {
			return res, fmt.Errorf("payouts-inbox: %w", err)
		}
	}
	var errs []error
	note := func(out InboxSheet, err error) {
		switch {
		case err != nil:
			out.Reason = err.Error()
			res.Stuck = append(res.Stuck, out)
			errs = append(errs, fmt.Errorf("payouts-inbox: %s (left in %s): %w", out.File, InboxProcessing, err))
			in.logger().LogAttrs(ctx, slog.LevelError, "payouts-inbox: sheet left in processing", slog.String("file", out.File), slog.String("error", err.Error()))
		case out.Batch != "" && filepath.Base(filepath.Dir(out.Path)) == InboxProcessed:
			res.Imported = append(res.Imported, out)
			in.logger().LogAttrs(ctx, slog.LevelInfo, "payouts-inbox: sheet imported", slog.String("file", out.File),
				slog.String("batch", out.Batch), slog.Int("rows", out.Rows), slog.String("path", out.Path))
		default:
			res.Rejected = append(res.Rejected, out)
			in.logger().LogAttrs(ctx, slog.LevelWarn, "payouts-inbox: sheet rejected", slog.String("file", out.File),
				slog.String("batch", out.Batch), slog.Int("problems", out.Problems), slog.String("reason", out.Reason), slog.String("path", out.Path))
		}
	}

	// 1. What an earlier run claimed and did not finish.
	claimed, err := in.sheets(filepath.Join(in.Dir, InboxProcessing), nil)
	if err != nil {
		return res, err
	}
	for _, name := range claimed {
		if ctx.Err() != nil {
			return res, errors.Join(append(errs, ctx.Err())...)
		}
		out, err := in.settle(ctx, name, false)
		out.Recovered = true
		note(out, err)
	}
	// 2. New sheets.
	fresh, err := in.sheets(in.Dir, res)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	for _, name := range fresh {
		if ctx.Err() != nil {
			return res, errors.Join(append(errs, ctx.Err())...)
		}
		c, err := in.claim(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // taken or removed meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		note(in.settle(ctx, c, true))
	}
	// 3. The approved batches.
	var needPerson []string
	if in.RunApproved && ctx.Err() == nil {
		needPerson, err = in.runApproved(ctx, res)
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case len(errs) > 0:
		return res, errors.Join(errs...)
	case len(needPerson) > 0:
		return res, Permanent(fmt.Errorf("payouts-inbox: %s", strings.Join(needPerson, "; ")))
	}
	return res, nil
}

func (in *PayoutsInbox) logger() *slog.Logger {
	if in.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return in.Logger
}

func (in *PayoutsInbox) now() time.Time {
	if in.Now == nil {
		return time.Now()
	}
	return in.Now()
}

func (in *PayoutsInbox) at(point, claimed string) error {
	if in.hook == nil {
		return nil
	}
	return in.hook(point, claimed)
}

// lock takes the advisory lock of the directory on a connection of its own, for the run.
func (in *PayoutsInbox) lock(ctx context.Context) (unlock func() error, ok bool, err error) {
	if in.DB == nil {
		return func() error { return nil }, true, nil
	}
	abs, err := filepath.Abs(in.Dir)
	if err != nil {
		return nil, false, fmt.Errorf("payouts-inbox: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("nordpay-jobs payouts-inbox " + abs))
	key := int64(h.Sum64())
	conn, err := in.DB.Connx(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("payouts-inbox: unable to get a connection for the directory lock: %w", err)
	}
	if err := conn.QueryRowxContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("payouts-inbox: unable to take the directory lock: %w", err)
		}
		return nil, false, errors.Join(err, conn.Close())
	}
	return func() error {
		// A fresh context: the run's may be cancelled, and the lock must go either way.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key)
		if err != nil {
			err = fmt.Errorf("payouts-inbox: unable to release the directory lock: %w", err)
		}
		return errors.Join(err, conn.Close())
	}, true, nil
}

// isSheetName says whether a file name is one the inbox reads: .csv or .xlsx, not hidden,
// not an office lock file (~$name.xlsx).
func isSheetName(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".csv" || ext == ".xlsx"
}

// sheets lists the sheet files of dir, oldest first. With res (the inbox itself), files that
// are too young are counted as waiting and the others as ignored; in processing/ every
// sheet is a claimed one, whatever its age.
func (in *PayoutsInbox) sheets(dir string, res *InboxResult) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("payouts-inbox: %w", err)
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		name := e.Name()
		if res == nil {
			if e.Type().IsRegular() && isSheetName(name) {
				files = append(files, file{name: name})
			}
			continue
		}
		if !e.Type().IsRegular() {
			if !e.IsDir() || !slices.Contains([]string{InboxProcessing, InboxProcessed, InboxRejected}, name) {
				res.Ignored++
			}
			continue
		}
		if !isSheetName(name) {
			res.Ignored++
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("payouts-inbox: %w", err)
		}
		// The file system's clock, not the injected one: the question is whether someone
		// is still writing the file.
		if time.Since(fi.ModTime()) < in.MinAge {
			res.Waiting++
			continue
		}
		files = append(files, file{name: name, mod: fi.ModTime()})
	}
	slices.SortStableFunc(files, func(a, b file) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.name
	}
	return out, nil
}

// claimPattern matches the names claim gives: 20261204T193000Z-a1b2c3--march.csv.
var claimPattern = regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{6}--(.+)$`)

// maxDroppedName bounds the part of a claimed name that is the dropped file's, so that the
// claimed name stays within the file systems' 255 bytes.
const maxDroppedName = 200

// claim moves a new sheet into processing/ under a name no other file has, and makes the
// move durable before anything is done with the sheet.
func (in *PayoutsInbox) claim(name string) (string, error) {
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("payouts-inbox: %w", err)
	}
	kept := name
	if len(kept) > maxDroppedName {
		ext := filepath.Ext(kept)
		stem := kept[:maxDroppedName-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		kept = stem + ext
	}
	claimed := in.now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:]) + "--" + kept
	proc := filepath.Join(in.Dir, InboxProcessing)
	if err := os.Rename(filepath.Join(in.Dir, name), filepath.Join(proc, claimed)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("payouts-inbox: claiming %s: %w", name, err)
	}
	if err := errors.Join(syncDir(in.Dir), syncDir(proc)); err != nil {
		return claimed, err
	}
	return claimed, in.at("claimed", claimed)
}

// droppedName is the name a claimed sheet was dropped under.
func droppedName(claimed string) string {
	if m := claimPattern.FindStringSubmatch(claimed); m != nil {
		return m[1]
	}
	return claimed
}

// reportName is the final name of a claimed sheet's report, in the sheet's format.
func reportName(claimed, format string) string {
	return strings.TrimSuffix(claimed, filepath.Ext(claimed)) + ".report." + format
}

// errorName is the final name of the error of a sheet that could not be read.
func errorName(claimed string) string {
	return strings.TrimSuffix(claimed, filepath.Ext(claimed)) + ".error.txt"
}

// pendingName is where a report waits in processing/ for its import: hidden, so that no
// run takes it for a sheet.
func pendingName(claimed string) string { return "." + claimed + ".report" }

// settle takes one claimed sheet as far as it goes: to processed/ or rejected/ or, on an
// error, nowhere (it stays claimed). fresh says it was claimed by this run, so no batch can
// be its yet.
func (in *PayoutsInbox) settle(ctx context.Context, claimed string, fresh bool) (InboxSheet, error) {
	out := InboxSheet{File: droppedName(claimed), Path: filepath.Join(in.Dir, InboxProcessing, claimed)}
	sheet, err := in.read(out.Path, claimed)
	if errors.Is(err, payouts.ErrSheetTooLarge) || errors.Is(err, payouts.ErrNotASheet) {
		return in.reject(claimed, nil, nil, err.Error(), out)
	}
	if err != nil {
		return out, err
	}
	if !fresh {
		b, err := in.findImport(ctx, sheet.SHA256, claimed)
		if err != nil {
			return out, err
		}
		if b != nil {
			return in.finish(ctx, claimed, sheet, b, out)
		}
	}
	earlier, err := in.Store.FindSheet(ctx, sheet.SHA256)
	if err != nil {
		return out, err
	}
	if earlier != nil {
		return in.reject(claimed, sheet, nil, duplicateReason(earlier), out)
	}
	env, err := in.Env(ctx, in.AllowRepeat)
	if err != nil {
		return out, err
	}
	errs, _, err := payouts.Validate(ctx, sheet, env)
	if err != nil {
		return out, err
	}
	// The report goes down before the import, so that the import's exact findings survive
	// a stop between the import and the move.
	if err := in.writeReport(filepath.Join(in.Dir, InboxProcessing, pendingName(claimed)), sheet, errs); err != nil {
		return out, err
	}
	if err := in.at("validated", claimed); err != nil {
		return out, err
	}
	b, err := in.Store.Import(ctx, payouts.ImportRequest{Sheet: sheet, Errors: errs, By: in.ImportedBy, AllowRepeat: in.AllowRepeat,
		ExpectedFee: env.ExpectedFee})
	var (
		dup    *payouts.DuplicateSheetError
		repeat *payouts.RepeatError
	)
	switch {
	case errors.As(err, &dup): // imported meanwhile by someone else
		return in.reject(claimed, sheet, nil, duplicateReason(dup.Existing), out)
	case errors.As(err, &repeat): // its rows imported meanwhile in another batch: no batch
		return in.reject(claimed, sheet, repeat.Errors, repeat.Error(), out)
	}
	if err != nil {
		return out, err
	}
	if err := in.at("imported", claimed); err != nil {
		return out, err
	}
	return in.finish(ctx, claimed, sheet, b, out)
}

// read parses a claimed sheet under its claimed name (the batch's file name).
func (in *PayoutsInbox) read(path, claimed string) (*payouts.Sheet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("payouts-inbox: %w", err)
	}
	sheet, err := payouts.ReadSheet(claimed, f, in.Read)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("payouts-inbox: %w", cerr)
	}
	return sheet, err
}

// findImport returns the batch an earlier run made of this claimed sheet, or nil: the
// batch with its hash and its claimed name, valid (the hash's one batch) or rejected (any
// number of them, hence the walk through every batch, which only a stopped run costs).
func (in *PayoutsInbox) findImport(ctx context.Context, sha, claimed string) (*payouts.Batch, error) {
	b, err := in.Store.FindSheet(ctx, sha)
	if err != nil {
		return nil, err
	}
	if b != nil && b.FileName == claimed {
		return b, nil
	}
	all, err := in.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range all {
		if st.Batch.FileName == claimed && st.Batch.SheetSHA256 == sha {
			return st.Batch, nil
		}
	}
	return nil, nil
}

// duplicateReason says that a sheet was imported before, and how to pay it again anyway.
func duplicateReason(earlier *payouts.Batch) string {
	return fmt.Sprintf("this sheet (SHA-256 %s) was already imported as batch %s by %s on %s; the inbox does not import a sheet twice (to pay it again on purpose: nordpay-jobs payouts import FILE --force)",
		earlier.SheetSHA256, earlier.ID, earlier.ImportedBy, earlier.CreatedAt.UTC().Format(time.RFC3339))
}

// finish moves an imported sheet and its report to processed/ (a valid batch) or rejected/:
// the report first, the sheet last, so that a sheet out of processing/ is a finished one.
func (in *PayoutsInbox) finish(ctx context.Context, claimed string, sheet *payouts.Sheet, b *payouts.Batch, out InboxSheet) (InboxSheet, error) {
	dest := filepath.Join(in.Dir, InboxProcessed)
	if b.State == payouts.BatchRejected {
		dest = filepath.Join(in.Dir, InboxRejected)
	}
	proc := filepath.Join(in.Dir, InboxProcessing)
	report := filepath.Join(dest, reportName(claimed, sheet.Format))
	switch err := os.Rename(filepath.Join(proc, pendingName(claimed)), report); {
	case err == nil:
	case !errors.Is(err, fs.ErrNotExist):
		return out, fmt.Errorf("payouts-inbox: moving the report of %s: %w", out.File, err)
	default:
		// No pending report: moved by a run that stopped before the sheet, or lost.
		if _, serr := os.Stat(report); serr != nil {
			if err := in.rewriteReport(ctx, report, sheet, b); err != nil {
				return out, err
			}
		}
	}
	if err := in.at("report moved", claimed); err != nil {
		return out, err
	}
	final := filepath.Join(dest, claimed)
	if err := os.Rename(filepath.Join(proc, claimed), final); err != nil {
		return out, fmt.Errorf("payouts-inbox: moving %s: %w", out.File, err)
	}
	if err := errors.Join(syncDir(proc), syncDir(dest)); err != nil {
		return out, err
	}
	out.Path, out.Report, out.Batch, out.Rows, out.Problems = final, report, b.ID, b.Rows, b.Errors
	return out, nil
}

// rewriteReport writes the report of an imported sheet again: all rows ok for a valid
// batch; for a rejected one the problems validation finds now, or, when it finds none any
// more, a note that sends the reader to the batch's audit log.
func (in *PayoutsInbox) rewriteReport(ctx context.Context, path string, sheet *payouts.Sheet, b *payouts.Batch) error {
	var errs []payouts.RowError
	if b.State == payouts.BatchRejected {
		env, err := in.Env(ctx, in.AllowRepeat)
		if err != nil {
			return err
		}
		if errs, _, err = payouts.Validate(ctx, sheet, env); err != nil {
			return err
		}
		if len(errs) == 0 {
			errs = []payouts.RowError{{Message: fmt.Sprintf("batch %s was rejected at import with %d problem(s); see nordpay-jobs payouts status %s --audit",
				b.ID, b.Errors, b.ID)}}
		}
	}
	return in.writeReport(path, sheet, errs)
}

// reject moves a sheet that has no batch to rejected/, with its report (a readable sheet:
// errs, or the reason as a problem of the whole sheet) or its error (an unreadable one).
func (in *PayoutsInbox) reject(claimed string, sheet *payouts.Sheet, errs []payouts.RowError, reason string, out InboxSheet) (InboxSheet, error) {
	dest := filepath.Join(in.Dir, InboxRejected)
	proc := filepath.Join(in.Dir, InboxProcessing)
	var report string
	if sheet != nil {
		report = filepath.Join(dest, reportName(claimed, sheet.Format))
		if len(errs) == 0 {
			errs = []payouts.RowError{{Message: reason}}
		}
		if err := in.writeReport(report, sheet, errs); err != nil {
			return out, err
		}
	} else {
		report = filepath.Join(dest, errorName(claimed))
		if err := writeFileAtomic(report, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "%s could not be read as a payout sheet:\n%s\n", droppedName(claimed), reason)
			return err
		}); err != nil {
			return out, err
		}
	}
	if err := os.Remove(filepath.Join(proc, pendingName(claimed))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return out, fmt.Errorf("payouts-inbox: %w", err)
	}
	final := filepath.Join(dest, claimed)
	if err := os.Rename(filepath.Join(proc, claimed), final); err != nil {
		return out, fmt.Errorf("payouts-inbox: moving %s: %w", out.File, err)
	}
	if err := errors.Join(syncDir(proc), syncDir(dest)); err != nil {
		return out, err
	}
	out.Path, out.Report, out.Reason = final, report, reason
	return out, nil
}

func (in *PayoutsInbox) writeReport(path string, sheet *payouts.Sheet, errs []payouts.RowError) error {
	if in.WriteReport != nil {
		return in.WriteReport(path, sheet, errs)
	}
	return writeFileAtomic(path, func(w io.Writer) error { return payouts.WriteReport(w, sheet, errs) })
}

// runApproved runs the inbox's batches that are approved or were left running, oldest
// first. It returns what needs a person, and the errors that stopped runs.
func (in *PayoutsInbox) runApproved(ctx context.Context, res *InboxResult) (needPerson []string, err error) {
	all, err := in.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i := len(all) - 1; i >= 0; i-- { // List is newest first
		st := all[i]
		if payouts.Person(st.Batch.ImportedBy) != payouts.Person(in.ImportedBy) ||
			(st.State != payouts.BatchApproved && st.State != payouts.BatchRunning) {
			continue
		}
		if ctx.Err() != nil {
			return needPerson, errors.Join(append(errs, ctx.Err())...)
		}
		id := st.Batch.ID
		actor := in.Actor
		if actor == "" {
			actor = "nordpay-jobs payouts-inbox"
		}
		r := &payouts.Runner{Store: in.Store, Client: in.Client, Actor: actor, Logger: in.logger()}
		rr, rerr := r.Run(ctx, id, payouts.RunOptions{})
		run := InboxRun{Batch: id}
		if rr != nil {
			run.State = string(rr.State)
		}
		switch {
		case errors.Is(rerr, payouts.ErrBusy):
			run.Note = "being run by another process"
		case errors.Is(rerr, payouts.ErrNotApproved):
			run.Note = rerr.Error()
		case rerr != nil:
			run.Note = rerr.Error()
			errs = append(errs, fmt.Errorf("payouts-inbox: running batch %s: %w", id, rerr))
		case rr.State == payouts.BatchAttention:
			var chunks []string
			for _, c := range rr.Chunks {
				if c.State == payouts.ChunkUnknown {
					chunks = append(chunks, fmt.Sprint(c.N))
				}
			}
			run.Note = fmt.Sprintf("chunk(s) %s unknown: a person must find out from Nord PAY and run payouts resolve %s", strings.Join(chunks, ", "), id)
			needPerson = append(needPerson, "batch "+id+": "+run.Note)
		case rr.State == payouts.BatchPartial:
			run.Note = fmt.Sprintf("some chunks failed, nothing of them was paid (see payouts status %s); run payouts run %s to retry them", id, id)
			needPerson = append(needPerson, "batch "+id+": "+run.Note)
		}
		level := slog.LevelInfo
		if run.Note != "" {
			level = slog.LevelWarn
		}
		in.logger().LogAttrs(ctx, level, "payouts-inbox: batch run", slog.String("batch", id), slog.String("state", run.State), slog.String("note", run.Note))
		res.Runs = append(res.Runs, run)
	}
	return needPerson, errors.Join(errs...)
}

// writeFileAtomic writes a file through a temporary one in the same directory, synced,
// then renamed over path.
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("payouts-inbox: %w", err)
	}
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("payouts-inbox: writing %s: %w", path, err), removeIfThere(tmp.Name()))
	}
	return nil
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("payouts-inbox: syncing %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("payouts-inbox: syncing %s: %w", dir, err)
	}
	return nil
}

// PayoutsInboxKindOptions wire the payouts-inbox kind to the configuration.
type PayoutsInboxKindOptions struct {
	// Inbox returns an inbox with its dependencies set (Store, Client, DB, Env, WriteReport,
	// the size limits of Read, Now), to copy for each job with its settings. It is called
	// when a payouts-inbox job first runs, because it needs the API key.
	Inbox func() (*PayoutsInbox, error)
}

// inboxSettings are the settings a payouts-inbox job takes.
type inboxSettings struct {
	Dir          string           `yaml:"dir"`
	ImportedBy   string           `yaml:"imported_by"`
	DecimalComma bool             `yaml:"decimal_comma"`
	AllowRepeat  bool             `yaml:"allow_repeat"`
	RunApproved  *bool            `yaml:"run_approved"`
	MinAge       *config.Duration `yaml:"min_age"`
}

// DefaultInboxMinAge is how long a dropped sheet must be left unchanged before the inbox
// reads it, unless a job's min_age says otherwise.
const DefaultInboxMinAge = 30 * time.Second

// PayoutsInboxKind is the payouts-inbox job (see PayoutsInbox): each run imports the sheets
// found in its directory and runs its approved batches. It coalesces: a run does whatever
// is there, so catch-up runs only the latest missed slot.
//
// Settings: dir (required, an existing directory), imported_by (the importer's name in the
// batches, default "inbox:JOB"), decimal_comma (CSV amounts with a decimal comma, default
// false), allow_repeat (default false), run_approved (default true), min_age (default 30s).
func PayoutsInboxKind(o PayoutsInboxKindOptions) Kind {
	return Kind{
		Name:     KindPayoutsInbox,
		Coalesce: true,
		New: func(job config.Job) (Runner, error) {
			var set inboxSettings
			if err := DecodeSettings(job.Settings, &set); err != nil {
				return nil, err
			}
			if strings.TrimSpace(set.Dir) == "" {
				return nil, errors.New("settings: dir is required: the directory finance drops payout sheets into")
			}
			if fi, err := os.Stat(set.Dir); err != nil {
				return nil, fmt.Errorf("settings: dir: %w", err)
			} else if !fi.IsDir() {
				return nil, fmt.Errorf("settings: dir %s is not a directory", set.Dir)
			}
			if set.ImportedBy == "" {
				set.ImportedBy = "inbox:" + job.Name
			}
			if payouts.Person(set.ImportedBy) == "" {
				return nil, errors.New("settings: imported_by is blank")
			}
			minAge := DefaultInboxMinAge
			if set.MinAge != nil {
				if minAge = set.MinAge.D(); minAge < 0 {
					return nil, fmt.Errorf("settings: min_age %s is negative", minAge)
				}
			}
			if o.Inbox == nil {
				return nil, errors.New("the payouts-inbox kind has no payouts")
			}
			base, err := o.Inbox()
			if err != nil {
				return nil, err
			}
			in := *base
			in.Dir, in.ImportedBy, in.AllowRepeat, in.MinAge = set.Dir, strings.TrimSpace(set.ImportedBy), set.AllowRepeat, minAge
			in.Read.DecimalComma = set.DecimalComma
			in.RunApproved = set.RunApproved == nil || *set.RunApproved
			if in.Actor == "" {
				in.Actor = "nordpay-jobs job " + job.Name
			}
			return RunnerFunc(func(ctx context.Context, slot Slot) (Result, error) {
				run := in // a copy per run, with the run's logger
				run.Logger = slot.logger()
				res, err := run.Run(ctx)
				return Result{Summary: res}, err
			}), nil
		},
	}
}
