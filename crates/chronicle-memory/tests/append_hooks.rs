//! The append pipeline's hook point: enrich, reject, observe.

use chronicle_core::{
    AppendHook, AppendPipeline, Error, EventStore, ExpectedVersion, Limits, NewEvent, PreparedAppend, RawJson, ReadStream, RecordedEvent,
    Result, StreamId,
};
use chronicle_memory::MemoryStore;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Stamp {
    seen: Mutex<Vec<u64>>,
}

impl AppendHook for Stamp {
    fn before_store(&self, append: &mut PreparedAppend) -> Result<()> {
        for part in &mut append.streams {
            if part.stream.as_str().starts_with("forbidden") {
                return Err(Error::invalid("stream_id", "rejected by policy hook"));
            }
            for e in &mut part.events {
                e.set_metadata(RawJson::parse(&br#"{"tenant":"acme"}"#[..]).expect("valid"))?;
            }
        }
        Ok(())
    }

    fn after_store(&self, events: &[RecordedEvent]) {
        self.seen.lock().expect("lock").extend(events.iter().map(|e| e.global_position));
    }
}

#[tokio::test]
async fn hooks_enrich_reject_and_observe() {
    let hook = Arc::new(Stamp::default());
    let store = MemoryStore::with_pipeline(AppendPipeline::new(Limits::default()).with_hook(hook.clone()));
    let s = StreamId::new("ok-1").unwrap();
    store.append(&s, ExpectedVersion::Any, vec![NewEvent::raw("T", &b"1"[..]), NewEvent::raw("T", &b"2"[..])]).await.unwrap();
    let events = store.read_stream(&s, ReadStream::forward()).await.unwrap();
    assert_eq!(events[0].well_known_metadata().unwrap().tenant.as_deref(), Some("acme"));
    let err = store.append(&StreamId::new("forbidden-1").unwrap(), ExpectedVersion::Any, vec![NewEvent::raw("T", &b"3"[..])]).await;
    assert!(matches!(err, Err(Error::Invalid { .. })), "{err:?}");
    assert_eq!(store.head().await.unwrap(), 2);
    assert_eq!(*hook.seen.lock().unwrap(), vec![1, 2]);
}
