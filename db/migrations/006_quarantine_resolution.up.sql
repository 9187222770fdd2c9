-- A quarantined record can be closed, so that one bad record does not fail every month's
-- reconciliation for ever:
--   'booked'     by the sync that books the same (source, external_id) after the record was
--                first quarantined (the API corrected it); resolved_by is 'sync', the note
--                names the journal entry; in the same transaction as the booking;
--   'dismissed'  by a person (`nordpay-jobs ledger quarantine resolve`), with a note that
--                says why.
-- A resolved record pulled again (same fingerprint) is counted and stays resolved; a new
-- malformed version (another fingerprint) is a new, unresolved record. The reconciliation's
-- quarantine check fails on unresolved records only.
--
-- Cheap on a large table:
--   - nullable columns without a default change the catalog only: no rewrite, no scan;
--   - the CHECK constraints are NOT VALID, so adding them does not read the existing rows
--     under an exclusive lock; PostgreSQL enforces them on every row written from now on,
--     and the existing rows pass them anyway (their four new columns are NULL), so a later
--     VALIDATE CONSTRAINT would find nothing;
--   - the index holds the unresolved records only, however many are resolved: the sync reads
--     them once per window that books anything, and `ledger quarantine` and the
--     reconciliation list them. Building it reads the table once.

ALTER TABLE quarantined_records
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolved_by text,
    ADD COLUMN resolution  text,
    ADD COLUMN note        text;

ALTER TABLE quarantined_records
    ADD CONSTRAINT quarantined_records_resolution_known
        CHECK (resolution IN ('booked', 'dismissed')) NOT VALID,
    -- Unresolved: all four NULL. Resolved: all four set, who and why not empty.
    ADD CONSTRAINT quarantined_records_resolution_complete
        CHECK ((resolution IS NULL AND resolved_at IS NULL AND resolved_by IS NULL AND note IS NULL)
            OR (resolution IS NOT NULL AND resolved_at IS NOT NULL
                AND coalesce(resolved_by, '') <> '' AND coalesce(note, '') <> '')) NOT VALID;

CREATE INDEX quarantined_records_unresolved_idx
    ON quarantined_records (source, external_id)
    WHERE resolved_at IS NULL;
