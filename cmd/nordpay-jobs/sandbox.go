package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/spf13/cobra"
)

// sandboxFlags are the knobs of `nordpay-jobs sandbox`.
type sandboxFlags struct {
	addr            string
	seed            int64
	faultRate       float64
	dropRate        float64
	lostConfirmRate float64
	latency         time.Duration
	days            int
	invoices        int
	walletTxs       int
	quoteTTL        time.Duration
}

func newSandboxCommand(m *Main) *cobra.Command {
	var f sandboxFlags
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve a fake Nord PAY API for local testing",
		Long: `Serve a fake Nord PAY API: every endpoint of the vendor's quickstart, in the wire shapes of
ASSUMPTIONS.md, from in-memory state.

It generates a deterministic set of paid and unpaid invoice and wallet transactions (the same
--seed gives the same data), keeps balances that move with payments and withdrawals, answers
withdraw quotes that expire, and records every payout it makes. Faults can be injected to see
how nordpay-jobs copes: --fault-rate answers 429/500/502 at random, --drop-rate closes
connections, --lost-confirm-rate executes a confirm and then loses its answer.

The API key it accepts is read from NORDPAY_API_KEY. GET /currencies/ and /currencies/rates
answer without a key, as the vendor's example shows. Stop it with Ctrl-C.`,
		Example: `  NORDPAY_API_KEY=k nordpay-jobs sandbox --addr 127.0.0.1:8089
  curl -H 'X-API-KEY: k' 127.0.0.1:8089/balance/

  # a flaky API: 10% of calls fail, confirms lose their answer 5% of the time
  NORDPAY_API_KEY=k nordpay-jobs sandbox --fault-rate 0.1 --lost-confirm-rate 0.05`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if err := m.Config.RequireAPIKey(); err != nil {
				return fmt.Errorf("sandbox: %w: it is the key the sandbox will accept", err)
			}
			opts := f.options(m.Now())
			opts.APIKey = m.Config.NordPay.APIKey.Reveal()
			srv, err := sandbox.New(opts)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", f.addr)
			if err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			m.printf("Nord PAY sandbox listening on http://%s/ (seed %d; %d days of invoice and wallet transactions to now, and more arriving as time passes)\n",
				ln.Addr(), f.seed, f.days)
			return serveUntilDone(cmd.Context(), ln, srv)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8089", "address to listen on")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the generated data (same seed, same data)")
	fl.Float64Var(&f.faultRate, "fault-rate", 0, "share of calls answered 429, 500 or 502 (0 to 1)")
	fl.Float64Var(&f.dropRate, "drop-rate", 0, "share of calls whose connection is closed without an answer (0 to 1)")
	fl.Float64Var(&f.lostConfirmRate, "lost-confirm-rate", 0, "share of confirms that execute and then lose their answer (0 to 1)")
	fl.DurationVar(&f.latency, "latency", 0, "delay added to every answer")
	fl.IntVar(&f.days, "days", 30, "days of generated history, ending now")
	fl.IntVar(&f.invoices, "invoices", -1, "invoice transactions over the --days of history (default: the demo volume)")
	fl.IntVar(&f.walletTxs, "wallet-transactions", -1, "wallet transactions over the --days of history (default: the demo volume)")
	fl.DurationVar(&f.quoteTTL, "quote-ttl", 0, "how long a withdraw quote stays valid (default 5m)")
	return cmd
}

func (f *sandboxFlags) check() error {
	for name, v := range map[string]float64{"--fault-rate": f.faultRate, "--drop-rate": f.dropRate, "--lost-confirm-rate": f.lostConfirmRate} {
		if v < 0 || v > 1 {
			return usagef("%s %v: want a share between 0 and 1", name, v)
		}
	}
	if f.days < 1 {
		return usagef("--days %d: want at least 1", f.days)
	}
	return nil
}

// futureDays is how far past now the sandbox keeps generating transactions.
const futureDays = 365

// options turns the flags into sandbox options on top of the demo defaults.
func (f *sandboxFlags) options(now time.Time) sandbox.Options {
	opts := sandbox.DefaultOptions(now)
	opts.Seed = f.seed
	// History of --days up to now, and a year more at the same pace: transactions are served
	// once their time has come, so a long-running sandbox keeps receiving payments.
	start := now.Add(-time.Duration(f.days) * 24 * time.Hour)
	end := now.Add(futureDays * 24 * time.Hour)
	scale := func(g *sandbox.Generator, n int) {
		perDay := float64(g.Count) / (g.End.Sub(g.Start).Hours() / 24)
		if n >= 0 {
			perDay = float64(n) / float64(f.days)
		}
		g.Start, g.End = start, end
		g.Count = int(perDay * float64(f.days+futureDays))
	}
	scale(&opts.Invoices, f.invoices)
	scale(&opts.Wallets, f.walletTxs)
	opts.Faults.Rate = f.faultRate
	opts.Faults.DropRate = f.dropRate
	opts.Faults.LostConfirmRate = f.lostConfirmRate
	opts.Faults.Latency = f.latency
	if f.quoteTTL > 0 {
		opts.QuoteTTL = f.quoteTTL
	}
	return opts
}

// serveUntilDone serves h on ln until ctx ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
