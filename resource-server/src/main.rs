//! `resource-server`: the playground's protected API. Parses the flags, loads the files,
//! and hands over to the library; see `resource_server` for what it checks.
//!
//! ```text
//! cargo run -p resource-server -- --issuer https://localhost:9443/realms/oauth2-playbook
//! RUST_LOG=resource_server=debug cargo run -p resource-server -- --client-auth request
//! ```
//!
//! A failure prints `error: <what>: <cause>: …` on stderr and exits 1. It is never a Rust
//! backtrace, even with `RUST_BACKTRACE=1`: these are configuration errors with a fix, not
//! bugs.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use resource_server::config::Args;
use resource_server::{AppState, run};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("resource_server=debug,playbook=info")),
        )
        .with_ansi(colour(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
    playbook::install_crypto_provider();

    match serve(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}`: the whole chain on one line, without anyhow's backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org):
/// start.sh writes this log to a file, where escape codes are noise.
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let config = args
        .config()
        .context("checking --issuer and loading the CA (--ca)")?;
    let tls = args
        .tls(&config)
        .context("loading the server certificate and key (--cert, --key)")?;
    let state = AppState::new(config).context("building the HTTPS client for the provider")?;

    let addr = args.listen_addr();
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (is another server on this port? try --port)"))?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(
        %addr,
        issuer = %args.issuer,
        client_auth = ?args.client_auth,
        require_binding = args.require_binding,
        "resource server listening"
    );
    run(listener, tls, state, playbook::server::shutdown_signal())
        .await
        .with_context(|| format!("serving on {addr}"))?;
    Ok(())
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
