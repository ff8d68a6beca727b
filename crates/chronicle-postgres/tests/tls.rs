//! TLS to PostgreSQL, against a private cluster of the test's own
//! (`initdb` + `pg_ctl` from PostgreSQL 15, run as the `postgres` user)
//! that accepts only TLS connections (`hostssl`), with certificates
//! generated here: a certificate for `localhost` signed by a test CA.
//! `verify-full` with the CA runs the append/read/subscribe part of the
//! conformance suite; a wrong root, a host the certificate does not name,
//! and `sslmode=disable` each fail with one line naming the cause;
//! `verify-ca` accepts the host the certificate does not name.

use chronicle_core::AppendPipeline;
use chronicle_postgres::PgStore;
use chronicle_testkit::pg_cluster::{Access, PgCluster};
use std::sync::Arc;

async fn connect(url: &str) -> chronicle_core::Result<PgStore> {
    PgStore::connect_temporary(url, AppendPipeline::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_only_postgres() {
    let Some(cluster) = PgCluster::start(Access::TlsOnly) else { return };
    let root = format!("sslrootcert={}", cluster.file("root.crt").display());
    let full = cluster.url("localhost", &format!("sslmode=verify-full&{root}"));

    // The conformance suite's append, read and subscribe cases over verified TLS.
    chronicle_testkit::cases::positions_and_versions_start_at_one_and_are_gapless(Arc::new(connect(&full).await.unwrap())).await;
    chronicle_testkit::cases::read_all_filters(Arc::new(connect(&full).await.unwrap())).await;
    chronicle_testkit::cases::subscription_crosses_from_history_into_live(Arc::new(connect(&full).await.unwrap())).await;
    chronicle_testkit::cases::dcb_condition_guards_the_append(Arc::new(connect(&full).await.unwrap())).await;

    // verify-ca checks the chain only: the IP the certificate does not name is accepted.
    connect(&cluster.url("127.0.0.1", &format!("sslmode=verify-ca&{root}"))).await.unwrap();
    // Each refusal is one line naming its cause.
    let refusals = [
        (cluster.url("127.0.0.1", &format!("sslmode=verify-full&{root}")), "not valid for name \"127.0.0.1\""),
        (
            cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", cluster.file("other-root.crt").display())),
            "invalid peer certificate",
        ),
        (cluster.url("127.0.0.1", "sslmode=disable"), "no encryption"),
    ];
    for (url, cause) in refusals {
        let err = connect(&url).await.unwrap_err().to_string();
        assert!(err.contains(cause) && !err.contains('\n'), "{url}: {err}");
    }
    // `require` encrypts without checking the certificate, as libpq does.
    connect(&cluster.url("127.0.0.1", "sslmode=require")).await.unwrap();
}
