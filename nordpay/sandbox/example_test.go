package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// Example runs a sandbox with a fixed clock and no generated transactions, asks for a batch
// quote over HTTP, confirms it, and reads back what the sandbox paid.
func Example() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opts := sandbox.DefaultOptions(now)
	opts.APIKey = "demo-key"
	opts.Now = func() time.Time { return now }
	opts.Invoices.Count, opts.Wallets.Count = 0, 0
	s, err := sandbox.New(opts)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	post := func(path, body string) []byte {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("X-API-KEY", "demo-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	var q nordpay.MultiWithdrawQuote
	_ = nordpay.Unmarshal(post("/balance/withdraw/multiple/request",
		`{"currency":"USDTTRC20","addresses_and_amounts":[{"address":"TXa","amount":100},{"address":"TXb","amount":250}]}`), &q)
	fmt.Println("fee", q.ServiceFee, "expires", q.ExpiresAt.Format(time.RFC3339))
	fmt.Println(string(post("/balance/withdraw/multiple/confirm", `{"identifier":"`+q.Identifier+`"}`)))
	for _, p := range s.Payments() {
		fmt.Println(p.Row, p.Address, p.Amount, p.ServiceFee)
	}
	fmt.Println("balance", s.Balances()["USDTTRC20"], "was", opts.InitialBalances["USDTTRC20"])
	// Output:
	// fee 3.75 expires 2026-03-01T12:05:00Z
	// {"detail":"Withdrawal request created and waiting for admin approval","status":"pending","id":1}
	// 0 TXa 100 1.5
	// 1 TXb 250 2.25
	// balance 9650 was 10000
}
