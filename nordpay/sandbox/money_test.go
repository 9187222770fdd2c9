package sandbox

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
)

func TestFixedPoint(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a := u128{hi: r.Uint64() >> (20 + r.IntN(44)), lo: r.Uint64()}
		if r.IntN(4) == 0 {
			a = u64(r.Uint64() >> r.IntN(64))
		}
		want := new(big.Int).Set(a.big())
		// Plain and exponent spellings decode to the same value.
		d := decimalOf(a, attoDigits)
		if d.Shift(attoDigits).BigInt().Cmp(want) != 0 {
			t.Fatalf("decimalOf(%v) = %s", a, d)
		}
		for _, text := range []string{
			string(appendAttoPlain(nil, a, 0)),
			string(appendAttoPlain(nil, a, 6)),
			string(appendAttoExp(nil, a, r.Uint64())),
		} {
			got, err := nordpay.ParseAmount(text)
			if err != nil || !got.Equal(d) {
				t.Fatalf("%q decodes to %s (%v), want %s", text, got, err, d)
			}
			if !json.Valid([]byte(text)) {
				t.Fatalf("%q is not a JSON number", text)
			}
		}
		// Arithmetic against math/big.
		m := r.Uint64() >> 40
		if got, w := a.mul64(m).big(), new(big.Int).Mul(want, new(big.Int).SetUint64(m)); w.BitLen() <= 128 && got.Cmp(w) != 0 {
			t.Fatalf("mul64: %s, want %s", got, w)
		}
		k := r.IntN(30)
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil)
		q := new(big.Int).Quo(want, p)
		if got := a.divPow10(k).big(); got.Cmp(q) != 0 {
			t.Fatalf("divPow10(%d): %s, want %s", k, got, q)
		}
		rem := new(big.Int).Sub(want, new(big.Int).Mul(q, p))
		if rem.Mul(rem, big.NewInt(2)).Cmp(p) >= 0 {
			q.Add(q, big.NewInt(1))
		}
		if got := a.roundPow10(k).big(); got.Cmp(q) != 0 {
			t.Fatalf("roundPow10(%d) of %s: %s, want %s", k, want, got, q)
		}
	}
	for _, c := range []struct{ v, plain, exp string }{
		{"0.00000001", "0.00000001", "1E-8"},
		{"0.00000025", "0.00000025", "2.5E-7"},
		{"1200", "1200", "1.2E+3"},
		{"12.5", "12.5", "1.25E+1"},
		{"12.345678901234567891", "12.345678901234567891", "1.2345678901234567891E+1"},
	} {
		a, err := attoOf(dec(c.v))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendAttoPlain(nil, a, 0)); got != c.plain {
			t.Errorf("plain %s = %s", c.v, got)
		}
		if got := string(appendAttoExp(nil, a, 0)); got != c.exp {
			t.Errorf("exp %s = %s", c.v, got)
		}
	}
}

func TestBijectionAndUUID(t *testing.T) {
	t.Parallel()
	if uuidMult*uuidMultI&low48 != 1 {
		t.Fatal("uuidMultI is not the inverse of uuidMult")
	}
	for _, n := range []int{0, 1, 1000, 1025, 100000} {
		bj := newBijection(42, saltInvoiceStream, n, 1_000_000)
		seen := map[uint64]bool{}
		for i := range n {
			id := bj.id(i)
			if seen[id] || id < 1_000_000 || id >= bj.end() {
				t.Fatalf("n=%d: id %d of %d repeated or out of range", n, id, i)
			}
			seen[id] = true
			if j, ok := bj.index(id); !ok || j != i {
				t.Fatalf("n=%d: index(id(%d)) = %d %v", n, i, j, ok)
			}
		}
		if _, ok := bj.index(bj.end()); ok {
			t.Fatalf("n=%d: end() resolves", n)
		}
	}
	for i := range 5000 {
		hi, lo := invoiceUUID(9, i)
		u := uuidString(hi, lo)
		if u[14] != '4' || (u[19] != '8' && u[19] != '9' && u[19] != 'a' && u[19] != 'b') {
			t.Fatalf("%s is not a version 4 uuid", u)
		}
		if j, ok := invoiceIndexOfUUID(9, 5000, u); !ok || j != i {
			t.Fatalf("uuid %s resolves to %d %v, want %d", u, j, ok, i)
		}
		if _, ok := invoiceIndexOfUUID(10, 5000, u); ok {
			t.Fatalf("uuid %s resolves under another seed", u)
		}
	}
}

func TestEncodingHelpers(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		us := r.Int64N(253402300799999999) // through 9999-12-31
		tm := time.UnixMicro(us).UTC()
		if got, want := string(appendTime(nil, us)), tm.Format(nordpay.TimeLayout); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", us, got, want)
		}
	}
	for _, s := range append(hostileLabels, "plain", "", "\x00\x1f", "bad \xff utf8", "\u2028", `</script>`) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}
