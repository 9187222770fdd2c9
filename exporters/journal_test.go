package exporters_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/db/dbtest"
	"github.com/nordpay/nordpay-jobs/exporters"
	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
)

// The journal tests run the real programs: hledger (check, bal, tags) and beancount
// (bean-check, bean-query). `make test` installs them (scripts/ensure-tools.sh); a test
// without them fails, never skips.

// journalBundle is what a journal test needs: a fresh migrated database and a Store on it.
type journalBundle struct {
	ctx   context.Context
	db    *sqlx.DB
	store *ledger.Store
}

func journalSetup(t *testing.T) journalBundle {
	t.Helper()
	conn := dbtest.New(t)
	b := journalBundle{ctx: context.Background(), db: conn, store: ledger.NewStore(conn, ledger.DefaultChart())}
	err := b.store.SaveCurrencies(b.ctx, []nordpay.Currency{
		{Name: "USDTBEP20", Token: "USDT", Network: "BEP20", Decimals: 18},
		{Name: "BTC", Token: "BTC", Network: "BTC", Decimals: 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The period most tests export: October 2026.
var (
	journalFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	journalTo   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

func journalDec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// journalPayment is the entry of a paid invoice (or wallet) transaction, booked by the default
// chart, with USD values equal to the amounts.
func journalPayment(source, id, currency string, at time.Time, gross, network, service, label string) ledger.Entry {
	tx := &nordpay.Transaction{
		ID:            nordpay.ID(id),
		SourceType:    source,
		Source:        nordpay.Source{ID: nordpay.ID("src-" + id), Label: label, Address: "0xaddr-" + id},
		Currency:      nordpay.CurrencyRef{Currency: nordpay.Currency{Name: currency}},
		Amount:        journalDec(gross),
		AmountUSD:     journalDec(gross),
		NetworkFee:    journalDec(network),
		NetworkFeeUSD: journalDec(network),
		ServiceFee:    journalDec(service),
		ServiceFeeUSD: journalDec(service),
		TxHash:        "0xhash-" + id,
		IsPaid:        true,
		CreatedAt:     nordpay.Time{Time: at},
	}
	return ledger.DefaultChart().TransactionEntry(tx, source)
}

// journalWithdrawal is the entry of a paid payout row (Dr payouts, Dr fee, Cr assets).
func journalWithdrawal(id, currency string, at time.Time, amount, fee, reference string) ledger.Entry {
	return ledger.DefaultChart().WithdrawalEntry(ledger.Withdrawal{
		ExternalID: id, Currency: currency, Address: "0xpayee-" + id, Reference: reference,
		Amount: journalDec(amount), ServiceFee: journalDec(fee), Identifier: "req-" + id, At: at,
	})
}

func (b journalBundle) post(t *testing.T, entries ...ledger.Entry) {
	t.Helper()
	for _, e := range entries {
		if _, _, err := b.store.Post(b.ctx, e); err != nil {
			t.Fatalf("post %s/%s: %v", e.Source, e.ExternalID, err)
		}
	}
}

// write writes a journal into a file of the test's own and returns its path.
func (b journalBundle) write(t *testing.T, format exporters.JournalFormat, opts exporters.JournalOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := exporters.WriteJournal(b.ctx, &buf, b.store, format, opts); err != nil {
		t.Fatalf("WriteJournal %s: %v", format, err)
	}
	ext := map[exporters.JournalFormat]string{exporters.Hledger: ".journal", exporters.Beancount: ".beancount"}[format]
	path := filepath.Join(t.TempDir(), "ledger"+ext)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// journalBalances are balances by "account currency", zero balances left out.
type journalBalances map[string]decimal.Decimal

func (m journalBalances) add(account, currency string, amount decimal.Decimal) {
	k := account + " " + currency
	m[k] = m[k].Add(amount)
	if m[k].IsZero() {
		delete(m, k)
	}
}

// ledgerBalances are store.Balances(at), of one currency when currency is set.
func (b journalBundle) ledgerBalances(t *testing.T, at time.Time, currency string) journalBalances {
	t.Helper()
	bs, err := b.store.Balances(b.ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	out := journalBalances{}
	for _, x := range bs {
		if currency == "" || x.Currency == currency {
			out.add(x.Account, x.Currency, x.Balance)
		}
	}
	return out
}

func journalEqual(t *testing.T, what string, got, want journalBalances) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || !g.Equal(w) {
			t.Errorf("%s: %s is %s, want %s", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s is %s, want nothing", what, k, g)
		}
	}
	if len(want) == 0 {
		t.Errorf("%s: no balances to compare; the test books nothing", what)
	}
}

// journalRun runs one of the accounting programs; a missing program fails the test.
func journalRun(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: the journal tests check journals with it. Run `make test` "+
			"(scripts/ensure-tools.sh installs hledger and beancount) or apt-get install hledger beancount.", name)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if name == "bean-check" && stdout.Len()+stderr.Len() > 0 {
		return stdout.String(), fmt.Errorf("bean-check printed:\n%s%s", stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func journalMust(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := journalRun(t, name, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, journalHead(t, args))
	}
	return out
}

// journalHead is the start of the journal a failed command read, for the test log.
func journalHead(t *testing.T, args []string) string {
	for _, a := range args {
		if strings.HasSuffix(a, ".journal") || strings.HasSuffix(a, ".beancount") {
			data, err := os.ReadFile(a)
			if err != nil {
				return err.Error()
			}
			if len(data) > 6000 {
				data = data[:6000]
			}
			return "journal:\n" + string(data)
		}
	}
	return ""
}

func journalCSV(t testing.TB, out string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("reading CSV: %v\n%s", err, out)
	}
	return rows
}

// hledgerCheck runs hledger's basic and strict checks (accounts and commodities declared, no
// inferred conversions) and ordereddates.
func hledgerCheck(t *testing.T, path string) {
	t.Helper()
	journalMust(t, "hledger", "-f", path, "check", "--strict", "ordereddates")
}

// hledgerBalances runs `hledger bal` on the journal (optionally narrowed by a query).
func hledgerBalances(t *testing.T, path string, query ...string) journalBalances {
	t.Helper()
	args := append([]string{"-f", path, "bal", "-O", "csv", "--layout=bare", "--no-total"}, query...)
	rows := journalCSV(t, journalMust(t, "hledger", args...))
	names := hledgerNames(t, path)
	out := journalBalances{}
	for _, r := range rows[1:] { // "account","commodity","balance"
		d, err := decimal.NewFromString(r[2])
		if err != nil {
			t.Fatalf("hledger bal: %q is not a decimal: %v", r[2], err)
		}
		account := r[0]
		if ours, ok := names[account]; ok {
			account = ours
		}
		out.add(account, r[1], d)
	}
	return out
}

var hledgerAccountRe = regexp.MustCompile(`(?m)^account (\S+)  ; type: [ALERX], ledger_account: (.*)$`)

// hledgerNames maps the journal's hledger account names that differ from ours back to ours,
// from the ledger_account tags of its account directives.
func hledgerNames(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, m := range hledgerAccountRe.FindAllStringSubmatch(string(data), -1) {
		ours, err := url.PathUnescape(m[2])
		if err != nil {
			t.Fatalf("ledger_account %q: %v", m[2], err)
		}
		names[m[1]] = ours
	}
	return names
}

// beancountCheck runs bean-check, which also checks every balance directive.
func beancountCheck(t *testing.T, path string) {
	t.Helper()
	journalMust(t, "bean-check", path)
}

// beancountNames maps the journal's beancount account and commodity names back to ours, from
// the ledger_account and ledger_currency metadata of its open and commodity directives.
var (
	beancountOpenRe      = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d open (\S+)[^\n]*\n  ledger_account: "([^"\\]*)"`)
	beancountCommodityRe = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d commodity (\S+)\n  precision: \d+\n(?:  ledger_currency: "([^"\\]*)"\n)?`)
)

func beancountNames(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"Equity:Opening-Balances": "equity:opening-balances"}
	for _, m := range beancountOpenRe.FindAllStringSubmatch(string(data), -1) {
		names[m[1]] = m[2]
	}
	for _, m := range beancountCommodityRe.FindAllStringSubmatch(string(data), -1) {
		names[m[1]] = m[1]
		if m[2] != "" {
			names[m[1]] = m[2]
		}
	}
	return names
}

// beancountBalances runs bean-query's sum of positions per account (where, if set, narrows
// the postings), in our names. The positions are what beancount's reports show: they must
// be exact, not only the arithmetic behind them.
func beancountBalances(t *testing.T, path, where string) journalBalances {
	t.Helper()
	q := "SELECT account, sum(position) AS total"
	if where != "" {
		q += " WHERE " + where
	}
	q += " GROUP BY account"
	rows := journalCSV(t, journalMust(t, "bean-query", "-f", "csv", path, q))
	names := beancountNames(t, path)
	out := journalBalances{}
	for _, r := range rows[1:] {
		account := strings.TrimSpace(r[0])
		for _, pos := range strings.Split(r[1], ",") {
			f := strings.Fields(pos)
			if len(f) == 0 {
				continue
			}
			if len(f) != 2 {
				t.Fatalf("bean-query: position %q of %s is not a number and a currency", pos, account)
			}
			d, err := decimal.NewFromString(f[0])
			if err != nil {
				t.Fatalf("bean-query: %q is not a decimal: %v", f[0], err)
			}
			if names[account] == "" || names[f[1]] == "" {
				t.Fatalf("bean-query lists %s %s, which the journal does not declare with our names", account, f[1])
			}
			out.add(names[account], names[f[1]], d)
		}
	}
	return out
}

// journalProgramBalances are the balances the format's program computes from a journal: all
// of it, or only its opening entry.
func journalProgramBalances(t *testing.T, format exporters.JournalFormat, path string, openingOnly bool) journalBalances {
	t.Helper()
	if format == exporters.Hledger {
		if openingOnly {
			return hledgerBalances(t, path, "tag:journal=opening")
		}
		return hledgerBalances(t, path)
	}
	if openingOnly {
		return beancountBalances(t, path, "entry_meta('journal') = 'opening'")
	}
	return beancountBalances(t, path, "")
}

func journalProgramCheck(t *testing.T, format exporters.JournalFormat, path string) {
	t.Helper()
	if format == exporters.Hledger {
		hledgerCheck(t, path)
	} else {
		beancountCheck(t, path)
	}
}

var journalFormats = []exporters.JournalFormat{exporters.Hledger, exporters.Beancount}

// bookOctober books a ledger around October 2026: entries before it (the opening balances),
// on its first instant, inside it with 18-decimal amounts, on its last microsecond, on the
// first instant after it and later (neither in the journal), in USDTBEP20 and BTC, payments
// from invoices and wallets and payouts.
func bookOctober(t *testing.T, b journalBundle) {
	t.Helper()
	sept := time.Date(2026, 9, 14, 8, 30, 0, 0, time.UTC)
	b.post(t,
		// Before the period.
		journalPayment(ledger.SourceInvoice, "i-1", "USDTBEP20", sept, "1000.000000000000000001", "0.5", "10.000000000000000001", "order 1"),
		journalPayment(ledger.SourceWallet, "w-1", "BTC", sept.Add(time.Hour), "0.12345678", "0.00001", "0.00012345", "wallet of ann"),
		journalWithdrawal("b1/r1", "USDTBEP20", sept.Add(48*time.Hour), "100.25", "1.000000000000000007", "salary sept"),
		// Its first instant.
		journalPayment(ledger.SourceInvoice, "i-2", "USDTBEP20", journalFrom, "250", "0.25", "2.5", "order 2"),
		// Inside, 18 decimals.
		journalPayment(ledger.SourceInvoice, "i-3", "USDTBEP20", journalFrom.Add(36*time.Hour+time.Second), "0.123456789012345678", "0.000000000000000001", "0.001234567890123456", "order 3"),
		journalPayment(ledger.SourceWallet, "w-2", "BTC", journalFrom.Add(10*24*time.Hour), "1.00000001", "0.00000001", "0", "wallet of bob"),
		journalWithdrawal("b2/r1", "BTC", journalFrom.Add(20*24*time.Hour), "0.5", "0.00005", "bonus"),
		journalWithdrawal("b2/r2", "USDTBEP20", journalFrom.Add(20*24*time.Hour+time.Minute), "999999.999999999999999999", "0.999999999999999999", "big payout"),
		journalPayment(ledger.SourceInvoice, "i-4", "USDTBEP20", journalFrom.Add(21*24*time.Hour), "1999999.999999999999999999", "0", "0", "big order"),
		// Its last microsecond: dated 2026-10-31.
		journalPayment(ledger.SourceInvoice, "i-5", "USDTBEP20", journalTo.Add(-time.Microsecond), "5", "0", "0.05", "order 5"),
		// The first instant after it, and later.
		journalPayment(ledger.SourceInvoice, "i-6", "USDTBEP20", journalTo, "7", "0", "0", "order 6"),
		journalPayment(ledger.SourceWallet, "w-3", "BTC", journalTo.Add(72*time.Hour), "3", "0", "0", "wallet of cy"),
	)
}

func TestJournal(t *testing.T) {
	t.Parallel()
	for _, format := range journalFormats {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()

			t.Run("AgreesWithTheLedger", func(t *testing.T) {
				t.Parallel()
				b := journalSetup(t)
				bookOctober(t, b)
				path := b.write(t, format, exporters.JournalOptions{From: journalFrom, To: journalTo})
				journalProgramCheck(t, format, path)
				journalEqual(t, "closing", journalProgramBalances(t, format, path, false), b.ledgerBalances(t, journalTo, ""))
				journalEqual(t, "opening", journalProgramBalances(t, format, path, true), b.ledgerBalances(t, journalFrom, ""))
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				text := string(data)
				for _, want := range []string{"0.123456789012345678", "999999.999999999999999999", "i-2", "i-5", "2026-10-31"} {
					if !strings.Contains(text, want) {
						t.Errorf("the journal lacks %q", want)
					}
				}
				for _, absent := range []string{"i-6", "w-3", "\"i-1\"", "2026-11-01 *", "2026-09-14"} {
					if strings.Contains(text, absent) {
						t.Errorf("the journal holds %q, which is outside the period", absent)
					}
				}
			})

			t.Run("AssertionsCatchAWrongBalance", func(t *testing.T) {
				t.Parallel()
				b := journalSetup(t)
				bookOctober(t, b)
				path := b.write(t, format, exporters.JournalOptions{From: journalFrom, To: journalTo})
				// Change one amount by 10^-18: the program must refuse the journal.
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				tampered := strings.Replace(string(data), "0.123456789012345678", "0.123456789012345679", 1)
				tampered = strings.Replace(tampered, "-0.123456789012345678", "-0.123456789012345679", 1)
				if tampered == string(data) {
					t.Fatal("the journal lacks the amount to tamper with")
				}
				if err := os.WriteFile(path, []byte(tampered), 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{path}
				prog := "bean-check"
				if format == exporters.Hledger {
					prog, args = "hledger", []string{"-f", path, "check"}
				}
				if _, err := journalRun(t, prog, args...); err == nil {
					t.Fatal("the program accepts a journal whose balances are off by 10^-18")
				} else if !strings.Contains(err.Error(), "alance") {
					t.Errorf("the program fails for another reason than a balance: %v", err)
				}
			})

			t.Run("HostileText", func(t *testing.T) {
				t.Parallel()
				b := journalSetup(t)
				at := journalFrom.Add(5 * time.Hour)
				var entries []ledger.Entry
				for i, label := range journalHostile {
					e := journalPayment(ledger.SourceInvoice, fmt.Sprintf("h-%d", i), "USDTBEP20", at.Add(time.Duration(i)*time.Minute), "10", "0.1", "0.2", label)
					e.TxHash, e.Address = label, label
					entries = append(entries, e)
				}
				// External ids and descriptions are text from the API or a person too.
				odd := journalPayment(ledger.SourceInvoice, `id, with "quotes"; and%2C`, "USDTBEP20", at.Add(time.Hour), "1", "0", "0", "x")
				odd.Description = "(not a code) ; not a comment\n2026-01-01 * fake entry\n    assets:x  1 X"
				entries = append(entries, odd)
				// Account and currency names beyond both formats' rules.
				entries = append(entries, ledger.Entry{
					Source: ledger.SourceManual, ExternalID: "odd-names", OccurredAt: at.Add(2 * time.Hour),
					Description: "odd names",
					Postings: []ledger.Posting{
						{Account: "assets:odd name;(x)", Type: ledger.Asset, Currency: "usdc.e", Amount: journalDec("1.5")},
						{Account: "Ausgaben:Gebühren ☕:[x]", Type: ledger.Expense, Currency: "usdc.e", Amount: journalDec("0.5")},
						{Account: "payouts:usdc.e", Type: ledger.Expense, Currency: "usdc.e", Amount: journalDec("-2")},
					},
				})
				b.post(t, entries...)
				path := b.write(t, format, exporters.JournalOptions{From: journalFrom, To: journalTo})
				journalProgramCheck(t, format, path)
				journalEqual(t, "closing", journalProgramBalances(t, format, path, false), b.ledgerBalances(t, journalTo, ""))

				// Every label reads back as itself, on one line.
				want := map[string]bool{}
				for _, l := range append(journalHostile, "x") {
					want[strings.TrimSpace(journalOneLine(l))] = true
				}
				got := map[string]bool{}
				if format == exporters.Hledger {
					for _, v := range strings.Split(strings.TrimRight(journalMust(t, "hledger", "-f", path, "tags", "label", "--values"), "\n"), "\n") {
						dec, err := url.PathUnescape(v)
						if err != nil {
							t.Fatalf("tag value %q: %v", v, err)
						}
						got[strings.TrimSpace(dec)] = true
					}
				} else {
					rows := journalCSV(t, journalMust(t, "bean-query", "-f", "csv", path, "SELECT DISTINCT entry_meta('label') AS label WHERE entry_meta('label') != NULL"))
					for _, r := range rows[1:] {
						got[strings.TrimSpace(r[0])] = true
					}
				}
				for l := range want {
					if !got[l] {
						t.Errorf("label %q does not read back; the program read %v", l, got)
					}
				}
			})

			t.Run("OneCurrency", func(t *testing.T) {
				t.Parallel()
				b := journalSetup(t)
				bookOctober(t, b)
				path := b.write(t, format, exporters.JournalOptions{From: journalFrom, To: journalTo, Currency: "BTC"})
				journalProgramCheck(t, format, path)
				journalEqual(t, "closing", journalProgramBalances(t, format, path, false), b.ledgerBalances(t, journalTo, "BTC"))
				journalEqual(t, "opening", journalProgramBalances(t, format, path, true), b.ledgerBalances(t, journalFrom, "BTC"))
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(data), "USDTBEP20") {
					t.Error("a BTC journal mentions USDTBEP20")
				}
			})

			t.Run("EmptyLedger", func(t *testing.T) {
				t.Parallel()
				b := journalSetup(t)
				path := b.write(t, format, exporters.JournalOptions{From: journalFrom, To: journalTo})
				journalProgramCheck(t, format, path)
			})

			t.Run("SandboxMonth", func(t *testing.T) {
				t.Parallel()
				b := journalSetup(t)
				journalSyncSandbox(t, b)
				from, to := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
				path := b.write(t, format, exporters.JournalOptions{From: from, To: to})
				journalProgramCheck(t, format, path)
				journalEqual(t, "closing", journalProgramBalances(t, format, path, false), b.ledgerBalances(t, to, ""))
				journalEqual(t, "opening", journalProgramBalances(t, format, path, true), b.ledgerBalances(t, from, ""))
			})
		})
	}
}

// journalHostile are labels that try to break out of a journal's syntax or a spreadsheet.
var journalHostile = []string{
	`=HYPERLINK("http://x","y")`,
	`+1+1`,
	`@SUM(A1)`,
	"-2+3",
	"line one\nline two\r\n2026-01-01 * injected\n    assets:x  1 X",
	"tab\there",
	`semi; colon ; comment`,
	`"double" 'single' \back\slash\`,
	`comma, then: tag: value, id: evil`,
	`100% %2C percent`,
	"[2020-01-01] date:2020-01-01 [=2020-02-02]",
	"(code) first",
	"Zahlung für Café ☕ — 注文 🚀",
	"line\u2028separator\u0085nel",
	"   padded   ",
}

// journalOneLine is a label as the journals keep it: control characters and line separators
// as spaces.
func journalOneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// journalSyncSandbox books three weeks of sandbox transactions (every currency it serves,
// amounts in every spelling) through the sync job.
func journalSyncSandbox(t *testing.T, b journalBundle) {
	t.Helper()
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	opts := sandbox.DefaultOptions(now)
	opts.APIKey = "journal-test"
	opts.Now = func() time.Time { return now }
	opts.InitialBalances = nil
	opts.Invoices = sandbox.Generator{Start: start, End: now, Count: 1500, UnpaidRate: 0.05}
	opts.Wallets = sandbox.Generator{Start: start, End: now, Count: 700, UnpaidRate: 0.05}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	client, err := nordpay.New(nordpay.Options{BaseURL: srv.URL, APIKey: "journal-test",
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	syncer := &jobs.Syncer{Client: client, Store: b.store, Chart: b.store.Chart(), Now: opts.Now}
	res, err := syncer.Run(b.ctx, jobs.SyncOptions{From: start, To: now, Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Booked < 1000 {
		t.Fatalf("the sandbox sync booked %d transactions, want at least 1000: %+v", res.Booked, res)
	}
}

func TestJournalBeancountRefusesWhatItCannotAdd(t *testing.T) {
	t.Parallel()
	b := journalSetup(t)
	// 11 integer digits and 18 decimals: 29 significant digits, one more than beancount keeps.
	b.post(t, journalPayment(ledger.SourceInvoice, "huge", "USDTBEP20", journalFrom.Add(time.Hour),
		"12345678901.123456789012345678", "0", "0", "huge"))
	opts := exporters.JournalOptions{From: journalFrom, To: journalTo}
	err := exporters.WriteJournal(b.ctx, &bytes.Buffer{}, b.store, exporters.Beancount, opts)
	if !errors.Is(err, exporters.ErrJournalPrecision) {
		t.Fatalf("beancount journal: err %v, want ErrJournalPrecision", err)
	}
	// hledger computes exactly: the same period exports and checks.
	path := b.write(t, exporters.Hledger, opts)
	hledgerCheck(t, path)
	journalEqual(t, "closing", hledgerBalances(t, path), b.ledgerBalances(t, journalTo, ""))
}

func TestJournalOptions(t *testing.T) {
	t.Parallel()
	day := journalFrom
	for _, tc := range []struct {
		name   string
		format exporters.JournalFormat
		opts   exporters.JournalOptions
		want   string
	}{
		{"NoStart", exporters.Hledger, exporters.JournalOptions{To: day}, "start"},
		{"NoEnd", exporters.Beancount, exporters.JournalOptions{From: day}, "end"},
		{"StartInsideADay", exporters.Hledger, exporters.JournalOptions{From: day.Add(time.Hour), To: journalTo}, "not midnight UTC"},
		{"EndInsideADay", exporters.Beancount, exporters.JournalOptions{From: day, To: journalTo.Add(time.Nanosecond)}, "not midnight UTC"},
		{"MidnightElsewhere", exporters.Hledger, exporters.JournalOptions{From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600)), To: journalTo}, "not midnight UTC"},
		{"EmptyPeriod", exporters.Hledger, exporters.JournalOptions{From: day, To: day}, "empty"},
		{"Backwards", exporters.Beancount, exporters.JournalOptions{From: journalTo, To: day}, "empty"},
		{"UnknownFormat", "ledger", exporters.JournalOptions{From: day, To: journalTo}, "unknown journal format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Options are checked before the store is used.
			err := exporters.WriteJournal(context.Background(), &bytes.Buffer{}, nil, tc.format, tc.opts)
			if !errors.Is(err, exporters.ErrJournalOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrJournalOptions saying %q", err, tc.want)
			}
		})
	}
	t.Run("MidnightUTCInAnotherZone", func(t *testing.T) {
		t.Parallel()
		b := journalSetup(t)
		cet := time.FixedZone("CET", 3600)
		err := exporters.WriteJournal(b.ctx, &bytes.Buffer{}, b.store, exporters.Hledger,
			exporters.JournalOptions{From: journalFrom.In(cet), To: journalTo.In(cet)})
		if err != nil {
			t.Fatalf("midnight UTC given in CET: %v", err)
		}
	})
}

// journalFailingWriter fails every write, like a full disk.
type journalFailingWriter struct{}

func (journalFailingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJournalWriteError(t *testing.T) {
	t.Parallel()
	b := journalSetup(t)
	bookOctober(t, b)
	for _, format := range journalFormats {
		err := exporters.WriteJournal(b.ctx, journalFailingWriter{}, b.store, format, exporters.JournalOptions{From: journalFrom, To: journalTo})
		if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.HasPrefix(err.Error(), "exporters: ") {
			t.Errorf("%s: err %v, want the write error", format, err)
		}
	}
}
