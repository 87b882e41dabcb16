#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# The one Keycloak driver the top-level ./start.sh calls: it decides how Keycloak runs here and
# dispatches to the per-program drivers (keycloak-container.sh: Docker or Podman, with the
# image keycloak-image.sh builds; keycloak-native.sh: the distribution on Java).
#
#   oauth2-provider/keycloak.sh choose auto|keycloak   one line on stdout: <runner> <reason>,
#       runner container|native|embedded. auto (./start.sh without --provider) never fails:
#       an engine that answers is used with the playground's own image (built at the start
#       when missing: no registry needed), else native Keycloak when Java is there, else the
#       embedded provider, each reason named. keycloak (--provider keycloak) is never
#       embedded: exit 1 with the reason when neither runner can run. Starts nothing.
#   oauth2-provider/keycloak.sh start  container|native   start one, wait until ready
#   oauth2-provider/keycloak.sh stop   container|native   stop and remove it (exit 0 if none)
#   oauth2-provider/keycloak.sh status container|native   exit 0 and one line, or 3
#
# KEYCLOAK_RUNNER=container|native (./start.sh --runner) chooses the runner when both could run;
# CONTAINER_ENGINE=docker|podman the engine; KEYCLOAK_IMAGE an image instead of the local build
# (e.g. quay.io/keycloak/keycloak:<pin>); KEYCLOAK_NETWORK=published|host the container's network.
# Everything else comes from the environment (PROVIDER_PORT, MANAGEMENT_PORT, PROVIDER_URL,
# REALM_FILE, CERTS_DIR, KEYCLOAK_INSTANCE, KC_* passed through to Keycloak).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${SCRIPT_DIR}/../scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${SCRIPT_DIR}/../scripts/lib.sh"

usage() {
  print_header "${BASH_SOURCE[0]}" 3 21
}

# The reason a runner cannot run here (empty when it can), from its driver's `check`.
problem() {
  local out
  if out="$("${SCRIPT_DIR}/$1" check 2>&1 >/dev/null)"; then
    return 0
  fi
  out="$(printf '%s' "${out}" | grep '^ERROR' | tail -n 1)"
  printf '%s' "${out#ERROR }"
}

choose() {
  local mode=$1 container_why native_why wanted="${KEYCLOAK_RUNNER:-}"
  case "${mode}" in auto | keycloak) ;; *) die "choose auto|keycloak, not '${mode}'" ;; esac
  case "${wanted}" in "" | container | native) ;; *) die "KEYCLOAK_RUNNER must be container or native, not '${wanted}'" ;; esac

  local container_ok="" native_ok=""
  container_why="$(problem keycloak-container.sh)"
  [[ -n "${container_why}" ]] || container_ok="$("${SCRIPT_DIR}/keycloak-container.sh" check 2>/dev/null)"
  native_why="$(problem keycloak-native.sh)"
  [[ -n "${native_why}" ]] || native_ok=1

  if [[ "${wanted}" == native && -n "${native_ok}" ]]; then
    echo "native KEYCLOAK_RUNNER=native: Keycloak's own distribution on Java"
    return 0
  fi
  if [[ "${wanted}" != native && -n "${container_ok}" ]]; then
    echo "container ${container_ok}${wanted:+ (KEYCLOAK_RUNNER=container)}"
    return 0
  fi
  # The runner asked for cannot run: said, and the other is tried (auto never fails).
  local asked=""
  if [[ "${wanted}" == native ]]; then
    asked="KEYCLOAK_RUNNER=native, but Keycloak cannot run natively here: ${native_why}"
  elif [[ "${wanted}" == container ]]; then
    asked="KEYCLOAK_RUNNER=container, but no container can run here: ${container_why}"
  fi
  if [[ -n "${asked}" && "${mode}" == keycloak ]]; then
    die "${asked}"
  fi
  if [[ -n "${container_ok}" ]]; then
    echo "container ${asked:+${asked}; }${container_ok}"
  elif [[ -n "${native_ok}" ]]; then
    echo "native ${asked:+${asked}; }no container: ${container_why}; Keycloak's own distribution on Java"
  elif [[ "${mode}" == keycloak ]]; then
    die "--provider keycloak: no container (${container_why}) and no native Keycloak (${native_why}). Fix one of them, or use --provider embedded"
  else
    echo "embedded no container (${container_why}) and no native Keycloak (${native_why})"
  fi
}

driver() {
  case "${1:-}" in
  container) printf '%s' "${SCRIPT_DIR}/keycloak-container.sh" ;;
  native) printf '%s' "${SCRIPT_DIR}/keycloak-native.sh" ;;
  *) die "runner must be container or native, not '${1:-}'" ;;
  esac
}

case "${1:-}" in
choose) choose "${2:-auto}" ;;
start | stop | status)
  runner="$(driver "${2:-}")"
  exec "${runner}" "$1"
  ;;
-h | --help | help) usage ;;
*) die "unknown or missing command '${1:-}': choose, start, stop or status (try --help)" ;;
esac
