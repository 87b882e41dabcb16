//! `client walkthrough --html FILE`: one run of the walkthrough, recorded connection by
//! connection (`playbook::https::InstrumentedClient`), written as one self-contained HTML
//! page: a sequence diagram of every exchange, what each TLS handshake carried, the
//! certificates and tokens decoded with the RFC 8705 binding drawn, and each step's outcome.
//!
//! The page loads nothing: its CSS and script are inline, allowed by their hashes in a
//! Content-Security-Policy whose `default-src 'none'` forbids every outside load; the
//! diagram is inline SVG. Credentials are shortened as the terminal shortens them
//! (`output::shorten`, `output::redact`) unless `--show-secrets`.
//!
//! What the client cannot see is drawn as inferred and marked so: the resource server's
//! discovery and JWKS fetches, and behind a proxy the proxy-to-back-end hop.
//!
//! # Layout
//!
//! - `model`: [`Trace`], assembled from the walkthrough's report and the recorder's
//!   connections; which lane each exchange goes to.
//! - `text`: escaping, and credentials shortened as the terminal shortens them.
//! - this file: writing the page.
//! - `diagram`: the sequence diagram (SVG).
//! - `page`: the HTML around it (steps, exchanges, handshakes, certificates, tokens).
//! - `methods`: what each method carried (`--auth`, `--bind`), decoded: the certificate,
//!   the client secret, the `private_key_jwt` assertion, each DPoP proof; the token's
//!   binding (`cnf.x5t#S256`, `cnf.jkt`, or none).

mod diagram;
mod methods;
mod model;
mod page;
mod text;

use std::path::Path;

pub use model::{Exchange, Failed, Lane, Part, Trace};

use crate::error::ClientError;

/// The trace of one command (`client token --html`, `client call --html`): the command as
/// its one step, every recorded connection in it; `command` its command line and `methods`
/// how it authenticated and bound its token (`--auth`, `--bind`), for the page's head.
pub fn of_command(
    s: &crate::settings::Settings,
    step: crate::walkthrough::StepReport,
    connections: Vec<playbook::https::ConnectionRecord>,
    show_secrets: bool,
    command: String,
    methods: String,
) -> Trace {
    let report = crate::walkthrough::Report {
        marks: vec![crate::walkthrough::Mark {
            part: step.number.clone(),
            at: std::time::Duration::ZERO,
        }],
        steps: vec![step],
        changes: Vec::new(),
        skipped: Vec::new(),
    };
    let mut trace = Trace::assemble(s, report, connections, show_secrets);
    // No "before we start" here: the command is the whole run.
    trace.parts.retain(|p| p.step.is_some());
    trace.command = Some(command);
    trace.methods = Some(methods);
    trace
}

/// The page, one self-contained HTML document.
pub fn html(trace: &Trace) -> String {
    page::render(trace)
}

/// Writes the page to `path`: a temporary file beside it, then renamed over it (rename(2)
/// replaces it in one step: a browser reloading it sees the old page or the new one).
pub fn write(trace: &Trace, path: &Path) -> Result<(), ClientError> {
    let file_error = |e: std::io::Error| ClientError::File {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, html(trace)).map_err(file_error)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_error(e)
    })
}
