// Package exporters turns the ledger into what finance opens: statements and reconciliation
// reports as CSV and XLSX, and plain-text accounting journals for hledger and beancount.
package exporters

import "strings"

// Neutralise makes a text that a user or the API controls (a label, a name, a reference, an
// address) inert in a spreadsheet cell. A spreadsheet program reads a cell that starts with
// =, +, -, @, a tab, a carriage return or a line feed as the start of a formula (OWASP, "CSV
// injection"); such a text gets a leading apostrophe, which every spreadsheet shows as text
// and none evaluates. Leading spaces do not hide the trigger: " =1+1" is neutralised too.
// Numbers and times the exporter formats itself are not user text and do not pass here.
func Neutralise(s string) string {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return s
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	// The full-width forms, which some spreadsheets fold to the ASCII ones.
	for _, r := range []string{"＝", "＋", "－", "＠"} {
		if strings.HasPrefix(t, r) {
			return "'" + s
		}
	}
	return s
}
