//! `client certs renew NAME`: a new certificate for the same key and subject from the same
//! CA, replacing `NAME.pem` atomically (a reader sees the old file or the new one, never
//! half of one). Once, or again and again: `--every SECONDS`, or `--at FRACTION` of each
//! certificate's lifetime (`step ca renew --daemon` renews at 2/3). The key is kept unless
//! `--new-key` asks for a new one: a renewal never overwrites a key unasked.
//!
//! Short lifetimes are the alternative to revocation: a stolen key is worth nothing once
//! its certificate expires, and a certificate that lives minutes expires soon.

use std::path::Path;
use std::time::Duration;

use playbook::pki::{PkiFile, Validity, write_files};
use playbook::x509::CertInfo;
use serde_json::json;

use super::issue::{check_name, load_ca};
use crate::error::ClientError;
use crate::output::Output;

/// When to renew.
#[derive(Debug, Clone, Copy)]
pub enum Schedule {
    /// Now, once.
    Once,
    /// Every so often, counted from the last renewal.
    Every(Duration),
    /// When this fraction of the current certificate's lifetime has passed.
    At(f64),
}

/// `client certs renew`: renews `name` (signed by `ca_name`) on `schedule`, `times` times
/// at most (`None`: until stopped); returns how many renewals were made.
pub fn renew(
    dir: &Path,
    name: &str,
    ca_name: &str,
    schedule: Schedule,
    times: Option<u64>,
    new_key: bool,
    out: &Output,
) -> Result<u64, ClientError> {
    check_name("NAME", name)?;
    if let Schedule::At(f) = schedule
        && !(f > 0.0 && f < 1.0)
    {
        return Err(ClientError::Setting {
            name: "--at",
            value: f.to_string(),
            fix: "give a fraction of the lifetime between 0 and 1, e.g. 0.66".into(),
        });
    }
    let ca = load_ca(dir, ca_name)?;
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key.pem"));
    let mut renewed = 0;
    loop {
        let old = playbook::pem::load_certs(&cert_path)?.remove(0);
        let info = CertInfo::from_der(&old).map_err(|detail| ClientError::File {
            path: cert_path.clone(),
            detail,
        })?;
        if renewed == 0 && !ca.signed(&old) {
            return Err(ClientError::File {
                path: cert_path,
                detail: format!(
                    "not issued by {} (its issuer is {:?}): renew it with its own CA, --signed-by",
                    dir.join(format!("{ca_name}.pem")).display(),
                    info.issuer
                ),
            });
        }
        let lifetime = info.not_after - info.not_before;
        let wait = match schedule {
            Schedule::Once => Duration::ZERO,
            Schedule::Every(d) => d,
            Schedule::At(f) => {
                let due = info.not_before + lifetime * f;
                (due - time::OffsetDateTime::now_utc())
                    .try_into()
                    .unwrap_or(Duration::ZERO)
            }
        };
        std::thread::sleep(wait);
        let key_pem = if new_key {
            ca.key_type
                .generate()
                .map_err(playbook::pki::PkiError::from)?
                .serialize_pem()
        } else {
            std::fs::read_to_string(&key_path).map_err(|e| ClientError::File {
                path: key_path.clone(),
                detail: format!("{e}: renewal keeps the key; --new-key makes a new one"),
            })?
        };
        let issued = ca.reissue(&old, &key_pem, Validity::lasting(lifetime))?;
        // The key first (only with --new-key), then the certificate.
        let mut files = Vec::new();
        if new_key {
            files.push(PkiFile::key(format!("{name}.key.pem"), key_pem));
        }
        files.push(PkiFile::cert(
            format!("{name}.pem"),
            "client certificate",
            issued.chain_pem(),
        ));
        write_files(dir, &files, true)?;
        renewed += 1;
        let new = CertInfo::from_der(&issued.cert_der).map_err(|detail| ClientError::File {
            path: cert_path.clone(),
            detail,
        })?;
        out.ok(&format!(
            "renewed {} ({}): serial {}, valid until {} ({} s){}",
            cert_path.display(),
            new.subject,
            new.serial,
            new.not_after,
            lifetime.whole_seconds(),
            if new_key { ", new key" } else { ", same key" }
        ));
        out.json(&json!({"renewed": cert_path, "serial": new.serial, "not_after": new.not_after.unix_timestamp(), "new_key": new_key}));
        if matches!(schedule, Schedule::Once) || times.is_some_and(|t| renewed >= t) {
            return Ok(renewed);
        }
    }
}
