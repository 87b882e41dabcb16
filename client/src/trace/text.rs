//! Text on the page: HTML/XML escaping, and what a request or answer may show of its
//! credentials, shortened exactly as the terminal shortens them (`output::shorten` for a
//! token or secret, `output::redact` for JSON bodies) unless `--show-secrets`.

use serde_json::Value;

use crate::output::{pretty, redact, shorten};

/// `text` safe inside HTML or SVG text and attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The form fields that carry credentials (the admin login's password, a client secret).
const SECRET_FORM_FIELDS: &[&str] = &["password", "client_secret", "client_assertion"];

/// A header's value as it may be shown: `Authorization` shortened after its scheme, a DPoP
/// proof (`DPoP`, a JWT) shortened as a token is.
pub(super) fn header_value(name: &str, value: &str, show_secrets: bool) -> String {
    if show_secrets {
        return value.to_owned();
    }
    if name.eq_ignore_ascii_case(playbook::rfc9449::HEADER) {
        return shorten(value);
    }
    if !name.eq_ignore_ascii_case("authorization") {
        return value.to_owned();
    }
    match value.split_once(' ') {
        Some((scheme, credential)) => format!("{scheme} {}", shorten(credential)),
        None => shorten(value),
    }
}

/// A body as it may be shown: JSON pretty and redacted, a form with its secret fields
/// shortened, anything else as it is.
pub(super) fn body(text: &str, show_secrets: bool) -> String {
    if let Ok(json) = serde_json::from_str::<Value>(text) {
        return pretty(&if show_secrets { json } else { redact(&json) });
    }
    if show_secrets || !looks_like_form(text) {
        return text.to_owned();
    }
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if SECRET_FORM_FIELDS.contains(&k) => format!("{k}={}", shorten(v)),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn looks_like_form(text: &str) -> bool {
    !text.contains(char::is_whitespace) && text.contains('=')
}

/// Milliseconds, as the page prints them.
pub(super) fn ms(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_shortened_as_the_terminal_shortens_them() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        assert_eq!(
            header_value("Authorization", &format!("Bearer {jwt}"), false),
            format!("Bearer {}", shorten(jwt))
        );
        assert_eq!(header_value("authorization", "Bearer x", true), "Bearer x");
        let form = "grant_type=password&client_id=admin-cli&username=admin&password=hunter2";
        let shown = body(form, false);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("username=admin&password=[redacted, 7 chars]"),
            "{shown}"
        );
        assert_eq!(body(form, true), form);
        let json = format!(r#"{{"access_token":"{jwt}","expires_in":300}}"#);
        let shown = body(&json, false);
        assert!(
            !shown.contains(jwt) && shown.contains(&shorten(jwt)),
            "{shown}"
        );
        assert!(body(&json, true).contains(jwt));
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
