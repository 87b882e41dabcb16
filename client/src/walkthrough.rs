//! The narrated flow: what RFC 8705 mutual-TLS client authentication and certificate-bound
//! tokens look like on the wire, right and wrong, one numbered step at a time.
//!
//! 1. the certificates (subject DN, issuer, thumbprint);
//! 2. a token request without a client certificate → 401 `invalid_client`;
//! 3. with the wrong certificate (same CA, other DN) → 401 `invalid_client`;
//!    3b. with a certificate from an untrusted CA → refused (handshake, or 401);
//! 4. with the right certificate → a token, decoded; `cnf.x5t#S256` matches the certificate;
//! 5. the resource server without the role → 403;
//! 6. the role assigned through the admin API; a new token carries it → 200;
//! 7. that token over a connection with another certificate → 401 (the binding);
//! 8. a write call the role does not allow → 403.
//!
//! [`run`] returns a [`Report`] (each step: expected, actual, passed), so a test can run the
//! same flow in-process and assert every outcome; `client walkthrough` prints it and exits
//! non-zero if any step did not behave as expected.
//!
//! State: step 6 needs the role *not* to be assigned beforehand, so if it is, it is removed
//! first (and said so). Whatever happens afterwards (a step fails, a request errors out),
//! one restore point puts the mapping back as it was found, or leaves it assigned with
//! `--keep-role`; [`Report::changes`] lists what was changed.
//!
//! The steps' numbers, names and expected outcomes are defined once, in [`STEPS`].

use std::time::Instant;

use playbook::names;
use playbook::x509::{CertInfo, Purpose};
use playbook::{Identity, pem};
use serde_json::{Value, json};

use crate::admin::{AdminApi, Change, RoleTarget};
use crate::discovery::{self, ProviderMetadata};
use crate::error::{ClientError, TransportKind};
use crate::output::{Output, shell_quote};
use crate::resource::{self, ApiResponse};
use crate::retry;
use crate::settings::Settings;
use crate::token::{self, Binding, ClientAuth, CurlTls, DecodedJwt, TokenRequest, TokenResponse};

/// Choices for one run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Leave the role assigned at the end (to keep playing with `client call`).
    pub keep_role: bool,
    /// Skip step 3b even if `rogue-client.pem` exists.
    pub skip_rogue: bool,
}

/// One step's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    /// `"1"` … `"8"`, `"3b"`.
    pub number: String,
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub steps: Vec<StepReport>,
    /// What the run changed in the provider (and left changed), in words.
    pub changes: Vec<String>,
    /// Steps not run on purpose, with the reason (`"3b: rogue-client.pem not found …"`).
    pub skipped: Vec<String>,
}

impl Report {
    pub fn all_passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.passed)
    }

    pub fn step(&self, number: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.number == number)
    }
}

/// One step of the flow: its number, what it does, what should happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDef {
    pub number: &'static str,
    pub name: &'static str,
    pub expected: &'static str,
}

/// Every step, in order; the narration, the summary and the report all read this table.
pub const STEPS: &[StepDef] = &[
    StepDef {
        number: "1",
        name: "The certificates",
        expected: "client.pem is a clientAuth certificate issued by the dev CA",
    },
    StepDef {
        number: "2",
        name: "Token request without a client certificate",
        expected: "401 invalid_client",
    },
    StepDef {
        number: "3",
        name: "Token request with the wrong certificate (same CA, other DN)",
        expected: "401 invalid_client",
    },
    StepDef {
        number: "3b",
        name: "Token request with a certificate from an untrusted CA (right DN)",
        // Both refuse it in the handshake, with different alerts: rustls (the embedded
        // provider) sends unknown_ca, Java's TLS stack (Keycloak 26.7.5, even under
        // https-client-auth=request) certificate_unknown. A server that let the handshake
        // through and answered 401 invalid_client would have refused it too.
        expected: "refused in the TLS handshake (rustls: UnknownCA; Keycloak on Java: CertificateUnknown), no token",
    },
    StepDef {
        number: "4",
        name: "Token request with the right certificate",
        expected: "200 with an access token whose cnf.x5t#S256 is client.pem's thumbprint",
    },
    StepDef {
        number: "5",
        name: "Resource server without the role",
        expected: "403 insufficient_scope (the token lacks the realm role)",
    },
    StepDef {
        number: "6",
        name: "Assign the role through the admin API; a new token carries it",
        expected: "role assigned, the new token has it in realm_access.roles, 200",
    },
    StepDef {
        number: "7",
        name: "The same token over a connection with another certificate",
        expected: "401 invalid_token: cnf.x5t#S256 does not match this connection's certificate",
    },
    StepDef {
        number: "8",
        name: "A write call the role does not allow",
        expected: "403 insufficient_scope (POST needs another role)",
    },
];

/// The step numbered `number` in [`STEPS`].
fn def(number: &str) -> &'static StepDef {
    STEPS
        .iter()
        .find(|d| d.number == number)
        .expect("every step number used is in STEPS")
}

/// Records steps and narrates them.
struct Steps<'a> {
    out: &'a Output,
    steps: Vec<StepReport>,
    /// Steps not run on purpose, with the reason (`3b: …`).
    skipped: Vec<String>,
}

impl Steps<'_> {
    fn begin(&self, number: &str) -> &'static StepDef {
        let d = def(number);
        self.out.step(d.number, d.name);
        self.out.note(&format!("expected: {}", d.expected));
        d
    }

    fn finish(&mut self, d: &StepDef, actual: String, passed: bool) {
        if passed {
            self.out.ok(&format!("as expected: {actual}"));
        } else {
            self.out.fail(&format!(
                "NOT as expected: {actual} (expected {})",
                d.expected
            ));
        }
        self.push(d, actual, passed);
    }

    fn push(&mut self, d: &StepDef, actual: String, passed: bool) {
        self.steps.push(StepReport {
            number: d.number.to_owned(),
            name: d.name.to_owned(),
            expected: d.expected.to_owned(),
            actual,
            passed,
        });
    }

    /// Records every step after `after` as not run (they need what `after` did not give).
    fn not_run_after(&mut self, after: &str, why: &str) {
        let from = STEPS
            .iter()
            .position(|d| d.number == after)
            .map_or(STEPS.len(), |i| i + 1);
        for d in &STEPS[from..] {
            if d.number == "3b" {
                continue;
            }
            self.out.step(d.number, d.name);
            self.out.fail(&format!("not run: {why}"));
            self.push(d, format!("not run: {why}"), false);
        }
    }

    fn skip(&mut self, number: &str, why: &str) {
        let d = def(number);
        self.out.step(d.number, d.name);
        self.out.warn(&format!("skipped: {why}"));
        self.skipped.push(format!("{}: {why}", d.number));
    }
}

/// Everything the steps share.
struct Context<'a> {
    s: &'a Settings,
    out: &'a Output,
    metadata: ProviderMetadata,
    anonymous: reqwest::Client,
    with_client: reqwest::Client,
    with_other: reqwest::Client,
    client: Identity,
    other: Identity,
    client_info: CertInfo,
    other_info: CertInfo,
    /// Right DN, untrusted CA (step 3b), when the file exists and 3b is not skipped.
    rogue: Option<Identity>,
}

impl Context<'_> {
    fn token_request(&self) -> TokenRequest {
        TokenRequest {
            client_id: self.s.client_id.clone(),
            scope: self.s.scope.clone(),
            auth: ClientAuth::TlsClientAuth,
        }
    }

    fn curl_tls(&self, cert: Option<(&std::path::Path, &std::path::Path)>) -> CurlTls {
        CurlTls {
            ca: self.s.ca.clone(),
            cert: cert.map(|(c, k)| (c.to_owned(), k.to_owned())),
        }
    }

    /// Narrates and sends a token request over `http`.
    async fn request_token(
        &self,
        http: &reqwest::Client,
        presenting: &str,
        cert: Option<(&std::path::Path, &std::path::Path)>,
    ) -> Result<TokenResponse, ClientError> {
        let endpoint = self.metadata.token_endpoint_for_mtls();
        let request = self.token_request();
        self.out.send(&format!(
            "POST {endpoint}\nContent-Type: application/x-www-form-urlencoded\n{}\n(TLS client certificate: {presenting}; no client_secret anywhere)",
            request.form_body()
        ));
        self.out
            .curl(&request.curl(endpoint, &self.curl_tls(cert), self.out.show_secrets()));
        let result = token::request_token(http, endpoint, &request).await;
        match &result {
            Ok(response) => self
                .out
                .recv(&format!("200 OK {}", self.out.redacted_json(&response.raw))),
            Err(ClientError::OAuth { error, .. }) => self.out.recv(&format!(
                "{} {}",
                error.status,
                json!({"error": error.error, "error_description": error.error_description})
            )),
            Err(e) => self.out.recv(&format!("no HTTP answer: {e}")),
        }
        result
    }

    /// Narrates and sends an API call over `http`.
    async fn call_api(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        token: &TokenResponse,
        cert: (&std::path::Path, &std::path::Path),
        body: Option<&Value>,
    ) -> Result<ApiResponse, ClientError> {
        let url = resource::api_url(&self.s.resource_server, path)?;
        self.out.send(&format!(
            "{method} {url}\nAuthorization: Bearer {}{}\n(TLS client certificate: {})",
            self.out.secret(token.access_token.secret()),
            body.map(|b| format!("\n{b}")).unwrap_or_default(),
            cert.0.display()
        ));
        let mut curl = format!(
            "{} -H \"Authorization: Bearer $ACCESS_TOKEN\"",
            self.curl_tls(Some(cert)).args()
        );
        if let Some(b) = body {
            curl.push_str(&format!(
                " -X {method} -H 'Content-Type: application/json' -d {}",
                shell_quote(&b.to_string())
            ));
        }
        curl.push(' ');
        curl.push_str(&shell_quote(url.as_str()));
        self.out.curl(&curl);
        // The resource server may still be starting (./start.sh starts both at once).
        let response = retry::until_up("the resource server", &url, self.s.wait, || {
            resource::call(
                http,
                &self.s.resource_server,
                method.clone(),
                path,
                &token.access_token,
                body,
            )
        })
        .await?;
        self.out.recv(&response.summary());
        Ok(response)
    }

    async fn admin(&self) -> Result<AdminApi, ClientError> {
        self.out
            .note("admin token (realm master, client admin-cli, the bootstrap admin):");
        AdminApi::login(
            self.anonymous.clone(),
            self.s.admin_base()?,
            &self.s.realm,
            &self.s.admin_username,
            &self.s.admin_password,
            self.out,
        )
        .await
    }
}

fn describe_token(result: &Result<TokenResponse, ClientError>) -> String {
    match result {
        Ok(r) => format!(
            "200 with a {} token (expires_in {})",
            r.token_type,
            r.expires_in
                .map(|e| e.to_string())
                .unwrap_or_else(|| "not given".into())
        ),
        Err(ClientError::OAuth { error, .. }) => error.to_string(),
        Err(ClientError::Transport {
            kind: TransportKind::Tls,
            detail,
            ..
        }) => format!("TLS handshake refused ({detail})"),
        Err(e) => e.to_string(),
    }
}

/// Step 3b: the same refusal goes by two names, depending on the server's TLS stack; the
/// alert it sent (not the text of the error) says which one this server is.
fn untrusted_ca_note(alert: rustls::AlertDescription) -> Option<&'static str> {
    use rustls::AlertDescription as A;
    match alert {
        A::UnknownCA => Some(
            "The alert is unknown_ca: rustls (the embedded provider) names the reason, a chain that\nleads to no CA it trusts. Keycloak, on Java, refuses the same certificate with the\ngeneric certificate_unknown: the same refusal, at the same moment.",
        ),
        A::CertificateUnknown => Some(
            "The alert is certificate_unknown: Keycloak runs on Java, and Java's TLS stack (JSSE)\nsends this generic alert for a client certificate it cannot build a path to a trusted\nCA for; its reason (\"PKIX path building failed\") stays inside the JVM. rustls (the\nembedded provider) sends unknown_ca for the same certificate: the same refusal, at the\nsame moment, named differently. Either way no HTTP request was sent.",
        ),
        _ => None,
    }
}

fn is_invalid_client(result: &Result<TokenResponse, ClientError>) -> bool {
    matches!(result, Err(ClientError::OAuth { error, .. }) if error.status == 401 && error.error == "invalid_client")
}

fn describe_api(r: &ApiResponse) -> String {
    match (r.error_code(), r.error_description()) {
        (Some(code), Some(why)) => format!("{} {code} ({why})", r.status),
        (Some(code), None) => format!("{} {code}", r.status),
        _ => format!("{}", r.status),
    }
}

/// RFC 6750 §3.1 `insufficient_scope` on a 403: authenticated, not authorized.
fn is_insufficient_scope(r: &ApiResponse) -> bool {
    r.status == 403 && r.error_code().as_deref() == Some("insufficient_scope")
}

/// The certificate-binding refusal (RFC 8705 §3): a 401 `invalid_token` whose description
/// is about the token's `cnf.x5t#S256`, not any 401 (an expired token or an unknown key
/// would also be a 401 and would teach nothing about the binding).
fn is_binding_refusal(r: &ApiResponse) -> bool {
    r.status == 401
        && r.error_code().as_deref() == Some("invalid_token")
        && r.error_description()
            .is_some_and(|d| d.contains("x5t#S256") || d.contains("cnf"))
}

fn cert_line(out: &Output, label: &str, info: &CertInfo) {
    out.note(&format!(
        "{label}\n  subject:  {}\n  issuer:   {}\n  x5t#S256: {}",
        info.subject, info.issuer, info.x5t_s256
    ));
}

fn info_of(identity: &Identity) -> Result<CertInfo, ClientError> {
    CertInfo::from_der(identity.leaf()).map_err(|detail| ClientError::File {
        path: identity.cert_path.clone(),
        detail,
    })
}

/// Runs steps 1–8 against the provider and resource server in `settings`.
///
/// Returns `Err` only when the flow cannot run at all (files missing, provider not
/// reachable within `settings.wait`, admin API refusing us); a step whose outcome differs
/// from the expected one is recorded in the report and the flow goes on where it can.
/// Either way, once the role's starting state is known, it is restored before returning.
pub async fn run(
    settings: &Settings,
    options: &Options,
    out: &Output,
) -> Result<Report, ClientError> {
    playbook::install_crypto_provider();
    let s = settings;
    let roots = pem::load_ca_certs(&s.ca)?;
    let client = Identity::load(&s.cert, &s.key, Some(Purpose::Client))?;
    let other = Identity::load(&s.other_cert, &s.other_key, Some(Purpose::Client))?;
    let rogue = if options.skip_rogue || !s.rogue_cert.exists() {
        None
    } else {
        Some(Identity::load(
            &s.rogue_cert,
            &s.rogue_key,
            Some(Purpose::Client),
        )?)
    };
    let anonymous = playbook::https::https_client(&roots, None)?;
    let with_client = playbook::https::https_client(&roots, Some(&client))?;
    let with_other = playbook::https::https_client(&roots, Some(&other))?;
    let started = Instant::now();

    out.heading("RFC 8705 mutual-TLS client credentials, step by step");
    out.note(&format!(
        "provider (issuer): {}\nresource server:   {}\nclient_id:         {}\ntrusting only:     {}",
        s.issuer, s.resource_server, s.client_id, s.ca.display()
    ));

    let mut steps = Steps {
        out,
        steps: Vec::new(),
        skipped: Vec::new(),
    };

    // 1. The certificates: who we are, who vouches for us, and the thumbprint that will
    //    reappear in the token.
    let d = steps.begin("1");
    let ca_info = CertInfo::from_der(&roots[0]).map_err(|detail| ClientError::File {
        path: s.ca.clone(),
        detail,
    })?;
    let client_info = info_of(&client)?;
    let other_info = info_of(&other)?;
    cert_line(
        out,
        &format!("{} (the dev CA, the only root we trust)", s.ca.display()),
        &ca_info,
    );
    cert_line(
        out,
        &format!(
            "{} (the realm's x509.subjectdn must equal its subject)",
            s.cert.display()
        ),
        &client_info,
    );
    cert_line(
        out,
        &format!("{} (same CA, another DN)", s.other_cert.display()),
        &other_info,
    );
    if let Some(r) = &rogue {
        cert_line(
            out,
            &format!("{} (right DN, untrusted CA)", s.rogue_cert.display()),
            &info_of(r)?,
        );
    }
    out.curl(&format!(
        "openssl x509 -in {} -noout -subject -issuer -nameopt RFC2253",
        shell_quote(&s.cert.display().to_string())
    ));
    if client_info.subject != names::CLIENT_SUBJECT_DN
        && s.client_id.as_str() == names::MTLS_CLIENT_ID
    {
        out.warn(&format!(
            "the realm expects {:?}: this certificate will not authenticate {}",
            names::CLIENT_SUBJECT_DN,
            s.client_id
        ));
    }
    let issued_by_ca = client_info.issuer == ca_info.subject && client_info.allows(Purpose::Client);
    steps.finish(
        d,
        format!(
            "subject {}, issuer {}, x5t#S256 {}",
            client_info.subject, client_info.issuer, client_info.x5t_s256
        ),
        issued_by_ca,
    );

    // Before the requests: where the endpoints are (discovery) and the role's starting state.
    out.heading("Before we start: discovery and the role's current state");
    let disco_url = discovery::discovery_url(&s.issuer)?;
    out.send(&format!("GET {disco_url}"));
    out.curl(&format!(
        "curl -sS --cacert {} {}",
        shell_quote(&s.ca.display().to_string()),
        shell_quote(disco_url.as_str())
    ));
    let metadata = retry::until_up("the provider", &disco_url, s.wait, || {
        discovery::discover(&anonymous, &s.issuer)
    })
    .await?;
    out.recv(&format!(
        "200 OK token_endpoint: {}\n       token_endpoint_auth_methods_supported includes tls_client_auth: {}\n       tls_client_certificate_bound_access_tokens: {}",
        metadata.token_endpoint_for_mtls(),
        match metadata.supports_auth_method("tls_client_auth") {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "not said",
        },
        metadata.tls_client_certificate_bound_access_tokens
    ));

    let ctx = Context {
        s,
        out,
        metadata,
        anonymous,
        with_client,
        with_other,
        client,
        other,
        client_info,
        other_info,
        rogue,
    };
    let admin = ctx.admin().await?;
    let target: RoleTarget = admin
        .resolve(s.client_id.as_str(), names::READONLY_ROLE, out)
        .await?;
    let initially_assigned = admin.is_assigned(&target, out).await?;
    drop(admin); // Keycloak's admin tokens live 60 s: log in again when needed.

    // From here on the role mapping may differ from how it was found. Whatever
    // `steps_2_to_8` does (a failed step, an early return, an error), `restore` runs next.
    let outcome = steps_2_to_8(&ctx, &mut steps, &target, initially_assigned, options).await;
    let restored = restore(&ctx, &target, initially_assigned, options).await;
    match (outcome, restored) {
        (Ok(()), Ok(change)) => Ok(finish(steps, vec![change], started)),
        (Err(first), Ok(change)) => {
            out.note(&format!("Provider state: {change}."));
            Err(first)
        }
        (Ok(()), Err(e)) => Err(e),
        (Err(first), Err(restore)) => Err(ClientError::NotRestored {
            first: Box::new(first),
            restore: Box::new(restore),
            fix: if initially_assigned {
                "assign-role"
            } else {
                "remove-role"
            },
        }),
    }
}

/// Steps 2–8: everything that may change the role mapping. Returns early (`?`) only when
/// a request gets no answer at all; the caller restores the mapping in every case.
async fn steps_2_to_8(
    ctx: &Context<'_>,
    steps: &mut Steps<'_>,
    target: &RoleTarget,
    initially_assigned: bool,
    options: &Options,
) -> Result<(), ClientError> {
    let (s, out) = (ctx.s, ctx.out);
    if initially_assigned {
        out.warn(&format!(
            "{} already has {} (an earlier run?). Removing it so step 5 can show the 403; it is put back at the end.",
            target.user.username, target.role.name
        ));
        let admin = ctx.admin().await?;
        admin.remove(target, out).await?;
    } else {
        out.note(&format!(
            "{} does not have {} yet: good, step 5 shows why it needs it.",
            target.user.username, target.role.name
        ));
    }

    let cert = (s.cert.as_path(), s.key.as_path());
    let other_cert = (s.other_cert.as_path(), s.other_key.as_path());
    let client_subject = ctx.client_info.subject.as_str();

    // 2. No client certificate: nothing proves who we are, so the provider cannot
    //    authenticate the client.
    let d = steps.begin("2");
    out.note("The form names the client, but nothing proves it: no certificate, no secret.");
    let r = ctx.request_token(&ctx.anonymous, "none", None).await;
    steps.finish(d, describe_token(&r), is_invalid_client(&r));

    // 3. The wrong certificate: trusted CA, so the handshake succeeds, but its subject DN is
    //    not the one registered for this client.
    let d = steps.begin("3");
    out.note(&format!(
        "The handshake succeeds (the CA is trusted), but the provider compares the subject\n{:?} with the client's x509.subjectdn and finds no match.",
        ctx.other_info.subject
    ));
    let r = ctx
        .request_token(&ctx.with_other, &ctx.other_info.subject, Some(other_cert))
        .await;
    steps.finish(d, describe_token(&r), is_invalid_client(&r));
    if is_invalid_client(&r) {
        out.note(&format!(
            "Why exactly is not in the answer (on purpose); the provider's log says: {}",
            crate::error::PROVIDER_LOG_HINT
        ));
    }

    // 3b. Right DN, untrusted CA: the provider's truststore does not vouch for it.
    match &ctx.rogue {
        Some(rogue) => {
            let d = steps.begin("3b");
            out.note("Same subject DN as client.pem, but signed by a CA the provider does not trust:\na DN alone proves nothing; the chain to a trusted CA is what makes it a proof.");
            let roots = pem::load_ca_certs(&s.ca)?;
            let http = playbook::https::https_client(&roots, Some(rogue))?;
            let r = ctx
                .request_token(
                    &http,
                    &format!("{client_subject} from Rogue CA"),
                    Some((&s.rogue_cert, &s.rogue_key)),
                )
                .await;
            let refused = is_invalid_client(&r)
                || matches!(
                    &r,
                    Err(ClientError::Transport {
                        kind: TransportKind::Tls | TransportKind::Other,
                        ..
                    })
                );
            if let Some(note) = r
                .as_ref()
                .err()
                .and_then(|e| untrusted_ca_note(e.tls_alert()?))
            {
                out.note(note);
            }
            steps.finish(d, describe_token(&r), refused);
        }
        None if options.skip_rogue => steps.skipped.push("3b: --skip-rogue".into()),
        None => steps.skip(
            "3b",
            &format!(
                "{} not found (regenerate the dev PKI with `client certs --force`)",
                s.rogue_cert.display()
            ),
        ),
    }

    // 4. The right certificate: the provider matches its DN and issues a token bound to it.
    let d = steps.begin("4");
    let r = ctx
        .request_token(&ctx.with_client, client_subject, Some(cert))
        .await;
    let token4 = match r {
        Ok(t) => t,
        Err(e) => {
            let e = Err(e);
            if is_invalid_client(&e) {
                out.note(&format!(
                    "The provider does not tell the client why (on purpose). Its log does: {}\n(a common cause: the realm's x509.subjectdn differs from {client_subject:?})",
                    crate::error::PROVIDER_LOG_HINT
                ));
            }
            steps.finish(d, describe_token(&e), false);
            steps.not_run_after("4", "no token from step 4");
            return Ok(());
        }
    };
    let jwt = DecodedJwt::decode(&token4.access_token)?;
    show_jwt(out, &jwt);
    let binding = jwt.binding(&ctx.client.x5t_s256());
    let (actual, passed) = describe_binding(&binding);
    steps.finish(d, actual, passed);

    // 5. Authenticated, but not authorized: the token lacks the realm role the route needs.
    let d = steps.begin("5");
    out.note(&format!(
        "GET {} needs realm role {}; realm_access.roles in this token: {:?}",
        names::USERS_API_PATH,
        names::READONLY_ROLE,
        jwt.realm_roles()
    ));
    out.note(
        "The curl lines below use $ACCESS_TOKEN; set it with:\n  ACCESS_TOKEN=$(cargo run -q -p client -- token --raw)",
    );
    let r = ctx
        .call_api(
            &ctx.with_client,
            reqwest::Method::GET,
            names::USERS_API_PATH,
            &token4,
            cert,
            None,
        )
        .await?;
    steps.finish(d, describe_api(&r), is_insufficient_scope(&r));

    // 6. The admin gives the service-account user the role; roles are read when a token
    //    is issued, so a *new* token is needed to carry it.
    let d = steps.begin("6");
    let admin = ctx.admin().await?;
    let change = admin.assign(target, out).await?;
    drop(admin);
    out.note("a new token (roles are copied into the token when it is issued):");
    let token6 = ctx
        .request_token(&ctx.with_client, client_subject, Some(cert))
        .await;
    let token6 = match token6 {
        Ok(t) => t,
        Err(e) => {
            let actual = format!(
                "role {change:?}, but no new token: {}",
                describe_token(&Err(e))
            );
            steps.finish(d, actual, false);
            steps.not_run_after("6", "no token from step 6");
            return Ok(());
        }
    };
    let jwt6 = DecodedJwt::decode(&token6.access_token)?;
    let has_role = jwt6.has_realm_role(names::READONLY_ROLE);
    out.note(&format!("realm_access.roles now: {:?}", jwt6.realm_roles()));
    let r = ctx
        .call_api(
            &ctx.with_client,
            reqwest::Method::GET,
            names::USERS_API_PATH,
            &token6,
            cert,
            None,
        )
        .await?;
    steps.finish(
        d,
        format!(
            "role {}, the new token {} it, GET {}",
            match change {
                Change::Added => "assigned",
                _ => "was already assigned",
            },
            if has_role {
                "carries"
            } else {
                "does NOT carry"
            },
            describe_api(&r)
        ),
        has_role && r.status == 200,
    );

    // 7. A stolen token is useless: the resource server compares the token's cnf with the
    //    certificate of *this* connection.
    let d = steps.begin("7");
    out.note(&format!(
        "token bound to   {}\nconnection cert  {} ({})",
        jwt6.cnf_x5t_s256().unwrap_or("(unbound)"),
        ctx.other.x5t_s256(),
        ctx.other_info.subject
    ));
    let r = ctx
        .call_api(
            &ctx.with_other,
            reqwest::Method::GET,
            names::USERS_API_PATH,
            &token6,
            other_cert,
            None,
        )
        .await?;
    steps.finish(d, describe_api(&r), is_binding_refusal(&r));

    // 8. Authorization is per route: the read role does not allow writing.
    let d = steps.begin("8");
    out.note(&format!(
        "POST {} needs realm role {}, which this client never gets.",
        names::USERS_API_PATH,
        names::WRITE_ROLE
    ));
    let body = json!({"username": "walkthrough-user"});
    let r = ctx
        .call_api(
            &ctx.with_client,
            reqwest::Method::POST,
            names::USERS_API_PATH,
            &token6,
            cert,
            Some(&body),
        )
        .await?;
    steps.finish(d, describe_api(&r), is_insufficient_scope(&r));
    Ok(())
}

/// The one restore point: puts the role mapping back as it was found (assigned or not),
/// or leaves it assigned with `--keep-role`, reading the current state rather than
/// trusting how far the steps got. Returns what the provider's state now is, in words.
async fn restore(
    ctx: &Context<'_>,
    target: &RoleTarget,
    initially_assigned: bool,
    options: &Options,
) -> Result<String, ClientError> {
    let who = &target.user.username;
    let role = &target.role.name;
    ctx.out
        .heading("Tidying up: the role mapping as it was found");
    let admin = ctx.admin().await?;
    let now_assigned = admin.is_assigned(target, ctx.out).await?;
    let role_list = std::slice::from_ref(&target.role);
    if initially_assigned {
        if !now_assigned {
            admin
                .add_realm_roles(&target.user, role_list, ctx.out)
                .await?;
        }
        return Ok(format!(
            "{role} was assigned to {who} when the walkthrough started; it is assigned again now (as found)"
        ));
    }
    if options.keep_role && now_assigned {
        return Ok(format!(
            "{role} is still assigned to {who} (--keep-role); `client admin remove-role` takes it away"
        ));
    }
    if now_assigned {
        admin
            .remove_realm_roles(&target.user, role_list, ctx.out)
            .await?;
        return Ok(format!(
            "{role} was assigned to {who} for step 6 and removed again (`client walkthrough --keep-role` keeps it)"
        ));
    }
    Ok(format!("{role} is not assigned to {who}, as found"))
}

fn finish(steps: Steps<'_>, changes: Vec<String>, started: Instant) -> Report {
    let out = steps.out;
    let report = Report {
        steps: steps.steps,
        changes,
        skipped: steps.skipped,
    };
    out.heading("Summary");
    for step in &report.steps {
        let line = format!("{:>2}. {}: {}", step.number, step.name, step.actual);
        if step.passed {
            out.ok(&line);
        } else {
            out.fail(&line);
        }
    }
    for skipped in &report.skipped {
        out.warn(&format!("skipped {skipped}"));
    }
    let passed = report.steps.iter().filter(|s| s.passed).count();
    let numbers: Vec<&str> = report.steps.iter().map(|s| s.number.as_str()).collect();
    out.plain("");
    out.plain(&format!(
        "{passed} of {} steps behaved as expected (steps {}{}; {:.1}s).",
        report.steps.len(),
        numbers.join(", "),
        if report.skipped.is_empty() {
            String::new()
        } else {
            format!("; {} skipped", report.skipped.len())
        },
        started.elapsed().as_secs_f32()
    ));
    for change in &report.changes {
        out.plain(&format!("Provider state: {change}."));
    }
    report
}

fn show_jwt(out: &Output, jwt: &DecodedJwt) {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    out.note("decoded (not verified here: the resource server checks the signature via JWKS):");
    out.note(&format!("header: {}", pretty(&jwt.header)));
    out.note(&format!("claims: {}", pretty(&jwt.claims)));
}

fn describe_binding(binding: &Binding) -> (String, bool) {
    match binding {
        Binding::Matches { x5t_s256 } => (
            format!("200, token bound to client.pem: cnf.x5t#S256 = {x5t_s256} = the certificate's thumbprint"),
            true,
        ),
        Binding::Differs { token, presented: ours } => (
            format!("200, but cnf.x5t#S256 {token} is not our thumbprint {ours}"),
            false,
        ),
        Binding::NoCertificate { token } => (
            format!("200, but cnf.x5t#S256 {token} and no certificate of ours to compare it with"),
            false,
        ),
        Binding::Unbound => (
            "200, but the token has no cnf claim (not certificate-bound: is tls.client.certificate.bound.access.tokens on?)".into(),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, www_authenticate: &str) -> ApiResponse {
        ApiResponse {
            status,
            www_authenticate: Some(www_authenticate.to_owned()),
            body: Value::Null,
        }
    }

    /// Step 7 passes only on the binding refusal, not on any 401.
    #[test]
    fn step_7_needs_the_binding_refusal_not_any_401() {
        let binding = api(
            401,
            r#"Bearer error="invalid_token", error_description="the token is bound to certificate x5t#S256=abc but this connection presented x5t#S256=def""#,
        );
        assert!(is_binding_refusal(&binding));
        let expired = api(
            401,
            r#"Bearer error="invalid_token", error_description="the token expired 3s ago""#,
        );
        assert!(!is_binding_refusal(&expired));
        let no_token = api(401, r#"Bearer realm="api""#);
        assert!(!is_binding_refusal(&no_token));
        assert!(describe_api(&binding).contains("x5t#S256=abc"));
    }

    #[test]
    fn steps_5_and_8_need_insufficient_scope() {
        assert!(is_insufficient_scope(&api(
            403,
            r#"Bearer error="insufficient_scope""#
        )));
        assert!(!is_insufficient_scope(&api(403, r#"Bearer realm="api""#)));
    }

    /// Step 3b's note follows the alert the server sent: Java's certificate_unknown is
    /// explained as Keycloak's, rustls's unknown_ca as the embedded provider's.
    #[test]
    fn step_3b_explains_the_alert_the_server_sent() {
        use rustls::AlertDescription as A;
        let java = untrusted_ca_note(A::CertificateUnknown).expect("a note for Java's alert");
        assert!(
            java.contains("certificate_unknown") && java.contains("Java") && java.contains("PKIX"),
            "{java}"
        );
        let rustls = untrusted_ca_note(A::UnknownCA).expect("a note for rustls's alert");
        assert!(
            rustls.contains("unknown_ca") && rustls.contains("embedded provider"),
            "{rustls}"
        );
        assert_ne!(java, rustls);
        assert_eq!(untrusted_ca_note(A::BadCertificate), None);
        assert_eq!(untrusted_ca_note(A::HandshakeFailure), None);
    }

    #[test]
    fn not_run_covers_every_later_step_by_its_one_name() {
        let out = Output::quiet();
        let mut steps = Steps {
            out: &out,
            steps: Vec::new(),
            skipped: Vec::new(),
        };
        steps.not_run_after("4", "no token");
        let names: Vec<(&str, &str)> = steps
            .steps
            .iter()
            .map(|s| (s.number.as_str(), s.name.as_str()))
            .collect();
        let expected: Vec<(&str, &str)> = STEPS[5..].iter().map(|d| (d.number, d.name)).collect();
        assert_eq!(names, expected);
        assert_eq!(STEPS[5].number, "5");
    }
}
