-- The scheduler's truth: one run record per (job, scheduled slot), so that with several
-- replicas of `nordpay-jobs serve` each slot runs once, and a lease per running record, so
-- that a run whose process died is taken over when the lease expires.
--
-- Times are written by the scheduler from its own clock (not now()), so that tests can drive
-- it; replicas need clocks kept in sync (NTP), by far closer than a lease (a minute).
-- Plain tables, a partial index, SELECT ... FOR UPDATE: nothing a PostgreSQL-compatible
-- distributed database refuses.

-- One row per job ever seen. Claims of the same job lock its row (SELECT ... FOR UPDATE), so
-- the "is a previous run of this job still going?" check and the insert of the new run
-- cannot interleave between replicas. It also keeps the last success for /metrics.
CREATE TABLE scheduled_jobs (
    job               text        PRIMARY KEY,
    created_at        timestamptz NOT NULL,
    last_success_slot timestamptz,
    last_success_at   timestamptz
);

CREATE TABLE job_runs (
    job          text        NOT NULL REFERENCES scheduled_jobs (job),
    slot         timestamptz NOT NULL,
    kind         text        NOT NULL,
    -- schedule (cron), catch-up (missed while down), manual (`jobs run`), backfill.
    triggered_by text        NOT NULL,
    state        text        NOT NULL,
    -- The process that holds (or last held) the run: host/pid/random.
    owner        text        NOT NULL,
    -- Until when the owner holds a running record; renewed by heartbeats. Past it, any
    -- replica may take the run over. A run cut short by a shutdown sets it to the shutdown
    -- time, so the next replica takes it over at once.
    lease_until  timestamptz,
    heartbeat_at timestamptz,
    -- Attempts started for this slot, across retries and takeovers.
    attempts     integer     NOT NULL DEFAULT 0,
    error        text,
    result       jsonb,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (job, slot),
    CONSTRAINT job_runs_state_known CHECK (state IN ('running', 'succeeded', 'failed', 'skipped', 'timed_out')),
    CONSTRAINT job_runs_trigger_known CHECK (triggered_by IN ('schedule', 'catch-up', 'manual', 'backfill')),
    CONSTRAINT job_runs_running_is_leased CHECK ((state = 'running') = (lease_until IS NOT NULL)),
    CONSTRAINT job_runs_finished_when_done CHECK ((state = 'running') = (finished_at IS NULL)),
    CONSTRAINT job_runs_attempts_not_negative CHECK (attempts >= 0)
);

-- Finding runs whose lease expired (every poll of every replica).
CREATE INDEX job_runs_running_lease_idx ON job_runs (lease_until) WHERE state = 'running';
-- `jobs history` across jobs, newest first.
CREATE INDEX job_runs_slot_idx ON job_runs (slot);
