//! Revocation and renewal in the dev PKI: whether a CA issued a certificate (its signature,
//! not only its issuer's name), the CA's certificate revocation list (RFC 5280 §5, signed
//! with rcgen's `CertificateRevocationListParams`), and a certificate issued again for the
//! same key and subject.
//!
//! A CRL is the CA's whole list each time: revoking one more certificate reads the current
//! list back (`read_crl`) and signs a new one with the next CRL number. Its `nextUpdate` is
//! [`CRL_VALID_DAYS`] away, so a list made before a workshop does not lapse during it (an
//! expired CRL makes rustls refuse every certificate of that CA).

use rcgen::{
    CertificateParams, CertificateRevocationListParams, KeyIdMethod, KeyPair, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::{CertificateAuthority, Issued, PkiError, Validity};

/// How long a CRL stays current (its `nextUpdate`, counted from its `thisUpdate`).
pub const CRL_VALID_DAYS: i64 = 7;

/// One entry of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The certificate's serial number, big-endian bytes as in the certificate.
    pub serial: Vec<u8>,
    pub time: OffsetDateTime,
}

impl Revoked {
    /// An entry for `cert` (DER), revoked now; `None` if it cannot be parsed.
    pub fn now(cert: &[u8]) -> Option<Revoked> {
        let (_, parsed) = X509Certificate::from_der(cert).ok()?;
        Some(Revoked {
            serial: parsed.raw_serial().to_vec(),
            time: OffsetDateTime::now_utc(),
        })
    }
}

/// What a CRL file holds: its number and its entries.
#[derive(Debug, Clone, Default)]
pub struct CrlState {
    pub number: u64,
    pub revoked: Vec<Revoked>,
}

/// Reads a CRL (PEM `X509 CRL`) back.
pub fn read_crl(pem: &str) -> Result<CrlState, PkiError> {
    use rustls_pki_types::pem::PemObject as _;
    let bad = |why: &str| PkiError::BadCrl(why.to_owned());
    let der = rustls_pki_types::CertificateRevocationListDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| bad(&e.to_string()))?;
    let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|e| bad(&e.to_string()))?;
    let number = crl
        .crl_number()
        .and_then(|n| u64::try_from(n.clone()).ok())
        .unwrap_or(0);
    let revoked = crl
        .iter_revoked_certificates()
        .map(|r| Revoked {
            serial: r.raw_serial().to_vec(),
            time: r.revocation_date.to_datetime(),
        })
        .collect();
    Ok(CrlState { number, revoked })
}

impl CertificateAuthority {
    /// [`Self::issue_client`] naming `crl_url` as the certificate's CRL distribution point
    /// (RFC 5280 §4.2.1.13): where a verifier that fetches CRLs itself (Java with
    /// `-Dcom.sun.security.enableCRLDP=true`) finds this CA's list.
    pub fn issue_client_with_crl_url(
        &self,
        dn: &str,
        validity: Validity,
        crl_url: &str,
    ) -> Result<Issued, PkiError> {
        let eku = rcgen::ExtendedKeyUsagePurpose::ClientAuth;
        self.issue(dn, &[], eku, validity, Some(crl_url))
    }

    /// Whether this CA signed `cert`: its issuer is this CA's subject and the signature
    /// verifies with this CA's key (a CA with the same DN but another key did not).
    pub fn signed(&self, cert: &[u8]) -> bool {
        let (Ok((_, leaf)), Ok((_, ca))) = (
            X509Certificate::from_der(cert),
            X509Certificate::from_der(&self.cert.cert_der),
        ) else {
            return false;
        };
        if leaf.issuer().as_raw() != ca.subject().as_raw() {
            return false;
        }
        use aws_lc_rs::signature as sig;
        let alg: &dyn sig::VerificationAlgorithm = match self.key_type {
            super::KeyType::Rsa2048 | super::KeyType::Rsa4096 => &sig::RSA_PKCS1_2048_8192_SHA256,
            super::KeyType::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
            super::KeyType::Ed25519 => &sig::ED25519,
        };
        sig::UnparsedPublicKey::new(alg, &ca.public_key().subject_public_key.data)
            .verify(leaf.tbs_certificate.as_ref(), &leaf.signature_value.data)
            .is_ok()
    }

    /// This CA's CRL (PEM) listing `state.revoked`, numbered `state.number`, current from
    /// now for [`CRL_VALID_DAYS`].
    pub fn crl(&self, state: &CrlState) -> Result<String, PkiError> {
        let now = OffsetDateTime::now_utc();
        self.crl_until(state, now + Duration::days(CRL_VALID_DAYS))
    }

    /// [`Self::crl`] with its `nextUpdate` at `next_update` (in the past: a stale list, as a
    /// verifier meets one nobody refreshed).
    pub fn crl_until(
        &self,
        state: &CrlState,
        next_update: OffsetDateTime,
    ) -> Result<String, PkiError> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: (now - Duration::minutes(1)).min(next_update - Duration::days(1)),
            next_update,
            crl_number: SerialNumber::from(state.number),
            issuing_distribution_point: None,
            revoked_certs: state
                .revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: r.time,
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    /// `old` issued again by this CA for the same key and subject (and extended key usage),
    /// valid for `validity`; the new certificate gets a new serial number (and the CRL
    /// distribution points of the old one).
    pub fn reissue(
        &self,
        old: &CertificateDer<'_>,
        key_pem: &str,
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        let (_, cert) = X509Certificate::from_der(old)
            .map_err(|_| PkiError::Rcgen(rcgen::Error::CouldNotParseCertificate))?;
        let key = KeyPair::from_pem(key_pem)?;
        if cert.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(&key) {
            return Err(PkiError::KeyMismatch);
        }
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = super::subject::from_x509_name(cert.subject())?;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(super::chain::random_serial());
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.crl_distribution_points = crl_distribution_points(&cert);
        let new = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            chain: self.chain_below_root(),
            ..Issued::new(new, &key)
        })
    }
}

/// A CRL distribution point at `url`.
pub(super) fn distribution_point(url: &str) -> rcgen::CrlDistributionPoint {
    rcgen::CrlDistributionPoint {
        uris: vec![url.to_owned()],
    }
}

/// The URIs of `cert`'s CRL distribution points, kept by a renewal (a verifier fetching CRLs
/// refuses a certificate whose list it cannot find).
fn crl_distribution_points(cert: &X509Certificate<'_>) -> Vec<rcgen::CrlDistributionPoint> {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let points = cert
        .extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => Some(points),
            _ => None,
        });
    points
        .flat_map(|p| p.points.iter())
        .filter_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(
                names
                    .iter()
                    .filter_map(|n| match n {
                        GeneralName::URI(uri) => Some((*uri).to_owned()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .filter(|uris| !uris.is_empty())
        .map(|uris| rcgen::CrlDistributionPoint { uris })
        .collect()
}
