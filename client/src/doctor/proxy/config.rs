//! Reading a proxy's configuration (`client doctor --proxy KIND --proxy-config FILE`): the
//! part that serves the issuer's port (nginx `server` with `listen …:PORT`, HAProxy
//! `frontend` with `bind …:PORT`, httpd `<VirtualHost …:PORT>`, Caddy's site `…:PORT {`),
//! and in it what the proxy does with client certificates: whether it asks for one, which
//! headers it sets from the certificate and in which encoding, which headers a client's own
//! copy of is removed or overwritten on every request, and the address it connects to the
//! back end from. A reading, not a run: directives the proxy takes from included files are
//! not followed (the detail says what was read).

use crate::settings::Proxy;

mod nginx;
mod values;
mod verify;

/// How a forwarded certificate is written into its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// nginx `$ssl_client_escaped_cert`: the PEM, URL-encoded.
    UrlEncodedPem,
    /// The PEM (httpd `%{SSL_CLIENT_CERT}s`, its line breaks made spaces by mod_headers;
    /// nginx `$ssl_client_cert`; Caddy `certificate_pem`).
    Pem,
    /// The DER in base64 (HAProxy `%[ssl_c_der,base64]`; Caddy `certificate_der_base64`).
    Base64Der,
    /// RFC 9440's byte sequence: `:<base64 DER>:`.
    Rfc9440,
    /// The DER in hex (HAProxy `%[ssl_c_der,hex]`): no lookup of Keycloak reads it.
    Hex,
    /// The DER as bytes (HAProxy `%[ssl_c_der]` without a converter): no lookup reads it.
    RawDer,
}

impl Encoding {
    pub fn describe(self) -> &'static str {
        match self {
            Encoding::UrlEncodedPem => "the PEM, URL-encoded",
            Encoding::Pem => "the PEM",
            Encoding::Base64Der => "the DER in base64",
            Encoding::Rfc9440 => "RFC 9440's :base64 DER:",
            Encoding::Hex => "the DER in hex",
            Encoding::RawDer => "the DER as raw bytes",
        }
    }
}

/// One header the proxy sets from the client's certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Forward {
    /// The header's name, lower case.
    pub header: String,
    /// The value as written in the configuration.
    pub value: String,
    pub encoding: Encoding,
    /// `None`: the leaf; `Some(i)`: a certificate of the chain (httpd's `…_CHAIN_i`), or
    /// `Some(0)` for a chain header holding all of them (HAProxy `ssl_c_chain_der`).
    pub chain: Option<usize>,
    /// Set only under a condition (`if { ssl_c_used }`, `expr=…`, a matcher): a request
    /// that does not meet it keeps the client's own header.
    pub conditional: bool,
    /// Its line in the file (1-based).
    pub line: usize,
}

/// What the configuration says, for the part serving the issuer's port.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Observed {
    /// Which part was read (`server listening on 127.0.0.1:9443`, …), or the whole file.
    pub section: String,
    /// The directive that asks the client for a certificate, if any.
    pub asks: Option<String>,
    pub forwards: Vec<Forward>,
    /// Headers (lower case) whose client-sent copy is removed or overwritten on every request.
    pub replaced: Vec<String>,
    /// The address the proxy connects to the back end from (`proxy_bind`, `source`,
    /// `ProxySourceAddress`), if set.
    pub source: Option<String>,
    /// What the reader noticed on the way (nginx's `proxy_set_header` inheritance).
    pub notes: Vec<String>,
    /// Why the proxy forwards a certificate it did not verify, if it does.
    pub unverified: Option<String>,
}

impl Observed {
    pub fn leaf(&self) -> Option<&Forward> {
        self.forwards.iter().find(|f| f.chain.is_none())
    }

    pub fn replaces(&self, header: &str) -> bool {
        let h = header.to_ascii_lowercase();
        self.replaced.contains(&h)
            || self
                .forwards
                .iter()
                .any(|f| f.header == h && !f.conditional)
    }
}

/// Reads `text`, a configuration of `kind`, for the part listening on `port`.
pub fn read(kind: Proxy, text: &str, port: u16) -> Observed {
    let lines = logical_lines(kind, text);
    let (section, scope) = scope(kind, &lines, port);
    let mut o = Observed {
        section,
        ..Observed::default()
    };
    let mut read: Vec<&Line> = lines.iter().filter(|l| scope.contains(&l.block)).collect();
    if kind == Proxy::Nginx {
        read = nginx::effective(read, &mut o.notes);
    }
    for l in &read {
        directive(kind, l, &mut o);
    }
    o.unverified = verify::unverified(kind, &read, o.asks.as_deref());
    // The source address may sit in a back-end section the port's part points to.
    if o.source.is_none() {
        o.source = lines.iter().find_map(|l| source(kind, &l.words));
    }
    o
}

/// A directive: its words (quotes removed), its line, and the block it sits in (0: the
/// top, or a section/server/site number) and whether it sits under a matcher (Caddy).
#[derive(Debug)]
struct Line {
    words: Vec<String>,
    number: usize,
    block: usize,
    /// The header of the block it sits in (`server`, `frontend provider`, …).
    opener: String,
    matcher: bool,
}

fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match quote {
            _ if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' || c == '`' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

fn strip_comment(line: &str) -> &str {
    // `#` starts a comment outside quotes (all four formats).
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None if c == '#' && (i == 0 || line[..i].ends_with(char::is_whitespace)) => {
                return &line[..i];
            }
            None => {}
        }
    }
    line
}

/// The file as directives, each with the block (server, section, virtual host, site) it is in.
fn logical_lines(kind: Proxy, text: &str) -> Vec<Line> {
    match kind {
        Proxy::Nginx => braces(text, ';', "server"),
        Proxy::Caddy => caddy(text),
        _ => sections(kind, text),
    }
}

/// nginx: statements end with `;`, blocks with `{ }`; every `server` block is a block of its own.
fn braces(text: &str, end: char, block_name: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let (mut blocks, mut current) = (0, 0);
    let mut stmt = String::new();
    let mut start = 1;
    let mut quote: Option<char> = None;
    for (n, raw) in text.lines().enumerate() {
        let mut escaped = false;
        for c in strip_comment(raw).chars() {
            if stmt.trim().is_empty() {
                start = n + 1;
            }
            // Quotes and escapes: a brace or `;` inside a quoted value is the value's.
            if escaped {
                escaped = false;
                stmt.push(c);
                continue;
            }
            match (quote, c) {
                (_, '\\') => {
                    escaped = true;
                    stmt.push(c);
                    continue;
                }
                (Some(q), _) if c == q => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                _ => {}
            }
            if quote.is_none() && (c == end || c == '{' || c == '}') {
                let w = words(&stmt);
                stmt.clear();
                if c == '{' {
                    let name = w.join(" ");
                    if w.first().map(String::as_str) == Some(block_name) {
                        blocks += 1;
                        stack.push((name, current));
                        current = blocks;
                    } else {
                        stack.push((name, current));
                    }
                } else if c == '}' {
                    if let Some((_, parent)) = stack.pop() {
                        current = parent;
                    }
                } else if !w.is_empty() {
                    let opener = stack.last().map(|(n, _)| n.clone()).unwrap_or_default();
                    out.push(Line {
                        words: w,
                        number: start,
                        block: current,
                        opener,
                        matcher: false,
                    });
                }
            } else {
                stmt.push(c);
            }
        }
        stmt.push(' ');
    }
    out
}

/// HAProxy (`frontend`/`backend`/`listen`/`defaults` at column 0) and httpd
/// (`<VirtualHost …>` … `</VirtualHost>`): one directive per line.
fn sections(kind: Proxy, text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let (mut blocks, mut current) = (0, 0);
    let mut opener = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        let w = words(line);
        let Some(first) = w.first() else { continue };
        if kind == Proxy::Apache {
            let lower = first.to_ascii_lowercase();
            if lower.starts_with("<virtualhost") {
                blocks += 1;
                current = blocks;
                opener = w.join(" ").trim_end_matches('>').to_owned();
                continue;
            }
            if lower.starts_with("</virtualhost") {
                current = 0;
                opener.clear();
                continue;
            }
        } else if !raw.starts_with(char::is_whitespace) {
            // A new section: each its own block (global and defaults too).
            blocks += 1;
            current = blocks;
            opener = w.join(" ");
            continue;
        }
        out.push(Line {
            words: w,
            number: n + 1,
            block: current,
            opener: opener.clone(),
            matcher: false,
        });
    }
    out
}

/// Caddy: sites and snippets at the top, `{ }` blocks; a snippet `(name)` imported into a
/// site (`import name`) counts as the site's; a directive inside `handle @matcher` (or
/// carrying a matcher) is conditional.
fn caddy(text: &str) -> Vec<Line> {
    // First the blocks, with their lines, by a brace walk of whole lines.
    struct Block {
        head: String,
        lines: Vec<(usize, Vec<String>, bool)>,
    }
    let mut top: Vec<Block> = Vec::new();
    let mut depth = 0usize;
    let mut matchers: Vec<(usize, bool)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let w = words(line);
        let opens = line.ends_with('{');
        let closes = line == "}";
        if closes {
            depth = depth.saturating_sub(1);
            matchers.retain(|(d, _)| *d <= depth);
            continue;
        }
        if depth == 0 && opens {
            top.push(Block {
                head: line.trim_end_matches('{').trim().to_owned(),
                lines: Vec::new(),
            });
        } else if let Some(b) = top.last_mut() {
            let under = matchers.iter().any(|(_, m)| *m) || w.iter().any(|x| x.starts_with('@'));
            let mut w = w.clone();
            if opens {
                w.retain(|x| x != "{");
            }
            b.lines.push((n + 1, w, under));
        }
        if opens {
            depth += 1;
            let matcher = line.starts_with("handle @") || line.starts_with("route @");
            matchers.push((depth, matcher));
        }
    }
    let snippet = |name: &str| top.iter().find(|b| b.head == format!("({name})"));
    let mut out = Vec::new();
    for (i, b) in top.iter().enumerate() {
        if b.head.starts_with('(') {
            continue;
        }
        for (n, w, under) in &b.lines {
            if w.first().map(String::as_str) == Some("import")
                && let Some(s) = w.get(1).and_then(|name| snippet(name))
            {
                for (sn, sw, su) in &s.lines {
                    out.push(Line {
                        words: sw.clone(),
                        number: *sn,
                        block: i + 1,
                        opener: b.head.clone(),
                        matcher: *su || *under,
                    });
                }
                continue;
            }
            out.push(Line {
                words: w.clone(),
                number: *n,
                block: i + 1,
                opener: b.head.clone(),
                matcher: *under,
            });
        }
    }
    out
}

/// The blocks read: the one serving `port` (with the top level, which every block inherits),
/// or, when none names it, the first that serves any (the shipped configurations put the
/// provider's first), or, when none is found, all of them.
fn scope(kind: Proxy, lines: &[Line], port: u16) -> (String, Vec<usize>) {
    let suffix = format!(":{port}");
    let listens = |l: &Line, any: bool| -> bool {
        let w = &l.words;
        let names_port = |x: &String| any || x.ends_with(&suffix) || *x == port.to_string();
        match kind {
            Proxy::Nginx => w[0] == "listen" && w.get(1).is_some_and(names_port),
            Proxy::Haproxy => {
                w[0] == "bind"
                    && !l.opener.starts_with("backend")
                    && w.get(1).is_some_and(names_port)
            }
            Proxy::Apache => l
                .opener
                .split_whitespace()
                .skip(1)
                .any(|x| any || x.ends_with(&suffix)),
            Proxy::Caddy => {
                !l.opener.is_empty()
                    && l.opener
                        .split([' ', ','])
                        .any(|x| any || x.ends_with(&suffix))
            }
            Proxy::None => false,
        }
    };
    let exact = lines.iter().find(|l| l.block != 0 && listens(l, false));
    let first = lines.iter().find(|l| l.block != 0 && listens(l, true));
    let Some(l) = exact.or(first) else {
        return (
            format!("the whole file (no part serves port {port})"),
            lines.iter().map(|l| l.block).collect(),
        );
    };
    let mut blocks = vec![0, l.block];
    if kind == Proxy::Haproxy {
        // `defaults` and the back ends apply to the front end's requests too.
        blocks.extend(
            lines
                .iter()
                .filter(|x| x.opener.starts_with("defaults") || x.opener.starts_with("backend"))
                .map(|x| x.block),
        );
    }
    let what = match kind {
        Proxy::Nginx => format!("the server listening on {}", l.words[1]),
        Proxy::Haproxy => format!("{} (bind {})", l.opener, l.words[1]),
        _ => l.opener.clone(),
    };
    if exact.is_none() {
        return (
            format!("no part serves port {port}, so the first: {what}"),
            blocks,
        );
    }
    (what, blocks)
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn source(kind: Proxy, w: &[String]) -> Option<String> {
    match kind {
        Proxy::Nginx => (w[0] == "proxy_bind").then(|| w.get(1).cloned()).flatten(),
        Proxy::Haproxy => w
            .iter()
            .position(|x| x == "source")
            .and_then(|i| w.get(i + 1).cloned()),
        Proxy::Apache => (lower(&w[0]) == "proxysourceaddress")
            .then(|| w.get(1).cloned())
            .flatten(),
        Proxy::Caddy | Proxy::None => None,
    }
}

/// One directive, recorded into `o`.
fn directive(kind: Proxy, l: &Line, o: &mut Observed) {
    let w = &l.words;
    let mut set = |header: &str, value: &str, conditional: bool| {
        let header = lower(header);
        match values::certificate_value(value) {
            Some((encoding, chain)) => o.forwards.push(Forward {
                header,
                value: value.to_owned(),
                encoding,
                chain,
                conditional,
                line: l.number,
            }),
            None if !conditional => o.replaced.push(header),
            None => {}
        }
    };
    match kind {
        Proxy::Nginx => match w[0].as_str() {
            "ssl_verify_client" if w.get(1).is_some_and(|v| v != "off") => {
                o.asks = Some(w.join(" "));
            }
            // proxy_set_header replaces the client's header of that name (an empty value drops it).
            "proxy_set_header" if w.len() >= 2 => {
                set(&w[1], w.get(2).map(String::as_str).unwrap_or(""), false);
            }
            _ => {}
        },
        Proxy::Haproxy => {
            if w[0] == "bind"
                && let Some(i) = w.iter().position(|x| x == "verify")
                && w.get(i + 1).is_some_and(|v| v != "none")
            {
                o.asks = Some(format!("bind … verify {}", w[i + 1]));
            }
            if w[0] == "http-request" && w.len() >= 3 {
                let conditional = w.iter().any(|x| x == "if" || x == "unless");
                match w[1].as_str() {
                    "set-header" if w.len() >= 4 => set(&w[2], &w[3], conditional),
                    "del-header" if !conditional => o.replaced.push(lower(&w[2])),
                    // add-header appends: the client's own stays, first.
                    _ => {}
                }
            }
        }
        Proxy::Apache => {
            let name = lower(&w[0]);
            if name == "sslverifyclient" && w.get(1).is_some_and(|v| lower(v) != "none") {
                o.asks = Some(w.join(" "));
            }
            if name == "requestheader" && w.len() >= 3 {
                let action = lower(&w[1]);
                let rest = &w[3.min(w.len())..];
                let conditional = rest
                    .iter()
                    .any(|x| x.starts_with("expr=") || x.starts_with("env="));
                match action.as_str() {
                    "set" if w.len() >= 4 => set(&w[2], &w[3], conditional),
                    "unset" => {
                        let cond = w[3..]
                            .iter()
                            .any(|x| x.starts_with("expr=") || x.starts_with("env="));
                        if !cond {
                            o.replaced.push(lower(&w[2]));
                        }
                    }
                    _ => {}
                }
            }
        }
        Proxy::Caddy => {
            let conditional = l.matcher;
            match w[0].as_str() {
                "client_auth" => o.asks = Some("client_auth".into()),
                "mode" if o.asks.is_some() => {
                    o.asks = Some(format!("client_auth mode {}", w.get(1).map_or("", |s| s)));
                }
                "request_header" | "header_up" if w.len() >= 2 => {
                    let args: Vec<&String> =
                        w[1..].iter().filter(|x| !x.starts_with('@')).collect();
                    if let Some(h) = args.first() {
                        if let Some(name) = h.strip_prefix('-') {
                            if !conditional {
                                o.replaced.push(lower(name));
                            }
                        } else if !h.starts_with('+') {
                            set(h, args.get(1).map_or("", |s| s.as_str()), conditional);
                        }
                    }
                }
                _ => {}
            }
        }
        Proxy::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAPROXY: &str = include_str!("../../../../proxy/haproxy/haproxy.cfg.in");
    const NGINX: &str = include_str!("../../../../proxy/nginx/nginx.conf.in");
    const APACHE: &str = include_str!("../../../../proxy/apache/httpd.conf.in");
    const CADDY: &str = include_str!("../../../../proxy/caddy/Caddyfile.in");

    fn rendered(t: &str) -> String {
        t.replace("@PROVIDER_PORT@", "9443")
            .replace("@API_PORT@", "8443")
            .replace("@PROXY_SOURCE@", "127.0.0.2")
            .replace("@PROVIDER_BACKEND@", "127.0.0.1:9444")
    }

    #[test]
    fn the_shipped_configurations_read_as_they_are_meant() {
        let h = read(Proxy::Haproxy, &rendered(HAPROXY), 9443);
        assert!(h.section.contains("frontend provider"), "{h:?}");
        assert_eq!(h.asks.as_deref(), Some("bind … verify optional"));
        let leaf = h.leaf().unwrap();
        assert_eq!(
            (leaf.header.as_str(), leaf.encoding),
            ("x-ssl-client-cert", Encoding::Base64Der)
        );
        assert!(leaf.conditional);
        assert!(h.replaces("x-ssl-client-cert") && h.replaces("x-ssl-client-chain"));
        assert!(
            h.forwards
                .iter()
                .any(|f| f.header == "x-ssl-client-chain" && f.chain == Some(0))
        );
        assert_eq!(h.source.as_deref(), Some("127.0.0.2"));

        let n = read(Proxy::Nginx, &rendered(NGINX), 9443);
        assert_eq!(
            n.asks.as_deref(),
            Some("ssl_verify_client optional"),
            "{n:?}"
        );
        assert_eq!(n.leaf().unwrap().encoding, Encoding::UrlEncodedPem);
        assert!(n.replaces("ssl-client-cert"));
        assert_eq!(n.source.as_deref(), Some("127.0.0.2"));

        let a = read(Proxy::Apache, &rendered(APACHE), 9443);
        assert_eq!(
            a.asks.as_deref(),
            Some("SSLVerifyClient optional_no_ca"),
            "{a:?}"
        );
        assert_eq!(a.leaf().unwrap().encoding, Encoding::Pem);
        assert!(a.leaf().unwrap().conditional);
        assert!(a.replaces("ssl-client-cert") && a.replaces("ssl-client-cert-chain_0"));
        assert!(a.forwards.iter().any(|f| f.chain == Some(0)));
        assert_eq!(a.source.as_deref(), Some("127.0.0.2"));

        let c = read(Proxy::Caddy, &rendered(CADDY), 9443);
        assert_eq!(
            c.asks.as_deref(),
            Some("client_auth mode verify_if_given"),
            "{c:?}"
        );
        let leaf = c.leaf().unwrap();
        assert_eq!(
            (leaf.header.as_str(), leaf.encoding),
            ("client-cert", Encoding::Rfc9440)
        );
        assert!(leaf.conditional);
        assert!(c.replaces("client-cert"));
        assert!(c.forwards.iter().all(|f| f.chain.is_none()));
        assert_eq!(c.source, None);
    }

    #[test]
    fn the_api_front_end_is_not_read_for_the_provider() {
        // The API's front end forwards unconditionally; the provider's only with a certificate.
        let h = read(Proxy::Haproxy, &rendered(HAPROXY), 8443);
        assert!(h.section.contains("frontend api"), "{h:?}");
        assert!(!h.leaf().unwrap().conditional);
    }

    #[test]
    fn without_the_issuers_port_the_first_front_end_is_read() {
        let h = read(Proxy::Haproxy, &rendered(HAPROXY), 1);
        assert!(
            h.section.contains("so the first: frontend provider"),
            "{h:?}"
        );
        assert!(h.leaf().unwrap().conditional);
    }

    #[test]
    fn the_labs_breaks_are_seen() {
        let hex = rendered(HAPROXY).replace("%[ssl_c_der,base64]", "%[ssl_c_der,hex]");
        assert_eq!(
            read(Proxy::Haproxy, &hex, 9443).leaf().unwrap().encoding,
            Encoding::Hex
        );
        let kept = rendered(HAPROXY).replace("    http-request del-header x-ssl-client-cert\n", "");
        assert!(!read(Proxy::Haproxy, &kept, 9443).replaces("x-ssl-client-cert"));
        let unasked = rendered(NGINX).replace("ssl_verify_client optional;", "");
        assert_eq!(read(Proxy::Nginx, &unasked, 9443).asks, None);
    }
}
