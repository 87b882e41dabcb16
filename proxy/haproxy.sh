#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# HAProxy in front of the provider and the resource servers: mTLS terminated at a proxy, the
# certificate forwarded in the shape Keycloak's `haproxy` x509 lookup reads. The
# configuration is proxy/haproxy/haproxy.cfg.in, rendered into HAPROXY_DIR (pid, logs and the
# certificate+key files HAProxy's `crt` wants there too: no root paths).
#
#   proxy/haproxy.sh render    write HAPROXY_DIR/haproxy.cfg and check it (haproxy -c)
#   proxy/haproxy.sh run       render, then run HAProxy in the foreground (exec; the tests use this)
#   proxy/haproxy.sh start     render, start HAProxy in the background, wait until it listens
#   proxy/haproxy.sh stop      stop the HAProxy started by `start` (its pid file)
#   proxy/haproxy.sh explain   say where TLS ends and what HAProxy forwards (start.sh's narration)
#   proxy/haproxy.sh log       what HAProxy did with each request so far (its log)
#   proxy/haproxy.sh clear-log empty the log (start.sh: before the walkthrough)
#   proxy/haproxy.sh keycloak-env  Keycloak's x509 lookup for this header shape (KC_* lines)
#   proxy/haproxy.sh server-args   our servers' flags for the same shape (one per line)
#
# Settings from the environment (defaults: scripts/env.sh's front ports):
#   HAPROXY_DIR           where the rendered config, pid, logs go (target/proxy-haproxy)
#   HAPROXY_TEMPLATE      the configuration template (proxy/haproxy/haproxy.cfg.in; lab 11: the attendee's copy)
#   CERTS_DIR             the dev PKI (certs/)
#   PROXY_PROVIDER_PORT   HAProxy's port for the provider (PROVIDER_PORT, 9443)
#   PROXY_API_PORT        HAProxy's port for the API (RESOURCE_SERVER_PORT, 8443)
#   PROVIDER_BACKEND      the provider behind it (127.0.0.1:9444: the front port + 1)
#   API_BACKENDS          the resource-server instances, space-separated (127.0.0.1:8444 127.0.0.1:8445)
#   PROXY_SOURCE          the address HAProxy connects to the back ends from (127.0.0.2,
#                         `source` on each server line); the back ends trust the headers from it only
#   PROXY_CRL             a CRL file (PEM, `client certs revoke`/`crl` write certs/CA.crl.pem):
#                         `crl-file` on both binds; a revoked certificate is answered 401 with
#                         the reason (ssl_c_verify 23). Read at start. Unset: none
# Needs HAProxy 2.2 or newer (ssl_c_chain_der; Debian: apt-get install haproxy).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
# shellcheck source=proxy/lib.sh
source "${SCRIPT_DIR}/lib.sh"

TEMPLATE="${HAPROXY_TEMPLATE:-${SCRIPT_DIR}/haproxy/haproxy.cfg.in}"
HAPROXY_DIR="${HAPROXY_DIR:-${ROOT}/target/proxy-haproxy}"

usage() {
  print_header "${BASH_SOURCE[0]}"
}

haproxy_bin() {
  proxy_bin haproxy "HAProxy" haproxy
}

# Writes HAPROXY_DIR/haproxy.cfg from the template, the server certificate+key files HAProxy
# reads (0600: they hold private keys), and checks the config with haproxy -c.
render() {
  local certs backends="" b i=0 name crl
  certs="$(proxy_certs)"
  crl="$(proxy_crl)"
  [[ -z "${crl}" ]] || crl=" crl-file ${crl}"
  mkdir -p "${HAPROXY_DIR}/logs"
  HAPROXY_DIR="$(cd "${HAPROXY_DIR}" && pwd)"
  for name in oauth2-provider resource-server; do
    (umask 077 && cat "${certs}/${name}.pem" "${certs}/${name}.key.pem" >"${HAPROXY_DIR}/${name}.pem.tmp")
    mv -f -- "${HAPROXY_DIR}/${name}.pem.tmp" "${HAPROXY_DIR}/${name}.pem"
  done
  for b in ${API_BACKENDS}; do
    i=$((i + 1))
    # Checked every 2 s; after one failed check out of rotation until it answers again.
    backends+="    server api${i} ${b} ssl verify required ca-file ${certs}/ca.pem sni str(localhost) verifyhost localhost source ${PROXY_SOURCE} check inter 2s fall 1 rise 1"$'\n'
  done
  render_template "${TEMPLATE}" "${HAPROXY_DIR}/haproxy.cfg" "${HAPROXY_DIR}" "${certs}" "${backends}" "${crl}"
  local out
  if ! out="$("$(haproxy_bin)" -c -q -f "${HAPROXY_DIR}/haproxy.cfg" 2>&1)"; then
    die "HAProxy rejects ${HAPROXY_DIR}/haproxy.cfg: ${out}"
  fi
}

start() {
  render
  if [[ -s "${HAPROXY_DIR}/haproxy.pid" ]] && kill -0 "$(cat "${HAPROXY_DIR}/haproxy.pid")" 2>/dev/null; then
    die "HAProxy already runs from ${HAPROXY_DIR} (pid $(cat "${HAPROXY_DIR}/haproxy.pid")); stop it with: proxy/haproxy.sh stop"
  fi
  : >"${HAPROXY_DIR}/logs/access.log"
  # -db: in the foreground of this background job (its log to stderr, into the log file).
  "$(haproxy_bin)" -db -f "${HAPROXY_DIR}/haproxy.cfg" >>"${HAPROXY_DIR}/logs/access.log" 2>&1 &
  local pid=$!
  printf '%s\n' "${pid}" >"${HAPROXY_DIR}/haproxy.pid"
  wait_listening HAProxy "${pid}" "${HAPROXY_DIR}/logs/access.log"
  info "HAProxy (pid ${pid}) terminates TLS on https://localhost:${PROXY_PROVIDER_PORT} (provider) and https://localhost:${PROXY_API_PORT} (API); config ${HAPROXY_DIR#"${ROOT}/"}/haproxy.cfg"
}

explain() {
  local example="${CERTS_DIR}/client.pem" forwarded="(none)"
  if [[ -r "${example}" ]]; then
    # What %[ssl_c_der,base64] holds for client.pem: the DER in base64 (the PEM's body, one line).
    forwarded="$(grep -v -- '-----' "${example}" | tr -d '\n' | cut -c1-60)..."
  fi
  cat <<TEXT
  where TLS ends:
    client --mTLS--> HAProxy https://localhost:${PROXY_PROVIDER_PORT} (provider) | https://localhost:${PROXY_API_PORT} (API)
                     verifies the client certificate against $(basename "${CERTS_DIR}")/ca.pem
                     (optional at the provider, as Keycloak's https-client-auth=request; required at the API)
    HAProxy --TLS, from ${PROXY_SOURCE}--> provider ${PROVIDER_BACKEND}, resource servers ${API_BACKENDS}
  what HAProxy forwards (Keycloak's haproxy lookup: ssl-client-cert=x-ssl-client-cert, ssl-cert-chain=x-ssl-client-chain):
    x-ssl-client-cert: <the verified certificate's DER, base64>, e.g. for client.pem
    ${forwarded}
    x-ssl-client-chain: <the certificates the client sent after its own, DER concatenated, base64>
    deleted, then set, on every request (a client's own are never passed on);
    the back ends accept them from ${PROXY_SOURCE} only and refuse them from anyone else (400 invalid_request)
TEXT
}

# The header shape this proxy writes: Keycloak's lookup of the same name and its options, and
# our servers' flags for it (start.sh reads both).
keycloak_env() {
  printf '%s\n' KC_SPI_X509CERT_LOOKUP__PROVIDER=haproxy KC_SPI_X509CERT_LOOKUP__HAPROXY__SSL_CLIENT_CERT=x-ssl-client-cert KC_SPI_X509CERT_LOOKUP__HAPROXY__SSL_CERT_CHAIN=x-ssl-client-chain
}
server_args() {
  printf '%s\n' --client-cert-format haproxy --client-cert-header x-ssl-client-cert --client-cert-chain-header x-ssl-client-chain
}

main() {
  case "${1:-}" in
    render) render ;;
    run)
      render
      # Its log (stderr) into the log file, as `start` does.
      exec "$(haproxy_bin)" -db -f "${HAPROXY_DIR}/haproxy.cfg" 2>>"${HAPROXY_DIR}/logs/access.log"
      ;;
    start) start ;;
    stop) stop_pid_file HAProxy "${HAPROXY_DIR}/haproxy.pid" ;;
    explain) explain ;;
    log) show_log HAProxy "${HAPROXY_DIR}/logs/access.log" ;;
    clear-log) : >"${HAPROXY_DIR}/logs/access.log" ;;
    keycloak-env) keycloak_env ;;
    server-args) server_args ;;
    -h | --help | "") usage ;;
    *) die "unknown command '$1': render, run, start, stop, explain, log, clear-log, keycloak-env or server-args (see proxy/haproxy.sh --help)" ;;
  esac
}

main "$@"
