//! Errors about certificate and key files: each names the file and says what to do.

use std::path::PathBuf;

/// What went wrong loading or using a certificate or key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: no such file. Generate the dev PKI with `client certs` (or pass the right path)", path.display())]
    Missing { path: PathBuf },

    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: no PEM {what} found (expected a '-----BEGIN {label}-----' block)", path.display())]
    NotPem {
        path: PathBuf,
        what: &'static str,
        label: &'static str,
    },

    #[error("{}: not a valid X.509 certificate: {detail}", path.display())]
    BadCertificate { path: PathBuf, detail: String },

    #[error("{}: the private key does not match the certificate in {}; pass the key generated with that certificate (certs/NAME.key.pem beside certs/NAME.pem: set the key with the certificate, e.g. CLIENT_KEY with CLIENT_CERT)", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },

    #[error("{}: unsupported private key: {detail}", path.display())]
    BadKey { path: PathBuf, detail: String },

    #[error("{}: certificate '{subject}' expired at {not_after}; regenerate with `client certs --force`", path.display())]
    Expired {
        path: PathBuf,
        subject: String,
        not_after: String,
    },

    #[error("{}: certificate '{subject}' is not valid before {not_before}; check the clock", path.display())]
    NotYetValid {
        path: PathBuf,
        subject: String,
        not_before: String,
    },

    #[error("{}: certificate '{subject}' has no {needed} extended key usage, so it cannot be used as a {role}; use the matching file from `client certs`", path.display())]
    WrongEku {
        path: PathBuf,
        subject: String,
        needed: &'static str,
        role: &'static str,
    },

    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),

    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),

    #[cfg(feature = "https")]
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),

    #[error("{}: not a PKCS#12 file this password opens, or one without a private key and its certificate: {detail}", path.display())]
    Pkcs12 { path: PathBuf, detail: String },
}
