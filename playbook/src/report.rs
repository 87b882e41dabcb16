//! What the three binaries' `main` share: how they log, and how a failure is reported.
//!
//! A failure is a message with its causes on one line (`error: loading …: no such file`)
//! and exit code 1, never a Rust backtrace, even with `RUST_BACKTRACE=1`: these are
//! configuration errors with a fix, not bugs. [`error_chain`] is that one line, for every
//! crate (the client's messages, discovery's `detail`, the servers' exit).

use std::error::Error;
use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::ops::Deref;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Where a binary's log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    /// The servers: their log is their output (start.sh writes it to a file).
    Stdout,
    /// The client: stdout is for the narration and `--json`.
    Stderr,
}

/// Installs the `tracing` subscriber: `RUST_LOG` if set, else `default_filter`; colour only
/// when the log goes to a terminal and `NO_COLOR` is not set (<https://no-color.org>).
pub fn init_logging(default_filter: &str, to: LogTo) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let terminal = match to {
        LogTo::Stdout => std::io::stdout().is_terminal(),
        LogTo::Stderr => std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour(terminal, std::env::var_os("NO_COLOR")));
    match to {
        LogTo::Stdout => builder.init(),
        LogTo::Stderr => builder.with_writer(std::io::stderr).init(),
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to a non-empty value.
pub fn colour(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The exit code of `main`: success, or `error: <the whole cause chain>` on stderr and 1
/// (an `anyhow::Error` derefs to its `dyn Error`; no backtrace is printed).
pub fn exit_code<E>(result: Result<(), E>) -> ExitCode
where
    E: Deref<Target = dyn Error + Send + Sync + 'static>,
{
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(&*error));
            ExitCode::FAILURE
        }
    }
}

/// The error and each cause not already in its message, `: `-joined on one line (like
/// anyhow's `{:#}`). reqwest's top-level message ("error sending request") hides the useful
/// part (the TLS alert, the refused connection); a cause that its wrapper already quotes
/// (`cannot read: {source}`) is not repeated.
pub fn error_chain(error: &dyn Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::{colour, error_chain};

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(&'static str, #[source] Option<Box<Layer>>);

    #[test]
    fn the_chain_is_one_line_without_repeats() {
        let inner = Layer("no such file", None);
        let quoting = Layer("loading a.pem: no such file", Some(Box::new(inner)));
        let outer = Layer("error sending request", Some(Box::new(quoting)));
        assert_eq!(
            error_chain(&outer),
            "error sending request: loading a.pem: no such file"
        );
        let plain = Layer("a", Some(Box::new(Layer("b", None))));
        assert_eq!(error_chain(&plain), "a: b");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())), "NO_COLOR='' does not count");
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
