#!/usr/bin/env bash
# Lab 3, part 2: the same assignment without any password: the provisioning client
# authenticates with its own certificate (provisioner.pem) and acts with its service
# account's one realm-management role, manage-users. curl, grep and sed only.
set -euo pipefail
source scripts/env.sh
ROLE="${ROLE:-oauth2-playbook-readonly}"
CA="${CERTS_DIR}/ca.pem"
ADMIN="${PROVIDER_URL}/admin/realms/${REALM}"

# The value of the first "NAME":"value" in a one-line JSON answer (jq -r would do it too).
json_field() { grep -o "\"$1\" *: *\"[^\"]*\"" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'; }

# P1. The provisioner's token: client credentials in ITS realm, over mTLS; the certificate
# is the credential (no secret, no password).
TOKEN="$(curl -sS --fail-with-body --cacert "${CA}" \
  --cert "${CERTS_DIR}/provisioner.pem" --key "${CERTS_DIR}/provisioner.key.pem" \
  -d grant_type=client_credentials -d "client_id=${PROVISIONER_CLIENT_ID}" \
  "${PROVIDER_URL}/realms/${REALM}/protocol/openid-connect/token" | json_field access_token)"

api() { curl -sS --fail-with-body --cacert "${CA}" -H "Authorization: Bearer ${TOKEN}" "$@"; }

# P2. The service-account user, by username (manage-users may find users; by username, the
# lookup needs no view-clients, which the shipped provisioner has only for client doctor).
USER_ID="$(api "${ADMIN}/users?username=service-account-${CLIENT_ID}&exact=true" | json_field id)"
# P3. The role's id, among the realm roles the provisioner may map to that user (it may not
# read roles by name: GET /roles/… would be 403). Already mapped: then it is in the mappings.
role_in() { grep -o "{[^{}]*\"name\" *: *\"${ROLE}\"[^{}]*}" | json_field id || true; }
ROLE_ID="$(api "${ADMIN}/users/${USER_ID}/role-mappings/realm/available" | role_in)"
[[ -n "${ROLE_ID}" ]] || ROLE_ID="$(api "${ADMIN}/users/${USER_ID}/role-mappings/realm" | role_in)"
echo "user ${USER_ID}; role ${ROLE} = ${ROLE_ID}"

# P4. Assign (204), then look.
api -X POST -H 'Content-Type: application/json' \
  -d "[{\"id\":\"${ROLE_ID}\",\"name\":\"${ROLE}\"}]" \
  "${ADMIN}/users/${USER_ID}/role-mappings/realm"
api "${ADMIN}/users/${USER_ID}/role-mappings/realm"
echo

# P5. One call it may not make: create a client (manage-clients). Keycloak answers 403.
curl -sS --cacert "${CA}" -H "Authorization: Bearer ${TOKEN}" -w ' %{http_code}\n' \
  -X POST -H 'Content-Type: application/json' -d '{"clientId":"lab3-not-allowed"}' \
  "${ADMIN}/clients"
