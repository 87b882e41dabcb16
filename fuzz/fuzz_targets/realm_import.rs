//! The realm import: a Keycloak realm export (JSON) parsed and imported as the provider
//! does at start, including the master realm check.
//!
//! `cargo +nightly fuzz run realm_import fuzz/seeds/realm_import` (from `fuzz/`).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let source = Path::new("fuzz-realm.json");
    if let Ok(rep) = oauth2_provider::realm::parse(json, source) {
        let _ = oauth2_provider::realm::import(rep, source);
    }
});
