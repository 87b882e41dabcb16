#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# The one Keycloak driver ./start.sh calls (the interface: CONTRACT-keycloak-sh.md). It only
# decides and dispatches: the container runner is oauth2-provider/start.sh and stop.sh, the
# native one oauth2-provider/keycloak-native.sh.
#
#   oauth2-provider/keycloak.sh choose auto|keycloak   one line: <container|native|embedded> <why>
#   oauth2-provider/keycloak.sh start container|native start one Keycloak, wait until ready
#   oauth2-provider/keycloak.sh stop container|native  stop what start started (exit 0 if none)
#   oauth2-provider/keycloak.sh status container|native  exit 0 and one line if it runs, else 3
#
# choose auto: a container when an engine answers, else the embedded provider (never fails).
# choose keycloak: a container when an engine answers, else native when Java can run it,
# else exit 1 with the reason. KEYCLOAK_RUNNER=container|native forces the runner
# (./start.sh --runner), CONTAINER_ENGINE=docker|podman the engine. Everything else comes
# from the environment, as for the runners: PROVIDER_PORT, MANAGEMENT_PORT, PROVIDER_URL,
# REALM_FILE, CERTS_DIR, KEYCLOAK_INSTANCE, KC_* passed through to Keycloak.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${SCRIPT_DIR}/../scripts/env.sh"
# shellcheck source=scripts/keycloak.env
source "${SCRIPT_DIR}/../scripts/keycloak.env"
# shellcheck source=scripts/lib.sh
source "${SCRIPT_DIR}/../scripts/lib.sh"

# The runner's problem in plain words, or nothing when it can run here.
problem() {
  local out
  case "$1" in
    container)
      "${SCRIPT_DIR}/start.sh" --check-engine >/dev/null 2>&1 ||
        printf 'no container engine answers (docker/podman info failed)'
      ;;
    native)
      out="$("${SCRIPT_DIR}/keycloak-native.sh" check 2>&1 >/dev/null)" ||
        printf 'Keycloak cannot run natively here: %s' "${out#ERROR }"
      ;;
  esac
}

choose() {
  local mode=$1 engine why
  [[ "${mode}" == auto || "${mode}" == keycloak ]] || die "choose: auto or keycloak, not '${mode}'"
  case "${KEYCLOAK_RUNNER:-}" in
    container | native)
      why="$(problem "${KEYCLOAK_RUNNER}")"
      if [[ -z "${why}" ]]; then
        echo "${KEYCLOAK_RUNNER} KEYCLOAK_RUNNER=${KEYCLOAK_RUNNER}"
      elif [[ "${mode}" == auto ]]; then
        echo "embedded KEYCLOAK_RUNNER=${KEYCLOAK_RUNNER}, but ${why}"
      else
        die "KEYCLOAK_RUNNER=${KEYCLOAK_RUNNER}, but ${why}"
      fi
      return 0
      ;;
    "") ;;
    *) die "KEYCLOAK_RUNNER must be container or native, not '${KEYCLOAK_RUNNER}'" ;;
  esac
  if engine="$("${SCRIPT_DIR}/start.sh" --check-engine 2>/dev/null)"; then
    echo "container ${engine} answers"
  elif [[ "${mode}" == auto ]]; then
    echo "embedded no container engine answers"
  elif why="$(problem native)" && [[ -z "${why}" ]]; then
    echo "native no container engine answers: Keycloak's own distribution on Java"
  else
    die "no container engine answers (docker/podman info failed), and ${why}"
  fi
}

main() {
  local command="${1:-}" runner="${2:-}"
  case "${command}" in
    -h | --help | "")
      print_header "${BASH_SOURCE[0]}"
      return 0
      ;;
    choose)
      choose "${runner}"
      return 0
      ;;
  esac
  case "${command} ${runner}" in
    "start container") exec "${SCRIPT_DIR}/start.sh" ;;
    "stop container") exec "${SCRIPT_DIR}/stop.sh" ;;
    "status container")
      local engine
      engine="$("${SCRIPT_DIR}/start.sh" --check-engine 2>/dev/null)" || {
        info "no container engine answers: Keycloak's container is not running"
        return 3
      }
      if [[ "$("${engine}" container inspect -f '{{.State.Running}}' "${KEYCLOAK_CONTAINER}" 2>/dev/null)" == true ]]; then
        info "Keycloak's container ${KEYCLOAK_CONTAINER} is running (${engine})"
        return 0
      fi
      info "Keycloak's container ${KEYCLOAK_CONTAINER} is not running"
      return 3
      ;;
    "start native" | "stop native" | "status native") exec "${SCRIPT_DIR}/keycloak-native.sh" "${command}" ;;
    *) die "unknown command '$*': choose auto|keycloak, or start|stop|status container|native (see --help)" ;;
  esac
}

main "$@"
