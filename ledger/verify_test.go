package ledger_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/ledger"
)

// check returns the named check of a report, failing the test when there is none.
func check(t *testing.T, r ledger.Report, prefix string) ledger.Check {
	t.Helper()
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, r)
	return ledger.Check{}
}

func TestVerify(t *testing.T) {
	t.Parallel()

	t.Run("CleanLedgerOK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.load(t, window(0, 100), time.Time{})
		if _, _, err := b.store.Post(b.ctx, payment("tx-post", day, "7")); err != nil {
			t.Fatal(err)
		}
		r, err := b.store.Verify(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() || len(r.Checks) < 9 {
			t.Errorf("report %+v, want %d checks, all OK", r, len(r.Checks))
		}
	})

	t.Run("EmptyLedgerOK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r, err := b.store.Verify(b.ctx)
		if err != nil || !r.OK() {
			t.Errorf("Verify = %+v, %v; want OK", r, err)
		}
	})

	t.Run("PlantedProblemsNamed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.load(t, window(0, 10), time.Time{})                                                          // entries 1..10, accounts 1..4 (USDTBEP20)
		if _, err := b.store.AccountID(b.ctx, "assets:nordpay:BTC", ledger.Asset, "BTC"); err != nil { // account 5
			t.Fatal(err)
		}
		exec := func(q string) {
			t.Helper()
			if _, err := b.db.ExecContext(b.ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// What a superuser (here: the tables' owner) can do behind the triggers' back.
		exec(`ALTER TABLE postings DISABLE TRIGGER USER`)
		exec(`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
		      SELECT 3, 5, 1, 'USDTBEP20', 1.25, occurred_at FROM journal_entries WHERE id = 3`) // unbalanced tx-2
		exec(`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
		      SELECT 4, 7, 5, 'USDTBEP20', 0, occurred_at FROM journal_entries WHERE id = 4`) // tx-3: line gap, BTC account
		exec(`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
		      VALUES (77, 1, 1, 'USDTBEP20', 0, '2026-01-01T00:00:00Z')`) // no entry 77
		exec(`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
		      VALUES (5, 5, 1, 'USDTBEP20', 0, '2020-01-01T00:00:00Z')`) // tx-4: another time
		exec(`INSERT INTO journal_entries (source, external_id, occurred_at) VALUES ('manual', 'lonely', now())`)

		r, err := b.store.Verify(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() {
			t.Fatal("Verify found nothing wrong")
		}
		for _, c := range r.Checks {
			t.Logf("%v %s: %d %q", c.OK, c.Name, c.Offenders, c.Examples)
		}
		for _, tc := range []struct {
			outcome, check string
			offenders      int64
			example        string
		}{
			{"UnbalancedEntryNamed", "every entry balances per currency", 1, "invoice/tx-2 (entry 3): postings in USDTBEP20 sum to 1.25, not 0"},
			{"LineGapNamed", "every entry has at least two postings", 2, "invoice/tx-3 (entry 4): lines 1..7 for 5 postings"},
			{"EntryWithoutPostingsNamed", "every entry has at least two postings", 2, "manual/lonely (entry 11): no postings"},
			{"WrongCurrencyNamed", "every posting's account exists", 1, "invoice/tx-3 (entry 4): line 7 posts USDTBEP20 to assets:nordpay:BTC, which is in BTC"},
			{"MissingEntryNamed", "every posting's entry exists", 1, "entry 77 (missing): 1 posting(s) of a missing entry"},
			{"OtherTimeNamed", "every posting occurred when its entry did", 1, "invoice/tx-4 (entry 5): line 5 occurred at 2020-01-01"},
			{"DisabledTriggerReported", "the balance and append-only triggers", 3, "postings_balance on postings is disabled (tgenabled D)"},
		} {
			t.Run(tc.outcome, func(t *testing.T) {
				c := check(t, r, tc.check)
				found := false
				for _, e := range c.Examples {
					found = found || strings.HasPrefix(e, tc.example)
				}
				if c.OK || c.Offenders != tc.offenders || !found {
					t.Errorf("%s: ok %v, %d offenders %q; want %d, with %q", c.Name, c.OK, c.Offenders, c.Examples, tc.offenders, tc.example)
				}
			})
		}
		for _, name := range []string{"every entry with USD values", "each (source, external id)", "every posting has an amount"} {
			if c := check(t, r, name); !c.OK {
				t.Errorf("%s: %+v, want OK", name, c)
			}
		}

		exec(`ALTER TABLE postings ENABLE TRIGGER USER`)
		r, err = b.store.Verify(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("ReenabledTriggersOK", func(t *testing.T) {
			if c := check(t, r, "the balance and append-only triggers"); !c.OK {
				t.Errorf("%+v, want OK", c)
			}
		})
		t.Run("PlantedEntryStillNamed", func(t *testing.T) {
			c := check(t, r, "every entry balances per currency")
			if c.OK || len(c.Examples) == 0 || !strings.HasPrefix(c.Examples[0], "invoice/tx-2 (entry 3)") {
				t.Errorf("%+v, want invoice/tx-2 named", c)
			}
		})
	})

	t.Run("DroppedTriggerReported", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if _, err := b.db.ExecContext(b.ctx, `DROP TRIGGER journal_entries_append_only ON journal_entries`); err != nil {
			t.Fatal(err)
		}
		r, err := b.store.Verify(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := check(t, r, "the balance and append-only triggers")
		if c.OK || c.Offenders != 1 || len(c.Examples) != 1 || c.Examples[0] != "journal_entries_append_only on journal_entries is missing" {
			t.Errorf("%+v, want the dropped trigger named", c)
		}
	})
}

// TestReportJSON pins the form `ledger verify --json` prints: snake_case, like every --json.
func TestReportJSON(t *testing.T) {
	t.Parallel()
	r := ledger.Report{Checks: []ledger.Check{
		{Name: "every entry balances per currency", OK: true, Examples: []string{}},
		{Name: "every posting's entry exists", Offenders: 1, Examples: []string{"entry 77 (missing): 1 posting(s) of a missing entry"}},
	}}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"checks":[{"name":"every entry balances per currency","ok":true,"offenders":0,"examples":[]},` +
		`{"name":"every posting's entry exists","ok":false,"offenders":1,"examples":["entry 77 (missing): 1 posting(s) of a missing entry"]}]}`
	if string(got) != want {
		t.Fatalf("JSON\n%s\nwant\n%s", got, want)
	}
}
