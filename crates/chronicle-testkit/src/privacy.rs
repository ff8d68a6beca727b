//! Conformance of field-level encryption (`chronicle-privacy`'s sealer in
//! the pipeline) on every backend: what the backend stores and exports
//! holds no marked plaintext, a cleared reader sees it, anyone else sees
//! `"***"`, and after a forget every reader sees `{"$erased": true}` with
//! everything else unchanged. Run with the factory of
//! [`hooks_conformance!`](crate::hooks_conformance):
//!
//! ```ignore
//! chronicle_testkit::privacy_conformance!(|pipeline| async move { Some(MemoryStore::with_pipeline(pipeline)) });
//! ```

use chronicle_core::{
    AppendPipeline, EventStore, ExpectedVersion, ExportRange, NewEvent, ReadAll, ReadStream, RecordedEvent, Snapshot, StreamId,
};
use chronicle_privacy::{Clearance, FieldRule, Kek, Keyring, MemoryKeys, Policy, Privacy, StaticKeys};
use serde_json::{Value, json};
use std::sync::Arc;

/// Plaintext values that must never be stored.
pub const SECRETS: [&str; 3] = ["ann.privacy@example.com", "Secretstreet 42", "203.0.113.77"];

/// A pipeline sealing `CustomerRegistered` (subject `/customer_id`;
/// `/email`, `/address` and metadata `/ip`), and its privacy layer with
/// keys in memory.
pub async fn setup() -> (AppendPipeline, Arc<Privacy>) {
    let rule = FieldRule::new("CustomerRegistered", "/customer_id").encrypt(["/email", "/address"]).encrypt_metadata(["/ip"]);
    let (_, kek) = Kek::generate().expect("a KEK");
    let privacy = Privacy::new(Policy::new(vec![rule]).expect("a policy"), Keyring::new(Arc::new(StaticKeys::new(kek, vec![]))));
    privacy.attach(Arc::new(MemoryKeys::default())).await.expect("attach");
    (AppendPipeline::default().with_sealer(privacy.sealer()), Arc::new(privacy))
}

/// A `CustomerRegistered` of customer `id`.
pub fn registered(id: &str) -> NewEvent {
    let data = json!({"customer_id": id, "email": SECRETS[0], "address": {"street": SECRETS[1]}, "plan": "gold"});
    NewEvent::json("CustomerRegistered", &data)
        .expect("JSON")
        .with_metadata(&json!({"ip": SECRETS[2], "correlation_id": format!("corr-{id}")}))
        .expect("JSON")
}

fn stream(id: &str) -> StreamId {
    StreamId::new(format!("customer-{id}")).expect("a stream id")
}

async fn seed(store: &dyn EventStore) {
    store.append(&stream("c1"), ExpectedVersion::Any, vec![registered("c1"), registered("c1")]).await.expect("append c1");
    store.append(&stream("c2"), ExpectedVersion::Any, vec![registered("c2")]).await.expect("append c2");
    let other = NewEvent::json("Unrelated", &json!({"email": "public@example.com"})).expect("JSON");
    store.append(&StreamId::new("misc-1").expect("id"), ExpectedVersion::Any, vec![other]).await.expect("append misc");
}

fn holds_secret(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    SECRETS.iter().any(|s| text.contains(s))
}

fn data(e: &RecordedEvent) -> Value {
    e.data.to_value().expect("JSON data")
}

fn meta(e: &RecordedEvent) -> Value {
    e.metadata.to_value().expect("JSON metadata")
}

/// What the backend stores, reads and exports holds no marked plaintext;
/// indexed metadata stays readable.
pub async fn stored_form_holds_no_plaintext(store: Arc<dyn EventStore>) {
    seed(&*store).await;
    let all = store.read_all(&ReadAll::forward()).await.expect("read").events;
    assert_eq!(all.len(), 4);
    for e in &all[..3] {
        assert!(!holds_secret(e.data.as_bytes()) && !holds_secret(e.metadata.as_bytes()), "stored plaintext in {e:?}");
        assert_eq!(meta(e)["$encrypted"], json!(["/data/email", "/data/address", "/metadata/ip"]));
        assert_eq!(data(e)["plan"], "gold", "unmarked fields stay as they were");
        assert_eq!(data(e)["email"]["$enc"], "v1");
    }
    assert_eq!(data(&all[3])["email"], "public@example.com", "other event types are not touched");
    assert_eq!(store.read_by_correlation("corr-c2").await.expect("by correlation").len(), 1, "indexed metadata stays plain");
    let mut exported = Vec::new();
    let head = store.head().await.expect("head");
    let mut reader = store.export_log(ExportRange { after: 0, through: head }).await.expect("export");
    while let Some(item) = reader.next().await {
        item.expect("item").write_json_line(&mut exported);
    }
    assert!(!holds_secret(&exported), "an export (a backup) holds no plaintext");
}

/// Cleared readers see plaintext on every read path, others `"***"`;
/// after a forget both see `{"$erased": true}` and nothing else changed;
/// a new event of the forgotten subject gets a new key.
pub async fn reveal_mask_and_forget(store: Arc<dyn EventStore>, privacy: Arc<Privacy>) {
    seed(&*store).await;
    let clear = privacy.reader(store.clone(), Clearance::Clear, "auditor");
    let masked = privacy.reader(store.clone(), Clearance::Masked, "guest");
    let read = clear.read_stream(&stream("c1"), ReadStream::forward()).await.expect("read");
    assert_eq!((data(&read[0])["email"].as_str(), data(&read[0])["address"]["street"].as_str()), (Some(SECRETS[0]), Some(SECRETS[1])));
    assert_eq!(meta(&read[0])["ip"], SECRETS[2]);
    let seen = masked.read_stream(&stream("c1"), ReadStream::forward()).await.expect("read");
    assert_eq!(
        (data(&seen[0])["email"].as_str(), data(&seen[0])["address"].as_str(), meta(&seen[0])["ip"].as_str()),
        (Some("***"), Some("***"), Some("***"))
    );
    let by_id = clear.get_event(read[1].event_id).await.expect("get").expect("found");
    assert_eq!(data(&by_id)["email"], SECRETS[0]);
    assert_eq!(data(&clear.read_by_correlation("corr-c2").await.expect("corr")[0])["email"], SECRETS[0]);
    let before = store.read_all(&ReadAll::forward()).await.expect("read").events;

    let forgotten = privacy.forget(&*store, "c1", "admin").await.expect("forget");
    assert!(forgotten.keys_destroyed >= 1);
    let erased = json!({"$erased": true});
    for reader in [&clear, &masked] {
        let page = reader.read_all(&ReadAll::forward()).await.expect("read").events;
        for e in page.iter().filter(|e| e.stream_id == stream("c1")) {
            assert_eq!((&data(e)["email"], &data(e)["address"], &meta(e)["ip"]), (&erased, &erased, &erased));
            assert_eq!(data(e)["plan"], "gold");
        }
    }
    let c2 = clear.read_stream(&stream("c2"), ReadStream::forward()).await.expect("read");
    assert_eq!(data(&c2[0])["email"], SECRETS[0], "another subject is untouched");
    let after = store.read_all(&ReadAll::forward()).await.expect("read").events;
    let shape = |es: &[RecordedEvent]| {
        es.iter()
            .filter(|e| !e.stream_id.as_str().starts_with('$'))
            .map(|e| (e.global_position, e.stream_id.clone(), e.version, e.event_id, e.data.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&after), shape(&before), "forget changes no event, position or version");
    let facts =
        store.read_stream(&StreamId::new(chronicle_privacy::PRIVACY_STREAM).expect("id"), ReadStream::forward()).await.expect("facts");
    assert!(facts.iter().any(|e| &*e.event_type == chronicle_privacy::SUBJECT_FORGOTTEN && data(e)["subject"] == "c1"));

    store.append(&stream("c1"), ExpectedVersion::Any, vec![registered("c1")]).await.expect("a new event of c1");
    let read = clear.read_stream(&stream("c1"), ReadStream::forward()).await.expect("read");
    assert_eq!((&data(&read[0])["email"], &data(&read[2])["email"]), (&erased, &json!(SECRETS[0])), "new events get a new key");
}

async fn next(sub: &mut chronicle_core::Subscription) -> RecordedEvent {
    tokio::time::timeout(std::time::Duration::from_secs(10), sub.next()).await.expect("in time").expect("open").expect("an event")
}

/// Subscriptions reveal like reads.
pub async fn subscriptions_reveal(store: Arc<dyn EventStore>, privacy: Arc<Privacy>) {
    let clear = privacy.reader(store.clone(), Clearance::Clear, "auditor");
    let masked = privacy.reader(store.clone(), Clearance::Masked, "guest");
    let filter = chronicle_core::Filter::default();
    let mut sub_clear = clear.subscribe(chronicle_core::SubscribeFrom::Start, filter.clone()).await.expect("subscribe");
    let mut sub_masked = masked.subscribe(chronicle_core::SubscribeFrom::Start, filter).await.expect("subscribe");
    store.append(&stream("c3"), ExpectedVersion::Any, vec![registered("c3")]).await.expect("append");
    assert_eq!(data(&next(&mut sub_clear).await)["email"], SECRETS[0]);
    assert_eq!(data(&next(&mut sub_masked).await)["email"], "***");
}

/// Snapshots of a stream with encrypted events are stored sealed under
/// the subject's key: readable by the cleared, erased by a forget.
pub async fn snapshots_are_sealed(store: Arc<dyn EventStore>, privacy: Arc<Privacy>) {
    store.append(&stream("c4"), ExpectedVersion::Any, vec![registered("c4")]).await.expect("append");
    let clear = privacy.reader(store.clone(), Clearance::Clear, "repository");
    let state = chronicle_core::RawJson::from_serialize(&json!({"email": SECRETS[0], "orders": 3})).expect("JSON");
    clear.save_snapshot(Snapshot { stream_id: stream("c4"), version: 1, schema_version: 1, state: state.clone() }).await.expect("save");
    let stored = store.load_snapshot(&stream("c4")).await.expect("load").expect("a snapshot");
    assert!(!holds_secret(stored.state.as_bytes()), "the stored snapshot is sealed");
    assert_eq!(clear.load_snapshot(&stream("c4")).await.expect("load").expect("a snapshot").state, state);
    privacy.forget(&*store, "c4", "admin").await.expect("forget");
    let gone = clear.load_snapshot(&stream("c4")).await.expect("load").expect("a snapshot");
    assert_eq!(gone.state.to_value().expect("JSON"), json!({"$erased": true}));
}

/// One test per case, over `factory(pipeline)` (see the module docs).
#[macro_export]
macro_rules! privacy_conformance {
    ($factory:expr) => {
        $crate::privacy_conformance!(@case $factory; privacy_stored_form_holds_no_plaintext, |store, _p| $crate::privacy::stored_form_holds_no_plaintext(store));
        $crate::privacy_conformance!(@case $factory; privacy_reveal_mask_and_forget, $crate::privacy::reveal_mask_and_forget);
        $crate::privacy_conformance!(@case $factory; privacy_subscriptions_reveal, $crate::privacy::subscriptions_reveal);
        $crate::privacy_conformance!(@case $factory; privacy_snapshots_are_sealed, $crate::privacy::snapshots_are_sealed);
    };
    (@case $factory:expr; $name:ident, $case:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (pipeline, privacy) = $crate::privacy::setup().await;
            let f = $factory;
            let Some(store) = f(pipeline).await else { return };
            let store: ::std::sync::Arc<dyn chronicle_core::EventStore> = ::std::sync::Arc::new(store);
            privacy.reconcile(&*store).await.expect("reconcile");
            ($case)(store, privacy).await;
        }
    };
}
