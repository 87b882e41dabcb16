//! `client doctor --auth … --bind …`: the other methods beside mTLS, each diagnosed on its
//! own failure modes (issue 26's methods, issue 25's doctor).
//!
//! - **The pair** ([`Bind::check`]): the pairs the realm's clients cannot give are a ✘ with
//!   Keycloak's reason; for `--auth tls --bind dpop` the doctor also measures what Keycloak
//!   gives instead (a token request over mTLS with a DPoP proof: `token_type` DPoP, `cnf`
//!   with the certificate's thumbprint only).
//! - **`private_key_jwt`** (Keycloak `client-jwt`, [`jwt`]): offline the key loads and
//!   matches its certificate, and a person's own assertion (`--assertion`) is read as
//!   Keycloak reads it; online the client's `clientAuthenticatorType`, the key it registers
//!   (compared as public keys), `token.endpoint.auth.signing.alg`, then the token request,
//!   whose refusal is named by Keycloak's words ([`REFUSALS`]), and the same assertion sent
//!   again (Keycloak must refuse its `jti`).
//! - **DPoP**: the client's `dpop.bound.access.tokens` (not required: measured, a request
//!   without a proof gets a bearer token), the token (`token_type` DPoP, `cnf.jkt` = the
//!   proof key's thumbprint), a call to the API with a fresh proof.
//! - **A bearer token** (`--bind none`): a ✔ that warns what a thief gets, in `client
//!   compare`'s words.
//!
//! The service account, its role and the `roles` scope are checked as for mTLS
//! ([`super::online`]).

mod answer;
mod checks;
pub mod jwt;

pub use checks::{METHOD_CHECKS, REFUSALS};

use answer::{bearer, call, dpop_token, measure_tls_dpop, refusal, replay, without_proof};
use checks::finding;

use std::path::PathBuf;

use playbook::names;
use playbook::rfc9449::DpopKey;

use super::{Finding, Loaded};
use crate::admin::AdminApi;
use crate::error::ClientError;
use crate::http::Http;
use crate::settings::Settings;
use crate::token::{AuthMethod, Bind, ClientAuth, ClientId, DecodedJwt, TokenRequest};

/// What `client doctor` was asked about, beside the settings.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub method: AuthMethod,
    pub bind: Bind,
    /// The certificate of `--jwt-key` (`--jwt-cert`).
    pub jwt_cert: PathBuf,
    /// A person's own assertion (`--assertion`), read.
    pub assertion: Option<String>,
}

impl Inputs {
    /// Reads `--assertion` (`-`: standard input).
    pub fn read_assertion(path: &std::path::Path) -> Result<String, ClientError> {
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(path)
        };
        text.map(|t| t.trim().to_owned())
            .map_err(|e| ClientError::Setting {
                name: "--assertion",
                value: path.display().to_string(),
                fix: format!(
                    "{e}: pass a file holding the assertion (the compact JWS), or - for stdin"
                ),
            })
    }
}

/// The token request of the client under diagnosis: the method's own client, and for
/// `--auth secret --bind dpop` the realm's DPoP client unless SECRET_CLIENT_ID names another.
pub fn request(s: &Settings, i: &Inputs) -> TokenRequest {
    if i.method == AuthMethod::Secret && s.secret_client_id.as_str() != names::SECRET_CLIENT_ID {
        return s.token_request(AuthMethod::Secret);
    }
    s.token_request_bound(i.method, i.bind)
}

/// The offline checks: the pair, and for `private_key_jwt` the key, its certificate and the
/// person's assertion.
pub fn offline(s: &Settings, i: &Inputs) -> Vec<Finding> {
    let client = request(s, i).client_id;
    let pair = format!("--auth {} --bind {}", i.method.as_str(), bind_name(i.bind));
    let mut out = vec![finding(
        "method-pair",
        i.bind
            .check(i.method)
            .map(|()| format!("{pair}: the client {client}"))
            .map_err(|why| (format!("Keycloak cannot give {pair}"), why)),
    )];
    if i.method != AuthMethod::PrivateKeyJwt {
        return out;
    }
    let key = jwt::key(&s.jwt_key);
    out.push(finding(
        "jwt-key",
        key.as_ref()
            .map(|k| format!("{} signs {}", s.jwt_key.display(), k.alg()))
            .map_err(Clone::clone),
    ));
    if let Ok(k) = &key {
        out.push(finding("jwt-key-matches", jwt::key_matches(k, &i.jwt_cert)));
    }
    if let Some(text) = &i.assertion {
        let issuer = s.issuer.as_str().trim_end_matches('/');
        let now = i64::try_from(crate::token::unix_now()).unwrap_or(0);
        let alg = key.as_ref().ok().map(|k| k.alg());
        match jwt::assertion(text, client.as_str(), issuer, alg, now) {
            Ok(summary) => out.push(finding("jwt-assertion", Ok(summary))),
            Err(problems) => out.extend(problems.into_iter().map(|(id, p)| finding(id, Err(p)))),
        }
    }
    out
}

fn bind_name(b: Bind) -> &'static str {
    match b {
        Bind::Mtls => "mtls",
        Bind::Dpop => "dpop",
        Bind::None => "none",
    }
}

/// The online checks against `s.issuer`, in the order a request meets the problems.
pub async fn online(s: &Settings, loaded: &Loaded, i: &Inputs) -> Vec<Finding> {
    let Ok(roots) = &loaded.ca else {
        return vec![finding("discovery", super::not_loaded())];
    };
    let metadata = match Http::new(roots, None, None) {
        Ok(h) => crate::discovery::discover_waiting(&h, &s.issuer, s.wait).await,
        Err(e) => Err(e),
    };
    let metadata = match metadata {
        Ok(m) => m,
        Err(e) => {
            let fix = format!(
                "is the provider running at {}, and is its certificate issued by the CA in --ca? (ISSUER, CA_CERT)",
                s.issuer
            );
            return vec![finding(
                "discovery",
                Err((playbook::report::error_chain(&e), fix)),
            )];
        }
    };
    let tls = i.method.presents_certificate();
    let endpoint = if tls {
        metadata.token_endpoint_for_mtls().clone()
    } else {
        metadata.token_endpoint.clone()
    };
    let mut out = vec![finding(
        "discovery",
        Ok(format!("token endpoint {endpoint}")),
    )];
    let identity = loaded.identity();
    let http = match Http::new(roots, identity.as_ref().filter(|_| tls), None) {
        Ok(h) => h,
        Err(e) => {
            return vec![finding(
                "discovery",
                Err((e.to_string(), "check --ca".into())),
            )];
        }
    };
    let req = request(s, i);
    if i.bind.check(i.method).is_err() {
        if (i.method, i.bind) == (AuthMethod::Tls, Bind::Dpop) {
            out.push(measure_tls_dpop(&http, &endpoint, &req).await);
        }
        return out;
    }
    let required = realm(s, i, &req.client_id, &mut out).await;

    // The token request: the person's own assertion, or one made now, kept to be sent
    // again; with a proof for DPoP.
    let mut sent = req.clone();
    if let ClientAuth::PrivateKeyJwt(c) = &mut sent.auth {
        c.made = match i
            .assertion
            .clone()
            .map_or_else(|| c.assertion(&req.client_id), Ok)
        {
            Ok(a) => Some(a),
            Err(e) => {
                let fix = "see the key above";
                return with(out, finding("token", Err((e.to_string(), fix.into()))));
            }
        };
    }
    let key = match (i.bind == Bind::Dpop).then(DpopKey::generate).transpose() {
        Ok(k) => k,
        Err(e) => return with(out, finding("token", Err((e.to_string(), "".into())))),
    };
    let answer = crate::token::request_token_with(&http, &endpoint, &sent, key.as_ref()).await;
    let token = match answer {
        Ok(t) => t,
        Err(e) => {
            out.push(refusal(s, &e));
            return out;
        }
    };
    out.push(finding(
        "token",
        Ok(format!("200, token_type {}", token.token_type)),
    ));
    if matches!(req.auth, ClientAuth::PrivateKeyJwt(_)) {
        out.push(replay(&http, &endpoint, &sent).await);
    }
    let jwt = DecodedJwt::decode(&token.access_token).ok();
    let cnf = |m: &str| {
        jwt.as_ref()
            .and_then(|j| j.claims["cnf"][m].as_str().map(str::to_owned))
    };
    match &key {
        Some(key) => {
            let unbound = if required == Some(false) {
                without_proof(&http, &endpoint, &req, i.assertion.is_some()).await
            } else {
                None
            };
            out.push(dpop_token(&token, cnf("jkt"), key).warn(unbound));
        }
        None => out.push(bearer(
            &token,
            cnf("jkt").or(cnf(playbook::rfc8705::METHOD)),
        )),
    }
    out.push(finding(
        "token-role",
        match &jwt {
            Some(j) if j.has_realm_role(names::READONLY_ROLE) => Ok(format!("realm_access.roles has {}", names::READONLY_ROLE)),
            _ => Err((
                format!("realm_access.roles = {:?}", jwt.as_ref().map(|j| j.realm_roles()).unwrap_or_default()),
                "map the role to the service account and keep `roles` a default scope (the ✘ above say which)".into(),
            )),
        },
    ));
    out.push(call(s, roots, identity.as_ref(), &token, key.as_ref()).await);
    out
}

fn with(mut out: Vec<Finding>, f: Finding) -> Vec<Finding> {
    out.push(f);
    out
}

/// The realm's findings on the client; returns whether it requires DPoP, when read.
async fn realm(
    s: &Settings,
    i: &Inputs,
    client: &ClientId,
    out: &mut Vec<Finding>,
) -> Option<bool> {
    let api = match AdminApi::open(s, None).await {
        Ok(api) => api,
        Err(e) => {
            out.push(finding("admin", Err((playbook::report::error_chain(&e), "the admin identity (--admin-as) must be able to view clients: realm-management's view-clients, or --admin-as bootstrap".into()))));
            return None;
        }
    };
    let rep = match api.client_representation(client.as_str()).await {
        Ok(rep) => rep,
        Err(ClientError::Setting { .. }) => {
            out.push(finding(
                "admin",
                Ok(format!("read as {:?}", api.who()).to_lowercase()),
            ));
            out.push(finding("client", Err((
                format!("realm {:?} has no client {client:?}", s.realm),
                "name the client: JWT_CLIENT_ID for --auth private-key-jwt, SECRET_CLIENT_ID (and CLIENT_SECRET) for --auth secret".into(),
            ))));
            return None;
        }
        Err(e) => {
            out.push(finding(
                "admin",
                Err((
                    playbook::report::error_chain(&e),
                    "read as --admin-as bootstrap, or give the identity view-clients".into(),
                )),
            ));
            return None;
        }
    };
    out.push(finding(
        "admin",
        Ok(format!("read as {:?}", api.who()).to_lowercase()),
    ));
    out.push(finding(
        "client",
        super::online::enabled(&rep, client.as_str()),
    ));
    let kind = rep["clientAuthenticatorType"].as_str().unwrap_or("");
    let (id, want, label) = match i.method {
        AuthMethod::PrivateKeyJwt => ("jwt-authenticator", "client-jwt", "\"Signed JWT\""),
        _ => (
            "secret-authenticator",
            "client-secret",
            "\"Client Id and Secret\"",
        ),
    };
    out.push(finding(
        id,
        if kind == want {
            Ok(want.into())
        } else {
            Err((
                format!("clientAuthenticatorType is {kind:?}: Keycloak hands the request to that authenticator, which refuses it"),
                format!("set Credentials → Client Authenticator to {label} (clientAuthenticatorType {want})"),
            ))
        },
    ));
    let attributes = &rep["attributes"];
    // The keys only matter to client-jwt (another authenticator's ✘ above is the cause).
    let jwt_key = (kind == "client-jwt").then(|| jwt::key(&s.jwt_key));
    if let (AuthMethod::PrivateKeyJwt, Some(Ok(key))) = (i.method, jwt_key) {
        let ours = key.public_jwk();
        out.push(match jwt::registered_keys(attributes) {
            Err(none) => finding("jwt-no-key", Err(none)),
            Ok(keys) if keys.is_empty() => finding("jwt-registered-key", Ok(format!(
                "use.jwks.url: Keycloak fetches {:?} (not compared here: it must serve this key with \"use\": \"sig\")",
                attributes["jwks.url"].as_str().unwrap_or("")
            ))),
            Ok(keys) if keys.iter().any(|k| jwt::same_key(k, &ours)) => finding(
                "jwt-registered-key",
                Ok(format!("the realm registers this key ({} key(s) registered)", keys.len())),
            ),
            Ok(_) => finding("jwt-registered-key", Err((
                "the realm registers another key: Keycloak verifies the assertion with it and refuses (\"Signature on JWT token failed validation\")".into(),
                "register the certificate of --jwt-key (jwt.credential.certificate: Credentials → Keys → Import certificate), or sign with the key the realm has".into(),
            ))),
        });
        out.push(finding(
            "jwt-signing-alg",
            jwt::signing_alg(attributes, key.alg()),
        ));
    }
    let required = attributes["dpop.bound.access.tokens"].as_str() == Some("true");
    out.push(match (i.bind, required) {
        (Bind::Dpop, true) => finding("dpop-required", Ok("true: every token request must carry a proof".into())),
        (Bind::Dpop, false) => finding(
            "dpop-required",
            Ok("not required: the token is bound only because this request sends a proof (measured below)".into()),
        ),
        (_, true) => finding("dpop-required", Err((
            "true: the client requires DPoP, and this request sends no proof: Keycloak answers \"DPoP proof is missing\"".into(),
            "use --bind dpop (a proof with every request), or turn dpop.bound.access.tokens off for bearer tokens".into(),
        ))),
        (_, false) => finding("dpop-required", Ok("not required: no proof is sent, the token is a bearer token".into())),
    });
    out.extend(super::online::service_account_and_role(&api, &rep, client.as_str()).await);
    out.push(finding("roles-scope", super::online::roles_scope(&rep)));
    Some(required)
}
