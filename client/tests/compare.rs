//! `client compare` end to end on the embedded provider and the resource server over real
//! TLS on loopback: every method's flow, then the three attacks, with the thief's outcome of
//! each asserted (`common/compare.rs`; the same run on native Keycloak is in
//! `labs_keycloak_native.rs`). The measured numbers are not asserted, only present.

mod common;

/// The comparison on the embedded provider: a stolen bearer token and a stolen secret get the
/// thief in; the certificate-bound and the DPoP-bound tokens do not, a stolen secret does even
/// with DPoP, and a replayed DPoP proof is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_on_the_embedded_provider() {
    let servers = common::start().await;
    let table = common::compare::compare_and_assert(servers.dir.path(), &servers.settings).await;
    servers.stop().await;
    println!("{table}");
}
