//! The provider state the walkthrough changes: the realm role mapping of the client's
//! service-account user (Keycloak's Admin REST API, `…/users/{id}/role-mappings/realm`).
//! Step 5 needs the role *not* to be assigned, so [`prepare`] removes it if it is; the one
//! restore point, [`restore`], puts the mapping back as it was found whatever happened in
//! between, or leaves it assigned with `--keep-role`.

use super::context::Context;
use super::report::Options;
use crate::admin::RoleTarget;
use crate::error::ClientError;

/// Before step 2: removes the role if it is already assigned (an earlier run?), saying so.
pub(super) async fn prepare(
    ctx: &Context<'_>,
    target: &RoleTarget,
    initially_assigned: bool,
) -> Result<(), ClientError> {
    let out = ctx.out;
    if initially_assigned {
        out.warn(&format!(
            "{} already has {} (an earlier run?). Removing it so step 5 can show the 403; it is put back at the end.",
            target.user.username, target.role.name
        ));
        let admin = ctx.admin().await?;
        out.narrated(admin.remove(target).await, admin.take_exchanges())?;
    } else {
        out.note(&format!(
            "{} does not have {} yet: good, step 5 shows why it needs it.",
            target.user.username, target.role.name
        ));
    }
    Ok(())
}

/// The one restore point: puts the role mapping back as it was found (assigned or not),
/// or leaves it assigned with `--keep-role`, reading the current state rather than
/// trusting how far the steps got. Returns what the provider's state now is, in words.
pub(super) async fn restore(
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
    let now_assigned = ctx
        .out
        .narrated(admin.is_assigned(target).await, admin.take_exchanges())?;
    let role_list = std::slice::from_ref(&target.role);
    if initially_assigned {
        if !now_assigned {
            let added = admin.add_realm_roles(&target.user, role_list).await;
            ctx.out.narrated(added, admin.take_exchanges())?;
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
        let removed = admin.remove_realm_roles(&target.user, role_list).await;
        ctx.out.narrated(removed, admin.take_exchanges())?;
        return Ok(format!(
            "{role} was assigned to {who} for step 6 and removed again (`client walkthrough --keep-role` keeps it)"
        ));
    }
    Ok(format!("{role} is not assigned to {who}, as found"))
}
