#!/usr/bin/env bash
# Runs the project's checks and tests: shellcheck on the scripts (when it is installed),
# rustfmt and clippy (warnings are errors), every Rust test of the workspace over real TLS
# on loopback, then the shared scenario suite and the workshop labs against the real
# Keycloak, run natively (oauth2-provider/keycloak-native.sh: Keycloak's own distribution on
# Java).
#
# The Keycloak part runs whenever it can here (Java 17+, and the distribution cached or
# Maven to fetch it: `keycloak-native.sh check`), and always under CI=true, where a Keycloak
# that cannot be fetched or started fails the run with the reason. Elsewhere the end of the
# output says plainly that it DID NOT RUN, and how to run it.
#
# Then the container part (scripts/test-containers.sh): Keycloak in a container with Docker
# and Podman (the image built from the pinned distribution; the scenario suite through
# testcontainers, the labs, the walkthrough, compose). Under CI=true it always runs (the
# engines are installed and started); elsewhere it runs where the engines answer, and
# otherwise the output says plainly that it DID NOT RUN.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --workspace, not -p oauth2-provider: the same feature set as the run above, so its build is
# reused (with -p, cargo resolves features anew and recompiles part of the tree: ~100 s here).
# keycloak_native_proxy: real Keycloak behind the shipped nginx (its nginx x509 lookup).
# labs_keycloak_native (client): every workshop lab's reset-fails/solve-passes check.
# start_sh (supervisor): the ./start.sh combinations with native Keycloak (the real script;
# its container row runs in scripts/test-containers.sh).
# realm_corpus: the realm corpus imported by native Keycloak, re-recorded and compared with
# its golden answers (drift fails).
# production (oauth2-provider): two Keycloak nodes on PostgreSQL behind nginx (production.sh).
NATIVE_SUITE=(cargo test --workspace --test keycloak_native --test keycloak_native_proxy --test keycloak_native_shapes --test labs_keycloak_native --test identity_keycloak_native --test revocation_keycloak_native --test start_sh --test realm_corpus --test doctor --test doctor_proxy --test production --locked -- --ignored --skip keycloak_container)

scripts=(start.sh scripts/*.sh scripts/*.env oauth2-provider/*.sh proxy/*.sh .ci/run labs/*/solution/*.sh)
if command -v shellcheck >/dev/null 2>&1; then
  echo "shellcheck ${scripts[*]}"
  shellcheck -x "${scripts[@]}"
else
  echo "shellcheck is not installed: shell scripts not linted (apt-get install shellcheck)" >&2
fi

# resource-server/tests/behind_nginx.rs drives a real nginx; it fails (never skips) without one.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing nginx-light for the reverse-proxy tests"
  (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null) || echo "could not install nginx-light; the behind_nginx tests will fail" >&2
fi

echo "cargo fmt --check; cargo clippy (warnings are errors)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

cargo test --workspace --locked "$@"

# The scenario suite, the golden answers and the labs against native Keycloak (first run:
# Maven fetches about 190 MB once, and Keycloak's first start runs its build step).
native_problem=""
if ! native_problem="$(oauth2-provider/keycloak-native.sh check 2>&1 >/dev/null)"; then
  if [[ "${CI:-}" == true ]]; then
    echo "ERROR the native Keycloak suite must run in CI, and cannot: ${native_problem#ERROR }" >&2
    exit 1
  fi
  cat >&2 <<MSG

==========================================================================================
 The Keycloak part DID NOT RUN: the shared scenario suite and the workshop labs ran
 against the embedded provider only, not against a live Keycloak.
 Why: ${native_problem#ERROR }
 To run it: install Java 17+ (Debian: apt-get install openjdk-17-jre-headless) and, the
 first time, Maven (apt-get install maven), then run ./scripts/test.sh again, or only
 this part: ${NATIVE_SUITE[*]}
==========================================================================================
MSG
else
  echo "the scenario suite and the labs against native Keycloak: ${NATIVE_SUITE[*]}"
  started=${SECONDS}
  "${NATIVE_SUITE[@]}"
  echo "native Keycloak suite passed in $((SECONDS - started)) s"
fi

# Keycloak in a container, Docker and Podman (it says itself when it DID NOT RUN).
started=${SECONDS}
./scripts/test-containers.sh
echo "container part done in $((SECONDS - started)) s"
