package jobs_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// serveSandbox builds a sandbox from opts, serves it over loopback HTTP until the test ends,
// and returns it with a client that uses opts.APIKey and never sleeps between retries.
func serveSandbox(tb testing.TB, opts sandbox.Options) (*sandbox.Server, *nordpay.Client) {
	tb.Helper()
	sb, err := sandbox.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	client, err := nordpay.New(nordpay.Options{BaseURL: srv.URL, APIKey: nordpay.Secret(opts.APIKey),
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		tb.Fatal(err)
	}
	return sb, client
}
