//! Lab 10: a stolen key. Revocation, and who notices; then the other defence, certificates
//! that live minutes and are renewed automatically.
//!
//! `reset 10` issues `certs/lab10-stolen.pem` (the client's DN, from the dev CA: the
//! certificate whose key was stolen) and makes sure the dev CA has a CRL (`certs/ca.crl.pem`).
//! The attendee starts a second resource server with `--crl certs/ca.crl.pem` (on
//! [`names::LAB10_CRL_RESOURCE_SERVER_PORT`]), revokes the certificate
//! (`client certs revoke lab10-stolen`), asks the provider, the playground's resource server
//! (no CRL) and the one with the CRL, and writes what they answered to
//! `labs/work/lab10/observations.txt`, with what happens to a bound token when its
//! certificate expires. The checker measures the same things itself and compares. Then,
//! with `certs/lab10-short.pem` living minutes and `client certs renew lab10-short` running,
//! the checker calls the API through the renewals until the first certificate it saw has
//! expired: no call may fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use playbook::names;
use playbook::pki::{Validity, read_crl};
use playbook::x509::CertInfo;

use super::lab8::{OBSERVATIONS, observations, word_for_call, word_for_token};
use super::probe::{self, CallOutcome};
use super::{Check, Ctx, Lab, LabInfo};
use crate::error::ClientError;
use crate::settings::Settings;
use crate::token::DecodedJwt;

pub const INFO: LabInfo = LabInfo {
    number: 10,
    folder: "10-a-stolen-key",
    title: "A stolen key: revocation, and certificates that live minutes",
    minutes: 40,
    first_step: "start a resource server with --crl certs/ca.crl.pem on port 8444, then revoke certs/lab10-stolen.pem (client certs revoke lab10-stolen)",
};

pub const LAB: Lab = Lab {
    // Its checker calls the API until a short-lived certificate has expired (minutes).
    check_in_list: false,
    ..super::lab!()
};

/// The stolen certificate, in CERTS_DIR (`client certs revoke` works there).
const STOLEN: &str = "lab10-stolen";
/// The short-lived certificate the renewer keeps fresh, in CERTS_DIR.
const SHORT: &str = "lab10-short";
/// The checker's own certificate that expires within seconds, in `labs/work/lab10`.
const EXPIRING: &str = "expiring";
/// The renewer `solve 10` leaves running (its pid, its output).
const RENEWER_PID: &str = "renewer.pid";
const RENEWER_LOG: &str = "renewer.log";
const PATH: &str = "/api/whoami";
const INTERVAL: Duration = Duration::from_millis(200);
/// A certificate living longer than this is not "short-lived" for the lab.
const SHORT_MAX_SECS: i64 = 600;

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(default)
}

/// Seconds `solve 10`'s short-lived certificate lives (`LAB10_CERT_SECONDS`, default 120).
fn short_lifetime() -> u64 {
    env_secs("LAB10_CERT_SECONDS", 120)
}

/// Seconds the checker's expiring certificate lives (`LAB10_EXPIRING_SECS`, default 5).
fn expiring_lifetime() -> u64 {
    env_secs("LAB10_EXPIRING_SECS", 5)
}

/// How long the checker calls the API at most (`LAB10_WINDOW_SECS`, default 660).
fn window() -> Duration {
    Duration::from_secs(env_secs("LAB10_WINDOW_SECS", 660))
}

/// The resource server started with `--crl` (`LAB10_CRL_RESOURCE_SERVER_URL`, default
/// `https://localhost:8444`).
fn crl_resource_server() -> String {
    std::env::var("LAB10_CRL_RESOURCE_SERVER_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            format!(
                "https://localhost:{}",
                names::LAB10_CRL_RESOURCE_SERVER_PORT
            )
        })
}

fn certs_dir(ctx: &Ctx<'_>) -> PathBuf {
    ctx.s.ca.parent().unwrap_or(Path::new(".")).to_owned()
}

fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key.pem")),
    )
}

/// The observations of the task, each measured by the checker too.
const KEYS: [(&str, &str); 6] = [
    (
        "revoked.provider",
        "the provider answered the revoked certificate; Keycloak's X.509 client authentication checks no CRL",
    ),
    (
        "revoked.resource-server",
        "the playground's resource server runs without --crl",
    ),
    (
        "revoked.crl-resource-server",
        "the resource server with --crl rereads the file when it changes",
    ),
    (
        "expired.token-outlives-certificate",
        "compare the token's exp with the certificate's notAfter (client token --decode, client certs show)",
    ),
    (
        "expired.with-its-certificate",
        "the token is bound to a certificate no handshake accepts any more",
    ),
    (
        "expired.with-another-certificate",
        "a valid certificate, but not the one the token's cnf names",
    ),
];

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let certs = certs_dir(ctx);
    let mut checks = Vec::new();
    let (stolen, _) = pair(&certs, STOLEN);
    let info = match probe::cert_info(&stolen) {
        Ok((_, info)) => info,
        Err(e) => {
            checks.push(Check::fail(
                "the stolen certificate",
                stolen.display().to_string(),
                e,
                "client lab reset 10 issues it",
            ));
            return Ok(checks);
        }
    };
    checks.push(revoked_check(&certs, &info));
    let dir = ctx.dir(10)?;
    match observations(&dir)? {
        Err(missing) => checks.push(missing),
        Ok(seen) => match measure(ctx).await {
            Ok(measured) => {
                for ((key, hint), (_, value)) in KEYS.iter().zip(measured) {
                    let found = seen
                        .get(*key)
                        .cloned()
                        .unwrap_or_else(|| "(missing)".into());
                    checks.push(Check::expect(found == value, *key, value, found, *hint));
                }
            }
            Err(e) => checks.push(probe::unreachable("the observations", &e)),
        },
    }
    checks.extend(stream(ctx, &certs).await?);
    Ok(checks)
}

/// Whether `info` (the stolen certificate) is on the dev CA's CRL.
fn revoked_check(certs: &Path, info: &CertInfo) -> Check {
    let crl = certs.join("ca.crl.pem");
    let listed = std::fs::read_to_string(&crl)
        .map_err(|e| e.to_string())
        .and_then(|pem| read_crl(&pem).map_err(|e| e.to_string()))
        .map(|state| {
            state
                .revoked
                .iter()
                .any(|r| serial_text(&r.serial) == info.serial.to_ascii_lowercase())
        });
    Check::expect(
        listed == Ok(true),
        "lab10-stolen.pem is revoked",
        format!("its serial {} on {}", info.serial, crl.display()),
        match listed {
            Ok(true) => "on the list".to_owned(),
            Ok(false) => "not on the list".to_owned(),
            Err(e) => e,
        },
        "client certs revoke lab10-stolen",
    )
}

/// A serial number as `CertInfo` writes it (lower-case hex pairs joined by `:`).
fn serial_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The six answers of the task, measured now: the revoked certificate at the provider and
/// at both resource servers; then a certificate of the checker's own that expires within
/// seconds, its token before and after.
async fn measure(ctx: &Ctx<'_>) -> Result<Vec<(&'static str, String)>, ClientError> {
    let certs = certs_dir(ctx);
    let (cert, key) = pair(&certs, STOLEN);
    let stolen = probe::identity_unchecked(&cert, &key)?;
    let client_id = ctx.s.client_id.as_str();
    let token = probe::token(ctx, &stolen, client_id, None).await?;
    let bearer = token.token().map(|t| &t.access_token);
    let plain = probe::call(ctx, &stolen, PATH, bearer).await?;
    let with_crl = crl_call(ctx, &stolen, bearer).await?;
    let mut answers = vec![
        (KEYS[0].0, word_for_token(&token)),
        (KEYS[1].0, word_for_call(&plain)),
        (KEYS[2].0, word_for_call(&with_crl)),
    ];
    answers.extend(expiry(ctx).await?);
    Ok(answers)
}

/// `GET /api/whoami` on the resource server with `--crl`; unreachable is an error naming
/// how to start it.
async fn crl_call(
    ctx: &Ctx<'_>,
    identity: &playbook::Identity,
    token: Option<&crate::token::AccessToken>,
) -> Result<CallOutcome, ClientError> {
    let url = crl_resource_server();
    let s = Settings {
        resource_server: url.parse().map_err(|_| ClientError::Setting {
            name: "LAB10_CRL_RESOURCE_SERVER_URL",
            value: url.clone(),
            fix: "an https:// URL".into(),
        })?,
        ..ctx.s.clone()
    };
    let other = Ctx {
        s: &s,
        work: ctx.work.clone(),
        root: ctx.root.clone(),
        out: ctx.out,
        yes: ctx.yes,
    };
    probe::call(&other, identity, PATH, token)
        .await
        .map_err(|e| ClientError::Setting {
            name: "LAB10_CRL_RESOURCE_SERVER_URL",
            value: url,
            fix: format!(
                "{}; start it in another terminal: cargo run -q -p resource-server -- --port {} --crl certs/ca.crl.pem",
                playbook::report::error_chain(&e),
                names::LAB10_CRL_RESOURCE_SERVER_PORT
            ),
        })
}

/// A certificate of the checker's own living a few seconds: its token's `exp` against the
/// certificate's `notAfter`; once it has expired, the token with it and with `certs/client.pem`.
async fn expiry(ctx: &Ctx<'_>) -> Result<Vec<(&'static str, String)>, ClientError> {
    let dir = ctx.dir(10)?;
    let (cert, key) = pair(&dir, EXPIRING);
    let lifetime = time::Duration::seconds(i64::try_from(expiring_lifetime()).unwrap_or(5));
    let issued = ctx
        .dev_ca()?
        .issue_client(names::CLIENT_SUBJECT_DN, Validity::lasting(lifetime))?;
    super::write_file(&cert, issued.cert_pem.as_bytes(), false)?;
    super::write_file(&key, issued.key_pem.as_bytes(), true)?;
    let (_, info) =
        probe::cert_info(&cert).map_err(|e| super::io_error(&cert, std::io::Error::other(e)))?;
    let id = probe::identity_unchecked(&cert, &key)?;
    let outcome = probe::token(ctx, &id, ctx.s.client_id.as_str(), None).await?;
    let Some(token) = outcome.token() else {
        return Err(ClientError::Setting {
            name: "LAB 10",
            value: cert.display().to_string(),
            fix: format!(
                "the provider gave no token for a fresh certificate with the client's DN ({}); is the realm's client as imported (lab reset 2)?",
                outcome.describe()
            ),
        });
    };
    let exp = DecodedJwt::decode(&token.access_token)?.claims["exp"]
        .as_i64()
        .unwrap_or(0);
    let outlives = if exp > info.not_after.unix_timestamp() {
        "yes"
    } else {
        "no"
    };
    let left = (info.not_after - time::OffsetDateTime::now_utc()).whole_milliseconds();
    let wait = u64::try_from(left.max(0)).unwrap_or(0) + 1500;
    ctx.out.note(&format!(
        "waiting {:.1}s for {} to expire",
        wait as f64 / 1000.0,
        cert.display()
    ));
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let bearer = Some(&token.access_token);
    let own = probe::call(ctx, &id, PATH, bearer).await?;
    let valid = playbook::Identity::load(&ctx.s.cert, &ctx.s.key, None)?;
    let other = probe::call(ctx, &valid, PATH, bearer).await?;
    Ok(vec![
        (KEYS[3].0, outlives.to_owned()),
        (KEYS[4].0, word_for_call(&own)),
        (KEYS[5].0, word_for_call(&other)),
    ])
}

/// Calls through the renewals of `certs/lab10-short.pem` until the first certificate seen
/// has expired: no call may fail, and more than one certificate must have been presented.
async fn stream(ctx: &Ctx<'_>, certs: &Path) -> Result<Vec<Check>, ClientError> {
    let (cert, key) = pair(certs, SHORT);
    let hint = "client certs issue lab10-short --seconds 120, then keep client certs renew lab10-short --at 0.5 running beside";
    let first = match probe::cert_info(&cert) {
        Ok((_, info)) => info,
        Err(e) => {
            return Ok(vec![Check::fail(
                "the short-lived certificate",
                cert.display().to_string(),
                e,
                hint,
            )]);
        }
    };
    let life = (first.not_after - first.not_before).whole_seconds();
    let mut checks = vec![Check::expect(
        life <= SHORT_MAX_SECS,
        "lab10-short.pem lives minutes",
        format!("at most {SHORT_MAX_SECS} s from notBefore to notAfter"),
        format!("{life} s"),
        "client certs issue lab10-short --seconds 120 --force",
    )];
    if life > SHORT_MAX_SECS {
        return Ok(checks);
    }
    let mut client = match probe::rotating_mtls_client(ctx, cert.clone(), key).await? {
        Ok(client) => client,
        Err(check) => {
            checks.push(check);
            return Ok(checks);
        }
    };
    let until = first.not_after + time::Duration::seconds(2);
    ctx.out.note(&format!(
        "calling {PATH} every {}ms with {} until the certificate it holds now has expired ({}), renewed or not",
        INTERVAL.as_millis(),
        cert.display(),
        first.not_after
    ));
    let started = Instant::now();
    let (mut calls, mut failures) = (0u64, Vec::new());
    let mut presented = std::collections::BTreeSet::new();
    let mut last_report = Instant::now();
    while time::OffsetDateTime::now_utc() < until && started.elapsed() < window() {
        calls += 1;
        match client.get(&ctx.s.resource_server, PATH).await {
            Ok(call) if call.response.status == 200 => {
                presented.insert(call.presented);
            }
            Ok(call) => failures.push(
                call.response
                    .summary()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            ),
            Err(e) => failures.push(playbook::report::error_chain(&e)),
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            ctx.out.note(&format!(
                "{calls} calls, {} failed, {} certificates",
                failures.len(),
                presented.len()
            ));
            last_report = Instant::now();
        }
        tokio::time::sleep(INTERVAL).await;
    }
    let lived_past = time::OffsetDateTime::now_utc() >= until;
    checks.push(Check::expect(
        failures.is_empty() && lived_past,
        "calls through the renewals",
        format!("every call answered 200 until past {}", first.not_after),
        format!(
            "{calls} calls over {} s, {} failed{}{}",
            started.elapsed().as_secs(),
            failures.len(),
            failures.first().map(|f| format!(", the first: {f}")).unwrap_or_default(),
            if lived_past { "" } else { "; the window ended first (LAB10_WINDOW_SECS)" }
        ),
        "is the renewer running (client certs renew lab10-short --at 0.5)? It must replace the file before the certificate expires",
    ));
    checks.push(Check::expect(
        presented.len() >= 2,
        "renewed certificates presented",
        "at least 2 (the first, then its renewal)",
        presented.len().to_string(),
        hint,
    ));
    Ok(checks)
}

/// A new stolen certificate, the dev CA's CRL made if there is none, the short-lived
/// certificate removed (its key kept unless --yes), the observations set aside, and a
/// renewer `solve 10` left running stopped.
pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(10)?;
    stop_renewer(ctx, &dir)?;
    ctx.set_aside(10, &[OBSERVATIONS])?;
    let certs = certs_dir(ctx);
    let issued = ctx.dev_ca()?.issue_client(
        names::CLIENT_SUBJECT_DN,
        Validity::days_from_now(playbook::pki::DEFAULT_LEAF_DAYS),
    )?;
    let (cert, key) = pair(&certs, STOLEN);
    super::write_file(&cert, issued.cert_pem.as_bytes(), false)?;
    super::write_file(&key, issued.key_pem.as_bytes(), true)?;
    let (short, short_key) = pair(&certs, SHORT);
    super::remove_file(&short)?;
    if short_key.exists() {
        if ctx.yes {
            super::remove_file(&short_key)?;
        } else {
            ctx.out.note(&format!(
                "kept the key {} (reset --yes deletes it too)",
                short_key.display()
            ));
        }
    }
    if !certs.join("ca.crl.pem").exists() {
        crate::certs::revoke::crl(&certs, "ca", &crate::output::Output::quiet())?;
    }
    ctx.out.ok(&format!(
        "lab 10 reset: {} is a new certificate with the client's DN, not revoked; {} is the dev CA's CRL",
        cert.display(),
        certs.join("ca.crl.pem").display()
    ));
    Ok(())
}

/// Stops the renewer a `solve 10` started, if it still runs (its pid file names it, and its
/// command line must still be that renewer's).
fn stop_renewer(ctx: &Ctx<'_>, dir: &Path) -> Result<(), ClientError> {
    let file = dir.join(RENEWER_PID);
    let Some(text) = super::read_optional(&file)? else {
        return Ok(());
    };
    if let Ok(pid) = text.trim().parse::<u32>() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ours = String::from_utf8_lossy(&cmdline).contains(SHORT);
        if ours {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            ctx.out.note(&format!("stopped the renewer (pid {pid})"));
        }
    }
    super::remove_file(&file)
}

/// Revokes the stolen certificate, observes as the attendee would, writes the file, then
/// issues `lab10-short.pem` (`LAB10_CERT_SECONDS`) and leaves `client certs renew lab10-short
/// --at 0.5` running in the background (bounded: it stops by itself after 20 renewals;
/// `lab reset 10` stops it sooner).
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(10)?;
    let certs = certs_dir(ctx);
    let quiet = crate::output::Output::quiet();
    crate::certs::revoke::revoke(&certs, STOLEN, "ca", &quiet)?;
    let mut lines = "# lab 10 observations (client lab solve 10)\n".to_owned();
    for (key, value) in measure(ctx).await? {
        lines.push_str(&format!("{key}: {value}\n"));
    }
    super::write_file(&dir.join(OBSERVATIONS), lines.as_bytes(), false)?;

    stop_renewer(ctx, &dir)?;
    let signing = crate::certs::issue::Signing {
        signed_by: "ca".into(),
        days: 1,
        seconds: Some(u32::try_from(short_lifetime()).unwrap_or(120)),
        force: true,
    };
    crate::certs::issue::issue(
        &certs,
        SHORT,
        names::CLIENT_SUBJECT_DN,
        None,
        &signing,
        &quiet,
    )?;
    let exe = std::env::current_exe().map_err(|e| super::io_error(Path::new("client"), e))?;
    let log_path = dir.join(RENEWER_LOG);
    let log = std::fs::File::create(&log_path).map_err(|e| super::io_error(&log_path, e))?;
    let err = log.try_clone().map_err(|e| super::io_error(&log_path, e))?;
    let child = std::process::Command::new(&exe)
        .args(["certs", "renew", SHORT, "--at", "0.5", "--times", "20"])
        .env("CERTS_DIR", &certs)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| super::io_error(&exe, e))?;
    super::write_file(
        &dir.join(RENEWER_PID),
        child.id().to_string().as_bytes(),
        false,
    )?;
    ctx.out.ok(&format!(
        "lab 10 solved: lab10-stolen revoked, labs/work/lab10/observations.txt written, {} renewed at half its {} s by pid {} (log {})",
        certs.join(format!("{SHORT}.pem")).display(),
        short_lifetime(),
        child.id(),
        log_path.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_read_as_cert_info_writes_them() {
        assert_eq!(serial_text(&[0x0a, 0xff, 0x01]), "0a:ff:01");
    }
}
