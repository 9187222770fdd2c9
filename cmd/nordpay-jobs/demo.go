package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/pgtemp"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"
)

func newDemoCommand(m *Main) *cobra.Command {
	var seed int64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the cycle on a throwaway PostgreSQL and the built-in sandbox API",
		Long: `Run nordpay-jobs end to end without touching anything real.

It starts a throwaway PostgreSQL cluster (unless DATABASE_URL or --database-url names one),
starts the sandbox Nord PAY API in-process on a loopback port with a random key, migrates the
schema, syncs the sandbox's month of transactions into the ledger (twice, to show nothing is
booked twice), checks the ledger against the API's balances and its own invariants, prints
what it did, and removes everything it started.`,
		Example: `  nordpay-jobs demo
  make demo`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), m, seed)
		}),
	}
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the sandbox's generated data")
	return cmd
}

// runDemo is the demo cycle; each step prints one line of what it did.
func runDemo(ctx context.Context, m *Main, seed int64) error {
	step := 0
	say := func(format string, args ...any) {
		step++
		m.printf("%2d. %s\n", step, fmt.Sprintf(format, args...))
	}
	start := time.Now()

	if m.Config.DatabaseURL == "" {
		cluster, err := pgtemp.Start(ctx, pgtemp.Options{})
		if err != nil {
			return fmt.Errorf("demo: starting a throwaway PostgreSQL: %w", err)
		}
		m.onClose(cluster.Stop)
		m.Config.DatabaseURL = cluster.URL()
		say("PostgreSQL: started a throwaway cluster at %s (data in %s; removed at the end)", db.RedactURL(cluster.URL()), cluster.Dir())
	} else {
		say("PostgreSQL: using %s", db.RedactURL(m.Config.DatabaseURL))
	}

	keyBytes := make([]byte, 16)
	if _, err := rand.Read(keyBytes); err != nil {
		return err
	}
	key := nordpay.Secret(hex.EncodeToString(keyBytes))
	opts := sandbox.DefaultOptions(m.Now())
	opts.Seed = seed
	opts.APIKey = key.Reveal()
	opts.InitialBalances = nil // the ledger then explains every balance from the first transaction
	srv, err := sandbox.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go httpSrv.Serve(ln) //nolint:errcheck // Serve returns when Close is called below.
	m.onClose(httpSrv.Close)
	baseURL := "http://" + ln.Addr().String() + "/"
	say("Sandbox API: serving on %s (seed %d; %d invoice and %d wallet transactions from %s to %s; random key, not shown)",
		baseURL, seed, opts.Invoices.Count, opts.Wallets.Count,
		opts.Invoices.Start.Format("2006-01-02"), opts.Invoices.End.Format("2006-01-02"))

	conn, err := m.OpenDB(ctx)
	if err != nil {
		return err
	}
	applied, err := db.Migrate(ctx, conn.DB)
	if err != nil {
		return err
	}
	names := make([]string, len(applied))
	for i, mig := range applied {
		names[i] = mig.String()
	}
	say("Schema: applied %d migration(s): %s", len(applied), strings.Join(names, ", "))

	client, err := nordpay.New(nordpay.Options{BaseURL: baseURL, APIKey: key, Logger: m.Logger})
	if err != nil {
		return err
	}
	currencies, err := client.Currencies(ctx)
	if err != nil {
		return err
	}
	cnames := make([]string, len(currencies))
	for i, c := range currencies {
		cnames[i] = c.Name
	}
	say("API: %d currencies: %s", len(currencies), strings.Join(cnames, ", "))

	store := ledger.NewStore(conn, m.Config.Ledger.Accounts)
	syncer := &jobs.Syncer{Client: client, Store: store, Chart: m.Config.Ledger.Accounts, Now: m.Now}
	syncOpts := jobs.SyncOptions{From: opts.Invoices.Start, Window: m.Config.Sync.Window.D(), Overlap: m.Config.Sync.Overlap.D()}
	res, err := syncer.Run(ctx, syncOpts)
	if err != nil {
		return err
	}
	say("Sync: %d windows from %s; fetched %d, booked %d, %d already booked, %d unpaid, %d quarantined",
		res.Windows, syncOpts.From.Format("2006-01-02"), res.Fetched, res.Booked, res.AlreadyBooked, res.Unpaid, res.Quarantined)
	again, err := syncer.Run(ctx, syncOpts)
	if err != nil {
		return err
	}
	say("Sync again over the same range: booked %d, %d already booked (nothing is booked twice)", again.Booked, again.AlreadyBooked)

	balances, err := client.Balances(ctx)
	if err != nil {
		return err
	}
	ours, err := store.Balances(ctx, time.Time{})
	if err != nil {
		return err
	}
	assets := map[string]decimal.Decimal{}
	for _, b := range ours {
		if b.Account == m.Config.Ledger.Accounts.AssetsAccount(b.Currency) {
			assets[b.Currency] = b.Balance
		}
	}
	var differ []string
	for _, b := range balances {
		if !assets[b.Currency].Equal(b.Balance) {
			differ = append(differ, fmt.Sprintf("%s ledger %s, Nord PAY %s", b.Currency, assets[b.Currency], b.Balance))
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("demo: the ledger disagrees with GET /balance/: %s", strings.Join(differ, "; "))
	}
	say("Ledger: assets equal Nord PAY's GET /balance/ to the last decimal in all %d currencies: %s", len(balances), formatAmounts(assets))
	rep, err := store.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("demo: ledger verify failed: %+v", rep)
	}
	say("Ledger: verify passed %d invariant checks", len(rep.Checks))
	say("Done in %s. The throwaway database and the sandbox are removed on exit.", time.Since(start).Round(time.Millisecond))
	return nil
}

// formatAmounts renders "BTC 0.5, USDTBEP20 12.25" in currency order.
func formatAmounts(m map[string]decimal.Decimal) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + m[k].String()
	}
	return strings.Join(parts, ", ")
}
