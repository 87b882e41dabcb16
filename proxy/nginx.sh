#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# nginx in front of the provider and the resource servers: mTLS terminated at a proxy, as
# production runs it. The configuration is proxy/nginx/nginx.conf.in, rendered into
# NGINX_DIR (pid, logs and temp files there too: no root paths).
#
#   proxy/nginx.sh render    write NGINX_DIR/nginx.conf and check it (nginx -t)
#   proxy/nginx.sh run       render, then run nginx in the foreground (exec; the tests use this)
#   proxy/nginx.sh start     render, start nginx in the background, wait until it listens
#   proxy/nginx.sh stop      stop the nginx started by `start` (its pid file)
#   proxy/nginx.sh explain   say where TLS ends and what nginx forwards (start.sh's narration)
#   proxy/nginx.sh log       what nginx did with each request so far (its access log)
#   proxy/nginx.sh clear-log empty the access log (start.sh: before the walkthrough)
#   proxy/nginx.sh keycloak-env  Keycloak's x509 lookup for this header shape (KC_* lines)
#   proxy/nginx.sh server-args   our servers' flags for the same shape (one per line)
#
# Settings from the environment (defaults: scripts/env.sh's front ports):
#   NGINX_DIR             where the rendered config, pid, logs go (target/proxy-nginx)
#   NGINX_TEMPLATE        the configuration template (proxy/nginx/nginx.conf.in; client/tests/doctor_proxy.rs: a broken copy)
#   CERTS_DIR             the dev PKI (certs/)
#   PROXY_PROVIDER_PORT   nginx's port for the provider (PROVIDER_PORT, 9443)
#   PROXY_API_PORT        nginx's port for the API (RESOURCE_SERVER_PORT, 8443)
#   PROVIDER_BACKEND      the provider behind it (127.0.0.1:9444: the front port + 1)
#   PROVIDER_BACKENDS     several providers behind it, space-separated, balanced (Keycloak
#                         nodes: oauth2-provider/production.sh); default PROVIDER_BACKEND
#   API_BACKENDS          the resource-server instances, space-separated (127.0.0.1:8444 127.0.0.1:8445)
#   PROXY_SOURCE          the address nginx connects to the back ends from (127.0.0.2); the
#                         back ends trust ssl-client-cert from this address only
#   NGINX_WORKERS         worker processes (1)
#   PROXY_CRL             a CRL file (PEM, `client certs revoke`/`crl` write certs/CA.crl.pem):
#                         nginx's ssl_crl refuses the certificates on it; read at start and
#                         reload (nginx -s reload), not when the file changes. Unset: none
# Needs nginx (Debian: apt-get install nginx-light).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"

TEMPLATE="${NGINX_TEMPLATE:-${SCRIPT_DIR}/nginx/nginx.conf.in}"
NGINX_DIR="${NGINX_DIR:-${ROOT}/target/proxy-nginx}"
PROXY_PROVIDER_PORT="${PROXY_PROVIDER_PORT:-${PROVIDER_PORT}}"
PROXY_API_PORT="${PROXY_API_PORT:-${RESOURCE_SERVER_PORT}}"
PROVIDER_BACKEND="${PROVIDER_BACKEND:-127.0.0.1:$((PROXY_PROVIDER_PORT + 1))}"
PROVIDER_BACKENDS="${PROVIDER_BACKENDS:-${PROVIDER_BACKEND}}"
API_BACKENDS="${API_BACKENDS:-127.0.0.1:$((PROXY_API_PORT + 1)) 127.0.0.1:$((PROXY_API_PORT + 2))}"
PROXY_SOURCE="${PROXY_SOURCE:-127.0.0.2}"
NGINX_WORKERS="${NGINX_WORKERS:-1}"
READY_TIMEOUT_SECS="${READY_TIMEOUT_SECS:-10}"


usage() {
  print_header "${BASH_SOURCE[0]}"
}

nginx_bin() {
  if command -v nginx >/dev/null 2>&1; then
    command -v nginx
  elif [[ -x /usr/sbin/nginx ]]; then
    printf '/usr/sbin/nginx'
  else
    die "nginx is not installed: apt-get install nginx-light (Debian/Ubuntu), then run this again"
  fi
}

# Writes NGINX_DIR/nginx.conf from the template and checks it with nginx -t.
render() {
  local certs
  certs="$(cd "${CERTS_DIR}" 2>/dev/null && pwd)" ||
    die "${CERTS_DIR}: no such directory; generate the dev PKI first (cargo run -p client -- certs)"
  local f
  for f in ca.pem oauth2-provider.pem oauth2-provider.key.pem resource-server.pem resource-server.key.pem; do
    [[ -r "${certs}/${f}" ]] || die "${certs}/${f} is missing; generate the dev PKI (cargo run -p client -- certs)"
  done
  [[ -n "${API_BACKENDS// /}" ]] || die "API_BACKENDS is empty: name at least one resource server (host:port)"
  mkdir -p "${NGINX_DIR}/logs" "${NGINX_DIR}/tmp"
  NGINX_DIR="$(cd "${NGINX_DIR}" && pwd)"
  local backends="" providers="" b
  for b in ${API_BACKENDS}; do
    # Taken out of rotation for 5 s after a failed connection; nginx tries the next one.
    backends+="        server ${b} max_fails=1 fail_timeout=5s;"$'\n'
  done
  for b in ${PROVIDER_BACKENDS}; do
    providers+="        server ${b} max_fails=1 fail_timeout=5s;"$'\n'
  done
  local crl_line="    # no ssl_crl (PROXY_CRL unset): revoked certificates are not refused here"
  if [[ -n "${PROXY_CRL:-}" ]]; then
    [[ -r "${PROXY_CRL}" ]] || die "PROXY_CRL=${PROXY_CRL}: no such file; make it with cargo run -p client -- certs crl (or certs revoke NAME)"
    crl_line="    ssl_crl $(cd "$(dirname "${PROXY_CRL}")" && pwd)/$(basename "${PROXY_CRL}");"
  fi
  local tmp="${NGINX_DIR}/nginx.conf.tmp"
  # Render to a temporary file, then rename: a running nginx never sees half a file.
  awk -v prefix="${NGINX_DIR}" -v certs="${certs}" -v workers="${NGINX_WORKERS}" \
    -v provider_port="${PROXY_PROVIDER_PORT}" -v api_port="${PROXY_API_PORT}" \
    -v providers="${providers%$'\n'}" -v api_backends="${backends%$'\n'}" \
    -v source_addr="${PROXY_SOURCE}" -v realm="${REALM}" -v crl_line="${crl_line}" '
    {
      gsub(/@PREFIX@/, prefix); gsub(/@CERTS@/, certs); gsub(/@WORKERS@/, workers)
      gsub(/@PROVIDER_PORT@/, provider_port); gsub(/@API_PORT@/, api_port)
      gsub(/@PROXY_SOURCE@/, source_addr)
      gsub(/@REALM@/, realm)
      if ($0 ~ /^@API_BACKENDS@$/) { print api_backends; next }
      if ($0 ~ /^@PROVIDER_BACKENDS@$/) { print providers; next }
      if ($0 ~ /^@SSL_CRL@$/) { print crl_line; next }
      print
    }' "${TEMPLATE}" >"${tmp}"
  mv -f -- "${tmp}" "${NGINX_DIR}/nginx.conf"
  local out
  if ! out="$("$(nginx_bin)" -t -q -p "${NGINX_DIR}" -c "${NGINX_DIR}/nginx.conf" -e "${NGINX_DIR}/logs/error.log" 2>&1)"; then
    die "nginx rejects ${NGINX_DIR}/nginx.conf: ${out}"
  fi
}

# Whether nginx accepts TCP connections on both front ports.
listening() {
  local port
  for port in "${PROXY_PROVIDER_PORT}" "${PROXY_API_PORT}"; do
    (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null || return 1
  done
}

start() {
  render
  if [[ -s "${NGINX_DIR}/nginx.pid" ]] && kill -0 "$(cat "${NGINX_DIR}/nginx.pid")" 2>/dev/null; then
    die "nginx already runs from ${NGINX_DIR} (pid $(cat "${NGINX_DIR}/nginx.pid")); stop it with: proxy/nginx.sh stop"
  fi
  : >"${NGINX_DIR}/logs/access.log"
  "$(nginx_bin)" -p "${NGINX_DIR}" -c "${NGINX_DIR}/nginx.conf" -e "${NGINX_DIR}/logs/error.log" \
    >"${NGINX_DIR}/logs/nginx.out" 2>&1 &
  local pid=$! waited=0
  until listening; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      error "nginx exited at start (port ${PROXY_PROVIDER_PORT} or ${PROXY_API_PORT} taken?):"
      tail -n 5 "${NGINX_DIR}/logs/error.log" "${NGINX_DIR}/logs/nginx.out" >&2 || true
      exit 1
    fi
    if [[ ${waited} -ge $((READY_TIMEOUT_SECS * 10)) ]]; then
      kill "${pid}" 2>/dev/null || true
      die "nginx does not listen on ${PROXY_PROVIDER_PORT}/${PROXY_API_PORT} after ${READY_TIMEOUT_SECS}s; see ${NGINX_DIR}/logs/error.log"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  info "nginx (pid ${pid}) terminates TLS on https://localhost:${PROXY_PROVIDER_PORT} (provider) and https://localhost:${PROXY_API_PORT} (API); config ${NGINX_DIR#"${ROOT}/"}/nginx.conf"
}

stop() {
  local pid_file="${NGINX_DIR}/nginx.pid"
  if [[ ! -s "${pid_file}" ]]; then
    info "no nginx pid file in ${NGINX_DIR}; nothing to stop"
    return 0
  fi
  local pid
  pid="$(cat "${pid_file}")"
  if kill -0 "${pid}" 2>/dev/null; then
    # SIGQUIT: graceful (open requests finish); then wait, at most 5 s, before SIGTERM.
    kill -QUIT "${pid}" 2>/dev/null || true
    local waited=0
    while kill -0 "${pid}" 2>/dev/null && [[ ${waited} -lt 50 ]]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -TERM "${pid}" 2>/dev/null || true
    info "nginx (pid ${pid}) stopped"
  fi
  rm -f -- "${pid_file}"
}

explain() {
  local example="${CERTS_DIR}/client.pem" forwarded="(none)"
  if [[ -r "${example}" ]]; then
    # What $ssl_client_escaped_cert holds for client.pem: the PEM, URL-encoded.
    forwarded="$(awk 'BEGIN { ORS = "%0A" } { gsub(/ /, "%20"); gsub(/\+/, "%2B"); gsub(/\//, "%2F"); gsub(/=/, "%3D"); print }' "${example}" | cut -c1-60)..."
  fi
  cat <<TEXT
  where TLS ends:
    client --mTLS--> nginx https://localhost:${PROXY_PROVIDER_PORT} (provider) | https://localhost:${PROXY_API_PORT} (API)
                     verifies the client certificate against $(basename "${CERTS_DIR}")/ca.pem
                     (optional at the provider, as Keycloak's https-client-auth=request; required at the API)
    nginx --TLS, from ${PROXY_SOURCE}--> provider ${PROVIDER_BACKENDS}, resource servers ${API_BACKENDS}
                     (their certificates verified against ca.pem; no client certificate of nginx's own)
  what nginx forwards: ssl-client-cert: <the verified certificate, URL-encoded PEM>, e.g. for client.pem
    ${forwarded}
    set on every request (a client's own ssl-client-cert is replaced, or dropped when it sent no certificate);
    the back ends accept it from ${PROXY_SOURCE} only and refuse it from anyone else (400 invalid_request)
TEXT
}

# The access log as a table: what each request presented and where nginx sent it.
log() {
  local file="${NGINX_DIR}/logs/access.log"
  [[ -s "${file}" ]] || {
    info "nginx logged no request yet (${file})"
    return 0
  }
  info "what nginx did with each request (${file#"${ROOT}/"}):"
  sed 's/^/    /' "${file}"
}

# The header shape this proxy writes: Keycloak's lookup of the same name and its options, and
# our servers' flags for it (start.sh reads both).
keycloak_env() {
  printf '%s\n' KC_SPI_X509CERT_LOOKUP__PROVIDER=nginx KC_SPI_X509CERT_LOOKUP__NGINX__SSL_CLIENT_CERT=ssl-client-cert
}
server_args() {
  printf '%s\n' --client-cert-format nginx --client-cert-header ssl-client-cert
}

main() {
  case "${1:-}" in
    render) render ;;
    run)
      render
      exec "$(nginx_bin)" -p "${NGINX_DIR}" -c "${NGINX_DIR}/nginx.conf" -e "${NGINX_DIR}/logs/error.log"
      ;;
    start) start ;;
    stop) stop ;;
    explain) explain ;;
    log) log ;;
    clear-log) : >"${NGINX_DIR}/logs/access.log" ;;
    keycloak-env) keycloak_env ;;
    server-args) server_args ;;
    -h | --help | "") usage ;;
    *) die "unknown command '$1': render, run, start, stop, explain, log, clear-log, keycloak-env or server-args (see proxy/nginx.sh --help)" ;;
  esac
}

main "$@"
