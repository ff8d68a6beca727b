//! Listing streams: byte order, cursor pages, filters, lifecycle states.

use super::Store;
use crate::{event, sid};
use chronicle_core::{DeleteMode, Error, ExpectedVersion as Ev, ListStreams, StreamMetadata, StreamStatus, StreamSummary};

async fn page(store: &Store, query: ListStreams) -> (Vec<String>, Option<String>) {
    let page = store.list_streams(&query).await.unwrap();
    (page.streams.iter().map(|s| s.stream_id.to_string()).collect(), page.next)
}

fn query(prefix: Option<&str>, category: Option<&str>, after: Option<&str>, limit: Option<usize>) -> ListStreams {
    ListStreams { prefix: prefix.map(Into::into), category: category.map(Into::into), after: after.map(Into::into), limit }
}

/// Streams list by id in byte order, a page at a time with a cursor;
/// prefix and category filter; versions, last positions and times are the
/// last events'; soft-deleted and tombstoned streams keep their status; a
/// stream with only metadata is not listed; bad limits name the field.
pub async fn list_streams_pages_by_id_with_filters_and_states(store: Store) {
    assert_eq!(page(&store, ListStreams::default()).await, (vec![], None), "an empty store lists nothing");
    let mut last = std::collections::HashMap::new();
    for (s, n) in [("acct-2", 1), ("acct-10", 1), ("cart-1", 3), ("acct-1", 2), ("cartx", 1), ("acct-3", 1), ("acct-4", 2)] {
        let events = (0..n).map(|i| event("T", i)).collect();
        last.insert(s, store.append(&sid(s), Ev::Any, events).await.unwrap());
    }
    store.append(&sid("acct-1"), Ev::Exact(2), vec![event("T", 9)]).await.unwrap();
    store.delete_stream(&sid("acct-3"), Ev::Any, DeleteMode::Soft).await.unwrap();
    store.delete_stream(&sid("acct-4"), Ev::Any, DeleteMode::Tombstone).await.unwrap();
    store.set_stream_metadata(&sid("acct-0"), StreamMetadata { max_count: Some(5), ..StreamMetadata::default() }).await.unwrap();

    let first = page(&store, query(None, None, None, Some(3))).await;
    assert_eq!(first, (vec!["acct-1".into(), "acct-10".into(), "acct-2".into()], Some("acct-2".into())), "byte order, cursor");
    let second = page(&store, query(None, None, Some("acct-2"), Some(3))).await;
    assert_eq!(second, (vec!["acct-3".into(), "acct-4".into(), "cart-1".into()], Some("cart-1".into())));
    assert_eq!(page(&store, query(None, None, Some("cart-1"), Some(3))).await, (vec!["cartx".into()], None));
    assert_eq!(page(&store, query(None, None, Some("cartx"), None)).await, (vec![], None));

    let accts = page(&store, query(None, Some("acct"), None, None)).await.0;
    assert_eq!(accts, ["acct-1", "acct-10", "acct-2", "acct-3", "acct-4"], "category is the part before the first '-'");
    assert_eq!(page(&store, query(Some("cart"), None, None, None)).await.0, ["cart-1", "cartx"]);
    assert_eq!(page(&store, query(Some("acct-1"), Some("acct"), Some("acct-1"), None)).await.0, ["acct-10"]);

    let all = store.list_streams(&ListStreams::default()).await.unwrap().streams;
    let get = |id: &str| all.iter().find(|s| s.stream_id.as_str() == id).cloned().expect("listed");
    let acct1: StreamSummary = get("acct-1");
    let events = store.read_stream(&sid("acct-1"), Default::default()).await.unwrap();
    let newest = events.last().unwrap();
    assert_eq!((acct1.version, acct1.last_position, acct1.last_recorded_at), (3, newest.global_position, newest.recorded_at));
    assert_eq!(acct1.status, StreamStatus::Active);
    let cart = get("cart-1");
    assert_eq!((cart.version, cart.last_position), (3, last["cart-1"].last_position));
    let (soft, tomb) = (get("acct-3"), get("acct-4"));
    assert_eq!((soft.status, soft.version, soft.last_position), (StreamStatus::SoftDeleted, 1, last["acct-3"].last_position));
    assert_eq!((tomb.status, tomb.version, tomb.last_position), (StreamStatus::Tombstoned, 2, last["acct-4"].last_position));

    for bad in [0, ListStreams::MAX_LIMIT + 1] {
        let err = store.list_streams(&query(None, None, None, Some(bad))).await.unwrap_err();
        assert!(matches!(&err, Error::Invalid { field, .. } if field == "limit"), "{err:?}");
    }
}
