package payouts_test

// The USD values booked with a paid batch: Nord PAY's own valuation from the confirmed quote,
// and, where the quote has none, no USD value and the payout booked all the same.

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// bookedRow is one withdrawal entry as booked: its postings' amounts and USD values by role.
type bookedRow struct {
	ExternalID string
	Identifier string
	Assets     decimal.Decimal
	AssetsUSD  decimal.NullDecimal
	Payee      decimal.Decimal
	PayeeUSD   decimal.NullDecimal
	Fee        decimal.Decimal
	FeeUSD     decimal.NullDecimal
	Postings   int
}

// bookedRows reads every withdrawal entry from the ledger, by external id.
func (b *bundle) bookedRows(t *testing.T) map[string]*bookedRow {
	t.Helper()
	rows, err := b.db.Query(`
		SELECT e.external_id, e.source_ref, a.name, p.amount::text, p.amount_usd::text
		FROM journal_entries e
		JOIN postings p ON p.entry_id = e.id
		JOIN accounts a ON a.id = p.account_id
		WHERE e.source = 'withdrawal'
		ORDER BY e.external_id, p.line`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]*bookedRow{}
	for rows.Next() {
		var ext, ref, account, amount string
		var usd *string
		if err := rows.Scan(&ext, &ref, &account, &amount, &usd); err != nil {
			t.Fatal(err)
		}
		r := out[ext]
		if r == nil {
			r = &bookedRow{ExternalID: ext, Identifier: ref}
			out[ext] = r
		}
		r.Postings++
		v := d(amount)
		var u decimal.NullDecimal
		if usd != nil {
			u = decimal.NewNullDecimal(d(*usd))
		}
		switch account[:3] {
		case "ass":
			r.Assets, r.AssetsUSD = v, u
		case "pay":
			r.Payee, r.PayeeUSD = v, u
		case "exp":
			r.Fee, r.FeeUSD = v, u
		default:
			t.Fatalf("withdrawal posting on %s", account)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// withRates sets the sandbox's token-to-USDT rates, so that USD values differ from amounts.
func withRates(rates map[string]string) func(*setupOptions) {
	return func(o *setupOptions) {
		o.sandbox = func(so *sandbox.Options) {
			for i, c := range so.Currencies {
				if r, ok := rates[c.Name]; ok {
					so.Currencies[i].Rate = decimal.NewNullDecimal(d(r))
				}
			}
		}
	}
}

func TestRunBooksQuotedUSDValues(t *testing.T) {
	t.Parallel()
	rates := map[string]string{"USDTTRC20": "0.9997", "USDTBEP20": "1.0013"}
	b := setup(t, withRates(rates))
	batch, rs := b.approved(t)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	st := b.status(t, batch.ID)
	if st.State != payouts.BatchPaid {
		t.Fatalf("batch %s: %s", st.State, chunkStates(st))
	}
	b.paidExactlyOnce(t, rs)
	b.ledgerMatchesSandbox(t)

	booked := b.bookedRows(t)
	if len(booked) != len(rs) {
		t.Fatalf("%d rows booked, want %d", len(booked), len(rs))
	}
	byRef := map[string]payouts.Row{}
	for _, r := range rs {
		byRef[batch.ID+"/"+r.Reference] = r
	}
	for _, c := range st.Chunks {
		q := c.Quote
		var assetsUSD, feesUSD decimal.Decimal
		for _, br := range booked {
			if br.Identifier != q.Identifier {
				continue
			}
			row := byRef[br.ExternalID]
			if !br.AssetsUSD.Valid || !br.PayeeUSD.Valid || !br.FeeUSD.Valid || br.Postings != 3 {
				t.Fatalf("%s: USD values missing: %+v", br.ExternalID, br)
			}
			// Each posting's USD value goes with its amount: the entry balances in USD, the
			// fee is the row's quoted service_fee_usd, and the amount is valued at the rate
			// Nord PAY used (to the cent: the quote's total is shared among its rows).
			if !br.AssetsUSD.Decimal.Add(br.PayeeUSD.Decimal).Add(br.FeeUSD.Decimal).IsZero() {
				t.Errorf("%s: USD values do not balance: %+v", br.ExternalID, br)
			}
			var quoted *nordpay.QuotedPayee
			for i := range q.AddressesAndAmounts {
				if qr := &q.AddressesAndAmounts[i]; qr.Address == row.Address && qr.Amount.Equal(row.Amount) {
					quoted = qr
				}
			}
			if quoted == nil {
				t.Fatalf("%s: row not in quote %s", br.ExternalID, q.Identifier)
			}
			if !br.FeeUSD.Decimal.Equal(quoted.ServiceFeeUSD) || !br.Fee.Equal(quoted.ServiceFee) {
				t.Errorf("%s: fee %s (USD %s), quoted %s (USD %s)", br.ExternalID, br.Fee, br.FeeUSD.Decimal, quoted.ServiceFee, quoted.ServiceFeeUSD)
			}
			atRate := row.Amount.Mul(d(rates[c.Currency]))
			if diff := br.AssetsUSD.Decimal.Neg().Sub(atRate).Abs(); diff.GreaterThan(d("0.01")) {
				t.Errorf("%s: %s %s booked as %s USD, %s at the rate", br.ExternalID, row.Amount, c.Currency, br.AssetsUSD.Decimal.Neg(), atRate)
			}
			if v := br.AssetsUSD.Decimal; !v.Equal(v.Round(2)) {
				t.Errorf("%s: USD value %s is not in cents like the quote's", br.ExternalID, br.AssetsUSD.Decimal)
			}
			assetsUSD = assetsUSD.Add(br.AssetsUSD.Decimal)
			feesUSD = feesUSD.Add(br.FeeUSD.Decimal)
		}
		// The rows of a chunk add up to the quote's totals exactly.
		if !assetsUSD.Neg().Equal(q.AmountUSD) || !feesUSD.Equal(q.ServiceFeeUSD) {
			t.Errorf("chunk %d: rows book %s USD and fees %s USD; the quote says %s and %s",
				c.N, assetsUSD.Neg(), feesUSD, q.AmountUSD, q.ServiceFeeUSD)
		}
	}

	// The ledger's own check of USD balance passes, and the payouts accounts carry USD.
	var missing int
	if err := b.db.Get(&missing, `
		SELECT count(*) FROM postings p JOIN journal_entries e ON e.id = p.entry_id
		WHERE e.source = 'withdrawal' AND p.amount_usd IS NULL`); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Fatalf("%d withdrawal postings without a USD value", missing)
	}
}

// A quote without amount_usd (or with rows whose service_fee_usd is missing) never holds a
// payout back: the rows are paid and booked, with the USD values the quote allows.
func TestRunBooksWithoutQuotedUSD(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		rewrite func(m map[string]any)
		// wantUSD says whether the booked rows have USD values.
		wantUSD bool
	}{
		{"NoAmountUSD", func(m map[string]any) { delete(m, "amount_usd") }, false},
		{"NullAmountUSD", func(m map[string]any) { m["amount_usd"] = nil }, false},
		{"RowFeesUSDMissing", func(m map[string]any) {
			for _, r := range m["addresses_and_amounts"].([]any) {
				delete(r.(map[string]any), "service_fee_usd")
			}
		}, true},
		{"RowsOwnAmountUSD", func(m map[string]any) {
			for _, r := range m["addresses_and_amounts"].([]any) {
				row := r.(map[string]any)
				row["amount_usd"] = json.Number(d(string(row["amount"].(json.Number))).Add(d("0.5")).String())
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withRates(map[string]string{"USDTTRC20": "0.9997", "USDTBEP20": "1.0013"}),
				func(o *setupOptions) { o.handler = tamper(routeRequest, tc.rewrite) })
			batch, rs := b.approved(t)
			if _, err := b.run(t, batch.ID); err != nil {
				t.Fatal(err)
			}
			if st := b.status(t, batch.ID); st.State != payouts.BatchPaid {
				t.Fatalf("batch %s: %s", st.State, chunkStates(st))
			}
			b.paidExactlyOnce(t, rs)
			b.ledgerMatchesSandbox(t)
			byRef := map[string]payouts.Row{}
			for _, r := range rs {
				byRef[batch.ID+"/"+r.Reference] = r
			}
			for _, br := range b.bookedRows(t) {
				known := br.AssetsUSD.Valid && br.PayeeUSD.Valid && br.FeeUSD.Valid
				anyKnown := br.AssetsUSD.Valid || br.PayeeUSD.Valid || br.FeeUSD.Valid
				switch {
				case tc.wantUSD && !known:
					t.Errorf("%s: USD values missing: %+v", br.ExternalID, br)
				case !tc.wantUSD && anyKnown:
					t.Errorf("%s: USD values booked from a quote without them: %+v", br.ExternalID, br)
				case known && !br.AssetsUSD.Decimal.Add(br.PayeeUSD.Decimal).Add(br.FeeUSD.Decimal).IsZero():
					t.Errorf("%s: USD values do not balance: %+v", br.ExternalID, br)
				case known && !br.Fee.IsZero() && !br.FeeUSD.Decimal.IsPositive():
					t.Errorf("%s: fee %s booked at %s USD", br.ExternalID, br.Fee, br.FeeUSD.Decimal)
				}
				if tc.name == "RowsOwnAmountUSD" {
					want := byRef[br.ExternalID].Amount.Add(d("0.5"))
					if !br.AssetsUSD.Decimal.Neg().Equal(want) {
						t.Errorf("%s: booked %s USD, the row's own amount_usd is %s", br.ExternalID, br.AssetsUSD.Decimal.Neg(), want)
					}
				}
			}
		})
	}
}

// The USD values are those of the quote stored with the chunk, so a chunk whose outcome a
// person resolves as paid later books the same ones.
func TestResolvedChunkBooksQuotedUSD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, withRates(map[string]string{"USDTTRC20": "0.9997", "USDTBEP20": "1.0013"}))
	batch, _ := b.approved(t)
	// The run dies once chunk 1 is committed confirming; the next run finds it unknown.
	payouts.SetHook(b.runner, func(point string, c *payouts.Chunk) error {
		if point == "confirming" && c.N == 1 {
			return errKilled
		}
		return nil
	})
	if _, err := b.run(t, batch.ID); err == nil {
		t.Fatal("the run did not stop at the hook")
	}
	payouts.SetHook(b.runner, nil)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	st := b.status(t, batch.ID)
	if st.Chunks[0].State != payouts.ChunkUnknown || st.Chunks[0].Quote == nil {
		t.Fatalf("chunks %s", chunkStates(st))
	}
	q := st.Chunks[0].Quote
	if _, err := b.store.Resolve(ctx, batch.ID, 1, payouts.OutcomePaid, "carol", "seen on chain"); err != nil {
		t.Fatal(err)
	}
	var amountUSD, feeUSD decimal.Decimal
	n := 0
	for _, br := range b.bookedRows(t) {
		if br.Identifier != q.Identifier {
			continue
		}
		if !br.AssetsUSD.Valid || !br.FeeUSD.Valid || !br.PayeeUSD.Valid {
			t.Fatalf("%s: USD values missing: %+v", br.ExternalID, br)
		}
		n++
		amountUSD, feeUSD = amountUSD.Sub(br.AssetsUSD.Decimal), feeUSD.Add(br.FeeUSD.Decimal)
	}
	if n != st.Chunks[0].Rows || !amountUSD.Equal(q.AmountUSD) || !feeUSD.Equal(q.ServiceFeeUSD) {
		t.Fatalf("%d rows booked at %s USD, fees %s USD; the stored quote says %d rows, %s and %s",
			n, amountUSD, feeUSD, st.Chunks[0].Rows, q.AmountUSD, q.ServiceFeeUSD)
	}
}
