#!/usr/bin/env bash
# Lab 4, reference solution: the thumbprint by hand, and a bound token replayed over
# another certificate. Needs ACCESS_TOKEN (client token --raw) in the environment.
set -euo pipefail
source scripts/env.sh
OUT="${LAB_WORK_DIR:-labs/work}/lab4"
mkdir -p "${OUT}"

# RFC 8705 §3.1: x5t#S256 = base64url(SHA-256(DER of the certificate)), no padding.
openssl x509 -in "${CERTS_DIR}/client.pem" -outform DER |
  openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n' >"${OUT}/x5t.txt"
echo "x5t#S256 of client.pem: $(cat "${OUT}/x5t.txt")"

# The token was issued over a connection with client.pem; present other-client.pem instead.
curl -sS -i --cacert "${CERTS_DIR}/ca.pem" \
  --cert "${CERTS_DIR}/other-client.pem" --key "${CERTS_DIR}/other-client.key.pem" \
  -H "Authorization: Bearer ${ACCESS_TOKEN}" \
  "${RESOURCE_SERVER_URL}/api/whoami" >"${OUT}/replay.txt"
head -n 1 "${OUT}/replay.txt"
