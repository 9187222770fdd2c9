package sandbox

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// JSON is written by hand with strconv-style appends into a reused buffer: a window of a
// million transactions is encoded with no per-transaction garbage.

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string, escaping as encoding/json does (minus HTML).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTime writes Unix microseconds as nordpay.TimeLayout (2025-06-12T10:04:32.962319Z).
func appendTime(dst []byte, us int64) []byte {
	if us < 0 {
		return append(dst, time.UnixMicro(us).UTC().Format(nordpay.TimeLayout)...)
	}
	secs := us / 1e6
	frac := us % 1e6
	days := secs / 86400
	rem := secs % 86400
	// Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	var b [27]byte
	put := func(at int, v int64, width int) {
		for k := width - 1; k >= 0; k-- {
			b[at+k] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, m, 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = 'T'
	put(11, rem/3600, 2)
	b[13] = ':'
	put(14, rem/60%60, 2)
	b[16] = ':'
	put(17, rem%60, 2)
	b[19] = '.'
	put(20, frac, 6)
	b[26] = 'Z'
	return append(dst, b[:]...)
}

// appendMoney writes an atto amount; spell (from a transaction) picks plain, exponent form,
// trailing zeros or a JSON string for field number k.
func appendMoney(dst []byte, a u128, spell uint64, k uint) []byte {
	if spell == 0 {
		return appendAttoPlain(dst, a, 0)
	}
	style := spell >> (32 + 2*k)
	switch spell >> (2*k + 1) & 3 {
	case 1:
		return appendAttoExp(dst, a, style)
	case 2:
		return appendAttoPlain(dst, a, 2+int(style&4))
	case 3:
		dst = append(dst, '"')
		dst = appendAttoPlain(dst, a, 0)
		return append(dst, '"')
	}
	return appendAttoPlain(dst, a, 0)
}

func appendID(dst []byte, id uint64, asString bool) []byte {
	if asString {
		dst = append(dst, '"')
		dst = strconv.AppendUint(dst, id, 10)
		return append(dst, '"')
	}
	return strconv.AppendUint(dst, id, 10)
}

func appendUUID(dst []byte, hi, lo uint64) []byte {
	var b [36]byte
	n := 0
	for k := 0; k < 32; k++ {
		if k == 8 || k == 12 || k == 16 || k == 20 {
			b[n] = '-'
			n++
		}
		var v uint64
		if k < 16 {
			v = hi >> (60 - 4*k)
		} else {
			v = lo >> (60 - 4*(k-16))
		}
		b[n] = hexDigits[v&15]
		n++
	}
	return append(dst, b[:]...)
}

func uuidString(hi, lo uint64) string { return string(appendUUID(nil, hi, lo)) }

func appendTxHash(dst []byte, kind int, h *[4]uint64) []byte {
	if kind == netEVM {
		dst = append(dst, '0', 'x')
	}
	for _, v := range h {
		for k := 60; k >= 0; k -= 4 {
			dst = append(dst, hexDigits[v>>k&15])
		}
	}
	return dst
}

func appendDecimal(dst []byte, d decimal.Decimal) []byte { return append(dst, d.String()...) }

func appendNullableString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, s)
}

// appendCurrencyObject writes the currency object embedded in a transaction: the eight
// documented fields. exp writes the fees in exponent form.
func appendCurrencyObject(dst []byte, c nordpay.Currency, exp bool) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, c.Name)
	dst = append(dst, `,"token":`...)
	dst = appendJSONString(dst, c.Token)
	dst = append(dst, `,"network":`...)
	dst = appendJSONString(dst, c.Network)
	dst = append(dst, `,"contract":`...)
	dst = appendNullableString(dst, c.Contract)
	dst = append(dst, `,"decimals":`...)
	dst = strconv.AppendInt(dst, int64(c.Decimals), 10)
	dst = append(dst, `,"confirmations":`...)
	dst = strconv.AppendInt(dst, int64(c.Confirmations), 10)
	money := func(dst []byte, d decimal.Decimal) []byte {
		if exp {
			a, _ := attoOf(d)
			return appendAttoExp(dst, a, 0)
		}
		return appendDecimal(dst, d)
	}
	dst = append(dst, `,"network_fee":`...)
	dst = money(dst, c.NetworkFee)
	dst = append(dst, `,"min_deposit":`...)
	dst = money(dst, c.MinDeposit)
	return append(dst, '}')
}

// appendFullCurrency writes an entry of GET /currencies/ in the assumed shape.
func appendFullCurrency(dst []byte, c nordpay.Currency) []byte {
	dst = appendCurrencyObject(dst, c, false)
	dst = dst[:len(dst)-1]
	dst = append(dst, `,"min_withdraw":`...)
	dst = appendDecimal(dst, c.MinWithdraw)
	dst = append(dst, `,"is_deposit_enabled":`...)
	dst = strconv.AppendBool(dst, c.DepositEnabled())
	dst = append(dst, `,"is_withdraw_enabled":`...)
	dst = strconv.AppendBool(dst, c.WithdrawEnabled())
	dst = append(dst, `,"rate":`...)
	if c.Rate.Valid {
		dst = appendDecimal(dst, c.Rate.Decimal)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}

func appendWalletObject(dst []byte, w *wallet, idString bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, w.id, idString)
	dst = append(dst, `,"label":`...)
	dst = appendJSONString(dst, w.label)
	dst = append(dst, `,"address":`...)
	dst = appendJSONString(dst, w.address)
	dst = append(dst, `,"currency":`...)
	dst = appendJSONString(dst, w.curName)
	dst = append(dst, `,"postback_url":`...)
	dst = appendNullableString(dst, w.postback)
	dst = append(dst, `,"created_at":"`...)
	dst = appendTime(dst, w.createdUS)
	dst = append(dst, `","updated_at":"`...)
	dst = appendTime(dst, w.updatedUS)
	return append(dst, `"}`...)
}

const (
	shopPostback = "https://shop.example.com/nordpay/postback"
	shopSuccess  = "https://shop.example.com/checkout/success"
	shopFail     = "https://shop.example.com/checkout/fail"
	payURLPrefix = "https://pay.nord-pay.com/invoice/"
)

var hostileLabelsJSON = func() [][]byte {
	out := make([][]byte, len(hostileLabels))
	for i, l := range hostileLabels {
		out[i] = appendJSONString(nil, l)
	}
	return out
}()

func (d *txData) label() string {
	if d.hostile >= 0 {
		return hostileLabels[d.hostile]
	}
	return "Order #" + strconv.FormatUint(d.labelNum, 10)
}

func (d *txData) appendLabel(dst []byte) []byte {
	if d.hostile >= 0 {
		return append(dst, hostileLabelsJSON[d.hostile]...)
	}
	dst = append(dst, `"Order #`...)
	dst = strconv.AppendUint(dst, d.labelNum, 10)
	return append(dst, '"')
}

// invoiceStatus is the status of a generated invoice whose transaction is visible (paid) or
// not yet, at nowUS.
func (d *txData) invoiceStatus(paidVisible bool, nowUS int64) string {
	switch {
	case paidVisible:
		return "paid"
	case nowUS >= d.invExpiresUS:
		return "expired"
	}
	return "waiting"
}

// appendInvoiceFields writes the fields of a generated invoice, without braces; url adds the
// payment page link of the invoice endpoints.
func (d *txData) appendInvoiceFields(dst []byte, paidVisible bool, nowUS int64, url bool) []byte {
	c := d.cur
	dst = append(dst, `"id":`...)
	dst = appendID(dst, d.invID, d.idString)
	dst = append(dst, `,"uuid":"`...)
	dst = appendUUID(dst, d.invUUIDHi, d.invUUID)
	dst = append(dst, `","currency":`...)
	dst = append(dst, c.nameJSON...)
	dst = append(dst, `,"tx_hash":`...)
	if paidVisible {
		dst = append(dst, '"')
		dst = appendTxHash(dst, c.kind, &d.hash)
		dst = append(dst, '"')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"address":"`...)
	dst = append(dst, d.addr...)
	dst = append(dst, `","amount":`...)
	dst = appendMoney(dst, d.amount, d.spell, 6)
	dst = append(dst, `,"amount_usd":`...)
	dst = appendMoney(dst, d.amountUSD, d.spell, 7)
	var recv, recvUSD u128
	if paidVisible {
		recv, recvUSD = d.amount, d.amountUSD
	}
	dst = append(dst, `,"received_amount":`...)
	dst = appendMoney(dst, recv, d.spell, 8)
	dst = append(dst, `,"received_amount_usd":`...)
	dst = appendMoney(dst, recvUSD, d.spell, 9)
	dst = append(dst, `,"label":`...)
	dst = d.appendLabel(dst)
	dst = append(dst, `,"postback_url":"`+shopPostback+`","success_url":"`+shopSuccess+`","fail_url":"`+shopFail+`"`...)
	if url {
		dst = append(dst, `,"url":"`+payURLPrefix...)
		dst = appendUUID(dst, d.invUUIDHi, d.invUUID)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"created_at":"`...)
	dst = appendTime(dst, d.invCreatedUS)
	dst = append(dst, `","expires_at":"`...)
	dst = appendTime(dst, d.invExpiresUS)
	dst = append(dst, `","status":"`...)
	dst = append(dst, d.invoiceStatus(paidVisible, nowUS)...)
	return append(dst, '"')
}

// appendTx writes generated transaction d of stream s as one element of a transaction array.
func (s *stream) appendTx(dst []byte, d *txData, nowUS int64) []byte {
	c := d.cur
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, d.id, d.idString)
	if d.wallet != nil {
		dst = append(dst, `,"source_type":"wallet","source":`...)
		if d.idString {
			dst = append(dst, d.wallet.jsonString...)
		} else {
			dst = append(dst, d.wallet.json...)
		}
	} else {
		dst = append(dst, `,"source_type":"invoice","source":{`...)
		dst = d.appendInvoiceFields(dst, d.paid, nowUS, false)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"currency":`...)
	if d.spell != 0 && d.spell>>62 == 0 {
		dst = append(dst, c.jsonExp...)
	} else {
		dst = append(dst, c.jsonPlain...)
	}
	dst = append(dst, `,"amount":`...)
	dst = appendMoney(dst, d.amount, d.spell, 0)
	dst = append(dst, `,"amount_usd":`...)
	dst = appendMoney(dst, d.amountUSD, d.spell, 1)
	dst = append(dst, `,"network_fee":`...)
	dst = appendMoney(dst, c.nf, d.spell, 2)
	dst = append(dst, `,"network_fee_usd":`...)
	dst = appendMoney(dst, c.nfUSD, d.spell, 3)
	dst = append(dst, `,"service_fee":`...)
	dst = appendMoney(dst, d.sf, d.spell, 4)
	dst = append(dst, `,"service_fee_usd":`...)
	dst = appendMoney(dst, d.sfUSD, d.spell, 5)
	dst = append(dst, `,"tx_hash":"`...)
	dst = appendTxHash(dst, c.kind, &d.hash)
	if d.paid {
		dst = append(dst, `","is_paid":true,"is_postback_sended":`...)
	} else {
		dst = append(dst, `","is_paid":false,"is_postback_sended":`...)
	}
	dst = strconv.AppendBool(dst, d.postbackSent)
	dst = append(dst, `,"created_at":"`...)
	dst = appendTime(dst, d.createdUS)
	return append(dst, `"}`...)
}
