//! The accept loop's bounds on slow and greedy clients, over real TLS on loopback: a
//! request body that trickles in is cut off with 408, and one address cannot hold more
//! than its share of connections.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use playbook::Identity;
use playbook::pki::DevPki;
use playbook::server::{self, Background, ClientAuth, Limits};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Bounds every wait in this file: a server that never answers fails the test, not hangs it.
const PATIENCE: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    background: Background,
}

impl Server {
    /// `POST /echo` answers with the body it read; `GET /ok` with "ok".
    async fn start(pki: &DevPki, limits: Limits) -> Server {
        let identity = Identity::unchecked(
            Path::new("test.pem"),
            vec![pki.resource_server.cert_der.clone()],
            pki.resource_server.key_der(),
        );
        let tls = server::server_config(&identity, &[], ClientAuth::None).expect("server config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/echo", post(|body: String| async move { body }))
            .route("/ok", get(|| async { "ok" }));
        let background =
            Background::spawn(|stopped| server::serve_with(listener, tls, app, stopped, limits));
        Server { addr, background }
    }

    async fn stop(self) {
        tokio::time::timeout(PATIENCE, self.background.stop())
            .await
            .expect("server stops")
            .expect("server task and serve loop");
    }
}

/// A TLS connection to `addr`, trusting the dev CA; `Err` if the server refuses it.
async fn connect(pki: &DevPki, addr: SocketAddr) -> std::io::Result<TlsStream<TcpStream>> {
    let config = playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("client config");
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    tokio::time::timeout(
        PATIENCE,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake did not finish"))?
}

/// Reads until the server closes the connection (cleanly or not), at most [`PATIENCE`].
/// `None` when the connection is still open by then.
async fn read_until_closed(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<String> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

/// One `GET /ok` on an open connection; the status line of the answer.
async fn get_ok(stream: &mut TlsStream<TcpStream>) -> String {
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("write request");
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("an answer")
        .expect("read");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn pki() -> DevPki {
    playbook::install_crypto_provider();
    DevPki::generate(1, 1).expect("dev PKI")
}

/// A body announced as 1000 bytes that arrives one byte every 100 ms (the slow-body attack:
/// the head is on time, so hyper's header timeout never fires) is cut off once the
/// request timeout (1 s here) has passed: 408, then the connection is closed. A slow body
/// that does make it in time is served.
#[tokio::test]
async fn a_request_body_that_trickles_in_gets_408_and_the_connection_closed() {
    let pki = pki();
    let limits = Limits {
        request_timeout: Duration::from_secs(1),
        ..Limits::DEFAULT
    };
    let server = Server::start(&pki, limits).await;

    let stream = connect(&pki, server.addr).await.expect("connect");
    let (mut reader, mut writer) = tokio::io::split(stream);
    writer
        .write_all(b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\n")
        .await
        .expect("write head");
    let trickle = tokio::spawn(async move {
        for _ in 0..1000 {
            if writer.write_all(b"a").await.is_err() || writer.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let answer = read_until_closed(&mut reader).await;
    trickle.abort();
    let answer = answer.expect("the server still waits for the body after 10 s");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("--request-timeout"), "{answer}");

    // Five bytes, 100 ms apart, well within the second: served as usual.
    let mut stream = connect(&pki, server.addr).await.expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\nconnection: close\r\n\r\n")
        .await
        .expect("write head");
    for byte in b"hello" {
        stream.write_all(&[*byte]).await.expect("write body");
        stream.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = read_until_closed(&mut stream).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
    server.stop().await;
}

/// With `max_connections_per_peer` 2, a third connection from 127.0.0.1 is closed before
/// the handshake while the first two are open (and keep working); once one closes, a new
/// one gets in.
#[tokio::test]
async fn one_address_holds_at_most_its_share_of_connections() {
    let pki = pki();
    let limits = Limits {
        max_connections_per_peer: 2,
        ..Limits::DEFAULT
    };
    let server = Server::start(&pki, limits).await;

    let mut first = connect(&pki, server.addr).await.expect("first connection");
    let mut second = connect(&pki, server.addr).await.expect("second connection");
    assert_eq!(get_ok(&mut first).await, "HTTP/1.1 200 OK");
    assert!(
        connect(&pki, server.addr).await.is_err(),
        "a third connection from the same address is refused"
    );
    assert_eq!(
        get_ok(&mut second).await,
        "HTTP/1.1 200 OK",
        "the connections within the limit are unaffected"
    );

    drop(first);
    // The server notices the close asynchronously: bounded poll, no timing assertion.
    let mut third = None;
    for _ in 0..50 {
        if let Ok(stream) = connect(&pki, server.addr).await {
            third = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut third = third.expect("a place is free again once a connection closed");
    assert_eq!(get_ok(&mut third).await, "HTTP/1.1 200 OK");
    server.stop().await;
}

/// `--request-timeout` takes positive seconds, fractions allowed; the defaults are the
/// documented ones.
#[test]
fn limits_parse_from_the_command_line() {
    use clap::Parser as _;
    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }
    let parsed = Cli::try_parse_from(["x"]).expect("defaults");
    assert_eq!(parsed.limits, Limits::DEFAULT);
    assert_eq!(Limits::DEFAULT.request_timeout, Duration::from_secs(30));
    let parsed = Cli::try_parse_from([
        "x",
        "--request-timeout",
        "0.5",
        "--max-connections-per-peer",
        "3",
    ])
    .expect("flags");
    assert_eq!(parsed.limits.request_timeout, Duration::from_millis(500));
    assert_eq!(parsed.limits.max_connections_per_peer, 3);
    for bad in [
        &["x", "--request-timeout", "0"][..],
        &["x", "--request-timeout", "soon"],
        &["x", "--max-connections-per-peer", "0"],
    ] {
        let err = Cli::try_parse_from(bad).unwrap_err().to_string();
        assert!(err.contains(bad[1]), "{err}");
    }
}
