package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
)

// window returns the entries of payments n from..to-1, one a minute from day, of amount
// 100 + n.
func window(from, to int) []ledger.Entry {
	var es []ledger.Entry
	for n := from; n < to; n++ {
		es = append(es, payment(fmt.Sprint("tx-", n), day.Add(time.Duration(n)*time.Minute), fmt.Sprint(100+n)))
	}
	return es
}

// load books entries in one batch, with a watermark for the invoice source.
func (b bundle) load(t *testing.T, es []ledger.Entry, watermark time.Time) ledger.BatchResult {
	t.Helper()
	batch, err := b.store.BeginBatch(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := batch.Rollback(); err != nil {
			t.Error(err)
		}
	}()
	for i := range es {
		if err := batch.Add(b.ctx, &es[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !watermark.IsZero() {
		batch.SetWatermark(ledger.SourceInvoice, watermark)
	}
	res, err := batch.Commit(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ledgerState is everything booked, as text, to compare ledgers.
func (b bundle) ledgerState(t *testing.T) string {
	t.Helper()
	var s string
	err := b.db.GetContext(b.ctx, &s, `
		SELECT coalesce(string_agg(x, E'\n' ORDER BY x), '')
		FROM (
			SELECT e.source || '/' || e.external_id || ' ' || e.occurred_at || ' ' || p.line || ' ' || a.name || ' ' ||
			       p.amount || ' ' || coalesce(p.amount_usd::text, '-') AS x
			FROM journal_entries e
			JOIN postings p ON p.entry_id = e.id
			JOIN accounts a ON a.id = p.account_id
		) rows`)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkTotals compares a batch's totals with sums over the postings of the ledger, which
// hold exactly what the batch booked when it was the only one.
func (b bundle) checkTotals(t *testing.T, res ledger.BatchResult) {
	t.Helper()
	rows, err := b.db.QueryContext(b.ctx, `
		SELECT a.name, a.type, a.currency, count(DISTINCT p.entry_id), sum(p.amount), coalesce(sum(p.amount_usd), 0)
		FROM postings p
		JOIN accounts a ON a.id = p.account_id
		GROUP BY a.name, a.type, a.currency
		ORDER BY a.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var want []ledger.AccountTotal
	for rows.Next() {
		var at ledger.AccountTotal
		if err := rows.Scan(&at.Account, &at.Type, &at.Currency, &at.Entries, &at.Amount, &at.AmountUSD); err != nil {
			t.Fatal(err)
		}
		want = append(want, at)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.Totals) != len(want) {
		t.Fatalf("totals %+v\nwant %+v", res.Totals, want)
	}
	for i := range want {
		got, w := res.Totals[i], want[i]
		if got.Account != w.Account || got.Type != w.Type || got.Currency != w.Currency || got.Entries != w.Entries ||
			!got.Amount.Equal(w.Amount) || !got.AmountUSD.Equal(w.AmountUSD) {
			t.Errorf("total %+v, want %+v", got, w)
		}
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()

	t.Run("BooksEveryEntryWithTotals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := b.load(t, window(0, 50), time.Time{})
		if res.Staged != 50 || res.Booked != 50 || res.AlreadyBooked != 0 {
			t.Errorf("result %+v, want 50 staged and booked", res)
		}
		if n := b.count(t, "postings"); n != 200 {
			t.Errorf("%d postings, want 200", n)
		}
		b.checkTotals(t, res)
		// Batch and Post book the same thing.
		other := setup(t)
		for _, e := range window(0, 50) {
			if _, _, err := other.store.Post(other.ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := b.ledgerState(t), other.ledgerState(t); got != want {
			t.Errorf("batch booked\n%s\nPost booked\n%s", got, want)
		}
	})

	t.Run("SecondCommitOfTheSameEntriesBooksNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.load(t, window(0, 30), time.Time{})
		before := b.ledgerState(t)
		res := b.load(t, window(0, 30), time.Time{})
		if res.Staged != 30 || res.Booked != 0 || res.AlreadyBooked != 30 || len(res.Totals) != 0 {
			t.Errorf("result %+v, want 30 already booked, no totals", res)
		}
		if after := b.ledgerState(t); after != before {
			t.Errorf("ledger changed:\n%s\nthen\n%s", before, after)
		}
	})

	t.Run("OverlappingBatchesBookEachEntryOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.load(t, window(0, 40), time.Time{})
		res := b.load(t, window(20, 60), time.Time{})
		if res.Booked != 20 || res.AlreadyBooked != 20 {
			t.Errorf("result %+v, want 20 booked and 20 already booked", res)
		}
		want := setup(t)
		want.load(t, window(0, 60), time.Time{})
		if got, want := b.ledgerState(t), want.ledgerState(t); got != want {
			t.Errorf("overlapping windows booked\n%s\none window booked\n%s", got, want)
		}
	})

	t.Run("ConcurrentOverlappingBatchesBookEachEntryOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		results := make([]ledger.BatchResult, 4)
		errs := make([]error, 4)
		for i := range results {
			wg.Go(func() {
				store := ledger.NewStore(b.db, ledger.DefaultChart())
				batch, err := store.BeginBatch(b.ctx)
				if err != nil {
					errs[i] = err
					return
				}
				defer batch.Rollback() //nolint:errcheck // a no-op after Commit
				for _, e := range window(i*100, i*100+300) {
					if err := batch.Add(b.ctx, &e); err != nil {
						errs[i] = err
						return
					}
				}
				results[i], errs[i] = batch.Commit(b.ctx)
			})
		}
		wg.Wait()
		booked := 0
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("batch %d: %v", i, errs[i])
			}
			booked += results[i].Booked
		}
		if booked != 600 || b.count(t, "journal_entries") != 600 || b.count(t, "postings") != 2400 {
			t.Errorf("booked %d, %d entries, %d postings; want 600, 600, 2400",
				booked, b.count(t, "journal_entries"), b.count(t, "postings"))
		}
	})

	t.Run("DuplicatesInABatchBookedOnceFirstWins", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		es := window(0, 10)
		dup := payment("tx-3", day.Add(3*time.Minute), "999") // same key as es[3], other amount
		es = append(es, dup, es[5])
		res := b.load(t, es, time.Time{})
		if res.Staged != 12 || res.Booked != 10 || res.AlreadyBooked != 2 {
			t.Errorf("result %+v, want 12 staged, 10 booked", res)
		}
		var amount decimal.Decimal
		err := b.db.GetContext(b.ctx, &amount, `
			SELECT -p.amount FROM postings p JOIN journal_entries e ON e.id = p.entry_id
			WHERE e.external_id = 'tx-3' AND p.line = 4`)
		if err != nil {
			t.Fatal(err)
		}
		if !amount.Equal(dec("103")) {
			t.Errorf("tx-3 booked for %s, want 103 (the first staged)", amount)
		}
		b.checkTotals(t, res)
	})

	t.Run("SomeBookedSomeNew", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Booked ones scattered so that the key sample may miss them.
		for _, n := range []int{7, 513, 999} {
			if _, _, err := b.store.Post(b.ctx, window(n, n+1)[0]); err != nil {
				t.Fatal(err)
			}
		}
		res := b.load(t, window(0, 1000), time.Time{})
		if res.Booked != 997 || res.AlreadyBooked != 3 {
			t.Errorf("result %+v, want 997 booked, 3 already booked", res)
		}
		want := setup(t)
		want.load(t, window(0, 1000), time.Time{})
		if b.ledgerState(t) != want.ledgerState(t) {
			t.Error("the ledger differs from one booked in one go")
		}
	})

	t.Run("RollbackLeavesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch, err := b.store.BeginBatch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range window(0, 20) {
			if err := batch.Add(b.ctx, &e); err != nil {
				t.Fatal(err)
			}
		}
		batch.Quarantine(ledger.Quarantined{Source: "invoice", Reason: ledger.ReasonNoID, Raw: []byte(`{}`)})
		batch.SetWatermark(ledger.SourceInvoice, day.Add(time.Hour))
		if err := batch.Rollback(); err != nil {
			t.Fatal(err)
		}
		b.checkEmpty(t)
		if err := batch.Add(b.ctx, &window(0, 1)[0]); err == nil {
			t.Error("Add after Rollback succeeded")
		}
		if _, err := batch.Commit(b.ctx); err == nil {
			t.Error("Commit after Rollback succeeded")
		}
	})

	t.Run("CancelledContextLeavesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(b.ctx)
		defer cancel()
		batch, err := b.store.BeginBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		es := window(0, 2000)
		var addErr error
		for i := range es {
			if i == 1000 {
				cancel()
			}
			if addErr = batch.Add(ctx, &es[i]); addErr != nil {
				break
			}
		}
		batch.SetWatermark(ledger.SourceInvoice, day.Add(time.Hour))
		_, commitErr := batch.Commit(ctx)
		if commitErr == nil {
			t.Fatalf("Commit after cancel succeeded (Add: %v)", addErr)
		}
		t.Logf("Add: %v; Commit: %v", addErr, commitErr)
		if err := batch.Rollback(); err != nil {
			t.Errorf("Rollback after a failed Commit: %v", err)
		}
		b.checkEmpty(t)
	})

	t.Run("WatermarkMovesOnlyAtCommitAndNeverBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch, err := b.store.BeginBatch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer batch.Rollback() //nolint:errcheck // a no-op after Commit
		batch.SetWatermark(ledger.SourceInvoice, day.Add(time.Hour))
		if _, ok, err := b.store.Watermark(b.ctx, ledger.SourceInvoice); err != nil || ok {
			t.Fatalf("watermark before commit: ok %v, err %v; want none", ok, err)
		}
		if _, err := batch.Commit(b.ctx); err != nil {
			t.Fatal(err)
		}
		at, ok, err := b.store.Watermark(b.ctx, ledger.SourceInvoice)
		if err != nil || !ok || !at.Equal(day.Add(time.Hour)) {
			t.Fatalf("watermark %v, %v, %v; want %v", at, ok, err, day.Add(time.Hour))
		}
		b.load(t, nil, day) // a backfill of an earlier window
		if at, _, _ := b.store.Watermark(b.ctx, ledger.SourceInvoice); !at.Equal(day.Add(time.Hour)) {
			t.Errorf("watermark moved back to %v", at)
		}
		b.load(t, nil, day.Add(2*time.Hour))
		if at, _, _ := b.store.Watermark(b.ctx, ledger.SourceInvoice); !at.Equal(day.Add(2 * time.Hour)) {
			t.Errorf("watermark %v, want %v", at, day.Add(2*time.Hour))
		}
		if _, ok, err := b.store.Watermark(b.ctx, ledger.SourceWallet); ok || err != nil {
			t.Errorf("wallet watermark: ok %v, err %v; want none", ok, err)
		}
	})

	t.Run("QuarantineCountsRecordsSeenAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		bad := ledger.Quarantined{Source: "invoice", ExternalID: "tx-9", Reason: ledger.ReasonNegative,
			Detail: "amount -1", Raw: []byte(`{"id":"tx-9","amount":-1}`)}
		odd := ledger.Quarantined{Source: "invoice", Reason: ledger.ReasonUndecodable, Raw: []byte("\x00\xff{not json")}
		quarantine := func(qs ...ledger.Quarantined) ledger.BatchResult {
			t.Helper()
			batch, err := b.store.BeginBatch(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer batch.Rollback() //nolint:errcheck // a no-op after Commit
			for _, q := range qs {
				batch.Quarantine(q)
			}
			res, err := batch.Commit(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := quarantine(bad, bad, odd); res.Quarantined != 2 {
			t.Errorf("quarantined %d, want 2 records", res.Quarantined)
		}
		first, err := b.store.Quarantine(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res := quarantine(bad); res.Quarantined != 1 {
			t.Errorf("quarantined %d, want 1 record", res.Quarantined)
		}
		qs, err := b.store.Quarantine(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 2 {
			t.Fatalf("%d quarantined records, want 2: %+v", len(qs), qs)
		}
		newest := qs[0] // seen last
		if newest.ExternalID != "tx-9" || newest.SeenCount != 3 || newest.Reason != ledger.ReasonNegative ||
			string(newest.Raw) != string(bad.Raw) || newest.LastSeen.Before(newest.FirstSeen) {
			t.Errorf("record %+v, want tx-9 seen 3 times", newest)
		}
		for _, q := range first {
			if q.ExternalID == "tx-9" && !q.FirstSeen.Equal(newest.FirstSeen) {
				t.Errorf("first seen moved from %v to %v", q.FirstSeen, newest.FirstSeen)
			}
		}
		if qs[1].SeenCount != 1 || string(qs[1].Raw) != "\uFFFD\uFFFD{not json" {
			t.Errorf("record %+v, want seen once, raw stored as valid text", qs[1])
		}
	})

	t.Run("TotalsCountAnEntryOncePerAccount", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		e := payment("tx-1", day, "100")
		e.Postings[2].Account = e.Postings[1].Account // both fees to the network fee account
		res := b.load(t, []ledger.Entry{e}, time.Time{})
		b.checkTotals(t, res)
	})

	t.Run("ErrTooManyPostingsBatchGoesOn", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch, err := b.store.BeginBatch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer batch.Rollback() //nolint:errcheck // a no-op after Commit
		big := payment("tx-big", day, "100")
		big.Postings = append(big.Postings, big.Postings[0], big.Postings[0])
		big.Postings[5].Amount = big.Postings[5].Amount.Neg()
		big.Postings[5].AmountUSD.Decimal = big.Postings[5].AmountUSD.Decimal.Neg()
		if err := batch.Add(b.ctx, &big); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("Add of 6 postings = %v, want ErrInvalid", err)
		}
		unbalanced := payment("tx-bad", day, "100")
		unbalanced.Postings[0].Amount = dec("1")
		if err := batch.Add(b.ctx, &unbalanced); !errors.Is(err, ledger.ErrUnbalanced) {
			t.Errorf("Add of an unbalanced entry = %v, want ErrUnbalanced", err)
		}
		good := payment("tx-good", day, "100")
		if err := batch.Add(b.ctx, &good); err != nil {
			t.Fatal(err)
		}
		res, err := batch.Commit(b.ctx)
		if err != nil || res.Booked != 1 || res.Staged != 1 {
			t.Errorf("Commit = %+v, %v; want the one good entry", res, err)
		}
	})

	t.Run("EmptyBatchCommits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := b.load(t, nil, time.Time{})
		if res.Staged != 0 || res.Booked != 0 || len(res.Totals) != 0 {
			t.Errorf("result %+v, want nothing", res)
		}
	})
}

// checkEmpty fails unless nothing was booked, quarantined or marked.
func (b bundle) checkEmpty(t *testing.T) {
	t.Helper()
	for _, table := range []string{"journal_entries", "postings", "quarantined_records", "sync_watermarks"} {
		if n := b.count(t, table); n != 0 {
			t.Errorf("%d rows in %s, want none", n, table)
		}
	}
}
