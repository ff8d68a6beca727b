//! `FileStore`: the `EventStore` implementation over the segment log.

use crate::{
    FileOptions,
    follower::follow,
    io::{OsStorage, Storage},
    reader::read_events,
    recovery::recover,
    shared::{Shared, read},
    writer::{Command, Writer},
};
use chronicle_core::{
    AppendContext, AppendPipeline, AppendRequest, AppendResult, DeleteMode, Error, EventPage, EventStore, ExpectedVersion, Filter, Health,
    IndexedEvent, Metrics, ReadAll, ReadStream, RecordedEvent, Result, Snapshot, StoreMetrics, StreamId, StreamInfo, StreamMetadata,
    SubscribeFrom, Subscription, Uuid, async_trait, validate_consumer_name,
};
use chronicle_core::{ExportRange, GroupProgress, ListStreams, LogItem, LogReader, StreamPage};
use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread::JoinHandle,
};
use tokio::sync::{oneshot, watch};

/// The embedded file store. Cheap to clone; the last clone dropped stops
/// the writer thread (after it finished the batch in flight) and releases
/// the data directory.
#[derive(Clone, Debug)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    /// Set to stop the follower thread of a read-only store.
    stop: Arc<AtomicBool>,
    tx: Mutex<Option<mpsc::Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The archiver thread (writable stores with `archive` set).
    archiver: Mutex<Option<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
    pipeline: AppendPipeline,
    dir: PathBuf,
    truncated_on_open: u64,
    indexed_on_open: usize,
    _lock: Option<File>,
    /// For [`FileStore::open_temporary`]: removed after the writer stopped.
    _temp: Option<tempfile::TempDir>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.tx.lock().unwrap_or_else(PoisonError::into_inner).take());
        if let Some(handle) = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = handle.join();
        }
        if let Some(handle) = self.archiver.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = handle.join();
        }
    }
}

/// Size and shape of a file store (for `chronicle stats`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileStats {
    /// Events in the log.
    pub events: u64,
    /// Streams known.
    pub streams: usize,
    /// Segment files.
    pub segments: usize,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// Bytes of torn tail removed when the store was opened.
    pub truncated_on_open: u64,
    /// Sealed segments whose index file the open used (instead of reading them).
    pub indexed_on_open: usize,
    /// Sealed segments moved to the archive directory.
    pub archived_segments: usize,
    /// Their bytes (part of `bytes`; the rest is local).
    pub archived_bytes: u64,
    /// Sealed segments (every segment but the one appended to).
    pub sealed_segments: usize,
    /// Bytes of the sealed segments.
    pub sealed_bytes: u64,
    /// Positions held by the sealed segments (removed events included).
    pub sealed_events: u64,
    /// Sealed segments stored compressed.
    pub compressed_segments: usize,
}

/// Takes the data directory's writer lock (creating the directory).
pub(crate) fn lock_dir(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))?;
    let path = dir.join("LOCK");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    file.try_lock().map_err(|_| Error::Locked { resource: format!("data directory {}", dir.display()) })?;
    Ok(file)
}

/// The storage of `dir`, with the archive directory of `options`.
fn os_storage(dir: &Path, options: &FileOptions) -> Result<OsStorage> {
    let storage = OsStorage::new(dir).map_err(|e| Error::io(format!("opening {}/segments", dir.display()), e))?;
    let archive = options.archive.as_ref().map(|a| a.dir.as_path());
    storage.with_archive(archive).map_err(|e| Error::io(format!("opening the archive directory of {}", dir.display()), e))
}

impl FileStore {
    /// Opens (or creates) the store in `dir`, recovering from any crash.
    pub fn open(dir: &Path, options: FileOptions) -> Result<Self> {
        let lock = lock_dir(dir)?;
        let storage = os_storage(dir, &options)?;
        Self::open_locked(dir, Arc::new(storage), options, lock)
    }

    /// A fresh store in a new temporary directory, deleted when the last
    /// handle drops (examples, tests).
    pub fn open_temporary(options: FileOptions) -> Result<Self> {
        let temp = tempfile::Builder::new().prefix("chronicle-").tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
        let mut store = Self::open(temp.path(), options)?;
        if let Some(inner) = Arc::get_mut(&mut store.inner) {
            inner._temp = Some(temp);
        }
        Ok(store)
    }

    /// Opens the store over a custom [`Storage`] (tests inject faults this
    /// way). `dir` is still locked against other processes.
    pub fn open_with_storage(dir: &Path, storage: Arc<dyn Storage>, options: FileOptions) -> Result<Self> {
        let lock = lock_dir(dir)?;
        Self::open_locked(dir, storage, options, lock)
    }

    fn open_locked(dir: &Path, storage: Arc<dyn Storage>, options: FileOptions, lock: File) -> Result<Self> {
        Self::start(dir, storage, options, Some(lock))
    }

    /// Opens the store read-only, without taking the directory lock, so it
    /// works while another process writes: nothing on disk is changed (a
    /// torn tail is left for the writer to truncate), appends fail with
    /// [`Error::Unavailable`], and a background thread follows new commits
    /// (polling every 10 ms) so reads and subscriptions see them.
    pub fn open_read_only(dir: &Path, options: FileOptions) -> Result<Self> {
        if !dir.join("segments").is_dir() {
            return Err(Error::invalid("data_dir", format!("no Chronicle store at {}", dir.display())));
        }
        let storage = os_storage(dir, &options)?;
        Self::start(dir, Arc::new(storage), options, None)
    }

    fn start(dir: &Path, storage: Arc<dyn Storage>, options: FileOptions, lock: Option<File>) -> Result<Self> {
        let writable = lock.is_some();
        let started = std::time::Instant::now();
        let recovered = recover(&*storage, writable)?;
        let head = recovered.index.visible_head();
        tracing::debug!(
            events = head,
            segments = recovered.segments.len(),
            ms = started.elapsed().as_millis() as u64,
            "opened {}",
            dir.display()
        );
        let (segment, len) = recovered.tail;
        let file = recovered.segments.get(&segment).cloned();
        let shared = Arc::new(Shared {
            index: RwLock::new(recovered.index),
            snapshots: RwLock::new(recovered.snapshots),
            segments: RwLock::new(recovered.segments),
            storage,
            head: watch::Sender::new(head),
            failed: Mutex::new(None),
            frames: Mutex::default(),
            rewriting: Mutex::default(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, handle) = if writable {
            let file = file.ok_or_else(|| Error::Unavailable { reason: "no tail segment after recovery".into() })?;
            let (tx, rx) = mpsc::channel();
            let writer = Writer { shared: shared.clone(), options: options.clone(), segment, file, len, indexers: Vec::new() };
            let handle = std::thread::Builder::new().name("chronicle-writer".into()).spawn(move || writer.run(rx));
            (Some(tx), handle)
        } else {
            let (shared, stop) = (shared.clone(), stop.clone());
            let handle = std::thread::Builder::new().name("chronicle-follower".into()).spawn(move || follow(shared, segment, len, stop));
            (None, handle)
        };
        let handle = handle.map_err(|e| Error::io("starting a background thread", e))?;
        let archiver = match (&options.archive, writable) {
            (Some(archive), true) => Some(
                crate::archive::spawn(shared.clone(), archive.clone(), stop.clone()).map_err(|e| Error::io("starting the archiver", e))?,
            ),
            _ => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                stop,
                tx: Mutex::new(tx),
                writer: Mutex::new(Some(handle)),
                archiver: Mutex::new(archiver),
                metrics: Arc::default(),
                pipeline: options.pipeline.clone(),
                dir: dir.to_owned(),
                truncated_on_open: recovered.truncated,
                indexed_on_open: recovered.indexed,
                _lock: lock,
                _temp: None,
            }),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Size and shape of the store.
    pub fn stats(&self) -> Result<FileStats> {
        let segments = read(&self.inner.shared.segments).values().cloned().collect::<Vec<_>>();
        let sizes = segments.iter().map(|f| f.len()).collect::<std::io::Result<Vec<u64>>>().map_err(|e| Error::io("sizing segments", e))?;
        let mut headers = Vec::with_capacity(segments.len());
        for file in &segments {
            let mut buf = [0u8; crate::format::SEGMENT_HEADER_LEN];
            let header = file.read_exact_at(&mut buf, 0).ok().and_then(|()| crate::format::SegmentHeader::decode(&buf).ok());
            headers.push(header);
        }
        let sealed = segments.len().saturating_sub(1);
        let numbers: Vec<u32> = read(&self.inner.shared.segments).keys().copied().collect();
        let archived: Vec<bool> = numbers.iter().map(|no| self.inner.shared.storage.is_archived(*no)).collect();
        let index = read(&self.inner.shared.index);
        let tail_first = headers.last().copied().flatten().map_or(index.len() + 1, |h| h.first_position);
        Ok(FileStats {
            events: index.visible_head(),
            streams: index.stream_count(),
            segments: segments.len(),
            bytes: sizes.iter().sum(),
            truncated_on_open: self.inner.truncated_on_open,
            indexed_on_open: self.inner.indexed_on_open,
            sealed_segments: sealed,
            sealed_bytes: sizes.iter().take(sealed).sum(),
            sealed_events: tail_first.saturating_sub(1),
            compressed_segments: headers.iter().take(sealed).filter(|h| h.is_some_and(|h| h.compressed)).count(),
            archived_segments: archived.iter().filter(|a| **a).count(),
            archived_bytes: sizes.iter().zip(&archived).filter(|(_, a)| **a).map(|(b, _)| b).sum(),
        })
    }

    /// Rewrites every sealed segment compressed, without what is invisible
    /// forever: events of tombstoned and soft-deleted streams and events
    /// outside their stream's retention (`max_age`, `max_count`,
    /// `truncate_before`) at this moment, and superseded snapshots. Removed
    /// events keep their position and version (nothing else moves) and
    /// stay invisible even if retention is relaxed later. Runs alongside
    /// reads and appends; a crash at any point loses nothing (see
    /// `docs/ARCHITECTURE.md`). `progress(done, total)` counts segments.
    /// The segment being appended to is never rewritten.
    pub fn scavenge(&self, progress: impl FnMut(usize, usize)) -> Result<crate::ScavengeReport> {
        self.scavenge_scope(crate::scavenge::Scope::All, progress)
    }

    /// A [`scavenge`](Self::scavenge) of only the sealed segments that hold
    /// an event hidden for good and still stored (what a retention pass
    /// just cut): the others are not read. Superseded snapshots are dropped
    /// only from the segments it rewrites.
    pub fn reclaim(&self, progress: impl FnMut(usize, usize)) -> Result<crate::ScavengeReport> {
        self.scavenge_scope(crate::scavenge::Scope::Hidden, progress)
    }

    fn scavenge_scope(&self, scope: crate::scavenge::Scope, progress: impl FnMut(usize, usize)) -> Result<crate::ScavengeReport> {
        if self.inner.tx.lock().unwrap_or_else(PoisonError::into_inner).is_none() {
            return Err(Error::Unavailable { reason: "the store is open read-only; scavenge needs the writer".into() });
        }
        crate::scavenge::scavenge(&self.inner.shared, scope, progress)
    }

    async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        self.inner.shared.check_writable()?;
        let (tx, rx) = oneshot::channel();
        let sent = self.inner.tx.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(|s| s.send(make(tx)));
        let gone = || Error::Unavailable { reason: "the store is read-only or its writer has stopped".into() };
        match sent {
            Some(Ok(())) => rx.await.map_err(|_| gone())?,
            _ => Err(gone()),
        }
    }

    fn entries<'a>(&self, list: impl IntoIterator<Item = &'a IndexedEvent<crate::shared::Loc>>) -> Vec<IndexedEvent<crate::shared::Loc>> {
        list.into_iter().cloned().collect()
    }
}

#[async_trait]
impl EventStore for FileStore {
    async fn append_with(&self, context: &AppendContext, request: AppendRequest) -> Result<Vec<AppendResult>> {
        let inner = &self.inner;
        let commit = |prepared, want_events| self.send(move |reply| Command::Append { append: prepared, want_events, reply });
        inner.pipeline.run(context, request, &inner.metrics, commit).await
    }

    async fn read_stream(&self, stream: &StreamId, options: ReadStream) -> Result<Vec<RecordedEvent>> {
        // Reads run inline (no I/O wait on a warm cache), so a loop of reads
        // would never yield: let other tasks (appenders woken by the
        // writer) run first.
        tokio::task::yield_now().await;
        let segments = self.inner.shared.segments();
        let entries = self.entries(read(&self.inner.shared.index).read_stream(stream, options)?);
        let events = read_events(&segments, &entries)?;
        self.inner.metrics.record_read(events.len());
        Ok(events)
    }

    async fn read_all(&self, read_all: &ReadAll) -> Result<EventPage> {
        // Reads run inline (no I/O wait on a warm cache), so a loop of reads
        // would never yield: let other tasks (appenders woken by the
        // writer) run first.
        tokio::task::yield_now().await;
        let segments = self.inner.shared.segments();
        let (entries, next, head) = {
            let index = read(&self.inner.shared.index);
            let page = index.read_all(read_all)?;
            (self.entries(page.entries), page.next, page.head)
        };
        let events = read_events(&segments, &entries)?;
        self.inner.metrics.record_read(events.len());
        Ok(EventPage { events, next, head })
    }

    async fn get_event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>> {
        // Reads run inline (no I/O wait on a warm cache), so a loop of reads
        // would never yield: let other tasks (appenders woken by the
        // writer) run first.
        tokio::task::yield_now().await;
        let segments = self.inner.shared.segments();
        let entry = read(&self.inner.shared.index).get(&event_id).cloned();
        let events = read_events(&segments, &entry.into_iter().collect::<Vec<_>>())?;
        self.inner.metrics.record_read(events.len());
        Ok(events.into_iter().next())
    }

    async fn head(&self) -> Result<u64> {
        Ok(read(&self.inner.shared.index).visible_head())
    }

    async fn subscribe(&self, from: SubscribeFrom, filter: Filter) -> Result<Subscription> {
        let gauge = self.inner.metrics.subscription_opened();
        Ok(Subscription::spawn(Arc::new(self.clone()), self.inner.shared.head.subscribe(), from, filter, gauge))
    }

    async fn list_streams(&self, query: &ListStreams) -> Result<StreamPage> {
        read(&self.inner.shared.index).list_streams(query)
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<StreamInfo> {
        Ok(read(&self.inner.shared.index).visible_stream_info(stream))
    }

    async fn set_stream_metadata(&self, stream: &StreamId, metadata: StreamMetadata) -> Result<()> {
        metadata.validate()?;
        self.send(|tx| Command::Metadata(stream.clone(), metadata, tx)).await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, mode: DeleteMode) -> Result<()> {
        self.send(|tx| Command::Delete(stream.clone(), expected, mode, tx)).await
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.send(|tx| Command::Snapshot(snapshot, tx)).await
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>> {
        let Some(snap) = read(&self.inner.shared.snapshots).get(stream).copied() else { return Ok(None) };
        crate::export::snapshot_at(&self.inner.shared, stream, snap).map(Some)
    }

    async fn export_log(&self, range: ExportRange) -> Result<LogReader> {
        let (tx, reader) = LogReader::channel(1024);
        let shared = self.inner.shared.clone();
        std::thread::Builder::new()
            .name("chronicle-export".into())
            .spawn(move || crate::export::run(&shared, range, &tx))
            .map_err(|e| Error::io("starting the export thread", e))?;
        Ok(reader)
    }

    async fn import_log(&self, items: Vec<LogItem>) -> Result<()> {
        let items = GroupProgress::as_snapshots(items, |s| read(&self.inner.shared.snapshots).get(s).map(|l| l.version))?;
        self.send(|tx| Command::Import(items, tx)).await
    }

    async fn save_checkpoint(&self, consumer: &str, position: u64) -> Result<()> {
        validate_consumer_name(consumer)?;
        self.send(|tx| Command::Checkpoint(consumer.to_owned(), position, tx)).await
    }

    async fn load_checkpoint(&self, consumer: &str) -> Result<Option<u64>> {
        validate_consumer_name(consumer)?;
        Ok(read(&self.inner.shared.index).checkpoint(consumer))
    }

    async fn health(&self) -> Health {
        match self.inner.shared.failure() {
            None => Health::ok(format!("file backend at {}", self.inner.dir.display())),
            Some(reason) => {
                Health { live: true, ready: false, detail: format!("writes stopped after an I/O failure: {reason}; reopen the store") }
            }
        }
    }

    async fn metrics(&self) -> StoreMetrics {
        self.inner.metrics.snapshot(read(&self.inner.shared.index).visible_head())
    }
}
