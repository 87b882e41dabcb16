//! `client doctor`: why a certificate would be refused, and by what. Keycloak answers every
//! client-authentication failure with the same `invalid_client` ("Invalid client or Invalid
//! client credentials"), on purpose; the playground knows the causes (the walkthrough and the
//! labs provoke them) and checks a person's own files and realm for them, each finding ✔ or
//! ✘ with the fix, and with each ✘ the line Keycloak 26.7.5 logs for that cause
//! ([`keycloak_log`]).
//!
//! The offline checks are data ([`CHECKS`], in the order a server meets the problems): the
//! files load (PEM, or a PKCS#12 file with its password), the key belongs to the certificate,
//! it is valid now, it may be used for client authentication (EKU), it chains to the CA the
//! provider trusts (rustls' own client verifier, as the embedded provider's handshake runs
//! it), with `--crl` that it is not revoked (`doctor/revocation.rs`, as `resource-server --crl`
//! checks it), and the subject and issuer DNs as Keycloak renders them (RFC 2253), which the realm's
//! `x509.subjectdn` and `x509.casubjectdn` must equal. The online ones ([`online`]) ask the
//! server: does it request a client certificate and list this CA, what the realm says about
//! the client (read through the admin API as the provisioner, or the bootstrap admin), and a
//! token request.

use std::path::PathBuf;
use std::sync::Arc;

use playbook::x509::{CertInfo, Purpose};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use serde::Serialize;

pub mod keycloak_log;
pub mod methods;
pub mod online;
pub mod proxy;
mod revocation;

pub use keycloak_log::{KEYCLOAK_LOG, LogLine};

/// What is checked: the client's certificate (its chain), its key, and the CA the
/// provider trusts for client certificates.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// A PKCS#12 file (`.p12`) holding the certificate, its chain and the key, and its
    /// password: read instead of `cert` and `key`.
    pub pkcs12: Option<(PathBuf, String)>,
    /// Certificate revocation lists (PEM), as `resource-server --crl` reads them.
    pub crls: Vec<PathBuf>,
}

/// The files, loaded once for every check.
#[derive(Debug)]
pub struct Loaded {
    pub chain: Result<Vec<CertificateDer<'static>>, String>,
    pub key: Result<PrivateKeyDer<'static>, String>,
    pub ca: Result<Vec<CertificateDer<'static>>, String>,
    pub leaf: Option<CertInfo>,
    /// What the certificate was read from, for the identity's label.
    pub cert_path: PathBuf,
    /// The CRLs of `--crl`, each with its file.
    pub crls: Result<Vec<(PathBuf, CertificateRevocationListDer<'static>)>, String>,
}

impl Loaded {
    /// Reads `inputs`: PEM files, or the PKCS#12 file.
    pub fn read(inputs: &Inputs) -> Loaded {
        let (chain, key, cert_path) = match &inputs.pkcs12 {
            Some((path, password)) => match playbook::pem::load_pkcs12(path, password) {
                Ok((chain, key)) => (Ok(chain), Ok(key), path.clone()),
                Err(e) => (Err(e.to_string()), Err(e.to_string()), path.clone()),
            },
            None => (
                playbook::pem::load_certs(&inputs.cert).map_err(|e| e.to_string()),
                playbook::pem::load_key(&inputs.key).map_err(|e| e.to_string()),
                inputs.cert.clone(),
            ),
        };
        let leaf = chain
            .as_ref()
            .ok()
            .and_then(|c| c.first())
            .and_then(|der| CertInfo::from_der(der).ok());
        Loaded {
            chain,
            key,
            ca: playbook::pem::load_ca_certs(&inputs.ca).map_err(|e| e.to_string()),
            leaf,
            cert_path,
            crls: read_crls(&inputs.crls),
        }
    }

    /// The certificate and key as an identity to present, whatever the offline checks said
    /// (an expired or foreign certificate is presented on purpose, to see the server's answer).
    pub fn identity(&self) -> Option<playbook::Identity> {
        let (Ok(chain), Ok(key)) = (&self.chain, &self.key) else {
            return None;
        };
        Some(playbook::Identity::unchecked(
            &self.cert_path,
            chain.clone(),
            key.clone_key(),
        ))
    }
}

/// One finding: ✔ or ✘, what was found, for a ✘ the fix and the lines Keycloak logs for it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The check's id (`key-matches`, `chain`, …): stable, for scripts.
    pub check: &'static str,
    pub title: &'static str,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
    /// For a ✘: what Keycloak 26.7.5 logs for this cause ([`KEYCLOAK_LOG`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keycloak_log: Vec<LogLine>,
    /// A ✔ that still leaves a risk (an unbound token, DPoP not required): what it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl Finding {
    /// A finding of check `check` from its verdict, with Keycloak's log lines on a ✘.
    pub fn new(check: &'static str, title: &'static str, verdict: Verdict) -> Finding {
        let (ok, detail, fix) = match verdict {
            Ok(detail) => (true, detail, None),
            Err((detail, fix)) => (false, detail, Some(fix)),
        };
        Finding {
            check,
            title,
            ok,
            detail,
            fix,
            keycloak_log: if ok {
                Vec::new()
            } else {
                keycloak_log::lines_for(check)
            },
            warning: None,
        }
    }

    /// This ✔ with a risk (or a limit of what could be read) said beside it.
    pub(crate) fn warn(mut self, warning: Option<String>) -> Finding {
        self.warning = warning;
        self
    }
}

/// A finding of `check`, titled from `table` (`(id, title)` rows: the online and the proxy's
/// checks).
pub(crate) fn titled(
    table: &[(&'static str, &'static str)],
    check: &'static str,
    verdict: Verdict,
) -> Finding {
    let title = table
        .iter()
        .find(|(id, _)| *id == check)
        .map_or(check, |(_, t)| *t);
    Finding::new(check, title, verdict)
}

/// A check's verdict: `Ok(what was found)` or `Err((what was found, the fix))`.
pub type Verdict = Result<String, (String, String)>;

/// One check: an id, a title, and the function deciding it.
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    run: fn(&Loaded) -> Verdict,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// Every offline check, in the order a server meets the problems.
pub const CHECKS: &[Check] = &[
    Check {
        id: "files",
        title: "the certificate, its key and the CA load (PEM, or PKCS#12 with --p12)",
        run: files,
    },
    Check {
        id: "key-matches",
        title: "the private key belongs to the certificate",
        run: key_matches,
    },
    Check {
        id: "validity",
        title: "the certificate is valid now",
        run: validity,
    },
    Check {
        id: "client-auth-eku",
        title: "the certificate may authenticate a client (extended key usage clientAuth)",
        run: client_auth_eku,
    },
    Check {
        id: "chain",
        title: "the certificate chains to the CA the provider trusts",
        run: chain,
    },
    Check {
        id: "revocation",
        title: "the certificate is not on a revocation list (--crl, as resource-server --crl checks it)",
        run: revocation::revocation,
    },
    Check {
        id: "subject-dn",
        title: "the subject DN as Keycloak renders it (x509.subjectdn must equal it)",
        run: subject_dn,
    },
    Check {
        id: "issuer-dn",
        title: "the issuer DN as Keycloak renders it (x509.casubjectdn, when the realm sets it)",
        run: issuer_dn,
    },
];

/// The CRLs in `paths`, read as the resource server reads them.
fn read_crls(
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, CertificateRevocationListDer<'static>)>, String> {
    let mut crls = Vec::new();
    for path in paths {
        let list = playbook::pem::load_crls(path).map_err(|detail| {
            format!(
                "--crl {}: {detail}: make it with `client certs crl` (or `client certs revoke NAME`)",
                path.display()
            )
        })?;
        crls.extend(list.into_iter().map(|crl| (path.clone(), crl)));
    }
    Ok(crls)
}

/// Runs every offline check on `inputs`.
pub fn diagnose(inputs: &Inputs) -> Vec<Finding> {
    offline(&Loaded::read(inputs))
}

/// Runs every offline check on files already read.
pub fn offline(loaded: &Loaded) -> Vec<Finding> {
    CHECKS
        .iter()
        .map(|c| Finding::new(c.id, c.title, (c.run)(loaded)))
        .collect()
}

const NOT_CHECKED: &str = "not checked: the files do not load";

pub(crate) fn not_loaded() -> Verdict {
    Err((
        NOT_CHECKED.to_owned(),
        "fix the files first (above)".to_owned(),
    ))
}

fn files(l: &Loaded) -> Verdict {
    let mut problems: Vec<&String> = [
        l.chain.as_ref().err(),
        l.key.as_ref().err(),
        l.ca.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .collect();
    // A PKCS#12 file that does not open fails the certificate and the key alike: once.
    problems.dedup();
    if problems.is_empty() && l.leaf.is_some() {
        return Ok("all three load".to_owned());
    }
    let detail = if problems.is_empty() {
        "the certificate does not parse as X.509".to_owned()
    } else {
        problems
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    Err((
        detail,
        "pass PEM files (--cert, --key, --ca; CLIENT_CERT, CLIENT_KEY, CA_CERT): `-----BEGIN CERTIFICATE-----` and a private key, or a PKCS#12 file with --p12 FILE and its password (--p12-password, P12_PASSWORD); `client certs` writes a working set".to_owned(),
    ))
}

fn key_matches(l: &Loaded) -> Verdict {
    let (Ok(chain), Ok(key)) = (&l.chain, &l.key) else {
        return not_loaded();
    };
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(key).map_err(|e| {
        (
            format!("the key is not usable: {e}"),
            "pass the certificate's own private key (PKCS#8, PKCS#1 or SEC1 PEM)".to_owned(),
        )
    })?;
    rustls::sign::CertifiedKey::new(chain.clone(), signer)
        .keys_match()
        .map(|()| "the key's public half is the certificate's".to_owned())
        .map_err(|_| {
            (
                "the key belongs to another certificate: the handshake's CertificateVerify would fail and the server end it".to_owned(),
                "pass the key generated with this certificate (certs/NAME.key.pem beside certs/NAME.pem)".to_owned(),
            )
        })
}

fn validity(l: &Loaded) -> Verdict {
    let Some(c) = &l.leaf else {
        return not_loaded();
    };
    let now = time::OffsetDateTime::now_utc();
    if now > c.not_after {
        return Err((
            format!("expired at {}", c.not_after),
            "the server refuses it in the handshake (CertificateExpired): issue a new one (`client certs --force` for the dev PKI)".to_owned(),
        ));
    }
    if now < c.not_before {
        return Err((
            format!("not valid before {}", c.not_before),
            "check this machine's clock, or issue a certificate valid from now".to_owned(),
        ));
    }
    Ok(format!("valid until {}", c.not_after.date()))
}

fn client_auth_eku(l: &Loaded) -> Verdict {
    let Some(c) = &l.leaf else {
        return not_loaded();
    };
    if c.allows(Purpose::Client) {
        return Ok(if c.extended_key_usage.is_empty() {
            "no EKU extension (any use)".to_owned()
        } else {
            c.extended_key_usage.join(", ")
        });
    }
    Err((
        format!("EKU {} has no clientAuth", c.extended_key_usage.join(", ")),
        "a server certificate cannot authenticate a client: the server refuses it in the handshake; issue one with extended key usage clientAuth (`client certs` makes client.pem)".to_owned(),
    ))
}

fn chain(l: &Loaded) -> Verdict {
    let (Ok(chain), Ok(ca)) = (&l.chain, &l.ca) else {
        return not_loaded();
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in ca {
        roots.add(c.clone()).map_err(|e| {
            (
                format!("the CA file holds a certificate rustls cannot use as a trust anchor: {e}"),
                "pass the CA's certificate (ca.pem), not a leaf".to_owned(),
            )
        })?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| {
                (
                    format!("no verifier for this CA: {e}"),
                    "pass the CA's certificate (ca.pem)".to_owned(),
                )
            })?;
    match verifier.verify_client_cert(&chain[0], &chain[1..], UnixTime::now()) {
        Ok(_) => Ok("verified with rustls' client verifier, as the embedded provider's handshake verifies it".to_owned()),
        Err(e) => Err((
            format!("does not verify against this CA: {e}"),
            "the provider refuses it in the TLS handshake (walkthrough step 3b: rustls sends UnknownCA, Keycloak on Java CertificateUnknown): use a certificate issued by the CA the provider trusts, or make the provider trust this CA (Keycloak: --truststore-paths, lab 7); an intermediate CA goes in the certificate file after the leaf".to_owned(),
        )),
    }
}

fn subject_dn(l: &Loaded) -> Verdict {
    match &l.leaf {
        Some(c) => Ok(c.subject.clone()),
        None => not_loaded(),
    }
}

fn issuer_dn(l: &Loaded) -> Verdict {
    match &l.leaf {
        Some(c) => Ok(c.issuer.clone()),
        None => not_loaded(),
    }
}
