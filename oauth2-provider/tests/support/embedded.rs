//! The embedded provider for the suites: the shipped realm file and the fixture realms
//! (`scenarios::fixture_realm_paths`), an in-memory dev PKI, on a
//! runtime of its own in a background thread, serving until the test process exits.

use std::sync::Arc;

use crate::scenarios::Fixture;

/// Starts a provider and returns where it answers, once it is listening.
pub async fn start() -> Fixture {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("provider runtime");
        rt.block_on(async move {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "warn".into()),
                )
                .with_test_writer()
                .try_init();
            playbook::install_crypto_provider();
            let pki = Arc::new(playbook::pki::DevPki::generate(2, 1).expect("dev PKI"));
            // The shipped realm and the fixture realms, as every provider under test.
            let mut paths = vec![oauth2_provider::realm_file()];
            paths.extend(crate::scenarios::fixture_realm_paths());
            let running =
                oauth2_provider::spawn_dev(&pki, &paths, oauth2_provider::Options::default())
                    .await
                    .expect("the shipped realm file and the fixtures import, and serve");
            let defaults = oauth2_provider::Options::default();
            let _ = tx.send(Fixture {
                base_url: running.url.clone(),
                management_url: running
                    .management_url
                    .clone()
                    .expect("spawn_dev has a management listener"),
                pki,
                admin_username: defaults.admin_username,
                admin_password: defaults.admin_password,
            });
            // Serve until the test process exits.
            std::future::pending::<()>().await;
        });
    });
    tokio::time::timeout(std::time::Duration::from_secs(60), rx)
        .await
        .expect("the embedded provider starts within 60 s")
        .expect("the provider thread sent its fixture")
}
