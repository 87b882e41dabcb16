//! Revocation checking of client certificates: rustls' `WebPkiClientVerifier` built with
//! `with_crls(…)` from CRL files, built again when a file changes (its size or modification
//! time), so a certificate revoked while the server runs is refused from the next handshake
//! on (`resource-server --crl`).
//!
//! rustls checks every certificate of the chain but the trust anchor by default, and refuses
//! a certificate whose issuer has no CRL among the files (unknown status): give the CRL of
//! every CA that issues (`client certs crl --signed-by CA`). A revoked certificate fails the
//! handshake with the alert `certificate_revoked`. An expired CRL (`nextUpdate` passed) is
//! still used, as rustls does by default.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};

use super::ClientAuth;

/// Why the CRLs could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("--crl {}: {detail}: make it with `client certs crl` (or `client certs revoke NAME`)", path.display())]
    File { path: PathBuf, detail: String },
    #[error("client certificate verifier with CRLs: {0}")]
    Verifier(#[from] VerifierBuilderError),
    #[error("CA certificate: {0}")]
    Roots(#[from] rustls::Error),
}

/// What the files looked like when the verifier was built.
type Stamps = Vec<Option<(SystemTime, u64)>>;

/// A client-certificate verifier checking `roots` and the CRLs in `paths`, rebuilt when one
/// of the files changes. Reading it back costs one `stat` per file per handshake.
#[derive(Debug)]
pub struct CrlVerifier {
    paths: Vec<PathBuf>,
    roots: Arc<rustls::RootCertStore>,
    client_auth: ClientAuth,
    /// The roots' subjects, sent as hints in the CertificateRequest.
    hints: Vec<DistinguishedName>,
    current: Mutex<(Stamps, Arc<dyn ClientCertVerifier>)>,
}

fn stamps(paths: &[PathBuf]) -> Stamps {
    paths
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

fn load(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, CrlError> {
    crate::pem::load_crls(path).map_err(|detail| CrlError::File {
        path: path.to_owned(),
        detail,
    })
}

impl CrlVerifier {
    /// Reads the CRLs now; an unreadable file is an error at start.
    pub fn new(
        roots: &[CertificateDer<'static>],
        client_auth: ClientAuth,
        paths: Vec<PathBuf>,
    ) -> Result<Self, CrlError> {
        let mut store = rustls::RootCertStore::empty();
        for ca in roots {
            store.add(ca.clone())?;
        }
        let mut verifier = CrlVerifier {
            hints: store.subjects(),
            roots: Arc::new(store),
            client_auth,
            current: Mutex::new((Vec::new(), Arc::new(rustls::server::NoClientAuth))),
            paths,
        };
        let stamps = stamps(&verifier.paths);
        let built = verifier.build()?;
        verifier.current = Mutex::new((stamps, built));
        Ok(verifier)
    }

    fn build(&self) -> Result<Arc<dyn ClientCertVerifier>, CrlError> {
        let mut crls = Vec::new();
        for path in &self.paths {
            crls.extend(load(path)?);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&self.roots), provider)
                .with_crls(crls);
        let builder = if self.client_auth == ClientAuth::Request {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        Ok(builder.build()?)
    }

    /// The verifier for the files as they are now: rebuilt if one changed; if the new
    /// files cannot be read, the last good lists stay in force (and the log says why).
    pub fn current(&self) -> Arc<dyn ClientCertVerifier> {
        let now = stamps(&self.paths);
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.0 != now {
            match self.build() {
                Ok(verifier) => {
                    tracing::info!(files = ?self.paths, "CRLs reloaded");
                    *current = (now, verifier);
                }
                Err(e) => {
                    tracing::warn!("CRLs not reloaded, the previous lists stay in force: {e}");
                    current.0 = now;
                }
            }
        }
        Arc::clone(&current.1)
    }
}

impl ClientCertVerifier for CrlVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.client_auth == ClientAuth::Required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}
