//! The embedded provider under a slow client, over real TLS on loopback: a token request
//! whose body trickles in is cut off by `Options::limits` before any client
//! authentication, instead of holding its connection forever.

use std::sync::Arc;
use std::time::Duration;

use playbook::server::Limits;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// `POST …/token` with `Content-Length: 200` and one body byte every 100 ms: with a
/// request timeout of 1 s the provider answers 408 and closes the connection (before this
/// bound existed it waited for the body indefinitely).
#[tokio::test]
async fn a_token_request_body_that_trickles_in_is_cut_off() {
    playbook::install_crypto_provider();
    let pki = playbook::pki::DevPki::generate(1, 1).expect("dev PKI");
    let options = oauth2_provider::Options {
        limits: Limits {
            request_timeout: Duration::from_secs(1),
            ..Limits::DEFAULT
        },
        ..Default::default()
    };
    let running = oauth2_provider::spawn_dev(&pki, &[oauth2_provider::realm_file()], options)
        .await
        .expect("serve");
    let port = running.addr.port();

    let config = playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("client config");
    let tcp = TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connect");
    let stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake (anonymous: the provider requests, not requires, a certificate)");
    let (mut reader, mut writer) = tokio::io::split(stream);
    let head = format!(
        "POST /realms/{}/protocol/openid-connect/token HTTP/1.1\r\nhost: localhost:{port}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 200\r\n\r\n",
        playbook::names::REALM
    );
    writer.write_all(head.as_bytes()).await.expect("write head");
    let trickle = tokio::spawn(async move {
        for byte in b"grant_type=client_credentials&client_id=".iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() || writer.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(10), read_all).await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "the provider still waits for the body after 10 s"
    );
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    running.stop().await.expect("stop");
}
