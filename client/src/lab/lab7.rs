//! Lab 7: a self-signed client certificate, no CA (the server trusts the certificate
//! itself).
//!
//! The lab adds a client `oauth2-playbook-lab7-self-signed` to the realm (through the admin
//! API, and in the realm copy `labs/work/lab7/realm.json` the embedded provider imports).
//! The attendee makes a self-signed certificate with that client's DN, trusts it by putting
//! it in `labs/work/lab7/truststore.pem` (the provider's `--truststore-paths`), restarts the
//! provider, gets a token; then removes it from the trust, restarts, and sees the handshake
//! refused. The checker runs twice: it records the token it saw (`labs/work/lab7/.progress`)
//! and passes once the refusal follows.

use super::probe::{self, TokenOutcome};
use super::{Check, Ctx, Lab, LabInfo};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 7,
    folder: "07-self-signed",
    title: "A self-signed client certificate, no CA",
    minutes: 30,
    first_step: "make a self-signed certificate with openssl req -x509 (README step 1)",
};

pub const LAB: Lab = Lab {
    prepare,
    ..super::lab!()
};

pub const CLIENT_ID: &str = "oauth2-playbook-lab7-self-signed";
pub const SUBJECT_DN: &str = "CN=oauth2-playbook-lab7-self-signed,O=OAuth2 Playbook";
const CERT: &str = "self-signed.pem";
const KEY: &str = "self-signed.key.pem";
pub const TRUSTSTORE: &str = "truststore.pem";
const PROGRESS: &str = ".progress";

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(7)?;
    let mut checks = Vec::new();
    let (leaf, info) = match probe::cert_info(&dir.join(CERT)) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail(
                "the self-signed certificate",
                dir.join(CERT).display().to_string(),
                e,
                "openssl req -x509 makes a self-signed certificate in one step",
            ));
            return Ok(checks);
        }
    };
    checks.push(Check::expect(
        info.subject == SUBJECT_DN,
        "subject DN",
        SUBJECT_DN,
        info.subject.clone(),
        "the lab's client expects this DN (its x509.subjectdn)",
    ));
    let self_signed = probe::verify_client_chain(std::slice::from_ref(&leaf), &leaf);
    checks.push(Check::expect(
        info.issuer == info.subject && self_signed.is_ok() && !info.is_ca,
        "self-signed, not a CA, for TLS clients",
        "issuer = subject, signed by its own key, CA:FALSE, extendedKeyUsage clientAuth",
        match &self_signed {
            Ok(()) => format!(
                "issuer {:?}, CA: {}, EKU {:?}",
                info.issuer, info.is_ca, info.extended_key_usage
            ),
            Err(e) => e.clone(),
        },
        "openssl req -x509 with -addext for basicConstraints and extendedKeyUsage",
    ));
    let roots = playbook::pem::load_ca_certs(&ctx.s.ca)?;
    checks.push(Check::expect(
        probe::verify_client_chain(&roots, &leaf).is_err(),
        "not from the dev CA",
        "a certificate no CA signed",
        "checked",
        "this lab is about trusting one certificate, not a CA",
    ));
    let id = probe::identity_unchecked(&dir.join(CERT), &dir.join(KEY))?;
    let outcome = match probe::token(ctx, &id, CLIENT_ID, None).await {
        Ok(o) => o,
        Err(e) => {
            checks.push(probe::unreachable(
                "token with the self-signed certificate",
                &e,
            ));
            return Ok(checks);
        }
    };
    let progress_path = dir.join(PROGRESS);
    let seen = super::read_optional(&progress_path)?.is_some_and(|p| p.trim() == info.x5t_s256);
    match &outcome {
        TokenOutcome::Issued(_) => {
            let bound = outcome.cnf().as_deref() == Some(info.x5t_s256.as_str());
            if bound {
                super::write_file(&progress_path, info.x5t_s256.as_bytes(), false)?;
            }
            checks.push(Check::expect(
                bound,
                "a token while it is trusted",
                "200 and cnf.x5t#S256 = the certificate's thumbprint",
                format!(
                    "200, cnf.x5t#S256 {}",
                    outcome.cnf().unwrap_or_else(|| "(none)".into())
                ),
                "",
            ));
            checks.push(Check::fail(
                "refused once removed from the trust",
                "the TLS handshake refused after you take it out of the provider's trust",
                "still trusted: 200",
                "remove labs/work/lab7/truststore.pem, restart the provider (./start.sh --lab 7), check again",
            ));
        }
        other => {
            checks.push(Check::expect(
                seen,
                "a token while it is trusted",
                "a token, seen by an earlier check while the certificate was trusted",
                if seen { "seen earlier".to_owned() } else { other.describe() },
                "trust the certificate itself (labs/work/lab7/truststore.pem), restart the provider, check",
            ));
            let refused = matches!(other, TokenOutcome::TlsRefused(_));
            checks.push(Check::expect(
                seen && refused,
                "refused once removed from the trust",
                "the TLS handshake refused",
                other.describe(),
                if refused {
                    "first get a token while it is trusted"
                } else {
                    "401 means the TLS layer accepted it: is it still in the truststore? is the realm's lab client there (client lab reset 7)?"
                },
            ));
        }
    }
    Ok(checks)
}

/// The lab's client, as the admin API creates it and as the realm copy lists it. Its
/// `x509.casubjectdn` is blank: there is no CA (Keycloak logs that this is deprecated).
fn client_rep() -> serde_json::Value {
    super::x509_client(
        CLIENT_ID,
        &[
            ("x509.subjectdn", SUBJECT_DN),
            ("x509.allow.regex.pattern.comparison", "false"),
        ],
    )
}

/// The stock realm plus the lab's client and its service-account user.
fn write_realm_copy(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    ctx.write_realm_copy_with(7, &[client_rep()])
}

/// Offline, before the servers start: the realm copy, if missing.
pub fn prepare(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    if !ctx.dir(7)?.join("realm.json").exists() {
        write_realm_copy(ctx)?;
    }
    Ok(())
}

pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    write_realm_copy(ctx)?;
    ctx.set_aside(7, &[CERT, TRUSTSTORE])?;
    ctx.remove(7, &[PROGRESS], &[KEY])?;
    let api = probe::bootstrap_admin(ctx).await?;
    let created = api.ensure_client(&client_rep()).await?;
    ctx.out.ok(&format!(
        "lab 7 reset: the realm has the client {CLIENT_ID}{}; no certificate trusted. Restart the provider (./start.sh --lab 7) if it trusted one",
        if created { " (created now)" } else { "" }
    ));
    Ok(())
}

/// One step of the reference solution per run, as the restarts in between need: first the
/// certificate and the trust, then (after a check saw the token) the trust removed.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(7)?;
    let cert = dir.join(CERT);
    let thumbprint = probe::cert_info(&cert).ok().map(|(_, i)| i.x5t_s256);
    let seen = super::read_optional(&dir.join(PROGRESS))?.map(|p| p.trim().to_owned());
    if thumbprint.is_some() && seen == thumbprint {
        super::remove_file(&dir.join(TRUSTSTORE))?;
        ctx.out.ok("lab 7, step 2: labs/work/lab7/truststore.pem removed; restart the provider (./start.sh --lab 7), then client lab check 7");
        return Ok(());
    }
    if thumbprint.is_none() {
        super::lab1::openssl_key(&dir, KEY)?;
        super::run(
            "openssl",
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                KEY,
                "-subj",
                "/O=OAuth2 Playbook/CN=oauth2-playbook-lab7-self-signed",
                "-days",
                "7",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "keyUsage=digitalSignature",
                "-addext",
                "extendedKeyUsage=clientAuth",
                "-out",
                CERT,
            ],
            &dir,
        )?;
    }
    let pem = std::fs::read(&cert).map_err(|e| super::io_error(&cert, e))?;
    super::write_file(&dir.join(TRUSTSTORE), &pem, false)?;
    ctx.out.ok("lab 7, step 1: labs/work/lab7/self-signed.pem, trusted in truststore.pem; restart the provider (./start.sh --lab 7), client lab check 7, then client lab solve 7 again");
    Ok(())
}
