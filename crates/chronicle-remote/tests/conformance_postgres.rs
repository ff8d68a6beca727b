//! The conformance suite and model-based test through the remote client,
//! against a server on the real PostgreSQL (each test in its own schema).

mod common;

use std::sync::Arc;

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

chronicle_testkit::conformance_suite!(optional: || async {
    let pg = chronicle_testkit::service_or_skip(
        "PostgreSQL",
        chronicle_postgres::PgStore::connect_temporary(&url(), chronicle_core::AppendPipeline::default()).await,
    )?;
    Some(common::served(Arc::new(pg)).await)
});
