#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR  # the sourced files are found from the repository root
# The mTLS client-credentials walkthrough in one command (RFC 6749 §4.4, RFC 8705).
#
#   ./start.sh                        build, certificates, provider, resource server, walkthrough
#   ./start.sh --provider keycloak    real Keycloak: in a container when Docker or Podman
#                                     answers, else natively (Java 17+; Maven the first time)
#   ./start.sh --runner container|native   how Keycloak runs when both could (KEYCLOAK_RUNNER)
#   ./start.sh --provider embedded    use the embedded provider (no container engine needed)
#   ./start.sh --keep-running         leave the servers running afterwards (Ctrl-C stops them)
#   ./start.sh --lab N                workshop lab N (labs/): servers in the lab's state, its
#                                     first step printed, kept running (no walkthrough)
#   ./start.sh --proxy nginx          mTLS terminated at nginx in front of the provider and two
#                                     resource servers (proxy/nginx.sh; with --provider keycloak:
#                                     native Keycloak with its nginx certificate lookup)
#
# Needs cargo and curl. Output: the setup phases are labelled [setup N/4]; the numbers 1-8
# belong to the walkthrough's steps only. Server logs (no colour codes) go to
# target/start-logs/. Overrides from the environment: PROVIDER_PORT, MANAGEMENT_PORT,
# RESOURCE_SERVER_PORT, READY_TIMEOUT_SECS (default 180), REALM_FILE, CERTS_DIR, ...
#
# Without --provider: Keycloak in a container when an engine answers (the playground's own
# image, built once from the pinned distribution: no registry needed), else native Keycloak
# when Java is there, else the embedded provider; the choice and its reason are printed
# (oauth2-provider/keycloak.sh choose). KEYCLOAK_NETWORK=host: the container on the host's
# network (no bridge, no published port), CONTAINER_ENGINE=docker|podman: the engine.
# Certificates are generated into certs/ only if missing (never overwritten), with RSA-2048
# keys unless KEY_TYPE says otherwise (rsa-4096, ecdsa-p256, ed25519; certs/README.md). Servers this
# script starts are stopped on exit, failure or Ctrl-C; servers already running are used
# as they are and left alone. Exit code 0 means every walkthrough step behaved as expected.
#
# The walkthrough's steps 1-8 (and 3b), with what each should show: `client walkthrough
# --help` prints them from the client's one list, and README.md's table is checked against it.
# Settings (ports, realm, client id, admin user) come from scripts/env.sh and the environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# oauth2-provider/keycloak.sh (Keycloak) reads the same ports from its environment.
export PROVIDER_PORT MANAGEMENT_PORT RESOURCE_SERVER_PORT

# A debug build: on a 2-core first run it is several minutes faster than --release
# (no optimisation of ~300 crates), and `cargo test` reuses it afterwards. The servers are
# not performance-sensitive for a walkthrough.
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
BIN_DIR="${TARGET_DIR}/debug"
LOG_DIR="${TARGET_DIR}/start-logs"
# How long a server may take to become ready (Keycloak's first start imports the realm).
READY_TIMEOUT_SECS="${READY_TIMEOUT_SECS:-180}"

PROVIDER_CHOICE=""   # keycloak | embedded (empty: decide)
KEEP_RUNNING=0
LAB=""               # --lab N: start lab N instead of the walkthrough
LAB_FRESH=0          # 1 when labs/work/labN did not exist yet: start from lab N's reset
PROVIDER_KIND=""     # keycloak | embedded: what choose_provider decided
RUNNER_CHOICE="${KEYCLOAK_RUNNER:-}" # --runner / KEYCLOAK_RUNNER: container | native (empty: decide)
KEYCLOAK_RUNNER=""   # container | native: how Keycloak runs (when PROVIDER_KIND=keycloak)
PROVIDER_REASON=""   # and why
STARTED_KEYCLOAK=""  # container | native once this run has started one (stopped on exit)
NATIVE_STARTER_PID="" # keycloak.sh start while it runs (stopped on exit: its own trap
                      # then stops the Keycloak it was starting)
PROVIDER_PID=""
RESOURCE_SERVER_PID=""
# --proxy nginx: nginx takes the front ports (PROVIDER_PORT, RESOURCE_SERVER_PORT), the servers
# move behind it, on loopback, and accept ssl-client-cert from nginx's address only.
PROXY=""
STARTED_NGINX=0
STARTED_NATIVE_KEYCLOAK=0
EXTRA_PIDS=()
BACKEND_PROVIDER_PORT="${BACKEND_PROVIDER_PORT:-$((PROVIDER_PORT + 1))}"
BACKEND_API_PORTS="${BACKEND_API_PORTS:-$((RESOURCE_SERVER_PORT + 1)) $((RESOURCE_SERVER_PORT + 2))}"
PROXY_SOURCE="${PROXY_SOURCE:-127.0.0.2}"  # nginx's proxy_bind: the back ends trust this address
PROXY_ARGS=()
WALKTHROUGH_STATUS=""  # set once the walkthrough has run: Ctrl-C under --keep-running exits with it
# The setup phases, labelled apart from the walkthrough's steps 1-8.
SETUP_PHASES=4

INFO() { printf 'INFO  %s\n' "$*"; }
ERROR() { printf 'ERROR %s\n' "$*" >&2; }
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  INFO() { printf '\033[1mINFO\033[0m  %s\n' "$*"; }
fi
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  ERROR() { printf '\033[31mERROR\033[0m %s\n' "$*" >&2; }
fi
# "[setup 2/4] provider: …"
SETUP() {
  local n=$1
  shift
  INFO "[setup ${n}/${SETUP_PHASES}] $*"
}
die() {
  ERROR "$@"
  exit 1
}

usage() {
  sed -n '3,34p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# The commands this script needs, checked before anything starts.
require_tools() {
  command -v cargo >/dev/null 2>&1 ||
    die "cargo is needed to build the playground: install Rust from https://rustup.rs"
  command -v curl >/dev/null 2>&1 ||
    die "curl is needed for the readiness checks: install it (e.g. apt-get install curl, brew install curl)"
}

# The last lines of a server's log, after the ERROR that names it: the reason is usually there.
log_tail() {
  local log=$1
  if [[ -s "${log}" ]]; then
    printf '  | %s\n' "last lines of ${log#"${ROOT}/"}:" >&2
    tail -n 8 "${log}" | sed 's/^/  | /' >&2
  fi
}

# Exits with $1, or under --keep-running after the walkthrough with its status: Ctrl-C is
# then the normal way to stop, and the exit code still says whether the steps passed.
on_signal() {
  if [[ -n "${WALKTHROUGH_STATUS}" ]]; then
    exit "${WALKTHROUGH_STATUS}"
  fi
  exit "$1"
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --provider)
        [[ $# -ge 2 ]] || die "--provider needs a value: keycloak or embedded"
        PROVIDER_CHOICE="$2"
        shift 2
        ;;
      --provider=*)
        PROVIDER_CHOICE="${1#--provider=}"
        shift
        ;;
      --runner)
        [[ $# -ge 2 ]] || die "--runner needs a value: container or native"
        RUNNER_CHOICE="$2"
        shift 2
        ;;
      --runner=*)
        RUNNER_CHOICE="${1#--runner=}"
        shift
        ;;
      --keep-running)
        KEEP_RUNNING=1
        shift
        ;;
      --lab)
        [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--lab needs a lab number (see labs/README.md)"
        LAB="$2"
        KEEP_RUNNING=1
        shift 2
        ;;
      --proxy)
        [[ $# -ge 2 ]] || die "--proxy needs a value: nginx"
        PROXY="$2"
        shift 2
        ;;
      --proxy=*)
        PROXY="${1#--proxy=}"
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) die "unknown argument '$1' (see ./start.sh --help)" ;;
    esac
  done
  case "${PROVIDER_CHOICE}" in
    "" | keycloak | embedded) ;;
    *) die "--provider must be keycloak or embedded, not '${PROVIDER_CHOICE}'" ;;
  esac
  case "${RUNNER_CHOICE}" in
    "" | container | native) ;;
    *) die "--runner must be container or native, not '${RUNNER_CHOICE}'" ;;
  esac
  case "${PROXY}" in
    "") ;;
    nginx)
      # What both servers need to accept the certificate nginx forwards (proxy/nginx.sh).
      PROXY_ARGS=(--trusted-proxy "${PROXY_SOURCE}" --client-cert-header ssl-client-cert)
      ;;
    *) die "--proxy must be nginx, not '${PROXY}'" ;;
  esac
}

# "127.0.0.1:8444 127.0.0.1:8445": the resource servers behind nginx.
api_backends() {
  local port out=""
  for port in ${BACKEND_API_PORTS}; do
    out+="127.0.0.1:${port} "
  done
  printf '%s' "${out% }"
}

# Runs "$@" with proxy/nginx.sh's settings for this run: the front ports are ours, the back
# ends are the ports the servers move to.
proxy_env() {
  PROXY_PROVIDER_PORT="${PROVIDER_PORT}" PROXY_API_PORT="${RESOURCE_SERVER_PORT}" \
    PROVIDER_BACKEND="127.0.0.1:${BACKEND_PROVIDER_PORT}" \
    API_BACKENDS="$(api_backends)" \
    PROXY_SOURCE="${PROXY_SOURCE}" NGINX_DIR="${TARGET_DIR}/proxy-nginx" "$@"
}

# --proxy nginx, before the servers: nginx on the front ports (it answers 502 until they are up).
start_proxy() {
  [[ -n "${PROXY}" ]] || return 0
  INFO "proxy: nginx terminates the clients' TLS on ${PROVIDER_URL} and ${RESOURCE_SERVER_URL}"
  proxy_env "${ROOT}/proxy/nginx.sh" start
  STARTED_NGINX=1
  proxy_env "${ROOT}/proxy/nginx.sh" explain
}

# Stops what this run started, on every exit (success, failure, Ctrl-C).
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "${RESOURCE_SERVER_PID}" ]] && kill -0 "${RESOURCE_SERVER_PID}" 2>/dev/null; then
    INFO "stopping the resource server (pid ${RESOURCE_SERVER_PID})"
    kill "${RESOURCE_SERVER_PID}" 2>/dev/null || true
    wait "${RESOURCE_SERVER_PID}" 2>/dev/null || true
  fi
  if [[ -n "${PROVIDER_PID}" ]] && kill -0 "${PROVIDER_PID}" 2>/dev/null; then
    INFO "stopping the embedded provider (pid ${PROVIDER_PID})"
    kill "${PROVIDER_PID}" 2>/dev/null || true
    wait "${PROVIDER_PID}" 2>/dev/null || true
  fi
  if [[ -n "${NATIVE_STARTER_PID}" ]] && kill -0 "${NATIVE_STARTER_PID}" 2>/dev/null; then
    INFO "interrupting Keycloak's start (it stops what it started)"
    kill -TERM "${NATIVE_STARTER_PID}" 2>/dev/null || true
    wait "${NATIVE_STARTER_PID}" 2>/dev/null || true
  fi
  local pid
  for pid in "${EXTRA_PIDS[@]}"; do
    kill "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
  done
  if [[ ${STARTED_NGINX} -eq 1 ]]; then
    proxy_env "${ROOT}/proxy/nginx.sh" stop || true
  fi
  if [[ ${STARTED_NATIVE_KEYCLOAK} -eq 1 ]]; then
    KEYCLOAK_INSTANCE=proxy "${ROOT}/oauth2-provider/keycloak-native.sh" stop || true
  fi
  if [[ -n "${STARTED_KEYCLOAK}" ]]; then
    INFO "stopping the Keycloak (${STARTED_KEYCLOAK})"
    "${ROOT}/oauth2-provider/keycloak.sh" stop "${STARTED_KEYCLOAK}" || true
  fi
  exit "${status}"
}

# The certificates directory as the client should print it: relative when it is the
# repository's own certs/, so the curl commands read `--cacert certs/ca.pem`.
certs_arg() {
  if [[ "${CERTS_DIR}" == "${ROOT}/"* ]]; then
    printf '%s' "${CERTS_DIR#"${ROOT}/"}"
  else
    printf '%s' "${CERTS_DIR}"
  fi
}

# The servers are ready when this script calls the client, so a short wait is enough; the
# longer one covers a provider that restarts meanwhile.
client() {
  "${BIN_DIR}/client" --certs-dir "$(certs_arg)" --issuer "${ISSUER}" \
    --resource-server "${RESOURCE_SERVER_URL}" --client-id "${CLIENT_ID}" --wait 60 "$@"
}

# Setup 1: build the three binaries (debug; see BIN_DIR above).
build() {
  SETUP 1 "build: client, oauth2-provider and resource-server (cargo build; the first build takes a few minutes)"
  cargo build --locked -p client -p oauth2-provider -p resource-server
}

# Setup 2: the certificates: generated once; existing files are never overwritten, but
# an incomplete or expired set stops the run (`client certs check` names the fix).
ensure_certs() {
  if [[ ! -e "${CERTS_DIR}/ca.pem" && ! -e "${CERTS_DIR}/client.pem" ]]; then
    SETUP 2 "certificates: none in $(certs_arg)/ yet, generating the dev PKI"
    client certs
  else
    SETUP 2 "certificates: checking the existing ones in $(certs_arg)/"
    client certs check ||
      die "the certificates in $(certs_arg)/ cannot be used as they are (see above)"
  fi
}

# Whether the provider's discovery document answers (over TLS, trusting only our CA).
provider_answers() {
  curl -sSf --max-time 3 --cacert "${CERTS_DIR}/ca.pem" \
    "${ISSUER}/.well-known/openid-configuration" >/dev/null 2>&1
}

# Whether the servers this run started are still running; if one exited, says so with
# the end of its log (the reason is usually there) and returns 1.
servers_alive() {
  if [[ -n "${PROVIDER_PID}" ]] && ! kill -0 "${PROVIDER_PID}" 2>/dev/null; then
    ERROR "the embedded provider exited (port ${PROVIDER_PORT} or ${MANAGEMENT_PORT} taken? set PROVIDER_PORT / MANAGEMENT_PORT)"
    log_tail "${LOG_DIR}/oauth2-provider.log"
    return 1
  fi
  if [[ -n "${RESOURCE_SERVER_PID}" ]] && ! kill -0 "${RESOURCE_SERVER_PID}" 2>/dev/null; then
    ERROR "the resource server exited (port ${RESOURCE_SERVER_PORT} taken? set RESOURCE_SERVER_PORT)"
    log_tail "${LOG_DIR}/resource-server.log"
    return 1
  fi
  local pid
  for pid in "${EXTRA_PIDS[@]}"; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      ERROR "a resource server behind the proxy exited (ports ${BACKEND_API_PORTS} taken? set BACKEND_API_PORTS); logs in ${LOG_DIR#"${ROOT}/"}/"
      return 1
    fi
  done
}

# Waits until "$@" succeeds, at most READY_TIMEOUT_SECS; $1 names what we wait for.
wait_until() {
  local what=$1
  shift
  local waited=0
  until "$@"; do
    servers_alive || exit 1
    if [[ ${waited} -ge ${READY_TIMEOUT_SECS} ]]; then
      die "${what} not ready after ${READY_TIMEOUT_SECS}s (raise READY_TIMEOUT_SECS); logs in ${LOG_DIR}"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  INFO "${what} is ready (${waited}s)"
}

# Decides which provider to run, before anything is built, so a wrong choice fails fast:
# oauth2-provider/keycloak.sh choose (auto without --provider: container, else native, else
# embedded, never failing; keycloak with --provider keycloak: never embedded).
choose_provider() {
  local choice
  if [[ -n "${PROXY}" ]]; then
    # Behind the proxy, Keycloak runs natively (keycloak-native.sh): no container engine needed.
    PROVIDER_KIND="${PROVIDER_CHOICE:-embedded}"
    PROVIDER_REASON="--proxy ${PROXY}"
    return 0
  fi
  if [[ "${PROVIDER_CHOICE}" == "embedded" ]]; then
    PROVIDER_KIND="embedded"
    PROVIDER_REASON="--provider embedded"
    return 0
  fi
  choice="$(KEYCLOAK_RUNNER="${RUNNER_CHOICE}" "${ROOT}/oauth2-provider/keycloak.sh" choose "${PROVIDER_CHOICE:-auto}")" ||
    die "the Keycloak runner could not be chosen (the reason is above)"
  PROVIDER_REASON="${choice#* }"
  case "${choice%% *}" in
    container | native)
      PROVIDER_KIND="keycloak"
      KEYCLOAK_RUNNER="${choice%% *}"
      ;;
    *)
      PROVIDER_KIND="embedded"
      INFO "real Keycloak: install Docker or Podman, or Java 17+ (./start.sh --provider keycloak --runner native)"
      ;;
  esac
}

# Setup 3: the authorization server: Keycloak in a container, or the embedded provider,
# which imports the same realm file and answers as Keycloak does.
start_provider() {
  if provider_answers; then
    SETUP 3 "provider: something already answers at ${ISSUER}; using it as it is (not stopped afterwards)"
    PROVIDER_KIND="already running"
    return 0
  fi
  if [[ -n "${PROXY}" && "${PROVIDER_KIND}" == "keycloak" ]]; then
    SETUP 3 "provider: native Keycloak behind nginx on 127.0.0.1:${BACKEND_PROVIDER_PORT} (its nginx x509 lookup reads ssl-client-cert)"
    start_keycloak_behind_proxy
  elif [[ -n "${KEYCLOAK_RUNNER}" ]]; then
    SETUP 3 "provider: Keycloak, ${KEYCLOAK_RUNNER} (${PROVIDER_REASON})"
    start_keycloak
  else
    local port="${PROVIDER_PORT}"
    [[ -z "${PROXY}" ]] || port="${BACKEND_PROVIDER_PORT}"
    SETUP 3 "provider: the embedded provider (${PROVIDER_REASON}) on port ${port}"
    # NO_COLOR / RUST_LOG_STYLE: the log is a file, not a terminal: no colour codes in it.
    NO_COLOR=1 RUST_LOG_STYLE=never "${BIN_DIR}/oauth2-provider" --realm "${REALM_FILE}" \
      --certs "${CERTS_DIR}" --port "${port}" --management-port "${MANAGEMENT_PORT}" \
      "${PROXY_ARGS[@]}" >"${LOG_DIR}/oauth2-provider.log" 2>&1 &
    PROVIDER_PID=$!
    INFO "   pid ${PROVIDER_PID}, log ${LOG_DIR#"${ROOT}/"}/oauth2-provider.log"
  fi
  wait_until "the provider at ${ISSUER}" provider_answers
}

# Keycloak (oauth2-provider/keycloak.sh start container|native: the image or the
# distribution once, a fresh database, wait until ready). In the background and waited for,
# so that Ctrl-C or a TERM reaches this script at once; cleanup then interrupts the start,
# whose own trap stops the half-started Keycloak. Only a Keycloak this run started is
# stopped on exit: a failed start (say, one already runs) leaves the other alone.
start_keycloak() {
  "${ROOT}/oauth2-provider/keycloak.sh" start "${KEYCLOAK_RUNNER}" &
  NATIVE_STARTER_PID=$!
  local status=0
  wait "${NATIVE_STARTER_PID}" || status=$?
  NATIVE_STARTER_PID=""
  [[ ${status} -eq 0 ]] || die "Keycloak (${KEYCLOAK_RUNNER}) did not start (its message is above)"
  STARTED_KEYCLOAK="${KEYCLOAK_RUNNER}"
}

# --proxy nginx --provider keycloak: the real Keycloak, natively, behind nginx: its `nginx`
# x509 lookup reads the certificate from ssl-client-cert (Keycloak 26 SPI option syntax),
# the X-Forwarded-* headers only from nginx's address, the issuer pinned to the front URL.
start_keycloak_behind_proxy() {
  KEYCLOAK_INSTANCE=proxy PROVIDER_PORT="${BACKEND_PROVIDER_PORT}" PROVIDER_URL="${PROVIDER_URL}" \
    KC_SPI_X509CERT_LOOKUP__PROVIDER=nginx \
    KC_SPI_X509CERT_LOOKUP__NGINX__SSL_CLIENT_CERT=ssl-client-cert \
    KC_PROXY_HEADERS=xforwarded KC_PROXY_TRUSTED_ADDRESSES="${PROXY_SOURCE}" \
    "${ROOT}/oauth2-provider/keycloak-native.sh" start
  STARTED_NATIVE_KEYCLOAK=1
}

# Whether the resource server answers its readiness check (it needs a client certificate
# for every request, health included, and is ready once it holds the provider's keys).
resource_server_ready() {
  curl -sSf --max-time 3 --cacert "${CERTS_DIR}/ca.pem" \
    --cert "${CERTS_DIR}/client.pem" --key "${CERTS_DIR}/client.key.pem" \
    "${RESOURCE_SERVER_URL}/health/ready" >/dev/null 2>&1
}

# Setup 4: the resource server: trusts our CA for client certificates, validates tokens
# with the provider's keys (found through the issuer's discovery document).
start_resource_server() {
  if resource_server_ready; then
    SETUP 4 "resource server: already running at ${RESOURCE_SERVER_URL}; using it as it is"
    return 0
  fi
  if [[ -n "${PROXY}" ]]; then
    local port
    SETUP 4 "resource servers behind nginx on ports ${BACKEND_API_PORTS} (issuer ${ISSUER})"
    # nginx connects without a client certificate of its own: `request`, and the client's
    # certificate comes in ssl-client-cert.
    for port in ${BACKEND_API_PORTS}; do
      spawn_resource_server "${port}" --client-auth request "${PROXY_ARGS[@]}"
      EXTRA_PIDS+=("${RESOURCE_SERVER_PID}")
    done
    RESOURCE_SERVER_PID=""
  else
    SETUP 4 "resource server on ${RESOURCE_SERVER_URL} (issuer ${ISSUER})"
    spawn_resource_server "${RESOURCE_SERVER_PORT}"
  fi
  wait_until "the resource server at ${RESOURCE_SERVER_URL}" resource_server_ready
}

# One resource-server process on port $1 (further arguments are passed on).
spawn_resource_server() {
  local port=$1 log="${LOG_DIR}/resource-server.log"
  shift
  [[ -z "${PROXY}" ]] || log="${LOG_DIR}/resource-server-${port}.log"
  NO_COLOR=1 RUST_LOG_STYLE=never "${BIN_DIR}/resource-server" --issuer "${ISSUER}" --ca "${CERTS_DIR}/ca.pem" \
    --cert "${CERTS_DIR}/resource-server.pem" --key "${CERTS_DIR}/resource-server.key.pem" \
    --port "${port}" "$@" >"${log}" 2>&1 &
  RESOURCE_SERVER_PID=$!
  INFO "   pid ${RESOURCE_SERVER_PID}, log ${log#"${ROOT}/"}"
}

# Then the walkthrough itself (steps 1-8); its exit code is this script's.
run_walkthrough() {
  INFO "setup done; the walkthrough (client walkthrough, steps 1-8) against the ${PROVIDER_KIND} provider"
  local status=0
  # The proxy's log from here on shows the walkthrough's requests only, not the readiness probes.
  [[ -z "${PROXY}" ]] || proxy_env "${ROOT}/proxy/nginx.sh" clear-log
  # The admin credentials go through the environment, not the command line (ps shows argv).
  KC_BOOTSTRAP_ADMIN_USERNAME="${KC_BOOTSTRAP_ADMIN_USERNAME}" \
    KC_BOOTSTRAP_ADMIN_PASSWORD="${KC_BOOTSTRAP_ADMIN_PASSWORD}" \
    client walkthrough || status=$?
  if [[ -n "${PROXY}" ]]; then
    proxy_env "${ROOT}/proxy/nginx.sh" log
  fi
  if [[ ${status} -eq 0 ]]; then
    INFO "the walkthrough passed. Try it by hand: cargo run -p client -- --help"
  else
    ERROR "the walkthrough did not pass (exit ${status}); server logs are in ${LOG_DIR#"${ROOT}/"}/"
    if [[ "${STARTED_KEYCLOAK}" == native ]]; then
      ERROR "  and the native Keycloak's log is the one its start named above ('logs:'; also: oauth2-provider/keycloak-native.sh status)"
    fi
  fi
  return "${status}"
}

# --lab N, before the servers start: the files the lab needs (your progress is kept); a
# lab that changes the realm has its own copy of the realm file, which the provider
# imports (the embedded one and the native Keycloak, whose every start imports anew).
prepare_lab() {
  [[ -d "${ROOT}/labs/work/lab${LAB}" ]] || LAB_FRESH=1
  client lab prepare "${LAB}" || die "client lab prepare ${LAB} failed (see above)"
  if [[ -f "${ROOT}/labs/work/lab${LAB}/realm.json" ]]; then
    export REALM_FILE="${ROOT}/labs/work/lab${LAB}/realm.json"
    INFO "lab ${LAB}: the provider imports ${REALM_FILE#"${ROOT}/"}"
  fi
  # Lab 7: certificates trusted one by one (--truststore-paths of the embedded provider and
  # of the native Keycloak, beside the dev CA).
  if [[ -s "${ROOT}/labs/work/lab${LAB}/truststore.pem" ]]; then
    export KC_TRUSTSTORE_PATHS="${ROOT}/labs/work/lab${LAB}/truststore.pem"
    INFO "lab ${LAB}: the provider also trusts ${KC_TRUSTSTORE_PATHS#"${ROOT}/"}"
  fi
}

# --lab N instead of the walkthrough: the first time, the lab's starting state (client lab
# reset N; it keeps your keys); later, your progress as it is. Then the lab's card with its
# first step; the servers keep running.
start_lab() {
  INFO "setup done; lab ${LAB} (labs/README.md) against the ${PROVIDER_KIND} provider"
  if [[ ${LAB_FRESH} -eq 1 ]]; then
    KC_BOOTSTRAP_ADMIN_USERNAME="${KC_BOOTSTRAP_ADMIN_USERNAME}" \
      KC_BOOTSTRAP_ADMIN_PASSWORD="${KC_BOOTSTRAP_ADMIN_PASSWORD}" \
      client lab reset "${LAB}" || die "client lab reset ${LAB} failed (see above)"
  else
    INFO "lab ${LAB}: your work in labs/work/lab${LAB}/ is kept (client lab reset ${LAB} starts over)"
  fi
  client lab show "${LAB}"
}

# --keep-running: waits (until Ctrl-C) while the servers this run started keep running.
keep_running() {
  [[ ${KEEP_RUNNING} -eq 1 ]] || return 0
  if [[ -z "${PROVIDER_PID}${RESOURCE_SERVER_PID}${STARTED_KEYCLOAK}" ]]; then
    INFO "--keep-running: this run started no server (they were already running); nothing to keep"
    return 0
  fi
  INFO "servers keep running (--keep-running); Ctrl-C stops them"
  if [[ -n "${LAB}" ]]; then
    INFO "in another terminal: cargo run -q -p client -- lab check ${LAB}   (labs/README.md)"
  else
    INFO "in another terminal: cargo run -p client -- token --decode   (see README 'By hand')"
  fi
  # A loop rather than a bare `wait`: with Keycloak there may be no child to wait for, and
  # returning early would stop the container the user asked to keep.
  while servers_alive; do
    sleep 1
  done
  return 1
}

main() {
  parse_args "$@"
  require_tools
  cd "${ROOT}"
  mkdir -p "${LOG_DIR}"
  trap cleanup EXIT
  trap 'on_signal 130' INT
  trap 'on_signal 143' TERM
  choose_provider
  build
  ensure_certs
  [[ -z "${LAB}" ]] || prepare_lab
  start_proxy
  start_provider
  start_resource_server
  local status=0
  if [[ -n "${LAB}" ]]; then
    start_lab
  else
    run_walkthrough || status=$?
  fi
  WALKTHROUGH_STATUS=${status}
  keep_running || status=$?
  return "${status}"
}

main "$@"
