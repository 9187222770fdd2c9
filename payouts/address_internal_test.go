package payouts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// base58Encode is the inverse of base58Decode, for tests.
func base58Encode(in []byte) string {
	digits := []byte{} // base-58 digits, least significant first
	for _, b := range in {
		carry := int(b)
		for j := range digits {
			carry += int(digits[j]) << 8
			digits[j] = byte(carry % 58)
			carry /= 58
		}
		for ; carry > 0; carry /= 58 {
			digits = append(digits, byte(carry%58))
		}
	}
	var out []byte
	for _, b := range in {
		if b != 0 {
			break
		}
		out = append(out, '1')
	}
	for i := len(digits) - 1; i >= 0; i-- {
		out = append(out, base58Alphabet[digits[i]])
	}
	return string(out)
}

func base58CheckEncode(body []byte) string {
	h1 := sha256.Sum256(body)
	h2 := sha256.Sum256(h1[:])
	return base58Encode(append(append([]byte{}, body...), h2[:4]...))
}

// segwitEncode encodes a witness program as an address, for tests.
func segwitEncode(hrp string, version int, program []byte) string {
	data, _ := convertBits(program, 8, 5, true)
	data = append([]byte{byte(version)}, data...)
	constant := uint32(bech32Const)
	if version > 0 {
		constant = bech32mConst
	}
	values := append(bech32HRPExpand(hrp), data...)
	pm := bech32Polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ constant
	var b strings.Builder
	b.WriteString(hrp + "1")
	for _, d := range data {
		b.WriteByte(bech32Charset[d])
	}
	for i := range 6 {
		b.WriteByte(bech32Charset[(pm>>(5*(5-i)))&31])
	}
	return b.String()
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bitcoin Core's base58_encode_decode.json.
func TestBase58Vectors(t *testing.T) {
	t.Parallel()
	for _, v := range [][2]string{
		{"", ""}, {"61", "2g"}, {"626262", "a3gV"}, {"636363", "aPEr"},
		{"73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"},
		{"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
		{"516b6fcd0f", "ABnLTmg"}, {"bf4f89001e670274dd", "3SEo3LWLoPntC"}, {"572e4794", "3EFU7m"},
		{"ecac89cad93923c02321", "EJDM8drfXA6uyA"}, {"10c8511e", "Rt5zm"}, {"00000000000000000000", "1111111111"},
	} {
		got, err := base58Decode(v[1])
		if err != nil || !bytes.Equal(got, unhex(t, v[0])) {
			t.Errorf("base58Decode(%q) = %x, %v; want %s", v[1], got, err, v[0])
		}
		if enc := base58Encode(unhex(t, v[0])); enc != v[1] {
			t.Errorf("base58Encode(%s) = %q, want %q", v[0], enc, v[1])
		}
	}
	for _, bad := range []string{"0", "O", "I", "l", "3mJr0", "O3yxU", "3sNI", "4kl8", "0OIl", "!@#$%^&*()-_=+~`", "abc\u200b"} {
		if _, err := base58Decode(bad); err == nil {
			t.Errorf("base58Decode(%q) accepted", bad)
		}
	}
	// The genesis block's address.
	body, err := base58CheckDecode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
	if err != nil || hex.EncodeToString(body) != "0062e907b15cbf27d5425399ebf6f0fb50ebb88f18" {
		t.Errorf("base58CheckDecode: %x, %v", body, err)
	}
	if _, err := base58CheckDecode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"); err != errBase58Checksum {
		t.Errorf("a changed character: %v", err)
	}
}

// BIP-173 and BIP-350 test vectors.
func TestBech32Vectors(t *testing.T) {
	t.Parallel()
	valid := map[uint32][]string{
		bech32Const: {
			"A12UEL5L", "a12uel5l",
			"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
			"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
			"11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
			"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl",
		},
		bech32mConst: {
			"A1LQFN3A", "a1lqfn3a",
			"an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
			"abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
			"11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
			"split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "?1v759aa",
		},
	}
	for want, list := range valid {
		for _, s := range list {
			if _, _, c, err := bech32Decode(s); err != nil || c != want {
				t.Errorf("bech32Decode(%q) = %x, %v; want constant %x", s, c, err, want)
			}
		}
	}
	for _, s := range []string{
		" 1nwldj5", "\x7f1axkwrx", "\x801eym55h",
		"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
		"pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "de1lg7wt\xff", "A1G7SGD8", "10a06t8", "1qzzfhee",
		" 1xj0phk", "\x7f1g6xzxy", "\x801vctc34",
		"an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
		"qyrz8wqd2c9m", "1qyrz8wqd2c9m", "y1b0jsk6g", "lt1igcx5c0", "in1muywd", "mm1crxm3i", "au1s5cgom", "M1VUXWEZ",
		"16plkw9", "1p2gdwpf",
	} {
		if _, _, _, err := bech32Decode(s); err == nil {
			t.Errorf("bech32Decode(%q) accepted", s)
		}
	}
}

func TestSegwitVectors(t *testing.T) {
	t.Parallel()
	for _, v := range []struct{ hrp, addr, script string }{
		{"bc", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"tb", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"},
		{"bc", "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"bc", "BC1SW50QGDZ25J", "6002751e"},
		{"bc", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"},
		{"tb", "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"},
		{"bc", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
	} {
		version, program, err := segwitDecode(v.hrp, v.addr)
		if err != nil {
			t.Errorf("segwitDecode(%s): %v", v.addr, err)
			continue
		}
		op := byte(version)
		if version > 0 {
			op += 0x50
		}
		script := append([]byte{op, byte(len(program))}, program...)
		if hex.EncodeToString(script) != v.script {
			t.Errorf("%s: script %x, want %s", v.addr, script, v.script)
		}
		if enc := segwitEncode(v.hrp, version, program); enc != strings.ToLower(v.addr) {
			t.Errorf("segwitEncode: %s, want %s", enc, strings.ToLower(v.addr))
		}
	}
	for _, addr := range []string{
		"tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
		"BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
		"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
		"bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
		"BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
		"bc1pw5dgrnzv",
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
		"BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
		"bc1gmk9yu",
	} {
		if _, _, err := segwitDecode("bc", addr); err == nil {
			t.Errorf("segwitDecode(bc, %s) accepted", addr)
		}
	}
	for _, addr := range []string{
		"tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
		"tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
		"tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
		"tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
	} {
		if _, _, err := segwitDecode("tb", addr); err == nil {
			t.Errorf("segwitDecode(tb, %s) accepted", addr)
		}
	}
}

// EIP-55's own examples.
func TestEIP55Vectors(t *testing.T) {
	t.Parallel()
	for _, a := range []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	} {
		if got := "0x" + eip55(strings.ToLower(a[2:])); got != a {
			t.Errorf("eip55 = %s, want %s", got, a)
		}
		if err := checkEVM(a); err != nil {
			t.Errorf("checkEVM(%s): %v", a, err)
		}
		// Flipping the case of any one letter breaks the checksum.
		for i := 2; i < len(a); i++ {
			c := a[i]
			var flipped byte
			switch {
			case c >= 'a' && c <= 'f':
				flipped = c - 'a' + 'A'
			case c >= 'A' && c <= 'F':
				flipped = c - 'A' + 'a'
			default:
				continue
			}
			if err := checkEVM(a[:i] + string(flipped) + a[i+1:]); err != errEIP55 {
				t.Errorf("%s with position %d flipped: %v", a, i, err)
			}
		}
	}
}

func FuzzBase58Decode(f *testing.F) {
	for _, s := range []string{"", "1", "2g", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L", "TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t9j", "0OIl", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := base58Decode(s)
		if err != nil {
			return
		}
		if enc := base58Encode(b); enc != s {
			t.Errorf("round trip of %q: %x encodes as %q", s, b, enc)
		}
		_, _ = base58CheckDecode(s)
	})
}

func FuzzBech32Decode(f *testing.F) {
	for _, s := range []string{"a12uel5l", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "1", "a1", "\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, p, err := segwitDecode("bc", s); err == nil {
			if enc := segwitEncode("bc", v, p); enc != strings.ToLower(s) {
				t.Errorf("round trip of %q: %s", s, enc)
			}
		}
		_, _, _, _ = bech32Decode(s)
	})
}
