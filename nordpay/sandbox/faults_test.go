package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (s *Server) quoteCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.quotes)
}

// rawGet is a GET that reports transport and body errors instead of failing.
func (e *env) rawGet(client *http.Client, path string) (int, http.Header, []byte, error) {
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("X-API-KEY", testKey)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func TestScriptedFaults(t *testing.T) {
	t.Parallel()
	t.Run("Status", func(t *testing.T) {
		e := setup(t, func(o *Options) { o.Faults.RetryAfter = 2500 * time.Millisecond })
		e.s.InjectFault("GET /balance/", Fault429)
		e.s.InjectFault("GET /balance", Fault500)
		e.s.InjectFault("get /balance", Fault502)
		code, h, b, err := e.rawGet(e.client, "/balance")
		if err != nil || code != 429 || h.Get("Retry-After") != "3" || detail(t, b) != "Too Many Requests" {
			t.Errorf("429: %v %d %v %s", err, code, h, b)
		}
		code, h, b, _ = e.rawGet(e.client, "/balance/")
		if code != 500 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") || string(b) != "Internal Server Error" {
			t.Errorf("500: %d %v %s", code, h, b)
		}
		code, h, b, _ = e.rawGet(e.client, "/balance/")
		if code != 502 || h.Get("Content-Type") != "text/html" || !strings.Contains(string(b), "502 Bad Gateway") {
			t.Errorf("502: %d %v %s", code, h, b)
		}
		if code, _ := e.get("/balance/"); code != 200 {
			t.Errorf("after the queue: %d", code)
		}
		if n := e.s.Requests("GET /balance/"); n != 4 {
			t.Errorf("Requests = %d, want 4 (faulted ones count)", n)
		}
	})
	t.Run("RetryAfterDefault", func(t *testing.T) {
		e := setup(t, nil)
		e.s.InjectFault("/currencies/rates", Fault429) // a bare path matches any method
		_, h, _, _ := e.rawGet(e.client, "/currencies/rates")
		if h.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", h.Get("Retry-After"))
		}
	})
	t.Run("DropHasNoEffect", func(t *testing.T) {
		e := withdrawEnv(t)
		e.s.InjectFault("POST /balance/withdraw/multiple/request", FaultDrop)
		resp, _, err := e.request("POST", "/balance/withdraw/multiple/request", `{"currency":"BTC","addresses_and_amounts":[{"address":"a","amount":0.001}]}`, testKey)
		if err == nil {
			t.Fatalf("dropped request answered %d", resp.StatusCode)
		}
		if e.s.quoteCount() != 0 || e.s.Requests("POST /balance/withdraw/multiple/request") != 1 {
			t.Errorf("drop had an effect or was not counted")
		}
	})
	t.Run("Slow", func(t *testing.T) {
		e := setup(t, func(o *Options) { o.Faults.SlowDelay = 300 * time.Millisecond })
		e.s.InjectFault("GET /balance/", FaultSlow)
		impatient := &http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		if _, _, _, err := e.rawGet(impatient, "/balance/"); err == nil || !strings.Contains(err.Error(), "Timeout") {
			t.Errorf("slow answer did not time out: %v", err)
		}
		e.s.InjectFault("GET /balance/", FaultSlow)
		start := time.Now()
		code, _, _, err := e.rawGet(e.client, "/balance/")
		if err != nil || code != 200 || time.Since(start) < 300*time.Millisecond {
			t.Errorf("slow answer: %v %d after %s", err, code, time.Since(start))
		}
	})
	t.Run("LostConfirm", func(t *testing.T) {
		e := withdrawEnv(t)
		q, _ := e.quote("/balance/withdraw/multiple/request", `{"currency":"USDTBEP20","addresses_and_amounts":[{"address":"a","amount":10},{"address":"b","amount":20}]}`)
		e.s.InjectFault("POST /balance/withdraw/multiple/confirm", FaultLostAnswer)
		body := fmt.Sprintf(`{"identifier":%q}`, q.Identifier)
		if resp, _, err := e.request("POST", "/balance/withdraw/multiple/confirm", body, testKey); err == nil {
			t.Fatalf("lost answer arrived: %d", resp.StatusCode)
		}
		if p := e.s.Payments(); len(p) != 2 {
			t.Errorf("confirm did not execute: %+v", p)
		}
		if got := e.balances()["USDTBEP20"]; !got.Equal(dec("970")) {
			t.Errorf("balance %s", got)
		}
		if code, b := e.post("/balance/withdraw/multiple/confirm", body); code != 404 || detail(t, b) != "Withdraw request not found" {
			t.Errorf("retried confirm: %d %s", code, b)
		}
	})
	t.Run("LostRequestAnswer", func(t *testing.T) {
		e := withdrawEnv(t)
		e.s.InjectFault("POST /balance/withdraw/request", FaultLostAnswer)
		if _, _, err := e.request("POST", "/balance/withdraw/request", `{"currency":"BTC","address":"a","amount":0.001}`, testKey); err == nil {
			t.Fatal("lost answer arrived")
		}
		if e.s.quoteCount() != 1 || len(e.s.Payments()) != 0 {
			t.Error("the quote should exist, and nothing be paid")
		}
	})
	t.Run("MidStream", func(t *testing.T) {
		e := setup(t, nil)
		for _, path := range []string{"/invoice/transactions", "/wallet/transactions?start_date=2026-02-27", "/invoice/transactions?start_date=2030-01-01"} {
			route := "GET " + strings.SplitN(path, "?", 2)[0]
			e.s.InjectFault(route, FaultMidStream)
			code, _, b, err := e.rawGet(e.client, path)
			if code != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: %d %v", path, code, err)
			}
			if len(b) == 0 || b[0] != '[' || json.Valid(b) {
				t.Errorf("%s: partial body %.80q is not a cut array", path, b)
			}
			if _, _, b, err := e.rawGet(e.client, path); err != nil || !json.Valid(b) {
				t.Errorf("%s: next request: %v", path, err)
			}
		}
		e.s.InjectFault("GET /invoice/{identifier}/transactions", FaultMidStream)
		if _, _, _, err := e.rawGet(e.client, "/invoice/x/transactions"); err != nil {
			t.Errorf("a 404 has no stream to cut: %v", err)
		}
		e.s.InjectFault("GET /balance/", FaultMidStream)
		if _, _, b, err := e.rawGet(e.client, "/balance/"); err == nil || json.Valid(b) {
			t.Errorf("balance not cut: %v", err)
		}
	})
	t.Run("Latency", func(t *testing.T) {
		e := setup(t, func(o *Options) { o.Faults.Latency = 80 * time.Millisecond })
		e.s.InjectFault("GET /currencies/", Fault500)
		for range 2 {
			start := time.Now()
			_, _, _, err := e.rawGet(e.client, "/currencies/")
			if err != nil || time.Since(start) < 80*time.Millisecond {
				t.Errorf("answer after %s: %v", time.Since(start), err)
			}
		}
	})
}

func TestRandomFaults(t *testing.T) {
	t.Parallel()
	sequence := func(f Faults) []string {
		e := setup(t, func(o *Options) { o.Faults = f })
		var out []string
		for range 30 {
			code, _, _, err := e.rawGet(e.client, "/currencies/")
			if err != nil {
				out = append(out, "error")
			} else {
				out = append(out, fmt.Sprint(code))
			}
		}
		return out
	}
	all := sequence(Faults{Rate: 1})
	kinds := map[string]int{}
	for _, s := range all {
		kinds[s]++
	}
	if kinds["429"] == 0 || kinds["500"] == 0 || kinds["502"] == 0 || kinds["200"] != 0 {
		t.Errorf("Rate 1: %v", kinds)
	}
	half := sequence(Faults{Rate: 0.3, DropRate: 0.2})
	if again := sequence(Faults{Rate: 0.3, DropRate: 0.2}); strings.Join(half, ",") != strings.Join(again, ",") {
		t.Errorf("same seed, different faults:\n%v\n%v", half, again)
	}
	counts := map[string]int{}
	for _, s := range half {
		counts[s]++
	}
	if counts["200"] == 0 || counts["error"] == 0 || counts["200"] == 30 {
		t.Errorf("Rate 0.3 + DropRate 0.2: %v", counts)
	}
	for _, s := range sequence(Faults{DropRate: 1}) {
		if s != "error" {
			t.Fatalf("DropRate 1 answered %s", s)
		}
	}

	t.Run("LostConfirmRate", func(t *testing.T) {
		e := setup(t, func(o *Options) { o.Faults.LostConfirmRate = 1 })
		q, _ := e.quote("/balance/withdraw/request", `{"currency":"USDTBEP20","address":"a","amount":10}`)
		if _, _, err := e.request("POST", "/balance/withdraw/confirm", `{"identifier":"`+q.Identifier+`"}`, testKey); err == nil {
			t.Error("confirm answered")
		}
		if len(e.s.Payments()) != 1 {
			t.Error("confirm did not execute")
		}
	})
	t.Run("MidStreamDropRate", func(t *testing.T) {
		e := setup(t, func(o *Options) { o.Faults.MidStreamDropRate = 1 })
		if _, _, _, err := e.rawGet(e.client, "/wallet/transactions"); err == nil {
			t.Error("stream not cut")
		}
		if _, _, _, err := e.rawGet(e.client, "/balance/"); err != nil {
			t.Errorf("a non-stream was cut: %v", err)
		}
	})
}
