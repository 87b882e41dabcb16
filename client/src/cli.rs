//! The command line: clap definitions (their doc comments are the `--help` texts) and the
//! dispatch `main` calls. Every setting comes from a flag, else an environment variable,
//! else `.env` in the current directory, else the defaults `./start.sh` uses.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use playbook::names;
use playbook::x509::Purpose;
use playbook::{Identity, pem};
use serde_json::json;
use url::Url;

use crate::admin::{AdminApi, Change};
use crate::bench;
use crate::certs;
use crate::discovery;
use crate::error::ClientError;
use crate::output::Output;
use crate::resource::{self, TokenCache, TokenSource};
use crate::retry;
use crate::settings::Settings;
use crate::token::{
    self, ClientAuth, ClientId, ClientSecret, CurlTls, DecodedJwt, Scope, TokenRequest,
};
use crate::walkthrough;

/// The mTLS OAuth 2.0 client-credentials playground client (RFC 6749 §4.4, RFC 8705).
///
/// Quick start (from the repository root): `./start.sh` builds everything, generates the
/// certificates, starts a provider (Keycloak in a container, or the embedded one) and the
/// resource server, and runs `client walkthrough`.
///
/// By hand, with the servers running:
///   client certs                      the dev PKI in certs/ (once; never overwrites)
///   client certs show certs/client.pem  subject, issuer, EKU, validity, x5t#S256
///   client certs check                every file the walkthrough needs, none expired
///   client discover                   the provider's endpoints (--full: the whole document)
///   client token --decode             a token over mutual TLS, decoded, cnf checked
///   client token --secret --decode    the same with a client secret: an unbound token
///   ACCESS_TOKEN=$(client token --raw)  the token alone, for curl
///   client admin assign-role          give the client the realm role (remove-role, status)
///   client call /api/users /api/whoami  call the API with a cached, bound token
///   client call --secret /api/whoami  the same with the client-secret client's unbound token
///   client call --every 1 /api/whoami  again every second, following certificate rotation
///   client walkthrough                steps 1-8, narrated; --json for scripts
///   client lab list                   the workshop labs (check N, reset N, solve N)
///   client bench api --reuse full     load an API route (or `token`): req/s, latency, handshakes
///
/// Settings: each option below can also come from the environment variable shown as
/// [env: …], or from a `.env` file in the current directory (real environment variables
/// win). Defaults match ./start.sh and scripts/env.sh. Only certs/ca.pem is trusted for the
/// servers (as curl --cacert); there is no option to skip verification.
///
/// Output: numbered steps with what is sent, what comes back and the equivalent curl
/// command; tokens and secrets shortened unless --show-secrets; colours only on a terminal
/// (NO_COLOR turns them off). Exit code 0 when the command did what was asked.
///
/// Debug builds honour SSLKEYLOGFILE=path: Wireshark can then decrypt the TLS traffic and
/// show the certificate exchange. RUST_LOG=debug shows the HTTP client's own logs.
#[derive(Debug, Parser)]
#[command(name = "client", version, max_term_width = 100, verbatim_doc_comment)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The settings every subcommand shares; `--help` lists them under their own heading so a
/// subcommand's own flags stand out.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The realm's issuer URL; endpoints come from its discovery document.
    #[arg(long, env = "ISSUER", default_value = names::ISSUER, global = true)]
    pub issuer: Url,
    /// The realm (for the admin API). Default: read from the issuer (…/realms/{realm}).
    #[arg(long, env = "REALM", global = true)]
    pub realm: Option<String>,
    /// The client that authenticates with its certificate (tls_client_auth).
    #[arg(long, env = "CLIENT_ID", default_value = names::MTLS_CLIENT_ID, global = true)]
    pub client_id: String,
    /// Scope to request (e.g. `users:read`); none by default.
    #[arg(long, env = "CLIENT_SCOPE", global = true)]
    pub scope: Option<String>,
    /// The resource server's base URL.
    #[arg(long, env = "RESOURCE_SERVER_URL", default_value = names::RESOURCE_SERVER_URL, global = true)]
    pub resource_server: Url,
    /// Where `client certs` writes and every command reads the certificates.
    #[arg(long, env = "CERTS_DIR", default_value = "certs", global = true)]
    pub certs_dir: PathBuf,
    /// The CA the servers' certificates must chain to (the only root trusted).
    /// Default: CERTS_DIR/ca.pem.
    #[arg(long, env = "CA_CERT", global = true)]
    pub ca: Option<PathBuf>,
    /// The client certificate presented in the TLS handshake. Default: CERTS_DIR/client.pem.
    #[arg(long, env = "CLIENT_CERT", global = true)]
    pub cert: Option<PathBuf>,
    /// Its private key. Default: CERTS_DIR/client.key.pem.
    #[arg(long, env = "CLIENT_KEY", global = true)]
    pub key: Option<PathBuf>,
    /// Keycloak's bootstrap admin (realm master, client admin-cli), for the admin API.
    #[arg(long, env = "KC_BOOTSTRAP_ADMIN_USERNAME", default_value = names::DEFAULT_ADMIN_USERNAME, global = true)]
    pub admin_username: String,
    /// The bootstrap admin's password (default: the development value, see README "The
    /// names"; prefer the environment variable: `ps` shows flags).
    #[arg(long, env = "KC_BOOTSTRAP_ADMIN_PASSWORD", default_value = names::DEFAULT_ADMIN_PASSWORD, hide_default_value = true, hide_env_values = true, global = true)]
    pub admin_password: ClientSecret,
    /// The client_secret client, used by `client token --secret` for contrast.
    #[arg(long, env = "SECRET_CLIENT_ID", default_value = names::SECRET_CLIENT_ID, global = true)]
    pub secret_client_id: String,
    /// Its secret (default: the development value from the realm file; prefer the
    /// environment variable: `ps` shows flags).
    #[arg(long, env = "CLIENT_SECRET", default_value = names::SECRET_CLIENT_SECRET, hide_default_value = true, hide_env_values = true, global = true)]
    pub client_secret: ClientSecret,
    /// Seconds to wait for a server that is still starting (connection refused) before
    /// giving up. ./start.sh passes a longer wait.
    #[arg(long, env = "WAIT_SECS", default_value_t = 30, global = true)]
    pub wait: u64,
    /// Print one JSON document for scripts instead of the narration. It holds tokens
    /// whole (programs need them; the narration shortens them).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print tokens and secrets whole (they are shortened by default).
    #[arg(long, global = true)]
    pub show_secrets: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the development PKI (CA, server and client certificates) into CERTS_DIR,
    /// or read certificates back with `client certs show FILE...`.
    ///
    /// Files: ca.pem (the trust anchor), oauth2-provider.pem and resource-server.pem (serverAuth;
    /// SANs localhost, 127.0.0.1, ::1, keycloak), client.pem (clientAuth; the subject DN the
    /// realm's x509.subjectdn expects), other-client.pem (same CA, another DN),
    /// rogue-client.pem (right DN, untrusted CA), each with a .key.pem (mode 0600), and
    /// client.p12 (password `playbook`). Existing files are never overwritten without --force.
    Certs(CertsArgs),
    /// Show what the provider's discovery document says: the issuer, the token endpoint
    /// (and its mTLS alias), the client authentication methods (tls_client_auth among them)
    /// and whether tokens are certificate-bound. --full (or --json) prints the whole document.
    Discover(DiscoverArgs),
    /// Request an access token with the client-credentials grant.
    ///
    /// Default: RFC 8705 tls_client_auth: `grant_type=client_credentials&client_id=…` in the
    /// form, the certificate (--cert/--key) in the TLS handshake, no secret. The response is
    /// printed as the server returned it (tokens shortened unless --show-secrets).
    /// For a script: `ACCESS_TOKEN=$(client token --raw)` (only the token, whole).
    Token(TokenArgs),
    /// Call the resource server, e.g. `client call /api/users /api/whoami`.
    ///
    /// Gets a token over mutual TLS, keeps it until shortly before it expires (later paths
    /// reuse it), and fetches a new one once if the server answers `invalid_token`.
    /// With --secret the token comes from the client-secret client instead (unbound); the
    /// call itself still presents the client certificate, as the resource server requires.
    Call(CallArgs),
    /// Give or take the realm role through Keycloak's Admin REST API (idempotent; every
    /// request is shown).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The narrated flow: certificates, token requests right and wrong, the role, the API,
    /// the binding. Exits non-zero if any step's outcome is not the expected one.
    ///
    /// Steps:
    ///   1  the certificates: subject DN, issuer, x5t#S256 thumbprint
    ///   2  token request without a client certificate      → 401 invalid_client
    ///   3  with the wrong certificate (same CA, other DN)  → 401 invalid_client
    ///   3b with a certificate from an untrusted CA         → refused (TLS handshake)
    ///   4  with the right certificate → a token; cnf.x5t#S256 = the certificate's thumbprint
    ///   5  GET /api/users without the role                 → 403 insufficient_scope
    ///   6  role assigned via the admin API; a new token carries it → 200
    ///   7  that token over a connection with another certificate → 401 invalid_token
    ///   8  POST /api/users (a role the client never gets)  → 403
    ///
    /// Provider state: if the role is already assigned at the start it is removed first (and
    /// said so), so that step 5 shows the 403; at the end it is removed again unless
    /// --keep-role. Needs certs/client.pem, other-client.pem (and rogue-client.pem for 3b).
    #[command(verbatim_doc_comment)]
    Walkthrough(WalkthroughArgs),
    /// The workshop labs in labs/: list, check N, reset N, solve N (see labs/README.md).
    Lab(crate::lab::command::LabArgs),
    /// An experiment: a bounded load against the token endpoint or an API route, printing
    /// requests per second, latency percentiles and handshakes per second.
    ///
    /// Compare a kept-alive connection, a new connection per request with TLS resumption,
    /// and a full handshake every time (--reuse); RSA against ECDSA certificates (generate
    /// them with `client certs --key-type ecdsa-p256 --out certs-ec` and pass
    /// --certs-dir certs-ec, servers restarted with them); a certificate-bound token against
    /// an unbound one (--secret). The run stops by itself after --duration seconds, or
    /// earlier after --count requests. Against Keycloak: --issuer (discovery finds the token
    /// endpoint) or --url with its token endpoint. Exits non-zero unless every request was
    /// answered with 2xx.
    ///
    /// Examples:
    ///   client bench api                          GET /api/users, kept alive, 10 s
    ///   client bench api --reuse full -c 4        a full mTLS handshake per request
    ///   client bench token --reuse resume -n 500  token requests, resumed sessions
    ///   client bench api --secret --json          an unbound token; JSON for scripts
    #[command(verbatim_doc_comment)]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to load: `api` (a resource-server route, one token for the whole run) or
    /// `token` (the provider's token endpoint: a client-credentials grant per request).
    #[arg(value_enum, default_value = "api")]
    pub endpoint: bench::Endpoint,
    /// The route for `api`.
    #[arg(long, default_value = names::USERS_API_PATH)]
    pub path: String,
    /// Load this URL instead: a token endpoint for `token` (default: from the issuer's
    /// discovery document, the mTLS alias if there is one), an API URL for `api` (default:
    /// RESOURCE_SERVER_URL + --path).
    #[arg(long)]
    pub url: Option<Url>,
    /// How each request gets its TLS connection: `keep-alive` (one per worker, kept),
    /// `resume` (a new one per request, TLS session resumed), `full` (a new one per
    /// request with a full handshake).
    #[arg(long, value_enum, default_value_t)]
    pub reuse: playbook::load::Reuse,
    /// Concurrent connections (workers).
    #[arg(long, short = 'c', default_value_t = 8)]
    pub connections: usize,
    /// Stop after this many seconds at the latest (a request in flight then is not counted).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many requests, if that comes first.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Use the client-secret client: for `token`, client_secret_basic requests without a
    /// client certificate; for `api`, its unbound token (the API calls still present the
    /// client certificate, as the resource server requires).
    #[arg(long)]
    pub secret: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub show: Option<CertsCommand>,
    /// Directory to write to (default: CERTS_DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace existing files (servers already running keep the old certificates until
    /// they are restarted).
    #[arg(long)]
    pub force: bool,
    /// Validity of the leaf certificates in days, from now (the CAs get twice as long).
    #[arg(long, default_value_t = playbook::pki::DEFAULT_LEAF_DAYS)]
    pub days: i64,
    /// The key algorithm of every certificate (CA, servers, clients). Keycloak and rustls
    /// take all four; browsers do not take ed25519 (see certs/README.md).
    #[arg(long, env = "KEY_TYPE", value_enum, default_value_t)]
    pub key_type: playbook::pki::KeyType,
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Check that CERTS_DIR holds every certificate and key the walkthrough
    /// needs, none expired; exits non-zero, naming the fix, when not (./start.sh runs it).
    Check,
    /// Print subject and issuer (RFC 2253), SANs, EKU, validity and the RFC 8705 thumbprint
    /// x5t#S256 of each certificate; warns when one is close to expiry.
    Show {
        /// PEM files (keys among them are recognised and skipped; a .p12 is recognised and
        /// the openssl command to read it is printed).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Authenticate with the client secret (HTTP Basic) instead of the certificate, for
    /// contrast: the token is then not bound to any certificate.
    #[arg(long)]
    pub secret: bool,
    /// Decode the token: header and claims, and whether cnf.x5t#S256 matches --cert.
    #[arg(long, conflicts_with = "raw")]
    pub decode: bool,
    /// Print only the access token, whole, and nothing else (for
    /// `ACCESS_TOKEN=$(client token --raw)`).
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Print the whole discovery document, not just the fields the walkthrough uses.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// API paths (`/api/users`; a missing leading '/' is added); the token is reused
    /// across them.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Use a token of the client-secret client (client_secret_basic, not bound to any
    /// certificate), e.g. against a resource server started with --require-binding.
    #[arg(long)]
    pub secret: bool,
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: reqwest::Method,
    /// JSON body to send (with POST/PUT).
    #[arg(long, short = 'd')]
    pub data: Option<String>,
    /// Call the GET paths again every SECS seconds until Ctrl-C, following the certificate
    /// files: a new --cert/--key pair on disk means a new token (certificate rotation).
    #[arg(long, value_name = "SECS", conflicts_with_all = ["secret", "data"])]
    pub every: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Map the realm role to the client's service-account user.
    AssignRole(RoleArgs),
    /// Remove that mapping.
    RemoveRole(RoleArgs),
    /// Say whether the role is mapped.
    Status(RoleArgs),
}

#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The realm role.
    #[arg(long, default_value = names::READONLY_ROLE)]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct WalkthroughArgs {
    /// Leave the role assigned at the end (to keep playing with `client call`).
    #[arg(long)]
    pub keep_role: bool,
    /// Skip step 3b (the certificate from an untrusted CA).
    #[arg(long)]
    pub skip_rogue: bool,
}

impl GlobalArgs {
    /// The resolved settings.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::defaults(&self.certs_dir);
        s.issuer = self.issuer.clone();
        s.realm = self
            .realm
            .clone()
            .or_else(|| Settings::realm_of(&self.issuer))
            .unwrap_or_else(|| names::REALM.to_owned());
        s.client_id = ClientId::new(&self.client_id);
        s.scope = self.scope.clone().filter(|v| !v.is_empty()).map(Scope::new);
        s.resource_server = self.resource_server.clone();
        if let Some(ca) = &self.ca {
            s.ca = ca.clone();
        }
        if let Some(cert) = &self.cert {
            s.cert = cert.clone();
        }
        if let Some(key) = &self.key {
            s.key = key.clone();
        }
        s.admin_username = self.admin_username.clone();
        s.admin_password = self.admin_password.clone();
        s.secret_client_id = ClientId::new(&self.secret_client_id);
        s.client_secret = self.client_secret.clone();
        s.wait = Duration::from_secs(self.wait);
        s
    }
}

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
        Command::Certs(args) => match &args.show {
            Some(CertsCommand::Show { files }) => Ok(certs::show(files, out)),
            Some(CertsCommand::Check) => Ok(certs::check(&cli.global.certs_dir, out)),
            None => {
                let dir = args
                    .out
                    .clone()
                    .unwrap_or_else(|| cli.global.certs_dir.clone());
                certs::generate(&dir, args.force, args.days, args.key_type, out)?;
                if args.force {
                    out.warn(
                        "servers that are already running still use the old certificates: restart them (./start.sh), or TLS fails with BadSignature / unknown issuer",
                    );
                }
                Ok(true)
            }
        },
        Command::Discover(args) => discover_command(s, args, out).await,
        Command::Token(args) => token_command(s, args, out).await,
        Command::Call(args) => call_command(s, args, out).await,
        Command::Admin(cmd) => admin_command(s, cmd, out).await,
        Command::Lab(args) => crate::lab::command::run(s, args, out).await,
        Command::Bench(args) => bench_command(s, args, out).await,
        Command::Walkthrough(args) => {
            let options = walkthrough::Options {
                keep_role: args.keep_role,
                skip_rogue: args.skip_rogue,
            };
            let report = walkthrough::run(s, &options, out).await?;
            out.json(&serde_json::to_value(&report).unwrap_or_default());
            Ok(report.all_passed())
        }
    }
}

fn https(s: &Settings, identity: Option<&Identity>) -> Result<reqwest::Client, ClientError> {
    let roots = pem::load_ca_certs(&s.ca)?;
    Ok(playbook::https::https_client(&roots, identity)?)
}

fn identity(s: &Settings) -> Result<Identity, ClientError> {
    Ok(Identity::load(&s.cert, &s.key, Some(Purpose::Client))?)
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
        ClientAuth::SecretBasic(_) => m.token_endpoint.clone(),
    })
}

async fn token_command(s: &Settings, args: &TokenArgs, out: &Output) -> Result<bool, ClientError> {
    // --raw: the token alone on stdout, for `ACCESS_TOKEN=$(client token --raw)`.
    let quiet = Output::quiet();
    let out = if args.raw { &quiet } else { out };
    let (request, id) = if args.secret {
        let req = TokenRequest {
            client_id: s.secret_client_id.clone(),
            scope: s.scope.clone(),
            auth: ClientAuth::SecretBasic(s.client_secret.clone()),
        };
        (req, None)
    } else {
        let req = TokenRequest {
            client_id: s.client_id.clone(),
            scope: s.scope.clone(),
            auth: ClientAuth::TlsClientAuth,
        };
        (req, Some(identity(s)?))
    };
    let endpoint = token_endpoint(s, &request.auth).await?;
    let http = https(s, id.as_ref())?;
    out.step(
        "1",
        &format!("client credentials ({})", request.auth.method_name()),
    );
    out.send(&format!(
        "POST {endpoint}\n{}{}",
        request.form_body(),
        match (&request.auth, &id) {
            (ClientAuth::SecretBasic(_), _) =>
                "\nAuthorization: Basic [client_id:client_secret, redacted]".to_owned(),
            (_, Some(i)) => format!("\n(TLS client certificate: {})", i.cert_path.display()),
            _ => String::new(),
        }
    ));
    let curl_tls = CurlTls {
        ca: s.ca.clone(),
        cert: id.as_ref().map(|_| (s.cert.clone(), s.key.clone())),
    };
    out.curl(&request.curl(&endpoint, &curl_tls, out.show_secrets()));
    let response = match token::request_token(&http, &endpoint, &request).await {
        Ok(r) => r,
        Err(ClientError::OAuth { error, url }) => {
            out.recv(&format!(
                "{} {}",
                error.status,
                json!({"error": error.error, "error_description": error.error_description})
            ));
            return Err(ClientError::OAuth { error, url });
        }
        Err(e) => return Err(e),
    };
    if args.raw {
        println!("{}", response.access_token.secret());
        return Ok(true);
    }
    out.recv(&format!("200 OK\n{}", pretty(&out.redacted(&response.raw))));
    // The --json document is for programs: the token response whole (the narration above
    // shortens it), so `client token --json | jq -r .access_token` gives a usable token.
    let mut doc = response.raw.clone();
    if args.decode {
        let jwt = DecodedJwt::decode(&response.access_token)?;
        out.step(
            "2",
            "the access token, decoded (signature not verified here)",
        );
        out.plain(&format!("header: {}", pretty(&jwt.header)));
        out.plain(&format!("claims: {}", pretty(&jwt.claims)));
        let binding = id.as_ref().map(|i| jwt.binding(&i.x5t_s256()));
        match &binding {
            Some(token::Binding::Matches { x5t_s256 }) => out.ok(&format!(
                "cnf.x5t#S256 {x5t_s256} matches {} (RFC 8705 certificate-bound token)",
                s.cert.display()
            )),
            Some(token::Binding::Differs {
                token,
                presented: ours,
            }) => out.fail(&format!(
                "cnf.x5t#S256 {token} does NOT match {} ({ours})",
                s.cert.display()
            )),
            Some(token::Binding::NoCertificate { token }) => out.fail(&format!(
                "cnf.x5t#S256 {token}, and no certificate to compare it with"
            )),
            Some(token::Binding::Unbound) => {
                out.warn("no cnf claim: the token is not bound to the certificate")
            }
            None => {
                out.note("no certificate was used, so the token is a plain bearer token (no cnf)")
            }
        }
        if let Some(obj) = doc.as_object_mut() {
            obj.insert(
                "decoded".into(),
                serde_json::to_value(&jwt).unwrap_or_default(),
            );
            if let Some(b) = binding {
                obj.insert(
                    "cnf_check".into(),
                    serde_json::to_value(b).unwrap_or_default(),
                );
            }
        }
    }
    out.json(&doc);
    Ok(true)
}

async fn bench_command(s: &Settings, args: &BenchArgs, out: &Output) -> Result<bool, ClientError> {
    // Arguments first: a typo must not cost a wait for the provider.
    let setting = |name, value: String, fix: &str| ClientError::Setting {
        name,
        value,
        fix: fix.to_owned(),
    };
    if !(args.duration > 0.0 && args.duration <= 3600.0) {
        return Err(setting(
            "--duration",
            args.duration.to_string(),
            "give seconds, more than 0 and at most 3600",
        ));
    }
    if !(1..=1024).contains(&args.connections) {
        return Err(setting(
            "--connections",
            args.connections.to_string(),
            "give 1 to 1024",
        ));
    }
    if args.count == Some(0) {
        return Err(setting("--count", "0".into(), "give at least 1"));
    }
    let roots = pem::load_ca_certs(&s.ca)?;
    let id = identity(s)?;
    let token_request = if args.secret {
        TokenRequest {
            client_id: s.secret_client_id.clone(),
            scope: s.scope.clone(),
            auth: ClientAuth::SecretBasic(s.client_secret.clone()),
        }
    } else {
        TokenRequest {
            client_id: s.client_id.clone(),
            scope: s.scope.clone(),
            auth: ClientAuth::TlsClientAuth,
        }
    };
    let token_id = (!args.secret).then_some(&id);
    let mut headers = reqwest::header::HeaderMap::new();
    let header = |v: &str| {
        reqwest::header::HeaderValue::from_str(v)
            .map_err(|_| setting("header", v.into(), "not a valid header value"))
    };
    headers.insert(reqwest::header::ACCEPT, header("application/json")?);
    let (url, method, body, presented, token_kind) = match args.endpoint {
        bench::Endpoint::Token => {
            let url = match &args.url {
                Some(url) => url.clone(),
                None => token_endpoint(s, &token_request.auth).await?,
            };
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                header("application/x-www-form-urlencoded")?,
            );
            if let Some(auth) = token_request.authorization() {
                headers.insert(reqwest::header::AUTHORIZATION, header(&auth)?);
            }
            let body = token_request.form_body();
            (url, reqwest::Method::POST, body, token_id, None)
        }
        bench::Endpoint::Api => {
            let path = if args.path.starts_with('/') {
                args.path.clone()
            } else {
                format!("/{}", args.path)
            };
            let url = match &args.url {
                Some(url) => url.clone(),
                None => resource::api_url(&s.resource_server, &path)?,
            };
            let endpoint = token_endpoint(s, &token_request.auth).await?;
            let token =
                token::request_token(&https(s, token_id)?, &endpoint, &token_request).await?;
            if let Some(expires) = token.expires_in
                && (expires as f64) < args.duration
            {
                out.warn(&format!(
                    "the token expires in {expires} s, before the run ends: later requests will be refused"
                ));
            }
            let bound = DecodedJwt::decode(&token.access_token)
                .ok()
                .and_then(|jwt| jwt.cnf_x5t_s256().map(str::to_owned))
                .is_some();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                header(&format!("Bearer {}", token.access_token.secret()))?,
            );
            let kind = if bound {
                "certificate-bound"
            } else {
                "unbound"
            };
            (
                url,
                reqwest::Method::GET,
                String::new(),
                Some(&id),
                Some(kind),
            )
        }
    };
    let tls = playbook::https::client_config(&roots, presented)?;
    let target = bench::target(&url, tls).await?;
    let plan = playbook::load::Plan {
        connections: args.connections,
        duration: Duration::from_secs_f64(args.duration),
        count: args.count,
        reuse: args.reuse,
    };
    let what = json!({
        "endpoint": args.endpoint,
        "method": method.as_str(),
        "url": url.as_str(),
        "token": token_kind,
        "client_certificate": presented.map(|i| i.cert_path.display().to_string()),
        "duration_s": args.duration,
        "count": args.count,
    });
    out.heading(&format!(
        "{method} {url}: {}, {} connection{}, {} s at most{}",
        args.reuse.as_str(),
        args.connections,
        if args.connections == 1 { "" } else { "s" },
        args.duration,
        args.count
            .map(|n| format!(" or {n} requests"))
            .unwrap_or_default()
    ));
    out.plain(&format!(
        "  presenting   {}{}",
        presented
            .map(|i| i.cert_path.display().to_string())
            .unwrap_or_else(|| "no client certificate".into()),
        token_kind
            .map(|k| format!("; one {k} token for every request"))
            .unwrap_or_default()
    ));
    let request = playbook::load::Request {
        method,
        path: bench::path_and_query(&url),
        headers,
        body: body.into(),
    };
    let report = bench::run(target, request, &plan, out).await;
    bench::print(&report, out);
    out.json(&bench::to_json(&report, what));
    Ok(bench::all_succeeded(&report))
}

async fn call_command(s: &Settings, args: &CallArgs, out: &Output) -> Result<bool, ClientError> {
    if let Some(every) = args.every {
        return crate::rotation::watch(s, &args.paths, every, out).await;
    }
    // Arguments first: a typo must not cost a wait for the provider.
    let body = match &args.data {
        Some(d) => Some(serde_json::from_str::<serde_json::Value>(d).map_err(|e| {
            ClientError::Setting {
                name: "--data",
                value: d.clone(),
                fix: format!("must be JSON: {e}"),
            }
        })?),
        None => None,
    };
    let paths: Vec<String> = args
        .paths
        .iter()
        .map(|p| {
            if p.starts_with('/') {
                p.clone()
            } else {
                format!("/{p}")
            }
        })
        .collect();
    let id = identity(s)?;
    // The calls always present the client certificate (the resource server requires one);
    // the token comes from the mTLS client, or with --secret from the client-secret one.
    let http = https(s, Some(&id))?;
    let (request, token_http) = if args.secret {
        let req = TokenRequest {
            client_id: s.secret_client_id.clone(),
            scope: s.scope.clone(),
            auth: ClientAuth::SecretBasic(s.client_secret.clone()),
        };
        (req, https(s, None)?)
    } else {
        let req = TokenRequest {
            client_id: s.client_id.clone(),
            scope: s.scope.clone(),
            auth: ClientAuth::TlsClientAuth,
        };
        (req, http.clone())
    };
    let endpoint = token_endpoint(s, &request.auth).await?;
    // One token for every path; behind a lock because each retry attempt below borrows it.
    let cache = tokio::sync::Mutex::new(TokenCache::default());
    let mut all_ok = true;
    let mut results = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let url = resource::api_url(&s.resource_server, path)?;
        out.step(&(i + 1).to_string(), &format!("{} {url}", args.method));
        // The resource server may still be starting: wait for it (connection refused only).
        let (response, source) = retry::until_up("the resource server", &url, s.wait, || async {
            let fetch = async || token::request_token(&token_http, &endpoint, &request).await;
            let mut cache = cache.lock().await;
            resource::call_cached(
                &http,
                &s.resource_server,
                args.method.clone(),
                path,
                body.as_ref(),
                &mut cache,
                fetch,
            )
            .await
        })
        .await?;
        out.note(match source {
            TokenSource::Cached => "token: reused from the cache",
            TokenSource::Fetched if args.secret => "token: fetched (client_secret_basic: not bound to the certificate)",
            TokenSource::Fetched => "token: fetched (tls_client_auth)",
            TokenSource::Refetched => "token: the server said invalid_token, so a new one was fetched and the call repeated once",
        });
        out.recv(&response.summary());
        all_ok &= (200..300).contains(&response.status);
        results.push(json!({"path": path, "token": source, "response": response}));
    }
    out.json(&json!(results));
    Ok(all_ok)
}

async fn admin_command(
    s: &Settings,
    cmd: &AdminCommand,
    out: &Output,
) -> Result<bool, ClientError> {
    let (AdminCommand::AssignRole(r) | AdminCommand::RemoveRole(r) | AdminCommand::Status(r)) = cmd;
    let http = https(s, None)?;
    let base = s.admin_base()?;
    out.step("1", "admin token (realm master, client admin-cli)");
    let login_url = base.clone();
    let api = retry::until_up("the provider", &login_url, s.wait, || {
        AdminApi::login(
            http.clone(),
            base.clone(),
            &s.realm,
            &s.admin_username,
            &s.admin_password,
            out,
        )
    })
    .await?;
    out.step("2", "the client, its service-account user, the role");
    let target = api.resolve(s.client_id.as_str(), &r.role, out).await?;
    out.step("3", "the role mapping");
    let (change, assigned) = match cmd {
        AdminCommand::AssignRole(_) => {
            let c = api.assign(&target, out).await?;
            (Some(c), true)
        }
        AdminCommand::RemoveRole(_) => {
            let c = api.remove(&target, out).await?;
            (Some(c), false)
        }
        AdminCommand::Status(_) => (None, api.is_assigned(&target, out).await?),
    };
    let who = &target.user.username;
    match change {
        Some(Change::Added) => out.ok(&format!(
            "{} assigned to {who}; new tokens carry it",
            r.role
        )),
        Some(Change::AlreadyAssigned) => out.ok(&format!("{who} already had {}", r.role)),
        Some(Change::Removed) => out.ok(&format!(
            "{} removed from {who}; new tokens lack it",
            r.role
        )),
        Some(Change::WasNotAssigned) => out.ok(&format!("{who} did not have {}", r.role)),
        None => out.ok(&format!(
            "{who} {} {}",
            if assigned { "has" } else { "does not have" },
            r.role
        )),
    }
    out.json(&json!({
        "client": target.client, "user": target.user, "role": target.role,
        "change": change, "assigned": assigned,
    }));
    Ok(true)
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// `client discover`: the fields the walkthrough relies on, or the whole document.
async fn discover_command(
    s: &Settings,
    args: &DiscoverArgs,
    out: &Output,
) -> Result<bool, ClientError> {
    let http = https(s, None)?;
    let url = discovery::discovery_url(&s.issuer)?;
    out.send(&format!("GET {url}"));
    out.curl(&format!(
        "curl -sS --cacert {} {}",
        crate::output::shell_quote(&s.ca.display().to_string()),
        crate::output::shell_quote(url.as_str())
    ));
    let m = retry::until_up("the provider", &url, s.wait, || {
        discovery::discover(&http, &s.issuer)
    })
    .await?;
    if args.full {
        out.recv(&format!("200 OK\n{}", pretty(&m.raw)));
    } else {
        let methods = &m.token_endpoint_auth_methods_supported;
        out.recv(&format!(
            "200 OK ({} fields; --full shows them all)",
            m.raw.as_object().map_or(0, |o| o.len())
        ));
        out.plain(&format!(
            "issuer:                  {}\n\
             token_endpoint:          {}\n\
             mtls_endpoint_aliases.token_endpoint: {}\n\
             jwks_uri:                {}\n\
             token_endpoint_auth_methods_supported: {}\n\
             \x20 tls_client_auth (RFC 8705 §2.1) among them: {}\n\
             tls_client_certificate_bound_access_tokens (RFC 8705 §3): {}",
            m.issuer,
            m.token_endpoint,
            m.mtls_token_endpoint.as_ref().map_or(
                "(none: the token endpoint itself)".to_owned(),
                Url::to_string
            ),
            m.jwks_uri
                .as_ref()
                .map_or("(none)".to_owned(), Url::to_string),
            if methods.is_empty() {
                "(not said)".to_owned()
            } else {
                methods.join(", ")
            },
            match m.supports_auth_method("tls_client_auth") {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "not said",
            },
            m.tls_client_certificate_bound_access_tokens
        ));
    }
    out.plain(&format!(
        "\ntoken endpoint for tls_client_auth: {}",
        m.token_endpoint_for_mtls()
    ));
    out.json(&m.raw);
    Ok(true)
}
