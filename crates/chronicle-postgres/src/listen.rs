//! Follows the head: `LISTEN` on a dedicated connection (woken on every
//! commit), plus a bounded poll (every 250 ms) as a safety net for missed
//! notifications and reconnects. After a lost connection (a restart of
//! the server) it connects again every 500 ms and reads the head once
//! listening, so subscribers resume from their own positions with nothing
//! skipped.

use chronicle_core::ConnectionStats;
use deadpool_postgres::Pool;
use futures_util::StreamExt;
use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    time::Duration,
};
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

const POLL: Duration = Duration::from_millis(250);

/// Connections opened and lost, and wake-ups by `NOTIFY`, of one store.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    opened: AtomicU64,
    reconnects: AtomicU64,
    notify_wakeups: AtomicU64,
    listening: AtomicBool,
    /// When (µs since `epoch`) a NOTIFY last raised the head: another
    /// process committed (this one's commits raise it before their NOTIFY).
    last_foreign_commit: AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
    /// `:` and a random id: the suffix of this store's NOTIFY payloads.
    tag: std::sync::OnceLock<String>,
}

impl Counters {
    /// A connection was opened.
    pub(crate) fn opened(&self) {
        self.opened.fetch_add(1, Relaxed);
    }

    /// A connection was found closed by the server and replaced.
    pub(crate) fn lost(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    /// The suffix this store's commits put after the head in their NOTIFY.
    pub(crate) fn tag(&self) -> &str {
        self.tag.get_or_init(|| format!(":{}", chronicle_core::Uuid::now_v7().simple()))
    }

    fn now_micros(&self) -> u64 {
        self.epoch.get_or_init(std::time::Instant::now).elapsed().as_micros() as u64
    }

    /// Whether another process committed to this schema within `window`
    /// (the head row is contended: see `commit`'s linger).
    pub(crate) fn others_committing(&self, window: Duration) -> bool {
        let last = self.last_foreign_commit.load(Relaxed);
        last != 0 && self.now_micros().saturating_sub(last) <= window.as_micros() as u64
    }

    /// The counters (pool and breaker fields left to the store).
    pub(crate) fn snapshot(&self) -> ConnectionStats {
        ConnectionStats {
            opened: self.opened.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            notify_wakeups: self.notify_wakeups.load(Relaxed),
            listening: self.listening.load(Relaxed),
            ..ConnectionStats::default()
        }
    }
}

fn raise(head: &watch::Sender<u64>, to: u64) -> bool {
    head.send_if_modified(|h| std::mem::replace(h, (*h).max(to)) < to)
}

/// The channel name for a schema.
pub(crate) fn channel(schema: &str) -> String {
    format!("{schema}_head")
}

/// Reads the head row through the pool and raises the watch to it.
async fn poll_head(pool: &Pool, schema: &str, head: &watch::Sender<u64>) {
    if let Ok(client) = pool.get().await
        && let Ok(position) = crate::store::read_head(&client, schema).await
    {
        raise(head, position);
    }
}

pub(crate) fn spawn(
    connector: crate::Connector,
    schema: String,
    pool: Pool,
    head: watch::Sender<u64>,
    counters: std::sync::Arc<Counters>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let poll = {
            let (pool, head, schema) = (pool.clone(), head.clone(), schema.clone());
            async move {
                loop {
                    tokio::time::sleep(POLL).await;
                    poll_head(&pool, &schema, &head).await;
                }
            }
        };
        let listen = async move {
            let mut connected_before = false;
            loop {
                if let Ok((client, mut conn)) = connector.config().connect(connector.tls()).await {
                    counters.opened();
                    if std::mem::replace(&mut connected_before, true) {
                        counters.lost();
                    }
                    let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                    let statement = format!("LISTEN {}", channel(&schema));
                    let listening = async {
                        if client.batch_execute(&statement).await.is_ok() {
                            counters.listening.store(true, Relaxed);
                            // What committed while nobody listened.
                            poll_head(&pool, &schema, &head).await;
                        }
                    };
                    let drive = async {
                        while let Some(Ok(message)) = messages.next().await {
                            if let AsyncMessage::Notification(n) = message {
                                // `head` or `head:sender` (an older node sends no sender).
                                let (position, sender) = n.payload().split_at(n.payload().find(':').unwrap_or(n.payload().len()));
                                if sender != counters.tag() {
                                    counters.last_foreign_commit.store(counters.now_micros().max(1), Relaxed);
                                }
                                if let Ok(position) = position.parse::<u64>()
                                    && raise(&head, position)
                                {
                                    counters.notify_wakeups.fetch_add(1, Relaxed);
                                }
                            }
                        }
                    };
                    // The LISTEN completes only while the connection is driven.
                    let ((), ()) = tokio::join!(listening, drive);
                    counters.listening.store(false, Relaxed);
                    tracing::warn!("the postgres change feed (LISTEN {}) lost its connection; reconnecting", channel(&schema));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        };
        tokio::join!(poll, listen);
    })
}
