//! The header shapes: how each proxy writes the client certificate into a request header,
//! and how Keycloak 26.7.5's `x509cert-lookup` provider of the same name reads it back
//! (`org.keycloak.services.x509` in `keycloak-services-26.7.5.jar`). Native Keycloak's
//! answers to every case are recorded in `oauth2-provider/tests/golden/proxy/` and the
//! embedded provider is held to them (`oauth2-provider/tests/proxy_shapes.rs`).
//!
//! | shape | the proxy writes | Keycloak reads |
//! |---|---|---|
//! | `nginx` | `$ssl_client_escaped_cert`: URL-encoded PEM | the leaf; the chain rebuilt from its truststore |
//! | `haproxy` | `%[ssl_c_der,base64]`, chain `%[ssl_c_chain_der,base64]` | the leaf (PEM or bare base64); the chain header: concatenated DER, base64, at most `certificate-chain-length` |
//! | `apache` | `%{SSL_CLIENT_CERT}s`: PEM, its line breaks made spaces by mod_headers; `…_CHAIN_0`, … | the leaf; `<prefix>_0` … `<prefix>_<length-1>` |
//! | `traefik` | `X-Forwarded-Tls-Client-Cert`: each certificate's base64, `,`-joined | at most 1 + `certificate-chain-length` of them |
//! | `xfcc` (`envoy`) | `x-forwarded-client-cert`: `Hash=…;Cert="<URL-encoded PEM>";Chain="…"` | `Chain`, else `Cert`; `Hash` ignored |
//! | `rfc9440` | `Client-Cert: :<base64 DER>:`, `Client-Cert-Chain: :…:, :…:` | both; a chain longer than `certificate-chain-length` truncated (the strict reading refuses it) |
//!
//! Two readings: [`Reading::Keycloak`] (the provider: what Keycloak's lookup does, even where
//! it is lax) and [`Reading::Strict`] (the resource server: a header sent twice, an XFCC
//! `Hash` that does not match, a chain header that does not decode, are refused).

use axum::http::{HeaderMap, HeaderName};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rustls_pki_types::CertificateDer;

/// How the proxy encodes the certificate (Keycloak's `spi-x509cert-lookup--provider` id,
/// except `xfcc`, which is Keycloak's `envoy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// nginx `$ssl_client_escaped_cert`: the client's PEM certificate, URL-encoded
    /// (`-----BEGIN%20CERTIFICATE-----%0AMIIB…`).
    #[default]
    Nginx,
    /// Envoy `x-forwarded-client-cert`: `;`-separated `Key=value` pairs, one element per
    /// proxy hop (`,`-separated). `Chain` (URL-encoded PEM, leaf first), else `Cert`.
    #[cfg_attr(feature = "cli", value(alias = "envoy"))]
    Xfcc,
    /// HAProxy: the leaf's DER in base64 (`%[ssl_c_der,base64]`); the chain (optional) in
    /// one header, the intermediates' DER concatenated, base64 (`%[ssl_c_chain_der,base64]`).
    Haproxy,
    /// Apache httpd mod_headers: `%{SSL_CLIENT_CERT}s` (PEM, line breaks as spaces), the
    /// chain in `<prefix>_0`, `<prefix>_1`, … (`%{SSL_CLIENT_CERT_CHAIN_0}s`).
    Apache,
    /// Traefik `passTLSClientCert` with `pem: true`: `X-Forwarded-Tls-Client-Cert`, each
    /// certificate's base64 (PEM without its lines), `,`-joined, leaf first.
    Traefik,
    /// RFC 9440: `Client-Cert: :<base64 DER>:` and `Client-Cert-Chain: :…:, :…:`.
    Rfc9440,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Nginx => "nginx",
            Format::Xfcc => "xfcc",
            Format::Haproxy => "haproxy",
            Format::Apache => "apache",
            Format::Traefik => "traefik",
            Format::Rfc9440 => "rfc9440",
        }
    }

    /// Keycloak's lookup provider id (`--spi-x509cert-lookup--provider`).
    pub fn keycloak_lookup(self) -> &'static str {
        match self {
            Format::Xfcc => "envoy",
            other => other.as_str(),
        }
    }

    /// The header the proxy sets when the format fixes one (Keycloak's `envoy` and
    /// `traefik` lookups read only that name; `rfc9440`'s default).
    pub fn default_header(self) -> Option<&'static str> {
        match self {
            Format::Xfcc => Some("x-forwarded-client-cert"),
            Format::Traefik => Some("x-forwarded-tls-client-cert"),
            Format::Rfc9440 => Some("client-cert"),
            Format::Nginx | Format::Haproxy | Format::Apache => None,
        }
    }

    /// The chain header by default (`rfc9440`: `Client-Cert-Chain`).
    pub fn default_chain_header(self) -> Option<&'static str> {
        match self {
            Format::Rfc9440 => Some("client-cert-chain"),
            _ => None,
        }
    }
}

/// Keycloak's options of the lookup besides the header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOptions {
    /// `ssl-cert-chain-prefix` (apache, haproxy): the chain in `<prefix>_0` …
    pub prefix: Option<String>,
    /// `ssl-cert-chain` (haproxy; rfc9440, default `Client-Cert-Chain`): the chain in one header.
    pub header: Option<HeaderName>,
    /// `certificate-chain-length`: how many chain certificates are read (default 1).
    pub length: usize,
    /// nginx's `cert-is-url-encoded` (default true).
    pub url_encoded: bool,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions {
            prefix: None,
            header: None,
            length: 1,
            url_encoded: true,
        }
    }
}

/// Whose rules read the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Keycloak's lookup, lax where it is (the first of two headers, chain errors skipped).
    Keycloak,
    /// Stricter: anything ambiguous is an error.
    Strict,
}

type Chain = Vec<CertificateDer<'static>>;

/// Java's base64 decoders: padding optional.
const LAX: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The certificate chain in `headers`, leaf first: `Ok(None)` when there is none (the
/// client presented no certificate to the proxy), `Err` with the reason when it cannot be read.
pub fn read(
    format: Format,
    header: &HeaderName,
    opts: &ChainOptions,
    headers: &HeaderMap,
    reading: Reading,
) -> Result<Option<Chain>, String> {
    let values: Vec<&str> = headers
        .get_all(header)
        .iter()
        .map(|v| v.to_str().map_err(|_| "the value is not visible ASCII"))
        .collect::<Result<_, _>>()?;
    let first = match (values.as_slice(), reading, format) {
        ([], _, _) => return Ok(None),
        ([one], _, _) => *one,
        (more, Reading::Strict, _) | (more, _, Format::Rfc9440) => {
            return Err(format!(
                "sent {} times; a proxy sets it once (RFC 9440 §2.2 too)",
                more.len()
            ));
        }
        ([first, ..], Reading::Keycloak, _) => *first,
    };
    match format {
        Format::Nginx => nginx(first, opts, reading),
        Format::Apache | Format::Haproxy => {
            let Some(leaf) = one_cert(first, format == Format::Apache)? else {
                return Ok(None);
            };
            let mut chain = vec![leaf];
            let more = match (&opts.header, &opts.prefix) {
                (Some(h), _) if format == Format::Haproxy => der_chain_header(headers, h, opts),
                (_, Some(prefix)) => indexed_chain(headers, prefix, opts, reading, format),
                _ => Ok(Vec::new()),
            };
            match (more, reading) {
                (Ok(more), _) => chain.extend(more),
                // Keycloak logs a chain it cannot read and goes on with the leaf.
                (Err(e), Reading::Keycloak) => {
                    tracing::warn!("chain ignored, as Keycloak does: {e}")
                }
                (Err(e), Reading::Strict) => return Err(e),
            }
            Ok(Some(chain))
        }
        Format::Traefik => traefik(first, opts),
        Format::Xfcc => match reading {
            Reading::Keycloak => xfcc_as_keycloak(first),
            Reading::Strict => super::xfcc_chain(first).map(Some),
        },
        Format::Rfc9440 => rfc9440(first, headers, opts, reading),
    }
}

/// Keycloak's `trimDoubleQuotes`: one pair around the whole value.
fn trim_quotes(v: &str) -> &str {
    match v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if v.len() > 1 => inner,
        _ => v,
    }
}

/// Java's `URLDecoder.decode(s, UTF_8)`: `+` is a space, `%XX` a byte.
fn java_url_decode(v: &str) -> Result<String, String> {
    let plus = v.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "not URL-encoded UTF-8".to_owned())
}

/// `-----BEGIN (.*)-----` or `-----END (.*)----` removed as Java's `replaceAll` does: `.*` is
/// greedy and stops at a line break only, so on a one-line PEM it swallows the whole body.
fn remove_greedy(text: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive(['\n', '\r']) {
        let mut rest = line;
        while let Some(i) = rest.find(open) {
            let after = &rest[i + open.len()..];
            // The line's end: the break is not part of what `.` matches.
            let body_end = after.find(['\n', '\r']).unwrap_or(after.len());
            match after[..body_end].rfind(close) {
                Some(j) => {
                    out.push_str(&rest[..i]);
                    rest = &after[j + close.len()..];
                }
                None => break,
            }
        }
        out.push_str(rest);
    }
    out
}

/// Keycloak's `PemUtils.decodeCertificate`: `removeBeginEnd` (the two greedy regexes, then
/// line breaks removed, trimmed), then Java's MIME base64 decoder (characters outside the
/// alphabet skipped), then DER. A PEM whose line breaks a proxy made spaces does not survive
/// it (the BEGIN regex takes the body along); the base64 alone, with spaces, does.
fn decode_cert(v: &str) -> Result<CertificateDer<'static>, String> {
    let stripped = remove_greedy(v, "-----BEGIN ", "-----");
    let stripped = remove_greedy(&stripped, "-----END ", "----");
    let body: String = stripped
        .replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let der = LAX
        .decode(body.as_bytes())
        .map_err(|e| format!("not a base64 certificate ({e})"))?;
    let cert = CertificateDer::from(der);
    crate::x509::CertInfo::from_der(&cert)
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    Ok(cert)
}

/// The `apache` and `nginx` lookups' own `removeBeginEnd` (plain replacements, not
/// regexes) on a value that starts with the BEGIN line, before [`decode_cert`].
fn strip_markers(v: &str) -> String {
    if !v.starts_with("-----BEGIN CERTIFICATE-----") {
        return v.to_owned();
    }
    v.replace("-----BEGIN CERTIFICATE-----", "")
        .replace("-----END CERTIFICATE-----", "")
        .replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .to_owned()
}

/// One header's certificate as the `apache` (`markers`) or `haproxy` lookup reads it:
/// `Ok(None)` for a blank value.
fn one_cert(v: &str, markers: bool) -> Result<Option<CertificateDer<'static>>, String> {
    let v = trim_quotes(v);
    if v.trim().is_empty() {
        return Ok(None);
    }
    let v = if markers {
        strip_markers(v)
    } else {
        v.to_owned()
    };
    decode_cert(&v).map(Some)
}

fn nginx(value: &str, opts: &ChainOptions, reading: Reading) -> Result<Option<Chain>, String> {
    let value = trim_quotes(value);
    if value.trim().is_empty() {
        return Ok(None);
    }
    let pem = if opts.url_encoded {
        java_url_decode(value.trim())?
    } else {
        value.to_owned()
    };
    match reading {
        // Keycloak reads one certificate and rebuilds the chain from its truststore.
        Reading::Keycloak => Ok(Some(vec![decode_cert(&strip_markers(&pem))?])),
        Reading::Strict => super::pem_chain(&pem).map(Some),
    }
}

/// `<prefix>_0` … `<prefix>_<length-1>`; blank ones skipped.
fn indexed_chain(
    headers: &HeaderMap,
    prefix: &str,
    opts: &ChainOptions,
    reading: Reading,
    format: Format,
) -> Result<Chain, String> {
    let mut chain = Vec::new();
    for i in 0..opts.length {
        let name = format!("{prefix}_{i}");
        let Some(v) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        match (one_cert(v, format == Format::Apache), reading) {
            (Ok(Some(c)), _) => chain.push(c),
            (Ok(None), _) => {}
            (Err(e), Reading::Keycloak) => tracing::warn!("{name} ignored, as Keycloak does: {e}"),
            (Err(e), Reading::Strict) => return Err(format!("{name}: {e}")),
        }
    }
    Ok(chain)
}

/// HAProxy's chain header: the chain certificates' DER concatenated, in base64; at most
/// `length` of them.
fn der_chain_header(
    headers: &HeaderMap,
    name: &HeaderName,
    opts: &ChainOptions,
) -> Result<Chain, String> {
    let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) else {
        return Ok(Vec::new());
    };
    if opts.length == 0 || v.is_empty() {
        return Ok(Vec::new());
    }
    let body: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    let der = LAX
        .decode(body.as_bytes())
        .map_err(|e| format!("{name}: not base64 ({e})"))?;
    let mut chain = Vec::new();
    let mut rest = der.as_slice();
    while !rest.is_empty() && chain.len() < opts.length {
        let len =
            der_length(rest).ok_or_else(|| format!("{name}: not concatenated DER certificates"))?;
        let cert = CertificateDer::from(rest[..len].to_vec());
        crate::x509::CertInfo::from_der(&cert).map_err(|e| format!("{name}: {e}"))?;
        chain.push(cert);
        rest = &rest[len..];
    }
    Ok(chain)
}

/// The length of the DER element at the start of `b` (tag, length, contents).
fn der_length(b: &[u8]) -> Option<usize> {
    let first = *b.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = b.get(2..2 + n)?;
        (
            2 + n,
            bytes
                .iter()
                .fold(0usize, |acc, x| (acc << 8) | usize::from(*x)),
        )
    };
    let total = header.checked_add(len)?;
    (total <= b.len()).then_some(total)
}

/// Traefik: `,`-separated base64 certificates, at most 1 + `length` read (the rest ignored).
fn traefik(value: &str, opts: &ChainOptions) -> Result<Option<Chain>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let mut chain = Vec::new();
    for part in value.split(',').take(1 + opts.length) {
        chain.push(decode_cert(part)?);
    }
    Ok(Some(chain))
}

/// Keycloak's `envoy` lookup: the whole value split at `;` (hop elements are not told
/// apart), `Chain` wins, else the last `Cert`; `Hash` and the rest ignored.
fn xfcc_as_keycloak(value: &str) -> Result<Option<Chain>, String> {
    let mut certs = None;
    for token in value.split(';').filter(|t| !t.is_empty()) {
        let Some((key, v)) = token.split_once('=') else {
            continue;
        };
        let (key, v) = (key.trim(), v.trim());
        if key != "Chain" && key != "Cert" {
            continue;
        }
        let v = match v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) => inner,
            None => v,
        };
        let pem = java_url_decode(v)?;
        // PemUtils.decodeCertificates: split at the END line, each block trimmed, the
        // empty ones dropped, the END line put back.
        let mut chain = Vec::new();
        for block in pem.split("-----END CERTIFICATE-----").map(str::trim) {
            if !block.is_empty() {
                chain.push(decode_cert(&format!("{block}-----END CERTIFICATE-----"))?);
            }
        }
        certs = Some(chain);
        if key == "Chain" {
            break;
        }
    }
    Ok(certs.filter(|c: &Chain| !c.is_empty()))
}

/// RFC 9440 §2.1: a byte sequence (RFC 8941 §3.3.5), `:<base64>:`, of one DER certificate.
fn byte_sequence(v: &str) -> Result<CertificateDer<'static>, String> {
    let inner = v
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix(':'))
        .filter(|_| v.len() >= 2)
        .ok_or("not an RFC 8941 byte sequence (:<base64>:)")?;
    // Java's MIME decoder: characters outside the alphabet are skipped.
    let body: String = inner
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let der = LAX
        .decode(body.as_bytes())
        .map_err(|e| format!("RFC 9440 §2.1: not base64 ({e})"))?;
    let cert = CertificateDer::from(der);
    crate::x509::CertInfo::from_der(&cert)
        .map_err(|e| format!("RFC 9440 §2.1: not a DER certificate ({e})"))?;
    Ok(cert)
}

/// Keycloak 26.7.5 keeps the first `certificate-chain-length` entries of a longer chain
/// (logged, truncated); the strict reading refuses it.
fn rfc9440(
    value: &str,
    headers: &HeaderMap,
    opts: &ChainOptions,
    reading: Reading,
) -> Result<Option<Chain>, String> {
    let mut chain = vec![byte_sequence(value)?];
    let name = opts
        .header
        .clone()
        .unwrap_or_else(|| HeaderName::from_static("client-cert-chain"));
    let mut entries = Vec::new();
    for v in headers.get_all(&name) {
        let v = v
            .to_str()
            .map_err(|_| format!("{name}: not visible ASCII"))?;
        entries.extend(v.split(',').map(str::trim_start));
    }
    if entries.len() > opts.length && reading == Reading::Keycloak {
        entries.truncate(opts.length);
    }
    if entries.len() > opts.length {
        return Err(format!(
            "{name} holds {} certificates, more than certificate-chain-length {}",
            entries.len(),
            opts.length
        ));
    }
    for e in entries {
        chain.push(byte_sequence(e)?);
    }
    Ok(Some(chain))
}

/// How each proxy writes a certificate (the tests compose headers with these; the
/// walkthrough's narration shows them).
pub mod compose {
    use base64::Engine as _;
    use rustls_pki_types::CertificateDer;

    fn b64(der: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    /// HAProxy `%[ssl_c_der,base64]`.
    pub fn haproxy_leaf(der: &CertificateDer<'_>) -> String {
        b64(der)
    }

    /// HAProxy `%[ssl_c_chain_der,base64]`: the chain certificates' DER, concatenated.
    pub fn haproxy_chain(chain: &[&CertificateDer<'_>]) -> String {
        let all: Vec<u8> = chain
            .iter()
            .flat_map(|c| c.as_ref().iter().copied())
            .collect();
        b64(&all)
    }

    /// Apache mod_headers `%{SSL_CLIENT_CERT}s`: the PEM, each line break made a space.
    pub fn apache(pem: &str) -> String {
        pem.replace(['\r', '\n'], " ")
    }

    /// Traefik `X-Forwarded-Tls-Client-Cert`: each certificate's base64, `,`-joined.
    pub fn traefik(chain: &[&CertificateDer<'_>]) -> String {
        chain.iter().map(|c| b64(c)).collect::<Vec<_>>().join(",")
    }

    /// RFC 9440 §2.1 byte sequence.
    pub fn rfc9440(der: &CertificateDer<'_>) -> String {
        format!(":{}:", b64(der))
    }

    /// Envoy's hex SHA-256 of the leaf (`Hash=`).
    pub fn xfcc_hash(der: &CertificateDer<'_>) -> String {
        super::super::sha256_hex(der)
    }
}
