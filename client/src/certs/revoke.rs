//! `client certs revoke NAME` and `client certs crl`: the CA's certificate revocation list,
//! `CA.crl.pem` beside `CA.pem` (one per issuing CA: a verifier that checks revocation,
//! rustls by default, wants the CRL of every CA in the chain, the root's included).
//!
//! Revoking reads the current list back, adds the certificate's serial number and signs the
//! next list; servers reading the file (`resource-server --crl`, nginx `ssl_crl`) see it
//! when they reload it. Nothing else changes: the certificate and its key stay where they are.

use std::path::{Path, PathBuf};

use playbook::pki::{CRL_VALID_DAYS, CrlState, PkiFile, Revoked, read_crl, write_files};
use playbook::x509::CertInfo;
use serde_json::json;

use super::issue::{check_name, load_ca};
use crate::error::ClientError;
use crate::output::Output;

/// `CA.crl.pem` in `dir`.
pub fn crl_path(dir: &Path, ca: &str) -> PathBuf {
    dir.join(format!("{ca}.crl.pem"))
}

/// The CRL `ca` has published so far (an empty one when there is none yet).
fn current(dir: &Path, ca: &str) -> Result<CrlState, ClientError> {
    let path = crl_path(dir, ca);
    match std::fs::read_to_string(&path) {
        Ok(pem) => read_crl(&pem).map_err(|e| ClientError::File {
            path,
            detail: format!("{e}: delete it and run `client certs crl --signed-by {ca}`"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CrlState::default()),
        Err(e) => Err(ClientError::File {
            path,
            detail: e.to_string(),
        }),
    }
}

/// Signs and writes `ca`'s CRL with `state`'s entries and the next number.
fn publish(
    dir: &Path,
    ca_name: &str,
    mut state: CrlState,
    out: &Output,
) -> Result<PathBuf, ClientError> {
    let ca = load_ca(dir, ca_name)?;
    state.number += 1;
    let pem = ca.crl(&state)?;
    let file = PkiFile::cert(
        format!("{ca_name}.crl.pem"),
        "certificate revocation list",
        pem,
    );
    let path = write_files(dir, &[file], true)?.remove(0);
    out.ok(&format!(
        "{}: CRL number {} of {}, {} revoked, current for {CRL_VALID_DAYS} days (nextUpdate); servers reading it reload it themselves (resource-server --crl) or on reload (nginx ssl_crl)",
        path.display(),
        state.number,
        dir.join(format!("{ca_name}.pem")).display(),
        state.revoked.len()
    ));
    Ok(path)
}

/// `client certs crl`: (re)publishes `ca`'s CRL with the same entries and a fresh
/// `nextUpdate`.
pub fn crl(dir: &Path, ca: &str, out: &Output) -> Result<PathBuf, ClientError> {
    let state = current(dir, ca)?;
    let path = publish(dir, ca, state.clone(), out)?;
    out.json(&json!({"crl": path, "revoked": state.revoked.len()}));
    Ok(path)
}

/// `client certs revoke NAME --signed-by CA`: `NAME.pem`'s serial number on `CA`'s CRL.
/// Refuses a certificate the CA did not sign (another CA, even one with the same DN).
pub fn revoke(dir: &Path, name: &str, ca_name: &str, out: &Output) -> Result<PathBuf, ClientError> {
    check_name("NAME", name)?;
    let ca = load_ca(dir, ca_name)?;
    let path = dir.join(format!("{name}.pem"));
    let der = playbook::pem::load_certs(&path)?.remove(0);
    let info = CertInfo::from_der(&der).map_err(|detail| ClientError::File {
        path: path.clone(),
        detail,
    })?;
    if !ca.signed(&der) {
        let ca_info = CertInfo::from_der(&ca.cert.cert_der).unwrap_or(info.clone());
        let why = if ca_info.subject == info.issuer {
            "the same DN, but its signature is not this CA's: another CA with the same name issued it"
        } else {
            "another issuer"
        };
        return Err(ClientError::File {
            path,
            detail: format!(
                "not issued by {} ({}; issuer {:?}, {why}): only its own CA can revoke it; name that CA with --signed-by",
                dir.join(format!("{ca_name}.pem")).display(),
                ca_info.subject,
                info.issuer
            ),
        });
    }
    let entry = Revoked::now(&der).ok_or_else(|| ClientError::File {
        path: path.clone(),
        detail: "not a readable certificate".into(),
    })?;
    let mut state = current(dir, ca_name)?;
    let already = state.revoked.iter().any(|r| r.serial == entry.serial);
    if already {
        out.note(&format!(
            "{} (serial {}) was already on the list",
            path.display(),
            info.serial
        ));
    } else {
        state.revoked.push(entry);
    }
    out.heading(&format!(
        "Revoked {} ({}, serial {})",
        path.display(),
        info.subject,
        info.serial
    ));
    let crl = publish(dir, ca_name, state, out)?;
    out.plain(
        "Who notices: a server that checks this CRL (resource-server --crl, nginx ssl_crl). Keycloak's X.509 client authentication does not check revocation by default (labs/10-a-stolen-key).",
    );
    out.json(&json!({"revoked": path, "serial": info.serial, "crl": crl, "already": already}));
    Ok(crl)
}
