// Package payouts pays many people at once from a spreadsheet that finance uploads and
// someone else approves: sheet readers (XLSX, CSV), row validation with address checks per
// network, batches with approvals in PostgreSQL, and the execution state machine around
// Nord PAY's /balance/withdraw/multiple/request and /confirm that makes a double payment
// impossible and an unknown outcome visible.
package payouts

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

// Row is one payout line of a sheet, as parsed, with the row number the user sees in the
// spreadsheet program (the header is row 1 of a sheet that starts at its top).
type Row struct {
	// Line is the row number as the spreadsheet shows it.
	Line      int
	Currency  string
	Address   string
	Amount    decimal.Decimal
	Reference string
	Name      string
	Note      string
}

// RowError is one problem of a sheet, in the shape `payouts import --json` prints. Row is 0
// for a problem of the whole sheet (a missing header, an oversized file, the batch total
// above the balance); Field is the column's canonical name, or "" for the whole row.
type RowError struct {
	Row     int    `json:"row"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Sheet is a parsed payout sheet.
type Sheet struct {
	// Name is the file name as given, for messages.
	Name string
	// Format is "xlsx" or "csv".
	Format string
	// SHA256 is the hex SHA-256 of the file's bytes: a batch is bound to it.
	SHA256 string
	// Rows are the rows that parsed (possibly invalid by validation); empty rows are left out.
	Rows []Row
	// Errors are the parse errors (a row that could not be read at all is here, not in Rows).
	Errors []RowError
	// Raw keeps what the reader needs to write the sheet back with status columns (the
	// header, the cells of each row as the user wrote them, the CSV separator...). Set by
	// ReadSheet, used by WriteReport.
	Raw any
}

// ReadOptions control how a sheet is read.
type ReadOptions struct {
	// DecimalComma reads "1,5" as 1.5 in CSV files (never guessed).
	DecimalComma bool
	// MaxRows, MaxBytes and MaxUnzippedBytes bound what a file may hold. Zero values take
	// the defaults the reader documents.
	MaxRows                    int
	MaxBytes, MaxUnzippedBytes int64
	// Progress, if set, is called with the number of payout rows read so far, every 1,024
	// rows and once at the end with them all (for a progress bar: the total is not known
	// before). It runs on ReadSheet's goroutine and should return quickly.
	Progress func(rows int)
}

// Total is the control total of one currency: what approval is bound to.
type Total struct {
	Currency    string          `json:"currency"`
	Rows        int             `json:"rows"`
	Amount      decimal.Decimal `json:"amount"`
	ExpectedFee decimal.Decimal `json:"expected_fee"`
}

// Limits are the fat-finger caps from the config.
type Limits struct {
	// MaxRowAmount and MaxBatchAmount cap one row and a batch's total per currency; a
	// currency absent from a map has no cap.
	MaxRowAmount   map[string]decimal.Decimal
	MaxBatchAmount map[string]decimal.Decimal
}

// ValidationEnv is what validation checks a sheet against.
type ValidationEnv struct {
	// Currencies are Nord PAY's, by name (GET /currencies/): withdrawal enabled, minimum,
	// decimals, network.
	Currencies map[string]nordpay.Currency
	// Balances are what Nord PAY holds, by currency (GET /balance/).
	Balances map[string]decimal.Decimal
	// ExpectedFee estimates the service fee of paying amount in currency; nil means zero.
	ExpectedFee func(currency string, amount decimal.Decimal) decimal.Decimal
	// PaidRecently reports whether the same address, amount and currency was paid within
	// the last 30 days (by an earlier batch); nil means never.
	PaidRecently func(ctx context.Context, currency, address string, amount decimal.Decimal) (bool, error)
	// AllowRepeat accepts repeats (same address, amount and currency twice in the sheet, or
	// paid recently) that would otherwise be errors.
	AllowRepeat bool
	Limits      Limits
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Progress, if set, is called with the rows validated so far of all the rows read:
	// first with none, then every 1,024 rows, and last with them all (for a progress bar).
	// It runs on Validate's goroutine and should return quickly.
	Progress func(done, total int)
}
