//! The page around the diagram: the run's outcome, each part of the run with the
//! walkthrough's expected and actual outcome (its reasons for each refusal), each exchange
//! with the TLS connection it went over (what the handshake carried), its request and
//! answer (credentials shortened unless `--show-secrets`), tokens decoded with the RFC 8705
//! binding drawn (the certificate's thumbprint beside `cnf.x5t#S256`), and the certificates.

use std::fmt::Write;

use base64::Engine;
use playbook::https::ConnectionRecord;
use playbook::x509::CertInfo;
use serde_json::Value;

use super::model::{Exchange, Failed, Part, Trace};
use super::text::{body, esc, header_value, ms};
use super::{diagram, methods};
use crate::output::pretty;
use crate::token::{AccessToken, DecodedJwt};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// `'sha256-…'` of an inline script or style, for the Content-Security-Policy.
fn csp_hash(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

/// The policy: nothing from anywhere (`default-src 'none'`), but the page's own style and
/// script (by hash) and inline SVG.
pub(super) fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

pub(super) fn render(t: &Trace) -> String {
    let mut h = String::new();
    let passed = t.report.steps.iter().filter(|s| s.passed).count();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style></head>
<body data-ready="0"><header>
<h1>{title}</h1>
<p class="summary" id="summary">{passed} of {total} steps behaved as expected.</p>{methods}
<p class="meta">provider (issuer) <code>{issuer}</code> · resource server <code>{rs}</code>{proxy} · recorded {generated}</p>
<p class="meta">Every arrow is a request the client sent, with its real status and time; dashed arrows are <span class="inferred-note">inferred</span> (what the client cannot see). {secrets} <button id="expand-all" type="button">Open every exchange</button></p>
</header><main>
<div class="figure">{diagram}</div>
"#,
        csp = content_security_policy(), // ours: no quote or markup to escape
        title = esc(&match &t.command {
            Some(line) => format!("{line}, traced"),
            None => "RFC 8705 mutual-TLS client credentials, traced".to_owned(),
        }),
        methods = t
            .methods
            .as_ref()
            .map(|m| format!(r#"<p class="meta" id="methods">{}</p>"#, esc(m)))
            .unwrap_or_default(),
        total = t.report.steps.len(),
        issuer = esc(t.issuer.as_str()),
        rs = esc(t.resource_server.as_str()),
        proxy = if t.proxy == crate::settings::Proxy::None {
            String::new()
        } else {
            format!(
                " · behind the proxy ({})",
                super::model::proxy_name(t.proxy)
            )
        },
        generated = esc(&t.generated),
        secrets = if t.show_secrets {
            "Secrets and tokens are shown whole (--show-secrets): do not share this page."
        } else {
            "Secrets and tokens are shortened as the terminal shortens them (--show-secrets shows them)."
        },
        diagram = diagram::render(t),
    );
    for part in &t.parts {
        part_html(&mut h, part, t.show_secrets);
    }
    certificates_html(&mut h, &t.certificates);
    let _ = write!(
        h,
        r#"</main><footer><p class="meta">Written by <code>{by} --html</code>. The page loads nothing: its style and script are inline, and its Content-Security-Policy forbids every other load.</p></footer>
<script>{SCRIPT}</script></body></html>
"#,
        by = esc(t.command.as_deref().unwrap_or("client walkthrough")),
    );
    h
}

fn part_html(h: &mut String, part: &Part, show_secrets: bool) {
    let _ = write!(
        h,
        r#"<section class="part" id="part-{id}" data-part="{id}"><h2>{title}</h2>"#,
        id = esc(&part.id),
        title = esc(&part.title)
    );
    if let Some(step) = &part.step {
        let (class, mark) = if step.passed {
            ("pass", "✔ as expected")
        } else {
            ("fail", "✘ NOT as expected")
        };
        let _ = write!(
            h,
            r#"<p class="verdict">expected: {}<br><span class="{class}">{mark}: {}</span></p>"#,
            esc(&step.expected),
            esc(&step.actual)
        );
    }
    // Admin API traffic before and after the steps stays folded; the steps' are open.
    let open = part.step.is_some();
    for f in &part.failed {
        failed_html(h, f, open);
    }
    for e in &part.exchanges {
        exchange_html(h, e, open, show_secrets);
    }
    h.push_str("</section>\n");
}

fn failed_html(h: &mut String, f: &Failed, open: bool) {
    let _ = write!(
        h,
        r#"<details class="exchange" id="conn-{id}"{open}><summary>TLS #{id} to the {peer} <span class="status failed">{why}</span></summary>"#,
        id = f.connection.id,
        open = if open { " open" } else { "" },
        peer = f.tls_peer.label(),
        why = esc(&diagram::failure(&f.connection)),
    );
    connection_html(h, &f.connection);
    h.push_str("</details>");
}

fn exchange_html(h: &mut String, e: &Exchange, open: bool, show_secrets: bool) {
    let r = &e.request;
    let (class, outcome) = diagram::outcome(e);
    let _ = write!(
        h,
        r#"<details class="exchange" id="x-{c}-{i}"{open}><summary>{method} <code>{url}</code> → <span class="status {class}">{outcome}</span></summary>"#,
        c = e.connection.id,
        i = e.index,
        open = if open { " open" } else { "" },
        method = esc(&r.method),
        url = esc(&r.url),
        outcome = esc(&outcome),
    );
    if e.new_connection {
        connection_html(h, &e.connection);
    } else {
        let _ = write!(
            h,
            r##"<p class="meta">over <a href="#conn-{id}">TLS #{id}</a>, kept alive (no new handshake)</p>"##,
            id = e.connection.id
        );
    }
    if e.tls_peer != e.target {
        let _ = write!(
            h,
            r#"<p class="inferred-note">The {} forwards this to the {} (inferred: the client sees only the proxy).</p>"#,
            e.tls_peer.label(),
            e.target.label()
        );
    }
    h.push_str(r#"<div class="grid"><div><h4>sent</h4><pre>"#);
    let mut sent = format!("{} {}\n", r.method, r.url);
    for (k, v) in &r.request_headers {
        let _ = writeln!(sent, "{k}: {}", header_value(k, v, show_secrets));
    }
    if let Some(b) = &r.request_body {
        let _ = write!(sent, "\n{}", body(b, show_secrets));
    }
    h.push_str(&esc(&sent));
    h.push_str(r#"</pre></div><div><h4>answered</h4><pre>"#);
    let mut answer = match r.status {
        Some(s) => format!(
            "{s} · head after {} · body after {}\n",
            ms(r.until_head),
            r.until_body.map(ms).unwrap_or_else(|| "—".into())
        ),
        None => format!(
            "no answer: {}\n",
            r.error.as_deref().unwrap_or("the connection failed")
        ),
    };
    for (k, v) in &r.response_headers {
        let _ = writeln!(answer, "{k}: {v}");
    }
    if let Some(b) = &r.response_body {
        let _ = write!(answer, "\n{}", body(b, show_secrets));
    }
    h.push_str(&esc(&answer));
    h.push_str("</pre></div></div>");
    // The admin API's own credentials and tokens: not the lesson.
    if !is_admin(&r.url) {
        methods::carried_html(h, r, &e.connection, show_secrets);
        tokens_html(h, e);
    }
    h.push_str("</details>\n");
}

/// What the TLS connection carried, as far as the client can see it.
fn connection_html(h: &mut String, c: &ConnectionRecord) {
    let opt = |d: Option<std::time::Duration>| d.map(ms).unwrap_or_else(|| "—".into());
    let request = match &c.certificate_request {
        None => "none: the server did not ask for a client certificate".to_owned(),
        Some(r) => {
            let names = if r.ca_names.is_empty() {
                "none listed (any CA; the server decides after it sees the certificate)".to_owned()
            } else {
                format!("{} listed:\n{}", r.ca_names.len(), r.ca_names.join("\n"))
            };
            format!(
                "CA names: {names}\nsignature schemes: {}",
                r.signature_schemes.join(", ")
            )
        }
    };
    // Is the issuer of the certificate sent among the CA names the server listed? (A Java
    // server lists its whole truststore, the JDK's CAs included.)
    let listed = match (&c.certificate_request, &c.sent_certificate) {
        (Some(r), Some(cert)) if !r.ca_names.is_empty() => {
            if r.ca_names.contains(&cert.issuer) {
                format!("✔ its issuer {} is among the CA names listed", cert.issuer)
            } else {
                format!(
                    "✘ its issuer {} is not among the CA names listed",
                    cert.issuer
                )
            }
        }
        _ => String::new(),
    };
    let sent = match (&c.certificate_request, &c.sent_certificate) {
        (None, _) => "— (not asked)".to_owned(),
        (Some(_), None) => "none (an empty Certificate message)".to_owned(),
        (Some(_), Some(cert)) => format!(
            "{}\nissuer {}\nx5t#S256 {}",
            cert.subject, cert.issuer, cert.x5t_s256
        ),
    };
    let alert = c
        .alert
        .as_ref()
        .map(|a| format!("{} (sent by the {})", a.description, a.from))
        .unwrap_or_else(|| "none".into());
    let _ = write!(
        h,
        r#"<div class="card tls-card" id="conn-{id}" data-connection="{id}"><h4>TLS connection #{id} to {server}{identity}</h4><table class="kv">
<tr><td>TCP connect</td><td>{tcp}</td></tr><tr><td>handshake</td><td>{hs} ({kind})</td></tr>
<tr><td>protocol, cipher suite</td><td>{proto}, {suite}</td></tr>
<tr><td>CertificateRequest</td><td><details{fold}><summary>{head}</summary><pre>{request}</pre></details></td></tr>
<tr><td>certificate sent</td><td><pre>{sent}</pre>{listed}</td></tr>
<tr><td>alert</td><td>{alert}</td></tr><tr><td>bytes</td><td>{w} written, {r} read (TLS records, handshake included)</td></tr>{error}
</table></div>"#,
        id = c.id,
        server = esc(&c.server),
        identity = c
            .identity
            .as_ref()
            .map(|i| format!(", client holding {}", esc(i)))
            .unwrap_or_else(|| ", no client certificate".into()),
        tcp = opt(c.tcp_connect),
        hs = opt(c.handshake),
        kind = esc(c.handshake_kind.as_deref().unwrap_or("—")),
        proto = esc(c.protocol.as_deref().unwrap_or("—")),
        suite = esc(c.cipher_suite.as_deref().unwrap_or("—")),
        // A long list (a JVM's truststore) stays folded.
        fold = if c
            .certificate_request
            .as_ref()
            .is_some_and(|r| r.ca_names.len() > 8)
        {
            ""
        } else {
            " open"
        },
        head = match &c.certificate_request {
            None => "not sent".to_owned(),
            Some(r) => format!(
                "sent: {} CA name{}, {} signature schemes",
                r.ca_names.len(),
                if r.ca_names.len() == 1 { "" } else { "s" },
                r.signature_schemes.len()
            ),
        },
        request = esc(&request),
        sent = esc(&sent),
        listed = esc(&listed),
        alert = esc(&alert),
        w = c.bytes_written,
        r = c.bytes_read,
        error = c
            .error
            .as_ref()
            .map(|e| format!("<tr><td>error</td><td>{}</td></tr>", esc(e)))
            .unwrap_or_default(),
    );
}

/// A request of the admin API (or the master realm's login for it).
fn is_admin(url: &str) -> bool {
    url.contains("/admin/") || url.contains("/realms/master/")
}

/// A token the answer carries, or the token the request sent (`Authorization: Bearer` or
/// `DPoP`): decoded, with its binding drawn (`methods::binding_html`).
fn tokens_html(h: &mut String, e: &Exchange) {
    let r = &e.request;
    let answer = r
        .response_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok());
    let issued = answer
        .as_ref()
        .and_then(|j| j.get("access_token")?.as_str().map(str::to_owned));
    let token_type = answer
        .as_ref()
        .and_then(|j| j.get("token_type")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "—".into());
    let presented = methods::authorization(r)
        .filter(|(scheme, _)| matches!(*scheme, "Bearer" | "DPoP"))
        .map(|(scheme, t)| (scheme.to_owned(), t.to_owned()));
    let proof_jkt = methods::proof_jkt(r);
    let tokens = [
        issued.map(|t| (t, "issued", format!("issued (token_type: {token_type})"))),
        presented.map(|(scheme, t)| {
            (
                t,
                "presented",
                format!("presented (Authorization: {scheme})"),
            )
        }),
    ];
    for (token, role, what) in tokens.into_iter().flatten() {
        let Ok(jwt) = DecodedJwt::decode(&AccessToken::new(token)) else {
            continue;
        };
        let _ = write!(
            h,
            r#"<div class="card token" data-token="{role}"><h4>the access token {what}, decoded (header and claims; the signature is not shown)</h4><div class="grid"><pre>{header}</pre><pre>{claims}</pre></div>"#,
            what = esc(&what),
            header = esc(&pretty(&jwt.header)),
            claims = esc(&pretty(&jwt.claims)),
        );
        methods::binding_html(h, &jwt, &e.connection, proof_jkt.as_deref(), role);
        h.push_str("</div>");
    }
}

fn certificates_html(h: &mut String, certs: &[(String, String, CertInfo)]) {
    h.push_str(
        r#"<section class="part" id="certificates"><h2>The certificates</h2><div class="grid">"#,
    );
    for (what, file, c) in certs {
        let _ = write!(
            h,
            r#"<div class="card cert"><h4>{file}: {what}</h4><table class="kv"><tr><td>subject</td><td>{subject}</td></tr><tr><td>issuer</td><td>{issuer}</td></tr><tr><td>serial</td><td>{serial}</td></tr><tr><td>valid</td><td>{from} to {to}</td></tr><tr><td>key</td><td>{key}</td></tr><tr><td>extended key usage</td><td>{eku}</td></tr><tr><td>x5t#S256</td><td class="thumb">{thumb}</td></tr></table></div>"#,
            file = esc(file),
            what = esc(what),
            subject = esc(&c.subject),
            issuer = esc(&c.issuer),
            serial = esc(&c.serial),
            from = c.not_before.date(),
            to = c.not_after.date(),
            key = esc(&c.public_key),
            eku = esc(&if c.is_ca {
                "— (a CA)".to_owned()
            } else {
                c.extended_key_usage.join(", ")
            }),
            thumb = esc(&c.x5t_s256),
        );
    }
    h.push_str("</div></section>\n");
}
