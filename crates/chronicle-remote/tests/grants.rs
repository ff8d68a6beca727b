//! Grants through the remote backend: a client whose token may read and
//! append only `order-*` gets `Error::Forbidden` (naming the action and
//! the stream) for anything else, and never sees another stream's events
//! in the global log, look-ups, correlations, listings or subscriptions;
//! a writer may not forge a system stream.

mod common;

use chronicle_core::{Error, EventStore, ExpectedVersion, Filter, ListStreams, NewEvent, ReadAll, ReadStream, StreamId, SubscribeFrom};
use chronicle_memory::MemoryStore;
use chronicle_server::auth::{Role, TokenEntry};
use std::{sync::Arc, time::Duration};

fn s(id: &str) -> StreamId {
    StreamId::new(id).unwrap()
}

fn event() -> NewEvent {
    NewEvent::raw("Made", &br#"{"n":1}"#[..]).with_metadata_raw(&br#"{"correlation_id":"c-1"}"#[..])
}

/// The server's store and a client per token: `orders` (writer, `order-*`
/// read and append) and `writer` (no grants).
async fn clients() -> (Arc<MemoryStore>, chronicle_remote::RemoteStore, chronicle_remote::RemoteStore) {
    let store = Arc::new(MemoryStore::new());
    let (orders, mut orders_entry) = TokenEntry::generate("orders", Role::Writer).unwrap();
    orders_entry.grants = vec!["order-*=read,append".parse().unwrap()];
    let (writer, writer_entry) = TokenEntry::generate("writer", Role::Writer).unwrap();
    let entries = [orders_entry, writer_entry];
    let a = common::served_with_tokens(store.clone(), &entries, &orders).await;
    let b = common::served_with_tokens(store.clone(), &entries, &writer).await;
    (store, a, b)
}

fn forbidden(err: Error, action: &str, stream: &str) {
    assert!(matches!(&err, Error::Forbidden { action: a, stream: s, token } if a == action && s == stream && token == "orders"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrow_token_sees_and_changes_only_its_streams() {
    let (store, orders, writer) = clients().await;
    for id in ["order-1", "payment-1", "$projections"] {
        store.append(&s(id), ExpectedVersion::Any, vec![event()]).await.unwrap();
    }
    orders.append(&s("order-2"), ExpectedVersion::Any, vec![event()]).await.unwrap();
    forbidden(orders.append(&s("payment-2"), ExpectedVersion::Any, vec![event()]).await.unwrap_err(), "append", "payment-2");
    forbidden(orders.read_stream(&s("payment-1"), ReadStream::forward()).await.unwrap_err(), "read", "payment-1");
    let forged = writer.append(&s("$projections"), ExpectedVersion::Any, vec![event()]).await.unwrap_err();
    assert!(matches!(&forged, Error::Forbidden { stream, .. } if stream == "$projections"), "{forged:?}");
    assert_eq!(store.head().await.unwrap(), 4, "nothing refused was stored");

    let page = orders.read_all(&ReadAll::forward()).await.unwrap();
    let ids: Vec<&str> = page.events.iter().map(|e| e.stream_id.as_str()).collect();
    assert_eq!(ids, ["order-1", "order-2"]);
    let corr = orders.read_by_correlation("c-1").await.unwrap();
    assert!(corr.iter().all(|e| e.stream_id.as_str().starts_with("order-")) && corr.len() == 2);
    let listed = orders.list_streams(&ListStreams::default()).await.unwrap();
    assert_eq!(listed.streams.iter().map(|x| x.stream_id.as_str()).collect::<Vec<_>>(), ["order-1", "order-2"]);
    let payment = store.read_stream(&s("payment-1"), ReadStream::forward()).await.unwrap().remove(0);
    assert_eq!(orders.get_event(payment.event_id).await.unwrap(), None, "a hidden event does not exist");
    let writer_page = writer.read_all(&ReadAll::forward()).await.unwrap();
    assert!(writer_page.events.iter().all(|e| !e.stream_id.as_str().starts_with('$')), "no grant names $projections");

    let mut sub = orders.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::from_millis(700), sub.next()).await {
        seen.push(e.stream_id.to_string());
    }
    assert_eq!(seen, ["order-1", "order-2"], "the subscription skips what the token may not read");
}

/// Two tenants' clients on one server: the same names and ids, each its
/// own; nothing of the other in any read, look-up, listing, subscription,
/// `head`, cursor or error; a tenant's client is refused what spans tenants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_through_the_remote_backend() {
    let store = Arc::new(MemoryStore::new());
    let mut entries = Vec::new();
    let mut secrets = Vec::new();
    for tenant in ["acme", "globex"] {
        let (secret, mut entry) = TokenEntry::generate(tenant, Role::Writer).unwrap();
        entry.tenant = Some(tenant.to_owned());
        entries.push(entry);
        secrets.push(secret);
    }
    let acme = common::served_with_tokens(store.clone(), &entries, &secrets[0]).await;
    let globex = common::served_with_tokens(store.clone(), &entries, &secrets[1]).await;
    let id = chronicle_core::Uuid::now_v7();
    for client in [&acme, &globex] {
        client.append(&s("order-1"), ExpectedVersion::NoStream, vec![event().with_id(id)]).await.unwrap();
    }
    acme.append(&s("order-2"), ExpectedVersion::Any, vec![event()]).await.unwrap();
    let stored: Vec<String> = store.read_all(&ReadAll::forward()).await.unwrap().events.iter().map(|e| e.stream_id.to_string()).collect();
    assert_eq!(stored, ["@acme/order-1", "@globex/order-1", "@acme/order-2"]);

    let page = globex.read_all(&ReadAll::forward().limit(1)).await.unwrap();
    assert_eq!((page.events.len(), page.events[0].event_id, page.head), (1, id, 2), "{page:?}");
    assert!(page.next.is_none_or(|n| n == 3), "the cursor follows globex's own event: {page:?}");
    let acme_page = acme.read_all(&ReadAll::forward().limit(1)).await.unwrap();
    assert_eq!((acme_page.next, acme_page.head), (Some(2), 3), "acme's cursor and head are its own");
    assert_eq!(globex.get_event(id).await.unwrap().unwrap().global_position, 2);
    assert_eq!(globex.read_by_correlation("c-1").await.unwrap().len(), 1);
    let listed = globex.list_streams(&ListStreams::default()).await.unwrap();
    assert_eq!(listed.streams.iter().map(|x| x.stream_id.as_str()).collect::<Vec<_>>(), ["order-1"]);
    assert_eq!(globex.head().await.unwrap(), 2);
    let err = globex.append(&s("order-1"), ExpectedVersion::NoStream, vec![event()]).await.unwrap_err();
    assert!(matches!(&err, Error::WrongExpectedVersion { stream, actual: Some(1), .. } if stream.as_str() == "order-1"), "{err:?}");
    let export = globex.export_log(chronicle_core::ExportRange { after: 0, through: 3 }).await.map(|_| ());
    assert!(export.is_err_and(|e| e.to_string().contains("needs the admin role")), "export spans tenants");

    let mut sub = globex.subscribe(SubscribeFrom::Start, Filter::default()).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::from_millis(700), sub.next()).await {
        seen.push((e.stream_id.to_string(), e.event_id));
    }
    assert_eq!(seen, [("order-1".to_owned(), id)], "the subscription is the tenant's");
}
