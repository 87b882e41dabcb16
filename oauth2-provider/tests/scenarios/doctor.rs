//! What `client doctor` reads with the provisioner's identity (issue 25): the mTLS client's
//! configuration (`GET /clients?clientId=…` and `GET /clients/{id}`: `clientAuthenticatorType`,
//! the `x509.*` attributes, the binding attribute, service accounts, the default and optional
//! scopes), its service-account user and that user's realm roles. `manage-users` reads the
//! user and its mappings; reading clients takes `realm-management`'s `view-clients`, which the
//! shipped realm gives the provisioner. It still may not change a client (`manage-clients`).

use playbook::names::{CLIENT_SUBJECT_DN, MTLS_CLIENT_ID, REALM};
use reqwest::StatusCode;
use serde_json::json;

use super::Fixture;
use super::provisioner::Provisioner;

/// The provisioner reads the mTLS client (by clientId and by id), its service-account user
/// and its realm roles; an unknown clientId lists nothing; a change to the client is 403.
pub async fn provisioner_reads_client_configuration(f: &Fixture) {
    let p = Provisioner::login(f).await;
    let a = p
        .get(&format!("/{REALM}/clients?clientId={MTLS_CLIENT_ID}"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let client = a.body[0].clone();
    assert_eq!(client["clientId"], MTLS_CLIENT_ID, "{}", a.body);
    assert_eq!(client["clientAuthenticatorType"], "client-x509");
    assert_eq!(client["attributes"]["x509.subjectdn"], CLIENT_SUBJECT_DN);
    assert_eq!(
        client["attributes"]["tls.client.certificate.bound.access.tokens"],
        "true"
    );
    let id = client["id"].as_str().expect("the client's id").to_owned();
    let a = p.get(&format!("/{REALM}/clients/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["clientId"], MTLS_CLIENT_ID);
    let a = p
        .get(&format!("/{REALM}/clients/{id}/service-account-user"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let user = a.body["id"].as_str().expect("the user's id").to_owned();
    let a = p
        .get(&format!("/{REALM}/users/{user}/role-mappings/realm"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = p
        .get(&format!("/{REALM}/clients?clientId=no-such-client-doctor"))
        .await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!([])));
    let a = p
        .call(
            reqwest::Method::PUT,
            &format!("/{REALM}/clients/{id}"),
            Some(&json!({"attributes": {"x509.subjectdn": "CN=changed by doctor"}})),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body),
        (403, json!({"error": "HTTP 403 Forbidden"}))
    );
}
