#!/usr/bin/env bash
# What proxy/haproxy.sh and proxy/apache.sh share (sourced after scripts/env.sh and
# scripts/lib.sh): the settings every proxy takes, where its binary is, a template rendered
# into the proxy's own directory, the wait until it listens, the stop by pid file, and the
# access-log table.
# shellcheck disable=SC2034  # sourced

PROXY_PROVIDER_PORT="${PROXY_PROVIDER_PORT:-${PROVIDER_PORT}}"
PROXY_API_PORT="${PROXY_API_PORT:-${RESOURCE_SERVER_PORT}}"
PROVIDER_BACKEND="${PROVIDER_BACKEND:-127.0.0.1:$((PROXY_PROVIDER_PORT + 1))}"
API_BACKENDS="${API_BACKENDS:-127.0.0.1:$((PROXY_API_PORT + 1)) 127.0.0.1:$((PROXY_API_PORT + 2))}"
PROXY_SOURCE="${PROXY_SOURCE:-127.0.0.2}"
READY_TIMEOUT_SECS="${READY_TIMEOUT_SECS:-10}"

# The proxy's binary (`proxy_bin BINARY WHAT PACKAGE`): on PATH, else Debian's /usr/sbin/BINARY;
# else dies naming the package to install.
proxy_bin() {
  local bin="$1" what="$2" package="$3"
  if command -v "${bin}" >/dev/null 2>&1; then
    command -v "${bin}"
  elif [[ -x "/usr/sbin/${bin}" ]]; then
    printf '/usr/sbin/%s' "${bin}"
  else
    die "${what} is not installed: apt-get install ${package} (Debian/Ubuntu), then run this again"
  fi
}

# The dev PKI's directory, absolute, with the files a proxy needs; dies with the fix.
proxy_certs() {
  local certs f
  certs="$(cd "${CERTS_DIR}" 2>/dev/null && pwd)" ||
    die "${CERTS_DIR}: no such directory; generate the dev PKI first (cargo run -p client -- certs)"
  for f in ca.pem oauth2-provider.pem oauth2-provider.key.pem resource-server.pem resource-server.key.pem; do
    [[ -r "${certs}/${f}" ]] || die "${certs}/${f} is missing; generate the dev PKI (cargo run -p client -- certs)"
  done
  [[ -n "${API_BACKENDS// /}" ]] || die "API_BACKENDS is empty: name at least one resource server (host:port)"
  printf '%s' "${certs}"
}

# The CRL file PROXY_CRL names, absolute (empty when unset); dies with the fix when it is missing.
proxy_crl() {
  [[ -n "${PROXY_CRL:-}" ]] || return 0
  [[ -r "${PROXY_CRL}" ]] || die "PROXY_CRL=${PROXY_CRL}: no such file; make it with cargo run -p client -- certs crl (or certs revoke NAME)"
  printf '%s/%s' "$(cd "$(dirname "${PROXY_CRL}")" && pwd)" "$(basename "${PROXY_CRL}")"
}

# render_template TEMPLATE OUT DIR CERTS BACKEND_LINES [CRL]: @NAME@ placeholders filled in
# (@CRL@: the proxy's own CRL setting, or nothing), written to a temporary file and renamed (a
# running proxy never sees half a file).
render_template() {
  local template=$1 out=$2 dir=$3 certs=$4 backends=$5 crl=${6:-}
  awk -v prefix="${dir}" -v certs="${certs}" -v crl="${crl}" \
    -v provider_port="${PROXY_PROVIDER_PORT}" -v api_port="${PROXY_API_PORT}" \
    -v provider_backend="${PROVIDER_BACKEND}" -v api_backends="${backends%$'\n'}" \
    -v source_addr="${PROXY_SOURCE}" -v realm="${REALM}" '
    {
      gsub(/@PREFIX@/, prefix); gsub(/@CERTS@/, certs)
      gsub(/@PROVIDER_PORT@/, provider_port); gsub(/@API_PORT@/, api_port)
      gsub(/@PROVIDER_BACKEND@/, provider_backend); gsub(/@PROXY_SOURCE@/, source_addr)
      gsub(/@REALM@/, realm); gsub(/@CRL@/, crl)
      if ($0 ~ /^@API_BACKENDS@$/) { print api_backends; next }
      print
    }' "${template}" >"${out}.tmp"
  mv -f -- "${out}.tmp" "${out}"
}

# Whether the proxy accepts TCP connections on both front ports.
proxy_listening() {
  local port
  for port in "${PROXY_PROVIDER_PORT}" "${PROXY_API_PORT}"; do
    (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null || return 1
  done
}

# wait_listening NAME PID LOG: until both ports listen; dies (with the log's tail) if the
# process exits or the time runs out.
wait_listening() {
  local name=$1 pid=$2 log=$3 waited=0
  until proxy_listening; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      error "${name} exited at start (port ${PROXY_PROVIDER_PORT} or ${PROXY_API_PORT} taken?):"
      tail -n 8 "${log}" >&2 || true
      exit 1
    fi
    if [[ ${waited} -ge $((READY_TIMEOUT_SECS * 10)) ]]; then
      kill "${pid}" 2>/dev/null || true
      die "${name} does not listen on ${PROXY_PROVIDER_PORT}/${PROXY_API_PORT} after ${READY_TIMEOUT_SECS}s; see ${log}"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# stop_pid_file NAME FILE: SIGTERM to the pid in FILE, at most 5 s, then SIGKILL.
stop_pid_file() {
  local name=$1 pid_file=$2 pid waited=0
  if [[ ! -s "${pid_file}" ]]; then
    info "no ${name} pid file (${pid_file}); nothing to stop"
    return 0
  fi
  pid="$(head -n 1 "${pid_file}")"
  if kill -0 "${pid}" 2>/dev/null; then
    kill -TERM "${pid}" 2>/dev/null || true
    while kill -0 "${pid}" 2>/dev/null && [[ ${waited} -lt 50 ]]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -KILL "${pid}" 2>/dev/null || true
    info "${name} (pid ${pid}) stopped"
  fi
  rm -f -- "${pid_file}"
}

# show_log NAME FILE: what the proxy did with each request so far.
show_log() {
  local name=$1 file=$2
  [[ -s "${file}" ]] || {
    info "${name} logged no request yet (${file})"
    return 0
  }
  info "what ${name} did with each request (${file#"${ROOT}/"}):"
  sed 's/^/    /' "${file}"
}
