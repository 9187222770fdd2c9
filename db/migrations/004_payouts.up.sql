-- Mass payouts (ARCHITECTURE.md, Invariant 5): batches imported from a finance sheet, their
-- rows, approvals, the chunks that go to Nord PAY's /balance/withdraw/multiple/request and
-- /confirm, and an append-only audit log. PostgreSQL enforces what must never break, so that
-- a bug in the code, two processes at once, or a person in psql cannot pay a row twice:
--   1. a row belongs to at most one chunk that is not failed (a unique partial index), so no
--      second request can carry a row while a first one may still be paid;
--   2. a chunk moves only along planned -> requested -> confirming -> confirmed | failed |
--      unknown (a trigger); an unknown chunk is closed only by a named person;
--   3. an approval is never by the importer, and is bound to the sheet's SHA-256 and to the
--      digest of the control totals and rows it saw (a trigger);
--   4. rows, approvals and the audit log are append-only; a batch's identity (sheet hash,
--      importer, totals, digest) never changes;
--   5. the same sheet is imported once unless forced (a unique partial index on the hash).
-- Only plain tables and PL/pgSQL triggers, as in 002.

-- payouts_person folds a person's name for comparisons ("Alice  Smith" is "alice smith"), so
-- that an importer cannot approve their own batch by writing their name differently.
CREATE FUNCTION payouts_person(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT lower(btrim(regexp_replace(name, '\s+', ' ', 'g')))
$$;

CREATE TABLE payout_batches (
    -- A date and a random part (20261120-3fa9c1): typed by people, hard to mistype into
    -- another batch.
    id             text        PRIMARY KEY,
    -- Hex SHA-256 of the sheet file's bytes.
    sheet_sha256   text        NOT NULL,
    file_name      text        NOT NULL,
    -- xlsx or csv.
    format         text        NOT NULL,
    imported_by    text        NOT NULL,
    created_at     timestamptz NOT NULL,
    -- rejected (the sheet is invalid: never payable), imported (awaiting approval), approved,
    -- running, attention (a chunk's outcome is unknown: a person must resolve it), partial
    -- (some chunks failed; a new run retries their rows), paid (every row confirmed).
    state          text        NOT NULL,
    -- Imported although the same sheet had been imported before (--force).
    forced         boolean     NOT NULL DEFAULT false,
    row_count      int         NOT NULL,
    error_count    int         NOT NULL DEFAULT 0,
    -- Control totals per currency, as shown before approval:
    -- [{"currency": "USDTBEP20", "rows": 3, "amount": "150.5", "expected_fee": "2.25"}].
    -- Amounts are JSON strings holding exact decimals.
    control_totals jsonb       NOT NULL DEFAULT '[]',
    -- Hex SHA-256 over the control totals and every row (payouts.Digest); approvals are bound
    -- to it, and a run recomputes it from the rows.
    control_digest text        NOT NULL,
    updated_at     timestamptz NOT NULL,

    CONSTRAINT payout_batches_id_format CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    CONSTRAINT payout_batches_sheet_sha256_hex CHECK (sheet_sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT payout_batches_control_digest_hex CHECK (control_digest ~ '^[0-9a-f]{64}$'),
    CONSTRAINT payout_batches_format_known CHECK (format IN ('xlsx', 'csv')),
    CONSTRAINT payout_batches_imported_by_not_empty CHECK (payouts_person(imported_by) <> ''),
    CONSTRAINT payout_batches_state_known
        CHECK (state IN ('rejected', 'imported', 'approved', 'running', 'attention', 'partial', 'paid')),
    CONSTRAINT payout_batches_rejected_has_errors CHECK ((state = 'rejected') = (error_count > 0)),
    CONSTRAINT payout_batches_counts_nonnegative CHECK (row_count >= 0 AND error_count >= 0)
);

-- The same sheet is imported once, unless the importer forces it (and the audit log says so).
-- A rejected import does not count: the fixed sheet has another hash anyway, and re-importing
-- an invalid one only reports its errors again.
CREATE UNIQUE INDEX payout_batches_sheet_once ON payout_batches (sheet_sha256)
    WHERE NOT forced AND state <> 'rejected';
CREATE INDEX payout_batches_created_at_idx ON payout_batches (created_at);

CREATE TABLE payout_rows (
    batch_id     text    NOT NULL REFERENCES payout_batches (id),
    -- The row number the user sees in the spreadsheet.
    line         int     NOT NULL,
    currency     text    NOT NULL,
    address      text    NOT NULL,
    amount       numeric NOT NULL,
    -- What validation expected Nord PAY to charge for this row (zero when no fee schedule).
    expected_fee numeric NOT NULL DEFAULT 0,
    reference    text    NOT NULL,
    name         text    NOT NULL DEFAULT '',
    note         text    NOT NULL DEFAULT '',

    PRIMARY KEY (batch_id, line),
    CONSTRAINT payout_rows_batch_reference_key UNIQUE (batch_id, reference),
    CONSTRAINT payout_rows_line_positive CHECK (line >= 1),
    CONSTRAINT payout_rows_amount_positive CHECK (amount > 0),
    CONSTRAINT payout_rows_expected_fee_nonnegative CHECK (expected_fee >= 0),
    CONSTRAINT payout_rows_fields_not_empty CHECK (currency <> '' AND address <> '' AND reference <> '')
);

-- For the "paid in the last 30 days" check of validation.
CREATE INDEX payout_rows_currency_address_idx ON payout_rows (currency, address);

CREATE TABLE payout_approvals (
    id             bigint      GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    batch_id       text        NOT NULL REFERENCES payout_batches (id),
    approver       text        NOT NULL,
    approved_at    timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    -- What the approver approved: the sheet and the control totals and rows.
    sheet_sha256   text        NOT NULL,
    control_digest text        NOT NULL,

    CONSTRAINT payout_approvals_approver_not_empty CHECK (payouts_person(approver) <> ''),
    CONSTRAINT payout_approvals_expires_after CHECK (expires_at > approved_at)
);

CREATE INDEX payout_approvals_batch_id_idx ON payout_approvals (batch_id);

CREATE TABLE payout_chunks (
    batch_id         text        NOT NULL REFERENCES payout_batches (id),
    -- 1, 2, ... in the order the run plans them.
    n                int         NOT NULL,
    currency         text        NOT NULL,
    state            text        NOT NULL,
    row_count        int         NOT NULL,
    -- Sum of the rows' amounts and expected fees.
    amount           numeric     NOT NULL,
    expected_fee     numeric     NOT NULL,
    -- The current quote (/balance/withdraw/multiple/request), as received.
    identifier       text,
    quote_amount     numeric,
    quote_fee        numeric,
    quote_expires_at timestamptz,
    quote            jsonb,
    -- How many requests were sent for this chunk (a quote that expires is requested again).
    requests         int         NOT NULL DEFAULT 0,
    -- When the confirm was about to be sent; the withdrawal's time in the ledger.
    confirm_sent_at  timestamptz,
    -- The confirm's answer: Nord PAY's withdrawal id and detail.
    withdrawal_id    text,
    -- Why the chunk failed or is unknown, in words.
    reason           text        NOT NULL DEFAULT '',
    -- The person who closed an unknown chunk (payouts resolve).
    resolved_by      text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,

    PRIMARY KEY (batch_id, n),
    CONSTRAINT payout_chunks_n_positive CHECK (n >= 1),
    CONSTRAINT payout_chunks_state_known
        CHECK (state IN ('planned', 'requested', 'confirming', 'confirmed', 'failed', 'unknown')),
    CONSTRAINT payout_chunks_rows_positive CHECK (row_count >= 1 AND amount > 0 AND expected_fee >= 0),
    CONSTRAINT payout_chunks_quoted
        CHECK (state NOT IN ('requested', 'confirming', 'unknown', 'confirmed')
               OR (identifier IS NOT NULL AND quote IS NOT NULL AND quote_expires_at IS NOT NULL)),
    CONSTRAINT payout_chunks_confirm_sent
        CHECK (state NOT IN ('confirming', 'unknown', 'confirmed') OR confirm_sent_at IS NOT NULL)
);

-- Which rows a chunk sends, in request order. When a chunk fails, its rows are released (the
-- only update allowed) and a later chunk may carry them; until then no other chunk can.
CREATE TABLE payout_chunk_rows (
    batch_id text    NOT NULL,
    chunk_n  int     NOT NULL,
    line     int     NOT NULL,
    position int     NOT NULL,
    released boolean NOT NULL DEFAULT false,

    PRIMARY KEY (batch_id, chunk_n, line),
    CONSTRAINT payout_chunk_rows_position_key UNIQUE (batch_id, chunk_n, position),
    CONSTRAINT payout_chunk_rows_chunk_fkey FOREIGN KEY (batch_id, chunk_n) REFERENCES payout_chunks (batch_id, n),
    CONSTRAINT payout_chunk_rows_row_fkey FOREIGN KEY (batch_id, line) REFERENCES payout_rows (batch_id, line)
);

-- Invariant 5, first half: a row is in at most one chunk that is not failed.
CREATE UNIQUE INDEX payout_chunk_rows_one_live_chunk ON payout_chunk_rows (batch_id, line)
    WHERE NOT released;

-- Who did what, when: every import, approval, chunk transition, resolution and refusal.
CREATE TABLE payout_audit (
    id       bigint      GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL,
    actor    text        NOT NULL,
    action   text        NOT NULL,
    batch_id text        NOT NULL REFERENCES payout_batches (id),
    chunk_n  int,
    detail   jsonb       NOT NULL DEFAULT '{}',

    CONSTRAINT payout_audit_actor_not_empty CHECK (actor <> ''),
    CONSTRAINT payout_audit_action_not_empty CHECK (action <> '')
);

CREATE INDEX payout_audit_batch_id_idx ON payout_audit (batch_id, id);

-- Append-only tables: rows, approvals, the audit log.
CREATE FUNCTION payouts_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: payout history is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER payout_rows_append_only
    BEFORE UPDATE OR DELETE ON payout_rows
    FOR EACH ROW EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_rows_no_truncate
    BEFORE TRUNCATE ON payout_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_approvals_append_only
    BEFORE UPDATE OR DELETE ON payout_approvals
    FOR EACH ROW EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_approvals_no_truncate
    BEFORE TRUNCATE ON payout_approvals
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_audit_append_only
    BEFORE UPDATE OR DELETE ON payout_audit
    FOR EACH ROW EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_audit_no_truncate
    BEFORE TRUNCATE ON payout_audit
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_chunks_no_truncate
    BEFORE TRUNCATE ON payout_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_chunk_rows_no_truncate
    BEFORE TRUNCATE ON payout_chunk_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_reject_change();
CREATE TRIGGER payout_batches_no_truncate
    BEFORE TRUNCATE ON payout_batches
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_reject_change();

-- A batch keeps its identity; only its state (and updated_at) moves, and never into or out
-- of rejected. Batches are never deleted.
CREATE FUNCTION payouts_check_batch_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE of payout batch % is not allowed', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.id <> OLD.id OR NEW.sheet_sha256 <> OLD.sheet_sha256 OR NEW.file_name <> OLD.file_name
       OR NEW.format <> OLD.format OR NEW.imported_by <> OLD.imported_by
       OR NEW.created_at <> OLD.created_at OR NEW.forced <> OLD.forced
       OR NEW.row_count <> OLD.row_count OR NEW.error_count <> OLD.error_count
       OR NEW.control_totals <> OLD.control_totals OR NEW.control_digest <> OLD.control_digest THEN
        RAISE EXCEPTION 'payout batch %: only its state may change', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (OLD.state = 'rejected') <> (NEW.state = 'rejected') THEN
        RAISE EXCEPTION 'payout batch %: % -> % is not allowed (a rejected sheet stays rejected)',
            OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER payout_batches_keep
    BEFORE UPDATE OR DELETE ON payout_batches
    FOR EACH ROW EXECUTE FUNCTION payouts_check_batch_change();

-- Rows go in at import only: never into a rejected batch, nor once the batch has an approval
-- or a chunk (what was approved is what gets paid). Checked once per statement, so that a
-- COPY of 100k rows pays one query.
CREATE FUNCTION payouts_check_new_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT b.id, b.state,
           EXISTS (SELECT 1 FROM payout_approvals a WHERE a.batch_id = b.id) AS approved,
           EXISTS (SELECT 1 FROM payout_chunks c WHERE c.batch_id = b.id) AS chunked
    INTO bad
    FROM payout_batches b
    WHERE b.id IN (SELECT DISTINCT batch_id FROM new_rows)
      AND (b.state = 'rejected'
           OR EXISTS (SELECT 1 FROM payout_approvals a WHERE a.batch_id = b.id)
           OR EXISTS (SELECT 1 FROM payout_chunks c WHERE c.batch_id = b.id))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payout batch %: rows cannot be added to a % batch%', bad.id, bad.state,
            CASE WHEN bad.approved THEN ' that has approvals' WHEN bad.chunked THEN ' that has chunks' ELSE '' END
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payout_rows_insert_at_import
    AFTER INSERT ON payout_rows
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_check_new_rows();

-- An approval is by someone other than the importer, of a batch that is not rejected, and
-- names the batch's sheet hash and control digest: an approval of other totals cannot exist.
CREATE FUNCTION payouts_check_approval() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    b record;
BEGIN
    SELECT id, imported_by, state, sheet_sha256, control_digest INTO b
    FROM payout_batches WHERE id = NEW.batch_id;
    IF NOT FOUND THEN
        RETURN NEW; -- the foreign key reports it
    END IF;
    IF payouts_person(NEW.approver) = payouts_person(b.imported_by) THEN
        RAISE EXCEPTION 'payout batch %: % imported it and cannot approve it', b.id, NEW.approver
            USING ERRCODE = 'check_violation';
    END IF;
    IF b.state = 'rejected' THEN
        RAISE EXCEPTION 'payout batch %: the sheet is invalid and cannot be approved', b.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.sheet_sha256 <> b.sheet_sha256 OR NEW.control_digest <> b.control_digest THEN
        RAISE EXCEPTION 'payout batch %: the approval is bound to another sheet or other control totals', b.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER payout_approvals_check
    BEFORE INSERT ON payout_approvals
    FOR EACH ROW EXECUTE FUNCTION payouts_check_approval();

-- Invariant 5, second half: the chunk state machine. Allowed transitions:
--   planned    -> requested (a quote came back) | failed (the request was refused)
--   requested  -> confirming (persisted before the confirm is sent) | failed (the quote did
--                 not pass the checks) | planned (the quote expired before the confirm)
--   confirming -> confirmed | failed (the API refused the confirm: nothing was paid)
--                 | unknown (the answer was lost) | planned (the API said the quote expired)
--   unknown    -> confirmed | failed, only by a named person (resolved_by)
-- confirmed and failed are final. While a chunk is confirming or unknown its quote, hence
-- what may have been paid, cannot change. Chunks are never deleted.
CREATE FUNCTION payouts_check_chunk_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE of payout chunk %/% is not allowed', OLD.batch_id, OLD.n
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'planned' THEN
            RAISE EXCEPTION 'payout chunk %/%: a chunk starts planned, not %', NEW.batch_id, NEW.n, NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.batch_id <> OLD.batch_id OR NEW.n <> OLD.n OR NEW.currency <> OLD.currency
       OR NEW.row_count <> OLD.row_count OR NEW.amount <> OLD.amount
       OR NEW.expected_fee <> OLD.expected_fee OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'payout chunk %/%: its rows and totals cannot change', OLD.batch_id, OLD.n
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NOT ((OLD.state, NEW.state) IN (
            ('planned', 'requested'), ('planned', 'failed'),
            ('requested', 'confirming'), ('requested', 'failed'), ('requested', 'planned'),
            ('confirming', 'confirmed'), ('confirming', 'failed'), ('confirming', 'unknown'),
            ('confirming', 'planned'),
            ('unknown', 'confirmed'), ('unknown', 'failed'))) THEN
        RAISE EXCEPTION 'payout chunk %/%: % -> % is not an allowed transition', OLD.batch_id, OLD.n, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state IN ('confirming', 'unknown') AND NEW.state <> 'planned'
       AND (NEW.identifier IS DISTINCT FROM OLD.identifier OR NEW.quote IS DISTINCT FROM OLD.quote
            OR NEW.confirm_sent_at IS DISTINCT FROM OLD.confirm_sent_at) THEN
        RAISE EXCEPTION 'payout chunk %/%: the quote of a % chunk cannot change', OLD.batch_id, OLD.n, OLD.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state = 'unknown' AND payouts_person(coalesce(NEW.resolved_by, '')) = '' THEN
        RAISE EXCEPTION 'payout chunk %/%: an unknown outcome is closed by a named person (resolved_by)', OLD.batch_id, OLD.n
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER payout_chunks_transition
    BEFORE INSERT OR UPDATE OR DELETE ON payout_chunks
    FOR EACH ROW EXECUTE FUNCTION payouts_check_chunk_change();

-- A failed chunk releases its rows, in the same statement that fails it.
CREATE FUNCTION payouts_release_failed_chunk() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE payout_chunk_rows SET released = true
    WHERE batch_id = NEW.batch_id AND chunk_n = NEW.n AND NOT released;
    RETURN NULL;
END
$$;

CREATE TRIGGER payout_chunks_release_failed
    AFTER UPDATE OF state ON payout_chunks
    FOR EACH ROW WHEN (NEW.state = 'failed' AND OLD.state <> 'failed')
    EXECUTE FUNCTION payouts_release_failed_chunk();

-- Chunk membership: rows join a chunk only while it is planned and only in its currency;
-- the one change allowed afterwards is the release of a failed chunk's rows. Inserts are
-- checked once per statement.
CREATE FUNCTION payouts_check_new_chunk_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.batch_id, n.chunk_n, n.line, c.state, c.currency, r.currency AS row_currency INTO bad
    FROM new_chunk_rows n
    JOIN payout_chunks c ON c.batch_id = n.batch_id AND c.n = n.chunk_n
    JOIN payout_rows r ON r.batch_id = n.batch_id AND r.line = n.line
    WHERE c.state <> 'planned' OR c.currency <> r.currency OR n.released
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payout chunk %/%: row % (%) cannot join a % chunk in %', bad.batch_id, bad.chunk_n,
            bad.line, bad.row_currency, bad.state, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payout_chunk_rows_insert
    AFTER INSERT ON payout_chunk_rows
    REFERENCING NEW TABLE AS new_chunk_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_check_new_chunk_rows();

CREATE FUNCTION payouts_check_chunk_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.batch_id = OLD.batch_id AND NEW.chunk_n = OLD.chunk_n
       AND NEW.line = OLD.line AND NEW.position = OLD.position AND NOT OLD.released AND NEW.released
       AND EXISTS (SELECT 1 FROM payout_chunks c
                   WHERE c.batch_id = NEW.batch_id AND c.n = NEW.chunk_n AND c.state = 'failed') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% of row % of payout chunk %/% is not allowed: only a failed chunk releases its rows',
        TG_OP, OLD.line, OLD.batch_id, OLD.chunk_n
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER payout_chunk_rows_keep
    BEFORE UPDATE OR DELETE ON payout_chunk_rows
    FOR EACH ROW EXECUTE FUNCTION payouts_check_chunk_row_change();
