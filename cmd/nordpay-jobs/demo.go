package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/pgtemp"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"
)

// demoDefaultOut is where the demo writes its files unless --out says otherwise: a folder
// in the current directory, where a newcomer looks first (and .gitignore ignores it).
const demoDefaultOut = "demo-out"

const demoLong = `Run nordpay-jobs end to end without touching anything real: nothing to configure, no
network beyond loopback, a few seconds.

It starts a throwaway PostgreSQL cluster (unless DATABASE_URL or --database-url names a
database, which must then hold no ledger yet) and the sandbox Nord PAY API in-process on a
loopback port, with a random API key that is never shown. The sandbox makes up a month of
business: the last whole UTC month, a few thousand invoice and wallet transactions in
eight currencies, about 5% of them unpaid, over balances the account held before it. Then,
printing each step as it goes, the demo

  - migrates the schema, syncs the month into the ledger (twice: nothing is booked twice),
    books the balances held before the month (ledger opening-balances --from-api), checks
    the ledger against the API's GET /balance/ and verifies its invariants;
  - exports the month's statement as CSV, XLSX, an hledger and a beancount journal;
  - writes the month's reconciliation report, which must reconcile;
  - fills in a payout sheet (6 rows in 4 currencies), imports it as alice, approves it as
    bob (and more people when payouts.approvers asks for them), pays it through the
    sandbox, and checks that every row was paid once and booked once;
  - verifies the ledger again and compares it with GET /balance/ after the payouts;
  - prints a summary: every file written (path, size, what it is) and the key figures.

The opening balances, the exports, the report and the payouts run the very commands the
demo prints (ledger opening-balances, export statement, report reconcile, payouts import,
approve, run), in-process, with DATABASE_URL,
NORDPAY_BASE_URL and NORDPAY_API_KEY set to the throwaway database and the sandbox: the
same command lines work against your own.

Files, in --out (default ./demo-out, created when missing; a second run replaces them):
  statement-YYYY-MM.csv, .xlsx, .journal, .beancount   the month's statement
  reconcile-YYYY-MM.xlsx                                the month's reconciliation report
  payouts-sample.xlsx                                   the payout sheet that was paid
  payouts-sample-checked.xlsx                           the same with status and errors columns
  demo-summary.json                                     the summary, for scripts

The database and the sandbox are removed when the demo ends; the files stay. Exit 0 when
every step passed, 1 when one failed (the step says why).`

func newDemoCommand(m *Main) *cobra.Command {
	opts := demoOptions{Seed: 1, Out: demoDefaultOut}
	cmd := &cobra.Command{
		Use:   "demo [--out DIR]",
		Short: "Run the whole cycle on a throwaway PostgreSQL and the built-in sandbox API",
		Long:  demoLong,
		Example: `  nordpay-jobs demo
  nordpay-jobs demo --out /tmp/nordpay-demo
  make demo`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(opts.Out) == "" {
				return usagef("--out: name a directory for the demo's files")
			}
			return runDemo(cmd.Context(), m, opts)
		}),
	}
	cmd.Flags().Int64Var(&opts.Seed, "seed", opts.Seed, "seed of the sandbox's generated data")
	cmd.Flags().StringVar(&opts.Out, "out", opts.Out, "directory for the files the demo writes (created when missing; the demo's own files in it are replaced)")
	return cmd
}

// demoOptions are the demo's flags.
type demoOptions struct {
	// Seed drives the sandbox's generated month.
	Seed int64
	// Out is the directory for the files, as given (relative paths stay relative in what
	// the demo prints, so that the commands it shows can be pasted).
	Out string
}

// demo is one run of the demo: where it writes, what it wrote, and what it found.
type demo struct {
	m    *Main
	opts demoOptions
	// dir is Out made absolute.
	dir   string
	step  int
	start time.Time
	// env is what the commands the demo runs read before the real environment: the
	// database, the sandbox's address and its key.
	env   map[string]string
	files []demoFile
	sum   demoSummary
}

// runDemo is the demo cycle; each step prints what it did, commands with their output.
func runDemo(ctx context.Context, m *Main, opts demoOptions) error {
	d := &demo{m: m, opts: opts, start: time.Now()}
	dir, err := filepath.Abs(opts.Out)
	if err != nil {
		return fmt.Errorf("demo: --out %s: %w", opts.Out, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: --out: %w", err)
	}
	d.dir = dir
	d.sum.Out, d.sum.Seed = dir, opts.Seed
	m.printf("nordpay-jobs demo: the whole cycle on a throwaway PostgreSQL and the built-in sandbox API.\n")
	m.printf("Files go to %s\n\n", dir)

	if m.Config.DatabaseURL == "" {
		cluster, err := pgtemp.Start(ctx, pgtemp.Options{})
		if err != nil {
			return fmt.Errorf("demo: starting a throwaway PostgreSQL: %w", err)
		}
		m.onClose(cluster.Stop)
		m.Config.DatabaseURL = cluster.URL()
		d.say("PostgreSQL: started a throwaway cluster at %s (data in %s; removed at the end)", db.RedactURL(cluster.URL()), cluster.Dir())
	} else {
		d.say("PostgreSQL: using %s", db.RedactURL(m.Config.DatabaseURL))
	}

	keyBytes := make([]byte, 16)
	if _, err := rand.Read(keyBytes); err != nil {
		return err
	}
	key := nordpay.Secret(hex.EncodeToString(keyBytes))
	sopts := demoSandboxOptions(m.Now(), opts.Seed)
	sopts.APIKey = key.Reveal()
	from, to := sopts.Invoices.Start, sopts.Invoices.End
	d.sum.Month = from.Format("2006-01")
	srv, err := sandbox.New(sopts)
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
	d.env = map[string]string{
		config.EnvDatabaseURL: m.Config.DatabaseURL,
		config.EnvBaseURL:     baseURL,
		config.EnvAPIKey:      key.Reveal(),
	}
	d.say("Sandbox API: serving on %s (seed %d; %s: %d invoice and %d wallet transactions, about %d%% unpaid; random key, not shown)",
		baseURL, opts.Seed, from.Format("January 2006"), sopts.Invoices.Count, sopts.Wallets.Count,
		int(sopts.Invoices.UnpaidRate*100+0.5))

	conn, err := m.OpenDBForMigration(ctx)
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
	store := ledger.NewStore(conn, m.Config.Ledger.Accounts)
	if existing, err := store.Balances(ctx, time.Time{}); err != nil {
		return err
	} else if len(existing) > 0 {
		return fmt.Errorf("demo: the database at %s already holds a ledger (%d account balances); the demo books made-up transactions, so give it an empty database, or unset DATABASE_URL for a throwaway one",
			db.RedactURL(m.Config.DatabaseURL), len(existing))
	}
	d.say("Schema: applied %d migration(s): %s", len(applied), strings.Join(names, ", "))

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
	d.say("API: %d currencies: %s", len(currencies), strings.Join(cnames, ", "))

	if err := d.sync(ctx, client, store, from); err != nil {
		return err
	}
	if err := d.openingBalances(ctx, store, from); err != nil {
		return err
	}
	if err := d.checkLedger(ctx, client, store, "Ledger: assets equal Nord PAY's GET /balance/"); err != nil {
		return err
	}
	if err := d.statements(ctx, from, to); err != nil {
		return err
	}
	if err := d.reconcile(ctx, from); err != nil {
		return err
	}
	if err := d.payouts(ctx, srv, currencies, store, to); err != nil {
		return err
	}
	if err := d.checkLedger(ctx, client, store, "Ledger after the payouts: assets equal Nord PAY's GET /balance/"); err != nil {
		return err
	}
	return d.finish()
}

// demoSandboxOptions is the sandbox of the demo: the default one, with its balances held
// before the first transaction (which the demo books as opening balances), its
// transactions moved to the last whole UTC month that ended longer ago than the longest
// late delay (so that every transaction of the month is visible by now).
func demoSandboxOptions(now time.Time, seed int64) sandbox.Options {
	opts := sandbox.DefaultOptions(now)
	opts.Seed = seed
	late := max(opts.Invoices.LateDelay, opts.Wallets.LateDelay)
	current, _ := jobs.MonthOf(now.Add(-late))
	from, to := current.AddDate(0, -1, 0), current
	opts.Invoices.Start, opts.Invoices.End = from, to
	opts.Wallets.Start, opts.Wallets.End = from, to
	return opts
}

// say prints the next numbered step.
func (d *demo) say(format string, args ...any) {
	d.step++
	d.m.printf("%2d. %s\n", d.step, fmt.Sprintf(format, args...))
}

// sync books the month twice, the second time to show that nothing is booked twice.
func (d *demo) sync(ctx context.Context, client *nordpay.Client, store *ledger.Store, from time.Time) error {
	m := d.m
	syncer := &jobs.Syncer{Client: client, Store: store, Chart: m.Config.Ledger.Accounts, Now: m.Now}
	opts := jobs.SyncOptions{From: from, Window: m.Config.Sync.Window.D(), Overlap: m.Config.Sync.Overlap.D()}
	res, err := syncer.Run(ctx, opts)
	if err != nil {
		return err
	}
	d.say("Sync: %d windows from %s to now; fetched %d, booked %d, %d already booked, %d unpaid, %d quarantined",
		res.Windows, from.Format("2006-01-02"), res.Fetched, res.Booked, res.AlreadyBooked, res.Unpaid, res.Quarantined)
	d.sum.Sync = demoSyncJSON{Fetched: res.Fetched, Booked: res.Booked, AlreadyBooked: res.AlreadyBooked,
		Unpaid: res.Unpaid, Quarantined: res.Quarantined}
	totals := append([]jobs.CurrencyTotal(nil), res.Totals...)
	sort.Slice(totals, func(i, j int) bool { return totals[i].Currency < totals[j].Currency })
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "currency\tbooked\tgross\tnetwork fees\tservice fees\tnet\t")
	for _, t := range totals {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", t.Currency, t.Entries, t.Gross, t.NetworkFees, t.ServiceFees, t.Net)
		d.sum.Booked = append(d.sum.Booked, demoBookedJSON{Currency: t.Currency, Transactions: t.Entries,
			Gross: t.Gross.String(), NetworkFees: t.NetworkFees.String(), ServiceFees: t.ServiceFees.String(), Net: t.Net.String()})
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d.indent(table.Bytes())
	again, err := syncer.Run(ctx, opts)
	if err != nil {
		return err
	}
	d.say("Sync again over the same range: booked %d, %d already booked (nothing is booked twice)", again.Booked, again.AlreadyBooked)
	if again.Booked != 0 {
		return fmt.Errorf("demo: the second sync booked %d transactions again", again.Booked)
	}
	return nil
}

// openingBalances books what the sandbox held before the month, with `ledger
// opening-balances --from-api` right after the sync (the ledger then holds the month up to
// now), at the month's first instant.
func (d *demo) openingBalances(ctx context.Context, store *ledger.Store, from time.Time) error {
	d.say("Opening balances: what Nord PAY held before %s, booked once per currency (GET /balance/ less the ledger's assets)", from.Format(time.DateOnly))
	if _, err := d.command(ctx, true, "ledger", "opening-balances", "--at", from.Format(time.DateOnly), "--from-api", "--by", "alice"); err != nil {
		return err
	}
	openings, err := store.Openings(ctx)
	if err != nil {
		return err
	}
	d.sum.Openings = map[string]string{}
	for cur, o := range openings {
		d.sum.Openings[cur] = o.Amount.String()
	}
	return nil
}

// checkLedger compares the ledger's assets with GET /balance/, to the last decimal, and
// runs `ledger verify`'s checks; what says which moment it is.
func (d *demo) checkLedger(ctx context.Context, client *nordpay.Client, store *ledger.Store, what string) error {
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
		if b.Account == d.m.Config.Ledger.Accounts.AssetsAccount(b.Currency) {
			assets[b.Currency] = b.Balance
		}
	}
	var differ []string
	api := map[string]string{}
	for _, b := range balances {
		api[b.Currency] = b.Balance.String()
		if !assets[b.Currency].Equal(b.Balance) {
			differ = append(differ, fmt.Sprintf("%s ledger %s, Nord PAY %s", b.Currency, assets[b.Currency], b.Balance))
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("demo: the ledger disagrees with GET /balance/: %s", strings.Join(differ, "; "))
	}
	d.say("%s to the last decimal in all %d currencies: %s", what, len(balances), formatAmounts(assets))
	d.sum.Balances = api
	rep, err := store.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK() {
		var failed []string
		for _, c := range rep.Checks {
			if !c.OK {
				failed = append(failed, fmt.Sprintf("%s (%d)", c.Name, c.Offenders))
			}
		}
		return fmt.Errorf("demo: ledger verify failed: %s", strings.Join(failed, "; "))
	}
	d.say("Ledger: verify passed %d invariant checks (what nordpay-jobs ledger verify runs)", len(rep.Checks))
	d.sum.Verify = demoVerifyJSON{Passed: true, Checks: len(rep.Checks)}
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
