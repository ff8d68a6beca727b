//! `chronicle bench --quick --json` prints exactly one JSON document of the
//! contracted shape, with every figure positive and finite.

use std::process::Command;

const FIELDS: [&str; 11] = [
    "workload",
    "backend",
    "writers",
    "batch",
    "events",
    "events_per_sec",
    "p50_us",
    "p99_us",
    "baseline",
    "baseline_events_per_sec",
    "ratio",
];

#[test]
fn quick_json_has_the_contracted_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chronicle"))
        .args(["bench", "--quick", "--upcast", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim_end().lines().count(), 1, "exactly one JSON document");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(doc["revision"].is_string() || doc["revision"].is_null());
    assert!(doc["cores"].as_u64().is_some_and(|c| c >= 1));
    let results = doc["results"].as_array().unwrap();
    for r in results {
        for f in FIELDS {
            assert!(r.get(f).is_some(), "field {f} missing in {r}");
        }
        for (k, v) in r.as_object().unwrap() {
            if let Some(x) = v.as_f64() {
                assert!(x.is_finite() && x > 0.0, "{k} = {x} in {r}");
            }
        }
    }
    let workloads: Vec<&str> = results.iter().map(|r| r["workload"].as_str().unwrap()).collect();
    for w in [
        "append",
        "read-stream",
        "replay",
        "subscribe",
        "open",
        "storage",
        "mixed",
        "http-append",
        "aggregate-load",
        "publish-nats",
        "publish-webhook",
        "consumer-group",
        "retention",
        "retention-append",
        "backup",
        "restore",
        "read",
        "read-upcast10",
        "read-upcast",
        "append-schema",
        "upcast-apply",
    ] {
        assert!(workloads.contains(&w), "{w} missing from {workloads:?}");
    }
    let has = |writers: u64, batch: u64| {
        results.iter().any(|r| r["workload"] == "append" && r["backend"] == "file" && r["writers"] == writers && r["batch"] == batch)
    };
    assert!(has(64, 1) && has(1, 1000), "quick must include append 64x1 and 1x1000 on file");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "bench cleans up after itself");
}

/// `bench --backend postgres --nodes 2`: the same load through one and
/// through two `chronicle serve` processes on one database, each row
/// carrying its node count, the two-node append row its one-node baseline;
/// nothing is left behind in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_compares_one_node_with_several_on_one_database() {
    let url = std::env::var("CHRONICLE_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schemas = async || -> Result<i64, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let row = client.query_one("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'chronicle_tmp%_audit'", &[]).await?;
        Ok(row.get(0))
    };
    let Some(before) = chronicle_testkit::service_or_skip("PostgreSQL", schemas().await) else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_chronicle"))
        .args(["bench", "--backend", "postgres", "--nodes", "2", "--writers", "4", "--events", "300", "--json"])
        .env("CHRONICLE_DATABASE_URL", &url)
        .env_remove("CHRONICLE_BACKEND")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(&str, u64)> =
        doc["results"].as_array().unwrap().iter().map(|r| (r["workload"].as_str().unwrap(), r["nodes"].as_u64().unwrap())).collect();
    assert_eq!(rows, [("nodes-append", 1), ("nodes-append", 2), ("nodes-lag", 1), ("nodes-lag", 2)]);
    let two = &doc["results"][1];
    assert_eq!(two["baseline_events_per_sec"], doc["results"][0]["events_per_sec"], "{two}");
    assert!(two["ratio"].as_f64().is_some_and(|r| r > 0.0 && r.is_finite()), "{two}");
    assert_eq!(schemas().await.unwrap(), before, "the nodes' audit schemas dropped");
}
