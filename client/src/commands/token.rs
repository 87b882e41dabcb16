//! `client token`: one client-credentials grant (RFC 6749 §4.4) with RFC 8705 §2.1
//! `tls_client_auth` (the certificate in the handshake, no secret) or, with `--auth secret`,
//! `client_secret_basic` (RFC 6749 §2.3.1) for contrast; `--decode` shows the JWT and
//! compares its `cnf.x5t#S256` with the certificate (RFC 8705 §3.1). `--raw` prints the
//! token alone and `--json` the token response whole, both for programs.

use serde_json::json;

use playbook::https::Recorder;

use super::{identity, token_endpoint, traced_https, write_trace};
use crate::cli::TokenArgs;
use crate::error::ClientError;
use crate::output::{Output, pretty};
use crate::settings::Settings;
use crate::token::{self, ClientAuth, CurlTls, DecodedJwt};

pub(super) async fn run(s: &Settings, args: &TokenArgs, out: &Output) -> Result<bool, ClientError> {
    let Some(path) = &args.html else {
        return request(s, args, out, None).await;
    };
    let recorder = Recorder::new();
    let result = request(s, args, out, Some(&recorder)).await;
    let what = format!(
        "a client-credentials token ({})",
        s.token_request(args.auth.method()).auth.method_name()
    );
    write_trace(
        s,
        out,
        path,
        &recorder,
        "client token",
        &args.auth,
        &what,
        &result,
    )?;
    result
}

/// The command; its HTTPS connections recorded into `trace` when given.
async fn request(
    s: &Settings,
    args: &TokenArgs,
    out: &Output,
    trace: Option<&Recorder>,
) -> Result<bool, ClientError> {
    // --raw: the token alone on stdout, for `ACCESS_TOKEN=$(client token --raw)`.
    let quiet = Output::quiet();
    let out = if args.raw { &quiet } else { out };
    let method = args.auth.method();
    let bind = args.auth.bind()?;
    let request = s.token_request_bound(method, bind);
    // --bind dpop: a key for this run only; the token printed is of use only with it, so
    // this shows what the provider answers (token_type DPoP, cnf.jkt) more than it serves.
    let dpop = match bind {
        token::Bind::Dpop => Some(
            playbook::rfc9449::DpopKey::generate()
                .map_err(|e| ClientError::Jwt(format!("cannot make a DPoP key: {e}")))?,
        ),
        token::Bind::Mtls | token::Bind::None => None,
    };
    let id = if method.presents_certificate() {
        Some(identity(s)?)
    } else {
        None
    };
    let endpoint = token_endpoint(s, &request.auth).await?;
    let http = traced_https(s, id.as_ref(), trace)?;
    out.step(
        "1",
        &format!("client credentials ({})", request.auth.method_name()),
    );
    out.send(&format!(
        "POST {endpoint}\n{}{}",
        request.form_body(),
        match (&request.auth, &id) {
            (ClientAuth::SecretBasic(_), _) =>
                "\nAuthorization: Basic [client_id:client_secret, redacted]".to_owned(),
            (ClientAuth::PrivateKeyJwt(c), _) => format!(
                "&client_assertion=[a JWT signed with {}, made for this request: iss = sub = {}, aud = {}, a minute's lifetime, a new jti]",
                c.key_file.display(),
                request.client_id,
                c.audience
            ),
            (_, Some(i)) => format!("\n(TLS client certificate: {})", i.cert_path.display()),
            _ => String::new(),
        }
    ));
    let curl_tls = CurlTls {
        ca: s.ca.clone(),
        cert: id.as_ref().map(|_| (s.cert.clone(), s.key.clone())),
    };
    out.curl(&request.curl(&endpoint, &curl_tls, out.show_secrets()));
    if let Some(key) = &dpop {
        out.note(&format!(
            "DPoP: a proof signed with a new P-256 key (jkt {}) in the DPoP header (RFC 9449 §4)",
            key.jkt()
        ));
    }
    let response = match token::request_token_with(&http, &endpoint, &request, dpop.as_ref()).await
    {
        Ok(r) => r,
        Err(ClientError::OAuth { error, url }) => {
            out.recv(&format!(
                "{} {}",
                error.status,
                json!({"error": error.error, "error_description": error.error_description})
            ));
            return Err(ClientError::OAuth { error, url });
        }
        Err(e) => return Err(e),
    };
    if args.raw {
        println!("{}", response.access_token.secret());
        return Ok(true);
    }
    out.recv(&format!("200 OK\n{}", pretty(&out.redacted(&response.raw))));
    // The --json document is for programs: the token response whole (the narration above
    // shortens it), so `client token --json | jq -r .access_token` gives a usable token.
    let mut doc = response.raw.clone();
    if args.decode {
        let jwt = DecodedJwt::decode(&response.access_token)?;
        out.step(
            "2",
            "the access token, decoded (signature not verified here)",
        );
        out.plain(&format!("header: {}", pretty(&jwt.header)));
        out.plain(&format!("claims: {}", pretty(&jwt.claims)));
        let binding = id.as_ref().map(|i| jwt.binding(&i.x5t_s256()));
        // A cnf of another method (RFC 9449 DPoP's jkt, …) is no x5t#S256 binding, and the
        // resource server refuses it: say so rather than "not bound".
        let other_method = jwt
            .confirmation()
            .filter(|c| !c.unverifiable().is_empty())
            .and_then(|c| c.refusal());
        let jkt = jwt.confirmation().and_then(|c| c.jkt);
        if let Some(jkt) = &jkt {
            match &dpop {
                Some(key) if key.jkt() == jkt => out.ok(&format!(
                    "cnf.jkt {jkt} is this run's DPoP key (RFC 9449 DPoP-bound token: only with \
                     a proof of that key)"
                )),
                _ => out.fail(&format!("cnf.jkt {jkt} is not this run's DPoP key")),
            }
        }
        if let Some(why) = &other_method {
            out.fail(why);
        } else if jkt.is_some() && matches!(binding, Some(token::Binding::Unbound) | None) {
            // DPoP-bound only: said above.
        } else {
            match &binding {
                Some(token::Binding::Matches { x5t_s256 }) => out.ok(&format!(
                    "cnf.x5t#S256 {x5t_s256} matches {} (RFC 8705 certificate-bound token)",
                    s.cert.display()
                )),
                Some(token::Binding::Differs {
                    token,
                    presented: ours,
                }) => out.fail(&format!(
                    "cnf.x5t#S256 {token} does NOT match {} ({ours})",
                    s.cert.display()
                )),
                Some(token::Binding::NoCertificate { token }) => out.fail(&format!(
                    "cnf.x5t#S256 {token}, and no certificate to compare it with"
                )),
                Some(token::Binding::Unbound) => {
                    out.warn("no cnf claim: the token is not bound to the certificate")
                }
                None => out
                    .note("no certificate was used, so the token is a plain bearer token (no cnf)"),
            }
        }
        if let Some(obj) = doc.as_object_mut() {
            obj.insert(
                "decoded".into(),
                serde_json::to_value(&jwt).unwrap_or_default(),
            );
            if let Some(b) = binding {
                obj.insert(
                    "cnf_check".into(),
                    serde_json::to_value(b).unwrap_or_default(),
                );
            }
        }
    }
    out.json(&doc);
    Ok(true)
}
