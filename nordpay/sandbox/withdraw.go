package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// quote is a withdrawal request (single or multiple), valid until expires.
type quote struct {
	identifier string
	multiple   bool
	currency   string
	rows       []nordpay.QuotedPayee
	amount     decimal.Decimal
	amountUSD  decimal.Decimal
	fee        decimal.Decimal
	feeUSD     decimal.Decimal
	expires    time.Time
	confirmed  bool
}

// Business error messages, exactly as withdraw.txt lists them.
const (
	msgNotEnoughBalance = "Not enough balance"
	msgNotFound         = "Withdraw request not found"
	msgExpired          = "Withdraw request expired"
	msgConfirmed        = "Withdrawal request created and waiting for admin approval"
)

func msgUnavailable(currency string) string {
	return currency + " is not available for withdraw at this moment"
}

func msgBelowMinimum(currency string, min decimal.Decimal) string {
	return "Amount is less than minimum withdraw amount for " + currency + " (" + min.String() + ")"
}

func (s *Server) currencyNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(s.currencies))
	for i, c := range s.currencies {
		names[i] = c.Name
	}
	return names
}

// handleWithdrawRequest serves both request endpoints: validate (422), then the business
// checks in the API's order (withdrawals enabled, minimum per row, balance covers the total),
// then the quote. Nothing moves at request time.
func (s *Server) handleWithdrawRequest(c *call) {
	multiple := strings.Contains(c.r.URL.Path, "/multiple/")
	o, ok := readBody(c)
	if !ok {
		return
	}
	ck := &checker{}
	body := loc("body")
	var currency string
	if v, ok := ck.get(o, body, "currency", true); ok {
		currency, _ = ck.enum(v, appendLoc(body, "currency"), s.currencyNames())
	}
	var payees []nordpay.Payee
	row := func(item *object, at []any) {
		var p nordpay.Payee
		good := true
		if v, ok := ck.get(item, at, "address", true); ok {
			if a, ok := ck.str(v, appendLoc(at, "address")); ok && ck.nonEmpty(a, v, appendLoc(at, "address")) {
				p.Address = a
			} else {
				good = false
			}
		} else {
			good = false
		}
		if v, ok := ck.get(item, at, "amount", true); ok {
			p.Amount, ok = ck.positiveDecimal(v, appendLoc(at, "amount"))
			good = good && ok
		} else {
			good = false
		}
		if good {
			payees = append(payees, p)
		}
	}
	if multiple {
		if v, ok := ck.get(o, body, "addresses_and_amounts", true); ok {
			at := appendLoc(body, "addresses_and_amounts")
			if items, ok := ck.list(v, at, 1); ok {
				for k, raw := range items {
					item, d := asObject(raw, appendLoc(at, k))
					if d != nil {
						ck.add(*d)
						continue
					}
					row(item, appendLoc(at, k))
				}
			}
		}
	} else {
		row(o, body)
	}
	if !ck.answer(c) {
		return
	}

	s.mu.Lock()
	cur, _ := s.currencyLocked(currency)
	if !cur.WithdrawEnabled() {
		s.mu.Unlock()
		writeDetail(c.w, http.StatusBadRequest, msgUnavailable(currency))
		return
	}
	for _, p := range payees {
		if p.Amount.LessThan(cur.MinWithdraw) {
			s.mu.Unlock()
			writeDetail(c.w, http.StatusBadRequest, msgBelowMinimum(currency, cur.MinWithdraw))
			return
		}
	}
	q := &quote{multiple: multiple, currency: currency, expires: time.UnixMicro(c.nowUS).UTC().Add(s.opts.QuoteTTL)}
	fee := s.opts.WithdrawFees[currency]
	rate := cur.Rate.Decimal
	for _, p := range payees {
		f := fee.Fixed.Add(p.Amount.Mul(fee.Percent).Shift(-2)).Round(int32(cur.Decimals))
		fUSD := f.Mul(rate).Round(2)
		q.rows = append(q.rows, nordpay.QuotedPayee{Address: p.Address, Amount: p.Amount, ServiceFee: f, ServiceFeeUSD: fUSD})
		q.amount = q.amount.Add(p.Amount)
		q.fee = q.fee.Add(f)
		q.feeUSD = q.feeUSD.Add(fUSD)
	}
	q.amountUSD = q.amount.Mul(rate).Round(2)
	if s.balancesLocked(c.nowUS)[currency].LessThan(q.amount) {
		s.mu.Unlock()
		writeDetail(c.w, http.StatusBadRequest, msgNotEnoughBalance)
		return
	}
	s.quoteSeq++
	h := hash3(s.seed, saltQuote, s.quoteSeq)
	q.identifier = uuidString(h&^0xf000|0x4000, mix64(h)&^(3<<62)|2<<62)
	s.quotes[q.identifier] = q
	s.mu.Unlock()

	b := append([]byte(`{"identifier":`), appendJSONString(nil, q.identifier)...)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, q.currency)
	if multiple {
		b = append(b, `,"addresses_and_amounts":[`...)
		for k, r := range q.rows {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"address":`...)
			b = appendJSONString(b, r.Address)
			b = append(b, `,"amount":`...)
			b = appendDecimal(b, r.Amount)
			b = append(b, `,"service_fee":`...)
			b = appendDecimal(b, r.ServiceFee)
			b = append(b, `,"service_fee_usd":`...)
			b = appendDecimal(b, r.ServiceFeeUSD)
			b = append(b, '}')
		}
		b = append(b, ']')
	} else {
		b = append(b, `,"address":`...)
		b = appendJSONString(b, q.rows[0].Address)
	}
	b = append(b, `,"amount":`...)
	b = appendDecimal(b, q.amount)
	b = append(b, `,"amount_usd":`...)
	b = appendDecimal(b, q.amountUSD)
	b = append(b, `,"service_fee":`...)
	b = appendDecimal(b, q.fee)
	b = append(b, `,"service_fee_usd":`...)
	b = appendDecimal(b, q.feeUSD)
	b = append(b, `,"expires_at":"`...)
	b = appendTime(b, q.expires.UnixMicro())
	writeJSON(c.w, http.StatusOK, append(b, `"}`...))
}

// handleWithdrawConfirm serves both confirm endpoints: an identifier is confirmed at most
// once, and only by the endpoint of its kind.
func (s *Server) handleWithdrawConfirm(c *call) {
	multiple := strings.Contains(c.r.URL.Path, "/multiple/")
	o, ok := readBody(c)
	if !ok {
		return
	}
	ck := &checker{}
	var ident string
	if v, ok := ck.get(o, loc("body"), "identifier", true); ok {
		ident, _ = ck.str(v, loc("body", "identifier"))
	}
	if !ck.answer(c) {
		return
	}
	s.mu.Lock()
	q := s.quotes[strings.ToLower(strings.TrimSpace(ident))]
	switch {
	case q == nil || q.confirmed || q.multiple != multiple:
		s.mu.Unlock()
		writeDetail(c.w, http.StatusNotFound, msgNotFound)
		return
	case c.now.After(q.expires):
		s.mu.Unlock()
		writeDetail(c.w, http.StatusBadRequest, msgExpired)
		return
	case s.balancesLocked(c.nowUS)[q.currency].LessThan(q.amount):
		s.mu.Unlock()
		writeDetail(c.w, http.StatusBadRequest, msgNotEnoughBalance)
		return
	}
	q.confirmed = true
	s.withdrawSeq++
	id := s.withdrawSeq
	s.withdrawn[q.currency] = s.withdrawn[q.currency].Add(q.amount)
	at := c.now.UTC()
	for k, r := range q.rows {
		s.payments = append(s.payments, Payment{
			WithdrawalID: id, Identifier: q.identifier, Multiple: q.multiple, Currency: q.currency,
			Address: r.Address, Amount: r.Amount, ServiceFee: r.ServiceFee, Row: k, ConfirmedAt: at,
		})
	}
	s.mu.Unlock()
	b, _ := json.Marshal(struct {
		Detail string `json:"detail"`
		Status string `json:"status"`
		ID     int64  `json:"id"`
	}{msgConfirmed, "pending", id})
	writeJSON(c.w, http.StatusOK, b)
}

// formatID is the text of a numeric id.
func formatID(id uint64) string { return strconv.FormatUint(id, 10) }
