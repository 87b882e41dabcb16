//! Every setting the commands share, already resolved (the clap layer in [`crate::cli`]
//! fills it from flags, environment variables and `.env`). Defaults match `./start.sh`
//! and `playbook::names`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use playbook::names;
use url::Url;

use crate::error::ClientError;
use crate::token::{AuthMethod, Bind, ClientAuth, ClientId, ClientSecret, Scope, TokenRequest};

/// Where the servers are, who we are, and which files prove it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The realm's issuer, e.g. `https://localhost:9443/realms/oauth2-playbook`.
    pub issuer: Url,
    /// The realm name (the last segment of the issuer, for the admin API).
    pub realm: String,
    /// The mTLS client (`tls_client_auth`).
    pub client_id: ClientId,
    /// Scope to ask for (`users:read`), if any.
    pub scope: Option<Scope>,
    /// The resource server's base URL.
    pub resource_server: Url,
    /// The dev CA: the only root trusted for the servers.
    pub ca: PathBuf,
    /// The client certificate and key the realm expects.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Same CA, another DN (walkthrough steps 3 and 7).
    pub other_cert: PathBuf,
    pub other_key: PathBuf,
    /// Right DN, untrusted CA (walkthrough step 3b).
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
    /// Who calls the admin API: the provisioner (its certificate, no password; the
    /// default) or the bootstrap admin (a password).
    pub admin_as: AdminAs,
    /// The provisioning client and its certificate (`certs/provisioner.pem`).
    pub provisioner_client_id: ClientId,
    pub provisioner_cert: PathBuf,
    pub provisioner_key: PathBuf,
    /// Keycloak's bootstrap admin (realm `master`, client `admin-cli`), for `--admin-as bootstrap`.
    pub admin_username: String,
    pub admin_password: ClientSecret,
    /// The `client-secret` client, for contrast.
    pub secret_client_id: ClientId,
    pub client_secret: ClientSecret,
    /// The private_key_jwt client (`--auth private-key-jwt`) and its private key.
    pub jwt_client_id: ClientId,
    pub jwt_key: PathBuf,
    /// How long to wait for a server that is still starting.
    pub wait: Duration,
    /// Where the client's TLS ends: at the servers themselves, or at a proxy in front of
    /// them (`./start.sh --proxy nginx|haproxy|apache`).
    pub proxy: Proxy,
}

/// Who calls Keycloak's admin API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAs {
    /// The provisioning client `oauth2-playbook-provisioner`: a token over mTLS with
    /// `provisioner.pem` (`client_credentials`): `realm-management`'s `view-clients`, and
    /// what the realm's fine-grained admin permissions grant it (map
    /// `oauth2-playbook-readonly` to the mTLS client's service account). No password is sent.
    #[default]
    Provisioner,
    /// Keycloak's bootstrap admin: the `password` grant on realm `master` with `admin-cli`
    /// (`KC_BOOTSTRAP_ADMIN_USERNAME` / `_PASSWORD`), for a realm without a provisioner.
    Bootstrap,
}

/// A proxy that terminates the clients' TLS in front of the servers: it verifies the client
/// certificate itself and answers for the servers when it does not verify (walkthrough step
/// 3b expects that answer instead of the provider's TLS alert).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Proxy {
    /// No proxy: TLS ends at the servers.
    #[default]
    None,
    /// `proxy/nginx.sh`: a certificate that does not verify gets 401 `invalid_client` from
    /// nginx (`$ssl_client_verify`, `proxy/nginx/nginx.conf.in`).
    Nginx,
    /// `proxy/haproxy.sh`: 401 `invalid_client` from HAProxy (`ssl_c_verify`,
    /// `proxy/haproxy/haproxy.cfg.in`).
    Haproxy,
    /// `proxy/apache.sh`: 401 `invalid_client` from httpd (`SSL_CLIENT_VERIFY`,
    /// `proxy/apache/httpd.conf.in`).
    Apache,
    /// `proxy/caddy.sh`: Caddy 2.6 refuses a certificate from another CA in the handshake
    /// (client_auth `verify_if_given`: the alert `bad_certificate`), as the servers do.
    Caddy,
}

impl Settings {
    /// The client-credentials request of the client that authenticates with `method`: the
    /// mTLS client (`tls_client_auth`) or the client-secret client (`client_secret_basic`).
    pub fn token_request(&self, method: AuthMethod) -> TokenRequest {
        let (client_id, auth) = match method {
            AuthMethod::Tls => (&self.client_id, ClientAuth::TlsClientAuth),
            AuthMethod::Secret => (
                &self.secret_client_id,
                ClientAuth::SecretBasic(self.client_secret.clone()),
            ),
            AuthMethod::PrivateKeyJwt => (
                &self.jwt_client_id,
                ClientAuth::PrivateKeyJwt(crate::token::JwtCredential {
                    key_file: self.jwt_key.clone(),
                    audience: self.issuer.as_str().trim_end_matches('/').to_owned(),
                    made: None,
                }),
            ),
        };
        TokenRequest {
            client_id: client_id.clone(),
            scope: self.scope.clone(),
            auth,
        }
    }

    /// [`Settings::token_request`] for a binding: `--auth secret --bind dpop` is the realm's
    /// DPoP client (`dpop.bound.access.tokens`, a secret of its own); every other pair is
    /// the method's own client.
    pub fn token_request_bound(&self, method: AuthMethod, bind: Bind) -> TokenRequest {
        match (method, bind) {
            (AuthMethod::Secret, Bind::Dpop) => TokenRequest {
                client_id: ClientId::new(names::DPOP_CLIENT_ID),
                scope: self.scope.clone(),
                auth: ClientAuth::SecretBasic(ClientSecret::new(names::DPOP_CLIENT_SECRET)),
            },
            _ => self.token_request(method),
        }
    }

    /// The defaults of `./start.sh`, with the certificates in `certs_dir`.
    pub fn defaults(certs_dir: &Path) -> Self {
        let file = |name: &str| certs_dir.join(name);
        Settings {
            issuer: Url::parse(names::ISSUER).expect("names::ISSUER is a URL"),
            realm: names::REALM.to_owned(),
            client_id: ClientId::new(names::MTLS_CLIENT_ID),
            scope: None,
            resource_server: Url::parse(names::RESOURCE_SERVER_URL)
                .expect("names::RESOURCE_SERVER_URL is a URL"),
            ca: file("ca.pem"),
            cert: file("client.pem"),
            key: file("client.key.pem"),
            other_cert: file("other-client.pem"),
            other_key: file("other-client.key.pem"),
            rogue_cert: file("rogue-client.pem"),
            rogue_key: file("rogue-client.key.pem"),
            admin_as: AdminAs::Provisioner,
            provisioner_client_id: ClientId::new(names::PROVISIONER_CLIENT_ID),
            provisioner_cert: file("provisioner.pem"),
            provisioner_key: file("provisioner.key.pem"),
            admin_username: names::DEFAULT_ADMIN_USERNAME.to_owned(),
            admin_password: ClientSecret::new(names::DEFAULT_ADMIN_PASSWORD),
            secret_client_id: ClientId::new(names::SECRET_CLIENT_ID),
            client_secret: ClientSecret::new(names::SECRET_CLIENT_SECRET),
            jwt_client_id: ClientId::new(names::JWT_CLIENT_ID),
            jwt_key: file(names::JWT_KEY_FILE),
            wait: Duration::from_secs(120),
            proxy: Proxy::None,
        }
    }

    /// The same defaults for a provider at `provider_base` and a resource server at
    /// `resource_server` (tests bind random ports).
    pub fn for_servers(certs_dir: &Path, provider_base: &str, resource_server: &str) -> Self {
        let mut s = Settings::defaults(certs_dir);
        s.issuer =
            Url::parse(&names::issuer_for(provider_base, names::REALM)).expect("provider base URL");
        s.resource_server = Url::parse(resource_server).expect("resource server URL");
        s
    }

    /// The server root the admin API hangs off: the issuer with `/realms/{realm}` removed.
    pub fn admin_base(&self) -> Result<Url, ClientError> {
        let suffix = format!("/realms/{}", self.realm);
        let issuer = self.issuer.as_str().trim_end_matches('/');
        match issuer.strip_suffix(&suffix) {
            Some(base) => Url::parse(&format!("{base}/")).map_err(|e| ClientError::Setting {
                name: "ISSUER",
                value: self.issuer.to_string(),
                fix: e.to_string(),
            }),
            None => Err(ClientError::Setting {
                name: "ISSUER",
                value: self.issuer.to_string(),
                fix: format!(
                    "the admin API needs a Keycloak issuer ending in {suffix} (or set --realm to the issuer's realm)"
                ),
            }),
        }
    }

    /// The realm named in a Keycloak issuer URL (`…/realms/{realm}`), if it is one.
    pub fn realm_of(issuer: &Url) -> Option<String> {
        let mut segments: Vec<&str> = issuer.path_segments()?.filter(|s| !s.is_empty()).collect();
        let realm = segments.pop()?;
        (segments.last() == Some(&"realms")).then(|| realm.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_base_strips_the_realm_path() {
        let s = Settings::defaults(Path::new("certs"));
        assert_eq!(s.admin_base().unwrap().as_str(), "https://localhost:9443/");
        let mut s = s;
        s.issuer = Url::parse("https://kc.example/auth/realms/oauth2-playbook/").unwrap();
        assert_eq!(s.admin_base().unwrap().as_str(), "https://kc.example/auth/");
        s.issuer = Url::parse("https://other.example/oauth2").unwrap();
        let err = s.admin_base().unwrap_err().to_string();
        assert!(
            err.contains("ISSUER") && err.contains("/realms/oauth2-playbook"),
            "{err}"
        );
    }

    #[test]
    fn realm_is_read_from_a_keycloak_issuer() {
        let url = Url::parse("https://localhost:9443/realms/demo").unwrap();
        assert_eq!(Settings::realm_of(&url).as_deref(), Some("demo"));
        let url = Url::parse("https://example.com/oauth2/default").unwrap();
        assert_eq!(Settings::realm_of(&url), None);
    }
}
