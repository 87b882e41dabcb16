//! What the three binaries' `main` share: how they log, and how a failure is reported.
//!
//! A failure is a message with its causes on one line (`error: loading …: no such file`)
//! and exit code 1, never a Rust backtrace, even with `RUST_BACKTRACE=1`: these are
//! configuration errors with a fix, not bugs.

use std::ffi::OsString;
use std::fmt::Display;
use std::io::IsTerminal as _;
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
/// when the log goes to a terminal and `NO_COLOR` is not set (https://no-color.org).
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

/// The exit code of `main`: success, or `error: <the whole cause chain>` on stderr and 1.
/// (`{:#}` is anyhow's one-line chain, without its backtrace.)
pub fn exit_code<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())), "NO_COLOR='' does not count");
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
