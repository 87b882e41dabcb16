#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Runs the real Keycloak for the playground in a container (Docker or Podman, whichever
# answers), with the dev PKI, mTLS requested, and the realm the embedded provider imports.
#
#   oauth2-provider/start.sh                 start Keycloak on https://localhost:9443
#   oauth2-provider/start.sh --check-engine  print the container engine that answers (exit 0),
#                                            or exit 1 if none does; starts nothing
#   oauth2-provider/stop.sh                  stop and remove the container
#
# The server options live in oauth2-provider/keycloak.conf (shared with compose.yaml and the
# testcontainers tests); this script only adds what is specific to it (see create_container).
# On any failure it removes the container it created: nothing is left behind.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${SCRIPT_DIR}/../scripts/env.sh"
# shellcheck source=scripts/keycloak.env
source "${SCRIPT_DIR}/../scripts/keycloak.env"
# shellcheck source=scripts/lib.sh
source "${SCRIPT_DIR}/../scripts/lib.sh"

KEYCLOAK_CONF="${SCRIPT_DIR}/keycloak.conf"
# Where Keycloak reads its configuration and, with --import-realm, the realm files.
CONTAINER_CONF="/opt/keycloak/conf/keycloak.conf"
CONTAINER_IMPORT_DIR="/opt/keycloak/data/import"

ENGINE=""
CREATED=""
STAGING=""


# `timeout` is GNU coreutils, missing on stock macOS: there, run the command in the
# background and kill it when the time is up.
with_timeout() {
  local secs=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "${secs}" "$@"
    return
  fi
  "$@" &
  local pid=$!
  (sleep "${secs}" && kill "${pid}" 2>/dev/null) &
  local watcher=$!
  local rc=0
  wait "${pid}" || rc=$?
  kill "${watcher}" 2>/dev/null || true
  return "${rc}"
}

usage() {
  print_header "${BASH_SOURCE[0]}" 3 13
}

# Removes what this run created unless it succeeded; runs on every exit (also Ctrl-C).
cleanup() {
  local status=$?
  if [[ -n "${STAGING}" ]]; then
    rm -rf -- "${STAGING}"
  fi
  if [[ -n "${CREATED}" && ${status} -ne 0 ]]; then
    info "removing the container ${KEYCLOAK_CONTAINER} this run created"
    "${ENGINE}" rm --force "${KEYCLOAK_CONTAINER}" >/dev/null 2>&1 || true
  fi
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Find a container engine that answers: $CONTAINER_ENGINE if set, else docker, then podman.
#    A CLI without a daemon (docker installed, dockerd not running) does not count.
detect_engine() {
  local candidates=(docker podman)
  if [[ -n "${CONTAINER_ENGINE:-}" ]]; then
    candidates=("${CONTAINER_ENGINE}")
  fi
  local engine
  for engine in "${candidates[@]}"; do
    if command -v "${engine}" >/dev/null 2>&1 && with_timeout 10 "${engine}" info >/dev/null 2>&1; then
      ENGINE="${engine}"
      return 0
    fi
  done
  return 1
}

require_engine() {
  if ! detect_engine; then
    if [[ -n "${CONTAINER_ENGINE:-}" ]]; then
      die "no container engine answered: CONTAINER_ENGINE=${CONTAINER_ENGINE}, but '${CONTAINER_ENGINE} info' failed. Start it, unset CONTAINER_ENGINE, or use the embedded provider (cargo run -p oauth2-provider)."
    fi
    local found=()
    local engine
    for engine in docker podman; do
      if command -v "${engine}" >/dev/null 2>&1; then found+=("${engine}"); fi
    done
    if ((${#found[@]} == 0)); then
      die "no container engine: neither docker nor podman is installed. Install one, or use the embedded provider (cargo run -p oauth2-provider)."
    fi
    die "no container engine answered: '${found[*]} info' failed (is the Docker daemon / Podman service running? DOCKER_HOST=${DOCKER_HOST:-unset}). Start it, or use the embedded provider (cargo run -p oauth2-provider)."
  fi
  info "container engine: ${ENGINE}"
}

# 2. The files Keycloak needs: scripts/lib.sh require_keycloak_files (the dev PKI, the realm,
#    the server options).


# 3. Refuse to start over an existing container or a busy port, with the way out.
check_free() {
  if "${ENGINE}" container inspect "${KEYCLOAK_CONTAINER}" >/dev/null 2>&1; then
    die "a container named ${KEYCLOAK_CONTAINER} already exists (Keycloak already started?). Stop it with: ${SCRIPT_DIR}/stop.sh"
  fi
  local port
  for port in "${PROVIDER_PORT}" "${MANAGEMENT_PORT}"; do
    # bash's /dev/tcp: a successful connect means something already listens there.
    if with_timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${port}" 2>/dev/null; then
      die "port ${port} on 127.0.0.1 is in use (the embedded provider, or another Keycloak?). Stop whatever listens there (e.g. 'ss -ltnp | grep :${port}'), or set PROVIDER_PORT / MANAGEMENT_PORT."
    fi
  done
}

# 4. The pinned image: use the local copy, or pull it once with a clear message if that fails.
ensure_image() {
  if "${ENGINE}" image inspect "${KEYCLOAK_IMAGE}" >/dev/null 2>&1; then
    info "image ${KEYCLOAK_IMAGE} is present"
    return 0
  fi
  info "pulling ${KEYCLOAK_IMAGE} (about 450 MB, once)"
  if ! "${ENGINE}" pull "${KEYCLOAK_IMAGE}"; then
    die "could not pull ${KEYCLOAK_IMAGE}: check the network, a proxy, or registry access (quay.io). The tag is pinned in scripts/keycloak.env (KEYCLOAK_IMAGE)."
  fi
}

# 5. Create (not start) the container. `start`, not `start-dev`: production mode serves HTTPS
#    only (no plain-HTTP port on 8080 to call by mistake) and insists on an explicit hostname,
#    which we want anyway: --hostname pins every URL Keycloak emits, so the tokens' `iss` is
#    exactly playbook::names::ISSUER whatever Host header a client sends. The price is the build
#    step `start` runs at each start (our build-time options differ from the image's), a few
#    seconds more. Ports are published on 127.0.0.1 only: this is a development server.
create_container() {
  info "creating container ${KEYCLOAK_CONTAINER}"
  # The bootstrap admin comes from the environment (-e NAME passes the value without putting
  # the password on the command line).
  export KC_BOOTSTRAP_ADMIN_USERNAME KC_BOOTSTRAP_ADMIN_PASSWORD
  CREATED=1
  "${ENGINE}" create \
    --name "${KEYCLOAK_CONTAINER}" \
    --hostname "${CONTAINER_HOSTNAME:-keycloak}" \
    --publish "127.0.0.1:${PROVIDER_PORT}:8443" \
    --publish "127.0.0.1:${MANAGEMENT_PORT}:9000" \
    --env KC_BOOTSTRAP_ADMIN_USERNAME \
    --env KC_BOOTSTRAP_ADMIN_PASSWORD \
    "${KEYCLOAK_IMAGE}" \
    start --import-realm "--hostname=${PROVIDER_URL}" >/dev/null ||
    die "could not create the container from ${KEYCLOAK_IMAGE} (see the engine's message above)"
}

# The value of an option in keycloak.conf (`option=value` lines): the in-container paths of
# the dev PKI are read from there, so the file stays the one place that names them.
conf_value() {
  local value
  value="$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "${KEYCLOAK_CONF}" | tail -n 1)"
  [[ -n "${value}" ]] || die "${KEYCLOAK_CONF} has no $1= line"
  printf '%s' "${value}"
}

# 6. Copy the options, the dev PKI and the realm into the container. A copy, not a bind
#    mount: Keycloak runs as uid 1000 and our keys are 0600, owned by you; a bind mount keeps
#    that owner and mode (unreadable), and chmod-ing your key is not the fix. The files go in
#    as a tar stream with mode 0644, owned by root (what testcontainers does in the tests).
#    Only file entries, no directory entries: the existing /opt/keycloak tree keeps its owner.
copy_files() {
  STAGING="$(mktemp -d)" # mode 0700: the 0644 copies below stay private to you
  # container path (absolute) -> host file
  local -a targets=(
    "${CONTAINER_CONF}"
    "$(conf_value https-certificate-file)"
    "$(conf_value https-certificate-key-file)"
    "$(conf_value truststore-paths)"
    "${CONTAINER_IMPORT_DIR}/${REALM}-realm.json"
  )
  local -a sources=(
    "${KEYCLOAK_CONF}"
    "${CERTS_DIR}/oauth2-provider.pem"
    "${CERTS_DIR}/oauth2-provider.key.pem"
    "${CERTS_DIR}/ca.pem"
    "${REALM_FILE}"
  )
  local -a entries=()
  local i entry
  for i in "${!targets[@]}"; do
    entry="${targets[i]#/}"
    mkdir -p "${STAGING}/$(dirname "${entry}")"
    cp "${sources[i]}" "${STAGING}/${entry}"
    chmod 0644 "${STAGING}/${entry}"
    entries+=("${entry}")
  done
  info "copying keycloak.conf, the dev PKI and the realm into the container"
  # COPYFILE_DISABLE: macOS tar would otherwise add ._* metadata files (a ._*.json would be
  # read by --import-realm).
  COPYFILE_DISABLE=1 tar -C "${STAGING}" -cf - "${entries[@]}" | "${ENGINE}" cp - "${KEYCLOAK_CONTAINER}:/" ||
    die "could not copy the files into ${KEYCLOAK_CONTAINER}"
  rm -rf -- "${STAGING}"
  STAGING=""
}

# 7. Start it and wait until /health/ready answers 200 on the management port, verifying the
#    server certificate against our CA (never -k). A container that exits ends the wait early.
start_and_wait() {
  "${ENGINE}" start "${KEYCLOAK_CONTAINER}" >/dev/null || die "could not start ${KEYCLOAK_CONTAINER}"
  local url="https://localhost:${MANAGEMENT_PORT}/health/ready"
  info "waiting for ${url} (up to ${KEYCLOAK_START_TIMEOUT} s; the first start runs Keycloak's build step)"
  local started=${SECONDS}
  local progress=""
  [[ -t 2 ]] && progress=1
  while true; do
    if curl --silent --fail --output /dev/null --max-time 5 --cacert "${CERTS_DIR}/ca.pem" "${url}"; then
      [[ -n "${progress}" ]] && printf '\n' >&2
      info "Keycloak is ready after $((SECONDS - started)) s"
      return 0
    fi
    if [[ "$("${ENGINE}" container inspect --format '{{.State.Running}}' "${KEYCLOAK_CONTAINER}" 2>/dev/null)" != "true" ]]; then
      [[ -n "${progress}" ]] && printf '\n' >&2
      error "Keycloak exited during startup; its last log lines:"
      "${ENGINE}" logs --tail 40 "${KEYCLOAK_CONTAINER}" >&2 2>&1 || true
      die "Keycloak did not start (see the log above)"
    fi
    if ((SECONDS - started >= KEYCLOAK_START_TIMEOUT)); then
      [[ -n "${progress}" ]] && printf '\n' >&2
      error "Keycloak is not ready after ${KEYCLOAK_START_TIMEOUT} s; its last log lines:"
      "${ENGINE}" logs --tail 40 "${KEYCLOAK_CONTAINER}" >&2 2>&1 || true
      die "timed out waiting for ${url} (raise KEYCLOAK_START_TIMEOUT on a slow machine)"
    fi
    if [[ -n "${progress}" ]]; then
      printf '\r  starting Keycloak ... %3d s' "$((SECONDS - started))" >&2
    fi
    sleep 2
  done
}

# 8. Where it answers, and how to stop it.
summary() {
  cat <<EOF
INFO  Keycloak ${KEYCLOAK_IMAGE##*:} is running in container ${KEYCLOAK_CONTAINER} (${ENGINE})
      realm issuer:   ${ISSUER}
      discovery:      ${ISSUER}/.well-known/openid-configuration
      admin console:  ${PROVIDER_URL}/admin/  (bootstrap admin: ${KC_BOOTSTRAP_ADMIN_USERNAME})
      health:         https://localhost:${MANAGEMENT_PORT}/health/ready
      try:            curl --cacert certs/ca.pem ${ISSUER}/.well-known/openid-configuration
      logs:           ${ENGINE} logs -f ${KEYCLOAK_CONTAINER}
      stop:           ${SCRIPT_DIR}/stop.sh
EOF
}

main() {
  case "${1:-}" in
  --check-engine)
    if detect_engine; then
      echo "${ENGINE}"
      exit 0
    fi
    error "no container engine answered (tried: ${CONTAINER_ENGINE:-docker podman})"
    exit 1
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  "") ;;
  *) die "unknown argument: $1 (try --help)" ;;
  esac

  require_engine
  require_keycloak_files
  check_free
  ensure_image
  create_container
  copy_files
  start_and_wait
  summary
}

main "$@"
