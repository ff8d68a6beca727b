//! Model-based test: random operation sequences run against a backend and
//! against [`Model`], a deliberately naive reference (linear scans over a
//! `Vec`); every outcome must agree.

use crate::{event_with_meta, sid};
use chronicle_core::{
    AppendCondition, AppendRequest, AppendResult, DeleteMode, Direction, Error, EventQuery, EventStore, ExpectedVersion, Filter, ReadAll,
    ReadStream, RecordedEvent, StreamAppend, StreamMetadata, Uuid,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::future::Future;

const STREAMS: [&str; 3] = ["acct-1", "acct-2", "cart-1"];
const TYPES: [&str; 2] = ["Opened", "Moved"];
const TAGS: [&str; 2] = ["red", "blue"];

/// One random operation.
#[derive(Clone, Debug)]
enum Op {
    /// Append fresh events (type index, tag index) to a stream.
    Append { stream: usize, expected: Exp, events: Vec<(usize, usize)> },
    /// Re-append an earlier batch's ids, possibly to another stream and/or with one new id.
    Retry { batch: usize, shift: usize, extra: bool },
    /// Atomic append to two streams.
    Multi { a: usize, b: usize, ea: Exp, eb: Exp },
    /// DCB-conditional append.
    Conditional { after: Option<u64>, ty: usize, tag: usize, stream: usize },
    /// Soft delete or tombstone.
    Delete { stream: usize, expected: Exp, tombstone: bool },
    /// Set (or clear) max_count.
    MaxCount { stream: usize, n: Option<u64> },
    /// Read one stream.
    ReadStream { stream: usize, backward: bool, from: Option<u64>, limit: Option<usize> },
    /// Read the log, filtered.
    ReadAll { backward: bool, from: Option<u64>, limit: Option<usize>, ty: Option<usize>, tag: Option<usize>, category: Option<usize> },
    /// Look up an earlier batch's first event.
    Get { batch: usize },
}

/// An expected-version choice.
#[derive(Clone, Copy, Debug)]
enum Exp {
    /// `Any`.
    Any,
    /// `NoStream`.
    NoStream,
    /// `StreamExists`.
    Exists,
    /// `Exact(n)`.
    Exact(u64),
}

impl Exp {
    fn get(self) -> ExpectedVersion {
        match self {
            Self::Any => ExpectedVersion::Any,
            Self::NoStream => ExpectedVersion::NoStream,
            Self::Exists => ExpectedVersion::StreamExists,
            Self::Exact(n) => ExpectedVersion::Exact(n),
        }
    }
}

fn exp() -> impl Strategy<Value = Exp> {
    prop_oneof![Just(Exp::Any), Just(Exp::NoStream), Just(Exp::Exists), (0..6u64).prop_map(Exp::Exact)]
}

fn op() -> impl Strategy<Value = Op> {
    let s = 0..STREAMS.len();
    prop_oneof![
        6 => (s.clone(), exp(), prop::collection::vec((0..2usize, 0..2usize), 1..4))
            .prop_map(|(stream, expected, events)| Op::Append { stream, expected, events }),
        2 => (0..64usize, 0..3usize, any::<bool>()).prop_map(|(batch, shift, extra)| Op::Retry { batch, shift, extra }),
        2 => (s.clone(), s.clone(), exp(), exp()).prop_map(|(a, b, ea, eb)| Op::Multi { a, b, ea, eb }),
        2 => (prop::option::of(0..20u64), 0..2usize, 0..2usize, s.clone())
            .prop_map(|(after, ty, tag, stream)| Op::Conditional { after, ty, tag, stream }),
        1 => (s.clone(), exp(), prop::bool::weighted(0.2)).prop_map(|(stream, expected, tombstone)| Op::Delete { stream, expected, tombstone }),
        1 => (s.clone(), prop::option::of(1..4u64)).prop_map(|(stream, n)| Op::MaxCount { stream, n }),
        3 => (s.clone(), any::<bool>(), prop::option::of(0..8u64), prop::option::of(1..5usize))
            .prop_map(|(stream, backward, from, limit)| Op::ReadStream { stream, backward, from, limit }),
        3 => (any::<bool>(), prop::option::of(0..30u64), prop::option::of(1..6usize), prop::option::of(0..2usize),
              prop::option::of(0..2usize), prop::option::of(0..2usize))
            .prop_map(|(backward, from, limit, ty, tag, category)| Op::ReadAll { backward, from, limit, ty, tag, category }),
        1 => (0..64usize).prop_map(|batch| Op::Get { batch }),
    ]
}

/// Runs 64 random sequences of up to 40 operations against fresh stores
/// from `factory` and the reference model, failing on the first mismatch
/// (proptest shrinks it to a minimal sequence).
/// The factory returns `None` when its service is unreachable (then the
/// test is skipped, see [`crate::service_or_skip`]).
pub fn check<F, Fut, S>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
    S: EventStore,
{
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    if rt.block_on(factory()).is_none() {
        return;
    }
    let config = Config { cases: 64, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..40), |ops| {
        rt.block_on(async {
            let store = factory().await.expect("the service became unreachable during the test");
            let mut model = Model::default();
            for (i, op) in ops.iter().enumerate() {
                let (got, want) = (apply(&store, &mut model.batches, op).await, model.apply(op));
                prop_assert_eq!(got, want, "operation #{} {:?}", i, op);
            }
            Ok::<(), TestCaseError>(())
        })
    });
    if let Err(e) = result {
        panic!("model-based test failed: {e}");
    }
}

/// Comparable outcome of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Append results: (first_version, last_version, first_position, last_position).
    Appended(Vec<(u64, u64, u64, u64)>),
    /// Events read: (position, stream, version, id), and the cursor.
    Read(Vec<(u64, String, u64, Uuid)>, Option<u64>),
    /// Done, nothing to compare.
    Done,
    /// Failed: the error kind plus the actual version for conflicts.
    Failed(String),
}

fn failed(e: &Error) -> Outcome {
    match e {
        Error::WrongExpectedVersion { actual, .. } => Outcome::Failed(format!("wrong_expected_version {actual:?}")),
        Error::AppendConditionFailed { position } => Outcome::Failed(format!("append_condition_failed {position}")),
        other => Outcome::Failed(other.kind().to_owned()),
    }
}

fn appended(r: Result<Vec<AppendResult>, Error>) -> Outcome {
    match r {
        Ok(rs) => Outcome::Appended(rs.iter().map(|r| (r.first_version, r.last_version, r.first_position, r.last_position)).collect()),
        Err(e) => failed(&e),
    }
}

fn read(events: &[RecordedEvent], next: Option<u64>) -> Outcome {
    Outcome::Read(events.iter().map(|e| (e.global_position, e.stream_id.to_string(), e.version, e.event_id)).collect(), next)
}

fn new_events(spec: &[(usize, usize)], ids: &[Uuid]) -> Vec<chronicle_core::NewEvent> {
    spec.iter()
        .zip(ids)
        .map(|(&(ty, tag), &id)| event_with_meta(TYPES[ty], 0, serde_json::json!({"tags": [TAGS[tag]]})).with_id(id))
        .collect()
}

/// Runs `op` on the store. Fresh ids are generated here and recorded in
/// `batches` (shared with the model) before the model sees the op.
async fn apply<S: EventStore>(store: &S, batches: &mut Vec<Batch>, op: &Op) -> Outcome {
    match op {
        Op::Append { stream, expected, events } => {
            let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
            batches.push(Batch { stream: *stream, ids: ids.clone(), spec: events.clone() });
            let r = store.append(&sid(STREAMS[*stream]), expected.get(), new_events(events, &ids)).await;
            appended(r.map(|r| vec![r]))
        }
        Op::Retry { batch, shift, extra } => {
            let Some(b) = pick(batches, *batch) else { return Outcome::Done };
            let mut ids = b.ids.clone();
            let mut spec = b.spec.clone();
            if *extra {
                ids.push(Uuid::now_v7());
                spec.push((0, 0));
            }
            let stream = (b.stream + shift) % STREAMS.len();
            batches.push(Batch { stream, ids: ids.clone(), spec: spec.clone() });
            let r = store.append(&sid(STREAMS[stream]), ExpectedVersion::Any, new_events(&spec, &ids)).await;
            appended(r.map(|r| vec![r]))
        }
        Op::Multi { a, b, ea, eb } => {
            let ids = [Uuid::now_v7(), Uuid::now_v7()];
            batches.push(Batch { stream: *a, ids: vec![ids[0]], spec: vec![(0, 0)] });
            batches.push(Batch { stream: *b, ids: vec![ids[1]], spec: vec![(1, 1)] });
            let parts = vec![
                StreamAppend::new(sid(STREAMS[*a]), ea.get(), new_events(&[(0, 0)], &ids[..1])),
                StreamAppend::new(sid(STREAMS[*b]), eb.get(), new_events(&[(1, 1)], &ids[1..])),
            ];
            appended(store.append_atomic(AppendRequest { streams: parts, condition: None }).await)
        }
        Op::Conditional { after, ty, tag, stream } => {
            let id = Uuid::now_v7();
            batches.push(Batch { stream: *stream, ids: vec![id], spec: vec![(*ty, *tag)] });
            let cond = AppendCondition { query: EventQuery::item(vec![TYPES[*ty].into()], vec![TAGS[*tag].into()]), after: *after };
            let part = StreamAppend::new(sid(STREAMS[*stream]), ExpectedVersion::Any, new_events(&[(*ty, *tag)], &[id]));
            appended(store.append_if(cond, vec![part]).await)
        }
        Op::Delete { stream, expected, tombstone } => {
            let mode = if *tombstone { DeleteMode::Tombstone } else { DeleteMode::Soft };
            store.delete_stream(&sid(STREAMS[*stream]), expected.get(), mode).await.map_or_else(|e| failed(&e), |()| Outcome::Done)
        }
        Op::MaxCount { stream, n } => {
            let meta = StreamMetadata { max_count: *n, ..StreamMetadata::default() };
            store.set_stream_metadata(&sid(STREAMS[*stream]), meta).await.map_or_else(|e| failed(&e), |()| Outcome::Done)
        }
        Op::ReadStream { stream, backward, from, limit } => {
            let direction = if *backward { Direction::Backward } else { Direction::Forward };
            let opts = ReadStream { from: *from, direction, limit: *limit };
            store.read_stream(&sid(STREAMS[*stream]), opts).await.map_or_else(|e| failed(&e), |ev| read(&ev, None))
        }
        Op::ReadAll { backward, from, limit, ty, tag, category } => {
            let filter = Filter {
                event_types: ty.map(|t| vec![TYPES[t].to_owned()]).unwrap_or_default(),
                tags: tag.map(|t| vec![TAGS[t].to_owned()]).unwrap_or_default(),
                category: category.map(|c| ["acct", "cart"][c].to_owned()),
                ..Filter::default()
            };
            let direction = if *backward { Direction::Backward } else { Direction::Forward };
            let r = ReadAll { from: *from, direction, limit: *limit, filter };
            store.read_all(&r).await.map_or_else(|e| failed(&e), |p| read(&p.events, p.next))
        }
        Op::Get { batch } => {
            let Some(id) = pick(batches, *batch).and_then(|b| b.ids.first().copied()) else { return Outcome::Done };
            store.get_event(id).await.map_or_else(|e| failed(&e), |e| read(&e.into_iter().collect::<Vec<_>>(), None))
        }
    }
}

fn pick(batches: &[Batch], i: usize) -> Option<&Batch> {
    if batches.is_empty() { None } else { batches.get(i % batches.len()) }
}

/// Ids generated for one append, shared by store and model.
#[derive(Clone, Debug)]
struct Batch {
    stream: usize,
    ids: Vec<Uuid>,
    spec: Vec<(usize, usize)>,
}

#[path = "model_state.rs"]
mod state;
use state::Model;
