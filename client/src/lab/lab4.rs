//! Lab 4: certificate-bound tokens (RFC 8705 §3).
//!
//! The attendee computes `x5t#S256` of `certs/client.pem` by hand with openssl
//! (`labs/work/lab4/x5t.txt`) and replays a token issued to `client.pem` over a connection
//! with `other-client.pem`, saving curl's answer (`labs/work/lab4/replay.txt`). The checker
//! compares the thumbprint, reads the refusal in the saved answer, and replays a token
//! itself to see the server still refuses.

use playbook::oauth::BearerError;
use playbook::x509::Purpose;

use super::probe::CallOutcome;
use super::{Check, Ctx, Lab, LabInfo, probe};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 4,
    folder: "04-bound-tokens",
    title: "Certificate-bound tokens: replay, and x5t#S256 by hand",
    minutes: 25,
    first_step: "get a token: ACCESS_TOKEN=$(cargo run -q -p client -- token --raw)",
};

pub const LAB: Lab = super::lab!();

const X5T: &str = "x5t.txt";
const REPLAY: &str = "replay.txt";

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(4)?;
    let mut checks = Vec::new();
    let thumbprint = probe::cert_info(&ctx.s.cert)
        .map_err(|e| ClientError::Setting {
            name: "CLIENT_CERT",
            value: ctx.s.cert.display().to_string(),
            fix: e,
        })?
        .1
        .x5t_s256;

    match super::read_optional(&dir.join(X5T))? {
        None => checks.push(Check::fail(
            "x5t#S256 computed by hand",
            format!(
                "the thumbprint of {} in {}",
                ctx.s.cert.display(),
                dir.join(X5T).display()
            ),
            "no such file",
            "DER of the certificate → SHA-256 (binary) → base64url without padding",
        )),
        Some(text) => {
            let value = text.trim();
            let hint = if value.contains(['+', '/', '=']) {
                "that looks like plain base64: RFC 8705 uses base64url (- and _ instead of + and /) without = padding"
            } else if value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()) {
                "that looks like hex: encode the binary digest (openssl dgst -binary) in base64url"
            } else {
                "hash the DER form (openssl x509 -outform DER), not the PEM text"
            };
            checks.push(Check::expect(
                value == thumbprint,
                "x5t#S256 computed by hand",
                format!("the thumbprint of {}", ctx.s.cert.display()),
                format!("{value:?}"),
                hint,
            ));
        }
    }

    match super::read_optional(&dir.join(REPLAY))? {
        None => checks.push(Check::fail(
            "replay observed",
            format!("curl -i's answer in {}", dir.join(REPLAY).display()),
            "no such file",
            "curl -i … > labs/work/lab4/replay.txt keeps the status line and the headers",
        )),
        Some(text) => checks.push(replay_check(&text, &thumbprint)),
    }

    // The server itself: a token bound to client.pem, presented with other-client.pem.
    let live = async {
        let own = probe::identity_unchecked(&ctx.s.cert, &ctx.s.key)?;
        let other =
            playbook::Identity::load(&ctx.s.other_cert, &ctx.s.other_key, Some(Purpose::Client))?;
        let outcome = probe::token(ctx, &own, ctx.s.client_id.as_str(), None).await?;
        let Some(token) = outcome.token() else {
            return Ok::<_, ClientError>((false, format!("no token: {}", outcome.describe())));
        };
        let call = probe::call(ctx, &other, "/api/whoami", Some(&token.access_token)).await?;
        let refused = matches!(&call, CallOutcome::Answered(r) if r.is_invalid_token());
        Ok((refused, call.describe()))
    };
    match live.await {
        Ok((refused, found)) => checks.push(Check::expect(
            refused,
            "the resource server refuses the replay",
            "401 invalid_token",
            found,
            "is the resource server running with its default checks (./start.sh --lab 4)?",
        )),
        Err(e) => checks.push(probe::unreachable(
            "the resource server refuses the replay",
            &e,
        )),
    }
    Ok(checks)
}

/// The saved answer shows a 401 `invalid_token` naming the token's binding (client.pem's
/// thumbprint) and another presented certificate: read from its `WWW-Authenticate` header
/// (else its JSON body) with the parsers the client and the resource server share.
fn replay_check(text: &str, thumbprint: &str) -> Check {
    let answer = probe::SavedAnswer::parse(text);
    let status = answer.status_line.as_str();
    let code = answer.field("error").map(|c| BearerError::parse(&c));
    let (bound, presented) = answer
        .field("error_description")
        .as_deref()
        .and_then(playbook::rfc8705::parse_mismatch)
        .unzip();
    let ok = answer.status() == Some("401")
        && code == Some(BearerError::InvalidToken)
        && bound.as_deref() == Some(thumbprint)
        && presented.as_deref().is_some_and(|p| p != thumbprint);
    let found = match (&bound, &presented) {
        (Some(b), Some(p)) => format!("{status}; token bound to {b}, connection presented {p}"),
        _ => format!("{status}; no binding mismatch in the answer"),
    };
    Check::expect(
        ok,
        "replay observed",
        "401 invalid_token: a token bound to client.pem, presented with another certificate",
        found,
        if bound.as_deref().is_some_and(|b| b != thumbprint) {
            "the token must come from client.pem (client token --raw), the call must present other-client.pem"
        } else {
            "present other-client.pem with curl (--cert/--key) and the token of client.pem; save curl -i's output"
        },
    )
}

pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    ctx.set_aside(4, &[X5T, REPLAY])?;
    ctx.out
        .ok("lab 4 reset: labs/work/lab4/ holds no thumbprint and no replay");
    Ok(())
}

/// `labs/04-bound-tokens/solution/solve.sh` with a fresh token of client.pem.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let own = probe::identity_unchecked(&ctx.s.cert, &ctx.s.key)?;
    let outcome = probe::token(ctx, &own, ctx.s.client_id.as_str(), None).await?;
    let token = outcome.token().ok_or_else(|| ClientError::Setting {
        name: "CLIENT_CERT",
        value: ctx.s.cert.display().to_string(),
        fix: format!("no token with it: {}", outcome.describe()),
    })?;
    super::run_solution(
        ctx,
        4,
        "solve.sh",
        &[("ACCESS_TOKEN", token.access_token.secret())],
    )?;
    ctx.out
        .ok("lab 4 solved: labs/work/lab4/x5t.txt and replay.txt");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "oEnP28TNfwAQoEnP28TNfwAQoEnP28TNfwAQoEnP28T";

    /// The answer as curl -i saves it: the challenge exactly as the resource server writes it.
    fn answer(status: &str, bound: &str, presented: &str) -> String {
        let why = playbook::rfc8705::mismatch_description(bound, presented);
        let challenge = playbook::oauth::bearer_challenge(
            "oauth2-playbook",
            Some((&BearerError::InvalidToken, &why)),
            None,
        );
        format!("HTTP/1.1 {status}\r\nwww-authenticate: {challenge}\r\n\r\n")
    }

    #[test]
    fn a_replay_is_a_401_naming_our_binding_and_another_certificate() {
        assert!(replay_check(&answer("401 Unauthorized", OURS, "other-x5t"), OURS).passed);
        // The token presented with its own certificate: no replay.
        assert!(!replay_check(&answer("401 Unauthorized", OURS, OURS), OURS).passed);
        // A token of another certificate.
        let c = replay_check(&answer("401 Unauthorized", "someone-else", "x"), OURS);
        assert!(!c.passed && c.hint.contains("client.pem"), "{c:?}");
        assert!(!replay_check("HTTP/2 200\r\n\r\n{}", OURS).passed);
        // Without the header, the JSON body says the same.
        let why = playbook::rfc8705::mismatch_description(OURS, "other-x5t");
        let body = serde_json::json!({"error": "invalid_token", "error_description": why});
        assert!(replay_check(&format!("HTTP/2 401\r\n\r\n{body}"), OURS).passed);
    }
}
