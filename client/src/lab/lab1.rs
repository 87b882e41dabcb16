//! Lab 1: your own client certificate with openssl (RFC 8705 §2.1, RFC 5280).
//!
//! The attendee makes `labs/work/lab1/client.key.pem`, a CSR, and `client.pem` signed by
//! the dev CA with the DN the realm expects and the clientAuth EKU. The checker verifies
//! the CSR's subject and the certificate offline (chain, DN, EKU, key) against the realm
//! file's `x509.subjectdn`, then gets a token with it and compares the token's
//! `cnf.x5t#S256` with the certificate's thumbprint.

use playbook::names;
use playbook::x509::Purpose;

use super::probe::{self, TokenOutcome};
use super::{Check, Ctx, Lab, LabInfo};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 1,
    folder: "01-client-certificate",
    title: "Your own client certificate with openssl",
    minutes: 30,
    first_step: "make a private key: openssl genpkey … -out labs/work/lab1/client.key.pem",
};

pub const LAB: Lab = super::lab!();

pub const KEY: &str = "client.key.pem";
pub const CSR: &str = "client.csr.pem";
pub const CERT: &str = "client.pem";

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(1)?;
    let (key, cert) = (dir.join(KEY), dir.join(CERT));
    let mut checks = Vec::new();
    let shown = |p: &std::path::Path| p.display().to_string();

    if !key.exists() {
        checks.push(Check::fail(
            "private key",
            format!("a PEM private key in {}", shown(&key)),
            "no such file",
            "step 1: openssl genpkey writes a private key; -out names the file",
        ));
    } else {
        checks.push(key_mode_check(&key));
    }
    let expected_dn = realm_subject_dn(ctx);
    let expected =
        format!("{expected_dn:?} (RFC 2253, the realm's x509.subjectdn for this client)");
    match probe::csr_subject(&dir.join(CSR)) {
        Err(e) => checks.push(Check::fail(
            "certificate signing request",
            format!("a CSR in {}", shown(&dir.join(CSR))),
            e,
            "step 2: openssl req -new makes a CSR from your key",
        )),
        Ok(subject) => checks.push(Check::expect(
            subject == expected_dn,
            "CSR subject DN",
            expected.clone(),
            format!("{subject:?}"),
            format!("{SUBJECT_HINT}; the certificate takes its subject from the CSR: make the CSR again (openssl req -subj …), then sign it again"),
        )),
    }
    let (leaf, info) = match probe::cert_info(&cert) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail(
                "certificate",
                format!("a PEM certificate in {}", shown(&cert)),
                e,
                "step 3: openssl x509 -req signs the CSR with the dev CA (certs/ca.pem, certs/ca.key.pem)",
            ));
            return Ok(checks);
        }
    };
    checks.push(Check::expect(
        info.subject == expected_dn,
        "subject DN",
        expected,
        format!("{:?}", info.subject),
        SUBJECT_HINT,
    ));
    checks.push(Check::expect(
        info.extended_key_usage.iter().any(|e| e == "clientAuth"),
        "extended key usage",
        "clientAuth",
        if info.extended_key_usage.is_empty() {
            "no extendedKeyUsage extension".to_owned()
        } else {
            info.extended_key_usage.join(", ")
        },
        "the extension comes from an -extfile given to openssl x509 -req (extendedKeyUsage = …)",
    ));
    checks.push(Check::expect(
        !info.is_ca,
        "not a CA",
        "basicConstraints CA:FALSE or absent",
        if info.is_ca { "CA:TRUE" } else { "not a CA" },
        "a client certificate must not be able to sign other certificates",
    ));
    let roots = playbook::pem::load_ca_certs(&ctx.s.ca)?;
    match probe::verify_client_chain(&roots, &leaf) {
        Ok(()) => checks.push(Check::pass(
            "chains to the dev CA",
            format!(
                "issued by {:?}, signature and validity verified",
                info.issuer
            ),
        )),
        Err(e) => {
            let (found, hint) = if is_version_1(&leaf) {
                (
                    "a version 1 certificate (no extensions at all)".to_owned(),
                    "openssl x509 -req makes a v3 certificate only when given extensions (-extfile)",
                )
            } else {
                (
                    e,
                    "sign with -CA certs/ca.pem -CAkey certs/ca.key.pem, not -signkey (that would self-sign)",
                )
            };
            checks.push(Check::fail(
                "chains to the dev CA",
                format!("a TLS client certificate signed by {}", ctx.s.ca.display()),
                found,
                hint,
            ));
            // The key and token checks would only repeat this failure in other words.
            return Ok(checks);
        }
    }
    let identity = match playbook::Identity::load(&cert, &key, Some(Purpose::Client)) {
        Ok(id) => {
            checks.push(Check::pass("key matches the certificate", shown(&key)));
            id
        }
        Err(e) => {
            checks.push(Check::fail(
                "key matches the certificate",
                format!("{} holds the public half of {}", shown(&cert), shown(&key)),
                e.to_string(),
                "make the CSR from this key (openssl req -key …), then sign that CSR",
            ));
            return Ok(checks);
        }
    };
    let outcome = match probe::token(ctx, &identity, ctx.s.client_id.as_str(), None).await {
        Ok(o) => o,
        Err(e) => {
            checks.push(probe::unreachable("token with your certificate", &e));
            return Ok(checks);
        }
    };
    checks.push(Check::expect(
        matches!(outcome, TokenOutcome::Issued(_)),
        "token with your certificate",
        "200 with an access token (tls_client_auth)",
        outcome.describe(),
        "the provider's log says why it refused (target/start-logs/oauth2-provider.log)",
    ));
    if outcome.token().is_some() {
        let thumbprint = identity.x5t_s256();
        let cnf = outcome.cnf().unwrap_or_else(|| "(no cnf claim)".into());
        checks.push(Check::expect(
            cnf == thumbprint,
            "token bound to your certificate",
            format!("cnf.x5t#S256 = {thumbprint} (SHA-256 of your certificate)"),
            format!("cnf.x5t#S256 = {cnf}"),
            "RFC 8705 §3.1: the provider binds the token to the certificate of the TLS connection",
        ));
    }
    Ok(checks)
}

const SUBJECT_HINT: &str = "openssl -subj lists RDNs from the least specific (/O=…) to the most specific (/CN=…); values are case-sensitive";

/// The DN the realm expects of the client's certificate: the client's `x509.subjectdn` in
/// the realm file the servers import, as Keycloak compares it in exact mode (RFC 2253,
/// `playbook::dn::normalize`); the playground's own DN if the file cannot be read.
fn realm_subject_dn(ctx: &Ctx<'_>) -> String {
    let client_id = ctx.s.client_id.as_str();
    ctx.stock_realm()
        .ok()
        .and_then(|realm| {
            let clients = realm["clients"].as_array()?;
            let client = clients.iter().find(|c| c["clientId"] == client_id)?;
            client["attributes"]["x509.subjectdn"]
                .as_str()
                .map(str::to_owned)
        })
        .and_then(|dn| playbook::dn::normalize(&dn).ok())
        .unwrap_or_else(|| names::CLIENT_SUBJECT_DN.to_owned())
}

/// Private keys are readable by their owner only (mode 0600).
pub fn key_mode_check(key: &std::path::Path) -> Check {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(key)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    Check::expect(
        mode & 0o077 == 0,
        "private key readable by you only",
        "mode 0600",
        format!("mode {mode:04o}"),
        "chmod 600 the key file",
    )
}

pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    ctx.remove(1, &[CSR, CERT, "client.ext"], &[KEY])?;
    ctx.out
        .ok("lab 1 reset: your certificate and CSR removed from labs/work/lab1/");
    Ok(())
}

/// The commands of SOLUTION.md: an EC P-256 key, a CSR with the realm's DN, signed by the
/// dev CA with the clientAuth EKU.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(1)?;
    let certs = &ctx
        .s
        .ca
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_owned();
    issue_with_openssl(
        &dir,
        certs,
        "/O=OAuth2 Playbook/CN=oauth2-playbook-client-credentials-mtls",
        KEY,
        CSR,
        CERT,
    )?;
    ctx.out
        .ok("lab 1 solved: labs/work/lab1/client.pem signed by the dev CA");
    Ok(())
}

/// `openssl genpkey` (unless the key exists), `req -new`, `x509 -req` with the clientAuth
/// EKU, signed by `certs/ca.pem` + `ca.key.pem`; the key gets mode 0600.
pub fn issue_with_openssl(
    dir: &std::path::Path,
    certs: &std::path::Path,
    subject: &str,
    key: &str,
    csr: &str,
    cert: &str,
) -> Result<(), ClientError> {
    openssl_key(dir, key)?;
    super::run(
        "openssl",
        &["req", "-new", "-key", key, "-subj", subject, "-out", csr],
        dir,
    )?;
    let ext = dir.join("client.ext");
    super::write_file(
        &ext,
        b"basicConstraints = CA:FALSE\nkeyUsage = digitalSignature\nextendedKeyUsage = clientAuth\n",
        false,
    )?;
    let ca = std::path::absolute(certs.join("ca.pem")).map_err(|e| super::io_error(certs, e))?;
    let ca_key =
        std::path::absolute(certs.join("ca.key.pem")).map_err(|e| super::io_error(certs, e))?;
    let (ca, ca_key) = (ca.display().to_string(), ca_key.display().to_string());
    super::run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-set_serial",
            &format!("0x{:016x}", rand_serial()),
            "-days",
            "7",
            "-extfile",
            "client.ext",
            "-out",
            cert,
        ],
        dir,
    )?;
    Ok(())
}

/// `openssl genpkey` (EC P-256) into `dir/key` unless it exists; mode 0600 either way.
pub fn openssl_key(dir: &std::path::Path, key: &str) -> Result<(), ClientError> {
    use std::os::unix::fs::PermissionsExt as _;
    let key_path = dir.join(key);
    if !key_path.exists() {
        super::run(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                key,
            ],
            dir,
        )?;
    }
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| super::io_error(&key_path, e))
}

/// A serial that differs between runs (openssl's -CAcreateserial would write a file next
/// to the CA).
fn rand_serial() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos ^ (u64::from(std::process::id()) << 32) | 1
}

/// A v1 certificate (X.509 version 1: no extensions at all), which the TLS verifiers refuse.
fn is_version_1(der: &[u8]) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate, X509Version};
    X509Certificate::from_der(der).is_ok_and(|(_, c)| c.version() == X509Version::V1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;

    /// `openssl x509 -req -in c.csr -signkey k.pem` (no -extfile): a version 1 certificate.
    const V1: &str = "-----BEGIN CERTIFICATE-----
MIIBFDCBuwIUX0bxWjL1GYWh13MG6u9bk56VpiowCgYIKoZIzj0EAwIwDTELMAkG
A1UEAwwCdjEwHhcNMjYxMjAyMDQyNzM2WhcNMjYxMjAzMDQyNzM2WjANMQswCQYD
VQQDDAJ2MTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMp/bO+jcJIBwOPzPqNM
WbcPkQgot0T7DsO9O9gO/A0G+rmGrkEswDP+yHwgN/Azyz/vhsQ6jCzMOuSpoe/f
kWowCgYIKoZIzj0EAwIDSAAwRQIhAOuvvc3IiWyeQCDvS/sNiLMUGAvbYDW3AKic
5KJAlwt3AiAQ3X1Lw/YQZvnmZKyjmQdf0ANSyBQxY56GOw4AmoSTOg==
-----END CERTIFICATE-----";

    #[test]
    fn a_version_1_certificate_is_recognised_from_the_certificate_not_an_error_text() {
        let v1 = CertificateDer::from_pem_slice(V1.as_bytes()).unwrap();
        assert!(is_version_1(&v1));
        let pki = playbook::pki::DevPki::generate(1, 1).unwrap();
        assert!(!is_version_1(&pki.client.cert_der));
    }
}
