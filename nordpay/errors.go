package nordpay

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Sentinel kinds of API failure. Every error the client returns for an API answer or a
// transport failure is an *Error whose Kind is one of these, so callers branch with errors.Is.
var (
	// ErrUnauthorized: the API key is missing or wrong (401/403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrValidation: the API rejected the body or the query (422); Error.Details lists why.
	ErrValidation = errors.New("validation failed")
	// ErrNotEnoughBalance: "Not enough balance".
	ErrNotEnoughBalance = errors.New("not enough balance")
	// ErrBelowMinimum: an amount under the currency's minimum withdrawal; see Error.Minimum.
	ErrBelowMinimum = errors.New("amount below minimum withdraw amount")
	// ErrCurrencyUnavailable: "<CURRENCY> is not available for withdraw at this moment".
	ErrCurrencyUnavailable = errors.New("currency not available for withdraw")
	// ErrRequestNotFound: "Withdraw request not found": unknown, or already confirmed.
	ErrRequestNotFound = errors.New("withdraw request not found")
	// ErrRequestExpired: "Withdraw request expired": the quote must be requested again.
	ErrRequestExpired = errors.New("withdraw request expired")
	// ErrNotFound: another 404 (an unknown invoice or wallet).
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: another 4xx answer.
	ErrBadRequest = errors.New("bad request")
	// ErrRateLimited: 429; Error.RetryAfter says how long the API asked us to wait.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer: a 5xx answer.
	ErrServer = errors.New("server error")
	// ErrTransport: no complete answer came back (connection refused or reset, timeout, a
	// body cut short or not JSON).
	ErrTransport = errors.New("transport failure")
)

// Error is a failed API call. It never holds the API key: the key travels only in a request
// header, and any echo of it in an answer body is redacted before it is stored here.
type Error struct {
	// Kind is one of the sentinel errors above; errors.Is(err, ErrNotEnoughBalance) matches it.
	Kind error
	// Method and Path name the call ("POST", "/balance/withdraw/multiple/request").
	Method, Path string
	// Status is the HTTP status, 0 when no answer came back.
	Status int
	// Detail is the API's message ("Not enough balance"), or a description of the failure.
	Detail string
	// Details lists the items of a 422 answer.
	Details []ValidationDetail
	// Currency is set for ErrBelowMinimum and ErrCurrencyUnavailable.
	Currency string
	// Minimum is the minimum withdraw amount for ErrBelowMinimum, when the message carries it.
	Minimum decimal.Decimal
	// RetryAfter is the wait the API asked for with a Retry-After header, if any.
	RetryAfter time.Duration
	// Attempts is how many times the call was sent.
	Attempts int
	// Err is the underlying transport or decoding error, if any.
	Err error
}

// Error renders one line: "nordpay: POST /balance/withdraw/confirm: 400 Withdraw request expired".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("nordpay: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d ", e.Status)
	}
	switch {
	case e.Detail != "":
		b.WriteString(e.Detail)
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	}
	if len(e.Details) > 0 {
		parts := make([]string, len(e.Details))
		for i, d := range e.Details {
			parts[i] = d.String()
		}
		b.WriteString(" (")
		b.WriteString(strings.Join(parts, "; "))
		b.WriteByte(')')
	}
	if e.Err != nil && e.Detail == "" {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap exposes both the kind and the underlying error to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Retryable reports whether sending the same call again may succeed: transport failures,
// rate limits and server errors.
func (e *Error) Retryable() bool {
	return e.Kind == ErrTransport || e.Kind == ErrRateLimited || e.Kind == ErrServer
}

// OutcomeUnknown reports whether err leaves it unknown if a state-changing call (a withdraw
// confirm) took effect: no answer came back, or the server failed while answering. A 4xx
// answer, a rate limit, or an error raised before the call was sent are known failures.
func OutcomeUnknown(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Kind == ErrTransport || e.Kind == ErrServer
}

// RecordError is one element of a transaction array that could not be decoded. The stream
// goes on past it; the caller decides (the ledger quarantines it with Raw and the reason).
type RecordError struct {
	// Index is the element's position in the array, from 0.
	Index int
	// Raw is the element's JSON, as received.
	Raw []byte
	// Err is why it could not be decoded.
	Err error
}

// Error names the element and the reason.
func (e *RecordError) Error() string {
	return fmt.Sprintf("nordpay: element %d of the answer: %v", e.Index, e.Err)
}

// Unwrap returns the decoding error.
func (e *RecordError) Unwrap() error { return e.Err }

var (
	reUnavailable = regexp.MustCompile(`(?i)^\s*(\S+)\s+is not available for withdraw`)
	reBelowMin    = regexp.MustCompile(`(?i)less than minimum withdraw amount for\s+(\S+)\s*(?:\(\s*([^)]*?)\s*\))?`)
)

// classify turns an HTTP status and the API's detail message into an error kind; the business
// messages of withdraw.txt win over the status, because their status codes are not documented.
func classify(e *Error) {
	d := strings.ToLower(e.Detail)
	switch {
	case e.Status >= 400 && e.Status < 500 && strings.Contains(d, "not enough balance"):
		e.Kind = ErrNotEnoughBalance
	case e.Status >= 400 && e.Status < 500 && strings.Contains(d, "withdraw request not found"):
		e.Kind = ErrRequestNotFound
	case e.Status >= 400 && e.Status < 500 && strings.Contains(d, "withdraw request expired"):
		e.Kind = ErrRequestExpired
	case e.Status >= 400 && e.Status < 500 && reUnavailable.MatchString(e.Detail):
		e.Kind = ErrCurrencyUnavailable
		e.Currency = reUnavailable.FindStringSubmatch(e.Detail)[1]
	case e.Status >= 400 && e.Status < 500 && reBelowMin.MatchString(e.Detail):
		e.Kind = ErrBelowMinimum
		m := reBelowMin.FindStringSubmatch(e.Detail)
		e.Currency = m[1]
		if min, err := ParseAmount(m[2]); err == nil {
			e.Minimum = min
		}
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		e.Kind = ErrUnauthorized
	case e.Status == http.StatusUnprocessableEntity:
		e.Kind = ErrValidation
	case e.Status == http.StatusTooManyRequests:
		e.Kind = ErrRateLimited
	case e.Status >= 500:
		e.Kind = ErrServer
	case e.Status == http.StatusNotFound:
		e.Kind = ErrNotFound
	default:
		e.Kind = ErrBadRequest
	}
}
