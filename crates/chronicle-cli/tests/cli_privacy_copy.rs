//! `chronicle migrate` and `chronicle upcast --apply` carry a store's data
//! keys with its events: file (KEK A) → PostgreSQL (KEK B: keys
//! re-wrapped) → file (KEK B), the copies decrypt like the source, a
//! subject forgotten in the source stays erased everywhere, later keys
//! follow on a second run, and a target without `[privacy]` is refused
//! before anything is written.

mod served;

use chronicle::{Config, EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId};
use serde_json::{Value, json};
use served::{BIN, Schema, pg_url};
use std::{path::Path, process::Command, sync::Arc};

const EMAIL: &str = "dora.hidden@example.com";
const FIELDS: &str = "[[privacy.fields]]\nevent_type = \"CustomerRegistered\"\nsubject = \"/customer_id\"\nencrypt = [\"/email\"]\n";

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("CHRONICLE_BACKEND")
        .env_remove("CHRONICLE_KEK")
        .env("CHRONICLE_DATABASE_URL", pg_url())
        .output()
        .unwrap()
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn new_kek(dir: &Path, name: &str) {
    std::fs::write(dir.join(name), chronicle_privacy::Kek::generate().unwrap().0).unwrap();
}

fn file_toml(dir: &Path, name: &str, data: &str, kek: &str) -> Config {
    let text = format!("data_dir = {:?}\n[privacy]\nkek_file = {:?}\n{FIELDS}", dir.join(data), dir.join(kek));
    std::fs::write(dir.join(name), &text).unwrap();
    Config::from_toml(&text).unwrap()
}

fn pg_toml(dir: &Path, name: &str, schema: &str, kek: &str) -> Config {
    let text = format!(
        "backend = \"postgres\"\ndatabase_url = {:?}\n[postgres]\nschema = \"{schema}\"\npool_size = 2\n[privacy]\nkek_file = {:?}\n{FIELDS}",
        pg_url(),
        dir.join(kek)
    );
    std::fs::write(dir.join(name), &text).unwrap();
    Config::from_toml(&text).unwrap()
}

async fn append(store: &Arc<dyn EventStore>, id: &str) {
    let event = NewEvent::json("CustomerRegistered", &json!({"customer_id": id, "email": EMAIL})).unwrap();
    store.append(&StreamId::new(format!("customer-{id}")).unwrap(), ExpectedVersion::Any, vec![event]).await.unwrap();
}

/// The email of each customer stream's first event, as `config`'s store reveals it.
async fn emails(config: &Config, ids: &[&str]) -> Vec<Value> {
    let store = chronicle::open_read_only(config).await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        let events = store.read_stream(&StreamId::new(format!("customer-{id}")).unwrap(), ReadStream::forward()).await.unwrap();
        out.push(events[0].data.to_value().unwrap()["email"].clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_travel_with_the_events() {
    let Some(schema) = Schema::fresh("privacy_copy").await else { return };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    new_kek(dir, "kek-a");
    new_kek(dir, "kek-b");
    let source = file_toml(dir, "source.toml", "source", "kek-a");
    {
        let opened = chronicle::open_with(&source, source.pipeline()).await.unwrap();
        for id in ["c1", "c2", "c3"] {
            append(&opened.store, id).await;
        }
        opened.privacy.as_ref().unwrap().forget(&*opened.raw, "c2", "test").await.unwrap();
    }
    let pg = pg_toml(dir, "pg.toml", &schema.0, "kek-b");
    let report = json_of(&run(dir, &["migrate", "--from", "source.toml", "--to", "pg.toml", "--verify", "--json"]));
    let keys = &report["keys"];
    assert_eq!(
        (keys["keys"].as_u64(), keys["added"].as_u64(), keys["rewrapped"].as_u64(), keys["forgotten"].as_u64()),
        (Some(2), Some(2), Some(2), Some(1)),
        "{report}"
    );
    let erased = json!({"$erased": true});
    let expected = [json!(EMAIL), erased.clone(), json!(EMAIL)];
    assert_eq!(emails(&pg, &["c1", "c2", "c3"]).await, expected, "the PostgreSQL copy reads like the source");

    // A key made in the source later comes along on the next (resumed) run.
    {
        let opened = chronicle::open_with(&source, source.pipeline()).await.unwrap();
        append(&opened.store, "c4").await;
    }
    let again = json_of(&run(dir, &["migrate", "--from", "source.toml", "--to", "pg.toml", "--json"]));
    assert_eq!((again["keys"]["keys"].as_u64(), again["keys"]["added"].as_u64()), (Some(3), Some(1)), "{again}");
    assert_eq!(emails(&pg, &["c4"]).await, [json!(EMAIL)]);

    // PostgreSQL → file under the same KEK: nothing to re-wrap.
    let back = file_toml(dir, "back.toml", "back", "kek-b");
    let report = json_of(&run(dir, &["migrate", "--from", "pg.toml", "--to", "back.toml", "--verify", "--json"]));
    assert_eq!((report["keys"]["added"].as_u64(), report["keys"]["rewrapped"].as_u64()), (Some(3), Some(0)), "{report}");
    assert_eq!(emails(&back, &["c1", "c2", "c3", "c4"]).await, [json!(EMAIL), erased.clone(), json!(EMAIL), json!(EMAIL)]);

    // upcast --apply copies keys the same way.
    let lifted = file_toml(dir, "lifted.toml", "lifted", "kek-a");
    let out = run(dir, &["--config", "back.toml", "upcast", "--apply", "--to", "lifted.toml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("data keys: 3 live (3 added, 3 re-wrapped"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emails(&lifted, &["c1", "c2"]).await, [json!(EMAIL), erased]);

    // A target without [privacy] would read every encrypted field as erased: refused, nothing created.
    std::fs::write(dir.join("bare.toml"), format!("data_dir = {:?}\n", dir.join("bare"))).unwrap();
    let refused = run(dir, &["migrate", "--from", "source.toml", "--to", "bare.toml"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.trim_end().lines().count() == 1 && err.contains("[privacy]"), "{err}");
    assert!(!dir.join("bare").exists(), "the refused target was not created");
}
