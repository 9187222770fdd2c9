package payouts

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Base58 and Base58Check as Bitcoin and TRON use them (the alphabet without 0, O, I and l).
// Written here rather than imported: it is thirty lines, tested against Bitcoin Core's
// vectors, and only decoding is needed.

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var base58Index = func() (idx [256]int8) {
	for i := range idx {
		idx[i] = -1
	}
	for i := range len(base58Alphabet) {
		idx[base58Alphabet[i]] = int8(i)
	}
	return idx
}()

// maxBase58 bounds the input: addresses are at most 35 characters.
const maxBase58 = 128

var errBase58Checksum = errors.New("the checksum does not match: a character is mistyped (or missing)")

// base58Decode decodes base58 text; leading '1's are leading zero bytes.
func base58Decode(s string) ([]byte, error) {
	if len(s) > maxBase58 {
		return nil, fmt.Errorf("too long (%d characters)", len(s))
	}
	for _, r := range s {
		if r >= 0x80 || base58Index[r] < 0 {
			return nil, fmt.Errorf("contains %s, which base58 does not use", describeRune(r))
		}
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	le := make([]byte, 0, len(s)) // the number, least significant byte first
	for i := zeros; i < len(s); i++ {
		carry := int(base58Index[s[i]])
		for j := range le {
			carry += int(le[j]) * 58
			le[j] = byte(carry)
			carry >>= 8
		}
		for ; carry > 0; carry >>= 8 {
			le = append(le, byte(carry))
		}
	}
	out := make([]byte, zeros+len(le))
	for i, b := range le {
		out[len(out)-1-i] = b
	}
	return out, nil
}

// base58CheckDecode decodes Base58Check text and returns the version byte and payload
// (without the 4-byte double-SHA-256 checksum).
func base58CheckDecode(s string) ([]byte, error) {
	raw, err := base58Decode(s)
	if err != nil {
		return nil, err
	}
	if len(raw) < 5 {
		return nil, errors.New("too short")
	}
	body, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	h1 := sha256.Sum256(body)
	h2 := sha256.Sum256(h1[:])
	if !bytes.Equal(h2[:4], sum) {
		return nil, errBase58Checksum
	}
	return body, nil
}

// describeRune names a character for an error message, with its code point when it is not
// plain printable ASCII (an invisible or look-alike character pasted with an address).
func describeRune(r rune) string {
	switch {
	case r == ' ':
		return "a space"
	case r > ' ' && r < 0x7F:
		return fmt.Sprintf("%q", r)
	case r == 0x200B || r == 0x200C || r == 0x200D || r == 0xFEFF || r == 0x2060:
		return fmt.Sprintf("an invisible character (U+%04X)", r)
	}
	return fmt.Sprintf("the character %q (U+%04X)", r, r)
}
