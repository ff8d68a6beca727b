//! Group commit. Every append of a store goes through one committer task:
//! it takes whatever is queued (up to [`MAX_JOBS`] appends or
//! [`MAX_EVENTS`] events, no fixed wait), locks all their streams at once,
//! decides each append in turn against the rows plus the batch's earlier
//! appends, and writes every event of the batch with one statement and one
//! commit. The head row lock — which keeps commits in position order — is
//! then held once per batch instead of once per append.
//!
//! An append whose decision fails (wrong version, tombstone, partial
//! duplicate) gets its error and writes nothing; the rest of the batch is
//! unaffected. If the batch's write fails (say another process stored one
//! of its event ids meanwhile), each append is retried alone so the error
//! reaches only the one it belongs to. A DCB append runs in a batch of its
//! own, its condition checked with the head locked.

use crate::{
    PgStore,
    append::{condition_conflict, lock_streams},
    col, db_error,
    listen::channel,
    write::{Columns, insert, insert_statement},
};
use chronicle_core::{
    AppendPlan, AppendView, Committed, Error, EventLocation, EventQuery, PreparedAppend, Result, StreamId, StreamInfo, StreamStatus, Uuid,
    plan_append,
};
use deadpool_postgres::Object;
use std::collections::{HashMap, HashSet, VecDeque};
use tokio::sync::{mpsc, oneshot};

/// Most appends decided and written in one transaction.
const MAX_JOBS: usize = 256;
/// Most events in one batch (a single larger append still goes alone).
const MAX_EVENTS: usize = 10_000;

/// How recent another process's commit must be for the head to count as contended.
const CONTENDED_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);
/// How long a batch gathers while the head is contended.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

/// What an append returns.
pub(crate) type Outcome = Result<Committed>;

/// One queued append.
pub(crate) struct Job {
    store: PgStore,
    prepared: PreparedAppend,
    /// Whether the reply carries the committed events (for after-store hooks).
    want_events: bool,
    reply: oneshot::Sender<Outcome>,
}

/// The committer's queue.
pub(crate) type Queue = mpsc::UnboundedSender<Job>;

/// Starts the committer; it stops when the last [`Queue`] handle drops.
pub(crate) fn spawn() -> (Queue, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(run(rx)))
}

/// Queues an append and waits for its outcome.
pub(crate) async fn append(store: &PgStore, prepared: PreparedAppend, want_events: bool) -> Outcome {
    let (reply, answer) = oneshot::channel();
    let job = Job { store: store.clone(), prepared, want_events, reply };
    store.inner.committer.send(job).map_err(|_| Error::Unavailable { reason: "the postgres committer has stopped".into() })?;
    answer.await.map_err(|_| Error::Unavailable { reason: "the postgres committer dropped an append".into() })?
}

async fn run(mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(job) => pending.push_back(job),
                None => return,
            }
        }
        // Other processes commit to this schema too: every batch waits its
        // turn for the head row, so gather a little longer before taking
        // one — fewer, larger batches instead of one per waiting append.
        if pending.front().is_some_and(|j| j.store.inner.counters.others_committing(CONTENDED_WINDOW)) {
            tokio::time::sleep(LINGER).await;
        }
        while pending.len() < MAX_JOBS
            && let Ok(job) = rx.try_recv()
        {
            pending.push_back(job);
        }
        let batch = take_batch(&mut pending);
        let deferred = commit(batch).await;
        for job in deferred.into_iter().rev() {
            pending.push_front(job);
        }
    }
}

/// The next batch: conditional appends alone, others up to the limits.
fn take_batch(pending: &mut VecDeque<Job>) -> Vec<Job> {
    let mut batch = Vec::new();
    let mut events = 0;
    while let Some(job) = pending.front() {
        let alone = job.prepared.condition.is_some();
        let n = job.prepared.event_count();
        if !batch.is_empty() && (alone || events + n > MAX_EVENTS || batch.len() == MAX_JOBS) {
            break;
        }
        events += n;
        batch.extend(pending.pop_front());
        if alone {
            break;
        }
    }
    batch
}

/// Decides and writes one batch, answering every job it settles; returns
/// the jobs deferred to the next batch (their ids clash with an earlier
/// append of this one).
async fn commit(batch: Vec<Job>) -> Vec<Job> {
    let Some(store) = batch.first().map(|j| j.store.clone()) else { return Vec::new() };
    let single = batch.len() == 1;
    let decided = match write_batch(&store, &batch).await {
        Ok(decided) => decided,
        Err(e) if single => vec![Decision::Ready(Err(e))],
        // The database is out of reach (and the batch's outcome may be
        // unknown): every append gets `Unavailable`; a retry with the
        // same event ids is stored once.
        Err(Error::Unavailable { reason }) => {
            for job in batch {
                let _ = job.reply.send(Err(Error::Unavailable { reason: reason.clone() }));
            }
            return Vec::new();
        }
        // Retry each alone so a failure reaches only its own append.
        Err(e) => {
            tracing::debug!(error = %e, appends = batch.len(), "batch write failed; retrying each append alone");
            for job in batch {
                let decided = write_batch(&job.store, std::slice::from_ref(&job)).await;
                let outcome = match decided.map(|mut d| d.pop()) {
                    Ok(Some(Decision::Ready(outcome))) => outcome,
                    Ok(_) => Err(Error::Unavailable { reason: "append was not decided".into() }),
                    Err(e) => Err(e),
                };
                let _ = job.reply.send(outcome);
            }
            return Vec::new();
        }
    };
    let mut deferred = Vec::new();
    for (job, decision) in batch.into_iter().zip(decided) {
        match decision {
            Decision::Ready(outcome) => {
                let _ = job.reply.send(outcome);
            }
            Decision::Deferred => deferred.push(job),
        }
    }
    deferred
}

enum Decision {
    Ready(Outcome),
    Deferred,
}

/// What the planner sees: the locked stream rows, the stored ids, and the
/// batch's earlier appends.
struct View {
    streams: HashMap<String, StreamInfo>,
    ids: HashMap<Uuid, EventLocation>,
    /// Events planned so far in this batch (positions are relative to the
    /// head until the write reserves them).
    planned: u64,
}

impl AppendView for View {
    fn stream_info(&self, stream: &StreamId) -> StreamInfo {
        self.streams.get(stream.as_str()).copied().unwrap_or_default()
    }
    fn locate(&self, id: &Uuid) -> Option<EventLocation> {
        self.ids.get(id).cloned()
    }
    fn first_match_after(&self, _: &EventQuery, _: Option<u64>) -> Option<u64> {
        None // checked in SQL once the head is locked
    }
    fn head(&self) -> u64 {
        self.planned
    }
}

async fn write_batch(store: &PgStore, batch: &[Job]) -> Result<Vec<Decision>> {
    let s = store.inner.schema.as_str();
    let open = Open(Some(store.client().await?));
    let tx = open.client()?;
    let mut names: Vec<String> = batch.iter().flat_map(|j| j.prepared.streams.iter().map(|p| p.stream.to_string())).collect();
    // Only client-chosen ids can already be stored; fresh UUIDv7s cannot.
    let ids: Vec<Uuid> = batch
        .iter()
        .flat_map(|j| j.prepared.streams.iter().flat_map(|p| p.events.iter().filter(|e| !e.id_assigned()).map(|e| e.event_id)))
        .collect();
    // BEGIN and the stream locks in one round trip (BEGIN is sent first).
    let (begun, locked) = tokio::join!(tx.batch_execute("BEGIN"), lock_streams(tx, s, &mut names, &ids));
    begun.map_err(db_error)?;
    let (rows, found) = locked?;
    let mut view = View {
        streams: rows.iter().map(|(k, r)| (k.clone(), r.info)).collect(),
        ids: found.iter().map(located).collect::<Result<_>>()?,
        planned: 0,
    };
    let mut written: HashSet<Uuid> = HashSet::new();
    let mut columns = Columns::default();
    let mut decisions = Vec::with_capacity(batch.len());
    for job in batch {
        let p = &job.prepared;
        if event_ids(p).into_iter().any(|id| written.contains(&id)) {
            decisions.push(Decision::Deferred);
            continue;
        }
        let results = match plan_append(&view, p) {
            Err(e) => {
                decisions.push(Decision::Ready(Err(e)));
                continue;
            }
            Ok(AppendPlan::AlreadyStored(results)) => {
                decisions.push(Decision::Ready(Ok(Committed { results, idempotent: true, events: Vec::new() })));
                continue;
            }
            Ok(AppendPlan::Write(results)) => results,
        };
        if let Some(cond) = &p.condition {
            // Alone in its batch: lock the head so nothing slips in between
            // the check and the write.
            let lock = tx.prepare_cached(&format!("SELECT position FROM {s}.head FOR UPDATE")).await.map_err(db_error)?;
            tx.query_one(&lock, &[]).await.map_err(db_error)?;
            if let Some(position) = condition_conflict(tx, s, &cond.query, cond.after).await? {
                decisions.push(Decision::Ready(Err(Error::AppendConditionFailed { position })));
                continue;
            }
        }
        columns.push(p, &results);
        for r in &results {
            let info = view.streams.entry(r.stream_id.to_string()).or_default();
            info.last_version = r.last_version;
            info.status = StreamStatus::Active;
        }
        view.planned += p.event_count() as u64;
        written.extend(event_ids(p));
        decisions.push(Decision::Ready(Ok(Committed { results, idempotent: false, events: Vec::new() })));
    }
    if view.planned == 0 {
        // Nothing to write: roll back the empty stream rows the locking created.
        open.rollback().await?;
        return Ok(decisions);
    }
    // The write takes the head row's lock; COMMIT goes in the same round
    // trip, so the lock is held for one round trip and the WAL flush.
    // (Prepared first: a COMMIT must never overtake the write.)
    let (write, channel) = (insert_statement(tx, s).await?, channel(s));
    let (written, committed) = tokio::join!(insert(tx, &write, &columns, &channel, store.inner.counters.tag()), tx.batch_execute("COMMIT"));
    // Either way the transaction ended: a failed write aborts it, and the COMMIT then rolls it back.
    open.ended();
    let (base, recorded_at) = written?;
    committed.map_err(db_error)?;
    store.publish_head(base + view.planned);
    store.analyze_on_growth(base + view.planned);
    for (job, decision) in batch.iter().zip(&mut decisions) {
        if let Decision::Ready(Ok(committed @ Committed { idempotent: false, .. })) = decision {
            for r in &mut committed.results {
                r.first_position += base;
                r.last_position += base;
            }
            if job.want_events {
                committed.events = job.prepared.recorded(&committed.results, recorded_at);
            }
        }
    }
    Ok(decisions)
}

/// A transaction on a pooled connection, begun and ended with plain
/// `BEGIN` and `COMMIT`/`ROLLBACK` statements (so each can share a round
/// trip with the statements next to it). Ended, it returns the connection
/// to the pool; dropped while open (an error on the way) it closes the
/// connection, and PostgreSQL rolls back.
struct Open(Option<Object>);

impl Open {
    /// The connection (only `ended`, which consumes `self`, takes it).
    fn client(&self) -> Result<&Object> {
        self.0.as_ref().ok_or_else(|| Error::Unavailable { reason: "the transaction's connection is gone".into() })
    }

    async fn rollback(self) -> Result<()> {
        self.client()?.batch_execute("ROLLBACK").await.map_err(db_error)?;
        self.ended();
        Ok(())
    }

    /// The transaction ended (committed or rolled back): the connection goes back to the pool.
    fn ended(mut self) {
        self.0.take();
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

/// A stored event id and where it is (a row of the id lookup).
fn located(r: &tokio_postgres::Row) -> Result<(Uuid, EventLocation)> {
    let stream = StreamId::new(col::<String>(r, 1)?)?;
    Ok((col(r, 0)?, EventLocation { stream, version: col::<i64>(r, 2)? as u64, position: col::<i64>(r, 3)? as u64 }))
}

fn event_ids(append: &PreparedAppend) -> Vec<Uuid> {
    append.streams.iter().flat_map(|s| s.events.iter().map(|e| e.event_id)).collect()
}
