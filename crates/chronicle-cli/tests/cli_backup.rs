//! `chronicle backup`, `restore` and `migrate` as a user runs them, on the
//! file engine and PostgreSQL: a backup taken during 8 concurrent writers
//! restores to identical answers at its position; incremental and
//! point-in-time restores; file → PostgreSQL → file with `--verify`; an
//! interrupted (SIGKILLed) migrate resumes; bad input is one line, exit 1,
//! nothing written.

mod served;

use chronicle::{Config, ExpectedVersion, ExportRange, NewEvent, StreamId, canonical};
use chronicle_testkit::transfer;
use served::{BIN, Schema, pg_url};
use std::{
    path::Path,
    process::{Command, Output},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(dir).env_remove("CHRONICLE_BACKEND").env("CHRONICLE_DATABASE_URL", pg_url()).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One line on stderr, exit 1.
fn refused(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

/// Small segments, so stores have sealed (compressed, scavengeable) ones.
fn file_config(dir: &Path) -> Config {
    let mut config = Config { data_dir: dir.to_owned(), ..Config::default() };
    config.file.segment_size_bytes = 1 << 20;
    config
}

fn pg_config(schema: &str) -> Config {
    let mut config = Config::from_toml(&format!("backend = \"postgres\"\n[postgres]\nschema = \"{schema}\"\npool_size = 4\n")).unwrap();
    config.database_url = Some(pg_url());
    config
}

fn write_config(path: &Path, config: &Config) {
    std::fs::write(path, config.to_toml()).unwrap();
}

/// The canonical export of `(0, through]`.
async fn exported(store: &transfer::Store, through: u64) -> Vec<chronicle::LogItem> {
    let mut items = transfer::export(store, ExportRange { after: 0, through }).await;
    canonical(&mut items);
    items
}

/// Appends from 8 writers until `stop`; returns how many appends each made.
fn writers(store: transfer::Store, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..8)
        .map(|w| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let s = StreamId::new(format!("writer{w}-{}", n % 5)).unwrap();
                    let e = NewEvent::json("Written", &serde_json::json!({"w": w, "n": n})).unwrap();
                    store.append(&s, ExpectedVersion::Any, vec![e]).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect()
}

/// Backs up `store` (configured by `config`) while 8 writers append,
/// restores into `target` and checks both answer alike at the backup's
/// position; then an incremental part and a point-in-time restore.
async fn backup_under_load(work: &Path, store: transfer::Store, config: &Config, target: &Config, later: &Config) {
    write_config(&work.join("source.toml"), config);
    transfer::build(&store).await;
    let stop = Arc::new(AtomicBool::new(false));
    let handles = writers(store.clone(), stop.clone());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let out = run(work, &["--config", "source.toml", "backup", "--to", "bk", "--json"]);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let appends: u64 = futures_util::future::join_all(handles).await.into_iter().map(Result::unwrap).sum();
    let part: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let through = part["through"].as_u64().unwrap();
    assert!(through > 12 && through < 12 + appends, "the backup ran while writers appended: {part} of {appends}");

    write_config(&work.join("target.toml"), target);
    ok(&run(work, &["--config", "target.toml", "restore", "--from", "bk"]));
    let restored = chronicle::open(target).await.unwrap();
    assert_eq!(restored.head().await.unwrap(), through);
    assert_eq!(exported(&restored, through).await, exported(&store, through).await);
    drop(restored);

    // Incremental: what came since, restored to the later head; and a
    // point-in-time restore to the first backup's position.
    let out = ok(&run(work, &["--config", "source.toml", "backup", "--to", "bk", "--incremental", "--json"]));
    let second: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(second["after"].as_u64(), Some(through));
    let head = store.head().await.unwrap();
    assert_eq!(second["through"].as_u64(), Some(head));
    write_config(&work.join("later.toml"), later);
    ok(&run(work, &["--config", "later.toml", "restore", "--from", "bk"]));
    let restored = chronicle::open(later).await.unwrap();
    assert_eq!(exported(&restored, head).await, exported(&store, head).await);
    drop(restored);
    let pit = work.join("pit");
    let out = ok(&run(work, &["--data-dir", pit.to_str().unwrap(), "restore", "--from", "bk", "--to-position", &through.to_string()]));
    assert!(out.contains(&format!("head is {through}")), "{out}");
    let restored = chronicle::open(&file_config(&pit)).await.unwrap();
    let mut at = exported(&store, through).await;
    at.retain(|i| !matches!(i, chronicle::LogItem::Checkpoint { .. }));
    let mut got = exported(&restored, through).await;
    got.retain(|i| !matches!(i, chronicle::LogItem::Checkpoint { .. }));
    assert_eq!(got, at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_backup_during_writers_restores_identically() {
    let work = tempfile::tempdir().unwrap();
    let config = file_config(&work.path().join("source"));
    let store = chronicle::open(&config).await.unwrap();
    let (target, later) = (file_config(&work.path().join("restored")), file_config(&work.path().join("later")));
    backup_under_load(work.path(), store, &config, &target, &later).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backup_during_writers_restores_identically() {
    let (Some(a), Some(b), Some(c)) = (Schema::fresh("bk_src").await, Schema::fresh("bk_dst").await, Schema::fresh("bk_late").await) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let config = pg_config(&a.0);
    let store = chronicle::open(&config).await.unwrap();
    backup_under_load(work.path(), store, &config, &pg_config(&b.0), &pg_config(&c.0)).await;
}

/// Fills a file store with `n` events beyond [`transfer::build`]'s, some
/// of them scavenged away.
async fn big_file_store(dir: &Path, n: u64) -> transfer::Store {
    let store = chronicle::open(&file_config(dir)).await.unwrap();
    transfer::build(&store).await;
    for chunk in 0..n / 500 {
        let s = StreamId::new(format!("bulk-{}", chunk % 37)).unwrap();
        let events = (0..500).map(|i| NewEvent::json("Bulk", &serde_json::json!({"chunk": chunk, "i": i, "pad": "x".repeat(40)})).unwrap());
        store.append(&s, ExpectedVersion::Any, events.collect()).await.unwrap();
    }
    let trimmed = StreamId::new("bulk-3").unwrap();
    store.set_stream_metadata(&trimmed, chronicle::StreamMetadata { max_count: Some(10), ..Default::default() }).await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_file_to_postgres_to_file_keeps_everything() {
    let Some(schema) = Schema::fresh("migrate").await else { return };
    let work = tempfile::tempdir().unwrap();
    let source = big_file_store(&work.path().join("source"), 100_000).await;
    drop(source);
    write_config(&work.path().join("file.toml"), &file_config(&work.path().join("source")));
    let out = ok(&run(work.path(), &["--config", "file.toml", "scavenge", "--json"]));
    let scavenged: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(scavenged["events_removed"].as_u64().unwrap() > 1000, "{scavenged}");
    write_config(&work.path().join("pg.toml"), &pg_config(&schema.0));
    write_config(&work.path().join("back.toml"), &file_config(&work.path().join("back")));

    let out = ok(&run(work.path(), &["migrate", "--from", "file.toml", "--to", "pg.toml", "--verify"]));
    assert!(out.contains("through position 100012") && out.contains("verified: 100012 positions"), "{out}");
    let out = ok(&run(work.path(), &["migrate", "--from", "pg.toml", "--to", "back.toml", "--verify", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["verify"]["positions"].as_u64(), Some(100_012), "{report}");

    let source = chronicle::open_read_only(&file_config(&work.path().join("source"))).await.unwrap();
    let pg = chronicle::open(&pg_config(&schema.0)).await.unwrap();
    let back = chronicle::open_read_only(&file_config(&work.path().join("back"))).await.unwrap();
    transfer::assert_same_reads(&source, &pg).await;
    transfer::assert_same_reads(&source, &back).await;
    assert!(
        transfer::export_all(&back).await.iter().any(|i| matches!(i, chronicle::LogItem::Removed { .. })),
        "scavenged positions came along"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_migrate_resumes_and_verifies() {
    let Some(schema) = Schema::fresh("resume").await else { return };
    let work = tempfile::tempdir().unwrap();
    drop(big_file_store(&work.path().join("source"), 100_000).await);
    write_config(&work.path().join("file.toml"), &file_config(&work.path().join("source")));
    write_config(&work.path().join("pg.toml"), &pg_config(&schema.0));
    let target = chronicle::open(&pg_config(&schema.0)).await.unwrap();
    let stopped = served::kill_midway(work.path(), &["migrate", "--from", "file.toml", "--to", "pg.toml"], &*target, 20_000).await;
    assert!(stopped < 100_012, "killed before the end ({stopped})");
    let out = ok(&run(work.path(), &["migrate", "--from", "file.toml", "--to", "pg.toml", "--verify"]));
    assert!(out.contains("resuming after position") && out.contains("verified: 100012 positions"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_line_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let store = chronicle::open(&file_config(&w.join("source"))).await.unwrap();
    transfer::build(&store).await;
    drop(store);
    ok(&run(w, &["--data-dir", "source", "backup", "--to", "bk"]));

    let err = refused(&run(w, &["--data-dir", "source", "backup", "--to", "bk"]));
    assert!(err.contains("already holds a backup"), "{err}");
    std::fs::create_dir(w.join("empty")).unwrap();
    let err = refused(&run(w, &["--data-dir", "fresh", "restore", "--from", "empty"]));
    assert!(err.contains("is not a Chronicle backup"), "{err}");
    assert!(!w.join("fresh").exists(), "nothing was created");
    let err = refused(&run(w, &["--data-dir", "source", "restore", "--from", "bk"]));
    assert!(err.contains("not empty (head 12"), "{err}");
    let err = refused(&run(w, &["--data-dir", "fresh", "restore", "--from", "bk", "--to-time", "2001-01-01T00:00:00Z"]));
    assert!(err.contains("before the backup's first event"), "{err}");
    let err = refused(&run(w, &["--data-dir", "fresh", "restore", "--from", "bk", "--to-time", "yesterday"]));
    assert!(err.contains("--to-time"), "{err}");

    // The file engine's backup: its segment files as they are, each checked.
    let part = w.join("bk/part-000001/segments/00000001.seg");
    let mut bytes = std::fs::read(&part).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&part, bytes).unwrap();
    let err = refused(&run(w, &["--data-dir", "fresh", "restore", "--from", "bk"]));
    assert!(err.contains("part-000001/segments/00000001.seg is damaged"), "{err}");
    let fresh = chronicle::open(&file_config(&w.join("fresh"))).await.unwrap();
    assert_eq!(fresh.head().await.unwrap(), 0, "nothing was written");
    drop(fresh);

    write_config(&w.join("a.toml"), &file_config(&w.join("source")));
    let err = refused(&run(w, &["migrate", "--from", "a.toml", "--to", "a.toml"]));
    assert!(err.contains("the same data directory"), "{err}");
    let diverged = chronicle::open(&file_config(&w.join("other"))).await.unwrap();
    diverged.append(&StreamId::new("x-1").unwrap(), ExpectedVersion::Any, vec![NewEvent::raw("X", &b"{}"[..])]).await.unwrap();
    drop(diverged);
    write_config(&w.join("b.toml"), &file_config(&w.join("other")));
    let err = refused(&run(w, &["migrate", "--from", "a.toml", "--to", "b.toml"]));
    assert!(err.contains("diverges from the source at position 1"), "{err}");
}

/// Through a running server (`CHRONICLE_BACKEND=remote`, admin routes):
/// a backup of the served store, and a migrate whose source is the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_migrate_through_a_server() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("chronicle.toml"), "data_dir = \"served\"\n").unwrap();
    let port = served::free_port();
    let _server = served::serve(w, port);
    let remote = Config::from_toml(&format!("backend = \"remote\"\nurl = \"http://127.0.0.1:{port}\"\n")).unwrap();
    served::wait(20, "the server", async || chronicle::open(&remote).await.is_ok_and(|_| true)).await;
    let store = chronicle::open(&remote).await.unwrap();
    transfer::build(&store).await;

    ok(&served::cli(w, port, &["backup", "--to", "bk"]));
    let out = ok(&run(w, &["--data-dir", "restored", "restore", "--from", "bk"]));
    assert!(out.contains("head is 12"), "{out}");
    let restored = chronicle::open(&file_config(&w.join("restored"))).await.unwrap();
    transfer::assert_same_reads(&store, &restored).await;
    drop(restored);

    write_config(&w.join("remote.toml"), &remote);
    write_config(&w.join("copy.toml"), &file_config(&w.join("copy")));
    let out = ok(&run(w, &["migrate", "--from", "remote.toml", "--to", "copy.toml", "--verify"]));
    assert!(out.contains("verified: 12 positions"), "{out}");
}

/// `migrate --follow`: the target keeps up with a live source until the
/// command is stopped (SIGTERM), then `--verify` checks the cut-over copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_follow_tracks_a_live_source_until_stopped() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let source = chronicle::open(&file_config(&w.join("source"))).await.unwrap();
    transfer::build(&source).await;
    write_config(&w.join("from.toml"), &file_config(&w.join("source")));
    write_config(&w.join("to.toml"), &file_config(&w.join("target")));
    let child = Command::new(BIN)
        .args(["migrate", "--from", "from.toml", "--to", "to.toml", "--follow", "--verify"])
        .current_dir(w)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let target = file_config(&w.join("target"));
    // The target exists once the migration opened it; a read-only open then follows it.
    let reaches = |n: u64| {
        let target = target.clone();
        async move || match chronicle::open_read_only(&target).await {
            Ok(store) => store.head().await.unwrap_or(0) == n,
            Err(_) => false,
        }
    };
    served::wait(30, "the first copy", reaches(12)).await;
    let s = StreamId::new("late-1").unwrap();
    for n in 0..5 {
        source.append(&s, ExpectedVersion::Any, vec![NewEvent::json("Late", &serde_json::json!({"n": n})).unwrap()]).await.unwrap();
    }
    let head = source.head().await.unwrap();
    served::wait(30, "the follower to copy the late events", reaches(head)).await;
    let stopped = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!("through position {head}")) && text.contains("verified: 17 positions"),
        "{text}"
    );
}
