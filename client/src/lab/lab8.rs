//! Lab 8: a certificate that expires in a minute (RFC 5280 §4.1.2.5).
//!
//! `reset 8` issues `labs/work/lab8/short.pem` (the client's DN, from the dev CA) valid for
//! `LAB8_CERT_SECONDS` (60 by default). The attendee asks the provider, the resource server
//! and the client about it before and after it expires, and writes what they saw to
//! `labs/work/lab8/observations.txt`. The checker measures the "after" part itself and
//! compares; the "before" part is compared with the known outcome, and the token's
//! `cnf.x5t#S256` recorded proves it was seen.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use playbook::names;
use playbook::pki::Validity;
use playbook::x509::Purpose;

use super::probe::{self, CallOutcome, TokenOutcome};
use super::{Check, Ctx, Lab, LabInfo};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 8,
    folder: "08-expiry",
    title: "Expiry: a certificate that lasts a minute",
    minutes: 20,
    first_step: "look at labs/work/lab8/short.pem (certs show) and note when it expires",
};

pub const LAB: Lab = super::lab!();

const CERT: &str = "short.pem";
const KEY: &str = "short.key.pem";
pub(super) const OBSERVATIONS: &str = "observations.txt";
/// The observations and what may be written for each (first = the embedded provider's).
const BEFORE: [(&str, &str); 2] = [
    ("before.provider", "200"),
    ("before.resource-server", "200"),
];

/// Seconds the lab's certificate lives (`LAB8_CERT_SECONDS`, default 60).
fn lifetime() -> i64 {
    std::env::var("LAB8_CERT_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60)
}

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(8)?;
    let mut checks = Vec::new();
    let (_, info) = match probe::cert_info(&dir.join(CERT)) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail(
                "the lab's certificate",
                "labs/work/lab8/short.pem",
                e,
                "client lab reset 8 issues it",
            ));
            return Ok(checks);
        }
    };
    let left = info.remaining().whole_seconds();
    checks.push(Check::expect(
        left < 0,
        "short.pem has expired",
        "its notAfter in the past",
        if left < 0 {
            format!("expired {}s ago", -left)
        } else {
            format!("expires in {left}s")
        },
        "do the 'before' observations now, then wait for the 'after' ones",
    ));
    let seen = match observations(&dir)? {
        Ok(seen) => seen,
        Err(missing) => {
            checks.push(missing);
            return Ok(checks);
        }
    };
    let field = |k: &str| seen.get(k).cloned().unwrap_or_else(|| "(missing)".into());
    for (key, want) in BEFORE {
        checks.push(Check::expect(
            field(key) == want,
            key,
            want,
            field(key),
            "while the certificate is valid it is an ordinary client certificate",
        ));
    }
    checks.push(Check::expect(
        field("before.cnf") == info.x5t_s256,
        "before.cnf",
        "the cnf.x5t#S256 of the token you got with short.pem",
        field("before.cnf"),
        "decode the token (client token --decode) while the certificate is valid",
    ));
    if left >= 0 {
        return Ok(checks);
    }
    let measured = match measure_after(ctx, &dir).await {
        Ok(m) => m,
        Err(e) => {
            checks.push(probe::unreachable("the 'after' observations", &e));
            return Ok(checks);
        }
    };
    for (key, value) in measured {
        checks.push(Check::expect(
            field(key) == value,
            key,
            value.clone(),
            field(key),
            "ask again now that it has expired; the README lists the words to use",
        ));
    }
    Ok(checks)
}

/// The attendee's `observations.txt` in `dir`, [`parse`]d; `Err` is the failed check saying it
/// is missing or empty (labs 8 and 10).
pub(super) fn observations(
    dir: &Path,
) -> Result<Result<BTreeMap<String, String>, Check>, ClientError> {
    let path = dir.join(OBSERVATIONS);
    let seen = parse(&super::read_optional(&path)?.unwrap_or_default());
    if seen.is_empty() {
        return Ok(Err(Check::fail(
            "observations",
            format!("key: value lines in {}", path.display()),
            "no such file, or no lines",
            "the README lists the keys and the words to use",
        )));
    }
    Ok(Ok(seen))
}

/// `key: value` lines; `#` starts a comment; keys and values lower-cased (lab 10 reads its
/// observations the same way).
pub(super) fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("").trim();
            let (k, v) = l.split_once(':')?;
            let v = v.trim();
            Some((
                k.trim().to_ascii_lowercase(),
                if v.len() == 43 {
                    v.to_owned()
                } else {
                    v.to_ascii_lowercase()
                },
            ))
        })
        .collect()
}

pub(super) fn word_for_token(o: &TokenOutcome) -> String {
    match o {
        TokenOutcome::Issued(_) => "200".into(),
        TokenOutcome::Refused(e) => e.status.to_string(),
        TokenOutcome::TlsRefused(_) => "tls-refused".into(),
    }
}

pub(super) fn word_for_call(o: &CallOutcome) -> String {
    match o {
        CallOutcome::Answered(r) => r.status.to_string(),
        CallOutcome::TlsRefused(_) => "tls-refused".into(),
    }
}

/// What the three say about the expired certificate now.
async fn measure_after(
    ctx: &Ctx<'_>,
    dir: &Path,
) -> Result<Vec<(&'static str, String)>, ClientError> {
    let (cert, key) = (dir.join(CERT), dir.join(KEY));
    let client = match playbook::Identity::load(&cert, &key, Some(Purpose::Client)) {
        Ok(_) => "accepted",
        Err(_) => "refused",
    };
    let id = probe::identity_unchecked(&cert, &key)?;
    let provider = probe::token(ctx, &id, ctx.s.client_id.as_str(), None).await?;
    let rs = probe::call(ctx, &id, "/api/whoami", None).await?;
    Ok(vec![
        ("after.provider", word_for_token(&provider)),
        ("after.resource-server", word_for_call(&rs)),
        ("after.client", client.into()),
    ])
}

/// A fresh `short.pem` (the lab's own key, replaced), and the observations set aside.
pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(8)?;
    ctx.set_aside(8, &[OBSERVATIONS])?;
    issue(ctx, &dir)?;
    ctx.out.ok(&format!(
        "lab 8 reset: labs/work/lab8/short.pem expires in {}s",
        lifetime()
    ));
    Ok(())
}

fn issue(ctx: &Ctx<'_>, dir: &Path) -> Result<(), ClientError> {
    let ca = ctx.dev_ca()?;
    let now = time::OffsetDateTime::now_utc();
    let validity = Validity {
        not_before: now - time::Duration::minutes(1),
        not_after: now + time::Duration::seconds(lifetime()),
    };
    let issued = ca.issue_client(names::CLIENT_SUBJECT_DN, validity)?;
    super::write_file(&dir.join(CERT), issued.cert_pem.as_bytes(), false)?;
    super::write_file(&dir.join(KEY), issued.key_pem.as_bytes(), true)
}

/// Observes as the attendee would: before (a new certificate if the old one has expired),
/// waits for the expiry, observes after, writes the file.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(8)?;
    let valid =
        probe::cert_info(&dir.join(CERT)).is_ok_and(|(_, i)| i.remaining().whole_seconds() > 1);
    if !valid {
        issue(ctx, &dir)?;
    }
    let id = probe::identity_unchecked(&dir.join(CERT), &dir.join(KEY))?;
    let provider = probe::token(ctx, &id, ctx.s.client_id.as_str(), None).await?;
    let rs = probe::call(
        ctx,
        &id,
        "/api/whoami",
        provider.token().map(|t| &t.access_token),
    )
    .await?;
    let mut lines = format!(
        "# lab 8 observations (client lab solve 8)\nbefore.provider: {}\nbefore.cnf: {}\nbefore.resource-server: {}\n",
        word_for_token(&provider),
        provider.cnf().unwrap_or_default(),
        word_for_call(&rs)
    );
    let left = probe::cert_info(&dir.join(CERT))
        .map(|(_, i)| i.remaining().whole_seconds())
        .unwrap_or(0);
    ctx.out
        .note(&format!("waiting {}s for short.pem to expire", left + 2));
    tokio::time::sleep(Duration::from_secs(u64::try_from(left + 2).unwrap_or(0))).await;
    for (key, value) in measure_after(ctx, &dir).await? {
        lines.push_str(&format!("{key}: {value}\n"));
    }
    super::write_file(&dir.join(OBSERVATIONS), lines.as_bytes(), false)?;
    ctx.out.ok("lab 8 solved: labs/work/lab8/observations.txt");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_are_key_value_lines_with_comments() {
        let seen = parse(
            "# before\nbefore.provider: 200  # a token\nAFTER.Client: Refused\nbefore.cnf: oEnP28TNfwAQoEnP28TNfwAQoEnP28TNfwAQoEnP28T\nnot a line\n",
        );
        assert_eq!(seen["before.provider"], "200");
        assert_eq!(seen["after.client"], "refused");
        // A thumbprint keeps its case.
        assert_eq!(
            seen["before.cnf"],
            "oEnP28TNfwAQoEnP28TNfwAQoEnP28TNfwAQoEnP28T"
        );
        assert_eq!(seen.len(), 3);
    }
}
