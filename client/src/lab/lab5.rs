//! Lab 5: a protected route of your own in the resource server (RFC 6750 §3.1, RFC 8705 §3).
//!
//! The attendee adds `GET /api/reports` needing the scope `users:read`, rebuilds and runs
//! the resource server. The checker probes it: 401 without a token, 403 with a token that
//! lacks the scope, 200 with one that has it, 401 with that token over another certificate.

use std::path::{Path, PathBuf};

use playbook::names;
use playbook::x509::Purpose;

use super::{Check, Ctx, Lab, LabInfo, probe};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 5,
    folder: "05-protected-route",
    title: "A protected route of your own (scope users:read)",
    minutes: 40,
    first_step: "read resource-server/src/routes.rs and lib.rs: how does GET /api/users say what it needs?",
};

pub const LAB: Lab = super::lab!();

pub const PATH: &str = "/api/reports";
/// Where `solve` puts the reference route, and the lines it adds to `lib.rs`.
const MODULE_FILE: &str = "resource-server/src/reports.rs";
const LIB_FILE: &str = "resource-server/src/lib.rs";
const MOD_ANCHOR: &str = "pub mod routes;\n";
const MOD_LINE: &str = "pub mod reports;\n";
const ROUTE_ANCHOR: &str = "        .route(\"/api/whoami\", get(routes::whoami))\n";
const ROUTE_LINE: &str = "        .merge(reports::router())\n";

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let mut checks = Vec::new();
    let probes = async {
        let own = probe::identity_unchecked(&ctx.s.cert, &ctx.s.key)?;
        let other =
            playbook::Identity::load(&ctx.s.other_cert, &ctx.s.other_key, Some(Purpose::Client))?;
        let client_id = ctx.s.client_id.as_str();
        let plain = probe::token(ctx, &own, client_id, None).await?;
        let scoped = probe::token(ctx, &own, client_id, Some(names::USERS_READ_SCOPE)).await?;
        let (Some(plain), Some(scoped)) = (plain.token(), scoped.token()) else {
            return Err(ClientError::Setting {
                name: "CLIENT_CERT",
                value: ctx.s.cert.display().to_string(),
                fix: format!(
                    "no token with it ({}, {})",
                    plain.describe(),
                    scoped.describe()
                ),
            });
        };
        Ok::<_, ClientError>([
            probe::call(ctx, &own, PATH, None).await?,
            probe::call(ctx, &own, PATH, Some(&plain.access_token)).await?,
            probe::call(ctx, &own, PATH, Some(&scoped.access_token)).await?,
            probe::call(ctx, &other, PATH, Some(&scoped.access_token)).await?,
        ])
    };
    let [none, no_scope, scoped, replayed] = match probes.await {
        Ok(p) => p,
        Err(e) => {
            checks.push(probe::unreachable(&format!("GET {PATH}"), &e));
            return Ok(checks);
        }
    };
    let missing_route = none.status() == Some(404);
    let route_hint = if missing_route {
        "404: the route is not there; is it in the router, and did you rebuild and restart the resource server?"
    } else {
        ""
    };
    let pick = |specific: &'static str| if missing_route { route_hint } else { specific };
    checks.push(Check::expect(
        none.status() == Some(401),
        format!("GET {PATH} without a token"),
        "401 (invalid_token or no token)",
        none.describe(),
        pick("an extractor from resource-server/src/auth/ (authenticated.rs) refuses a request without a token before the handler runs"),
    ));
    checks.push(Check::expect(
        no_scope.status() == Some(403),
        format!(
            "GET {PATH} with a token without {}",
            names::USERS_READ_SCOPE
        ),
        "403 insufficient_scope",
        no_scope.describe(),
        pick("the route must need the scope users:read (auth::Scope<…>), not just any valid token"),
    ));
    checks.push(Check::expect(
        scoped.status() == Some(200),
        format!("GET {PATH} with scope={}", names::USERS_READ_SCOPE),
        "200",
        scoped.describe(),
        pick("a token requested with scope=users:read must get through"),
    ));
    checks.push(Check::expect(
        replayed.status() == Some(401),
        format!("GET {PATH} with that token over other-client.pem"),
        "401 invalid_token (binding mismatch)",
        replayed.describe(),
        pick("the extractors check the RFC 8705 binding for you; a handler that reads the header itself skips it"),
    ));
    Ok(checks)
}

fn paths(ctx: &Ctx<'_>) -> (PathBuf, PathBuf, PathBuf) {
    (
        ctx.root.join(MODULE_FILE),
        ctx.root.join(LIB_FILE),
        ctx.root
            .join("labs")
            .join(INFO.folder)
            .join("solution/reports.rs"),
    )
}

fn read(path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|e| super::io_error(path, e))
}

/// Takes the reference route out of the resource server's source, if `solve` put it
/// there; code the attendee wrote is left alone (and named).
pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let (module, lib, solution) = paths(ctx);
    let text = read(&lib)?;
    let ours =
        super::read_optional(&module)?.is_some_and(|m| m == read(&solution).unwrap_or_default());
    if ours {
        std::fs::remove_file(&module).map_err(|e| super::io_error(&module, e))?;
        let restored = text.replacen(MOD_LINE, "", 1).replacen(ROUTE_LINE, "", 1);
        super::write_file(&lib, restored.as_bytes(), false)?;
        ctx.out.ok(&format!("lab 5 reset: the reference route is out of {LIB_FILE}; rebuild and restart the resource server (./start.sh --lab 5)"));
    } else {
        ctx.out
            .ok("lab 5 reset: nothing of the reference solution in the resource server's source");
        if read(&lib)?.contains(PATH)
            || read(&ctx.root.join("resource-server/src/routes.rs"))?.contains(PATH)
        {
            ctx.out.note(&format!("your own {PATH} code is still in resource-server/src: reset leaves your code alone (git diff resource-server/ shows it; git checkout -- resource-server/ undoes it)"));
        }
    }
    Ok(())
}

/// Puts `labs/05-protected-route/solution/reports.rs` into the resource server and adds
/// it to the router; the server must then be rebuilt and restarted.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let (module, lib, solution) = paths(ctx);
    let text = read(&lib)?;
    if text.contains(MOD_LINE) {
        ctx.out
            .ok("lab 5: the reference route is already in the resource server");
        return Ok(());
    }
    if !text.contains(MOD_ANCHOR) || !text.contains(ROUTE_ANCHOR) {
        return Err(ClientError::Setting {
            name: "LIB_FILE",
            value: lib.display().to_string(),
            fix: format!(
                "cannot find where to add the route ({MOD_ANCHOR:?}, {ROUTE_ANCHOR:?}); add it by hand as SOLUTION.md shows"
            ),
        });
    }
    let patched = text
        .replacen(MOD_ANCHOR, &format!("{MOD_ANCHOR}{MOD_LINE}"), 1)
        .replacen(ROUTE_ANCHOR, &format!("{ROUTE_ANCHOR}{ROUTE_LINE}"), 1);
    super::write_file(&module, read(&solution)?.as_bytes(), false)?;
    super::write_file(&lib, patched.as_bytes(), false)?;
    ctx.out.ok(&format!("lab 5 solved: {MODULE_FILE} and two lines in {LIB_FILE}; now rebuild and restart the resource server (Ctrl-C, then ./start.sh --lab 5)"));
    Ok(())
}
