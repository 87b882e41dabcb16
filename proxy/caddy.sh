#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Caddy in front of the provider and the resource servers: mTLS terminated at a proxy, the
# certificate forwarded as RFC 9440 `Client-Cert` (the shape Keycloak's `rfc9440` x509 lookup
# reads). The configuration is proxy/caddy/Caddyfile.in, rendered into CADDY_DIR (pid, logs,
# Caddy's own data and config directories there too: no root paths, nothing in ~).
#
#   proxy/caddy.sh render    write CADDY_DIR/Caddyfile and check it (caddy validate)
#   proxy/caddy.sh run       render, then run Caddy in the foreground (exec; the tests use this)
#   proxy/caddy.sh start     render, start Caddy in the background, wait until it listens
#   proxy/caddy.sh stop      stop the Caddy started by `start` (its pid file)
#   proxy/caddy.sh explain   say where TLS ends and what Caddy forwards (start.sh's narration)
#   proxy/caddy.sh log       what Caddy did with each request so far (its access log, JSON)
#   proxy/caddy.sh clear-log empty the access log (start.sh: before the walkthrough)
#   proxy/caddy.sh keycloak-env  Keycloak's x509 lookup for this header shape (KC_* lines)
#   proxy/caddy.sh server-args   our servers' flags for the same shape (one per line)
#   proxy/caddy.sh source-address  the address Caddy connects to the back ends from (127.0.0.1)
#
# Settings from the environment (defaults: scripts/env.sh's front ports):
#   CADDY_DIR             where the rendered config, pid, logs go (target/proxy-caddy)
#   CADDY_TEMPLATE        the configuration template (proxy/caddy/Caddyfile.in; client/tests/doctor_proxy.rs: a broken copy)
#   CERTS_DIR             the dev PKI (certs/)
#   PROXY_PROVIDER_PORT   Caddy's port for the provider (PROVIDER_PORT, 9443)
#   PROXY_API_PORT        Caddy's port for the API (RESOURCE_SERVER_PORT, 8443)
#   PROVIDER_BACKEND      the provider behind it (127.0.0.1:9444: the front port + 1)
#   API_BACKENDS          the resource-server instances, space-separated (127.0.0.1:8444 127.0.0.1:8445)
# What Caddy 2.6 cannot do (so this driver does not offer it):
#   - choose the address it connects to the back ends from (its reverse_proxy transport has
#     no `local_address`): it is 127.0.0.1, the address the back ends must trust, and the
#     address of every other local program too. PROXY_SOURCE is not read; `source-address`
#     prints 127.0.0.1 for start.sh.
#   - forward the chain the client sent (no placeholder for it): no Client-Cert-Chain.
# Needs Caddy 2 (Debian: apt-get install caddy).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
# shellcheck source=proxy/lib.sh
source "${SCRIPT_DIR}/lib.sh"

TEMPLATE="${CADDY_TEMPLATE:-${SCRIPT_DIR}/caddy/Caddyfile.in}"
CADDY_DIR="${CADDY_DIR:-${ROOT}/target/proxy-caddy}"
# The address Caddy's back-end connections come from (it cannot choose one).
PROXY_SOURCE=127.0.0.1

usage() {
  print_header "${BASH_SOURCE[0]}"
}

caddy_bin() {
  proxy_bin caddy "Caddy" caddy
}

# Caddy keeps its data and config under XDG directories: this run's own.
caddy_env() {
  env "XDG_DATA_HOME=${CADDY_DIR}/data" "XDG_CONFIG_HOME=${CADDY_DIR}/config" "$@"
}

# Writes CADDY_DIR/Caddyfile from the template and checks it with caddy validate.
render() {
  local certs backends="" b
  certs="$(proxy_certs)"
  mkdir -p "${CADDY_DIR}/logs"
  CADDY_DIR="$(cd "${CADDY_DIR}" && pwd)"
  for b in ${API_BACKENDS}; do
    backends+="			to https://${b}"$'\n'
  done
  render_template "${TEMPLATE}" "${CADDY_DIR}/Caddyfile" "${CADDY_DIR}" "${certs}" "${backends}"
  local out
  if ! out="$(caddy_env "$(caddy_bin)" validate --adapter caddyfile --config "${CADDY_DIR}/Caddyfile" 2>&1)"; then
    die "Caddy rejects ${CADDY_DIR}/Caddyfile: $(printf '%s' "${out}" | tail -n 3)"
  fi
}

start() {
  render
  if [[ -s "${CADDY_DIR}/caddy.pid" ]] && kill -0 "$(cat "${CADDY_DIR}/caddy.pid")" 2>/dev/null; then
    die "Caddy already runs from ${CADDY_DIR} (pid $(cat "${CADDY_DIR}/caddy.pid")); stop it with: proxy/caddy.sh stop"
  fi
  : >"${CADDY_DIR}/logs/access.log"
  # env, not a shell function: $! is then Caddy's own pid (env execs it).
  env "XDG_DATA_HOME=${CADDY_DIR}/data" "XDG_CONFIG_HOME=${CADDY_DIR}/config" \
    "$(caddy_bin)" run --adapter caddyfile --config "${CADDY_DIR}/Caddyfile" >"${CADDY_DIR}/logs/caddy.out" 2>&1 &
  local pid=$!
  printf '%s\n' "${pid}" >"${CADDY_DIR}/caddy.pid"
  wait_listening Caddy "${pid}" "${CADDY_DIR}/logs/caddy.out"
  info "Caddy (pid ${pid}) terminates TLS on https://localhost:${PROXY_PROVIDER_PORT} (provider) and https://localhost:${PROXY_API_PORT} (API); config ${CADDY_DIR#"${ROOT}/"}/Caddyfile"
}

explain() {
  local example="${CERTS_DIR}/client.pem" forwarded="(none)"
  if [[ -r "${example}" ]]; then
    forwarded=":$(grep -v -- '-----' "${example}" | tr -d '\n' | cut -c1-58)..."
  fi
  cat <<TEXT
  where TLS ends:
    client --mTLS--> Caddy https://localhost:${PROXY_PROVIDER_PORT} (provider) | https://localhost:${PROXY_API_PORT} (API)
                     verifies the client certificate against $(basename "${CERTS_DIR}")/ca.pem
                     (asked for, not required; one from another CA fails the handshake)
    Caddy --TLS, from ${PROXY_SOURCE} (Caddy 2.6 cannot choose)--> provider ${PROVIDER_BACKEND}, resource servers ${API_BACKENDS}
  what Caddy forwards (RFC 9440; Keycloak's rfc9440 lookup):
    Client-Cert: :<the verified certificate's DER, base64>:, e.g. for client.pem
    ${forwarded}
    no Client-Cert-Chain (Caddy 2.6 has no placeholder for the client's chain)
    removed, then set, on every request (a client's own are never passed on);
    the back ends accept them from ${PROXY_SOURCE} only: on this machine any local program
TEXT
}

keycloak_env() {
  printf '%s\n' KC_SPI_X509CERT_LOOKUP__PROVIDER=rfc9440
}
server_args() {
  printf '%s\n' --client-cert-format rfc9440 --client-cert-header client-cert
}

main() {
  case "${1:-}" in
    render) render ;;
    run)
      render
      exec env "XDG_DATA_HOME=${CADDY_DIR}/data" "XDG_CONFIG_HOME=${CADDY_DIR}/config" \
        "$(caddy_bin)" run --adapter caddyfile --config "${CADDY_DIR}/Caddyfile" 2>>"${CADDY_DIR}/logs/caddy.out"
      ;;
    start) start ;;
    stop) stop_pid_file Caddy "${CADDY_DIR}/caddy.pid" ;;
    explain) explain ;;
    log) show_log Caddy "${CADDY_DIR}/logs/access.log" ;;
    clear-log) : >"${CADDY_DIR}/logs/access.log" ;;
    keycloak-env) keycloak_env ;;
    server-args) server_args ;;
    source-address) printf '%s\n' "${PROXY_SOURCE}" ;;
    -h | --help | "") usage ;;
    *) die "unknown command '$1': render, run, start, stop, explain, log, clear-log, keycloak-env, server-args or source-address (see proxy/caddy.sh --help)" ;;
  esac
}

main "$@"
