#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Measures native Keycloak (oauth2-provider/keycloak-native.sh) on this machine: the numbers
# of oauth2-provider/BENCHMARKS.md.
#
#   scripts/bench-keycloak-native.sh            all of it (about 10 minutes on 2 cores)
#   BENCH_DOWNLOAD=0 scripts/bench-keycloak-native.sh   without the real download
#   scripts/bench-keycloak-native.sh runners   Keycloak in a container beside native Keycloak
#                                              and the embedded provider (about 10 minutes)
#   scripts/bench-keycloak-native.sh starts    the start-time goal (under 15 s to ready):
#                                              starts natively and in the playground's image
#                                              (about 5 minutes; see below)
#
# `starts`: a first native start (the build step, the database template and the class-data
#   archive: timed, not counted), then BENCH_RESTARTS later native starts; then, on each
#   engine that answers (docker, podman; CONTAINER_ENGINE picks one; the image built first if
#   missing, not timed), BENCH_RESTARTS container starts (KEYCLOAK_NETWORK as set). Each start:
#   wall clock to /health/ready, the CPU seconds Keycloak's processes used until then (less
#   sensitive to other load than the wall clock), Quarkus' own "started in", and the 1-minute
#   load average at the end, in target/bench-keycloak-native-starts.txt. Other work on the
#   machine slows the wall clock: compare the load column.
#
# `runners` (needs a container engine: CONTAINER_ENGINE chooses; KEYCLOAK_NETWORK as set):
#   a. the base from Debian's packages (mmdebstrap + import) and the image, built cold under
#      a name of their own (oauth2-playbook-keycloak-bench*, removed at the end; BENCH_BUILD=0
#      skips this and uses the playground's cached image);
#   b. BENCH_RESTARTS container starts to /health/ready (`start --optimized`), the container's
#      resident memory when ready (the same heap as native: JAVA_OPTS_KC_HEAP);
#   c. native: one start to build, then BENCH_RESTARTS later starts (`--optimized`), memory;
#   d. the token endpoint of each, one after the other in this run: `client bench token`
#      (BENCH_SECONDS, default 10, 2 connections, kept alive) against the container, native
#      Keycloak and the embedded provider.
#
# What it measures (without `starts`), each with its own throwaway cache (nothing under ~/.cache is touched):
#   1. download: `keycloak-native.sh fetch` with an empty Maven repository (MAVEN_REPO_LOCAL)
#      and an empty cache: Maven's plugin, the zip and its checksum, then the unpack
#      (skipped with BENCH_DOWNLOAD=0; bounded by BENCH_DOWNLOAD_TIMEOUT, default 600 s);
#   2. unpack: `fetch` with the zip already in ~/.m2 (a Maven cache hit) and an empty cache;
#   3. first start: `start` right after (the instance's copy, Keycloak's build step, the
#      server's start, the fresh database's schema, the realm import) until /health/ready,
#      with each phase's share read from Keycloak's log;
#   4. later starts: BENCH_RESTARTS (default 3) more stop/start cycles, same cache;
#   5. resident memory (ps -o rss, every process of Keycloak's session) when ready, and
#      after 10 s idle;
#   6. the same, sampled each second while the shared scenario suite runs against the
#      tests' own native Keycloak (cargo test --test keycloak_native -- --ignored, built
#      first so the build is not timed): its peak and its last sample before the stop.
# Its own instance (KEYCLOAK_INSTANCE=bench) on free loopback ports, its own dev PKI;
# whatever it starts is stopped on exit, also on failure and Ctrl-C. Results go to stdout
# and, as lines `name value`, to target/bench-keycloak-native.txt (the suite's output to
# target/bench-keycloak-native-suite.log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/keycloak.env
source "${ROOT}/scripts/keycloak.env"
NATIVE="${ROOT}/oauth2-provider/keycloak-native.sh"
BENCH_DOWNLOAD="${BENCH_DOWNLOAD:-1}"
BENCH_DOWNLOAD_TIMEOUT="${BENCH_DOWNLOAD_TIMEOUT:-600}"
BENCH_RESTARTS="${BENCH_RESTARTS:-3}"
RESULTS="${CARGO_TARGET_DIR:-${ROOT}/target}/bench-keycloak-native.txt"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-keycloak-native.XXXXXX")"
export KEYCLOAK_INSTANCE=bench
# BENCH_CACHE_DIR: an existing cache instead (its build, template and archive reused: the
# "first start" is then a later one too).
export KEYCLOAK_CACHE_DIR="${BENCH_CACHE_DIR:-${WORK}/cache}"
export CERTS_DIR="${WORK}/certs"
SAMPLER_PID=""
BENCH_ENGINE=""
EMBEDDED_PID=""
BENCH_SECONDS="${BENCH_SECONDS:-10}"

info() { printf 'INFO  %s\n' "$*"; }
die() {
  printf 'ERROR %s\n' "$*" >&2
  exit 1
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "${SAMPLER_PID}" ]]; then
    kill "${SAMPLER_PID}" 2>/dev/null || true
    wait "${SAMPLER_PID}" 2>/dev/null || true
  fi
  "${NATIVE}" stop >/dev/null 2>&1 || true
  KEYCLOAK_INSTANCE=tests "${NATIVE}" stop >/dev/null 2>&1 || true
  if [[ -n "${BENCH_ENGINE}" ]]; then
    "${ROOT}/oauth2-provider/keycloak-container.sh" stop >/dev/null 2>&1 || true
    "${BENCH_ENGINE}" images -q --filter "reference=*oauth2-playbook-keycloak-bench*" | sort -u |
      xargs -r "${BENCH_ENGINE}" rmi --force >/dev/null 2>&1 || true
  fi
  if [[ -n "${EMBEDDED_PID}" ]]; then
    kill "${EMBEDDED_PID}" 2>/dev/null || true
    wait "${EMBEDDED_PID}" 2>/dev/null || true
  fi
  rm -rf -- "${WORK}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

record() {
  printf '%-28s %s\n' "$1" "$2" | tee -a "${RESULTS}"
}

# A port nothing listens on (bash's /dev/tcp: a refused connect means free).
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      printf '%s' "${port}"
      return 0
    fi
  done
  die "no free port found"
}

# Seconds since the epoch, with milliseconds.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Resident memory in MiB of every process in Keycloak's session (kc.sh and its JVMs).
rss_mib() {
  local pid_file="${KEYCLOAK_CACHE_DIR}/instances/$1/keycloak.pid" pid
  [[ -r "${pid_file}" ]] || return 1
  pid="$(cat "${pid_file}")"
  ps -o rss= -s "${pid}" 2>/dev/null | awk '{ kib += $1 } END { if (kib > 0) printf "%.0f", kib / 1024; else exit 1 }'
}

# Seconds since the epoch of the first log line that contains $2 (`2026-12-02 00:25:33,774 …`).
log_time() {
  local stamp
  stamp="$(grep -m 1 -F -- "$2" "$1" | cut -c1-23 | tr , .)" || return 1
  [[ -n "${stamp}" ]] || return 1
  date -d "${stamp}" +%s.%N
}

# The phases of a start, from Keycloak's own log: the build step (re-augmentation, when the
# build options changed), the server's start as Quarkus counts it, creating the fresh
# database's schema, and the realm import. "-" when a phase is not in the log.
record_phases() {
  local label=$1 log="${KEYCLOAK_CACHE_DIR}/instances/${KEYCLOAK_INSTANCE}/keycloak.log"
  local aug schema import finished
  aug="$(sed -n 's/.*Quarkus augmentation completed in \([0-9]*\)ms.*/\1/p' "${log}" | head -n 1)"
  record "${label}_build_step_s" "$([[ -n "${aug}" ]] && awk -v ms="${aug}" 'BEGIN { printf "%.1f", ms / 1000 }' || echo -)"
  record "${label}_quarkus_started_in_s" "$(sed -n 's/.*started in \([0-9.]*\)s\..*/\1/p' "${log}" | tail -n 1)"
  if schema="$(log_time "${log}" "Initializing database schema")" &&
    import="$(log_time "${log}" "Importing from directory")" &&
    finished="$(log_time "${log}" "Import finished successfully")"; then
    record "${label}_schema_s" "$(awk -v a="${schema}" -v b="${import}" 'BEGIN { printf "%.1f", b - a }')"
    record "${label}_import_s" "$(awk -v a="${import}" -v b="${finished}" 'BEGIN { printf "%.1f", b - a }')"
  fi
}

timed_start() {
  local label=$1 t0
  t0="$(now)"
  "${NATIVE}" start >"${WORK}/start.log" 2>&1 || {
    tail -n 30 "${WORK}/start.log" >&2
    die "${label}: keycloak-native.sh start failed"
  }
  record "${label}_s" "$(since "${t0}")"
  record_phases "${label}"
}

# Waits until the provider at https://localhost:$1 answers /health/ready on $2.
wait_health() {
  local tries=0
  until curl --silent --fail --output /dev/null --max-time 5 --cacert "${CERTS_DIR}/ca.pem" \
    "https://localhost:$1/health/ready"; do
    tries=$((tries + 1))
    ((tries < 300)) || die "no /health/ready on port $1 after 300 s"
    sleep 0.5
  done
}

# The token endpoint of the provider on PROVIDER_PORT: req/s and latency, as JSON lines.
bench_token() {
  local label=$1
  "${ROOT}/target/debug/client" --certs-dir "${CERTS_DIR}" \
    --issuer "https://localhost:${PROVIDER_PORT}/realms/oauth2-playbook" \
    bench token --reuse keep-alive -c 2 --duration "${BENCH_SECONDS}" --json >"${WORK}/bench-${label}.json" ||
    die "${label}: client bench token failed"
  cp "${WORK}/bench-${label}.json" "${RESULTS%.txt}-token-${label}.json"
  record "token_${label}" "$(python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); l = d["latency_ms"]; print("%.1f/s p50 %s p90 %s p99 %s max %s ms, %s ok %s failed" % (d["requests_per_s"], l["p50"], l["p90"], l["p99"], l["max"], d["succeeded"], d["failed"]))' "${WORK}/bench-${label}.json" 2>/dev/null || echo "see ${RESULTS%.txt}-token-${label}.json")"
}

# CPU seconds used so far by the processes of session $1 (native) or by process $1 and its
# children (-p: a container's kc.sh and its JVM).
cpu_s() {
  ps -o times= "$@" 2>/dev/null | awk '{ t += $1 } END { print t + 0 }'
}

load1() { cut -d' ' -f1 /proc/loadavg; }

starts() {
  : >"${RESULTS%.txt}-starts.txt"
  RESULTS="${RESULTS%.txt}-starts.txt"
  record machine "$(nproc)_cores_$(free -m | awk '/^Mem:/ { print $2 }')_MiB_load_$(load1)"
  (cd "${ROOT}" && cargo build --locked -q -p client)
  "${ROOT}/target/debug/client" certs --out "${CERTS_DIR}" >/dev/null
  PROVIDER_PORT="$(free_port)"
  MANAGEMENT_PORT="$(free_port)"
  export PROVIDER_PORT MANAGEMENT_PORT
  "${NATIVE}" fetch >/dev/null 2>&1 || die "fetch failed"
  local i pid t0 log quarkus worst=0 kind
  info "native: a first start (build step, database template, class-data archive)"
  timed_start native_first_start
  "${NATIVE}" stop >/dev/null
  for i in $(seq "${BENCH_RESTARTS}"); do
    timed_start "native_start_${i}"
    record "native_start_${i}_cpu_s" "$(cpu_s -s "$(cat "${KEYCLOAK_CACHE_DIR}/instances/bench/keycloak.pid")")"
    record "native_start_${i}_load" "$(load1)"
    worst="$(awk -v a="${worst}" -v b="$(grep "^native_start_${i}_s " "${RESULTS}" | awk '{ print $2 }')" 'BEGIN { print (b > a ? b : a) }')"
    "${NATIVE}" stop >/dev/null
  done
  local container="${ROOT}/oauth2-provider/keycloak-container.sh"
  for kind in ${CONTAINER_ENGINE:-docker podman}; do
    (source "${ROOT}/scripts/lib.sh" && CONTAINER_ENGINE="${kind}" container_engine >/dev/null) || {
      record "${kind}" "does not answer: not measured"
      continue
    }
    BENCH_ENGINE="${kind}"
    CONTAINER_ENGINE="${kind}" "${ROOT}/oauth2-provider/keycloak-image.sh" build >"${WORK}/image.log" 2>&1 ||
      { tail -n 20 "${WORK}/image.log" >&2; die "${kind}: image build failed"; }
    for i in $(seq "${BENCH_RESTARTS}"); do
      t0="$(now)"
      CONTAINER_ENGINE="${kind}" "${container}" start >"${WORK}/start.log" 2>&1 ||
        { tail -n 30 "${WORK}/start.log" >&2; die "${kind}: container start failed"; }
      record "${kind}_start_${i}_s" "$(since "${t0}")"
      pid="$("${kind}" inspect --format '{{.State.Pid}}' "${KEYCLOAK_CONTAINER}-${KEYCLOAK_INSTANCE}")"
      record "${kind}_start_${i}_cpu_s" "$(cpu_s -p "${pid}" --ppid "${pid}")"
      log="$("${kind}" logs "${KEYCLOAK_CONTAINER}-${KEYCLOAK_INSTANCE}" 2>&1)"
      quarkus="$(sed -n 's/.*started in \([0-9.]*\)s\..*/\1/p' <<<"${log}" | tail -n 1)"
      record "${kind}_start_${i}_quarkus_started_in_s" "${quarkus:--}"
      record "${kind}_start_${i}_load" "$(load1)"
      worst="$(awk -v a="${worst}" -v b="$(grep "^${kind}_start_${i}_s " "${RESULTS}" | awk '{ print $2 }')" 'BEGIN { print (b > a ? b : a) }')"
      CONTAINER_ENGINE="${kind}" "${container}" stop >/dev/null
    done
  done
  record slowest_later_start_s "${worst}"
  record goal_under_15_s "$(awk -v w="${worst}" 'BEGIN { print (w < 15 ? "met" : "missed") }') (load $(load1))"
  info "results in ${RESULTS}"
}

runners() {
  : >"${RESULTS%.txt}-runners.txt"
  RESULTS="${RESULTS%.txt}-runners.txt"
  local container="${ROOT}/oauth2-provider/keycloak-container.sh" image="${ROOT}/oauth2-provider/keycloak-image.sh"
  BENCH_ENGINE="$(source "${ROOT}/scripts/lib.sh" && container_engine)" || die "no container engine answers"
  export CONTAINER_ENGINE="${BENCH_ENGINE}"
  # BENCH_BUILD=0: the playground's cached image, no cold build (a. skipped).
  [[ "${BENCH_BUILD:-1}" == 0 ]] || export KEYCLOAK_LOCAL_IMAGE=oauth2-playbook-keycloak-bench
  record machine "$(nproc)_cores_$(free -m | awk '/^Mem:/ { print $2 }')_MiB_load_$(cut -d' ' -f1 /proc/loadavg)_${BENCH_ENGINE}_$("${BENCH_ENGINE}" version --format '{{.Server.Version}}' 2>/dev/null || "${BENCH_ENGINE}" version --format '{{.Version}}')"
  (cd "${ROOT}" && cargo build --locked -q -p client -p oauth2-provider)
  "${ROOT}/target/debug/client" certs --out "${CERTS_DIR}" >/dev/null
  PROVIDER_PORT="$(free_port)"
  MANAGEMENT_PORT="$(free_port)"
  export PROVIDER_PORT MANAGEMENT_PORT
  "${NATIVE}" fetch >/dev/null 2>&1 || die "fetch failed"

  local t0 i pid
  if [[ "${BENCH_BUILD:-1}" != 0 ]]; then
    info "a. the base (mmdebstrap + import) and the image, cold"
    t0="$(now)"
    "${image}" base >"${WORK}/base.log" 2>&1 || { tail -n 20 "${WORK}/base.log" >&2; die "base failed"; }
    record base_s "$(since "${t0}")"
    t0="$(now)"
    "${image}" build >"${WORK}/image.log" 2>&1 || { tail -n 20 "${WORK}/image.log" >&2; die "image build failed"; }
    record image_build_s "$(since "${t0}")"
    record image_mib "$("${BENCH_ENGINE}" image inspect --format '{{.Size}}' "$("${image}" name)" | awk '{ printf "%.0f", $1 / 1048576 }')"
  fi

  info "b. ${BENCH_RESTARTS} container starts"
  for i in $(seq "${BENCH_RESTARTS}"); do
    t0="$(now)"
    "${container}" start >"${WORK}/start.log" 2>&1 || { tail -n 30 "${WORK}/start.log" >&2; die "container start failed"; }
    record "container_start_${i}_s" "$(since "${t0}")"
    pid="$("${BENCH_ENGINE}" inspect --format '{{.State.Pid}}' "${KEYCLOAK_CONTAINER}-${KEYCLOAK_INSTANCE}")"
    # kc.sh is the container's first process; the JVM is its child.
    record "container_start_${i}_rss_ready_mib" "$(ps -o rss= -p "${pid}" --ppid "${pid}" | awk '{ kib += $1 } END { printf "%.0f", kib / 1024 }')"
    [[ "${i}" != "${BENCH_RESTARTS}" ]] || bench_token container
    "${container}" stop >/dev/null
  done

  info "c. native: a first start (build step), then ${BENCH_RESTARTS} later starts"
  timed_start native_first_start
  "${NATIVE}" stop >/dev/null
  for i in $(seq "${BENCH_RESTARTS}"); do
    timed_start "native_start_${i}"
    record "native_start_${i}_rss_ready_mib" "$(rss_mib bench)"
    [[ "${i}" != "${BENCH_RESTARTS}" ]] || bench_token native
    "${NATIVE}" stop >/dev/null
  done

  info "d. the embedded provider"
  "${ROOT}/target/debug/oauth2-provider" --realm "${REALM_FILE:-${ROOT}/oauth2-provider/import/oauth2-playbook-realm.json}" \
    --certs "${CERTS_DIR}" --port "${PROVIDER_PORT}" --management-port "${MANAGEMENT_PORT}" >"${WORK}/embedded.log" 2>&1 &
  EMBEDDED_PID=$!
  wait_health "${MANAGEMENT_PORT}"
  record embedded_rss_ready_mib "$(ps -o rss= -p "${EMBEDDED_PID}" | awk '{ printf "%.0f", $1 / 1024 }')"
  bench_token embedded
  info "results in ${RESULTS}"
}

main() {
  if [[ "${1:-}" == runners ]]; then
    runners
    return
  fi
  if [[ "${1:-}" == starts ]]; then
    starts
    return
  fi
  mkdir -p "$(dirname "${RESULTS}")"
  : >"${RESULTS}"
  command -v cargo >/dev/null 2>&1 || die "cargo is needed (to build the client and the suite)"
  "${NATIVE}" check >/dev/null || die "native Keycloak cannot run here (see above)"
  info "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
  record machine "$(nproc)_cores_$(free -m | awk '/^Mem:/ { print $2 }')_MiB_load_$(cut -d' ' -f1 /proc/loadavg)"
  info "building the client and the scenario suite first (not timed)"
  (cd "${ROOT}" && cargo build --locked -q -p client &&
    cargo test --locked -q -p oauth2-provider --test keycloak_native --no-run 2>/dev/null)
  "${ROOT}/target/debug/client" certs --out "${CERTS_DIR}" >/dev/null
  PROVIDER_PORT="$(free_port)"
  MANAGEMENT_PORT="$(free_port)"
  export PROVIDER_PORT MANAGEMENT_PORT

  local t0
  if [[ "${BENCH_DOWNLOAD}" == 1 ]]; then
    info "1. download into an empty Maven repository (bounded: ${BENCH_DOWNLOAD_TIMEOUT} s)"
    t0="$(now)"
    if MAVEN_REPO_LOCAL="${WORK}/m2" KEYCLOAK_CACHE_DIR="${WORK}/download-cache" \
      timeout "${BENCH_DOWNLOAD_TIMEOUT}" "${NATIVE}" fetch >"${WORK}/fetch.log" 2>&1; then
      record download_and_unpack_s "$(since "${t0}")"
      record download_mib "$(du -sm "${WORK}/m2" | cut -f1)"
    else
      tail -n 10 "${WORK}/fetch.log" >&2
      record download_and_unpack_s "failed"
    fi
    rm -rf -- "${WORK}/m2" "${WORK}/download-cache"
  fi

  info "2. unpack (the zip from ~/.m2: a Maven cache hit)"
  t0="$(now)"
  "${NATIVE}" fetch >"${WORK}/fetch.log" 2>&1 || {
    cat "${WORK}/fetch.log" >&2
    die "fetch failed"
  }
  record unpack_s "$(since "${t0}")"

  info "3. first start (instance copy, build step, start, realm import) on ports ${PROVIDER_PORT}/${MANAGEMENT_PORT}"
  timed_start first_start
  record rss_ready_mib "$(rss_mib bench)"
  sleep 10
  record rss_idle_10s_mib "$(rss_mib bench)"
  local secs
  secs="$(now)"
  "${NATIVE}" stop >/dev/null
  record stop_s "$(since "${secs}")"

  info "4. ${BENCH_RESTARTS} later starts"
  local i
  for i in $(seq "${BENCH_RESTARTS}"); do
    timed_start "later_start_${i}"
    record "later_start_${i}_rss_ready_mib" "$(rss_mib bench)"
    "${NATIVE}" stop >/dev/null
  done

  info "6. the scenario suite against the tests' own native Keycloak, memory sampled each second"
  (
    while true; do
      if mib="$(rss_mib tests)"; then
        printf '%s %s\n' "$(date +%s)" "${mib}"
      fi
      sleep 1
    done
  ) >"${WORK}/rss-suite.txt" &
  SAMPLER_PID=$!
  t0="$(now)"
  local suite=passed
  (cd "${ROOT}" && cargo test --locked -q -p oauth2-provider --test keycloak_native -- --ignored) \
    >"${WORK}/suite.log" 2>&1 || suite="failed (see the note in BENCHMARKS.md)"
  kill "${SAMPLER_PID}" 2>/dev/null || true
  wait "${SAMPLER_PID}" 2>/dev/null || true
  SAMPLER_PID=""
  record suite_s "$(since "${t0}")"
  record suite_result "${suite}"
  record suite_scenarios_ok "$(grep -c '^scenario .* \.\.\. ok' "${WORK}/suite.log" || true)"
  record suite_scenarios_failed "$(grep -c '^scenario .* \.\.\. FAILED' "${WORK}/suite.log" || true)"
  cp "${WORK}/suite.log" "${RESULTS%.txt}-suite.log"
  record rss_suite_peak_mib "$(awk 'm < $2 { m = $2 } END { print m }' "${WORK}/rss-suite.txt")"
  record rss_suite_last_mib "$(tail -n 1 "${WORK}/rss-suite.txt" | cut -d' ' -f2)"
  info "results in ${RESULTS}"
}

main "$@"
