//! Subject DNs of the certificates the dev PKI issues: an RFC 2253 string (as people and
//! Keycloak write it) turned into rcgen's DN.

use rcgen::DnType;

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
        let oid = crate::dn::oid_for_keyword(key.trim())
            .ok_or_else(|| bad("unknown attribute keyword (CN, O, OU, C, ST, L, DC, UID, …)"))?;
        let arcs: Vec<u64> = oid.split('.').filter_map(|arc| arc.parse().ok()).collect();
        let ty = DnType::from_oid(&arcs);
        if value.contains(['+', '\\', '"']) {
            return Err(bad("escaped or multi-valued RDNs are not supported here"));
        }
        dn.push(ty, value.trim());
    }
    Ok(dn)
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
        dn.push(DnType::from_oid(&arcs), value);
    }
    Ok(dn)
}
