package payouts

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// SetHook installs the test seam of a Runner: f is called after each committed transition
// named by point ("requested", "confirming"); an error from f stops the run there, as if the
// process had died at that point.
func SetHook(r *Runner, f func(point string, c *Chunk) error) { r.hook = f }

// ValidAddress returns a valid address, distinct for each seed, on an address family's
// network: "evm" (EIP-55 checksummed, mixed case), "tron" (base58check) or "btc" (bech32
// P2WPKH). For tests and benchmarks that need many distinct addresses.
func ValidAddress(family string, seed uint64) string {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seed)
	h := sha256.Sum256(append([]byte(family), s[:]...))
	account := h[:20]
	switch family {
	case "evm":
		return "0x" + eip55(hex.EncodeToString(account))
	case "tron":
		return base58CheckEncode(append([]byte{0x41}, account...))
	case "btc":
		return segwitEncode("bc", 0, account)
	}
	panic("ValidAddress: unknown family " + strings.ToUpper(family))
}
