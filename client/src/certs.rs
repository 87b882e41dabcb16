//! `client certs`: the development PKI written to `certs/` (or `--out DIR`), and
//! `client certs show FILE...`: what a certificate says about itself, including the
//! RFC 8705 thumbprint `x5t#S256` that later appears in the token's `cnf` claim.
//!
//! Generation itself lives in `playbook::pki` (shared with the tests of every crate);
//! this module decides what to tell the person running it.

use std::path::{Path, PathBuf};

use playbook::pki::{DevPki, KeyType, PkiError, write_files};
use playbook::x509::CertInfo;
use serde_json::json;

use crate::error::ClientError;
use crate::output::Output;

pub mod issue;
pub mod renew;
pub mod revoke;

/// Generates the PKI into `dir`. Without `force`, refuses (writing nothing) if any of the
/// files exists. Leaves are valid `days` days, the CAs twice as long; every key is of
/// `key_type`.
pub fn generate(
    dir: &Path,
    force: bool,
    days: i64,
    key_type: KeyType,
    out: &Output,
) -> Result<Vec<PathBuf>, ClientError> {
    if days < 1 {
        return Err(ClientError::Setting {
            name: "--days",
            value: days.to_string(),
            fix: "give at least 1 day".into(),
        });
    }
    let pki = DevPki::generate_with(key_type, days * 2, days)?;
    let files = pki.files()?;
    let written = match write_files(dir, &files, force) {
        Ok(w) => w,
        Err(PkiError::WouldOverwrite(existing)) => {
            // A PKI made before the provisioner or the private_key_jwt client existed: add
            // the missing pairs from the same CA.
            if let Some(written) = add_missing_pairs(dir, days, out)? {
                return Ok(written);
            }
            return Err(ClientError::Pki(PkiError::WouldOverwrite(existing)));
        }
        Err(e) => return Err(e.into()),
    };
    out.heading(&format!(
        "Wrote the development PKI ({key_type} keys) to {}",
        dir.display()
    ));
    for (file, path) in files.iter().zip(&written) {
        out.plain(&format!("  {:<40} {}", path.display(), file.what));
    }
    let client = CertInfo::from_der(&pki.client.cert_der).map_err(|detail| ClientError::File {
        path: dir.join("client.pem"),
        detail,
    })?;
    out.heading("The client certificate (what the realm's x509.subjectdn must equal)");
    out.plain(&client.to_string());
    out.plain("");
    out.plain(&format!(
        "Who trusts whom: the provider and the resource server trust {} for client certificates;\n\
         the client (and curl --cacert) trusts it for the servers. Keys are mode 0600.\n\
         Check with: openssl verify -CAfile {} {}",
        dir.join("ca.pem").display(),
        dir.join("ca.pem").display(),
        dir.join("client.pem").display()
    ));
    out.json(&json!({
        "dir": dir,
        "key_type": key_type,
        "files": files.iter().zip(&written).map(|(f, p)| json!({"path": p, "what": f.what, "private": f.private})).collect::<Vec<_>>(),
        "client": client,
    }));
    Ok(written)
}

/// A pair a PKI written by an older `client certs` may lack.
struct AddedLater {
    what: &'static str,
    dn: &'static str,
    /// Its two files (certificate, key).
    names: [&'static str; 2],
    files: fn(&playbook::pki::Issued) -> Vec<playbook::pki::PkiFile>,
}

const ADDED_LATER: &[AddedLater] = &[
    AddedLater {
        what: "the provisioner's certificate",
        dn: playbook::names::PROVISIONER_SUBJECT_DN,
        names: ["provisioner.pem", "provisioner.key.pem"],
        files: DevPki::provisioner_files,
    },
    AddedLater {
        what: "the private_key_jwt client's key pair and certificate",
        dn: playbook::names::JWT_CLIENT_SUBJECT_DN,
        names: [
            playbook::names::JWT_CERT_FILE,
            playbook::names::JWT_KEY_FILE,
        ],
        files: DevPki::jwt_client_files,
    },
];

/// Each pair of [`ADDED_LATER`] whose two files are both missing, issued by the existing CA
/// of `dir` (`ca.pem`, `ca.key.pem`): a PKI written before the provisioner or the
/// `private_key_jwt` client existed. `None` when nothing is to add: nothing existing is ever
/// overwritten (a pair with one file of two is left for the person to sort out).
fn add_missing_pairs(
    dir: &Path,
    days: i64,
    out: &Output,
) -> Result<Option<Vec<PathBuf>>, ClientError> {
    let (ca_cert, ca_key) = (dir.join("ca.pem"), dir.join("ca.key.pem"));
    if !ca_cert.exists() || !ca_key.exists() {
        return Ok(None);
    }
    let missing: Vec<_> = ADDED_LATER
        .iter()
        .filter(|pair| pair.names.iter().all(|n| !dir.join(n).exists()))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| ClientError::File {
            path: p.to_owned(),
            detail: e.to_string(),
        })
    };
    let ca = playbook::pki::CertificateAuthority::from_pem(&read(&ca_cert)?, &read(&ca_key)?)?;
    let mut all = Vec::new();
    for pair in missing {
        let issued = ca.issue_client(pair.dn, playbook::pki::Validity::days_from_now(days))?;
        let files = (pair.files)(&issued);
        let written = write_files(dir, &files, false)?;
        out.heading(&format!(
            "Added {} to the existing PKI in {} (issued by its ca.pem)",
            pair.what,
            dir.display()
        ));
        for (file, path) in files.iter().zip(&written) {
            out.plain(&format!("  {:<40} {}", path.display(), file.what));
        }
        all.extend(written);
    }
    out.json(&json!({"dir": dir, "added": all}));
    Ok(Some(all))
}

/// What one file turned out to be.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shown {
    Certificates {
        path: PathBuf,
        certificates: Vec<CertInfo>,
    },
    PrivateKey {
        path: PathBuf,
    },
    /// A PKCS#12 bundle (binary): certificate and key together, password-protected.
    Pkcs12 {
        path: PathBuf,
        hint: String,
    },
    Error {
        path: PathBuf,
        error: String,
    },
}

/// Prints every certificate in each file; returns whether every file could be read.
pub fn show(paths: &[PathBuf], out: &Output) -> bool {
    let mut all_ok = true;
    let mut shown = Vec::new();
    for path in paths {
        let item = show_one(path);
        match &item {
            Shown::Certificates { path, certificates } => {
                for (i, info) in certificates.iter().enumerate() {
                    let label = if certificates.len() > 1 {
                        format!(
                            "{} (certificate {} of {})",
                            path.display(),
                            i + 1,
                            certificates.len()
                        )
                    } else {
                        path.display().to_string()
                    };
                    out.heading(&label);
                    out.plain(&info.to_string());
                    if info.remaining().is_negative() {
                        out.warn("EXPIRED: regenerate with `client certs --force`");
                    } else if let Some(w) = info.expiry_warning() {
                        out.warn(&w);
                    }
                }
            }
            Shown::PrivateKey { path } => {
                out.heading(&path.display().to_string());
                out.plain("  a private key (not shown; it never leaves this machine)");
            }
            Shown::Pkcs12 { path, hint } => {
                out.heading(&path.display().to_string());
                out.plain(&format!("  a PKCS#12 bundle (certificate and private key in one binary file, password-protected)\n  {hint}"));
            }
            Shown::Error { error, .. } => {
                all_ok = false;
                out.heading(&path.display().to_string());
                out.fail(error);
            }
        }
        shown.push(item);
    }
    out.json(&serde_json::to_value(&shown).unwrap_or_default());
    all_ok
}

fn show_one(path: &Path) -> Shown {
    let error = |e: String| Shown::Error {
        path: path.to_owned(),
        error: e,
    };
    match playbook::pem::load_certs(path) {
        Ok(ders) => {
            let mut certificates = Vec::new();
            for der in &ders {
                match CertInfo::from_der(der) {
                    Ok(info) => certificates.push(info),
                    Err(e) => {
                        return error(format!(
                            "{}: not a valid X.509 certificate: {e}",
                            path.display()
                        ));
                    }
                }
            }
            Shown::Certificates {
                path: path.to_owned(),
                certificates,
            }
        }
        Err(e) => {
            // `client certs show certs/*.pem` also matches the keys: say what they are.
            let looks_like_key = std::fs::read(path)
                .map(|b| String::from_utf8_lossy(&b).contains("PRIVATE KEY-----"))
                .unwrap_or(false);
            if looks_like_key {
                Shown::PrivateKey {
                    path: path.to_owned(),
                }
            } else if looks_like_pkcs12(path) {
                let q = crate::output::shell_quote(&path.display().to_string());
                let pem = path.with_extension("pem");
                Shown::Pkcs12 {
                    path: path.to_owned(),
                    hint: format!(
                        "read it with: openssl pkcs12 -in {q} -nokeys -passin pass:playbook | openssl x509 -noout -subject -issuer\n  (its certificate is the one in {}: client certs show {})",
                        pem.display(),
                        crate::output::shell_quote(&pem.display().to_string())
                    ),
                }
            } else {
                error(e.to_string())
            }
        }
    }
}

/// A `.p12`/`.pfx` name, or binary DER (a SEQUENCE, `0x30`) rather than PEM text.
fn looks_like_pkcs12(path: &Path) -> bool {
    let by_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"));
    let by_content = std::fs::read(path)
        .map(|b| b.first() == Some(&0x30) && !b.starts_with(b"-----"))
        .unwrap_or(false);
    by_content && (by_name || path.extension().is_none())
}

/// The certificates `./start.sh` and the walkthrough read, each with its key, and, for one
/// the flow can do without, what needs it (`rogue-client` only feeds step 3b, which is
/// skipped without it; `client-jwt` only `--auth private-key-jwt`).
pub const NEEDED: &[(&str, Option<&str>)] = &[
    ("ca", None),
    ("oauth2-provider", None),
    ("resource-server", None),
    ("client", None),
    ("other-client", None),
    ("provisioner", None),
    (
        "rogue-client",
        Some("only step 3b needs it; it is skipped without"),
    ),
    (
        "client-jwt",
        Some("only --auth private-key-jwt needs it; `client certs` adds it"),
    ),
];

/// `client certs check`: every certificate the flow needs is there, readable, not expired,
/// and has its key. Returns whether the set is usable; says what to do when it is not.
pub fn check(dir: &Path, out: &Output) -> bool {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for (name, optional) in NEEDED {
        let mut trouble = Vec::new();
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key.pem"));
        // The CA's key is not needed at run time, but `client certs` writes it.
        for path in [&cert, &key] {
            if !path.exists() {
                trouble.push(format!("{} is missing", path.display()));
            }
        }
        if cert.exists() {
            match playbook::pem::load_certs(&cert)
                .map_err(|e| e.to_string())
                .and_then(|ders| CertInfo::from_der(&ders[0]))
            {
                Ok(info) if info.remaining().is_negative() => {
                    trouble.push(format!("{} has expired", cert.display()))
                }
                Ok(info) => {
                    if let Some(w) = info.expiry_warning() {
                        notes.push(format!("{}: {w}", cert.display()));
                    }
                }
                Err(e) => trouble.push(format!("{}: {e}", cert.display())),
            }
        }
        if trouble.is_empty() {
            out.ok(&format!("{name}.pem and {name}.key.pem"));
        } else if let Some(why) = optional {
            for t in &trouble {
                out.warn(&format!("{t} ({why})"));
            }
        } else {
            for t in &trouble {
                out.fail(t);
            }
            problems.extend(trouble);
        }
    }
    for n in &notes {
        out.warn(n);
    }
    if !problems.is_empty() {
        out.plain(&format!(
            "{} is not a usable dev PKI: regenerate it with `client --certs-dir {} certs --force` (then restart running servers)",
            dir.display(),
            dir.display()
        ));
    }
    out.json(&json!({"dir": dir, "usable": problems.is_empty(), "problems": problems, "warnings": notes}));
    problems.is_empty()
}
