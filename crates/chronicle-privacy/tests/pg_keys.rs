//! The PostgreSQL key store: no table holds a marked plaintext, two nodes
//! agree on a subject's key, a forget on one node erases on the other
//! (through `$privacy`), and a KEK rotation re-wraps every row.
#![cfg(feature = "postgres")]

use chronicle_core::{EventStore, ExpectedVersion, ReadStream, StreamId};
use chronicle_postgres::{PgOptions, PgStore};
use chronicle_privacy::{Clearance, FieldRule, Kek, Keyring, PgKeys, Policy, Privacy, StaticKeys};
use chronicle_testkit::privacy::{SECRETS, registered};
use serde_json::json;
use std::{sync::Arc, time::Duration};

fn url() -> String {
    std::env::var("CHRONICLE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn privacy(kek: Kek, previous: Vec<Kek>) -> Privacy {
    let rule = FieldRule::new("CustomerRegistered", "/customer_id").encrypt(["/email", "/address"]).encrypt_metadata(["/ip"]);
    Privacy::new(Policy::new(vec![rule]).unwrap(), Keyring::new(Arc::new(StaticKeys::new(kek, previous))))
}

/// A node: a store on `schema` with `privacy`'s sealer, keys in its tables.
async fn node(schema: Option<&str>, privacy: &Privacy) -> Option<PgStore> {
    let pipeline = chronicle_core::AppendPipeline::default().with_sealer(privacy.sealer());
    let store = match schema {
        None => chronicle_testkit::service_or_skip("PostgreSQL", PgStore::connect_temporary(&url(), pipeline).await)?,
        Some(s) => PgStore::connect(PgOptions { url: url(), schema: s.to_owned(), pool_size: 4, pipeline }).await.unwrap(),
    };
    privacy.attach(Arc::new(PgKeys(store.key_rows()))).await.unwrap();
    Some(store)
}

async fn table_text(schema: &str, table: &str) -> String {
    let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let row = client.query_one(&format!("SELECT coalesce(string_agg(t::text, '|'), '') FROM {schema}.{table} t"), &[]).await.unwrap();
    row.get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_keys_and_forgets() {
    let (text, kek_a) = Kek::generate().unwrap();
    let a = privacy(kek_a, vec![]);
    let Some(store_a) = node(None, &a).await else { return };
    let schema = store_a.schema().to_owned();
    let b = Arc::new(privacy(Kek::parse(&text).unwrap(), vec![]));
    let store_b = node(Some(&schema), &b).await.unwrap();
    let s = StreamId::new("customer-c1").unwrap();
    store_a.append(&s, ExpectedVersion::Any, vec![registered("c1")]).await.unwrap();
    store_b.append(&s, ExpectedVersion::Any, vec![registered("c1")]).await.unwrap();
    for table in ["events", "snapshots", "privacy_keys"] {
        let text = table_text(&schema, table).await;
        assert!(!SECRETS.iter().any(|s| text.contains(s)), "{table} holds plaintext");
    }
    assert_eq!(a.status().await.unwrap().counts.keys, 1, "both nodes used one key for c1");

    let raw_b: Arc<dyn EventStore> = Arc::new(store_b.clone());
    let reader_b = b.reader(raw_b.clone(), Clearance::Clear, "b");
    let before = reader_b.read_stream(&s, ReadStream::forward()).await.unwrap();
    assert_eq!(before[0].data.to_value().unwrap()["email"], SECRETS[0], "b cached c1's key");
    tokio::spawn(b.clone().follow(raw_b));
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.forget(&store_a, "c1", "admin").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let read = reader_b.read_stream(&s, ReadStream::forward()).await.unwrap();
        if read.iter().all(|e| e.data.to_value().unwrap()["email"] == json!({"$erased": true})) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "node b still decrypts a forgotten subject");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kek_rotation_rewraps_every_row() {
    let (old_text, old) = Kek::generate().unwrap();
    let a = privacy(old, vec![]);
    let Some(store) = node(None, &a).await else { return };
    for i in 0..30 {
        store
            .append(&StreamId::new(format!("customer-r{i}")).unwrap(), ExpectedVersion::Any, vec![registered(&format!("r{i}"))])
            .await
            .unwrap();
    }
    let (new_text, new) = Kek::generate().unwrap();
    let rotated = privacy(new, vec![Kek::parse(&old_text).unwrap()]);
    let store2 = node(Some(store.schema()), &rotated).await.unwrap();
    assert_eq!(rotated.rotate_kek(&store2, "test", &mut |_| {}).await.unwrap(), 30);
    assert_eq!(rotated.rotate_kek(&store2, "test", &mut |_| {}).await.unwrap(), 0, "a rerun has nothing left");
    let only_new = privacy(Kek::parse(&new_text).unwrap(), vec![]);
    let store3 = node(Some(store.schema()), &only_new).await.unwrap();
    let reader = only_new.reader(Arc::new(store3), Clearance::Clear, "t");
    let e = reader.read_stream(&StreamId::new("customer-r7").unwrap(), ReadStream::forward()).await.unwrap();
    assert_eq!(e[0].data.to_value().unwrap()["email"], SECRETS[0]);
    let wrong = privacy(Kek::parse(&old_text).unwrap(), vec![]);
    let pipeline = chronicle_core::AppendPipeline::default();
    let s4 = PgStore::connect(PgOptions { url: url(), schema: store.schema().to_owned(), pool_size: 2, pipeline }).await.unwrap();
    let err = wrong.attach(Arc::new(PgKeys(s4.key_rows()))).await.unwrap_err();
    assert!(matches!(err, chronicle_privacy::PrivacyError::WrongKek { .. }), "{err}");
}
