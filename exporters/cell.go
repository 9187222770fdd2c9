// Package exporters turns the ledger into what finance opens: statements and reconciliation
// reports as CSV and XLSX, and plain-text accounting journals for hledger and beancount.
package exporters

import "github.com/nordpay/nordpay-jobs/internal/spreadsheet"

// Neutralise makes a text that a user or the API controls (a label, a name, a reference, an
// address) inert in a spreadsheet cell: one that a spreadsheet would read as a formula
// (starting, after spaces, with =, +, -, @, a tab, CR or LF, or their full-width forms) gets
// a leading apostrophe. Numbers and times the exporter formats itself are not user text and
// do not pass here. It is the rule of internal/spreadsheet, shared with the payout reports.
func Neutralise(s string) string { return spreadsheet.Neutralise(s) }
