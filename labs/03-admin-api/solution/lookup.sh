# Lab 3, steps 1-4 (sourced by assign.sh and remove.sh): an admin token, the client's UUID,
# its service-account user's id, the role's id. curl, grep and sed only.
# shellcheck shell=bash
source scripts/env.sh
ROLE="${ROLE:-oauth2-playbook-readonly}"
CA="${CERTS_DIR}/ca.pem"
ADMIN="${PROVIDER_URL}/admin/realms/${REALM}"

# The value of the first "NAME":"value" in a one-line JSON answer (jq -r would do it too).
json_field() { grep -o "\"$1\" *: *\"[^\"]*\"" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'; }

# 1. An admin token: the password grant on realm master, client admin-cli.
ADMIN_TOKEN="$(curl -sS --fail-with-body --cacert "${CA}" \
  -d grant_type=password -d client_id=admin-cli \
  --data-urlencode "username=${KC_BOOTSTRAP_ADMIN_USERNAME}" \
  --data-urlencode "password=${KC_BOOTSTRAP_ADMIN_PASSWORD}" \
  "${PROVIDER_URL}/realms/master/protocol/openid-connect/token" | json_field access_token)"

api() { curl -sS --fail-with-body --cacert "${CA}" -H "Authorization: Bearer ${ADMIN_TOKEN}" "$@"; }

# 2. The client, by its clientId: the admin API names it by its UUID ("id").
CLIENT_UUID="$(api "${ADMIN}/clients?clientId=${CLIENT_ID}" | json_field id)"
# 3. Its service-account user: the "user" client-credentials tokens are issued for.
USER_ID="$(api "${ADMIN}/clients/${CLIENT_UUID}/service-account-user" | json_field id)"
# 4. The realm role: Keycloak wants its id and its name.
ROLE_ID="$(api "${ADMIN}/roles/${ROLE}" | json_field id)"
echo "client ${CLIENT_ID} = ${CLIENT_UUID}; user ${USER_ID}; role ${ROLE} = ${ROLE_ID}"

# 5./7. POST (assign) or DELETE (remove) the role on the user's realm role mappings; then
# print the mappings (6.).
change_mapping() {
  api -X "$1" -H 'Content-Type: application/json' \
    -d "[{\"id\":\"${ROLE_ID}\",\"name\":\"${ROLE}\"}]" \
    "${ADMIN}/users/${USER_ID}/role-mappings/realm"
  api "${ADMIN}/users/${USER_ID}/role-mappings/realm"
  echo
}
