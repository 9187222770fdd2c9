package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
)

// bundle is what a store test needs: a fresh migrated database of its own and a Store on it.
type bundle struct {
	ctx   context.Context
	db    *sqlx.DB
	store *ledger.Store
}

func setup(t *testing.T) bundle {
	t.Helper()
	conn := dbtest.New(t)
	return bundle{ctx: context.Background(), db: conn, store: ledger.NewStore(conn, ledger.DefaultChart())}
}

var day = time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// payment is the entry of a paid invoice transaction of gross amount (USDTBEP20), with a
// network fee of 0.5 and a service fee of 1% (four postings), booked by the default chart.
func payment(id string, at time.Time, amount string) ledger.Entry {
	gross := dec(amount)
	service := gross.Shift(-2)
	tx := &nordpay.Transaction{
		ID:            nordpay.ID(id),
		SourceType:    nordpay.SourceInvoice,
		Source:        nordpay.Source{ID: "inv-1", Label: "order " + id},
		Currency:      nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTBEP20"}},
		Amount:        gross,
		AmountUSD:     gross,
		NetworkFee:    dec("0.5"),
		NetworkFeeUSD: dec("0.5"),
		ServiceFee:    service,
		ServiceFeeUSD: service,
		TxHash:        "0x" + id,
		IsPaid:        true,
		CreatedAt:     nordpay.Time{Time: at},
	}
	return ledger.DefaultChart().TransactionEntry(tx, ledger.SourceInvoice)
}

// count returns the number of rows of a table.
func (b bundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := b.db.GetContext(b.ctx, &n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

// balances returns every account's balance as "name=amount" for comparisons.
func (b bundle) balances(t *testing.T, at time.Time) map[string]string {
	t.Helper()
	bs, err := b.store.Balances(b.ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, x := range bs {
		out[x.Account] = x.Balance.String()
	}
	return out
}

func TestAccountID(t *testing.T) {
	t.Parallel()

	t.Run("CreatesOnceAndRemembers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id1, err := b.store.AccountID(b.ctx, "assets:nordpay:BTC", ledger.Asset, "BTC")
		if err != nil {
			t.Fatal(err)
		}
		// Another store (another process) finds the same account.
		id2, err := ledger.NewStore(b.db, ledger.DefaultChart()).AccountID(b.ctx, "assets:nordpay:BTC", ledger.Asset, "BTC")
		if err != nil {
			t.Fatal(err)
		}
		if id1 != id2 || b.count(t, "accounts") != 1 {
			t.Errorf("ids %d and %d, %d accounts; want one account", id1, id2, b.count(t, "accounts"))
		}
	})

	t.Run("ConcurrentCallersAgree", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ids := make([]int64, 8)
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				s := ledger.NewStore(b.db, ledger.DefaultChart())
				ids[i], errs[i] = s.AccountID(b.ctx, "income:wallets:ETH", ledger.Income, "ETH")
			})
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Errorf("caller %d: id %d, err %v; want %d", i, ids[i], errs[i], ids[0])
			}
		}
	})

	for _, tc := range []struct {
		outcome  string
		typ      ledger.AccountType
		currency string
	}{
		{"ErrConflictOtherType", ledger.Expense, "BTC"},
		{"ErrConflictOtherCurrency", ledger.Asset, "ETH"},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if _, err := b.store.AccountID(b.ctx, "assets:nordpay:BTC", ledger.Asset, "BTC"); err != nil {
				t.Fatal(err)
			}
			for _, s := range []*ledger.Store{b.store, ledger.NewStore(b.db, ledger.DefaultChart())} { // cached and not
				_, err := s.AccountID(b.ctx, "assets:nordpay:BTC", tc.typ, tc.currency)
				if !errors.Is(err, ledger.ErrConflict) {
					t.Errorf("AccountID = %v, want ErrConflict", err)
				}
			}
		})
	}

	t.Run("ErrInvalidType", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if _, err := b.store.AccountID(b.ctx, "x:BTC", "bogus", "BTC"); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("AccountID = %v, want ErrInvalid", err)
		}
	})
}

func TestPost(t *testing.T) {
	t.Parallel()

	t.Run("SecondPostBooksNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		e := payment("tx-1", day, "100")
		id, booked, err := b.store.Post(b.ctx, e)
		if err != nil || !booked {
			t.Fatalf("first Post = %d, %v, %v; want booked", id, booked, err)
		}
		before := b.balances(t, time.Time{})
		id2, booked, err := b.store.Post(b.ctx, e)
		if err != nil || booked || id2 != id {
			t.Fatalf("second Post = %d, %v, %v; want %d, not booked", id2, booked, err, id)
		}
		if n := b.count(t, "journal_entries"); n != 1 {
			t.Errorf("%d entries, want 1", n)
		}
		if n := b.count(t, "postings"); n != 4 {
			t.Errorf("%d postings, want 4", n)
		}
		if after := b.balances(t, time.Time{}); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("balances moved: %v, then %v", before, after)
		}
	})

	t.Run("BookedWithItsColumns", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		e := payment("tx-2", day.Add(90*time.Minute), "10.000000000000000001")
		if _, _, err := b.store.Post(b.ctx, e); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Source, ExternalID, TxHash, Label string
			OccurredAt                        time.Time
			Lines                             string
		}
		err := b.db.QueryRowContext(b.ctx, `
			SELECT e.source, e.external_id, e.tx_hash, e.label, e.occurred_at,
			       string_agg(p.line || ':' || a.name || '=' || p.amount || '/' || p.amount_usd, ' ' ORDER BY p.line)
			FROM journal_entries e
			JOIN postings p ON p.entry_id = e.id
			JOIN accounts a ON a.id = p.account_id
			GROUP BY e.id`).Scan(&got.Source, &got.ExternalID, &got.TxHash, &got.Label, &got.OccurredAt, &got.Lines)
		if err != nil {
			t.Fatal(err)
		}
		want := "1:assets:nordpay:USDTBEP20=9.40000000000000000099/9.40000000000000000099 " +
			"2:expenses:fees:network:USDTBEP20=0.5/0.5 " +
			"3:expenses:fees:service:USDTBEP20=0.10000000000000000001/0.10000000000000000001 " +
			"4:income:invoices:USDTBEP20=-10.000000000000000001/-10.000000000000000001"
		if got.Lines != want {
			t.Errorf("postings\n%s\nwant\n%s", got.Lines, want)
		}
		if got.Source != "invoice" || got.ExternalID != "tx-2" || got.TxHash != "0xtx-2" || got.Label != "order tx-2" ||
			!got.OccurredAt.Equal(day.Add(90*time.Minute)) {
			t.Errorf("entry %+v", got)
		}
	})

	t.Run("ErrUnbalancedBeforeTheDatabase", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		e := payment("tx-3", day, "100")
		e.Postings[0].Amount = e.Postings[0].Amount.Add(dec("0.01"))
		_, _, err := b.store.Post(b.ctx, e)
		if !errors.Is(err, ledger.ErrUnbalanced) {
			t.Fatalf("Post = %v, want ErrUnbalanced", err)
		}
		if n := b.count(t, "accounts"); n != 0 {
			t.Errorf("%d accounts created for a rejected entry", n)
		}
	})

	t.Run("PostTxRolledBackWithTheCaller", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tx, err := b.db.BeginTxx(b.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, booked, err := b.store.PostTx(b.ctx, tx, payment("tx-4", day, "5")); err != nil || !booked {
			t.Fatalf("PostTx = %v, %v", booked, err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := b.count(t, "journal_entries") + b.count(t, "postings"); n != 0 {
			t.Errorf("%d rows left after rollback", n)
		}
	})
}

func TestBalances(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, at := range []time.Time{day, day.Add(time.Hour), day.Add(2 * time.Hour)} {
		if _, _, err := b.store.Post(b.ctx, payment(fmt.Sprint("tx-", i), at, "100")); err != nil {
			t.Fatal(err)
		}
	}
	// An account with no postings is listed, at zero.
	if _, err := b.store.AccountID(b.ctx, "assets:nordpay:BTC", ledger.Asset, "BTC"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		outcome string
		at      time.Time
		assets  string // of assets:nordpay:USDTBEP20; each payment nets 98.5
	}{
		{"BeforeTheFirstIsZero", day, "0"},
		{"AtAnEntryExcludesIt", day.Add(time.Hour), "98.5"},
		{"JustAfterIncludesIt", day.Add(time.Hour + time.Nanosecond*1000), "197"},
		{"ZeroTimeIsEverything", time.Time{}, "295.5"},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			bs, err := b.store.Balances(b.ctx, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, x := range bs {
				names = append(names, x.Account)
				if x.Account == "assets:nordpay:USDTBEP20" && !x.Balance.Equal(dec(tc.assets)) {
					t.Errorf("assets balance %s, want %s", x.Balance, tc.assets)
				}
				if x.Account == "assets:nordpay:BTC" && (!x.Balance.IsZero() || x.Currency != "BTC" || x.Type != ledger.Asset) {
					t.Errorf("unused account %+v, want a zero BTC asset", x)
				}
			}
			want := "[assets:nordpay:BTC assets:nordpay:USDTBEP20 expenses:fees:network:USDTBEP20 expenses:fees:service:USDTBEP20 income:invoices:USDTBEP20]"
			if fmt.Sprint(names) != want {
				t.Errorf("accounts %v, want %s", names, want)
			}
		})
	}

	t.Run("BalancesSumToZero", func(t *testing.T) {
		t.Parallel()
		bs, err := b.store.Balances(b.ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		sum, usd := decimal.Zero, decimal.Zero
		for _, x := range bs {
			sum, usd = sum.Add(x.Balance), usd.Add(x.BalanceUSD)
		}
		if !sum.IsZero() || !usd.IsZero() {
			t.Errorf("balances sum to %s (USD %s), want 0", sum, usd)
		}
	})
}

func TestCurrencies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	no := false
	cs := []nordpay.Currency{
		{Name: "USDTBEP20", Token: "USDT", Network: "BEP20", Decimals: 18, NetworkFee: dec("0.000000000000000001"),
			MinWithdraw: dec("10.5"), Rate: decimal.NullDecimal{Decimal: dec("1.0001"), Valid: true}},
		{Name: "BTC", Token: "BTC", Network: "BTC", Decimals: 8, IsWithdrawEnabled: &no},
	}
	if err := b.store.SaveCurrencies(b.ctx, cs); err != nil {
		t.Fatal(err)
	}
	cs[1].Decimals = 9 // a second save replaces
	if err := b.store.SaveCurrencies(b.ctx, cs[1:]); err != nil {
		t.Fatal(err)
	}
	got, err := b.store.Currencies(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	usdt, btc := got["USDTBEP20"], got["BTC"]
	if len(got) != 2 || usdt.NetworkFee.String() != "0.000000000000000001" || !usdt.MinWithdraw.Equal(dec("10.5")) ||
		!usdt.Rate.Valid || !usdt.Rate.Decimal.Equal(dec("1.0001")) || !usdt.WithdrawEnabled() {
		t.Errorf("USDTBEP20 = %+v", usdt)
	}
	if btc.Decimals != 9 || btc.WithdrawEnabled() || !btc.DepositEnabled() || btc.Rate.Valid {
		t.Errorf("BTC = %+v", btc)
	}
}

func TestSyncRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, err := b.store.StartSyncRun(b.ctx, "invoice", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	err = b.store.FinishSyncRun(b.ctx, ledger.SyncRun{ID: id, Status: ledger.RunFailed, Fetched: 10, Booked: 7,
		AlreadyBooked: 1, Unpaid: 1, Quarantined: 1, Error: "nordpay: server error"})
	if err != nil {
		t.Fatal(err)
	}
	var row struct {
		Status, Error string
		Booked        int64
		Finished      bool
		From          time.Time
	}
	err = b.db.QueryRowContext(b.ctx, `SELECT status, error, booked, finished_at IS NOT NULL, from_time FROM sync_runs WHERE id = $1`, id).
		Scan(&row.Status, &row.Error, &row.Booked, &row.Finished, &row.From)
	if err != nil {
		t.Fatal(err)
	}
	if row.Status != "failed" || row.Error != "nordpay: server error" || row.Booked != 7 || !row.Finished || !row.From.Equal(day) {
		t.Errorf("run %+v", row)
	}

	t.Run("ErrUnknownRun", func(t *testing.T) {
		if err := b.store.FinishSyncRun(b.ctx, ledger.SyncRun{ID: id + 100, Status: ledger.RunOK}); err == nil {
			t.Error("finishing a run that does not exist succeeded")
		}
	})
	t.Run("ErrStillRunning", func(t *testing.T) {
		if err := b.store.FinishSyncRun(b.ctx, ledger.SyncRun{ID: id, Status: ledger.RunRunning}); err == nil {
			t.Error("finishing a run as running succeeded")
		}
	})
}
