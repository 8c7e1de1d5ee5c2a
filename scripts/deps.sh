#!/usr/bin/env bash
# deps.sh: install the Debian packages roost needs to build and test.
#
# Idempotent and quiet: asks dpkg which packages are missing and only then
# runs `apt-get update` (once) and `apt-get install`. Uses sudo when not
# root (and sudo exists).
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang libclang-rt-dev
	libssl-dev openssl libsqlite3-dev libargon2-dev libcrypt-dev libinih-dev zlib1g-dev
	python3 ca-certificates
	isync                 # mbsync: the real client in the integration suite
	offlineimap3          # offlineimap: Maildir <-> IMAP sync client (tests/integration/clients)
	fetchmail             # fetchmail: IMAP retrieval client (tests/integration/clients)
	postfix swaks         # a private Postfix delivering over LMTP (tests/integration/lmtp)
	dovecot-imapd         # a private Dovecot: the import test's source, bench/compare's rival
)

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "deps.sh: missing packages: ${missing[*]}" >&2
		echo "deps.sh: not root and no sudo; install them as root" >&2
		exit 1
	fi
fi

echo "deps.sh: installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix's package asks how to configure the system's mail: nothing. The
# tests run private instances with their own config directories.
if command -v debconf-set-selections >/dev/null 2>&1; then
	printf '%s\n' 'postfix postfix/main_mailer_type select No configuration' \
		'postfix postfix/mailname string localhost' | "${sudo[@]}" debconf-set-selections
fi
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
