package payouts

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

// Validate checks every row of a sheet against Nord PAY's currencies and balances, the caps
// and earlier payouts, and returns all problems at once, each with the row the user sees and
// the column: errs holds the sheet's own read errors (Sheet.Errors) too, sorted by row (the
// whole-sheet ones, row 0, first), so a sheet is valid exactly when errs is empty. totals
// are the control totals per currency (rows, sum, expected fees) of the rows without any
// error, sorted by currency. err is only a failure of env.PaidRecently, or ctx's error.
//
// A row is checked for: a known currency whose withdrawals are enabled; an address valid
// for the currency's network (CheckAddress) that is not the token's own contract; a
// positive amount within the currency's decimals, at least its min_withdraw and within
// env.Limits.MaxRowAmount; a reference not used by another row (both rows are named); and,
// unless env.AllowRepeat, an address, amount and currency neither repeated from an earlier
// row of the sheet nor paid recently (env.PaidRecently). Per currency, the total of the valid
// rows must be within env.Limits.MaxBatchAmount, and the total plus the expected fees
// within env.Balances (not checked when env.Balances is nil; a currency absent from it has
// a balance of zero). Rows that could not be read whole (Sheet.Errors) are checked as far as
// they were read.
func Validate(ctx context.Context, sheet *Sheet, env ValidationEnv) (errs []RowError, totals []Total, err error) {
	v := &validation{env: env, failed: map[int]bool{}}
	v.errs = append(v.errs, sheet.Errors...)
	for _, e := range sheet.Errors {
		v.failed[e.Row] = true
	}
	rows := sheetRows(sheet)

	refs := map[string][]int{} // folded reference -> rows
	repeats := map[string]int{}
	for i := range rows {
		r := &rows[i]
		if i%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if env.Progress != nil {
				env.Progress(i, len(rows))
			}
		}
		cur, known := v.currency(r)
		addrOK := known && v.address(r, cur)
		amountOK := v.amount(r, cur, known)
		if !r.bad.has(fReference) && r.Reference != "" {
			key := strings.ToLower(r.Reference)
			refs[key] = append(refs[key], r.Line)
		}
		if addrOK && amountOK && !env.AllowRepeat {
			key := cur.Name + "\x00" + addressKey(r.Address) + "\x00" + r.Amount.String()
			if first, ok := repeats[key]; ok {
				v.add(r.Line, "", "the same address, amount and currency as row %d: a repeat needs --allow-repeat", first)
			} else {
				repeats[key] = r.Line
				if env.PaidRecently != nil && !v.failed[r.Line] {
					paid, err := env.PaidRecently(ctx, cur.Name, r.Address, r.Amount)
					if err != nil {
						return nil, nil, fmt.Errorf("payouts: %s row %d: unable to check recent payouts: %w", sheet.Name, r.Line, err)
					}
					if paid {
						v.add(r.Line, "", "%s %s to this address is in another batch imported or paid within the last 30 days, or not paid yet: a repeat needs --allow-repeat", r.Amount, cur.Name)
					}
				}
			}
		}
	}
	if env.Progress != nil {
		env.Progress(len(rows), len(rows))
	}
	for _, lines := range refs {
		if len(lines) < 2 {
			continue
		}
		for _, l := range lines {
			others := make([]string, 0, len(lines)-1)
			for _, o := range lines {
				if o != l {
					others = append(others, fmt.Sprint(o))
				}
			}
			where := "row " + others[0]
			if len(others) > 1 {
				where = "rows " + strings.Join(others, ", ")
			}
			v.add(l, ColReference, "reference %q is also used on %s: references must be unique", referenceOf(rows, l), where)
		}
	}

	valid := make([]*parsedRow, 0, len(rows))
	for i := range rows {
		if !v.failed[rows[i].Line] {
			valid = append(valid, &rows[i])
		}
	}
	totals = v.totals(valid)
	v.batchChecks(totals)
	sortErrors(v.errs)
	return v.errs, totals, nil
}

// validation collects the problems of one sheet.
type validation struct {
	env    ValidationEnv
	errs   []RowError
	failed map[int]bool // rows with a problem
}

func (v *validation) add(row int, field, format string, args ...any) {
	v.errs = append(v.errs, RowError{Row: row, Field: field, Message: fmt.Sprintf(format, args...)})
	v.failed[row] = true
}

// sheetRows returns every row that was read, whole or in part, in row order.
func sheetRows(sheet *Sheet) []parsedRow {
	raw, _ := sheet.Raw.(*rawSheet)
	n := len(sheet.Rows)
	if raw != nil {
		n += len(raw.partial)
	}
	rows := make([]parsedRow, 0, n)
	for _, r := range sheet.Rows {
		rows = append(rows, parsedRow{Row: r})
	}
	if raw != nil && len(raw.partial) > 0 {
		rows = append(rows, raw.partial...)
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Line < rows[j].Line })
	}
	return rows
}

func referenceOf(rows []parsedRow, line int) string {
	i := sort.Search(len(rows), func(i int) bool { return rows[i].Line >= line })
	if i < len(rows) && rows[i].Line == line {
		return rows[i].Reference
	}
	return ""
}

// currency finds the row's currency (exactly, else ignoring case) and checks that
// withdrawals are enabled. known is true when the currency exists, enabled or not.
func (v *validation) currency(r *parsedRow) (cur nordpay.Currency, known bool) {
	if r.bad.has(fCurrency) || r.Currency == "" {
		return cur, false
	}
	cur, known = v.env.Currencies[r.Currency]
	if !known {
		for name, c := range v.env.Currencies {
			if strings.EqualFold(name, r.Currency) {
				cur, known = c, true
				break
			}
		}
	}
	if !known {
		v.add(r.Line, ColCurrency, "unknown currency %q%s", r.Currency, v.suggest(r.Currency))
		return cur, false
	}
	if cur.Name == "" {
		cur.Name = r.Currency
	}
	if !cur.WithdrawEnabled() {
		v.add(r.Line, ColCurrency, "withdrawals of %s are disabled at Nord PAY", cur.Name)
	}
	return cur, true
}

// suggest names the currency a misspelt one probably means ("USDT TRC20" is USDTTRC20),
// or lists the known ones when they are few.
func (v *validation) suggest(name string) string {
	sq := squash(name)
	names := make([]string, 0, len(v.env.Currencies))
	for n := range v.env.Currencies {
		if squash(n) == sq {
			return fmt.Sprintf(": did you mean %s?", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 || len(names) > 20 {
		return ""
	}
	return "; Nord PAY's currencies are " + strings.Join(names, ", ")
}

// address checks the row's address on the currency's network.
func (v *validation) address(r *parsedRow, cur nordpay.Currency) bool {
	if r.bad.has(fAddress) || r.Address == "" {
		return false
	}
	if err := CheckAddress(cur.Network, cur.Name, r.Address); err != nil {
		v.add(r.Line, ColAddress, "%v", err)
		return false
	}
	if cur.Contract != "" && addressKey(cur.Contract) == addressKey(r.Address) {
		v.add(r.Line, ColAddress, "this is the %s token's own contract address, not a recipient: tokens sent there are lost", cur.Name)
		return false
	}
	return true
}

// amount checks the row's amount; cur is only used when known.
func (v *validation) amount(r *parsedRow, cur nordpay.Currency, known bool) bool {
	if r.bad.has(fAmount) {
		return false
	}
	a := r.Amount
	if a.Sign() <= 0 {
		v.add(r.Line, ColAmount, "the amount must be positive (it is %s)", a)
		return false
	}
	if !known {
		return true
	}
	ok := true
	if d := int32(cur.Decimals); cur.Decimals >= 0 && !a.Equal(a.Truncate(d)) {
		v.add(r.Line, ColAmount, "%s has %d decimals; %s allows at most %d", a, -canonical(a).Exponent(), cur.Name, cur.Decimals)
		ok = false
	}
	if cur.MinWithdraw.Sign() > 0 && a.LessThan(cur.MinWithdraw) {
		v.add(r.Line, ColAmount, "%s is below the minimum withdrawal of %s %s", a, cur.MinWithdraw, cur.Name)
		ok = false
	}
	if limit, has := v.env.Limits.MaxRowAmount[cur.Name]; has && a.GreaterThan(limit) {
		v.add(r.Line, ColAmount, "%s is above the per-row cap of %s %s", a, limit, cur.Name)
		ok = false
	}
	return ok
}

// totals sums the valid rows per currency, with the expected fees.
func (v *validation) totals(valid []*parsedRow) []Total {
	by := map[string]*Total{}
	for _, r := range valid {
		t := by[r.Currency]
		if t == nil {
			t = &Total{Currency: r.Currency}
			by[r.Currency] = t
		}
		t.Rows++
		t.Amount = t.Amount.Add(r.Amount)
		if v.env.ExpectedFee != nil {
			t.ExpectedFee = t.ExpectedFee.Add(v.env.ExpectedFee(r.Currency, r.Amount))
		}
	}
	out := make([]Total, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// batchChecks holds each currency's total to its batch cap and to the balance.
func (v *validation) batchChecks(totals []Total) {
	for _, t := range totals {
		if limit, has := v.env.Limits.MaxBatchAmount[t.Currency]; has && t.Amount.GreaterThan(limit) {
			v.add(0, ColAmount, "the %s total %s (%d rows) is above the batch cap of %s %s", t.Currency, t.Amount, t.Rows, limit, t.Currency)
		}
		if v.env.Balances == nil {
			continue
		}
		need := t.Amount.Add(t.ExpectedFee)
		have := v.env.Balances[t.Currency]
		if need.GreaterThan(have) {
			v.add(0, ColAmount, "not enough %s: the batch needs %s (%s in %d rows plus %s expected fees) and the balance is %s",
				t.Currency, need, t.Amount, t.Rows, t.ExpectedFee, have)
		}
	}
}

// fieldOrder orders a row's problems by column.
var fieldOrder = map[string]int{ColCurrency: 1, ColAddress: 2, ColAmount: 3, ColReference: 4, ColName: 5, ColNote: 6}

func sortErrors(errs []RowError) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Row != errs[j].Row {
			return errs[i].Row < errs[j].Row
		}
		return fieldOrder[errs[i].Field] < fieldOrder[errs[j].Field]
	})
}
