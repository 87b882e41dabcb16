#!/usr/bin/env bash
# Helpers the playground's scripts share, sourced after scripts/env.sh: their messages, the
# usage text read from a script's own header, the files Keycloak needs, and a busy port.
# shellcheck disable=SC2034  # sourced

info() { printf 'INFO  %s\n' "$*"; }
error() { printf 'ERROR %s\n' "$*" >&2; }
# On a terminal (and unless NO_COLOR is set), the labels stand out: INFO bold, ERROR red.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  info() { printf '\033[1mINFO\033[0m  %s\n' "$*"; }
fi
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  error() { printf '\033[31mERROR\033[0m %s\n' "$*" >&2; }
fi
die() {
  error "$@"
  exit 1
}

# FILE's header comment, without the leading '# ': a script's --help. The header is every
# comment line after the shebang up to the first line that is not a comment; shellcheck
# directives are left out. (Further arguments, a line range formerly, are ignored.)
print_header() {
  awk 'NR == 1 && /^#!/ { next }
       !/^#/ { exit }
       /^# shellcheck / { next }
       { sub(/^# ?/, ""); print }' "$1"
}

# Whether something listens on 127.0.0.1:PORT (bash's /dev/tcp: a successful connect).
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The files every way of running Keycloak needs: the dev PKI's server certificate, key and CA
# (CERTS_DIR), the realm (REALM_FILE) and the server options (KEYCLOAK_CONF), with the fix.
require_keycloak_files() {
  local missing=() file
  for file in "${CERTS_DIR}/oauth2-provider.pem" "${CERTS_DIR}/oauth2-provider.key.pem" "${CERTS_DIR}/ca.pem"; do
    [[ -r "${file}" ]] || missing+=("${file}")
  done
  if ((${#missing[@]} > 0)); then
    die "certificates missing or unreadable: ${missing[*]}. Generate the dev PKI first: cargo run -p client -- certs"
  fi
  [[ -r "${REALM_FILE}" ]] || die "realm file missing: ${REALM_FILE} (it is part of the repository; restore it with git)."
  [[ -r "${KEYCLOAK_CONF}" ]] || die "Keycloak options missing: ${KEYCLOAK_CONF} (part of the repository)."
}

# --- Keycloak's build-time options and container engines (keycloak-native.sh, keycloak-image.sh,
# keycloak-container.sh, keycloak.sh) ------------------------------------------------------

# The build-time options set through the environment, one `--option=value` per line, sorted:
# KC_SPI_X509CERT_LOOKUP__PROVIDER=nginx -> --spi-x509cert-lookup--provider=nginx. Keycloak
# fixes these in its build step (with keycloak.conf's db and health-enabled), so each set of
# them needs its own build; the others (KC_HTTPS_PORT, ...) are read at every start.
KEYCLOAK_BUILD_ENV=(KC_SPI_X509CERT_LOOKUP__PROVIDER KC_DB KC_FEATURES KC_FEATURES_DISABLED KC_CACHE KC_METRICS_ENABLED)
keycloak_build_options() {
  local name option
  for name in "${KEYCLOAK_BUILD_ENV[@]}"; do
    [[ -n "${!name:-}" ]] || continue
    option="${name#KC_}"
    option="${option//__/--}"
    option="${option//_/-}"
    printf -- '--%s=%s\n' "${option,,}" "${!name}"
  done | sort
}

# A short key for one build: the pinned version, keycloak.conf, the build-time options and
# any further files given (the image recipe). Same inputs, same key; any change, a new build.
keycloak_build_key() {
  {
    printf 'keycloak %s\n' "${KEYCLOAK_VERSION}"
    keycloak_build_options
    cat "${PLAYBOOK_ROOT}/oauth2-provider/keycloak.conf" "$@"
  } | sha256sum | cut -c1-12
}

# Runs "$@" for at most $1 seconds where GNU timeout exists (stock macOS has none).
with_timeout() {
  local secs=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "${secs}" "$@"
  else
    "$@"
  fi
}

# The container engine to use: $CONTAINER_ENGINE if set, else docker, then podman, the first
# that answers `info` (a docker CLI whose daemon is not running does not count). Prints it.
container_engine() {
  local candidates=(docker podman) engine
  [[ -z "${CONTAINER_ENGINE:-}" ]] || candidates=("${CONTAINER_ENGINE}")
  for engine in "${candidates[@]}"; do
    if command -v "${engine}" >/dev/null 2>&1 && with_timeout 10 "${engine}" info >/dev/null 2>&1; then
      printf '%s' "${engine}"
      return 0
    fi
  done
  return 1
}

# Why no engine answers, in plain words (for messages).
no_engine_reason() {
  if [[ -n "${CONTAINER_ENGINE:-}" ]]; then
    printf "CONTAINER_ENGINE=%s, but '%s info' failed" "${CONTAINER_ENGINE}" "${CONTAINER_ENGINE}"
    return
  fi
  local found=() engine
  for engine in docker podman; do
    command -v "${engine}" >/dev/null 2>&1 && found+=("${engine}")
  done
  if ((${#found[@]} == 0)); then
    printf 'neither docker nor podman is installed'
  else
    printf "'%s info' failed (daemon not running? DOCKER_HOST=%s; scripts/container-engines.sh start)" "${found[*]}" "${DOCKER_HOST:-unset}"
  fi
}

# Every container, network and volume this project creates carries this label (value: the run,
# e.g. CI's); scripts/container-engines.sh sweep removes them all.
PLAYBOOK_LABEL="org.oauth2-playbook.run"
PLAYBOOK_RUN="${PLAYBOOK_RUN:-manual}"

# Waits until Keycloak's https://localhost:PORT/health/ready answers 200, verified against
# CA (never -k), for at most TIMEOUT seconds. ALIVE and LOG name commands (functions): ALIVE
# exits 0 while Keycloak still runs (one that exited ends the wait at once), LOG prints its
# last lines; LAST (optional) prints its last log line, shown on a terminal beside the
# seconds. Returns 0 when ready; else prints why and the log, and returns 1.
# Used by keycloak-native.sh, keycloak-container.sh and test-containers.sh's compose step.
wait_ready_with_log() {
  local port=$1 ca=$2 timeout=$3 alive=$4 log=$5 last=${6:-}
  local url="https://localhost:${port}/health/ready" started=${SECONDS} progress="" why=""
  [[ -t 2 ]] && progress=1
  info "waiting for ${url} (up to ${timeout} s)"
  while true; do
    if curl --silent --fail --output /dev/null --max-time 5 --cacert "${ca}" "${url}"; then
      [[ -z "${progress}" ]] || printf '\n' >&2
      info "Keycloak is ready after $((SECONDS - started)) s"
      return 0
    fi
    if ! "${alive}"; then
      why="Keycloak exited during startup"
    elif ((SECONDS - started >= timeout)); then
      why="Keycloak is not ready after ${timeout} s (raise KEYCLOAK_START_TIMEOUT on a slow machine)"
    fi
    if [[ -n "${why}" ]]; then
      [[ -z "${progress}" ]] || printf '\n' >&2
      error "${why}; its last log lines:"
      "${log}" >&2 2>&1 || true
      return 1
    fi
    if [[ -n "${progress}" ]]; then
      printf '\r  starting Keycloak ... %3d s  %s' "$((SECONDS - started))" \
        "$([[ -z "${last}" ]] || "${last}" 2>/dev/null | sed 's/^[0-9-]* [0-9:,]* //' | cut -c1-60)" >&2
    elif (((SECONDS - started) % 10 == 0)); then
      info "  still starting ($((SECONDS - started)) s)"
    fi
    sleep 1
  done
}

# --- jwtrealm branch (issue 26) ---------------------------------------------------------
# The private_key_jwt client's certificate as the shipped realm file's
# ${PLAYBOOK_JWT_CLIENT_CERT:} placeholder takes it at import: base64 DER (the body of the
# first certificate in CERTS_DIR/JWT_CERT_FILE), or the caller's own PLAYBOOK_JWT_CLIENT_CERT
# when set. Empty when neither: Keycloak then imports the client without a certificate, and
# its token requests get 400 invalid_client "Unable to load public key" (measured on 26.7.5).
jwt_client_cert() {
  local preset="${!JWT_CLIENT_CERT_ENV:-}" file="${CERTS_DIR}/${JWT_CERT_FILE}"
  if [[ -n "${preset}" ]]; then
    printf '%s' "${preset}"
  elif [[ -r "${file}" ]]; then
    awk '/-----BEGIN CERTIFICATE-----/ { on = 1; next } /-----END CERTIFICATE-----/ { exit } on' "${file}" | tr -d '\r\n'
  fi
}
