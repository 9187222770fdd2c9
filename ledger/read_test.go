package ledger_test

import (
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/ledger"
)

func TestEntries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Booked out of time order, so that id order and time order differ.
	for _, e := range []ledger.Entry{
		payment("c", day.Add(3*time.Hour), "30"),
		payment("a", day.Add(1*time.Hour), "10"),
		payment("b", day.Add(2*time.Hour), "20"),
		payment("d", day.Add(24*time.Hour), "40"),
	} {
		if _, _, err := b.store.Post(b.ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(f ledger.EntryFilter) []*ledger.BookedEntry {
		t.Helper()
		var out []*ledger.BookedEntry
		for e, err := range b.store.Entries(b.ctx, f) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}

	t.Run("HalfOpenWindowInTimeOrder", func(t *testing.T) {
		got := collect(ledger.EntryFilter{From: day.Add(time.Hour), To: day.Add(3 * time.Hour)})
		if len(got) != 2 || got[0].ExternalID != "a" || got[1].ExternalID != "b" {
			t.Fatalf("got %d entries %v, want a and b", len(got), got)
		}
		want := payment("a", day.Add(time.Hour), "10")
		e := got[0]
		if e.ID == 0 || e.BookedAt.IsZero() || e.OccurredAt.Location() != time.UTC {
			t.Errorf("entry a: id %d, booked %v, occurred %v", e.ID, e.BookedAt, e.OccurredAt)
		}
		if len(e.Postings) != len(want.Postings) {
			t.Fatalf("entry a has %d postings, want %d", len(e.Postings), len(want.Postings))
		}
		for i, p := range e.Postings {
			w := want.Postings[i]
			if p.Account != w.Account || p.Type != w.Type || p.Currency != w.Currency || !p.Amount.Equal(w.Amount) ||
				p.AmountUSD.Valid != w.AmountUSD.Valid || !p.AmountUSD.Decimal.Equal(w.AmountUSD.Decimal) {
				t.Errorf("posting %d = %+v, want %+v", i+1, p, w)
			}
		}
		if e.Label != "order a" || e.TxHash != "0xa" || e.SourceRef != "inv-1" {
			t.Errorf("entry a fields: %+v", e.Entry)
		}
	})
	t.Run("OpenBounds", func(t *testing.T) {
		got := collect(ledger.EntryFilter{})
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ExternalID)
		}
		if len(ids) != 4 || ids[0] != "a" || ids[1] != "b" || ids[2] != "c" || ids[3] != "d" {
			t.Fatalf("got %v, want a b c d", ids)
		}
	})
	t.Run("OtherCurrencyIsEmpty", func(t *testing.T) {
		if got := collect(ledger.EntryFilter{Currency: "BTC"}); len(got) != 0 {
			t.Fatalf("got %d entries in BTC", len(got))
		}
		if got := collect(ledger.EntryFilter{Currency: "USDTBEP20"}); len(got) != 4 {
			t.Fatalf("got %d entries in USDTBEP20, want 4", len(got))
		}
	})
	t.Run("AllAccounts", func(t *testing.T) {
		accs, err := b.store.AllAccounts(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(accs) != 4 || accs[0].Name != "assets:nordpay:USDTBEP20" {
			t.Fatalf("accounts %+v", accs)
		}
	})
}
