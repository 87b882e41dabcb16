//! What `client admin` puts on the wire (issue 24): by default it calls the admin API as the
//! provisioner, whose token it gets over mTLS with `provisioner.pem`, and sends no password.
//! A recording TLS forwarder sits between the client and the embedded provider: it keeps
//! every request (method, path, body, the certificate of the connection) and forwards it,
//! presenting the same certificate, so the answers are the provider's own.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::{client, start, text};
use playbook::server::{ClientAuth as ServerClientAuth, Connection};
use playbook::x509::Purpose;
use playbook::{Identity, names};

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    body: String,
    /// Which of the dev PKI's certificates the connection presented (file name), if any.
    cert: Option<&'static str>,
}

struct Forwarder {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    _background: playbook::server::Background,
}

/// The forwarder, in front of `upstream`, with the certificates in `dir`.
async fn forwarder(dir: &Path, upstream: &str) -> Forwarder {
    let roots = playbook::pem::load_ca_certs(&dir.join("ca.pem")).unwrap();
    let load = |name: &str, purpose| {
        Identity::load(
            &dir.join(format!("{name}.pem")),
            &dir.join(format!("{name}.key.pem")),
            Some(purpose),
        )
        .unwrap()
    };
    let thumbprint = |name: &str| {
        let der = playbook::pem::load_certs(&dir.join(format!("{name}.pem"))).unwrap();
        playbook::rfc8705::thumbprint(&der[0])
    };
    // One upstream client per certificate the client may present.
    let mut clients: Vec<(&'static str, String, reqwest::Client)> = Vec::new();
    for name in ["provisioner", "client", "other-client"] {
        let id = load(name, Purpose::Client);
        let http = playbook::https::https_client(&roots, Some(&id)).unwrap();
        clients.push((name, thumbprint(name), http));
    }
    let anonymous = playbook::https::https_client(&roots, None).unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let upstream = upstream.trim_end_matches('/').to_owned();
    let clients = Arc::new(clients);
    let app = Router::new().fallback(
        move |conn: Connection, method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (record, clients, anonymous, upstream) = (
                record.clone(),
                clients.clone(),
                anonymous.clone(),
                upstream.clone(),
            );
            async move {
                let x5t = conn.client_leaf().map(|c| playbook::rfc8705::thumbprint(c));
                let chosen = clients.iter().find(|(_, t, _)| Some(t) == x5t.as_ref());
                record.lock().unwrap().push(Seen {
                    method: method.clone(),
                    path: uri.path().to_owned(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    cert: chosen.map(|(n, _, _)| *n),
                });
                let http = chosen.map(|(_, _, h)| h).unwrap_or(&anonymous);
                let target = format!(
                    "{upstream}{}",
                    uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
                );
                let mut req = http.request(method, target).body(body);
                for name in [header::CONTENT_TYPE, header::AUTHORIZATION] {
                    if let Some(v) = headers.get(&name) {
                        req = req.header(name, v);
                    }
                }
                let r = req.send().await.unwrap();
                let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
                let content_type = r.headers().get(header::CONTENT_TYPE).cloned();
                let bytes = r.bytes().await.unwrap();
                let mut res: Response = (status, bytes).into_response();
                if let Some(ct) = content_type {
                    res.headers_mut().insert(header::CONTENT_TYPE, ct);
                }
                res
            }
        },
    );
    let server_id = load("oauth2-provider", Purpose::Server);
    let tls =
        playbook::server::server_config(&server_id, &roots, ServerClientAuth::Request).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let background = playbook::server::Background::spawn(|stopped| {
        playbook::server::serve(listener, tls, app, stopped)
    });
    Forwarder {
        url,
        seen,
        _background: background,
    }
}

/// `client admin assign-role` and `remove-role` by default: the provisioner's token over
/// mTLS (client_credentials, in the playground's realm, no secret), the admin calls over
/// the same certificate, nothing to realm `master`, no password anywhere. With
/// `--admin-as bootstrap` the same recorder sees the password grant (so it would see one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sends_no_password_by_default() {
    let servers = start().await;
    let fwd = forwarder(servers.dir.path(), &servers.provider.url).await;
    let issuer = ("ISSUER", names::issuer_for(&fwd.url, names::REALM));
    for args in [["admin", "assign-role"], ["admin", "remove-role"]] {
        let o = client(&servers, std::slice::from_ref(&issuer), &args).await;
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    let seen = fwd.seen.lock().unwrap().clone();
    assert!(seen.len() >= 6, "{seen:#?}");
    for s in &seen {
        assert!(!s.path.contains("/realms/master"), "{s:#?}");
        assert!(!s.body.to_lowercase().contains("password"), "{s:#?}");
        assert_eq!(
            s.cert,
            Some("provisioner"),
            "every request over provisioner.pem: {s:#?}"
        );
    }
    let token_requests: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.ends_with("/protocol/openid-connect/token"))
        .collect();
    assert_eq!(token_requests.len(), 2, "{seen:#?}");
    for t in token_requests {
        assert_eq!(
            t.path,
            format!("/realms/{}/protocol/openid-connect/token", names::REALM)
        );
        assert_eq!(
            t.body,
            format!(
                "grant_type=client_credentials&client_id={}",
                names::PROVISIONER_CLIENT_ID
            )
        );
    }
    assert!(
        seen.iter()
            .any(|s| s.method == Method::POST && s.path.ends_with("/role-mappings/realm")),
        "{seen:#?}"
    );

    // The recorder does see a password when one is sent.
    fwd.seen.lock().unwrap().clear();
    let o = client(
        &servers,
        &[issuer.clone(), ("ADMIN_AS", "bootstrap".into())],
        &["admin", "status"],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let seen = fwd.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|s| s.path.contains("/realms/master") && s.body.contains("password=")),
        "{seen:#?}"
    );
    servers.stop().await;
}
