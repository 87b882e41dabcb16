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

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use resource_server::config::Args;
use resource_server::{AppState, run};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    playbook::report::init_logging(
        "resource_server=debug,playbook=info",
        playbook::report::LogTo::Stdout,
    );
    playbook::install_crypto_provider();
    playbook::report::exit_code(serve(Args::parse()).await)
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let config = args
        .config()
        .context("checking --issuer, loading the CA (--ca), the proxy options")?;
    let tls = args
        .tls(&config)
        .context("loading the server certificate and key (--cert, --key)")?;
    tracing::info!(
        cert = %args.cert.display(),
        key = %args.key.display(),
        ca = %args.ca.display(),
        "TLS files loaded; they are read once: a replaced file takes effect at the next start"
    );
    let config_forwarded = config.forwarded.clone();
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
    if let Some(f) = &config_forwarded {
        f.log_accepting();
    }
    run(listener, tls, state, playbook::server::shutdown_signal())
        .await
        .with_context(|| format!("serving on {addr}"))?;
    Ok(())
}
