#!/usr/bin/env bash
# Shared settings for every script: one source of truth for the shell (only what the scripts
# use; the client reads the same names from the environment, see `client --help`).
# The Rust side defines the same names in playbook/src/names.rs; the test
# playbook/tests/env_sh.rs fails if the two disagree. Each value can be overridden
# from the environment.
# shellcheck disable=SC2034  # sourced: the variables are used by the scripts that source it

PLAYBOOK_ROOT="${PLAYBOOK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

REALM="${REALM:-oauth2-playbook}"
CLIENT_ID="${CLIENT_ID:-oauth2-playbook-client-credentials-mtls}"

PROVIDER_PORT="${PROVIDER_PORT:-9443}"
MANAGEMENT_PORT="${MANAGEMENT_PORT:-9000}"
RESOURCE_SERVER_PORT="${RESOURCE_SERVER_PORT:-8443}"
PROVIDER_URL="${PROVIDER_URL:-https://localhost:${PROVIDER_PORT}}"
RESOURCE_SERVER_URL="${RESOURCE_SERVER_URL:-https://localhost:${RESOURCE_SERVER_PORT}}"
ISSUER="${ISSUER:-${PROVIDER_URL}/realms/${REALM}}"

KC_BOOTSTRAP_ADMIN_USERNAME="${KC_BOOTSTRAP_ADMIN_USERNAME:-admin}"
KC_BOOTSTRAP_ADMIN_PASSWORD="${KC_BOOTSTRAP_ADMIN_PASSWORD:-admin}"

CERTS_DIR="${CERTS_DIR:-${PLAYBOOK_ROOT}/certs}"
REALM_FILE="${REALM_FILE:-${PLAYBOOK_ROOT}/oauth2-provider/import/oauth2-playbook-realm.json}"

# --- provisioner (issue 24): the provisioning client, authenticated by its own certificate
PROVISIONER_CLIENT_ID="${PROVISIONER_CLIENT_ID:-oauth2-playbook-provisioner}"

# --- jwtrealm branch (issue 26): the private_key_jwt client's certificate, read by the realm
# file's ${PLAYBOOK_JWT_CLIENT_CERT:} placeholder at import (scripts/lib.sh export_jwt_client_cert)
JWT_CLIENT_CERT_ENV="${JWT_CLIENT_CERT_ENV:-PLAYBOOK_JWT_CLIENT_CERT}"
JWT_CERT_FILE="${JWT_CERT_FILE:-client-jwt.pem}"
