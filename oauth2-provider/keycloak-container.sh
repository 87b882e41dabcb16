#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Runs the real Keycloak for the playground in a container (Docker or Podman, whichever
# answers; CONTAINER_ENGINE chooses), with the dev PKI, mTLS requested, and the realm the
# embedded provider imports. The driver behind oauth2-provider/keycloak.sh for `container`.
#
#   oauth2-provider/keycloak-container.sh start   start Keycloak on https://localhost:9443, wait
#                                                 until /health/ready answers
#   oauth2-provider/keycloak-container.sh stop    stop and remove the container (exit 0 if none)
#   oauth2-provider/keycloak-container.sh status  exit 0 and one line when it runs, else 3
#   oauth2-provider/keycloak-container.sh check   print the engine and the image it would use
#                                                 (exit 0), or exit 1 with why not; starts nothing
#
# The image: KEYCLOAK_IMAGE when set (e.g. the official quay.io/keycloak/keycloak:<pin>,
# pulled when missing; it runs Keycloak's build step at each start); else the playground's own,
# built here once from the pinned distribution (oauth2-provider/keycloak-image.sh; no
# registry), which starts with `start --optimized`. The network: KEYCLOAK_NETWORK=published
# (ports published on 127.0.0.1) or host (host networking, Keycloak bound to 127.0.0.1 on
# PROVIDER_PORT and MANAGEMENT_PORT: no bridge network at all; CI uses it); unset, host when
# the engine is a dockerd without a bridge network (scripts/container-engines.sh), else published.
# Every container is labelled org.oauth2-playbook.run (scripts/container-engines.sh sweep).
# The server options live in oauth2-provider/keycloak.conf (shared with compose and the
# testcontainers tests). On any failure it removes the container it created.
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
# Certificates trusted one by one (KC_TRUSTSTORE_PATHS from the caller: lab 7) go here.
CONTAINER_EXTRA_TRUST="/opt/keycloak/conf/playbook/trusted"
# One container per instance: the playground's keeps the plain name.
CONTAINER="${KEYCLOAK_CONTAINER}"
[[ "${KEYCLOAK_INSTANCE}" == playground ]] || CONTAINER="${KEYCLOAK_CONTAINER}-${KEYCLOAK_INSTANCE}"
STOP_CMD="${SCRIPT_DIR}/keycloak.sh stop container"
[[ "${KEYCLOAK_INSTANCE}" == playground ]] || STOP_CMD="KEYCLOAK_INSTANCE=${KEYCLOAK_INSTANCE} ${STOP_CMD}"

ENGINE=""
IMAGE=""
OPTIMIZED=()
CREATED=""
STAGING=""
TRUSTSTORE=""

usage() {
  print_header "${BASH_SOURCE[0]}" 3 22
}

# Removes what this run created unless it succeeded; runs on every exit (also Ctrl-C).
cleanup() {
  local status=$?
  if [[ -n "${STAGING}" ]]; then
    rm -rf -- "${STAGING}"
  fi
  if [[ -n "${CREATED}" && ${status} -ne 0 ]]; then
    info "removing the container ${CONTAINER} this run created"
    "${ENGINE}" rm --force --volumes "${CONTAINER}" >/dev/null 2>&1 || true
  fi
  exit "${status}"
}

require_engine() {
  ENGINE="$(container_engine)" ||
    die "no container engine answered: $(no_engine_reason). Start one, or run Keycloak natively (KEYCLOAK_RUNNER=native), or use the embedded provider."
  info "container engine: ${ENGINE}"
}

# Refuse to start over an existing container or a busy port, with the way out.
check_free() {
  if "${ENGINE}" container inspect "${CONTAINER}" >/dev/null 2>&1; then
    die "a container named ${CONTAINER} already exists (Keycloak already started?). Stop it with: ${STOP_CMD}"
  fi
  local port
  for port in "${PROVIDER_PORT}" "${MANAGEMENT_PORT}"; do
    if port_in_use "${port}"; then
      die "port ${port} on 127.0.0.1 is in use (the embedded provider, or another Keycloak?). Stop whatever listens there (e.g. 'ss -ltnp | grep :${port}'), or set PROVIDER_PORT / MANAGEMENT_PORT."
    fi
  done
}

# The image: KEYCLOAK_IMAGE (pulled once when missing), else the local build (built once).
ensure_image() {
  if [[ -n "${KEYCLOAK_IMAGE}" ]]; then
    IMAGE="${KEYCLOAK_IMAGE}"
    if "${ENGINE}" image inspect "${IMAGE}" >/dev/null 2>&1; then
      info "image ${IMAGE} is present"
      return 0
    fi
    info "pulling ${IMAGE} (about 450 MB, once)"
    "${ENGINE}" pull "${IMAGE}" ||
      die "could not pull ${IMAGE}: check the network, a proxy, or registry access. Unset KEYCLOAK_IMAGE to build the playground's own image from the pinned distribution instead (no registry needed)."
    return 0
  fi
  IMAGE="$(CONTAINER_ENGINE="${ENGINE}" "${SCRIPT_DIR}/keycloak-image.sh" name)"
  if ! "${ENGINE}" image inspect "${IMAGE}" >/dev/null 2>&1; then
    info "the image ${IMAGE} is not built yet: building it from the pinned distribution (once; a few minutes)"
    local started=${SECONDS}
    CONTAINER_ENGINE="${ENGINE}" "${SCRIPT_DIR}/keycloak-image.sh" build ||
      die "could not build ${IMAGE} (its message is above)"
    info "image built in $((SECONDS - started)) s"
  fi
  # Built for exactly these build-time options: Keycloak skips its build step.
  OPTIMIZED=(--optimized)
}

# Create (not start) the container. `start`, not `start-dev`: production mode serves HTTPS
# only and insists on an explicit hostname, which we want: --hostname pins every URL Keycloak
# emits, so the tokens' `iss` is exactly playbook::names::ISSUER whatever Host header a client
# sends. Published ports (default) are on 127.0.0.1 only; with KEYCLOAK_NETWORK=host the
# container shares the host's network and Keycloak itself binds 127.0.0.1 and our ports.
# The ulimits: Podman's defaults exceed what some hosts allow (runc then fails to set them).
create_container() {
  local -a network env=()
  if [[ -z "${KEYCLOAK_NETWORK}" ]]; then
    # A dockerd started without a bridge (--bridge=none) has no network named bridge: a
    # published port could not be reached, so share the host's network instead.
    if [[ "$(basename "${ENGINE}")" == docker ]] && ! "${ENGINE}" network inspect bridge >/dev/null 2>&1; then
      KEYCLOAK_NETWORK=host
      info "${ENGINE} has no bridge network: host networking (KEYCLOAK_NETWORK=published|host chooses)"
    else
      KEYCLOAK_NETWORK=published
    fi
  fi
  case "${KEYCLOAK_NETWORK}" in
  published)
    network=(--hostname "${CONTAINER_HOSTNAME:-keycloak}"
      --publish "127.0.0.1:${PROVIDER_PORT}:8443" --publish "127.0.0.1:${MANAGEMENT_PORT}:9000")
    ;;
  host)
    network=(--network host)
    export KC_HTTP_HOST=127.0.0.1 KC_HTTPS_PORT="${PROVIDER_PORT}" KC_HTTP_MANAGEMENT_PORT="${MANAGEMENT_PORT}"
    export KC_CACHE_EMBEDDED_NETWORK_BIND_ADDRESS=127.0.0.1
    env+=(--env KC_HTTP_HOST --env KC_HTTPS_PORT --env KC_HTTP_MANAGEMENT_PORT --env KC_CACHE_EMBEDDED_NETWORK_BIND_ADDRESS)
    ;;
  *) die "KEYCLOAK_NETWORK must be published or host, not '${KEYCLOAK_NETWORK}'" ;;
  esac
  # Values travel through the environment (-e NAME), never on the command line (the password).
  export KC_BOOTSTRAP_ADMIN_USERNAME KC_BOOTSTRAP_ADMIN_PASSWORD JAVA_OPTS_KC_HEAP
  env+=(--env KC_BOOTSTRAP_ADMIN_USERNAME --env KC_BOOTSTRAP_ADMIN_PASSWORD --env JAVA_OPTS_KC_HEAP)
  # The realm file's ${PLAYBOOK_JWT_CLIENT_CERT:}: the private_key_jwt client's certificate.
  export "${JWT_CLIENT_CERT_ENV}=$(jwt_client_cert)"
  env+=(--env "${JWT_CLIENT_CERT_ENV}")
  # The caller's Keycloak options: the build-time ones (the image was built for them) and the
  # SPI and proxy options (e.g. the nginx lookup's header name, the trusted proxy address).
  local name
  for name in "${KEYCLOAK_BUILD_ENV[@]}" $(compgen -e | grep -E '^KC_(SPI|PROXY)_' || true); do
    [[ -z "${!name:-}" ]] || env+=(--env "${name}")
  done
  if [[ -n "${TRUSTSTORE}" ]]; then
    export KC_TRUSTSTORE_PATHS="${TRUSTSTORE}"
    env+=(--env KC_TRUSTSTORE_PATHS)
  fi
  info "creating container ${CONTAINER} from ${IMAGE} (network: ${KEYCLOAK_NETWORK})"
  CREATED=1
  "${ENGINE}" create \
    --name "${CONTAINER}" \
    --label "${PLAYBOOK_LABEL}=${PLAYBOOK_RUN}" \
    --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
    "${network[@]}" "${env[@]}" \
    "${IMAGE}" \
    start "${OPTIMIZED[@]}" --import-realm "--hostname=${PROVIDER_URL}" >/dev/null ||
    die "could not create the container from ${IMAGE} (see the engine's message above)"
}

# The value of an option in keycloak.conf (`option=value` lines): the in-container paths of
# the dev PKI are read from there, so the file stays the one place that names them.
conf_value() {
  local value
  value="$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "${KEYCLOAK_CONF}" | tail -n 1)"
  [[ -n "${value}" ]] || die "${KEYCLOAK_CONF} has no $1= line"
  printf '%s' "${value}"
}

# The files to copy in, as "container path<TAB>host file" lines: the options, the dev PKI, the
# realm, KEYCLOAK_EXTRA_REALMS (':'-separated files or directories, as keycloak-native.sh
# takes them) and, for lab 7, KC_TRUSTSTORE_PATHS (host files, ','-separated), trusted beside
# the dev CA: TRUSTSTORE becomes the in-container list.
files_to_copy() {
  printf '%s\t%s\n' "${CONTAINER_CONF}" "${KEYCLOAK_CONF}" \
    "$(conf_value https-certificate-file)" "${CERTS_DIR}/oauth2-provider.pem" \
    "$(conf_value https-certificate-key-file)" "${CERTS_DIR}/oauth2-provider.key.pem" \
    "$(conf_value truststore-paths)" "${CERTS_DIR}/ca.pem" \
    "${CONTAINER_IMPORT_DIR}/${REALM}-realm.json" "${REALM_FILE}"
  local extra file
  local -a extras=()
  IFS=: read -r -a extras <<<"${KEYCLOAK_EXTRA_REALMS:-}"
  for extra in "${extras[@]}"; do
    for file in "${extra}" "${extra}"/*.json; do
      [[ -f "${file}" ]] && printf '%s\t%s\n' "${CONTAINER_IMPORT_DIR}/$(basename "${file}")" "${file}"
    done
  done
  IFS=, read -r -a extras <<<"${KC_TRUSTSTORE_PATHS:-}"
  for extra in "${extras[@]}"; do
    [[ -n "${extra}" ]] || continue
    [[ -f "${extra}" ]] || die "KC_TRUSTSTORE_PATHS names ${extra}, which is not a readable file"
    printf '%s\t%s\n' "${CONTAINER_EXTRA_TRUST}/$(basename "${extra}")" "${extra}"
  done
  return 0
}

# Copy the files into the container. A copy, not a bind mount: Keycloak runs as uid 1000 and
# our keys are 0600, owned by you; a bind mount keeps that owner and mode (unreadable). The
# files go in as one tar stream with mode 0644, owned by root (what testcontainers does in the
# tests). Only file entries, no directory entries: the existing /opt/keycloak tree keeps its owner.
copy_files() {
  STAGING="$(mktemp -d)" # mode 0700: the 0644 copies below stay private to you
  local target source entry
  local -a entries=()
  while IFS=$'\t' read -r target source; do
    entry="${target#/}"
    mkdir -p "${STAGING}/$(dirname "${entry}")"
    cp "${source}" "${STAGING}/${entry}"
    chmod 0644 "${STAGING}/${entry}"
    entries+=("${entry}")
  done <<<"$1"
  info "copying keycloak.conf, the dev PKI and the realm into the container"
  # COPYFILE_DISABLE: macOS tar would otherwise add ._* metadata files (a ._*.json would be
  # read by --import-realm).
  COPYFILE_DISABLE=1 tar -C "${STAGING}" -cf - "${entries[@]}" | "${ENGINE}" cp - "${CONTAINER}:/" ||
    die "could not copy the files into ${CONTAINER}"
  rm -rf -- "${STAGING}"
  STAGING=""
}

# Start it and wait until /health/ready answers 200 on the management port, verifying the
# server certificate against our CA (never -k). A container that exits ends the wait early.
container_running() {
  [[ "$("${ENGINE}" container inspect --format '{{.State.Running}}' "${CONTAINER}" 2>/dev/null)" == true ]]
}
container_log() { "${ENGINE}" logs --tail "${1:-40}" "${CONTAINER}" 2>&1; }
container_last() { container_log 1; }

start_and_wait() {
  "${ENGINE}" start "${CONTAINER}" >/dev/null || die "could not start ${CONTAINER}"
  wait_ready_with_log "${MANAGEMENT_PORT}" "${CERTS_DIR}/ca.pem" "${KEYCLOAK_START_TIMEOUT}" \
    container_running container_log container_last || die "Keycloak did not start (see the log above)"
}

summary() {
  cat <<EOF
INFO  Keycloak ${KEYCLOAK_VERSION} is running in container ${CONTAINER} (${ENGINE}, ${IMAGE})
      realm issuer:   ${ISSUER}
      discovery:      ${ISSUER}/.well-known/openid-configuration
      admin console:  ${PROVIDER_URL}/admin/  (bootstrap admin: ${KC_BOOTSTRAP_ADMIN_USERNAME})
      health:         https://localhost:${MANAGEMENT_PORT}/health/ready
      try:            curl --cacert ${CERTS_DIR}/ca.pem ${ISSUER}/.well-known/openid-configuration
      logs:           ${ENGINE} logs -f ${CONTAINER}
      stop:           ${STOP_CMD}
EOF
}

cmd_start() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  command -v curl >/dev/null 2>&1 || die "curl is needed to wait for Keycloak's health endpoint; install it"
  require_engine
  require_keycloak_files
  check_free
  ensure_image
  local listing target
  listing="$(files_to_copy)" # a bad KC_TRUSTSTORE_PATHS is refused before anything is created
  # Lab 7's certificates, trusted beside the dev CA: the in-container list.
  while IFS=$'\t' read -r target _; do
    [[ "${target}" != "${CONTAINER_EXTRA_TRUST}"/* ]] || TRUSTSTORE+="${TRUSTSTORE:+,}${target}"
  done <<<"${listing}"
  [[ -z "${TRUSTSTORE}" ]] || TRUSTSTORE="$(conf_value truststore-paths),${TRUSTSTORE}"
  create_container
  copy_files "${listing}"
  start_and_wait
  summary
  CREATED="" # started and ready: the exit trap leaves it running
}

# The engine that holds our container: CONTAINER_ENGINE if set, else docker, then podman
# (either may have started it). Prints it; exit 1 when none does.
engine_holding() {
  local engine
  for engine in ${CONTAINER_ENGINE:-docker podman}; do
    if command -v "${engine}" >/dev/null 2>&1 && with_timeout 10 "${engine}" container inspect "${CONTAINER}" >/dev/null 2>&1; then
      printf '%s' "${engine}"
      return 0
    fi
  done
  return 1
}

cmd_stop() {
  if ! ENGINE="$(engine_holding)"; then
    info "no container named ${CONTAINER} (${CONTAINER_ENGINE:-docker, podman}): nothing to stop"
    return 0
  fi
  info "stopping ${CONTAINER} (${ENGINE})"
  # Keycloak shuts down cleanly on SIGTERM within a few seconds; 20 s before SIGKILL.
  "${ENGINE}" stop --time 20 "${CONTAINER}" >/dev/null || true
  "${ENGINE}" rm --force --volumes "${CONTAINER}" >/dev/null
  info "removed ${CONTAINER}"
}

cmd_status() {
  if ENGINE="$(engine_holding)" &&
    [[ "$("${ENGINE}" container inspect --format '{{.State.Running}}' "${CONTAINER}" 2>/dev/null)" == "true" ]]; then
    info "Keycloak is running in container ${CONTAINER} (${ENGINE}) on https://localhost:${PROVIDER_PORT}"
    return 0
  fi
  info "no running Keycloak container ${CONTAINER}"
  return 3
}

# What `start` would use, without starting, building or pulling anything.
cmd_check() {
  ENGINE="$(container_engine)" || die "no container engine answers: $(no_engine_reason)"
  if [[ -n "${KEYCLOAK_IMAGE}" ]]; then
    if "${ENGINE}" image inspect "${KEYCLOAK_IMAGE}" >/dev/null 2>&1; then
      echo "${ENGINE} answers; KEYCLOAK_IMAGE=${KEYCLOAK_IMAGE} is present"
    else
      echo "${ENGINE} answers; KEYCLOAK_IMAGE=${KEYCLOAK_IMAGE} is pulled at the start"
    fi
    return 0
  fi
  local image
  image="$(CONTAINER_ENGINE="${ENGINE}" "${SCRIPT_DIR}/keycloak-image.sh" check)" || exit 1
  echo "${ENGINE} answers; ${image}"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
check) cmd_check ;;
-h | --help | help) usage ;;
*) die "unknown or missing command '${1:-}': start, stop, status or check (try --help)" ;;
esac
