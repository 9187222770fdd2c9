package sandbox

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// t0 is the sandbox clock at the start of every test.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testKey = "test-key-5f3a9c"

// env is one sandbox behind a real HTTP server, with a raw client.
type env struct {
	t      *testing.T
	s      *Server
	srv    *httptest.Server
	clock  *Clock
	client *http.Client
}

// setup starts the default sandbox at t0, after mutate (may be nil) adjusts its options.
func setup(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	c := NewClock(t0)
	o := DefaultOptions(t0)
	o.APIKey = testKey
	o.Now = c.Now
	if mutate != nil {
		mutate(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	// No keep-alive: net/http would otherwise silently retry a GET whose reused connection
	// was dropped, hiding the fault under test.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	return &env{t: t, s: s, srv: srv, clock: c, client: client}
}

// request sends a request with the test key (key "" sends none) and returns the answer.
func (e *env) request(method, path, body, key string) (*http.Response, []byte, error) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// do is request with the right key, failing the test on a transport error.
func (e *env) do(method, path, body string) (int, []byte) {
	e.t.Helper()
	resp, b, err := e.request(method, path, body, testKey)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, b
}

func (e *env) get(path string) (int, []byte) { e.t.Helper(); return e.do("GET", path, "") }

func (e *env) post(path, body string) (int, []byte) { e.t.Helper(); return e.do("POST", path, body) }

// mustGet fetches and decodes a 200 answer.
func mustGet[T any](e *env, path string) T {
	e.t.Helper()
	code, b := e.get(path)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	var v T
	if err := nordpay.Unmarshal(b, &v); err != nil {
		e.t.Fatalf("GET %s: decode: %v\n%.500s", path, err, b)
	}
	return v
}

// balances is GET /balance/ as a map.
func (e *env) balances() map[string]decimal.Decimal {
	e.t.Helper()
	out := map[string]decimal.Decimal{}
	for _, b := range mustGet[[]nordpay.Balance](e, "/balance/") {
		out[b.Currency] = b.Balance
	}
	return out
}

// detail decodes {"detail": "..."}.
func detail(t *testing.T, b []byte) string {
	t.Helper()
	var v struct {
		Detail string `json:"detail"`
	}
	if err := nordpay.Unmarshal(b, &v); err != nil {
		t.Fatalf("not a detail answer: %v: %s", err, b)
	}
	return v.Detail
}

// vdetails decodes a 422 body keeping loc items as JSON (strings and numbers).
type vd struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx"`
}

func vdetailsOf(t *testing.T, b []byte) []vd {
	t.Helper()
	var v struct {
		Detail []vd `json:"detail"`
	}
	if err := nordpay.Unmarshal(b, &v); err != nil {
		t.Fatalf("not a 422 answer: %v: %s", err, b)
	}
	return v.Detail
}

func locString(l []any) string {
	var parts []string
	for _, p := range l {
		switch p := p.(type) {
		case string:
			parts = append(parts, p)
		case float64:
			parts = append(parts, decimal.NewFromFloat(p).String())
		}
	}
	return strings.Join(parts, ".")
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// canon renders a transaction with every decimal in its shortest form, so that two
// transactions with the same values compare equal whatever their spelling on the wire.
func canon(t *testing.T, tx nordpay.Transaction) string {
	t.Helper()
	b, err := nordpay.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
