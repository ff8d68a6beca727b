//! The shared conformance suite and model-based test on the real
//! PostgreSQL of the machine, each test in its own schema (dropped after).

/// `CHRONICLE_TEST_DATABASE_URL`, default the machine's `test` database.
pub fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

chronicle_testkit::conformance_suite!(optional: || async {
    chronicle_testkit::service_or_skip("PostgreSQL", chronicle_postgres::PgStore::connect_temporary(&url(), chronicle_core::AppendPipeline::default()).await)
});
