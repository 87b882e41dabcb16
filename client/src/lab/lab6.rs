//! Lab 6: client-certificate rotation without downtime.
//!
//! The "deployed" client certificate is `labs/work/lab6/client.pem` + `client.key.pem`
//! (`reset 6` copies `certs/client.pem` there). While the checker drives a steady stream
//! of calls with [`crate::rotation::RotatingClient`] reading those files, the attendee
//! issues a new certificate with the same DN and puts it in their place. The checker wants
//! zero failed calls, and every call after the switch made with the new certificate and a
//! token bound to it.

use std::time::{Duration, Instant};

use playbook::names;

use super::{Check, Ctx, Lab, LabInfo, probe};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 6,
    folder: "06-certificate-rotation",
    title: "Client-certificate rotation without downtime",
    minutes: 30,
    first_step: "issue a new certificate with the same DN as labs/work/lab6/new.pem (as in lab 1); then start the stream: cargo run -q -p client -- lab check 6",
};

pub const LAB: Lab = Lab {
    prepare,
    // Its checker streams calls until the attendee switches certificates.
    check_in_list: false,
    ..super::lab!()
};

const CERT: &str = "client.pem";
const KEY: &str = "client.key.pem";
const NEW: [&str; 3] = ["new.key.pem", "new.csr.pem", "new.pem"];
const PATH: &str = "/api/whoami";
const INTERVAL: Duration = Duration::from_millis(100);
/// Calls keep going this long after the switch is seen.
const AFTER: Duration = Duration::from_secs(3);

/// How long the checker waits for the switch (`LAB6_WINDOW_SECS`, default 120).
fn window() -> Duration {
    Duration::from_secs(
        std::env::var("LAB6_WINDOW_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(120),
    )
}

/// What the stream saw.
#[derive(Debug, Default)]
struct Stream {
    calls: usize,
    failures: Vec<String>,
    /// Calls made after the files held the new certificate: (presented, token bound to).
    after: Vec<(String, Option<String>)>,
    new_thumbprint: Option<String>,
}

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(6)?;
    let (cert, key) = (dir.join(CERT), dir.join(KEY));
    let mut checks = Vec::new();
    let (_, old) = match probe::cert_info(&cert) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail(
                "the deployed certificate",
                cert.display().to_string(),
                e,
                "client lab reset 6 deploys certs/client.pem there",
            ));
            return Ok(checks);
        }
    };
    let mut client = match probe::rotating_mtls_client(ctx, cert.clone(), key.clone()).await? {
        Ok(client) => client,
        Err(check) => {
            checks.push(check);
            return Ok(checks);
        }
    };
    ctx.out.note(&format!(
        "calling {PATH} every {}ms with {} (x5t#S256 {}); switch it to a new certificate now (waiting up to {}s)",
        INTERVAL.as_millis(),
        cert.display(),
        old.x5t_s256,
        window().as_secs()
    ));
    let mut stream = Stream::default();
    let start = Instant::now();
    let mut switched_at: Option<Instant> = None;
    let mut last_report = Instant::now();
    loop {
        // Switched once the files hold a complete new pair (a new certificate beside the
        // old key is a switch still in progress).
        let deployed = playbook::Identity::load(&cert, &key, Some(playbook::x509::Purpose::Client))
            .ok()
            .map(|id| id.x5t_s256());
        let new_deployed = deployed.as_ref().filter(|t| **t != old.x5t_s256).cloned();
        let result = client.get(&ctx.s.resource_server, PATH).await;
        stream.calls += 1;
        match &result {
            Ok(call) if call.response.status == 200 => {}
            Ok(call) => stream.failures.push(
                call.response
                    .summary()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            ),
            Err(e) => stream.failures.push(playbook::report::error_chain(e)),
        }
        if let Some(new) = new_deployed {
            // The files held the new pair before this call: it must have used it.
            if let Ok(call) = &result {
                stream
                    .after
                    .push((call.presented.clone(), call.token_bound_to.clone()));
            }
            stream.new_thumbprint.get_or_insert(new);
            switched_at.get_or_insert_with(Instant::now);
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            ctx.out.note(&format!(
                "{} calls, {} failed",
                stream.calls,
                stream.failures.len()
            ));
            last_report = Instant::now();
        }
        match switched_at {
            Some(at) if at.elapsed() >= AFTER => break,
            None if start.elapsed() >= window() => break,
            _ => {}
        }
        tokio::time::sleep(INTERVAL).await;
    }
    let Some(new) = stream.new_thumbprint.clone() else {
        checks.push(Check::fail(
            "the switch",
            format!("a new certificate in {} during the stream", cert.display()),
            format!("still {} after {}s ({} calls, {} failed)", old.x5t_s256, window().as_secs(), stream.calls, stream.failures.len()),
            "issue the new certificate first (as in lab 1), then put it and its key in place while this runs",
        ));
        return Ok(checks);
    };
    checks.push(Check::pass(
        "the switch",
        format!("{} → {new}", old.x5t_s256),
    ));
    let (_, info) = probe::cert_info(&cert).map_err(|e| ClientError::Setting {
        name: "LAB6",
        value: cert.display().to_string(),
        fix: e,
    })?;
    checks.push(Check::expect(
        info.subject == names::CLIENT_SUBJECT_DN,
        "the new certificate's subject DN",
        names::CLIENT_SUBJECT_DN,
        info.subject.clone(),
        "same client, same DN: the realm matches the DN, not the certificate",
    ));
    checks.push(Check::expect(
        stream.failures.is_empty(),
        "no failed call during the switch",
        format!("{} of {} calls answered 200", stream.calls, stream.calls),
        format!(
            "{} failed{}",
            stream.failures.len(),
            stream.failures.first().map(|f| format!(", the first: {f}")).unwrap_or_default()
        ),
        "a client that reads a half-written pair (new certificate, old key) fails: write each file to a temporary name and rename it into place, key first",
    ));
    let stale: Vec<_> = stream
        .after
        .iter()
        .filter(|(presented, bound)| *presented != new || bound.as_deref() != Some(new.as_str()))
        .collect();
    checks.push(Check::expect(
        !stream.after.is_empty() && stale.is_empty(),
        "every call after the switch: the new certificate and a token bound to it",
        format!("{} calls presenting {new} with tokens bound to it", stream.after.len()),
        match stale.first() {
            Some((p, b)) => format!("{} of {} calls did not (presented {p}, token bound to {b:?})", stale.len(), stream.after.len()),
            None => format!("{} calls, all bound to the new certificate", stream.after.len()),
        },
        "the checker's client switches when the files change; a new key with the old certificate (or the reverse) is not a pair",
    ));
    Ok(checks)
}

/// Deploys `certs/client.pem` (and its key) as the lab's certificate. A deployed key that
/// is not `certs/client.key.pem` is the attendee's: replaced only with `--yes`.
pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(6)?;
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| super::io_error(p, e));
    let stock_key = read(&ctx.s.key)?;
    if let Some(deployed) = super::read_optional(&dir.join(KEY))?
        && deployed.as_bytes() != stock_key.as_slice()
        && !ctx.yes
    {
        return Err(ClientError::Setting {
            name: "LAB 6",
            value: dir.join(KEY).display().to_string(),
            fix: "holds a key you made; client lab reset 6 --yes replaces it (and deletes new.key.pem)".into(),
        });
    }
    ctx.remove(6, &NEW[1..], &NEW[..1])?;
    deploy_stock(ctx, &dir)?;
    ctx.out
        .ok("lab 6 reset: labs/work/lab6/client.pem is certs/client.pem again");
    Ok(())
}

/// Offline, before the servers start: deploys `certs/client.pem` unless a certificate is
/// deployed already.
pub fn prepare(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(6)?;
    if !dir.join(CERT).exists() {
        deploy_stock(ctx, &dir)?;
    }
    Ok(())
}

/// `certs/client.pem` and its key, copied in as the deployed pair.
fn deploy_stock(ctx: &Ctx<'_>, dir: &std::path::Path) -> Result<(), ClientError> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| super::io_error(p, e));
    super::write_file(&dir.join(KEY), &read(&ctx.s.key)?, true)?;
    super::write_file(&dir.join(CERT), &read(&ctx.s.cert)?, false)
}

/// Issues the new certificate with openssl (as lab 1), then renames key and certificate
/// into place; run it while `client lab check 6` streams.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(6)?;
    let certs = ctx
        .s
        .ca
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_owned();
    // The new key is made fresh: a rotation that keeps the old key is no rotation.
    super::remove_file(&dir.join(NEW[0]))?;
    super::lab1::issue_with_openssl(
        &dir,
        &certs,
        "/O=OAuth2 Playbook/CN=oauth2-playbook-client-credentials-mtls",
        NEW[0],
        NEW[1],
        NEW[2],
    )?;
    // rename(2) replaces each file in one step; a reader sees the old file or the new one.
    for (from, to) in [(NEW[0], KEY), (NEW[2], CERT)] {
        let tmp = dir.join(format!(".{to}.new"));
        std::fs::copy(dir.join(from), &tmp).map_err(|e| super::io_error(&tmp, e))?;
        std::fs::rename(&tmp, dir.join(to)).map_err(|e| super::io_error(&tmp, e))?;
    }
    ctx.out
        .ok("lab 6 solved: a new certificate with the same DN is deployed in labs/work/lab6/");
    Ok(())
}
