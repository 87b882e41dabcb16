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
    // The load generator repeats one request: single-use credentials cannot be repeated.
    if bind == token::Bind::Dpop {
        return Err(setting(
            "--bind",
            "dpop".into(),
            "a DPoP proof is good once (its jti), and the load generator repeats one request; bench the \
             token endpoint or the API with --bind mtls or none",
        ));
    }
    if method == token::AuthMethod::PrivateKeyJwt && args.endpoint == bench::Endpoint::Token {
        return Err(setting(
            "--auth",
            "private-key-jwt".into(),
            "a client assertion is good once (Keycloak refuses its jti again: \"Token reuse \
             detected\"), and the load generator repeats one request; bench --endpoint api with it",
        ));
    }
    let token_request = s.token_request_bound(method, bind);
    let token_id = method.presents_certificate().then_some(&id);
    let mut headers = reqwest::header::HeaderMap::new();
    let header = |v: &str| {
        reqwest::header::HeaderValue::from_str(v)
            .map_err(|_| setting("header", v.into(), "not a valid header value"))
    };
    headers.insert(reqwest::header::ACCEPT, header("application/json")?);
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
            (url, reqwest::Method::POST, body, token_id, None)
        }
        bench::Endpoint::Api => {
            let path = absolute_path(&args.path);
            let url = match &args.url {
                Some(url) => url.clone(),
                None => resource::api_url(&s.resource_server, &path)?,
            };
            let endpoint = token_endpoint(s, &token_request.auth).await?;
            let token =
                token::request_token(&https(s, token_id)?, &endpoint, &token_request).await?;
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
            headers.insert(
                reqwest::header::AUTHORIZATION,
                header(&format!("Bearer {}", token.access_token.secret()))?,
            );
            let kind = if bound {
                "certificate-bound"
            } else {
                "unbound"
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
    };
    let report = bench::run(target, request, &plan, out).await;
    bench::print(&report, out);
    out.json(&bench::to_json(&report, what));
    Ok(bench::all_succeeded(&report))
}
