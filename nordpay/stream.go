package nordpay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Window selects transactions by created_at. A zero Start or End is left out of the query.
// The API does not document whether end_date is inclusive; callers that need exact windows
// overlap them and deduplicate on the transaction id.
type Window struct {
	Start, End time.Time
}

// query renders the window as start_date / end_date in RFC 3339 UTC with microseconds.
func (w Window) query() url.Values {
	q := url.Values{}
	if !w.Start.IsZero() {
		q.Set("start_date", w.Start.UTC().Format(TimeLayout))
	}
	if !w.End.IsZero() {
		q.Set("end_date", w.End.UTC().Format(TimeLayout))
	}
	return q
}

// InvoiceTransactions streams the transactions of all invoices in a window
// (GET /invoice/transactions). See Stream for how to range over it.
func (c *Client) InvoiceTransactions(ctx context.Context, w Window) iter.Seq2[*Transaction, error] {
	return stream[Transaction](ctx, c, "invoice/transactions", w.query())
}

// InvoiceTransactionsOf streams the transactions of one invoice, by id or uuid
// (GET /invoice/{identifier}/transactions).
func (c *Client) InvoiceTransactionsOf(ctx context.Context, identifier string, w Window) iter.Seq2[*Transaction, error] {
	return stream[Transaction](ctx, c, "invoice/"+url.PathEscape(identifier)+"/transactions", w.query())
}

// WalletTransactions streams the transactions of all wallets in a window
// (GET /wallet/transactions).
func (c *Client) WalletTransactions(ctx context.Context, w Window) iter.Seq2[*Transaction, error] {
	return stream[Transaction](ctx, c, "wallet/transactions", w.query())
}

// WalletTransactionsOf streams the transactions of one wallet (GET /wallet/{id}/transactions).
func (c *Client) WalletTransactionsOf(ctx context.Context, id string, w Window) iter.Seq2[*Transaction, error] {
	return stream[Transaction](ctx, c, "wallet/"+url.PathEscape(id)+"/transactions", w.query())
}

// Transactions streams the transactions of one source type (SourceInvoice or SourceWallet).
func (c *Client) Transactions(ctx context.Context, sourceType string, w Window) iter.Seq2[*Transaction, error] {
	switch sourceType {
	case SourceInvoice:
		return c.InvoiceTransactions(ctx, w)
	case SourceWallet:
		return c.WalletTransactions(ctx, w)
	}
	return func(yield func(*Transaction, error) bool) {
		yield(nil, fmt.Errorf("nordpay: unknown source type %q (want %q or %q)", sourceType, SourceInvoice, SourceWallet))
	}
}

// Invoices streams every invoice of the project (GET /invoice/).
func (c *Client) Invoices(ctx context.Context) iter.Seq2[*Invoice, error] {
	return stream[Invoice](ctx, c, "invoice/", nil)
}

// Wallets streams every wallet of the project (GET /wallet/).
func (c *Client) Wallets(ctx context.Context) iter.Seq2[*Wallet, error] {
	return stream[Wallet](ctx, c, "wallet/", nil)
}

// stream decodes a JSON array answer one element at a time, so a window of any size is
// decoded in constant memory. How to range over the result:
//
//   - The yielded pointer is reused for the next element: copy the value to keep it.
//   - An element that is valid JSON but not a valid T is yielded as (nil, *RecordError); the
//     stream goes on if the loop does.
//   - Any other error (the call failed, the answer is cut short or is not an array) is
//     yielded once as (nil, *Error) and ends the stream. A failure before the first element
//     is retried like any read; after it, the caller must pull the window again.
func stream[T any](ctx context.Context, c *Client, path string, q url.Values) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		cl := call{method: http.MethodGet, path: path, query: q, retry: true}
		displayPath := "/" + path
		var item T
		for attempt := 1; ; attempt++ {
			resp, err := c.send(ctx, cl)
			if err != nil {
				yield(nil, err)
				return
			}
			n, err := decodeArray(resp.Body, &item, yield)
			resp.Body.Close()
			if err == nil || errors.Is(err, errStopped) {
				return
			}
			e := &Error{Kind: ErrTransport, Method: http.MethodGet, Path: displayPath, Status: resp.StatusCode,
				Detail: err.Error(), Err: err, Attempts: attempt}
			if ctx.Err() != nil {
				e.Err = errors.Join(err, ctx.Err())
				yield(nil, e)
				return
			}
			// Nothing has been handed out yet: the whole answer can be asked for again.
			if n == 0 && attempt <= c.opts.MaxRetries {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "nordpay: answer cut short, retrying", slog.String("path", displayPath), slog.Int("attempt", attempt))
				if err := c.opts.Sleep(ctx, c.backoff(attempt)); err == nil {
					continue
				}
			}
			yield(nil, e)
			return
		}
	}
}

// errStopped marks a stream the consumer stopped early.
var errStopped = errors.New("stopped by the consumer")

// decodeArray reads '[' element* ']' from r, yielding each element. It returns how many
// elements were yielded, and a non-nil error when the answer was not a complete array.
func decodeArray[T any](r io.Reader, item *T, yield func(*T, error) bool) (int, error) {
	dec := jsontext.NewDecoder(r, decodeOptions)
	tok, err := dec.ReadToken()
	if err != nil {
		return 0, fmt.Errorf("reading the answer: %w", cutShort(err))
	}
	if tok.Kind() != '[' {
		return 0, fmt.Errorf("the answer is a JSON %s, not an array", kindName(tok.Kind()))
	}
	n := 0
	for index := 0; ; index++ {
		if dec.PeekKind() == ']' {
			if _, err := dec.ReadToken(); err != nil {
				return n, fmt.Errorf("reading the answer: %w", cutShort(err))
			}
			break
		}
		raw, err := dec.ReadValue()
		if err != nil {
			return n, fmt.Errorf("reading element %d: %w", index, cutShort(err))
		}
		var zero T
		*item = zero
		if err := json.Unmarshal(raw, item, decodeOptions); err != nil {
			rec := &RecordError{Index: index, Raw: append([]byte(nil), raw...), Err: err}
			n++
			if !yield(nil, rec) {
				return n, errStopped
			}
			continue
		}
		n++
		if !yield(item, nil) {
			return n, errStopped
		}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return n, fmt.Errorf("unexpected data after the array")
	}
	return n, nil
}

// cutShort names an unexpected end of the body plainly.
func cutShort(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("answer cut short: %w", err)
	}
	return err
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "value"
}
