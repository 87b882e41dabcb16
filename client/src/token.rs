//! The client-credentials grant (RFC 6749 §4.4) at the token endpoint.
//!
//! Two ways to authenticate the client:
//! - **`tls_client_auth`** (RFC 8705 §2.1): the form carries `client_id` and *no* secret;
//!   the proof is the certificate presented in the TLS handshake, which the provider
//!   matches against the client's registered subject DN (Keycloak: `x509.subjectdn`).
//!   The token it issues is bound to that certificate: `cnf.x5t#S256` (RFC 8705 §3.1).
//! - **`client_secret_basic`** (RFC 6749 §2.3.1), for contrast: id and secret in HTTP Basic.
//! - **`private_key_jwt`** (RFC 7523 §2.2, OIDC Core §9): a JWT signed with the client's
//!   private key, made for each request ([`playbook::rfc7523`]); nothing secret travels.
//!
//! The response is kept exactly as the server sent it (field order included), and an error
//! keeps the server's RFC 6749 §5.2 code verbatim.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use playbook::oauth::ErrorCode;
use serde_json::Value;
use url::Url;

use crate::error::{ClientError, OAuthError};
pub use playbook::rfc8705::Binding;

/// RFC 6749 `client_id`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientId(String);

impl ClientId {
    pub fn new(id: impl Into<String>) -> Self {
        ClientId(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 6749 §3.3 `scope`: space-separated names, sent as one form field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Scope(String);

impl Scope {
    pub fn new(scope: impl Into<String>) -> Self {
        Scope(scope.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential: `Debug` prints `[redacted]`; the value only through [`secret`](Self::secret).
macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }
            /// The value itself: for the wire, never for a log.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        /// For clap: a flag or environment variable becomes the secret without a `String`
        /// that `Debug` would print.
        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name(value)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// A client secret or password.
    ClientSecret
);
secret_type!(
    /// A bearer access token (a JWT when it comes from Keycloak).
    AccessToken
);

/// The client authentication method chosen on the command line (`--auth`), from the CLI
/// down to the request: each names the realm's client that uses it and how the request
/// proves it ([`crate::Settings::token_request`] turns it into a [`ClientAuth`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// `tls_client_auth` (RFC 8705 §2.1): the mTLS client, its certificate in the TLS
    /// handshake; the token is bound to it.
    #[default]
    Tls,
    /// `client_secret_basic` (RFC 6749 §2.3.1): the client-secret client, its secret in HTTP
    /// Basic, no certificate; the token is not bound.
    Secret,
    /// `private_key_jwt` (RFC 7523 §2.2): the private_key_jwt client, a JWT signed with its
    /// key (`certs/client-jwt.key.pem`) for each request, no certificate; the token is not
    /// bound unless `--bind dpop`.
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Whether the token request presents the client certificate in the TLS handshake.
    pub fn presents_certificate(self) -> bool {
        match self {
            AuthMethod::Tls => true,
            AuthMethod::Secret | AuthMethod::PrivateKeyJwt => false,
        }
    }

    /// The `--auth` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Tls => "tls",
            AuthMethod::Secret => "secret",
            AuthMethod::PrivateKeyJwt => "private-key-jwt",
        }
    }
}

/// How the token is sender-constrained, chosen on the command line (`--bind`), beside how
/// the client authenticates (`--auth`): not every pair is one Keycloak allows, see
/// [`Bind::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bind {
    /// RFC 8705 §3: bound to the client certificate (`cnf.x5t#S256`); only with `--auth tls`
    /// (the realm's mTLS client has `tls.client.certificate.bound.access.tokens` on).
    Mtls,
    /// RFC 9449: bound to a DPoP key the client makes for this run (`cnf.jkt`); every request
    /// carries a proof signed with it. With `--auth secret` (the realm's DPoP client,
    /// `dpop.bound.access.tokens`) or `--auth private-key-jwt` (Keycloak binds a token to
    /// the proof's key for any client that sends one).
    Dpop,
    /// Not bound: a bearer token anyone holding it can use; with `--auth secret` or
    /// `--auth private-key-jwt`.
    None,
}

impl Bind {
    /// The binding `auth` gets when `--bind` is not given: what the realm's client for it
    /// does (the mTLS client's tokens are always certificate-bound, the secret client's never).
    pub fn default_for(auth: AuthMethod) -> Bind {
        match auth {
            AuthMethod::Tls => Bind::Mtls,
            AuthMethod::Secret | AuthMethod::PrivateKeyJwt => Bind::None,
        }
    }

    /// Refuses a pair the realm's clients cannot give, saying why.
    pub fn check(self, auth: AuthMethod) -> Result<(), String> {
        match (auth, self) {
            (AuthMethod::Tls, Bind::None) => Err(
                "the mTLS client's tokens are always certificate-bound (Keycloak binds them when \
                 tls.client.certificate.bound.access.tokens is on): use --auth secret for an \
                 unbound token"
                    .into(),
            ),
            (AuthMethod::Tls, Bind::Dpop) => Err(
                "Keycloak 26.7.5 does not bind the mTLS client's token to a DPoP key: given a \
                 proof it answers token_type DPoP, but its certificate binding replaces cnf.jkt, \
                 so the token is bound to the certificate only. Use --auth secret --bind dpop"
                    .into(),
            ),
            (AuthMethod::Secret, Bind::Mtls) => Err(
                "a token obtained with a client secret is not bound to a certificate here (the \
                 secret client does not have tls.client.certificate.bound.access.tokens): use \
                 --auth tls, or --bind dpop"
                    .into(),
            ),
            (AuthMethod::PrivateKeyJwt, Bind::Mtls) => Err(
                "the private_key_jwt client's tokens are not bound to a certificate (it does not \
                 have tls.client.certificate.bound.access.tokens, and its token request presents \
                 no certificate): use --auth tls, or --bind dpop"
                    .into(),
            ),
            _ => Ok(()),
        }
    }
}

/// How the client proves who it is at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// RFC 8705 `tls_client_auth`: the certificate in the handshake, nothing secret in the request.
    TlsClientAuth,
    /// RFC 6749 §2.3.1 HTTP Basic with a client secret.
    SecretBasic(ClientSecret),
    /// RFC 7523 §2.2 `private_key_jwt`: an assertion signed with the key in this file, for
    /// this audience, made anew for each request.
    PrivateKeyJwt(JwtCredential),
}

/// Where a `private_key_jwt` client's assertions come from: its private key (PKCS#8 PEM), the
/// audience (the issuer); or `made` beforehand, sent as it is (`client doctor`: a person's own).
#[derive(Debug, Clone)]
pub struct JwtCredential {
    pub key_file: std::path::PathBuf,
    pub audience: String,
    pub made: Option<String>,
}

impl JwtCredential {
    /// Reads the key; a missing or unusable file names the fix.
    pub fn load(&self) -> Result<playbook::rfc7523::AssertionKey, ClientError> {
        let bad = |fix: String| ClientError::Setting {
            name: "JWT_KEY",
            value: self.key_file.display().to_string(),
            fix,
        };
        let key = playbook::pem::load_key(&self.key_file).map_err(|e| {
            bad(format!(
                "{e}; `client certs` writes the private_key_jwt client's key pair ({})",
                playbook::names::JWT_KEY_FILE
            ))
        })?;
        playbook::rfc7523::AssertionKey::from_pkcs8_der(key.secret_der())
            .map_err(|e| bad(e.to_string()))
    }

    /// `made`, or a fresh assertion for `client_id` (RFC 7523 §3: `iss` = `sub`, a new `jti`).
    pub fn assertion(&self, client_id: &ClientId) -> Result<String, ClientError> {
        match &self.made {
            Some(made) => Ok(made.clone()),
            None => Ok(self
                .load()?
                .assertion(client_id.as_str(), &self.audience, unix_now())),
        }
    }
}

impl ClientAuth {
    /// The RFC 8414 / RFC 8705 name of the method.
    pub fn method_name(&self) -> &'static str {
        match self {
            ClientAuth::TlsClientAuth => "tls_client_auth",
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::PrivateKeyJwt(_) => playbook::rfc7523::METHOD,
        }
    }
}

/// A client-credentials token request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub client_id: ClientId,
    pub scope: Option<Scope>,
    pub auth: ClientAuth,
}

impl TokenRequest {
    /// The form fields, in the order they are sent.
    ///
    /// `client_id` is in the form for `tls_client_auth` because that is how the provider
    /// knows which client's DN to compare (RFC 8705 §2: "the client_id parameter is
    /// REQUIRED"); with HTTP Basic it travels in the header instead.
    pub fn form_fields(&self) -> Vec<(&'static str, &str)> {
        let mut fields = vec![("grant_type", "client_credentials")];
        match self.auth {
            ClientAuth::TlsClientAuth => fields.push(("client_id", self.client_id.as_str())),
            ClientAuth::PrivateKeyJwt(_) => {
                fields.push(("client_assertion_type", playbook::rfc7523::ASSERTION_TYPE))
            }
            ClientAuth::SecretBasic(_) => {}
        }
        if let Some(scope) = &self.scope {
            fields.push(("scope", scope.as_str()));
        }
        fields
    }

    /// The exact `application/x-www-form-urlencoded` body (for `private_key_jwt`, without
    /// its assertion: see [`TokenRequest::form_body_with`]).
    pub fn form_body(&self) -> String {
        self.form_body_with(None)
    }

    /// The body with `client_assertion` last, when given.
    pub fn form_body_with(&self, assertion: Option<&str>) -> String {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.form_fields() {
            body.append_pair(k, v);
        }
        if let Some(a) = assertion {
            body.append_pair("client_assertion", a);
        }
        body.finish()
    }

    /// The body as sent: for `private_key_jwt` with a fresh assertion.
    pub fn body_to_send(&self) -> Result<String, ClientError> {
        match &self.auth {
            ClientAuth::PrivateKeyJwt(c) => {
                Ok(self.form_body_with(Some(&c.assertion(&self.client_id)?)))
            }
            _ => Ok(self.form_body()),
        }
    }

    /// The `Authorization` header value, if the method uses one. RFC 6749 §2.3.1: id and
    /// secret are form-urlencoded *before* being joined and base64-encoded.
    pub fn authorization(&self) -> Option<String> {
        match &self.auth {
            ClientAuth::TlsClientAuth | ClientAuth::PrivateKeyJwt(_) => None,
            ClientAuth::SecretBasic(secret) => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", enc(self.client_id.as_str()), enc(secret.secret()));
                Some(format!("Basic {}", STANDARD.encode(pair)))
            }
        }
    }

    /// The same request as a curl command (the secret shortened unless `show_secret`).
    pub fn curl(&self, token_endpoint: &Url, tls: &CurlTls, show_secret: bool) -> String {
        use crate::output::shell_quote as q;
        let mut cmd = tls.args();
        if let ClientAuth::SecretBasic(secret) = &self.auth {
            let shown = if show_secret {
                secret.secret().to_owned()
            } else {
                "$CLIENT_SECRET".to_owned()
            };
            cmd.push_str(&format!(
                " --user {}:{}",
                q(self.client_id.as_str()),
                if show_secret {
                    q(&shown)
                } else {
                    format!("\"{shown}\"")
                }
            ));
        }
        for (k, v) in self.form_fields() {
            if k == "scope" {
                cmd.push_str(&format!(" --data-urlencode {}", q(&format!("{k}={v}"))));
            } else {
                cmd.push_str(&format!(" -d {}", q(&format!("{k}={v}"))));
            }
        }
        if let ClientAuth::PrivateKeyJwt(_) = self.auth {
            // Single use: a printed one would be refused as a replay.
            cmd.push_str(" --data-urlencode \"client_assertion=$CLIENT_ASSERTION\"");
        }
        cmd.push(' ');
        cmd.push_str(&q(token_endpoint.as_str()));
        cmd
    }
}

/// The TLS part of a printed curl command: `--cacert` always (never `-k`), and the client
/// certificate and key when one is presented.
#[derive(Debug, Clone)]
pub struct CurlTls {
    pub ca: std::path::PathBuf,
    pub cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl CurlTls {
    pub fn args(&self) -> String {
        use crate::output::shell_quote as q;
        let mut s = format!("curl -sS --cacert {}", q(&self.ca.display().to_string()));
        if let Some((cert, key)) = &self.cert {
            s.push_str(&format!(
                " --cert {} --key {}",
                q(&cert.display().to_string()),
                q(&key.display().to_string())
            ));
        }
        s
    }
}

/// A successful token response (RFC 6749 §5.1), with the raw JSON as the server sent it.
/// `Debug` shows `raw` with its tokens shortened (see [`crate::output::redact`]).
#[derive(Clone)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    /// The whole body, field order preserved.
    pub raw: Value,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("raw", &crate::output::redact(&self.raw))
            .finish()
    }
}

impl TokenResponse {
    pub fn from_json(url: &Url, raw: Value) -> Result<Self, ClientError> {
        let bad = |detail: &str| ClientError::BadJson {
            url: url.clone(),
            what: "a token response (RFC 6749 §5.1)",
            detail: detail.to_owned(),
        };
        let access_token = raw
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no access_token"))?;
        let token_type = raw
            .get("token_type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no token_type"))?;
        Ok(TokenResponse {
            access_token: AccessToken::new(access_token),
            token_type: token_type.to_owned(),
            expires_in: raw.get("expires_in").and_then(Value::as_u64),
            scope: raw.get("scope").and_then(Value::as_str).map(str::to_owned),
            raw,
        })
    }
}

/// Sends `request` to `token_endpoint` over `http` (which presents the client certificate,
/// if any, during the handshake). An RFC 6749 §5.2 error comes back as
/// [`ClientError::OAuth`] with the server's code verbatim.
pub async fn request_token(
    http: &crate::http::Http,
    token_endpoint: &Url,
    request: &TokenRequest,
) -> Result<TokenResponse, ClientError> {
    request_token_with(http, token_endpoint, request, None).await
}

/// [`request_token`], with a DPoP proof of `dpop` in the `DPoP` header when given (RFC 9449
/// §5): the token comes back bound to that key (`token_type` `DPoP`, `cnf.jkt`).
pub async fn request_token_with(
    http: &crate::http::Http,
    token_endpoint: &Url,
    request: &TokenRequest,
    dpop: Option<&playbook::rfc9449::DpopKey>,
) -> Result<TokenResponse, ClientError> {
    let mut builder = http
        .post(token_endpoint.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(request.body_to_send()?);
    if let Some(auth) = request.authorization() {
        builder = builder.header(reqwest::header::AUTHORIZATION, auth);
    }
    if let Some(key) = dpop {
        let proof = key.proof("POST", token_endpoint.as_str(), None, unix_now());
        builder = builder.header(playbook::rfc9449::HEADER, proof);
    }
    let response = http.send(builder, token_endpoint).await?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| ClientError::transport(token_endpoint, e))?;
    let json: Option<Value> = serde_json::from_str(&text).ok();
    if status.is_success() {
        let json = json.ok_or_else(|| ClientError::BadJson {
            url: token_endpoint.clone(),
            what: "a token response (RFC 6749 §5.1)",
            detail: format!("not JSON: {}", crate::output::shorten(&text)),
        })?;
        return TokenResponse::from_json(token_endpoint, json);
    }
    match json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
    {
        Some(code) => Err(ClientError::OAuth {
            url: token_endpoint.clone(),
            error: OAuthError {
                status: status.as_u16(),
                error: ErrorCode::parse(code),
                error_description: json
                    .as_ref()
                    .and_then(|j| j.get("error_description"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            },
        }),
        None => Err(ClientError::Unexpected {
            what: "token request",
            method: reqwest::Method::POST,
            url: token_endpoint.clone(),
            status: status.as_u16(),
            body: text.chars().take(300).collect(),
        }),
    }
}

/// Seconds since the Unix epoch: a DPoP proof's `iat`.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A JWT's header and claims, decoded but **not verified**: reading them is for people;
/// the resource server verifies the signature against the provider's JWKS.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodedJwt {
    pub header: Value,
    pub claims: Value,
}

impl DecodedJwt {
    pub fn decode(token: &AccessToken) -> Result<Self, ClientError> {
        let mut parts = token.secret().split('.');
        let (Some(h), Some(c), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ClientError::Jwt(
                "expected three dot-separated parts".into(),
            ));
        };
        let part = |name: &str, b64: &str| -> Result<Value, ClientError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(b64)
                .map_err(|e| ClientError::Jwt(format!("{name}: not base64url: {e}")))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Jwt(format!("{name}: not JSON: {e}")))
        };
        Ok(DecodedJwt {
            header: part("header", h)?,
            claims: part("claims", c)?,
        })
    }

    /// The token's `cnf` claim (RFC 7800 §3.1), when it has one.
    pub fn confirmation(&self) -> Option<playbook::rfc8705::Confirmation> {
        serde_json::from_value(self.claims.get("cnf")?.clone()).ok()
    }

    /// RFC 8705 §3.1 `cnf.x5t#S256`, the thumbprint of the certificate the token is bound to.
    pub fn cnf_x5t_s256(&self) -> Option<&str> {
        self.claims
            .get("cnf")?
            .get(playbook::rfc8705::METHOD)?
            .as_str()
    }

    /// Keycloak's `realm_access.roles`.
    pub fn realm_roles(&self) -> Vec<String> {
        self.claims
            .get("realm_access")
            .and_then(|r| r.get("roles"))
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn has_realm_role(&self, role: &str) -> bool {
        self.realm_roles().iter().any(|r| r == role)
    }

    /// The token's binding compared with our certificate's thumbprint (RFC 8705 §3).
    pub fn binding(&self, our_x5t_s256: &str) -> Binding {
        playbook::rfc8705::compare(self.cnf_x5t_s256(), Some(our_x5t_s256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtls(scope: Option<&str>) -> TokenRequest {
        TokenRequest {
            client_id: ClientId::new("oauth2-playbook-client-credentials-mtls"),
            scope: scope.map(Scope::new),
            auth: ClientAuth::TlsClientAuth,
        }
    }

    /// The exact bytes of the tls_client_auth form: grant_type, client_id, no secret.
    #[test]
    fn tls_client_auth_form_is_exactly_grant_type_and_client_id() {
        let req = mtls(None);
        assert_eq!(
            req.form_body(),
            "grant_type=client_credentials&client_id=oauth2-playbook-client-credentials-mtls"
        );
        assert_eq!(req.authorization(), None);
    }

    /// `users:read` is percent-encoded as the form encoding requires.
    #[test]
    fn scope_is_form_encoded() {
        let body = mtls(Some("users:read")).form_body();
        assert_eq!(
            body,
            "grant_type=client_credentials&client_id=oauth2-playbook-client-credentials-mtls&scope=users%3Aread"
        );
        assert!(!body.contains("client_secret"));
        assert_eq!(
            mtls(Some("openid users:read"))
                .form_body()
                .rsplit('&')
                .next(),
            Some("scope=openid+users%3Aread")
        );
    }

    /// Secret clients use HTTP Basic; the secret never appears in the form.
    #[test]
    fn client_secret_goes_in_basic_auth_not_in_the_form() {
        let req = TokenRequest {
            client_id: ClientId::new("oauth2-playbook-client-credentials-secret"),
            scope: None,
            auth: ClientAuth::SecretBasic(ClientSecret::new("playbook-dev-secret-change-me")),
        };
        assert_eq!(req.form_body(), "grant_type=client_credentials");
        // printf 'oauth2-playbook-client-credentials-secret:playbook-dev-secret-change-me' | base64 -w0
        assert_eq!(
            req.authorization().unwrap(),
            "Basic b2F1dGgyLXBsYXlib29rLWNsaWVudC1jcmVkZW50aWFscy1zZWNyZXQ6cGxheWJvb2stZGV2LXNlY3JldC1jaGFuZ2UtbWU="
        );
        let curl = req.curl(
            &Url::parse("https://localhost:9443/t").unwrap(),
            &CurlTls {
                ca: "certs/ca.pem".into(),
                cert: None,
            },
            false,
        );
        assert!(!curl.contains("change-me"), "{curl}");
    }

    #[test]
    fn curl_command_presents_the_certificate_and_never_skips_verification() {
        let curl = mtls(Some("users:read")).curl(
            &Url::parse("https://localhost:9443/realms/r/protocol/openid-connect/token").unwrap(),
            &CurlTls {
                ca: "certs/ca.pem".into(),
                cert: Some(("certs/client.pem".into(), "certs/client.key.pem".into())),
            },
            false,
        );
        assert_eq!(
            curl,
            "curl -sS --cacert certs/ca.pem --cert certs/client.pem --key certs/client.key.pem \
             -d grant_type=client_credentials -d client_id=oauth2-playbook-client-credentials-mtls \
             --data-urlencode scope=users:read \
             https://localhost:9443/realms/r/protocol/openid-connect/token"
        );
        assert!(!curl.contains(" -k") && !curl.contains("--insecure"));
    }

    #[test]
    fn token_response_debug_never_prints_the_tokens() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtY2xhaW1zIn0.c2lnbmF0dXJlLWJ5dGVz";
        let r = TokenResponse::from_json(
            &Url::parse("https://localhost:9443/t").unwrap(),
            serde_json::json!({"access_token": jwt, "refresh_token": "opaque-refresh-value",
                "token_type": "Bearer", "expires_in": 300}),
        )
        .unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("c2lnbmF0dXJl"), "{shown}");
        assert!(!shown.contains("opaque-refresh"), "{shown}");
        assert!(shown.contains("expires_in"), "{shown}");
    }

    #[test]
    fn secrets_print_redacted_in_debug() {
        let t = AccessToken::new("eyJ.secret.value");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(
            format!("{:?}", ClientSecret::new("x")),
            "ClientSecret([redacted])"
        );
    }

    #[test]
    fn decodes_claims_and_compares_the_binding() {
        let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = AccessToken::new(format!(
            "{}.{}.sig",
            enc(serde_json::json!({"alg":"RS256","typ":"JWT","kid":"k1"})),
            enc(serde_json::json!({
                "realm_access": {"roles": ["default-roles-x", "oauth2-playbook-readonly"]},
                "cnf": {"x5t#S256": "abc"}
            }))
        ));
        let jwt = DecodedJwt::decode(&token).unwrap();
        assert_eq!(jwt.header["kid"], "k1");
        assert!(jwt.has_realm_role("oauth2-playbook-readonly"));
        assert!(!jwt.has_realm_role("oauth2-playbook"));
        assert_eq!(
            jwt.binding("abc"),
            Binding::Matches {
                x5t_s256: "abc".into()
            }
        );
        assert!(matches!(jwt.binding("xyz"), Binding::Differs { .. }));
        assert!(DecodedJwt::decode(&AccessToken::new("not-a-jwt")).is_err());
    }

    #[test]
    fn oauth_error_display_keeps_the_wire_code() {
        let e = OAuthError {
            status: 401,
            error: ErrorCode::InvalidClient,
            error_description: Some("Invalid client or Invalid client credentials".into()),
        };
        assert_eq!(
            e.to_string(),
            "invalid_client: Invalid client or Invalid client credentials (HTTP 401)"
        );
    }
}
