#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# PostgreSQL for the production shape (oauth2-provider/production.sh): Debian's PostgreSQL 15,
# a new cluster in a temporary directory at every start, listening on 127.0.0.1 only, with one
# database and one role for Keycloak. PostgreSQL refuses to run as root: as root, every
# PostgreSQL program runs as the `postgres` user (runuser), which owns the temporary
# directory; as anyone else, as that user. `stop` stops it and deletes the directory.
#
#   oauth2-provider/postgres.sh start    initdb, start, create the role and database, wait
#   oauth2-provider/postgres.sh stop     stop it (pg_ctl stop -m fast) and delete its directory
#   oauth2-provider/postgres.sh status   whether it runs (exit 0) or not (exit 3)
#   oauth2-provider/postgres.sh env      Keycloak's KC_DB_* settings for it, one per line
#                                        (the password included: for kc.sh's environment only)
#
# Settings from the environment:
#   POSTGRES_PORT        its TCP port on 127.0.0.1 (26432)
#   POSTGRES_STATE_DIR   where this script records the running cluster: its temporary
#                        directory, the role's password (0600) (target/production/postgres)
#   POSTGRES_BIN_DIR     initdb, pg_ctl, psql (pg_config --bindir, else /usr/lib/postgresql/15/bin)
#   POSTGRES_DB          the database and role Keycloak uses (keycloak)
# Needs PostgreSQL 15 (Debian: apt-get install postgresql).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"

POSTGRES_PORT="${POSTGRES_PORT:-26432}"
POSTGRES_STATE_DIR="${POSTGRES_STATE_DIR:-${ROOT}/target/production/postgres}"
POSTGRES_DB="${POSTGRES_DB:-keycloak}"
DIR_FILE="${POSTGRES_STATE_DIR}/dir"
PASSWORD_FILE="${POSTGRES_STATE_DIR}/password"

usage() {
  print_header "${BASH_SOURCE[0]}"
}

bin_dir() {
  if [[ -n "${POSTGRES_BIN_DIR:-}" ]]; then
    printf '%s' "${POSTGRES_BIN_DIR}"
  elif command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
    pg_config --bindir
  elif [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    printf '/usr/lib/postgresql/15/bin'
  else
    die "PostgreSQL is not installed (no initdb): apt-get install postgresql (Debian/Ubuntu), or set POSTGRES_BIN_DIR"
  fi
}

# Runs a PostgreSQL program as the user that owns the cluster: `postgres` when we are root.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root, and there is no postgres user to run PostgreSQL as (Debian's postgresql package makes it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The running cluster's temporary directory, if this script started one.
cluster_dir() {
  [[ -s "${DIR_FILE}" ]] || return 1
  local dir
  dir="$(cat "${DIR_FILE}")"
  [[ -d "${dir}/data" ]] || return 1
  printf '%s' "${dir}"
}

running() {
  local dir
  dir="$(cluster_dir)" || return 1
  as_owner "$(bin_dir)/pg_ctl" status -D "${dir}/data" >/dev/null 2>&1
}

start() {
  local bin dir password
  bin="$(bin_dir)"
  if running; then
    die "PostgreSQL already runs from $(cluster_dir); stop it first: oauth2-provider/postgres.sh stop"
  fi
  port_in_use "${POSTGRES_PORT}" && die "port ${POSTGRES_PORT} on 127.0.0.1 is in use; stop what listens there or set POSTGRES_PORT"
  mkdir -p "${POSTGRES_STATE_DIR}"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/oauth2-playbook-postgres.XXXXXX")"
  printf '%s\n' "${dir}" >"${DIR_FILE}"
  [[ "$(id -u)" != 0 ]] || chown postgres: "${dir}"
  chmod 0700 "${dir}"
  # The role's password: new at every start, kept 0600 beside the state, never printed.
  password="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  (umask 077 && printf '%s\n' "${password}" >"${PASSWORD_FILE}")
  info "PostgreSQL: a new cluster in ${dir} (owner $(as_owner id -un))"
  # Local (Unix socket in the directory itself, 0700) trusted for the owner; TCP on
  # 127.0.0.1 only, with a password (scram-sha-256).
  as_owner "${bin}/initdb" -D "${dir}/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"${dir}/initdb.log" 2>&1 ||
    { tail -n 10 "${dir}/initdb.log" >&2; die "initdb failed (see above)"; }
  as_owner "${bin}/pg_ctl" start -D "${dir}/data" -l "${dir}/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p ${POSTGRES_PORT} -k ${dir} -c max_connections=100" >/dev/null ||
    { tail -n 10 "${dir}/postgres.log" >&2; die "PostgreSQL did not start (see above)"; }
  # The role's password goes in on stdin (psql's \password would ask twice): not in `ps`.
  printf "CREATE ROLE %s LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;\n" \
    "${POSTGRES_DB}" "${password}" "${POSTGRES_DB}" "${POSTGRES_DB}" |
    as_owner "${bin}/psql" -q -v ON_ERROR_STOP=1 -h "${dir}" -p "${POSTGRES_PORT}" -U postgres -d postgres >/dev/null ||
    die "could not create the ${POSTGRES_DB} role and database"
  info "PostgreSQL $("${bin}/postgres" --version | sed -n 's/.*(PostgreSQL) \([0-9.]*\).*/\1/p') listens on 127.0.0.1:${POSTGRES_PORT}, database ${POSTGRES_DB} (log ${dir}/postgres.log)"
}

stop() {
  local dir
  if ! dir="$(cluster_dir)"; then
    info "PostgreSQL: no cluster started by this script (${DIR_FILE}); nothing to stop"
    rm -f -- "${DIR_FILE}" "${PASSWORD_FILE}"
    return 0
  fi
  if running; then
    as_owner "$(bin_dir)/pg_ctl" stop -D "${dir}/data" -m fast -w -t 30 >/dev/null ||
      error "pg_ctl stop failed; deleting ${dir} anyway"
    info "PostgreSQL stopped"
  fi
  rm -rf -- "${dir}"
  rm -f -- "${DIR_FILE}" "${PASSWORD_FILE}"
  info "PostgreSQL: ${dir} deleted"
}

status() {
  if running; then
    info "PostgreSQL runs from $(cluster_dir) on 127.0.0.1:${POSTGRES_PORT}"
    return 0
  fi
  info "PostgreSQL (started by this script) is not running"
  return 3
}

keycloak_env() {
  [[ -s "${PASSWORD_FILE}" ]] || die "PostgreSQL was not started by this script (no ${PASSWORD_FILE}): oauth2-provider/postgres.sh start"
  printf '%s\n' KC_DB=postgres "KC_DB_URL=jdbc:postgresql://127.0.0.1:${POSTGRES_PORT}/${POSTGRES_DB}" \
    "KC_DB_USERNAME=${POSTGRES_DB}" "KC_DB_PASSWORD=$(cat "${PASSWORD_FILE}")"
}

main() {
  case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) keycloak_env ;;
    -h | --help | "") usage ;;
    *) die "unknown command '$1': start, stop, status or env (see oauth2-provider/postgres.sh --help)" ;;
  esac
}

main "$@"
