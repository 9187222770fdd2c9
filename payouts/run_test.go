package payouts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

func TestRunPaysEveryRowOnceAndBooksIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	batch, rs := b.approved(t)
	var seen []string
	b.runner.OnChange = func(c *payouts.Chunk) { seen = append(seen, fmt.Sprintf("%d:%s", c.N, c.State)) }
	res, err := b.run(t, batch.ID)
	if err != nil {
		t.Fatal(err)
	}
	// USDTBEP20 sorts first: its 2 rows, then USDTTRC20's 5 rows cut at 3 per request.
	st := b.status(t, batch.ID)
	if res.State != payouts.BatchPaid || st.State != payouts.BatchPaid || chunkStates(st) != "1:confirmed 2:confirmed 3:confirmed" ||
		st.RowsPaid != 7 {
		t.Fatalf("result %+v, status %s %s", res, st.State, chunkStates(st))
	}
	if got := strings.Join(seen, " "); got != "1:requested 1:confirming 1:confirmed 2:requested 2:confirming 2:confirmed 3:requested 3:confirming 3:confirmed" {
		t.Fatalf("transitions %s", got)
	}
	for i, want := range []struct {
		currency string
		rows     int
		amount   string
	}{{"USDTBEP20", 2, "21"}, {"USDTTRC20", 3, "33"}, {"USDTTRC20", 2, "27"}} {
		c := st.Chunks[i]
		if c.Currency != want.currency || c.Rows != want.rows || !c.Amount.Equal(d(want.amount)) || c.Quote == nil ||
			c.WithdrawalID == "" || c.Requests != 1 || !c.ExpectedFee.Equal(c.Quote.ServiceFee) {
			t.Errorf("chunk %d: %+v", c.N, c)
		}
	}
	b.paidExactlyOnce(t, rs)
	b.ledgerMatchesSandbox(t)
	var ext []string
	if err := b.db.Select(&ext, `SELECT external_id FROM journal_entries WHERE source = 'withdrawal' ORDER BY external_id`); err != nil {
		t.Fatal(err)
	}
	if len(ext) != 7 || ext[0] != batch.ID+"/USDTBEP20-007" {
		t.Fatalf("external ids %v", ext)
	}
	// Every transition is in the audit log, with who did it.
	lines, err := b.store.Audit(ctx, batch.ID)
	if err != nil {
		t.Fatal(err)
	}
	transitions := 0
	for _, l := range lines {
		if l.Chunk > 0 && strings.Contains(l.Action, " -> ") {
			transitions++
			if l.Actor != "test run" || l.Chunk == 0 {
				t.Errorf("audit line %+v", l)
			}
		}
	}
	if transitions != 9 {
		t.Fatalf("%d transitions audited, want 9: %+v", transitions, lines)
	}

	// A second run finds nothing to do and sends nothing.
	requests, confirms := b.sb.Requests(routeRequest), b.sb.Requests(routeConfirm)
	if res, err := b.run(t, batch.ID); err != nil || res.State != payouts.BatchPaid {
		t.Fatalf("second run: %+v %v", res, err)
	}
	if b.sb.Requests(routeRequest) != requests || b.sb.Requests(routeConfirm) != confirms {
		t.Fatal("a paid batch was sent again")
	}
	// Nor can a paid batch be approved again.
	if _, err := b.store.Approve(ctx, batch.ID, "carol", payouts.ApproveOptions{}); !errors.Is(err, payouts.ErrApprovalRefused) {
		t.Fatalf("approving a paid batch: %v", err)
	}
}

// TestRunFaults injects a fault at each remote step and checks what must hold after it and
// after the runs that follow: no row is ever paid twice (the sandbox's own record), an unknown
// outcome is visible and never requested again, and once a person resolved it the batch ends
// paid, booked, and the ledger verifies.
func TestRunFaults(t *testing.T) {
	t.Parallel()
	type step struct {
		route string
		kind  sandbox.FaultKind
		times int
	}
	for _, tc := range []struct {
		name   string
		faults []step
		// after the first run
		wantErr    bool
		wantStates string
		// the outcome a person finds for unknown chunks (the sandbox's truth)
		wantPaidAfterFirst int
	}{
		{name: "RequestFailsOnceRetried", faults: []step{{routeRequest, sandbox.Fault502, 1}},
			wantStates: "1:confirmed 2:confirmed 3:confirmed", wantPaidAfterFirst: 7},
		{name: "RequestAnswerLostRetried", faults: []step{{routeRequest, sandbox.FaultLostAnswer, 1}},
			wantStates: "1:confirmed 2:confirmed 3:confirmed", wantPaidAfterFirst: 7},
		{name: "RequestKeepsFailing", faults: []step{{routeRequest, sandbox.Fault500, 3}},
			wantErr: true, wantStates: "1:planned 2:planned 3:planned", wantPaidAfterFirst: 0},
		{name: "RequestRateLimited", faults: []step{{routeRequest, sandbox.Fault429, 3}},
			wantErr: true, wantStates: "1:planned 2:planned 3:planned", wantPaidAfterFirst: 0},
		{name: "BalanceUnreadable", faults: []step{{routeBalance, sandbox.Fault502, 5}},
			wantErr: true, wantStates: "1:requested 2:planned 3:planned", wantPaidAfterFirst: 0},
		{name: "ConfirmRateLimitedBeforeExecuting", faults: []step{{routeConfirm, sandbox.Fault429, 1}},
			wantStates: "1:failed 2:confirmed 3:confirmed", wantPaidAfterFirst: 5},
		{name: "Confirm500BeforeExecuting", faults: []step{{routeConfirm, sandbox.Fault500, 1}},
			wantStates: "1:unknown 2:confirmed 3:confirmed", wantPaidAfterFirst: 5},
		{name: "ConfirmDroppedBeforeExecuting", faults: []step{{routeConfirm, sandbox.FaultDrop, 1}},
			wantStates: "1:unknown 2:confirmed 3:confirmed", wantPaidAfterFirst: 5},
		{name: "ConfirmExecutedAnswerLost", faults: []step{{routeConfirm, sandbox.FaultLostAnswer, 1}},
			wantStates: "1:unknown 2:confirmed 3:confirmed", wantPaidAfterFirst: 7},
		{name: "ConfirmCutMidAnswer", faults: []step{{routeConfirm, sandbox.FaultMidStream, 1}},
			wantStates: "1:unknown 2:confirmed 3:confirmed", wantPaidAfterFirst: 7},
		{name: "EveryConfirmLost", faults: []step{{routeConfirm, sandbox.FaultLostAnswer, 3}},
			wantStates: "1:unknown 2:unknown 3:unknown", wantPaidAfterFirst: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			batch, rs := b.approved(t)
			for _, f := range tc.faults {
				for range f.times {
					b.sb.InjectFault(f.route, f.kind)
				}
			}
			res, err := b.run(t, batch.ID)
			if (err != nil) != tc.wantErr {
				t.Fatalf("first run: %v", err)
			}
			st := b.status(t, batch.ID)
			if chunkStates(st) != tc.wantStates {
				t.Fatalf("after the first run: %s, want %s (%v)", chunkStates(st), tc.wantStates, res.Problems)
			}
			if n := b.paidAtMostOnce(t, rs); n != tc.wantPaidAfterFirst {
				t.Fatalf("%d rows paid after the first run, want %d", n, tc.wantPaidAfterFirst)
			}
			unknown := st.NeedsPerson()
			if len(unknown) > 0 && (st.State != payouts.BatchAttention || st.RowsUnknown == 0) {
				t.Fatalf("unknown chunks but the batch is %s", st.State)
			}
			for _, c := range unknown {
				if !strings.Contains(c.Reason, "payouts resolve") || c.Identifier() == "" {
					t.Fatalf("chunk %d is unknown without saying what to do: %q", c.N, c.Reason)
				}
			}

			// A re-run never requests an unknown chunk again (nor any of its rows).
			requests := b.sb.Requests(routeRequest)
			if _, err := b.run(t, batch.ID); err != nil && len(unknown) > 0 {
				t.Fatalf("second run: %v", err)
			}
			b.paidAtMostOnce(t, rs)
			if len(unknown) > 0 {
				st2 := b.status(t, batch.ID)
				for _, c := range unknown {
					if st2.Chunks[c.N-1].State != payouts.ChunkUnknown {
						t.Fatalf("chunk %d left unknown without a person", c.N)
					}
				}
				if b.sb.Requests(routeRequest) != requests {
					t.Fatalf("a re-run sent %d new requests while every open row was in an unknown chunk", b.sb.Requests(routeRequest)-requests)
				}
			}

			// A person finds out from Nord PAY (here: the sandbox's record) and resolves.
			for _, c := range b.status(t, batch.ID).NeedsPerson() {
				outcome := payouts.OutcomeFailed
				for _, p := range b.sb.Payments() {
					if p.Identifier == c.Identifier() {
						outcome = payouts.OutcomePaid
					}
				}
				if _, err := b.store.Resolve(ctx, batch.ID, c.N, outcome, "dave", "checked the Nord PAY dashboard"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := b.run(t, batch.ID); err != nil {
				t.Fatalf("run after resolving: %v", err)
			}
			if st := b.status(t, batch.ID); st.State != payouts.BatchPaid {
				t.Fatalf("batch %s: %s", st.State, chunkStates(st))
			}
			b.paidExactlyOnce(t, rs)
			b.ledgerMatchesSandbox(t)
		})
	}
}

// TestRunKilledBetweenSteps stops a run right after each committed transition, as a process
// killed there would, and runs again.
func TestRunKilledBetweenSteps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		point string
		// the state the chunk is left in, and after the next start
		left, restarted payouts.ChunkState
	}{
		{"requested", payouts.ChunkRequested, payouts.ChunkConfirmed},
		{"confirming", payouts.ChunkConfirming, payouts.ChunkUnknown},
	} {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			batch, rs := b.approved(t)
			payouts.SetHook(b.runner, func(point string, c *payouts.Chunk) error {
				if point == tc.point && c.N == 2 {
					return errKilled
				}
				return nil
			})
			if _, err := b.run(t, batch.ID); !errors.Is(err, errKilled) {
				t.Fatalf("first run: %v", err)
			}
			payouts.SetHook(b.runner, nil)
			st := b.status(t, batch.ID)
			if st.Chunks[1].State != tc.left || st.State != payouts.BatchRunning {
				t.Fatalf("left %s (%s)", chunkStates(st), st.State)
			}
			identifier := st.Chunks[1].Identifier()
			requests := b.sb.Requests(routeRequest)
			res, err := b.run(t, batch.ID)
			if err != nil {
				t.Fatal(err)
			}
			st = b.status(t, batch.ID)
			if c := st.Chunks[1]; c.State != tc.restarted || c.Identifier() != identifier {
				t.Fatalf("restarted: %s, identifier %s then %s", chunkStates(st), identifier, c.Identifier())
			}
			if tc.restarted == payouts.ChunkUnknown {
				if len(res.Recovered) != 1 || res.Recovered[0] != 2 || !strings.Contains(st.Chunks[1].Reason, "found confirming at start-up") {
					t.Fatalf("recovered %v: %q", res.Recovered, st.Chunks[1].Reason)
				}
				// Chunk 3 was requested by the second run; chunk 2 never again.
				if b.sb.Requests(routeRequest) != requests+1 {
					t.Fatalf("%d requests after the restart, want 1", b.sb.Requests(routeRequest)-requests)
				}
				if _, err := b.store.Resolve(ctx, batch.ID, 2, payouts.OutcomeFailed, "dave", "never reached Nord PAY"); err != nil {
					t.Fatal(err)
				}
				if _, err := b.run(t, batch.ID); err != nil {
					t.Fatal(err)
				}
			} else if b.sb.Requests(routeRequest) != requests+1 {
				t.Fatalf("the held quote was requested again")
			}
			b.paidExactlyOnce(t, rs)
			b.ledgerMatchesSandbox(t)
		})
	}
}

func TestRunChecksTheQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mod    func(*setupOptions)
		reason string
	}{
		{"AmountChanged", func(o *setupOptions) {
			o.handler = tamper(routeRequest, func(m map[string]any) {
				m["addresses_and_amounts"].([]any)[1].(map[string]any)["amount"] = json.Number("10.5")
			})
		}, "amount 10.5 quoted"},
		{"AddressChanged", func(o *setupOptions) {
			o.handler = tamper(routeRequest, func(m map[string]any) {
				m["addresses_and_amounts"].([]any)[0].(map[string]any)["address"] = "0xattacker"
			})
		}, `address "0xattacker" quoted`},
		{"RowDropped", func(o *setupOptions) {
			o.handler = tamper(routeRequest, func(m map[string]any) {
				m["addresses_and_amounts"] = m["addresses_and_amounts"].([]any)[1:]
			})
		}, "rows quoted"},
		{"CurrencyChanged", func(o *setupOptions) {
			o.handler = tamper(routeRequest, func(m map[string]any) { m["currency"] = "USDTERC20" })
		}, `currency "USDTERC20"`},
		{"TotalChanged", func(o *setupOptions) {
			o.handler = tamper(routeRequest, func(m map[string]any) { m["amount"] = json.Number("1") })
		}, "total 1 quoted"},
		{"FeeTotalInconsistent", func(o *setupOptions) {
			o.handler = tamper(routeRequest, func(m map[string]any) { m["service_fee"] = json.Number("0") })
		}, "total fee 0"},
		{"FeeAboveAbsoluteCeiling", func(o *setupOptions) {
			o.policy.FeeCeiling = map[string]decimal.Decimal{"USDTBEP20": d("1"), "USDTTRC20": d("1")}
		}, "above the ceiling of 1"},
		{"FeeAbovePercentCeiling", func(o *setupOptions) {
			o.policy.FeeCeilingPercent = d("1")
		}, "above the ceiling of 1%"},
		{"FeeNotNearExpected", func(o *setupOptions) {
			o.policy.Fees = map[string]payouts.Fee{"USDTBEP20": {Fixed: d("0.1")}, "USDTTRC20": {Fixed: d("0.1")}}
		}, "not near the expected"},
		{"NotEnoughBalance", func(o *setupOptions) {
			o.sandbox = func(so *sandbox.Options) {
				so.InitialBalances = map[string]decimal.Decimal{"USDTBEP20": d("20"), "USDTTRC20": d("20")}
			}
		}, "Not enough balance"},
		{"QuoteAboutToExpire", func(o *setupOptions) {
			o.sandbox = func(so *sandbox.Options) { so.QuoteTTL = 20 * time.Second }
		}, "expires in 20s, under the minimum of 30s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.mod)
			batch, rs := b.approved(t)
			if _, err := b.run(t, batch.ID); err != nil {
				t.Fatal(err)
			}
			st := b.status(t, batch.ID)
			if b.sb.Requests(routeConfirm) != 0 || len(b.sb.Payments()) != 0 {
				t.Fatalf("a quote that failed its checks was confirmed: %s", chunkStates(st))
			}
			for _, c := range st.Chunks {
				if c.State != payouts.ChunkFailed || !strings.Contains(c.Reason, tc.reason) {
					t.Fatalf("chunk %d: %s %q, want failed saying %q", c.N, c.State, c.Reason, tc.reason)
				}
			}
			if st.State != payouts.BatchPartial {
				t.Fatalf("batch %s", st.State)
			}
			b.paidAtMostOnce(t, rs)
		})
	}
}

func TestRunBalanceCheckedBeforeConfirm(t *testing.T) {
	t.Parallel()
	// The request passes (the sandbox checks the balance then), but the balance read just
	// before the confirm is below the quote.
	b := setup(t, func(o *setupOptions) {
		o.handler = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/balance/" {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`[{"currency": "USDTBEP20", "balance": 20.999999, "balance_usd": 21}]`))
					return
				}
				h.ServeHTTP(w, r)
			})
		}
	})
	batch, rs := b.approved(t)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	st := b.status(t, batch.ID)
	for _, c := range st.Chunks {
		if c.State != payouts.ChunkFailed || !strings.Contains(c.Reason, "does not cover the quote") {
			t.Fatalf("chunk %d: %s %q", c.N, c.State, c.Reason)
		}
	}
	if b.sb.Requests(routeConfirm) != 0 {
		t.Fatal("confirmed without the balance")
	}
	b.paidAtMostOnce(t, rs)
}

func TestRunRequestsAnExpiredQuoteAgain(t *testing.T) {
	t.Parallel()
	t.Run("BeforeTheConfirm", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch, rs := b.approved(t)
		var once sync.Once
		payouts.SetHook(b.runner, func(point string, c *payouts.Chunk) error {
			if point == "requested" && c.N == 1 {
				once.Do(func() { b.clock.Advance(6 * time.Minute) })
			}
			return nil
		})
		if _, err := b.run(t, batch.ID); err != nil {
			t.Fatal(err)
		}
		st := b.status(t, batch.ID)
		if st.State != payouts.BatchPaid || st.Chunks[0].Requests != 2 {
			t.Fatalf("%s: %s, chunk 1 requested %d times", st.State, chunkStates(st), st.Chunks[0].Requests)
		}
		if b.sb.Requests(routeRequest) != 4 || b.sb.Requests(routeConfirm) != 3 {
			t.Fatalf("%d requests, %d confirms", b.sb.Requests(routeRequest), b.sb.Requests(routeConfirm))
		}
		b.paidExactlyOnce(t, rs)
		b.ledgerMatchesSandbox(t)
	})
	t.Run("AtTheConfirm", func(t *testing.T) {
		t.Parallel()
		// The quote passes the expiry check, then expires before Nord PAY sees the confirm:
		// the API answers "Withdraw request expired", nothing was paid, request again.
		b := setup(t)
		batch, rs := b.approved(t)
		var once sync.Once
		payouts.SetHook(b.runner, func(point string, c *payouts.Chunk) error {
			if point == "confirming" && c.N == 1 {
				once.Do(func() { b.clock.Advance(6 * time.Minute) })
			}
			return nil
		})
		if _, err := b.run(t, batch.ID); err != nil {
			t.Fatal(err)
		}
		st := b.status(t, batch.ID)
		if st.State != payouts.BatchPaid || st.Chunks[0].Requests != 2 || b.sb.Requests(routeConfirm) != 4 {
			t.Fatalf("%s: %s, chunk 1 requested %d times, %d confirms", st.State, chunkStates(st), st.Chunks[0].Requests, b.sb.Requests(routeConfirm))
		}
		b.paidExactlyOnce(t, rs)
		b.ledgerMatchesSandbox(t)
	})
	t.Run("HeldFromAnEarlierRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		batch, rs := b.approved(t)
		payouts.SetHook(b.runner, func(point string, c *payouts.Chunk) error {
			if point == "requested" {
				return errKilled
			}
			return nil
		})
		if _, err := b.run(t, batch.ID); !errors.Is(err, errKilled) {
			t.Fatal(err)
		}
		payouts.SetHook(b.runner, nil)
		b.clock.Advance(10 * time.Minute)
		if _, err := b.run(t, batch.ID); err != nil {
			t.Fatal(err)
		}
		if st := b.status(t, batch.ID); st.State != payouts.BatchPaid || st.Chunks[0].Requests != 2 {
			t.Fatalf("%s %s", st.State, chunkStates(st))
		}
		b.paidExactlyOnce(t, rs)
	})
}

func TestRunRequestRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	batch, rs := b.approved(t)
	if err := b.sb.SetCurrency("USDTBEP20", func(c *nordpay.Currency) { c.IsWithdrawEnabled = new(false) }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	st := b.status(t, batch.ID)
	if chunkStates(st) != "1:failed 2:confirmed 3:confirmed" || !strings.Contains(st.Chunks[0].Reason, "not available for withdraw") ||
		st.State != payouts.BatchPartial {
		t.Fatalf("%s %s %q", st.State, chunkStates(st), st.Chunks[0].Reason)
	}
	// Once withdrawals are back, a new run pays the failed chunk's rows in a new chunk.
	if err := b.sb.SetCurrency("USDTBEP20", func(c *nordpay.Currency) { c.IsWithdrawEnabled = new(true) }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	if st := b.status(t, batch.ID); chunkStates(st) != "1:failed 2:confirmed 3:confirmed 4:confirmed" || st.State != payouts.BatchPaid {
		t.Fatalf("%s %s", st.State, chunkStates(st))
	}
	b.paidExactlyOnce(t, rs)
	b.ledgerMatchesSandbox(t)
}

func TestRunTwoAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) {
		o.sandbox = func(so *sandbox.Options) { so.Faults.Latency = 50 * time.Millisecond }
	})
	batch, rs := b.approved(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.run(t, batch.ID) })
	}
	wg.Wait()
	ok, busy := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, payouts.ErrBusy):
			busy++
		default:
			t.Fatalf("run: %v", err)
		}
	}
	if ok < 1 || busy < 1 {
		t.Fatalf("%d runs went through, %d found the batch busy", ok, busy)
	}
	b.paidExactlyOnce(t, rs)
	if b.sb.Requests(routeConfirm) != 3 {
		t.Fatalf("%d confirms for 3 chunks", b.sb.Requests(routeConfirm))
	}
}

// TestRunRandomFaults runs a batch against a sandbox that fails a fifth of all calls, drops
// some connections and loses a third of the confirm answers, resolving unknown chunks from
// the sandbox's record, until the batch is paid: every row is paid exactly once.
func TestRunRandomFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("Seed", seed), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOptions) {
				o.policy.RowsPerRequest = 2
				o.sandbox = func(so *sandbox.Options) {
					so.Seed = seed
					so.Faults = sandbox.Faults{Rate: 0.2, DropRate: 0.05, LostConfirmRate: 0.3}
				}
			})
			trc, bep := rows("USDTTRC20", 2, 15), rows("USDTBEP20", 17, 6)
			rs := append(trc, bep...)
			batch := b.importSheet(t, sheetOf(t.Name(), trc, bep))
			if _, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{}); err != nil {
				t.Fatal(err)
			}
			runs, resolved := 0, 0
			for ; runs < 40; runs++ {
				_, _ = b.run(t, batch.ID) // failures are expected; the state says what is left
				b.paidAtMostOnce(t, rs)
				st := b.status(t, batch.ID)
				if st.State == payouts.BatchPaid {
					break
				}
				for _, c := range st.NeedsPerson() {
					outcome := payouts.OutcomeFailed
					for _, p := range b.sb.Payments() {
						if p.Identifier == c.Identifier() {
							outcome = payouts.OutcomePaid
						}
					}
					if _, err := b.store.Resolve(ctx, batch.ID, c.N, outcome, "dave", ""); err != nil {
						t.Fatal(err)
					}
					resolved++
				}
			}
			st := b.status(t, batch.ID)
			if st.State != payouts.BatchPaid {
				t.Fatalf("not paid after %d runs: %s", runs, chunkStates(st))
			}
			if resolved == 0 {
				t.Fatal("no confirm was lost; the test proves little")
			}
			t.Logf("%d runs, %d chunks, %d resolved by hand", runs+1, len(st.Chunks), resolved)
			b.paidExactlyOnce(t, rs)
			b.ledgerMatchesSandbox(t)
		})
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	batch := b.importSheet(t, sheetOf("dry", rows("USDTTRC20", 2, 5), rows("USDTBEP20", 7, 2)))
	dry := func() *payouts.RunResult {
		res, err := b.runner.Run(ctx, batch.ID, payouts.RunOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := dry()
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "0 of 1 required") || len(res.Requests) != 3 {
		t.Fatalf("unapproved dry run: %+v", res)
	}
	if _, err := b.store.Approve(ctx, batch.ID, "bob", payouts.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	res = dry()
	if len(res.Problems) != 0 || len(res.Requests) != 3 || res.Requests[1].Request.Currency != "USDTTRC20" ||
		len(res.Requests[1].Request.AddressesAndAmounts) != 3 || !res.Requests[1].Amount.Equal(d("33")) ||
		!res.Requests[1].ExpectedFee.Equal(d("3.165")) || res.Balances["USDTTRC20"].IsZero() {
		t.Fatalf("dry run: %+v", res)
	}
	if b.sb.Requests(routeRequest) != 0 || b.sb.Requests(routeConfirm) != 0 || len(b.status(t, batch.ID).Chunks) != 0 {
		t.Fatal("a dry run requested, confirmed or planned something")
	}
	// After a run left an unknown chunk, a dry run says so and plans around it.
	b.sb.InjectFault(routeConfirm, sandbox.FaultLostAnswer)
	payouts.SetHook(b.runner, func(point string, c *payouts.Chunk) error {
		if point == "requested" && c.N == 2 {
			return errKilled
		}
		return nil
	})
	if _, err := b.run(t, batch.ID); !errors.Is(err, errKilled) {
		t.Fatal(err)
	}
	res = dry()
	if len(res.Requests) != 2 || !res.Requests[0].Existing || res.Requests[0].Chunk != 2 || res.State != payouts.BatchAttention {
		t.Fatalf("dry run after a lost confirm: %+v", res)
	}
}

func TestChunkInvariantsInTheDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	batch, _ := b.approved(t)
	b.sb.InjectFault(routeConfirm, sandbox.FaultLostAnswer)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatal(err)
	}
	if st := b.status(t, batch.ID); chunkStates(st) != "1:unknown 2:confirmed 3:confirmed" {
		t.Fatal(chunkStates(st))
	}
	for _, tc := range []struct {
		query, says string
	}{
		{`UPDATE payout_chunks SET state = 'planned' WHERE batch_id = $1 AND n = 1`, "not an allowed transition"},
		{`UPDATE payout_chunks SET state = 'requested' WHERE batch_id = $1 AND n = 1`, "not an allowed transition"},
		{`UPDATE payout_chunks SET state = 'failed' WHERE batch_id = $1 AND n = 1`, "closed by a named person"},
		{`UPDATE payout_chunks SET state = 'failed', resolved_by = 'x' WHERE batch_id = $1 AND n = 2`, "not an allowed transition"},
		{`UPDATE payout_chunks SET identifier = 'other' WHERE batch_id = $1 AND n = 1`, "not an allowed transition"},
		{`DELETE FROM payout_chunks WHERE batch_id = $1 AND n = 1`, "not allowed"},
		{`INSERT INTO payout_chunks (batch_id, n, currency, state, row_count, amount, expected_fee, created_at, updated_at)
		  VALUES ($1, 9, 'USDTBEP20', 'confirmed', 1, 1, 0, now(), now())`, "starts planned"},
		{`UPDATE payout_chunk_rows SET released = true WHERE batch_id = $1 AND chunk_n = 1`, "only a failed chunk releases"},
		{`DELETE FROM payout_chunk_rows WHERE batch_id = $1 AND chunk_n = 1`, "only a failed chunk releases"},
		{`DELETE FROM payout_audit WHERE batch_id = $1`, "append-only"},
		{`UPDATE payout_batches SET control_digest = repeat('1', 64) WHERE id = $1`, "only its state may change"},
		{`UPDATE payout_batches SET state = 'rejected' WHERE id = $1`, "stays rejected"},
	} {
		if _, err := b.db.Exec(tc.query, batch.ID); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want a refusal saying %q", tc.query, err, tc.says)
		}
	}
	// A row of the unknown chunk cannot go into a new chunk: Invariant 5.
	tx, err := b.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // nothing to keep
	if _, err := tx.Exec(`INSERT INTO payout_chunks (batch_id, n, currency, state, row_count, amount, expected_fee, created_at, updated_at)
		VALUES ($1, 9, 'USDTBEP20', 'planned', 1, 10, 0, now(), now())`, batch.ID); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(`INSERT INTO payout_chunk_rows (batch_id, chunk_n, line, position)
		SELECT batch_id, 9, line, 1 FROM payout_chunk_rows WHERE batch_id = $1 AND chunk_n = 1 LIMIT 1`, batch.ID)
	if err == nil || !strings.Contains(err.Error(), "payout_chunk_rows_one_live_chunk") {
		t.Fatalf("a row of an unknown chunk joined another chunk: %v", err)
	}
}

func TestRunRecoversConfirmingEvenWithoutApproval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	batch, rs := b.approved(t)
	payouts.SetHook(b.runner, func(point string, c *payouts.Chunk) error {
		if point == "confirming" {
			return errKilled
		}
		return nil
	})
	if _, err := b.run(t, batch.ID); !errors.Is(err, errKilled) {
		t.Fatal(err)
	}
	payouts.SetHook(b.runner, nil)
	b.clock.Advance(48 * time.Hour)
	res, err := b.run(t, batch.ID)
	if !errors.Is(err, payouts.ErrNotApproved) || len(res.Recovered) != 1 {
		t.Fatalf("run with an expired approval: %v, recovered %v", err, res.Recovered)
	}
	st := b.status(t, batch.ID)
	if st.State != payouts.BatchAttention || len(st.NeedsPerson()) != 1 || b.sb.Requests(routeConfirm) != 0 {
		t.Fatalf("%s %s", st.State, chunkStates(st))
	}
	b.paidAtMostOnce(t, rs)
}
