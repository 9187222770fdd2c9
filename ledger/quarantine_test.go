package ledger_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/ledger"
)

// batchOf commits one batch of entries and quarantined records.
func (b bundle) batchOf(t *testing.T, es []ledger.Entry, qs ...ledger.Quarantined) ledger.BatchResult {
	t.Helper()
	batch, err := b.store.BeginBatch(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Rollback() //nolint:errcheck // a no-op after Commit
	for i := range es {
		if err := batch.Add(b.ctx, &es[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range qs {
		batch.Quarantine(q)
	}
	res, err := batch.Commit(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// record returns the stored quarantined record of source and external id (the only one).
func (b bundle) record(t *testing.T, source, externalID string) ledger.Quarantined {
	t.Helper()
	qs, err := b.store.Quarantine(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found []ledger.Quarantined
	for _, q := range qs {
		if q.Source == source && q.ExternalID == externalID {
			found = append(found, q)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d quarantined records %s/%q, want 1: %+v", len(found), source, externalID, qs)
	}
	return found[0]
}

func negative(id, raw string) ledger.Quarantined {
	return ledger.Quarantined{Source: ledger.SourceInvoice, ExternalID: id, Reason: ledger.ReasonNegative,
		Detail: "amount -1", Raw: []byte(raw)}
}

func TestQuarantineResolution(t *testing.T) {
	t.Parallel()

	t.Run("BookingTheCorrectedRecordResolvesIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if res := b.batchOf(t, window(0, 3), negative("tx-9", `{"id":"tx-9","amount":-1}`)); res.QuarantineResolved != 0 {
			t.Fatalf("resolved %d records while quarantining them", res.QuarantineResolved)
		}
		q := b.record(t, ledger.SourceInvoice, "tx-9")
		if q.Resolved() || q.ID == 0 || len(q.Fingerprint) != 64 {
			t.Fatalf("a new record: %+v", q)
		}
		res := b.batchOf(t, window(9, 10)) // tx-9, corrected
		if res.Booked != 1 || res.QuarantineResolved != 1 {
			t.Fatalf("batch %+v, want tx-9 booked and its record resolved", res)
		}
		var entry int64
		if err := b.db.GetContext(b.ctx, &entry, `SELECT id FROM journal_entries WHERE external_id = 'tx-9'`); err != nil {
			t.Fatal(err)
		}
		q = b.record(t, ledger.SourceInvoice, "tx-9")
		if q.Resolution != ledger.ResolutionBooked || q.ResolvedBy != ledger.ResolvedBySync || q.ResolvedAt.IsZero() ||
			!strings.Contains(q.Note, "journal entry "+itoa(entry)) {
			t.Fatalf("record after the booking: %+v", q)
		}
		if res := b.batchOf(t, window(10, 11)); res.QuarantineResolved != 0 {
			t.Errorf("a later batch resolved %d records again", res.QuarantineResolved)
		}
	})

	t.Run("QuarantinedAndBookedInOneBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := b.batchOf(t, window(9, 10), negative("tx-9", `{"id":"tx-9","amount":-1}`))
		if res.Booked != 1 || res.Quarantined != 1 || res.QuarantineResolved != 1 {
			t.Fatalf("batch %+v", res)
		}
		if q := b.record(t, ledger.SourceInvoice, "tx-9"); q.Resolution != ledger.ResolutionBooked {
			t.Fatalf("record %+v", q)
		}
	})

	t.Run("OnlyTheSameSourceAndIDWithAnID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		wallet := negative("tx-1", `{"id":"tx-1","amount":-1,"source_type":"wallet"}`)
		wallet.Source = ledger.SourceWallet
		noID := ledger.Quarantined{Source: ledger.SourceInvoice, Reason: ledger.ReasonNoID, Raw: []byte(`{"amount":1}`)}
		b.batchOf(t, nil, wallet, noID, negative("tx-77", `{"id":"tx-77","amount":-1}`))
		if res := b.batchOf(t, window(0, 5)); res.Booked != 5 || res.QuarantineResolved != 0 {
			t.Fatalf("batch %+v, want nothing resolved", res)
		}
		c, err := b.store.CountQuarantine(b.ctx)
		if err != nil || c != (ledger.QuarantineCounts{Unresolved: 3}) {
			t.Fatalf("counts %+v, %v", c, err)
		}
	})

	t.Run("BookedBeforeTheRecordStaysForAPerson", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.batchOf(t, window(9, 10))
		// Later, Nord PAY serves a malformed version of the booked transaction: it changed
		// its story, which a person must look at.
		b.batchOf(t, nil, negative("tx-9", `{"id":"tx-9","amount":-1}`))
		if res := b.batchOf(t, window(10, 12)); res.QuarantineResolved != 0 {
			t.Fatalf("batch %+v resolved the record of an entry booked before it", res)
		}
		if q := b.record(t, ledger.SourceInvoice, "tx-9"); q.Resolved() {
			t.Fatalf("record %+v", q)
		}
	})

	t.Run("DismissedStaysDismissedANewVersionIsNew", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := negative("tx-9", `{"id":"tx-9","amount":-1}`)
		b.batchOf(t, nil, first)
		q := b.record(t, ledger.SourceInvoice, "tx-9")
		at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
		got, err := b.store.Dismiss(b.ctx, ledger.Dismissal{IDs: []int64{q.ID, q.ID}, By: " carol ", Note: " test payment ", At: at})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != q.ID || got[0].Resolution != ledger.ResolutionDismissed || got[0].ResolvedBy != "carol" ||
			got[0].Note != "test payment" || !got[0].ResolvedAt.Equal(at) {
			t.Fatalf("dismissed %+v", got)
		}
		// Pulled again, the same bytes: counted, still dismissed.
		b.batchOf(t, nil, first)
		again := b.record(t, ledger.SourceInvoice, "tx-9")
		if again.SeenCount != 2 || again.Resolution != ledger.ResolutionDismissed || again.Note != "test payment" {
			t.Fatalf("seen again: %+v", again)
		}
		// Another malformed version: a new record, unresolved; booking the corrected one
		// resolves it, and leaves the dismissed one as the person left it.
		b.batchOf(t, nil, negative("tx-9", `{"id":"tx-9","amount":-2}`))
		unresolved, err := b.store.QuarantinedRecords(b.ctx, ledger.QuarantineFilter{})
		if err != nil || len(unresolved) != 1 || unresolved[0].ID == q.ID {
			t.Fatalf("unresolved %+v, %v; want the new version only", unresolved, err)
		}
		if res := b.batchOf(t, window(9, 10)); res.QuarantineResolved != 1 {
			t.Fatalf("batch %+v, want the new version resolved", res)
		}
		all, err := b.store.Quarantine(b.ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("records %+v, %v", all, err)
		}
		for _, r := range all {
			want := ledger.ResolutionBooked
			if r.ID == q.ID {
				want = ledger.ResolutionDismissed
			}
			if r.Resolution != want {
				t.Errorf("record %d is %q, want %q", r.ID, r.Resolution, want)
			}
		}
		c, err := b.store.CountQuarantine(b.ctx)
		if err != nil || c != (ledger.QuarantineCounts{Booked: 1, Dismissed: 1}) {
			t.Errorf("counts %+v, %v", c, err)
		}
	})

	t.Run("DismissRefusesAllOrNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.batchOf(t, nil, negative("tx-1", `{"id":"tx-1"}`), negative("tx-2", `{"id":"tx-2"}`))
		one, two := b.record(t, ledger.SourceInvoice, "tx-1"), b.record(t, ledger.SourceInvoice, "tx-2")
		if _, err := b.store.Dismiss(b.ctx, ledger.Dismissal{IDs: []int64{one.ID}, By: "carol", Note: "test"}); err != nil {
			t.Fatal(err)
		}
		_, err := b.store.Dismiss(b.ctx, ledger.Dismissal{IDs: []int64{two.ID, one.ID, 424242}, By: "dave", Note: "again"})
		if !errors.Is(err, ledger.ErrAlreadyResolved) || !errors.Is(err, ledger.ErrQuarantineNotFound) {
			t.Fatalf("err = %v, want both refusals", err)
		}
		for _, want := range []string{"nothing was resolved", "record " + itoa(one.ID) + " is already resolved: dismissed by carol", `("test")`,
			"record 424242 does not exist"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error on several lines: %q", err)
		}
		if q := b.record(t, ledger.SourceInvoice, "tx-2"); q.Resolved() {
			t.Errorf("a refused dismissal resolved %+v", q)
		}
		if q := b.record(t, ledger.SourceInvoice, "tx-1"); q.ResolvedBy != "carol" {
			t.Errorf("a refused dismissal changed %+v", q)
		}
		for _, d := range []ledger.Dismissal{
			{IDs: []int64{two.ID}, By: "carol", Note: "  "},
			{IDs: []int64{two.ID}, Note: "why"},
			{By: "carol", Note: "why"},
		} {
			if _, err := b.store.Dismiss(b.ctx, d); !errors.Is(err, ledger.ErrInvalid) {
				t.Errorf("Dismiss(%+v) = %v, want ErrInvalid", d, err)
			}
		}
	})

	t.Run("TheDatabaseKeepsResolutionsWhole", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.batchOf(t, nil, negative("tx-1", `{"id":"tx-1"}`))
		for _, set := range []string{
			`resolution = 'maybe', resolved_at = now(), resolved_by = 'x', note = 'y'`,
			`resolution = 'dismissed', resolved_at = now(), resolved_by = 'x'`,
			`resolution = 'dismissed', resolved_at = now(), resolved_by = '', note = 'y'`,
			`resolution = 'dismissed', resolved_by = 'x', note = 'y'`,
			`note = 'y'`,
		} {
			tx, err := b.db.BeginTxx(b.ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(b.ctx, `UPDATE quarantined_records SET `+set); err == nil ||
				!strings.Contains(err.Error(), "quarantined_records_resolution_") {
				t.Errorf("SET %s: %v, want a check violation", set, err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
