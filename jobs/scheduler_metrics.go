package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds the database reads a scrape of /metrics makes.
const scrapeTimeout = 5 * time.Second

// PayoutChunkCounter returns how many payout chunks are in each state ("planned",
// "requested", "confirming", "confirmed", "failed", "unknown"), read from the database at
// scrape time so that every replica reports the same numbers.
type PayoutChunkCounter func(ctx context.Context) (map[string]int64, error)

// Metrics are the scheduler's Prometheus metrics. Counters and the histogram count what this
// process did (sum them over replicas); the last success and the payout chunks are read from
// the database at scrape time, so every replica reports the whole truth (take the max).
type Metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	booked   *prometheus.CounterVec
	running  *prometheus.GaugeVec
	lastTick prometheus.Gauge

	db *dbCollector
}

// NewMetrics registers the scheduler's metrics with reg:
//
//	nordpay_jobs_runs_total{job,outcome}              runs finished (succeeded, failed, skipped, timed_out)
//	nordpay_jobs_run_duration_seconds{job,outcome}    how long runs took (histogram)
//	nordpay_jobs_runs_in_progress{job}                runs going on in this process
//	nordpay_jobs_transactions_booked_total{job}       transactions booked by sync runs
//	nordpay_jobs_last_success_timestamp_seconds{job}  when a run of the job last succeeded (any replica)
//	nordpay_jobs_scheduler_last_poll_timestamp_seconds when this scheduler last polled
//	nordpay_jobs_payout_chunks{state}                 payout chunks per state (see RegisterPayoutChunks)
func NewMetrics(reg prometheus.Registerer, store *RunStore) (*Metrics, error) {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nordpay_jobs_runs_total", Help: "Job runs finished by this process, by job and outcome.",
		}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nordpay_jobs_run_duration_seconds", Help: "Duration of job runs finished by this process, from claim to outcome.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"job", "outcome"}),
		booked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nordpay_jobs_transactions_booked_total", Help: "Transactions booked into the ledger by job runs of this process.",
		}, []string{"job"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nordpay_jobs_runs_in_progress", Help: "Job runs going on in this process.",
		}, []string{"job"}),
		lastTick: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nordpay_jobs_scheduler_last_poll_timestamp_seconds", Help: "When this scheduler last polled for abandoned runs and missed slots (Unix time).",
		}),
		db: &dbCollector{
			store: store,
			lastSuccess: prometheus.NewDesc("nordpay_jobs_last_success_timestamp_seconds",
				"When a run of the job last succeeded, on any replica (Unix time).", []string{"job"}, nil),
			chunks: prometheus.NewDesc("nordpay_jobs_payout_chunks",
				"Payout chunks per state, on any replica.", []string{"state"}, nil),
		},
	}
	for _, c := range []prometheus.Collector{m.runs, m.duration, m.booked, m.running, m.lastTick, m.db} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("jobs: registering metrics: %w", err)
		}
	}
	return m, nil
}

// RegisterPayoutChunks makes nordpay_jobs_payout_chunks{state} report what count returns
// at each scrape (serve registers payouts.Store's counts); without it the metric is absent.
func (m *Metrics) RegisterPayoutChunks(count PayoutChunkCounter) {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	m.db.countChunks = count
}

// init creates the series of every enabled job at zero, so that rates and alerts see them
// before the first run.
func (m *Metrics) init(s *Scheduler) {
	for _, j := range s.jobs {
		if !j.cfg.Enabled {
			continue
		}
		for _, o := range []State{StateSucceeded, StateFailed, StateSkipped, StateTimedOut} {
			m.runs.WithLabelValues(j.cfg.Name, string(o))
		}
		m.running.WithLabelValues(j.cfg.Name)
		if j.cfg.Kind == KindSync {
			m.booked.WithLabelValues(j.cfg.Name)
		}
	}
}

// observe counts a finished run.
func (m *Metrics) observe(job string, state State, took time.Duration, booked int64) {
	m.runs.WithLabelValues(job, string(state)).Inc()
	if state != StateSkipped {
		m.duration.WithLabelValues(job, string(state)).Observe(took.Seconds())
	}
	if booked > 0 {
		m.booked.WithLabelValues(job).Add(float64(booked))
	}
}

// dbCollector reads the metrics that are the database's truth at scrape time.
type dbCollector struct {
	store       *RunStore
	lastSuccess *prometheus.Desc
	chunks      *prometheus.Desc

	mu          sync.Mutex
	countChunks PayoutChunkCounter
}

// Describe sends the descriptors of the database metrics.
func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lastSuccess
	ch <- c.chunks
}

// Collect reads the database; a failed read shows as a scrape error, not as a zero.
func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	last, err := c.store.LastSuccess(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lastSuccess, err)
	}
	for job, at := range last {
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(at.UnixNano())/1e9, job)
	}
	c.mu.Lock()
	count := c.countChunks
	c.mu.Unlock()
	if count == nil {
		return
	}
	chunks, err := count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.chunks, fmt.Errorf("jobs: counting payout chunks: %w", err))
		return
	}
	for state, n := range chunks {
		ch <- prometheus.MustNewConstMetric(c.chunks, prometheus.GaugeValue, float64(n), state)
	}
}
