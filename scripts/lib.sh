#!/usr/bin/env bash
# Helpers the playground's scripts share, sourced after scripts/env.sh: their messages, the
# usage text read from a script's own header, the files Keycloak needs, and a busy port.
# shellcheck disable=SC2034  # sourced

info() { printf 'INFO  %s\n' "$*"; }
error() { printf 'ERROR %s\n' "$*" >&2; }
die() {
  error "$@"
  exit 1
}

# Lines FIRST..LAST of FILE's header comment, without the leading '# ': a script's --help.
print_header() {
  sed -n "$2,$3p" "$1" | sed 's/^# \{0,1\}//'
}

# Whether something listens on 127.0.0.1:PORT (bash's /dev/tcp: a successful connect).
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The files every way of running Keycloak needs: the dev PKI's server certificate, key and CA
# (CERTS_DIR), the realm (REALM_FILE) and the server options (KEYCLOAK_CONF), with the fix.
require_keycloak_files() {
  local missing=() file
  for file in "${CERTS_DIR}/oauth2-provider.pem" "${CERTS_DIR}/oauth2-provider.key.pem" "${CERTS_DIR}/ca.pem"; do
    [[ -r "${file}" ]] || missing+=("${file}")
  done
  if ((${#missing[@]} > 0)); then
    die "certificates missing or unreadable: ${missing[*]}. Generate the dev PKI first: cargo run -p client -- certs"
  fi
  [[ -r "${REALM_FILE}" ]] || die "realm file missing: ${REALM_FILE} (it is part of the repository; restore it with git)."
  [[ -r "${KEYCLOAK_CONF}" ]] || die "Keycloak options missing: ${KEYCLOAK_CONF} (part of the repository)."
}
