//! Lab 12: switching the client between mTLS and DPoP, and why each refusal happens.
//!
//! The attendee calls the API with the certificate-bound token (`--bind mtls`), switches to
//! a DPoP-bound one (`--auth secret --bind dpop`) and back, then mixes them up on purpose with
//! curl, saving each answer (`labs/work/lab12/{bearer,wrong-scheme,no-proof}.txt`), and
//! writes in `why.txt` one line per refusal saying what the token is bound to. The checker
//! reads the saved answers (status and the RFC 9449 / RFC 6750 code), the explanations (each
//! must name the `cnf` member that decided), and makes the switch and the three refusals
//! itself against the live servers.

use std::sync::Arc;

use playbook::oauth::BearerError;
use playbook::rfc9449::DpopKey;

use super::{Check, Ctx, Lab, LabInfo, probe};
use crate::error::ClientError;
use crate::resource::{self, ApiResponse};
use crate::token::{self, AccessToken, AuthMethod, Bind};

pub const INFO: LabInfo = LabInfo {
    number: 12,
    folder: "12-mtls-and-dpop",
    title: "mTLS and DPoP: switch the binding, explain each refusal",
    minutes: 30,
    first_step: "cargo run -q -p client -- call /api/whoami, then the same with --auth secret --bind dpop",
};

pub const LAB: Lab = super::lab!();

const PATH: &str = "/api/whoami";
const WHY: &str = "why.txt";

/// How a refused request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mixup {
    /// The DPoP-bound token as `Authorization: Bearer`.
    DpopTokenAsBearer,
    /// The certificate-bound token as `Authorization: DPoP` (with a proof).
    MtlsTokenAsDpop,
    /// The DPoP-bound token as `Authorization: DPoP`, no `DPoP` header.
    NoProof,
}

/// One refusal the attendee provokes and saves, and what explains it.
struct Refusal {
    file: &'static str,
    what: &'static str,
    mixup: Mixup,
    code: BearerError,
    /// The `cnf` member the explanation in `why.txt` must name: what the token is bound to.
    bound_to: &'static str,
    hint: &'static str,
}

const REFUSALS: [Refusal; 3] = [
    Refusal {
        file: "bearer.txt",
        what: "the DPoP-bound token sent as a bearer token",
        mixup: Mixup::DpopTokenAsBearer,
        code: BearerError::InvalidToken,
        bound_to: "cnf.jkt",
        hint: "ACCESS_TOKEN=$(cargo run -q -p client -- token --auth secret --bind dpop --raw), then curl -i with -H \"Authorization: Bearer $ACCESS_TOKEN\"",
    },
    Refusal {
        file: "wrong-scheme.txt",
        what: "the certificate-bound token sent with Authorization: DPoP",
        mixup: Mixup::MtlsTokenAsDpop,
        code: BearerError::InvalidToken,
        bound_to: "x5t#S256",
        hint: "ACCESS_TOKEN=$(cargo run -q -p client -- token --raw), then curl -i with -H \"Authorization: DPoP $ACCESS_TOKEN\"",
    },
    Refusal {
        file: "no-proof.txt",
        what: "the DPoP-bound token sent as DPoP without a DPoP header",
        mixup: Mixup::NoProof,
        code: BearerError::InvalidDpopProof,
        bound_to: "cnf.jkt",
        hint: "the DPoP-bound token with -H \"Authorization: DPoP $ACCESS_TOKEN\" and no DPoP header",
    },
];

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(12)?;
    let mut checks = Vec::new();
    for r in &REFUSALS {
        let what = format!("{} saved", r.what);
        match super::read_optional(&dir.join(r.file))? {
            None => checks.push(Check::fail(
                what,
                format!("curl -i's answer in {}", dir.join(r.file).display()),
                "no such file",
                r.hint,
            )),
            Some(text) => checks.push(saved_check(r, &what, &text)),
        }
    }
    let why = super::read_optional(&dir.join(WHY))?.unwrap_or_default();
    for r in &REFUSALS {
        checks.push(why_check(r, &why));
    }
    match live(ctx).await {
        Ok(found) => checks.extend(found),
        Err(e) => checks.push(probe::unreachable("the switch and the refusals, live", &e)),
    }
    Ok(checks)
}

/// The saved answer: 401 with the expected code, from `WWW-Authenticate` (else the body).
fn saved_check(r: &Refusal, what: &str, text: &str) -> Check {
    let answer = probe::SavedAnswer::parse(text);
    let code = answer.field("error").map(|c| BearerError::parse(&c));
    let scheme = answer
        .challenge
        .as_deref()
        .and_then(|c| c.split_whitespace().next())
        .unwrap_or("(no WWW-Authenticate)");
    let ok = answer.status() == Some("401") && code.as_ref() == Some(&r.code);
    let status = &answer.status_line;
    Check::expect(
        ok,
        what,
        format!("401 {}", r.code),
        format!(
            "{status}; {}; challenge scheme {scheme}",
            code.map_or_else(|| "no error code".to_owned(), |c| c.to_string())
        ),
        r.hint,
    )
}

/// `why.txt`'s line for `r` names what the token is bound to.
fn why_check(r: &Refusal, why: &str) -> Check {
    let line = why.lines().find(|l| l.contains(r.file));
    let what = format!("why {} was refused", r.file);
    let expected = format!(
        "a line in {WHY} naming {} and what the token is bound to",
        r.file
    );
    match line {
        None => Check::fail(
            what,
            expected,
            "no line names it",
            format!(
                "start the line with {}: and read the token's cnf claim (client token --decode)",
                r.file
            ),
        ),
        Some(l) => Check::expect(
            l.contains(r.bound_to),
            what,
            expected,
            format!("{:?}", l.trim()),
            "which cnf member does the token carry (client token --decode, with and without --bind dpop), and what does the request fail to prove about it?",
        ),
    }
}

/// Tokens of both kinds, from the live provider: certificate-bound (the mTLS client) and
/// DPoP-bound (the DPoP client, with `key`).
struct Tokens {
    mtls: AccessToken,
    dpop: AccessToken,
    key: Arc<DpopKey>,
}

async fn tokens(ctx: &Ctx<'_>) -> Result<Tokens, ClientError> {
    let own = probe::identity_unchecked(&ctx.s.cert, &ctx.s.key)?;
    let endpoint = probe::token_endpoint(ctx).await?;
    let request = ctx.s.token_request_bound(AuthMethod::Tls, Bind::Mtls);
    let mtls = token::request_token(&probe::https(ctx, Some(&own))?, &endpoint, &request).await?;
    let key =
        Arc::new(DpopKey::generate().map_err(|e| ClientError::Jwt(format!("a DPoP key: {e}")))?);
    let request = ctx.s.token_request_bound(AuthMethod::Secret, Bind::Dpop);
    let dpop =
        token::request_token_with(&probe::https(ctx, None)?, &endpoint, &request, Some(&key))
            .await?;
    Ok(Tokens {
        mtls: mtls.access_token,
        dpop: dpop.access_token,
        key,
    })
}

/// The request of `mixup` (over a connection with the client's certificate).
async fn mixup(ctx: &Ctx<'_>, t: &Tokens, mixup: Mixup) -> Result<ApiResponse, ClientError> {
    let own = probe::identity_unchecked(&ctx.s.cert, &ctx.s.key)?;
    let http = probe::https(ctx, Some(&own))?;
    let base = &ctx.s.resource_server;
    let get = reqwest::Method::GET;
    let url = resource::api_url(base, PATH)?;
    let now = token::unix_now();
    match mixup {
        Mixup::DpopTokenAsBearer => resource::call(&http, base, get, PATH, &t.dpop, None).await,
        Mixup::MtlsTokenAsDpop => {
            let proof = t.key.proof("GET", url.as_str(), Some(t.mtls.secret()), now);
            resource::call_with_proof(&http, base, get, PATH, &t.mtls, None, Some(&proof)).await
        }
        Mixup::NoProof => {
            let request = http.get(url.clone()).header(
                reqwest::header::AUTHORIZATION,
                format!("{} {}", playbook::rfc9449::SCHEME, t.dpop.secret()),
            );
            let reply = crate::http::send_json(&http, request, &url).await?;
            Ok(ApiResponse {
                status: reply.status.as_u16(),
                www_authenticate: reply.header(reqwest::header::WWW_AUTHENTICATE),
                body: reply.json,
            })
        }
    }
}

/// The switch (mTLS, DPoP, mTLS again: each served) and the three refusals, live.
async fn live(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let t = tokens(ctx).await?;
    let own = probe::identity_unchecked(&ctx.s.cert, &ctx.s.key)?;
    let http = probe::https(ctx, Some(&own))?;
    let base = &ctx.s.resource_server;
    let mut served = Vec::new();
    for (token, key) in [(&t.mtls, None), (&t.dpop, Some(&*t.key)), (&t.mtls, None)] {
        let r =
            resource::call_with(&http, base, reqwest::Method::GET, PATH, token, None, key).await?;
        served.push(r.status.to_string());
    }
    let mut checks = vec![Check::expect(
        served.iter().all(|s| s == "200"),
        "the switch, live: mTLS, DPoP, mTLS again",
        "200 each time",
        served.join(", "),
        "are both servers running (./start.sh --lab 12)?",
    )];
    for r in &REFUSALS {
        let answer = mixup(ctx, &t, r.mixup).await?;
        checks.push(Check::expect(
            answer.status == 401 && answer.error_code().as_ref() == Some(&r.code),
            format!("{}, live", r.what),
            format!("401 {}", r.code),
            format!(
                "{} {}",
                answer.status,
                answer
                    .error_code()
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            ),
            "is the resource server running with its default checks (./start.sh --lab 12)?",
        ));
    }
    Ok(checks)
}

pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let mut files: Vec<&str> = REFUSALS.iter().map(|r| r.file).collect();
    files.push(WHY);
    ctx.set_aside(12, &files)?;
    ctx.out
        .ok("lab 12 reset: labs/work/lab12/ holds no saved answer and no why.txt");
    Ok(())
}

/// `labs/12-mtls-and-dpop/solution/solve.sh` with a token of each kind.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let t = tokens(ctx).await?;
    super::run_solution(
        ctx,
        12,
        "solve.sh",
        &[
            ("MTLS_TOKEN", t.mtls.secret()),
            ("DPOP_TOKEN", t.dpop.secret()),
        ],
    )?;
    ctx.out
        .ok("lab 12 solved: labs/work/lab12/ holds the three answers and why.txt");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_answer_is_read_from_its_challenge_or_its_body() {
        let r = &REFUSALS[2];
        let answer = "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: DPoP realm=\"r\", \
                      error=\"invalid_dpop_proof\", error_description=\"x\"\r\n\r\n";
        assert!(saved_check(r, "w", answer).passed);
        // The other code: not this refusal.
        assert!(!saved_check(&REFUSALS[0], "w", answer).passed);
        let body = "HTTP/2 401\r\n\r\n{\"error\":\"invalid_dpop_proof\"}";
        assert!(saved_check(r, "w", body).passed);
        assert!(!saved_check(r, "w", "HTTP/2 200\r\n\r\n{}").passed);
    }

    #[test]
    fn an_explanation_names_what_the_token_is_bound_to() {
        let why = "bearer.txt: the token carries cnf.jkt, and a bearer request proves no key\n\
                   wrong-scheme.txt: bound to the certificate (cnf.x5t#S256), no jkt\n";
        assert!(why_check(&REFUSALS[0], why).passed);
        assert!(why_check(&REFUSALS[1], why).passed);
        assert!(
            !why_check(&REFUSALS[2], why).passed,
            "no line for no-proof.txt"
        );
        let swapped = "bearer.txt: x5t#S256\nwrong-scheme.txt: cnf.jkt\n";
        assert!(!why_check(&REFUSALS[0], swapped).passed);
        assert!(!why_check(&REFUSALS[1], swapped).passed);
    }
}
