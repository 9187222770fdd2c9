package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
)

func TestOpeningEntry(t *testing.T) {
	t.Parallel()
	chart := ledger.DefaultChart()
	e := chart.OpeningEntry(ledger.Opening{Currency: "BTC", Amount: dec("0.05"), At: day.Add(time.Hour), By: "alice\nsmith",
		AmountUSD: decimal.NewNullDecimal(dec("3250")), Basis: "a statement"})
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.Source != ledger.SourceOpening || e.ExternalID != "BTC" || !e.OccurredAt.Equal(day.Add(time.Hour)) {
		t.Fatalf("entry %+v", e)
	}
	if e.Description != "opening balance of BTC, booked by alice smith (a statement)" {
		t.Errorf("description %q", e.Description)
	}
	want := []ledger.Posting{
		{Account: "assets:nordpay:BTC", Type: ledger.Asset, Currency: "BTC", Amount: dec("0.05"), AmountUSD: decimal.NewNullDecimal(dec("3250"))},
		{Account: "equity:opening:BTC", Type: ledger.Equity, Currency: "BTC", Amount: dec("-0.05"), AmountUSD: decimal.NewNullDecimal(dec("-3250"))},
	}
	for i, p := range e.Postings {
		w := want[i]
		if p.Account != w.Account || p.Type != w.Type || p.Currency != w.Currency || !p.Amount.Equal(w.Amount) ||
			p.AmountUSD.Valid != w.AmountUSD.Valid || !p.AmountUSD.Decimal.Equal(w.AmountUSD.Decimal) {
			t.Errorf("posting %d: %+v, want %+v", i, p, w)
		}
	}
	if chart.RoleOf("equity:opening:BTC", "BTC") != ledger.RoleOpeningBalances {
		t.Errorf("the opening-balances account has role %q", chart.RoleOf("equity:opening:BTC", "BTC"))
	}
	t.Run("WithoutUSD", func(t *testing.T) {
		e := chart.OpeningEntry(ledger.Opening{Currency: "BTC", Amount: dec("1"), At: day, By: "bob"})
		if e.Postings[0].AmountUSD.Valid || e.Postings[1].AmountUSD.Valid || e.Validate() != nil {
			t.Errorf("postings %+v", e.Postings)
		}
	})
	t.Run("ChartNamesTheAccount", func(t *testing.T) {
		c := chart
		c.OpeningBalances = "equity:brought-forward:{CUR}"
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.OpeningEntry(ledger.Opening{Currency: "BTC", Amount: dec("1"), At: day, By: "bob"}).Postings[1].Account; got != "equity:brought-forward:BTC" {
			t.Errorf("account %q", got)
		}
		c.OpeningBalances = "equity:opening"
		if err := c.Validate(); err == nil {
			t.Error("a template without {CUR} validates")
		}
	})
}

func TestOpenings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	chart := ledger.DefaultChart()
	at := day.Add(-24 * time.Hour)
	b.sumPost(t, payment("p1", day, "100"))
	opening := func(cur, amount string) ledger.Entry {
		return chart.OpeningEntry(ledger.Opening{Currency: cur, Amount: dec(amount), At: at, By: "alice"})
	}

	posted, err := b.store.PostEntries(b.ctx, []ledger.Entry{opening("USDTBEP20", "2500"), opening("BTC", "0.05")})
	if err != nil {
		t.Fatal(err)
	}
	if len(posted) != 2 || !posted[0].Booked || !posted[1].Booked || posted[0].ExternalID != "USDTBEP20" || posted[0].ID == 0 {
		t.Fatalf("posted %+v", posted)
	}
	t.Run("OncePerCurrency", func(t *testing.T) {
		again, err := b.store.PostEntries(b.ctx, []ledger.Entry{opening("BTC", "7"), opening("USDTTRC20", "10")})
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Booked || again[0].ID != posted[1].ID || !again[1].Booked {
			t.Fatalf("again %+v, first %+v", again, posted)
		}
	})
	t.Run("Openings", func(t *testing.T) {
		got, err := b.store.Openings(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("openings %+v", got)
		}
		btc := got["BTC"]
		if btc.EntryID != posted[1].ID || !btc.Amount.Equal(dec("0.05")) || !btc.At.Equal(at) || btc.Currency != "BTC" {
			t.Errorf("BTC %+v", btc)
		}
	})
	t.Run("AllOrNothing", func(t *testing.T) {
		before := b.ledgerState(t)
		bad := opening("ETHERC20", "1")
		bad.Postings[1].Amount = dec("-0.5")
		if _, err := b.store.PostEntries(b.ctx, []ledger.Entry{opening("TRXTRC20", "5"), bad}); !errors.Is(err, ledger.ErrUnbalanced) {
			t.Fatalf("an unbalanced entry among others: %v", err)
		}
		if b.ledgerState(t) != before {
			t.Error("the good entry was booked beside the bad one")
		}
	})
	t.Run("Summarized", func(t *testing.T) {
		s, err := b.store.Summarize(b.ctx, at, at.AddDate(0, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Currencies {
			if c.Currency == "USDTBEP20" {
				if !c.OpeningBalances.Amount.Equal(dec("2500")) || !c.Opening.IsZero() || !c.Difference().IsZero() || !c.Other.Amount.IsZero() {
					t.Errorf("summary %+v", c)
				}
			}
		}
	})
}

func TestSyncLock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := b.ctx
	r1, err := b.store.SyncLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.store.SyncLock(ctx) // syncs share it
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.LockOutSyncs(ctx); !errors.Is(err, ledger.ErrSyncRunning) {
		t.Fatalf("exclusive lock during two syncs: %v", err)
	}
	if err := r1(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.LockOutSyncs(ctx); !errors.Is(err, ledger.ErrSyncRunning) {
		t.Fatalf("exclusive lock during one sync: %v", err)
	}
	if err := r2(); err != nil {
		t.Fatal(err)
	}
	release, err := b.store.LockOutSyncs(ctx)
	if err != nil {
		t.Fatalf("exclusive lock with no sync: %v", err)
	}
	if _, err := b.store.LockOutSyncs(ctx); !errors.Is(err, ledger.ErrSyncRunning) {
		t.Fatalf("a second exclusive lock: %v", err)
	}
	// A sync waits while the lock is held; a cancelled wait gives up.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := b.store.SyncLock(short); err == nil {
		t.Fatal("a sync took the lock while it was held alone")
	}
	got := make(chan error, 1)
	go func() {
		r, err := b.store.SyncLock(ctx)
		if err == nil {
			err = r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the sync did not wait: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sync still waits after the release")
	}
}

func TestWatermarkCappedAtFetch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fetched := day.Add(10 * time.Hour)
	commit := func(at, fetched time.Time) time.Time {
		t.Helper()
		batch, err := b.store.BeginBatch(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fetched.IsZero() {
			batch.SetWatermark(ledger.SourceInvoice, at)
		} else {
			batch.SetWatermarkFetched(ledger.SourceInvoice, at, fetched)
		}
		if _, err := batch.Commit(b.ctx); err != nil {
			t.Fatal(err)
		}
		wm, ok, err := b.store.Watermark(b.ctx, ledger.SourceInvoice)
		if err != nil || !ok {
			t.Fatalf("watermark %v %v", ok, err)
		}
		return wm
	}
	// A window that ends in the future stores the time it was fetched.
	if wm := commit(day.AddDate(0, 0, 6), fetched); !wm.Equal(fetched) {
		t.Fatalf("watermark %v, want the fetch time %v", wm, fetched)
	}
	// An old window (a backfill) leaves it where it is.
	if wm := commit(day, fetched.Add(time.Hour)); !wm.Equal(fetched) {
		t.Fatalf("watermark after a backfill %v, want %v", wm, fetched)
	}
	// A watermark in the future (stored before windows were capped) is replaced by the
	// next window fetched, even an earlier one...
	if wm := commit(day.AddDate(0, 0, 6), time.Time{}); !wm.Equal(day.AddDate(0, 0, 6)) {
		t.Fatalf("uncapped watermark %v", wm)
	}
	if wm := commit(day.Add(2*time.Hour), fetched.Add(2*time.Hour)); !wm.Equal(day.Add(2 * time.Hour)) {
		t.Fatalf("a future watermark was not replaced: %v", wm)
	}
	// ...but never by SetWatermark, which only moves it forward.
	if wm := commit(day, time.Time{}); !wm.Equal(day.Add(2 * time.Hour)) {
		t.Fatalf("watermark moved back: %v", wm)
	}
}
