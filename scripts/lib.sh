#!/usr/bin/env bash
# Helpers the playground's scripts share, sourced after scripts/env.sh: their messages, the
# usage text read from a script's own header, the files Keycloak needs, and a busy port.
# shellcheck disable=SC2034  # sourced

info() { printf 'INFO  %s\n' "$*"; }
error() { printf 'ERROR %s\n' "$*" >&2; }
# On a terminal (and unless NO_COLOR is set), the labels stand out: INFO bold, ERROR red.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  info() { printf '\033[1mINFO\033[0m  %s\n' "$*"; }
fi
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  error() { printf '\033[31mERROR\033[0m %s\n' "$*" >&2; }
fi
die() {
  error "$@"
  exit 1
}

# FILE's header comment, without the leading '# ': a script's --help. The header is every
# comment line after the shebang up to the first line that is not a comment; shellcheck
# directives are left out. (Further arguments, a line range formerly, are ignored.)
print_header() {
  awk 'NR == 1 && /^#!/ { next }
       !/^#/ { exit }
       /^# shellcheck / { next }
       { sub(/^# ?/, ""); print }' "$1"
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
