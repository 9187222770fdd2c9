// Package nordpay is the typed client of the Nord PAY REST API: wire types (types.go), typed
// errors (errors.go), bounded retries for reads, and streamed decoding of transaction windows.
// It depends on nothing else of this project.
package nordpay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// DefaultBaseURL is the production API.
const DefaultBaseURL = "https://api.nord-pay.com/"

// Options configure a Client. The zero value of each field takes the default it names.
type Options struct {
	// BaseURL is the API root. Defaults to DefaultBaseURL.
	BaseURL string
	// APIKey is sent as X-API-KEY on every call.
	APIKey Secret
	// HTTPClient sends the requests. Defaults to a client whose transport waits at most
	// ResponseHeaderTimeout for an answer's headers and has no overall timeout, so that a
	// large transaction window can stream for as long as it needs; bound calls with ctx.
	HTTPClient *http.Client
	// ResponseHeaderTimeout bounds the wait for an answer to start. Defaults to 60 seconds.
	ResponseHeaderTimeout time.Duration
	// MaxRetries is how many times a read (GET) is sent again after a network error, a 429 or
	// a 5xx. Defaults to 4; negative means no retry. Writes (POST) are never retried here.
	MaxRetries int
	// MinBackoff is the first retry's upper bound of the jittered wait. Defaults to 250ms.
	MinBackoff time.Duration
	// MaxBackoff caps the jittered wait between retries. Defaults to 20 seconds.
	MaxBackoff time.Duration
	// MaxRetryAfter caps how long a Retry-After header may make us wait. Defaults to 2 minutes;
	// a longer demand ends the retries with ErrRateLimited.
	MaxRetryAfter time.Duration
	// UserAgent is sent as User-Agent. Defaults to "nordpay-jobs".
	UserAgent string
	// Logger receives a debug line per call and a warning per retry. Defaults to discarding.
	Logger *slog.Logger
	// Sleep waits between retries; tests replace it. Defaults to a context-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the Nord PAY API. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	key    Secret
	http   *http.Client
	opts   Options
	logger *slog.Logger
}

// New checks the options and builds a Client.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("nordpay: base URL %q is not an absolute http(s) URL", opts.BaseURL)
	}
	if base.User != nil {
		return nil, fmt.Errorf("nordpay: base URL must not carry credentials; set the API key instead")
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = 60 * time.Second
	}
	if opts.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = opts.ResponseHeaderTimeout
		tr.MaxIdleConnsPerHost = 8
		opts.HTTPClient = &http.Client{Transport: tr}
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 4
	} else if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 20 * time.Second
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = 2 * time.Minute
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "nordpay-jobs"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepContext
	}
	c := &Client{base: base, key: opts.APIKey, http: opts.HTTPClient, logger: opts.Logger}
	opts.APIKey = ""
	c.opts = opts
	return c, nil
}

// Format prints the client without its key, whatever the verb: a debug dump of a Client, or
// of a struct holding one, cannot leak the key.
func (c *Client) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "nordpay.Client{base: %s, key: %s}", c.base.Redacted(), c.key.String())
}

// BaseURL returns the API root the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call describes one API call.
type call struct {
	method string
	path   string // relative to the base URL, e.g. "balance/"
	query  url.Values
	body   any
	// retry lets the client send the call again on retryable failures (reads only).
	retry bool
}

// send performs the call and returns the open response of a 2xx answer; the caller closes it.
// Any other answer, and any transport failure, becomes an *Error. Reads are retried with
// jittered exponential backoff, honouring Retry-After, within MaxRetries.
func (c *Client) send(ctx context.Context, cl call) (*http.Response, error) {
	// cl.path is already escaped (identifiers go through url.PathEscape): keep it as the raw
	// path so that an identifier holding "/" stays one segment.
	u := *c.base
	u.RawPath = c.base.EscapedPath() + strings.TrimPrefix(cl.path, "/")
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("nordpay: bad path %q: %w", cl.path, err)
	}
	u.Path = p
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	displayPath := "/" + strings.TrimPrefix(cl.path, "/")
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("nordpay: %s %s: encoding the body: %w", cl.method, displayPath, err)
		}
	}
	maxAttempts := 1
	if cl.retry {
		maxAttempts += c.opts.MaxRetries
	}
	for attempt := 1; ; attempt++ {
		resp, apiErr := c.attempt(ctx, cl.method, u.String(), displayPath, payload)
		if apiErr == nil {
			return resp, nil
		}
		apiErr.Attempts = attempt
		if ctx.Err() != nil {
			apiErr.Err = errors.Join(apiErr.Err, ctx.Err())
			return nil, apiErr
		}
		if attempt >= maxAttempts || !apiErr.Retryable() {
			return nil, apiErr
		}
		wait := c.backoff(attempt)
		if apiErr.RetryAfter > 0 {
			if apiErr.RetryAfter > c.opts.MaxRetryAfter {
				return nil, apiErr
			}
			wait = max(wait, apiErr.RetryAfter)
		}
		c.logger.LogAttrs(ctx, slog.LevelWarn, "nordpay: retrying",
			slog.String("method", cl.method), slog.String("path", displayPath),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("reason", apiErr.Error()))
		if err := c.opts.Sleep(ctx, wait); err != nil {
			apiErr.Err = errors.Join(apiErr.Err, err)
			return nil, apiErr
		}
	}
}

// backoff is "full jitter": a random wait up to MinBackoff·2^(attempt-1), capped at MaxBackoff.
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.opts.MinBackoff << min(attempt-1, 20)
	if ceil > c.opts.MaxBackoff || ceil <= 0 {
		ceil = c.opts.MaxBackoff
	}
	return time.Duration(rand.Int64N(int64(ceil))) + time.Millisecond
}

// attempt sends the request once.
func (c *Client) attempt(ctx context.Context, method, rawURL, displayPath string, payload []byte) (*http.Response, *Error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, &Error{Kind: ErrTransport, Method: method, Path: displayPath, Err: err}
	}
	req.Header.Set("X-API-KEY", c.key.Reveal())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "nordpay: call failed", slog.String("method", method),
			slog.String("path", displayPath), slog.Duration("took", time.Since(start)))
		return nil, &Error{Kind: ErrTransport, Method: method, Path: displayPath, Detail: describeTransport(err), Err: scrubURLError(err)}
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "nordpay: call", slog.String("method", method),
		slog.String("path", displayPath), slog.Int("status", resp.StatusCode), slog.Duration("took", time.Since(start)))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, c.decodeError(resp, method, displayPath)
}

// describeTransport says in a few words what went wrong on the wire.
func describeTransport(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out waiting for the answer"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// scrubURLError keeps the cause of a *url.Error without its URL: the path is already in the
// Error, and the query may hold more than a user wants in a log.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// maxErrorBody bounds what is read of a failed answer.
const maxErrorBody = 64 << 10

// decodeError turns a non-2xx answer into an *Error with the API's detail.
func (c *Client) decodeError(resp *http.Response, method, displayPath string) *Error {
	e := &Error{Method: method, Path: displayPath, Status: resp.StatusCode}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Detail jsontext.Value `json:"detail"`
	}
	if err := Unmarshal(raw, &body); err == nil && len(body.Detail) > 0 {
		var s string
		var items []ValidationDetail
		if Unmarshal(body.Detail, &s) == nil {
			e.Detail = s
		} else if Unmarshal(body.Detail, &items) == nil {
			e.Details = items
		} else {
			e.Detail = string(body.Detail)
		}
	} else if text := strings.TrimSpace(string(raw)); text != "" {
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		e.Detail = text
	}
	if e.Detail == "" && len(e.Details) == 0 {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	// An API that echoes the request back must not put our key into an error.
	if k := c.key.Reveal(); k != "" {
		e.Detail = strings.ReplaceAll(e.Detail, k, redacted)
		for i := range e.Details {
			e.Details[i].Msg = strings.ReplaceAll(e.Details[i].Msg, k, redacted)
			e.Details[i].Ctx = nil
		}
	}
	classify(e)
	return e
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// do performs a call and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return &Error{Kind: ErrTransport, Method: cl.method, Path: "/" + cl.path, Status: resp.StatusCode,
			Detail: "answer cut short: " + describeTransport(err), Err: err}
	}
	if err := Unmarshal(raw, out); err != nil {
		return &Error{Kind: ErrTransport, Method: cl.method, Path: "/" + cl.path, Status: resp.StatusCode,
			Detail: "answer is not the expected JSON: " + err.Error(), Err: err}
	}
	return nil
}

// get is a retried read.
func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, call{method: http.MethodGet, path: path, retry: true}, out)
}

// post is a write, never retried by the client.
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	return c.do(ctx, call{method: http.MethodPost, path: path, body: body}, out)
}

// Currencies lists the supported currencies with their decimals, fees, minimums and flags
// (GET /currencies/).
func (c *Client) Currencies(ctx context.Context) ([]Currency, error) {
	var out []Currency
	return out, c.get(ctx, "currencies/", &out)
}

// Rates lists token-to-USDT rates (GET /currencies/rates).
func (c *Client) Rates(ctx context.Context) ([]Rate, error) {
	var out []Rate
	return out, c.get(ctx, "currencies/rates", &out)
}

// Invoice fetches one invoice by id or uuid (GET /invoice/{identifier}).
func (c *Client) Invoice(ctx context.Context, identifier string) (*Invoice, error) {
	var out Invoice
	return &out, c.get(ctx, "invoice/"+url.PathEscape(identifier), &out)
}

// CreateInvoice creates an invoice (POST /invoice/create). It is not retried: a lost answer
// may still have created the invoice.
func (c *Client) CreateInvoice(ctx context.Context, req CreateInvoiceRequest) (*Invoice, error) {
	if req.Currency != "" && len(req.AllowedCurrencies) > 0 {
		return nil, fmt.Errorf("nordpay: create invoice: set currency or allowed_currencies, not both")
	}
	var out Invoice
	return &out, c.post(ctx, "invoice/create", req, &out)
}

// Wallet fetches one wallet (GET /wallet/{id}).
func (c *Client) Wallet(ctx context.Context, id string) (*Wallet, error) {
	var out Wallet
	return &out, c.get(ctx, "wallet/"+url.PathEscape(id), &out)
}

// CreateWallet creates a permanent wallet (POST /wallet/create). It is not retried.
func (c *Client) CreateWallet(ctx context.Context, req CreateWalletRequest) (*Wallet, error) {
	var out Wallet
	return &out, c.post(ctx, "wallet/create", req, &out)
}

// WalletQRCode returns the base64-encoded QR image of a wallet (GET /wallet/{id}/qrcode).
func (c *Client) WalletQRCode(ctx context.Context, id string) (string, error) {
	var out QRCode
	if err := c.get(ctx, "wallet/"+url.PathEscape(id)+"/qrcode", &out); err != nil {
		return "", err
	}
	return out.QRCode, nil
}

// Balances returns the balance of every currency (GET /balance/).
func (c *Client) Balances(ctx context.Context) ([]Balance, error) {
	var out []Balance
	return out, c.get(ctx, "balance/", &out)
}

// RequestWithdraw asks for a single withdrawal quote (POST /balance/withdraw/request).
// Nothing moves until ConfirmWithdraw. Never retried by the client.
func (c *Client) RequestWithdraw(ctx context.Context, req WithdrawRequest) (*WithdrawQuote, error) {
	var out WithdrawQuote
	return &out, c.post(ctx, "balance/withdraw/request", req, &out)
}

// ConfirmWithdraw executes a single withdrawal quote (POST /balance/withdraw/confirm). Never
// retried: when OutcomeUnknown(err), the money may have moved.
func (c *Client) ConfirmWithdraw(ctx context.Context, identifier string) (*WithdrawConfirmation, error) {
	var out WithdrawConfirmation
	return &out, c.post(ctx, "balance/withdraw/confirm", ConfirmRequest{Identifier: identifier}, &out)
}

// RequestMultiWithdraw asks for a batch withdrawal quote with per-row fees
// (POST /balance/withdraw/multiple/request). Nothing moves until ConfirmMultiWithdraw.
func (c *Client) RequestMultiWithdraw(ctx context.Context, req MultiWithdrawRequest) (*MultiWithdrawQuote, error) {
	var out MultiWithdrawQuote
	return &out, c.post(ctx, "balance/withdraw/multiple/request", req, &out)
}

// ConfirmMultiWithdraw executes a batch quote (POST /balance/withdraw/multiple/confirm). Never
// retried: when OutcomeUnknown(err), the money may have moved, and the rows must not be sent
// again until a person has found out.
func (c *Client) ConfirmMultiWithdraw(ctx context.Context, identifier string) (*WithdrawConfirmation, error) {
	var out WithdrawConfirmation
	return &out, c.post(ctx, "balance/withdraw/multiple/confirm", ConfirmRequest{Identifier: identifier}, &out)
}
