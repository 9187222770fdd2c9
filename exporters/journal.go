package exporters

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/nordpay/nordpay-jobs/ledger"
)

// JournalFormat names a plain-text accounting format.
type JournalFormat string

// The plain-text accounting formats.
const (
	Hledger   JournalFormat = "hledger"
	Beancount JournalFormat = "beancount"
)

// JournalOptions select what a journal holds.
type JournalOptions struct {
	// From and To bound the period, half-open [From, To).
	From, To time.Time
	// Currency, if set, keeps one currency.
	Currency string
}

// WriteJournal writes the ledger's entries of a period as a journal in format.
// (Being built: see issue 4.)
func WriteJournal(ctx context.Context, w io.Writer, store *ledger.Store, format JournalFormat, opts JournalOptions) error {
	return errors.New("exporters: journals are not built yet")
}
