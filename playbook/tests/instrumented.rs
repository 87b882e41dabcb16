//! The instrumented HTTPS client (`playbook::https::InstrumentedClient`) over real TLS on
//! loopback against our own server: what it records per connection must be what happened.

use std::path::Path;

use axum::Router;
use axum::routing::get;
use playbook::https::{InstrumentedClient, Recorder};
use playbook::names;
use playbook::pki::{DevPki, Issued};
use playbook::server::{self, Background, ClientAuth, Connection};
use playbook::{Identity, x509};
use tokio::net::TcpListener;

fn identity(issued: &Issued, file: &str) -> Identity {
    Identity::unchecked(
        Path::new(file),
        vec![issued.cert_der.clone()],
        issued.key_der(),
    )
}

async fn whoami(conn: Connection) -> String {
    match conn.client_leaf() {
        Some(leaf) => x509::CertInfo::from_der(leaf).expect("leaf parses").subject,
        None => "anonymous".to_owned(),
    }
}

async fn start(pki: &DevPki, mode: ClientAuth) -> (String, Background) {
    let tls = server::server_config(
        &identity(&pki.resource_server, "rs.pem"),
        std::slice::from_ref(&pki.ca.cert.cert_der),
        mode,
    )
    .expect("server config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "https://localhost:{}/whoami",
        listener.local_addr().expect("addr").port()
    );
    let app = Router::new().route("/whoami", get(whoami));
    let background = Background::spawn(|stopped| server::serve(listener, tls, app, stopped));
    (url, background)
}

async fn stop(background: Background) {
    tokio::time::timeout(std::time::Duration::from_secs(10), background.stop())
        .await
        .expect("server stops within 10 s")
        .expect("server task and serve loop");
}

async fn get_text(client: &InstrumentedClient, url: &str) -> Result<String, String> {
    let request = reqwest::Client::new().get(url).build().expect("request");
    let response = client
        .send(request)
        .await
        .map_err(|e| playbook::report::error_chain(&e))?;
    let id = response
        .extensions()
        .get::<playbook::https::RequestId>()
        .copied()
        .expect("a RequestId");
    let recorded = client.recorder().connections();
    assert_eq!(
        recorded[id.connection as usize - 1].requests[id.index].status,
        Some(response.status().as_u16())
    );
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(text)
    } else {
        Err(format!("{status}"))
    }
}

/// Two requests with the right certificate: one connection, reused; the server's
/// CertificateRequest listed our CA; the certificate sent was client.pem; TLS 1.3; bytes
/// and timings recorded; the second request found the connection idle.
#[tokio::test]
async fn records_the_handshake_the_certificate_and_the_requests() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let (url, background) = start(&pki, ClientAuth::Required).await;
    let roots = std::slice::from_ref(&pki.ca.cert.cert_der);
    let recorder = Recorder::new();
    let client = InstrumentedClient::new(
        roots,
        Some(&identity(&pki.client, "certs/client.pem")),
        recorder.clone(),
    )
    .expect("client");

    for _ in 0..2 {
        assert_eq!(
            get_text(&client, &url).await.expect("answered"),
            names::CLIENT_SUBJECT_DN
        );
    }

    let connections = recorder.connections();
    assert_eq!(
        connections.len(),
        1,
        "one connection, reused: {connections:#?}"
    );
    let c = &connections[0];
    assert_eq!(c.identity.as_deref(), Some("client.pem"));
    assert!(c.server.starts_with("localhost:"), "{}", c.server);
    let request = c.certificate_request.as_ref().expect("the server asked");
    assert_eq!(request.ca_names, vec![names::CA_SUBJECT_DN.to_owned()]);
    assert!(
        !request.signature_schemes.is_empty(),
        "signature schemes listed"
    );
    let sent = c.sent_certificate.as_ref().expect("a certificate sent");
    assert_eq!(sent.subject, names::CLIENT_SUBJECT_DN);
    assert_eq!(
        sent.x5t_s256,
        playbook::rfc8705::thumbprint(&pki.client.cert_der)
    );
    assert_eq!(c.protocol.as_deref(), Some("TLSv1_3"));
    assert!(
        c.cipher_suite
            .as_deref()
            .is_some_and(|s| s.starts_with("TLS13_"))
    );
    assert_eq!(c.handshake_kind.as_deref(), Some("Full"));
    assert!(c.tcp_connect.is_some() && c.handshake.is_some());
    assert_eq!(c.alert, None);
    assert_eq!(c.error, None);
    // A TLS 1.3 handshake with a certificate each way is well over 1 kB both ways.
    assert!(c.bytes_read > 1000 && c.bytes_written > 1000, "{c:?}");
    assert_eq!(c.requests.len(), 2);
    for r in &c.requests {
        assert_eq!(r.method, "GET");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.url, url);
        assert!(r.until_body.is_some_and(|b| b >= r.until_head), "{r:?}");
        assert_eq!(r.response_body.as_deref(), Some(names::CLIENT_SUBJECT_DN));
        assert!(
            r.request_headers
                .iter()
                .any(|(k, v)| k == "host" && url.contains(v.as_str())),
            "{:?}",
            r.request_headers
        );
    }
    assert!(c.requests[1].started >= c.requests[0].started + c.requests[0].until_head);
    assert_eq!(recorder.handshakes(), 1);
    let (read, written) = recorder.bytes();
    assert_eq!((read, written), (c.bytes_read, c.bytes_written));

    // The JSON the trace page embeds: timings in milliseconds.
    let json = serde_json::to_value(&connections).expect("serialises");
    assert!(json[0]["handshake"].as_f64().is_some_and(|ms| ms > 0.0));
    assert_eq!(json[0]["sent_certificate"]["x5t#S256"], sent.x5t_s256);
    stop(background).await;
}

/// The refusals: no certificate (the server's CertificateRequired alert, after an empty
/// Certificate), and the right DN from an untrusted CA (UnknownCA); a server that does not
/// ask records no CertificateRequest. One recorder, one timeline, ids in order.
#[tokio::test]
async fn records_refusals_with_their_alerts_and_servers_that_do_not_ask() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let (required, required_bg) = start(&pki, ClientAuth::Required).await;
    let (none, none_bg) = start(&pki, ClientAuth::None).await;
    let roots = std::slice::from_ref(&pki.ca.cert.cert_der);
    let recorder = Recorder::new();
    let anonymous = InstrumentedClient::new(roots, None, recorder.clone()).expect("client");
    let rogue = InstrumentedClient::new(
        roots,
        Some(&identity(&pki.rogue_client, "rogue-client.pem")),
        recorder.clone(),
    )
    .expect("client");

    let err = get_text(&anonymous, &required).await.expect_err("refused");
    assert!(err.contains("CertificateRequired"), "{err}");
    let err = get_text(&rogue, &required).await.expect_err("refused");
    assert!(err.contains("UnknownCA"), "{err}");
    assert_eq!(
        get_text(&anonymous, &none).await.expect("not asked"),
        "anonymous"
    );

    let c = recorder.connections();
    assert_eq!(c.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2, 3]);

    let asked_none_sent = &c[0];
    assert_eq!(asked_none_sent.identity, None);
    assert_eq!(
        asked_none_sent
            .certificate_request
            .as_ref()
            .expect("asked")
            .ca_names,
        [names::CA_SUBJECT_DN]
    );
    assert!(asked_none_sent.sent_certificate.is_none());
    let alert = asked_none_sent.alert.as_ref().expect("an alert");
    assert_eq!(
        (alert.from, alert.description.as_str()),
        ("server", "CertificateRequired")
    );
    assert_eq!(asked_none_sent.requests.len(), 1);
    assert_eq!(asked_none_sent.requests[0].status, None);
    assert!(asked_none_sent.requests[0].error.is_some());

    let untrusted = &c[1];
    assert_eq!(
        untrusted.sent_certificate.as_ref().expect("sent").issuer,
        names::ROGUE_CA_SUBJECT_DN
    );
    let alert = untrusted.alert.as_ref().expect("an alert");
    assert_eq!(
        (alert.from, alert.description.as_str()),
        ("server", "UnknownCA")
    );

    let not_asked = &c[2];
    assert_eq!(not_asked.certificate_request, None);
    assert!(not_asked.sent_certificate.is_none());
    assert_eq!(not_asked.alert, None);
    assert_eq!(not_asked.requests[0].status, Some(200));
    assert_eq!(recorder.handshakes(), 3);

    stop(required_bg).await;
    stop(none_bg).await;
}

/// Nothing listening: the TCP connect fails and is recorded, with no handshake.
#[tokio::test]
async fn records_a_refused_tcp_connect() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let recorder = Recorder::new();
    let client = InstrumentedClient::new(
        std::slice::from_ref(&pki.ca.cert.cert_der),
        None,
        recorder.clone(),
    )
    .expect("client");
    let request = reqwest::Client::new()
        .get(format!("https://127.0.0.1:{port}/"))
        .build()
        .expect("request");
    let err = client.send(request).await.expect_err("refused");
    assert!(format!("{err:?}").contains("ConnectionRefused"), "{err:?}");
    let c = recorder.connections();
    assert_eq!(c.len(), 1);
    assert!(c[0].tcp_connect.is_none() && c[0].handshake.is_none());
    assert!(c[0].error.is_some());
    assert_eq!(recorder.handshakes(), 0);
}
