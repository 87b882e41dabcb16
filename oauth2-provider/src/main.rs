//! `oauth2-provider`: the embedded Keycloak-compatible authorization server.
//!
//! ```text
//! oauth2-provider --realm oauth2-provider/import/oauth2-playbook-realm.json --certs certs
//! oauth2-provider --realm my-export-dir/ --realm other-realm.json   # several realms
//! ```
//!
//! Thin: parse arguments, import the realm, load the TLS files, serve (see the library).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use oauth2_provider::{Options, Provider};
use tokio::net::TcpListener;

/// An authorization server that imports a Keycloak realm export and answers as Keycloak
/// 26.7 does: discovery, JWKS, the token endpoint (client_credentials with tls_client_auth
/// or a client secret; password for the master realm's admin-cli), introspection, the
/// admin REST calls of the walkthrough, and health on the management port.
///
/// State is in memory: the realm file is imported at start, and every change made
/// through the admin API (role assignments, clients) is lost when the process exits.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// A realm export to import: a realm file (one realm, or an array of realms as
    /// `kc.sh export --file` writes several), or a directory read as Keycloak's
    /// `--import-realm` reads `data/import` (`kc.sh export --dir` output: `<realm>-realm.json`
    /// with its `<realm>-users-N.json`). Give it several times for several; every imported
    /// realm is served, and `master` always. `${NAME}` and `${NAME:default}` placeholders are
    /// replaced from environment variables first, as Keycloak's --import-realm does (an unset
    /// variable without a default is kept as `${NAME}`).
    #[arg(
        long,
        value_name = "FILE|DIR",
        default_value = "oauth2-provider/import/oauth2-playbook-realm.json"
    )]
    realm: Vec<PathBuf>,
    /// Directory with oauth2-provider.pem, oauth2-provider.key.pem and ca.pem
    /// (`client certs` writes them). Client certificates are requested, not required,
    /// and verified against ca.pem (Keycloak's https-client-auth=request). Read once at
    /// start: to serve replaced files, restart the provider. Its client-jwt.pem becomes the
    /// realm file's PLAYBOOK_JWT_CLIENT_CERT (the private_key_jwt client's certificate)
    /// unless that variable is set.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    certs: PathBuf,
    /// More PEM files whose certificates are trusted for client certificates, besides
    /// ca.pem (Keycloak's --truststore-paths; comma-separated). A self-signed client
    /// certificate is trusted by listing the certificate itself. Read at start.
    #[arg(
        long,
        env = "KC_TRUSTSTORE_PATHS",
        value_name = "FILE,...",
        value_delimiter = ','
    )]
    truststore_paths: Vec<PathBuf>,
    /// HTTPS port (Keycloak's 8443, published as 9443 by the container script).
    #[arg(long, env = "PROVIDER_PORT", default_value_t = playbook::names::PROVIDER_PORT)]
    port: u16,
    /// Management port for /health/* (HTTPS, same certificate), as Keycloak's 9000.
    #[arg(long, env = "MANAGEMENT_PORT", default_value_t = playbook::names::MANAGEMENT_PORT)]
    management_port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Fixed base URL for issuer and endpoints (Keycloak's --hostname). Default: taken from
    /// each request's Host header (Keycloak with hostname-strict=false).
    #[arg(long, value_name = "URL", value_parser = https_base_url)]
    hostname: Option<url::Url>,
    /// Behind a TLS-terminating proxy: who may forward client certificates, and how
    /// (Keycloak: spi-x509cert-lookup--provider=nginx with the same header).
    #[command(flatten)]
    proxy: playbook::forwarded::ProxyArgs,
    /// Bootstrap admin of the master realm.
    #[arg(long, env = "KC_BOOTSTRAP_ADMIN_USERNAME", default_value = playbook::names::DEFAULT_ADMIN_USERNAME)]
    admin_username: String,
    /// Bootstrap admin password (prefer the environment variable: flags show in `ps`).
    #[arg(
        long,
        env = "KC_BOOTSTRAP_ADMIN_PASSWORD",
        default_value = playbook::names::DEFAULT_ADMIN_PASSWORD,
        hide_default_value = true,
        hide_env_values = true
    )]
    admin_password: String,
    #[command(flatten)]
    limits: playbook::server::Limits,
}

/// `--hostname`: an https URL without query or fragment (the issuer is built from it).
fn https_base_url(value: &str) -> Result<url::Url, String> {
    let example = "e.g. https://localhost:9443";
    let url = url::Url::parse(value).map_err(|e| {
        format!("not a URL ({e}); --hostname takes the server's base URL, {example}")
    })?;
    if url.scheme() != "https" {
        return Err(format!(
            "--hostname must be an https URL (this server only speaks TLS), {example}"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) || url.query().is_some() || url.fragment().is_some()
    {
        return Err(format!(
            "--hostname must be a base URL with a host and no query or fragment, {example}"
        ));
    }
    Ok(url)
}

#[tokio::main]
async fn main() -> ExitCode {
    playbook::report::init_logging("info", playbook::report::LogTo::Stdout);
    playbook::install_crypto_provider();
    playbook::report::exit_code(serve(Args::parse()).await)
}

async fn serve(args: Args) -> anyhow::Result<()> {
    if let Some(missing) = args.realm.iter().find(|p| !p.exists()) {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "?".into());
        anyhow::bail!(
            "realm file {} not found (relative paths are taken from the current directory, {cwd}); run from the repository root or pass --realm FILE",
            missing.display()
        );
    }
    let forwarded = if args.proxy.is_set() {
        let ca = args.certs.join("ca.pem");
        let roots = playbook::pem::load_ca_certs(&ca)
            .with_context(|| format!("loading {} for forwarded certificates", ca.display()))?;
        let forwarded = args.proxy.build(&roots)?;
        if let Some(f) = &forwarded {
            f.log_accepting();
        }
        // As Keycloak: the header from anyone else is dropped and logged (401 invalid_client).
        forwarded.map(|f| std::sync::Arc::new(f.as_keycloak()))
    } else {
        None
    };
    let mut options = Options {
        hostname: args.hostname,
        admin_username: args.admin_username,
        admin_password: args.admin_password,
        limits: args.limits,
        forwarded,
        environment: oauth2_provider::realm::Environment::default(),
    };
    // The realm file's ${PLAYBOOK_JWT_CLIENT_CERT:} from certs/, as the Keycloak drivers set it.
    oauth2_provider::jwt_client_cert_from_dir(&mut options.environment, &args.certs);
    let provider = Provider::from_realm_paths(&args.realm, options)?;
    let tls = oauth2_provider::tls_config_from_dir(&args.certs, &args.truststore_paths)
        .with_context(|| {
            format!(
                "loading TLS files from {} (create them with `client certs`)",
                args.certs.display()
            )
        })?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!(
            "binding {addr} (is Keycloak or another provider running? choose another with --port)"
        )
    })?;
    let maddr = SocketAddr::new(args.bind, args.management_port);
    let management = TcpListener::bind(maddr)
        .await
        .with_context(|| format!("binding the management port {maddr} (Keycloak's health port; choose another with --management-port)"))?;
    // The bound addresses (port 0 picks one).
    let (addr, maddr) = (listener.local_addr()?, management.local_addr()?);
    tracing::info!(
        "oauth2-provider (Keycloak {} compatible) on https://{addr}, health on https://{maddr}/health/ready",
        oauth2_provider::KEYCLOAK_VERSION
    );
    oauth2_provider::run(
        listener,
        Some(management),
        tls,
        provider,
        playbook::server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
