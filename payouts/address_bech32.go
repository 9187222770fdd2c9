package payouts

import (
	"errors"
	"fmt"
	"strings"
)

// Bech32 (BIP-173) and Bech32m (BIP-350) decoding of segregated-witness addresses, as the
// BIPs' reference code does it; tested with the BIPs' vectors.

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// The constants a valid checksum leaves: Bech32 for witness version 0, Bech32m for 1 to 16.
const (
	bech32Const  = 1
	bech32mConst = 0x2bc830a3
)

var bech32Index = func() (idx [128]int8) {
	for i := range idx {
		idx[i] = -1
	}
	for i := range len(bech32Charset) {
		idx[bech32Charset[i]] = int8(i)
	}
	return idx
}()

var errBech32Checksum = errors.New("the checksum does not match: a character is mistyped (or missing)")

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

func bech32HRPExpand(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for i := range len(hrp) {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := range len(hrp) {
		out = append(out, hrp[i]&31)
	}
	return out
}

// bech32Decode decodes a Bech32 or Bech32m string into its human-readable part and 5-bit
// data (without the checksum), and says which constant its checksum used.
func bech32Decode(s string) (hrp string, data []byte, constant uint32, err error) {
	if len(s) > 90 {
		return "", nil, 0, fmt.Errorf("too long (%d characters; at most 90)", len(s))
	}
	lower, upper := false, false
	for _, r := range s {
		switch {
		case r < 33 || r > 126:
			return "", nil, 0, fmt.Errorf("contains %s", describeRune(r))
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		}
	}
	if lower && upper {
		return "", nil, 0, errors.New("mixes upper and lower case")
	}
	s = strings.ToLower(s)
	pos := strings.LastIndexByte(s, '1')
	if pos < 1 || pos+7 > len(s) {
		return "", nil, 0, errors.New("not bech32: no separator, or too short")
	}
	hrp = s[:pos]
	values := bech32HRPExpand(hrp)
	for i := pos + 1; i < len(s); i++ {
		v := bech32Index[s[i]]
		if v < 0 {
			return "", nil, 0, fmt.Errorf("contains %q, which bech32 does not use", s[i])
		}
		values = append(values, byte(v))
	}
	constant = bech32Polymod(values)
	if constant != bech32Const && constant != bech32mConst {
		return "", nil, 0, errBech32Checksum
	}
	data = values[len(values)-(len(s)-pos-1) : len(values)-6]
	return hrp, data, constant, nil
}

// convertBits regroups bits (5-bit groups to bytes); without pad, leftover bits must be
// fewer than from and zero.
func convertBits(data []byte, from, to uint, pad bool) ([]byte, error) {
	acc, bits := uint32(0), uint(0)
	maxv := uint32(1)<<to - 1
	out := make([]byte, 0, len(data)*int(from)/int(to)+1)
	for _, v := range data {
		if uint32(v)>>from != 0 {
			return nil, errors.New("invalid data")
		}
		acc = acc<<from | uint32(v)
		bits += from
		for bits >= to {
			bits -= to
			out = append(out, byte(acc>>bits&maxv))
		}
	}
	switch {
	case pad && bits > 0:
		out = append(out, byte(acc<<(to-bits)&maxv))
	case !pad && (bits >= from || acc<<(to-bits)&maxv != 0):
		return nil, errors.New("invalid padding")
	}
	return out, nil
}

// segwitDecode decodes a segregated-witness address of the network whose human-readable
// part is hrp ("bc", "ltc"), per BIP-173 and BIP-350.
func segwitDecode(hrp, addr string) (version int, program []byte, err error) {
	got, data, constant, err := bech32Decode(addr)
	if err != nil {
		return 0, nil, err
	}
	if got != hrp {
		return 0, nil, fmt.Errorf("starts with %q, not %q", got+"1", hrp+"1")
	}
	if len(data) < 1 || data[0] > 16 {
		return 0, nil, errors.New("no valid witness version")
	}
	program, err = convertBits(data[1:], 5, 8, false)
	if err != nil {
		return 0, nil, errBech32Checksum
	}
	version = int(data[0])
	switch {
	case len(program) < 2 || len(program) > 40:
		return 0, nil, fmt.Errorf("a witness program of %d bytes", len(program))
	case version == 0 && len(program) != 20 && len(program) != 32:
		return 0, nil, fmt.Errorf("a version 0 witness program of %d bytes (20 or 32)", len(program))
	case version == 0 && constant != bech32Const, version != 0 && constant != bech32mConst:
		return 0, nil, errBech32Checksum
	}
	return version, program, nil
}
