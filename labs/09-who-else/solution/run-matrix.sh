#!/usr/bin/env bash
# Lab 9, step 2: runs every cell of the matrix with curl, as an attendee would by hand, and
# prints what the provider answered: token, the RFC 6749 §5.2 error code, or handshake (the
# TLS handshake refused, whatever the alert is called).
#
#   bash labs/09-who-else/solution/run-matrix.sh            # every cell
#   bash labs/09-who-else/solution/run-matrix.sh regex      # one cell
#
# Reads the cells (name, client id) from labs/work/lab9/cells.txt, which `client lab prepare 9`
# writes with the certificates; the servers' addresses from scripts/env.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../../scripts/env.sh
source "${ROOT}/scripts/env.sh"
WORK="${LAB_WORK_DIR:-${ROOT}/labs/work}/lab9"
TOKEN_URL="${ISSUER}/protocol/openid-connect/token"

INFO() { printf '%s\n' "$*"; }
ERROR() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[[ -f "${WORK}/cells.txt" ]] || ERROR "${WORK}/cells.txt is missing: run cargo run -q -p client -- lab prepare 9"

# One cell: the certificate NAME.pem (with its chain) and key NAME.key.pem, as CLIENT.
run_cell() {
  local name="$1" client="$2" body status rc=0
  body="$(mktemp)"
  status="$(curl -sS -o "${body}" -w '%{http_code}' --cacert "${CERTS_DIR}/ca.pem" \
      --cert "${WORK}/${name}.pem" --key "${WORK}/${name}.key.pem" \
      -d grant_type=client_credentials --data-urlencode "client_id=${client}" \
      "${TOKEN_URL}" 2>/dev/null)" || rc=$?
  case "${rc}" in
    0) if [[ "${status}" == 200 ]]; then INFO "${name}: token"; else
         INFO "${name}: $(sed -n 's/.*"error":"\([^"]*\)".*/\1/p' "${body}") (HTTP ${status})"; fi ;;
    # 35: the handshake failed; 56: TLS 1.3 delivers the server's alert on the first read.
    35 | 56) INFO "${name}: handshake" ;;
    *) rm -f "${body}"; ERROR "curl exit ${rc} for ${name}: is the provider running at ${TOKEN_URL}? (./start.sh --lab 9)" ;;
  esac
  rm -f "${body}"
}

main() {
  local name client
  while read -r name client; do
    [[ -z "${1:-}" || "$1" == "${name}" ]] || continue
    run_cell "${name}" "${client}"
  done <"${WORK}/cells.txt"
}

main "$@"
