//! The admin API as the provisioning client (issue 24), and choosing who calls: the
//! provisioner's session (its token over mTLS, no password), its lookups (the service account
//! by username, the role among the ones it may map: `manage-users` reads neither clients nor
//! roles by name), and the narration's words for who called.

use url::Url;

use super::{AdminApi, AdminAs, RoleRepresentation, UserRepresentation, join};
use crate::error::ClientError;
use crate::settings::Settings;

/// The same for the provisioner, which may not read roles by name (and looks the user up the
/// same way whether or not it may read clients).
pub const RESOLVE_NOTE_PROVISIONER: &str = "the service-account user (\"service-account-<clientId>\", the \"user\" client-credentials tokens are issued for), by username, and the realm role's id and name (Keycloak wants both), among the roles the provisioner may map to that user (it may not read roles by name: no view-realm)";

/// In words, who a session is and what it may do, for the narration.
pub fn identity_note(who: AdminAs) -> &'static str {
    match who {
        AdminAs::Provisioner => {
            "admin token: the provisioner (client oauth2-playbook-provisioner, authenticated by provisioner.pem over mTLS; no password). Its service account holds realm-management's manage-users and view-clients: it may find users and map realm roles to them, and read clients' configuration (what client doctor checks); it may not change clients, read roles by name, create clients or roles, give anyone realm-admin or manage-realm, nor touch another realm. Keycloak lets it map ANY non-admin realm role (oauth2-playbook-write too) to ANY user, and pass on manage-users. Its token is bound to provisioner.pem (cnf.x5t#S256), but Keycloak's admin API does not check that binding: the token would work over any certificate, or none"
        }
        AdminAs::Bootstrap => {
            "admin token: the bootstrap admin (realm master, client admin-cli, password grant): it may do everything in every realm"
        }
    }
}

impl AdminApi {
    /// A session as `s.admin_as`: the provisioner (token over mTLS with its certificate, no
    /// password) or the bootstrap admin ([`AdminApi::login`]); recorded into `trace` when the
    /// run is traced.
    pub async fn open(
        s: &Settings,
        trace: Option<&playbook::https::Recorder>,
    ) -> Result<Self, ClientError> {
        let roots = playbook::pem::load_ca_certs(&s.ca)?;
        let base = s.admin_base()?;
        match s.admin_as {
            AdminAs::Provisioner => {
                for (name, path) in [
                    ("PROVISIONER_CERT", &s.provisioner_cert),
                    ("PROVISIONER_KEY", &s.provisioner_key),
                ] {
                    if !path.exists() {
                        return Err(ClientError::Setting {
                            name,
                            value: path.display().to_string(),
                            fix: "no such file: `client certs` adds the provisioner's pair to an existing dev PKI; or call as the bootstrap admin with --admin-as bootstrap".into(),
                        });
                    }
                }
                let id = playbook::Identity::load(
                    &s.provisioner_cert,
                    &s.provisioner_key,
                    Some(playbook::x509::Purpose::Client),
                )?;
                let http = crate::http::Http::new(&roots, Some(&id), trace)?;
                Self::as_provisioner(http, base, &s.realm, s.provisioner_client_id.as_str()).await
            }
            AdminAs::Bootstrap => {
                let http = crate::http::Http::new(&roots, None, trace)?;
                Self::login(http, base, &s.realm, &s.admin_username, &s.admin_password).await
            }
        }
    }

    /// The provisioner's session: `client_credentials` on `realm`'s token endpoint, the
    /// client authenticated by the certificate `http` presents (`tls_client_auth`); the
    /// admin calls then go over the same client. No secret, no password.
    pub async fn as_provisioner(
        http: crate::http::Http,
        base: Url,
        realm: &str,
        client_id: &str,
    ) -> Result<Self, ClientError> {
        let url = join(
            &base,
            &format!("realms/{realm}/protocol/openid-connect/token"),
        )?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ];
        let sent = format!(
            "grant_type=client_credentials&client_id={client_id} (authenticated by provisioner.pem in the TLS handshake; no secret, no password)"
        );
        Self::session(
            http,
            base,
            realm,
            AdminAs::Provisioner,
            url,
            &form,
            sent,
            &format!("the provisioner {client_id:?}: is PROVISIONER_CERT the certificate the realm expects? a realm without a provisioner needs --admin-as bootstrap"),
        )
        .await
    }

    /// `GET /users?username=service-account-<clientId>&exact=true` (Keycloak keeps
    /// usernames in lower case).
    pub async fn service_account_by_username(
        &self,
        client_id: &str,
    ) -> Result<UserRepresentation, ClientError> {
        let username = format!("service-account-{}", client_id.to_lowercase());
        let mut url = self.url("users")?;
        url.query_pairs_mut()
            .append_pair("username", &username)
            .append_pair("exact", "true");
        let users: Vec<UserRepresentation> = self.get("find user", url, "a list of users").await?;
        users
            .into_iter()
            .find(|u| u.username == username)
            .ok_or_else(|| ClientError::Setting {
                name: "CLIENT_ID",
                value: client_id.to_owned(),
                fix: format!(
                    "realm {:?} has no user {username:?}: does the client exist, with service accounts enabled?",
                    self.realm
                ),
            })
    }

    /// The realm role `name`, read from the user's mappings or, when not mapped, from the
    /// roles the caller may map to the user (`GET …/role-mappings/realm/available`).
    pub(super) async fn mappable_realm_role(
        &self,
        user: &UserRepresentation,
        name: &str,
    ) -> Result<RoleRepresentation, ClientError> {
        if let Some(r) = self
            .realm_role_mappings(user)
            .await?
            .into_iter()
            .find(|r| r.name == name)
        {
            return Ok(r);
        }
        let url = self.url(&format!("users/{}/role-mappings/realm/available", user.id))?;
        let roles: Vec<RoleRepresentation> =
            self.get("roles available", url, "a list of roles").await?;
        roles
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| ClientError::Setting {
                name: "ROLE",
                value: name.to_owned(),
                fix: format!(
                    "realm {:?} has no such realm role, or the provisioner may not map it to {}",
                    self.realm, user.username
                ),
            })
    }
}
