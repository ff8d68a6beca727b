//! The `chronicle` CLI contract that scripts depend on: flags, stdout
//! content, exit codes (0 ok, 3 version conflict, other non-zero with one
//! line on stderr).

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("CHRONICLE_DATA_DIR").env_remove("CHRONICLE_BACKEND").current_dir(dir).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn one_error_line(o: &Output) -> String {
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "stderr: {err:?}");
    err
}

#[test]
fn append_read_conflict_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = run(d, &["append", "order-1", "--type", "Placed", r#"{"total":5}"#, "--metadata", r#"{"correlation_id":"c1"}"#]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(d.join("chronicle-data/segments").is_dir(), "default data dir is ./chronicle-data");
    // --data-dir before or after the subcommand.
    assert!(run(d, &["--data-dir", "alt", "append", "x-1", "--type", "T"]).status.success());
    assert!(run(d, &["append", "x-1", "--type", "T", "--data-dir", "alt"]).status.success());
    assert_eq!(stdout(&run(d, &["read", "x-1", "--data-dir", "alt", "--json"])).lines().count(), 2);

    let conflict = run(d, &["append", "order-1", "--type", "Paid", "--expected-version", "no-stream"]);
    assert_eq!(conflict.status.code(), Some(3));
    let msg = one_error_line(&conflict);
    assert!(msg.contains("expected no-stream") && msg.contains("actual 1"), "{msg}");
    assert!(run(d, &["append", "order-1", "--type", "Paid", "--expected-version", "1"]).status.success());

    for bad in [
        vec!["append", "order-1", "--type", "T", "{oops"],
        vec!["append", "order-1", "--type", "T", "--expected-version", "soon"],
        vec!["append", "order-1", "--type", "T", "--metadata", "[1]"],
    ] {
        let o = run(d, &bad);
        assert!(!o.status.success() && o.status.code() != Some(3), "{bad:?}");
        one_error_line(&o);
    }

    let lines = stdout(&run(d, &["read", "--all", "--json"]));
    let events: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 2);
    let mut keys: Vec<_> = events[0].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    let mut want =
        ["global_position", "stream_id", "version", "event_id", "event_type", "schema_version", "data", "metadata", "recorded_at"];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(events[0]["data"], serde_json::json!({"total": 5}));
    let filtered = stdout(&run(d, &["read", "--all", "--correlation-id", "c1", "--json"]));
    assert_eq!(filtered.lines().count(), 1);
    let last = stdout(&run(d, &["read", "--all", "--backward", "--limit", "1", "--json"]));
    assert!(last.contains("\"global_position\":2"), "{last}");
    let table = stdout(&run(d, &["read", "order-1"]));
    assert!(table.starts_with(" POSITION") && table.contains("Placed"), "{table}");
}

#[test]
fn export_import_round_trip_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut input = String::new();
    for i in 0..2500 {
        input += &format!("{{\"stream_id\":\"s-{}\",\"event_type\":\"T\",\"data\":{{\"i\":{i}}}}}\n", i % 3);
    }
    std::fs::write(d.join("in.ndjson"), &input).unwrap();
    let o = run(d, &["import", "in.ndjson"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), "imported 2500 events\n");
    let export = run(d, &["export"]);
    assert_eq!(stdout(&export).lines().count(), 2500);
    let order: Vec<i64> =
        stdout(&export).lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["data"]["i"].as_i64().unwrap()).collect();
    assert_eq!(order, (0..2500).collect::<Vec<_>>(), "import keeps the file's order");

    // The export imports into another store unchanged (ids, types, data).
    std::fs::write(d.join("export.ndjson"), &export.stdout).unwrap();
    assert!(run(d, &["import", "export.ndjson", "--data-dir", "copy"]).status.success());
    assert_eq!(
        stdout(&run(d, &["export", "--data-dir", "copy"]))
            .lines()
            .map(|l| &l[l.find("\"stream_id\"").unwrap()..l.find("\"recorded_at\"").unwrap()])
            .collect::<Vec<_>>(),
        stdout(&export).lines().map(|l| &l[l.find("\"stream_id\"").unwrap()..l.find("\"recorded_at\"").unwrap()]).collect::<Vec<_>>()
    );

    let bad_line = run(d, &["import", "-"]);
    assert!(bad_line.status.success(), "empty stdin imports nothing");
    std::fs::write(d.join("bad.ndjson"), "{\"stream_id\":\"a-1\",\"event_type\":\"T\",\"data\":1}\n{\"stream_id\":\"a-1\"}\n").unwrap();
    let o = run(d, &["import", "bad.ndjson"]);
    assert!(!o.status.success());
    assert!(one_error_line(&o).contains("line 2"));

    let ok = run(d, &["verify"]);
    assert!(ok.status.success() && stdout(&ok).starts_with("ok: 2500 events"), "{ok:?}");
    let rebuilt = run(d, &["verify", "--rebuild-index"]);
    assert!(rebuilt.status.success() && stdout(&rebuilt).contains("rebuilt the index files of 0 sealed segments"), "{rebuilt:?}");
    let seg = d.join("chronicle-data/segments/00000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[5000] ^= 0xFF;
    std::fs::write(&seg, bytes).unwrap();
    let corrupt = run(d, &["verify"]);
    assert!(!corrupt.status.success());
    let msg = one_error_line(&corrupt);
    assert!(msg.contains("00000001.seg") && msg.contains("offset"), "{msg}");
    let stats = run(d, &["stats", "--json", "--data-dir", "copy"]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!((stats["events"].as_u64(), stats["streams"].as_u64()), (Some(2500), Some(3)));
}

#[test]
fn tail_follows_appends_from_other_processes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(run(d, &["append", "t-1", "--type", "Old"]).status.success());
    let mut tail = Command::new(BIN).args(["tail", "--json", "--from", "1"]).current_dir(d).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("\"Old\""));
    // `tail` opens read-only: another process can append meanwhile.
    for i in 0..3 {
        let o = run(d, &["append", "t-1", "--type", &format!("New{i}")]);
        assert!(o.status.success(), "{o:?}");
    }
    for i in 0..3 {
        let line = lines.next().unwrap().unwrap();
        assert!(line.contains(&format!("\"New{i}\"")) && line.contains(&format!("\"global_position\":{}", i + 2)), "{line}");
    }
    // Default: from the end.
    let mut live = Command::new(BIN).args(["tail", "t-1", "--json"]).current_dir(d).stdout(Stdio::piped()).spawn().unwrap();
    let mut live_lines = BufReader::new(live.stdout.take().unwrap()).lines();
    std::thread::sleep(Duration::from_millis(1000));
    assert!(run(d, &["append", "other-1", "--type", "Skip"]).status.success());
    assert!(run(d, &["append", "t-1", "--type", "Fresh"]).status.success());
    let line = live_lines.next().unwrap().unwrap();
    assert!(line.contains("\"Fresh\"") && line.contains("\"global_position\":6"), "{line}");
    for mut child in [tail, live] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let _ = std::io::stdout().flush();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scavenge_reclaims_a_tombstoned_stream() {
    use chronicle::{DeleteMode, EventStore, ExpectedVersion, StreamId};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("chronicle.toml"), "[file]\nsegment_size_bytes = 16384\ncompress_sealed = false\n").unwrap();
    let mut input = String::new();
    for i in 0..1500 {
        input +=
            &format!("{{\"stream_id\":\"s-{}\",\"event_type\":\"T\",\"data\":{{\"i\":{i},\"pad\":\"{}\"}}}}\n", i % 3, "x".repeat(100));
    }
    std::fs::write(d.join("in.ndjson"), &input).unwrap();
    assert!(run(d, &["import", "in.ndjson"]).status.success());
    {
        let file = chronicle::FileOptions { segment_size_bytes: 16384, compress_sealed: false, ..Default::default() };
        let config = chronicle::Config { data_dir: d.join("chronicle-data"), file, ..Default::default() };
        let store = chronicle::open_file(&config).unwrap();
        store.delete_stream(&StreamId::new("s-1").unwrap(), ExpectedVersion::Any, DeleteMode::Tombstone).await.unwrap();
    }
    let o = run(d, &["scavenge", "--json"]);
    assert!(o.status.success(), "{o:?}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["events_removed"].as_u64().unwrap() > 400, "{report}");
    assert!(report["bytes_after"].as_u64().unwrap() * 3 < report["bytes_before"].as_u64().unwrap(), "{report}");
    let verified = run(d, &["verify"]);
    assert!(verified.status.success() && stdout(&verified).starts_with("ok: 1500 events"), "{verified:?}");
    let export = stdout(&run(d, &["export"]));
    assert_eq!((export.lines().count(), export.contains("\"s-1\"")), (1000, false));
    let stats: serde_json::Value = serde_json::from_slice(&run(d, &["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["compressed_segments"], stats["sealed_segments"], "{stats}");
    let text = stdout(&run(d, &["scavenge"]));
    assert!(text.starts_with("ok: 0 of ") && text.contains(" 0 events"), "{text}");
    std::fs::write(d.join("chronicle.toml"), "backend = \"memory\"\n").unwrap();
    let wrong = run(d, &["scavenge"]);
    assert!(!wrong.status.success() && one_error_line(&wrong).contains("file backend"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_lists_every_stream_across_pages() {
    use chronicle::{Config, ExpectedVersion, NewEvent, StreamAppend, StreamId};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let config = Config { data_dir: d.join("chronicle-data"), ..Config::default() };
        let store = chronicle::open(&config).await.unwrap();
        // 1,005 streams: more than one page of 1,000.
        for chunk in (0..1005).collect::<Vec<_>>().chunks(500) {
            let parts = chunk
                .iter()
                .map(|i| {
                    StreamAppend::new(
                        StreamId::new(format!("s-{i:04}")).unwrap(),
                        ExpectedVersion::Any,
                        vec![NewEvent::raw("T", &b"{}"[..])],
                    )
                })
                .collect();
            store.append_multi(parts).await.unwrap();
        }
    }
    let json = stdout(&run(d, &["streams", "--json"]));
    let ids: Vec<String> =
        json.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["stream_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1005);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order, no repeats");
    let table = stdout(&run(d, &["streams", "--prefix", "s-100"]));
    assert_eq!(table.lines().count(), 1 + 5, "the header and s-1000..s-1004: {table}");
    let wrong = run(d, &["streams", "--category"]);
    assert!(!wrong.status.success());
}
