package sandbox

import (
	"errors"
	"fmt"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// Options configures a sandbox; every generated value is a pure function of Seed and these
// options, so two sandboxes built from the same Options serve the same bytes.
type Options struct {
	// APIKey is required: X-API-KEY must equal it on every endpoint but /currencies/ and
	// /currencies/rates. It is never echoed.
	APIKey string
	// Seed drives all generated data and the random faults.
	Seed int64
	// Now is the sandbox clock; quotes expire and late transactions appear by it. Defaults to
	// time.Now.
	Now func() time.Time
	// Currencies served by GET /currencies/. Defaults to DefaultCurrencies(). Generated
	// transactions use the currencies as they are at New (later SetCurrency calls do not
	// rewrite history).
	Currencies []nordpay.Currency
	// Invoices is the stream of invoice transactions (one generated invoice each).
	Invoices Generator
	// Wallets is the stream of wallet transactions, spread over the generated wallets.
	Wallets Generator
	// WalletCount is the number of generated wallets, spread over the deposit-enabled
	// currencies. Defaults to 12.
	WalletCount int
	// InitialBalances is the balance per currency before any transaction.
	InitialBalances map[string]decimal.Decimal
	// WithdrawFees is the withdrawal service fee per currency (zero when absent).
	WithdrawFees map[string]Fee
	// QuoteTTL is how long a withdrawal quote can be confirmed. Defaults to 5 minutes.
	QuoteTTL time.Duration
	// EndDateInclusive makes end_date inclusive (created_at <= end_date); otherwise it is
	// exclusive (created_at < end_date). start_date is always inclusive.
	EndDateInclusive bool
	// Faults are the random faults; scripted ones go through Server.InjectFault.
	Faults Faults
	// Spellings varies how numbers are written in transaction streams (exponent form,
	// trailing zeros, JSON strings, ids as strings), always with the same value.
	Spellings bool
}

// Generator describes one generated transaction stream, so tests can size a window exactly.
type Generator struct {
	// Start and End bound created_at: transaction i of Count is created at
	// Start + (End-Start)*i/Count (microsecond precision), so [Start, End) is covered evenly.
	Start, End time.Time
	// Count is the number of transactions (0 = none).
	Count int
	// UnpaidRate is the share of transactions with is_paid false (in [0, 1]).
	UnpaidRate float64
	// LateRate is the share of transactions that become visible only some time (random, up to
	// LateDelay) after their created_at, like a late confirmation.
	LateRate float64
	// LateDelay is the longest such delay.
	LateDelay time.Duration
}

// Fee is a withdrawal service fee: Fixed + Percent% of the amount, rounded to the currency's
// decimals, so tests can predict every quote.
type Fee struct {
	// Fixed is charged on every row.
	Fixed decimal.Decimal
	// Percent is a percentage of the row's amount (0.5 means 0.5%).
	Percent decimal.Decimal
}

// Faults are the random faults of a sandbox, drawn from a source seeded by Options.Seed, so
// that a client's retry and recovery paths run in every test that wants them.
type Faults struct {
	// Rate is the share of requests answered, before any effect, with 429 (with Retry-After),
	// 500 or 502.
	Rate float64
	// DropRate is the share of requests whose connection is closed, before any effect, with no
	// answer.
	DropRate float64
	// Latency is added to every answer.
	Latency time.Duration
	// RetryAfter is the Retry-After of injected 429s, written in whole seconds (at least 1).
	// Defaults to 1 second.
	RetryAfter time.Duration
	// LostConfirmRate is the share of confirms (single and multiple) that execute and then
	// lose their answer (the connection is closed).
	LostConfirmRate float64
	// MidStreamDropRate is the share of transaction streams cut after part of the body.
	MidStreamDropRate float64
	// SlowDelay is how long a scripted FaultSlow holds its answer. Defaults to 5 seconds.
	SlowDelay time.Duration
}

// FaultKind names one injected fault, so a test can script the exact failure it needs.
type FaultKind int

// The fault kinds InjectFault accepts.
const (
	// Fault429 answers 429 Too Many Requests with a Retry-After header, before any effect.
	Fault429 FaultKind = iota + 1
	// Fault500 answers 500 Internal Server Error (text/plain, as FastAPI does), before any
	// effect.
	Fault500
	// Fault502 answers 502 Bad Gateway (an HTML page, as a proxy does), before any effect.
	Fault502
	// FaultDrop closes the connection with no answer and no effect.
	FaultDrop
	// FaultSlow delays the answer by Faults.SlowDelay, then answers normally.
	FaultSlow
	// FaultLostAnswer executes the request, then closes the connection without the answer:
	// for a confirm, "confirm executed, then the answer was lost"; for a withdrawal request,
	// the quote exists but the client never sees it.
	FaultLostAnswer
	// FaultMidStream sends part of the answer (for a transaction stream, part of the array),
	// then closes the connection.
	FaultMidStream
)

// String names the fault kind for test output.
func (k FaultKind) String() string {
	switch k {
	case Fault429:
		return "Fault429"
	case Fault500:
		return "Fault500"
	case Fault502:
		return "Fault502"
	case FaultDrop:
		return "FaultDrop"
	case FaultSlow:
		return "FaultSlow"
	case FaultLostAnswer:
		return "FaultLostAnswer"
	case FaultMidStream:
		return "FaultMidStream"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// DefaultCurrencies returns the currencies of a default sandbox: three USDT networks, three
// native coins, BTC, and USDCERC20 with withdrawals disabled, so that every branch of a client
// has a currency to meet.
func DefaultCurrencies() []nordpay.Currency {
	type spec struct {
		name, token, network, contract string
		decimals, confirmations        int
		networkFee, minDeposit, minWd  string
		rate                           string
		withdraw                       bool
	}
	specs := []spec{
		{"USDTBEP20", "USDT", "BEP20", "0x55d398326f99059fF775485246999027B3197955", 18, 5, "0", "1", "10", "1", true},
		{"USDTTRC20", "USDT", "TRC20", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 6, 20, "1", "1", "10", "1", true},
		{"USDTERC20", "USDT", "ERC20", "0xdAC17F958D2ee523a2206206994597C13D831ec7", 6, 12, "5", "10", "50", "1", true},
		{"BNBBEP20", "BNB", "BEP20", "", 18, 5, "0.0005", "0.001", "0.01", "612.5", true},
		{"ETHERC20", "ETH", "ERC20", "", 18, 12, "0.002", "0.001", "0.01", "3500", true},
		{"TRXTRC20", "TRX", "TRC20", "", 6, 20, "1", "10", "20", "0.12", true},
		{"BTC", "BTC", "BTC", "", 8, 2, "0.0001", "0.0001", "0.0005", "65000", true},
		{"USDCERC20", "USDC", "ERC20", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6, 12, "5", "10", "50", "1", false},
	}
	out := make([]nordpay.Currency, 0, len(specs))
	for _, s := range specs {
		deposit, withdraw := true, s.withdraw
		out = append(out, nordpay.Currency{
			Name:              s.name,
			Token:             s.token,
			Network:           s.network,
			Contract:          s.contract,
			Decimals:          s.decimals,
			Confirmations:     s.confirmations,
			NetworkFee:        decimal.RequireFromString(s.networkFee),
			MinDeposit:        decimal.RequireFromString(s.minDeposit),
			MinWithdraw:       decimal.RequireFromString(s.minWd),
			IsDepositEnabled:  &deposit,
			IsWithdrawEnabled: &withdraw,
			Rate:              decimal.NewNullDecimal(decimal.RequireFromString(s.rate)),
		})
	}
	return out
}

// DefaultOptions returns the demo sandbox: seed 1, 30 days of data ending at now, a few
// thousand invoice and wallet transactions (5% unpaid, 2% late by up to 2 hours), initial
// balances, withdrawal fees and varied number spellings. The caller sets APIKey.
func DefaultOptions(now time.Time) Options {
	now = now.UTC()
	start := now.Add(-30 * 24 * time.Hour)
	gen := func(count int) Generator {
		return Generator{
			Start: start, End: now, Count: count,
			UnpaidRate: 0.05, LateRate: 0.02, LateDelay: 2 * time.Hour,
		}
	}
	d := decimal.RequireFromString
	return Options{
		Seed:        1,
		Currencies:  DefaultCurrencies(),
		Invoices:    gen(3000),
		Wallets:     gen(2000),
		WalletCount: 12,
		InitialBalances: map[string]decimal.Decimal{
			"USDTBEP20": d("2500"),
			"USDTTRC20": d("10000"),
			"USDTERC20": d("1500"),
			"BNBBEP20":  d("3.5"),
			"ETHERC20":  d("1.25"),
			"TRXTRC20":  d("50000"),
			"BTC":       d("0.05"),
		},
		WithdrawFees: map[string]Fee{
			"USDTBEP20": {Fixed: d("0.5"), Percent: d("0.5")},
			"USDTTRC20": {Fixed: d("1"), Percent: d("0.5")},
			"USDTERC20": {Fixed: d("5"), Percent: d("0.5")},
			"BNBBEP20":  {Fixed: d("0.0005"), Percent: d("0.5")},
			"ETHERC20":  {Fixed: d("0.002"), Percent: d("0.5")},
			"TRXTRC20":  {Fixed: d("1"), Percent: d("0.5")},
			"BTC":       {Fixed: d("0.0001"), Percent: d("0.5")},
			"USDCERC20": {Fixed: d("5"), Percent: d("0.5")},
		},
		QuoteTTL:         5 * time.Minute,
		EndDateInclusive: true,
		Spellings:        true,
	}
}

// ErrInvalidOptions is wrapped by every error of New, so callers can tell a configuration
// mistake from anything else.
var ErrInvalidOptions = errors.New("sandbox: invalid options")

func optionsError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
}

// validate checks opts (defaults already applied) and reports the first problem clearly.
func validateOptions(o *Options) error {
	if o.APIKey == "" {
		return optionsError("APIKey is required")
	}
	if len(o.Currencies) == 0 {
		return optionsError("no currencies")
	}
	seen := map[string]bool{}
	for _, c := range o.Currencies {
		if c.Name == "" {
			return optionsError("a currency has no name")
		}
		if seen[c.Name] {
			return optionsError("currency %s listed twice", c.Name)
		}
		seen[c.Name] = true
		if c.Decimals < 0 || c.Decimals > attoDigits {
			return optionsError("currency %s: decimals %d outside 0..%d", c.Name, c.Decimals, attoDigits)
		}
		for _, f := range []struct {
			name string
			v    decimal.Decimal
		}{{"network_fee", c.NetworkFee}, {"min_deposit", c.MinDeposit}, {"min_withdraw", c.MinWithdraw}} {
			if f.v.IsNegative() {
				return optionsError("currency %s: %s is negative", c.Name, f.name)
			}
			if places(f.v) > c.Decimals {
				return optionsError("currency %s: %s %s has more than %d decimals", c.Name, f.name, f.v, c.Decimals)
			}
		}
		if !c.Rate.Valid || !c.Rate.Decimal.IsPositive() {
			return optionsError("currency %s: rate must be set and positive", c.Name)
		}
		mant, _, err := rateParts(c.Rate.Decimal)
		if err != nil {
			return optionsError("currency %s: %v", c.Name, err)
		}
		// The generator works in 128-bit fixed point: the largest amount it can make, times
		// the rate's mantissa, must fit.
		worst := c.NetworkFee.Mul(decimal.NewFromInt(2)).Add(c.MinDeposit).
			Add(decimal.NewFromInt(6000).Div(c.Rate.Decimal)).Shift(attoDigits).
			Mul(decimal.NewFromInt(int64(mant)))
		if worst.BigInt().BitLen() > 120 {
			return optionsError("currency %s: network_fee, min_deposit or rate too large for the generator", c.Name)
		}
	}
	for name, g := range map[string]Generator{"Invoices": o.Invoices, "Wallets": o.Wallets} {
		if err := validateGenerator(g); err != nil {
			return optionsError("%s: %v", name, err)
		}
	}
	if o.WalletCount < 0 {
		return optionsError("WalletCount is negative")
	}
	deposit := 0
	for _, c := range o.Currencies {
		if c.DepositEnabled() {
			deposit++
		}
	}
	if deposit == 0 && (o.Invoices.Count > 0 || o.Wallets.Count > 0 || o.WalletCount > 0) {
		return optionsError("transactions or wallets to generate, but no currency has deposits enabled")
	}
	for name, b := range o.InitialBalances {
		if !seen[name] {
			return optionsError("InitialBalances: unknown currency %s", name)
		}
		if _, err := attoOf(b); err != nil {
			return optionsError("InitialBalances[%s]: %v", name, err)
		}
	}
	for name, f := range o.WithdrawFees {
		if !seen[name] {
			return optionsError("WithdrawFees: unknown currency %s", name)
		}
		if f.Fixed.IsNegative() || f.Percent.IsNegative() {
			return optionsError("WithdrawFees[%s]: negative fee", name)
		}
		if f.Percent.GreaterThanOrEqual(decimal.NewFromInt(100)) {
			return optionsError("WithdrawFees[%s]: percent must be below 100", name)
		}
	}
	if o.QuoteTTL < 0 {
		return optionsError("QuoteTTL is negative")
	}
	f := o.Faults
	for _, r := range []struct {
		name string
		v    float64
	}{{"Rate", f.Rate}, {"DropRate", f.DropRate}, {"LostConfirmRate", f.LostConfirmRate}, {"MidStreamDropRate", f.MidStreamDropRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			return optionsError("Faults.%s %v outside [0, 1]", r.name, r.v)
		}
	}
	if f.Rate+f.DropRate > 1 {
		return optionsError("Faults.Rate + Faults.DropRate exceeds 1")
	}
	if f.Latency < 0 || f.RetryAfter < 0 || f.SlowDelay < 0 {
		return optionsError("negative fault duration")
	}
	return nil
}

func validateGenerator(g Generator) error {
	if g.Count < 0 {
		return fmt.Errorf("Count is negative")
	}
	if !(g.UnpaidRate >= 0 && g.UnpaidRate <= 1) || !(g.LateRate >= 0 && g.LateRate <= 1) {
		return fmt.Errorf("rates must be within [0, 1]")
	}
	if g.LateDelay < 0 {
		return fmt.Errorf("LateDelay is negative")
	}
	if g.LateRate > 0 && g.LateDelay < time.Microsecond {
		return fmt.Errorf("LateRate set but LateDelay is under a microsecond")
	}
	if g.Count == 0 {
		return nil
	}
	if !g.End.After(g.Start) {
		return fmt.Errorf("End must be after Start")
	}
	if g.End.Sub(g.Start) >= 1<<62 || g.Start.Year() < 1970 || g.End.Year() > 9999 {
		return fmt.Errorf("Start..End must lie within 1970..9999 and span under 146 years")
	}
	return nil
}
