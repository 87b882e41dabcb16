//! The token request's answer, read: a refusal named by Keycloak's words, the token's
//! binding (DPoP, or a bearer token with what a thief gets), the assertion sent twice, what
//! Keycloak gives where it cannot give the pair asked for, and a call to the API.

use playbook::rfc9449::DpopKey;

use super::checks::{REFUSALS, finding};
use crate::doctor::Finding;
use crate::error::ClientError;
use crate::http::Http;
use crate::settings::Settings;
use crate::token::{DecodedJwt, TokenRequest, TokenResponse};

/// A refused token request, named by Keycloak's words ([`REFUSALS`]).
pub(super) fn refusal(s: &Settings, e: &ClientError) -> Finding {
    let detail = playbook::report::error_chain(e);
    let description = match e {
        ClientError::OAuth { error, .. } => error.error_description.clone().unwrap_or_default(),
        _ => String::new(),
    };
    match REFUSALS.iter().find(|(words, _, _)| description.contains(words)) {
        // Keycloak said why: its answer alone, not the client's note that it would not.
        Some((_, check, fix)) => finding(
            check,
            Err((
                match e {
                    ClientError::OAuth { error, .. } => error.to_string(),
                    _ => detail,
                },
                fix.replace("{issuer}", s.issuer.as_str().trim_end_matches('/')),
            )),
        ),
        None => finding(
            "token",
            Err((
                detail,
                "Keycloak does not say why (\"Invalid client or Invalid client credentials\"), on purpose: the first ✘ above is the cause (with --auth secret and nothing above: a wrong CLIENT_SECRET)".into(),
            )),
        ),
    }
}

/// The same assertion a second time: Keycloak must refuse its `jti`.
pub(super) async fn replay(http: &Http, endpoint: &url::Url, req: &TokenRequest) -> Finding {
    match crate::token::request_token(http, endpoint, req).await {
        Err(ClientError::OAuth { error, .. })
            if error.error_description.as_deref() == Some("Token reuse detected") =>
        {
            finding("jwt-replay-refused", Ok(format!("{} {}: \"Token reuse detected\"", error.status, error.error.as_str())))
        }
        Ok(_) => finding("jwt-replay-refused", Err((
            "the same assertion got a second token: one captured assertion is as good as the key until it expires".into(),
            "Keycloak refuses a jti it has seen; this provider does not: keep assertions short-lived (exp a minute ahead)".into(),
        ))),
        Err(e) => finding("jwt-replay-refused", Err((playbook::report::error_chain(&e), "expected 400 \"Token reuse detected\"".into()))),
    }
}

/// `--bind none`'s token: unbound, named with what a thief gets.
pub(super) fn bearer(token: &TokenResponse, cnf: Option<String>) -> Finding {
    match cnf {
        Some(c) => finding("bearer-token", Ok(format!("token_type {}, bound all the same (cnf {c})", token.token_type))),
        None => finding("bearer-token", Ok(format!("token_type {}, no cnf", token.token_type))).warn(Some(
            "a bearer token: a thief who copies it gets in from another machine (client compare's stolen-token attack: **gets in**), until it expires; --bind dpop binds it to a key of this client's".into(),
        )),
    }
}

/// `--bind dpop`'s token: `token_type` DPoP and `cnf.jkt` the proof key's thumbprint.
pub(super) fn dpop_token(token: &TokenResponse, jkt: Option<String>, key: &DpopKey) -> Finding {
    let typed = token
        .token_type
        .eq_ignore_ascii_case(playbook::rfc9449::SCHEME);
    finding(
        "dpop-token",
        match jkt {
            Some(j) if j == key.jkt() && typed => Ok(format!("token_type {}, cnf.jkt = {j}, this proof key's thumbprint", token.token_type)),
            Some(j) => Err((
                format!("token_type {}, cnf.jkt = {j}, not this proof key's {}", token.token_type, key.jkt()),
                "present proofs of the key the token is bound to".into(),
            )),
            None => Err((
                format!("token_type {}, no cnf.jkt: the token is not bound to the proof's key", token.token_type),
                "the provider ignored the DPoP header: is it Keycloak 26.4 or later with DPoP on (feature dpop)?".into(),
            )),
        },
    )
}

/// DPoP not required: a request without a proof, measured.
pub(super) async fn without_proof(
    http: &Http,
    endpoint: &url::Url,
    req: &TokenRequest,
    own_assertion: bool,
) -> Option<String> {
    if own_assertion {
        return None;
    }
    let extra = match crate::token::request_token_with(http, endpoint, req, None).await {
        Ok(t) => {
            let cnf = DecodedJwt::decode(&t.access_token)
                .ok()
                .map(|j| j.claims["cnf"].clone())
                .unwrap_or_default();
            format!(
                "measured: without a proof the same client got token_type {}{}",
                t.token_type,
                if cnf.is_null() { ", no cnf" } else { "" }
            )
        }
        Err(e) => format!(
            "measured: without a proof: {}",
            playbook::report::error_chain(&e)
        ),
    };
    Some(format!(
        "the client does not require DPoP (dpop.bound.access.tokens): {extra}; set the attribute to \"true\" (Advanced → \"OAuth 2.0 DPoP Bound Access Tokens Enabled\")"
    ))
}

/// `--auth tls --bind dpop`, measured: what Keycloak gives for a proof sent over mTLS.
pub(super) async fn measure_tls_dpop(
    http: &Http,
    endpoint: &url::Url,
    req: &TokenRequest,
) -> Finding {
    let key = match DpopKey::generate() {
        Ok(k) => k,
        Err(e) => return finding("dpop-token", Err((e.to_string(), "".into()))),
    };
    let detail = match crate::token::request_token_with(http, endpoint, req, Some(&key)).await {
        Ok(t) => {
            let cnf = DecodedJwt::decode(&t.access_token)
                .ok()
                .map(|j| j.claims["cnf"].clone())
                .unwrap_or_default();
            let members: Vec<&String> = cnf
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            format!(
                "measured: token_type {}, cnf {members:?}{}",
                t.token_type,
                if cnf.get("jkt").is_none() {
                    ": not bound to the proof's key"
                } else {
                    ""
                }
            )
        }
        Err(e) => format!("measured: {}", playbook::report::error_chain(&e)),
    };
    finding("dpop-token", Err((detail, "use --auth secret --bind dpop or --auth private-key-jwt --bind dpop; over mTLS the certificate binding already holds the token to this client".into())))
}

/// A call to the API with the token (with a fresh proof for DPoP), over a connection that
/// presents the client certificate when there is one (the resource server asks for it).
pub(super) async fn call(
    s: &Settings,
    roots: &[rustls_pki_types::CertificateDer<'static>],
    identity: Option<&playbook::Identity>,
    token: &TokenResponse,
    key: Option<&DpopKey>,
) -> Finding {
    let path = crate::compare::PATH;
    let answer = match Http::new(roots, identity, None) {
        Ok(http) => {
            crate::resource::call_with(
                &http,
                &s.resource_server,
                reqwest::Method::GET,
                path,
                &token.access_token,
                None,
                key,
            )
            .await
        }
        Err(e) => Err(e),
    };
    finding(
        "api-call",
        match answer {
            Ok(r) if r.status == 200 => Ok(format!("200 from {}{path}", s.resource_server.as_str().trim_end_matches('/'))),
            Ok(r) => Err((
                r.summary().lines().take(2).collect::<Vec<_>>().join("; "),
                match key {
                    Some(_) => "the resource server checks the proof: htu must be its public URL (behind a proxy, the proxy's: resource-server --public-url), htm, ath, iat within its window, a new jti",
                    None => "a resource server started with --require-binding refuses unbound tokens: use --bind dpop",
                }
                .into(),
            )),
            Err(e) => Err((playbook::report::error_chain(&e), format!("is the resource server running at {} (RESOURCE_SERVER_URL)?", s.resource_server))),
        },
    )
}
