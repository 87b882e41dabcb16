#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# The production shape on one machine: two native Keycloak nodes sharing a PostgreSQL
# database and clustered (their caches over JGroups, every address on 127.0.0.1), behind one
# nginx that terminates the clients' mTLS and balances across both, with two resource-server
# instances behind the same nginx. Everything stays on loopback.
#
#   oauth2-provider/production.sh up           build; PostgreSQL; node 1 (imports the realm),
#                                              then node 2; checks that they form one cluster
#                                              (the view with 2 members); nginx; two resource
#                                              servers; then returns, leaving them running
#   oauth2-provider/production.sh down         stop everything `up` started, PostgreSQL's
#                                              temporary directory deleted
#   oauth2-provider/production.sh status       what runs, and the URLs
#   oauth2-provider/production.sh walkthrough  the walkthrough (client walkthrough) through nginx
#   oauth2-provider/production.sh stop-node N  stop Keycloak node N (1 or 2); start-node N again
#   oauth2-provider/production.sh cluster      the cluster views the nodes logged
#
#   client --> nginx https://localhost:26443 (provider) --> node 1 127.0.0.1:26011 --+--> PostgreSQL
#              (mTLS ends here; ssl-client-cert)        --> node 2 127.0.0.1:26021 --+    127.0.0.1:26432
#          --> nginx https://localhost:26444 (API)      --> resource servers 127.0.0.1:26451, :26452
#   node 1 <-- JGroups 127.0.0.1:26100 / 127.0.0.1:26120 --> node 2 (discovery through the database)
#
# Settings from the environment:
#   PRODUCTION_PORT_BASE   every port above is this + an offset (26000: ports 26000-26499)
#   PRODUCTION_NAME        names the Keycloak instances (<name>-1, <name>-2) (production)
#   PRODUCTION_DIR         pid files, logs, nginx's directory (target/production)
#   CERTS_DIR              the dev PKI (certs/; cargo run -p client -- certs makes it)
#   KEYCLOAK_CACHE_DIR     the native Keycloak cache (keycloak-native.sh); the nodes share one
#                          build (db=postgres, cache=ispn, the nginx lookup)
#   KEYCLOAK_START_TIMEOUT seconds each node may take to be ready (300)
# Needs what keycloak-native.sh needs (Java 17+), PostgreSQL 15 (apt-get install postgresql)
# and nginx (apt-get install nginx-light).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
# shellcheck source=scripts/keycloak.env
source "${ROOT}/scripts/keycloak.env"

BASE="${PRODUCTION_PORT_BASE:-26000}"
NAME="${PRODUCTION_NAME:-production}"
DIR="${PRODUCTION_DIR:-${ROOT}/target/production}"
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
FRONT_PROVIDER_PORT=$((BASE + 443)) FRONT_API_PORT=$((BASE + 444))
API_PORTS="$((BASE + 451)) $((BASE + 452))"
PROXY_SOURCE=127.0.0.2
FRONT_URL="https://localhost:${FRONT_PROVIDER_PORT}"
FRONT_API_URL="https://localhost:${FRONT_API_PORT}"
FRONT_ISSUER="${FRONT_URL}/realms/${REALM}"
# Node N: HTTPS BASE+10N+1, management BASE+10N+2, JGroups BASE+100+20(N-1) (JGroups may
# take up to 10 ports above its own when that one is busy: port_range), its failure
# detection (FD_SOCK2) that + 50.
node_port() { printf '%s' $((BASE + 10 * $1 + 1)); }
node_management_port() { printf '%s' $((BASE + 10 * $1 + 2)); }
node_jgroups_port() { printf '%s' $((BASE + 100 + 20 * ($1 - 1))); }
export POSTGRES_PORT=$((BASE + 432)) POSTGRES_STATE_DIR="${DIR}/postgres"
export KEYCLOAK_START_TIMEOUT="${KEYCLOAK_START_TIMEOUT:-300}"

usage() {
  print_header "${BASH_SOURCE[0]}"
}

abs_certs() {
  (cd "${CERTS_DIR}" 2>/dev/null && pwd) || die "${CERTS_DIR}: no such directory; generate the dev PKI first (cargo run -p client -- certs)"
}

# nginx.sh's settings: the front ports, both nodes, both resource servers.
nginx() {
  local apis="" port
  for port in ${API_PORTS}; do apis+="127.0.0.1:${port} "; done
  NGINX_DIR="${DIR}/nginx" PROXY_PROVIDER_PORT="${FRONT_PROVIDER_PORT}" PROXY_API_PORT="${FRONT_API_PORT}" \
    PROVIDER_BACKENDS="127.0.0.1:$(node_port 1) 127.0.0.1:$(node_port 2)" API_BACKENDS="${apis% }" \
    PROXY_SOURCE="${PROXY_SOURCE}" "${ROOT}/proxy/nginx.sh" "$@"
}

# keycloak-native.sh for node N: its own instance and ports, the database, the cluster on
# loopback (keycloak-native.sh sets the bind address 127.0.0.1; the port is the node's), the
# issuer the front URL, the nginx lookup and X-Forwarded-* trusted from nginx's address only.
node() {
  local n=$1
  shift
  local -a vars=(KEYCLOAK_INSTANCE="${NAME}-${n}" PROVIDER_PORT="$(node_port "${n}")"
    MANAGEMENT_PORT="$(node_management_port "${n}")" PROVIDER_URL="${FRONT_URL}"
    KC_CACHE=ispn KC_CACHE_EMBEDDED_NETWORK_BIND_PORT="$(node_jgroups_port "${n}")"
    KC_PROXY_HEADERS=xforwarded KC_PROXY_TRUSTED_ADDRESSES="${PROXY_SOURCE}"
    # JGroups' failure detection (FD_SOCK2) listens at the node's port + this offset
    # (Infinispan's default 50000 would put it outside the range, on 10564 for 26100).
    JAVA_OPTS_APPEND="-Djgroups.fd.port-offset=50${JAVA_OPTS_APPEND:+ ${JAVA_OPTS_APPEND}}")
  mapfile -t -O "${#vars[@]}" vars < <(nginx keycloak-env)
  if [[ "${1:-}" == start ]]; then
    mapfile -t -O "${#vars[@]}" vars < <("${SCRIPT_DIR}/postgres.sh" env)
  else
    vars+=(KC_DB=postgres) # the same build key for stop and status
  fi
  env "${vars[@]}" "${SCRIPT_DIR}/keycloak-native.sh" "$@"
}

node_log() {
  printf '%s' "${KEYCLOAK_CACHE_DIR}/instances/${NAME}-$1/keycloak.log"
}

# The views Infinispan logged (ISPN000094: "Received new cluster view for channel ISPN:
# [a|1] (2) [a, b]"), one per line, per node.
cluster() {
  local n
  for n in 1 2; do
    [[ -r "$(node_log "${n}")" ]] || continue
    grep -o 'ISPN000094.*' "$(node_log "${n}")" | sed "s/^/node ${n}: /" || true
  done
}

# Until both nodes have logged a view with 2 members (at most 60 s).
wait_cluster() {
  local waited=0 n
  for n in 1 2; do
    until grep -q 'ISPN000094: Received new cluster view for channel [^:]*: \[[^]]*\] (2)' "$(node_log "${n}")" 2>/dev/null; do
      ((waited < 60)) || die "node ${n} has not seen a cluster of 2 after 60 s; its views: $(cluster | tr '\n' ';')"
      sleep 1
      waited=$((waited + 1))
    done
  done
  info "one cluster of 2: $(grep -o 'ISPN000094.*(2).*' "$(node_log 2)" | tail -n 1)"
}

# Resource server N (1 or 2) behind nginx: its own port, the front issuer, the certificate
# forwarded by nginx trusted from nginx's address only (nginx itself presents none, so the
# handshake asks for one without requiring it, as the supervisor does behind a proxy).
start_api() {
  local n=$1 port certs pid
  port="$(printf '%s' "${API_PORTS}" | cut -d' ' -f"${n}")"
  certs="$(abs_certs)"
  port_in_use "${port}" && die "port ${port} on 127.0.0.1 is in use (resource server ${n})"
  local -a shape=()
  mapfile -t shape < <(nginx server-args)
  "${TARGET_DIR}/debug/resource-server" --issuer "${FRONT_ISSUER}" --ca "${certs}/ca.pem" \
    --cert "${certs}/resource-server.pem" --key "${certs}/resource-server.key.pem" --port "${port}" \
    --public-url "${FRONT_API_URL}" --client-auth request --trusted-proxy "${PROXY_SOURCE}" "${shape[@]}" \
    </dev/null >"${DIR}/resource-server-${n}.log" 2>&1 &
  pid=$!
  printf '%s\n' "${pid}" >"${DIR}/resource-server-${n}.pid"
  local waited=0
  until curl -sf -o /dev/null --max-time 2 --cacert "${certs}/ca.pem" --cert "${certs}/client.pem" \
    --key "${certs}/client.key.pem" "https://localhost:${port}/health/ready"; do
    kill -0 "${pid}" 2>/dev/null || { tail -n 5 "${DIR}/resource-server-${n}.log" >&2; die "resource server ${n} exited at start"; }
    ((waited < 300)) || die "resource server ${n} not ready after 30 s (${DIR}/resource-server-${n}.log)"
    sleep 0.1
    waited=$((waited + 1))
  done
  info "resource server ${n} (pid ${pid}) on 127.0.0.1:${port}, log ${DIR#"${ROOT}/"}/resource-server-${n}.log"
}

stop_api() {
  local file="${DIR}/resource-server-$1.pid" pid
  [[ -s "${file}" ]] || return 0
  pid="$(cat "${file}")"
  if kill -TERM "${pid}" 2>/dev/null; then
    local waited=0
    while kill -0 "${pid}" 2>/dev/null && ((waited < 50)); do sleep 0.1 && waited=$((waited + 1)); done
    kill -KILL "${pid}" 2>/dev/null || true
    info "resource server $1 (pid ${pid}) stopped"
  fi
  rm -f -- "${file}"
}

up() {
  command -v cargo >/dev/null 2>&1 || die "cargo is needed to build the resource server and the client"
  [[ -r "$(abs_certs)/client.pem" ]] || die "no dev PKI in ${CERTS_DIR}: cargo run -p client -- certs"
  mkdir -p "${DIR}"
  info "building the resource server and the client (cargo build)"
  cargo build --locked -q -p client -p resource-server
  # Anything half-started is stopped again when a step fails.
  trap 'status=$?; ((status == 0)) || { error "up failed: stopping what it started"; down >/dev/null 2>&1 || true; }' EXIT
  "${SCRIPT_DIR}/postgres.sh" start
  info "Keycloak node 1 on 127.0.0.1:$(node_port 1) (creates the schema, imports the realm)"
  node 1 start >"${DIR}/node-1.start.log" 2>&1 || { tail -n 30 "${DIR}/node-1.start.log" >&2; die "node 1 did not start"; }
  info "Keycloak node 2 on 127.0.0.1:$(node_port 2) (the realm exists: its import is skipped)"
  node 2 start >"${DIR}/node-2.start.log" 2>&1 || { tail -n 30 "${DIR}/node-2.start.log" >&2; die "node 2 did not start"; }
  wait_cluster
  nginx start
  start_api 1
  start_api 2
  trap - EXIT
  status
  info "stop everything with: oauth2-provider/production.sh down"
}

down() {
  stop_api 1
  stop_api 2
  [[ ! -d "${DIR}/nginx" ]] || nginx stop
  node 2 stop || true
  node 1 stop || true
  "${SCRIPT_DIR}/postgres.sh" stop
}

status() {
  local n
  cat <<EOF
INFO  the production shape (${NAME}):
      provider (nginx):  ${FRONT_URL}   issuer ${FRONT_ISSUER}
      API (nginx):       ${FRONT_API_URL}
      Keycloak nodes:    https://localhost:$(node_port 1), https://localhost:$(node_port 2) (JGroups 127.0.0.1:$(node_jgroups_port 1), :$(node_jgroups_port 2))
      resource servers:  ${API_PORTS// /, } on 127.0.0.1
      PostgreSQL:        127.0.0.1:${POSTGRES_PORT}
      try:               ISSUER=${FRONT_ISSUER} RESOURCE_SERVER_URL=${FRONT_API_URL} cargo run -p client -- call /api/whoami
EOF
  for n in 1 2; do node "${n}" status || true; done
  "${SCRIPT_DIR}/postgres.sh" status || true
}

walkthrough() {
  ISSUER="${FRONT_ISSUER}" RESOURCE_SERVER_URL="${FRONT_API_URL}" CERTS_DIR="$(abs_certs)" \
    "${TARGET_DIR}/debug/client" --proxy nginx walkthrough "$@"
}

node_number() {
  [[ "${1:-}" =~ ^[12]$ ]] || die "which node: 1 or 2"
  printf '%s' "$1"
}

main() {
  case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    walkthrough) walkthrough "${@:2}" ;;
    stop-node) node "$(node_number "${2:-}")" stop ;;
    start-node) node "$(node_number "${2:-}")" start ;;
    cluster) cluster ;;
    -h | --help | "") usage ;;
    *) die "unknown command '$1': up, down, status, walkthrough, stop-node N, start-node N or cluster (see oauth2-provider/production.sh --help)" ;;
  esac
}

main "$@"
