//! PEM loading: certificates (each parsed back as X.509) and private keys, as the servers
//! and the client load `certs/*.pem`.
//!
//! `cargo +nightly fuzz run pem fuzz/seeds/pem` (from `fuzz/`).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pem");
    if let Ok(certs) = playbook::pem::certs_from_pem(data, path) {
        for cert in &certs {
            let _ = playbook::x509::CertInfo::from_der(cert);
            let _ = playbook::rfc8705::thumbprint(cert);
        }
    }
    let _ = playbook::pem::key_from_pem(data, path);
    // DER straight in: the certificate parser sees arbitrary bytes too.
    let _ = playbook::x509::CertInfo::from_der(data);
});
