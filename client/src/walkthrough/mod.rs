//! The narrated flow: what RFC 8705 mutual-TLS client authentication and certificate-bound
//! tokens look like on the wire, right and wrong, one numbered step at a time.
//!
//! The steps' numbers, titles and expected outcomes are defined once, in [`STEPS`]; the
//! narration, the summary, `client walkthrough --help` and the README check read it.
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
//! # Layout
//!
//! - [`steps`]: the step list.
//! - `report`: [`Options`] for a run and its [`Report`].
//! - `narrate`: headings, expected and actual outcomes, the summary.
//! - `context`: what the steps share, and the narrated token request and API call.
//! - `certificates` (step 1), `client_auth` (2, 3, 3b), `bound_token` (4),
//!   `authorization` (5, 6, 8), `binding` (7): one function per step.
//! - `role_state`: the role mapping removed before step 2 if needed, and restored.

mod authorization;
mod binding;
mod bound_token;
mod certificates;
mod client_auth;
mod context;
mod narrate;
mod report;
mod role_state;
pub mod steps;

use std::time::Instant;

use playbook::names;
use playbook::x509::Purpose;
use playbook::{Identity, pem};

pub use client_auth::{HANDSHAKE_REFUSALS, UntrustedCaRefusal};
pub use report::{BEFORE_WE_START, Mark, Options, RESTORE, Report, StepReport};
pub use steps::{STEPS, StepDef};

use crate::admin::RoleTarget;
use crate::discovery;
use crate::error::ClientError;
use crate::output::{Output, shell_quote};
use crate::retry;
use crate::settings::Settings;
use context::Context;
use narrate::Steps;

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
    let trace = options.trace.as_ref();
    let anonymous = crate::http::Http::new(&roots, None, trace)?;
    let with_client = crate::http::Http::new(&roots, Some(&client), trace)?;
    let with_other = crate::http::Http::new(&roots, Some(&other), trace)?;
    let started = Instant::now();

    out.heading("RFC 8705 mutual-TLS client credentials, step by step");
    out.note(&format!(
        "provider (issuer): {}\nresource server:   {}\nclient_id:         {}\ntrusting only:     {}",
        s.issuer, s.resource_server, s.client_id, s.ca.display()
    ));

    let mut steps = Steps::new(out, options.trace.clone());
    let certs = certificates::step_1(&mut steps, s, &roots[0], &client, &other, rogue.as_ref())?;

    // Before the requests: where the endpoints are (discovery) and the role's starting state.
    out.heading("Before we start: discovery and the role's current state");
    steps.mark(BEFORE_WE_START);
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
        client_info: certs.client,
        other_info: certs.other,
        rogue,
        trace: options.trace.clone(),
    };
    let admin = ctx.admin().await?;
    out.note(match admin.who() {
        crate::admin::AdminAs::Provisioner => crate::admin::RESOLVE_NOTE_PROVISIONER,
        crate::admin::AdminAs::Bootstrap => crate::admin::RESOLVE_NOTE,
    });
    let target: RoleTarget = out.narrated(
        admin
            .resolve(s.client_id.as_str(), names::READONLY_ROLE)
            .await,
        admin.take_exchanges(),
    )?;
    let initially_assigned =
        out.narrated(admin.is_assigned(&target).await, admin.take_exchanges())?;
    drop(admin); // Keycloak's admin tokens live 60 s: log in again when needed.

    // From here on the role mapping may differ from how it was found. Whatever
    // `steps_2_to_8` does (a failed step, an early return, an error), `restore` runs next.
    let outcome = steps_2_to_8(&ctx, &mut steps, &target, initially_assigned, options).await;
    steps.mark(RESTORE);
    let restored = role_state::restore(&ctx, &target, initially_assigned, options).await;
    match (outcome, restored) {
        (Ok(()), Ok(change)) => Ok(steps.summary(vec![change], started)),
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
    role_state::prepare(ctx, target, initially_assigned).await?;
    client_auth::step_2(ctx, steps).await;
    client_auth::step_3(ctx, steps).await;
    client_auth::step_3b(ctx, steps, options).await?;
    let Some((token, jwt)) = bound_token::step_4(ctx, steps).await? else {
        return Ok(());
    };
    authorization::step_5(ctx, steps, &token, &jwt).await?;
    let Some(with_role) = authorization::step_6(ctx, steps, target).await? else {
        return Ok(());
    };
    binding::step_7(ctx, steps, &with_role).await?;
    authorization::step_8(ctx, steps, &with_role.token).await
}
