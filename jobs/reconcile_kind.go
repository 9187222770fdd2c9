package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/exporters"
)

// ErrNotReconciled is the failure of a reconcile run whose month does not reconcile: the
// report is written and a check found differences, so `jobs run` exits 3 as `report
// reconcile` does. It is Permanent: pulling the month again will not change the ledger.
var ErrNotReconciled = errors.New("does not reconcile")

// ReconcileKindOptions wire the reconcile kind to the configuration.
type ReconcileKindOptions struct {
	// Reconciler returns the reconciler to copy for each run. It is called when a reconcile
	// job first runs, because it needs the API key.
	Reconciler func() (*Reconciler, error)
	// UnknownPayouts lists the payout chunks in an unknown state (see UnknownPayouts); nil
	// reports that check as not applicable.
	UnknownPayouts func(ctx context.Context) ([]PayoutException, error)
	// Window and Overlap shape the month's re-pull from Nord PAY (the sync section's); zero
	// values take ReconcileOptions' defaults.
	Window, Overlap time.Duration
}

// reconcileSettings are the settings a reconcile job takes.
type reconcileSettings struct {
	OutDir string `yaml:"out_dir"`
	Format string `yaml:"format"`
	Prefix string `yaml:"prefix"`
}

// ReconcileSummary is what a reconcile run found: its summary in the run record, also when
// the month does not reconcile.
type ReconcileSummary struct {
	Month      string                  `json:"month"`
	Report     string                  `json:"report"`
	Format     string                  `json:"format"`
	Reconciled bool                    `json:"reconciled"`
	Checks     []ReconcileCheckSummary `json:"checks"`
}

// ReconcileCheckSummary is one check of a reconcile run.
type ReconcileCheckSummary struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Exceptions int    `json:"exceptions"`
}

// ReconcileKind is the reconcile job: a slot reconciles the whole UTC month before it
// (PreviousMonth), as `report reconcile` does, and writes the report to its output
// directory as PREFIX-YYYY-MM.xlsx (one workbook) or PREFIX-YYYY-MM/ (a folder of CSV files),
// replacing the report of the same month atomically. A month that does not reconcile fails
// the run at once with ErrNotReconciled (Permanent: pulling the month again will not change
// the ledger), in an error naming the failed checks and the report, which is written either way.
//
// Settings: out_dir (required, an existing directory), format (xlsx or csv, default xlsx),
// prefix (default "reconciliation").
func ReconcileKind(o ReconcileKindOptions) Kind {
	return Kind{
		Name: KindReconcile,
		New: func(job config.Job) (Runner, error) {
			set := reconcileSettings{Format: string(exporters.ReconciliationXLSX), Prefix: "reconciliation"}
			if err := DecodeSettings(job.Settings, &set); err != nil {
				return nil, err
			}
			if err := checkOutDir(set.OutDir); err != nil {
				return nil, err
			}
			if err := checkPrefix(set.Prefix); err != nil {
				return nil, err
			}
			format := exporters.ReconciliationFormat(strings.ToLower(strings.TrimSpace(set.Format)))
			if format != exporters.ReconciliationXLSX && format != exporters.ReconciliationCSV {
				return nil, fmt.Errorf("settings: format %q: want xlsx or csv", set.Format)
			}
			if o.Reconciler == nil {
				return nil, errors.New("the reconcile kind has no reconciler")
			}
			base, err := o.Reconciler()
			if err != nil {
				return nil, err
			}
			return RunnerFunc(func(ctx context.Context, slot Slot) (Result, error) {
				from, _ := PreviousMonth(slot.Time)
				month := from.Format("2006-01")
				path := filepath.Join(set.OutDir, set.Prefix+"-"+month)
				if format == exporters.ReconciliationXLSX {
					path += ".xlsx"
				}
				r := *base // a copy per run, with the run's logger
				r.Logger = slot.logger()
				res, err := r.Run(ctx, ReconcileOptions{Month: from, Window: o.Window, Overlap: o.Overlap, UnknownPayouts: o.UnknownPayouts})
				if err != nil {
					return Result{}, err
				}
				if err := exporters.WriteReconciliation(path, format, res.Report); err != nil {
					return Result{}, fmt.Errorf("reconcile: writing the report of %s: %w", month, err)
				}
				sum := ReconcileSummary{Month: month, Report: path, Format: string(format), Reconciled: res.Report.Reconciled(),
					Checks: make([]ReconcileCheckSummary, 0, len(res.Report.Checks))}
				var failed []string
				for _, c := range res.Report.Checks {
					sum.Checks = append(sum.Checks, ReconcileCheckSummary{Name: c.Name, Status: string(c.Status), Exceptions: c.Total})
					if c.Status == exporters.CheckFailed {
						failed = append(failed, fmt.Sprintf("%s (%d exception(s))", c.Name, c.Total))
					}
				}
				slot.logger().LogAttrs(ctx, slog.LevelInfo, "reconciliation report written", slog.String("month", month),
					slog.String("report", path), slog.Bool("reconciled", sum.Reconciled))
				if len(failed) > 0 {
					return Result{Summary: sum}, Permanent(fmt.Errorf("reconcile: %s %w: %s failed; the exceptions are in %s",
						month, ErrNotReconciled, strings.Join(failed, ", "), path))
				}
				return Result{Summary: sum}, nil
			}), nil
		},
	}
}
