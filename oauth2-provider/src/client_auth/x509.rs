//! RFC 8705 §2.1 `tls_client_auth` at the provider: Keycloak's `X509ClientAuthenticator`
//! (`clientAuthenticatorType` `client-x509`), in its two halves.
//!
//! - [`configure`], at import and when the admin API changes a client's attributes: the
//!   `x509.subjectdn` regex is compiled, or the exact DN normalized ([`playbook::dn`]), and
//!   `x509.casubjectdn` normalized; a configuration that can never succeed is reported then
//!   (Keycloak only finds out per request).
//! - [`authenticate`], at each request: the TLS client certificate (verified against the
//!   truststore during the handshake) must match the subject, and its chain's trust anchor
//!   the CA subject (`CertificateValidator#checkSubjectDNExact`, `ATTR_CA_SUBJECT_DN`). A
//!   request costs one certificate parse and a string compare.

use playbook::server::Connection;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::disabled;
use crate::error::{OAuthError, Refusal};
use crate::store::{Client, SubjectMatch, X509Config};

const SUBJECT_DN: &str = "x509.subjectdn";
const CA_SUBJECT_DN: &str = "x509.casubjectdn";
const ALLOW_REGEX: &str = "x509.allow.regex.pattern.comparison";

/// Prepares the comparison of client `client_id` from its `x509.*` attributes; what is wrong
/// or deprecated goes to `warnings`, naming the client and the attribute.
pub(super) fn configure<'a>(
    client_id: &str,
    attribute: impl Fn(&str) -> Option<&'a str>,
    warnings: &mut Vec<String>,
) -> X509Config {
    let dn = attribute(SUBJECT_DN).unwrap_or("").trim();
    // OIDCAdvancedConfigWrapper#getAllowRegexPatternComparison: missing means true.
    let regex_mode = attribute(ALLOW_REGEX).is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let subject = if dn.is_empty() {
        SubjectMatch::Unusable(format!("{SUBJECT_DN} is empty"))
    } else if regex_mode {
        match regex::Regex::new(&format!("^(?:{dn})$")) {
            Ok(re) => {
                warnings.push(format!(
                        "client '{client_id}': {SUBJECT_DN} is matched as a regex, which Keycloak deprecates; set {ALLOW_REGEX}=false for an exact RFC 2253 match"
                    ));
                SubjectMatch::Regex(re)
            }
            Err(e) => SubjectMatch::Unusable(format!(
                "{SUBJECT_DN} '{dn}' is not a valid regex ({})",
                e.to_string().lines().last().unwrap_or("invalid")
            )),
        }
    } else {
        match playbook::dn::normalize(dn) {
            Ok(dn) => SubjectMatch::Exact(dn),
            Err(e) => SubjectMatch::Unusable(format!(
                "{SUBJECT_DN} '{dn}' is not a distinguished name ({e})"
            )),
        }
    };
    if let SubjectMatch::Unusable(why) = &subject {
        warnings.push(format!(
                "client '{client_id}': {why}; every token request of this client will be refused (Keycloak refuses them too, but says so only per request)"
            ));
    }
    let ca = attribute(CA_SUBJECT_DN).unwrap_or("").trim();
    let ca_dn = if ca.is_empty() {
        warnings.push(format!(
                "client '{client_id}': {CA_SUBJECT_DN} is empty, which Keycloak deprecates; set it to the issuing CA's subject DN"
            ));
        None
    } else {
        Some(playbook::dn::normalize(ca).unwrap_or_else(|e| {
                warnings.push(format!(
                    "client '{client_id}': {CA_SUBJECT_DN} '{ca}' is not a distinguished name ({e}); every token request of this client will be refused"
                ));
                ca.to_owned()
            }))
    };
    X509Config { subject, ca_dn }
}

/// `X509ClientAuthenticator#authenticateClient` (Keycloak 26.7), with the comparison
/// prepared at import. The leaf certificate is parsed once per request.
pub(super) fn authenticate(
    client: &Client,
    config: &X509Config,
    conn: &Connection,
) -> Result<(), Refusal> {
    let id = &client.client_id;
    // ATTEMPTED from the matching authenticator → 401 invalid_client.
    let attempted = |reason: String| Refusal::new(OAuthError::invalid_client(), reason);
    if !client.enabled {
        return Err(disabled(client));
    }
    let Some(chain) = conn.client_certs.as_deref().filter(|c| !c.is_empty()) else {
        return Err(attempted(format!(
            "client '{id}' (tls_client_auth): no client certificate on the TLS connection"
        )));
    };
    // "Testing only 1st certificate in the chain".
    let Ok((_, leaf)) = X509Certificate::from_der(&chain[0]) else {
        return Err(attempted(format!(
            "client '{id}': unreadable client certificate"
        )));
    };
    match &config.subject {
        SubjectMatch::Exact(expected) => {
            let presented = playbook::dn::rfc2253(leaf.subject());
            if *expected != presented {
                return Err(attempted(format!(
                    "client '{id}': certificate subject '{presented}' is not x509.subjectdn '{expected}'"
                )));
            }
        }
        SubjectMatch::Regex(re) => {
            let legacy = playbook::dn::java_legacy(leaf.subject());
            if !re.is_match(&legacy) {
                return Err(attempted(format!(
                    "client '{id}': certificate subject '{legacy}' does not match the regex x509.subjectdn '{}'",
                    re.as_str()
                )));
            }
        }
        SubjectMatch::Unusable(why) => return Err(attempted(format!("client '{id}': {why}"))),
    }
    let Some(expected) = &config.ca_dn else {
        return Ok(());
    };
    // The chain was verified against the truststore during the handshake (rustls, like
    // Keycloak's PKIX trust validation). The trust anchor is the issuer of the last
    // certificate presented; Keycloak compares its subject with x509.casubjectdn.
    let anchor = match chain {
        [_] => playbook::dn::rfc2253(leaf.issuer()),
        [.., last] => issuer_of(last),
        [] => unreachable!("non-empty"),
    };
    if anchor != *expected {
        return Err(attempted(format!(
            "client '{id}': certificate issued by '{anchor}', not by x509.casubjectdn '{expected}'"
        )));
    }
    Ok(())
}

fn issuer_of(cert: &CertificateDer<'_>) -> String {
    X509Certificate::from_der(cert)
        .map(|(_, c)| playbook::dn::rfc2253(c.issuer()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Authenticator;

    fn configure(
        kind: &str,
        attrs: &[(&'static str, &'static str)],
    ) -> (Authenticator, Vec<String>) {
        crate::client_auth::configure("c1", kind, |key| {
            attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
        })
    }

    const CA: (&str, &str) = (CA_SUBJECT_DN, "CN=Dev CA,O=Playbook");
    const EXACT: (&str, &str) = (ALLOW_REGEX, "false");

    #[test]
    fn exact_dn_is_normalized_once_without_warnings() {
        let (auth, warnings) = configure(
            "client-x509",
            &[(SUBJECT_DN, "CN=client, O=Playbook"), EXACT, CA],
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let Authenticator::X509(X509Config {
            subject: SubjectMatch::Exact(dn),
            ca_dn: Some(ca),
        }) = auth
        else {
            panic!("{auth:?}")
        };
        assert_eq!(dn, "CN=client,O=Playbook");
        assert_eq!(ca, "CN=Dev CA,O=Playbook");
    }

    #[test]
    fn invalid_regex_is_reported_at_import_naming_client_and_attribute() {
        let (auth, warnings) = configure("client-x509", &[(SUBJECT_DN, "CN=(unclosed"), CA]);
        assert!(
            matches!(
                &auth,
                Authenticator::X509(X509Config {
                    subject: SubjectMatch::Unusable(_),
                    ..
                })
            ),
            "{auth:?}"
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("'c1'")
                && warnings[0].contains("x509.subjectdn")
                && warnings[0].contains("not a valid regex"),
            "{warnings:?}"
        );
    }

    #[test]
    fn valid_regex_compiles_once_and_matches_whole_legacy_dn() {
        let (auth, warnings) = configure("client-x509", &[(SUBJECT_DN, "CN=client, O=.*"), CA]);
        assert!(
            warnings.iter().any(|w| w.contains("deprecates")),
            "{warnings:?}"
        );
        let Authenticator::X509(X509Config {
            subject: SubjectMatch::Regex(re),
            ..
        }) = auth
        else {
            panic!("{auth:?}")
        };
        assert!(re.is_match("CN=client, O=Playbook"));
        assert!(
            !re.is_match("X-CN=client, O=Playbook"),
            "anchored at the start"
        );
    }

    #[test]
    fn malformed_dns_and_unknown_types_are_reported() {
        let (auth, warnings) = configure("client-x509", &[(SUBJECT_DN, "no equals sign"), EXACT]);
        assert!(matches!(
            auth,
            Authenticator::X509(X509Config {
                subject: SubjectMatch::Unusable(_),
                ca_dn: None
            })
        ));
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("x509.subjectdn") && w.contains("not a distinguished name")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("x509.casubjectdn")),
            "{warnings:?}"
        );
        let (auth, warnings) = configure("client-x5O9", &[]);
        assert!(matches!(auth, Authenticator::Unsupported(ref t) if t == "client-x5O9"));
        assert!(
            warnings.len() == 1
                && warnings[0].contains("'client-x5O9'")
                && warnings[0].contains("'c1'"),
            "{warnings:?}"
        );
        assert!(configure("client-secret", &[]).1.is_empty());
    }
}
