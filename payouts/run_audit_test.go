package payouts_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nordpay/nordpay-jobs/payouts"
)

// executedThen lets the sandbox execute the first confirm, then replaces its answer with
// status and body: what a proxy that sent the confirm twice, or an API that words its
// refusals otherwise, would show.
func executedThen(status int, body string) func(http.Handler) http.Handler {
	var once counter
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method+" "+r.URL.Path != routeConfirm || once.add("confirm") != 1 {
				h.ServeHTTP(w, r)
				return
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})
	}
}

// TestRunConfirmAnswerThatDoesNotSayNothingWasPaid: a confirm whose answer is an error that is
// not one of the documented refusals (a 404 in other words than "Withdraw request not found",
// a 409, another 400) may have been executed. The chunk must become unknown, never failed:
// a failed chunk's rows go into a new request, and they would be paid twice.
func TestRunConfirmAnswerThatDoesNotSayNothingWasPaid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"404OtherWords", `{"detail": "Withdrawal request not found"}`, http.StatusNotFound},
		{"404Bare", `{"detail": "Not Found"}`, http.StatusNotFound},
		{"409AlreadyConfirmed", `{"detail": "Withdraw request already confirmed"}`, http.StatusConflict},
		{"400Unrecognised", `{"detail": "Identifier already used"}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOptions) { o.handler = executedThen(tc.status, tc.body) })
			batch, rs := b.approved(t)
			if _, err := b.run(t, batch.ID); err != nil {
				t.Fatalf("first run: %v", err)
			}
			st := b.status(t, batch.ID)
			if chunkStates(st) != "1:unknown 2:confirmed 3:confirmed" || st.State != payouts.BatchAttention {
				t.Fatalf("after the first run: %s (%s), chunk 1 %q", chunkStates(st), st.State, st.Chunks[0].Reason)
			}
			if !strings.Contains(st.Chunks[0].Reason, "payouts resolve") {
				t.Fatalf("chunk 1 does not say what to do: %q", st.Chunks[0].Reason)
			}
			// A second run must not pay chunk 1's rows again.
			if _, err := b.run(t, batch.ID); err != nil {
				t.Fatalf("second run: %v", err)
			}
			if n := b.paidAtMostOnce(t, rs); n != len(rs) {
				t.Fatalf("%d of %d rows paid", n, len(rs))
			}
			if _, err := b.store.Resolve(t.Context(), batch.ID, 1, payouts.OutcomePaid, "dave", "seen on the dashboard"); err != nil {
				t.Fatal(err)
			}
			if st := b.status(t, batch.ID); st.State != payouts.BatchPaid {
				t.Fatalf("batch %s: %s", st.State, chunkStates(st))
			}
			b.paidExactlyOnce(t, rs)
			b.ledgerMatchesSandbox(t)
		})
	}
}

// TestRunQuoteInAnotherOrderAndCase: a quote that lists exactly the approved rows, but in
// another order and with hex addresses in another case (the same addresses), is the same
// quote: it is confirmed, and each row is booked with its own quoted fee.
func TestRunQuoteInAnotherOrderAndCase(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) {
		o.handler = tamper(routeRequest, func(m map[string]any) {
			rows := m["addresses_and_amounts"].([]any)
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
			for _, r := range rows {
				r := r.(map[string]any)
				r["address"] = "0x" + strings.ToUpper(r["address"].(string)[2:])
			}
		})
	})
	batch, rs := b.approved(t)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	st := b.status(t, batch.ID)
	if st.State != payouts.BatchPaid {
		t.Fatalf("batch %s: %s; chunk 1 %q", st.State, chunkStates(st), st.Chunks[0].Reason)
	}
	b.paidExactlyOnce(t, rs)
	b.ledgerMatchesSandbox(t)
	// Each row's entry carries the fee Nord PAY charged for that row.
	fees := map[string]string{}
	for _, p := range b.sb.Payments() {
		fees[strings.ToLower(p.Address)] = p.ServiceFee.String()
	}
	type booked struct {
		Address string `db:"address"`
		Fee     string `db:"fee"`
	}
	var got []booked
	if err := b.db.Select(&got, `
		SELECT e.address, p.amount::text AS fee
		FROM journal_entries e
		JOIN postings p ON p.entry_id = e.id
		JOIN accounts a ON a.id = p.account_id
		WHERE e.source = 'withdrawal' AND a.name LIKE 'expenses:fees:withdraw:%'`); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rs) {
		t.Fatalf("%d fee postings for %d rows", len(got), len(rs))
	}
	for _, g := range got {
		if want := fees[strings.ToLower(g.Address)]; !d(g.Fee).Equal(d(want)) {
			t.Errorf("row to %s booked with fee %s; Nord PAY charged %s", g.Address, g.Fee, want)
		}
	}
}

// TestRunQuoteInOtherSpellings: Nord PAY (or another implementation of its API) may write
// money as JSON strings, with trailing zeros or in exponent form, a time with "+00:00" for
// "Z", an id as a string, and add fields; the quote is the same, and the run pays once.
func TestRunQuoteInOtherSpellings(t *testing.T) {
	t.Parallel()
	asString := func(v any) any { // "10" -> "10.000"
		s := v.(json.Number).String()
		if !strings.Contains(s, ".") {
			s += "."
		}
		return s + "000"
	}
	asExponent := func(v any) any { return json.Number(v.(json.Number).String() + "E0") }
	quote := tamper(routeRequest, func(m map[string]any) {
		for _, r := range m["addresses_and_amounts"].([]any) {
			r := r.(map[string]any)
			r["amount"], r["service_fee"], r["service_fee_usd"] = asString(r["amount"]), asExponent(r["service_fee"]), asString(r["service_fee_usd"])
			r["network"] = "extra field"
		}
		m["amount"], m["service_fee"], m["amount_usd"] = asExponent(m["amount"]), asString(m["service_fee"]), asString(m["amount_usd"])
		m["expires_at"] = strings.Replace(m["expires_at"].(string), "Z", "+00:00", 1)
		m["status"] = "quoted"
	})
	confirm := tamper(routeConfirm, func(m map[string]any) { m["id"] = m["id"].(json.Number).String() })
	balance := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/balance/" {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[{"currency": "USDTBEP20", "balance": "2.5E+3", "balance_usd": "2500.00"},
				{"currency": "USDTTRC20", "balance": 1.0E4, "balance_usd": "10000"}]`))
		})
	}
	b := setup(t, func(o *setupOptions) {
		o.handler = func(h http.Handler) http.Handler { return balance(confirm(quote(h))) }
	})
	batch, rs := b.approved(t)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	st := b.status(t, batch.ID)
	if st.State != payouts.BatchPaid {
		t.Fatalf("batch %s: %s; chunk 1 %q", st.State, chunkStates(st), st.Chunks[0].Reason)
	}
	for _, c := range st.Chunks {
		if c.WithdrawalID == "" {
			t.Fatalf("chunk %d has no withdrawal id", c.N)
		}
	}
	b.paidExactlyOnce(t, rs)
	b.ledgerMatchesSandbox(t)
}
