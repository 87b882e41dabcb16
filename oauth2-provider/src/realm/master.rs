//! The `master` realm, which this provider makes itself rather than importing it from a
//! file: `ApplianceBootstrap` and `RealmManager#createMasterAdminManagement` (Keycloak
//! 26.7.5), with the bootstrap admin of `KC_BOOTSTRAP_ADMIN_*`.

use serde_json::Value;

use super::builtin_clients::add_master_admin_client;
use super::import::import_inner;
use super::rep::{ClientRep, ClientScopeRep, RealmRep, RoleRep, RolesRep, UserRep};
use super::roles::add_composite;
use super::users::setup_service_accounts;
use crate::store::{ProtocolMapper, Realm, new_id};

/// The `master` realm as Keycloak bootstraps it (`ApplianceBootstrap`): the public
/// `admin-cli` client with direct grants, the bootstrap admin with the `admin` role,
/// 60-second access tokens.
pub fn master_realm(admin_username: &str, admin_password: &str) -> Realm {
    let mut scope_mappers = Vec::new();
    let sub = ProtocolMapper {
        id: new_id(),
        name: "sub".into(),
        protocol: "openid-connect".into(),
        mapper_type: "oidc-sub-mapper".into(),
        config: [
            ("access.token.claim", "true"),
            ("introspection.token.claim", "true"),
            // Keycloak 26.7.5 (observed): admin-cli's lightweight access token has no `sub`.
            ("lightweight.claim", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    };
    scope_mappers.push(sub);
    let rep = RealmRep {
        realm: Some("master".into()),
        enabled: Some(true),
        access_token_lifespan: Some(60),
        roles: Some(RolesRep {
            realm: Some(vec![
                RoleRep {
                    name: Some("admin".into()),
                    description: Some("${role_admin}".into()),
                    ..Default::default()
                },
                RoleRep {
                    name: Some("create-realm".into()),
                    description: Some("${role_create-realm}".into()),
                    ..Default::default()
                },
            ]),
            client: None,
        }),
        clients: Some(vec![ClientRep {
            client_id: Some("admin-cli".into()),
            name: Some("${client_admin-cli}".into()),
            public_client: Some(true),
            standard_flow_enabled: Some(false),
            direct_access_grants_enabled: Some(true),
            attributes: Some(
                [(
                    "client.use.lightweight.access.token.enabled".to_owned(),
                    Value::from("true"),
                )]
                .into_iter()
                .collect(),
            ),
            // Keycloak 26.7.5's admin-cli (observed: the refresh token's `scope`).
            default_client_scopes: Some(
                ["acr", "basic", "email", "profile", "roles", "web-origins"]
                    .map(String::from)
                    .to_vec(),
            ),
            optional_client_scopes: Some(vec![]),
            ..Default::default()
        }]),
        users: Some(vec![UserRep {
            username: Some(admin_username.into()),
            enabled: Some(true),
            realm_roles: Some(vec!["admin".into(), "default-roles-master".into()]),
            ..Default::default()
        }]),
        client_scopes: Some(
            ["acr", "basic", "email", "profile", "roles", "web-origins"]
                .iter()
                .map(|n| ClientScopeRep {
                    name: Some((*n).into()),
                    protocol: Some("openid-connect".into()),
                    attributes: Some(
                        [(
                            "include.in.token.scope".to_owned(),
                            Value::from(if matches!(*n, "profile" | "email") {
                                "true"
                            } else {
                                "false"
                            }),
                        )]
                        .into_iter()
                        .collect(),
                    ),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let (mut realm, _) = import_inner(rep).expect("the synthesized master realm is valid");
    setup_service_accounts(&mut realm);
    // createMasterAdminManagement: admin contains create-realm.
    if let Some(id) = realm.role_by_name("create-realm").map(|r| r.id.clone()) {
        add_composite(&mut realm, "admin", &id);
    }
    add_master_admin_client(&mut realm, "master");
    if let Some(basic) = realm.client_scopes.iter_mut().find(|s| s.name == "basic") {
        basic.mappers = scope_mappers;
    }
    if let Some(admin) = realm
        .users
        .iter_mut()
        .find(|u| u.username == admin_username.to_lowercase())
    {
        admin.password = Some(admin_password.to_owned());
    }
    realm
}
