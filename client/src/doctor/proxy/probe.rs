//! `client doctor --proxy`'s differential probe: the token request without a certificate,
//! the lookup's header(s) forged from this certificate, as its proxy would write them.

use base64::Engine as _;

use super::checks::strips;
use super::config::Observed;
use super::{Lookup, Reads};
use crate::doctor::{Loaded, Verdict};
use crate::http::Http;
use crate::settings::{Proxy, Settings};

/// The header(s) the lookup would read for `chain` (the leaf first), composed as its proxy
/// writes them.
pub fn forged_headers(
    r: &Reads,
    chain: &[rustls_pki_types::CertificateDer<'_>],
) -> Vec<(String, String)> {
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let Some(leaf) = chain.first() else {
        return Vec::new();
    };
    let rest = &chain[1..];
    let mut out = vec![(
        r.header.clone(),
        match r.lookup {
            Lookup::Nginx => url_encode(&pem(leaf)),
            Lookup::Haproxy => b64(leaf),
            Lookup::Apache => pem(leaf).replace('\n', " "),
            Lookup::Traefik => chain.iter().map(|c| b64(c)).collect::<Vec<_>>().join(","),
            Lookup::Rfc9440 => format!(":{}:", b64(leaf)),
            Lookup::Envoy => format!("Cert=\"{}\"", url_encode(&pem(leaf))),
        },
    )];
    if rest.is_empty() {
        return out;
    }
    match (r.lookup, &r.chain_header, &r.chain_prefix) {
        (Lookup::Haproxy, Some(h), _) => {
            let all: Vec<u8> = rest.iter().flat_map(|c| c.iter().copied()).collect();
            out.push((h.clone(), b64(&all)));
        }
        (Lookup::Rfc9440, Some(h), _) => out.push((
            h.clone(),
            rest.iter()
                .map(|c| format!(":{}:", b64(c)))
                .collect::<Vec<_>>()
                .join(", "),
        )),
        (Lookup::Apache, _, Some(p)) => {
            for (i, c) in rest.iter().enumerate() {
                out.push((format!("{p}_{i}"), pem(c).replace('\n', " ")));
            }
        }
        _ => {}
    }
    out
}

pub(super) fn pem(der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

pub(super) fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The differential probe: the token request without a certificate, the lookup's header(s)
/// forged with this certificate. `None` when it cannot be sent (the files do not load).
pub(super) async fn spoof(
    s: &Settings,
    kind: Proxy,
    r: &Reads,
    loaded: &Loaded,
    genuine: bool,
) -> Option<Verdict> {
    let (Ok(roots), Ok(chain)) = (&loaded.ca, &loaded.chain) else {
        return None;
    };
    let http = Http::new(roots, None, None).ok()?;
    let endpoint = crate::discovery::discover(&http, &s.issuer)
        .await
        .ok()?
        .token_endpoint_for_mtls()
        .clone();
    let headers = forged_headers(r, chain);
    let names: Vec<&str> = headers.iter().map(|(h, _)| h.as_str()).collect();
    let mut request = http.post(endpoint.clone()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", s.client_id.as_str()),
    ]);
    for (h, v) in &headers {
        request = request.header(h.as_str(), v.as_str());
    }
    let reply = match crate::http::send_json(&http, request, &endpoint).await {
        Ok(reply) => reply,
        Err(e) => {
            return Some(Ok(format!(
                "the proxy refused a request without a certificate: {}",
                playbook::report::error_chain(&e)
            )));
        }
    };
    let sent = format!(
        "no certificate, {} forged with this certificate ({} lookup's shape)",
        names.join(" and "),
        r.lookup.id()
    );
    if reply.status.is_success() && reply.json["access_token"].is_string() {
        let strip = strips(kind, r, &Observed::default())
            .err()
            .map(|(_, fix)| fix)
            .unwrap_or_default();
        return Some(Err((
            format!(
                "{sent}: {} and a token for {}: the proxy passes a client's own header on, and the provider believes it",
                reply.status.as_u16(),
                s.client_id.as_str()
            ),
            format!(
                "{strip}; and the provider must trust the header from the proxy's address only (proxy-trusted-addresses)"
            ),
        )));
    }
    let answer = format!(
        "{} {}",
        reply.status.as_u16(),
        reply.json["error"].as_str().unwrap_or("")
    );
    Some(Ok(if genuine {
        format!("{sent}: refused ({answer}), while the certificate itself gets a token")
    } else {
        format!(
            "{sent}: refused ({answer}); not conclusive: the request with the certificate is refused too"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_encoded_pem_keeps_only_unreserved_characters() {
        assert_eq!(url_encode("a+b/=\n"), "a%2Bb%2F%3D%0A");
    }
}
