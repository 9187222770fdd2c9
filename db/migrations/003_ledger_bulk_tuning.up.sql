-- Tuning of the ledger for bulk loads, measured with 1M transactions (3.7M postings) COPY'd
-- into the tables (backend CPU seconds):
--
-- 1. The balance trigger of 002 joined the statement's postings to the range of their
--    entries with a LEFT JOIN, which the planner ran as a nested loop over the range when
--    journal_entries' statistics were stale (a window committed right after another):
--    quadratic, 1.1 s for a window of 3,000 entries. The function below replaces the join
--    by a UNION ALL and one aggregate per entry (linear, whatever the estimates), and checks
--    accounts once per (account, currency) pair instead of once per posting.
-- 2. The btree on postings (account_id, occurred_at) cost 3 s of the 22 s that the postings
--    took. Balances read all postings anyway; statements and reports read a period. A BRIN
--    index on occurred_at serves a period (postings arrive in about time order, a window at a
--    time) at almost no cost to a load.

CREATE OR REPLACE FUNCTION ledger_check_new_postings() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    lo      bigint;
    hi      bigint;
    n       bigint;
    bad_id  bigint;
    entry   record;
    detail  record;
    multi   boolean;
BEGIN
    SELECT min(entry_id), max(entry_id), count(*) INTO lo, hi, n FROM new_postings;
    IF n = 0 THEN
        RETURN NULL;
    END IF;

    -- One pass over the new postings, grouped per entry, then each group's entry: the first
    -- entry with any problem is explained below.
    IF hi - lo <= 4 * n + 10000 THEN
        -- Dense entry ids (a bulk load). No join, so no plan that is worse than linear
        -- whatever the planner believes about journal_entries' size (002 joined here, and
        -- with stale statistics got a nested loop: 1.1 s for a window of 3,000 entries):
        -- the postings grouped per entry, and that id range of journal_entries, go through
        -- one UNION ALL and one aggregate per entry. An entry in one currency (all that the
        -- posting rules make) balances when its sum is zero; an entry in several currencies
        -- is checked per currency below. The accounts are checked once per (account,
        -- currency) pair of the statement, a few rows, not once per posting.
        SELECT min(u.entry_id) FILTER (WHERE u.bad), bool_or(u.multi) INTO bad_id, multi
        FROM (
            SELECT u.entry_id,
                   count(u.first_at) > 0 -- an entry of this statement's postings
                   AND (bool_or(u.unbalanced) OR count(u.entry_at) = 0
                        OR min(u.first_at) <> min(u.entry_at) OR max(u.last_at) <> min(u.entry_at)) AS bad,
                   bool_or(u.multi) AS multi
            FROM (
                SELECT p.entry_id,
                       -- COLLATE "C": byte order is all that equality needs, and
                       -- the collation's comparison cost 1 s per million entries.
                       min(p.currency COLLATE "C") = max(p.currency COLLATE "C") AND sum(p.amount) <> 0 AS unbalanced,
                       min(p.currency COLLATE "C") <> max(p.currency COLLATE "C") AS multi,
                       min(p.occurred_at) AS first_at, max(p.occurred_at) AS last_at,
                       NULL::timestamptz AS entry_at
                FROM new_postings p
                GROUP BY p.entry_id
                UNION ALL
                SELECT id, false, false, NULL, NULL, occurred_at
                FROM journal_entries
                WHERE id BETWEEN lo AND hi
            ) u
            GROUP BY u.entry_id
        ) u;
        IF bad_id IS NULL AND multi THEN
            SELECT min(g.entry_id) INTO bad_id
            FROM (
                SELECT p.entry_id
                FROM new_postings p
                WHERE p.entry_id IN (
                    SELECT q.entry_id FROM new_postings q
                    GROUP BY q.entry_id HAVING min(q.currency COLLATE "C") <> max(q.currency COLLATE "C"))
                GROUP BY p.entry_id, p.currency
                HAVING sum(p.amount) <> 0
            ) g;
        END IF;
        IF bad_id IS NULL THEN
            SELECT min(p.entry_id) INTO bad_id
            FROM new_postings p
            WHERE (p.account_id, p.currency) IN (
                SELECT d.account_id, d.currency
                FROM (SELECT DISTINCT account_id, currency FROM new_postings) d
                LEFT JOIN accounts a ON a.id = d.account_id
                WHERE a.id IS NULL OR a.currency <> d.currency);
        END IF;
    ELSE
        -- Scattered entry ids (postings by hand, for entries of any age): one lookup each.
        SELECT g.entry_id INTO bad_id
        FROM (
            SELECT p.entry_id, sum(p.amount) AS total,
                   bool_or(a.id IS NULL OR a.currency <> p.currency) AS bad_account,
                   min(p.occurred_at) AS first_at, max(p.occurred_at) AS last_at
            FROM new_postings p
            LEFT JOIN accounts a ON a.id = p.account_id
            GROUP BY p.entry_id, p.currency
        ) g
        LEFT JOIN journal_entries e ON e.id = g.entry_id
        WHERE g.total <> 0 OR g.bad_account OR e.id IS NULL
           OR g.first_at <> e.occurred_at OR g.last_at <> e.occurred_at
        LIMIT 1;
    END IF;
    IF bad_id IS NULL THEN
        RETURN NULL;
    END IF;

    -- Say what is wrong with that entry (only on the way to an error, so not in bulk).
    SELECT id, source, external_id, occurred_at INTO entry FROM journal_entries WHERE id = bad_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invalid posting: entry % does not exist', bad_id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Insert the journal entry first, then all its postings in one statement.';
    END IF;
    SELECT p.line, p.account_id, p.currency, a.currency AS account_currency INTO detail
    FROM new_postings p
    LEFT JOIN accounts a ON a.id = p.account_id
    WHERE p.entry_id = bad_id AND (a.id IS NULL OR a.currency <> p.currency)
    ORDER BY p.line
    LIMIT 1;
    IF FOUND AND detail.account_currency IS NULL THEN
        RAISE EXCEPTION 'invalid posting: entry % (%/%) line % posts to account %, which does not exist',
            bad_id, entry.source, entry.external_id, detail.line, detail.account_id
            USING ERRCODE = 'foreign_key_violation';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'invalid posting: entry % (%/%) line % posts % to account %, which is in %',
            bad_id, entry.source, entry.external_id, detail.line, detail.currency, detail.account_id,
            detail.account_currency
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT p.line, p.occurred_at INTO detail
    FROM new_postings p
    WHERE p.entry_id = bad_id AND p.occurred_at <> entry.occurred_at
    ORDER BY p.line
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'invalid posting: entry % (%/%) occurred at %, its line % says %',
            bad_id, entry.source, entry.external_id, entry.occurred_at, detail.line, detail.occurred_at
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT p.currency, sum(p.amount) AS total INTO detail
    FROM new_postings p
    WHERE p.entry_id = bad_id
    GROUP BY p.currency
    HAVING sum(p.amount) <> 0
    ORDER BY p.currency
    LIMIT 1;
    RAISE EXCEPTION 'unbalanced entry % (%/%): postings in % sum to %, not 0',
        bad_id, entry.source, entry.external_id, detail.currency, detail.total
        USING ERRCODE = 'check_violation',
              HINT = 'Insert all the postings of an entry in one INSERT statement.';
END
$$;

DROP INDEX postings_account_id_occurred_at_idx;
CREATE INDEX postings_occurred_at_brin ON postings USING brin (occurred_at);
