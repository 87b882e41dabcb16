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
//! first (and said so). At the end the role is removed again unless `--keep-role`, leaving
//! the realm as it was found; [`Report::changes`] lists what was changed.

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
}

impl Report {
    pub fn all_passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.passed)
    }

    pub fn step(&self, number: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.number == number)
    }
}

/// Records steps and narrates them.
struct Steps<'a> {
    out: &'a Output,
    steps: Vec<StepReport>,
}

impl Steps<'_> {
    fn begin(&self, number: &str, name: &str, expected: &str) {
        self.out.step(number, name);
        self.out.note(&format!("expected: {expected}"));
    }

    fn finish(&mut self, number: &str, name: &str, expected: &str, actual: String, passed: bool) {
        if passed {
            self.out.ok(&format!("as expected: {actual}"));
        } else {
            self.out
                .fail(&format!("NOT as expected: {actual} (expected {expected})"));
        }
        self.steps.push(StepReport {
            number: number.to_owned(),
            name: name.to_owned(),
            expected: expected.to_owned(),
            actual,
            passed,
        });
    }

    fn not_run(&mut self, number: &str, name: &str, expected: &str, why: &str) {
        self.out.step(number, name);
        self.out.fail(&format!("not run: {why}"));
        self.steps.push(StepReport {
            number: number.to_owned(),
            name: name.to_owned(),
            expected: expected.to_owned(),
            actual: format!("not run: {why}"),
            passed: false,
        });
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
            .curl(&request.curl(endpoint, &self.curl_tls(cert), false));
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

fn is_invalid_client(result: &Result<TokenResponse, ClientError>) -> bool {
    matches!(result, Err(ClientError::OAuth { error, .. }) if error.status == 401 && error.error == "invalid_client")
}

fn describe_api(r: &ApiResponse) -> String {
    match r.error_code() {
        Some(code) => format!("{} {code}", r.status),
        None => format!("{}", r.status),
    }
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
    let anonymous = playbook::client::https_client(&roots, None)?;
    let with_client = playbook::client::https_client(&roots, Some(&client))?;
    let with_other = playbook::client::https_client(&roots, Some(&other))?;
    let started = Instant::now();

    out.heading("RFC 8705 mutual-TLS client credentials, step by step");
    out.note(&format!(
        "provider (issuer): {}\nresource server:   {}\nclient_id:         {}\ntrusting only:     {}",
        s.issuer, s.resource_server, s.client_id, s.ca.display()
    ));

    let mut steps = Steps {
        out,
        steps: Vec::new(),
    };
    let mut changes = Vec::new();

    // 1. The certificates: who we are, who vouches for us, and the thumbprint that will
    //    reappear in the token.
    let name = "The certificates";
    let expected = "client.pem is a clientAuth certificate issued by the dev CA";
    steps.begin("1", name, expected);
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
        "1",
        name,
        expected,
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
    };
    let admin = ctx.admin().await?;
    let target: RoleTarget = admin
        .resolve(s.client_id.as_str(), names::READONLY_ROLE, out)
        .await?;
    let initially_assigned = admin.is_assigned(&target, out).await?;
    if initially_assigned {
        out.warn(&format!(
            "{} already has {} (an earlier run?). Removing it so step 5 can show the 403; step 6 assigns it again.",
            target.user.username, target.role.name
        ));
        admin.remove(&target, out).await?;
    } else {
        out.note(&format!(
            "{} does not have {} yet: good, step 5 shows why it needs it.",
            target.user.username, target.role.name
        ));
    }
    drop(admin); // Keycloak's admin tokens live 60 s: log in again when needed.

    let cert = (s.cert.as_path(), s.key.as_path());
    let other_cert = (s.other_cert.as_path(), s.other_key.as_path());

    // 2. No client certificate: nothing proves who we are, so the provider cannot
    //    authenticate the client.
    let name = "Token request without a client certificate";
    let expected = "401 invalid_client";
    steps.begin("2", name, expected);
    out.note("The form names the client, but nothing proves it: no certificate, no secret.");
    let r = ctx.request_token(&ctx.anonymous, "none", None).await;
    steps.finish(
        "2",
        name,
        expected,
        describe_token(&r),
        is_invalid_client(&r),
    );

    // 3. The wrong certificate: trusted CA, so the handshake succeeds, but its subject DN is
    //    not the one registered for this client.
    let name = "Token request with the wrong certificate (same CA, other DN)";
    let expected = "401 invalid_client";
    steps.begin("3", name, expected);
    out.note(&format!(
        "The handshake succeeds (the CA is trusted), but the provider compares the subject\n{:?} with the client's x509.subjectdn and finds no match.",
        other_info.subject
    ));
    let r = ctx
        .request_token(&ctx.with_other, &other_info.subject, Some(other_cert))
        .await;
    steps.finish(
        "3",
        name,
        expected,
        describe_token(&r),
        is_invalid_client(&r),
    );

    // 3b. Right DN, untrusted CA: the provider's truststore does not vouch for it.
    if let Some(rogue) = &rogue {
        let name = "Token request with a certificate from an untrusted CA (right DN)";
        let expected = "refused: TLS handshake error or 401 invalid_client, no token";
        steps.begin("3b", name, expected);
        out.note("Same subject DN as client.pem, but signed by a CA the provider does not trust:\na DN alone proves nothing; the chain to a trusted CA is what makes it a proof.");
        let roots = pem::load_ca_certs(&s.ca)?;
        let http = playbook::client::https_client(&roots, Some(rogue))?;
        let r = ctx
            .request_token(
                &http,
                &format!("{} from Rogue CA", client_info.subject),
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
        steps.finish("3b", name, expected, describe_token(&r), refused);
    }

    // 4. The right certificate: the provider matches its DN and issues a token bound to it.
    let name = "Token request with the right certificate";
    let expected = "200 with an access token whose cnf.x5t#S256 is client.pem's thumbprint";
    steps.begin("4", name, expected);
    let r = ctx
        .request_token(&ctx.with_client, &client_info.subject, Some(cert))
        .await;
    let token4 = match r {
        Ok(t) => t,
        Err(e) => {
            let actual = describe_token(&Err(e));
            steps.finish("4", name, expected, actual, false);
            for (n, name, expected) in [
                ("5", "Resource server without the role", "403"),
                ("6", "Assign the role, new token, resource server", "200"),
                (
                    "7",
                    "The token over a connection with another certificate",
                    "401 invalid_token",
                ),
                ("8", "A write call the role does not allow", "403"),
            ] {
                steps.not_run(n, name, expected, "no token from step 4");
            }
            return Ok(finish(steps, changes, started));
        }
    };
    let jwt = DecodedJwt::decode(&token4.access_token)?;
    show_jwt(out, &jwt);
    let binding = jwt.binding(&ctx.client.x5t_s256());
    let (actual, passed) = describe_binding(&binding);
    steps.finish("4", name, expected, actual, passed);

    // 5. Authenticated, but not authorized: the token lacks the realm role the route needs.
    let name = "Resource server without the role";
    let expected = "403 (the token lacks the realm role)";
    steps.begin("5", name, expected);
    out.note(&format!(
        "GET {} needs realm role {}; realm_access.roles in this token: {:?}",
        names::USERS_API_PATH,
        names::READONLY_ROLE,
        jwt.realm_roles()
    ));
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
    steps.finish("5", name, expected, describe_api(&r), r.status == 403);

    // 6. The admin gives the service-account user the role; roles are read when a token
    //    is issued, so a *new* token is needed to carry it.
    let name = "Assign the role through the admin API; a new token carries it; 200";
    let expected = "role assigned, new token has it in realm_access.roles, 200";
    steps.begin("6", name, expected);
    let admin = ctx.admin().await?;
    let change = admin.assign(&target, out).await?;
    drop(admin);
    out.note("a new token (roles are copied into the token when it is issued):");
    let token6 = ctx
        .request_token(&ctx.with_client, &client_info.subject, Some(cert))
        .await;
    let token6 = match token6 {
        Ok(t) => t,
        Err(e) => {
            let actual = format!(
                "role {change:?}, but no new token: {}",
                describe_token(&Err(e))
            );
            steps.finish("6", name, expected, actual, false);
            steps.not_run(
                "7",
                "The token over a connection with another certificate",
                "401",
                "no token from step 6",
            );
            steps.not_run(
                "8",
                "A write call the role does not allow",
                "403",
                "no token from step 6",
            );
            cleanup(&ctx, &target, initially_assigned, options, &mut changes).await?;
            return Ok(finish(steps, changes, started));
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
        "6",
        name,
        expected,
        format!(
            "role {}, token {} it, {}",
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
    let name = "The same token over a connection with another certificate";
    let expected = "401 invalid_token (cnf.x5t#S256 does not match this connection's certificate)";
    steps.begin("7", name, expected);
    out.note(&format!(
        "token bound to   {}\nconnection cert  {} ({})",
        jwt6.cnf_x5t_s256().unwrap_or("(unbound)"),
        ctx.other.x5t_s256(),
        other_info.subject
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
    steps.finish("7", name, expected, describe_api(&r), r.status == 401);

    // 8. Authorization is per route: the read role does not allow writing.
    let name = "A write call the role does not allow";
    let expected = "403 (POST needs another role)";
    steps.begin("8", name, expected);
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
    steps.finish("8", name, expected, describe_api(&r), r.status == 403);

    cleanup(&ctx, &target, initially_assigned, options, &mut changes).await?;
    Ok(finish(steps, changes, started))
}

/// Leaves the role as it was found (or as `--keep-role` asks) and says what changed.
async fn cleanup(
    ctx: &Context<'_>,
    target: &RoleTarget,
    initially_assigned: bool,
    options: &Options,
    changes: &mut Vec<String>,
) -> Result<(), ClientError> {
    let who = &target.user.username;
    let role = &target.role.name;
    if initially_assigned {
        changes.push(format!(
            "{role} was assigned to {who} when the walkthrough started; it was removed for step 5 and is assigned again now (as found)"
        ));
        return Ok(());
    }
    if options.keep_role {
        changes.push(format!(
            "{role} is still assigned to {who} (--keep-role); `client admin remove-role` takes it away"
        ));
        return Ok(());
    }
    ctx.out
        .heading("Tidying up: the role is removed again, as it was found");
    let admin = ctx.admin().await?;
    admin.remove(target, ctx.out).await?;
    changes.push(format!(
        "{role} was assigned to {who} for step 6 and removed again (`client walkthrough --keep-role` keeps it)"
    ));
    Ok(())
}

fn finish(steps: Steps<'_>, changes: Vec<String>, started: Instant) -> Report {
    let out = steps.out;
    let report = Report {
        steps: steps.steps,
        changes,
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
    let passed = report.steps.iter().filter(|s| s.passed).count();
    out.plain("");
    out.plain(&format!(
        "{passed} of {} steps behaved as expected ({:.1}s).",
        report.steps.len(),
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
        Binding::Differs { token, ours } => (
            format!("200, but cnf.x5t#S256 {token} is not our thumbprint {ours}"),
            false,
        ),
        Binding::Unbound => (
            "200, but the token has no cnf claim (not certificate-bound: is tls.client.certificate.bound.access.tokens on?)".into(),
            false,
        ),
    }
}
