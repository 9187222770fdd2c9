package exporters

import (
	"math"

	"github.com/shopspring/decimal"
)

// stmtSum is an exact running sum of decimals, for the totals and the running balance of
// a statement, which add a million amounts: while the sum fits an int64 coefficient at
// the smallest exponent seen, it is kept as one (no allocation per addition; decimal.Add
// allocates twice); past that it is a decimal.Decimal. Either way nothing is rounded:
// integer arithmetic with overflow checks, never floating point.
type stmtSum struct {
	coef  int64 // the sum is coef * 10^exp while !big
	exp   int32
	big   bool
	total decimal.Decimal // the sum once big
}

// stmtPow10 are the powers of ten an int64 holds.
var stmtPow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// add adds d to the sum.
func (s *stmtSum) add(d decimal.Decimal) {
	if !s.big {
		e := d.Exponent()
		if e >= -18 && e <= 18 && d.NumDigits() <= 18 {
			c, ok := d.CoefficientInt64(), true
			if e > 0 { // 1E+2: as 100
				c, ok = stmtMulPow10(c, e)
				e = 0
			}
			if ok && s.addSmall(c, e) {
				return
			}
		}
		s.big, s.total = true, decimal.New(s.coef, s.exp)
	}
	s.total = s.total.Add(d)
}

// addSmall adds c * 10^e, reporting false (sum unchanged) when an int64 cannot hold it.
func (s *stmtSum) addSmall(c int64, e int32) bool {
	coef, exp := s.coef, s.exp
	if coef == 0 && exp > e {
		exp = e
	}
	switch {
	case e < exp: // scale the sum down to e
		var ok bool
		if coef, ok = stmtMulPow10(coef, exp-e); !ok {
			return false
		}
		exp = e
	case e > exp: // scale c down to the sum's exponent
		var ok bool
		if c, ok = stmtMulPow10(c, e-exp); !ok {
			return false
		}
	}
	sum := coef + c
	if (c > 0 && sum < coef) || (c < 0 && sum > coef) {
		return false
	}
	s.coef, s.exp = sum, exp
	return true
}

// stmtMulPow10 returns c * 10^n, and false when it overflows an int64.
func stmtMulPow10(c int64, n int32) (int64, bool) {
	if c == 0 {
		return 0, true
	}
	if n < 0 || int(n) >= len(stmtPow10) {
		return 0, false
	}
	p := stmtPow10[n]
	if c > math.MaxInt64/p || c < math.MinInt64/p {
		return 0, false
	}
	return c * p, true
}

// value returns the sum.
func (s *stmtSum) value() decimal.Decimal {
	if s.big {
		return s.total
	}
	return decimal.New(s.coef, s.exp)
}
