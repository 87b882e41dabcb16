//! The command line: clap definitions (their doc comments are the `--help` texts; the
//! walkthrough's step list comes from [`crate::walkthrough::STEPS`]). Every setting comes
//! from a flag, else an environment variable, else `.env` in the current directory, else the
//! defaults `./start.sh` uses. The commands' bodies are in [`crate::commands`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use playbook::names;
use url::Url;

use crate::bench;
use crate::settings::{AdminAs, Settings};
use crate::token::{AuthMethod, Bind, ClientId, ClientSecret, Scope};
use crate::walkthrough;

mod certs;
pub use certs::{CertsArgs, CertsCommand};

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
///   client certs intermediate         an intermediate CA under the dev CA
///   client certs issue NAME --signed-by intermediate-ca  a client certificate it signs
///   client discover                   the provider's endpoints (--full: the whole document)
///   client token --decode             a token over mutual TLS, decoded, cnf checked
///   client token --auth secret --decode  the same with a client secret: an unbound token
///   ACCESS_TOKEN=$(client token --raw)  the token alone, for curl
///   client admin assign-role          give the client the realm role (remove-role, status)
///   client call /api/users /api/whoami  call the API with a cached, bound token
///   client call --auth secret /api/whoami  the same with the client-secret client's unbound token
///   client call --every 1 /api/whoami  again every second, following certificate rotation
///   client walkthrough                steps 1-8, narrated; --json for scripts
///   client lab list                   the workshop labs (check N, reset N, solve N)
///   client bench api --reuse full     load an API route (or `token`): req/s, latency, handshakes
///   client compare                    mTLS, client secret and DPoP side by side: attacks, cost
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
    /// Who calls Keycloak's admin API (client admin, the walkthrough's step 6, the labs'
    /// checkers): `provisioner` (the default) gets a token over mTLS with its own
    /// certificate (PROVISIONER_CERT) and sends no password; `bootstrap` uses the bootstrap
    /// admin's password (realm master, admin-cli), for a realm without a provisioner.
    #[arg(long, env = "ADMIN_AS", value_enum, default_value_t = AdminAs::Provisioner, global = true)]
    pub admin_as: AdminAs,
    /// The provisioning client (client-x509; realm-management view-clients, and the realm's
    /// fine-grained admin permissions: map oauth2-playbook-readonly to the mTLS client's
    /// service account).
    #[arg(long, env = "PROVISIONER_CLIENT_ID", default_value = names::PROVISIONER_CLIENT_ID, global = true)]
    pub provisioner_client_id: String,
    /// The provisioner's certificate. Default: CERTS_DIR/provisioner.pem.
    #[arg(long, env = "PROVISIONER_CERT", global = true)]
    pub provisioner_cert: Option<PathBuf>,
    /// Its private key. Default: CERTS_DIR/provisioner.key.pem.
    #[arg(long, env = "PROVISIONER_KEY", global = true)]
    pub provisioner_key: Option<PathBuf>,
    /// Keycloak's bootstrap admin (realm master, client admin-cli), for `--admin-as bootstrap`.
    #[arg(long, env = "KC_BOOTSTRAP_ADMIN_USERNAME", default_value = names::DEFAULT_ADMIN_USERNAME, global = true)]
    pub admin_username: String,
    /// The bootstrap admin's password (default: the development value, see README "The
    /// names"; prefer the environment variable: `ps` shows flags).
    #[arg(long, env = "KC_BOOTSTRAP_ADMIN_PASSWORD", default_value = names::DEFAULT_ADMIN_PASSWORD, hide_default_value = true, hide_env_values = true, global = true)]
    pub admin_password: ClientSecret,
    /// The client_secret client, used by `client token --auth secret` for contrast.
    #[arg(long, env = "SECRET_CLIENT_ID", default_value = names::SECRET_CLIENT_ID, global = true)]
    pub secret_client_id: String,
    /// Its secret (default: the development value from the realm file; prefer the
    /// environment variable: `ps` shows flags).
    #[arg(long, env = "CLIENT_SECRET", default_value = names::SECRET_CLIENT_SECRET, hide_default_value = true, hide_env_values = true, global = true)]
    pub client_secret: ClientSecret,
    /// The private_key_jwt client, used by `--auth private-key-jwt` (the shipped realm's,
    /// whose certificate the provider reads from CERTS_DIR/client-jwt.pem at start).
    #[arg(long, env = "JWT_CLIENT_ID", default_value = names::JWT_CLIENT_ID, global = true)]
    pub jwt_client_id: String,
    /// Its private key, which signs its assertions (PKCS#8 PEM). Default:
    /// CERTS_DIR/client-jwt.key.pem, written by `client certs`.
    #[arg(long, env = "JWT_KEY", global = true)]
    pub jwt_key: Option<PathBuf>,
    /// Seconds to wait for a server that is still starting (connection refused) before
    /// giving up. ./start.sh passes a longer wait.
    #[arg(long, env = "WAIT_SECS", default_value_t = 30, global = true)]
    pub wait: u64,
    /// The proxy that terminates the client's TLS in front of the servers (./start.sh
    /// --proxy nginx|haproxy|apache sets it); the walkthrough's step 3b then expects the
    /// proxy's refusal instead of the provider's TLS alert.
    #[arg(long, value_enum, default_value = "none", global = true)]
    pub proxy: crate::settings::Proxy,
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
    /// rogue-client.pem (right DN, untrusted CA), provisioner.pem (the admin API's caller),
    /// client-jwt.pem (the private_key_jwt client's; every provider start hands it to the
    /// realm as PLAYBOOK_JWT_CLIENT_CERT), each with a .key.pem (mode 0600), and client.p12
    /// (password `playbook`). Existing files are never overwritten without --force; a
    /// directory made by an older version gets the provisioner's and client-jwt's pairs added.
    /// More on demand: `client certs intermediate` (an intermediate CA under the dev CA) and
    /// `client certs issue NAME --signed-by CA` (a client certificate from any CA with its key).
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
    /// For a script: `ACCESS_TOKEN=$(client token --raw)` (only the token, whole), or
    /// `client token --json | jq -r .access_token` (--json: the token response, whole).
    Token(TokenArgs),
    /// Call the resource server, e.g. `client call /api/users /api/whoami`.
    ///
    /// Gets a token over mutual TLS, keeps it until shortly before it expires (later paths
    /// reuse it), and fetches a new one once if the server answers `invalid_token`.
    /// With --auth secret the token comes from the client-secret client instead (unbound); the
    /// call itself still presents the client certificate, as the resource server requires.
    Call(CallArgs),
    /// Give or take the realm role through Keycloak's Admin REST API (idempotent; every
    /// request is shown).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The narrated flow: certificates, token requests right and wrong, the role, the API,
    /// the binding. Exits non-zero if any step's outcome is not the expected one.
    #[command(long_about = walkthrough_long_about())]
    Walkthrough(WalkthroughArgs),
    /// The workshop labs in labs/: list, check N, reset N, solve N (see labs/README.md).
    Lab(crate::lab::command::LabArgs),
    /// Why would the provider refuse this certificate, and what does the realm say? Each
    /// finding ✔ or ✘ with the fix, and with each ✘ the line Keycloak 26.7.5 logs for that
    /// cause (Keycloak itself answers every one of them with the same invalid_client).
    ///
    /// Offline, on --cert and --key (or --p12) and --ca: the files load, the key belongs to the
    /// certificate, it is valid now, its extended key usage allows clientAuth, it chains to the
    /// CA (verified as the embedded provider's handshake verifies it), with --crl that it is
    /// not revoked (checked as resource-server --crl checks it), and its subject and issuer
    /// DNs as Keycloak renders them.
    ///
    /// Online (unless --offline), against --issuer: whether the server asks for a client
    /// certificate and lists this CA (a Java server may list none), whether the handshake
    /// accepts it; the client's configuration read through the admin API as --admin-as says
    /// (the provisioner by default: realm-management's view-clients and manage-users):
    /// clientAuthenticatorType, x509.subjectdn (exact or regex), x509.casubjectdn, the binding
    /// attribute, the service account, the role oauth2-playbook-readonly on it, the roles
    /// scope; then a token request, its cnf.x5t#S256 and its roles.
    ///
    /// Behind a proxy (--proxy nginx|haproxy|apache|caddy, --issuer the proxy's URL): the
    /// CertificateRequest is the proxy's (the fix names its directive); with --proxy-config
    /// FILE the proxy's configuration is read for the part serving the issuer's port and
    /// compared with the provider's lookup (Keycloak's spi-x509cert-lookup--provider and its
    /// options: --x509-lookup, --ssl-client-cert, --ssl-cert-chain, --ssl-cert-chain-prefix,
    /// --proxy-trusted-addresses; by default the pairing of KIND's driver): whether it
    /// verifies what it forwards, the header's name, its encoding, the chain, the address the
    /// proxy connects from, and whether a client's own header is removed (--offline: only
    /// this reading); a probe sends the token request without a certificate but with
    /// the header forged from this certificate (a token: ✘ spoofable); and a refusal the
    /// realm does not explain is put on the forwarding.
    /// Another method (--auth secret|private-key-jwt, --bind dpop|none) is diagnosed on its
    /// own failure modes: the pair (Keycloak cannot give --auth tls --bind dpop: the doctor
    /// measures what it gives instead), for private_key_jwt the key (--jwt-key) and its
    /// certificate (--jwt-cert), your own assertion (--assertion), clientAuthenticatorType
    /// client-jwt, the registered key and token.endpoint.auth.signing.alg; for DPoP the
    /// client's dpop.bound.access.tokens; then the token request (Keycloak's refusal named:
    /// audience, lifetime, replayed jti, algorithm, key), the token's binding (cnf.jkt equal to
    /// the proof key's thumbprint; an unbound token is named with what a thief gets) and a
    /// call to the API (/api/whoami) with a fresh proof.
    ///
    /// --json for scripts. Exits non-zero on any ✘.
    ///
    /// Examples:
    ///   client doctor                                   certs/client.pem against the running realm
    ///   client doctor --cert me.pem --key me.key.pem --ca my-ca.pem --client-id my-client
    ///   P12_PASSWORD=… client doctor --p12 me.p12      a PKCS#12 file instead of PEM
    ///   client doctor --offline --json                  the files only, as JSON
    ///   client doctor --offline --crl certs/ca.crl.pem  is it revoked (as resource-server --crl sees it)?
    ///   client --proxy haproxy doctor --proxy-config target/proxy-haproxy/haproxy.cfg
    ///                                                   behind ./start.sh --proxy haproxy
    ///   client doctor --auth private-key-jwt            the private_key_jwt client, its key and realm
    ///   client doctor --auth private-key-jwt --assertion my.jwt   your own assertion
    ///   client doctor --auth secret --bind dpop         the DPoP client: binding, cnf.jkt, a call
    #[command(verbatim_doc_comment)]
    Doctor(DoctorArgs),
    /// An experiment: a bounded load against the token endpoint or an API route, printing
    /// requests per second, latency percentiles and handshakes per second.
    ///
    /// Compare a kept-alive connection, a new connection per request with TLS resumption,
    /// and a full handshake every time (--reuse); RSA against ECDSA certificates (generate
    /// them with `client certs --key-type ecdsa-p256 --out certs-ec` and pass
    /// --certs-dir certs-ec, servers restarted with them); a certificate-bound token against
    /// an unbound one (--auth secret). The run stops by itself after --duration seconds, or
    /// earlier after --count requests. Against Keycloak: --signed-by (discovery finds the token
    /// endpoint) or --url with its token endpoint. Exits non-zero unless every request was
    /// answered with 2xx.
    ///
    /// Examples:
    ///   client bench api                          GET /api/users, kept alive, 10 s
    ///   client bench api --reuse full -c 4        a full mTLS handshake per request
    ///   client bench token --reuse resume -n 500  token requests, resumed sessions
    ///   client bench api --auth secret --json     an unbound token; JSON for scripts
    ///   client bench api --auth private-key-jwt   a token got with a signed JWT
    ///   client bench token --auth private-key-jwt a new signed assertion per request
    ///   client bench api --auth secret --bind dpop  a DPoP-bound token, a new proof per call
    ///
    /// What is good only once (a client assertion's jti, a DPoP proof) is made anew for
    /// every request; signing it is part of each request's latency.
    #[command(verbatim_doc_comment)]
    Bench(BenchArgs),
    /// mTLS beside its alternatives, live: the same flow with each method (client secret,
    /// mTLS certificate-bound, DPoP; mTLS + DPoP is shown with why Keycloak gives no such
    /// token), then the same attacks from another machine (a stolen token, a stolen client
    /// credential, a replayed DPoP proof), and one markdown table: what the thief gets, what
    /// each party checked, and the cost measured in this run by the instrumented client
    /// (token requests/s, API calls/s, TLS handshakes, bytes on the wire). Needs
    /// client.pem and other-client.pem (the thief's). Exits non-zero if a run fails.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Token requests per method (sequential, connection kept alive): token requests/s.
    #[arg(long, default_value_t = 50)]
    pub tokens: u32,
    /// API calls per method with one token (sequential, kept alive): API calls/s.
    #[arg(long, default_value_t = 200)]
    pub calls: u32,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only the offline checks: no server is asked.
    #[arg(long)]
    pub offline: bool,
    /// Read the certificate, its chain and its key from this PKCS#12 file (.p12, .pfx)
    /// instead of --cert and --key (`client certs` writes certs/client.p12).
    #[arg(long, env = "CLIENT_P12")]
    pub p12: Option<PathBuf>,
    /// The PKCS#12 file's password (prefer the environment variable: `ps` shows flags).
    #[arg(
        long,
        env = "P12_PASSWORD",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub p12_password: String,
    /// Certificate revocation lists (PEM), one per issuing CA, as `resource-server --crl`
    /// reads them (`client certs revoke NAME`, `client certs crl --signed-by CA` write
    /// CA.crl.pem): ✘ if the certificate (or a CA of its chain) is on one, if no list
    /// applies to its issuer, if a list is not signed by that issuer or past its nextUpdate.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// Behind --proxy KIND: the proxy's configuration and the provider's lookup.
    #[command(flatten)]
    pub behind: crate::doctor::proxy::ProxyDoctorArgs,
    // The method to diagnose: `--auth tls --bind mtls` (the default) is the certificate
    // above; any other pair is diagnosed by `doctor::methods`.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// With --auth private-key-jwt: the certificate of --jwt-key, the one the realm registers
    /// as jwt.credential.certificate. Default: CERTS_DIR/client-jwt.pem.
    #[arg(long, env = "JWT_CERT", value_name = "FILE")]
    pub jwt_cert: Option<PathBuf>,
    /// With --auth private-key-jwt: an assertion your own code made (a file, or `-` for
    /// stdin), checked offline and sent instead of one the doctor makes (it is then used up).
    #[arg(long, value_name = "FILE")]
    pub assertion: Option<PathBuf>,
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
    pub reuse: crate::load::Reuse,
    /// Concurrent connections (workers).
    #[arg(long, short = 'c', default_value_t = 8)]
    pub connections: usize,
    /// Stop after this many seconds at the latest (a request in flight then is not counted).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many requests, if that comes first.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    // --auth secret: for `token`, client_secret_basic requests without a client
    // certificate; for `api`, the client-secret client's unbound token (the API calls still
    // present the client certificate, as the resource server requires).
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// How the client authenticates for its token: `--auth`, with the old `--secret` kept as an
/// alias.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// How the client authenticates at the token endpoint: `tls` (tls_client_auth, the
    /// mTLS client's certificate; the token is bound to it), `secret`
    /// (client_secret_basic, the client-secret client, no certificate; the token is
    /// unbound, for contrast) or `private-key-jwt` (RFC 7523, the private_key_jwt client: a
    /// JWT signed with --jwt-key for each request, no certificate, no secret sent).
    #[arg(long, value_enum, default_value_t)]
    auth: AuthMethod,
    /// The same as --auth secret (the older spelling, kept as an alias).
    #[arg(long, conflicts_with = "auth")]
    secret: bool,
    /// How the token is sender-constrained: `mtls` (RFC 8705, to the client certificate;
    /// the default with --auth tls), `dpop` (RFC 9449, to a DPoP key made for this run,
    /// every request carrying a proof; with --auth secret, the realm's DPoP client) or
    /// `none` (a plain bearer token; the default with --auth secret and private-key-jwt).
    /// The realm's clients cannot give `--auth tls --bind none`, `--auth tls --bind dpop`
    /// (Keycloak then binds to the certificate only), `--auth secret --bind mtls` or
    /// `--auth private-key-jwt --bind mtls`: the client says why.
    #[arg(long, value_enum)]
    bind: Option<Bind>,
}

impl AuthArgs {
    /// The method asked for.
    pub fn method(&self) -> AuthMethod {
        if self.secret {
            AuthMethod::Secret
        } else {
            self.auth
        }
    }

    /// The binding asked for (or the method's own), whether the realm's clients can give it
    /// or not (the trace page's head names what was asked).
    pub fn asked_bind(&self) -> Bind {
        self.bind.unwrap_or(Bind::default_for(self.method()))
    }

    /// The binding asked for (or the method's own), refused with the reason when the
    /// realm's clients cannot give it with this method.
    pub fn bind(&self) -> Result<Bind, crate::error::ClientError> {
        let method = self.method();
        let bind = self.bind.unwrap_or(Bind::default_for(method));
        bind.check(method)
            .map_err(|fix| crate::error::ClientError::Setting {
                name: "--bind",
                value: format!("{bind:?}").to_lowercase(),
                fix,
            })?;
        Ok(bind)
    }
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Decode the token: header and claims, and whether cnf.x5t#S256 matches --cert.
    #[arg(long, conflicts_with = "raw")]
    pub decode: bool,
    /// Print only the access token, whole, and nothing else (for
    /// `ACCESS_TOKEN=$(client token --raw)`).
    #[arg(long)]
    pub raw: bool,
    /// Also write the request as one self-contained HTML page (the trace page of
    /// `client walkthrough --html`: the TLS connection, its CertificateRequest, what --auth
    /// and --bind carried decoded (the client assertion, the DPoP proof), the token decoded
    /// with its binding), written whether the request succeeds or not.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
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
    // --auth secret: a token of the client-secret client (client_secret_basic, not bound
    // to any certificate), e.g. against a resource server started with --require-binding.
    #[command(flatten)]
    pub auth: AuthArgs,
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
    /// Also write the calls as one self-contained HTML page (the trace page of
    /// `client walkthrough --html`: the token request and each call, their TLS connections,
    /// what --auth and --bind carried decoded, the token's binding; behind --proxy the hop
    /// to the back end drawn as inferred).
    #[arg(long, value_name = "FILE", conflicts_with = "every")]
    pub html: Option<std::path::PathBuf>,
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
    /// Also write the run as one self-contained HTML page to FILE: a sequence diagram of
    /// every exchange (status, timing), what each TLS handshake carried (the server's
    /// CertificateRequest and its CA names, the certificate sent, protocol, alert), the
    /// tokens decoded with the RFC 8705 binding drawn. The page loads nothing from
    /// anywhere; tokens and secrets are shortened unless --show-secrets.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
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
        s.admin_as = self.admin_as;
        s.provisioner_client_id = ClientId::new(&self.provisioner_client_id);
        if let Some(cert) = &self.provisioner_cert {
            s.provisioner_cert = cert.clone();
        }
        if let Some(key) = &self.provisioner_key {
            s.provisioner_key = key.clone();
        }
        s.admin_username = self.admin_username.clone();
        s.admin_password = self.admin_password.clone();
        s.secret_client_id = ClientId::new(&self.secret_client_id);
        s.client_secret = self.client_secret.clone();
        s.jwt_client_id = ClientId::new(&self.jwt_client_id);
        if let Some(key) = &self.jwt_key {
            s.jwt_key = key.clone();
        }
        s.wait = Duration::from_secs(self.wait);
        s.proxy = self.proxy;
        s
    }
}

/// `client walkthrough --help`: the steps come from the one list, [`walkthrough::STEPS`].
fn walkthrough_long_about() -> String {
    format!(
        "The narrated flow: certificates, token requests right and wrong, the role, the API, \
         the binding. Exits non-zero if any step's outcome is not the expected one.\n\n\
         Steps (each with what it should show):\n{}\n\n\
         Provider state: if the role is already assigned at the start it is removed first \
         (and said so), so that step 5 shows the 403; at the end it is removed again unless \
         --keep-role. Needs certs/client.pem, other-client.pem (and rogue-client.pem for 3b). \
         --json prints the report (every step's expected and actual outcome) for scripts.",
        walkthrough::steps::help_list()
    )
}
