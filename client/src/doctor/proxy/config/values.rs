//! How a configured value writes the certificate: HAProxy's sample fetches and converters,
//! nginx's and httpd's variables, Caddy's placeholders.

use super::Encoding;

/// What a value forwards: its encoding and whether it is (part of) the chain.
pub(super) fn certificate_value(value: &str) -> Option<(Encoding, Option<usize>)> {
    let v = value.trim();
    if v.contains("ssl_c_der") || v.contains("ssl_c_chain_der") {
        let chain = v.contains("ssl_c_chain_der").then_some(0);
        let encoding = if v.contains(",base64") {
            Encoding::Base64Der
        } else if v.contains(",hex") {
            Encoding::Hex
        } else {
            Encoding::RawDer
        };
        return Some((encoding, chain));
    }
    if v.contains("$ssl_client_escaped_cert") {
        return Some((Encoding::UrlEncodedPem, None));
    }
    if v.contains("$ssl_client_cert") || v.contains("$ssl_client_raw_cert") {
        return Some((Encoding::Pem, None));
    }
    if let Some(at) = v.find("SSL_CLIENT_CERT_CHAIN_") {
        let digits: String = v[at + "SSL_CLIENT_CERT_CHAIN_".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return Some((Encoding::Pem, Some(digits.parse().unwrap_or(0))));
    }
    if v.contains("SSL_CLIENT_CERT") {
        return Some((Encoding::Pem, None));
    }
    if v.contains("certificate_der_base64") {
        let rfc = v.starts_with(':') && v.ends_with(':');
        return Some((
            if rfc {
                Encoding::Rfc9440
            } else {
                Encoding::Base64Der
            },
            None,
        ));
    }
    if v.contains("certificate_pem") {
        return Some((Encoding::Pem, None));
    }
    None
}
