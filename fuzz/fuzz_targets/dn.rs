//! Distinguished names: parsing a configured DN (`x509.subjectdn`) and rendering it as
//! Keycloak compares it, rendering a DER Name from a certificate, and configuring the
//! `client-x509` authenticator from fuzzed attributes.
//!
//! `cargo +nightly fuzz run dn` (from `fuzz/`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = playbook::dn::rfc2253_of_der_name(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Normalizing is idempotent: a normalized DN compares equal to itself normalized again
    // (otherwise a configured DN could never match the certificate it names).
    if let Ok(normalized) = playbook::dn::normalize(text) {
        let again = playbook::dn::normalize(&normalized)
            .unwrap_or_else(|e| panic!("{text:?} normalized to {normalized:?}, which fails: {e}"));
        assert_eq!(again, normalized, "from {text:?}");
    }
    for regex in ["true", "false"] {
        let _ = oauth2_provider::client_auth::configure("fuzz", "client-x509", |name| match name {
            "x509.subjectdn" | "x509.casubjectdn" => Some(text),
            "x509.allow.regex.pattern.comparison" => Some(regex),
            _ => None,
        });
    }
});
