//! `client call`: the resource server's API with a bearer token (RFC 6750 §2.1) over a
//! connection that presents the client certificate, so a certificate-bound token (RFC 8705
//! §3) is accepted; one cached token for every path, fetched again once on `invalid_token`.
//! `--every` hands over to [`crate::rotation`] (certificate rotation).

use serde_json::json;

use playbook::https::Recorder;

use super::{absolute_path, identity, token_endpoint, traced_https, write_trace};
use crate::cli::CallArgs;
use crate::error::ClientError;
use crate::output::Output;
use crate::resource::{self, TokenCache, TokenSource};
use crate::retry;
use crate::settings::Settings;
use crate::token::{self, AuthMethod, Bind};

pub(super) async fn run(s: &Settings, args: &CallArgs, out: &Output) -> Result<bool, ClientError> {
    let Some(path) = &args.html else {
        return calls(s, args, out, None).await;
    };
    let recorder = Recorder::new();
    let result = calls(s, args, out, Some(&recorder)).await;
    let what = format!(
        "{} {} with a token of {}",
        args.method,
        args.paths.join(" "),
        s.token_request(args.auth.method()).auth.method_name()
    );
    let name = format!("client call -X {} {}", args.method, args.paths.join(" "));
    write_trace(s, out, path, &recorder, &name, &args.auth, &what, &result)?;
    result
}

/// The command; its HTTPS connections recorded into `trace` when given.
async fn calls(
    s: &Settings,
    args: &CallArgs,
    out: &Output,
    trace: Option<&Recorder>,
) -> Result<bool, ClientError> {
    let method = args.auth.method();
    let bind = args.auth.bind()?;
    if let Some(every) = args.every {
        if method != AuthMethod::Tls || bind != Bind::Mtls {
            return Err(ClientError::Setting {
                name: "--every",
                value: every.to_string(),
                fix: "it follows the certificate files, so it needs --auth tls and --bind mtls \
                      (the defaults)"
                    .into(),
            });
        }
        return crate::rotation::watch(s, &args.paths, every, out).await;
    }
    // Arguments first: a typo must not cost a wait for the provider.
    let body = match &args.data {
        Some(d) => Some(serde_json::from_str::<serde_json::Value>(d).map_err(|e| {
            ClientError::Setting {
                name: "--data",
                value: d.clone(),
                fix: format!("must be JSON: {e}"),
            }
        })?),
        None => None,
    };
    let paths: Vec<String> = args.paths.iter().map(|p| absolute_path(p)).collect();
    let id = identity(s)?;
    // The calls always present the client certificate (the resource server requires one);
    // the token comes from the mTLS client, or with --auth secret from the client-secret one.
    let http = traced_https(s, Some(&id), trace)?;
    let request = s.token_request_bound(method, bind);
    // RFC 9449: one key for this run; the token request and every call carry its proofs.
    let dpop = match bind {
        Bind::Dpop => Some(std::sync::Arc::new(
            playbook::rfc9449::DpopKey::generate()
                .map_err(|e| ClientError::Jwt(format!("cannot make a DPoP key: {e}")))?,
        )),
        Bind::Mtls | Bind::None => None,
    };
    let token_http = if method.presents_certificate() {
        http.clone()
    } else {
        traced_https(s, None, trace)?
    };
    let endpoint = token_endpoint(s, &request.auth).await?;
    // One token for every path; behind a lock because each retry attempt below borrows it.
    let cache = tokio::sync::Mutex::new(TokenCache::default().with_dpop(dpop.clone()));
    let mut all_ok = true;
    let mut results = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let url = resource::api_url(&s.resource_server, path)?;
        out.step(&(i + 1).to_string(), &format!("{} {url}", args.method));
        // The resource server may still be starting: wait for it (connection refused only).
        let (response, source) = retry::until_up("the resource server", &url, s.wait, || async {
            let fetch = async || {
                token::request_token_with(&token_http, &endpoint, &request, dpop.as_deref()).await
            };
            let mut cache = cache.lock().await;
            resource::call_cached(
                &http,
                &s.resource_server,
                args.method.clone(),
                path,
                body.as_ref(),
                &mut cache,
                fetch,
            )
            .await
        })
        .await?;
        out.note(match source {
            TokenSource::Cached => "token: reused from the cache",
            TokenSource::Fetched => match (method, bind) {
                (AuthMethod::Tls, _) => "token: fetched (tls_client_auth)",
                (AuthMethod::Secret, Bind::Dpop) => "token: fetched (client_secret_basic with a DPoP proof: bound to the DPoP key, each call carries a proof)",
                (AuthMethod::Secret, _) => "token: fetched (client_secret_basic: not bound to the certificate)",
                (AuthMethod::PrivateKeyJwt, Bind::Dpop) => "token: fetched (private_key_jwt with a DPoP proof: bound to the DPoP key, each call carries a proof)",
                (AuthMethod::PrivateKeyJwt, _) => "token: fetched (private_key_jwt: not bound to the certificate)",
            },
            TokenSource::Refetched => "token: the server said invalid_token, so a new one was fetched and the call repeated once",
        });
        out.recv(&response.summary());
        all_ok &= (200..300).contains(&response.status);
        results.push(json!({"path": path, "token": source, "response": response}));
    }
    out.json(&json!(results));
    Ok(all_ok)
}
