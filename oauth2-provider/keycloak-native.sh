#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Runs the real Keycloak for the playground as a native process: Keycloak's own server
# distribution from Maven Central, on Java, with no container engine. Same pinned version,
# same keycloak.conf, same dev PKI, same realm file and same ports as oauth2-provider/start.sh.
#
#   oauth2-provider/keycloak-native.sh start    fetch (once), unpack (once), start, wait until ready
#   oauth2-provider/keycloak-native.sh stop     stop it (SIGTERM to its process group, then SIGKILL)
#   oauth2-provider/keycloak-native.sh status   say whether it runs (exit 0) or not (exit 3)
#   oauth2-provider/keycloak-native.sh fetch    only fetch and unpack the distribution
#   oauth2-provider/keycloak-native.sh check-dist  whether the distribution is cached or Maven
#                                               can fetch it (exit 0, or 1 with the fix)
#   oauth2-provider/keycloak-native.sh check    whether it can run here: Java 17+, and the
#                                               distribution cached or Maven to fetch it
#                                               (exit 0, or 1 with the fix); starts nothing
#
# Needs Java 17 or newer (JAVA_HOME, else java on the PATH) and, the first time, Maven (mvn)
# to fetch org.keycloak:keycloak-quarkus-dist:<version>:zip, checksum-verified, into Maven's
# cache (~/.m2). The unpacked copy lives outside the repository, under KEYCLOAK_CACHE_DIR
# (default ~/.cache/oauth2-playbook/keycloak). Keycloak's build step runs once per pinned
# version and set of build-time options (keycloak.conf, KC_SPI_X509CERT_LOOKUP__PROVIDER, ...:
# scripts/lib.sh keycloak_build_key), into builds/<version>-<key>, with (once, by `kc.sh
# export`) a database template (schema and master realm) and a class-data archive for the JVM;
# every start after that is `start --optimized` (JVM options: KEYCLOAK_JAVA_OPTS). Every start
# begins with a fresh database (a copy of the template; KEYCLOAK_DB_TEMPLATE=0: empty), as a
# new container does: the realm file is imported anew, its role mappings and keys are new.
# Several instances can run side by side (KEYCLOAK_INSTANCE names one; the tests use their
# own, on other ports). Settings come from scripts/env.sh and scripts/keycloak.env.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${SCRIPT_DIR}/../scripts/env.sh"
# shellcheck source=scripts/keycloak.env
source "${SCRIPT_DIR}/../scripts/keycloak.env"
# shellcheck source=scripts/lib.sh
source "${SCRIPT_DIR}/../scripts/lib.sh"

KEYCLOAK_CONF="${SCRIPT_DIR}/keycloak.conf"
DIST_ARTIFACT="org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip"
M2_REPO="${MAVEN_REPO_LOCAL:-${HOME}/.m2/repository}"
DIST_ZIP="${M2_REPO}/org/keycloak/keycloak-quarkus-dist/${KEYCLOAK_VERSION}/keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip"
DIST_DIR="${KEYCLOAK_CACHE_DIR}/dist/keycloak-${KEYCLOAK_VERSION}"
INSTANCE_DIR="${KEYCLOAK_CACHE_DIR}/instances/${KEYCLOAK_INSTANCE}"
HOME_DIR="${INSTANCE_DIR}/keycloak-${KEYCLOAK_VERSION}"
# shellcheck disable=SC2119  # no extra files: the native build hashes keycloak.conf and the options
BUILD_KEY="$(keycloak_build_key)"
BUILD_DIR="${KEYCLOAK_CACHE_DIR}/builds/${KEYCLOAK_VERSION}-${BUILD_KEY}"
PID_FILE="${INSTANCE_DIR}/keycloak.pid"
LOG_FILE="${INSTANCE_DIR}/keycloak.log"
STOP_CMD="${SCRIPT_DIR}/keycloak-native.sh stop"
if [[ "${KEYCLOAK_INSTANCE}" != playground ]]; then
  STOP_CMD="KEYCLOAK_INSTANCE=${KEYCLOAK_INSTANCE} ${STOP_CMD}"
fi

STARTED_PID=""


usage() {
  print_header "${BASH_SOURCE[0]}" 3 26
}

# Ends a Keycloak this run started if the start did not succeed: nothing half-started stays.
cleanup() {
  local status=$?
  if [[ -n "${STARTED_PID}" && ${status} -ne 0 ]]; then
    info "stopping the Keycloak this run started (pid ${STARTED_PID})"
    stop_group "${STARTED_PID}" >/dev/null || true
    rm -f -- "${PID_FILE}"
  fi
  exit "${status}"
}

# --- Java -------------------------------------------------------------------------------

# The java binary kc.sh will run: $JAVA, else $JAVA_HOME/bin/java, else java on the PATH.
java_binary() {
  if [[ -n "${JAVA:-}" ]]; then
    printf '%s' "${JAVA}"
  elif [[ -n "${JAVA_HOME:-}" ]]; then
    printf '%s' "${JAVA_HOME}/bin/java"
  else
    command -v java || true
  fi
}

# The feature release of a `java -version` banner: `version "17.0.15"` -> 17, "1.8.0" -> 8.
java_major() {
  local banner version
  banner="$("$1" -version 2>&1 | head -n 1)" || return 1
  version="$(printf '%s' "${banner}" | sed -n 's/.*version "\([^"]*\)".*/\1/p')"
  [[ -n "${version}" ]] || return 1
  version="${version#1.}"
  printf '%s' "${version%%[.+-]*}"
}

check_java() {
  local java major
  java="$(java_binary)"
  if [[ -z "${java}" || ! -x "${java}" ]]; then
    die "no Java found (JAVA_HOME=${JAVA_HOME:-unset}, and no java on the PATH). Keycloak ${KEYCLOAK_VERSION} needs OpenJDK 17, 21 or 25: install one (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME. Without Java, use the embedded provider (cargo run -p oauth2-provider)."
  fi
  if ! major="$(java_major "${java}")" || [[ ! "${major}" =~ ^[0-9]+$ ]]; then
    die "could not read the version of ${java} ('${java} -version' failed). Set JAVA_HOME to a JDK 17 or newer."
  fi
  if ((major < 17)); then
    die "${java} is Java ${major}; Keycloak ${KEYCLOAK_VERSION} needs 17 or newer (21 or 25 preferred). Set JAVA_HOME to a newer JDK."
  fi
  info "Java ${major}: ${java}"
}

# --- the distribution -------------------------------------------------------------------

# Maven's own -C (strict checksums) verifies the download against the .sha1 Maven Central
# serves beside it; this re-checks the cached zip, so a zip damaged later is never unpacked.
verify_zip() {
  local sum_file="${DIST_ZIP}.sha1" expected actual
  [[ -r "${sum_file}" ]] || return 0
  expected="$(tr -d ' \n\r' <"${sum_file}" | cut -c1-40)"
  actual="$(sha1sum "${DIST_ZIP}" | cut -d' ' -f1)"
  if [[ "${expected}" != "${actual}" ]]; then
    die "checksum mismatch for ${DIST_ZIP}: SHA-1 ${actual}, Maven Central says ${expected}. Delete $(dirname "${DIST_ZIP}") and run again to download it anew."
  fi
}

require_maven() {
  if ! command -v mvn >/dev/null 2>&1; then
    die "Keycloak ${KEYCLOAK_VERSION} is not cached (${DIST_ZIP}) and Maven is not installed to fetch it. Install Maven (Debian: apt-get install maven), or put the zip there by hand, then run again."
  fi
}

download() {
  require_maven
  local log
  log="$(mktemp)"
  info "fetching ${DIST_ARTIFACT} from Maven Central (about 170 MB, once; checksums enforced)"
  # -C: fail on a checksum mismatch (Maven 3 only warns by default). transitive=false: the
  # zip alone, not the distribution's dependency tree. Maven 3 does not read
  # MAVEN_REPO_LOCAL itself: passed on, it makes Maven download where this script looks.
  local -a repo=()
  [[ -n "${MAVEN_REPO_LOCAL:-}" ]] && repo=("-Dmaven.repo.local=${MAVEN_REPO_LOCAL}")
  if ! mvn -B -q -C "${repo[@]}" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
    "-Dartifact=${DIST_ARTIFACT}" -Dtransitive=false >"${log}" 2>&1; then
    error "Maven could not fetch ${DIST_ARTIFACT}; its last lines:"
    grep -E 'ERROR|Could not|checksum' "${log}" | head -n 8 >&2 || tail -n 8 "${log}" >&2
    rm -f -- "${log}"
    die "download refused or failed. Check that Maven Central is reachable (a proxy goes in ~/.m2/settings.xml) and that ${KEYCLOAK_VERSION} is published; the version is pinned in scripts/keycloak.env (KEYCLOAK_VERSION)."
  fi
  rm -f -- "${log}"
  [[ -r "${DIST_ZIP}" ]] || die "Maven reported success but ${DIST_ZIP} is missing"
}

unpack() {
  local staging
  mkdir -p "$(dirname "${DIST_DIR}")"
  staging="$(mktemp -d "${DIST_DIR}.unpacking.XXXXXX")"
  info "unpacking into ${DIST_DIR} (once)"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "${DIST_ZIP}" -d "${staging}" || {
      rm -rf -- "${staging}"
      die "could not unzip ${DIST_ZIP}"
    }
  else
    # The JDK's jar tool unpacks zips too, but drops the executable bits.
    (cd "${staging}" && "$(dirname "$(java_binary)")/jar" xf "${DIST_ZIP}") || {
      rm -rf -- "${staging}"
      die "could not unpack ${DIST_ZIP} (no unzip, and the JDK's jar failed). Install unzip."
    }
    chmod +x "${staging}/keycloak-${KEYCLOAK_VERSION}"/bin/*.sh
  fi
  [[ -x "${staging}/keycloak-${KEYCLOAK_VERSION}/bin/kc.sh" ]] || {
    rm -rf -- "${staging}"
    die "${DIST_ZIP} has no keycloak-${KEYCLOAK_VERSION}/bin/kc.sh: not a Keycloak distribution? Delete it and run again."
  }
  # Atomic: a half-unpacked tree never carries the final name.
  mv "${staging}/keycloak-${KEYCLOAK_VERSION}" "${DIST_DIR}"
  rm -rf -- "${staging}"
}

ensure_distribution() {
  if [[ -x "${DIST_DIR}/bin/kc.sh" ]]; then
    info "Keycloak ${KEYCLOAK_VERSION} distribution: ${DIST_DIR}"
    return 0
  fi
  [[ -r "${DIST_ZIP}" ]] || download
  verify_zip
  unpack
}

# Keycloak's build step, once per pinned version and set of build-time options: a copy of the
# distribution with `kc.sh build` run in it, under builds/<version>-<key>. Built in a staging
# copy and renamed, so a half-built tree never carries the final name (two instances starting
# at once may both build; the first rename wins).
ensure_build() {
  if [[ -e "${BUILD_DIR}/.built" ]]; then
    return 0
  fi
  mkdir -p "$(dirname "${BUILD_DIR}")"
  local staging started=${SECONDS} options
  staging="$(mktemp -d "${BUILD_DIR}.building.XXXXXX")"
  cp -a "${DIST_DIR}/." "${staging}/"
  options="$(keycloak_build_options | tr '\n' ' ')"
  info "running Keycloak's build step once for these build-time options (keycloak.conf ${options}): about 30 s"
  # shellcheck disable=SC2046  # one option per line, no spaces inside
  if ! env "KC_CONFIG_FILE=${KEYCLOAK_CONF}" "JAVA=$(java_binary)" "${staging}/bin/kc.sh" build $(keycloak_build_options) >"${staging}/build.log" 2>&1; then
    error "Keycloak's build step failed; the last lines of its output:"
    tail -n 20 "${staging}/build.log" >&2
    rm -rf -- "${staging}"
    die "kc.sh build failed (see above)"
  fi
  printf '%s\n' "${BUILD_KEY}" >"${staging}/.built"
  mv -T "${staging}" "${BUILD_DIR}" 2>/dev/null || rm -rf -- "${staging}"
  info "built in $((SECONDS - started)) s: ${BUILD_DIR}"
}

# The instance's own copy of the built distribution: Keycloak writes its database and
# transaction logs inside its home, so two instances cannot share one. Its lib/ (170 MB,
# never written by an `--optimized` start) is a symbolic link to the build's: a quicker copy,
# and every instance loads the same jar files, so one class-data archive serves them all.
# Copied again only when the build it came from changed.
ensure_instance_home() {
  if [[ -x "${HOME_DIR}/bin/kc.sh" && -L "${HOME_DIR}/lib" && "$(cat "${HOME_DIR}/.built" 2>/dev/null)" == "${BUILD_KEY}" ]]; then
    return 0
  fi
  rm -rf -- "${HOME_DIR}"
  mkdir -p "${INSTANCE_DIR}"
  local staging entry
  staging="$(mktemp -d "${HOME_DIR}.copying.XXXXXX")"
  for entry in "${BUILD_DIR}"/* "${BUILD_DIR}/.built"; do
    case "$(basename "${entry}")" in
    lib) ln -s "${entry}" "${staging}/lib" ;;
    db-template | *.jsa) ;;
    *) cp -a "${entry}" "${staging}/" ;;
    esac
  done
  mv "${staging}" "${HOME_DIR}"
}

# The JVM's class-data archive (AppCDS, Java 13+: -XX:ArchiveClassesAtExit, then
# -XX:SharedArchiveFile): the classes Keycloak loads while it starts, parsed and verified
# once, at the run that makes the database template, and mapped by every later start (about a
# third less CPU until ready, measured in BENCHMARKS.md). One per build and Java (the JVM
# ignores an archive another Java made, with a warning, and starts without it).
# Set by cmd_start once Java is checked: keycloak-<hash of `java -version`>.jsa in the build.
CDS_ARCHIVE=""
set_cds_archive() {
  CDS_ARCHIVE="${BUILD_DIR}/keycloak-$("$(java_binary)" -version 2>&1 | sha256sum | cut -c1-8).jsa"
}

# The JVM options of every start: KEYCLOAK_JAVA_OPTS (scripts/keycloak.env), the archive when
# there is one, then the caller's JAVA_OPTS_APPEND.
java_opts_append() {
  local opts="${KEYCLOAK_JAVA_OPTS}"
  [[ -z "${CDS_ARCHIVE}" || ! -s "${CDS_ARCHIVE}" ]] || opts+=" -XX:SharedArchiveFile=${CDS_ARCHIVE}"
  printf '%s' "${opts}${JAVA_OPTS_APPEND:+ ${JAVA_OPTS_APPEND}}"
}

# The database template: Keycloak's schema and its master realm in an H2 file, made once per
# build (`kc.sh export` runs Keycloak without its HTTP server: it creates both on the empty
# database, exports master to a scratch directory and exits) and copied into every start's
# fresh data/. A start then skips the schema (Liquibase: about 4 s) and the master realm
# (about 1.5 s); the playground's realm is still imported anew. Keycloak makes the bootstrap
# admin only together with the master realm, so the template holds it too: one template per
# KC_BOOTSTRAP_ADMIN_USERNAME and _PASSWORD (named by a hash of both and the build key, never
# the password itself). The master realm's keys are then the same in every start of one build.
# Only for the H2 file database (db=dev-file); KEYCLOAK_DB_TEMPLATE=0 turns it off.
TEMPLATE="${BUILD_DIR}/db-template/$(printf '%s\n%s\n%s\n' "${BUILD_KEY}" "${KC_BOOTSTRAP_ADMIN_USERNAME}" "${KC_BOOTSTRAP_ADMIN_PASSWORD}" | sha256sum | cut -c1-12)/keycloakdb.mv.db"

uses_template() {
  [[ "${KEYCLOAK_DB_TEMPLATE:-1}" != 0 ]] || return 1
  local db="${KC_DB:-}"
  [[ -n "${db}" ]] || db="$(sed -n 's/^[[:space:]]*db[[:space:]]*=[[:space:]]*//p' "${KEYCLOAK_CONF}" | tail -n 1)"
  [[ "${db:-dev-file}" == dev-file ]]
}

ensure_template() {
  uses_template || return 0
  # Made again when the archive is missing (another Java) and was not refused before (.none).
  [[ -s "${TEMPLATE}" ]] && [[ -s "${CDS_ARCHIVE}" || -e "${CDS_ARCHIVE}.none" ]] && return 0
  local started=${SECONDS} log="${INSTANCE_DIR}/db-template.log" scratch
  info "making the database template and class-data archive once for this build and admin (schema, master realm; about 30 s)"
  rm -rf -- "${HOME_DIR}/data"
  mkdir -p "${HOME_DIR}/data"
  scratch="$(mktemp -d)"
  local -a env=()
  mapfile -t env < <(kc_env)
  # The same run makes the class-data archive (written when the JVM exits).
  local archive="${CDS_ARCHIVE}.$$"
  if ! (cd "${HOME_DIR}" && env "${env[@]}" \
    "JAVA_OPTS_APPEND=${KEYCLOAK_JAVA_OPTS} -XX:ArchiveClassesAtExit=${archive} -Xlog:cds=off -Xlog:cds+dynamic=off" \
    "${HOME_DIR}/bin/kc.sh" export --optimized --realm master \
    "--dir=${scratch}" </dev/null >"${log}" 2>&1) || [[ ! -s "${HOME_DIR}/data/h2/keycloakdb.mv.db" ]]; then
    rm -rf -- "${scratch}" "${archive}"
    error "could not make the database template (the last lines of ${log} follow); starting with an empty database"
    tail -n 20 "${log}" >&2 || true
    return 0
  fi
  rm -rf -- "${scratch}"
  if [[ -s "${archive}" ]]; then
    mv -f "${archive}" "${CDS_ARCHIVE}"
  else
    rm -f -- "${archive}"
    : >"${CDS_ARCHIVE}.none"
  fi
  mkdir -p "$(dirname "${TEMPLATE}")"
  cp "${HOME_DIR}/data/h2/keycloakdb.mv.db" "${TEMPLATE}.$$"
  mv -f "${TEMPLATE}.$$" "${TEMPLATE}"
  info "database template made in $((SECONDS - started)) s: ${TEMPLATE}"
}

# --- processes and ports ----------------------------------------------------------------

# The PID in the pid file if that process still runs, else nothing.
running_pid() {
  local pid
  [[ -r "${PID_FILE}" ]] || return 1
  pid="$(cat "${PID_FILE}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  kill -0 "${pid}" 2>/dev/null || return 1
  printf '%s' "${pid}"
}

# SIGTERM to the whole process group (kc.sh and its JVMs), then SIGKILL after 20 s.
stop_group() {
  local pid=$1 waited=0
  kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || return 0
  while kill -0 -- "-${pid}" 2>/dev/null; do
    if ((waited >= 200)); then
      error "Keycloak (pid ${pid}) did not stop within 20 s; killing it"
      kill -KILL -- "-${pid}" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  printf '%s' "$((waited / 10))"
}

check_free() {
  local pid
  if pid="$(running_pid)"; then
    die "Keycloak (instance ${KEYCLOAK_INSTANCE}) is already running, pid ${pid}, log ${LOG_FILE}. Stop it first: ${STOP_CMD}"
  fi
  rm -f -- "${PID_FILE}"
  local port
  for port in "${PROVIDER_PORT}" "${MANAGEMENT_PORT}"; do
    if port_in_use "${port}"; then
      die "port ${port} on 127.0.0.1 is in use (the embedded provider, a Keycloak container, or another instance?). Stop whatever listens there (e.g. 'ss -ltnp | grep :${port}'), or set PROVIDER_PORT / MANAGEMENT_PORT."
    fi
  done
}


# A fresh database at every start, as a new container has: the realm is imported anew.
# KEYCLOAK_EXTRA_REALMS (':'-separated files or directories, as `kc.sh export --file` or
# `--dir` writes them) are imported too: the tests hold the embedded provider to Keycloak's
# import of the same fixture realms.
fresh_data() {
  rm -rf -- "${HOME_DIR}/data"
  mkdir -p "${HOME_DIR}/data/import"
  if uses_template && [[ -s "${TEMPLATE}" ]]; then
    mkdir -p "${HOME_DIR}/data/h2"
    cp "${TEMPLATE}" "${HOME_DIR}/data/h2/keycloakdb.mv.db"
  fi
  cp "${REALM_FILE}" "${HOME_DIR}/data/import/${REALM}-realm.json"
  local extra
  local -a extras=()
  IFS=: read -r -a extras <<<"${KEYCLOAK_EXTRA_REALMS:-}"
  for extra in "${extras[@]}"; do
    [[ -n "${extra}" ]] || continue
    if [[ -d "${extra}" ]]; then
      cp "${extra}"/*.json "${HOME_DIR}/data/import/" || die "KEYCLOAK_EXTRA_REALMS: no *.json in ${extra}"
    elif [[ -r "${extra}" ]]; then
      cp "${extra}" "${HOME_DIR}/data/import/"
    else
      die "KEYCLOAK_EXTRA_REALMS names ${extra}, which is neither a readable file nor a directory"
    fi
  done
}

# Absolute path (truststore and certificate paths resolve against Keycloak's working dir).
absolute() {
  (cd "$(dirname "$1")" && printf '%s/%s' "$(pwd)" "$(basename "$1")")
}

# The environment kc.sh runs in, one NAME=value per line. keycloak.conf is read as it is
# (KC_CONFIG_FILE); only its three in-container paths are overridden, by KC_* variables, which
# take precedence over the file. The listeners and the cluster transport stay on loopback, as
# the container's 127.0.0.1 port mappings do. A KC_TRUSTSTORE_PATHS from the caller (absolute
# paths; lab 7: certificates trusted one by one) is trusted in addition to the dev CA, as the
# embedded provider's --truststore-paths is. The realm file's ${PLAYBOOK_JWT_CLIENT_CERT:}
# (the private_key_jwt client's certificate) comes from certs/ (scripts/lib.sh jwt_client_cert).
kc_env() {
  local -a env=(
    "KC_CONFIG_FILE=${KEYCLOAK_CONF}"
    "KC_HTTPS_CERTIFICATE_FILE=$(absolute "${CERTS_DIR}/oauth2-provider.pem")"
    "KC_HTTPS_CERTIFICATE_KEY_FILE=$(absolute "${CERTS_DIR}/oauth2-provider.key.pem")"
    "KC_TRUSTSTORE_PATHS=$(absolute "${CERTS_DIR}/ca.pem")${KC_TRUSTSTORE_PATHS:+,${KC_TRUSTSTORE_PATHS}}"
    "KC_HTTP_HOST=127.0.0.1"
    "KC_HTTPS_PORT=${PROVIDER_PORT}"
    "KC_HTTP_MANAGEMENT_PORT=${MANAGEMENT_PORT}"
    "KC_CACHE_EMBEDDED_NETWORK_BIND_ADDRESS=127.0.0.1"
    "KC_BOOTSTRAP_ADMIN_USERNAME=${KC_BOOTSTRAP_ADMIN_USERNAME}"
    "KC_BOOTSTRAP_ADMIN_PASSWORD=${KC_BOOTSTRAP_ADMIN_PASSWORD}"
    "${JWT_CLIENT_CERT_ENV}=$(jwt_client_cert)"
    "JAVA=$(java_binary)"
    "JAVA_OPTS_APPEND=$(java_opts_append)"
  )
  printf '%s\n' "${env[@]}"
}

launch() {
  : >"${LOG_FILE}"
  local -a env=()
  mapfile -t env < <(kc_env)
  # Its own session and process group (setsid), so stop can signal kc.sh and every JVM it
  # runs at once; no terminal, stdin from /dev/null, everything into the log file.
  (
    cd "${HOME_DIR}"
    exec env "${env[@]}" setsid "${HOME_DIR}/bin/kc.sh" start --optimized --import-realm \
      "--hostname=${PROVIDER_URL}" </dev/null >>"${LOG_FILE}" 2>&1
  ) &
  STARTED_PID=$!
  printf '%s\n' "${STARTED_PID}" >"${PID_FILE}"
}

log_tail() {
  tail -n "${1:-40}" "${LOG_FILE}" >&2 || true
}

keycloak_alive() { kill -0 "${STARTED_PID}" 2>/dev/null; }
log_last() { tail -n 1 "${LOG_FILE}"; }

wait_ready() {
  wait_ready_with_log "${MANAGEMENT_PORT}" "${CERTS_DIR}/ca.pem" "${KEYCLOAK_START_TIMEOUT}" \
    keycloak_alive log_tail log_last || die "Keycloak did not start (log: ${LOG_FILE})"
}

summary() {
  cat <<EOF
INFO  Keycloak ${KEYCLOAK_VERSION} is running natively (instance ${KEYCLOAK_INSTANCE}, pid ${STARTED_PID})
      realm issuer:   ${ISSUER}
      discovery:      ${ISSUER}/.well-known/openid-configuration
      admin console:  ${PROVIDER_URL}/admin/  (bootstrap admin: ${KC_BOOTSTRAP_ADMIN_USERNAME})
      health:         https://localhost:${MANAGEMENT_PORT}/health/ready
      try:            curl --cacert ${CERTS_DIR}/ca.pem ${ISSUER}/.well-known/openid-configuration
      logs:           tail -f ${LOG_FILE}
      stop:           ${STOP_CMD}
EOF
}

# --- commands ---------------------------------------------------------------------------

cmd_start() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  command -v curl >/dev/null 2>&1 || die "curl is needed to wait for Keycloak's health endpoint; install it (Debian: apt-get install curl)"
  command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is needed to run Keycloak in its own process group; install util-linux"
  check_java
  require_keycloak_files
  check_free
  ensure_distribution
  ensure_build
  ensure_instance_home
  set_cds_archive
  ensure_template
  fresh_data
  launch
  info "started Keycloak ${KEYCLOAK_VERSION} (pid ${STARTED_PID}) on https://localhost:${PROVIDER_PORT}, log ${LOG_FILE}"
  wait_ready
  summary
  STARTED_PID="" # started and ready: the exit trap leaves it running
}

# What `start` would need, checked without starting anything (./start.sh and
# scripts/test.sh ask before they build).
cmd_check() {
  check_java
  cmd_check_dist
}

cmd_check_dist() {
  if [[ -x "${DIST_DIR}/bin/kc.sh" ]]; then
    info "Keycloak ${KEYCLOAK_VERSION} distribution: ${DIST_DIR}"
  elif [[ -r "${DIST_ZIP}" ]]; then
    info "Keycloak ${KEYCLOAK_VERSION}: ${DIST_ZIP} (unpacked at the first start)"
  else
    require_maven
    info "Keycloak ${KEYCLOAK_VERSION} is not cached yet: Maven fetches it at the first start (about 170 MB)"
  fi
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f -- "${PID_FILE}"
    info "Keycloak (instance ${KEYCLOAK_INSTANCE}) is not running: nothing to stop"
    return 0
  fi
  info "stopping Keycloak (instance ${KEYCLOAK_INSTANCE}, pid ${pid})"
  local secs
  secs="$(stop_group "${pid}")"
  rm -f -- "${PID_FILE}"
  info "stopped after ${secs} s"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    local health=starting
    if curl --silent --fail --output /dev/null --max-time 5 --cacert "${CERTS_DIR}/ca.pem" \
      "https://localhost:${MANAGEMENT_PORT}/health/ready"; then
      health=ready
    fi
    info "Keycloak ${KEYCLOAK_VERSION} (instance ${KEYCLOAK_INSTANCE}) is running, pid ${pid}, ${health}, on https://localhost:${PROVIDER_PORT} (log ${LOG_FILE})"
    return 0
  fi
  info "Keycloak (instance ${KEYCLOAK_INSTANCE}) is not running"
  return 3
}

main() {
  case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  fetch)
    check_java
    ensure_distribution
    ;;
  check) cmd_check ;;
  check-dist) cmd_check_dist ;;
  -h | --help | help) usage ;;
  "") die "missing command: start, stop, status, fetch, check or check-dist (try --help)" ;;
  *) die "unknown command: $1 (start, stop, status, fetch, check or check-dist; try --help)" ;;
  esac
}

main "$@"
