//! `client bench`: a bounded load against the provider's token endpoint (a
//! client-credentials grant per request, RFC 6749 §4.4) or a resource-server route (one
//! token for the run, RFC 6750 §2.1), over mutual TLS with the connection reuse asked for;
//! the load itself is [`crate::load`], the report [`crate::bench`].

use std::time::Duration;

use playbook::pem;
use serde_json::json;

use super::{absolute_path, https, identity, token_endpoint};
use crate::bench;
use crate::cli::BenchArgs;
use crate::error::ClientError;
use crate::output::Output;
use crate::resource;
use crate::settings::Settings;
use crate::token::{self, DecodedJwt};

pub(super) async fn run(s: &Settings, args: &BenchArgs, out: &Output) -> Result<bool, ClientError> {
    // Arguments first: a typo must not cost a wait for the provider.
    let setting = |name, value: String, fix: &str| ClientError::Setting {
        name,
        value,
        fix: fix.to_owned(),
    };
    if !(args.duration > 0.0 && args.duration <= 3600.0) {
        return Err(setting(
            "--duration",
            args.duration.to_string(),
            "give seconds, more than 0 and at most 3600",
        ));
    }
    if !(1..=1024).contains(&args.connections) {
        return Err(setting(
            "--connections",
            args.connections.to_string(),
            "give 1 to 1024",
        ));
    }
    if args.count == Some(0) {
        return Err(setting("--count", "0".into(), "give at least 1"));
    }
    let roots = pem::load_ca_certs(&s.ca)?;
    let id = identity(s)?;
    let method = args.auth.method();
    let bind = args.auth.bind()?;
    // Single-use parts (a DPoP proof, a client assertion) are made anew for every request.
    let dpop = (bind == token::Bind::Dpop)
        .then(playbook::rfc9449::DpopKey::generate)
        .transpose()
        .map_err(|e| setting("--bind", "dpop".into(), &format!("no DPoP key: {e}")))?
        .map(std::sync::Arc::new);
    let token_request = s.token_request_bound(method, bind);
    let token_id = method.presents_certificate().then_some(&id);
    let mut headers = reqwest::header::HeaderMap::new();
    let header = |v: &str| {
        reqwest::header::HeaderValue::from_str(v)
            .map_err(|_| setting("header", v.into(), "not a valid header value"))
    };
    headers.insert(reqwest::header::ACCEPT, header("application/json")?);
    let mut fresh: Option<crate::load::Fresh> = None;
    let (url, method, body, presented, token_kind) = match args.endpoint {
        bench::Endpoint::Token => {
            let url = match &args.url {
                Some(url) => url.clone(),
                None => token_endpoint(s, &token_request.auth).await?,
            };
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                header("application/x-www-form-urlencoded")?,
            );
            if let Some(auth) = token_request.authorization() {
                headers.insert(reqwest::header::AUTHORIZATION, header(&auth)?);
            }
            let body = token_request.form_body();
            fresh = fresh_token_parts(&token_request, dpop.clone(), &url);
            (url, reqwest::Method::POST, body, token_id, None)
        }
        bench::Endpoint::Api => {
            let path = absolute_path(&args.path);
            let url = match &args.url {
                Some(url) => url.clone(),
                None => resource::api_url(&s.resource_server, &path)?,
            };
            let endpoint = token_endpoint(s, &token_request.auth).await?;
            let token = token::request_token_with(
                &https(s, token_id)?,
                &endpoint,
                &token_request,
                dpop.as_deref(),
            )
            .await?;
            if let Some(expires) = token.expires_in
                && (expires as f64) < args.duration
            {
                out.warn(&format!(
                    "the token expires in {expires} s, before the run ends: later requests will be refused"
                ));
            }
            let bound = DecodedJwt::decode(&token.access_token)
                .ok()
                .and_then(|jwt| jwt.cnf_x5t_s256().map(str::to_owned))
                .is_some();
            let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
            headers.insert(
                reqwest::header::AUTHORIZATION,
                header(&format!("{scheme} {}", token.access_token.secret()))?,
            );
            let kind = match (&dpop, bound) {
                (Some(key), _) => {
                    let (key, url, token) = (
                        key.clone(),
                        url.to_string(),
                        token.access_token.secret().to_owned(),
                    );
                    fresh = Some(std::sync::Arc::new(move || {
                        proof_header(&key.proof("GET", &url, Some(&token), token::unix_now()))
                    }));
                    "DPoP-bound (a new proof per request)"
                }
                (None, true) => "certificate-bound",
                (None, false) => "unbound",
            };
            (
                url,
                reqwest::Method::GET,
                String::new(),
                Some(&id),
                Some(kind),
            )
        }
    };
    let tls = playbook::https::client_config(&roots, presented)?;
    let target = bench::target(&url, tls).await?;
    let plan = crate::load::Plan {
        connections: args.connections,
        duration: Duration::from_secs_f64(args.duration),
        count: args.count,
        reuse: args.reuse,
    };
    let what = json!({
        "endpoint": args.endpoint,
        "method": method.as_str(),
        "url": url.as_str(),
        "token": token_kind,
        "client_certificate": presented.map(|i| i.cert_path.display().to_string()),
        "duration_s": args.duration,
        "count": args.count,
    });
    out.heading(&format!(
        "{method} {url}: {}, {} connection{}, {} s at most{}",
        args.reuse.as_str(),
        args.connections,
        if args.connections == 1 { "" } else { "s" },
        args.duration,
        args.count
            .map(|n| format!(" or {n} requests"))
            .unwrap_or_default()
    ));
    out.plain(&format!(
        "  presenting   {}{}",
        presented
            .map(|i| i.cert_path.display().to_string())
            .unwrap_or_else(|| "no client certificate".into()),
        token_kind
            .map(|k| format!("; one {k} token for every request"))
            .unwrap_or_default()
    ));
    let request = crate::load::Request {
        method,
        path: bench::path_and_query(&url),
        headers,
        body: body.into(),
        fresh,
    };
    let report = bench::run(target, request, &plan, out).await;
    bench::print(&report, out);
    out.json(&bench::to_json(&report, what));
    Ok(bench::all_succeeded(&report))
}

/// The token endpoint's single-use parts: a new client assertion in the body
/// (`private_key_jwt`: Keycloak refuses a `jti` twice, "Token reuse detected") and a new
/// DPoP proof (`--bind dpop`); none for the other methods.
fn fresh_token_parts(
    request: &token::TokenRequest,
    dpop: Option<std::sync::Arc<playbook::rfc9449::DpopKey>>,
    url: &url::Url,
) -> Option<crate::load::Fresh> {
    let assertion = matches!(request.auth, token::ClientAuth::PrivateKeyJwt(_));
    if !assertion && dpop.is_none() {
        return None;
    }
    let (request, url) = (request.clone(), url.to_string());
    Some(std::sync::Arc::new(move || {
        let mut parts = match &dpop {
            Some(key) => proof_header(&key.proof("POST", &url, None, token::unix_now()))?,
            None => crate::load::FreshParts::default(),
        };
        if assertion {
            parts.body = Some(request.body_to_send().map_err(|e| e.to_string())?.into());
        }
        Ok(parts)
    }))
}

/// A `DPoP` header holding `proof`.
fn proof_header(proof: &str) -> Result<crate::load::FreshParts, String> {
    let mut parts = crate::load::FreshParts::default();
    let value = reqwest::header::HeaderValue::from_str(proof).map_err(|e| e.to_string())?;
    parts.headers.insert(playbook::rfc9449::HEADER, value);
    Ok(parts)
}
