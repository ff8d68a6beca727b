//! Catch-up-then-live subscriptions over any backend.
//!
//! One loop serves every in-process backend: it pages through
//! [`EventStore::read_all`] from the start position, and when it has seen
//! the head it sleeps on the backend's head watch (woken on commit, no
//! polling). Because it only ever moves forward by position and positions
//! become visible in order, it can neither skip nor repeat an event, and
//! the switch from catch-up to live needs no special case.

use crate::{EventStore, Filter, ReadAll, RecordedEvent, Result, SubscribeFrom, metrics::SubscriptionGauge};
use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};
use tokio::sync::{mpsc, watch};

/// Events buffered between the subscription task and the consumer; when
/// full, the task waits (backpressure).
pub const SUBSCRIPTION_BUFFER: usize = 256;

/// Events read per page while catching up.
pub const SUBSCRIPTION_PAGE: usize = 512;

/// A live subscription: yields events in position order, then waits for
/// new ones. Dropping it stops the background task.
///
/// Use [`Subscription::next`] or the [`futures_core::Stream`] impl.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Result<RecordedEvent>>,
    /// The newest head the loop has seen (0 when unknown).
    head: Arc<AtomicU64>,
}

impl Subscription {
    /// Starts the catch-up-then-live loop on the current tokio runtime.
    ///
    /// `head` must carry the store's last committed position and be
    /// updated only after the events up to it are readable.
    pub fn spawn(
        store: Arc<dyn EventStore>,
        head: watch::Receiver<u64>,
        from: SubscribeFrom,
        filter: Filter,
        gauge: SubscriptionGauge,
    ) -> Self {
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
        let seen = Arc::new(AtomicU64::new(0));
        let seen_by_loop = seen.clone();
        tokio::spawn(async move {
            let _gauge = gauge;
            if let Err(e) = run(&*store, head, from, filter, &tx, &seen_by_loop).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        Self { rx, head: seen }
    }

    /// A subscription fed by someone else (e.g. a remote client reading a
    /// WebSocket): events in position order, an `Err` last if it fails.
    pub fn from_receiver(rx: mpsc::Receiver<Result<RecordedEvent>>) -> Self {
        Self { rx, head: Arc::default() }
    }

    /// The same subscription with each event passed through `f` (by a task
    /// of its own, on the current tokio runtime; the head is shared).
    pub fn map(self, f: impl Fn(RecordedEvent) -> RecordedEvent + Send + 'static) -> Self {
        self.then(move |e| std::future::ready(Ok(f(e))))
    }

    /// The same subscription with each event passed through the
    /// asynchronous `f` (in order, by a task of its own; the head is
    /// shared). An `Err` from `f` is delivered and ends the subscription.
    pub fn then<F, Fut>(self, f: F) -> Self
    where
        F: Fn(RecordedEvent) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<RecordedEvent>> + Send,
    {
        self.pipe(move |e| {
            let next = f(e);
            async move { next.await.map(Some) }
        })
    }

    /// The same subscription without the events `keep` refuses (a caller
    /// that may read only some streams).
    pub fn retain(self, keep: impl Fn(&RecordedEvent) -> bool + Send + 'static) -> Self {
        self.pipe(move |e| std::future::ready(Ok(keep(&e).then_some(e))))
    }

    /// The same subscription with each event through `f`: `None` drops
    /// the event (a tenant's view of the log).
    pub fn filter_map(self, f: impl Fn(RecordedEvent) -> Option<RecordedEvent> + Send + 'static) -> Self {
        self.pipe(move |e| std::future::ready(Ok(f(e))))
    }

    /// Each event through `f`, in order, by a task of its own: `Ok(None)`
    /// drops the event, an `Err` is delivered and ends the subscription.
    fn pipe<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(RecordedEvent) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<Option<RecordedEvent>>> + Send,
    {
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
        let head = self.head.clone();
        tokio::spawn(async move {
            loop {
                let item = tokio::select! {
                    item = self.rx.recv() => item,
                    () = tx.closed() => return,
                };
                let Some(item) = item else { return };
                let item = match item {
                    Ok(event) => match f(event).await {
                        Ok(Some(event)) => Ok(event),
                        Ok(None) => continue,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                let last = item.is_err();
                if tx.send(item).await.is_err() || last {
                    return;
                }
            }
        });
        Self { rx, head }
    }

    /// The store's head as the subscription last saw it (when it read a
    /// page or was woken by a commit; 0 when unknown, e.g. a remote
    /// subscription): how far behind a delivered event is, without asking
    /// the store once per event.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Relaxed)
    }

    /// The next event; `None` when the store shut down. An `Err` is final.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent>> {
        self.rx.recv().await
    }
}

impl futures_core::Stream for Subscription {
    type Item = Result<RecordedEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

async fn start_position(store: &dyn EventStore, from: SubscribeFrom) -> Result<u64> {
    Ok(match from {
        SubscribeFrom::Start => 1,
        SubscribeFrom::Position(p) => p.max(1),
        SubscribeFrom::End => store.head().await? + 1,
        SubscribeFrom::Timestamp(t) => {
            let filter = Filter { since: Some(t), ..Filter::default() };
            let page = store.read_all(&ReadAll::forward().limit(1).filter(filter)).await?;
            page.events.first().map_or(page.head + 1, |e| e.global_position)
        }
    })
}

/// Delays between tries while the store is unavailable.
const UNAVAILABLE_BACKOFF: crate::Backoff = crate::Backoff::new(std::time::Duration::from_millis(100), std::time::Duration::from_secs(2));

/// Runs `op` until it succeeds or fails for good: while the store is
/// `Unavailable` (a database restarting, a lost connection) it tries again
/// with backoff, so the subscription resumes at its own position — no gap,
/// no repeat. `Ok(None)`: the subscriber left meanwhile.
async fn outlast<T, F: std::future::Future<Output = Result<T>>>(
    tx: &mpsc::Sender<Result<RecordedEvent>>,
    mut op: impl FnMut() -> F,
) -> Result<Option<T>> {
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(value) => {
                if attempt > 0 {
                    tracing::info!("subscription resumed after {attempt} failed read(s)");
                }
                return Ok(Some(value));
            }
            Err(crate::Error::Unavailable { reason }) => {
                attempt += 1;
                if attempt == 1 {
                    tracing::warn!("subscription waiting for the store: {reason}");
                }
                tokio::select! {
                    () = tokio::time::sleep(UNAVAILABLE_BACKOFF.delay(attempt)) => {}
                    () = tx.closed() => return Ok(None),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

async fn run(
    store: &dyn EventStore,
    mut head: watch::Receiver<u64>,
    from: SubscribeFrom,
    filter: Filter,
    tx: &mpsc::Sender<Result<RecordedEvent>>,
    seen: &AtomicU64,
) -> Result<()> {
    let Some(mut position) = outlast(tx, || start_position(store, from)).await? else { return Ok(()) };
    loop {
        let read = ReadAll::forward().from(position).limit(SUBSCRIPTION_PAGE).filter(filter.clone());
        let Some(page) = outlast(tx, || store.read_all(&read)).await? else { return Ok(()) };
        seen.fetch_max(page.head, Ordering::Relaxed);
        for event in page.events {
            position = event.global_position + 1;
            if tx.send(Ok(event)).await.is_err() {
                return Ok(());
            }
        }
        match page.next {
            Some(next) => position = position.max(next),
            None => {
                position = position.max(page.head + 1);
                // Caught up: sleep until something at `position` commits.
                loop {
                    let now = *head.borrow_and_update();
                    seen.fetch_max(now, Ordering::Relaxed);
                    if now >= position {
                        break;
                    }
                    tokio::select! {
                        changed = head.changed() => if changed.is_err() { return Ok(()) },
                        () = tx.closed() => return Ok(()),
                    }
                }
            }
        }
    }
}
