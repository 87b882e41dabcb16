//! Client authentication at the token and introspection endpoints.
//!
//! - `client-x509` = RFC 8705 §2.1 `tls_client_auth`: the TLS client certificate's subject
//!   DN must equal the client's `x509.subjectdn` (Keycloak's `X509ClientAuthenticator`).
//! - `client-secret` = RFC 6749 §2.3.1 `client_secret_basic` / `client_secret_post`
//!   (Keycloak's `ClientIdAndSecretAuthenticator`).
//!
//! Each client's authenticator is configured at import, and again when the admin API changes
//! its attributes ([`Authenticator::configure`]):
//! the subject-DN regex is compiled and the exact DN normalized there, and a configuration
//! that can never succeed is logged then (Keycloak only finds out per request). A request
//! then costs a lookup, one certificate parse and a string compare.
//!
//! Refusals are logged with their reason; the wire answer stays Keycloak's terse one.

use playbook::oauth::ErrorCode;
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use playbook::server::Connection;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::Provider;
use crate::error::OAuthError;
use crate::store::{Client, Realm};

/// Form parameters in order, duplicates kept (for the duplicate-parameter check).
#[derive(Debug, Default, Clone)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded`, removing control characters from values
    /// as `TokenEndpoint` does (`StringUtil.removeControlCharacters`).
    pub fn parse(body: &[u8]) -> Form {
        Form(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| {
                    (
                        k.into_owned(),
                        v.chars().filter(|c| !c.is_control()).collect(),
                    )
                })
                .collect(),
        )
    }
    /// `MultivaluedMap#getFirst`.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// `TokenEndpoint#checkParameterDuplicated`: any key with more than one value.
    pub fn has_duplicates(&self) -> bool {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (k, _) in &self.0 {
            *counts.entry(k.as_str()).or_default() += 1;
        }
        counts.values().any(|n| *n > 1)
    }
}

/// Everything a token or introspection request offers to identify its client, gathered by
/// one extractor. It does not authenticate: the token endpoint checks `grant_type` first
/// (`TokenEndpoint#processGrantRequest`), so [`authenticate`] is called by the handler at
/// the point Keycloak calls it.
#[derive(Debug)]
pub struct ClientRequest {
    /// The form as the endpoint reads it (`grant_type`, `scope`, `token`, …): see
    /// [`FormView`] for which Content-Types give one.
    pub form: Form,
    /// The form as the client authenticators read it (`client_id`, `client_secret`).
    pub auth_form: Form,
    /// HTTP Basic user name and password, URL-decoded.
    pub basic: Option<(String, String)>,
    /// `?client_id=` (only `X509ClientAuthenticator` reads it).
    pub query_client_id: Option<String>,
    pub conn: Connection,
    /// This request's base URL ([`crate::discovery::base_url`]).
    pub base: String,
}

/// Which readers of a request body see a form, by its `Content-Type`. Keycloak 26.7.5,
/// observed on the live server (the differential check records it, scenario
/// `token_endpoint_content_types`): the endpoint's own parameters come from RESTEasy's form
/// reader, which accepts any type that *starts with* `application/x-www-form-urlencoded`;
/// the client authenticators read `HttpRequest#getDecodedFormParameters`, which needs exactly
/// that media type (parameters such as `charset` allowed). Without a Content-Type, or with
/// another type (JSON, text), both see no parameter at all: 400 "Missing form parameter:
/// grant_type", never 415.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormView {
    /// `application/x-www-form-urlencoded`, with or without parameters: everyone reads it.
    Form,
    /// A type that only starts like one (`application/x-www-form-urlencoded-evil`): the
    /// endpoint reads it, the authenticators do not.
    EndpointOnly,
    /// No Content-Type, or another one: nobody reads a parameter.
    None,
}

impl FormView {
    pub fn of(content_type: Option<&str>) -> FormView {
        const FORM: &str = "application/x-www-form-urlencoded";
        let Some(ct) = content_type.map(str::to_ascii_lowercase) else {
            return FormView::None;
        };
        let media_type = ct.split(';').next().unwrap_or("").trim();
        if media_type == FORM {
            FormView::Form
        } else if ct.starts_with(FORM) {
            FormView::EndpointOnly
        } else {
            FormView::None
        }
    }
}

impl FromRequest<Provider> for ClientRequest {
    type Rejection = Response;

    async fn from_request(req: Request, provider: &Provider) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let conn = match Connection::from_request_parts(&mut parts, provider).await {
            Ok(c) => c,
            Err(never) => match never {},
        };
        let headers = &parts.headers;
        let query_client_id = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "client_id")
                .map(|(_, v)| v.into_owned())
        });
        let basic = basic_credentials(headers);
        let base = crate::discovery::base_url(provider, headers);
        // Decided before the body is taken: `FormView::of` lower-cases it itself.
        let view = FormView::of(
            headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or("")),
        );
        let body = Bytes::from_request(Request::from_parts(parts, body), provider)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = match view {
            FormView::Form | FormView::EndpointOnly => Form::parse(&body),
            FormView::None => Form::default(),
        };
        let auth_form = match view {
            FormView::Form => form.clone(),
            FormView::EndpointOnly | FormView::None => Form::default(),
        };
        Ok(ClientRequest {
            form,
            auth_form,
            basic,
            query_client_id,
            conn,
            base,
        })
    }
}

/// How a client proved who it is (the RFC 8705 / OIDC method names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    TlsClientAuth,
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client: `client_id` only.
    None,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::TlsClientAuth => "tls_client_auth",
            Method::ClientSecretBasic => "client_secret_basic",
            Method::ClientSecretPost => "client_secret_post",
            Method::None => "none (public client)",
        }
    }
}

/// A successfully authenticated client.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client_uuid: String,
    pub client_id: String,
    pub method: Method,
}

/// Why authentication failed: the log line, and the wire error.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: String,
    pub error: OAuthError,
    /// The client could not be resolved or was disabled (introspection answers these differently).
    pub kind: RefusalKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    NoClient,
    Disabled,
    Credentials,
}

fn refuse(kind: RefusalKind, error: OAuthError, reason: String) -> Refusal {
    Refusal {
        reason,
        error,
        kind,
    }
}

/// `BasicAuthHelper.RFC6749.parseHeader`: base64, split at the first ':', then URL-decode
/// both halves (since Keycloak 20).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    // Java's URLDecoder: `+` and `%XX` decoded, everything else kept. The form parser
    // below would split at a literal `&` (found by fuzz/token_form), so that is escaped.
    let url_decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((url_decode(user), url_decode(pass)))
}

/// A client's authenticator, configured once (at import or `POST /clients`) from
/// `clientAuthenticatorType` and the `x509.*` attributes.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// `client-secret` (Keycloak's default type).
    Secret,
    /// `client-x509`.
    X509(X509Config),
    /// Any other type (Keycloak's `client-jwt`, `client-secret-jwt`, or a typo): refused.
    Unsupported(String),
}

/// What `X509ClientAuthenticator` compares, prepared once.
#[derive(Debug, Clone)]
pub struct X509Config {
    pub subject: SubjectMatch,
    /// `x509.casubjectdn` in RFC 2253 form; `None` when blank (deprecated but accepted).
    pub ca_dn: Option<String>,
}

#[derive(Debug, Clone)]
pub enum SubjectMatch {
    /// `x509.allow.regex.pattern.comparison=false`: `CertificateValidator#checkSubjectDNExact`
    /// compares RFC 2253 renderings; this is the configured DN, normalized.
    Exact(String),
    /// The deprecated default: `x509.subjectdn` as a regex that must match the whole of
    /// Java's legacy DN string (`Pattern#matcher(..).matches()`).
    Regex(regex::Regex),
    /// A configuration that can never match (blank, malformed DN, invalid regex). Keycloak
    /// refuses every request of such a client; so do we, and the reason was logged at import.
    Unusable(String),
}

const SUBJECT_DN: &str = "x509.subjectdn";
const CA_SUBJECT_DN: &str = "x509.casubjectdn";
const ALLOW_REGEX: &str = "x509.allow.regex.pattern.comparison";

impl Authenticator {
    /// Configures the authenticator of client `client_id`; the second value lists what is
    /// wrong or deprecated in its configuration, each naming the client and the attribute
    /// (the importer logs them as warnings).
    pub fn configure<'a>(
        client_id: &str,
        authenticator_type: &str,
        attribute: impl Fn(&str) -> Option<&'a str>,
    ) -> (Authenticator, Vec<String>) {
        let mut warnings = Vec::new();
        let auth = match authenticator_type {
            "client-secret" => Authenticator::Secret,
            "client-x509" => {
                let dn = attribute(SUBJECT_DN).unwrap_or("").trim();
                // OIDCAdvancedConfigWrapper#getAllowRegexPatternComparison: missing means true.
                let regex_mode =
                    attribute(ALLOW_REGEX).is_none_or(|v| v.eq_ignore_ascii_case("true"));
                let subject = if dn.is_empty() {
                    SubjectMatch::Unusable(format!("{SUBJECT_DN} is empty"))
                } else if regex_mode {
                    match regex::Regex::new(&format!("^(?:{dn})$")) {
                        Ok(re) => {
                            warnings.push(format!(
                                "client '{client_id}': {SUBJECT_DN} is matched as a regex, which Keycloak deprecates; set {ALLOW_REGEX}=false for an exact RFC 2253 match"
                            ));
                            SubjectMatch::Regex(re)
                        }
                        Err(e) => SubjectMatch::Unusable(format!(
                            "{SUBJECT_DN} '{dn}' is not a valid regex ({})",
                            e.to_string().lines().last().unwrap_or("invalid")
                        )),
                    }
                } else {
                    match playbook::dn::normalize(dn) {
                        Ok(dn) => SubjectMatch::Exact(dn),
                        Err(e) => SubjectMatch::Unusable(format!(
                            "{SUBJECT_DN} '{dn}' is not a distinguished name ({e})"
                        )),
                    }
                };
                if let SubjectMatch::Unusable(why) = &subject {
                    warnings.push(format!(
                        "client '{client_id}': {why}; every token request of this client will be refused (Keycloak refuses them too, but says so only per request)"
                    ));
                }
                let ca = attribute(CA_SUBJECT_DN).unwrap_or("").trim();
                let ca_dn = if ca.is_empty() {
                    warnings.push(format!(
                        "client '{client_id}': {CA_SUBJECT_DN} is empty, which Keycloak deprecates; set it to the issuing CA's subject DN"
                    ));
                    None
                } else {
                    Some(playbook::dn::normalize(ca).unwrap_or_else(|e| {
                        warnings.push(format!(
                            "client '{client_id}': {CA_SUBJECT_DN} '{ca}' is not a distinguished name ({e}); every token request of this client will be refused"
                        ));
                        ca.to_owned()
                    }))
                };
                Authenticator::X509(X509Config { subject, ca_dn })
            }
            other => {
                warnings.push(format!(
                    "client '{client_id}': clientAuthenticatorType '{other}' is not one this provider implements (client-secret, client-x509); its token requests will be refused"
                ));
                Authenticator::Unsupported(other.to_owned())
            }
        };
        (auth, warnings)
    }
}

/// Authenticates the client of a token or introspection request and logs the outcome.
///
/// Mirrors `ClientAuthenticationFlow` running its two authenticators in order; only the
/// one named by the client's `clientAuthenticatorType` decides:
/// 1. `ClientIdAndSecretAuthenticator` names the client by the form `client_id`, else the
///    HTTP Basic user name (never the query);
/// 2. `X509ClientAuthenticator` names it by the form `client_id`, else `?client_id=`
///    (never Basic). When Basic named a `client-x509` client and nothing else did, its
///    400 "Missing client_id parameter" challenge is the answer.
pub fn authenticate(
    endpoint: &str,
    realm: &Realm,
    req: &ClientRequest,
) -> Result<Authenticated, Refusal> {
    let result = resolve_and_verify(realm, req);
    match &result {
        Ok(a) => tracing::info!(
            realm = %realm.name,
            remote = %req.conn.remote_addr,
            "{endpoint}: client '{}' authenticated by {}",
            a.client_id,
            a.method.as_str()
        ),
        Err(r) => tracing::info!(
            realm = %realm.name,
            remote = %req.conn.remote_addr,
            "{endpoint}: client authentication refused ({} {}): {}",
            r.error.status.as_u16(),
            r.error.error,
            r.reason
        ),
    }
    result
}

fn resolve_and_verify(realm: &Realm, req: &ClientRequest) -> Result<Authenticated, Refusal> {
    let form_id = req.auth_form.first("client_id");
    let basic_user = req.basic.as_ref().map(|(u, _)| u.as_str());
    let by_secret_authenticator = form_id
        .or(basic_user)
        .and_then(|n| realm.client_by_client_id(n));
    if let Some(client) = by_secret_authenticator {
        // Public clients only identify themselves (their type is ignored: client-secret).
        if client.public_client || matches!(client.authenticator, Authenticator::Secret) {
            return secret(client, req);
        }
    }
    let Some(name) = form_id.or(req.query_client_id.as_deref()) else {
        if let Some(client) =
            by_secret_authenticator.filter(|c| matches!(c.authenticator, Authenticator::X509(_)))
        {
            return Err(refuse(
                RefusalKind::Credentials,
                OAuthError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidClient,
                    "Missing client_id parameter",
                ),
                format!(
                    "client '{}' (tls_client_auth) was named only by the HTTP Basic user name; send client_id in the form",
                    client.client_id
                ),
            ));
        }
        return Err(refuse(
            RefusalKind::NoClient,
            OAuthError::invalid_client(),
            match basic_user {
                Some(u) => format!("unknown client '{u}' (HTTP Basic)"),
                None => "no client_id in the form or the Basic header".into(),
            },
        ));
    };
    let Some(client) = realm.client_by_client_id(name) else {
        return Err(refuse(
            RefusalKind::NoClient,
            OAuthError::invalid_client(),
            format!("unknown client '{name}'"),
        ));
    };
    match &client.authenticator {
        Authenticator::X509(config) if !client.public_client => {
            x509(client, config, &req.conn).map(|()| authenticated(client, Method::TlsClientAuth))
        }
        Authenticator::Unsupported(t) if !client.public_client => Err(refuse(
            RefusalKind::Credentials,
            OAuthError::invalid_client(),
            format!(
                "client '{name}' uses clientAuthenticatorType '{t}', which this provider does not implement"
            ),
        )),
        // A client-secret (or public) client named only by ?client_id=: the secret
        // authenticator never reads the query, so no authenticator of its type found it.
        _ => Err(refuse(
            RefusalKind::NoClient,
            OAuthError::invalid_client(),
            format!(
                "client '{name}' was named only by ?client_id=, which client-secret authentication ignores; send client_id in the form or use HTTP Basic"
            ),
        )),
    }
}

fn authenticated(client: &Client, method: Method) -> Authenticated {
    Authenticated {
        client_uuid: client.id.clone(),
        client_id: client.client_id.clone(),
        method,
    }
}

fn disabled(client: &Client) -> Refusal {
    refuse(
        RefusalKind::Disabled,
        OAuthError::invalid_client(),
        format!("client '{}' is disabled", client.client_id),
    )
}

/// `ClientIdAndSecretAuthenticator#authenticateClient`.
fn secret(client: &Client, req: &ClientRequest) -> Result<Authenticated, Refusal> {
    let id = &client.client_id;
    if !client.enabled {
        return Err(disabled(client));
    }
    if client.public_client {
        return Ok(authenticated(client, Method::None));
    }
    // Form values override the Basic ones, with no mismatch check.
    let (secret, method) = match (req.auth_form.first("client_secret"), &req.basic) {
        (Some(s), _) => (Some(s), Method::ClientSecretPost),
        (None, Some((_, p))) => (Some(p.as_str()), Method::ClientSecretBasic),
        (None, None) => (None, Method::ClientSecretPost),
    };
    let Some(secret) = secret else {
        return Err(refuse(
            RefusalKind::Credentials,
            OAuthError::bad_client_secret(),
            format!("client '{id}' sent no client secret"),
        ));
    };
    // `client.secret.authentication.allowed.method`: one method only, checked before the
    // secret (Keycloak 26.7.5, observed: the message below, 401 unauthorized_client).
    if let Some(allowed) = client
        .attribute("client.secret.authentication.allowed.method")
        .filter(|m| !m.is_empty() && *m != method.as_str())
    {
        return Err(refuse(
            RefusalKind::Credentials,
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::UnauthorizedClient,
                format!(
                    "Invalid method used to get client secret. Client requires method '{allowed}' to obtain client secret from the request"
                ),
            ),
            format!(
                "client '{id}' used {} but allows only {allowed}",
                method.as_str()
            ),
        ));
    }
    let matches = client.secret.as_deref().is_some_and(|expected| {
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), secret.as_bytes())
            .is_ok()
    });
    if !matches {
        return Err(refuse(
            RefusalKind::Credentials,
            OAuthError::bad_client_secret(),
            format!("client '{id}': wrong client secret ({})", method.as_str()),
        ));
    }
    Ok(authenticated(client, method))
}

/// `X509ClientAuthenticator#authenticateClient` (Keycloak 26.7), with the comparison
/// prepared at import. The leaf certificate is parsed once per request.
fn x509(client: &Client, config: &X509Config, conn: &Connection) -> Result<(), Refusal> {
    let id = &client.client_id;
    // ATTEMPTED from the matching authenticator → 401 invalid_client.
    let attempted = |reason: String| {
        refuse(
            RefusalKind::Credentials,
            OAuthError::invalid_client(),
            reason,
        )
    };
    if !client.enabled {
        return Err(disabled(client));
    }
    let Some(chain) = conn.client_certs.as_deref().filter(|c| !c.is_empty()) else {
        return Err(attempted(format!(
            "client '{id}' (tls_client_auth): no client certificate on the TLS connection"
        )));
    };
    // "Testing only 1st certificate in the chain".
    let Ok((_, leaf)) = X509Certificate::from_der(&chain[0]) else {
        return Err(attempted(format!(
            "client '{id}': unreadable client certificate"
        )));
    };
    match &config.subject {
        SubjectMatch::Exact(expected) => {
            let presented = playbook::dn::rfc2253(leaf.subject());
            if *expected != presented {
                return Err(attempted(format!(
                    "client '{id}': certificate subject '{presented}' is not x509.subjectdn '{expected}'"
                )));
            }
        }
        SubjectMatch::Regex(re) => {
            let legacy = playbook::dn::java_legacy(leaf.subject());
            if !re.is_match(&legacy) {
                return Err(attempted(format!(
                    "client '{id}': certificate subject '{legacy}' does not match the regex x509.subjectdn '{}'",
                    re.as_str()
                )));
            }
        }
        SubjectMatch::Unusable(why) => return Err(attempted(format!("client '{id}': {why}"))),
    }
    let Some(expected) = &config.ca_dn else {
        return Ok(());
    };
    // The chain was verified against the truststore during the handshake (rustls, like
    // Keycloak's PKIX trust validation). The trust anchor is the issuer of the last
    // certificate presented; Keycloak compares its subject with x509.casubjectdn.
    let anchor = match chain {
        [_] => playbook::dn::rfc2253(leaf.issuer()),
        [.., last] => issuer_of(last),
        [] => unreachable!("non-empty"),
    };
    if anchor != *expected {
        return Err(attempted(format!(
            "client '{id}': certificate issued by '{anchor}', not by x509.casubjectdn '{expected}'"
        )));
    }
    Ok(())
}

fn issuer_of(cert: &CertificateDer<'_>) -> String {
    X509Certificate::from_der(cert)
        .map(|(_, c)| playbook::dn::rfc2253(c.issuer()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/token_form`: a `&` in a Basic password cut it short ("3csr&x" became
    /// "3csr"), so a correct secret containing `&` was refused.
    #[test]
    fn basic_credentials_keep_every_character_url_decoding_does_not_touch() {
        use base64::Engine as _;
        let basic = |raw: &str| {
            let mut headers = HeaderMap::new();
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            );
            headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
            basic_credentials(&headers)
        };
        let pair = |u: &str, p: &str| Some((u.to_owned(), p.to_owned()));
        assert_eq!(basic("o6utG2-ps3cz:3csr&x"), pair("o6utG2-ps3cz", "3csr&x"));
        assert_eq!(basic("a&b=c:p&q=r#s"), pair("a&b=c", "p&q=r#s"));
        assert_eq!(
            basic("my%20client:s+e%26cret"),
            pair("my client", "s e&cret")
        );
        assert_eq!(basic("no-colon"), None);
    }

    fn configure(
        kind: &str,
        attrs: &[(&'static str, &'static str)],
    ) -> (Authenticator, Vec<String>) {
        Authenticator::configure("c1", kind, |key| {
            attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
        })
    }

    const CA: (&str, &str) = (CA_SUBJECT_DN, "CN=Dev CA,O=Playbook");
    const EXACT: (&str, &str) = (ALLOW_REGEX, "false");

    #[test]
    fn exact_dn_is_normalized_once_without_warnings() {
        let (auth, warnings) = configure(
            "client-x509",
            &[(SUBJECT_DN, "CN=client, O=Playbook"), EXACT, CA],
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let Authenticator::X509(X509Config {
            subject: SubjectMatch::Exact(dn),
            ca_dn: Some(ca),
        }) = auth
        else {
            panic!("{auth:?}")
        };
        assert_eq!(dn, "CN=client,O=Playbook");
        assert_eq!(ca, "CN=Dev CA,O=Playbook");
    }

    #[test]
    fn invalid_regex_is_reported_at_import_naming_client_and_attribute() {
        let (auth, warnings) = configure("client-x509", &[(SUBJECT_DN, "CN=(unclosed"), CA]);
        assert!(
            matches!(
                &auth,
                Authenticator::X509(X509Config {
                    subject: SubjectMatch::Unusable(_),
                    ..
                })
            ),
            "{auth:?}"
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("'c1'")
                && warnings[0].contains("x509.subjectdn")
                && warnings[0].contains("not a valid regex"),
            "{warnings:?}"
        );
    }

    #[test]
    fn valid_regex_compiles_once_and_matches_whole_legacy_dn() {
        let (auth, warnings) = configure("client-x509", &[(SUBJECT_DN, "CN=client, O=.*"), CA]);
        assert!(
            warnings.iter().any(|w| w.contains("deprecates")),
            "{warnings:?}"
        );
        let Authenticator::X509(X509Config {
            subject: SubjectMatch::Regex(re),
            ..
        }) = auth
        else {
            panic!("{auth:?}")
        };
        assert!(re.is_match("CN=client, O=Playbook"));
        assert!(
            !re.is_match("X-CN=client, O=Playbook"),
            "anchored at the start"
        );
    }

    #[test]
    fn malformed_dns_and_unknown_types_are_reported() {
        let (auth, warnings) = configure("client-x509", &[(SUBJECT_DN, "no equals sign"), EXACT]);
        assert!(matches!(
            auth,
            Authenticator::X509(X509Config {
                subject: SubjectMatch::Unusable(_),
                ca_dn: None
            })
        ));
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("x509.subjectdn") && w.contains("not a distinguished name")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("x509.casubjectdn")),
            "{warnings:?}"
        );
        let (auth, warnings) = configure("client-x5O9", &[]);
        assert!(matches!(auth, Authenticator::Unsupported(ref t) if t == "client-x5O9"));
        assert!(
            warnings.len() == 1
                && warnings[0].contains("'client-x5O9'")
                && warnings[0].contains("'c1'"),
            "{warnings:?}"
        );
        assert!(configure("client-secret", &[]).1.is_empty());
    }
}
