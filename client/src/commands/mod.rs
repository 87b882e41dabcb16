//! The commands' bodies, one module per subcommand (the clap definitions they take are in
//! [`crate::cli`]), and what several of them share: the HTTPS client trusting only the CA,
//! the client identity, the token request for the `--auth` method, and the token endpoint
//! from discovery (OpenID Connect Discovery / RFC 8414).
//!
//! - `certs`: `client certs` (write, `show`, `check`).
//! - `discover`: `client discover`.
//! - `token`: `client token` (RFC 6749 §4.4, RFC 8705 §2.1 or a client secret).
//! - `call`: `client call` (RFC 6750 §2.1 bearer calls, the token cache).
//! - `admin`: `client admin` (Keycloak's Admin REST API, the realm role).
//! - `walkthrough`: `client walkthrough`.
//! - `bench`: `client bench`.
//! - `compare`: `client compare` (the rows and attacks are in [`crate::compare`]).
//! - `doctor`: `client doctor` (the checks are in [`crate::doctor`]).
//!
//! `client lab` is dispatched to [`crate::lab::command`].

mod admin;
mod bench;
mod call;
mod certs;
mod compare;
mod discover;
mod doctor;
mod token;
mod walkthrough;

use std::process::ExitCode;

use playbook::x509::Purpose;
use playbook::{Identity, pem};
use serde_json::json;
use url::Url;

use crate::cli::{Cli, Command};
use crate::discovery;
use crate::error::ClientError;
use crate::output::Output;
use crate::retry;
use crate::settings::Settings;
use crate::token::ClientAuth;

/// Runs the parsed command; the exit code says whether it did what was asked.
pub async fn run(cli: Cli) -> ExitCode {
    let out = Output::stdout(cli.global.json, cli.global.show_secrets);
    let settings = cli.global.settings();
    match dispatch(&cli, &settings, &out).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            // A message, never a panic or a backtrace: these are the user's errors to fix.
            let message = playbook::report::error_chain(&err);
            eprintln!("error: {message}");
            if cli.global.json {
                out.json(&json!({"error": message}));
            }
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: &Cli, s: &Settings, out: &Output) -> Result<bool, ClientError> {
    playbook::install_crypto_provider();
    match &cli.command {
        Command::Certs(args) => certs::run(&cli.global.certs_dir, args, out),
        Command::Discover(args) => discover::run(s, args, out).await,
        Command::Token(args) => token::run(s, args, out).await,
        Command::Call(args) => call::run(s, args, out).await,
        Command::Admin(cmd) => admin::run(s, cmd, out).await,
        Command::Lab(args) => crate::lab::command::run(s, args, out).await,
        Command::Bench(args) => bench::run(s, args, out).await,
        Command::Compare(args) => compare::run(s, args, out).await,
        Command::Walkthrough(args) => walkthrough::run(s, args, out).await,
        Command::Doctor(args) => Ok(doctor::run(s, args, out).await),
    }
}

fn https(s: &Settings, identity: Option<&Identity>) -> Result<crate::http::Http, ClientError> {
    let roots = pem::load_ca_certs(&s.ca)?;
    Ok(playbook::https::https_client(&roots, identity)?.into())
}

/// [`https`], recording into `trace` when the command is traced (`--html`).
fn traced_https(
    s: &Settings,
    identity: Option<&Identity>,
    trace: Option<&playbook::https::Recorder>,
) -> Result<crate::http::Http, ClientError> {
    let roots = pem::load_ca_certs(&s.ca)?;
    crate::http::Http::new(&roots, identity, trace)
}

/// `--html FILE` of one command: what `recorder` saw, as the trace page, the command as its
/// one step (`name`, e.g. `client call /api/whoami`; what it is for, and how it ended:
/// `result`), headed by its `--auth` and `--bind`.
#[allow(clippy::too_many_arguments)]
fn write_trace(
    s: &Settings,
    out: &Output,
    path: &std::path::Path,
    recorder: &playbook::https::Recorder,
    name: &str,
    auth: &crate::cli::AuthArgs,
    expected: &str,
    result: &Result<bool, ClientError>,
) -> Result<(), ClientError> {
    let (actual, passed) = match result {
        Ok(true) => ("done, as asked".to_owned(), true),
        Ok(false) => ("done, with a failure (above)".to_owned(), false),
        Err(e) => (playbook::report::error_chain(e), false),
    };
    let step = crate::walkthrough::StepReport {
        number: "1".into(),
        name: name.into(),
        expected: expected.into(),
        actual,
        passed,
    };
    let method = auth.method();
    let bind = auth.asked_bind();
    // The --bind value as clap spells it.
    let bind_value = clap::ValueEnum::to_possible_value(&bind)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    let command = format!("{name} --auth {} --bind {bind_value}", method.as_str());
    let methods = format!(
        "client authentication: {} · token bound by: {}",
        s.token_request(method).auth.method_name(),
        match bind {
            crate::token::Bind::Mtls => "the client certificate (RFC 8705, cnf.x5t#S256)",
            crate::token::Bind::Dpop => "a DPoP key made for this run (RFC 9449, cnf.jkt)",
            crate::token::Bind::None => "nothing (a bearer token, no cnf)",
        }
    );
    let trace = crate::trace::of_command(
        s,
        step,
        recorder.connections(),
        out.show_secrets(),
        command,
        methods,
    );
    crate::trace::write(&trace, path)?;
    out.note(&format!(
        "The run as a page: {} (open it in a browser; it loads nothing from anywhere)",
        path.display()
    ));
    Ok(())
}

fn identity(s: &Settings) -> Result<Identity, ClientError> {
    Ok(Identity::load(&s.cert, &s.key, Some(Purpose::Client))?)
}

/// An API path as given, with the leading '/' added if it is missing.
fn absolute_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// Discovery with waiting, then the token endpoint for `auth`.
async fn token_endpoint(s: &Settings, auth: &ClientAuth) -> Result<Url, ClientError> {
    let http = https(s, None)?;
    let url = discovery::discovery_url(&s.issuer)?;
    let m = retry::until_up("the provider", &url, s.wait, || {
        discovery::discover(&http, &s.issuer)
    })
    .await?;
    if m.supports_auth_method(auth.method_name()) == Some(false) {
        tracing::warn!(
            "the provider does not list {} in token_endpoint_auth_methods_supported",
            auth.method_name()
        );
    }
    Ok(match auth {
        ClientAuth::TlsClientAuth => m.token_endpoint_for_mtls().clone(),
        ClientAuth::SecretBasic(_) | ClientAuth::PrivateKeyJwt(_) => m.token_endpoint.clone(),
    })
}
