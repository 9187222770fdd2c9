package sandbox

import (
	"fmt"
	"math/big"
	"math/bits"
	"strconv"

	"github.com/shopspring/decimal"
)

// Generated money is computed in fixed point: an unsigned 128-bit count of 10^-18 units
// ("atto"), the finest precision any currency has. Integer arithmetic keeps the generator
// exact and allocation-free; decimal.Decimal is used only at the edges (options, Go views,
// balances).

// attoDigits is the number of decimals of an atto amount.
const attoDigits = 18

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

// pow10 holds 10^0 .. 10^19, every power of ten that fits in a uint64.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

func u64(v uint64) u128 { return u128{lo: v} }

func (a u128) isZero() bool { return a.hi == 0 && a.lo == 0 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}
}

func (a u128) sub(b u128) u128 {
	lo, br := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, br)
	return u128{hi, lo}
}

// mul64 multiplies; callers keep products well inside 128 bits.
func (a u128) mul64(m uint64) u128 {
	hi, lo := bits.Mul64(a.lo, m)
	return u128{hi + a.hi*m, lo}
}

// divmod64 divides by d > 0 (long division in two 64-bit steps).
func (a u128) divmod64(d uint64) (u128, uint64) {
	qhi, r := a.hi/d, a.hi%d
	qlo, r := bits.Div64(r, a.lo, d)
	return u128{qhi, qlo}, r
}

// roundDiv64 divides by d > 0, rounding half up.
func (a u128) roundDiv64(d uint64) u128 {
	q, r := a.divmod64(d)
	if r >= d-r {
		q = q.add(u64(1))
	}
	return q
}

func (a u128) mulPow10(k int) u128 {
	for k > 0 {
		s := min(k, 19)
		a = a.mul64(pow10[s])
		k -= s
	}
	return a
}

// divPow10 divides by 10^k, truncating; nested floor divisions are exact.
func (a u128) divPow10(k int) u128 {
	for k > 0 {
		s := min(k, 19)
		a, _ = a.divmod64(pow10[s])
		k -= s
	}
	return a
}

// roundPow10 divides by 10^k, rounding half up (as decimal.Round does for positive values).
func (a u128) roundPow10(k int) u128 {
	if k == 0 {
		return a
	}
	return a.add(u64(5).mulPow10(k - 1)).divPow10(k)
}

func (a u128) big() *big.Int {
	b := new(big.Int).SetUint64(a.hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(a.lo))
}

// decimalOf converts an atto amount to a decimal with at most places decimals (the value is
// exact: callers pass amounts aligned to places).
func decimalOf(a u128, places int) decimal.Decimal {
	return decimal.NewFromBigInt(a.divPow10(attoDigits-places).big(), int32(-places))
}

// attoOf converts a non-negative decimal with at most 18 decimals to atto.
func attoOf(d decimal.Decimal) (u128, error) {
	if d.IsNegative() {
		return u128{}, fmt.Errorf("%s is negative", d)
	}
	s := d.Shift(attoDigits)
	if !s.IsInteger() {
		return u128{}, fmt.Errorf("%s has more than %d decimals", d, attoDigits)
	}
	b := s.BigInt()
	if b.BitLen() > 100 {
		return u128{}, fmt.Errorf("%s is too large", d)
	}
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(b, 64).Uint64()
	return u128{hi, lo}, nil
}

// places reports how many decimals d has once trailing zeros are dropped.
func places(d decimal.Decimal) int {
	if d.IsZero() {
		return 0
	}
	c := new(big.Int).Set(d.Coefficient())
	e := int(d.Exponent())
	ten := big.NewInt(10)
	m := new(big.Int)
	for e < 0 {
		q, r := new(big.Int).QuoRem(c, ten, m)
		if r.Sign() != 0 {
			break
		}
		c = q
		e++
	}
	if e >= 0 {
		return 0
	}
	return -e
}

// appendAttoPlain writes an atto amount as a plain decimal with no trailing zeros, padded
// with zeros to at least minFrac decimals.
func appendAttoPlain(dst []byte, a u128, minFrac int) []byte {
	q, r := a.divmod64(pow10[attoDigits])
	dst = strconv.AppendUint(dst, q.lo, 10)
	var frac [attoDigits]byte
	n := 0
	if r != 0 {
		for i := attoDigits - 1; i >= 0; i-- {
			frac[i] = byte('0' + r%10)
			r /= 10
		}
		n = attoDigits
		for n > 0 && frac[n-1] == '0' {
			n--
		}
	}
	if n < minFrac {
		for i := n; i < minFrac; i++ {
			frac[i] = '0'
		}
		n = minFrac
	}
	if n > 0 {
		dst = append(dst, '.')
		dst = append(dst, frac[:n]...)
	}
	return dst
}

// appendAttoExp writes an atto amount in exponent form (1.2345E+3, 2.5e-7); style picks the
// letter case and whether a positive exponent carries its plus sign.
func appendAttoExp(dst []byte, a u128, style uint64) []byte {
	if a.isZero() {
		return append(dst, '0')
	}
	// All significant digits of a (at most 39), most significant first.
	var digits [40]byte
	n := 0
	for v := a; !v.isZero(); {
		var r uint64
		v, r = v.divmod64(10)
		digits[n] = byte('0' + r)
		n++
	}
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	exp := n - 1 - attoDigits // power of ten of the first digit
	for n > 1 && digits[n-1] == '0' {
		n--
	}
	dst = append(dst, digits[0])
	if n > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:n]...)
	}
	if style&1 == 0 {
		dst = append(dst, 'E')
	} else {
		dst = append(dst, 'e')
	}
	if exp < 0 {
		dst = append(dst, '-')
		exp = -exp
	} else if style&2 == 0 {
		dst = append(dst, '+')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}
