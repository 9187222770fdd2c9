package payouts_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nordpay/nordpay-jobs/payouts"
)

func TestCheckAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		network, address string
		want             string // "" when valid, else part of the error
	}{
		// EVM: lower case, upper case, EIP-55.
		{"BEP20", evm55, ""},
		{"ERC20", evmCap, ""},
		{"ERC20", strings.ToLower(evm55), ""},
		{"bep20", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", ""},
		{"BEP20", evm55BadSum, "EIP-55 checksum"},
		{"BEP20", "0X" + evmCap[2:], "lower-case x"},
		{"BEP20", "52908400098527886E0F7030069857D2E4169EE7", "does not start with 0x"},
		{"BEP20", evmCap + "0", "41 characters after 0x"},
		{"BEP20", evmCap[:41] + "G", "not a hexadecimal digit"},
		{"BEP20", "0x0000000000000000000000000000000000000000", "zero address"},
		{"BEP20", tronA, "looks like a TRON (TRC20) address, not a BEP20 address for X: expected 0x followed by 40 hexadecimal digits"},
		{"ERC20", btcA, "looks like a Bitcoin address"},
		// TRON.
		{"TRC20", tronA, ""},
		{"TRC20", tronB, ""},
		{"TRC20", usdtTRC20Ctr, ""},
		{"TRC20", tronBadSum, "checksum does not match"},
		{"TRC20", evm55, "looks like an EVM (ERC20/BEP20) address, not a TRC20 address"},
		{"TRC20", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "looks like a Bitcoin address"},
		{"TRC20", "TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t9", "checksum"},
		{"TRC20", "TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t0j", "base58 does not use"},
		// Bitcoin: P2PKH, P2SH, P2WPKH, P2WSH, P2TR.
		{"BTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", ""},
		{"BTC", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", ""},
		{"BTC", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", ""},
		{"BTC", btcA, ""},
		{"BTC", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", ""},
		{"BTC", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", ""},
		{"BTC", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", ""},
		{"BTC", btcBadSum, "checksum does not match"},
		{"BTC", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "checksum does not match"}, // v0 with a bech32m checksum
		{"BTC", "Bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "mixes upper and lower case"},
		{"BTC", btcTestnet, "testnet"},
		{"BTC", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "testnet"},
		{"BTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "checksum does not match"},
		{"BTC", tronA, "looks like a TRON (TRC20) address"},
		{"BTC", "ltc1qhdhvrwe6rgqns8fz28tee0hphr5x7ulw5exv4w", "looks like a Litecoin address"},
		// Litecoin.
		{"LTC", "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz", ""},
		{"LTC", "ltc1qhdhvrwe6rgqns8fz28tee0hphr5x7ulw5exv4w", ""},
		{"LTC", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", ""}, // legacy P2SH, shared with Bitcoin
		{"LTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "looks like a Bitcoin address"},
		// Characters a paste brings along.
		{"TRC20", " " + tronA, "a space"},
		{"TRC20", tronA + "\u00a0", "U+00A0"},
		{"BEP20", "0x5290840009852788\u200b6E0F7030069857D2E4169EE7", "invisible character (U+200B)"},
		{"TRC20", "", "empty"},
		// A network this program does not know is refused.
		{"SOL", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", `cannot check addresses on network "SOL"`},
		{"", tronA, `cannot check addresses on network ""`},
	} {
		t.Run(tc.network+"_"+tc.address, func(t *testing.T) {
			t.Parallel()
			err := payouts.CheckAddress(tc.network, "X", tc.address)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckAddress(%s, %q): %v", tc.network, tc.address, err)
			case tc.want != "" && err == nil:
				t.Errorf("CheckAddress(%s, %q) accepted; want %q", tc.network, tc.address, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("CheckAddress(%s, %q): %v; want %q", tc.network, tc.address, err, tc.want)
			}
		})
	}
	if err := payouts.CheckAddress("SOL", "SOL", "x"); !errors.Is(err, payouts.ErrUnknownNetwork) {
		t.Errorf("unknown network: %v", err)
	}
}

// The addresses in the sandbox's default data pass on their networks.
func FuzzCheckAddress(f *testing.F) {
	for _, s := range []string{evm55, evmCap, tronA, tronBadSum, btcA, btcBadSum, btcTestnet,
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
		"ltc1qhdhvrwe6rgqns8fz28tee0hphr5x7ulw5exv4w", "", "0x", "T", "bc1", "\x00\xff", strings.Repeat("1", 200)} {
		for _, n := range []string{"BEP20", "TRC20", "BTC", "LTC", "SOL"} {
			f.Add(n, s)
		}
	}
	f.Fuzz(func(t *testing.T, network, address string) {
		err := payouts.CheckAddress(network, "X", address)
		if err == nil && address == "" {
			t.Error("an empty address accepted")
		}
	})
}

func ExampleCheckAddress() {
	fmt.Println(payouts.CheckAddress("TRC20", "USDTTRC20", "TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t9j"))
	fmt.Println(payouts.CheckAddress("BEP20", "USDTBEP20", "TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t9j"))
	fmt.Println(payouts.CheckAddress("BEP20", "USDTBEP20", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"))
	// Output:
	// <nil>
	// this looks like a TRON (TRC20) address, not a BEP20 address for USDTBEP20: expected 0x followed by 40 hexadecimal digits
	// not a valid BEP20 address for USDTBEP20: the EIP-55 checksum (the pattern of upper- and lower-case letters) does not match: a character is mistyped
}
