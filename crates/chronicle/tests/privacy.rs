//! `[privacy]` through the façade on the file backend: no file of the
//! store holds a marked plaintext (segments uncompressed, index files
//! included), a wrong KEK is refused before anything is touched, a backup
//! taken before a forget and restored after it still shows the subject
//! erased, and a KEK rotation under concurrent appends loses nothing.

use chronicle::{Config, ConfigError, EventStore, ExpectedVersion, NewEvent, ReadAll, ReadStream, StreamId, open_with};
use chronicle_privacy::{Kek, PrivacyError};
use serde_json::{Value, json};
use std::{path::Path, sync::Arc};

const EMAIL: &str = "bob.secret@example.org";

fn kek_file(dir: &Path, name: &str) -> std::path::PathBuf {
    let (text, _) = Kek::generate().unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn config(data: &Path, kek: &Path, previous: &[&Path]) -> Config {
    let previous: Vec<String> = previous.iter().map(|p| format!("{:?}", p.display().to_string())).collect();
    let text = format!(
        r#"
data_dir = {data:?}
[file]
compress_sealed = false
segment_size_bytes = 4096
[privacy]
kek_file = {kek:?}
previous_kek_files = [{previous}]
[[privacy.fields]]
event_type = "CustomerRegistered"
subject = "/customer_id"
encrypt = ["/email"]
"#,
        data = data.display().to_string(),
        kek = kek.display().to_string(),
        previous = previous.join(", ")
    );
    Config::from_toml(&text).unwrap()
}

fn registered(id: &str) -> NewEvent {
    NewEvent::json("CustomerRegistered", &json!({"customer_id": id, "email": EMAIL, "pad": "x".repeat(200)})).unwrap()
}

fn email(e: &chronicle::RecordedEvent) -> Value {
    e.data.to_value().unwrap()["email"].clone()
}

/// Every file under `dir` except the key store.
fn files(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
}

async fn append_customers(store: &Arc<dyn EventStore>, ids: std::ops::Range<u32>) {
    for i in ids {
        store
            .append(&StreamId::new(format!("customer-c{i}")).unwrap(), ExpectedVersion::Any, vec![registered(&format!("c{i}"))])
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_holds_plaintext_and_a_wrong_kek_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, kek) = (dir.path().join("data"), kek_file(dir.path(), "kek"));
    {
        let opened = open_with(&config(&data, &kek, &[]), chronicle::Config::default().pipeline()).await.unwrap();
        append_customers(&opened.store, 0..60).await;
        let read = opened.store.read_stream(&StreamId::new("customer-c7").unwrap(), ReadStream::forward()).await.unwrap();
        assert_eq!(email(&read[0]), EMAIL, "this process holds the KEK: reads decrypt");
    }
    let mut all = Vec::new();
    files(&data, &mut all);
    assert!(all.iter().any(|(p, _)| p.extension().is_some_and(|e| e == "idx")), "sealed segments have index files: {all:?}");
    for (path, bytes) in &all {
        assert!(!String::from_utf8_lossy(bytes).contains(EMAIL), "{} holds a plaintext value", path.display());
    }
    let wrong = kek_file(dir.path(), "other");
    let err = open_with(&config(&data, &wrong, &[]), Config::default().pipeline()).await.unwrap_err();
    assert!(matches!(err, ConfigError::Privacy(PrivacyError::WrongKek { .. })), "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    let mut after = Vec::new();
    files(&data, &mut after);
    assert_eq!(after, all, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restored_after_a_forget_keeps_the_subject_erased() {
    let dir = tempfile::tempdir().unwrap();
    let (data, kek, backup) = (dir.path().join("data"), kek_file(dir.path(), "kek"), dir.path().join("backup"));
    let opened = open_with(&config(&data, &kek, &[]), Config::default().pipeline()).await.unwrap();
    append_customers(&opened.store, 0..3).await;
    chronicle_backup::backup(opened.store.clone(), &backup, Default::default(), Box::new(|_, _| {})).await.unwrap();
    opened.privacy.as_ref().unwrap().forget(&*opened.raw, "c1", "test").await.unwrap();
    drop(opened);
    // The log is lost; the key store (kept apart from the log) survives.
    let restored_dir = dir.path().join("restored");
    std::fs::create_dir_all(restored_dir.join("keys")).unwrap();
    std::fs::copy(data.join("keys/keys.log"), restored_dir.join("keys/keys.log")).unwrap();
    let opened = open_with(&config(&restored_dir, &kek, &[]), Config::default().pipeline()).await.unwrap();
    chronicle_backup::restore(&backup, opened.store.clone(), Default::default(), Box::new(|_, _| {})).await.unwrap();
    let (_, recorded) = opened.privacy.as_ref().unwrap().reconcile(&*opened.raw).await.unwrap();
    assert_eq!(recorded, 1, "the forget made after the backup is recorded again");
    let events = opened.store.read_all(&ReadAll::forward()).await.unwrap().events;
    let by_stream = |s: &str| events.iter().find(|e| e.stream_id.as_str() == s).map(email).unwrap();
    assert_eq!(by_stream("customer-c1"), json!({"$erased": true}));
    assert_eq!((by_stream("customer-c0"), by_stream("customer-c2")), (json!(EMAIL), json!(EMAIL)));
    let facts = opened.raw.read_stream(&StreamId::new("$privacy").unwrap(), ReadStream::forward()).await.unwrap();
    assert_eq!(facts.len(), 1);
    drop(opened);
    let report = chronicle::verify(&restored_dir, |_, _| {}).expect("verify passes after a forget and a restore");
    assert_eq!(report.events, 4, "3 customers and the fact: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kek_rotation_under_concurrent_appends_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, old, new) = (dir.path().join("data"), kek_file(dir.path(), "old"), kek_file(dir.path(), "new"));
    {
        let opened = open_with(&config(&data, &old, &[]), Config::default().pipeline()).await.unwrap();
        append_customers(&opened.store, 0..200).await;
    }
    {
        let opened = open_with(&config(&data, &new, &[&old]), Config::default().pipeline()).await.unwrap();
        let store = opened.store.clone();
        let writers = tokio::spawn(async move {
            // New subjects (keys made under the new KEK) and old ones, while the rotation runs.
            append_customers(&store, 150..400).await;
        });
        let privacy = opened.privacy.clone().unwrap();
        let rewrapped = privacy.rotate_kek(&*opened.raw, "test", &mut |_| {}).await.unwrap();
        writers.await.unwrap();
        assert_eq!(rewrapped, 200, "every old key, once");
        let status = privacy.status().await.unwrap();
        assert_eq!(status.counts.by_kek.keys().collect::<Vec<_>>(), [&status.kek_id], "all under the new KEK");
    }
    let opened = open_with(&config(&data, &new, &[]), Config::default().pipeline()).await.unwrap();
    let events = opened.store.read_all(&ReadAll::forward().limit(10_000)).await.unwrap().events;
    let customers: Vec<_> = events.iter().filter(|e| e.stream_id.as_str().starts_with("customer-")).collect();
    assert_eq!(customers.len(), 450);
    assert!(customers.iter().all(|e| email(e) == EMAIL), "every event opens with the new KEK alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_kek_is_refused_even_when_every_subject_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let (data, kek) = (dir.path().join("data"), kek_file(dir.path(), "kek"));
    {
        let opened = open_with(&config(&data, &kek, &[]), Config::default().pipeline()).await.unwrap();
        append_customers(&opened.store, 0..2).await;
        let privacy = opened.privacy.clone().unwrap();
        for id in ["c0", "c1"] {
            privacy.forget(&*opened.raw, id, "test").await.unwrap();
        }
        let status = privacy.status().await.unwrap();
        assert_eq!((status.counts.subjects, status.counts.keys, status.counts.forgotten), (0, 0, 2), "the check key is not counted");
        let reserved = privacy.forget(&*opened.raw, chronicle_privacy::KEK_CHECK_SUBJECT, "test").await.unwrap_err();
        assert!(matches!(reserved, PrivacyError::Invalid { .. }), "{reserved}");
    }
    let wrong = kek_file(dir.path(), "other");
    let err = open_with(&config(&data, &wrong, &[]), Config::default().pipeline()).await.unwrap_err();
    assert!(matches!(err, ConfigError::Privacy(PrivacyError::WrongKek { .. })), "no live subject key, still refused: {err}");
    open_with(&config(&data, &kek, &[]), Config::default().pipeline()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_are_made_by_the_store_only() {
    let dir = tempfile::tempdir().unwrap();
    let (data, kek) = (dir.path().join("data"), kek_file(dir.path(), "kek"));
    let opened = open_with(&config(&data, &kek, &[]), Config::default().pipeline()).await.unwrap();
    append_customers(&opened.store, 0..1).await;
    let stream = StreamId::new("customer-c0").unwrap();
    let sealed = opened.raw.read_stream(&stream, ReadStream::forward()).await.unwrap();
    let envelope = sealed[0].data.to_value().unwrap()["email"].clone();
    assert_eq!(envelope["$enc"], "v1");
    for (data, metadata) in
        [(json!({"note": envelope}), json!({})), (json!({"deep": [{"$enc": "v9"}]}), json!({})), (json!({}), json!({"copied": envelope}))]
    {
        let event = NewEvent::json("Note", &data).unwrap().with_metadata(&metadata).unwrap();
        let refused = opened.store.append(&StreamId::new("notes-1").unwrap(), ExpectedVersion::Any, vec![event]).await.unwrap_err();
        assert!(matches!(&refused, chronicle::Error::Invalid { field, .. } if field.starts_with("events[0].")), "{refused}");
    }
    // A `$encrypted` list sent by a client is dropped; a revealed event appended again is sealed anew.
    let listed = NewEvent::json("Note", &json!({"a": 1})).unwrap().with_metadata(&json!({"$encrypted": ["/data/a"], "k": 2})).unwrap();
    opened.store.append(&StreamId::new("notes-2").unwrap(), ExpectedVersion::NoStream, vec![listed]).await.unwrap();
    let stored = opened.raw.read_stream(&StreamId::new("notes-2").unwrap(), ReadStream::forward()).await.unwrap();
    assert_eq!(stored[0].metadata.to_value().unwrap(), json!({"k": 2}));
    let revealed = opened.store.read_stream(&stream, ReadStream::forward()).await.unwrap();
    let again = NewEvent::raw("CustomerRegistered", revealed[0].data.as_bytes().to_vec())
        .with_metadata_raw(revealed[0].metadata.as_bytes().to_vec());
    opened.store.append(&stream, ExpectedVersion::Exact(1), vec![again]).await.unwrap();
    let both = opened.store.read_stream(&stream, ReadStream::forward()).await.unwrap();
    assert!(both.iter().all(|e| email(e) == EMAIL), "re-appended plaintext is sealed again and reads back");
    let raw = opened.raw.read_stream(&stream, ReadStream::forward()).await.unwrap();
    assert!(!String::from_utf8_lossy(raw[1].data.as_bytes()).contains(EMAIL));
}
