//! Lab 3: Keycloak's Admin REST API with curl only.
//!
//! The attendee records their commands as scripts, `labs/work/lab3/assign.sh` (admin
//! token, client, service-account user, role, assign) and `remove.sh` (the same, then
//! remove), then, part 2, `provisioner.sh`: the same assignment without a password, as the
//! provisioning client (its token over mTLS with `provisioner.pem`), and one call it may not
//! make, with its 403. The checker reads the scripts (every request sent with curl, not with
//! this client; jq, grep or sed may read the answers; no password in `provisioner.sh`), runs
//! each one, and reads the role mapping through the admin API after each; it leaves the
//! mapping as it found it.

use playbook::names;

use super::{Check, Ctx, Lab, LabInfo, probe};
use crate::admin::RoleTarget;
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 3,
    folder: "03-admin-api",
    title: "The admin API with curl only",
    minutes: 40,
    first_step: "get an admin token with curl (README step 1) and save the command in labs/work/lab3/assign.sh",
};

pub const LAB: Lab = super::lab!();

const SCRIPTS: [&str; 3] = ["assign.sh", "remove.sh", PROVISIONER_SCRIPT];
/// Part 2: the provisioner, no password.
const PROVISIONER_SCRIPT: &str = "provisioner.sh";

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(3)?;
    let mut checks = Vec::new();
    let mut missing = false;
    for name in SCRIPTS {
        let path = dir.join(name);
        if !path.exists() {
            missing = true;
            checks.push(Check::fail(
                format!("script {name}"),
                format!("your commands in {}", path.display()),
                "no such file",
                "write each command into the script as soon as it works in the terminal",
            ));
        }
    }
    if missing {
        return Ok(checks);
    }
    checks.push(curl_only(&dir)?);
    checks.push(no_password(&dir.join(PROVISIONER_SCRIPT))?);
    let api = match probe::admin(ctx).await {
        Ok(api) => api,
        Err(e) => {
            checks.push(probe::unreachable("admin API", &e));
            return Ok(checks);
        }
    };
    let target = api
        .resolve(ctx.s.client_id.as_str(), names::READONLY_ROLE)
        .await?;
    let found_assigned = api.is_assigned(&target).await?;
    let result = run_both(ctx, &api, &target, &mut checks).await;
    // Leave the mapping as it was found, whatever the scripts did.
    let now = api.is_assigned(&target).await?;
    if now != found_assigned {
        if found_assigned {
            api.assign(&target).await?;
        } else {
            api.remove(&target).await?;
        }
    }
    result?;
    Ok(checks)
}

async fn run_both(
    ctx: &Ctx<'_>,
    api: &crate::admin::AdminApi,
    target: &RoleTarget,
    checks: &mut Vec<Check>,
) -> Result<(), ClientError> {
    for (name, want) in [
        ("assign.sh", true),
        ("remove.sh", false),
        (PROVISIONER_SCRIPT, true),
    ] {
        let ran = run_script(ctx, name);
        if name == PROVISIONER_SCRIPT
            && let Ok(stdout) = &ran
        {
            let refused = stdout.contains("HTTP 403 Forbidden");
            checks.push(Check::expect(
                refused,
                format!("{name}: one call the provisioner may not make"),
                "its answer printed: 403 {\"error\":\"HTTP 403 Forbidden\"}",
                if refused {
                    "403 printed"
                } else {
                    "no 403 in the script's output"
                },
                "e.g. POST …/clients (it has no manage-clients); print the answer without --fail-with-body, with -w ' %{http_code}'",
            ));
        }
        let ran = ran.map(drop);
        checks.push(Check::expect(
            ran.is_ok(),
            format!("bash {name}"),
            "exit status 0",
            ran.clone().err().unwrap_or_else(|| "exit status 0".into()),
            "run it yourself from the repository root; `set -euo pipefail` at the top stops at the first failing command",
        ));
        let assigned = api.is_assigned(target).await?;
        checks.push(Check::expect(
            assigned == want,
            format!("role mapping after {name}"),
            format!(
                "{} {} {}",
                target.user.username,
                if want { "has" } else { "does not have" },
                target.role.name
            ),
            format!(
                "{} {}",
                if assigned { "has" } else { "does not have" },
                target.role.name
            ),
            if want {
                "POST …/users/{user id}/role-mappings/realm with a JSON array [{\"id\":…,\"name\":…}]; both must be the role's"
            } else {
                "DELETE on the same URL, with the same body"
            },
        ));
        if ran.is_err() {
            break;
        }
    }
    Ok(())
}

/// The scripts (every `*.sh` in the lab's folder, so files they source count) send their
/// requests with curl, not with the playground's client.
fn curl_only(dir: &std::path::Path) -> Result<Check, ClientError> {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).map_err(|e| super::io_error(dir, e))? {
        let path = entry.map_err(|e| super::io_error(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "sh") {
            text.push_str(&std::fs::read_to_string(&path).map_err(|e| super::io_error(&path, e))?);
        }
    }
    let code: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let uses_client = code
        .iter()
        .any(|l| l.contains("cargo run") || l.contains("client admin"));
    let uses_curl = code.iter().any(|l| l.contains("curl "));
    Ok(Check::expect(
        uses_curl && !uses_client,
        "the scripts send their requests with curl",
        "curl for every request (jq, grep or sed may read the answers), no `client admin`/`cargo run`",
        if uses_client {
            "they call the playground's client"
        } else if !uses_curl {
            "no curl command"
        } else {
            "curl sends the requests; no playground client"
        },
        "the point is to see every request yourself: one curl per admin call",
    ))
}

/// Part 2's script authenticates with the provisioner's certificate and sends no password.
fn no_password(path: &std::path::Path) -> Result<Check, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|e| super::io_error(path, e))?;
    let code: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let password = code
        .iter()
        .any(|l| l.contains("password") || l.contains("PASSWORD"));
    let certificate = code.iter().any(|l| l.contains("provisioner.pem"));
    Ok(Check::expect(
        certificate && !password,
        format!("{PROVISIONER_SCRIPT}: the provisioner's certificate, no password"),
        "curl --cert \"$CERTS_DIR/provisioner.pem\" --key … for the token; no password anywhere",
        if password {
            "it sends a password"
        } else if !certificate {
            "no provisioner.pem"
        } else {
            "provisioner.pem, no password"
        },
        "client credentials in the realm itself, client_id=$PROVISIONER_CLIENT_ID, over mTLS with provisioner.pem",
    ))
}

/// `bash labs/work/lab3/NAME` with the settings in its environment; its stdout.
fn run_script(ctx: &Ctx<'_>, name: &str) -> Result<String, String> {
    let output =
        super::run_bash(ctx, &ctx.work.join("lab3").join(name), &[]).map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(super::failure_summary(&output))
    }
}

/// No role mapping, and the scripts set aside (kept as `NAME.previous`).
pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    ctx.set_aside(
        3,
        &["assign.sh", "remove.sh", "lookup.sh", PROVISIONER_SCRIPT],
    )?;
    let api = probe::admin(ctx).await?;
    let target = api
        .resolve(ctx.s.client_id.as_str(), names::READONLY_ROLE)
        .await?;
    api.remove(&target).await?;
    ctx.out.ok(&format!(
        "lab 3 reset: {} does not have {}; labs/work/lab3/ has no scripts",
        target.user.username, target.role.name
    ));
    Ok(())
}

/// The scripts of `labs/03-admin-api/solution/`.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    ctx.copy_solution(
        3,
        &["lookup.sh", "assign.sh", "remove.sh", PROVISIONER_SCRIPT],
    )?;
    ctx.out
        .ok("lab 3 solved: labs/work/lab3/{lookup,assign,remove,provisioner}.sh (curl for the requests; grep, sed and head read the answers)");
    Ok(())
}
