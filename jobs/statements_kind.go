package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/templates"
)

// statementExts are the formats a statements job may write, and each format's extension.
var statementExts = map[string]string{"csv": ".csv", "xlsx": ".xlsx", "hledger": ".journal", "beancount": ".beancount"}

// StatementsKindOptions wire the statements kind to the ledger and the configuration.
type StatementsKindOptions struct {
	// Store is the ledger the statements are read from.
	Store *ledger.Store
	// TemplateDir is the directory of the user's own templates (export.template_dir); ""
	// keeps to the embedded ones.
	TemplateDir string
	// Now is the time an XLSX statement says it was made at. Defaults to time.Now.
	Now func() time.Time

	// afterFormat, a test seam, is called after each format is written, before the next.
	afterFormat func(ctx context.Context, format string) error
}

// statementsSettings are the settings a statements job takes.
type statementsSettings struct {
	OutDir   string   `yaml:"out_dir"`
	Formats  []string `yaml:"formats"`
	Template string   `yaml:"template"`
	Currency string   `yaml:"currency"`
	Prefix   string   `yaml:"prefix"`
}

// StatementsSummary is what a statements run wrote: its summary in the run record.
type StatementsSummary struct {
	// From and To are the day written, [From, To).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Files are the files put in place, in the order of the job's formats.
	Files []string `json:"files"`
	// Lines and Currencies count the statement's lines and currency sections (of the CSV or
	// XLSX statement; 0 when the job writes journals only).
	Lines      int64 `json:"lines"`
	Currencies int   `json:"currencies"`
}

// StatementsKind is the statements job: a slot writes the statement of the whole UTC day
// before it (PreviousDay), in each of the job's formats, to its output directory, as
// `export statement` would. The files are named for the day (PREFIX[-CUR]-YYYY-MM-DD.EXT,
// with the -001 or -CUR suffixes of a template that splits), so nightly runs never overwrite
// each other, while a slot run again (a retry, a backfill with --force) rewrites its own
// files. Every file is written under a temporary name and renamed into place only when all
// of the slot's files are complete: a killed run leaves no half-written file. Every format
// is read from one snapshot of the ledger (one REPEATABLE READ, READ ONLY transaction), so
// that the files of a slot agree line for line even while a sync books into the day.
//
// Settings: out_dir (required, an existing directory), formats (csv, xlsx, hledger,
// beancount; default [csv, xlsx]), template (the layout of csv and xlsx, default
// "default"), currency (one currency only; default every currency), prefix (default
// "statement").
func StatementsKind(o StatementsKindOptions) Kind {
	return Kind{
		Name: KindStatements,
		New: func(job config.Job) (Runner, error) {
			set := statementsSettings{Formats: []string{"csv", "xlsx"}, Prefix: "statement"}
			if err := DecodeSettings(job.Settings, &set); err != nil {
				return nil, err
			}
			if err := checkOutDir(set.OutDir); err != nil {
				return nil, err
			}
			if err := checkPrefix(set.Prefix); err != nil {
				return nil, err
			}
			if len(set.Formats) == 0 {
				return nil, errors.New("settings: formats: name at least one of csv, xlsx, hledger, beancount")
			}
			var tableFormats bool
			for i, f := range set.Formats {
				f = strings.ToLower(strings.TrimSpace(f))
				if _, ok := statementExts[f]; !ok {
					return nil, fmt.Errorf("settings: formats: %q is not csv, xlsx, hledger or beancount", set.Formats[i])
				}
				if slices.Contains(set.Formats[:i], f) {
					return nil, fmt.Errorf("settings: formats: %s is named twice", f)
				}
				set.Formats[i] = f
				tableFormats = tableFormats || f == "csv" || f == "xlsx"
			}
			var tpl *templates.Template
			switch {
			case tableFormats:
				name := set.Template
				if name == "" {
					name = templates.Default
				}
				var err error
				if tpl, err = templates.Load(name, o.TemplateDir); err != nil {
					return nil, fmt.Errorf("settings: template: %w", err)
				}
				for _, f := range set.Formats {
					if (f == "csv" || f == "xlsx") && !tpl.Allows(f) {
						return nil, fmt.Errorf("settings: template %s is for %s only, not %s", tpl.Name, strings.Join(tpl.Formats, ", "), f)
					}
				}
			case set.Template != "":
				return nil, errors.New("settings: template applies to csv and xlsx, and the job writes neither")
			}
			if o.Store == nil {
				return nil, errors.New("the statements kind has no ledger")
			}
			set.Currency = strings.TrimSpace(set.Currency)
			w := &statementsWriter{opts: o, set: set, tpl: tpl}
			return RunnerFunc(w.run), nil
		},
	}
}

// checkOutDir requires an existing directory: a typo in the configuration is a clear error
// at start, not a tree of directories created somewhere unexpected.
func checkOutDir(dir string) error {
	if strings.TrimSpace(dir) == "" {
		return errors.New("settings: out_dir is required: the directory the files are written to")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("settings: out_dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("settings: out_dir %s is not a directory", dir)
	}
	return nil
}

// checkPrefix requires a plain file-name start: no directories, not hidden.
func checkPrefix(prefix string) error {
	if prefix == "" || prefix != filepath.Base(prefix) || strings.HasPrefix(prefix, ".") || strings.ContainsAny(prefix, `/\`) {
		return fmt.Errorf("settings: prefix %q: want a plain file name start such as \"statement\"", prefix)
	}
	return nil
}

// statementsWriter is the runner of one statements job.
type statementsWriter struct {
	opts StatementsKindOptions
	set  statementsSettings
	tpl  *templates.Template
}

// path is where a format's statement of the day starting at from goes.
func (w *statementsWriter) path(format string, from time.Time) string {
	name := w.set.Prefix
	if w.set.Currency != "" {
		name += "-" + w.set.Currency
	}
	name += "-" + from.Format(time.DateOnly) + statementExts[format]
	return filepath.Join(w.set.OutDir, name)
}

func (w *statementsWriter) run(ctx context.Context, slot Slot) (res Result, err error) {
	from, to := PreviousDay(slot.Time)
	sum := StatementsSummary{From: from, To: to, Files: []string{}}
	res.Summary = &sum
	day := from.Format(time.DateOnly)
	var pending []*exporters.AtomicFiles
	defer func() {
		for _, files := range pending {
			if aerr := files.Abort(); aerr != nil { // a no-op once committed
				err = errors.Join(err, aerr)
			}
		}
	}()
	// One snapshot for every format: a sync booking into the day meanwhile shows in none.
	sn, err := w.opts.Store.BeginStatement(ctx)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := sn.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	first := true
	for _, format := range w.set.Formats {
		files := exporters.NewAtomicFiles(w.path(format, from))
		pending = append(pending, files)
		switch format {
		case "hledger", "beancount":
			out, err := files.Create("")
			if err != nil {
				return res, err
			}
			if err := exporters.WriteJournalSnapshot(ctx, out, w.opts.Store, sn, exporters.JournalFormat(format),
				exporters.JournalOptions{From: from, To: to, Currency: w.set.Currency}); err != nil {
				return res, statementsError(format, day, err)
			}
		default:
			r, err := exporters.WriteStatementSnapshot(ctx, w.opts.Store, sn, exporters.StatementFormat(format), files, exporters.StatementOptions{
				From: from, To: to, Currency: w.set.Currency, Template: w.tpl, Now: w.opts.Now,
			})
			if err != nil {
				return res, statementsError(format, day, err)
			}
			if first {
				sum.Lines, sum.Currencies, first = r.Lines, len(r.Currencies), false
			}
		}
		if w.opts.afterFormat != nil {
			if err := w.opts.afterFormat(ctx, format); err != nil {
				return res, err
			}
		}
	}
	// Every format is complete: only now is any file put in place.
	for _, files := range pending {
		if err := files.Commit(); err != nil {
			return res, err
		}
		sum.Files = append(sum.Files, files.Paths()...)
	}
	slot.logger().LogAttrs(ctx, slog.LevelInfo, "statements written", slog.Any("files", sum.Files), slog.Int64("lines", sum.Lines))
	return res, nil
}

// statementsError names the format and day, and marks what a retry cannot fix.
func statementsError(format, day string, err error) error {
	err = fmt.Errorf("statements: the %s statement of %s: %w", format, day, err)
	if errors.Is(err, exporters.ErrStatementMismatch) || errors.Is(err, exporters.ErrStatementOptions) ||
		errors.Is(err, exporters.ErrJournalOptions) || errors.Is(err, exporters.ErrJournalPrecision) {
		return Permanent(err)
	}
	return err
}
