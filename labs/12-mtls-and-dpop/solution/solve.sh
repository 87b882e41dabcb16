#!/usr/bin/env bash
# Lab 12, reference solution: the three mix-ups of mTLS and DPoP, each answer saved, and why
# each is refused. Needs MTLS_TOKEN (client token --raw) and DPOP_TOKEN (client token --auth
# secret --bind dpop --raw) in the environment.
set -euo pipefail
source scripts/env.sh
OUT="${LAB_WORK_DIR:-labs/work}/lab12"
mkdir -p "${OUT}"

# Every call presents client.pem (the resource server requires a client certificate).
call() {
  curl -sS -i --cacert "${CERTS_DIR}/ca.pem" \
    --cert "${CERTS_DIR}/client.pem" --key "${CERTS_DIR}/client.key.pem" \
    "$@" "${RESOURCE_SERVER_URL}/api/whoami"
}

# 1. The DPoP-bound token as a bearer token.
call -H "Authorization: Bearer ${DPOP_TOKEN}" >"${OUT}/bearer.txt"
# 2. The certificate-bound token with the DPoP scheme.
call -H "Authorization: DPoP ${MTLS_TOKEN}" >"${OUT}/wrong-scheme.txt"
# 3. The DPoP-bound token with the DPoP scheme, but no DPoP proof.
call -H "Authorization: DPoP ${DPOP_TOKEN}" >"${OUT}/no-proof.txt"
for f in bearer wrong-scheme no-proof; do
  printf '%s: ' "${f}.txt"
  grep -i '^www-authenticate' "${OUT}/${f}.txt" || head -n 1 "${OUT}/${f}.txt"
done

cat >"${OUT}/why.txt" <<'WHY'
bearer.txt: the token is DPoP-bound (cnf.jkt): it is only good with a DPoP proof signed by that key, and a bearer request carries no proof, so it is exactly what a thief holding the token alone would send.
wrong-scheme.txt: the token is bound to the client certificate (cnf.x5t#S256), not to a DPoP key (no cnf.jkt): the DPoP scheme claims a binding the token does not have.
no-proof.txt: the token is DPoP-bound (cnf.jkt) and the scheme is right, but without the DPoP header nothing proves possession of the key.
WHY
