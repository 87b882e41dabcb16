#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# The container engines as CI runs them, one command for a newcomer on Debian too (as root):
# Docker's daemon without bridge or iptables (containers use host networking only) and
# Podman's Docker-compatible API socket (testcontainers speaks to it through DOCKER_HOST).
#
#   scripts/container-engines.sh install  apt-get install what is missing (docker.io, podman,
#                                         mmdebstrap, docker-compose, uidmap, ...)
#   scripts/container-engines.sh start    start dockerd and the Podman API socket unless they
#                                         answer already (logs under ENGINES_DIR)
#   scripts/container-engines.sh env      print the export lines: the Podman socket, and
#                                         KEYCLOAK_NETWORK=host (dockerd has no bridge here)
#   scripts/container-engines.sh sweep [RUN]  remove every container, network and volume
#                                         labelled org.oauth2-playbook.run (=RUN: only that
#                                         run's), in both engines; images stay
#   scripts/container-engines.sh stop     sweep, then stop what `start` started
#
# ENGINES_DIR (default /run/oauth2-playbook) holds the pid files, the logs and podman.sock.
# Engines already running when `start` came are left running by `stop`; with PLAYBOOK_RUN_ID
# set (CI), `stop` stops only what a `start` with the same PLAYBOOK_RUN_ID started.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${SCRIPT_DIR}/env.sh"
# shellcheck source=scripts/lib.sh
source "${SCRIPT_DIR}/lib.sh"

ENGINES_DIR="${ENGINES_DIR:-/run/oauth2-playbook}"
PODMAN_SOCKET="${ENGINES_DIR}/podman.sock"
PACKAGES=(docker.io podman mmdebstrap docker-compose uidmap slirp4netns fuse-overlayfs)

usage() {
  print_header "${BASH_SOURCE[0]}" 3 20
}

cmd_install() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    dpkg -s "${package}" >/dev/null 2>&1 || missing+=("${package}")
  done
  ((${#missing[@]} > 0)) || return 0
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing ${missing[*]}; install them as root: apt-get install ${missing[*]}"
  fi
  info "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() {
  local what=$1 tries=0
  shift
  until "$@" >/dev/null 2>&1; do
    tries=$((tries + 1))
    ((tries < 60)) || die "${what} did not answer within 30 s (log under ${ENGINES_DIR})"
    sleep 0.5
  done
}

# Podman gives root's containers high nofile and nproc limits, which runc sets with setrlimit.
# A process without CAP_SYS_RESOURCE (some sandboxes drop it) cannot raise a hard limit, and
# every container then fails ("error setting rlimit type 7: operation not permitted"). There,
# the API service reads a containers.conf whose default ulimits stay within this shell's hard
# limits (nproc at most 32768, what Podman's service keeps for itself). Prints its path.
podman_limits_conf() {
  local cap nofile nproc
  cap="$(awk '/^CapEff/ {print $2}' /proc/self/status)"
  (((16#${cap} >> 24) & 1)) && return 0
  nofile="$(ulimit -Hn)" nproc="$(ulimit -Hu)"
  [[ "${nofile}" == unlimited ]] && nofile=1048576
  [[ "${nproc}" == unlimited || "${nproc}" -gt 32768 ]] && nproc=32768
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "${nofile}" "${nofile}" "${nproc}" "${nproc}" >"${ENGINES_DIR}/containers.conf"
  echo "${ENGINES_DIR}/containers.conf"
}

cmd_start() {
  mkdir -p "${ENGINES_DIR}"
  if with_timeout 10 docker info >/dev/null 2>&1; then
    info "dockerd answers already: left as it is"
  else
    command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed (apt-get install docker.io, or: $0 install)"
    # No bridge, no iptables rules, no masquerading: containers use host networking only.
    setsid dockerd --bridge=none --iptables=false --ip-masq=false \
      --pidfile "${ENGINES_DIR}/dockerd.pid" >"${ENGINES_DIR}/dockerd.log" 2>&1 </dev/null &
    echo "${PLAYBOOK_RUN_ID:-manual}" >"${ENGINES_DIR}/dockerd.ours"
    wait_for dockerd docker info
    info "dockerd $(docker version --format '{{.Server.Version}}') started (log ${ENGINES_DIR}/dockerd.log)"
  fi
  if [[ -S "${PODMAN_SOCKET}" ]] && curl --silent --fail --max-time 5 --unix-socket "${PODMAN_SOCKET}" http://d/_ping >/dev/null; then
    info "the Podman API answers already at ${PODMAN_SOCKET}"
  else
    command -v podman >/dev/null 2>&1 || die "podman is not installed (apt-get install podman, or: $0 install)"
    rm -f -- "${PODMAN_SOCKET}"
    local conf
    conf="$(podman_limits_conf)"
    if [[ -n "${conf}" ]]; then
      info "no CAP_SYS_RESOURCE here: Podman's containers get this shell's limits (${conf})"
      export CONTAINERS_CONF="${conf}"
    fi
    setsid podman system service --time=0 "unix://${PODMAN_SOCKET}" >"${ENGINES_DIR}/podman.log" 2>&1 </dev/null &
    echo "$!" >"${ENGINES_DIR}/podman.pid"
    echo "${PLAYBOOK_RUN_ID:-manual}" >"${ENGINES_DIR}/podman.ours"
    wait_for "the Podman API" curl --silent --fail --max-time 5 --unix-socket "${PODMAN_SOCKET}" http://d/_ping
    info "Podman $(podman version --format '{{.Version}}') API at ${PODMAN_SOCKET} (log ${ENGINES_DIR}/podman.log)"
  fi
  cmd_env
}

cmd_env() {
  echo "export PODMAN_SOCKET=unix://${PODMAN_SOCKET}  # testcontainers: DOCKER_HOST=\${PODMAN_SOCKET}"
  # dockerd runs without a bridge here: ./start.sh's container needs the host-network form.
  echo "export KEYCLOAK_NETWORK=host  # ./start.sh, oauth2-provider/keycloak.sh: no bridge, no published port"
}

# Containers first (they hold networks and volumes), then networks and volumes.
sweep_engine() {
  local engine=$1 ids label="${PLAYBOOK_LABEL}${2:+=$2}"
  if ! with_timeout 10 "${engine}" info >/dev/null 2>&1; then
    return 0
  fi
  ids="$("${engine}" ps -aq --filter "label=${label}")"
  if [[ -n "${ids}" ]]; then
    info "${engine}: removing containers ${ids//$'\n'/ }"
    # shellcheck disable=SC2086  # one id per word
    "${engine}" rm --force --volumes ${ids} >/dev/null
  fi
  ids="$("${engine}" network ls -q --filter "label=${label}")"
  # shellcheck disable=SC2086
  [[ -z "${ids}" ]] || "${engine}" network rm ${ids} >/dev/null
  ids="$("${engine}" volume ls -q --filter "label=${label}")"
  # shellcheck disable=SC2086
  [[ -z "${ids}" ]] || "${engine}" volume rm --force ${ids} >/dev/null
  # Dangling layers of an interrupted image build.
  "${engine}" image prune --force --filter "label=org.oauth2-playbook.image" >/dev/null 2>&1 || true
}

cmd_sweep() {
  local engine
  for engine in docker podman; do
    command -v "${engine}" >/dev/null 2>&1 && sweep_engine "${engine}" "${1:-}"
  done
  return 0
}

stop_pid_file() {
  local file=$1 pid
  [[ -r "${file}" ]] || return 0
  pid="$(cat "${file}")"
  if [[ "${pid}" =~ ^[0-9]+$ ]] && kill -0 "${pid}" 2>/dev/null; then
    kill -TERM "${pid}"
    local waited=0
    while kill -0 "${pid}" 2>/dev/null && ((waited < 100)); do
      sleep 0.2
      waited=$((waited + 1))
    done
  fi
  rm -f -- "${file}"
}

# Whether `start` (of this PLAYBOOK_RUN_ID, when set) started the engine named $1.
ours() {
  [[ -r "${ENGINES_DIR}/$1.ours" ]] || return 1
  [[ -z "${PLAYBOOK_RUN_ID:-}" || "$(cat "${ENGINES_DIR}/$1.ours")" == "${PLAYBOOK_RUN_ID}" ]]
}

cmd_stop() {
  cmd_sweep
  if ours podman; then
    stop_pid_file "${ENGINES_DIR}/podman.pid"
    rm -f -- "${PODMAN_SOCKET}" "${ENGINES_DIR}/podman.ours"
    info "stopped the Podman API"
  fi
  if ours dockerd; then
    stop_pid_file "${ENGINES_DIR}/dockerd.pid"
    rm -f -- "${ENGINES_DIR}/dockerd.ours"
    info "stopped dockerd"
  fi
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
env) cmd_env ;;
sweep) cmd_sweep "${2:-}" ;;
stop) cmd_stop ;;
-h | --help | help) usage ;;
*) die "unknown or missing command '${1:-}': install, start, env, sweep or stop (try --help)" ;;
esac
