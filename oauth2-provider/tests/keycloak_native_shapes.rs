//! Native Keycloak 26.7.5 with each of its six x509cert-lookups (nginx, haproxy, apache,
//! traefik, envoy, rfc9440), answering token requests whose client certificate comes in a
//! header composed exactly as that proxy writes it, and broken as proxies break it
//! (`support/shapes.rs` has the cases). Its answers are the golden answers the embedded
//! provider is held to (`proxy_shapes.rs`):
//!
//! ```text
//! RECORD_GOLDEN=1 cargo test -p oauth2-provider --test keycloak_native_shapes -- --ignored   # record
//! cargo test -p oauth2-provider --test keycloak_native_shapes -- --ignored                   # check
//! PROXY_SHAPES=haproxy,apache cargo test …                                                    # some
//! ```
//!
//! The lookup is a build-time option: each shape is its own cached build
//! (`keycloak-native.sh`, builds/<version>-<key>), built once (about a minute), then started
//! (`--optimized`) for its cases. The other options (header names, chain) are read at start.

mod support {
    #[allow(dead_code)] // claims and token_with only
    pub mod forwarded;
    #[allow(dead_code)] // start_with and log_tail only
    pub mod native;
    pub mod shapes;
}

use playbook::pki::DevPki;
use support::native::NativeKeycloak;
use support::shapes::{SHAPES, answers, keycloak_env, record_or_compare};

/// The shapes to run: `PROXY_SHAPES` (Keycloak's ids, comma-separated), else all six.
fn selected() -> Vec<playbook::forwarded::Format> {
    let only = std::env::var("PROXY_SHAPES").unwrap_or_default();
    SHAPES
        .into_iter()
        .filter(|f| only.is_empty() || only.split(',').any(|s| s.trim() == f.keycloak_lookup()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+; a build per lookup: cargo test -p oauth2-provider --test keycloak_native_shapes -- --ignored"]
async fn keycloak_reads_each_proxy_shape() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    for format in selected() {
        let env = keycloak_env(format);
        let keycloak =
            tokio::task::block_in_place(|| NativeKeycloak::start_with(&pki, "tests-shapes", &env))
                .unwrap_or_else(|e| {
                    panic!(
                        "native Keycloak with the {} lookup: {e}",
                        format.keycloak_lookup()
                    )
                });
        let got = answers(format, &pki, &keycloak.base_url).await;
        eprintln!("{}: {got:#}", format.keycloak_lookup());
        record_or_compare(
            format,
            &got,
            "RECORD_GOLDEN=1 cargo test -p oauth2-provider --test keycloak_native_shapes -- --ignored",
        );
        drop(keycloak);
    }
}
