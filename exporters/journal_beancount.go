package exporters

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
)

// beancountDialect writes beancount files (beancount 2.3 and later). Beancount's names are
// stricter than ours, so accounts and currencies are mapped (beancountAccount,
// beancountCommodity); each open and commodity directive keeps our name in its metadata.
type beancountDialect struct{}

func (beancountDialect) accountName(a ledger.Account) string { return beancountAccount(a) }
func (beancountDialect) equityName() string                  { return "Equity:Opening-Balances" }
func (beancountDialect) symbol(currency string) string       { return beancountCommodity(currency) }
func (beancountDialect) maxDigits() int                      { return beancountDigits }

// beancountRoots are beancount's root accounts by account type, and the first components of
// our names that say the same thing (dropped, so that "expenses:fees" is "Expenses:Fees"
// rather than "Expenses:Expenses:Fees").
var beancountRoots = map[ledger.AccountType]struct {
	root    string
	aliases []string
}{
	ledger.Asset:     {"Assets", []string{"asset", "assets"}},
	ledger.Liability: {"Liabilities", []string{"liability", "liabilities"}},
	ledger.Equity:    {"Equity", []string{"equity"}},
	ledger.Income:    {"Income", []string{"income", "revenue", "revenues"}},
	ledger.Expense:   {"Expenses", []string{"expense", "expenses"}},
}

// beancountAccount maps a ledger account to a beancount account name, deterministically:
// the root comes from the account's type (Assets, Liabilities, Equity, Income, Expenses);
// our first component is dropped when it names that root (assets, expenses, ...); each
// other component is capitalised, any character that is not a letter, a digit or '-'
// becomes '-', and a component that would still not start with an upper-case letter or a
// digit gets an "X" in front. So assets:nordpay:USDTBEP20 is Assets:Nordpay:USDTBEP20,
// expenses:fees:network:BTC is Expenses:Fees:Network:BTC, and payouts:USDT, an expense, is
// Expenses:Payouts:USDT. Two accounts that map to one name make WriteJournal fail.
func beancountAccount(a ledger.Account) string {
	r, ok := beancountRoots[a.Type]
	if !ok {
		r = beancountRoots[ledger.Equity] // the database admits no other type
	}
	parts := strings.Split(a.Name, ":")
	if len(parts) > 1 {
		for _, alias := range r.aliases {
			if strings.EqualFold(parts[0], alias) {
				parts = parts[1:]
				break
			}
		}
	}
	var b strings.Builder
	b.WriteString(r.root)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(beancountComponent(p))
	}
	return b.String()
}

// beancountComponent is one component of an account name: [\p{Lu}\p{Nd}][\p{L}\p{Nd}-]*.
func beancountComponent(s string) string {
	rs := []rune(s)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
			rs[i] = '-'
		}
	}
	if len(rs) == 0 {
		return "X"
	}
	rs[0] = unicode.ToUpper(rs[0])
	if !unicode.IsUpper(rs[0]) && !unicode.IsDigit(rs[0]) {
		return "X" + string(rs)
	}
	return string(rs)
}

// beancountCommodity maps a currency to a beancount commodity name, which must match
// [A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]: letters are upper-cased, any other character outside
// that set becomes '-', an "X" goes in front of a name that does not start with a letter and
// after one that does not end with a letter or digit (or is one character long), and the
// name is cut at 24 characters. Every currency Nord PAY lists (BTC, USDTBEP20, ...) maps to
// itself. Two currencies that map to one name make WriteJournal fail.
func beancountCommodity(currency string) string {
	b := make([]byte, 0, len(currency)+2)
	for _, r := range strings.ToUpper(currency) {
		switch {
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '\'', r == '.', r == '_', r == '-':
			b = append(b, byte(r))
		default:
			b = append(b, '-')
		}
	}
	if len(b) == 0 || b[0] < 'A' || b[0] > 'Z' {
		b = append([]byte{'X'}, b...)
	}
	if len(b) > 24 {
		b = b[:24]
	}
	if last := b[len(b)-1]; len(b) == 1 || !('A' <= last && last <= 'Z' || '0' <= last && last <= '9') {
		if len(b) == 24 {
			b = b[:23]
		}
		b = append(b, 'X')
	}
	return string(b)
}

// beancountStringEscaper escapes what ends a beancount string.
var beancountStringEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// beancountString is text a user or the API controls as a beancount string, on one line.
func beancountString(s string) string {
	return `"` + beancountStringEscaper.Replace(journalLine(s)) + `"`
}

func (beancountDialect) declare(out *journalOut, p *journalPlan) {
	from := p.from.Format(time.DateOnly)
	out.s("; Nord PAY ledger, written by nordpay-jobs: the period [", from, ", ",
		p.to.Format(time.DateOnly), ") UTC")
	if p.currency != "" {
		out.s(", ", journalLine(p.currency), " only")
	}
	out.s(".\n",
		"; Entries are dated by their UTC day; the time metadata holds the exact time. The first\n",
		"; transaction brings every account to its balance at the start of the period; balance\n",
		"; directives on the day after the period assert every balance at its end, exactly (~ 0).\n",
		"; Account and currency names are mapped to beancount's rules; ledger_account and\n",
		"; ledger_currency keep ours. USD values (usd metadata) are informational.\n\n")
	out.s("option \"title\" ", beancountString("Nord PAY ledger ["+from+", "+p.to.Format(time.DateOnly)+")"), "\n\n")
	for _, c := range p.commodities {
		out.s(from, " commodity ", c.symbol, "\n  precision: ", strconv.Itoa(int(c.precision)), "\n")
		if c.symbol != c.currency {
			out.s("  ledger_currency: ", beancountString(c.currency), "\n")
		}
	}
	out.s("\n")
	for _, a := range p.accounts {
		out.s(from, " open ", a.name, " ", p.byCurrency[a.Currency].symbol,
			"\n  ledger_account: ", beancountString(a.Name), "\n")
	}
	out.s(from, " open ", p.equity)
	for i, c := range p.commodities {
		sep := ","
		if i == 0 {
			sep = " "
		}
		out.s(sep, c.symbol)
	}
	out.s("\n")
}

// posting writes an amount at its commodity's precision, trailing zeros included: beancount
// displays a currency at the precision most of its numbers have, so its reports show every
// digit (the precision covers every amount of the period, so nothing is rounded).
func (beancountDialect) posting(out *journalOut, account string, amount decimal.Decimal, c *journalCommodity) {
	out.s("  ", account, "  ", amount.StringFixed(c.precision), " ", c.symbol, "\n")
}

func (d beancountDialect) opening(out *journalOut, p *journalPlan) {
	opened := false
	for _, c := range p.commodities {
		opened = opened || c.opened
	}
	if !opened {
		return
	}
	out.s("\n", p.from.Format(time.DateOnly), " * \"Opening balances\"\n  journal: \"opening\"\n")
	for _, a := range p.accounts {
		if !a.opening.IsZero() {
			d.posting(out, a.name, a.opening, p.byCurrency[a.Currency])
		}
	}
	for _, c := range p.commodities {
		if c.opened {
			d.posting(out, p.equity, c.equity, c)
		}
	}
}

func (d beancountDialect) entry(out *journalOut, p *journalPlan, e *ledger.BookedEntry) {
	out.s("\n", p.date(e.OccurredAt), " * ", beancountString(e.Description), "\n")
	for _, t := range journalTags(e) {
		if t[1] != "" {
			out.s("  ", t[0], ": ", beancountString(t[1]), "\n")
		}
	}
	for _, po := range e.Postings {
		a := p.byName[po.Account]
		d.posting(out, a.name, po.Amount, p.byCurrency[a.Currency])
		if po.AmountUSD.Valid {
			out.s("    usd: ", po.AmountUSD.Decimal.String(), "\n")
		}
	}
}

// assertions are balance directives dated To: beancount checks a balance at the start of its
// day, so they see every entry of the period and none after. Beancount's balance includes
// the account's subaccounts, so each asserted amount is the sum over the account's subtree;
// "~ 0" makes the check exact (beancount otherwise allows one unit of the last digit).
func (beancountDialect) assertions(out *journalOut, p *journalPlan) {
	type item struct {
		name, currency string
		amount         decimal.Decimal
	}
	items := make([]item, 0, len(p.accounts)+len(p.commodities))
	for _, a := range p.accounts {
		items = append(items, item{a.name, a.Currency, a.closing})
	}
	for _, c := range p.commodities {
		items = append(items, item{p.equity, c.currency, c.equity})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })
	subtree := func(name, currency string) decimal.Decimal {
		sum := decimal.Zero
		// The account itself, then its subaccounts: names with the prefix "name:" sort
		// together.
		for _, prefix := range []string{name, name + ":"} {
			for i := sort.Search(len(items), func(i int) bool { return items[i].name >= prefix }); i < len(items); i++ {
				it := items[i]
				if prefix == name && it.name != name || prefix != name && !strings.HasPrefix(it.name, prefix) {
					break
				}
				if it.currency == currency {
					sum = sum.Add(it.amount)
				}
			}
		}
		return sum
	}
	if len(items) == 0 {
		return
	}
	out.s("\n")
	to := p.to.Format(time.DateOnly)
	assert := func(account, currency string) {
		c := p.byCurrency[currency]
		out.s(to, " balance ", account, "  ", subtree(account, currency).StringFixed(c.precision), " ~ 0 ", c.symbol, "\n")
	}
	for _, a := range p.accounts {
		assert(a.name, a.Currency)
	}
	for _, c := range p.commodities {
		assert(p.equity, c.currency)
	}
}
