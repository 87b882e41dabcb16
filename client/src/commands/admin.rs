//! `client admin assign-role | remove-role | status`: the realm role mapping of the
//! client's service-account user through Keycloak's Admin REST API (an admin token: the
//! provisioner's over mTLS by default, or the bootstrap admin's with `--admin-as bootstrap`;
//! then `…/users/{id}/role-mappings/realm`); idempotent.

use serde_json::json;

use crate::admin::{
    AdminApi, AdminAs, Change, RESOLVE_NOTE, RESOLVE_NOTE_PROVISIONER, identity_note,
};
use crate::cli::AdminCommand;
use crate::error::ClientError;
use crate::output::Output;
use crate::retry;
use crate::settings::Settings;

pub(super) async fn run(
    s: &Settings,
    cmd: &AdminCommand,
    out: &Output,
) -> Result<bool, ClientError> {
    let (AdminCommand::AssignRole(r) | AdminCommand::RemoveRole(r) | AdminCommand::Status(r)) = cmd;
    let base = s.admin_base()?;
    out.step(
        "1",
        match s.admin_as {
            AdminAs::Provisioner => "admin token: the provisioner, over mTLS (no password)",
            AdminAs::Bootstrap => {
                "admin token: the bootstrap admin (realm master, client admin-cli)"
            }
        },
    );
    out.note(identity_note(s.admin_as));
    let api = retry::until_up("the provider", &base, s.wait, || AdminApi::open(s, None)).await?;
    out.exchanges(&api.take_exchanges());
    out.step("2", "the service-account user, the role");
    out.note(match api.who() {
        AdminAs::Provisioner => RESOLVE_NOTE_PROVISIONER,
        AdminAs::Bootstrap => RESOLVE_NOTE,
    });
    let target = out.narrated(
        api.resolve(s.client_id.as_str(), &r.role).await,
        api.take_exchanges(),
    )?;
    out.step("3", "the role mapping");
    let (change, assigned) = match cmd {
        AdminCommand::AssignRole(_) => {
            let c = out.narrated(api.assign(&target).await, api.take_exchanges())?;
            (Some(c), true)
        }
        AdminCommand::RemoveRole(_) => {
            let c = out.narrated(api.remove(&target).await, api.take_exchanges())?;
            (Some(c), false)
        }
        AdminCommand::Status(_) => {
            let assigned = api.is_assigned(&target).await;
            (None, out.narrated(assigned, api.take_exchanges())?)
        }
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
        "admin_as": api.who(),
        "client": target.client, "user": target.user, "role": target.role,
        "change": change, "assigned": assigned,
    }));
    Ok(true)
}
