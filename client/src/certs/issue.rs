//! `client certs intermediate` and `client certs issue`: more CAs and certificates beside
//! the dev PKI, each signed by a CA of CERTS_DIR named by its file (`ca` is `ca.pem` with
//! `ca.key.pem`), written next to it without overwriting anything unless `--force`.
//!
//! An intermediate CA's certificate goes to `NAME.pem`; a certificate it issues goes to its
//! own `.pem` followed by the intermediate (the chain a client presents in the handshake),
//! so a server trusting only `ca.pem` accepts it. Check with
//! `openssl verify -CAfile certs/ca.pem -untrusted certs/intermediate-ca.pem certs/NAME.pem`.

use std::path::{Path, PathBuf};

use playbook::pki::{CertificateAuthority, Issued, PkiError, PkiFile, Validity, write_files};
use playbook::x509::CertInfo;
use serde_json::json;

use crate::error::ClientError;
use crate::output::Output;

/// Who signs a new CA or certificate, for how long, and whether it may replace files.
#[derive(Debug, Clone, clap::Args)]
pub struct Signing {
    /// The CA that signs it: NAME.pem and NAME.key.pem in CERTS_DIR (`ca` is the dev CA,
    /// `intermediate-ca` the one `client certs intermediate` makes; its key is needed).
    #[arg(long, default_value = "ca")]
    pub signed_by: String,
    /// Validity in days, from now.
    #[arg(long, default_value_t = playbook::pki::DEFAULT_LEAF_DAYS)]
    pub days: i64,
    /// Validity in seconds instead (a short-lived certificate, for `client certs renew`); it
    /// starts a tenth of that before now.
    #[arg(long, conflicts_with = "days")]
    pub seconds: Option<u32>,
    /// Replace NAME.pem and NAME.key.pem if they exist.
    #[arg(long)]
    pub force: bool,
}

impl Signing {
    /// The signing CA, once the names and the days are checked.
    fn ca(&self, dir: &Path, name: &str) -> Result<CertificateAuthority, ClientError> {
        check_name("NAME", name)?;
        if self.days < 1 || self.seconds == Some(0) {
            return Err(ClientError::Setting {
                name: "--days",
                value: self.days.to_string(),
                fix: "give at least 1 day (or --seconds 1)".into(),
            });
        }
        load_ca(dir, &self.signed_by)
    }

    fn validity(&self) -> Validity {
        match self.seconds {
            Some(s) => Validity::lasting(time::Duration::seconds(s.into())),
            None => Validity::days_from_now(self.days),
        }
    }
}

/// A name of a file pair in CERTS_DIR (`NAME.pem`, `NAME.key.pem`): letters, digits, `-`,
/// `_`, `.`; not a path.
pub fn check_name(flag: &'static str, name: &str) -> Result<(), ClientError> {
    let fine = !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".key")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(())
    } else {
        Err(ClientError::Setting {
            name: flag,
            value: name.to_owned(),
            fix: "give a file name without .pem, in CERTS_DIR (letters, digits, - _ .), e.g. intermediate-ca".into(),
        })
    }
}

/// The CA `name` of `dir`: `NAME.pem` and its key `NAME.key.pem`. A missing key, a key of
/// another certificate or a certificate that is no CA is an error naming the file and the fix.
pub fn load_ca(dir: &Path, name: &str) -> Result<CertificateAuthority, ClientError> {
    check_name("--signed-by", name)?;
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key.pem"));
    let make_it = if name == "ca" {
        format!(
            "make the dev PKI with `client --certs-dir {} certs`",
            dir.display()
        )
    } else {
        format!(
            "make it with `client --certs-dir {} certs intermediate {name}` (or name another CA with --signed-by)",
            dir.display()
        )
    };
    let cert_pem = std::fs::read_to_string(&cert).map_err(|e| ClientError::File {
        path: cert.clone(),
        detail: format!("{e}: {make_it}"),
    })?;
    let key_pem = std::fs::read_to_string(&key).map_err(|e| ClientError::File {
        path: key.clone(),
        detail: format!(
            "{e}: a CA without its private key cannot sign ({} alone only lets others trust it); name with --signed-by a CA whose key is in {} (`ca`, the dev CA, or one `client certs intermediate` made)",
            cert.display(),
            dir.display()
        ),
    })?;
    let is_ca = playbook::pem::certs_from_pem(cert_pem.as_bytes(), &cert)
        .ok()
        .and_then(|ders| CertInfo::from_der(&ders[0]).ok())
        .map(|info| info.is_ca);
    if is_ca == Some(false) {
        return Err(ClientError::File {
            path: cert,
            detail:
                "not a CA certificate (no basicConstraints CA:TRUE): name a CA with --signed-by"
                    .into(),
        });
    }
    CertificateAuthority::from_pem(&cert_pem, &key_pem).map_err(|e| ClientError::File {
        path: match e {
            PkiError::KeyMismatch => key,
            _ => cert,
        },
        detail: format!("{e}: {make_it}"),
    })
}

/// What to write and say for a new CA or certificate.
struct Made<'a> {
    dir: &'a Path,
    name: &'a str,
    what: &'static str,
    issued: &'a Issued,
    force: bool,
}

impl Made<'_> {
    fn write(&self, out: &Output) -> Result<(Vec<PathBuf>, CertInfo), ClientError> {
        let files = [
            PkiFile::cert(
                format!("{}.pem", self.name),
                self.what,
                self.issued.chain_pem(),
            ),
            PkiFile::key(
                format!("{}.key.pem", self.name),
                self.issued.key_pem.clone(),
            ),
        ];
        let written = write_files(self.dir, &files, self.force)?;
        let info =
            CertInfo::from_der(&self.issued.cert_der).map_err(|detail| ClientError::File {
                path: written[0].clone(),
                detail,
            })?;
        out.heading(&format!("Wrote {}", self.what));
        for (file, path) in files.iter().zip(&written) {
            out.plain(&format!("  {:<40} {}", path.display(), file.what));
        }
        out.plain(&info.to_string());
        Ok((written, info))
    }
}

/// `client certs intermediate NAME`: a CA under `--signed-by` (default the dev CA) that signs
/// leaves only.
pub fn intermediate(
    dir: &Path,
    name: &str,
    dn: &str,
    signing: &Signing,
    out: &Output,
) -> Result<Vec<PathBuf>, ClientError> {
    let parent = signing.signed_by.as_str();
    let inter = signing
        .ca(dir, name)?
        .intermediate(dn, signing.validity())
        .map_err(|e| match e {
            PkiError::NoCaBelow { .. } => ClientError::File {
                path: dir.join(format!("{parent}.pem")),
                detail: format!(
                    "{e}: make the intermediate under the dev CA (--signed-by ca); a dev CA from before intermediates existed needs `client certs --force` (then restart the servers)"
                ),
            },
            e => e.into(),
        })?;
    let made = Made {
        dir,
        name,
        what: "intermediate CA (signs client certificates; trusted through ca.pem)",
        issued: &inter.cert,
        force: signing.force,
    };
    let (written, info) = made.write(out)?;
    out.plain(&format!(
        "\nIssue a client certificate with it: client certs issue NAME --signed-by {name}\n\
         Servers trusting {} accept its certificates, which present it after themselves.",
        dir.join(format!("{parent}.pem")).display()
    ));
    out.json(&json!({"written": written, "certificate": info, "issuer": parent}));
    Ok(written)
}

/// `client certs issue NAME`: a client certificate (clientAuth) with subject `dn`, signed by
/// `--signed-by`, naming `crl_url` as its CRL distribution point if given; its file holds
/// the intermediates after it.
pub fn issue(
    dir: &Path,
    name: &str,
    dn: &str,
    crl_url: Option<&str>,
    signing: &Signing,
    out: &Output,
) -> Result<Vec<PathBuf>, ClientError> {
    let ca_name = signing.signed_by.as_str();
    let ca = signing.ca(dir, name)?;
    let issued = match crl_url {
        Some(url) => ca.issue_client_with_crl_url(dn, signing.validity(), url)?,
        None => ca.issue_client(dn, signing.validity())?,
    };
    let made = Made {
        dir,
        name,
        what: "client certificate (clientAuth)",
        issued: &issued,
        force: signing.force,
    };
    let (written, info) = made.write(out)?;
    let pem = written[0].display().to_string();
    if issued.chain.is_empty() {
        out.plain(&format!(
            "\nCheck with: openssl verify -CAfile {} {pem}",
            dir.join(format!("{ca_name}.pem")).display()
        ));
    } else {
        out.plain(&format!(
            "\n{pem} holds the certificate and, after it, the {} intermediate CA(s) it presents in the handshake.\n\
             Check with: openssl verify -CAfile {} -untrusted {pem} {pem}",
            issued.chain.len(),
            dir.join("ca.pem").display()
        ));
    }
    out.json(&json!({"written": written, "certificate": info, "issuer": ca_name, "chain_length": issued.chain.len()}));
    Ok(written)
}

/// `client certs ca NAME`: a new self-signed root CA, by default with the dev CA's own DN (a
/// second CA no one can tell from the first by name). Written to its own files; never added
/// to `ca.pem`, so no server trusts it unless told to.
pub fn root(
    dir: &Path,
    name: &str,
    dn: &str,
    days: i64,
    force: bool,
    out: &Output,
) -> Result<Vec<PathBuf>, ClientError> {
    check_name("NAME", name)?;
    if name == "ca" {
        return Err(ClientError::Setting {
            name: "NAME",
            value: name.to_owned(),
            fix: "ca is the dev CA (client certs makes it): give the new CA another name".into(),
        });
    }
    let validity = Validity::days_from_now(days.max(1));
    let ca = CertificateAuthority::new(dn, validity)?;
    let made = Made {
        dir,
        name,
        what: "a root CA of its own (trusted by no server unless you add it to a truststore)",
        issued: &ca.cert,
        force,
    };
    let (written, info) = made.write(out)?;
    out.plain(&format!(
        "\nIt is not in {}: servers trust it only if you give it to them (a lab's own truststore).\n\
         Issue with it: client certs issue NAME --signed-by {name}",
        dir.join("ca.pem").display()
    ));
    out.json(&json!({"written": written, "certificate": info}));
    Ok(written)
}
