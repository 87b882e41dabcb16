//! The sequence diagram: one lane per party, one row per arrow, every arrow a recorded
//! exchange (its status and time), each new TLS connection noted where it was made. What
//! the client cannot see is drawn dashed and labelled "inferred": the resource server's
//! discovery and JWKS fetches (on the first token it validates), and behind a proxy the
//! hop to the back end. Each arrow links to its exchange's details on the page.

use std::fmt::Write;

use serde_json::Value;

use super::model::{Exchange, Failed, Lane, Part, Trace};
use super::text::{esc, ms};

const LEFT: usize = 110;
const GAP: usize = 250;
const TOP: usize = 64;
const BAND: usize = 30;
const ROW: usize = 26;
/// Stands for the bands' width until the diagram's width is known.
const BAND_WIDTH: &str = "@band-width@";

/// One thing that happened in a part, in time order.
enum Event<'a> {
    Exchange(&'a Exchange),
    Failed(&'a Failed),
}

fn events(part: &Part) -> Vec<Event<'_>> {
    let mut events: Vec<(std::time::Duration, Event<'_>)> = part
        .exchanges
        .iter()
        .map(|e| (e.request.started, Event::Exchange(e)))
        .chain(
            part.failed
                .iter()
                .map(|f| (f.connection.started, Event::Failed(f))),
        )
        .collect();
    events.sort_by_key(|(at, _)| *at);
    events.into_iter().map(|(_, e)| e).collect()
}

/// The error code an answer carries: RFC 6749 §5.2 `error` in its JSON body, or RFC 6750
/// §3 `error="…"` in `WWW-Authenticate`.
pub(super) fn error_code(e: &Exchange) -> Option<String> {
    let from_body = e
        .request
        .response_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|j| j.get("error").and_then(Value::as_str).map(str::to_owned));
    from_body.or_else(|| {
        let challenge = e
            .request
            .response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))?;
        let (_, rest) = challenge.1.split_once("error=\"")?;
        rest.split('"').next().map(str::to_owned)
    })
}

/// What came back, in a few words, and how it is drawn: `ok` (2xx), `refused` (an HTTP
/// refusal), `failed` (no answer: a TLS alert, a reset).
pub(super) fn outcome(e: &Exchange) -> (&'static str, String) {
    let r = &e.request;
    match r.status {
        Some(status) => {
            let code = error_code(e).map(|c| format!(" {c}")).unwrap_or_default();
            let class = if (200..300).contains(&status) {
                "ok"
            } else {
                "refused"
            };
            (class, format!("{status}{code} · {}", ms(r.until_head)))
        }
        None => ("failed", failure(&e.connection)),
    }
}

/// Why a connection gave no answer, in a few words.
pub(super) fn failure(c: &playbook::https::ConnectionRecord) -> String {
    match (&c.alert, c.tcp_connect) {
        (Some(a), _) => format!("✘ TLS alert {} (from the {})", a.description, a.from),
        (None, None) => "✘ no TCP connection".to_owned(),
        (None, Some(_)) if c.handshake.is_none() => "✘ handshake failed".to_owned(),
        _ => "✘ no answer".to_owned(),
    }
}

/// The path of a URL, shortened to `room` characters for an arrow's label.
fn short_path(url: &str, room: usize) -> String {
    let path = url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| url.to_owned());
    if path.chars().count() <= room {
        path
    } else {
        let tail: String = path
            .chars()
            .rev()
            .take(room - 2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // From a segment's start: `…/openid-connect/token`, not `…l/openid-connect/token`.
        let tail = tail.find('/').map_or(tail.as_str(), |i| &tail[i..]);
        format!("…{tail}")
    }
}

struct Canvas<'a> {
    lanes: &'a [Lane],
    y: usize,
    svg: String,
    /// The right end of the widest note so far.
    right: usize,
}

impl Canvas<'_> {
    fn x(&self, lane: Lane) -> usize {
        let i = self.lanes.iter().position(|l| *l == lane).unwrap_or(0);
        LEFT + i * GAP
    }

    fn width(&self) -> usize {
        (LEFT * 2 + (self.lanes.len() - 1) * GAP).max(self.right + 8)
    }

    /// An arrow from `from` to `to` on the current row, labelled above.
    fn arrow(&mut self, from: Lane, to: Lane, class: &str, label: &str) {
        let (x1, x2) = (self.x(from), self.x(to));
        let y = self.y + ROW - 8;
        // About 6.4 px per character at 12 px: a long label is moved right rather than cut
        // off at the diagram's left edge.
        let half = (label.chars().count() as f64 * 3.2) as usize + 4;
        let (tx, anchor) = (((x1 + x2) / 2).max(half), "middle");
        let _ = write!(
            self.svg,
            r#"<line class="arrow {class}" x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" marker-end="url(#head-{class})"/><text class="label {class}" x="{tx}" y="{}" text-anchor="{anchor}">{}</text>"#,
            y - 5,
            esc(label)
        );
        self.y += ROW;
    }

    /// A note from `from`'s lane rightwards, at least to `to`'s, wide enough for its text:
    /// the TLS connection made on this row.
    fn note(&mut self, from: Lane, to: Lane, text: &str) {
        let x1 = self.x(from).min(self.x(to)) - 20;
        // About 6.2 px per character at 11 px; the box never ends before `to`'s lane.
        let wide = (text.chars().count() as f64 * 6.2) as usize + 16;
        let width = wide.max(self.x(from).max(self.x(to)) + 20 - x1);
        self.right = self.right.max(x1 + width);
        let y = self.y + 3;
        let _ = write!(
            self.svg,
            r#"<rect class="tls" x="{x1}" y="{y}" width="{width}" height="16" rx="4"/><text class="tls-text" x="{}" y="{}">{}</text>"#,
            x1 + 8,
            y + 12,
            esc(text)
        );
        self.y += 22;
    }
}

/// A new connection's note: its number, protocol, handshake time, and whether the server
/// asked for a certificate.
fn tls_note(c: &playbook::https::ConnectionRecord) -> String {
    let asked = match &c.certificate_request {
        None => "no CertificateRequest".to_owned(),
        Some(r) if r.ca_names.is_empty() => "CertificateRequest (no CA names)".to_owned(),
        Some(r) if r.ca_names.len() == 1 => "CertificateRequest (1 CA name)".to_owned(),
        Some(r) => format!("CertificateRequest ({} CA names)", r.ca_names.len()),
    };
    let sent = match (&c.certificate_request, &c.sent_certificate) {
        (Some(_), Some(cert)) => format!(" · sent {}", first_rdn(&cert.subject)),
        (Some(_), None) => " · sent none".to_owned(),
        (None, _) => String::new(),
    };
    format!(
        "TLS #{} {} · handshake {} · {asked}{sent}",
        c.id,
        c.protocol.as_deref().unwrap_or("?"),
        c.handshake.map(ms).unwrap_or_else(|| "—".into()),
    )
}

fn first_rdn(dn: &str) -> &str {
    dn.split(',').next().unwrap_or(dn)
}

/// The whole diagram, an inline SVG.
pub(super) fn render(trace: &Trace) -> String {
    let mut c = Canvas {
        lanes: &trace.lanes,
        y: TOP,
        svg: String::new(),
        right: 0,
    };
    let mut jwks_drawn = false;
    for part in &trace.parts {
        if part.exchanges.is_empty() && part.failed.is_empty() && part.step.is_none() {
            continue;
        }
        let verdict = match &part.step {
            Some(s) if s.passed => " ✔",
            Some(_) => " ✘",
            None => "",
        };
        let _ = write!(
            c.svg,
            r##"<a href="#part-{id}"><rect class="band" x="4" y="{}" width="{BAND_WIDTH}" height="{}" rx="3"/><text class="band-text" x="12" y="{}">{}{verdict}</text></a>"##,
            c.y + 4,
            BAND - 8,
            c.y + 20,
            esc(&part.title),
            id = esc(&part.id),
        );
        c.y += BAND;
        for event in events(part) {
            match event {
                Event::Failed(f) => {
                    let _ = write!(c.svg, r##"<a href="#conn-{}">"##, f.connection.id);
                    c.note(Lane::Client, f.tls_peer, &tls_note(&f.connection));
                    c.arrow(Lane::Client, f.tls_peer, "failed", &failure(&f.connection));
                    c.svg.push_str("</a>");
                }
                Event::Exchange(e) => {
                    let _ = write!(
                        c.svg,
                        r##"<a href="#x-{}-{}"><title>{} {}</title>"##,
                        e.connection.id,
                        e.index,
                        esc(&e.request.method),
                        esc(&e.request.url)
                    );
                    if e.new_connection {
                        c.note(Lane::Client, e.tls_peer, &tls_note(&e.connection));
                    }
                    let note = super::methods::arrow_note(&e.request);
                    let room = 46usize.saturating_sub(note.chars().count()).max(24);
                    let label = format!(
                        "{} {}{note}",
                        e.request.method,
                        short_path(&e.request.url, room),
                    );
                    c.arrow(Lane::Client, e.tls_peer, "request", &label);
                    let answered = e.request.status.is_some();
                    if answered && e.tls_peer != e.target {
                        c.arrow(e.tls_peer, e.target, "inferred", "forwarded (inferred)");
                    }
                    if answered
                        && !jwks_drawn
                        && e.target == Lane::ResourceServer
                        && e.request.status != Some(400)
                        && e.request.request_headers.iter().any(|(k, v)| {
                            k.eq_ignore_ascii_case("authorization")
                                && (v.starts_with("Bearer ") || v.starts_with("DPoP "))
                        })
                    {
                        jwks_drawn = true;
                        c.arrow(
                            Lane::ResourceServer,
                            Lane::Provider,
                            "inferred",
                            "GET discovery, JWKS (inferred: its first token)",
                        );
                        c.arrow(Lane::Provider, Lane::ResourceServer, "inferred", "keys");
                    }
                    if answered && e.tls_peer != e.target {
                        c.arrow(e.target, e.tls_peer, "inferred", "answer (inferred)");
                    }
                    let (class, text) = outcome(e);
                    c.arrow(e.tls_peer, Lane::Client, class, &text);
                    c.svg.push_str("</a>");
                }
            }
        }
    }
    let height = c.y + 16;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="diagram" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" role="img" aria-label="sequence diagram of the run"><defs>"#,
        w = c.width()
    );
    for class in ["request", "ok", "refused", "failed", "inferred"] {
        let _ = write!(
            svg,
            r#"<marker id="head-{class}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="head {class}" d="M0,0 L10,5 L0,10 z"/></marker>"#
        );
    }
    svg.push_str("</defs>");
    for lane in c.lanes {
        let x = c.x(*lane);
        let _ = write!(
            svg,
            r#"<line class="lifeline" x1="{x}" y1="40" x2="{x}" y2="{height}"/><rect class="lane" x="{}" y="8" width="180" height="32" rx="6"/><text class="lane-text" x="{x}" y="29" text-anchor="middle">{}</text>"#,
            x - 90,
            esc(&match lane {
                Lane::Proxy => format!("proxy ({})", super::model::proxy_name(trace.proxy)),
                other => other.label().to_owned(),
            })
        );
    }
    // The bands span the final width, known only now (a wide note may have widened it).
    svg.push_str(&c.svg.replace(BAND_WIDTH, &(c.width() - 8).to_string()));
    svg.push_str("</svg>");
    svg
}
