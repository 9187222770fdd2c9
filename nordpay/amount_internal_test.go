package nordpay

import (
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzSimpleAmount checks that the fast path of amount decoding gives exactly the value the
// general parser gives, whenever it accepts an input.
func FuzzSimpleAmount(f *testing.F) {
	for _, seed := range []string{"0", "-0", "12.50", "0.000001", "999999999999999999", "9999999999999999999",
		"1.", ".5", "-", "1e5", "00012.3400", "123456789.123456789", "-0.000000000000000001"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := parseSimpleAmount([]byte(s))
		if !ok {
			return
		}
		slow, err := decimal.NewFromString(s)
		if err != nil {
			t.Fatalf("fast path accepted %q, which the general parser rejects: %v", s, err)
		}
		if !fast.Equal(slow) {
			t.Fatalf("%q: fast %s, general %s", s, fast, slow)
		}
	})
}
