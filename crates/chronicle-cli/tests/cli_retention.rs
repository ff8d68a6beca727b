//! `chronicle retention run` on a file store with `[retention]` in its
//! `chronicle.toml`: a dry run reports and changes nothing, a run removes
//! exactly the bound prefixes, a bad key is one readable line.

use std::process::{Command, Output};

fn chronicle(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chronicle")).args(args).current_dir(dir).env_remove("CHRONICLE_BACKEND").output().unwrap()
}

fn ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = chronicle(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn versions(dir: &std::path::Path, stream: &str) -> Vec<u64> {
    ok(dir, &["read", stream, "--json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["version"].as_u64().unwrap())
        .collect()
}

#[test]
fn retention_run_removes_the_bound_prefixes_and_a_dry_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[retention]\n[[retention.rules]]\ncategory = \"telemetry\"\nmax_count = 2\n[[retention.keep]]\ntags = [\"hold\"]\n";
    std::fs::write(dir.path().join("chronicle.toml"), config).unwrap();
    for i in 1..=5 {
        ok(dir.path(), &["append", "telemetry-1", "--type", "Reading", &format!("{{\"i\":{i}}}")]);
    }
    ok(dir.path(), &["append", "order-1", "--type", "Placed", "{}"]);

    let dry: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["retention", "run", "--dry-run", "--json"])).unwrap();
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["rules"][0]["rule"].as_str(), dry["rules"][0]["events"].as_u64()),
        (Some(true), Some("category=telemetry"), Some(3)),
        "{dry}"
    );
    assert_eq!(versions(dir.path(), "telemetry-1").len(), 5, "a dry run changes nothing");

    let table = ok(dir.path(), &["retention", "run"]);
    assert!(table.contains("category=telemetry") && table.contains("removed 3 event(s)"), "{table}");
    assert_eq!(versions(dir.path(), "telemetry-1"), [4, 5]);
    assert_eq!(versions(dir.path(), "order-1"), [1], "no rule, no default: untouched");
    assert!(ok(dir.path(), &["retention", "run"]).contains("removed 0 event(s)"));

    std::fs::write(dir.path().join("chronicle.toml"), "[retention]\n[[retention.rules]]\ncategory = \"x\"\nmax_age = \"30\"\n").unwrap();
    let bad = chronicle(dir.path(), &["retention", "run"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("[retention] rules[0].max_age:"), "{stderr}");
}
