//! The token endpoint's request parsing: the `application/x-www-form-urlencoded` body
//! (`Form::parse`, duplicate detection) and the HTTP Basic client credentials.
//!
//! `cargo +nightly fuzz run token_form` (from `fuzz/`).

#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use oauth2_provider::request::{Form, basic_credentials};

fuzz_target!(|data: &[u8]| {
    // The body as the token endpoint gets it.
    let form = Form::parse(data);
    let _ = form.has_duplicates();
    for (key, value) in &form.0 {
        assert_eq!(form.first(key).is_some(), true);
        assert!(
            !value.chars().any(char::is_control),
            "control characters are removed"
        );
    }

    // The same bytes as the credentials of an HTTP Basic header.
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a header value"),
    );
    let parsed = basic_credentials(&headers);
    if let Ok(text) = std::str::from_utf8(data)
        && let Some((user, pass)) = text.split_once(':')
    {
        let (got_user, got_pass) = parsed.expect("user:pass in UTF-8 is Basic credentials");
        // Without percent escapes or '+', URL-decoding changes nothing (RFC 6749 §2.3.1).
        if !user.contains(['%', '+']) {
            assert_eq!(got_user, user);
        }
        if !pass.contains(['%', '+']) {
            assert_eq!(got_pass, pass);
        }
    }
    // And as raw header bytes (any scheme, any junk).
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);
        let _ = basic_credentials(&headers);
    }
});
