#!/usr/bin/env bash
# Runs the project's checks and tests: shellcheck on the scripts (when it is installed),
# rustfmt and clippy (warnings are errors), then every Rust test of the workspace, over
# real TLS on loopback.
# Tests against a real Keycloak are #[ignore]d here; run them where a container engine
# exists with: cargo test -p oauth2-provider --test keycloak -- --ignored
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts=(start.sh scripts/*.sh scripts/*.env oauth2-provider/*.sh proxy/*.sh .ci/run)
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
