// Package spreadsheet holds what every writer of spreadsheet cells shares: making user text inert.
package spreadsheet

import "strings"

// Neutralise makes a text that a user or the API controls (a label, a name, a reference, an
// address) inert in a spreadsheet cell. A spreadsheet program reads a cell that starts with
// =, +, -, @, a tab, a carriage return or a line feed as the start of a formula (OWASP, "CSV
// injection"); such a text gets a leading apostrophe, which every spreadsheet shows as text
// and none evaluates. Leading spaces do not hide the trigger: " =1+1" is neutralised too,
// and neither do the full-width forms that some spreadsheets fold to the ASCII ones.
func Neutralise(s string) string {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return s
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	for _, r := range []string{"＝", "＋", "－", "＠"} {
		if strings.HasPrefix(t, r) {
			return "'" + s
		}
	}
	return s
}
