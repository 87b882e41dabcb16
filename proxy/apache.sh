#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Apache httpd in front of the provider and the resource servers: mTLS terminated at a proxy,
# the certificate forwarded in the shape Keycloak's `apache` x509 lookup reads. The
# configuration is proxy/apache/httpd.conf.in, rendered into APACHE_DIR (pid, logs, locks and
# the TLS session cache there too: no root paths).
#
#   proxy/apache.sh render    write APACHE_DIR/httpd.conf and check it (apache2 -t)
#   proxy/apache.sh run       render, then run httpd in the foreground (exec; the tests use this)
#   proxy/apache.sh start     render, start httpd in the background, wait until it listens
#   proxy/apache.sh stop      stop the httpd started by `start` (its pid file)
#   proxy/apache.sh explain   say where TLS ends and what httpd forwards (start.sh's narration)
#   proxy/apache.sh log       what httpd did with each request so far (its access log)
#   proxy/apache.sh clear-log empty the access log (start.sh: before the walkthrough)
#   proxy/apache.sh keycloak-env  Keycloak's x509 lookup for this header shape (KC_* lines)
#   proxy/apache.sh server-args   our servers' flags for the same shape (one per line)
#
# Settings from the environment (defaults: scripts/env.sh's front ports):
#   APACHE_DIR            where the rendered config, pid, logs go (target/proxy-apache)
#   APACHE_TEMPLATE       the configuration template (proxy/apache/httpd.conf.in; client/tests/doctor_proxy.rs: a broken copy)
#   CERTS_DIR             the dev PKI (certs/)
#   PROXY_PROVIDER_PORT   httpd's port for the provider (PROVIDER_PORT, 9443)
#   PROXY_API_PORT        httpd's port for the API (RESOURCE_SERVER_PORT, 8443)
#   PROVIDER_BACKEND      the provider behind it (127.0.0.1:9444: the front port + 1)
#   API_BACKENDS          the resource-server instances, space-separated (127.0.0.1:8444 127.0.0.1:8445)
#   PROXY_SOURCE          the address httpd connects to the back ends from (127.0.0.2,
#                         ProxySourceAddress); the back ends trust the headers from it only
#   PROXY_CRL             a CRL file (PEM, `client certs revoke`/`crl` write certs/CA.crl.pem):
#                         SSLCARevocationFile, checked for every certificate of the chain whose
#                         CA it covers; a revoked certificate fails the handshake (alert
#                         certificate_revoked). Read at start. Unset: none
# Needs Apache httpd 2.4 with mod_ssl, mod_proxy_http, mod_headers (Debian: apt-get install apache2).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
# shellcheck source=proxy/lib.sh
source "${SCRIPT_DIR}/lib.sh"

TEMPLATE="${APACHE_TEMPLATE:-${SCRIPT_DIR}/apache/httpd.conf.in}"
APACHE_DIR="${APACHE_DIR:-${ROOT}/target/proxy-apache}"

usage() {
  print_header "${BASH_SOURCE[0]}"
}

apache_bin() {
  proxy_bin apache2 "Apache httpd" apache2
}

# Writes APACHE_DIR/httpd.conf from the template and checks it with apache2 -t.
render() {
  local certs backends="" b crl
  certs="$(proxy_certs)"
  crl="$(proxy_crl)"
  if [[ -n "${crl}" ]]; then
    # awk's -v turns the \n into a line break.
    crl="SSLCARevocationFile ${crl}\\nSSLCARevocationCheck chain no_crl_for_cert_ok"
  else
    crl="# no SSLCARevocationFile (PROXY_CRL unset): revoked certificates are not refused here"
  fi
  mkdir -p "${APACHE_DIR}/logs"
  APACHE_DIR="$(cd "${APACHE_DIR}" && pwd)"
  for b in ${API_BACKENDS}; do
    # Out of rotation for 5 s after a failed connection; httpd tries the next one.
    backends+="        BalancerMember https://${b} retry=5"$'\n'
  done
  render_template "${TEMPLATE}" "${APACHE_DIR}/httpd.conf" "${APACHE_DIR}" "${certs}" "${backends}" "${crl}"
  local out
  if ! out="$("$(apache_bin)" -t -f "${APACHE_DIR}/httpd.conf" 2>&1)"; then
    die "httpd rejects ${APACHE_DIR}/httpd.conf: ${out}"
  fi
}

start() {
  render
  if [[ -s "${APACHE_DIR}/httpd.pid" ]] && kill -0 "$(cat "${APACHE_DIR}/httpd.pid")" 2>/dev/null; then
    die "httpd already runs from ${APACHE_DIR} (pid $(cat "${APACHE_DIR}/httpd.pid")); stop it with: proxy/apache.sh stop"
  fi
  : >"${APACHE_DIR}/logs/access.log"
  "$(apache_bin)" -f "${APACHE_DIR}/httpd.conf" -DFOREGROUND >"${APACHE_DIR}/logs/httpd.out" 2>&1 &
  local pid=$!
  wait_listening httpd "${pid}" "${APACHE_DIR}/logs/error.log"
  info "httpd (pid ${pid}) terminates TLS on https://localhost:${PROXY_PROVIDER_PORT} (provider) and https://localhost:${PROXY_API_PORT} (API); config ${APACHE_DIR#"${ROOT}/"}/httpd.conf"
}

explain() {
  local example="${CERTS_DIR}/client.pem" forwarded="(none)"
  if [[ -r "${example}" ]]; then
    # What %{SSL_CLIENT_CERT}s becomes in a header: the PEM, its line breaks made spaces.
    forwarded="$(tr '\n' ' ' <"${example}" | cut -c1-60)..."
  fi
  cat <<TEXT
  where TLS ends:
    client --mTLS--> httpd https://localhost:${PROXY_PROVIDER_PORT} (provider) | https://localhost:${PROXY_API_PORT} (API)
                     verifies the client certificate against $(basename "${CERTS_DIR}")/ca.pem
                     (optional at the provider, as Keycloak's https-client-auth=request; required at the API)
    httpd --TLS, from ${PROXY_SOURCE}--> provider ${PROVIDER_BACKEND}, resource servers ${API_BACKENDS}
  what httpd forwards (Keycloak's apache lookup: ssl-client-cert, ssl-cert-chain-prefix=ssl-client-cert-chain):
    ssl-client-cert: <the verified certificate, PEM with spaces for line breaks>, e.g. for client.pem
    ${forwarded}
    ssl-client-cert-chain_0: <the next certificate the client sent, if any>
    removed, then set, on every request (a client's own are never passed on);
    the back ends accept them from ${PROXY_SOURCE} only and refuse them from anyone else (400 invalid_request)
TEXT
}

# The header shape this proxy writes: Keycloak's lookup of the same name and its options, and
# our servers' flags for it (start.sh reads both).
keycloak_env() {
  printf '%s\n' KC_SPI_X509CERT_LOOKUP__PROVIDER=apache KC_SPI_X509CERT_LOOKUP__APACHE__SSL_CLIENT_CERT=ssl-client-cert KC_SPI_X509CERT_LOOKUP__APACHE__SSL_CERT_CHAIN_PREFIX=ssl-client-cert-chain
}
server_args() {
  printf '%s\n' --client-cert-format apache --client-cert-header ssl-client-cert --client-cert-chain-prefix ssl-client-cert-chain
}

main() {
  case "${1:-}" in
    render) render ;;
    run)
      render
      exec "$(apache_bin)" -f "${APACHE_DIR}/httpd.conf" -DFOREGROUND
      ;;
    start) start ;;
    stop) stop_pid_file httpd "${APACHE_DIR}/httpd.pid" ;;
    explain) explain ;;
    log) show_log httpd "${APACHE_DIR}/logs/access.log" ;;
    clear-log) : >"${APACHE_DIR}/logs/access.log" ;;
    keycloak-env) keycloak_env ;;
    server-args) server_args ;;
    -h | --help | "") usage ;;
    *) die "unknown command '$1': render, run, start, stop, explain, log, clear-log, keycloak-env or server-args (see proxy/apache.sh --help)" ;;
  esac
}

main "$@"
