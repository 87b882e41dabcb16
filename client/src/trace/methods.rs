//! What each method carried, decoded for the page (`--auth`, `--bind`): the client's
//! credential at the token endpoint (the certificate of `tls_client_auth`, the secret of
//! `client_secret_basic`, the `private_key_jwt` client assertion: RFC 7523 §2.2, its header
//! and claims, the signature shortened as the terminal shortens credentials unless
//! `--show-secrets`), each DPoP proof (RFC 9449 §4.2: `typ`, `jwk`, `htm`, `htu`, `iat`,
//! `jti`, `ath`, the key's RFC 7638 thumbprint), and the token's binding: the certificate's
//! thumbprint beside `cnf.x5t#S256` (RFC 8705 §3.1), the proof key's beside `cnf.jkt`
//! (RFC 9449 §6.1), or no `cnf` at all, said plainly (a bearer token: whoever holds it can
//! use it).

use std::fmt::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use playbook::https::{ConnectionRecord, RequestRecord};
use serde_json::Value;

use super::text::esc;
use crate::output::{pretty, shorten};
use crate::token::{AccessToken, DecodedJwt};

/// A compact JWS decoded: header, claims, and its signature as sent (base64url).
struct Jws {
    jwt: DecodedJwt,
    signature: String,
}

impl Jws {
    fn decode(compact: &str) -> Option<Jws> {
        let jwt = DecodedJwt::decode(&AccessToken::new(compact.to_owned())).ok()?;
        let signature = compact.rsplit('.').next()?.to_owned();
        Some(Jws { jwt, signature })
    }

    /// The signature as the page may show it: shortened as the terminal shortens a
    /// credential (`output::shorten`) unless `--show-secrets`.
    fn signature(&self, show_secrets: bool) -> String {
        if show_secrets {
            self.signature.clone()
        } else {
            shorten(&self.signature)
        }
    }

    fn claim(&self, name: &str) -> Option<&Value> {
        self.jwt.claims.get(name)
    }
}

/// The request's `Authorization` header, split: (scheme, credential).
pub(super) fn authorization(r: &RequestRecord) -> Option<(&str, &str)> {
    r.request_headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.split_once(' '))
}

/// The request's DPoP proof (RFC 9449 §4.1: the `DPoP` header).
fn proof_of(r: &RequestRecord) -> Option<&str> {
    r.request_headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(playbook::rfc9449::HEADER))
        .map(|(_, v)| v.as_str())
}

/// The RFC 7638 thumbprint of the key of the request's DPoP proof.
pub(super) fn proof_jkt(r: &RequestRecord) -> Option<String> {
    let proof = Jws::decode(proof_of(r)?)?;
    playbook::rfc9449::thumbprint_of_json(proof.jwt.header.get("jwk")?).ok()
}

/// A field of the request's form body (a token request's).
fn form_field(r: &RequestRecord, name: &str) -> Option<String> {
    let body = r.request_body.as_deref()?;
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A few words for the diagram's arrow: what the request carried besides itself.
pub(super) fn arrow_note(r: &RequestRecord) -> String {
    let mut parts = Vec::new();
    if form_field(r, "client_assertion").is_some() {
        parts.push("assertion");
    }
    match authorization(r).map(|(scheme, _)| scheme) {
        Some("Basic") => parts.push("secret"),
        Some("DPoP") => parts.push("DPoP token"),
        _ => {}
    }
    if proof_of(r).is_some() {
        parts.push("DPoP proof");
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" · {}", parts.join(" + "))
    }
}

/// Seconds since the epoch as a date, with the number.
fn when(v: Option<&Value>) -> String {
    let Some(secs) = v.and_then(Value::as_i64) else {
        return "—".into();
    };
    let date = time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    format!("{secs} ({date})")
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "— (absent)".into(),
    }
}

/// What the request carried to authenticate the client at the token endpoint, or to prove
/// possession of the token's key: each decoded in a card (`data-carried`).
pub(super) fn carried_html(h: &mut String, r: &RequestRecord, c: &ConnectionRecord, show: bool) {
    let token_request = form_field(r, "grant_type").is_some();
    if token_request {
        if let Some(assertion) = form_field(r, "client_assertion") {
            assertion_html(h, &assertion, show);
        } else if let Some(("Basic", credential)) = authorization(r) {
            secret_html(h, credential, show);
        } else if let Some(cert) = &c.sent_certificate {
            let _ = write!(
                h,
                r#"<div class="card carried" data-carried="tls_client_auth"><h4>client authentication: tls_client_auth (RFC 8705 §2.1)</h4><p>No secret in the request: the client proved itself in TLS #{id}'s handshake, with its certificate <code>{subject}</code> and a CertificateVerify signed by its private key, which never leaves the client. The provider matches the certificate's subject DN with the client's <code>x509.subjectdn</code>.</p></div>"#,
                id = c.id,
                subject = esc(&cert.subject),
            );
        }
    }
    if let Some(proof) = proof_of(r) {
        proof_html(h, r, proof, show);
    }
}

/// `private_key_jwt`: the client assertion decoded.
fn assertion_html(h: &mut String, assertion: &str, show: bool) {
    let Some(a) = Jws::decode(assertion) else {
        let _ = write!(
            h,
            r#"<div class="card carried" data-carried="client_assertion"><h4>client authentication: private_key_jwt</h4><p class="fail">client_assertion is not a JWT: {}</p></div>"#,
            esc(&shorten(assertion))
        );
        return;
    };
    let _ = write!(
        h,
        r#"<div class="card carried" data-carried="client_assertion"><h4>client authentication: private_key_jwt (RFC 7523 §2.2), the client assertion decoded</h4><div class="grid"><pre>{header}</pre><pre>{claims}</pre></div><table class="kv">
<tr><td>iss, sub</td><td>{iss}, {sub}: the client speaks for itself (both its client id)</td></tr>
<tr><td>aud</td><td>{aud}: the provider it is meant for; another provider refuses it</td></tr>
<tr><td>jti</td><td>{jti}: used once; the provider refuses it a second time (“Token reuse detected”)</td></tr>
<tr><td>exp</td><td>{exp}: refused after this</td></tr>
<tr><td>signature ({alg})</td><td class="thumb">{sig}</td></tr>
</table><p>No secret crosses the wire: the provider checks the signature with the public key it holds for this client (its registered certificate or JWKS). A copied assertion is refused a second time and after <code>exp</code>; a thief needs the private key to sign new ones. The token it gets is not bound unless DPoP binds it.</p></div>"#,
        header = esc(&pretty(&a.jwt.header)),
        claims = esc(&pretty(&a.jwt.claims)),
        iss = esc(&text_of(a.claim("iss"))),
        sub = esc(&text_of(a.claim("sub"))),
        aud = esc(&text_of(a.claim("aud"))),
        jti = esc(&text_of(a.claim("jti"))),
        exp = esc(&when(a.claim("exp"))),
        alg = esc(&text_of(a.jwt.header.get("alg"))),
        sig = esc(&a.signature(show)),
    );
}

/// `client_secret_basic`: the client id and the secret in `Authorization: Basic`.
fn secret_html(h: &mut String, credential: &str, show: bool) {
    let decoded = STANDARD
        .decode(credential)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let (id, secret) = decoded.split_once(':').unwrap_or(("?", ""));
    let secret = if show {
        secret.to_owned()
    } else {
        shorten(secret)
    };
    let _ = write!(
        h,
        r#"<div class="card carried" data-carried="client_secret_basic"><h4>client authentication: client_secret_basic (RFC 6749 §2.3.1)</h4><table class="kv"><tr><td>client id</td><td>{id}</td></tr><tr><td>secret</td><td>{secret}</td></tr></table><p>The secret itself crosses the wire in every token request (base64 is no encryption: only TLS protects it). It works from any machine: whoever reads it once gets tokens until it is changed.</p></div>"#,
        id = esc(id),
        secret = esc(&secret),
    );
}

/// A DPoP proof decoded, with what the request it rides on says of it.
fn proof_html(h: &mut String, r: &RequestRecord, proof: &str, show: bool) {
    let Some(p) = Jws::decode(proof) else {
        let _ = write!(
            h,
            r#"<div class="card carried" data-carried="dpop_proof"><h4>DPoP proof</h4><p class="fail">not a JWT: {}</p></div>"#,
            esc(&shorten(proof))
        );
        return;
    };
    let jkt = p
        .jwt
        .header
        .get("jwk")
        .and_then(|k| playbook::rfc9449::thumbprint_of_json(k).ok())
        .unwrap_or_else(|| "— (no usable jwk)".into());
    let check = |ok: bool, yes: &str, no: &str| {
        if ok {
            format!("✔ {yes}")
        } else {
            format!("✘ {no}")
        }
    };
    let htm = check(
        p.claim("htm").and_then(Value::as_str) == Some(r.method.as_str()),
        "the request's method",
        "not the request's method",
    );
    let url = r.url.split(['?', '#']).next().unwrap_or(&r.url);
    let htu = check(
        p.claim("htu").and_then(Value::as_str) == Some(url),
        "the URL the client called (behind a proxy, the proxy's)",
        "not the URL the client called",
    );
    let token = authorization(r)
        .filter(|(scheme, _)| *scheme == playbook::rfc9449::SCHEME)
        .map(|(_, t)| t);
    let ath = match (p.claim("ath").and_then(Value::as_str), token) {
        (Some(a), Some(t)) => check(
            a == playbook::rfc9449::ath(t),
            "SHA-256 of the access token sent with it: the proof is for this token only",
            "not the SHA-256 of the access token sent with it",
        ),
        (None, None) => "— none: no access token on this request (the token endpoint)".into(),
        (Some(_), None) => "✘ an ath, but no DPoP access token on this request".into(),
        (None, Some(_)) => "✘ missing: the resource server refuses the proof".into(),
    };
    let _ = write!(
        h,
        r#"<div class="card carried" data-carried="dpop_proof"><h4>DPoP proof (RFC 9449 §4.2), decoded: header <code>DPoP</code> of this request</h4><div class="grid"><pre>{header}</pre><pre>{claims}</pre></div><table class="kv">
<tr><td>typ</td><td>{typ}</td></tr>
<tr><td>jwk thumbprint (RFC 7638)</td><td class="thumb" data-jkt="{jkt}">{jkt}</td></tr>
<tr><td>htm</td><td>{htm_v}: {htm}</td></tr>
<tr><td>htu</td><td>{htu_v}: {htu}</td></tr>
<tr><td>iat</td><td>{iat}: live for seconds only (Keycloak: 10 s and 15 s of clock skew)</td></tr>
<tr><td>jti</td><td>{jti}: each server refuses it a second time (its own replay cache)</td></tr>
<tr><td>ath</td><td>{ath}</td></tr>
<tr><td>signature ({alg})</td><td class="thumb">{sig}</td></tr>
</table><p>Signed with a key only the client holds, made for this run; the public key travels in the proof's header. A stolen proof is of use for one method and URL, for seconds, once per server.</p></div>"#,
        header = esc(&pretty(&p.jwt.header)),
        claims = esc(&pretty(&p.jwt.claims)),
        typ = esc(&text_of(p.jwt.header.get("typ"))),
        jkt = esc(&jkt),
        htm_v = esc(&text_of(p.claim("htm"))),
        htm = esc(&htm),
        htu_v = esc(&text_of(p.claim("htu"))),
        htu = esc(&htu),
        iat = esc(&when(p.claim("iat"))),
        jti = esc(&text_of(p.claim("jti"))),
        ath = esc(&ath),
        alg = esc(&text_of(p.jwt.header.get("alg"))),
        sig = esc(&p.signature(show)),
    );
}

/// The token's binding drawn: RFC 8705 §3.1 (the certificate's thumbprint beside
/// `cnf.x5t#S256`), RFC 9449 §6.1 (the proof key's thumbprint beside `cnf.jkt`), or none.
pub(super) fn binding_html(
    h: &mut String,
    jwt: &DecodedJwt,
    c: &ConnectionRecord,
    proof_jkt: Option<&str>,
    role: &str,
) {
    let claim = |p: &str| jwt.claims.pointer(p).and_then(Value::as_str);
    let (x5t, jkt) = (claim("/cnf/x5t#S256"), claim("/cnf/jkt"));
    if x5t.is_none() && jkt.is_none() {
        let exp = when(jwt.claims.get("exp"));
        let _ = write!(
            h,
            r#"<div class="binding unbound" data-binding="none"><div><b>token cnf</b><br><span class="thumb">— none</span></div><div class="link">∅</div><div><b>bound to</b><br>nothing: a bearer token</div></div><p class="verdict fail">Not sender-constrained: the token has no <code>cnf</code>. Whoever holds a copy (a log line, a proxy, a thief) can call the API with it from any machine until it expires (exp {}).</p>"#,
            esc(&exp)
        );
        return;
    }
    if let Some(x5t) = x5t {
        let pair = Pair {
            member: "x5t#S256",
            left: format!("certificate on TLS #{}", c.id),
            left_what: "x5t#S256 (SHA-256 of its DER)",
            proved: c.sent_certificate.as_ref().map(|s| s.x5t_s256.as_str()),
            not_proved: "— none sent",
            named: x5t,
            issued: "equal: the provider bound the token to the certificate of this connection",
            presented: "equal: the resource server accepts the binding (RFC 8705 §3)",
            differs: "different: the token is bound to another certificate; the resource server answers 401 invalid_token",
            absent: "no certificate on this connection to compare with",
        };
        pair.html(h, role);
    }
    if let Some(jkt) = jkt {
        let pair = Pair {
            member: "jkt",
            left: "DPoP proof's key".into(),
            left_what: "RFC 7638 thumbprint of its jwk",
            proved: proof_jkt,
            not_proved: "— no proof sent",
            named: jkt,
            issued: "equal: the provider bound the token to the key of this request's DPoP proof (token_type DPoP)",
            presented: "equal: the resource server accepts the binding, with a valid proof (RFC 9449 §7: htm, htu, iat, ath, jti)",
            differs: "different: the proof is signed by another key; the resource server answers 401 invalid_dpop_proof",
            absent: "no DPoP proof on this request: a DPoP-bound token is refused without a proof of its key",
        };
        pair.html(h, role);
    }
}

/// One binding drawn: what the request proved (`left`: a thumbprint) beside what the token
/// names (`cnf.<member>`), and the words for each outcome.
struct Pair<'a> {
    member: &'static str,
    left: String,
    left_what: &'static str,
    proved: Option<&'a str>,
    not_proved: &'static str,
    named: &'a str,
    /// Equal, in the answer that issued the token.
    issued: &'static str,
    /// Equal, on a request presenting it.
    presented: &'static str,
    differs: &'static str,
    /// Nothing proved on this request.
    absent: &'static str,
}

impl Pair<'_> {
    fn html(&self, h: &mut String, role: &str) {
        let (matched, says) = match self.proved {
            Some(p) if p == self.named => (
                true,
                if role == "issued" {
                    self.issued
                } else {
                    self.presented
                },
            ),
            Some(_) => (false, self.differs),
            None => (false, self.absent),
        };
        let (class, link, pass) = if matched {
            ("match", "⟷ ✔", "pass")
        } else {
            ("mismatch", "≠ ✘", "fail")
        };
        let _ = write!(
            h,
            r#"<div class="binding {class}" data-binding="{member}"><div><b>{left}</b><br>{left_what}<br><span class="thumb">{proved}</span></div><div class="link">{link}</div><div><b>token cnf.{member}</b><br><span class="thumb">{named}</span></div></div><p class="verdict {pass}">{says}</p>"#,
            member = esc(self.member),
            left = esc(&self.left),
            left_what = esc(self.left_what),
            proved = esc(self.proved.unwrap_or(self.not_proved)),
            named = esc(self.named),
            says = esc(says),
        );
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    #[test]
    fn a_signature_is_shortened_unless_shown() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"dpop+jwt"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"htm":"GET","jti":"j"}"#);
        let jws = Jws::decode(&format!("{header}.{claims}.c2lnbmF0dXJlLXNpZ25hdHVyZQ")).unwrap();
        assert_eq!(jws.signature(false), "[redacted, 26 chars]");
        assert_eq!(jws.signature(true), "c2lnbmF0dXJlLXNpZ25hdHVyZQ");
        assert_eq!(jws.claim("htm"), Some(&Value::from("GET")));
    }
}
