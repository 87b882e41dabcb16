#!/usr/bin/env bash
# Lab 11's reference solution: the attendee's copy becomes the stock template,
# proxy/haproxy/haproxy.cfg.in, whose provider front end deletes a client's own
# x-ssl-client-cert and x-ssl-client-chain, then sets them from the verified connection
# (%[ssl_c_der,base64] and %[ssl_c_chain_der,base64]). `client lab solve 11` runs it with
# LAB_WORK_DIR set; by hand: LAB_WORK_DIR=labs/work bash labs/11-proxies/solution/solve.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
WORK="${LAB_WORK_DIR:-${ROOT}/labs/work}/lab11"
mkdir -p "${WORK}"
# Atomic: a temporary file beside it, then a rename.
cp -- "${ROOT}/proxy/haproxy/haproxy.cfg.in" "${WORK}/haproxy.cfg.in.tmp"
mv -f -- "${WORK}/haproxy.cfg.in.tmp" "${WORK}/haproxy.cfg.in"
printf 'lab 11: %s is the stock HAProxy template\n' "${WORK}/haproxy.cfg.in"
