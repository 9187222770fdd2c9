package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// invoiceRec is an invoice created through POST /invoice/create.
type invoiceRec struct {
	id          uint64
	uuid        string
	currency    string   // empty when allowed is set
	allowed     []string // allowed_currencies
	address     string
	amount      decimal.Decimal // in currency; in USD for an allowed_currencies invoice
	amountUSD   decimal.Decimal
	received    decimal.Decimal
	receivedUSD decimal.Decimal
	label       string
	postback    string
	success     string
	fail        string
	createdUS   int64
	expiresUS   int64
	txHash      string
	paid        bool
}

func (r *invoiceRec) status(nowUS int64) string {
	switch {
	case r.paid:
		return "paid"
	case nowUS >= r.expiresUS:
		return "expired"
	}
	return "waiting"
}

// appendJSON writes the invoice object of GET /invoice/{identifier} and POST /invoice/create.
func (r *invoiceRec) appendJSON(dst []byte, nowUS int64) []byte {
	dst = append(dst, `{"id":`...)
	dst = append(dst, formatID(r.id)...)
	dst = append(dst, `,"uuid":`...)
	dst = appendJSONString(dst, r.uuid)
	dst = append(dst, `,"currency":`...)
	dst = appendNullableString(dst, r.currency)
	if len(r.allowed) > 0 {
		dst = append(dst, `,"allowed_currencies":[`...)
		for k, a := range r.allowed {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, a)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"tx_hash":`...)
	dst = appendNullableString(dst, r.txHash)
	dst = append(dst, `,"address":`...)
	dst = appendJSONString(dst, r.address)
	for _, f := range []struct {
		name string
		v    decimal.Decimal
	}{{"amount", r.amount}, {"amount_usd", r.amountUSD}, {"received_amount", r.received}, {"received_amount_usd", r.receivedUSD}} {
		dst = append(dst, `,"`...)
		dst = append(dst, f.name...)
		dst = append(dst, `":`...)
		dst = appendDecimal(dst, f.v)
	}
	dst = append(dst, `,"label":`...)
	dst = appendJSONString(dst, r.label)
	for _, f := range []struct{ name, v string }{{"postback_url", r.postback}, {"success_url", r.success}, {"fail_url", r.fail}} {
		dst = append(dst, `,"`...)
		dst = append(dst, f.name...)
		dst = append(dst, `":`...)
		dst = appendNullableString(dst, f.v)
	}
	dst = append(dst, `,"url":`...)
	dst = appendJSONString(dst, payURLPrefix+r.uuid)
	dst = append(dst, `,"created_at":"`...)
	dst = appendTime(dst, r.createdUS)
	dst = append(dst, `","expires_at":"`...)
	dst = appendTime(dst, r.expiresUS)
	dst = append(dst, `","status":`...)
	dst = appendJSONString(dst, r.status(nowUS))
	return append(dst, '}')
}

func (r *invoiceRec) source(nowUS int64) nordpay.Source {
	return nordpay.Source{
		ID: nordpay.ID(formatID(r.id)), UUID: r.uuid, Currency: nordpay.CurrencyName(r.currency),
		TxHash: r.txHash, Address: r.address,
		Amount: r.amount, AmountUSD: r.amountUSD, ReceivedAmount: r.received, ReceivedAmountUSD: r.receivedUSD,
		Label: r.label, PostbackURL: r.postback, SuccessURL: r.success, FailURL: r.fail,
		CreatedAt: nordpay.Time{Time: time.UnixMicro(r.createdUS).UTC()},
		ExpiresAt: nordpay.Time{Time: time.UnixMicro(r.expiresUS).UTC()},
		Status:    r.status(nowUS),
	}
}

// handleCreateInvoice serves POST /invoice/create: currency or allowed_currencies (not both),
// amount as an expression ("200", "200 USD", "0.015 BNB"), expires_time in minutes (30 to
// 1440, default 60).
func (s *Server) handleCreateInvoice(c *call) {
	o, ok := readBody(c)
	if !ok {
		return
	}
	ck := &checker{}
	body := loc("body")
	names := s.currencyNames()
	var currency, amountText, label, postback, success, fail string
	var allowed []string
	expires := int64(60)
	if v, ok := ck.get(o, body, "currency", false); ok {
		currency, _ = ck.enum(v, appendLoc(body, "currency"), names)
	}
	if v, ok := ck.get(o, body, "allowed_currencies", false); ok {
		at := appendLoc(body, "allowed_currencies")
		if items, ok := ck.list(v, at, 1); ok {
			for k, it := range items {
				if n, ok := ck.enum(it, appendLoc(at, k), names); ok {
					allowed = append(allowed, n)
				}
			}
		}
	}
	if v, ok := ck.get(o, body, "amount", true); ok {
		amountText, _ = ck.str(v, appendLoc(body, "amount"))
	}
	if v, ok := ck.get(o, body, "expires_time", false); ok {
		at := appendLoc(body, "expires_time")
		if n, ok := ck.integer(v, at); ok {
			switch {
			case n < 30:
				ck.add(vdetail{Type: "greater_than_equal", Loc: at, Msg: "Input should be greater than or equal to 30", Input: v, Ctx: ctxJSON("ge", 30)})
			case n > 1440:
				ck.add(vdetail{Type: "less_than_equal", Loc: at, Msg: "Input should be less than or equal to 1440", Input: v, Ctx: ctxJSON("le", 1440)})
			default:
				expires = n
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"label", &label}, {"postback_url", &postback}, {"success_url", &success}, {"fail_url", &fail}} {
		if v, ok := ck.get(o, body, f.name, false); ok {
			*f.dst, _ = ck.str(v, appendLoc(body, f.name))
		}
	}
	if len(ck.errs) == 0 {
		_, hasCur := o.fields["currency"]
		hasCur = hasCur && currency != ""
		switch {
		case hasCur && len(allowed) > 0:
			ck.add(vdetail{Type: "value_error", Loc: body, Msg: "Value error, Specify either currency or allowed_currencies, not both", Input: o.raw, Ctx: json.RawMessage(`{"error":{}}`)})
		case !hasCur && len(allowed) == 0:
			ck.add(vdetail{Type: "value_error", Loc: body, Msg: "Value error, Specify currency or allowed_currencies", Input: o.raw, Ctx: json.RawMessage(`{"error":{}}`)})
		}
	}
	if !ck.answer(c) {
		return
	}

	s.mu.Lock()
	curName := currency
	if curName == "" {
		curName = allowed[0]
	}
	cur, _ := s.currencyLocked(curName)
	amount, amountUSD, err := invoiceAmount(amountText, cur, currency == "")
	if err != nil {
		s.mu.Unlock()
		ck.add(vdetail{Type: "value_error", Loc: appendLoc(body, "amount"), Msg: "Value error, " + err.Error(), Input: jsonValue(amountText), Ctx: json.RawMessage(`{"error":{}}`)})
		ck.answer(c)
		return
	}
	s.createdSeq++
	id := s.nextInvID
	s.nextInvID++
	h := hash3(s.seed, saltCreated, s.createdSeq)
	rec := &invoiceRec{
		id: id, uuid: uuidString(h&^0xf000|0x4000, mix64(h)&^(3<<62)|2<<62),
		currency: currency, allowed: allowed,
		address: makeAddress(networkKind(cur.Network), h),
		amount:  amount, amountUSD: amountUSD, received: decimal.Zero, receivedUSD: decimal.Zero,
		label: label, postback: postback, success: success, fail: fail,
		createdUS: c.nowUS, expiresUS: c.nowUS + expires*int64(time.Minute/time.Microsecond),
	}
	s.invoices[formatID(id)] = rec
	s.invoices[rec.uuid] = rec
	s.invOrder = append(s.invOrder, rec)
	b := rec.appendJSON(nil, c.nowUS)
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, b)
}

// invoiceAmount evaluates an amount expression for an invoice in cur: a bare number is in the
// currency (in USD for a multi-currency invoice), "N USD" is converted at the rate, "N TOKEN"
// is in the currency's token.
func invoiceAmount(text string, cur nordpay.Currency, multi bool) (amount, usd decimal.Decimal, err error) {
	parts := strings.Fields(text)
	if len(parts) == 0 || len(parts) > 2 {
		return amount, usd, fmt.Errorf("amount must be a number, optionally followed by USD or a token")
	}
	n, perr := nordpay.ParseAmount(parts[0])
	if perr != nil || !n.IsPositive() {
		return amount, usd, fmt.Errorf("amount must be a positive number")
	}
	unit := ""
	if len(parts) == 2 {
		unit = strings.ToUpper(parts[1])
	}
	rate := cur.Rate.Decimal
	switch {
	case multi && (unit == "" || unit == "USD"):
		return n, n.Round(2), nil
	case multi:
		return amount, usd, fmt.Errorf("a multi-currency invoice takes its amount in USD")
	case unit == "USD":
		return n.DivRound(rate, int32(cur.Decimals)), n.Round(2), nil
	case unit == "" || unit == cur.Token || unit == cur.Name:
		return n.Round(int32(cur.Decimals)), n.Mul(rate).Round(2), nil
	}
	return amount, usd, fmt.Errorf("unknown unit %s", parts[1])
}

// PayInvoice records a payment on an invoice created through POST /invoice/create, in its
// currency (the first allowed one for a multi-currency invoice), visible at once: the way a
// test plays the customer. It returns the transaction as the invoice stream serves it.
func (s *Server) PayInvoice(identifier string, amount decimal.Decimal) (nordpay.Transaction, error) {
	now := s.now()
	nowUS := now.UnixMicro()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.invoices[strings.ToLower(identifier)]
	if rec == nil {
		return nordpay.Transaction{}, fmt.Errorf("sandbox: invoice %s not found (only invoices created through the API can be paid)", identifier)
	}
	name := rec.currency
	if name == "" {
		name = rec.allowed[0]
	}
	cur, _ := s.currencyLocked(name)
	if !amount.IsPositive() {
		return nordpay.Transaction{}, fmt.Errorf("sandbox: PayInvoice amount %s is not positive", amount)
	}
	if places(amount) > cur.Decimals {
		return nordpay.Transaction{}, fmt.Errorf("sandbox: PayInvoice amount %s has more than %d decimals", amount, cur.Decimals)
	}
	sf := amount.Mul(decimal.NewFromInt(int64(s.inv.feeBP))).Shift(-4).Round(int32(cur.Decimals))
	net := amount.Sub(cur.NetworkFee).Sub(sf)
	if net.IsNegative() {
		return nordpay.Transaction{}, fmt.Errorf("sandbox: PayInvoice amount %s does not cover the fees of %s", amount, name)
	}
	rate := cur.Rate.Decimal
	id := s.nextTxID[0]
	s.nextTxID[0]++
	h := hash3(s.seed, saltCreated^0xfee, id)
	hash := [4]uint64{mix64(h), mix64(h ^ 1), mix64(h ^ 2), mix64(h ^ 3)}
	txHash := string(appendTxHash(nil, networkKind(cur.Network), &hash))
	usd := amount.Mul(rate).Round(2)
	rec.received = rec.received.Add(amount)
	rec.receivedUSD = rec.receivedUSD.Add(usd)
	rec.txHash = txHash
	if (rec.currency != "" && rec.received.GreaterThanOrEqual(rec.amount)) || (rec.currency == "" && rec.receivedUSD.GreaterThanOrEqual(rec.amountUSD)) {
		rec.paid = true
	}
	tx := nordpay.Transaction{
		ID:         nordpay.ID(formatID(id)),
		SourceType: nordpay.SourceInvoice,
		Source:     rec.source(nowUS),
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{
			Name: cur.Name, Token: cur.Token, Network: cur.Network, Contract: cur.Contract,
			Decimals: cur.Decimals, Confirmations: cur.Confirmations,
			NetworkFee: cur.NetworkFee, MinDeposit: cur.MinDeposit,
		}},
		Amount:           amount,
		AmountUSD:        usd,
		NetworkFee:       cur.NetworkFee,
		NetworkFeeUSD:    cur.NetworkFee.Mul(rate).Round(2),
		ServiceFee:       sf,
		ServiceFeeUSD:    sf.Mul(rate).Round(2),
		TxHash:           txHash,
		IsPaid:           true,
		IsPostbackSended: rec.postback != "",
		CreatedAt:        nordpay.Time{Time: time.UnixMicro(nowUS).UTC()},
	}
	b, err := nordpay.Marshal(tx)
	if err != nil {
		return nordpay.Transaction{}, fmt.Errorf("sandbox: PayInvoice: %w", err)
	}
	s.addExtraLocked(0, &extra{
		createdUS: nowUS, visibleUS: nowUS, json: b, tx: &tx,
		sourceID: formatID(rec.id), currency: cur.Name, net: net, paid: true,
	})
	return tx, nil
}

// handleCreateWallet serves POST /wallet/create: currency and label required, postback_url
// optional.
func (s *Server) handleCreateWallet(c *call) {
	o, ok := readBody(c)
	if !ok {
		return
	}
	ck := &checker{}
	body := loc("body")
	var currency, label, postback string
	if v, ok := ck.get(o, body, "currency", true); ok {
		currency, _ = ck.enum(v, appendLoc(body, "currency"), s.currencyNames())
	}
	if v, ok := ck.get(o, body, "label", true); ok {
		label, _ = ck.str(v, appendLoc(body, "label"))
	}
	if v, ok := ck.get(o, body, "postback_url", false); ok {
		postback, _ = ck.str(v, appendLoc(body, "postback_url"))
	}
	if !ck.answer(c) {
		return
	}
	s.mu.Lock()
	var g *genCur
	for _, gc := range s.gcur {
		if gc.name == currency {
			g = gc
		}
	}
	s.createdSeq++
	h := hash3(s.seed, saltCreated^0x3a11e7, s.createdSeq)
	wl := &wallet{
		id: s.nextWallID, label: label, address: makeAddress(g.kind, h), cur: g, curName: currency,
		postback: postback, createdUS: c.nowUS, updatedUS: c.nowUS,
	}
	s.nextWallID++
	wl.encode()
	s.createdWall = append(s.createdWall, wl)
	s.wallByID[wl.id] = wl
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, wl.json)
}
