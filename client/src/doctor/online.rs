//! `client doctor`'s online half: what the server and the realm say about this certificate.
//!
//! 1. Discovery (no certificate), for the mTLS token endpoint.
//! 2. One token request over mTLS (`tls_client_auth`) with the certificate under test, sent by
//!    the instrumented client ([`playbook::https::InstrumentedClient`]): its connection record
//!    says whether the server sent a CertificateRequest, the CA names it listed (a Java server
//!    may list none: "none listed"), and the alert that ended the handshake, if one did.
//! 3. The client's configuration, read through the admin API with the identity the client uses
//!    (`--admin-as`: the provisioner, whose `realm-management` roles `manage-users` and
//!    `view-clients` are enough, or the bootstrap admin): `clientAuthenticatorType`,
//!    `x509.subjectdn` (exact, or a regex with `x509.allow.regex.pattern.comparison`),
//!    `x509.casubjectdn`, `tls.client.certificate.bound.access.tokens`, the service account,
//!    the realm role on it, and the `roles` scope that puts realm roles in the token. Each is
//!    compared as the provider compares it (`oauth2-provider/src/client_auth/x509.rs`, held to
//!    Keycloak's answers).
//! 4. The token request's answer, its `cnf.x5t#S256` and its realm roles.
//!
//! The findings come in the order a request meets the problems (handshake, client
//! authentication, the grant, the token), so the first ✘ is the cause.

use playbook::https::{ConnectionRecord, Recorder};
use playbook::names::READONLY_ROLE;
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{Finding, Loaded, Verdict};
use crate::admin::{AdminApi, AdminAs};
use crate::error::ClientError;
use crate::http::Http;
use crate::settings::Settings;
use crate::token::{AuthMethod, DecodedJwt, TokenResponse};

/// Every online check, in the order they are reported: (id, title).
pub const ONLINE_CHECKS: &[(&str, &str)] = &[
    (
        "discovery",
        "the issuer's discovery document names the token endpoint",
    ),
    (
        "certificate-request",
        "the server asks for a client certificate and lists this CA",
    ),
    (
        "handshake",
        "the server accepts the certificate in the TLS handshake",
    ),
    ("admin", "the realm's client can be read (admin API)"),
    ("client", "the client exists and is enabled"),
    (
        "authenticator",
        "the client authenticates by certificate (clientAuthenticatorType client-x509)",
    ),
    (
        "realm-subject-dn",
        "x509.subjectdn matches the certificate's subject DN",
    ),
    (
        "realm-ca-subject-dn",
        "x509.casubjectdn matches the CA the certificate chains to",
    ),
    (
        "binding-attribute",
        "tokens are bound to the certificate (tls.client.certificate.bound.access.tokens)",
    ),
    (
        "service-account",
        "the client has a service account (the \"user\" of its client-credentials tokens)",
    ),
    (
        "role",
        "the service account has the realm role oauth2-playbook-readonly",
    ),
    (
        "roles-scope",
        "the scope that puts realm roles in the token (roles) is a default scope",
    ),
    ("token", "a token request over mTLS (tls_client_auth)"),
    (
        "token-binding",
        "the token is bound to this certificate (cnf.x5t#S256)",
    ),
    ("token-role", "the token carries the realm role"),
];

fn finding(check: &'static str, verdict: Verdict) -> Finding {
    super::titled(ONLINE_CHECKS, check, verdict)
}

/// Runs the online checks against `s.issuer` with the certificate in `loaded`; the TLS
/// connections go into `recorder` (the caller may draw them).
pub async fn diagnose(s: &Settings, loaded: &Loaded, recorder: &Recorder) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (Ok(roots), Some(identity)) = (&loaded.ca, loaded.identity()) else {
        findings.push(finding(
            "discovery",
            Err((
                "not checked: the files do not load".into(),
                "fix the files first (above)".into(),
            )),
        ));
        return findings;
    };

    // 1. Discovery, without a certificate.
    let endpoint = match discover(s, roots).await {
        Ok(url) => url,
        Err(e) => {
            findings.push(finding(
                "discovery",
                Err((
                    playbook::report::error_chain(&e),
                    format!(
                        "is the provider running at {}, and is its certificate issued by the CA in --ca? (ISSUER, CA_CERT)",
                        s.issuer
                    ),
                )),
            ));
            return findings;
        }
    };
    findings.push(finding(
        "discovery",
        Ok(format!("mTLS token endpoint {endpoint}")),
    ));

    // 2. The token request with the certificate under test, recorded.
    let answer = match Http::new(roots, Some(&identity), Some(recorder)) {
        Ok(http) => {
            crate::token::request_token(&http, &endpoint, &s.token_request(AuthMethod::Tls)).await
        }
        Err(e) => Err(e),
    };
    let server = format!(
        "{}:{}",
        endpoint.host_str().unwrap_or_default(),
        endpoint.port_or_known_default().unwrap_or(443)
    );
    let connection = recorder
        .connections()
        .into_iter()
        .rev()
        .find(|c| c.server == server);
    let ca_names: Vec<String> = roots
        .iter()
        .filter_map(|der| playbook::x509::CertInfo::from_der(der).ok())
        .map(|c| c.subject)
        .collect();
    findings.push(finding(
        "certificate-request",
        certificate_request(connection.as_ref(), &ca_names),
    ));
    findings.push(finding("handshake", handshake(connection.as_ref())));

    // 3. The realm's view of the client.
    findings.extend(realm(s, loaded).await);

    // 4. The token.
    findings.extend(token(&answer, &identity.x5t_s256()));
    findings
}

async fn discover(
    s: &Settings,
    roots: &[rustls_pki_types::CertificateDer<'static>],
) -> Result<url::Url, ClientError> {
    let http = Http::new(roots, None, None)?;
    let url = crate::discovery::discovery_url(&s.issuer)?;
    let m = crate::retry::until_up("the provider", &url, s.wait, || {
        crate::discovery::discover(&http, &s.issuer)
    })
    .await?;
    Ok(m.token_endpoint_for_mtls().clone())
}

fn certificate_request(c: Option<&ConnectionRecord>, ca_names: &[String]) -> Verdict {
    let Some(c) = c else {
        return Err((
            "no TLS connection to the token endpoint was made".into(),
            "see the handshake finding".into(),
        ));
    };
    match &c.certificate_request {
        None if c.handshake.is_some() => Err((
            "the server did not ask for a client certificate: the client sent none, and the provider sees no certificate".into(),
            "Keycloak must request one: https-client-auth=request (or required) in keycloak.conf; behind a proxy, the proxy asks (nginx ssl_verify_client optional) and forwards it (spi-x509cert-lookup)".into(),
        )),
        None => Err((
            format!(
                "the handshake did not get that far: {}",
                c.error.as_deref().unwrap_or("no answer")
            ),
            "see the handshake finding".into(),
        )),
        Some(req) if req.ca_names.is_empty() => Ok(format!(
            "asked; no CA names listed (a Java server may list none: the client sends its certificate anyway); {} signature schemes",
            req.signature_schemes.len()
        )),
        Some(req) => match req.ca_names.iter().find(|n| ca_names.contains(n)) {
            Some(name) => Ok(format!(
                "asked, listing {} CA name(s), this CA among them: {name}",
                req.ca_names.len()
            )),
            None => Err((
                format!(
                    "asked, listing {} CA name(s), none of them this CA ({}): {}",
                    req.ca_names.len(),
                    ca_names.join("; "),
                    req.ca_names.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
                ),
                "the server does not trust the CA in --ca for client certificates: add it to the provider's truststore (Keycloak: --truststore-paths, lab 7), or use a certificate from a CA it lists".into(),
            )),
        },
    }
}

fn handshake(c: Option<&ConnectionRecord>) -> Verdict {
    let Some(c) = c else {
        return Err((
            "no TLS connection to the token endpoint was made".into(),
            "is the token endpoint's host reachable from here?".into(),
        ));
    };
    if let Some(alert) = &c.alert {
        let fix = if alert.from == "client" {
            "our side refused the server's certificate: pass the CA that issued it with --ca (CA_CERT)"
        } else {
            "the provider refused this certificate in the handshake (walkthrough step 3b: rustls sends UnknownCA, Keycloak on Java CertificateUnknown): use a certificate from a CA the provider trusts (see chain above), or make it trust this CA (Keycloak: --truststore-paths, lab 7); a revoked certificate is refused here too where the server checks a CRL"
        };
        return Err((
            format!(
                "the {} ended it with the alert {}",
                alert.from, alert.description
            ),
            fix.into(),
        ));
    }
    match (&c.handshake, &c.error) {
        (Some(_), None) => Ok(format!(
            "{} {}; certificate sent: {}",
            c.protocol.as_deref().unwrap_or("?"),
            c.cipher_suite.as_deref().unwrap_or("?"),
            c.sent_certificate
                .as_ref()
                .map(|s| s.subject.as_str())
                .unwrap_or("none")
        )),
        (_, Some(e)) => Err((
            e.clone(),
            "the connection failed: is the token endpoint the provider's?".into(),
        )),
        (None, None) => Err((
            "the handshake did not complete".into(),
            "is the token endpoint the provider's?".into(),
        )),
    }
}

/// The realm's findings, from the client's representation read with the admin identity.
async fn realm(s: &Settings, loaded: &Loaded) -> Vec<Finding> {
    let who = match s.admin_as {
        AdminAs::Provisioner => "the provisioner",
        AdminAs::Bootstrap => "the bootstrap admin",
    };
    let fix_rights = match s.admin_as {
        AdminAs::Provisioner => {
            "the provisioner needs realm-management's view-clients (to read the client) and manage-users (its service account and roles), as the shipped realm gives it; or read as the bootstrap admin with --admin-as bootstrap"
        }
        AdminAs::Bootstrap => "check KC_BOOTSTRAP_ADMIN_USERNAME / KC_BOOTSTRAP_ADMIN_PASSWORD",
    };
    let api = match AdminApi::open(s, None).await {
        Ok(api) => api,
        Err(e) => {
            return vec![finding(
                "admin",
                Err((
                    format!(
                        "{who} could not log in: {}",
                        playbook::report::error_chain(&e)
                    ),
                    fix_rights.into(),
                )),
            )];
        }
    };
    let client_id = s.client_id.as_str();
    let rep = match api.client_representation(client_id).await {
        Ok(rep) => rep,
        Err(ClientError::Setting { .. }) => {
            return vec![
                finding("admin", Ok(format!("read by {who}"))),
                finding(
                    "client",
                    Err((
                        format!("realm {:?} has no client {client_id:?}", s.realm),
                        "check CLIENT_ID (exact, case-sensitive) and the realm in ISSUER; was the realm imported?".into(),
                    )),
                ),
            ];
        }
        Err(e) => {
            return vec![finding(
                "admin",
                Err((
                    format!(
                        "{who} may not read the client: {}",
                        playbook::report::error_chain(&e)
                    ),
                    fix_rights.into(),
                )),
            )];
        }
    };
    let mut out = vec![finding("admin", Ok(format!("read by {who}")))];
    let attr = |k: &str| rep["attributes"][k].as_str().map(str::trim);
    out.push(finding("client", enabled(&rep, client_id)));
    let kind = rep["clientAuthenticatorType"].as_str().unwrap_or("");
    out.push(finding(
        "authenticator",
        if kind == "client-x509" {
            Ok("client-x509".into())
        } else {
            Err((
                format!("clientAuthenticatorType is {kind:?}: the certificate is not what authenticates this client"),
                "set Credentials → Client Authenticator to \"X509 Certificate\" (clientAuthenticatorType client-x509), with x509.subjectdn the certificate's subject DN".into(),
            ))
        },
    ));
    let chain = loaded.chain.as_deref().unwrap_or_default();
    out.push(finding(
        "realm-subject-dn",
        subject_dn(
            chain,
            attr("x509.subjectdn"),
            attr("x509.allow.regex.pattern.comparison"),
        ),
    ));
    out.push(finding(
        "realm-ca-subject-dn",
        ca_subject_dn(chain, attr("x509.casubjectdn")),
    ));
    out.push(finding(
        "binding-attribute",
        match attr("tls.client.certificate.bound.access.tokens") {
            Some("true") => Ok("true: tokens carry cnf.x5t#S256".into()),
            other => Err((
                format!("{other:?}: tokens are not bound to the certificate (no cnf), so a stolen token works from anywhere"),
                "set tls.client.certificate.bound.access.tokens to \"true\" (Advanced → \"OAuth 2.0 Mutual TLS Certificate Bound Access Tokens Enabled\"); the resource server refuses unbound tokens (walkthrough step 8)".into(),
            )),
        },
    ));
    out.extend(service_account_and_role(&api, &rep, client_id).await);
    out.push(finding("roles-scope", roles_scope(&rep)));
    out
}

pub(super) async fn service_account_and_role(
    api: &AdminApi,
    rep: &Value,
    id: &str,
) -> Vec<Finding> {
    if rep["serviceAccountsEnabled"] != Value::Bool(true) {
        return vec![finding(
            "service-account",
            Err((
                "serviceAccountsEnabled is off: the client-credentials grant is refused (unauthorized_client, \"Client not enabled to retrieve service account\")".into(),
                "turn on \"Service accounts roles\" (serviceAccountsEnabled)".into(),
            )),
        )];
    }
    // Through the client: the shipped provisioner may not search users (403).
    let user = match async { api.service_account_user(&api.find_client(id).await?).await }.await {
        Ok(user) => user,
        Err(e) => {
            return vec![finding(
                "service-account",
                Err((
                    playbook::report::error_chain(&e),
                    "turn \"Service accounts roles\" off and on again: Keycloak recreates the user"
                        .into(),
                )),
            )];
        }
    };
    let sa = finding("service-account", Ok(user.username.clone()));
    let role = match api.realm_role_mappings(&user).await {
        Ok(roles) if roles.iter().any(|r| r.name == READONLY_ROLE) => {
            Ok(format!("{READONLY_ROLE} is mapped to {}", user.username))
        }
        Ok(roles) => Err((
            format!(
                "{} has {}",
                user.username,
                roles
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "give it the role: `client admin assign-role` (walkthrough step 6); without it the API answers 403 insufficient_scope".into(),
        )),
        Err(ClientError::Unexpected { status: 403, .. }) => {
            let read = format!("not read: the admin identity may not view {} (HTTP 403); the token's realm_access.roles is checked below", user.username);
            return vec![sa, finding("role", Ok(read)).warn(Some("the shipped provisioner may view only the mTLS client's service account (its fine-grained admin permissions, PROVISIONER.md): to read this mapping, run doctor with --admin-as bootstrap (or an admin identity of yours)".into()))];
        }
        Err(e) => Err((
            playbook::report::error_chain(&e),
            "the admin identity must be allowed to view that user to read its role mappings (view-users or manage-users): run doctor with --admin-as bootstrap (or an admin identity of yours)".into(),
        )),
    };
    vec![sa, finding("role", role)]
}

/// The client's `enabled` (the methods' checks read it too).
pub(super) fn enabled(rep: &Value, client_id: &str) -> Verdict {
    if rep["enabled"] == Value::Bool(false) {
        return Err((
            format!("{client_id} is disabled"),
            "enable it (admin console: Clients → the client → Enabled)".into(),
        ));
    }
    Ok(format!("{client_id}, enabled"))
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub(super) fn roles_scope(rep: &Value) -> Verdict {
    if names(&rep["defaultClientScopes"]).contains(&"roles") {
        return Ok("roles is a default client scope".into());
    }
    let fix = "add the client scope `roles` as a Default scope of the client (Client scopes tab): its mapper writes realm_access.roles";
    if names(&rep["optionalClientScopes"]).contains(&"roles") {
        return Err((
            "roles is only an optional scope: a token has realm roles only when the request asks scope=roles".into(),
            fix.into(),
        ));
    }
    Err((
        "no roles scope: the token carries no realm_access.roles, whatever the mappings".into(),
        fix.into(),
    ))
}

/// `x509.subjectdn` against the leaf's subject, as the provider compares it: exact (RFC 2253,
/// normalized) when `x509.allow.regex.pattern.comparison` is `false`, else the whole DN in
/// Java's legacy rendering against the regex (missing means regex, Keycloak's default).
pub fn subject_dn(
    chain: &[rustls_pki_types::CertificateDer<'_>],
    expected: Option<&str>,
    allow_regex: Option<&str>,
) -> Verdict {
    let Some(leaf) = chain
        .first()
        .and_then(|d| X509Certificate::from_der(d).ok())
    else {
        return Err((
            "not checked: no certificate".into(),
            "fix the files first".into(),
        ));
    };
    let (_, leaf) = leaf;
    let expected = expected.unwrap_or("");
    if expected.is_empty() {
        return Err((
            "x509.subjectdn is empty: every request is refused".into(),
            format!(
                "set x509.subjectdn to {}",
                playbook::dn::rfc2253(leaf.subject())
            ),
        ));
    }
    let regex_mode = allow_regex.is_none_or(|v| v.eq_ignore_ascii_case("true"));
    if regex_mode {
        let legacy = playbook::dn::java_legacy(leaf.subject());
        return match regex::Regex::new(&format!("^(?:{expected})$")) {
            Ok(re) if re.is_match(&legacy) => Ok(format!(
                "the regex {expected:?} matches {legacy:?} (regex mode is deprecated: set x509.allow.regex.pattern.comparison=false for an exact match)"
            )),
            Ok(_) => Err((
                format!(
                    "the regex {expected:?} does not match the subject as Java renders it, {legacy:?}"
                ),
                format!(
                    "set x509.allow.regex.pattern.comparison=false and x509.subjectdn to {} (exact, RFC 2253)",
                    playbook::dn::rfc2253(leaf.subject())
                ),
            )),
            Err(e) => Err((
                format!("x509.subjectdn {expected:?} is not a valid regex: {e}"),
                "escape it, or turn the regex mode off (x509.allow.regex.pattern.comparison=false)"
                    .into(),
            )),
        };
    }
    let presented = playbook::dn::rfc2253(leaf.subject());
    match playbook::dn::normalize(expected) {
        Ok(want) if want == presented => Ok(format!("{presented} (exact)")),
        Ok(want) => Err((
            format!("the realm expects {want}, the certificate is {presented}"),
            format!(
                "set x509.subjectdn to {presented} exactly (RFC 2253 order: most specific first, as `client certs show` prints it), or use the certificate issued for {want}"
            ),
        )),
        Err(e) => Err((
            format!("x509.subjectdn {expected:?} is not a distinguished name: {e}"),
            format!("set it to {presented}"),
        )),
    }
}

/// `x509.casubjectdn` against the chain's trust anchor: the issuer of the last certificate
/// presented (the leaf's issuer for a single certificate).
pub fn ca_subject_dn(
    chain: &[rustls_pki_types::CertificateDer<'_>],
    expected: Option<&str>,
) -> Verdict {
    let anchor = chain
        .last()
        .and_then(|d| X509Certificate::from_der(d).ok())
        .map(|(_, c)| playbook::dn::rfc2253(c.issuer()))
        .unwrap_or_default();
    match expected.filter(|e| !e.is_empty()) {
        None => Ok(format!(
            "not set (Keycloak deprecates that: set it to {anchor}, the CA this certificate chains to)"
        )),
        Some(e) => match playbook::dn::normalize(e) {
            Ok(want) if want == anchor => Ok(anchor),
            Ok(want) => Err((
                format!("the realm expects the CA {want}, the certificate chains to {anchor}"),
                format!(
                    "set x509.casubjectdn to {anchor} (the root the chain ends at, not an intermediate), or use a certificate from {want}"
                ),
            )),
            Err(err) => Err((
                format!("x509.casubjectdn {e:?} is not a distinguished name: {err}"),
                format!("set it to {anchor}"),
            )),
        },
    }
}

fn token(answer: &Result<TokenResponse, ClientError>, x5t: &str) -> Vec<Finding> {
    let response = match answer {
        Ok(r) => r,
        Err(e) => {
            let detail = playbook::report::error_chain(e);
            return vec![finding(
                "token",
                Err((
                    detail,
                    "Keycloak does not say why, on purpose: the first ✘ above is the cause (its log line is printed with it)".into(),
                )),
            )];
        }
    };
    let mut out = vec![finding(
        "token",
        Ok(format!(
            "200, token_type {}, expires_in {}",
            response.token_type,
            response
                .expires_in
                .map(|e| e.to_string())
                .unwrap_or_else(|| "?".into())
        )),
    )];
    let Ok(jwt) = DecodedJwt::decode(&response.access_token) else {
        return out;
    };
    out.push(finding(
        "token-binding",
        match jwt.cnf_x5t_s256() {
            Some(t) if t == x5t => Ok(format!("cnf.x5t#S256 = {t}, this certificate's thumbprint")),
            Some(t) => Err((
                format!("cnf.x5t#S256 = {t}, not this certificate's {x5t}"),
                "the token is bound to another certificate: present the same certificate to the resource server".into(),
            )),
            None => Err((
                "no cnf.x5t#S256: the token is not bound".into(),
                "set tls.client.certificate.bound.access.tokens to \"true\" on the client".into(),
            )),
        },
    ));
    out.push(finding(
        "token-role",
        if jwt.has_realm_role(READONLY_ROLE) {
            Ok(format!("realm_access.roles has {READONLY_ROLE}"))
        } else {
            Err((
                format!("realm_access.roles = {:?}", jwt.realm_roles()),
                "map the role to the service account and keep `roles` a default scope (the ✘ above say which); the API answers 403 insufficient_scope until then".into(),
            ))
        },
    ));
    out
}
