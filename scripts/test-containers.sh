#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# The container part of scripts/test.sh (what CI runs after the native part): Keycloak in a
# container, with both engines, every run.
#
#   scripts/test-containers.sh
#
#   1. the engines: under CI=true (as root, Debian) scripts/container-engines.sh install and
#      start them (dockerd without bridge or iptables; Podman's API socket); elsewhere the
#      ones that answer are used, and without any the output says plainly it DID NOT RUN;
#   2. the playground's own image, built once per engine (oauth2-provider/keycloak-image.sh);
#   3. the shared scenario suite and the golden answers through testcontainers (Podman's API:
#      Debian's Docker 20.10 is too old for testcontainers 0.28);
#   4. the workshop labs against Keycloak in a container (Docker, keycloak.sh start container);
#   5. ./start.sh --provider keycloak --runner container: the walkthrough, all steps, with and
#      without nginx, plain, --keep-running and --lab (supervisor/tests/start_sh.rs, Docker);
#   6. compose.host.yaml: up, healthy, one token, down (docker-compose v1 on Docker).
# Every container carries the label org.oauth2-playbook.run=test-<run>: this run's are swept
# at the end, also on failure and Ctrl-C (.ci/run sweeps every run's, before and after). All containers use host networking bound to 127.0.0.1 (KEYCLOAK_NETWORK
# =host): no bridge network, no published port. Under CI=true any failure fails the run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/keycloak.env
source "${ROOT}/scripts/keycloak.env"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
cd "${ROOT}"

export KEYCLOAK_NETWORK=host
# Generous: on a shared 2-core machine a start has taken up to 170 s under load.
export KEYCLOAK_START_TIMEOUT="${KEYCLOAK_START_TIMEOUT:-300}"
export PLAYBOOK_RUN="test-${PLAYBOOK_RUN_ID:-$$}"
ENGINES=(scripts/container-engines.sh)
PODMAN_SOCKET="${ENGINES_DIR:-/run/oauth2-playbook}/podman.sock"
TIMES=()
COMPOSE_FILE="oauth2-provider/compose.host.yaml"
COMPOSE_UP=""

did_not_run() {
  cat >&2 <<MSG

==========================================================================================
 The container part DID NOT RUN: Keycloak in a container (testcontainers suite, labs,
 walkthrough, compose) was not tested here.
 Why: $1
 To run it (Debian, as root): scripts/container-engines.sh install && scripts/container-engines.sh start,
 then scripts/test-containers.sh
==========================================================================================
MSG
  exit 0
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "${COMPOSE_UP}" ]]; then
    docker-compose -f "${COMPOSE_FILE}" down --volumes --remove-orphans >/dev/null 2>&1 || true
  fi
  "${ENGINES[@]}" sweep "${PLAYBOOK_RUN}" || true
  if ((${#TIMES[@]} > 0)); then
    info "container part, seconds per step:"
    printf '      %s\n' "${TIMES[@]}"
  fi
  exit "${status}"
}

# Runs one step, timed: `step NAME COMMAND...`.
step() {
  local name=$1 started=${SECONDS}
  shift
  info "[containers] ${name}"
  if ! "$@"; then
    TIMES+=("${name}: FAILED after $((SECONDS - started)) s")
    die "[containers] ${name} failed (its output is above)"
  fi
  TIMES+=("${name}: $((SECONDS - started)) s")
}

engines() {
  if [[ "${CI:-}" == true ]]; then
    "${ENGINES[@]}" install
    "${ENGINES[@]}" start
    return 0
  fi
  local missing=()
  CONTAINER_ENGINE=docker container_engine >/dev/null || missing+=("docker ($(CONTAINER_ENGINE=docker no_engine_reason))")
  [[ -S "${PODMAN_SOCKET}" ]] || missing+=("Podman's API socket (${PODMAN_SOCKET})")
  command -v docker-compose >/dev/null 2>&1 || missing+=("docker-compose")
  ((${#missing[@]} == 0)) || did_not_run "not available: ${missing[*]}"
}

build_images() {
  CONTAINER_ENGINE=podman oauth2-provider/keycloak-image.sh build &&
    CONTAINER_ENGINE=docker oauth2-provider/keycloak-image.sh build
}

testcontainers_suite() {
  DOCKER_HOST="unix://${PODMAN_SOCKET}" \
    KEYCLOAK_TEST_IMAGE="$(CONTAINER_ENGINE=podman oauth2-provider/keycloak-image.sh name)" \
    cargo test --workspace --locked --test keycloak -- --ignored
}

labs_in_container() {
  KEYCLOAK_TEST_RUNNER=container CONTAINER_ENGINE=docker \
    cargo test --workspace --locked --test labs_keycloak_native -- --ignored
}

# The container row of the ./start.sh combinations: the walkthrough (all steps) with and
# without nginx, --keep-running and --lab, each through the real ./start.sh.
walkthrough() {
  CONTAINER_ENGINE=docker cargo test --workspace --locked --test start_sh -- --ignored keycloak_container
}

# The compose service's container still runs; its last log lines.
compose_running() {
  [[ "$(docker inspect --format '{{.State.Running}}' "${KEYCLOAK_CONTAINER}" 2>/dev/null)" == true ]]
}
compose_log() { docker-compose -f "${COMPOSE_FILE}" logs --tail 40; }

compose_token() {
  local image file
  image="$(CONTAINER_ENGINE=docker oauth2-provider/keycloak-image.sh name)"
  # compose bind-mounts the repository's certs/ (a fresh clone has none; a missing source
  # would become an empty directory, made by the engine): the dev PKI first, never
  # overwriting what is there.
  if [[ ! -e certs/ca.pem ]]; then
    cargo run -q --locked -p client -- --certs-dir certs certs
  fi
  for file in certs/ca.pem certs/oauth2-provider.pem certs/oauth2-provider.key.pem; do
    [[ -f "${file}" ]] || die "compose needs ${file} (a file): cargo run -p client -- certs"
  done
  COMPOSE_UP=1
  # The realm file's ${PLAYBOOK_JWT_CLIENT_CERT:} from certs/ (scripts/lib.sh), as start.sh does.
  KEYCLOAK_IMAGE="${image}" PLAYBOOK_UID="$(id -u)" PLAYBOOK_JWT_CLIENT_CERT="$(jwt_client_cert)" \
    docker-compose -f "${COMPOSE_FILE}" up -d
  wait_ready_with_log "${MANAGEMENT_PORT}" certs/ca.pem "${KEYCLOAK_START_TIMEOUT}" \
    compose_running compose_log || {
    error "compose: Keycloak not healthy (exited, or still starting)"
    return 1
  }
  cargo run -q --locked -p client -- --certs-dir certs token --decode
  docker-compose -f "${COMPOSE_FILE}" down --volumes --remove-orphans
  COMPOSE_UP=""
}

main() {
  engines
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  "${ENGINES[@]}" sweep "${PLAYBOOK_RUN}"
  step "image builds (podman, docker; cached after the first)" build_images
  step "scenario suite + golden answers, testcontainers via Podman's API" testcontainers_suite
  step "workshop labs against Keycloak in a container (docker)" labs_in_container
  step "./start.sh --provider keycloak --runner container, its six combinations (docker)" walkthrough
  step "compose.host.yaml up, healthy, token, down (docker-compose)" compose_token
  info "[containers] passed"
}

main "$@"
