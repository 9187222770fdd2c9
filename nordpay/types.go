package nordpay

// This file holds every wire type of the Nord PAY API, exactly as the vendor documents and
// ../shared/nordpay-api/ASSUMPTIONS.md describe them. Fields marked "assumed" are not in the
// vendor documents. Decoding is tolerant: unknown fields are ignored, a missing optional field
// is its zero value, money is decoded exactly (JSON number, exponent form, or string) into
// decimal.Decimal, ids may be JSON numbers or strings, integers may be any integral JSON
// number or a string of one (18, 18.0, 1.8E1, "18"), and flags may be true/false,
// "true"/"false" (any case), 1/0 or "1"/"0". null is the zero value (nil for a pointer).

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/shopspring/decimal"
)

// Currency is one entry of GET /currencies/ (documented fields, plus the assumed names of
// min_withdraw, the availability flags and rate). Transactions embed the same object.
type Currency struct {
	Name          string          `json:"name"`
	Token         string          `json:"token"`
	Network       string          `json:"network"`
	Contract      string          `json:"contract"`
	Decimals      int             `json:"decimals"`
	Confirmations int             `json:"confirmations"`
	NetworkFee    decimal.Decimal `json:"network_fee"`
	MinDeposit    decimal.Decimal `json:"min_deposit"`
	// MinWithdraw is assumed (named after the error text <CURRENCY.MIN_WITHDRAW>).
	MinWithdraw decimal.Decimal `json:"min_withdraw"`
	// IsDepositEnabled is assumed; nil when the API does not send it.
	IsDepositEnabled *bool `json:"is_deposit_enabled,omitempty"`
	// IsWithdrawEnabled is assumed; nil when the API does not send it.
	IsWithdrawEnabled *bool `json:"is_withdraw_enabled,omitempty"`
	// Rate is assumed: the token-to-USDT rate; invalid when not sent.
	Rate decimal.NullDecimal `json:"rate"`
}

// WithdrawEnabled reports whether withdrawals are allowed; an absent flag counts as allowed,
// because the API itself refuses an unavailable currency with ErrCurrencyUnavailable.
func (c Currency) WithdrawEnabled() bool { return c.IsWithdrawEnabled == nil || *c.IsWithdrawEnabled }

// DepositEnabled reports whether deposits are allowed; an absent flag counts as allowed.
func (c Currency) DepositEnabled() bool { return c.IsDepositEnabled == nil || *c.IsDepositEnabled }

// Rate is one entry of GET /currencies/rates (assumed shape): the token-to-USDT ratio.
type Rate struct {
	Name string          `json:"name"`
	Rate decimal.Decimal `json:"rate"`
}

// CurrencyRef is the currency of a transaction: documented as the full currency object, but
// decoded from a bare name string too, so that either spelling yields Name.
type CurrencyRef struct {
	Currency
}

// UnmarshalJSON accepts a currency object, a currency name string, or null.
func (c *CurrencyRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = CurrencyRef{}
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = CurrencyRef{Currency{Name: s}}
		return nil
	}
	var cur Currency
	if err := json.Unmarshal(b, &cur, decodeOptions); err != nil {
		return err
	}
	c.Currency = cur
	return nil
}

// MarshalJSON writes the full currency object, as the vendor documents it.
func (c CurrencyRef) MarshalJSON() ([]byte, error) { return json.Marshal(c.Currency, encodeOptions) }

// UnmarshalJSONFrom is the streaming form of UnmarshalJSON. Every transaction of a currency
// carries the same currency object, so decoded objects are remembered by their exact bytes.
func (c *CurrencyRef) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if len(raw) > 0 && raw[0] == '{' {
		if cur, ok := currencyCache.get(raw); ok {
			c.Currency = cur
			return nil
		}
		var cur Currency
		if err := json.Unmarshal(raw, &cur, decodeOptions); err != nil {
			return relocate(dec, raw, err)
		}
		currencyCache.put(raw, cur)
		c.Currency = cur
		return nil
	}
	return c.UnmarshalJSON(raw)
}

// relocate makes the position of an error met while decoding raw, the value just read from
// dec, absolute: "/0/currency/decimals" rather than "/decimals".
func relocate(dec *jsontext.Decoder, raw []byte, err error) error {
	var serr *json.SemanticError
	if !errors.As(err, &serr) {
		return err
	}
	out := *serr
	out.JSONPointer = dec.StackPointer() + serr.JSONPointer
	out.ByteOffset += dec.InputOffset() - int64(len(raw))
	return &out
}

// currencyCache remembers decoded currency objects by their JSON text. It is bounded: a
// source that sends endless distinct objects only stops being cached.
var currencyCache = &objectCache{m: map[string]Currency{}}

type objectCache struct {
	mu sync.RWMutex
	m  map[string]Currency
}

const maxCachedCurrencies = 1024

func (oc *objectCache) get(raw []byte) (Currency, bool) {
	oc.mu.RLock()
	defer oc.mu.RUnlock()
	c, ok := oc.m[string(raw)]
	return c, ok
}

func (oc *objectCache) put(raw []byte, c Currency) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if len(oc.m) < maxCachedCurrencies {
		oc.m[string(raw)] = c
	}
}

// Transaction is one element of GET /invoice/transactions and GET /wallet/transactions
// (documented in invoice-transactions.txt; the wallet variant is assumed to be the same object
// with source_type "wallet" and the wallet as source).
type Transaction struct {
	ID         ID          `json:"id"`
	SourceType string      `json:"source_type"`
	Source     Source      `json:"source"`
	Currency   CurrencyRef `json:"currency"`
	// Amount is the gross amount the customer paid.
	Amount        decimal.Decimal `json:"amount"`
	AmountUSD     decimal.Decimal `json:"amount_usd"`
	NetworkFee    decimal.Decimal `json:"network_fee"`
	NetworkFeeUSD decimal.Decimal `json:"network_fee_usd"`
	ServiceFee    decimal.Decimal `json:"service_fee"`
	ServiceFeeUSD decimal.Decimal `json:"service_fee_usd"`
	TxHash        string          `json:"tx_hash"`
	// IsPaid: only paid transactions move money.
	IsPaid           bool `json:"is_paid"`
	IsPostbackSended bool `json:"is_postback_sended"`
	CreatedAt        Time `json:"created_at"`
}

// Net is what the balance grows by for a paid transaction: amount - network fee - service fee
// (the money semantics assumed in ASSUMPTIONS.md, checked by reconciliation).
func (t *Transaction) Net() decimal.Decimal {
	return t.Amount.Sub(t.NetworkFee).Sub(t.ServiceFee)
}

// NetUSD is Net in USD, from the *_usd fields.
func (t *Transaction) NetUSD() decimal.Decimal {
	return t.AmountUSD.Sub(t.NetworkFeeUSD).Sub(t.ServiceFeeUSD)
}

// Source types of a transaction.
const (
	SourceInvoice = "invoice"
	SourceWallet  = "wallet"
)

// Source is the invoice or wallet a transaction belongs to: the union of the invoice fields
// (documented) and the wallet fields (assumed).
type Source struct {
	ID                ID              `json:"id"`
	UUID              string          `json:"uuid,omitempty"`
	Currency          CurrencyName    `json:"currency"`
	TxHash            string          `json:"tx_hash,omitempty"`
	Address           string          `json:"address"`
	Amount            decimal.Decimal `json:"amount"`
	AmountUSD         decimal.Decimal `json:"amount_usd"`
	ReceivedAmount    decimal.Decimal `json:"received_amount"`
	ReceivedAmountUSD decimal.Decimal `json:"received_amount_usd"`
	Label             string          `json:"label"`
	PostbackURL       string          `json:"postback_url,omitempty"`
	SuccessURL        string          `json:"success_url,omitempty"`
	FailURL           string          `json:"fail_url,omitempty"`
	CreatedAt         Time            `json:"created_at"`
	ExpiresAt         Time            `json:"expires_at,omitzero"`
	UpdatedAt         Time            `json:"updated_at,omitzero"`
	Status            string          `json:"status,omitempty"`
}

// Invoice is the object of GET /invoice/, GET /invoice/{identifier} and POST /invoice/create.
// URL and AllowedCurrencies are assumed (the quickstart mentions a payment URL in prose).
type Invoice struct {
	ID                ID              `json:"id"`
	UUID              string          `json:"uuid"`
	Currency          CurrencyName    `json:"currency"`
	AllowedCurrencies []string        `json:"allowed_currencies,omitempty"`
	TxHash            string          `json:"tx_hash"`
	Address           string          `json:"address"`
	Amount            decimal.Decimal `json:"amount"`
	AmountUSD         decimal.Decimal `json:"amount_usd"`
	ReceivedAmount    decimal.Decimal `json:"received_amount"`
	ReceivedAmountUSD decimal.Decimal `json:"received_amount_usd"`
	Label             string          `json:"label"`
	PostbackURL       string          `json:"postback_url"`
	SuccessURL        string          `json:"success_url"`
	FailURL           string          `json:"fail_url"`
	URL               string          `json:"url,omitempty"`
	CreatedAt         Time            `json:"created_at"`
	ExpiresAt         Time            `json:"expires_at"`
	Status            string          `json:"status"`
}

// CreateInvoiceRequest is the body of POST /invoice/create (documented in the quickstart).
// Set Currency or AllowedCurrencies, never both.
type CreateInvoiceRequest struct {
	Currency          string   `json:"currency,omitempty"`
	AllowedCurrencies []string `json:"allowed_currencies,omitempty"`
	// Amount is a string: "200 USD" or "0.015 BNB" expressions are allowed.
	Amount string `json:"amount"`
	// ExpiresTime is the lifetime in minutes (30 to 1440); 0 leaves it to the API.
	ExpiresTime int    `json:"expires_time,omitempty"`
	Label       string `json:"label"`
	PostbackURL string `json:"postback_url,omitempty"`
	SuccessURL  string `json:"success_url,omitempty"`
	FailURL     string `json:"fail_url,omitempty"`
}

// Wallet is the object of GET /wallet/, GET /wallet/{id} and POST /wallet/create (fields as the
// quickstart lists them: label, address, currency, timestamps; exact names assumed).
type Wallet struct {
	ID          ID           `json:"id"`
	Label       string       `json:"label"`
	Address     string       `json:"address"`
	Currency    CurrencyName `json:"currency"`
	PostbackURL string       `json:"postback_url"`
	CreatedAt   Time         `json:"created_at"`
	UpdatedAt   Time         `json:"updated_at"`
}

// CreateWalletRequest is the body of POST /wallet/create.
type CreateWalletRequest struct {
	Currency    string `json:"currency"`
	Label       string `json:"label"`
	PostbackURL string `json:"postback_url,omitempty"`
}

// QRCode is the answer of GET /wallet/{id}/qrcode: a base64-encoded image.
type QRCode struct {
	QRCode string `json:"qrcode"`
}

// Balance is one entry of GET /balance/ (assumed shape).
type Balance struct {
	Currency   string          `json:"currency"`
	Balance    decimal.Decimal `json:"balance"`
	BalanceUSD decimal.Decimal `json:"balance_usd"`
}

// WithdrawRequest is the body of POST /balance/withdraw/request. Amount goes out as a JSON
// number.
type WithdrawRequest struct {
	Currency string          `json:"currency"`
	Address  string          `json:"address"`
	Amount   decimal.Decimal `json:"amount"`
}

// WithdrawQuote is the answer of POST /balance/withdraw/request: valid until ExpiresAt.
type WithdrawQuote struct {
	Identifier    string          `json:"identifier"`
	Currency      string          `json:"currency"`
	Address       string          `json:"address"`
	Amount        decimal.Decimal `json:"amount"`
	AmountUSD     decimal.Decimal `json:"amount_usd"`
	ServiceFee    decimal.Decimal `json:"service_fee"`
	ServiceFeeUSD decimal.Decimal `json:"service_fee_usd"`
	ExpiresAt     Time            `json:"expires_at"`
}

// Payee is one address/amount pair of a multiple withdrawal request.
type Payee struct {
	Address string          `json:"address"`
	Amount  decimal.Decimal `json:"amount"`
}

// MultiWithdrawRequest is the body of POST /balance/withdraw/multiple/request (assumed shape).
type MultiWithdrawRequest struct {
	Currency            string  `json:"currency"`
	AddressesAndAmounts []Payee `json:"addresses_and_amounts"`
}

// QuotedPayee is one row of a multiple withdrawal quote, with the fee Nord PAY will charge.
type QuotedPayee struct {
	Address       string          `json:"address"`
	Amount        decimal.Decimal `json:"amount"`
	ServiceFee    decimal.Decimal `json:"service_fee"`
	ServiceFeeUSD decimal.Decimal `json:"service_fee_usd"`
	// AmountUSD is the row's own USD value, if the API sends one (not in ASSUMPTIONS.md, whose
	// quote has amount_usd only for the whole batch); invalid when absent.
	AmountUSD decimal.NullDecimal `json:"amount_usd,omitzero"`
}

// MultiWithdrawQuote is the answer of POST /balance/withdraw/multiple/request (assumed shape):
// the batch quote, valid until ExpiresAt.
type MultiWithdrawQuote struct {
	Identifier          string          `json:"identifier"`
	Currency            string          `json:"currency"`
	AddressesAndAmounts []QuotedPayee   `json:"addresses_and_amounts"`
	Amount              decimal.Decimal `json:"amount"`
	AmountUSD           decimal.Decimal `json:"amount_usd"`
	ServiceFee          decimal.Decimal `json:"service_fee"`
	ServiceFeeUSD       decimal.Decimal `json:"service_fee_usd"`
	ExpiresAt           Time            `json:"expires_at"`
}

// ConfirmRequest is the body of both confirm calls.
type ConfirmRequest struct {
	Identifier string `json:"identifier"`
}

// WithdrawConfirmation is the answer of both confirm calls. TxHash and URL are mentioned by the
// vendor's examples but not in the documented response; they are empty when absent.
type WithdrawConfirmation struct {
	Detail string `json:"detail"`
	Status string `json:"status"`
	ID     ID     `json:"id"`
	TxHash string `json:"tx_hash,omitempty"`
	URL    string `json:"url,omitempty"`
}

// ValidationDetail is one item of a FastAPI 422 body: {"loc": [...], "msg", "type", "ctx"}.
type ValidationDetail struct {
	Loc  Loc            `json:"loc"`
	Msg  string         `json:"msg"`
	Type string         `json:"type"`
	Ctx  map[string]any `json:"ctx,omitempty"`
}

// String renders a detail as "body.currency: Field required".
func (d ValidationDetail) String() string {
	if len(d.Loc) == 0 {
		return d.Msg
	}
	return strings.Join(d.Loc, ".") + ": " + d.Msg
}

// Loc is the location path of a validation detail. FastAPI mixes strings and integers
// (["body", "addresses_and_amounts", 0, "amount"]); both decode to strings.
type Loc []string

// UnmarshalJSON accepts an array of strings and numbers, a single string, or null.
func (l *Loc) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	switch v := raw.(type) {
	case nil:
		*l = nil
	case string:
		*l = Loc{v}
	case []any:
		out := make(Loc, 0, len(v))
		for _, e := range v {
			switch e := e.(type) {
			case string:
				out = append(out, e)
			case float64:
				out = append(out, strconv.FormatFloat(e, 'f', -1, 64))
			default:
				out = append(out, fmt.Sprint(e))
			}
		}
		*l = out
	default:
		return fmt.Errorf("loc: unexpected JSON %s", b)
	}
	return nil
}

// ID is an identifier the API sends as a JSON number (documented) or a string. It is kept as
// its decimal text, so no id is ever rounded, and nothing is assumed about its order.
type ID string

// UnmarshalJSON accepts a JSON number (any size), a string, or null (the empty ID).
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*id = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(strings.TrimSpace(s))
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*id = ID(canonicalInteger(b))
	default:
		return fmt.Errorf("id: want a number or a string, got %.40s", b)
	}
	return nil
}

// UnmarshalJSONFrom is the streaming form of UnmarshalJSON.
func (id *ID) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if n := len(raw); n >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		*id = ID(bytes.TrimSpace(raw[1 : n-1]))
		return nil
	}
	return id.UnmarshalJSON(raw)
}

// MarshalJSON writes a numeric id as a JSON number and any other id as a string.
func (id ID) MarshalJSON() ([]byte, error) {
	if id.isNumeric() {
		return []byte(id), nil
	}
	return json.Marshal(string(id))
}

func (id ID) isNumeric() bool {
	s := string(id)
	if s == "" || len(s) > 30 {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalInteger turns the integral JSON numbers 12, 12.0 and 1.2E1 into "12"; any other
// number is kept as written.
func canonicalInteger(b []byte) string {
	for _, c := range b {
		if c == '.' || c == 'e' || c == 'E' {
			d, err := decimal.NewFromString(string(b))
			if err == nil && d.IsInteger() {
				return d.BigInt().String()
			}
			return string(b)
		}
	}
	return string(b)
}

// String returns the id's text.
func (id ID) String() string { return string(id) }

// CurrencyName is a currency named by a string; an object with a "name" decodes to its name.
type CurrencyName string

// UnmarshalJSONFrom is the streaming form of UnmarshalJSON.
func (c *CurrencyName) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == '"' {
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if n := len(raw); bytes.IndexByte(raw, '\\') < 0 {
			*c = CurrencyName(raw[1 : n-1])
			return nil
		}
		return c.UnmarshalJSON(raw)
	}
	var ref CurrencyRef
	if err := ref.UnmarshalJSONFrom(dec); err != nil {
		return err
	}
	*c = CurrencyName(ref.Name)
	return nil
}

// UnmarshalJSON accepts a string, a currency object, or null.
func (c *CurrencyName) UnmarshalJSON(b []byte) error {
	var ref CurrencyRef
	if err := ref.UnmarshalJSON(b); err != nil {
		return err
	}
	*c = CurrencyName(ref.Name)
	return nil
}

// Time is an API timestamp. It decodes ISO 8601 with a zone (the documented form, usually
// microseconds and Z), and tolerates a missing zone (taken as UTC), a space for the T, and a
// bare date; it encodes as RFC 3339 in UTC with microseconds.
type Time struct {
	time.Time
}

// timeLayouts are tried in order; layouts without a zone are parsed as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseTime parses a timestamp in any of the spellings Time accepts.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time: cannot parse %q as ISO 8601", s)
}

// UnmarshalJSONFrom is the streaming form of UnmarshalJSON; the documented RFC 3339 form is
// parsed without copying.
func (t *Time) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if n := len(raw); n > 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		var parsed time.Time
		if parsed.UnmarshalText(raw[1:n-1]) == nil {
			t.Time = parsed.UTC()
			return nil
		}
	}
	return t.UnmarshalJSON(raw)
}

// UnmarshalJSON accepts a timestamp string or null (the zero Time).
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	if b[0] != '"' {
		return fmt.Errorf("time: want a string, got %.40s", b)
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	parsed, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// TimeLayout is how timestamps are written: RFC 3339, UTC, microseconds, as the API does.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON writes RFC 3339 in UTC with microseconds, or null for the zero Time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

// ParseAmount parses a money amount exactly, in any spelling the API may use: plain decimals,
// exponent form (1E-8), surrounding spaces. It never goes through float64.
func ParseAmount(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return decimal.Decimal{}, fmt.Errorf("amount: empty")
	}
	if !validNumber(s) {
		return decimal.Decimal{}, fmt.Errorf("amount: %q is not a number", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("amount: %q is not a number", s)
	}
	return d, nil
}

// validNumber reports whether s is a JSON-style number (optionally with a leading '+'): it
// keeps "NaN", "Inf", "0x10" and "1_000" out, which decimal.NewFromString might accept or
// misread.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// decodeAmount decodes one JSON value as money: a number, a numeric string, or null (zero).
func decodeAmount(b []byte) (decimal.Decimal, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return decimal.Decimal{}, nil
	}
	if d, ok := parseSimpleAmount(b); ok {
		return d, nil
	}
	if b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("amount: %w", err)
		}
		return ParseAmount(s)
	}
	return ParseAmount(string(b))
}

// ParseInteger parses an integer the API may spell as any integral number: 18, -3, 18.0,
// 1.8E1, 180E-1, with surrounding spaces. A number with a fraction (18.5), a non-number, or a
// value outside int64 is an error. It never goes through float64, and a huge exponent costs
// nothing.
func ParseInteger(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("integer: empty")
	}
	if !validNumber(s) {
		return 0, fmt.Errorf("integer: %q is not a number", clip(s))
	}
	sign := ""
	switch s[0] {
	case '-':
		sign, s = "-", s[1:]
	case '+':
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, negExp := s[i+1:], false
		if e[0] == '+' || e[0] == '-' {
			e, negExp = e[1:], e[0] == '-'
		}
		e = strings.TrimLeft(e, "0")
		if len(e) > 6 {
			// |exponent| > 999999: zero, or far outside int64, or far from integral.
			switch {
			case strings.Trim(mant, "0.") == "":
				return 0, nil
			case negExp:
				return 0, fmt.Errorf("integer: %s is not an integer", clip(sign+s))
			}
			return 0, fmt.Errorf("integer: %s is out of range", clip(sign+s))
		}
		if e != "" {
			exp, _ = strconv.Atoi(e) // six digits at most, all digits (validNumber)
		}
		if negExp {
			exp = -exp
		}
	}
	digits := mant
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		digits = mant[:i] + mant[i+1:]
		exp -= len(mant) - i - 1
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, nil
	}
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	if exp < 0 {
		return 0, fmt.Errorf("integer: %s is not an integer", clip(sign+s))
	}
	if len(digits)+exp > 19 {
		return 0, fmt.Errorf("integer: %s is out of range", clip(sign+s))
	}
	n, err := strconv.ParseInt(sign+digits+strings.Repeat("0", exp), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integer: %s is out of range", clip(sign+s))
	}
	return n, nil
}

// clip shortens a value quoted in an error to about its first 40 bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// decodeInteger decodes one JSON value as an integer: an integral number in any spelling, or
// a string holding one. null is reported as absent.
func decodeInteger(b []byte) (n int64, present bool, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return 0, false, nil
	case b[0] == '"':
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return 0, false, fmt.Errorf("integer: %w", err)
		}
		n, err := ParseInteger(s)
		return n, true, err
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		n, err := ParseInteger(string(b))
		return n, true, err
	}
	return 0, false, fmt.Errorf("integer: want a number or a numeric string, got %.40s", b)
}

// ParseFlag parses a flag the API may spell as "true"/"false" in any case, or as the integer
// 1 or 0 (in any spelling ParseInteger takes), with surrounding spaces. Anything else, "yes"
// included, is an error: a flag decides what is paid or allowed, so it is never guessed.
func ParseFlag(s string) (bool, error) {
	t := strings.TrimSpace(s)
	switch {
	case strings.EqualFold(t, "true"):
		return true, nil
	case strings.EqualFold(t, "false"):
		return false, nil
	}
	if n, err := ParseInteger(t); err == nil && (n == 0 || n == 1) {
		return n == 1, nil
	}
	return false, fmt.Errorf("flag: %q is not true, false, 1 or 0", clip(s))
}

// decodeFlag decodes one JSON value as a flag: true/false, 1/0, or a string of either. null
// is reported as absent.
func decodeFlag(b []byte) (v, present bool, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return false, false, nil
	case string(b) == "true":
		return true, true, nil
	case string(b) == "false":
		return false, true, nil
	case b[0] == '"':
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return false, false, fmt.Errorf("flag: %w", err)
		}
		v, err := ParseFlag(s)
		return v, true, err
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		v, err := ParseFlag(string(b))
		return v, true, err
	}
	return false, false, fmt.Errorf("flag: want true, false, 1 or 0, got %.40s", b)
}

// Wire conventions for encoding/json/v2 (github.com/go-json-experiment/json): decimals are
// exact JSON numbers both ways; every int and bool of a wire type takes the tolerant spellings
// of ParseInteger and ParseFlag (null leaves the zero value; a *bool stays nil); decoding
// tolerates duplicate names, invalid UTF-8 and unknown members. A value that does not decode
// is an error naming its JSON path and the value.
var (
	decodeOptions = json.JoinOptions(
		json.WithUnmarshalers(json.JoinUnmarshalers(
			json.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *int) error {
				raw, err := dec.ReadValue()
				if err != nil {
					return err
				}
				n, _, err := decodeInteger(raw)
				if err != nil {
					return err
				}
				if int64(int(n)) != n {
					return fmt.Errorf("integer: %s is out of range", clip(string(raw)))
				}
				*v = int(n)
				return nil
			}),
			json.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *bool) error {
				switch dec.PeekKind() {
				case 't', 'f':
					tok, err := dec.ReadToken()
					if err != nil {
						return err
					}
					*v = tok.Bool()
					return nil
				}
				raw, err := dec.ReadValue()
				if err != nil {
					return err
				}
				*v, _, err = decodeFlag(raw)
				return err
			}),
			json.UnmarshalFromFunc(func(dec *jsontext.Decoder, d *decimal.Decimal) error {
				v, err := dec.ReadValue()
				if err != nil {
					return err
				}
				*d, err = decodeAmount(v)
				return err
			}),
			json.UnmarshalFromFunc(func(dec *jsontext.Decoder, d *decimal.NullDecimal) error {
				v, err := dec.ReadValue()
				if err != nil {
					return err
				}
				if string(v) == "null" {
					*d = decimal.NullDecimal{}
					return nil
				}
				amt, err := decodeAmount(v)
				*d = decimal.NullDecimal{Decimal: amt, Valid: err == nil}
				return err
			}),
		)),
		json.RejectUnknownMembers(false),
		jsontext.AllowDuplicateNames(true),
		jsontext.AllowInvalidUTF8(true),
	)
	encodeOptions = json.JoinOptions(
		json.WithMarshalers(json.JoinMarshalers(
			json.MarshalToFunc(func(enc *jsontext.Encoder, d decimal.Decimal) error {
				return enc.WriteValue(jsontext.Value(d.String()))
			}),
			json.MarshalToFunc(func(enc *jsontext.Encoder, d decimal.NullDecimal) error {
				if !d.Valid {
					return enc.WriteToken(jsontext.Null)
				}
				return enc.WriteValue(jsontext.Value(d.Decimal.String()))
			}),
		)),
	)
)

// Unmarshal decodes JSON with the wire conventions of this package: exact decimals from
// numbers or strings, tolerant of unknown members and duplicate names.
func Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v, decodeOptions) }

// Marshal encodes JSON with the wire conventions of this package: decimals as exact JSON
// numbers, times as RFC 3339 UTC with microseconds.
func Marshal(v any) ([]byte, error) { return json.Marshal(v, encodeOptions) }

// parseSimpleAmount is the fast path of decodeAmount for the common spelling: an optional
// minus, digits, an optional fraction, at most 18 digits in all. It parses without the string
// copy and big-number parse of decimal.NewFromString, and gives the same value.
func parseSimpleAmount(b []byte) (decimal.Decimal, bool) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i++
	}
	var mant int64
	digits, frac := 0, 0
	seenDot := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 18 {
				return decimal.Decimal{}, false
			}
			mant = mant*10 + int64(c-'0')
			digits++
			if seenDot {
				frac++
			}
		case c == '.' && !seenDot && digits > 0:
			seenDot = true
		default:
			return decimal.Decimal{}, false
		}
	}
	if digits == 0 || (seenDot && frac == 0) {
		return decimal.Decimal{}, false
	}
	if mant == 0 {
		return decimal.Decimal{}, true
	}
	if neg {
		mant = -mant
	}
	return decimal.New(mant, int32(-frac)), true
}
