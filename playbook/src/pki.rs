//! The development PKI: one dev CA, the two server certificates, the client certificates
//! the walkthrough needs (right, wrong DN, untrusted CA), generated with rcgen.
//!
//! Who trusts whom:
//! - Keycloak (`--truststore-paths`), the embedded provider and the resource server trust
//!   `ca.pem` for client certificates;
//! - the client (and curl, with `--cacert`) trusts `ca.pem` for the servers.
//!
//! Keys are RSA-2048 by default, what most deployments still issue; [`KeyType`] also
//! offers RSA-4096, ECDSA P-256 and Ed25519 (`client certs --key-type`). The provider's JWT
//! signing key is RSA, as Keycloak's is, and lives in the provider, not here.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, RsaKeySize,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::names;

mod chain;
mod crl;
mod files;
mod subject;

use chain::{der_to_pem, is_self_issued, path_len, random_serial};
pub use crl::{CRL_VALID_DAYS, CrlState, Revoked, read_crl};
pub use files::{PkiFile, write_files};
use subject::distinguished_name;

/// Password of `client.p12`, a development bundle for browsers, Postman or Java.
pub const P12_PASSWORD: &str = "playbook";

/// Default validity of the dev CA and of the leaf certificates, counted from now.
pub const DEFAULT_CA_DAYS: i64 = 60;
pub const DEFAULT_LEAF_DAYS: i64 = 30;

/// Errors while generating or writing the PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),

    #[error(
        "refusing to overwrite existing files (pass --force to replace them):\n  {}",
        .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n  ")
    )]
    WouldOverwrite(Vec<PathBuf>),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("PKCS#12 bundle: {0}")]
    Pkcs12(String),

    #[error("bad DN {dn:?}: {reason}")]
    BadDn { dn: String, reason: &'static str },

    #[error(
        "the CA {ca:?} may not sign another CA (its basicConstraints say pathLenConstraint 0: an intermediate, or a dev CA made before intermediates existed)"
    )]
    NoCaBelow { ca: String },

    #[error(
        "the private key is not the key of the certificate (files of two certificates mixed up?)"
    )]
    KeyMismatch,

    #[error("not a readable CRL: {0}")]
    BadCrl(String),
}

/// The key algorithm of every certificate in the dev PKI (CA, servers, clients).
///
/// All four work with rustls on both sides of the handshake. Keycloak (JSSE) takes all four
/// for client certificates; see `certs/README.md` for what each costs and where Ed25519
/// falls short (browsers, Keycloak's own server certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum KeyType {
    /// RSA 2048-bit, signed with SHA-256 (PKCS#1 v1.5): what most CAs still issue.
    #[default]
    #[cfg_attr(feature = "cli", value(name = "rsa-2048"))]
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA 4096-bit: the same, with handshakes several times as expensive to sign.
    #[cfg_attr(feature = "cli", value(name = "rsa-4096"))]
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    /// ECDSA on P-256 with SHA-256: small keys, cheap handshakes.
    #[cfg_attr(feature = "cli", value(name = "ecdsa-p256"))]
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    /// Ed25519 (RFC 8410): the cheapest to sign; TLS 1.3/1.2 signature scheme `ed25519`.
    #[cfg_attr(feature = "cli", value(name = "ed25519"))]
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl KeyType {
    /// Every key type, in the order `--help` lists them.
    pub const ALL: [KeyType; 4] = [
        KeyType::Rsa2048,
        KeyType::Rsa4096,
        KeyType::EcdsaP256,
        KeyType::Ed25519,
    ];

    /// The name `--key-type` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// The type of an existing key pair (an RSA key by its size).
    pub fn of(key: &KeyPair) -> KeyType {
        let alg = key.algorithm();
        if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
            KeyType::EcdsaP256
        } else if alg == &rcgen::PKCS_ED25519 {
            KeyType::Ed25519
        } else if rcgen::PublicKeyData::der_bytes(key).len() > 400 {
            KeyType::Rsa4096
        } else {
            KeyType::Rsa2048
        }
    }

    /// A fresh key pair of this type.
    pub fn generate(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            KeyType::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            KeyType::Rsa4096 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
            }
            KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyType::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validity window.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From one minute ago (clock skew) to `days` from now.
    pub fn days_from_now(days: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - Duration::minutes(1),
            not_after: now + Duration::days(days),
        }
    }

    /// A window of `total` length that began a tenth of it (at most a minute) ago: short
    /// lifetimes (seconds) for showing renewal.
    pub fn lasting(total: Duration) -> Self {
        let not_before =
            OffsetDateTime::now_utc() - std::cmp::min(total / 10_i32, Duration::minutes(1));
        Validity {
            not_before,
            not_after: not_before + total,
        }
    }

    /// A window that ended an hour ago (for showing what an expired certificate does).
    pub fn expired() -> Self {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - Duration::days(2),
            not_after: now - Duration::hours(1),
        }
    }
}

/// A certificate and its private key, in memory.
#[derive(Clone)]
pub struct Issued {
    /// The certificate alone (what a proxy forwards, what `x5t#S256` hashes).
    pub cert_pem: String,
    /// PKCS#8 PEM.
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
    /// The intermediate CAs between this certificate and the root its peer trusts, nearest
    /// first (empty when a root issued it): what it presents after itself in a handshake.
    pub chain: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("x5t#S256", &crate::rfc8705::thumbprint(&self.cert_der))
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Issued {
    fn new(cert: rcgen::Certificate, key: &KeyPair) -> Self {
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
            chain: Vec::new(),
        }
    }

    /// The certificate followed by its intermediate CAs, as PEM: the contents of its `.pem`
    /// file, what a client or server presents in the handshake.
    pub fn chain_pem(&self) -> String {
        let mut pem = self.cert_pem.clone();
        for der in &self.chain {
            pem.push_str(&der_to_pem(der));
        }
        pem
    }

    /// The certificate followed by its intermediate CAs (rustls' `with_client_auth_cert`).
    pub fn cert_chain(&self) -> Vec<CertificateDer<'static>> {
        std::iter::once(self.cert_der.clone())
            .chain(self.chain.iter().cloned())
            .collect()
    }

    /// The private key (PKCS#8 DER).
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// RFC 8705 thumbprint of the certificate.
    pub fn x5t_s256(&self) -> String {
        crate::rfc8705::thumbprint(&self.cert_der)
    }

    /// Certificate (and its intermediate CAs) followed by key, the single-file form curl's
    /// `--cert` and reqwest accept.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.chain_pem(), self.key_pem)
    }

    /// A password-protected PKCS#12 bundle of this identity and its CA chain.
    pub fn pkcs12(&self, chain: &[&Issued], password: &str) -> Result<Vec<u8>, PkiError> {
        let p12 = |e: p12_keystore::error::Error| PkiError::Pkcs12(e.to_string());
        let key = p12_keystore::PrivateKey::from_der(&self.key_der).map_err(p12)?;
        let mut certs = vec![p12_keystore::Certificate::from_der(&self.cert_der).map_err(p12)?];
        for der in &self.chain {
            certs.push(p12_keystore::Certificate::from_der(der).map_err(p12)?);
        }
        for c in chain {
            certs.push(p12_keystore::Certificate::from_der(&c.cert_der).map_err(p12)?);
        }
        let local_key_id =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_der);
        let key_chain =
            p12_keystore::PrivateKeyChain::new(local_key_id.as_ref().to_vec(), key, certs);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "client",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(key_chain),
        );
        store.writer(password).write().map_err(p12)
    }
}

/// A certificate authority that can issue server and client certificates.
pub struct CertificateAuthority {
    pub cert: Issued,
    /// The key type of this CA and of every certificate it issues.
    pub key_type: KeyType,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert", &self.cert)
            .field("key_type", &self.key_type)
            .finish()
    }
}

impl CertificateAuthority {
    /// A new self-signed root CA with subject `dn` (RFC 2253 order) and a key of the default
    /// [`KeyType`]. It may sign one level of intermediate CAs (`pathLenConstraint` 1).
    pub fn new(dn: &str, validity: Validity) -> Result<Self, PkiError> {
        Self::with_key_type(dn, validity, KeyType::default())
    }

    /// The same with a key of `key_type`; the certificates it issues get the same type.
    pub fn with_key_type(
        dn: &str,
        validity: Validity,
        key_type: KeyType,
    ) -> Result<Self, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = distinguished_name(dn)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let key = key_type.generate()?;
        let cert = params.self_signed(&key)?;
        Ok(CertificateAuthority {
            cert: Issued::new(cert, &key),
            key_type,
            issuer: Issuer::new(params, key),
        })
    }

    fn issue(
        &self,
        dn: &str,
        sans: &[&str],
        eku: ExtendedKeyUsagePurpose,
        validity: Validity,
        crl_url: Option<&str>,
    ) -> Result<Issued, PkiError> {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = distinguished_name(dn)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![eku];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.crl_distribution_points = crl_url.map(crl::distribution_point).into_iter().collect();
        let key = self.key_type.generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            chain: self.chain_below_root(),
            ..Issued::new(cert, &key)
        })
    }

    /// What a certificate this CA issues presents after itself: this CA and the
    /// intermediates above it, unless this CA is the (self-signed) root.
    fn chain_below_root(&self) -> Vec<CertificateDer<'static>> {
        if is_self_issued(&self.cert.cert_der) {
            Vec::new()
        } else {
            self.cert.cert_chain()
        }
    }

    /// An intermediate CA with subject `dn` (RFC 2253 order), signed by this CA; it issues
    /// leaves only (`pathLenConstraint` 0), and its leaves present it after themselves. A
    /// CA whose own `pathLenConstraint` is 0 (an intermediate, or a dev CA made before
    /// intermediates existed) is refused with [`PkiError::NoCaBelow`].
    pub fn intermediate(&self, dn: &str, validity: Validity) -> Result<Self, PkiError> {
        if path_len(&self.cert.cert_der) == Some(0) {
            return Err(PkiError::NoCaBelow {
                ca: crate::x509::CertInfo::from_der(&self.cert.cert_der)
                    .map(|i| i.subject)
                    .unwrap_or_default(),
            });
        }
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = distinguished_name(dn)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let key = self.key_type.generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(CertificateAuthority {
            cert: Issued {
                chain: self.chain_below_root(),
                ..Issued::new(cert, &key)
            },
            key_type: self.key_type,
            issuer: Issuer::new(params, key),
        })
    }

    /// A TLS server certificate (serverAuth) for `cn` with the given SANs.
    pub fn issue_server(
        &self,
        cn: &str,
        sans: &[&str],
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        self.issue(
            &format!("CN={cn},O=OAuth2 Playbook"),
            sans,
            ExtendedKeyUsagePurpose::ServerAuth,
            validity,
            None,
        )
    }

    /// A TLS client certificate (clientAuth) with subject `dn` (RFC 2253 order).
    pub fn issue_client(&self, dn: &str, validity: Validity) -> Result<Issued, PkiError> {
        self.issue(dn, &[], ExtendedKeyUsagePurpose::ClientAuth, validity, None)
    }

    /// The CA of an existing `ca.pem` and `ca.key.pem` (what the workshop labs sign with).
    /// The certificate file may hold the CA's chain after it (an intermediate's file does);
    /// self-signed certificates in it (a root) are not presented by its leaves.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        // Certificates it issues get keys of the CA's own type.
        let key_type = KeyType::of(&key);
        let mut ders = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| PkiError::Rcgen(rcgen::Error::CouldNotParseCertificate))?
            .into_iter();
        let cert_der = ders
            .next()
            .ok_or(PkiError::Rcgen(rcgen::Error::CouldNotParseCertificate))?;
        let chain = ders.filter(|der| !is_self_issued(der)).collect();
        let spki = x509_parser::parse_x509_certificate(&cert_der)
            .map(|(_, c)| c.public_key().raw.to_vec())
            .map_err(|_| PkiError::Rcgen(rcgen::Error::CouldNotParseCertificate))?;
        if spki != rcgen::PublicKeyData::subject_public_key_info(&key) {
            return Err(PkiError::KeyMismatch);
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(CertificateAuthority {
            cert: Issued {
                cert_pem: der_to_pem(&cert_der),
                key_pem: key_pem.to_owned(),
                cert_der,
                key_der: KeyPair::from_pem(key_pem)?.serialize_der(),
                chain,
            },
            issuer,
            key_type,
        })
    }
}

/// A self-signed TLS client certificate (clientAuth, not a CA) with subject `dn`: a server
/// can only trust it by trusting the certificate itself.
pub fn self_signed_client(dn: &str, validity: Validity) -> Result<Issued, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = distinguished_name(dn)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(Issued::new(cert, &key))
}

/// SANs of both server certificates: loopback in every spelling, plus the container host.
pub const SERVER_SANS: &[&str] = &["localhost", "127.0.0.1", "::1", names::CONTAINER_HOSTNAME];

/// Every certificate the playground uses, in memory.
#[derive(Debug)]
pub struct DevPki {
    pub ca: CertificateAuthority,
    /// The authorization server (Keycloak or the embedded provider).
    pub provider: Issued,
    pub resource_server: Issued,
    /// The client whose DN the realm expects.
    pub client: Issued,
    /// Same CA, another DN: Keycloak answers 401 `invalid_client`.
    pub other_client: Issued,
    /// The provisioning client (`oauth2-playbook-provisioner`): the admin API, no password.
    pub provisioner: Issued,
    /// The `private_key_jwt` client's certificate (`client-jwt.pem`): only its public key
    /// matters, registered at the provider (`jwt.credential.certificate`); its key signs
    /// the client's assertions.
    pub jwt_client: Issued,
    /// An untrusted CA, issuing a certificate with the right DN: refused during the handshake.
    pub rogue_ca: CertificateAuthority,
    pub rogue_client: Issued,
}

impl DevPki {
    /// The key type of every certificate in it.
    pub fn key_type(&self) -> KeyType {
        self.ca.key_type
    }
}

impl DevPki {
    /// Generates the whole PKI with keys of the default [`KeyType`]; leaves valid for
    /// `leaf_days`, the CAs for `ca_days`.
    pub fn generate(ca_days: i64, leaf_days: i64) -> Result<Self, PkiError> {
        Self::generate_with(KeyType::default(), ca_days, leaf_days)
    }

    /// The same with every key (CAs, servers, clients) of `key_type`.
    pub fn generate_with(
        key_type: KeyType,
        ca_days: i64,
        leaf_days: i64,
    ) -> Result<Self, PkiError> {
        let leaf = Validity::days_from_now(leaf_days);
        let ca = CertificateAuthority::with_key_type(
            names::CA_SUBJECT_DN,
            Validity::days_from_now(ca_days),
            key_type,
        )?;
        let rogue_ca = CertificateAuthority::with_key_type(
            names::ROGUE_CA_SUBJECT_DN,
            Validity::days_from_now(ca_days),
            key_type,
        )?;
        Ok(DevPki {
            provider: ca.issue_server("oauth2-provider", SERVER_SANS, leaf)?,
            resource_server: ca.issue_server("resource-server", SERVER_SANS, leaf)?,
            client: ca.issue_client(names::CLIENT_SUBJECT_DN, leaf)?,
            other_client: ca.issue_client(names::OTHER_CLIENT_SUBJECT_DN, leaf)?,
            provisioner: ca.issue_client(names::PROVISIONER_SUBJECT_DN, leaf)?,
            jwt_client: ca.issue_client(names::JWT_CLIENT_SUBJECT_DN, leaf)?,
            rogue_client: rogue_ca.issue_client(names::CLIENT_SUBJECT_DN, leaf)?,
            ca,
            rogue_ca,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::{CertInfo, Purpose};

    #[test]
    fn client_certificate_has_the_realm_dn_and_client_eku() {
        let pki = DevPki::generate(2, 1).unwrap();
        let info = CertInfo::from_der(&pki.client.cert_der).unwrap();
        assert_eq!(info.subject, names::CLIENT_SUBJECT_DN);
        assert_eq!(info.issuer, names::CA_SUBJECT_DN);
        assert!(info.allows(Purpose::Client));
        assert!(!info.allows(Purpose::Server));
        let rogue = CertInfo::from_der(&pki.rogue_client.cert_der).unwrap();
        assert_eq!(
            rogue.subject,
            names::CLIENT_SUBJECT_DN,
            "same DN, different issuer"
        );
        assert_eq!(rogue.issuer, names::ROGUE_CA_SUBJECT_DN);
    }

    #[test]
    fn server_certificate_covers_loopback_and_container_names() {
        let pki = DevPki::generate(2, 1).unwrap();
        let info = CertInfo::from_der(&pki.provider.cert_der).unwrap();
        for san in ["DNS:localhost", "IP:127.0.0.1", "IP:::1", "DNS:keycloak"] {
            assert!(
                info.subject_alt_names.iter().any(|s| s == san),
                "{san} in {:?}",
                info.subject_alt_names
            );
        }
        assert!(info.allows(Purpose::Server));
    }

    #[test]
    fn writes_keys_0600_and_never_overwrites_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let pki = DevPki::generate(2, 1).unwrap();
        let files = pki.files().unwrap();
        write_files(dir.path(), &files, false).unwrap();
        let before = std::fs::read(dir.path().join("client.key.pem")).unwrap();

        let again = DevPki::generate(2, 1).unwrap().files().unwrap();
        let err = write_files(dir.path(), &again, false).unwrap_err();
        assert!(
            matches!(&err, PkiError::WouldOverwrite(p) if p.len() == files.len()),
            "{err}"
        );
        assert!(err.to_string().contains("--force"));
        assert_eq!(
            std::fs::read(dir.path().join("client.key.pem")).unwrap(),
            before
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |n: &str| {
                std::fs::metadata(dir.path().join(n))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("client.key.pem"), 0o600);
            assert_eq!(mode("ca.key.pem"), 0o600);
            assert_eq!(mode("client.p12"), 0o600);
            assert_eq!(mode("client.pem"), 0o644);
        }

        write_files(dir.path(), &again, true).unwrap();
        assert_ne!(
            std::fs::read(dir.path().join("client.key.pem")).unwrap(),
            before
        );
    }

    /// A leaf of an intermediate CA presents the intermediate after itself, and a verifier
    /// trusting only the root (rustls' `WebPkiClientVerifier`, as our servers use) accepts
    /// the chain; the intermediate may not sign another CA; `from_pem` of its files gives
    /// back the same chain and refuses another CA's key.
    #[test]
    fn intermediate_ca_issues_leaves_that_chain_to_the_root() {
        let pki = DevPki::generate(2, 1).unwrap();
        let validity = Validity::days_from_now(1);
        let inter = pki
            .ca
            .intermediate(names::INTERMEDIATE_CA_SUBJECT_DN, validity)
            .unwrap();
        let info = CertInfo::from_der(&inter.cert.cert_der).unwrap();
        assert_eq!(info.subject, names::INTERMEDIATE_CA_SUBJECT_DN);
        assert_eq!(info.issuer, names::CA_SUBJECT_DN);
        assert_eq!(inter.cert.chain.len(), 0, "the root issued it");

        let leaf = inter
            .issue_client(names::CLIENT_SUBJECT_DN, validity)
            .unwrap();
        assert_eq!(leaf.chain, vec![inter.cert.cert_der.clone()]);
        assert_eq!(leaf.cert_chain().len(), 2);
        assert_eq!(leaf.chain_pem().matches("BEGIN CERTIFICATE").count(), 2);
        assert_eq!(
            CertInfo::from_der(&leaf.cert_der).unwrap().issuer,
            names::INTERMEDIATE_CA_SUBJECT_DN
        );

        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.cert.cert_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap();
        let now = rustls_pki_types::UnixTime::now();
        verifier
            .verify_client_cert(&leaf.cert_der, &leaf.chain, now)
            .expect("leaf + intermediate chains to the root");
        assert!(
            verifier
                .verify_client_cert(&leaf.cert_der, &[], now)
                .is_err(),
            "without the intermediate there is no path"
        );

        let err = inter.intermediate("CN=Deeper,O=X", validity).unwrap_err();
        assert!(matches!(err, PkiError::NoCaBelow { .. }), "{err}");

        let again =
            CertificateAuthority::from_pem(&inter.cert.chain_pem(), &inter.cert.key_pem).unwrap();
        let leaf2 = again.issue_client("CN=x,O=y", validity).unwrap();
        assert_eq!(leaf2.chain, vec![inter.cert.cert_der.clone()]);
        let err =
            CertificateAuthority::from_pem(&inter.cert.cert_pem, &pki.ca.cert.key_pem).unwrap_err();
        assert!(matches!(err, PkiError::KeyMismatch), "{err}");
    }

    /// A CA's CRL, read back and extended, makes rustls' verifier (the servers' own, with
    /// `with_crls`) refuse the revoked certificate as `CertificateRevoked` and accept another;
    /// the CA tells its own certificates from those of a CA with the same DN; renewal keeps
    /// the key and the subject.
    #[test]
    fn crl_revokes_in_rustls_and_reissue_keeps_the_key() {
        use rustls_pki_types::CertificateRevocationListDer;
        let pki = DevPki::generate(2, 1).unwrap();
        let twin =
            CertificateAuthority::new(names::CA_SUBJECT_DN, Validity::days_from_now(1)).unwrap();
        let twin_client = twin
            .issue_client(names::CLIENT_SUBJECT_DN, Validity::days_from_now(1))
            .unwrap();
        assert!(pki.ca.signed(&pki.client.cert_der));
        assert!(!pki.ca.signed(&twin_client.cert_der), "same DN, other key");
        assert!(!pki.ca.signed(&pki.rogue_client.cert_der));

        let serial = x509_parser::parse_x509_certificate(&pki.client.cert_der)
            .unwrap()
            .1
            .raw_serial()
            .to_vec();
        let mut state = read_crl(&pki.ca.crl(&CrlState::default()).unwrap()).unwrap();
        state.number += 1;
        state.revoked.push(Revoked {
            serial,
            time: OffsetDateTime::now_utc(),
        });
        let pem = pki.ca.crl(&state).unwrap();
        let back = read_crl(&pem).unwrap();
        assert_eq!((back.number, back.revoked.len()), (1, 1));

        let crl = CertificateRevocationListDer::from_pem_slice(pem.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.cert.cert_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .with_crls([crl])
        .build()
        .unwrap();
        let now = rustls_pki_types::UnixTime::now();
        let err = verifier
            .verify_client_cert(&pki.client.cert_der, &[], now)
            .unwrap_err();
        assert_eq!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)
        );
        verifier
            .verify_client_cert(&pki.other_client.cert_der, &[], now)
            .expect("not on the list");

        let renewed = pki
            .ca
            .reissue(
                &pki.other_client.cert_der,
                &pki.other_client.key_pem,
                Validity::lasting(Duration::seconds(30)),
            )
            .unwrap();
        assert_eq!(renewed.key_pem, pki.other_client.key_pem);
        assert_ne!(
            CertInfo::from_der(&renewed.cert_der).unwrap().serial,
            CertInfo::from_der(&pki.other_client.cert_der)
                .unwrap()
                .serial,
            "a renewal for the same key gets a serial of its own"
        );
        assert_ne!(renewed.cert_der, pki.other_client.cert_der);
        assert_eq!(
            CertInfo::from_der(&renewed.cert_der).unwrap().subject,
            names::OTHER_CLIENT_SUBJECT_DN
        );
        assert!(matches!(
            pki.ca.reissue(
                &pki.client.cert_der,
                &pki.other_client.key_pem,
                Validity::days_from_now(1)
            ),
            Err(PkiError::KeyMismatch)
        ));
    }

    #[test]
    fn pkcs12_bundle_reads_back_with_its_password() {
        let pki = DevPki::generate(2, 1).unwrap();
        let der = pki.client.pkcs12(&[&pki.ca.cert], P12_PASSWORD).unwrap();
        let store = p12_keystore::KeyStore::from_pkcs12(
            &der,
            P12_PASSWORD,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .unwrap();
        let (_, chain) = store.private_key_chain().unwrap();
        assert_eq!(chain.certs()[0].as_der(), pki.client.cert_der.as_ref());
    }
}
