//! `supervisor`: `./start.sh`'s last step. Starts our own servers (the embedded provider
//! unless the provider runs outside, and one resource server, or the proxy's back ends), waits
//! until they answer, runs the walkthrough or shows a lab, keeps everything running when
//! asked until Ctrl-C, and stops what it started on every exit: the servers run in this
//! process, on threads of their own ([`crate::thread`]), so none can outlive it.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum as _};
use playbook::forwarded::ProxyArgs;
use playbook::names;
use url::Url;

use crate::servers::{ProviderSpec, ResourceServerSpec};
use crate::thread::{Spec, Supervised};

/// Starts the playground's own servers, waits until they are ready, then runs the
/// walkthrough (or shows lab N), and stops them on exit, failure or Ctrl-C. `./start.sh`
/// runs it after the build, the certificates and the outside programs (Keycloak, nginx);
/// run it yourself with the same settings from the environment (scripts/env.sh).
#[derive(Debug, Parser)]
#[command(name = "supervisor", version, max_term_width = 100)]
pub struct Args {
    /// The provider runs outside this process (started by ./start.sh's Keycloak driver, or
    /// already running); NAME says which in the messages. Without it: the embedded provider.
    #[arg(long, value_name = "NAME")]
    pub external_provider: Option<String>,
    /// Why this provider (shown in the set-up line).
    #[arg(long, value_name = "TEXT", default_value = "--provider embedded")]
    pub reason: String,
    /// The realm's issuer: where the client and the resource servers find the provider.
    #[arg(long, env = "ISSUER", default_value = names::ISSUER)]
    pub issuer: Url,
    /// The resource server's URL as the client calls it (the proxy's, behind one).
    #[arg(long, env = "RESOURCE_SERVER_URL", default_value = names::RESOURCE_SERVER_URL)]
    pub resource_server: Url,
    /// The embedded provider's port (behind a proxy: its back-end port).
    #[arg(long, env = "PROVIDER_PORT", default_value_t = names::PROVIDER_PORT)]
    pub provider_port: u16,
    /// The embedded provider's management (health) port.
    #[arg(long, env = "MANAGEMENT_PORT", default_value_t = names::MANAGEMENT_PORT)]
    pub management_port: u16,
    /// A resource server's port; repeat for several (the proxy's back ends).
    #[arg(long = "resource-server-port", env = "RESOURCE_SERVER_PORT", value_delimiter = ' ', default_values_t = [names::RESOURCE_SERVER_PORT])]
    pub resource_server_ports: Vec<u16>,
    /// The dev PKI (`client certs` writes it).
    #[arg(long, env = "CERTS_DIR", default_value = "certs")]
    pub certs_dir: PathBuf,
    /// The realm the embedded provider imports.
    #[arg(
        long,
        env = "REALM_FILE",
        default_value = "oauth2-provider/import/oauth2-playbook-realm.json"
    )]
    pub realm: PathBuf,
    /// More certificates the embedded provider trusts for client certificates.
    #[arg(long, env = "KC_TRUSTSTORE_PATHS", value_delimiter = ',')]
    pub truststore_paths: Vec<PathBuf>,
    /// The embedded provider's bootstrap admin (master realm), as Keycloak's.
    #[arg(long, env = "KC_BOOTSTRAP_ADMIN_USERNAME", default_value = names::DEFAULT_ADMIN_USERNAME)]
    pub admin_username: String,
    /// Its password (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "KC_BOOTSTRAP_ADMIN_PASSWORD", default_value = names::DEFAULT_ADMIN_PASSWORD, hide_default_value = true, hide_env_values = true)]
    pub admin_password: String,
    /// Behind a TLS-terminating proxy: whom our servers trust for forwarded certificates.
    #[command(flatten)]
    pub proxy: ProxyArgs,
    /// The proxy in front of the servers (./start.sh --proxy), passed on to the client: the
    /// walkthrough's step 3b then expects the proxy's refusal instead of a TLS alert.
    #[arg(long = "proxy", value_enum, default_value = "none")]
    pub proxy_kind: client::settings::Proxy,
    /// The proxy's access log: emptied before the walkthrough, printed after it.
    #[arg(long, value_name = "FILE")]
    pub proxy_log: Option<PathBuf>,
    /// Where each server's log goes.
    #[arg(long, default_value = "target/start-logs")]
    pub log_dir: PathBuf,
    /// Seconds a server may take to become ready.
    #[arg(long, env = "READY_TIMEOUT_SECS", default_value_t = 180)]
    pub ready_timeout_secs: u64,
    /// Keep the servers running after the walkthrough, until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Lab N instead of the walkthrough (after `client lab prepare N`): its card, servers
    /// kept running.
    #[arg(long, value_name = "N")]
    pub lab: Option<u8>,
    /// With --lab: the lab's work folder is new, so put back its starting state first.
    #[arg(long, requires = "lab")]
    pub lab_fresh: bool,
}

/// `INFO  …` on stdout, in the shape of scripts/lib.sh's `info` (bold on a terminal).
fn info(text: impl std::fmt::Display) {
    let colour = playbook::report::colour(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    if colour {
        println!("\x1b[1mINFO\x1b[0m  {text}");
    } else {
        println!("INFO  {text}");
    }
}

fn error(text: impl std::fmt::Display) {
    eprintln!("ERROR {text}");
}

/// Runs everything; the exit code is the walkthrough's (or 1 when set-up failed, 130/143
/// when interrupted before the walkthrough ended).
pub async fn run(args: Args) -> ExitCode {
    let mut started = Vec::new();
    let mut status = None;
    let ended = tokio::select! {
        code = supervise(&args, &mut started, &mut status) => Ok(code),
        signal = interrupted() => Err(signal),
    };
    let code = match ended {
        Ok(code) => code,
        Err(signal) => {
            info(format!("{signal}: stopping what this run started"));
            // After the walkthrough, Ctrl-C is the normal way to stop: its status stands.
            status.unwrap_or(signal.exit_code())
        }
    };
    for server in started.into_iter().rev() {
        info(format!("stopping the server at {}", server.url));
        server.stop().await;
    }
    ExitCode::from(code)
}

/// The signals that end a run.
#[derive(Debug, Clone, Copy)]
enum Signal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: `kill`, or ./start.sh passing on its own Ctrl-C or TERM.
    Terminate,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

impl Signal {
    /// A shell's code for a run ended by the signal (128 + its number).
    fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Ctrl-C or a TERM: which one.
async fn interrupted() -> Signal {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the TERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Signal::Interrupt,
        _ = term.recv() => Signal::Terminate,
    }
}

async fn supervise(args: &Args, started: &mut Vec<Supervised>, status: &mut Option<u8>) -> u8 {
    if let Err(message) = start_servers(args, started).await {
        error(message);
        error(format!("server logs are in {}/", args.log_dir.display()));
        return 1;
    }
    let code = match args.lab {
        Some(n) => lab(args, n).await,
        None => walkthrough(args).await,
    };
    *status = Some(code);
    if args.keep_running || args.lab.is_some() {
        keep_running(args).await;
    }
    code
}

async fn start_servers(args: &Args, started: &mut Vec<Supervised>) -> Result<(), String> {
    let wait = Duration::from_secs(args.ready_timeout_secs);
    let behind_proxy = args.proxy.is_set();
    let check = Checks::new(args)?;
    match &args.external_provider {
        None if check.provider_answers().await => info(format!(
            "[setup 3/4] provider: something already answers at {}; using it as it is (not stopped afterwards)",
            args.issuer
        )),
        None => {
            info(format!(
                "[setup 3/4] provider: the embedded provider ({}) on port {}",
                args.reason, args.provider_port
            ));
            let mut spec = ProviderSpec::from_dir(
                &args.certs_dir,
                &args.truststore_paths,
                vec![args.realm.clone()],
                &args.proxy,
            )
            .map_err(|e| playbook::report::error_chain(&e))?;
            spec.port = args.provider_port;
            spec.management_port = args.management_port;
            spec.options.admin_username = args.admin_username.clone();
            spec.options.admin_password = args.admin_password.clone();
            let log = args.log_dir.join("oauth2-provider.log");
            let what = "the embedded provider".to_owned();
            started.push(start(what, Spec::Provider(spec), &log).await?);
        }
        Some(_) => {}
    }
    check.wait_for_provider(wait).await?;

    if check.resource_server_answers().await {
        info(format!(
            "[setup 4/4] resource server: already running at {}; using it as it is",
            args.resource_server.as_str().trim_end_matches('/')
        ));
        return Ok(());
    }
    let ports: Vec<String> = args
        .resource_server_ports
        .iter()
        .map(u16::to_string)
        .collect();
    if behind_proxy {
        info(format!(
            "[setup 4/4] resource servers behind the proxy on ports {} (issuer {})",
            ports.join(" "),
            args.issuer
        ));
    } else {
        info(format!(
            "[setup 4/4] resource server on {} (issuer {})",
            args.resource_server.as_str().trim_end_matches('/'),
            args.issuer
        ));
    }
    let since = Instant::now();
    for &port in &args.resource_server_ports {
        let mut spec = resource_server_spec(args)?;
        spec.port = port;
        let log = match behind_proxy {
            true => args.log_dir.join(format!("resource-server-{port}.log")),
            false => args.log_dir.join("resource-server.log"),
        };
        let what = format!("the resource server on port {port}");
        started.push(start(what, Spec::ResourceServer(spec, wait), &log).await?);
    }
    // Ready behind the proxy too (a proxy may hold a back end that refused a probe aside
    // for a few seconds: nginx's fail_timeout).
    while !check.resource_server_answers().await {
        if since.elapsed() >= wait {
            return Err(format!(
                "the resource server does not answer at {} after {}s (raise READY_TIMEOUT_SECS)",
                args.resource_server,
                wait.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    info(format!(
        "the resource server at {} is ready ({}s)",
        args.resource_server.as_str().trim_end_matches('/'),
        since.elapsed().as_secs()
    ));
    Ok(())
}

/// A resource server as `./start.sh` runs it (port still to set): the files in
/// `--certs-dir`, the proxy's trust, and `--resource-server` (the proxy's URL, behind one)
/// as its public URL, the URL DPoP proofs name.
pub fn resource_server_spec(args: &Args) -> Result<ResourceServerSpec, String> {
    ResourceServerSpec::from_dir(
        &args.certs_dir,
        args.issuer.as_str(),
        args.resource_server.as_str(),
        &args.proxy,
    )
    .map_err(|e| playbook::report::error_chain(&e))
}

/// Starts one server on its thread and says where it listens and logs.
async fn start(what: String, spec: Spec, log: &std::path::Path) -> Result<Supervised, String> {
    let server = Supervised::start(&what, spec, log).await.map_err(|e| {
        format!(
            "{what} did not start: {}",
            playbook::report::error_chain(&e)
        )
    })?;
    info(format!("   {}, log {}", server.url, log.display()));
    Ok(server)
}

/// Whether the servers answer: before starting ours (something may already run there),
/// and the provider until it is ready.
struct Checks<'a> {
    args: &'a Args,
    http: client::http::Http,
    with_certificate: reqwest::Client,
}

impl<'a> Checks<'a> {
    fn new(args: &'a Args) -> Result<Self, String> {
        let roots = playbook::pem::load_ca_certs(&args.certs_dir.join("ca.pem"))
            .map_err(|e| playbook::report::error_chain(&e))?;
        let identity = playbook::Identity::load(
            &args.certs_dir.join("client.pem"),
            &args.certs_dir.join("client.key.pem"),
            None,
        )
        .map_err(|e| playbook::report::error_chain(&e))?;
        let client = |identity| {
            playbook::https::https_client(&roots, identity)
                .map_err(|e| playbook::report::error_chain(&e))
        };
        Ok(Checks {
            args,
            http: client(None)?.into(),
            with_certificate: client(Some(&identity))?,
        })
    }

    async fn answers(client: &reqwest::Client, url: &str) -> bool {
        let sent = client.get(url).timeout(Duration::from_secs(3)).send().await;
        sent.is_ok_and(|r| r.status().is_success())
    }

    async fn provider_answers(&self) -> bool {
        let url = playbook::discovery::discovery_url(self.args.issuer.as_str());
        Self::answers(&self.http, &url).await
    }

    async fn resource_server_answers(&self) -> bool {
        let url = format!(
            "{}/health/ready",
            self.args.resource_server.as_str().trim_end_matches('/')
        );
        Self::answers(&self.with_certificate, &url).await
    }

    /// Discovery, retried while nothing answers yet (client::retry::until_up).
    async fn wait_for_provider(&self, wait: Duration) -> Result<(), String> {
        let issuer = &self.args.issuer;
        let url = client::discovery::discovery_url(issuer).map_err(|e| e.to_string())?;
        let since = Instant::now();
        client::retry::until_up("the provider", &url, wait, || {
            client::discovery::discover(&self.http, issuer)
        })
        .await
        .map_err(|e| format!("the provider at {issuer} is not ready: {e}"))?;
        info(format!(
            "the provider at {issuer} is ready ({}s)",
            since.elapsed().as_secs()
        ));
        Ok(())
    }
}

/// What the provider is called in the messages.
fn provider_kind(args: &Args) -> &str {
    args.external_provider.as_deref().unwrap_or("embedded")
}

/// A client command, in this process, with the servers' settings; true when it succeeded.
async fn client(args: &Args, command: &[&str]) -> bool {
    let mut argv = vec![
        "client".to_owned(),
        "--certs-dir".to_owned(),
        args.certs_dir.display().to_string(),
        "--issuer".to_owned(),
        args.issuer.to_string(),
        "--resource-server".to_owned(),
        args.resource_server.to_string(),
        "--wait".to_owned(),
        "60".to_owned(),
        "--proxy".to_owned(),
        args.proxy_kind
            .to_possible_value()
            .expect("every proxy has a name")
            .get_name()
            .to_owned(),
    ];
    argv.extend(command.iter().map(|s| (*s).to_owned()));
    match client::cli::Cli::try_parse_from(argv) {
        Ok(cli) => client::commands::run(cli).await == ExitCode::SUCCESS,
        Err(err) => {
            error(format!("client {}: {err}", command.join(" ")));
            false
        }
    }
}

/// The walkthrough (steps 1-8); with a proxy, its access log for the walkthrough alone.
async fn walkthrough(args: &Args) -> u8 {
    info(format!(
        "setup done; the walkthrough (client walkthrough, steps 1-8) against the {} provider",
        provider_kind(args)
    ));
    if let Some(log) = &args.proxy_log {
        let _ = std::fs::write(log, "");
    }
    let passed = client(args, &["walkthrough"]).await;
    if let Some(log) = &args.proxy_log {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        info(format!(
            "what the proxy did with each request ({}):",
            log.display()
        ));
        for line in text.lines() {
            println!("    {line}");
        }
    }
    if passed {
        info("the walkthrough passed. Try it by hand: cargo run -p client -- --help");
        0
    } else {
        error(format!(
            "the walkthrough did not pass (exit 1); server logs are in {}/",
            args.log_dir.display()
        ));
        1
    }
}

/// Lab N: its starting state the first time (`client lab reset N`), then its card.
async fn lab(args: &Args, n: u8) -> u8 {
    let n_text = n.to_string();
    info(format!(
        "setup done; lab {n} (labs/README.md) against the {} provider",
        provider_kind(args)
    ));
    if args.lab_fresh {
        if !client(args, &["lab", "reset", &n_text]).await {
            error(format!("client lab reset {n} failed (see above)"));
            return 1;
        }
    } else {
        info(format!(
            "lab {n}: your work in labs/work/lab{n}/ is kept (client lab reset {n} starts over)"
        ));
    }
    if client(args, &["lab", "show", &n_text]).await {
        0
    } else {
        1
    }
}

/// --keep-running / --lab: everything stays up until Ctrl-C (run's select! ends it).
async fn keep_running(args: &Args) {
    info("servers keep running (--keep-running); Ctrl-C stops them");
    match args.lab {
        Some(n) => info(format!(
            "in another terminal: cargo run -q -p client -- lab check {n}   (labs/README.md)"
        )),
        None => info(
            "in another terminal: cargo run -p client -- token --decode   (see README 'By hand')",
        ),
    }
    std::future::pending::<()>().await;
}
