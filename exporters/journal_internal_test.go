package exporters

import (
	"regexp"
	"testing"

	"github.com/nordpay/nordpay-jobs/ledger"
)

// Beancount's own rules (beancount/core/account.py, the lexer's CURRENCY).
var (
	beancountAccountRule   = regexp.MustCompile(`^(Assets|Liabilities|Equity|Income|Expenses)(:[\p{Lu}\p{Nd}][\p{L}\p{Nd}-]*)+$`)
	beancountCommodityRule = regexp.MustCompile(`^[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]$`)
	// What hledgerAccount lets through: no space, ';', '(', '[', '!', '*', '=', '@', '"'.
	hledgerAccountRule = regexp.MustCompile(`^[\p{L}\p{N}\p{M}:\-_./'&+]*$`)
)

func TestJournalBeancountAccount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		typ  ledger.AccountType
		want string
	}{
		{"assets:nordpay:USDTBEP20", ledger.Asset, "Assets:Nordpay:USDTBEP20"},
		{"expenses:fees:network:BTC", ledger.Expense, "Expenses:Fees:Network:BTC"},
		{"payouts:USDT", ledger.Expense, "Expenses:Payouts:USDT"},
		{"income:invoices:USDTTRC20", ledger.Income, "Income:Invoices:USDTTRC20"},
		{"revenue:wallets:BTC", ledger.Income, "Income:Wallets:BTC"},
		{"Assets:Bank", ledger.Asset, "Assets:Bank"},
		{"assets", ledger.Asset, "Assets:Assets"},
		{"liabilities:payable:usdc.e", ledger.Liability, "Liabilities:Payable:Usdc-e"},
		{"equity:retained", ledger.Equity, "Equity:Retained"},
		{"assets:odd name;(x)", ledger.Asset, "Assets:Odd-name--x-"},
		{"a::b", ledger.Asset, "Assets:A:X:B"},
		{"assets:-x:_y:1z", ledger.Asset, "Assets:X-x:X-y:1z"},
		{"Ausgaben:Gebühren ☕", ledger.Expense, "Expenses:Ausgaben:Gebühren--"},
		{"资产:钱包", ledger.Asset, "Assets:X资产:X钱包"},
		{"assets:élan", ledger.Asset, "Assets:Élan"},
	} {
		got := beancountAccount(ledger.Account{Name: tc.name, Type: tc.typ})
		if got != tc.want {
			t.Errorf("%s (%s): %q, want %q", tc.name, tc.typ, got, tc.want)
		}
		if !beancountAccountRule.MatchString(got) {
			t.Errorf("%s: %q breaks beancount's rule", tc.name, got)
		}
	}
}

func TestJournalBeancountCommodity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ currency, want string }{
		{"USDTBEP20", "USDTBEP20"},
		{"BTC", "BTC"},
		{"usdc.e", "USDC.E"},
		{"1INCH", "X1INCH"},
		{"A", "AX"},
		{"USD-", "USD-X"},
		{"BTC 2", "BTC-2"},
		{"", "XX"},
		{"Ünï", "X-N-X"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWX"},
		{"ABCDEFGHIJKLMNOPQRSTUVW_Z", "ABCDEFGHIJKLMNOPQRSTUVWX"},
	} {
		got := beancountCommodity(tc.currency)
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.currency, got, tc.want)
		}
		if !beancountCommodityRule.MatchString(got) {
			t.Errorf("%q: %q breaks beancount's rule", tc.currency, got)
		}
	}
}

func TestJournalHledgerText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, got, want string }{
		{"AccountKept", hledgerAccount("expenses:fees:network:USDTBEP20"), "expenses:fees:network:USDTBEP20"},
		{"AccountSyntax", hledgerAccount("(a) b;c [d]=e@f*!\"g"), "-a--b-c--d--e-f---g"},
		{"AccountUnicode", hledgerAccount("Ausgaben:Gebühren ☕"), "Ausgaben:Gebühren--"},
		{"Symbol", hledgerSymbol("USDTBEP20"), `"USDTBEP20"`},
		{"SymbolQuote", hledgerSymbol("a\"b;c\nd"), `"a_b_c_d"`},
		{"Description", hledgerDescription("a; b\nc\t d"), "a, b c  d"},
		{"DescriptionCode", hledgerDescription(" (x) y"), "() (x) y"},
		{"TagComma", hledgerTagValue("a, b: c"), "a%2C b: c"},
		{"TagPercent", hledgerTagValue("50% %2C"), "50%25 %252C"},
		{"TagLines", hledgerTagValue("a\r\nb\u2028c"), "a  b c"},
		{"BeancountString", beancountString("a \"b\" \\c\nd"), `"a \"b\" \\c d"`},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// FuzzJournalNames checks that any account name and currency maps to names that each
// program accepts.
func FuzzJournalNames(f *testing.F) {
	for _, s := range []string{"assets:nordpay:USDTBEP20", "", ":", "a::b", "资产", "-", "1", "x y;z", "\x00\xff", "ǅ:ß:Σ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range []ledger.AccountType{ledger.Asset, ledger.Liability, ledger.Equity, ledger.Income, ledger.Expense} {
			if got := beancountAccount(ledger.Account{Name: s, Type: typ}); !beancountAccountRule.MatchString(got) {
				t.Errorf("beancountAccount(%q, %s) = %q breaks beancount's rule", s, typ, got)
			}
		}
		if got := beancountCommodity(s); !beancountCommodityRule.MatchString(got) {
			t.Errorf("beancountCommodity(%q) = %q breaks beancount's rule", s, got)
		}
		if got := hledgerAccount(s); !hledgerAccountRule.MatchString(got) {
			t.Errorf("hledgerAccount(%q) = %q keeps syntax", s, got)
		}
	})
}
