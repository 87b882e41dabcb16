#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR  # the sourced files are found from the repository root
# The mTLS client-credentials walkthrough in one command (RFC 6749 §4.4, RFC 8705).
#
#   ./start.sh                        build, certificates, provider, resource server, walkthrough
#   ./start.sh --provider keycloak    real Keycloak: in a container when Docker or Podman
#                                     answers, else natively (Java 17+; Maven the first time)
#   ./start.sh --provider embedded    use the embedded provider (no container engine needed)
#   ./start.sh --runner native        how Keycloak runs: container or native (sets
#                                     KEYCLOAK_RUNNER for oauth2-provider/keycloak.sh)
#   ./start.sh --keep-running         leave the servers running afterwards (Ctrl-C stops them)
#   ./start.sh --lab N                workshop lab N (labs/): servers in the lab's state, its
#                                     first step printed, kept running (no walkthrough)
#   ./start.sh --proxy nginx          mTLS terminated at a proxy (nginx, haproxy, apache, caddy) in front
#                                     of the provider and two resource servers (proxy/<proxy>.sh; with
#                                     --provider keycloak: native Keycloak with that proxy's lookup)
#
# Needs cargo and curl. Output: the setup phases are labelled [setup N/4]; the numbers 1-8
# belong to the walkthrough's steps only (`client walkthrough --help`). Server logs (no
# colour codes) go to target/start-logs/. Overrides from the environment: PROVIDER_PORT,
# MANAGEMENT_PORT, RESOURCE_SERVER_PORT, READY_TIMEOUT_SECS (default 180), REALM_FILE,
# CERTS_DIR, ... Without --provider: Keycloak when a container engine answers, else the
# embedded provider. Certificates are generated into certs/ only if missing (never
# overwritten), with RSA-2048 keys unless KEY_TYPE says otherwise (certs/README.md).
# Servers this script starts are stopped on exit, failure or Ctrl-C (with --keep-running or
# --lab, only then); servers already running are used as they are. Exit code 0 means every
# walkthrough step behaved as expected. This script reads the flags, builds, checks the
# certificates and drives the outside programs (oauth2-provider/keycloak.sh, proxy/<proxy>.sh);
# the supervisor binary (supervisor/) then starts our own servers and runs the walkthrough.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
export PROVIDER_PORT MANAGEMENT_PORT RESOURCE_SERVER_PORT KC_BOOTSTRAP_ADMIN_USERNAME KC_BOOTSTRAP_ADMIN_PASSWORD
# A debug build: on a 2-core first run several minutes faster than --release.
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
BIN_DIR="${TARGET_DIR}/debug" LOG_DIR="${TARGET_DIR}/start-logs"
PROVIDER_CHOICE="" RUNNER="" REASON="" # --provider; container|native|embedded, and why
KEEP_RUNNING=0 LAB="" LAB_FRESH=0      # LAB_FRESH=1: labs/work/labN is new, reset it first
PROXY=""                               # --proxy nginx|haproxy|apache|caddy: it on the front ports, ours behind it
BACKEND_PROVIDER_PORT="${BACKEND_PROVIDER_PORT:-$((PROVIDER_PORT + 1))}"
BACKEND_API_PORTS="${BACKEND_API_PORTS:-$((RESOURCE_SERVER_PORT + 1)) $((RESOURCE_SERVER_PORT + 2))}"
PROXY_SOURCE="${PROXY_SOURCE:-127.0.0.2}" # the proxy's source address: the back ends trust this one
# What this run started: the step running now (stopped on a signal), the outside programs.
CHILD_PID="" STARTED_PROXY=0 STARTED_KEYCLOAK=0 KC_SHAPE=() OUR_SHAPE=() # the proxy's header shape
SETUP() { info "[setup $1/4] ${*:2}"; }
rel() { printf '%s' "${1#"${ROOT}/"}"; }
parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --provider | --runner | --proxy | --lab)
        [[ $# -ge 2 ]] || die "$1 needs a value (see ./start.sh --help)"
        set -- "$1=$2" "${@:3}" ;;
      --provider=*) PROVIDER_CHOICE="${1#*=}" && shift ;;
      --runner=*) export KEYCLOAK_RUNNER="${1#*=}" && shift ;;
      --proxy=*) PROXY="${1#*=}" && shift ;;
      --keep-running) KEEP_RUNNING=1 && shift ;;
      --lab=*) [[ "${1#*=}" =~ ^[0-9]+$ ]] || die "--lab needs a lab number (see labs/README.md)"
        LAB="${1#*=}" KEEP_RUNNING=1 && shift ;;
      -h | --help) print_header "${BASH_SOURCE[0]}" && exit 0 ;;
      *) die "unknown argument '$1' (see ./start.sh --help)" ;;
    esac
  done
  [[ "${PROVIDER_CHOICE}" =~ ^(|keycloak|embedded)$ ]] || die "--provider must be keycloak or embedded, not '${PROVIDER_CHOICE}'"
  [[ "${KEYCLOAK_RUNNER:-}" =~ ^(|container|native)$ ]] || die "--runner must be container or native, not '${KEYCLOAK_RUNNER}'"
  [[ "${PROXY}" =~ ^(|nginx|haproxy|apache|caddy)$ ]] || die "--proxy must be nginx, haproxy, apache or caddy, not '${PROXY}'"
}
# On exit (success, failure, Ctrl-C): the outside programs this run started. On Ctrl-C or
# TERM first the step running now (Keycloak's start, the supervisor), which stops what it
# started; its exit code is ours (after the walkthrough: the walkthrough's).
cleanup() {
  local status=$? && trap - EXIT INT TERM
  [[ ${STARTED_PROXY} -eq 0 ]] || proxy_env "${ROOT}/proxy/${PROXY}.sh" stop || true
  [[ ${STARTED_KEYCLOAK} -eq 0 ]] || keycloak_env "${ROOT}/oauth2-provider/keycloak.sh" stop "${RUNNER}" || true
  exit "${status}"
}
on_signal() {
  local status=$1
  [[ -z "${CHILD_PID}" ]] || { kill -TERM "${CHILD_PID}" 2>/dev/null; status=0 && wait "${CHILD_PID}" || status=$?; }
  exit "${status}"
}
# Runs "$@" in the background and waits, so that a signal reaches on_signal at once.
run_child() {
  local status=0
  "$@" &
  CHILD_PID=$! && wait "${CHILD_PID}" || status=$?
  CHILD_PID="" && return "${status}"
}
# Which provider runs, decided before anything is built, so a wrong choice fails fast.
choose_provider() {
  if [[ "${PROVIDER_CHOICE}" == embedded || (-n "${PROXY}" && -z "${PROVIDER_CHOICE}") ]]; then
    RUNNER=embedded REASON="${PROXY:+--proxy ${PROXY}}" && REASON="${REASON:---provider embedded}"
    return 0
  fi
  # Behind the proxy, Keycloak runs natively unless --runner says otherwise.
  [[ -z "${PROXY}" ]] || export KEYCLOAK_RUNNER="${KEYCLOAK_RUNNER:-native}"
  local line
  line="$("${ROOT}/oauth2-provider/keycloak.sh" choose "${PROVIDER_CHOICE:-auto}")" ||
    die "--provider keycloak: Keycloak cannot run here (the reason is above). Fix that, or use --provider embedded"
  RUNNER="${line%% *}" REASON="${line#* }"
  [[ "${RUNNER}" != embedded ]] ||
    info "real Keycloak without Docker: ./start.sh --provider keycloak (runs Keycloak's own distribution on Java 17+; Maven fetches it the first time)"
}
# Setup 1: the binaries (debug; see BIN_DIR).
build() {
  SETUP 1 "build: client, oauth2-provider, resource-server and supervisor (cargo build; the first build takes a few minutes)"
  cargo build --locked -p client -p oauth2-provider -p resource-server -p supervisor
}
# The client, for the certificates (relative when they are the repository's own certs/).
client() { "${BIN_DIR}/client" --certs-dir "$(rel "${CERTS_DIR}")" "$@"; }
# Setup 2: generated once, never overwritten; an incomplete or expired set stops the run.
ensure_certs() {
  local dir && dir="$(rel "${CERTS_DIR}")"
  if [[ ! -e "${CERTS_DIR}/ca.pem" && ! -e "${CERTS_DIR}/client.pem" ]]; then
    SETUP 2 "certificates: none in ${dir}/ yet, generating the dev PKI" && client certs
  else
    SETUP 2 "certificates: checking the existing ones in ${dir}/ (an older PKI gets the provisioner's and the private_key_jwt client's pairs)"
    { { [[ -e "${CERTS_DIR}/provisioner.pem" || -e "${CERTS_DIR}/provisioner.key.pem" ]] && [[ -e "${CERTS_DIR}/${JWT_CERT_FILE}" || -e "${CERTS_DIR}/client-jwt.key.pem" ]]; } || client certs; client certs check; } || die "the certificates in ${dir}/ cannot be used as they are (see above)"
  fi
}
# --lab N, before any provider starts: the lab's files (progress kept), its realm and trust.
prepare_lab() {
  local work="${LAB_WORK_DIR:-${ROOT}/labs/work}/lab${LAB}"
  [[ -d "${work}" ]] || LAB_FRESH=1
  client lab prepare "${LAB}" || die "client lab prepare ${LAB} failed (see above)"
  [[ ! -f "${work}/realm.json" ]] || { export REALM_FILE="${work}/realm.json" &&
    info "lab ${LAB}: the provider imports $(rel "${REALM_FILE}")"; }
  [[ ! -s "${work}/truststore.pem" ]] || { export KC_TRUSTSTORE_PATHS="${work}/truststore.pem" &&
    info "lab ${LAB}: the provider also trusts $(rel "${KC_TRUSTSTORE_PATHS}")"; }
}
# proxy/<proxy>.sh's settings: the proxy on the front ports (exported), ours on the back ends.
proxy_env() {
  local backends="" port dir="${TARGET_DIR}/proxy-${PROXY}"
  for port in ${BACKEND_API_PORTS}; do backends+="127.0.0.1:${port} "; done
  PROVIDER_BACKEND="127.0.0.1:${BACKEND_PROVIDER_PORT}" API_BACKENDS="${backends% }" \
    PROXY_SOURCE="${PROXY_SOURCE}" NGINX_DIR="${dir}" HAPROXY_DIR="${dir}" APACHE_DIR="${dir}" CADDY_DIR="${dir}" "$@"
}
# --proxy, before the servers (it answers 502 until they are up).
start_proxy() {
  info "proxy: ${PROXY} terminates the clients' TLS on ${PROVIDER_URL} and ${RESOURCE_SERVER_URL}"
  STARTED_PROXY=1 && proxy_env "${ROOT}/proxy/${PROXY}.sh" start
  proxy_env "${ROOT}/proxy/${PROXY}.sh" explain
}
# Keycloak's environment: behind the proxy, the lookup for its header shape (the driver's
# keycloak-env), X-Forwarded-* only from the proxy's address, the issuer the front URL.
keycloak_env() {
  local -a vars=("PROVIDER_URL=${PROVIDER_URL}")
  [[ -z "${PROXY}" ]] || vars+=(KEYCLOAK_INSTANCE=proxy "PROVIDER_PORT=${BACKEND_PROVIDER_PORT}" "${KC_SHAPE[@]}"
    KC_PROXY_HEADERS=xforwarded "KC_PROXY_TRUSTED_ADDRESSES=${PROXY_SOURCE}")
  env "${vars[@]}" "$@"
}
# Setup 3 for Keycloak (the supervisor does it for the embedded provider).
start_keycloak() {
  if curl -sSf --max-time 3 --cacert "${CERTS_DIR}/ca.pem" "${ISSUER}/.well-known/openid-configuration" >/dev/null 2>&1; then
    SETUP 3 "provider: something already answers at ${ISSUER}; using it as it is (not stopped afterwards)" && return 0
  fi
  SETUP 3 "provider: Keycloak, ${RUNNER} (${REASON})${PROXY:+, behind ${PROXY} on 127.0.0.1:${BACKEND_PROVIDER_PORT}}"
  run_child keycloak_env "${ROOT}/oauth2-provider/keycloak.sh" start "${RUNNER}" ||
    die "Keycloak (${RUNNER}) did not start (its message is above)"
  STARTED_KEYCLOAK=1
}
# Setup 3 and 4, then the walkthrough or the lab: the supervisor (supervisor/src/up.rs).
run_supervisor() {
  local -a args=("--reason=${REASON}" --issuer "${ISSUER}" --resource-server "${RESOURCE_SERVER_URL}"
    --certs-dir "$(rel "${CERTS_DIR}")" --log-dir "$(rel "${LOG_DIR}")")
  [[ "${RUNNER}" == embedded ]] || args+=(--external-provider keycloak)
  [[ ${KEEP_RUNNING} -eq 0 ]] || args+=(--keep-running)
  [[ -z "${LAB}" ]] || args+=(--lab "${LAB}")
  [[ ${LAB_FRESH} -eq 0 ]] || args+=(--lab-fresh)
  if [[ -n "${PROXY}" ]]; then
    args+=(--proxy "${PROXY}" --provider-port "${BACKEND_PROVIDER_PORT}" --trusted-proxy "${PROXY_SOURCE}"
      "${OUR_SHAPE[@]}" --proxy-log "$(rel "${TARGET_DIR}/proxy-${PROXY}")/logs/access.log")
    local port && for port in ${BACKEND_API_PORTS}; do args+=(--resource-server-port "${port}"); done
  fi
  run_child "${BIN_DIR}/supervisor" "${args[@]}"
}

main() {
  parse_args "$@"
  [[ -z "${PROXY}" ]] || { mapfile -t KC_SHAPE < <("${ROOT}/proxy/${PROXY}.sh" keycloak-env) && mapfile -t OUR_SHAPE < <("${ROOT}/proxy/${PROXY}.sh" server-args); }
  [[ "${PROXY}" != caddy ]] || PROXY_SOURCE="$("${ROOT}/proxy/caddy.sh" source-address)" # Caddy 2.6 cannot choose it
  command -v cargo >/dev/null 2>&1 || die "cargo is needed to build the playground: install Rust from https://rustup.rs"
  command -v curl >/dev/null 2>&1 || die "curl is needed for the readiness checks: install it (e.g. apt-get install curl)"
  cd "${ROOT}"
  mkdir -p "${LOG_DIR}"
  trap cleanup EXIT && trap 'on_signal 130' INT && trap 'on_signal 143' TERM
  choose_provider
  build
  ensure_certs
  [[ -z "${LAB}" ]] || prepare_lab
  [[ -z "${PROXY}" ]] || start_proxy
  [[ "${RUNNER}" == embedded ]] || start_keycloak
  run_supervisor
}

main "$@"
