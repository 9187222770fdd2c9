package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/prometheus/client_golang/prometheus"
)

// syncedBuffer is a log sink that two schedulers write at once.
type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSchedEndToEndOneSecondSchedules runs two replicas of the daemon (real clock, real
// robfig/cron, each its own connection pool) with a sync job and a statements job every
// second against the sandbox, until the ledger holds every paid transaction and the
// statement of the previous UTC day lists every entry of that day; each sync slot runs once.
func TestSchedEndToEndOneSecondSchedules(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	start := now.Add(-48 * time.Hour).Truncate(time.Hour)
	opts := sandbox.DefaultOptions(now)
	opts.APIKey = "e2e-key"
	opts.Now = time.Now
	opts.InitialBalances = nil
	opts.Invoices = sandbox.Generator{Start: start, End: now, Count: 2000, UnpaidRate: 0.05}
	opts.Wallets = sandbox.Generator{Start: start, End: now, Count: 1000, UnpaidRate: 0.05}
	sb, client := serveSandbox(t, opts)
	paid := 0
	for _, source := range []string{nordpay.SourceInvoice, nordpay.SourceWallet} {
		for tx := range sb.Transactions(source, time.Time{}, time.Time{}) {
			if tx.IsPaid {
				paid++
			}
		}
	}

	url := dbtest.URL(t)
	logs := &syncedBuffer{}
	var (
		mu  sync.Mutex
		ran = map[time.Time]int{}
	)
	job := testJob("sync", jobs.KindSync, "* * * * * *", func(j *config.Job) { j.CatchUp = config.Duration(time.Minute) })
	outDir := t.TempDir()
	statementsJob := testJob("statements", jobs.KindStatements, "* * * * * *", func(j *config.Job) {
		j.CatchUp = config.Duration(time.Minute)
		j.Retries.Backoff = config.Duration(100 * time.Millisecond)
		j.Settings = map[string]any{"out_dir": outDir, "formats": []any{"csv"}}
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var (
		wg   sync.WaitGroup
		regs []*prometheus.Registry
	)
	for i := range 2 {
		conn := openPool(t, url)
		chart := ledger.DefaultChart()
		syncer := &jobs.Syncer{Client: client, Store: ledger.NewStore(conn, chart), Chart: chart, Now: time.Now}
		kind := jobs.SyncKind(jobs.SyncKindOptions{
			Syncer:   func() (*jobs.Syncer, error) { return syncer, nil },
			Defaults: jobs.SyncOptions{Start: start, Window: 6 * time.Hour, Overlap: time.Minute, Lookback: time.Hour},
		})
		inner := kind.New
		kind.New = func(c config.Job) (jobs.Runner, error) { // count the slots each replica runs
			r, err := inner(c)
			if err != nil {
				return nil, err
			}
			return jobs.RunnerFunc(func(ctx context.Context, s jobs.Slot) (jobs.Result, error) {
				mu.Lock()
				ran[s.Time.UTC()]++
				mu.Unlock()
				return r.Run(ctx, s)
			}), nil
		}
		reg := prometheus.NewRegistry()
		regs = append(regs, reg)
		metrics, err := jobs.NewMetrics(reg, jobs.NewRunStore(conn))
		if err != nil {
			t.Fatal(err)
		}
		registry := jobs.NewRegistry()
		if err := registry.Register(kind); err != nil {
			t.Fatal(err)
		}
		if err := registry.Register(jobs.StatementsKind(jobs.StatementsKindOptions{Store: ledger.NewStore(conn, chart)})); err != nil {
			t.Fatal(err)
		}
		s, err := jobs.NewScheduler(jobs.SchedulerOptions{DB: conn, Jobs: []config.Job{job, statementsJob}, Kinds: registry, Metrics: metrics,
			Lease: 5 * time.Second, PollInterval: 200 * time.Millisecond, ShutdownTimeout: 10 * time.Second,
			Logger: slog.New(slog.NewJSONHandler(logs, nil)).With("replica", i)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}

	check := openPool(t, url)
	deadline := time.Now().Add(60 * time.Second)
	var statement string
	for {
		var booked, succeeded int
		if err := check.Get(&booked, `SELECT count(*) FROM journal_entries`); err != nil {
			t.Fatal(err)
		}
		if err := check.Get(&succeeded, `SELECT count(*) FROM job_runs WHERE job = 'sync' AND state = 'succeeded'`); err != nil {
			t.Fatal(err)
		}
		var missing int
		if booked == paid {
			statement, missing = statementLacks(t, check, outDir)
		}
		if booked == paid && succeeded >= 4 && missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d of %d transactions booked, %d sync runs succeeded, the statement %s lacks %d entries of its day\n%s",
				booked, paid, succeeded, statement, missing, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()

	mu.Lock()
	for slot, n := range ran {
		if n != 1 {
			t.Errorf("slot %s ran %d times", slot.Format(time.RFC3339), n)
		}
	}
	mu.Unlock()
	var states []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := check.Select(&states, `SELECT state, count(*) AS n FROM job_runs GROUP BY state ORDER BY state`); err != nil {
		t.Fatal(err)
	}
	t.Logf("run records by state: %+v; slots run: %d", states, len(ran))
	for _, st := range states {
		if st.State == "failed" || st.State == "timed_out" || st.State == "running" {
			t.Errorf("%d runs %s\n%s", st.N, st.State, logs.String())
		}
	}
	var bookedMetric float64
	for _, reg := range regs {
		bookedMetric += gather(t, reg)[`nordpay_jobs_transactions_booked_total{job="sync"}`]
	}
	if int(bookedMetric) != paid {
		t.Errorf("nordpay_jobs_transactions_booked_total summed over replicas = %v, want %d", bookedMetric, paid)
	}
	assertBalancesMatchSandbox(t, &bundle{sb: sb, store: ledger.NewStore(check, ledger.DefaultChart())})
	out := logs.String()
	for _, want := range []string{`"msg":"job finished"`, `"job":"sync"`, `"job":"statements"`, `"slot":"`, `"outcome":"succeeded"`, `"booked":`,
		`"msg":"statements written"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the JSON logs lack %s", want)
		}
	}
}

// statementLacks reads the CSV statement of the previous UTC day in dir and counts the
// ledger's entries of that day it does not list (all of them while it is not written yet).
func statementLacks(t *testing.T, conn *sqlx.DB, dir string) (path string, missing int) {
	t.Helper()
	from, to := jobs.PreviousDay(time.Now())
	var ids []string
	if err := conn.Select(&ids, `SELECT external_id FROM journal_entries WHERE occurred_at >= $1 AND occurred_at < $2`, from, to); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatalf("no entries on %s: the sandbox's history should cover it", from.Format(time.DateOnly))
	}
	path = filepath.Join(dir, "statement-"+from.Format(time.DateOnly)+".csv")
	data, err := os.ReadFile(path) // put in place whole by a rename: never half written
	if errors.Is(err, fs.ErrNotExist) {
		return path, len(ids)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !bytes.Contains(data, []byte(id)) {
			missing++
		}
	}
	return path, missing
}
