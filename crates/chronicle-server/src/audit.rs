//! The audit log: every access attempt in the append-only `$audit` stream
//! of an audit store of its own (`chronicle serve`: with PostgreSQL, a
//! schema of its own in the same database, shared by every node; with
//! the file and memory backends, a file store in `{data_dir}/audit`) —
//! denied requests and admin actions always, stored before the response
//! is sent; other successful requests when access auditing is on (the
//! default), written in batches. A batch is one `AccessAuditBatch` event
//! holding compact records (`[at, token, role, method, path, status,
//! extra]`); older logs
//! hold one `AccessAudited` event per record and still read. Read it with
//! `chronicle audit`.

use axum::http::Method;
use chronicle_core::Role;
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, Result, StreamId, Timestamp};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};
use tokio::sync::{mpsc, oneshot};

/// The audit stream.
pub const AUDIT_STREAM: &str = "$audit";
/// The event type of one audit record (logs written before batches).
pub const AUDIT_EVENT: &str = "AccessAudited";
/// The event type of a batch of compact audit records.
pub const AUDIT_BATCH_EVENT: &str = "AccessAuditBatch";

/// One access attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// The token's id (`-` when none or an unknown one was sent, `anonymous` on an open server).
    pub token_id: String,
    /// The token's role, when known.
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Response status.
    pub status: u16,
    /// `allowed`, or `denied` (401, 403, 429).
    pub outcome: String,
    /// When it was decided.
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// A crypto operation (method `CRYPTO`): what, on whose data, how many
    /// times since the previous entry of the same caller and subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto: Option<CryptoEntry>,
    /// What a token's grants refused (a 403 on a stream): the action and
    /// the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied: Option<Denial>,
}

/// A grant denial: the action refused and the stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Denial {
    /// `read`, `append`, `delete`, `metadata` or `snapshot`.
    pub action: String,
    /// The stream (or `the whole log` for export and import).
    pub stream: String,
}

/// What a `CRYPTO` audit entry counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CryptoEntry {
    /// `key_created`, `decrypted`, `forget`, `rotate` or `rotate_kek`.
    pub action: String,
    /// The subject (the KEK id for `rotate_kek`).
    pub subject: String,
    /// How many values or keys.
    pub count: u64,
}

impl AuditRecord {
    /// The audit entry of a crypto operation.
    pub fn crypto(op: &chronicle_privacy::CryptoRecord) -> Self {
        Self {
            token_id: op.who.clone(),
            role: None,
            method: "CRYPTO".into(),
            path: op.action.as_str().to_owned(),
            status: 200,
            outcome: "allowed".into(),
            at: Timestamp::now(),
            crypto: Some(CryptoEntry { action: op.action.as_str().to_owned(), subject: op.subject.clone(), count: op.count }),
            denied: None,
        }
    }
}

/// Moves the keyring's crypto counts into the audit log every few
/// seconds, and once more at shutdown.
#[derive(Debug)]
pub(crate) struct CryptoAudit {
    task: Option<(tokio::task::JoinHandle<()>, oneshot::Sender<()>)>,
    log: AuditLog,
    privacy: Option<Arc<chronicle_privacy::Privacy>>,
}

/// How often crypto counts are written.
const CRYPTO_EVERY: Duration = Duration::from_secs(5);

async fn drain(privacy: &chronicle_privacy::Privacy, log: &AuditLog) {
    let ops = privacy.keyring().drain_audit();
    if ops.is_empty() {
        return;
    }
    for op in ops {
        log.enqueue(AuditRecord::crypto(&op)).await;
    }
    log.flush().await;
}

impl CryptoAudit {
    pub(crate) fn start(state: &crate::AppState) -> Self {
        let (log, privacy) = (state.audit.clone(), state.privacy.clone());
        let task = privacy.clone().filter(|_| log.tx.is_some()).map(|p| {
            let (stop, mut stopped) = oneshot::channel();
            let log = log.clone();
            let task = tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(CRYPTO_EVERY) => drain(&p, &log).await,
                        _ = &mut stopped => return,
                    }
                }
            });
            (task, stop)
        });
        Self { task, log, privacy }
    }

    /// Stops the task and writes what is left.
    pub(crate) async fn stop(self) {
        if let Some((task, stop)) = self.task {
            let _ = stop.send(());
            let _ = task.await;
            if let Some(p) = &self.privacy {
                drain(p, &self.log).await;
            }
        }
    }
}

impl AuditRecord {
    pub(crate) fn new(token_id: &str, role: Option<Role>, method: &Method, path: &str, status: u16) -> Self {
        let outcome = if matches!(status, 401 | 403 | 429) { "denied" } else { "allowed" };
        Self {
            token_id: token_id.to_owned(),
            role,
            method: method.to_string(),
            path: path.to_owned(),
            status,
            outcome: outcome.to_owned(),
            at: Timestamp::now(),
            crypto: None,
            denied: None,
        }
    }
}

/// What the writer task receives.
#[derive(Debug)]
enum Msg {
    Record(Box<AuditRecord>),
    /// Answer once everything received before is stored.
    Flush(oneshot::Sender<()>),
}

/// Where audit records go: a writer task appending them in batches.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditLog {
    tx: Option<mpsc::Sender<Msg>>,
    access: bool,
    store: Option<Arc<dyn EventStore>>,
}

impl AuditLog {
    /// Starts the writer task (needs a tokio runtime). `access`: also
    /// record successful non-admin requests.
    pub(crate) fn start(store: Arc<dyn EventStore>, access: bool) -> Self {
        let (tx, rx) = mpsc::channel(10_000);
        tokio::spawn(write(store.clone(), rx));
        Self { tx: Some(tx), access, store: Some(store) }
    }

    /// Records `record` if the policy asks for it. Waits when the writer is
    /// 10,000 records behind (backpressure rather than loss).
    ///
    /// Denials and admin actions are stored before this returns (so before
    /// the response is sent); other records are batched.
    pub(crate) async fn record(&self, record: AuditRecord, admin: bool) {
        let Some(tx) = &self.tx else { return };
        let must = record.outcome == "denied" || admin;
        if !(must || self.access) {
            return;
        }
        if tx.send(Msg::Record(Box::new(record))).await.is_err() {
            tracing::error!("audit writer stopped; record lost");
        } else if must {
            self.flush().await;
        }
    }

    /// Hands `record` to the writer whatever the policy (crypto counts).
    async fn enqueue(&self, record: AuditRecord) {
        if let Some(tx) = &self.tx
            && tx.send(Msg::Record(Box::new(record))).await.is_err()
        {
            tracing::error!("audit writer stopped; record lost");
        }
    }

    /// Waits until every record sent so far is stored (at shutdown).
    pub(crate) async fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, stored) = oneshot::channel();
        if tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }

    /// The store holding the log, when auditing is on.
    pub(crate) fn store(&self) -> Option<&Arc<dyn EventStore>> {
        self.store.as_ref()
    }
}

/// The last `limit` records of the audit log in `store` (only denials when
/// `denied_only`), oldest first.
pub async fn recent(store: &dyn EventStore, limit: usize, denied_only: bool) -> Result<Vec<AuditRecord>> {
    let stream = StreamId::new(AUDIT_STREAM)?;
    let mut found = Vec::new();
    let mut before: Option<u64> = None;
    while found.len() < limit {
        let page = match before {
            Some(1) => break,
            Some(v) => ReadStream::backward().from(v - 1),
            None => ReadStream::backward(),
        };
        let events = store.read_stream(&stream, page.limit(100)).await?;
        let Some(last) = events.last() else { break };
        before = Some(last.version);
        for e in &events {
            let records = crate::audit_batch::decode(e)?;
            for record in records.into_iter().rev() {
                if (!denied_only || record.outcome == "denied") && found.len() < limit {
                    found.push(record);
                }
            }
        }
    }
    found.reverse();
    Ok(found)
}

/// Most records in one audit event.
const BATCH: usize = 1_000;
/// How long the writer waits for more records when nobody waits on it:
/// fewer, larger appends (and syncs) under load.
const LINGER: Duration = Duration::from_millis(25);

/// Adds to `batch` what arrives within [`LINGER`], unless it is full or
/// someone waits for it to be stored (a flush: a denial, an admin action,
/// shutdown).
async fn linger(rx: &mut mpsc::Receiver<Msg>, batch: &mut Vec<Msg>) {
    let deadline = tokio::time::Instant::now() + LINGER;
    while batch.len() < BATCH && !batch.iter().any(|m| matches!(m, Msg::Flush(_))) {
        let room = BATCH - batch.len();
        match tokio::time::timeout_at(deadline, rx.recv_many(batch, room)).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn write(store: Arc<dyn EventStore>, mut rx: mpsc::Receiver<Msg>) {
    let Ok(stream) = StreamId::new(AUDIT_STREAM) else { return };
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        linger(&mut rx, &mut batch).await;
        let records: Vec<&AuditRecord> = batch
            .iter()
            .filter_map(|m| match m {
                Msg::Record(r) => Some(&**r),
                Msg::Flush(_) => None,
            })
            .collect();
        let events: Vec<NewEvent> = match records.is_empty() {
            true => Vec::new(),
            false => vec![crate::audit_batch::encode(&records)],
        };
        let mut delay = Duration::from_millis(50);
        while !events.is_empty() {
            match store.append(&stream, ExpectedVersion::Any, events.clone()).await {
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, records = events.len(), "audit append failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        for m in batch.drain(..) {
            if let Msg::Flush(done) = m {
                let _ = done.send(());
            }
        }
    }
}
