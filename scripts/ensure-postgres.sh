#!/usr/bin/env bash
# Makes sure PostgreSQL's server programs (initdb, pg_ctl) are installed, so
# that `make test` and `make demo` can start a throwaway cluster (db/pgtemp).
# Quiet when they are. Otherwise installs Debian's postgresql package when run
# as root (CI on a fresh machine), or says what to run and fails.
set -euo pipefail

have_postgres() {
	local initdb dir
	if initdb="$(command -v initdb)"; then
		dir="$(dirname "$(readlink -f "$initdb")")"
		[[ -x "$dir/pg_ctl" ]] && return 0
	fi
	for dir in /usr/lib/postgresql/*/bin; do
		[[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && return 0
	done
	return 1
}

have_postgres && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
	echo "ensure-postgres: PostgreSQL (initdb, pg_ctl) is not installed; tests need it. Install it with:" >&2
	echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql" >&2
	echo "or your system's equivalent (only the binaries are used; no server needs to run)." >&2
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-postgres: PostgreSQL is not installed and this is not a Debian-like system (no apt-get); install it by hand." >&2
	exit 1
fi

echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql </dev/null >/dev/null

if ! have_postgres; then
	echo "ensure-postgres: installed the postgresql package but still found no initdb and pg_ctl" >&2
	exit 1
fi
echo "ensure-postgres: PostgreSQL installed" >&2
