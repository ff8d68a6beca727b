//! Crash test for scavenge: a child process scavenges in a loop (rewriting
//! and compressing sealed segments) while appending and acknowledging
//! events; the parent SIGKILLs it at a random moment, many rounds on one
//! store. After every kill the store opens and verifies, every answer about
//! the streams written before is unchanged, and every acknowledged append
//! is there.

mod common;

use chronicle_core::{EventStore, ExpectedVersion, ReadStream, StreamMetadata, Uuid};
use chronicle_file::{FileOptions, FileStore, VerifyOptions, verify_with};
use chronicle_testkit::{event, sid};
use std::time::Duration;

const CHILD_ENV: &str = "CHRONICLE_SCAVENGE_CHILD_DIR";
const ROUNDS: usize = 20;

fn options() -> FileOptions {
    // Sealed segments stay plain until a scavenge rewrites them.
    FileOptions { compress_sealed: false, ..common::options() }
}

/// The child: append and scavenge until killed (run only by its parent,
/// with `--ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of its parent crash test, run with --ignored by it"]
async fn scavenge_child() {
    let dir = std::env::var(CHILD_ENV).expect("run by its parent crash test, which sets the data directory");
    let store = FileStore::open(dir.as_ref(), options()).expect("child open");
    let appender = store.clone();
    tokio::spawn(async move {
        for k in 0u64.. {
            let id = Uuid::now_v7();
            let e = event("Tick", k).with_id(id);
            let r = appender.append(&sid("live"), ExpectedVersion::Any, vec![e]).await.expect("child append");
            println!("ack {id} {}", r.first_version);
            let r = appender.append(&sid("churn"), ExpectedVersion::Any, vec![event("Tick", k)]).await.expect("child append");
            println!("churn {}", r.first_version);
        }
    });
    loop {
        let s = store.clone();
        let report = tokio::task::spawn_blocking(move || s.scavenge(|_, _| {})).await.expect("join").expect("child scavenge");
        println!("scavenged {}", report.rewritten);
    }
}

/// Every answer about the streams `fill` wrote.
async fn fixed_answers(store: &FileStore) -> String {
    let mut out = String::new();
    for n in 0..14 {
        let s = sid(&format!("acct-{n}"));
        out += &format!("{:?}\n{:?}\n", store.stream_info(&s).await.unwrap(), store.read_stream(&s, ReadStream::forward()).await);
        out += &format!("{:?}\n", store.load_snapshot(&s).await.unwrap());
    }
    out + &format!("{:?}\n", store.load_checkpoint("proj").await.unwrap())
}

struct Acks {
    live: Vec<(Uuid, u64)>,
    churn: u64,
    scavenges: usize,
}

fn run_child_and_kill(dir: &std::path::Path, after: Duration) -> Acks {
    let mut acks = Acks { live: Vec::new(), churn: 0, scavenges: 0 };
    for line in chronicle_testkit::crash::run_child_and_kill("scavenge_child", CHILD_ENV, dir, after) {
        match line.split(' ').collect::<Vec<_>>().as_slice() {
            ["ack", id, v] => acks.live.push((id.parse().unwrap(), v.parse().unwrap())),
            ["churn", v] => acks.churn = v.parse().unwrap(),
            ["scavenged", _] => acks.scavenges += 1,
            _ => {}
        }
    }
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_scavenge_loses_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    common::fill_with(dir.path(), options()).await;
    let expected = {
        let store = FileStore::open(dir.path(), options()).unwrap();
        store.set_stream_metadata(&sid("churn"), StreamMetadata { max_count: Some(2), ..Default::default() }).await.unwrap();
        fixed_answers(&store).await
    };
    let mut acked: Vec<(Uuid, u64)> = Vec::new();
    let (mut churn, mut scavenges) = (0, 0);
    let mut seed = u64::from(std::process::id()) | 1;
    for round in 0..ROUNDS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let acks = run_child_and_kill(dir.path(), Duration::from_millis(150 + seed % 450));
        acked.extend(acks.live);
        churn = churn.max(acks.churn);
        scavenges += acks.scavenges;

        let report = verify_with(dir.path(), VerifyOptions::default(), |_, _| {}).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let store = FileStore::open(dir.path(), options()).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(fixed_answers(&store).await, expected, "round {round}: an answer about the old streams changed");
        let live = store.read_stream(&sid("live"), ReadStream::forward()).await.unwrap();
        let found: std::collections::HashMap<Uuid, u64> = live.iter().map(|e| (e.event_id, e.version)).collect();
        for (id, version) in &acked {
            assert_eq!(found.get(id), Some(version), "round {round}: acknowledged event {id} lost ({report:?})");
        }
        let churned = store.read_stream(&sid("churn"), ReadStream::forward()).await.unwrap();
        let last = store.stream_info(&sid("churn")).await.unwrap().last_version;
        assert!(last >= churn && churned.len() <= 2, "round {round}: churn at {last}, {} visible", churned.len());
        assert!(churned.iter().map(|e| e.version).eq(last.saturating_sub(1).max(1)..=last), "round {round}: {churned:?}");
    }
    assert!(scavenges >= ROUNDS, "the child scavenged {scavenges} times in {ROUNDS} rounds");
    let report = verify_with(dir.path(), VerifyOptions::default(), |_, _| {}).unwrap();
    assert!(report.removed > 0 && acked.len() > 100, "{report:?}, {} acknowledged", acked.len());
}
