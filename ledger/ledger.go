// Package ledger is the double-entry ledger: accounts, journal entries and postings, the
// posting rules that turn Nord PAY transactions and withdrawals into balanced entries, and the
// PostgreSQL store that enforces the invariants of ARCHITECTURE.md (every entry balances per
// currency, entries are append-only, each external fact is booked once).
package ledger

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Sources of journal entries: the key (Source, ExternalID) is unique, so each fact is booked once.
const (
	SourceInvoice    = "invoice"
	SourceWallet     = "wallet"
	SourceWithdrawal = "withdrawal"
	SourceManual     = "manual"
	SourceReversal   = "reversal"
	// SourceOpening is an opening balance (`ledger opening-balances`); its external id is
	// the currency, so each currency gets at most one.
	SourceOpening = "opening"
)

// AccountType classifies accounts for reports and plain-text accounting exports.
type AccountType string

// Account types of the chart.
const (
	Asset     AccountType = "asset"
	Liability AccountType = "liability"
	Equity    AccountType = "equity"
	Income    AccountType = "income"
	Expense   AccountType = "expense"
)

// Account is one account of the chart, in one currency.
type Account struct {
	ID       int64
	Name     string
	Type     AccountType
	Currency string
}

// Posting is one line of an entry: an amount (debit positive, credit negative) on an
// account, in the account's currency, with its USD value alongside for information.
type Posting struct {
	Account  string
	Type     AccountType
	Currency string
	Amount   decimal.Decimal
	// AmountUSD is the informational USD value; it balances like Amount when every posting
	// of the entry carries one.
	AmountUSD decimal.NullDecimal
}

// Entry is one balanced journal entry about one external fact.
type Entry struct {
	// Source and ExternalID identify the fact; the pair is booked at most once.
	Source     string
	ExternalID string
	// OccurredAt is when the fact happened (the transaction's created_at), in UTC.
	OccurredAt time.Time
	// Description is a one-line human summary.
	Description string
	// TxHash, Label, Address and SourceRef describe the fact for statements: the chain
	// transaction, the merchant's label, the address, and the invoice or wallet id.
	TxHash, Label, Address, SourceRef string
	// Postings sum to zero per currency.
	Postings []Posting
}

// ErrUnbalanced is returned for an entry whose postings do not sum to zero in a currency.
var ErrUnbalanced = errors.New("ledger: entry does not balance")

// ErrInvalid is returned for an entry that is malformed in another way.
var ErrInvalid = errors.New("ledger: invalid entry")

// Validate checks an entry before it goes to the database, which checks again: identified,
// at least two postings, every posting on a named account with a currency, and balanced per
// currency (the USD values too, when every posting has one).
func (e *Entry) Validate() error {
	if e.Source == "" || e.ExternalID == "" {
		return fmt.Errorf("%w: source and external id are required (got %q, %q)", ErrInvalid, e.Source, e.ExternalID)
	}
	if e.OccurredAt.IsZero() {
		return fmt.Errorf("%w: %s/%s has no time", ErrInvalid, e.Source, e.ExternalID)
	}
	if len(e.Postings) < 2 {
		return fmt.Errorf("%w: %s/%s has %d posting(s), at least 2 are needed", ErrInvalid, e.Source, e.ExternalID, len(e.Postings))
	}
	sums := map[string]decimal.Decimal{}
	usd := decimal.Zero
	allUSD := true
	for _, p := range e.Postings {
		if p.Account == "" || p.Currency == "" {
			return fmt.Errorf("%w: %s/%s has a posting without account or currency", ErrInvalid, e.Source, e.ExternalID)
		}
		sums[p.Currency] = sums[p.Currency].Add(p.Amount)
		if p.AmountUSD.Valid {
			usd = usd.Add(p.AmountUSD.Decimal)
		} else {
			allUSD = false
		}
	}
	curs := make([]string, 0, len(sums))
	for c := range sums {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		if !sums[c].IsZero() {
			return fmt.Errorf("%w: %s/%s: postings in %s sum to %s", ErrUnbalanced, e.Source, e.ExternalID, c, sums[c])
		}
	}
	if allUSD && !usd.IsZero() {
		return fmt.Errorf("%w: %s/%s: USD values sum to %s", ErrUnbalanced, e.Source, e.ExternalID, usd)
	}
	return nil
}

// Chart names the accounts. Each field is a template in which {CUR} stands for the currency
// (ARCHITECTURE.md's default chart of accounts); a merchant may rename them in the config.
type Chart struct {
	Assets        string `yaml:"assets"`
	InvoiceIncome string `yaml:"invoice_income"`
	WalletIncome  string `yaml:"wallet_income"`
	NetworkFees   string `yaml:"network_fees"`
	ServiceFees   string `yaml:"service_fees"`
	Payouts       string `yaml:"payouts"`
	WithdrawFees  string `yaml:"withdraw_fees"`
	// OpeningBalances is the equity account that opening balances are credited to: what
	// Nord PAY held before the first synced day came from outside the books.
	OpeningBalances string `yaml:"opening_balances"`
}

// DefaultChart is the chart of accounts of ARCHITECTURE.md.
func DefaultChart() Chart {
	return Chart{
		Assets:        "assets:nordpay:{CUR}",
		InvoiceIncome: "income:invoices:{CUR}",
		WalletIncome:  "income:wallets:{CUR}",
		NetworkFees:   "expenses:fees:network:{CUR}",
		ServiceFees:   "expenses:fees:service:{CUR}",
		Payouts:       "payouts:{CUR}",
		WithdrawFees:  "expenses:fees:withdraw:{CUR}",
		// Not "equity:opening-balances": the journals use that name for their own
		// opening transaction.
		OpeningBalances: "equity:opening:{CUR}",
	}
}

// Validate checks that every template names an account per currency, and that no two roles
// share an account.
func (c Chart) Validate() error {
	seen := map[string]string{}
	for _, f := range c.fields() {
		if !strings.Contains(f.template, "{CUR}") {
			return fmt.Errorf("ledger: account template %s %q must contain {CUR}", f.role, f.template)
		}
		if strings.ContainsAny(f.template, " \t\n\"';") {
			return fmt.Errorf("ledger: account template %s %q: no spaces, quotes or semicolons", f.role, f.template)
		}
		if other, ok := seen[f.template]; ok {
			return fmt.Errorf("ledger: account templates %s and %s are both %q", other, f.role, f.template)
		}
		seen[f.template] = f.role
	}
	return nil
}

type chartField struct {
	role, template string
	typ            AccountType
}

func (c Chart) fields() []chartField {
	return []chartField{
		{"assets", c.Assets, Asset},
		{"invoice_income", c.InvoiceIncome, Income},
		{"wallet_income", c.WalletIncome, Income},
		{"network_fees", c.NetworkFees, Expense},
		{"service_fees", c.ServiceFees, Expense},
		{"payouts", c.Payouts, Expense},
		{"withdraw_fees", c.WithdrawFees, Expense},
		{"opening_balances", c.OpeningBalances, Equity},
	}
}

// name fills a template with a currency.
func name(template, currency string) string { return strings.ReplaceAll(template, "{CUR}", currency) }

// AccountName fills an account template of the chart ("assets:nordpay:{CUR}") with a currency.
func AccountName(template, currency string) string { return name(template, currency) }

// AssetsAccount is the account holding what Nord PAY holds for us in a currency.
func (c Chart) AssetsAccount(currency string) string { return name(c.Assets, currency) }

// Accounts lists every account of the chart for a currency, with its type.
func (c Chart) Accounts(currency string) []Account {
	fs := c.fields()
	out := make([]Account, len(fs))
	for i, f := range fs {
		out[i] = Account{Name: name(f.template, currency), Type: f.typ, Currency: currency}
	}
	return out
}
