package exporters_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/templates"
)

// The statement period of the fixture: October 2026.
var (
	stmtFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	stmtTo   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

// The labels that a spreadsheet would run as formulas.
var stmtInjections = []string{`=HYPERLINK("http://x","y")`, "+1+1", "@SUM(A1)", "-2+3", "\t=1+1", "-2", "\r=1+1"}

// stmtFixture is a ledger with a bit of everything a statement must get right.
type stmtFixture struct {
	ctx   context.Context
	db    *sqlx.DB
	store *ledger.Store
}

func stmtDec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// stmtPayment is the entry of a paid invoice or wallet transaction.
func stmtPayment(source, id, cur string, at time.Time, amount, networkFee, serviceFee, label string) ledger.Entry {
	tx := &nordpay.Transaction{
		ID: nordpay.ID(id), SourceType: source,
		Source:   nordpay.Source{ID: nordpay.ID("src-" + id), Label: label, Address: "0xaddr" + id},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: cur}},
		Amount:   stmtDec(amount), NetworkFee: stmtDec(networkFee), ServiceFee: stmtDec(serviceFee),
		// USD at a rate of 0.9998, to 2 decimals as Nord PAY sends them.
		AmountUSD:     stmtDec(amount).Mul(stmtDec("0.9998")).Round(2),
		NetworkFeeUSD: stmtDec(networkFee).Mul(stmtDec("0.9998")).Round(2),
		ServiceFeeUSD: stmtDec(serviceFee).Mul(stmtDec("0.9998")).Round(2),
		TxHash:        "0xhash" + id, IsPaid: true, CreatedAt: nordpay.Time{Time: at},
	}
	return ledger.DefaultChart().TransactionEntry(tx, source)
}

// stmtSetup books the fixture: USDTBEP20 (6 decimals), ETH (18 decimals), XYZ (a currency
// Nord PAY never described: its precision is its amounts') and BTC (nothing in the period).
func stmtSetup(t *testing.T) *stmtFixture {
	t.Helper()
	f := &stmtFixture{ctx: context.Background(), db: dbtest.New(t)}
	f.store = ledger.NewStore(f.db, ledger.DefaultChart())
	if err := f.store.SaveCurrencies(f.ctx, []nordpay.Currency{
		{Name: "USDTBEP20", Decimals: 6}, {Name: "ETH", Decimals: 18}, {Name: "BTC", Decimals: 8},
	}); err != nil {
		t.Fatal(err)
	}
	chart := ledger.DefaultChart()
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	withdrawal := chart.WithdrawalEntry(ledger.Withdrawal{
		ExternalID: "batch-1/row-7", Currency: "USDTBEP20", Address: "0xpayee", Reference: "-2+3",
		Amount: stmtDec("50"), ServiceFee: stmtDec("1"), Identifier: "req-1", At: at("2026-10-05T08:00:00Z"),
	}) // no USD values
	manual := ledger.Entry{
		Source: ledger.SourceManual, ExternalID: "fix-1", OccurredAt: at("2026-10-20T12:00:00Z"),
		Description: "correction, \"quoted\"\nsecond line", Label: "\t=1+1",
		Postings: []ledger.Posting{
			{Account: "assets:nordpay:USDTBEP20", Type: ledger.Asset, Currency: "USDTBEP20", Amount: stmtDec("5")},
			{Account: "equity:adjustments:USDTBEP20", Type: ledger.Equity, Currency: "USDTBEP20", Amount: stmtDec("-5")},
		},
	}
	for _, e := range []ledger.Entry{
		stmtPayment("invoice", "before", "USDTBEP20", at("2026-09-30T23:59:59.999999Z"), "100", "0.5", "1", "old"),
		stmtPayment("invoice", "first", "USDTBEP20", at("2026-10-01T00:00:00Z"), "250.5", "0.5", "2.505", stmtInjections[0]),
		stmtPayment("wallet", "w1", "USDTBEP20", at("2026-10-02T10:11:12.345678Z"), "1.12345678", "0.00000001", "0.01", stmtInjections[1]),
		stmtPayment("invoice", "nofee", "USDTBEP20", at("2026-10-03T00:00:00Z"), "10", "0", "0", stmtInjections[2]),
		withdrawal,
		manual,
		stmtPayment("invoice", "minus", "USDTBEP20", at("2026-10-25T00:00:00Z"), "3", "0", "0.03", stmtInjections[5]),
		stmtPayment("wallet", "cr", "USDTBEP20", at("2026-10-26T00:00:00Z"), "4", "0", "0.04", stmtInjections[6]),
		stmtPayment("invoice", "atend", "USDTBEP20", at("2026-11-01T00:00:00Z"), "7", "0", "0", "not in October"),
		stmtPayment("invoice", "eth-before", "ETH", at("2026-09-01T00:00:00Z"), "1.000000000000000001", "0", "0", "eth old"),
		stmtPayment("invoice", "eth-big", "ETH", at("2026-10-10T00:00:00Z"), "12345.123456789012345678", "0.000000000000000001", "0.123456789012345678", "eth, big"),
		stmtPayment("wallet", "eth-half", "ETH", at("2026-10-11T00:00:00Z"), "0.5", "0", "0", "ünïcødé label"),
		stmtPayment("invoice", "xyz-1", "XYZ", at("2026-10-12T00:00:00Z"), "3.14159", "0.001", "0", "xyz"),
		stmtPayment("invoice", "btc-later", "BTC", at("2026-12-01T00:00:00Z"), "0.1", "0", "0", "btc"),
	} {
		if _, _, err := f.store.Post(f.ctx, e); err != nil {
			t.Fatalf("booking %s/%s: %v", e.Source, e.ExternalID, err)
		}
	}
	return f
}

// stmtBulk books n invoice payments in USDTBEP20 in October through a batch (fast), with
// labels that repeat and amounts that do not.
func stmtBulk(t *testing.T, n int) *stmtFixture {
	t.Helper()
	f := &stmtFixture{ctx: context.Background(), db: dbtest.New(t)}
	f.store = ledger.NewStore(f.db, ledger.DefaultChart())
	if err := f.store.SaveCurrencies(f.ctx, []nordpay.Currency{{Name: "USDTBEP20", Decimals: 6}}); err != nil {
		t.Fatal(err)
	}
	b, err := f.store.BeginBatch(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback() //nolint:errcheck // a no-op after Commit
	for i := range n {
		amount := decimal.New(int64(1_000_000+i*7919%900_000), -4).String()
		e := stmtPayment("invoice", "bulk-"+strconv.Itoa(i), "USDTBEP20", stmtFrom.Add(time.Duration(i)*time.Minute),
			amount, "0.01", "0.5", "order "+strconv.Itoa(i%37))
		if err := b.Add(f.ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// stmtWant is what the ledger says a statement line must show, read with SQL of its own.
type stmtWant struct {
	source, externalID, txHash, label, address, ref, description string
	at, bookedAt                                                 time.Time
	gross, networkFee, serviceFee, net                           decimal.Decimal
	usd                                                          [4]decimal.NullDecimal // gross, network fee, service fee, net
}

// stmtWants reads the lines of a currency from the ledger, in the statement's order.
func (f *stmtFixture) stmtWants(t *testing.T, cur string) []*stmtWant {
	t.Helper()
	rows, err := f.db.QueryContext(f.ctx, `
		SELECT e.id, e.source, e.external_id, e.occurred_at, e.booked_at, e.tx_hash, e.label, e.address,
		       e.source_ref, e.description, a.name, p.amount::text, coalesce(p.amount_usd::text, '')
		FROM journal_entries e
		JOIN postings p ON p.entry_id = e.id
		JOIN accounts a ON a.id = p.account_id
		WHERE p.currency = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
		ORDER BY e.occurred_at, e.id, p.line`, cur, stmtFrom, stmtTo)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*stmtWant
	var last int64 = -1
	var usdMissing [4]bool
	finish := func() {
		if len(out) == 0 {
			return
		}
		w := out[len(out)-1]
		for i := range w.usd {
			if usdMissing[i] {
				w.usd[i] = decimal.NullDecimal{}
			}
		}
		usdMissing = [4]bool{}
	}
	for rows.Next() {
		var id int64
		var account, amount, usd string
		w := &stmtWant{}
		if err := rows.Scan(&id, &w.source, &w.externalID, &w.at, &w.bookedAt, &w.txHash, &w.label, &w.address,
			&w.ref, &w.description, &account, &amount, &usd); err != nil {
			t.Fatal(err)
		}
		if id != last {
			finish()
			for i := range w.usd {
				w.usd[i] = decimal.NullDecimal{Valid: true}
			}
			out = append(out, w)
			last = id
		}
		w = out[len(out)-1]
		role := 0 // gross: the counterpart, negated
		switch {
		case strings.HasPrefix(account, "assets:nordpay:"):
			role = 3
		case strings.HasPrefix(account, "expenses:fees:network:"):
			role = 1
		case strings.HasPrefix(account, "expenses:fees:service:"), strings.HasPrefix(account, "expenses:fees:withdraw:"):
			role = 2
		}
		sign := decimal.NewFromInt(1)
		if role == 0 {
			sign = sign.Neg()
		}
		amt := stmtDec(amount).Mul(sign)
		switch role {
		case 0:
			w.gross = w.gross.Add(amt)
		case 1:
			w.networkFee = w.networkFee.Add(amt)
		case 2:
			w.serviceFee = w.serviceFee.Add(amt)
		case 3:
			w.net = w.net.Add(amt)
		}
		if usd == "" {
			usdMissing[role] = true
		} else {
			w.usd[role].Decimal = w.usd[role].Decimal.Add(stmtDec(usd).Mul(sign))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	finish()
	return out
}

// balance returns the ledger's balance of the currency's assets account at a time, by the
// ledger's own Balances.
func (f *stmtFixture) balance(t *testing.T, cur string, at time.Time) decimal.Decimal {
	t.Helper()
	bs, err := f.store.Balances(f.ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Account == "assets:nordpay:"+cur {
			return b.Balance
		}
	}
	return decimal.Zero
}

// stmtExport writes a statement to dir/name and returns the files written.
func (f *stmtFixture) export(t *testing.T, format exporters.StatementFormat, path string, opts exporters.StatementOptions) (*exporters.StatementResult, []string, error) {
	t.Helper()
	if opts.From.IsZero() {
		opts.From, opts.To = stmtFrom, stmtTo
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC) }
	}
	files := exporters.NewAtomicFiles(path)
	res, err := exporters.WriteStatement(f.ctx, f.store, format, files, opts)
	if err != nil {
		if aerr := files.Abort(); aerr != nil {
			t.Fatal(aerr)
		}
		return nil, nil, err
	}
	if err := files.Commit(); err != nil {
		t.Fatal(err)
	}
	return res, files.Paths(), nil
}

// stmtRow is one parsed row of a statement, by header.
type stmtRow map[string]string

// checkAmount checks an amount cell: the exact value, written with the currency's
// decimals, or more when the value has more (never rounded).
func checkAmount(t *testing.T, where, got string, want decimal.Decimal, places int) {
	t.Helper()
	d, err := decimal.NewFromString(got)
	if err != nil {
		t.Errorf("%s: %q is not a decimal", where, got)
		return
	}
	if !d.Equal(want) {
		t.Errorf("%s: %s, want %s", where, got, want)
	}
	wantPlaces := places
	if s := want.String(); strings.Contains(s, ".") { // String drops trailing zeros
		wantPlaces = max(places, len(s)-strings.IndexByte(s, '.')-1)
	}
	gotPlaces := 0
	if i := strings.IndexByte(got, '.'); i >= 0 {
		gotPlaces = len(got) - i - 1
	}
	if gotPlaces != wantPlaces || strings.ContainsAny(got, ",eE ") {
		t.Errorf("%s: %q has %d decimals, want %d and no separators or exponent", where, got, gotPlaces, wantPlaces)
	}
}

// checkStatement compares parsed statement rows of one currency (the opening row, the
// lines, the total and closing rows, in any order of those groups) with the ledger.
func (f *stmtFixture) checkStatement(t *testing.T, cur string, places int, opening, total, closing stmtRow, lines []stmtRow, parseTime func(string) time.Time) {
	t.Helper()
	wants := f.stmtWants(t, cur)
	if len(lines) != len(wants) {
		t.Fatalf("%s: %d lines, the ledger has %d", cur, len(lines), len(wants))
	}
	open, close := f.balance(t, cur, stmtFrom), f.balance(t, cur, stmtTo)
	checkAmount(t, cur+" opening", opening["Balance"], open, places)
	checkAmount(t, cur+" closing", closing["Balance"], close, places)
	if !parseTime(opening["Time (UTC)"]).Equal(stmtFrom) || !parseTime(closing["Time (UTC)"]).Equal(stmtTo) {
		t.Errorf("%s: opening at %q, closing at %q", cur, opening["Time (UTC)"], closing["Time (UTC)"])
	}
	balance := open
	var sums [4]decimal.Decimal
	var usdSums [4]decimal.Decimal
	usdOK := [4]bool{true, true, true, true}
	for i, w := range wants {
		l := lines[i]
		where := cur + " line " + w.source + "/" + w.externalID
		if l["Row"] != "line" || l["Currency"] != cur || l["Kind"] != w.source || l["External ID"] != exporters.Neutralise(w.externalID) {
			t.Errorf("%s: row %v", where, l)
		}
		for header, want := range map[string]string{
			"Tx hash": w.txHash, "Label": w.label, "Address": w.address, "Reference": w.ref, "Description": w.description,
		} {
			if l[header] != exporters.Neutralise(want) {
				t.Errorf("%s: %s = %q, want %q", where, header, l[header], exporters.Neutralise(want))
			}
		}
		if got := parseTime(l["Time (UTC)"]); !got.Equal(w.at) {
			t.Errorf("%s: time %q (%s), want %s", where, l["Time (UTC)"], got, w.at)
		}
		if got := parseTime(l["Booked at (UTC)"]); !got.Equal(w.bookedAt) {
			t.Errorf("%s: booked at %q, want %s", where, l["Booked at (UTC)"], w.bookedAt)
		}
		balance = balance.Add(w.net)
		for j, c := range []struct {
			header string
			want   decimal.Decimal
		}{{"Gross", w.gross}, {"Network fee", w.networkFee}, {"Service fee", w.serviceFee}, {"Net", w.net}, {"Balance", balance}} {
			checkAmount(t, where+" "+c.header, l[c.header], c.want, places)
			if j < 4 {
				sums[j] = sums[j].Add(c.want)
			}
		}
		for j, header := range []string{"Gross USD", "Network fee USD", "Service fee USD", "Net USD"} {
			if !w.usd[j].Valid {
				usdOK[j] = false
				if l[header] != "" {
					t.Errorf("%s: %s = %q, the ledger has no USD value", where, header, l[header])
				}
				continue
			}
			checkAmount(t, where+" "+header, l[header], w.usd[j].Decimal, 2)
			usdSums[j] = usdSums[j].Add(w.usd[j].Decimal)
		}
	}
	if !balance.Equal(close) {
		t.Fatalf("%s: the ledger itself does not add up: %s + lines = %s, closing %s", cur, open, balance, close)
	}
	for j, header := range []string{"Gross", "Network fee", "Service fee", "Net"} {
		checkAmount(t, cur+" total "+header, total[header], sums[j], places)
		h := header + " USD"
		if !usdOK[j] {
			if total[h] != "" {
				t.Errorf("%s total %s = %q, but a line has no USD value", cur, h, total[h])
			}
			continue
		}
		checkAmount(t, cur+" total "+h, total[h], usdSums[j], 2)
	}
}

// groupRows splits the rows of a currency into its opening, total and closing rows and its lines.
func groupRows(t *testing.T, rows []stmtRow) (opening, total, closing stmtRow, lines []stmtRow) {
	t.Helper()
	for _, r := range rows {
		switch r["Row"] {
		case "opening":
			opening = r
		case "total":
			total = r
		case "closing":
			closing = r
		case "line":
			lines = append(lines, r)
		default:
			t.Fatalf("a row of kind %q: %v", r["Row"], r)
		}
	}
	if opening == nil || total == nil || closing == nil {
		t.Fatalf("the opening, total or closing row is missing")
	}
	return opening, total, closing, lines
}

func TestStatementChecksItAddsUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		breaks []string
		says   string
	}{
		{
			// A posting slipped in by hand (triggers off): the entry's postings no longer sum
			// to zero, so its gross, fees and net disagree.
			"UnbalancedEntry", []string{
				`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
				 SELECT e.id, 99, a.id, 'USDTBEP20', 0.000001, e.occurred_at
				 FROM journal_entries e, accounts a
				 WHERE e.external_id = 'nofee' AND a.name = 'assets:nordpay:USDTBEP20'`,
			}, "some entry does not balance",
		},
		{
			// Two balanced postings dated in October on an entry of September: the balances
			// (by the postings' time) see them, the lines (by the entry's time) do not.
			"PostingsOutsideTheirEntry", []string{
				`INSERT INTO postings (entry_id, line, account_id, currency, amount, occurred_at)
				 SELECT e.id, 90 + row_number() OVER (), a.id, 'USDTBEP20', CASE WHEN a.type = 'asset' THEN 3 ELSE -3 END, '2026-10-15T00:00:00Z'
				 FROM journal_entries e, accounts a
				 WHERE e.external_id = 'before' AND a.name IN ('assets:nordpay:USDTBEP20', 'income:invoices:USDTBEP20')`,
			}, "but the ledger's balance at 2026-11-01T00:00:00Z is",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := stmtSetup(t)
			if _, err := f.db.ExecContext(f.ctx, `ALTER TABLE postings DISABLE TRIGGER USER`); err != nil {
				t.Fatal(err)
			}
			for _, q := range tc.breaks {
				if _, err := f.db.ExecContext(f.ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.db.ExecContext(f.ctx, `ALTER TABLE postings ENABLE TRIGGER USER`); err != nil {
				t.Fatal(err)
			}
			// Every currency (the sorted query) and one (the streamed query), both formats.
			for _, cur := range []string{"", "USDTBEP20"} {
				for _, format := range []exporters.StatementFormat{exporters.StatementCSV, exporters.StatementXLSX} {
					dir := t.TempDir()
					_, _, err := f.export(t, format, filepath.Join(dir, "out."+string(format)), exporters.StatementOptions{Currency: cur})
					if !errors.Is(err, exporters.ErrStatementMismatch) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "USDTBEP20") {
						t.Fatalf("%s %q: err = %v; want ErrStatementMismatch saying %q", format, cur, err, tc.says)
					}
					if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
						t.Fatalf("%s: the directory holds %v (%v); a failed statement leaves nothing", format, entries, err)
					}
				}
			}
		})
	}
}

func TestStatementOptions(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	xero, err := templates.Load("xero", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		format exporters.StatementFormat
		opts   exporters.StatementOptions
		says   string
	}{
		{"EmptyPeriod", exporters.StatementCSV, exporters.StatementOptions{From: stmtTo, To: stmtTo}, "start before its end"},
		{"UnknownCurrency", exporters.StatementCSV, exporters.StatementOptions{Currency: "DOGE"}, `no account in currency "DOGE"`},
		{"TemplateForCSVOnly", exporters.StatementXLSX, exporters.StatementOptions{Template: xero}, "template xero (embedded xero.yaml) is for csv only"},
		{"UnknownFormat", "pdf", exporters.StatementOptions{}, `format "pdf"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := f.export(t, tc.format, filepath.Join(t.TempDir(), "out"), tc.opts)
			if !errors.Is(err, exporters.ErrStatementOptions) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v; want ErrStatementOptions saying %q", err, tc.says)
			}
		})
	}
	t.Run("OneCurrency", func(t *testing.T) {
		t.Parallel()
		res, _, err := f.export(t, exporters.StatementCSV, filepath.Join(t.TempDir(), "btc.csv"), exporters.StatementOptions{Currency: "BTC"})
		if err != nil {
			t.Fatal(err)
		}
		// BTC moved only after October: named, it gets its (empty) section.
		if len(res.Currencies) != 1 || res.Currencies[0].Currency != "BTC" || res.Lines != 0 || !res.Currencies[0].Closing.IsZero() {
			t.Fatalf("result %+v", res)
		}
	})
}

func TestStatementResult(t *testing.T) {
	t.Parallel()
	f := stmtSetup(t)
	res, _, err := f.export(t, exporters.StatementCSV, filepath.Join(t.TempDir(), "out.csv"), exporters.StatementOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, c := range res.Currencies {
		codes = append(codes, c.Currency)
	}
	// BTC has no balance and no movement in October: left out.
	if strings.Join(codes, ",") != "ETH,USDTBEP20,XYZ" || !sort.StringsAreSorted(codes) {
		t.Fatalf("currencies %v", codes)
	}
	for _, c := range res.Currencies {
		if want := f.balance(t, c.Currency, stmtTo); !c.Closing.Equal(want) || !c.Opening.Add(c.Net).Equal(want) {
			t.Errorf("%s: opening %s + net %s, closing %s; the ledger says %s", c.Currency, c.Opening, c.Net, c.Closing, want)
		}
		if want := len(f.stmtWants(t, c.Currency)); c.Lines != int64(want) {
			t.Errorf("%s: %d lines, want %d", c.Currency, c.Lines, want)
		}
	}
	// The withdrawal has no USD values: the USD sums it takes part in are unknown.
	usdt := res.Currencies[1]
	if usdt.Precision != 6 || usdt.NetUSD.Valid || usdt.GrossUSD.Valid || usdt.ServiceFeesUSD.Valid || !usdt.NetworkFeesUSD.Valid {
		t.Errorf("USDTBEP20: %+v", usdt)
	}
	if usdt.NetUSD.Valid {
		t.Errorf("USDTBEP20: a line has no USD value, yet the net USD sum is %s", usdt.NetUSD.Decimal)
	}
	if xyz := res.Currencies[2]; xyz.Precision != 5 {
		t.Errorf("XYZ: precision %d, want 5 (its amounts' most decimals)", xyz.Precision)
	}
}
