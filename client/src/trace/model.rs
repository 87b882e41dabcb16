//! The trace's model: the recorded connections put into the parts of the run (before step
//! 2, each step, the restore), each request with the lanes it goes between.

use std::time::Duration;

use playbook::https::{ConnectionRecord, RequestRecord};
use playbook::x509::CertInfo;
use url::Url;

use crate::settings::{Proxy, Settings};
use crate::walkthrough::{BEFORE_WE_START, RESTORE, Report};

/// Who takes part in the run: the diagram's lanes, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Client,
    Proxy,
    Provider,
    ResourceServer,
    /// A server that is neither (a mistyped URL).
    Other,
}

impl Lane {
    pub fn label(self) -> &'static str {
        match self {
            Lane::Client => "client",
            Lane::Proxy => "proxy",
            Lane::Provider => "provider",
            Lane::ResourceServer => "resource server",
            Lane::Other => "other server",
        }
    }
}

/// The proxy's name, as the page says it (`--proxy`).
pub fn proxy_name(proxy: Proxy) -> &'static str {
    match proxy {
        Proxy::None => "none",
        Proxy::Nginx => "nginx",
        Proxy::Haproxy => "HAProxy",
        Proxy::Apache => "Apache httpd",
        Proxy::Caddy => "Caddy",
    }
}

/// One request the client sent, on its connection.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub connection: ConnectionRecord,
    pub request: RequestRecord,
    /// Its index among its connection's requests.
    pub index: usize,
    /// The first request on its connection (the handshake happened for it).
    pub new_connection: bool,
    /// Where the TLS connection ends (the proxy, when there is one).
    pub tls_peer: Lane,
    /// Who answers (behind a proxy: the back end the proxy forwards to).
    pub target: Lane,
}

/// A connection that failed before any request could go out (refused, or a handshake the
/// client itself refused).
#[derive(Debug, Clone)]
pub struct Failed {
    pub connection: ConnectionRecord,
    pub tls_peer: Lane,
}

/// One part of the run: before step 2, a step, or the restore at the end.
#[derive(Debug, Clone)]
pub struct Part {
    /// A step number, [`BEFORE_WE_START`] or [`RESTORE`].
    pub id: String,
    pub title: String,
    /// The step's expected and actual outcome, when it is a step.
    pub step: Option<crate::walkthrough::StepReport>,
    pub exchanges: Vec<Exchange>,
    pub failed: Vec<Failed>,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct Trace {
    pub issuer: Url,
    pub resource_server: Url,
    pub proxy: Proxy,
    pub parts: Vec<Part>,
    pub report: Report,
    /// The certificate files of the run, read back: (what it is, file, decoded).
    pub certificates: Vec<(String, String, CertInfo)>,
    pub show_secrets: bool,
    /// When the run ended, RFC 3339.
    pub generated: String,
    pub lanes: Vec<Lane>,
    /// The command line of a single-command page (`client call /api/whoami --auth …`);
    /// `None` for the walkthrough.
    pub command: Option<String>,
    /// How its client authenticated and how its token is bound, in a sentence.
    pub methods: Option<String>,
}

impl Trace {
    /// Puts the recorded connections into the parts of the run they happened in.
    pub fn assemble(
        s: &Settings,
        report: Report,
        connections: Vec<ConnectionRecord>,
        show_secrets: bool,
    ) -> Self {
        let marks = report.marks.clone();
        let part_of = |at: Duration| {
            marks
                .iter()
                .rev()
                .find(|m| m.at <= at)
                .map(|m| m.part.clone())
                .unwrap_or_else(|| BEFORE_WE_START.to_owned())
        };
        let mut parts: Vec<Part> = Vec::new();
        // The parts in the order they began; what came before the first mark is "before".
        let mut ids: Vec<String> = marks.iter().map(|m| m.part.clone()).collect();
        if !ids.iter().any(|id| id == BEFORE_WE_START) {
            ids.insert(0, BEFORE_WE_START.to_owned());
        }
        for id in ids {
            if parts.iter().any(|p| p.id == id) {
                continue;
            }
            let step = report.step(&id).cloned();
            let title = match (&step, id.as_str()) {
                (Some(st), _) => format!("{}. {}", st.number, st.name),
                (None, BEFORE_WE_START) => {
                    "Before we start: discovery, the admin API finds the role".to_owned()
                }
                (None, RESTORE) => "At the end: the role mapping put back as found".to_owned(),
                (None, other) => other.to_owned(),
            };
            parts.push(Part {
                id,
                title,
                step,
                exchanges: Vec::new(),
                failed: Vec::new(),
            });
        }
        for c in &connections {
            let tls_peer = tls_peer(s, &c.server);
            if c.requests.is_empty() {
                let id = part_of(c.started);
                if let Some(p) = parts.iter_mut().find(|p| p.id == id) {
                    p.failed.push(Failed {
                        connection: c.clone(),
                        tls_peer,
                    });
                }
            }
            for (i, r) in c.requests.iter().enumerate() {
                let id = part_of(r.started);
                let target = target(s, &r.url, tls_peer);
                if let Some(p) = parts.iter_mut().find(|p| p.id == id) {
                    p.exchanges.push(Exchange {
                        connection: c.clone(),
                        request: r.clone(),
                        index: i,
                        new_connection: i == 0,
                        tls_peer,
                        target,
                    });
                }
            }
        }
        for p in &mut parts {
            p.exchanges.sort_by_key(|e| e.request.started);
        }
        let mut lanes = vec![Lane::Client];
        if s.proxy != Proxy::None {
            lanes.push(Lane::Proxy);
        }
        lanes.extend([Lane::Provider, Lane::ResourceServer]);
        if parts
            .iter()
            .flat_map(|p| &p.exchanges)
            .any(|e| e.target == Lane::Other)
        {
            lanes.push(Lane::Other);
        }
        Trace {
            issuer: s.issuer.clone(),
            resource_server: s.resource_server.clone(),
            proxy: s.proxy,
            parts,
            report,
            certificates: certificates(s),
            show_secrets,
            generated: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            lanes,
            command: None,
            methods: None,
        }
    }
}

/// `host:port` of a URL, as the recorder names servers.
fn host_port(url: &Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

/// Where the TLS connection to `server` ends.
fn tls_peer(s: &Settings, server: &str) -> Lane {
    if s.proxy != Proxy::None {
        return Lane::Proxy;
    }
    if host_port(&s.issuer).as_deref() == Some(server) {
        Lane::Provider
    } else if host_port(&s.resource_server).as_deref() == Some(server) {
        Lane::ResourceServer
    } else {
        Lane::Other
    }
}

/// Who answers a request to `url`: the server whose URL it is under.
fn target(s: &Settings, url: &str, tls_peer: Lane) -> Lane {
    let under = |base: &Url| {
        let base = base.as_str().trim_end_matches('/');
        url.starts_with(base)
    };
    if s.proxy == Proxy::None {
        return tls_peer;
    }
    let admin = s.admin_base().ok();
    if under(&s.resource_server) {
        Lane::ResourceServer
    } else if under(&s.issuer) || admin.as_ref().is_some_and(under) {
        Lane::Provider
    } else {
        Lane::Other
    }
}

/// The run's certificate files, read back (those that exist and parse).
fn certificates(s: &Settings) -> Vec<(String, String, CertInfo)> {
    let files = [
        ("the dev CA, the only root the client trusts", &s.ca),
        (
            "the client's certificate (the realm's x509.subjectdn)",
            &s.cert,
        ),
        ("same CA, another DN (step 3)", &s.other_cert),
        ("right DN, untrusted CA (step 3b)", &s.rogue_cert),
    ];
    files
        .into_iter()
        .filter_map(|(what, path)| {
            let der = playbook::pem::load_certs(path).ok()?.into_iter().next()?;
            let info = CertInfo::from_der(&der).ok()?;
            Some((what.to_owned(), path.display().to_string(), info))
        })
        .collect()
}
