//! The names every part of the playground shares, defined once.
//!
//! `scripts/env.sh` repeats the few the shell needs; a test (`tests/env_sh.rs`)
//! fails if the two ever disagree.

/// The Keycloak realm (`oauth2-provider/import/oauth2-playbook-realm.json`).
pub const REALM: &str = "oauth2-playbook";
/// The confidential client that authenticates with its certificate (RFC 8705 `tls_client_auth`).
pub const MTLS_CLIENT_ID: &str = "oauth2-playbook-client-credentials-mtls";
/// The classic `client_secret` client, kept for contrast.
pub const SECRET_CLIENT_ID: &str = "oauth2-playbook-client-credentials-secret";
/// The secret of [`SECRET_CLIENT_ID`]. A development value: it is in the realm file on purpose.
pub const SECRET_CLIENT_SECRET: &str = "playbook-dev-secret-change-me";
/// The realm role the walkthrough assigns; `GET /api/users` requires it.
pub const READONLY_ROLE: &str = "oauth2-playbook-readonly";
/// A realm role the walkthrough's client never gets; `POST /api/users` requires it (403 on show).
pub const WRITE_ROLE: &str = "oauth2-playbook-write";
/// The optional client scope the client may ask for.
pub const USERS_READ_SCOPE: &str = "users:read";

/// Where the authorization server (Keycloak or the embedded provider) listens.
pub const PROVIDER_PORT: u16 = 9443;
/// Keycloak's management interface (health), published by the container script.
pub const MANAGEMENT_PORT: u16 = 9000;
/// Where the resource server listens.
pub const RESOURCE_SERVER_PORT: u16 = 8443;
/// The authorization server's base URL.
pub const PROVIDER_URL: &str = "https://localhost:9443";
/// The resource server's base URL.
pub const RESOURCE_SERVER_URL: &str = "https://localhost:8443";
/// The issuer of the realm's tokens: `{PROVIDER_URL}/realms/{REALM}`.
pub const ISSUER: &str = "https://localhost:9443/realms/oauth2-playbook";
/// The protected API the client calls.
pub const USERS_API_PATH: &str = "/api/users";

/// The realm and client that issue admin tokens (Keycloak's bootstrap admin lives here).
pub const ADMIN_REALM: &str = "master";
pub const ADMIN_CLIENT_ID: &str = "admin-cli";
/// Bootstrap admin (`KC_BOOTSTRAP_ADMIN_USERNAME` / `KC_BOOTSTRAP_ADMIN_PASSWORD`) for development.
pub const DEFAULT_ADMIN_USERNAME: &str = "admin";
pub const DEFAULT_ADMIN_PASSWORD: &str = "admin";

/// The host name the Keycloak container answers to on its network (also a server-certificate SAN).
pub const CONTAINER_HOSTNAME: &str = "keycloak";

/// Subject DN of the dev CA, in RFC 2253 order (the realm's `x509.casubjectdn`).
pub const CA_SUBJECT_DN: &str = "CN=OAuth2 Playbook Dev CA,O=OAuth2 Playbook";
/// Subject DN of the mTLS client certificate, in RFC 2253 order (the realm's `x509.subjectdn`).
pub const CLIENT_SUBJECT_DN: &str = "CN=oauth2-playbook-client-credentials-mtls,O=OAuth2 Playbook";
/// A second client certificate from the same CA, whose DN the realm does not expect.
pub const OTHER_CLIENT_SUBJECT_DN: &str = "CN=oauth2-playbook-other-client,O=OAuth2 Playbook";
/// A CA nobody trusts, that issues a certificate with the *right* client DN.
pub const ROGUE_CA_SUBJECT_DN: &str = "CN=Rogue CA,O=Not The Playbook";

/// `https://host:port/realms/{realm}` for any base URL.
pub fn issuer_for(base_url: &str, realm: &str) -> String {
    format!("{}/realms/{realm}", base_url.trim_end_matches('/'))
}

// --- provisioner (issue 24): the admin API without a password ---------------------------

/// The provisioning client: authenticates with its own certificate (`client-x509`) and calls
/// the admin API with its service account's `realm-management` role (`view-clients`) and what
/// the realm's fine-grained admin permissions grant it (`PROVISIONER.md`).
pub const PROVISIONER_CLIENT_ID: &str = "oauth2-playbook-provisioner";
/// Subject DN of the provisioner's certificate, in RFC 2253 order (its `x509.subjectdn`).
pub const PROVISIONER_SUBJECT_DN: &str = "CN=oauth2-playbook-provisioner,O=OAuth2 Playbook";
/// The `realm-management` client: its roles are what a realm's own admins may do.
pub const REALM_MANAGEMENT_CLIENT_ID: &str = "realm-management";
/// The one `realm-management` role the shipped realm gives the provisioner (to read a
/// client's configuration); what it may do to users comes from admin permissions.
pub const PROVISIONER_ROLES: &[&str] = &["view-clients"];

// --- identity (issue 22): intermediate CAs, certificate identity labs 9 and 10 ---

/// Subject DN of the intermediate CA `client certs intermediate` makes under the dev CA.
pub const INTERMEDIATE_CA_SUBJECT_DN: &str = "CN=OAuth2 Playbook Intermediate CA,O=OAuth2 Playbook";
/// The file name (in `certs/`, without `.pem`) of that intermediate CA.
pub const INTERMEDIATE_CA_NAME: &str = "intermediate-ca";

// --- dpop branch (issue 26): the clients of the alternatives to mTLS ---

/// A client authenticated by a client secret whose tokens are bound to a DPoP key (Keycloak
/// client attribute `dpop.bound.access.tokens`, RFC 9449): it must send a DPoP proof.
pub const DPOP_CLIENT_ID: &str = "oauth2-playbook-client-credentials-dpop";
/// The secret of [`DPOP_CLIENT_ID`]. A development value: it is in the realm file on purpose.
pub const DPOP_CLIENT_SECRET: &str = "playbook-dev-dpop-secret-change-me";

// --- lab10 branch (issue 22): lab 10, a stolen key ---

/// The port of lab 10's second resource server, the one started with `--crl` (the
/// playground's own, on [`RESOURCE_SERVER_PORT`], checks no CRL).
pub const LAB10_CRL_RESOURCE_SERVER_PORT: u16 = 8444;
// --- jwt branch (issue 26): private_key_jwt ---

/// A client authenticated by RFC 7523 `private_key_jwt` (Keycloak `client-jwt`): a JWT
/// signed with its private key; the provider holds its certificate. In the shipped realm,
/// its certificate read from [`JWT_CLIENT_CERT_ENV`] at import.
pub const JWT_CLIENT_ID: &str = "oauth2-playbook-client-credentials-jwt";
/// Its certificate (in `certs/`; `client certs` makes it), registered at the provider as
/// `jwt.credential.certificate` (through [`JWT_CLIENT_CERT_ENV`]).
pub const JWT_CERT_FILE: &str = "client-jwt.pem";
/// Its private key (in `certs/`), which signs the assertions.
pub const JWT_KEY_FILE: &str = "client-jwt.key.pem";

// --- jwtrealm branch (issue 26): the private_key_jwt client in the shipped realm ---

/// The environment variable the shipped realm file reads the `private_key_jwt` client's
/// certificate from: its `jwt.credential.certificate` is `${PLAYBOOK_JWT_CLIENT_CERT:}`, a
/// Keycloak import placeholder (base64 DER of [`JWT_CERT_FILE`]). Every driver that starts a
/// provider sets it from `certs/`; unset, the client is imported without a certificate and
/// Keycloak answers its token requests 400 `invalid_client` "Unable to load public key".
pub const JWT_CLIENT_CERT_ENV: &str = "PLAYBOOK_JWT_CLIENT_CERT";
/// The placeholder as the realm file holds it (empty default: see [`JWT_CLIENT_CERT_ENV`]).
pub const JWT_CLIENT_CERT_PLACEHOLDER: &str = "${PLAYBOOK_JWT_CLIENT_CERT:}";
/// Subject DN of [`JWT_CERT_FILE`] (`client certs` issues it from the dev CA; the provider
/// reads only its public key).
pub const JWT_CLIENT_SUBJECT_DN: &str =
    "CN=oauth2-playbook-client-credentials-jwt,O=OAuth2 Playbook";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_constants_agree() {
        assert_eq!(ISSUER, issuer_for(PROVIDER_URL, REALM));
        assert_eq!(PROVIDER_URL, format!("https://localhost:{PROVIDER_PORT}"));
        assert_eq!(
            RESOURCE_SERVER_URL,
            format!("https://localhost:{RESOURCE_SERVER_PORT}")
        );
        assert!(CLIENT_SUBJECT_DN.starts_with(&format!("CN={MTLS_CLIENT_ID},")));
        assert!(PROVISIONER_SUBJECT_DN.starts_with(&format!("CN={PROVISIONER_CLIENT_ID},")));
    }
}
