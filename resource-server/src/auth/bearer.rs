//! Step 1 of the [pipeline](super): the access token of a request, read from the
//! `Authorization` header as [RFC 6750 §2.1] says. Exactly one header, scheme `Bearer`
//! (case-insensitive, RFC 7235 §2.1) or `DPoP` ([RFC 9449 §7.1], the same `b64token`
//! syntax), then a `b64token`. A missing token is a bare 401
//! challenge; a malformed one is 400 `invalid_request`. A token in the URL
//! (`?access_token=`, [RFC 6750 §2.3]) is refused: URLs end up in logs.
//!
//! [RFC 6750 §2.1]: https://www.rfc-editor.org/rfc/rfc6750#section-2.1
//! [RFC 6750 §2.3]: https://www.rfc-editor.org/rfc/rfc6750#section-2.3
//! [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1

use axum::http::{HeaderMap, header};

use crate::error::{ApiError, Scheme};

/// A byte RFC 6750 §2.1 allows in a `b64token` before its trailing `=`. Written with `|`,
/// not `||`, and ranges as wrapping subtractions, so that the check of a whole ~1 KB token
/// compiles to vector code: it runs on every request.
fn is_b64token_byte(c: u8) -> bool {
    let letter = (c | 0x20).wrapping_sub(b'a') < 26;
    let digit = c.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (c == b'-')
        | (c == b'.')
        | (c == b'_')
        | (c == b'~')
        | (c == b'+')
        | (c == b'/')
}

/// RFC 6750 §2.1 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    // Whole 64-byte chunks without an early exit inside: vector code; a bad chunk still
    // stops the scan.
    !body.is_empty()
        && body
            .as_bytes()
            .chunks(64)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_b64token_byte(b)))
}

/// The bearer token of a request, or the refusal for a missing or malformed one (a `DPoP`
/// token included: this is the `Bearer` scheme only).
pub fn bearer_token<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Result<&'a str, ApiError> {
    match access_token(headers, query)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::Dpop, _) => Err(ApiError::NoToken(
            "this API accepts only Bearer tokens here, not the \"DPoP\" scheme".into(),
        )),
    }
}

/// The access token of a request and its scheme (`Bearer`, or `DPoP`), or the refusal for
/// a missing or malformed one.
pub fn access_token<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Result<(Scheme, &'a str), ApiError> {
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("access_token"))
    });
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) if in_query => {
            return Err(ApiError::InvalidRequest(
                "access_token in the URL is not accepted (URLs end up in logs, RFC 6750 §2.3); \
                 send it as Authorization: Bearer <token>"
                    .into(),
            ));
        }
        (None, _) => {
            return Err(ApiError::NoToken(
                "this API needs an access token: send Authorization: Bearer <token>".into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidRequest(
                "more than one Authorization header".into(),
            ));
        }
        (Some(value), None) => value,
    };
    if in_query {
        return Err(ApiError::InvalidRequest(
            "the token is sent both in the Authorization header and in the URL; use only the header"
                .into(),
        ));
    }
    let value = value.to_str().map_err(|_| {
        ApiError::InvalidRequest("the Authorization header is not printable ASCII".into())
    })?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    // RFC 7235 §2.1: the scheme is case-insensitive.
    let scheme = if scheme.eq_ignore_ascii_case("Bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case(playbook::rfc9449::SCHEME) {
        Scheme::Dpop
    } else {
        return Err(ApiError::NoToken(format!(
            "this API accepts only Bearer and DPoP tokens, not the {scheme:?} scheme"
        )));
    };
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(ApiError::InvalidRequest(format!(
            "Authorization: {} is followed by no token",
            scheme.name()
        )));
    }
    if !is_b64token(token) {
        return Err(ApiError::InvalidRequest(
            "the bearer token contains characters a token cannot have (RFC 6750 §2.1 b64token: \
             letters, digits and -._~+/ with trailing =)"
                .into(),
        ));
    }
    Ok((scheme, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use playbook::oauth::BearerError;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    /// The vectorizable byte check says exactly what RFC 6750 §2.1's grammar says, for
    /// all 256 bytes.
    #[test]
    fn b64token_bytes_are_the_rfc_6750_set() {
        for b in 0..=255u8 {
            let rfc = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_byte(b), rfc, "byte {b:#04x}");
        }
        let long = "a".repeat(200) + "/" + &"B".repeat(100);
        assert!(is_b64token(&long));
        assert!(!is_b64token(&(long.clone() + "!")));
        assert!(!is_b64token(&format!(
            "{}\u{e9}{}",
            &long[..70],
            &long[70..]
        )));
    }

    #[test]
    fn authorization_header_forms() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def-_"]), None).unwrap(),
            "abc.def-_"
        );
        assert_eq!(
            bearer_token(&headers(&["bearer abc"]), None).unwrap(),
            "abc"
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer abc=="]), None).unwrap(),
            "abc=="
        );
        let code = |v: &[&str], q: Option<&str>| bearer_token(&headers(v), q).unwrap_err().code();
        assert_eq!(code(&[], None), None);
        assert_eq!(code(&["Basic dXNlcjpwYXNz"], None), None);
        assert_eq!(code(&["DPoP abc"], None), None);
        let dpop = |v: &str| {
            access_token(&headers(&[v]), None)
                .map(|(scheme, token)| (scheme, token.to_owned()))
                .map_err(|e| e.code())
        };
        assert_eq!(dpop("DPoP abc.d"), Ok((Scheme::Dpop, "abc.d".into())));
        assert_eq!(dpop("dpop abc"), Ok((Scheme::Dpop, "abc".into())));
        assert_eq!(dpop("Bearer abc"), Ok((Scheme::Bearer, "abc".into())));
        assert_eq!(dpop("DPoP "), Err(Some(BearerError::InvalidRequest)));
        assert_eq!(code(&["Bearer"], None), Some(BearerError::InvalidRequest));
        assert_eq!(code(&["Bearer "], None), Some(BearerError::InvalidRequest));
        assert_eq!(
            code(&["Bearer a b"], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer a\"b"], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer ==="], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer a", "Bearer b"], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&[], Some("access_token=x")),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer a"], Some("x=1&access_token=x")),
            Some(BearerError::InvalidRequest)
        );
    }
}
