//! Client authentication at the token and introspection endpoints.
//!
//! - `client-x509` = RFC 8705 §2.1 `tls_client_auth`: the TLS client certificate's subject
//!   DN must equal the client's `x509.subjectdn` (Keycloak's `X509ClientAuthenticator`).
//! - `client-secret` = RFC 6749 §2.3.1 `client_secret_basic` / `client_secret_post`
//!   (Keycloak's `ClientIdAndSecretAuthenticator`).
//!
//! Refusals are logged with their reason; the wire answer stays Keycloak's terse one.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use playbook::server::Connection;
use x509_parser::prelude::{FromDer, X509Certificate};

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
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
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
    let url_decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((url_decode(user), url_decode(pass)))
}

/// Authenticates the client of a token or introspection request.
///
/// Mirrors `ClientAuthenticationFlow`: the client is resolved from the form `client_id`,
/// the HTTP Basic user name, or the query `client_id`; only the authenticator named by the
/// client's `clientAuthenticatorType` decides.
pub fn authenticate(
    realm: &Realm,
    form: &Form,
    query_client_id: Option<&str>,
    headers: &HeaderMap,
    conn: &Connection,
) -> Result<Authenticated, Refusal> {
    let basic = basic_credentials(headers);
    let client_id = form
        .first("client_id")
        .map(str::to_owned)
        .or_else(|| basic.as_ref().map(|(u, _)| u.clone()))
        .or_else(|| query_client_id.map(str::to_owned));
    let Some(client_id) = client_id else {
        // No authenticator resolved a client: INVALID_CREDENTIALS → 401 invalid_client.
        return Err(refuse(
            RefusalKind::NoClient,
            OAuthError::invalid_client(),
            "no client_id in the form, the Basic header or the query".into(),
        ));
    };
    let Some(client) = realm.client_by_client_id(&client_id) else {
        return Err(refuse(
            RefusalKind::NoClient,
            OAuthError::invalid_client(),
            format!("unknown client '{client_id}'"),
        ));
    };
    if !client.enabled {
        return Err(refuse(
            RefusalKind::Disabled,
            OAuthError::invalid_client(),
            format!("client '{client_id}' is disabled"),
        ));
    }
    let ok = |method| Authenticated {
        client_uuid: client.id.clone(),
        client_id: client.client_id.clone(),
        method,
    };
    // Public clients only identify themselves (ClientIdAndSecretAuthenticator: success).
    if client.public_client {
        return Ok(ok(Method::None));
    }
    match client.client_authenticator_type.as_str() {
        "client-secret" => {
            // Form values override the Basic ones, with no mismatch check.
            let (secret, method) = match (form.first("client_secret"), &basic) {
                (Some(s), _) => (Some(s.to_owned()), Method::ClientSecretPost),
                (None, Some((_, p))) => (Some(p.clone()), Method::ClientSecretBasic),
                (None, None) => (None, Method::ClientSecretPost),
            };
            let Some(secret) = secret else {
                return Err(refuse(
                    RefusalKind::Credentials,
                    OAuthError::bad_client_secret(),
                    format!("client '{client_id}' sent no client secret"),
                ));
            };
            let matches = client.secret.as_deref().is_some_and(|expected| {
                aws_lc_rs::constant_time::verify_slices_are_equal(
                    expected.as_bytes(),
                    secret.as_bytes(),
                )
                .is_ok()
            });
            if !matches {
                return Err(refuse(
                    RefusalKind::Credentials,
                    OAuthError::bad_client_secret(),
                    format!(
                        "client '{client_id}': wrong client secret ({})",
                        method.as_str()
                    ),
                ));
            }
            Ok(ok(method))
        }
        "client-x509" => x509(realm, client, conn).map(|()| ok(Method::TlsClientAuth)),
        other => Err(refuse(
            RefusalKind::Credentials,
            OAuthError::invalid_client(),
            format!(
                "client '{client_id}' uses clientAuthenticatorType '{other}', which this provider does not implement"
            ),
        )),
    }
}

/// `X509ClientAuthenticator#authenticateClient` (Keycloak 26.7).
fn x509(realm: &Realm, client: &Client, conn: &Connection) -> Result<(), Refusal> {
    let attempted = |reason: String| {
        // ATTEMPTED from the matching authenticator → 401 invalid_client.
        refuse(
            RefusalKind::Credentials,
            OAuthError::invalid_client(),
            reason,
        )
    };
    let id = &client.client_id;
    let Some(chain) = conn.client_certs.as_deref().filter(|c| !c.is_empty()) else {
        return Err(attempted(format!(
            "client '{id}' (tls_client_auth): no client certificate on the TLS connection"
        )));
    };
    let subject_dn = client.attribute("x509.subjectdn").unwrap_or("").trim();
    if subject_dn.is_empty() {
        tracing::error!("client '{id}': x509.subjectdn is null or empty");
        return Err(attempted(format!("client '{id}': x509.subjectdn is empty")));
    }
    // "Testing only 1st certificate in the chain".
    let leaf = &chain[0];
    let Ok((_, cert)) = X509Certificate::from_der(leaf) else {
        return Err(attempted(format!(
            "client '{id}': unreadable client certificate"
        )));
    };
    let presented = playbook::dn::rfc2253(cert.subject());
    // OIDCAdvancedConfigWrapper#getAllowRegexPatternComparison: missing means true.
    let regex_mode = client
        .attribute("x509.allow.regex.pattern.comparison")
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    if regex_mode {
        tracing::warn!(
            "Regex comparison is deprecated for client '{id}' in realm '{}'; set x509.allow.regex.pattern.comparison=false",
            realm.name
        );
        let legacy = legacy_dn(cert.subject());
        let matched = regex::Regex::new(&format!("^(?:{subject_dn})$"))
            .map(|re| re.is_match(&legacy))
            .unwrap_or_else(|e| {
                tracing::warn!("client '{id}': x509.subjectdn is not a valid regex: {e}");
                false
            });
        if !matched {
            return Err(attempted(format!(
                "client '{id}': certificate subject '{legacy}' does not match the regex x509.subjectdn '{subject_dn}'"
            )));
        }
    } else {
        // CertificateValidator#checkSubjectDNExact: RFC 2253 renderings compared with equals.
        let expected = match playbook::dn::normalize(subject_dn) {
            Ok(dn) => dn,
            Err(e) => {
                return Err(attempted(format!("client '{id}': x509.subjectdn: {e}")));
            }
        };
        if expected != presented {
            return Err(attempted(format!(
                "client '{id}': certificate subject '{presented}' is not x509.subjectdn '{expected}'"
            )));
        }
    }
    let ca_dn = client.attribute("x509.casubjectdn").unwrap_or("").trim();
    if ca_dn.is_empty() {
        tracing::warn!(
            "[X509ClientCertificateAuthenticator:authenticate] option 'x509.casubjectdn' is null or empty, this configuration is deprecated, please configure it for better security for client '{id}' in realm '{}'",
            realm.name
        );
        return Ok(());
    }
    // The chain was verified against the truststore during the handshake (rustls, like
    // Keycloak's PKIX trust validation). The trust anchor is the issuer of the last
    // certificate presented; Keycloak compares its subject with x509.casubjectdn.
    let last = chain.last().expect("non-empty");
    let anchor = X509Certificate::from_der(last)
        .map(|(_, c)| playbook::dn::rfc2253(c.issuer()))
        .unwrap_or_default();
    let expected = playbook::dn::normalize(ca_dn).unwrap_or_else(|_| ca_dn.to_owned());
    if anchor != expected {
        tracing::warn!("Invalid certificate for client '{id}': CA subject DN mismatch");
        return Err(attempted(format!(
            "client '{id}': certificate issued by '{anchor}', not by x509.casubjectdn '{expected}'"
        )));
    }
    Ok(())
}

/// Java's legacy `X500Name#toString` (what `getSubjectDN().getName()` returns and the regex
/// mode matches): RDNs most-specific first, joined by ", ", values quoted when they hold
/// special characters.
pub fn legacy_dn(name: &x509_parser::x509::X509Name<'_>) -> String {
    let keyword = |oid: &str| -> Option<&'static str> {
        Some(match oid {
            "2.5.4.3" => "CN",
            "2.5.4.6" => "C",
            "2.5.4.7" => "L",
            "2.5.4.8" => "ST",
            "2.5.4.10" => "O",
            "2.5.4.11" => "OU",
            "2.5.4.9" => "STREET",
            "2.5.4.5" => "SERIALNUMBER",
            "0.9.2342.19200300.100.1.25" => "DC",
            "0.9.2342.19200300.100.1.1" => "UID",
            "1.2.840.113549.1.9.1" => "EMAILADDRESS",
            _ => return None,
        })
    };
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let key = keyword(&oid)
                        .map(str::to_owned)
                        .unwrap_or(format!("OID.{oid}"));
                    let value = atv.as_str().unwrap_or("").to_owned();
                    let needs_quotes = value.chars().any(|c| {
                        matches!(
                            c,
                            ',' | '+' | '=' | '\n' | '<' | '>' | '#' | ';' | '"' | '\\'
                        )
                    }) || value.starts_with(' ')
                        || value.ends_with(' ');
                    if needs_quotes {
                        format!("{key}=\"{}\"", value.replace('"', "\\\""))
                    } else {
                        format!("{key}={value}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect();
    rdns.reverse();
    rdns.join(", ")
}

/// Applies [`authenticate`] and logs the outcome.
pub fn authenticate_logged(
    endpoint: &str,
    realm: &Realm,
    form: &Form,
    query_client_id: Option<&str>,
    headers: &HeaderMap,
    conn: &Connection,
) -> Result<Authenticated, Refusal> {
    let result = authenticate(realm, form, query_client_id, headers, conn);
    match &result {
        Ok(a) => tracing::info!(
            realm = %realm.name,
            remote = %conn.remote_addr,
            "{endpoint}: client '{}' authenticated by {}",
            a.client_id,
            a.method.as_str()
        ),
        Err(r) => tracing::info!(
            realm = %realm.name,
            remote = %conn.remote_addr,
            "{endpoint}: client authentication refused ({} {}): {}",
            r.error.status.as_u16(),
            r.error.error,
            r.reason
        ),
    }
    result
}
