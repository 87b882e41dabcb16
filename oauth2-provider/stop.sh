#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Stops and removes the Keycloak container that oauth2-provider/start.sh created.
# Its data (the H2 file database, hence the imported realm and any admin changes) goes with
# it: the next start.sh imports the realm file afresh. Exits 0 when no such container exists,
# 1 when no container engine answers.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${SCRIPT_DIR}/../scripts/env.sh"
# shellcheck source=scripts/keycloak.env
source "${SCRIPT_DIR}/../scripts/keycloak.env"
# shellcheck source=scripts/lib.sh
source "${SCRIPT_DIR}/../scripts/lib.sh"


# The engine that start.sh would pick: $CONTAINER_ENGINE, else docker, then podman.
detect_engine() {
  "${SCRIPT_DIR}/start.sh" --check-engine 2>/dev/null
}

remove_container() {
  local engine=$1
  if ! "${engine}" container inspect "${KEYCLOAK_CONTAINER}" >/dev/null 2>&1; then
    info "no container named ${KEYCLOAK_CONTAINER} (${engine}): nothing to stop"
    return 0
  fi
  info "stopping ${KEYCLOAK_CONTAINER} (${engine})"
  # Keycloak shuts down cleanly on SIGTERM within a few seconds; 20 s before SIGKILL.
  "${engine}" stop --time 20 "${KEYCLOAK_CONTAINER}" >/dev/null
  "${engine}" rm "${KEYCLOAK_CONTAINER}" >/dev/null
  info "removed ${KEYCLOAK_CONTAINER}"
}

main() {
  local engine
  if ! engine="$(detect_engine)"; then
    error "no container engine answered (docker or podman), so there is no container to stop"
    exit 1
  fi
  remove_container "${engine}"
}

main "$@"
