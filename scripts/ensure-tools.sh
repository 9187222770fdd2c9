#!/usr/bin/env bash
# Makes sure the programs that the tests check our files with are installed: hledger
# (hledger check, hledger bal) and beancount (bean-check, bean-query) for the journals, and
# LibreOffice Calc (soffice, headless) for the XLSX statements, so that `make test` and
# `make bench` check our files with the real programs. Quiet when they are. Otherwise
# installs Debian's packages when run as root (CI on a fresh machine), or says what to run
# and fails: the tests fail, never skip, without them.
set -euo pipefail

tools=(hledger bean-check bean-query soffice)
packages=(hledger beancount libreoffice-calc-nogui)

missing() {
	local t
	for t in "${tools[@]}"; do
		command -v "$t" >/dev/null 2>&1 || echo "$t"
	done
}

[[ -z "$(missing)" ]] && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
	echo "ensure-tools: $(missing | paste -sd ' ') not installed; the journal tests run them. Install them with:" >&2
	echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
	echo "or your system's equivalent (hledger 1.25 or later, beancount 2.3, LibreOffice 7.2 or later)." >&2
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-tools: $(missing | paste -sd ' ') not installed and this is not a Debian-like system (no apt-get); install hledger, beancount and LibreOffice Calc by hand." >&2
	exit 1
fi

echo "ensure-tools: installing ${packages[*]} from Debian's packages (once per machine)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" </dev/null >/dev/null

if [[ -n "$(missing)" ]]; then
	echo "ensure-tools: installed ${packages[*]} but still found no $(missing | paste -sd ' ')" >&2
	exit 1
fi
echo "ensure-tools: hledger $(hledger --version | awk '{print $2}' | tr -d ,) and beancount $(bean-check --version 2>&1 | awk '{print $2}') and $(soffice --version 2>/dev/null | head -n1 | awk '{print $1, $2}') installed" >&2
