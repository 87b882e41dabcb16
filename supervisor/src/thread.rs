//! A server on a thread of its own, with its own single-threaded runtime and its own log
//! file: every event of its tasks goes to that file (no colour codes), so each server keeps
//! the log `./start.sh` documents (`target/start-logs/oauth2-provider.log`,
//! `resource-server.log`, `resource-server-<port>.log` behind a proxy) though they all run
//! in one process.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing_subscriber::EnvFilter;

use crate::servers::{self, ProviderSpec, ResourceServerSpec, StartError};

/// What to start on the thread.
#[derive(Debug)]
pub enum Spec {
    Provider(ProviderSpec),
    ResourceServer(ResourceServerSpec, Duration),
}

impl Spec {
    /// The log filter when RUST_LOG does not say: what each server's binary logs.
    fn default_filter(&self) -> &'static str {
        match self {
            Spec::Provider(_) => "info",
            Spec::ResourceServer(..) => "resource_server=debug,playbook=info",
        }
    }
}

enum Started {
    Provider(oauth2_provider::Running),
    ResourceServer(resource_server::Running),
}

impl Started {
    fn url(&self) -> String {
        match self {
            Started::Provider(p) => p.url.clone(),
            Started::ResourceServer(r) => r.url.clone(),
        }
    }

    async fn stop(self) {
        let stopped = match self {
            Started::Provider(p) => p.stop().await,
            Started::ResourceServer(r) => r.stop().await,
        };
        if let Err(err) = stopped {
            tracing::warn!("stopping: {err}");
        }
    }
}

/// Why a server thread did not come up.
#[derive(Debug, thiserror::Error)]
pub enum ThreadError {
    #[error("creating the log file {}: {source}", path.display())]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("starting a thread or its runtime: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("the server's thread ended before it was ready")]
    Vanished,
}

/// A server running on its own thread; [`Supervised::stop`] stops it and waits.
#[derive(Debug)]
pub struct Supervised {
    /// `https://localhost:<port>`.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Supervised {
    /// Starts `spec` on a new thread logging to `log`, and returns once it is ready.
    pub async fn start(name: &str, spec: Spec, log: &Path) -> Result<Supervised, ThreadError> {
        let file = File::create(log).map_err(|source| ThreadError::Log {
            path: log.to_owned(),
            source,
        })?;
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new(spec.default_filter()));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .finish();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ThreadError::Thread)?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _log = tracing::subscriber::set_default(subscriber);
                runtime.block_on(async move {
                    let started = match spec {
                        Spec::Provider(p) => {
                            servers::start_provider(p).await.map(Started::Provider)
                        }
                        Spec::ResourceServer(r, wait) => servers::start_resource_server(r, wait)
                            .await
                            .map(Started::ResourceServer),
                    };
                    match started {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.url()));
                            // Stopped when asked, or when the supervisor is gone.
                            let _ = stop_rx.await;
                            server.stop().await;
                        }
                        Err(err) => {
                            tracing::error!("{}", playbook::report::error_chain(&err));
                            let _ = ready_tx.send(Err(err));
                        }
                    }
                });
            })
            .map_err(ThreadError::Thread)?;
        let url = ready_rx.await.map_err(|_| ThreadError::Vanished)??;
        Ok(Supervised {
            url,
            log: log.to_owned(),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stops the server (it drains open connections for at most 5 s) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}
