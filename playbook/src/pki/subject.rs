//! Subject DNs of the certificates the dev PKI issues: an RFC 2253 string (as people and
//! Keycloak write it) turned into rcgen's DN.

use rcgen::string::Ia5String;
use rcgen::{DnType, DnValue};

use super::PkiError;

/// Builds an rcgen DN from an RFC 2253 string such as `CN=x,O=y` (RDNs most-specific first;
/// rcgen writes them in DER order, i.e. reversed). Any keyword of [`crate::dn`]'s table.
pub(super) fn distinguished_name(rfc2253: &str) -> Result<rcgen::DistinguishedName, PkiError> {
    let bad = |reason| PkiError::BadDn {
        dn: rfc2253.to_owned(),
        reason,
    };
    let mut dn = rcgen::DistinguishedName::new();
    for part in rfc2253.split(',').rev() {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad("an RDN has no '='"))?;
        let key = key.trim();
        if value.contains(['+', '\\', '"']) {
            return Err(bad(
                "escaped or multi-valued RDNs are not supported here (rcgen writes one attribute per RDN); \
                 openssl can: `openssl req -new -subj '/O=…/CN=…+UID=…' -multivalue-rdn`, then sign the CSR \
                 with the CA (lab 9 does it)",
            ));
        }
        // emailAddress: Java has no RFC 2253 keyword for it (it renders `OID=#hex` of the
        // IA5String), but reads `EMAILADDRESS=` in a configured DN; written as an IA5String,
        // as openssl writes it (lab 9's golden answers).
        if key.eq_ignore_ascii_case("EMAILADDRESS") || key == EMAIL_OID {
            let ia5 = Ia5String::try_from(value.trim())
                .map_err(|_| bad("an emailAddress must be ASCII (an IA5String)"))?;
            dn.push(email_type(), DnValue::Ia5String(ia5));
            continue;
        }
        let oid = crate::dn::oid_for_keyword(key).ok_or_else(|| {
            bad("unknown attribute keyword (CN, O, OU, C, ST, L, DC, UID, EMAILADDRESS, …)")
        })?;
        let arcs: Vec<u64> = oid.split('.').filter_map(|arc| arc.parse().ok()).collect();
        dn.push(DnType::from_oid(&arcs), value.trim());
    }
    Ok(dn)
}

/// PKCS #9 emailAddress.
const EMAIL_OID: &str = "1.2.840.113549.1.9.1";

fn email_type() -> DnType {
    DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1])
}

/// A certificate's subject as rcgen's DN, attribute by attribute in DER order, values as
/// text (what renewal signs again).
pub(super) fn from_x509_name(
    name: &x509_parser::x509::X509Name<'_>,
) -> Result<rcgen::DistinguishedName, PkiError> {
    let mut dn = rcgen::DistinguishedName::new();
    for attr in name.iter_attributes() {
        let arcs: Vec<u64> = attr
            .attr_type()
            .iter()
            .map(|arcs| arcs.collect())
            .unwrap_or_default();
        let value = attr.as_str().map_err(|_| PkiError::BadDn {
            dn: name.to_string(),
            reason: "an attribute value is not text",
        })?;
        let ty = DnType::from_oid(&arcs);
        if ty == email_type() {
            // Kept an IA5String: renewal must not change how the subject renders.
            let ia5 = Ia5String::try_from(value).map_err(|_| PkiError::BadDn {
                dn: name.to_string(),
                reason: "an emailAddress is not ASCII",
            })?;
            dn.push(ty, DnValue::Ia5String(ia5));
        } else {
            dn.push(ty, value);
        }
    }
    Ok(dn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DER of a DN as rcgen writes it, rendered as Java renders it (RFC 2253).
    fn rendered(rfc2253: &str) -> String {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = distinguished_name(rfc2253).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, x509) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        crate::dn::rfc2253(x509.subject())
    }

    #[test]
    fn email_address_is_written_as_an_ia5_string_as_openssl_writes_it() {
        // The rendering lab 9 recorded from Keycloak for openssl's certificate: tag 0x16.
        assert_eq!(
            rendered("CN=c,EMAILADDRESS=lab9@example.org,O=Org"),
            "CN=c,1.2.840.113549.1.9.1=#16106c616239406578616d706c652e6f7267,O=Org"
        );
    }

    #[test]
    fn rdn_order_is_kept_and_multi_valued_rdns_name_the_fix() {
        assert_eq!(rendered("O=Org,CN=c"), "O=Org,CN=c");
        let e = distinguished_name("CN=a+UID=b,O=Org")
            .unwrap_err()
            .to_string();
        assert!(e.contains("-multivalue-rdn"), "{e}");
    }
}
