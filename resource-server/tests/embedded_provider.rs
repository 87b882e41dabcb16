//! Real tokens from the embedded Keycloak-compatible provider (`oauth2-provider`), over
//! mTLS end to end: the walkthrough's 403 before the role is assigned (through the admin
//! REST API, as with Keycloak), 200 after, a stolen token refused from another
//! certificate, and the provider stopped and restarted (with new keys, as it makes them at
//! every start) under a running resource server, also while it serves traffic (the fault
//! tests `provider_restarted_under_load` and `provider_unreachable_under_load`).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oauth2_provider::{Options, Provider};
use playbook::names;
use playbook::pki::{DevPki, Issued};
use serde_json::{Value, json};
use support::*;

struct Setup {
    pki: DevPki,
    provider: oauth2_provider::Running,
    server: resource_server::Running,
    issuer: String,
}

/// How the client authenticates at the token endpoint.
enum Auth {
    /// RFC 6749 §4.4 with RFC 8705 `tls_client_auth`: the certificate is the credential.
    Certificate,
    /// The classic client: a secret, no certificate binding.
    Secret,
}

/// A client-credentials token from the provider at `issuer`, over mTLS either way.
async fn token(pki: &DevPki, issuer: &str, auth: Auth) -> String {
    let id = identity(&pki.client);
    let http =
        playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), Some(&id))
            .expect("client");
    let request = http.post(format!("{issuer}/protocol/openid-connect/token"));
    let request = match auth {
        Auth::Certificate => request.form(&[
            ("grant_type", "client_credentials"),
            ("client_id", names::MTLS_CLIENT_ID),
        ]),
        Auth::Secret => request
            .basic_auth(names::SECRET_CLIENT_ID, Some(names::SECRET_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")]),
    };
    let response = request.send().await.expect("token request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("token JSON");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

impl Setup {
    async fn start(require_binding: bool) -> Setup {
        playbook::install_crypto_provider();
        let pki = DevPki::generate(1, 1).expect("PKI");
        let provider =
            oauth2_provider::spawn_dev(&pki, &[oauth2_provider::realm_file()], Options::default())
                .await
                .expect("provider starts");
        let issuer = names::issuer_for(&provider.url, names::REALM);
        let mut config = resource_server::Config::new(&issuer, vec![pki.ca.cert.cert_der.clone()]);
        config.require_binding = require_binding;
        let server = resource_server(&pki, config).await;
        server
            .wait_ready(Duration::from_secs(20))
            .await
            .expect("the provider's keys load");
        Setup {
            pki,
            provider,
            server,
            issuer,
        }
    }

    fn http(&self, cert: Option<&Issued>) -> reqwest::Client {
        support::https_client(&self.pki, cert)
    }

    async fn mtls_token(&self) -> String {
        token(&self.pki, &self.issuer, Auth::Certificate).await
    }

    async fn secret_token(&self) -> String {
        token(&self.pki, &self.issuer, Auth::Secret).await
    }

    /// What the walkthrough does through Keycloak's admin REST API: give the mTLS client's
    /// service account the read-only realm role.
    async fn assign_readonly_role(&self) {
        let http = self.http(None);
        let base = &self.provider.url;
        let admin: Value = http
            .post(format!(
                "{}/protocol/openid-connect/token",
                names::issuer_for(base, names::ADMIN_REALM)
            ))
            .form(&[
                ("grant_type", "password"),
                ("client_id", names::ADMIN_CLIENT_ID),
                ("username", names::DEFAULT_ADMIN_USERNAME),
                ("password", names::DEFAULT_ADMIN_PASSWORD),
            ])
            .send()
            .await
            .expect("admin token")
            .json()
            .await
            .expect("admin token JSON");
        let admin = admin["access_token"].as_str().expect("admin access_token");
        let get = |path: String| {
            let request = http.get(format!("{base}/admin/realms/{}{path}", names::REALM));
            async move {
                let response = request.bearer_auth(admin).send().await.expect("admin GET");
                assert_eq!(response.status(), 200);
                response.json::<Value>().await.expect("admin JSON")
            }
        };
        let clients = get(format!("/clients?clientId={}", names::MTLS_CLIENT_ID)).await;
        let client_uuid = clients[0]["id"].as_str().expect("client id").to_owned();
        let user = get(format!("/clients/{client_uuid}/service-account-user")).await;
        let user_id = user["id"].as_str().expect("user id").to_owned();
        let role = get(format!("/roles/{}", names::READONLY_ROLE)).await;
        let status = http
            .post(format!(
                "{base}/admin/realms/{}/users/{user_id}/role-mappings/realm",
                names::REALM
            ))
            .bearer_auth(admin)
            .json(&json!([role]))
            .send()
            .await
            .expect("role mapping")
            .status();
        assert_eq!(status, 204);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    async fn stop(self) {
        self.server.stop().await.expect("resource server stops");
        self.provider.stop().await.expect("provider stops");
    }
}

/// The walkthrough: token over mTLS → 403 without the role → role assigned → new token →
/// 200, bound to the client certificate; the same token from another certificate → 401.
#[tokio::test]
async fn walkthrough_with_the_embedded_provider() {
    let s = Setup::start(false).await;
    let users = s.url(names::USERS_API_PATH);

    let before = s.mtls_token().await;
    let refused = get_with(&s.pki, &users, &s.pki.client, &before).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.error(), Some("insufficient_scope"));
    assert!(refused.description().contains(names::READONLY_ROLE));

    s.assign_readonly_role().await;
    let token = s.mtls_token().await;
    let answer = get_with(&s.pki, &users, &s.pki.client, &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");

    let who = get_with(&s.pki, &s.url("/api/whoami"), &s.pki.client, &token).await;
    assert_eq!(who.status, 200, "{who:?}");
    assert_eq!(who.body["client"], names::MTLS_CLIENT_ID);
    assert_eq!(who.body["issuer"], s.issuer);
    assert_eq!(who.body["binding"]["result"], "matches");
    assert_eq!(
        who.body["binding"]["token_x5t_s256"],
        s.pki.client.x5t_s256()
    );

    let stolen = get_with(&s.pki, &users, &s.pki.other_client, &token).await;
    assert_invalid_token(&stolen, "bound to certificate");

    // POST needs a role nobody gets.
    let post = call(
        &s.pki,
        reqwest::Method::POST,
        &users,
        Some(&s.pki.client),
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(post.status, 403, "{post:?}");
    s.stop().await;
}

/// The secret client's token is not bound to a certificate: accepted as `unbound` by
/// default, refused with `--require-binding`.
#[tokio::test]
async fn secret_client_token_is_unbound() {
    let s = Setup::start(false).await;
    let token = s.secret_token().await;
    let who = get_with(&s.pki, &s.url("/api/whoami"), &s.pki.client, &token).await;
    assert_eq!(who.status, 200, "{who:?}");
    assert_eq!(who.body["binding"]["result"], "unbound");
    assert_eq!(who.body["client"], names::SECRET_CLIENT_ID);
    s.stop().await;

    let s = Setup::start(true).await;
    let token = s.secret_token().await;
    let refused = get_with(&s.pki, &s.url("/api/whoami"), &s.pki.client, &token).await;
    assert_invalid_token(&refused, "not bound");
    s.stop().await;
}

/// The embedded provider on a fixed port (no management listener), so that it can be
/// stopped and started again at the same address (the issuer the resource server trusts).
/// Every start makes new keys.
struct ProviderOnPort(oauth2_provider::Running);

impl ProviderOnPort {
    async fn start(pki: &DevPki, port: u16) -> ProviderOnPort {
        let provider =
            Provider::from_realm_file(&oauth2_provider::realm_file(), Options::default())
                .expect("realm import");
        let tls = oauth2_provider::tls_config_from_pki(pki).expect("provider TLS");
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("re-bind the provider's port");
        ProviderOnPort(
            oauth2_provider::spawn(listener, None, tls, provider).expect("provider starts"),
        )
    }

    async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(10), self.0.stop())
            .await
            .expect("the provider stops within 10 s")
            .expect("provider serve loop");
    }
}

/// Calls `url` until the answer is not 503 (bounded: 50 tries, 200 ms apart).
async fn until_not_503(pki: &DevPki, url: &str, token: &str) -> Answer {
    let mut answer = get_with(pki, url, &pki.client, token).await;
    for _ in 0..50 {
        if answer.status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        answer = get_with(pki, url, &pki.client, token).await;
    }
    answer
}

/// The README's "stop the provider" exercise, with the real embedded provider:
/// 1. provider stopped: a token the resource server has seen still gets 200;
/// 2. provider restarted (new keys): its token gets 200 (the unknown `kid` triggers a
///    refetch);
/// 3. another restart, a token from it, provider stopped again before the resource server
///    saw that key: 503 `temporarily_unavailable` with `Retry-After`, not 401, because the
///    token cannot be checked;
/// 4. provider started again (yet other keys): that token now gets 401 (its key is no longer
///    published, even after a refetch), and a token from the running provider gets 200.
#[tokio::test]
async fn provider_stopped_and_restarted_under_a_running_resource_server() {
    let s = Setup::start(false).await;
    let whoami = s.url("/api/whoami");
    let first = s.mtls_token().await;
    assert_eq!(
        get_with(&s.pki, &whoami, &s.pki.client, &first)
            .await
            .status,
        200
    );
    let port = s.provider.addr.port();
    let Setup {
        pki,
        provider,
        server,
        issuer,
    } = s;
    provider.stop().await.expect("provider stops");
    let kid_of = |token: &str| {
        jsonwebtoken::decode_header(token)
            .expect("JWS header")
            .kid
            .expect("kid")
    };
    let mtls_token = || token(&pki, &issuer, Auth::Certificate);

    // 1. Keys are cached: the provider is not needed to check a token we know.
    assert_eq!(
        get_with(&pki, &whoami, &pki.client, &first).await.status,
        200
    );

    // 2. Restarted with new keys: the new kid is fetched.
    let restarted = ProviderOnPort::start(&pki, port).await;
    let second = mtls_token().await;
    assert_ne!(kid_of(&second), kid_of(&first), "new keys at every start");
    let answer = get_with(&pki, &whoami, &pki.client, &second).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    restarted.stop().await;

    // 3. A token whose key the resource server has not seen, and no provider to ask.
    let again = ProviderOnPort::start(&pki, port).await;
    let third = mtls_token().await;
    again.stop().await;
    let down = get_with(&pki, &whoami, &pki.client, &third).await;
    println!("provider down: {}", down.description());
    assert_eq!(down.status, 503, "{down:?}");
    assert_eq!(down.error(), Some("temporarily_unavailable"));
    assert!(down.retry_after.is_some(), "{down:?}");
    assert!(down.description().contains(&issuer), "{down:?}");
    assert!(down.description().contains(&kid_of(&third)), "{down:?}");

    // 4. Back with yet other keys: now the resource server can tell.
    let back = ProviderOnPort::start(&pki, port).await;
    let stale = until_not_503(&pki, &whoami, &third).await;
    assert_invalid_token(&stale, "even after refetching");
    let fourth = mtls_token().await;
    let answer = get_with(&pki, &whoami, &pki.client, &fourth).await;
    assert_eq!(answer.status, 200, "{answer:?}");

    server.stop().await.expect("resource server stops");
    back.stop().await;
}

/// Background traffic for the fault tests: `/api/whoami` with the current token, from
/// two workers that each keep one connection alive and one that opens a new connection
/// (a new TLS handshake) for every call. Every answer is counted; anything but 200 is kept
/// with its reason.
struct Load {
    token: Arc<tokio::sync::RwLock<String>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<(usize, Vec<String>)>>,
}

impl Load {
    fn start(pki: &DevPki, url: String, token: String) -> Load {
        let token = Arc::new(tokio::sync::RwLock::new(token));
        let stop = Arc::new(AtomicBool::new(false));
        let roots = vec![pki.ca.cert.cert_der.clone()];
        let id = identity(&pki.client);
        let new_client = move || playbook::https::https_client(&roots, Some(&id)).expect("client");
        let tasks = [false, false, true]
            .into_iter()
            .map(|new_connection_per_call| {
                let (token, stop, url, new_client) =
                    (token.clone(), stop.clone(), url.clone(), new_client.clone());
                tokio::spawn(async move {
                    let (mut calls, mut failures) = (0, Vec::new());
                    let kept = new_client();
                    while !stop.load(Ordering::Relaxed) {
                        let client = if new_connection_per_call {
                            new_client()
                        } else {
                            kept.clone()
                        };
                        // Held until the answer is in: `pause` waits for calls in flight.
                        let token = token.read().await;
                        let answer = client.get(&url).bearer_auth(&*token).send().await;
                        calls += 1;
                        match answer {
                            Ok(r) if r.status() == 200 => {}
                            Ok(r) => failures.push(format!(
                                "{}: {:?}",
                                r.status(),
                                r.headers().get("www-authenticate")
                            )),
                            Err(e) => failures.push(format!("transport: {e}")),
                        }
                        drop(token);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    (calls, failures)
                })
            })
            .collect();
        Load { token, stop, tasks }
    }

    /// Holds the workers (once their calls in flight are answered) until the guard is
    /// dropped; the token can be replaced through it meanwhile.
    async fn pause(&self) -> tokio::sync::RwLockWriteGuard<'_, String> {
        self.token.write().await
    }

    /// Stops the workers: how many calls they made, and the failures.
    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut calls, mut failures) = (0, Vec::new());
        for task in self.tasks {
            let (c, f) = tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("load workers stop")
                .expect("load worker");
            calls += c;
            failures.extend(f);
        }
        (calls, failures)
    }
}

/// Waits while the load runs, so that each phase of a fault test sees traffic.
async fn under_load() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// A fault test's start: the walkthrough's servers with [`Load`] running on a token of
/// the first provider, which is then stopped. The provider's port is kept to start it
/// again at the same issuer.
struct UnderLoad {
    pki: DevPki,
    server: resource_server::Running,
    issuer: String,
    port: u16,
    whoami: String,
    first_token: String,
    load: Load,
}

impl UnderLoad {
    async fn start_then_stop_the_provider() -> UnderLoad {
        let s = Setup::start(false).await;
        let whoami = s.url("/api/whoami");
        let first_token = s.mtls_token().await;
        let port = s.provider.addr.port();
        let load = Load::start(&s.pki, whoami.clone(), first_token.clone());
        under_load().await;
        s.provider.stop().await.expect("provider stops");
        under_load().await;
        UnderLoad {
            pki: s.pki,
            server: s.server,
            issuer: s.issuer,
            port,
            whoami,
            first_token,
            load,
        }
    }

    async fn token(&self) -> String {
        token(&self.pki, &self.issuer, Auth::Certificate).await
    }

    /// Stops the load and asserts it ran and never failed; stops the servers.
    async fn finish(self, provider: ProviderOnPort) {
        let (calls, failures) = self.load.finish().await;
        println!("load: {calls} calls, {} failures", failures.len());
        assert!(failures.is_empty(), "{failures:#?}");
        assert!(calls >= 20, "the load ran: {calls} calls");
        self.server.stop().await.expect("resource server stops");
        provider.stop().await;
    }
}

/// The provider restarted while the resource server serves traffic (fault test): the
/// running traffic never fails (the old key is cached while the provider is away); the
/// restarted provider's tokens (new keys) work at once, without restarting the resource
/// server; and a token from the old keys, seen and cached before, is then refused with
/// the reason: its key is no longer published.
#[tokio::test]
async fn provider_restarted_under_load() {
    let s = UnderLoad::start_then_stop_the_provider().await;
    let restarted = ProviderOnPort::start(&s.pki, s.port).await;
    let new = s.token().await;
    // The traffic moves to the new token as a client would: it gets one after the restart.
    *s.load.pause().await = new;
    under_load().await;

    let refused = get_with(&s.pki, &s.whoami, &s.pki.client, &s.first_token).await;
    println!("old key after the restart: {}", refused.description());
    assert_invalid_token(&refused, "no key with kid");
    assert!(
        refused.description().contains("get a new token"),
        "{refused:?}"
    );
    s.finish(restarted).await;
}

/// The provider unreachable while the resource server serves traffic (fault test): the
/// running traffic (a cached key) goes on; a token with a key the resource server has not
/// seen gets 503 `temporarily_unavailable` with `Retry-After`, not 401; once the provider
/// answers again it gets 200 (bounded poll), and the traffic never failed.
#[tokio::test]
async fn provider_unreachable_under_load() {
    let s = UnderLoad::start_then_stop_the_provider().await;
    // A token from keys the resource server has not fetched yet, then the provider is gone.
    let briefly = ProviderOnPort::start(&s.pki, s.port).await;
    let unseen = s.token().await;
    briefly.stop().await;
    under_load().await;
    let down = get_with(&s.pki, &s.whoami, &s.pki.client, &unseen).await;
    println!("provider unreachable: {}", down.description());
    assert_eq!(down.status, 503, "{down:?}");
    assert_eq!(down.error(), Some("temporarily_unavailable"));
    assert!(down.retry_after.is_some(), "{down:?}");
    assert!(down.description().contains(&s.issuer), "{down:?}");

    // Back (with yet other keys, as every start makes): the resource server recovers by
    // itself. The token from the brief run names a key no longer published: 401; a token
    // from the running provider: 200.
    let back = ProviderOnPort::start(&s.pki, s.port).await;
    let current = s.token().await;
    {
        // The traffic waits while the resource server notices the provider is back (its
        // own token's key is gone with the restart), then goes on with a current token.
        let mut paused = s.load.pause().await;
        let answer = until_not_503(&s.pki, &s.whoami, &current).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        *paused = current;
    }
    under_load().await;
    assert_invalid_token(
        &get_with(&s.pki, &s.whoami, &s.pki.client, &unseen).await,
        "no key with kid",
    );
    s.finish(back).await;
}
