#!/usr/bin/env bash
# init-var.sh [DIR]: set up a local runtime directory (default ./var) for
# `make run`:
#   DIR/roost.conf        listeners on 127.0.0.1:1143 (IMAP) and :1993 (IMAPS)
#   DIR/tls/cert.pem      self-signed P-256 certificate for localhost/127.0.0.1
#   DIR/tls/key.pem       its key (0600)
#   DIR/mail, DIR/state   storage and runtime directories
#   DIR/passwd            passwd-file with a user "demo"
#   DIR/demo-password     demo's random password (0600)
# Idempotent: whatever already exists is kept. Always ends by printing the
# demo credentials. The roost binary is $ROOST_BIN (default build/roost).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-./var}
roost_bin=${ROOST_BIN:-$root/build/roost}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/roost.conf

if [ ! -e "$conf" ]; then
	cat >"$conf.tmp" <<'CONF'
# roost configuration for local development (created by scripts/init-var.sh).
# Relative paths are taken relative to this file's directory.
# Every option and its default: etc/roost.conf.example, or `roost check-config`.
imap_listen = 127.0.0.1:1143
imaps_listen = 127.0.0.1:1993
tls_cert = tls/cert.pem
tls_key = tls/key.pem
passwd_file = passwd
mail_root = mail
state_dir = state
log_level = info
CONF
	mv "$conf.tmp" "$conf"
	echo "init-var: wrote $conf"
fi

mkdir -p "$dir/mail" "$dir/state" "$dir/tls"
chmod 0700 "$dir/state"

if [ ! -s "$dir/tls/cert.pem" ] || [ ! -s "$dir/tls/key.pem" ]; then
	(
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$dir/tls/key.pem.tmp" -out "$dir/tls/cert.pem.tmp" -days 825 \
			-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
			2>/dev/null
	)
	chmod 0600 "$dir/tls/key.pem.tmp"
	chmod 0644 "$dir/tls/cert.pem.tmp"
	mv "$dir/tls/key.pem.tmp" "$dir/tls/key.pem"
	mv "$dir/tls/cert.pem.tmp" "$dir/tls/cert.pem"
	echo "init-var: generated self-signed certificate $dir/tls/cert.pem"
fi

pwfile=$dir/demo-password
if [ ! -s "$pwfile" ]; then
	if [ ! -x "$roost_bin" ]; then
		echo "init-var: $roost_bin not found; run 'make build' first" >&2
		exit 1
	fi
	pw=$(head -c 256 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
	pw=${pw:0:16}
	# `user add` fails if demo exists already (demo-password was lost):
	# then set the new password instead.
	if ! printf '%s\n' "$pw" | "$roost_bin" user add demo --password-stdin -c "$conf" 2>/dev/null; then
		printf '%s\n' "$pw" | "$roost_bin" user passwd demo --password-stdin -c "$conf"
	fi
	(
		umask 077
		printf '%s\n' "$pw" >"$pwfile.tmp"
	)
	mv "$pwfile.tmp" "$pwfile"
fi

pw=$(head -n 1 "$pwfile")
echo "demo user: demo  password: $pw"
