//! Loading PEM certificates and keys, with errors that name the file.
//!
//! PEM parsing is `rustls_pki_types::pem::PemObject` (the maintained successor of the
//! unmaintained `rustls-pemfile`, RUSTSEC-2025-0134).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::TlsError;
use crate::x509::{CertInfo, Purpose};

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => TlsError::Missing {
            path: path.to_owned(),
        },
        _ => TlsError::Io {
            path: path.to_owned(),
            source,
        },
    })
}

fn pem_error(path: &Path, what: &'static str, label: &'static str, e: pem::Error) -> TlsError {
    match e {
        pem::Error::NoItemsFound => TlsError::NotPem {
            path: path.to_owned(),
            what,
            label,
        },
        other => TlsError::BadCertificate {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    }
}

/// All certificates in a PEM file (a leaf, a chain or a CA bundle); at least one.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certs_from_pem(&read(path)?, path)
}

/// [`load_certs`] on the file's contents; `path` only names it in errors.
pub fn certs_from_pem(bytes: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, "certificate", "CERTIFICATE", e))?;
    if certs.is_empty() {
        return Err(pem_error(
            path,
            "certificate",
            "CERTIFICATE",
            pem::Error::NoItemsFound,
        ));
    }
    for der in &certs {
        CertInfo::from_der(der).map_err(|detail| TlsError::BadCertificate {
            path: path.to_owned(),
            detail,
        })?;
    }
    Ok(certs)
}

/// CA certificates to trust: each must still be valid.
pub fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = load_certs(path)?;
    for der in &certs {
        info(path, der)?.check(path, None)?;
    }
    Ok(certs)
}

/// The first private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
/// The CRLs (PEM `X509 CRL`) in one file, as `resource-server --crl` and `client doctor --crl`
/// read them; `Err` says what is wrong with the file.
pub fn load_crls(
    path: &Path,
) -> Result<Vec<rustls_pki_types::CertificateRevocationListDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let crls = rustls_pki_types::CertificateRevocationListDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM CRL ({e})"))?;
    if crls.is_empty() {
        return Err("no X509 CRL in it".into());
    }
    Ok(crls)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    key_from_pem(&read(path)?, path)
}

/// [`load_key`] on the file's contents; `path` only names it in errors.
pub fn key_from_pem(bytes: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(bytes)
        .map_err(|e| pem_error(path, "private key", "PRIVATE KEY", e))
}

/// The private key and its certificate chain (leaf first) of a PKCS#12 file (`.p12`, `.pfx`)
/// opened with `password`: the first key entry with its certificates, as Java's keytool,
/// openssl and browsers write them (`client certs` writes `client.p12`).
pub fn load_pkcs12(
    path: &Path,
    password: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let bad = |detail: String| TlsError::Pkcs12 {
        path: path.to_owned(),
        detail,
    };
    let store = p12_keystore::KeyStore::from_pkcs12(
        &read(path)?,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| bad(e.to_string()))?;
    let (_, entry) = store
        .private_key_chain()
        .ok_or_else(|| bad("no private key with its certificate in it".to_owned()))?;
    let chain: Vec<CertificateDer<'static>> = entry
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if chain.is_empty() {
        return Err(bad("the key has no certificate".to_owned()));
    }
    let key = PrivateKeyDer::try_from(entry.key().as_der().to_vec())
        .map_err(|e| bad(format!("the private key: {e}")))?;
    Ok((chain, key))
}

fn info(path: &Path, der: &CertificateDer<'_>) -> Result<CertInfo, TlsError> {
    CertInfo::from_der(der).map_err(|detail| TlsError::BadCertificate {
        path: path.to_owned(),
        detail,
    })
}

/// A certificate chain with its private key, checked to belong together.
#[derive(Clone)]
pub struct Identity {
    pub cert_path: PathBuf,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert_path", &self.cert_path)
            .field("chain_len", &self.chain.len())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Identity {
    /// Loads `cert` and `key`, and checks that the key matches, that the leaf is currently
    /// valid, and (when `purpose` is given) that its EKU allows that use.
    pub fn load(cert: &Path, key: &Path, purpose: Option<Purpose>) -> Result<Self, TlsError> {
        let chain = load_certs(cert)?;
        let key_der = load_key(key)?;
        Self::from_parts(cert, key, chain, key_der, purpose)
    }

    /// Builds an identity from DER already in memory (tests build their PKI in memory);
    /// the paths only label errors.
    pub fn from_parts(
        cert_path: &Path,
        key_path: &Path,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        purpose: Option<Purpose>,
    ) -> Result<Self, TlsError> {
        let leaf = chain.first().ok_or_else(|| TlsError::NotPem {
            path: cert_path.to_owned(),
            what: "certificate",
            label: "CERTIFICATE",
        })?;
        info(cert_path, leaf)?.check(cert_path, purpose)?;
        let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).map_err(|e| {
            TlsError::BadKey {
                path: key_path.to_owned(),
                detail: e.to_string(),
            }
        })?;
        CertifiedKey::new(chain.clone(), signer)
            .keys_match()
            .map_err(|_| TlsError::KeyMismatch {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
            })?;
        Ok(Identity {
            cert_path: cert_path.to_owned(),
            chain,
            key: Arc::new(key),
        })
    }

    /// An identity with no checks at all, for presenting a bad certificate *on purpose*
    /// (an expired one, say) to show what the server does with it.
    pub fn unchecked(
        cert_path: &Path,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        Identity {
            cert_path: cert_path.to_owned(),
            chain,
            key: Arc::new(key),
        }
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// RFC 8705 thumbprint of the leaf.
    pub fn x5t_s256(&self) -> String {
        crate::rfc8705::thumbprint(self.leaf())
    }
}
