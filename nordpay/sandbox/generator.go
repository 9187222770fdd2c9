package sandbox

import (
	"crypto/sha256"
	"fmt"
	"math/bits"
	"sort"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// The generator keeps nothing per transaction: transaction i of a stream is a pure function
// of (seed, stream, i), derived on demand from a few splitmix64 hashes.

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hash3(a, b, c uint64) uint64 { return mix64(mix64(mix64(a)^b) ^ c) }

// unit turns a hash into a float64 in [0, 1) for comparing against a rate.
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// Salts keep the hash families of the streams and of their fields apart.
const (
	saltInvoiceStream = 0x696e766f69636573 // "invoices"
	saltWalletStream  = 0x77616c6c65747320 // "wallets "
	saltInvoiceObject = 0x696e766f626a6563
	saltWalletObject  = 0x77616c6f626a6563
	saltAddress       = 0x6164647265737365
	saltQuote         = 0x71756f7465733a3a
	saltCreated       = 0x6372656174656421
)

// bijection maps an index in [0, n) to a unique, non-sequential id: offset + (a*i+b) mod m,
// with m the next power of two >= n and a odd, so it can be inverted.
type bijection struct {
	mask, a, ainv, b, offset uint64
	n                        uint64
}

func newBijection(seed, salt uint64, n int, offset uint64) bijection {
	m := uint64(1024)
	for m < uint64(n) {
		m <<= 1
	}
	a := mix64(seed^salt)&(m-1) | 1
	if a == 1 && m > 2 {
		a = m/2 + 1 | 1
	}
	// Newton's iteration for the inverse of an odd number modulo 2^64.
	inv := a
	for range 5 {
		inv *= 2 - a*inv
	}
	return bijection{mask: m - 1, a: a, ainv: inv, b: mix64(seed^salt^0xb) & (m - 1), offset: offset, n: uint64(n)}
}

func (bj bijection) id(i int) uint64 { return bj.offset + (bj.a*uint64(i)+bj.b)&bj.mask }

// index inverts id; ok is false for an id outside the generated ones.
func (bj bijection) index(id uint64) (int, bool) {
	if id < bj.offset || id-bj.offset > bj.mask {
		return 0, false
	}
	i := ((id - bj.offset - bj.b) * bj.ainv) & bj.mask
	if i >= bj.n {
		return 0, false
	}
	return int(i), true
}

// end is the first id after the generated range: ids of added objects start there.
func (bj bijection) end() uint64 { return bj.offset + bj.mask + 1 }

// Network kinds decide the shape of addresses and transaction hashes.
const (
	netEVM = iota
	netTron
	netBitcoin
)

func networkKind(network string) int {
	switch network {
	case "TRC20", "TRON", "TRX":
		return netTron
	case "BTC", "BITCOIN":
		return netBitcoin
	}
	return netEVM
}

// genCur is a currency as the generator uses it: snapshotted at New, with the numbers in
// fixed point and its JSON object pre-encoded.
type genCur struct {
	idx                 int
	cur                 nordpay.Currency
	name                string
	decimals            int
	short               int // decimals of the usual, short amounts
	kind                int
	nf, nfUSD, minDep   u128
	rateMant            uint64
	rateExp             int
	jsonPlain, jsonExp  []byte // the transaction's currency object, plain and with varied numbers
	nameJSON            []byte // "USDTBEP20" with quotes
	addresses           []string
	floor               u128 // generated amounts are at least this: net never negative
	nfPlain, nfExpStyle []byte
}

// rateParts splits a positive rate into mantissa and decimal places; the bounds keep the
// generator's fixed-point products inside 128 bits.
func rateParts(d decimal.Decimal) (uint64, int, error) {
	p := places(d)
	if p > 12 {
		return 0, 0, fmt.Errorf("rate %s has more than 12 decimals", d)
	}
	m := d.Shift(int32(p)).BigInt()
	if m.Sign() <= 0 || !m.IsUint64() || m.Uint64() >= 1e15 {
		return 0, 0, fmt.Errorf("rate %s out of range (at most 15 significant digits)", d)
	}
	return m.Uint64(), p, nil
}

// usdOf values an atto amount at the currency's rate, rounded to cents (in atto).
func (c *genCur) usdOf(a u128) u128 {
	return a.mul64(c.rateMant).roundPow10(c.rateExp + attoDigits - 2).mulPow10(attoDigits - 2)
}

func newGenCur(idx int, c nordpay.Currency, seed uint64) *genCur {
	g := &genCur{idx: idx, cur: c, name: c.Name, decimals: c.Decimals, kind: networkKind(c.Network)}
	g.nf, _ = attoOf(c.NetworkFee)
	g.minDep, _ = attoOf(c.MinDeposit)
	g.rateMant, g.rateExp, _ = rateParts(c.Rate.Decimal)
	g.nfUSD = g.usdOf(g.nf)
	intDigits := len(c.Rate.Decimal.Truncate(0).String())
	g.short = min(c.Decimals, 2+max(0, intDigits-1))
	if c.Rate.Decimal.LessThan(decimal.NewFromInt(1)) {
		g.short = min(c.Decimals, 2)
	}
	g.floor = g.nf.add(g.nf).add(g.minDep)
	g.nameJSON = appendJSONString(nil, c.Name)
	g.jsonPlain = appendCurrencyObject(nil, c, false)
	g.jsonExp = appendCurrencyObject(nil, c, true)
	g.addresses = make([]string, addressPool)
	for i := range g.addresses {
		g.addresses[i] = makeAddress(g.kind, hash3(seed, saltAddress^uint64(idx)<<32, uint64(i)))
	}
	return g
}

// addressPool is how many deposit addresses each currency's invoices draw from (gateways
// reuse a pool of deposit addresses; precomputing keeps encoding fast).
const addressPool = 1024

// stream is one generated transaction stream (invoices or wallets).
type stream struct {
	source      string // nordpay.SourceInvoice or nordpay.SourceWallet
	salt        uint64
	seed        uint64
	gen         Generator
	n           int
	startUS     int64
	spanUS      uint64
	unpaid      float64
	late        float64
	lateUS      uint64
	feeBP       uint64 // service fee in basis points of the amount
	ids         bijection
	objIDs      bijection // invoice ids (invoice stream)
	curs        []*genCur // the currencies transactions are drawn from
	wallets     []*wallet // wallet stream: the generated wallets
	spellings   bool
	labelPrefix []byte
}

// createdUS is the created_at of transaction i in Unix microseconds:
// Start + floor(span*i/n), computed in 128 bits so no product overflows.
func (s *stream) createdUS(i int) int64 {
	hi, lo := bits.Mul64(s.spanUS, uint64(i))
	q, _ := bits.Div64(hi, lo, uint64(s.n))
	return s.startUS + int64(q)
}

// firstAtOrAfter is the smallest i with createdUS(i) >= t (n when none).
func (s *stream) firstAtOrAfter(t int64) int {
	return sort.Search(s.n, func(i int) bool { return s.createdUS(i) >= t })
}

// firstAfter is the smallest i with createdUS(i) > t (n when none).
func (s *stream) firstAfter(t int64) int {
	return sort.Search(s.n, func(i int) bool { return s.createdUS(i) > t })
}

// txData is one derived transaction, in fixed point, ready to encode or convert.
type txData struct {
	i                  int
	id                 uint64
	createdUS          int64
	visibleUS          int64
	cur                *genCur
	wallet             *wallet
	amount, amountUSD  u128
	sf, sfUSD          u128
	paid               bool
	postbackSent       bool
	hash               [4]uint64 // tx_hash material
	spell              uint64    // 0 = plain numbers; otherwise 2 bits per field pick a spelling
	idString           bool
	hostile            int // -1, or the index of a hostile label
	labelNum           uint64
	addr               string
	invID              uint64
	invCreatedUS       int64
	invExpiresUS       int64
	invUUIDHi, invUUID uint64
}

// usdCents draws a realistic USD worth, in cents: mostly between $1 and $5,000, skewed to
// tens and hundreds.
func usdCents(h uint64) uint64 {
	b := h % 100
	r := h / 100
	switch {
	case b < 20: // $1 .. $10
		return 100 + r%900
	case b < 60: // $10 .. $100
		return 1000 + r%9000
	case b < 90: // $100 .. $1,000
		return 10000 + r%90000
	default: // $1,000 .. $5,000
		return 100000 + r%400000
	}
}

// derive fills d with transaction i of s.
func (s *stream) derive(i int, d *txData) {
	h0 := hash3(s.seed, s.salt, uint64(i))
	h1 := mix64(h0 ^ 1)
	h2 := mix64(h0 ^ 2)
	h3 := mix64(h0 ^ 3)
	h4 := mix64(h0 ^ 4)
	d.i = i
	d.id = s.ids.id(i)
	d.createdUS = s.createdUS(i)
	d.visibleUS = d.createdUS
	if s.late > 0 && unit(h1) < s.late {
		d.visibleUS += int64(1 + h2%s.lateUS)
	}
	d.paid = !(s.unpaid > 0 && unit(mix64(h1^5)) < s.unpaid)
	d.postbackSent = d.paid && h3&7 != 0
	if s.wallets != nil {
		d.wallet = s.wallets[h3>>8%uint64(len(s.wallets))]
		d.cur = d.wallet.cur
	} else {
		d.cur = s.curs[h3>>8%uint64(len(s.curs))]
		d.wallet = nil
	}
	c := d.cur

	// Amount: a USD worth converted at the rate, in the currency's short precision; one in ten
	// carries the currency's full precision.
	cents := usdCents(h4)
	units := u64(cents).mulPow10(c.short + c.rateExp).roundDiv64(100 * c.rateMant)
	if units.isZero() {
		units = u64(1)
	}
	extra := c.decimals - c.short
	dunits := units.mulPow10(extra)
	if extra > 0 && h4>>60 == 0 { // 1 in 16
		dunits = dunits.add(u64(mix64(h4) % pow10[min(extra, 19)]))
	}
	d.amount = dunits.mulPow10(attoDigits - c.decimals)
	if d.amount.less(c.floor) {
		d.amount = d.amount.add(c.floor)
	}
	d.amountUSD = c.usdOf(d.amount)
	// Service fee: a percent of the amount, rounded to the currency's decimals.
	q := attoDigits - c.decimals
	d.sf = d.amount.divPow10(q).mul64(s.feeBP).roundPow10(4).mulPow10(q)
	if maxFee := d.amount.sub(c.nf); maxFee.less(d.sf) {
		d.sf = maxFee
	}
	d.sfUSD = c.usdOf(d.sf)
	d.hash = [4]uint64{mix64(h0 ^ 6), mix64(h0 ^ 7), mix64(h0 ^ 8), mix64(h0 ^ 9)}
	d.spell = 0
	d.idString = false
	if s.spellings {
		if h2>>62 == 0 { // one in four transactions has varied spellings
			d.spell = mix64(h0^10) | 1
		}
		d.idString = h2>>56&31 == 1 // one in 32
	}
	d.hostile = -1
	d.labelNum = 10000 + h1>>20%90000
	if h1>>8&1023 == 0 { // about 0.1%
		d.hostile = int(h1 >> 40 % uint64(len(hostileLabels)))
	}
	if s.wallets == nil {
		d.addr = c.addresses[h3>>40%addressPool]
		d.invID = s.objIDs.id(i)
		d.invCreatedUS = d.createdUS - int64(1+h1>>24%29)*int64(time.Minute/time.Microsecond)
		d.invExpiresUS = d.invCreatedUS + int64(30+h1>>32%31)*int64(time.Minute/time.Microsecond)
		d.invUUIDHi, d.invUUID = invoiceUUID(s.seed, i)
	}
}

// uuidMult scrambles the index bits of a generated invoice uuid (odd, so invertible modulo
// 2^48).
const (
	uuidMult  = 0x5851f42d4c95
	low48     = 1<<48 - 1
	uuidMultI = 0x0b9ce3011ebd // uuidMult's inverse modulo 2^48 (checked by a test)
)

// invoiceUUID derives the uuid of generated invoice i: 64 hashed bits, then the index
// scrambled into the low 48 bits, so that a uuid can be turned back into its invoice.
func invoiceUUID(seed uint64, i int) (hi, lo uint64) {
	hi = hash3(seed, saltInvoiceObject, uint64(i))
	hi = hi&^0xf000 | 0x4000 // version 4
	mask := mix64(seed^saltInvoiceObject) & low48
	lo = mix64(hi)&0x3fff<<48 | 0x8000<<48 | ((uint64(i)^mask)*uuidMult)&low48
	return hi, lo
}

// invoiceIndexOfUUID inverts invoiceUUID; ok is false for a uuid that is not a generated one.
func invoiceIndexOfUUID(seed uint64, n int, uuid string) (int, bool) {
	hi, lo, ok := parseUUID(uuid)
	if !ok {
		return 0, false
	}
	mask := mix64(seed^saltInvoiceObject) & low48
	i := (lo&low48*uuidMultI)&low48 ^ mask
	if i >= uint64(n) {
		return 0, false
	}
	h, l := invoiceUUID(seed, int(i))
	if h != hi || l != lo {
		return 0, false
	}
	return int(i), true
}

func parseUUID(s string) (hi, lo uint64, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return 0, 0, false
	}
	var v [2]uint64
	n := 0
	for j := 0; j < len(s); j++ {
		if j == 8 || j == 13 || j == 18 || j == 23 {
			continue
		}
		c := s[j]
		var x uint64
		switch {
		case c >= '0' && c <= '9':
			x = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			x = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			x = uint64(c-'A') + 10
		default:
			return 0, 0, false
		}
		v[n/16] = v[n/16]<<4 | x
		n++
	}
	return v[0], v[1], true
}

// hostileLabels are labels that a spreadsheet would run as formulas or that break naive CSV;
// exporters must neutralise them.
var hostileLabels = []string{
	`=HYPERLINK("http://x","y")`,
	`+1+1`,
	`@SUM(A1)`,
	`-2`,
	`=cmd|' /C calc'!A0`,
	`Order "42", paid`,
	"Order 7\nsecond line",
	"\tOrder 9",
	`Заказ №17, café ☕`,
	`O'Brien; "VIP", 東京`,
}

// wallet is a generated or created wallet.
type wallet struct {
	id         uint64
	label      string
	address    string
	cur        *genCur
	curName    string
	postback   string
	createdUS  int64
	updatedUS  int64
	json       []byte // the wallet object with a numeric id
	jsonString []byte // the same with the id as a string
}

func (w *wallet) encode() {
	w.json = appendWalletObject(nil, w, false)
	w.jsonString = appendWalletObject(nil, w, true)
}

// walletLabels name generated wallets; one carries commas, quotes and non-ASCII.
var walletLabels = []string{
	"Customer deposits",
	"Subscriptions",
	"Marketplace escrow",
	"Top-ups",
	"Affiliate payouts in",
	"Store #2",
	"Support refunds",
	`Deposits, "VIP" — Zoë`,
}

// makeAddress builds a well-formed address for a network from 64 bits of seed: lowercase EVM
// hex, TRON base58check, Bitcoin bech32 P2WPKH.
func makeAddress(kind int, h uint64) string {
	var raw [20]byte
	for j := 0; j < 20; j += 8 {
		h = mix64(h)
		for k := 0; k < 8 && j+k < 20; k++ {
			raw[j+k] = byte(h >> (8 * k))
		}
	}
	switch kind {
	case netTron:
		payload := append([]byte{0x41}, raw[:]...)
		s1 := sha256.Sum256(payload)
		s2 := sha256.Sum256(s1[:])
		return base58(append(payload, s2[:4]...))
	case netBitcoin:
		return bech32Segwit("bc", 0, raw[:])
	}
	const hexDigits = "0123456789abcdef"
	b := make([]byte, 2, 42)
	b[0], b[1] = '0', 'x'
	for _, x := range raw {
		b = append(b, hexDigits[x>>4], hexDigits[x&15])
	}
	return string(b)
}

func base58(in []byte) string {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	digits := []byte{} // base-58 digits, least significant first
	for _, b := range in {
		carry := int(b)
		for j := range digits {
			carry += int(digits[j]) << 8
			digits[j] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	out := make([]byte, 0, len(digits)+2)
	for _, b := range in {
		if b != 0 {
			break
		}
		out = append(out, '1')
	}
	for j := len(digits) - 1; j >= 0; j-- {
		out = append(out, alphabet[digits[j]])
	}
	return string(out)
}

func bech32Segwit(hrp string, version byte, program []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	data := []byte{version}
	acc, nbits := 0, 0
	for _, b := range program {
		acc = acc<<8 | int(b)
		nbits += 8
		for nbits >= 5 {
			nbits -= 5
			data = append(data, byte(acc>>nbits&31))
		}
	}
	if nbits > 0 {
		data = append(data, byte(acc<<(5-nbits)&31))
	}
	polymod := func(values []byte) uint32 {
		gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		chk := uint32(1)
		for _, v := range values {
			top := chk >> 25
			chk = (chk&0x1ffffff)<<5 ^ uint32(v)
			for i := range 5 {
				if top>>i&1 == 1 {
					chk ^= gen[i]
				}
			}
		}
		return chk
	}
	var exp []byte
	for i := 0; i < len(hrp); i++ {
		exp = append(exp, hrp[i]>>5)
	}
	exp = append(exp, 0)
	for i := 0; i < len(hrp); i++ {
		exp = append(exp, hrp[i]&31)
	}
	mod := polymod(append(append(exp, data...), 0, 0, 0, 0, 0, 0)) ^ 1
	out := []byte(hrp + "1")
	for _, d := range data {
		out = append(out, charset[d])
	}
	for i := range 6 {
		out = append(out, charset[mod>>(5*(5-i))&31])
	}
	return string(out)
}
