package payouts

import (
	"sort"

	"github.com/shopspring/decimal"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

// The USD values booked with a withdrawal come from its quote, the one Nord PAY confirmed,
// which is stored with the chunk: they are Nord PAY's own valuation of this withdrawal (as
// the *_usd fields of a transaction are for a receipt), made when it quoted the fee, and a
// chunk resolved by hand later books the same values. withdraw.txt documents amount_usd and
// service_fee_usd for the single quote; ASSUMPTIONS.md gives the multiple quote amount_usd
// for the whole batch and service_fee_usd per row. GET /currencies/ is not used: its rate is
// token-to-USDT, read at another moment than the quote, and booking it would need a call
// between the confirm and its recording. USD values are informational: when the quote has
// none, the rows are booked without them, never held back.

// quoteUSD returns the USD value of each quoted row's amount and of its service fee, in the
// quote's order; a value is invalid when the quote does not give it.
//
//   - Amounts: every row's own amount_usd, if the API sends one for each row; otherwise the
//     quote's amount_usd, shared among the rows in proportion to their amounts. A quote with
//     no positive amount_usd has no USD values.
//   - Fees: every row's service_fee_usd; if none of them is sent (all zero) but the quote's
//     total is not zero, that total shared among the rows in proportion to their fees.
func quoteUSD(q *nordpay.MultiWithdrawQuote) (amounts, fees []decimal.NullDecimal) {
	rows := q.AddressesAndAmounts
	amounts = make([]decimal.NullDecimal, len(rows))
	fees = make([]decimal.NullDecimal, len(rows))

	own := true
	for _, r := range rows {
		own = own && r.AmountUSD.Valid && !r.AmountUSD.Decimal.IsNegative()
	}
	switch {
	case own:
		for i, r := range rows {
			amounts[i] = r.AmountUSD
		}
	case q.AmountUSD.IsPositive():
		weights := make([]decimal.Decimal, len(rows))
		for i, r := range rows {
			weights[i] = r.Amount
		}
		for i, v := range share(q.AmountUSD, weights) {
			amounts[i] = decimal.NewNullDecimal(v)
		}
	}

	var rowFees decimal.Decimal
	for i, r := range rows {
		if r.ServiceFeeUSD.IsNegative() {
			return amounts, make([]decimal.NullDecimal, len(rows))
		}
		rowFees = rowFees.Add(r.ServiceFeeUSD)
		fees[i] = decimal.NewNullDecimal(r.ServiceFeeUSD)
	}
	if rowFees.IsZero() && q.ServiceFeeUSD.IsPositive() {
		weights := make([]decimal.Decimal, len(rows))
		for i, r := range rows {
			weights[i] = r.ServiceFee
		}
		if parts := share(q.ServiceFeeUSD, weights); parts != nil {
			for i, v := range parts {
				fees[i] = decimal.NewNullDecimal(v)
			}
		}
	}
	return amounts, fees
}

// maxUSDPlaces bounds the precision of a shared USD value.
const maxUSDPlaces = 30

// share splits a positive total among parts in proportion to non-negative weights, to the
// cent, or to the total's own precision where that is finer, so that the parts add up to
// the total exactly: each part is rounded down, and the cents left over go to the parts
// that lost the most (largest remainder, the first part first on a tie). It returns nil
// when the weights add up to zero.
func share(total decimal.Decimal, weights []decimal.Decimal) []decimal.Decimal {
	var sum decimal.Decimal
	for _, w := range weights {
		if w.IsNegative() {
			return nil
		}
		sum = sum.Add(w)
	}
	if !sum.IsPositive() || !total.IsPositive() {
		return nil
	}
	places := max(2, decimalPlaces(total))
	total = total.Round(places)
	unit := decimal.New(1, -places)
	out := make([]decimal.Decimal, len(weights))
	lost := make([]decimal.Decimal, len(weights))
	order := make([]int, len(weights))
	given := decimal.Zero
	for i, w := range weights {
		exact := total.Mul(w).DivRound(sum, places+12)
		out[i] = exact.RoundFloor(places)
		lost[i] = exact.Sub(out[i])
		given = given.Add(out[i])
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lost[order[a]].GreaterThan(lost[order[b]]) })
	left := total.Sub(given).Div(unit).IntPart()
	for k := 0; k < int(min(left, int64(len(order)))); k++ {
		out[order[k]] = out[order[k]].Add(unit)
	}
	return out
}

// decimalPlaces is how many digits d has after the point, at most maxUSDPlaces.
func decimalPlaces(d decimal.Decimal) int32 {
	var p int32
	for p < maxUSDPlaces && !d.Equal(d.Truncate(p)) {
		p++
	}
	return p
}
