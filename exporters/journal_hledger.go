package exporters

import (
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/ledger"
)

// hledgerDialect writes hledger journals (hledger 1.25 and later). Account names are ours
// (their characters permitting), with hledger's account type declared by a type: tag, so
// that `hledger bal` lists the same names as `nordpay-jobs ledger balances`.
type hledgerDialect struct{}

func (hledgerDialect) accountName(a ledger.Account) string { return hledgerAccount(a.Name) }
func (hledgerDialect) equityName() string                  { return equityOpening }
func (hledgerDialect) symbol(currency string) string       { return hledgerSymbol(currency) }
func (hledgerDialect) maxDigits() int                      { return 0 } // hledger's decimals are exact

// hledgerAccount keeps a ledger account name, except for characters that hledger reads as
// syntax (spaces end a name, ';' starts a comment, '(' and '[' mark virtual postings, '!'
// and '*' a status, '=' an assertion, '@' a price) or that are invisible: any character that
// is not a letter, digit, mark or one of : - _ . / ' & + becomes '-'.
func hledgerAccount(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || strings.ContainsRune(":-_./'&+", r) {
			return r
		}
		return '-'
	}, name)
}

// hledgerSymbol is a currency as a quoted hledger commodity symbol (a symbol with digits, such
// as USDTBEP20, must be quoted); the characters a quoted symbol cannot hold (the double
// quote, ';' and control characters) become '_'.
func hledgerSymbol(currency string) string {
	return `"` + strings.Map(func(r rune) rune {
		if r == '"' || r == ';' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return '_'
		}
		return r
	}, currency) + `"`
}

// hledgerType is the hledger account type (the type: tag of an account directive).
func hledgerType(t ledger.AccountType) string {
	switch t {
	case ledger.Asset:
		return "A"
	case ledger.Liability:
		return "L"
	case ledger.Equity:
		return "E"
	case ledger.Income:
		return "R"
	case ledger.Expense:
		return "X"
	}
	return ""
}

// hledgerTagEscaper keeps a tag value exact and whole: hledger ends a tag's value at a comma,
// so a comma is written %2C, and a percent sign %25 so that the escape reads back.
var hledgerTagEscaper = strings.NewReplacer("%", "%25", ",", "%2C")

// hledgerTagValue is text a user or the API controls, as the value of a tag.
func hledgerTagValue(s string) string { return hledgerTagEscaper.Replace(journalLine(s)) }

// hledgerDescription is an entry's description on the transaction line: ';' would start a
// comment, so it becomes ','; a leading '(' would be read as a transaction code, so an empty
// code "()" goes first.
func hledgerDescription(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(journalLine(s), ";", ","))
	if strings.HasPrefix(s, "(") {
		s = "() " + s
	}
	return s
}

// hledgerPrecision is a commodity directive's sample amount: "1." and one zero per decimal.
func hledgerPrecision(n int32) string { return "1." + strings.Repeat("0", int(n)) }

func (hledgerDialect) declare(out *journalOut, p *journalPlan) {
	out.s("; Nord PAY ledger, written by nordpay-jobs: the period [", p.from.Format(time.DateOnly), ", ",
		p.to.Format(time.DateOnly), ") UTC")
	if p.currency != "" {
		out.s(", ", journalLine(p.currency), " only")
	}
	out.s(".\n",
		"; Entries are dated by their UTC day; the time: tag holds the exact time. The first\n",
		"; transaction brings every account to its balance at the start of the period; the last\n",
		"; asserts every balance at its end. USD values (usd: tags) are informational.\n",
		"\ndecimal-mark .\n\n")
	for _, c := range p.commodities {
		out.s("commodity ", hledgerPrecision(c.precision), " ", c.symbol, "\n")
	}
	out.s("\n")
	for _, a := range p.accounts {
		out.s("account ", a.name, "  ; type: ", hledgerType(a.Type))
		if a.name != a.Name {
			out.s(", ledger_account: ", hledgerTagValue(a.Name))
		}
		out.s("\n")
	}
	out.s("account ", p.equity, "  ; type: E\n")
}

func (hledgerDialect) posting(out *journalOut, account string, amount decimal.Decimal, symbol string) {
	out.s("    ", account, "  ", amount.String(), " ", symbol)
}

func (d hledgerDialect) opening(out *journalOut, p *journalPlan) {
	opened := false
	for _, c := range p.commodities {
		opened = opened || c.opened
	}
	if !opened {
		return
	}
	out.s("\n", p.from.Format(time.DateOnly), " * opening balances\n    ; journal: opening\n")
	for _, a := range p.accounts {
		if !a.opening.IsZero() {
			d.posting(out, a.name, a.opening, p.byCurrency[a.Currency].symbol)
			out.s("\n")
		}
	}
	for _, c := range p.commodities {
		if c.opened {
			d.posting(out, p.equity, c.equity, c.symbol)
			out.s("\n")
		}
	}
}

func (d hledgerDialect) entry(out *journalOut, p *journalPlan, e *ledger.BookedEntry) {
	out.s("\n", p.date(e.OccurredAt), " * ", hledgerDescription(e.Description), "\n")
	for _, t := range journalTags(e) {
		if t[1] != "" {
			out.s("    ; ", t[0], ": ", hledgerTagValue(t[1]), "\n")
		}
	}
	for _, po := range e.Postings {
		a := p.byName[po.Account]
		d.posting(out, a.name, po.Amount, p.byCurrency[a.Currency].symbol)
		if po.AmountUSD.Valid {
			out.s("  ; usd: ", po.AmountUSD.Decimal.String())
		}
		out.s("\n")
	}
}

// assertions is one last transaction, on the period's last day, of zero postings that
// assert each account's balance (=: this commodity, this account without its subaccounts).
// hledger checks assertions in date order, then file order, so it sees every entry first.
func (d hledgerDialect) assertions(out *journalOut, p *journalPlan) {
	if len(p.accounts) == 0 {
		return
	}
	out.s("\n", p.lastDay().Format(time.DateOnly), " * closing balances\n    ; journal: closing\n")
	assert := func(account string, balance decimal.Decimal, symbol string) {
		d.posting(out, account, decimal.Zero, symbol)
		out.s(" = ", balance.String(), " ", symbol, "\n")
	}
	for _, a := range p.accounts {
		assert(a.name, a.closing, p.byCurrency[a.Currency].symbol)
	}
	for _, c := range p.commodities {
		assert(p.equity, c.equity, c.symbol)
	}
}
