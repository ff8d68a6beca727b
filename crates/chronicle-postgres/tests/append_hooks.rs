//! The append pipeline's hook point and the schema check on PostgreSQL (a schema of its own).

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn store(pipeline: chronicle_core::AppendPipeline) -> Option<chronicle_postgres::PgStore> {
    chronicle_testkit::service_or_skip("PostgreSQL", chronicle_postgres::PgStore::connect_temporary(&url(), pipeline).await)
}

chronicle_testkit::hooks_conformance!(store);
chronicle_testkit::schema_conformance!(store);
chronicle_testkit::privacy_conformance!(store);
