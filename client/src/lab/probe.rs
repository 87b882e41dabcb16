//! What the checkers ask the live servers, each answer kept as data (a refusal is an
//! outcome to compare, not an error): a token request with a given certificate, an API
//! call with a given certificate and token, an admin session, and offline certificate
//! checks.

use std::path::Path;
use std::sync::Arc;

use playbook::Identity;
use playbook::x509::CertInfo;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::admin::AdminApi;
use crate::discovery;
use crate::error::{ClientError, OAuthError, TransportKind};
use crate::resource::{self, ApiResponse};
use crate::token::{
    self, AccessToken, ClientAuth, ClientId, DecodedJwt, Scope, TokenRequest, TokenResponse,
};

use super::Ctx;

/// How a token request ended.
#[derive(Debug)]
pub enum TokenOutcome {
    Issued(Box<TokenResponse>),
    /// An RFC 6749 §5.2 error.
    Refused(OAuthError),
    /// The TLS handshake failed (the certificate was not accepted, or not sent).
    TlsRefused(String),
}

impl TokenOutcome {
    pub fn describe(&self) -> String {
        match self {
            TokenOutcome::Issued(_) => "200, a token".into(),
            TokenOutcome::Refused(e) => format!("{} {}", e.status, e.error),
            TokenOutcome::TlsRefused(d) => format!("TLS handshake refused ({d})"),
        }
    }

    pub fn token(&self) -> Option<&TokenResponse> {
        match self {
            TokenOutcome::Issued(t) => Some(t),
            _ => None,
        }
    }

    /// `cnf.x5t#S256` of an issued token.
    pub fn cnf(&self) -> Option<String> {
        let t = self.token()?;
        DecodedJwt::decode(&t.access_token)
            .ok()?
            .cnf_x5t_s256()
            .map(str::to_owned)
    }
}

/// How an API call ended.
#[derive(Debug)]
pub enum CallOutcome {
    Answered(ApiResponse),
    TlsRefused(String),
}

impl CallOutcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallOutcome::Answered(r) => Some(r.status),
            CallOutcome::TlsRefused(_) => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            CallOutcome::Answered(r) => match r.error_code() {
                Some(code) => format!("{} {code}", r.status),
                None => r.status.to_string(),
            },
            CallOutcome::TlsRefused(d) => format!("TLS handshake refused ({d})"),
        }
    }
}

/// An identity from files, loaded without the validity checks (a lab may present an
/// expired certificate on purpose); the key must still match.
pub fn identity_unchecked(cert: &Path, key: &Path) -> Result<Identity, ClientError> {
    let chain = playbook::pem::load_certs(cert)?;
    let key = playbook::pem::load_key(key)?;
    Ok(Identity::unchecked(cert, chain, key))
}

/// The token endpoint for tls_client_auth, from the issuer's discovery document.
pub async fn token_endpoint(ctx: &Ctx<'_>) -> Result<url::Url, ClientError> {
    let http = https(ctx, None)?;
    let url = discovery::discovery_url(&ctx.s.issuer)?;
    let m = crate::retry::until_up("the provider", &url, ctx.s.wait, || {
        discovery::discover(&http, &ctx.s.issuer)
    })
    .await?;
    Ok(m.token_endpoint_for_mtls().clone())
}

pub fn https(ctx: &Ctx<'_>, identity: Option<&Identity>) -> Result<crate::http::Http, ClientError> {
    let roots = playbook::pem::load_ca_certs(&ctx.s.ca)?;
    Ok(playbook::https::https_client(&roots, identity)?.into())
}

/// A client-credentials request for `client_id` presenting `identity`.
pub async fn token(
    ctx: &Ctx<'_>,
    identity: &Identity,
    client_id: &str,
    scope: Option<&str>,
) -> Result<TokenOutcome, ClientError> {
    let endpoint = token_endpoint(ctx).await?;
    let http = https(ctx, Some(identity))?;
    let request = TokenRequest {
        client_id: ClientId::new(client_id),
        scope: scope.map(Scope::new),
        auth: ClientAuth::TlsClientAuth,
    };
    match token::request_token(&http, &endpoint, &request).await {
        Ok(t) => Ok(TokenOutcome::Issued(Box::new(t))),
        Err(ClientError::OAuth { error, .. }) => Ok(TokenOutcome::Refused(error)),
        Err(ClientError::Transport {
            kind: TransportKind::Tls | TransportKind::Reset | TransportKind::Other,
            detail,
            ..
        }) => Ok(TokenOutcome::TlsRefused(detail)),
        Err(e) => Err(e),
    }
}

/// `GET path` on the resource server presenting `identity`, with `token` (if any).
pub async fn call(
    ctx: &Ctx<'_>,
    identity: &Identity,
    path: &str,
    token: Option<&AccessToken>,
) -> Result<CallOutcome, ClientError> {
    let http = https(ctx, Some(identity))?;
    let url = resource::api_url(&ctx.s.resource_server, path)?;
    let mut request = http.get(url.clone());
    if let Some(t) = token {
        request = request.bearer_auth(t.secret());
    }
    match crate::http::send_json(&http, request, &url).await {
        Ok(reply) => Ok(CallOutcome::Answered(ApiResponse {
            status: reply.status.as_u16(),
            www_authenticate: reply.header(reqwest::header::WWW_AUTHENTICATE),
            body: reply.json,
        })),
        Err(ClientError::Transport {
            kind: TransportKind::Tls | TransportKind::Reset | TransportKind::Other,
            detail,
            ..
        }) => Ok(CallOutcome::TlsRefused(detail)),
        Err(e) => Err(e),
    }
}

/// An admin session (as `--admin-as` says: the provisioner by default), quietly: enough for
/// role mappings.
pub async fn admin(ctx: &Ctx<'_>) -> Result<AdminApi, ClientError> {
    let base = ctx.s.admin_base()?;
    crate::retry::until_up("the provider", &base, ctx.s.wait, || {
        AdminApi::open(ctx.s, None)
    })
    .await
}

/// The bootstrap admin's session, quietly: for the labs that read or change a client's
/// configuration (labs 2 and 7), which the provisioner may not (it may read a client with
/// `view-clients`, but not change one: no `manage-clients`).
pub async fn bootstrap_admin(ctx: &Ctx<'_>) -> Result<AdminApi, ClientError> {
    let mut s = ctx.s.clone();
    s.admin_as = crate::settings::AdminAs::Bootstrap;
    let base = s.admin_base()?;
    crate::retry::until_up("the provider", &base, s.wait, || AdminApi::open(&s, None)).await
}

/// The first certificate in a PEM file, parsed.
pub fn cert_info(path: &Path) -> Result<(CertificateDer<'static>, CertInfo), String> {
    if !path.exists() {
        return Err("no such file".into());
    }
    let chain = playbook::pem::load_certs(path).map_err(|e| e.to_string())?;
    let leaf = chain
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: no certificate", path.display()))?;
    let info = CertInfo::from_der(&leaf)?;
    Ok((leaf, info))
}

/// The subject of the certificate signing request (RFC 2986) in a PEM file, rendered as
/// the realm compares DNs (RFC 2253).
pub fn csr_subject(path: &Path) -> Result<String, String> {
    use x509_parser::prelude::FromDer as _;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no such file".into()),
        Err(e) => return Err(e.to_string()),
    };
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(&bytes).map_err(|e| format!("not a PEM file ({e})"))?;
    if pem.label != "CERTIFICATE REQUEST" {
        return Err(format!("a PEM {:?}, not a CERTIFICATE REQUEST", pem.label));
    }
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents)
            .map_err(|e| format!("not a CSR ({e})"))?;
    Ok(playbook::dn::rfc2253(
        &csr.certification_request_info.subject,
    ))
}

/// Whether `leaf` chains to one of `roots` as a TLS client certificate, now (what the
/// servers' verifiers check: signature, validity, clientAuth EKU).
pub fn verify_client_chain(
    roots: &[CertificateDer<'static>],
    leaf: &CertificateDer<'static>,
) -> Result<(), String> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
            .build()
            .map_err(|e| e.to_string())?;
    verifier
        .verify_client_cert(leaf, &[], UnixTime::now())
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A check that could not run because a server did not answer (or answered unexpectedly).
pub fn unreachable(what: &str, e: &ClientError) -> super::Check {
    super::Check::fail(
        what,
        "an answer from the servers",
        playbook::report::error_chain(e),
        unreachable_hint(e),
    )
}

/// What to try when a server did not answer; when nothing listened on the port asked
/// (connection refused), also how to point the client at other ports.
pub fn unreachable_hint(e: &ClientError) -> String {
    let refused_at = match e {
        ClientError::Transport {
            url,
            kind: TransportKind::Refused,
            ..
        } => Some(url),
        ClientError::GaveUp { url, .. } => Some(url),
        _ => None,
    };
    let running = "are the servers running, with this lab's state? ./start.sh --lab N starts them";
    match refused_at.and_then(|u| u.port_or_known_default()) {
        Some(port) => format!(
            "nothing answered on port {port}: {running}. If they run on other ports, export PROVIDER_PORT, MANAGEMENT_PORT and RESOURCE_SERVER_PORT here too and load them with `set -a; source scripts/env.sh; set +a` (labs/README.md, \"If a port is taken\")"
        ),
        None => running.to_owned(),
    }
}

/// An HTTP answer as `curl -i` saved it (labs 4 and 12 read the attendee's): the status line,
/// the `WWW-Authenticate` challenge, and the JSON body when there is one.
#[derive(Debug)]
pub struct SavedAnswer {
    /// `HTTP/1.1 401 Unauthorized`, or a placeholder when there is none.
    pub status_line: String,
    pub challenge: Option<String>,
    body: Option<serde_json::Value>,
}

impl SavedAnswer {
    pub fn parse(text: &str) -> Self {
        let status_line = text
            .lines()
            .find(|l| l.starts_with("HTTP/"))
            .unwrap_or("(no HTTP status line)")
            .trim()
            .to_owned();
        let challenge = text.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("www-authenticate")
                .then(|| value.trim().to_owned())
        });
        let body = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .and_then(|l| serde_json::from_str(l).ok());
        SavedAnswer {
            status_line,
            challenge,
            body,
        }
    }

    /// The status code, `401`.
    pub fn status(&self) -> Option<&str> {
        self.status_line.split_whitespace().nth(1)
    }

    /// `name="…"` from the challenge (shared parser), else `name` in the JSON body.
    pub fn field(&self, name: &str) -> Option<String> {
        self.challenge
            .as_deref()
            .and_then(|c| playbook::oauth::challenge_param(c, name))
            .or_else(|| self.body.as_ref()?.get(name)?.as_str().map(str::to_owned))
    }
}

/// The mTLS client's [`RotatingClient`](crate::rotation::RotatingClient) reading `cert` and
/// `key` (rereading them when they change) against the provider's token endpoint (labs 6 and
/// 10); `Err(check)` names an unreachable provider.
pub async fn rotating_mtls_client(
    ctx: &Ctx<'_>,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
) -> Result<Result<crate::rotation::RotatingClient, super::Check>, ClientError> {
    let endpoint = match token_endpoint(ctx).await {
        Ok(e) => e,
        Err(e) => return Ok(Err(unreachable("the token endpoint", &e))),
    };
    let request = crate::token::TokenRequest {
        client_id: crate::token::ClientId::new(ctx.s.client_id.as_str()),
        scope: None,
        auth: crate::token::ClientAuth::TlsClientAuth,
    };
    let roots = playbook::pem::load_ca_certs(&ctx.s.ca)?;
    crate::rotation::RotatingClient::new(cert, key, roots, endpoint, request).map(Ok)
}
