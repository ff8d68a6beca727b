//! Every CLI command works unchanged on the PostgreSQL backend
//! (`CHRONICLE_BACKEND=postgres`, `CHRONICLE_DATABASE_URL`), in a schema of
//! its own that the test drops.

mod served;

use served::{Schema, pg_url as url};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");

#[tokio::test]
async fn cli_commands_on_postgres() {
    let Some(schema) = Schema::fresh("cli").await else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chronicle.toml"),
        format!(
            "backend = \"postgres\"\n[postgres]\nschema = \"{}\"\npool_size = 2\n[retention]\n[[retention.rules]]\ncategory = \"user\"\nmax_count = 1\n",
            schema.0
        ),
    )
    .unwrap();
    let run = |args: &[&str]| -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env("CHRONICLE_DATABASE_URL", url())
            .env_remove("CHRONICLE_BACKEND")
            .output()
            .unwrap()
    };
    let ok = |o: &Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = run(&["schema"]);
    ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("schema {} is up to date\n", schema.0));
    ok(&run(&["append", "order-1", "--type", "Placed", r#"{"total":5}"#, "--expected-version", "no-stream"]));
    let conflict = run(&["append", "order-1", "--type", "Placed", "--expected-version", "no-stream"]);
    assert_eq!(conflict.status.code(), Some(3));
    std::fs::write(dir.path().join("in.ndjson"), "{\"stream_id\":\"user-1\",\"event_type\":\"Registered\",\"data\":{}}\n{\"stream_id\":\"user-1\",\"event_type\":\"Renamed\",\"data\":{\"n\":2}}\n").unwrap();
    ok(&run(&["import", "in.ndjson"]));
    let read = run(&["read", "--all", "--json"]);
    ok(&read);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&read.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|e| e["global_position"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(lines[0]["data"], serde_json::json!({"total": 5}));
    assert_eq!(String::from_utf8_lossy(&run(&["read", "user-1", "--json", "--backward", "--limit", "1"]).stdout).lines().count(), 1);
    assert_eq!(String::from_utf8_lossy(&run(&["export"]).stdout).lines().count(), 3);
    let stats: serde_json::Value = serde_json::from_slice(&run(&["stats", "--json"]).stdout).unwrap();
    assert_eq!((stats["backend"].as_str(), stats["head_position"].as_u64()), (Some("postgres"), Some(3)));
    assert_eq!((stats["events"].as_u64(), stats["streams"].as_u64()), (Some(3), Some(2)), "{stats}");
    assert_eq!(stats["retention"]["summary"], "default infinite; category=user: 1; every 1h", "{stats}");

    // Retention on PostgreSQL from the CLI: the row is deleted, the pass recorded.
    let pass = run(&["retention", "run", "--json"]);
    ok(&pass);
    let pass: serde_json::Value = serde_json::from_slice(&pass.stdout).unwrap();
    assert_eq!((pass["rules"][0]["events"].as_u64(), pass["reclaimed"]["events_removed"].as_u64()), (Some(1), Some(1)), "{pass}");
    let stats: serde_json::Value = serde_json::from_slice(&run(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(
        (stats["events"].as_u64(), stats["retention"]["last_pass"]["events"].as_u64()),
        (Some(3), Some(1)),
        "2 left + the pass record: {stats}"
    );
    let scavenge = run(&["scavenge"]);
    ok(&scavenge);
    assert!(String::from_utf8_lossy(&scavenge.stdout).starts_with("ok: 0 events removed"), "{}", String::from_utf8_lossy(&scavenge.stdout));
    let verify = run(&["verify"]);
    assert!(!verify.status.success() && String::from_utf8_lossy(&verify.stderr).contains("file backend"));
}
