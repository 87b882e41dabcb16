//! A server on a background task, as tests, benches and the client's walkthrough start one:
//! the stop signal, the task, stop-and-wait, and abort when dropped. Both servers' `spawn`
//! (`oauth2_provider::spawn`, `resource_server::spawn`) take their bound listeners, start
//! their `run(listener, …, shutdown)` through [`Background::spawn`] and keep the
//! [`Background`] in their `Running`, so the two have one shape.
//!
//! ```no_run
//! # async fn demo(listener: tokio::net::TcpListener, tls: std::sync::Arc<rustls::ServerConfig>, app: axum::Router) -> Result<(), playbook::server::BackgroundError> {
//! use playbook::server::{Background, serve};
//! let server = Background::spawn(|stopped| serve(listener, tls, app, stopped));
//! // … requests …
//! server.stop().await?; // stops accepting, drains, waits; dropping it instead aborts
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::TlsError;

/// Why a server on a background task could not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum BackgroundError {
    /// The server's own TLS material (its certificate, or the client it fetches with).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listener's address could not be read, or the serve loop failed.
    #[error("the server's listener failed: {0}")]
    Io(#[from] std::io::Error),
    /// The task panicked or was cancelled.
    #[error("the server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Completes when [`Background::stop`] is called or the [`Background`] is dropped: the
/// `shutdown` future handed to the server's `run`.
#[derive(Debug)]
pub struct StopSignal(oneshot::Receiver<()>);

impl Future for StopSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A dropped sender (the `Background` went away) stops the server too.
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// A server running on a tokio task until [`Background::stop`]; aborted when dropped, so a
/// test that panics before `stop` leaves no server behind.
#[derive(Debug)]
pub struct Background {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Background {
    /// Spawns `serve(stopped)` on the current runtime: `serve` is the server's `run` with its
    /// listener(s) and state, `stopped` its shutdown future.
    pub fn spawn<F>(serve: impl FnOnce(StopSignal) -> F) -> Background
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Background {
            stop: Some(stop),
            task: tokio::spawn(serve(StopSignal(stopped))),
        }
    }

    /// Stops accepting, lets the serve loop drain open connections, and waits for the task.
    pub async fn stop(mut self) -> Result<(), BackgroundError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A no-op once the task has finished (after `stop`).
        self.task.abort();
    }
}

/// `https://localhost:<port>` of a loopback listener: the name the dev certificates carry
/// (`127.0.0.1` would be another issuer to the resource server).
pub fn localhost_url(addr: SocketAddr) -> String {
    format!("https://localhost:{}", addr.port())
}
