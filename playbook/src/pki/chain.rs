//! What the dev PKI reads back from a certificate to build a chain: whether it is a root
//! (self-issued), how many CAs may sit below it, and its PEM text.

use rustls_pki_types::CertificateDer;

/// Whether a certificate names itself as its issuer (a root, or any self-signed one).
pub(super) fn is_self_issued(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .is_ok_and(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
}

/// A CA certificate's `pathLenConstraint`, if it has one.
pub(super) fn path_len(der: &[u8]) -> Option<u32> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    cert.basic_constraints().ok()??.value.path_len_constraint
}

/// One certificate as PEM text.
pub(super) fn der_to_pem(der: &CertificateDer<'_>) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem + "-----END CERTIFICATE-----\n"
}

/// A random, positive 16-byte serial number. rcgen's default is a hash of the public key, so
/// a certificate renewed for the same key would get the revoked one's serial (RFC 5280
/// §4.1.2.2 wants them unique per CA, and a CRL names certificates by serial).
pub(super) fn random_serial() -> rcgen::SerialNumber {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random number generator");
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    rcgen::SerialNumber::from_slice(&bytes)
}
