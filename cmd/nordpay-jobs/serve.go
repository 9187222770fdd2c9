package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
	_ "time/tzdata" // job time zones resolve even where the host or image has no zoneinfo

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/payouts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

const serveLong = `Run the scheduler daemon: every enabled job of the configuration on its cron schedule, in
its time zone, with /healthz, /livez and /metrics on the admin address.

Run several replicas for availability: PostgreSQL holds one record per job and slot, so each
slot runs once whichever replica gets there first; a job runs one slot at a time (a slot due
while the previous run is still going is recorded as skipped); a run whose process died is
taken over by another replica once its lease (serve.lease) expires.

Job kinds (the jobs section of the configuration; each job's settings are documented in
config/nordpay-jobs.example.yaml):
  sync           pull transactions into the ledger up to the slot
  statements     the statement of the UTC day before the slot, in the job's formats (csv,
                 xlsx, hledger, beancount), to out_dir as PREFIX-YYYY-MM-DD.EXT
  reconcile      the reconciliation of the UTC month before the slot, to out_dir as
                 PREFIX-YYYY-MM.xlsx (or a folder of CSV); a month that does not reconcile
                 fails the run at once, naming the report
  payouts-inbox  import the sheets dropped in dir (moved to dir/processed/ or dir/rejected/
                 with their reports), then run the inbox's batches once approved

At start, slots that nobody ran within a job's catch_up window are run (sync and
payouts-inbox jobs run only the latest: each run does everything up to its slot). A failed attempt is retried with backoff up
to retries.max_attempts; an attempt longer than the job's timeout is cancelled.

On SIGTERM or SIGINT serve stops triggering, waits up to serve.shutdown_timeout for running
jobs, then cancels them; a cancelled run is released so that another replica, or the next
start, takes it over at once.

  /healthz   200 when the database answers and the scheduler polled lately, else 503 (JSON)
  /livez     200 when the scheduler polled lately (no database check), else 503
  /metrics   Prometheus: nordpay_jobs_runs_total{job,outcome},
             nordpay_jobs_run_duration_seconds{job,outcome}, nordpay_jobs_runs_in_progress,
             nordpay_jobs_last_success_timestamp_seconds{job},
             nordpay_jobs_transactions_booked_total{job}, nordpay_jobs_payout_chunks{state}`

const serveExample = `  # the jobs of the configuration file, JSON logs, metrics on every interface
  nordpay-jobs serve --config /etc/nordpay-jobs/config.yaml --log-format json --admin-addr :9310`

func newServeCommand(m *Main) *cobra.Command {
	var adminAddr string
	cmd := &cobra.Command{
		Use:     "serve",
		Short:   "Run the scheduler daemon (jobs on their schedules, /healthz, /metrics)",
		Long:    serveLong,
		Example: serveExample,
		Args:    argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("admin-addr") {
				m.Config.Set("serve.admin_addr", "flag --admin-addr", func(c *config.Config) { c.Serve.AdminAddr = adminAddr })
				if err := m.Config.Validate(); err != nil {
					return configError(err, false)
				}
			}
			return m.serve(cmd.Context())
		}),
	}
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "", "where /healthz, /livez and /metrics listen (default serve.admin_addr, 127.0.0.1:9310; empty turns it off)")
	return cmd
}

// serve runs the scheduler until ctx is cancelled (SIGTERM, SIGINT), then drains it.
func (m *Main) serve(ctx context.Context) error {
	if err := m.checkSchedules(); err != nil {
		return err
	}
	conn, err := m.OpenDB(ctx)
	if err != nil {
		return err
	}
	store := jobs.NewRunStore(conn)
	if err := store.Check(ctx); err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := registry.Register(c); err != nil {
			return fmt.Errorf("serve: registering metrics: %w", err)
		}
	}
	metrics, err := jobs.NewMetrics(registry, store)
	if err != nil {
		return err
	}
	// nordpay_jobs_payout_chunks{state}, read from the database at each scrape.
	metrics.RegisterPayoutChunks(jobs.CountPayoutChunks(
		payouts.NewStore(ledger.NewStore(conn, m.Config.Ledger.Accounts), payoutPolicy(m.Config.Payouts))))
	s, err := m.newScheduler(ctx, metrics)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil { // a missing API key or a bad setting stops us before we listen
		return err
	}
	var srv *http.Server
	if addr := m.Config.Serve.AdminAddr; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("serve: admin address (serve.admin_addr, --admin-addr): %w", err)
		}
		srv = &http.Server{Handler: adminHandler(s, registry), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.Logger.Error("serve: the admin server stopped", "error", err.Error())
			}
		}()
		m.Logger.Info("serve: admin server listening", "addr", ln.Addr().String())
	}
	err = s.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if serr := srv.Shutdown(sctx); serr != nil && err == nil {
			err = fmt.Errorf("serve: stopping the admin server: %w", serr)
		}
	}
	return err
}

// adminHandler serves /healthz, /livez and /metrics.
func adminHandler(s *jobs.Scheduler, registry *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := s.Health(r.Context())
		status := http.StatusOK
		if !h.OK {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(h) // the status is sent; a client gone mid-body is its own problem
	})
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Alive() {
			http.Error(w, "the scheduler is not polling", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n")) // as above
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}
