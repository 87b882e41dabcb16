//! Distinguished names as Keycloak compares them (RFC 2253 strings).
//!
//! Keycloak's `X509ClientAuthenticator` in exact mode
//! (`x509.allow.regex.pattern.comparison=false`) parses the configured `x509.subjectdn`
//! with `new X500Principal(dn, customKeywords)`, renders it with
//! `getName(X500Principal.RFC2253, customOids)` and compares that string, with
//! `String.equals`, to the same rendering of the leaf certificate's subject. So:
//! RDNs most-specific first (the reverse of the DER order), no spaces around `,` `+` `=`,
//! keywords upper case, attribute values case-sensitive.
//!
//! This module renders both sides the same way: [`rfc2253_of_der_name`] for a
//! certificate, [`normalize`] for a configured string. It covers the keywords Java knows
//! (`CN C L ST O OU STREET DC UID`) plus the three Keycloak adds (`SERIALNUMBER`,
//! `BUSINESSCATEGORY`, `JURISDICTIONCOUNTRYNAME`); other attributes render as
//! `OID=#hex`, as Java does. A configured `EMAILADDRESS=` is parsed as Java parses it (an
//! IA5String), so it renders `OID=#hex` too and equals the certificate's (lab 9's `email`
//! cell, decided by native Keycloak).
//!
//! The regex mode (`x509.allow.regex.pattern.comparison=true`) matches Java's legacy
//! `X500Name#toString` instead: [`java_legacy`] (", "-separated, quoted values,
//! `EMAILADDRESS`, `OID.<oid>` for the rest). One keyword table serves both renderings and
//! [`crate::pki`]'s DN parser.

use std::fmt;

use x509_parser::der_parser::asn1_rs::{Any, FromDer, Tag, ToDer};
use x509_parser::x509::X509Name;

/// Which renderings know an attribute's keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Java's RFC 2253 keywords and Keycloak's custom ones, and the legacy rendering.
    Both,
    /// RFC 2253 only through Keycloak's custom keywords (the legacy rendering has none).
    Rfc2253,
    /// Only Java's legacy `X500Name#toString` (RFC 2253 renders `OID=#hex`).
    Legacy,
}

/// The one keyword ↔ OID table: Java's RFC 2253 keywords (`CN C L ST O OU STREET DC UID`),
/// the three Keycloak's `X509ClientAuthenticator` passes as custom keywords, and what Java's
/// legacy `X500Name#toString` (the regex mode's input) also names.
const KEYWORDS: &[(&str, &str, Known)] = &[
    ("CN", "2.5.4.3", Known::Both),
    ("C", "2.5.4.6", Known::Both),
    ("L", "2.5.4.7", Known::Both),
    ("ST", "2.5.4.8", Known::Both),
    ("O", "2.5.4.10", Known::Both),
    ("OU", "2.5.4.11", Known::Both),
    ("STREET", "2.5.4.9", Known::Both),
    ("DC", "0.9.2342.19200300.100.1.25", Known::Both),
    ("UID", "0.9.2342.19200300.100.1.1", Known::Both),
    // Keycloak's X509ClientAuthenticator passes these as custom keywords/OIDs.
    ("SERIALNUMBER", "2.5.4.5", Known::Both),
    ("BUSINESSCATEGORY", "2.5.4.15", Known::Rfc2253),
    (
        "JURISDICTIONCOUNTRYNAME",
        "1.3.6.1.4.1.311.60.2.1.3",
        Known::Rfc2253,
    ),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1", Known::Legacy),
];

/// A DN string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a distinguished name ({reason}): {input:?}")]
pub struct DnParseError {
    pub input: String,
    pub reason: &'static str,
}

/// One attribute value: a string, or raw DER (rendered `#hex`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Der(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ava {
    /// Keyword when known (`CN`), else the dotted OID.
    key: String,
    value: Value,
}

/// A distinguished name in RFC 2253 order (most specific RDN first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfc2253Name(Vec<Vec<Ava>>);

impl fmt::Display for Rfc2253Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}=", ava.key)?;
                match &ava.value {
                    Value::Text(s) => f.write_str(&escape(s))?,
                    Value::Der(bytes) => {
                        f.write_str("#")?;
                        for b in bytes {
                            write!(f, "{b:02x}")?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The RFC 2253 keyword of an OID, as Keycloak renders it.
fn keyword_for_oid(oid: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(_, o, known)| *o == oid && *known != Known::Legacy)
        .map(|(k, _, _)| *k)
}

/// The OID of an RFC 2253 keyword (any case), as Keycloak parses it.
pub fn oid_for_keyword(keyword: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(k, _, known)| k.eq_ignore_ascii_case(keyword) && *known != Known::Legacy)
        .map(|(_, o, _)| *o)
}

/// The keyword Java's legacy `X500Name#toString` gives an OID.
fn legacy_keyword_for_oid(oid: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(_, o, known)| *o == oid && *known != Known::Rfc2253)
        .map(|(k, _, _)| *k)
}

/// RFC 2253 §2.4 escaping, as `sun.security.x509.AVA.toRFC2253String` does it.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Renders a certificate name (subject or issuer) as Keycloak/Java's RFC 2253 string.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    to_rfc2253(name).to_string()
}

fn to_rfc2253(name: &X509Name<'_>) -> Rfc2253Name {
    let mut rdns: Vec<Vec<Ava>> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let keyword = keyword_for_oid(&oid);
                    // Java renders values of unknown attributes, and values that are not
                    // strings, as `#` + the hex of their DER encoding.
                    let value = match (keyword, atv.as_str()) {
                        (Some(_), Ok(s)) => Value::Text(s.to_owned()),
                        _ => Value::Der(atv.attr_value().to_der_vec().unwrap_or_default()),
                    };
                    Ava {
                        key: keyword.map(str::to_owned).unwrap_or(oid),
                        value,
                    }
                })
                .collect()
        })
        .collect();
    rdns.reverse();
    Rfc2253Name(rdns)
}

/// The RFC 2253 rendering of a DER-encoded `Name` (as found in a certificate).
pub fn rfc2253_of_der_name(der: &[u8]) -> Result<String, DnParseError> {
    let (_, name) = X509Name::from_der(der).map_err(|_| DnParseError {
        input: format!("{} bytes of DER", der.len()),
        reason: "not a DER Name",
    })?;
    Ok(rfc2253(&name))
}

/// Parses a DN string (RFC 2253, or RFC 1779 with spaces, `;` separators, quoted values,
/// `OID.` prefixes) and renders it the way Keycloak compares it.
///
/// `"cn=client, o=Org"` and `"CN=client,O=Org"` both become `"CN=client,O=Org"`; the
/// order and the case of values are kept, because Keycloak keeps them.
pub fn normalize(input: &str) -> Result<String, DnParseError> {
    parse(input).map(|name| name.to_string())
}

fn parse(input: &str) -> Result<Rfc2253Name, DnParseError> {
    let err = |reason| DnParseError {
        input: input.to_owned(),
        reason,
    };
    let mut rdns = Vec::new();
    let mut rdn = Vec::new();
    let mut chars = input.chars().peekable();
    if input.trim().is_empty() {
        return Err(err("empty"));
    }
    loop {
        // keyword
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(err("an attribute has no '='"));
        }
        let key = key.trim();
        let key = key
            .strip_prefix("OID.")
            .or_else(|| key.strip_prefix("oid."))
            .unwrap_or(key);
        if key.is_empty() {
            return Err(err("an attribute has no type"));
        }
        let key = if key.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            if !key
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(err("malformed OID"));
            }
            keyword_for_oid(key)
                .map(str::to_owned)
                .unwrap_or_else(|| key.to_owned())
        } else if let Some(oid) = oid_for_keyword(key) {
            keyword_for_oid(oid).unwrap_or(key).to_owned()
        } else if let Some(oid) = ia5_keyword_oid(key) {
            oid.to_owned()
        } else {
            return Err(err("unknown attribute keyword"));
        };
        // value
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let value = if chars.peek() == Some(&'#') {
            chars.next();
            let mut hex = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_hexdigit() {
                    hex.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if hex.is_empty() || !hex.len().is_multiple_of(2) {
                return Err(err("malformed #hex value"));
            }
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
                .collect();
            // A DER string value renders as text when its type is known, as Java does.
            match (is_known_keyword(&key), Any::from_der(&bytes)) {
                (true, Ok((_, any))) if is_string_tag(any.tag()) => {
                    Value::Text(String::from_utf8_lossy(any.data).into_owned())
                }
                _ => Value::Der(bytes),
            }
        } else if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => s.push(chars.next().ok_or_else(|| err("dangling '\\'"))?),
                    Some(c) => s.push(c),
                    None => return Err(err("unterminated quoted value")),
                }
            }
            Value::Text(s)
        } else {
            let mut s = String::new();
            let mut trailing_escaped = 0usize;
            while let Some(&c) = chars.peek() {
                if matches!(c, ',' | ';' | '+') {
                    break;
                }
                chars.next();
                if c == '\\' {
                    let next = chars.next().ok_or_else(|| err("dangling '\\'"))?;
                    if next.is_ascii_hexdigit() {
                        let lo = chars.next().ok_or_else(|| err("bad \\hex escape"))?;
                        let byte = u8::from_str_radix(&format!("{next}{lo}"), 16)
                            .map_err(|_| err("bad \\hex escape"))?;
                        s.push(byte as char);
                    } else {
                        s.push(next);
                    }
                    trailing_escaped = s.len();
                } else {
                    s.push(c);
                }
            }
            // Unescaped trailing spaces are not part of the value.
            let keep = s.trim_end().len().max(trailing_escaped);
            s.truncate(keep);
            Value::Text(s)
        };
        // Java encodes an emailAddress given as text as an IA5String, and renders it `#hex`.
        let value = match value {
            Value::Text(s) if key == EMAIL_OID => Value::Der(ia5_string_der(&s)),
            other => other,
        };
        rdn.push(Ava { key, value });
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => {
                rdns.push(std::mem::take(&mut rdn));
                break;
            }
            Some('+') => {}
            Some(',') | Some(';') => rdns.push(std::mem::take(&mut rdn)),
            Some(_) => return Err(err("unexpected character after a value")),
        }
    }
    Ok(Rfc2253Name(rdns))
}

/// PKCS #9 emailAddress.
const EMAIL_OID: &str = "1.2.840.113549.1.9.1";

/// The OID of a keyword Java's `X500Principal(String)` parses although its RFC 2253
/// rendering has no keyword for it (it renders `OID=#hex`): `EMAILADDRESS`, any case, as
/// `openssl -nameopt RFC2253` prints it (`emailAddress=…`; native Keycloak 26.7.5 matched
/// it in lab 9, `client/tests/golden/lab9-keycloak.json`). Java's alias `EMAIL` is left out
/// until a live Keycloak has been asked about it.
fn ia5_keyword_oid(key: &str) -> Option<&'static str> {
    "EMAILADDRESS"
        .eq_ignore_ascii_case(key)
        .then_some(EMAIL_OID)
}

/// The DER of an IA5String holding `s` (Java's `DerValue(tag_IA5String, s)`).
fn ia5_string_der(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut der = vec![0x16];
    match u8::try_from(bytes.len()) {
        Ok(n) if n < 0x80 => der.push(n),
        Ok(n) => der.extend([0x81, n]),
        Err(_) => {
            let n = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            der.push(0x82);
            der.extend(n.to_be_bytes());
        }
    }
    der.extend_from_slice(bytes);
    der
}

fn is_known_keyword(key: &str) -> bool {
    oid_for_keyword(key).is_some()
}

fn is_string_tag(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::T61String | Tag::BmpString
    )
}

/// Java's legacy `X500Name#toString` (what `getSubjectDN().getName()` returns and Keycloak's
/// regex mode matches): RDNs most-specific first, joined by ", ", multi-valued RDNs by " + ",
/// values quoted when they hold special characters, unknown attributes as `OID.<oid>`.
pub fn java_legacy(name: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let key = legacy_keyword_for_oid(&oid)
                        .map(str::to_owned)
                        .unwrap_or(format!("OID.{oid}"));
                    let value = atv.as_str().unwrap_or("").to_owned();
                    let needs_quotes = value.chars().any(|c| {
                        matches!(
                            c,
                            ',' | '+' | '=' | '\n' | '<' | '>' | '#' | ';' | '"' | '\\'
                        )
                    }) || value.starts_with(' ')
                        || value.ends_with(' ');
                    if needs_quotes {
                        format!("{key}=\"{}\"", value.replace('"', "\\\""))
                    } else {
                        format!("{key}={value}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect();
    rdns.reverse();
    rdns.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_spacing_and_keyword_case() {
        assert_eq!(
            normalize("cn=client, o=Org").unwrap(),
            "CN=client,O=Org",
            "spaces around ',' do not matter and keywords are upper-cased"
        );
        assert_eq!(
            normalize("CN = client ; O = Org").unwrap(),
            "CN=client,O=Org"
        );
        assert_eq!(normalize("OID.2.5.4.3=client").unwrap(), "CN=client");
        assert_eq!(normalize("2.5.4.10=Org").unwrap(), "O=Org");
    }

    #[test]
    fn keeps_order_and_value_case() {
        assert_ne!(
            normalize("CN=Client,O=Org").unwrap(),
            normalize("CN=client,O=Org").unwrap()
        );
        assert_ne!(
            normalize("O=Org,CN=client").unwrap(),
            normalize("CN=client,O=Org").unwrap()
        );
    }

    #[test]
    fn handles_escapes_quotes_and_multi_valued_rdns() {
        assert_eq!(
            normalize(r#"CN="Doe, John",O=Org"#).unwrap(),
            r"CN=Doe\, John,O=Org"
        );
        assert_eq!(
            normalize(r"CN=Doe\, John,O=Org").unwrap(),
            r"CN=Doe\, John,O=Org"
        );
        assert_eq!(normalize("CN=a + UID=b,O=Org").unwrap(), "CN=a+UID=b,O=Org");
        assert_eq!(
            normalize("SERIALNUMBER=42,O=Org").unwrap(),
            "SERIALNUMBER=42,O=Org"
        );
    }

    #[test]
    fn email_address_parses_as_java_does_and_renders_by_oid() {
        // `openssl x509 -noout -subject -nameopt RFC2253` prints `emailAddress=`; Java parses
        // it as an IA5String and its RFC 2253 rendering has no keyword for it.
        let want = "1.2.840.113549.1.9.1=#16106c616239406578616d706c652e6f7267,CN=c,O=Org";
        assert_eq!(
            normalize("emailAddress=lab9@example.org,CN=c,O=Org").unwrap(),
            want
        );
        assert_eq!(normalize(want).unwrap(), want);
    }

    #[test]
    fn rejects_garbage() {
        assert!(normalize("").is_err());
        assert!(normalize("just a name").is_err());
        assert!(normalize("FOO=bar").is_err());
    }
}
