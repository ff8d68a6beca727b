//! `chronicle upcast` and `chronicle catalog` on the seed-004 chain: a
//! dry run counts 100,000 events stored at v1, v2 and v3 and finds no
//! failure; `--apply` into PostgreSQL, SIGKILLed midway, resumes and
//! verifies, and every event in the target is a valid v3; a store holding
//! an event that cannot become a valid v3 fails the dry run naming its
//! position and pointer (never the value), and `--apply` stops there.

mod served;

use chronicle::{Config, ExpectedVersion, NewEvent, ReadAll, StreamId};
use serde_json::Value;
use served::{BIN, Schema, pg_url, seed004};
use std::{
    path::Path,
    process::{Command, Output},
};

const EVENTS: u64 = 100_000;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(dir).env_remove("CHRONICLE_BACKEND").env("CHRONICLE_DATABASE_URL", pg_url()).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A file store at `dir/name` with `[schemas]` (its configuration is
/// `dir/name.toml`), filled with the events checked against them when `check`.
async fn source(dir: &Path, name: &str, check: bool, versions: impl Iterator<Item = (u32, Value)>) -> Config {
    let data_dir = format!("data_dir = {:?}\n", dir.join(name).display().to_string());
    let text = format!("{data_dir}{}", seed004::write(dir));
    std::fs::write(dir.join(format!("{name}.toml")), &text).unwrap();
    let config = Config::from_toml(&text).unwrap();
    let store = chronicle::open(&if check { config.clone() } else { Config::from_toml(&data_dir).unwrap() }).await.unwrap();
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut n = 0;
    for (version, data) in versions {
        batch.push(NewEvent::json("OrderCreated", &data).unwrap().with_schema_version(version));
        if batch.len() == 1000 {
            let s = StreamId::new(format!("order-{}", n % 50)).unwrap();
            store.append(&s, ExpectedVersion::Any, std::mem::take(&mut batch)).await.unwrap();
            n += 1;
        }
    }
    if !batch.is_empty() {
        store.append(&StreamId::new("order-last").unwrap(), ExpectedVersion::Any, batch).await.unwrap();
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upcast_dry_run_then_apply_resumes_and_verifies() {
    let Some(schema) = Schema::fresh("upcast").await else { return };
    let work = tempfile::tempdir().unwrap();
    // Batches of one version each: 1, 2, 3, 1, 2, 3, …
    let versions = (0..EVENTS).map(|i| {
        let v = ((i / 1000) % 3 + 1) as u32;
        (v, seed004::data(v, i))
    });
    source(work.path(), "source", true, versions).await;

    let census: Value =
        serde_json::from_str(&ok(&run(work.path(), &["--config", "source.toml", "upcast", "--dry-run", "--json"]))).unwrap();
    assert_eq!((census["events"].as_u64(), census["failed"].as_u64()), (Some(EVENTS), Some(0)), "{census}");
    let counts: Vec<(u64, u64, u64)> = census["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["version"].as_u64().unwrap(), c["current"].as_u64().unwrap(), c["events"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, [(1, 3, 34_000), (2, 3, 33_000), (3, 3, 33_000)]);
    let catalog = ok(&run(work.path(), &["--config", "source.toml", "catalog"]));
    assert!(
        catalog.contains("OrderCreated v1: 34000 events (read as v3)") && catalog.contains("OrderCreated v1 → v2 (1 step(s))"),
        "{catalog}"
    );

    let target_config =
        format!("backend = \"postgres\"\ndatabase_url = {:?}\n[postgres]\nschema = \"{}\"\npool_size = 4\n", pg_url(), schema.0);
    std::fs::write(work.path().join("pg.toml"), &target_config).unwrap();
    let pg = Config::from_toml(&target_config).unwrap();
    let target = chronicle::open(&pg).await.unwrap();
    let stopped =
        served::kill_midway(work.path(), &["--config", "source.toml", "upcast", "--apply", "--to", "pg.toml"], &*target, 20_000).await;
    assert!(stopped < EVENTS, "killed before the end ({stopped})");
    let out = ok(&run(work.path(), &["--config", "source.toml", "upcast", "--apply", "--to", "pg.toml", "--verify"]));
    assert!(out.contains("resuming after position") && out.contains(&format!("verified: {EVENTS} positions")), "{out}");
    let mut from = 1;
    let mut seen = 0;
    loop {
        let page = target.read_all(&ReadAll::forward().from(from).limit(10_000)).await.unwrap();
        for e in &page.events {
            let data: Value = serde_json::from_slice(e.data.as_bytes()).unwrap();
            assert!(e.schema_version == 3 && data["taxRate"].is_number() && data["currency"].is_string(), "{e:?}");
            seen += 1;
        }
        match page.next {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(seen, EVENTS, "every event is stored as a valid v3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_become_valid_is_named_and_stops_the_apply() {
    let work = tempfile::tempdir().unwrap();
    // Stored unchecked (as before the schemas were registered): a v2 whose taxRate no version allows.
    let bad = serde_json::json!({"total": 5, "currency": "USD", "taxRate": -7});
    source(work.path(), "source", false, [(1, seed004::data(1, 1)), (2, bad), (3, seed004::data(3, 3))].into_iter()).await;
    let dry = run(work.path(), &["--config", "source.toml", "upcast", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&dry.stdout);
    assert!(listed.contains("position 2: OrderCreated v2 at \"/taxRate\""), "{listed}");
    assert!(!listed.contains("-7"), "never the value: {listed}");
    std::fs::write(work.path().join("target.toml"), format!("data_dir = {:?}\n", work.path().join("target").display().to_string()))
        .unwrap();
    let apply = run(work.path(), &["--config", "source.toml", "upcast", "--apply", "--to", "target.toml"]);
    let err = String::from_utf8_lossy(&apply.stderr);
    assert_eq!(apply.status.code(), Some(1), "{err}");
    assert!(err.contains("position 2") && err.contains("/taxRate") && !err.contains("-7"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}
