package nordpay_test

// Transport behaviour that needs a server misbehaving in precise ways: retries, Retry-After,
// writes never retried, streams cut short, odd answers. The sandbox covers the API itself
// (client_test.go); these raw servers cover what no well-behaved API would do on purpose.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

// rawSetup serves handler and returns a client whose sleeps are recorded, not slept.
func rawSetup(t *testing.T, handler http.HandlerFunc, mod ...func(*nordpay.Options)) (*nordpay.Client, *sleeps) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	sl := &sleeps{}
	opts := nordpay.Options{BaseURL: srv.URL, APIKey: "raw-key", Sleep: sl.sleep}
	for _, f := range mod {
		f(&opts)
	}
	c, err := nordpay.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestReadsAreRetried(t *testing.T) {
	t.Parallel()
	t.Run("ServerErrorsThenSuccess", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		c, sl := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			switch n.Add(1) {
			case 1:
				w.WriteHeader(500)
			case 2:
				w.WriteHeader(502)
			default:
				fmt.Fprint(w, `[{"currency":"BTC","balance":1E-8,"balance_usd":0}]`)
			}
		})
		bs, err := c.Balances(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n.Load() != 3 || len(bs) != 1 || bs[0].Balance.String() != "0.00000001" {
			t.Fatalf("attempts %d, balances %+v", n.Load(), bs)
		}
		if got := sl.all(); len(got) != 2 {
			t.Fatalf("slept %v, want two backoffs", got)
		}
	})
	t.Run("HonoursRetryAfter", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		c, sl := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(429)
				fmt.Fprint(w, `{"detail":"Too many requests"}`)
				return
			}
			fmt.Fprint(w, `[]`)
		})
		if _, err := c.Currencies(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := sl.all(); len(got) != 1 || got[0] < 7*time.Second {
			t.Fatalf("slept %v, want at least the 7s of Retry-After", got)
		}
	})
	t.Run("GivesUpWhenRetryAfterIsTooLong", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(429)
		})
		_, err := c.Currencies(context.Background())
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrRateLimited) || !errors.As(err, &e) || e.RetryAfter != time.Hour || e.Attempts != 1 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("BoundedAttempts", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		c, sl := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(503)
		}, func(o *nordpay.Options) { o.MaxRetries = 3; o.MinBackoff = time.Second; o.MaxBackoff = 4 * time.Second })
		_, err := c.Balances(context.Background())
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrServer) || !errors.As(err, &e) || e.Attempts != 4 || n.Load() != 4 {
			t.Fatalf("err = %v, attempts seen %d", err, n.Load())
		}
		for i, d := range sl.all() {
			if ceil := time.Second << i; d <= 0 || d > min(ceil, 4*time.Second)+time.Millisecond {
				t.Errorf("backoff %d = %v, want jitter within (0, %v]", i, d, min(ceil, 4*time.Second))
			}
		}
	})
	t.Run("DroppedConnection", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				hangUp(w)
				return
			}
			fmt.Fprint(w, `{"qrcode":"aGk="}`)
		})
		if qr, err := c.WalletQRCode(context.Background(), "1"); err != nil || qr != "aGk=" {
			t.Fatalf("qr %q, err %v", qr, err)
		}
	})
	t.Run("NotOnClientErrors", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(404)
			fmt.Fprint(w, `{"detail":"Invoice not found"}`)
		})
		_, err := c.Invoice(context.Background(), "42")
		if !errors.Is(err, nordpay.ErrNotFound) || n.Load() != 1 {
			t.Fatalf("err %v after %d attempts", err, n.Load())
		}
	})
	t.Run("StopsWhenContextEnds", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			cancel()
			w.WriteHeader(500)
		}, func(o *nordpay.Options) { o.Sleep = nil })
		_, err := c.Balances(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled in the chain", err)
		}
	})
}

func TestWritesAreNeverRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		unknown bool
		kind    error
	}{
		{"ServerError", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }, true, nordpay.ErrServer},
		{"HangUp", func(w http.ResponseWriter, _ *http.Request) { hangUp(w) }, true, nordpay.ErrTransport},
		{"GarbledAnswer", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"detail": "Withdr`) }, true, nordpay.ErrTransport},
		{"RateLimited", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(429) }, false, nordpay.ErrRateLimited},
		{"Expired", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"detail":"Withdraw request expired"}`)
		}, false, nordpay.ErrRequestExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				tc.handler(w, r)
			})
			_, err := c.ConfirmMultiWithdraw(context.Background(), "id-1")
			if n.Load() != 1 {
				t.Fatalf("confirm sent %d times", n.Load())
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			if nordpay.OutcomeUnknown(err) != tc.unknown {
				t.Fatalf("OutcomeUnknown(%v) = %v, want %v", err, !tc.unknown, tc.unknown)
			}
		})
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	const two = `{"id":1,"amount":1,"currency":"BTC","created_at":"2025-01-01T00:00:00Z"},{"id":2,"amount":2,"currency":"BTC","created_at":"2025-01-01T00:00:00Z"}`
	collect := func(c *nordpay.Client) (ids []string, recs []*nordpay.RecordError, final error) {
		for tx, err := range c.InvoiceTransactions(context.Background(), nordpay.Window{}) {
			var rec *nordpay.RecordError
			switch {
			case errors.As(err, &rec):
				recs = append(recs, rec)
			case err != nil:
				final = err
			default:
				ids = append(ids, tx.ID.String())
			}
		}
		return
	}
	t.Run("CutShortAfterElementsEndsWithTransportError", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			fmt.Fprint(w, "["+two+`,{"id":3,"amo`)
		})
		ids, _, err := collect(c)
		if strings.Join(ids, ",") != "1,2" || !errors.Is(err, nordpay.ErrTransport) || n.Load() != 1 {
			t.Fatalf("ids %v, err %v, calls %d", ids, err, n.Load())
		}
		if !strings.Contains(err.Error(), "cut short") {
			t.Fatalf("error does not say the answer was cut short: %v", err)
		}
	})
	t.Run("CutShortBeforeAnyElementIsRetried", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Content-Length", "100")
				fmt.Fprint(w, `[{"id":1,"amo`)
				return
			}
			fmt.Fprint(w, "["+two+"]")
		})
		ids, _, err := collect(c)
		if strings.Join(ids, ",") != "1,2" || err != nil || n.Load() != 2 {
			t.Fatalf("ids %v, err %v, calls %d", ids, err, n.Load())
		}
	})
	t.Run("MalformedElementIsReportedAndSkipped", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `[{"id":1,"amount":1},{"id":2,"amount":"twelve"},{"id":[]},{"id":4,"amount":4}]`)
		})
		ids, recs, err := collect(c)
		if err != nil || strings.Join(ids, ",") != "1,4" || len(recs) != 2 {
			t.Fatalf("ids %v, records %v, err %v", ids, recs, err)
		}
		if recs[0].Index != 1 || string(recs[0].Raw) != `{"id":2,"amount":"twelve"}` {
			t.Fatalf("record error %+v raw %s", recs[0], recs[0].Raw)
		}
	})
	t.Run("NotAnArray", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"items":[]}`) })
		_, _, err := collect(c)
		if err == nil || !strings.Contains(err.Error(), "not an array") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("EarlyBreakStopsCleanly", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "["+two+"]") })
		n := 0
		for _, err := range c.InvoiceTransactions(context.Background(), nordpay.Window{}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			break
		}
		if n != 1 {
			t.Fatalf("n = %d", n)
		}
	})
	t.Run("WindowQuery", func(t *testing.T) {
		t.Parallel()
		var got string
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			got = r.URL.Path + "?" + r.URL.RawQuery
			fmt.Fprint(w, `[]`)
		})
		w := nordpay.Window{Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 2, 0, 0, 0, 0, time.FixedZone("CEST", 7200))}
		for _, err := range c.WalletTransactionsOf(context.Background(), "w/1", w) {
			t.Fatal(err)
		}
		want := "/wallet/w/1/transactions?end_date=2026-10-01T22%3A00%3A00.000000Z&start_date=2026-10-01T00%3A00%3A00.000000Z"
		if got != want {
			t.Fatalf("request %s\n want %s", got, want)
		}
	})
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	respond := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}
	}
	t.Run("BelowMinimumCarriesTheMinimum", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, respond(400, `{"detail":"Amount is less than minimum withdraw amount for USDTERC20 (5E+1)"}`))
		_, err := c.RequestWithdraw(context.Background(), nordpay.WithdrawRequest{Currency: "USDTERC20"})
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrBelowMinimum) || !errors.As(err, &e) || e.Currency != "USDTERC20" || e.Minimum.String() != "50" {
			t.Fatalf("err = %v (%+v)", err, e)
		}
	})
	t.Run("UnavailableNamesTheCurrency", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, respond(400, `{"detail":"USDCERC20 is not available for withdraw at this moment"}`))
		_, err := c.RequestWithdraw(context.Background(), nordpay.WithdrawRequest{})
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrCurrencyUnavailable) || !errors.As(err, &e) || e.Currency != "USDCERC20" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ValidationDetails", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, respond(422, `{"detail":[{"type":"missing","loc":["body","addresses_and_amounts",0,"amount"],"msg":"Field required","input":{}}]}`))
		_, err := c.RequestMultiWithdraw(context.Background(), nordpay.MultiWithdrawRequest{})
		var e *nordpay.Error
		if !errors.Is(err, nordpay.ErrValidation) || !errors.As(err, &e) || len(e.Details) != 1 ||
			e.Details[0].String() != "body.addresses_and_amounts.0.amount: Field required" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("HTMLFromAProxy", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, respond(502, `<html><body>Bad Gateway</body></html>`), func(o *nordpay.Options) { o.MaxRetries = -1 })
		_, err := c.Balances(context.Background())
		if !errors.Is(err, nordpay.ErrServer) || !strings.Contains(err.Error(), "Bad Gateway") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("EchoedKeyIsRedacted", func(t *testing.T) {
		t.Parallel()
		c, _ := rawSetup(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"detail":"Invalid API key %s"}`, r.Header.Get("X-API-KEY"))
		})
		_, err := c.Balances(context.Background())
		if !errors.Is(err, nordpay.ErrUnauthorized) || strings.Contains(err.Error(), "raw-key") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestBaseURLChecks(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ftp://x", "api.nord-pay.com", "https://user:pass@api.nord-pay.com/"} {
		if _, err := nordpay.New(nordpay.Options{BaseURL: u}); err == nil {
			t.Errorf("base URL %q accepted", u)
		} else if strings.Contains(err.Error(), "pass@") {
			t.Errorf("error leaks credentials: %v", err)
		}
	}
}
