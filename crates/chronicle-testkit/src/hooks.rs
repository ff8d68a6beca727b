//! Conformance of the append pipeline's hook point on every backend: a
//! before-store hook enriches metadata, rejects an append (nothing is
//! stored) and sees the caller's principal; an after-store hook observes
//! exactly the committed events.
//!
//! A backend runs it from one of its integration tests with a factory
//! that builds a fresh store around the given pipeline:
//!
//! ```ignore
//! chronicle_testkit::hooks_conformance!(|pipeline| async move { Some(MemoryStore::with_pipeline(pipeline)) });
//! ```
//!
//! Through the remote backend the pipeline belongs to the served store,
//! and the client authenticates with a token whose id is [`TOKEN_ID`]:
//! the server must hand the hook the same principal an in-process caller
//! passes.

use chronicle_core::{
    AppendContext, AppendHook, AppendPipeline, AppendRequest, Error, EventStore, ExpectedVersion, NewEvent, PreparedAppend, Principal,
    ReadAll, RecordedEvent, Result, Role, StreamAppend, StreamId,
};
use serde_json::Value;
use std::sync::{Arc, Mutex, PoisonError};

/// The token id the principal of the hook cases carries.
pub const TOKEN_ID: &str = "conformance-writer";

/// The event type the probe refuses.
pub const REFUSED_TYPE: &str = "RefusedByHook";

/// A hook that stamps `"hooked": true` into every event's metadata,
/// refuses appends carrying [`REFUSED_TYPE`], and records what it saw.
#[derive(Debug, Default)]
pub struct Probe {
    principals: Mutex<Vec<Option<Principal>>>,
    committed: Mutex<Vec<RecordedEvent>>,
}

impl Probe {
    /// A probe and a pipeline (default limits) holding it.
    pub fn pipeline() -> (Arc<Self>, AppendPipeline) {
        let probe = Arc::new(Self::default());
        (probe.clone(), AppendPipeline::default().with_hook(probe))
    }

    fn principals(&self) -> Vec<Option<Principal>> {
        self.principals.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn committed(&self) -> Vec<RecordedEvent> {
        self.committed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl AppendHook for Probe {
    fn before_store(&self, context: &AppendContext, append: &mut PreparedAppend) -> Result<()> {
        self.principals.lock().unwrap_or_else(PoisonError::into_inner).push(context.principal.clone());
        for event in append.streams.iter_mut().flat_map(|p| p.events.iter_mut()) {
            if &*event.event_type == REFUSED_TYPE {
                return Err(Error::invalid("event_type", "refused by the conformance hook"));
            }
            event.set_metadata_fields([("hooked".to_owned(), Value::Bool(true))])?;
        }
        Ok(())
    }

    fn after_store(&self, _context: &AppendContext, events: &[RecordedEvent]) {
        self.committed.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(events);
    }
}

/// The principal the cases append as.
pub fn principal() -> Principal {
    Principal { token_id: TOKEN_ID.into(), role: Role::Writer, tenant: None, grants: Vec::new(), pii: false }
}

fn part(stream: &str, types: &[&str]) -> StreamAppend {
    let sid = StreamId::new(stream).expect("valid stream id");
    StreamAppend::new(sid, ExpectedVersion::Any, types.iter().map(|t| NewEvent::raw(*t, &b"{}"[..])).collect())
}

/// The hook enriches, rejects whole appends, sees the principal, and
/// after-store observes exactly what was committed (a retry adds nothing).
pub async fn hooks_enrich_reject_and_observe(store: Arc<dyn EventStore>, probe: Arc<Probe>) {
    let ctx = AppendContext::library().with_principal(principal());
    let first = AppendRequest { streams: vec![part("hooked-1", &["Made", "Made"]), part("hooked-2", &["Made"])], condition: None };
    store.append_with(&ctx, first.clone()).await.expect("append through the hook");
    let seen = probe.principals();
    assert_eq!(seen.last().cloned().flatten().map(|p| (p.token_id, p.role)), Some((TOKEN_ID.to_owned(), Role::Writer)), "{seen:?}");

    let refused = AppendRequest { streams: vec![part("hooked-3", &["Made"]), part("hooked-4", &["Made", REFUSED_TYPE])], condition: None };
    let err = store.append_with(&ctx, refused).await.expect_err("the hook refuses");
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(store.head().await.expect("head"), 3, "a refused append stores nothing");

    let stored = store.read_all(&ReadAll::forward()).await.expect("read all").events;
    assert_eq!(stored.len(), 3);
    for event in &stored {
        let meta: Value = serde_json::from_slice(event.metadata.as_bytes()).expect("metadata is JSON");
        assert_eq!(meta.get("hooked"), Some(&Value::Bool(true)), "enriched before it was stored: {meta}");
    }
    // A retry of the first append (same event ids) stores nothing new.
    let mut retry = first;
    let mut stored_ids = stored.iter().map(|e| e.event_id);
    for e in retry.streams.iter_mut().flat_map(|p| p.events.iter_mut()) {
        e.event_id = stored_ids.next();
    }
    store.append_with(&ctx, retry).await.expect("a retry succeeds");
    store.append_with(&ctx, AppendRequest { streams: vec![part("hooked-5", &["Made"])], condition: None }).await.expect("append");
    let all = store.read_all(&ReadAll::forward()).await.expect("read all").events;
    assert_eq!(all.len(), 4);
    assert_eq!(probe.committed(), all, "after-store saw exactly the committed events, once each");
}

/// Generates the hook conformance test against a store built by
/// `$factory(pipeline)` (an `Option`: `None` skips, see
/// [`service_or_skip`](crate::service_or_skip)).
#[macro_export]
macro_rules! hooks_conformance {
    ($factory:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn hooks_enrich_reject_and_observe() {
            let (probe, pipeline) = $crate::hooks::Probe::pipeline();
            let f = $factory;
            let Some(store) = f(pipeline).await else { return };
            $crate::hooks::hooks_enrich_reject_and_observe(::std::sync::Arc::new(store), probe).await;
        }
    };
}
