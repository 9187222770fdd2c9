package payouts

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/sha3"
)

// ErrUnknownNetwork is returned (wrapped) by CheckAddress for a network whose address
// format this program does not know. Such addresses are refused, not waved through: a
// payout to a malformed address cannot be taken back, and a new network is supported by
// adding it to networkFamilies, with tests.
var ErrUnknownNetwork = errors.New("its address format is unknown here, and an address that cannot be checked is not paid")

var errEIP55 = errors.New("the EIP-55 checksum (the pattern of upper- and lower-case letters) does not match: a character is mistyped")

// addressFamily is an address format shared by networks.
type addressFamily int

const (
	famUnknown addressFamily = iota
	famEVM
	famTron
	famBitcoin
	famLitecoin
)

// networkFamilies maps Nord PAY's currency "network" (upper case, letters and digits only)
// to its address format.
var networkFamilies = map[string]addressFamily{
	"ERC20": famEVM, "BEP20": famEVM, "BSC": famEVM, "ETH": famEVM, "ETHEREUM": famEVM,
	"POLYGON": famEVM, "MATIC": famEVM, "ARBITRUM": famEVM, "OPTIMISM": famEVM, "BASE": famEVM,
	"AVAXC": famEVM,
	"TRC20": famTron, "TRON": famTron, "TRX": famTron,
	"BTC": famBitcoin, "BITCOIN": famBitcoin,
	"LTC": famLitecoin, "LITECOIN": famLitecoin,
}

func networkFamily(network string) addressFamily {
	var b strings.Builder
	for _, r := range strings.ToUpper(network) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return networkFamilies[b.String()]
}

// expected is the format of a family's addresses, for messages.
func (f addressFamily) expected() string {
	switch f {
	case famEVM:
		return "0x followed by 40 hexadecimal digits"
	case famTron:
		return "34 base58 characters starting with T"
	case famBitcoin:
		return "bc1… (bech32), or 1… or 3… (base58)"
	case famLitecoin:
		return "ltc1… (bech32), or L…, M… or 3… (base58)"
	}
	return "unknown"
}

func (f addressFamily) describe() string {
	switch f {
	case famEVM:
		return "an EVM (ERC20/BEP20) address"
	case famTron:
		return "a TRON (TRC20) address"
	case famBitcoin:
		return "a Bitcoin address"
	case famLitecoin:
		return "a Litecoin address"
	}
	return "an unknown address"
}

// CheckAddress reports whether address is a well-formed address of a currency's network
// (Nord PAY's currency "network" field: BEP20, ERC20, TRC20, BTC...), with its checksum
// where the format has one: EIP-55 for a mixed-case EVM address, Base58Check for TRON and
// legacy Bitcoin/Litecoin, Bech32/Bech32m for segwit. It cannot know whether the address
// belongs to the intended person, only that it was not mistyped or meant for another
// network. The error says what was expected; an unknown network is ErrUnknownNetwork.
func CheckAddress(network, currency, address string) error {
	fam := networkFamily(network)
	if fam == famUnknown {
		return fmt.Errorf("cannot check addresses on network %q (currency %s): %w", network, currency, ErrUnknownNetwork)
	}
	if address == "" {
		return errors.New("empty")
	}
	for _, r := range address {
		if r <= ' ' || r >= 0x7F {
			return fmt.Errorf("contains %s: copy the address again, without spaces or other characters", describeRune(r))
		}
	}
	var err error
	switch fam {
	case famEVM:
		err = checkEVM(address)
	case famTron:
		err = checkTron(address)
	case famBitcoin:
		err = checkBitcoinLike(address, "bc", []string{"tb", "bcrt"}, map[byte]bool{0x00: true, 0x05: true}, map[byte]bool{0x6f: true, 0xc4: true})
	case famLitecoin:
		err = checkBitcoinLike(address, "ltc", []string{"tltc", "rltc"}, map[byte]bool{0x30: true, 0x32: true, 0x05: true}, map[byte]bool{0x6f: true, 0xc4: true, 0x3a: true})
	}
	if err == nil {
		return nil
	}
	if other := looksLike(address); other != famUnknown && other != fam {
		return fmt.Errorf("this looks like %s, not a %s address for %s: expected %s", other.describe(), network, currency, fam.expected())
	}
	if errors.Is(err, errBase58Checksum) || errors.Is(err, errBech32Checksum) || errors.Is(err, errEIP55) {
		return fmt.Errorf("not a valid %s address for %s: %w", network, currency, err)
	}
	return fmt.Errorf("not a valid %s address for %s: %w; expected %s", network, currency, err, fam.expected())
}

// checkEVM checks 0x + 40 hex digits, and the EIP-55 checksum when the letters mix cases
// (all lower or all upper case carries no checksum).
func checkEVM(a string) error {
	if !strings.HasPrefix(a, "0x") {
		if strings.HasPrefix(a, "0X") {
			return errors.New("the prefix must be 0x with a lower-case x")
		}
		return errors.New("does not start with 0x")
	}
	h := a[2:]
	if len(h) != 40 {
		return fmt.Errorf("%d characters after 0x instead of 40", len(h))
	}
	lower, upper, nonzero := false, false, false
	for i := range len(h) {
		switch c := h[i]; {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			lower = true
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return fmt.Errorf("contains %q, which is not a hexadecimal digit", c)
		}
		nonzero = nonzero || h[i] != '0'
	}
	if !nonzero {
		return errors.New("the zero address: whatever is sent there is lost")
	}
	if lower && upper && eip55(strings.ToLower(h)) != h {
		return errEIP55
	}
	return nil
}

// eip55 returns the checksummed form of 40 lower-case hex digits: a letter is upper case
// where the Keccak-256 of the lower-case text has a nibble of 8 or more.
func eip55(lowerHex string) string {
	k := sha3.NewLegacyKeccak256()
	k.Write([]byte(lowerHex))
	sum := k.Sum(nil)
	out := []byte(lowerHex)
	for i, c := range out {
		nibble := sum[i/2] >> 4
		if i%2 == 1 {
			nibble = sum[i/2] & 0xf
		}
		if c >= 'a' && c <= 'f' && nibble >= 8 {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

// checkTron checks Base58Check with version byte 0x41 and a 20-byte account.
func checkTron(a string) error {
	if !strings.HasPrefix(a, "T") {
		return errors.New("does not start with T")
	}
	body, err := base58CheckDecode(a)
	if err != nil {
		return err
	}
	if len(body) != 21 || body[0] != 0x41 {
		return errors.New("not a TRON account (version 0x41 and 20 bytes)")
	}
	return nil
}

// checkBitcoinLike checks a segwit address of hrp, or a Base58Check one with a version of
// mainnet (testnet ones are named as such).
func checkBitcoinLike(a, hrp string, testHRPs []string, mainVersions, testVersions map[byte]bool) error {
	la := strings.ToLower(a)
	for _, t := range testHRPs {
		if strings.HasPrefix(la, t+"1") {
			return errors.New("a testnet address")
		}
	}
	if strings.HasPrefix(la, hrp+"1") {
		_, _, err := segwitDecode(hrp, a)
		return err
	}
	body, err := base58CheckDecode(a)
	if err != nil {
		return err
	}
	switch {
	case len(body) != 21:
		return fmt.Errorf("decodes to %d bytes instead of 21", len(body))
	case testVersions[body[0]] && !mainVersions[body[0]]:
		return errors.New("a testnet address")
	case !mainVersions[body[0]]:
		return fmt.Errorf("version byte 0x%02x is not one of this network's", body[0])
	}
	return nil
}

// looksLike guesses the family of an address that failed its check, for a message that
// names a wrong network.
func looksLike(a string) addressFamily {
	la := strings.ToLower(a)
	switch {
	case strings.HasPrefix(la, "0x") && len(a) == 42:
		return famEVM
	case strings.HasPrefix(la, "bc1"):
		return famBitcoin
	case strings.HasPrefix(la, "ltc1"):
		return famLitecoin
	}
	body, err := base58CheckDecode(a)
	if err != nil || len(body) != 21 {
		return famUnknown
	}
	switch body[0] {
	case 0x41:
		return famTron
	case 0x00, 0x05:
		return famBitcoin
	case 0x30, 0x32:
		return famLitecoin
	}
	return famUnknown
}

// addressKey is an address folded for comparison: hex and bech32 addresses ignore case,
// base58 ones do not.
func addressKey(a string) string {
	la := strings.ToLower(a)
	if strings.HasPrefix(la, "0x") || strings.HasPrefix(la, "bc1") || strings.HasPrefix(la, "ltc1") {
		return la
	}
	return a
}
