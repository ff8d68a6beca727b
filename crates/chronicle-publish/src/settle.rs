//! The slow path: a failed delivery is retried with backoff; a batch that
//! keeps failing is bisected so only the failing event lands in the DLQ;
//! a full DLQ pauses the sink (never drops); a broker that is down is
//! reconnected forever without touching the DLQ.

use super::{Leader, Prepared};
use crate::{DlqEntry, Outgoing, sink::SinkError, status::RelayState};
use chronicle_core::{RecordedEvent, Result};
use std::{future::Future, pin::Pin, time::Duration};

/// How often a paused sink re-reads its DLQ.
const PAUSE_POLL: Duration = Duration::from_millis(500);

impl Leader {
    /// Settles a batch whose first delivery failed with `error`, then
    /// marks everything through `through` handled.
    pub(super) async fn settle(&mut self, batch: Vec<Outgoing>, through: u64, error: SinkError) -> Result<()> {
        match error {
            SinkError::Connection(e) => {
                self.reconnect(Some(e)).await;
                self.settle_all(batch, through).await
            }
            SinkError::Rejected(e) => {
                self.failed(&e);
                self.retry_then_split(batch, 1, e).await?;
                self.handled_through(through).await;
                Ok(())
            }
        }
    }

    /// Delivers `batch` on the slow path (nothing sent yet), then marks
    /// everything through `through` handled.
    pub(super) async fn settle_all(&mut self, batch: Vec<Outgoing>, through: u64) -> Result<()> {
        if !batch.is_empty() {
            match self.try_once(&batch).await {
                Ok(()) => {}
                Err(e) => self.retry_then_split(batch, 1, e).await?,
            }
        }
        self.handled_through(through).await;
        Ok(())
    }

    fn failed(&self, error: &str) {
        self.relay.status.update(|c| {
            c.failures += 1;
            c.last_error = Some(error.to_owned());
        });
    }

    /// Reconnects until it works, backing off (the sink stays
    /// `disconnected`; nothing goes to the DLQ).
    pub(super) async fn reconnect(&mut self, cause: Option<String>) {
        let backoff = self.relay.config.backoff();
        if let Some(cause) = cause {
            // Consecutive outages back off (a sink whose connect always
            // succeeds, like a webhook, must not spin); a delivery resets it.
            self.outage += 1;
            if self.outage == 1 {
                tracing::warn!(sink = self.name(), "broker unreachable (retrying until it is back): {cause}");
            }
            self.error(cause);
            self.set_state(RelayState::Disconnected);
            tokio::time::sleep(backoff.delay(self.outage)).await;
        }
        loop {
            match self.sink.connect().await {
                Ok(()) => return,
                Err(e) => {
                    self.outage += 1;
                    if self.outage == 1 {
                        tracing::warn!(sink = self.name(), "broker unreachable (retrying until it is back): {e}");
                    }
                    self.error(e.to_string());
                    self.set_state(RelayState::Disconnected);
                    tokio::time::sleep(backoff.delay(self.outage)).await;
                }
            }
        }
    }

    /// One delivery of `batch`, waiting out any broker outage; `Err` is
    /// the rejection.
    async fn try_once(&mut self, batch: &[Outgoing]) -> Result<(), String> {
        loop {
            let outcome = match self.sink.send(batch).await {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(acked) => {
                    let through = batch.last().map_or(self.handled, Outgoing::position);
                    self.delivered(batch, acked, through).await;
                    return Ok(());
                }
                Err(SinkError::Connection(e)) => self.reconnect(Some(e)).await,
                Err(SinkError::Rejected(e)) => return Err(e),
            }
        }
    }

    /// Retries `batch` up to `max_retries` times with growing delays
    /// (`done` attempts were made); a single event then goes to the DLQ,
    /// a batch is bisected.
    fn retry_then_split(
        &mut self,
        batch: Vec<Outgoing>,
        done: u32,
        error: String,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        Box::pin(async move {
            let (max, backoff) = (self.relay.config.toml.max_retries, self.relay.config.backoff());
            let (mut attempts, mut error) = (done, error);
            while attempts <= max {
                self.set_state(RelayState::Retrying);
                tokio::time::sleep(backoff.delay(attempts)).await;
                match self.try_once(&batch).await {
                    Ok(()) => {
                        self.set_state(RelayState::Running);
                        return Ok(());
                    }
                    Err(e) => {
                        self.failed(&e);
                        (attempts, error) = (attempts + 1, e);
                    }
                }
            }
            self.set_state(RelayState::Running);
            if let [single] = batch.as_slice() {
                return self.dead_letter(&single.event, attempts, error).await;
            }
            let mut left = batch;
            let right = left.split_off(left.len() / 2);
            for half in [left, right] {
                self.bisect(half).await?;
            }
            Ok(())
        })
    }

    /// One attempt of a half; a failing half is split further, a failing
    /// single event gets its retries.
    fn bisect(&mut self, half: Vec<Outgoing>) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        Box::pin(async move {
            match self.try_once(&half).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    self.failed(&e);
                    if half.len() == 1 {
                        return self.retry_then_split(half, 1, e).await;
                    }
                    let mut left = half;
                    let right = left.split_off(left.len() / 2);
                    self.bisect(left).await?;
                    self.bisect(right).await
                }
            }
        })
    }

    /// Puts `event` in the DLQ, waiting (paused) while the DLQ is full.
    pub(super) async fn dead_letter(&mut self, event: &RecordedEvent, attempts: u32, last_error: String) -> Result<()> {
        let Some(dlq) = self.dlq.clone() else { return Ok(()) };
        let max = self.relay.config.toml.dlq_max;
        let mut warned = false;
        loop {
            self.refresh_dlq().await?;
            if self.view.size() < max {
                break;
            }
            if !warned {
                tracing::error!(
                    sink = self.name(),
                    "the dead-letter queue is full ({max}): pausing until entries are replayed or discarded"
                );
                warned = true;
            }
            self.set_state(RelayState::PausedDlqFull);
            self.save_checkpoint().await;
            tokio::select! {
                () = tokio::time::sleep(PAUSE_POLL) => {}
                () = self.relay.wake.notified() => {}
            }
        }
        tracing::warn!(sink = self.name(), position = event.global_position, "dead-lettered after {attempts} attempt(s): {last_error}");
        let entry = DlqEntry {
            event_id: event.event_id,
            position: event.global_position,
            stream_id: event.stream_id.to_string(),
            event_type: event.event_type.to_string(),
            attempts,
            last_error,
            dead_lettered_at: None,
        };
        dlq.add(&entry).await.map_err(super::into_core)?;
        self.relay.status.update(|c| c.dead_lettered += 1);
        self.refresh_dlq().await?;
        self.set_state(RelayState::Running);
        Ok(())
    }

    /// Delivers every replayed entry once more (out of global order: they
    /// are late by nature), recording each as redelivered.
    pub(super) async fn redeliver_replays(&mut self) -> Result<()> {
        let Some(dlq) = self.dlq.clone() else { return Ok(()) };
        self.refresh_dlq().await?;
        let queue = self.view.replay_queue().to_vec();
        for entry in queue {
            match self.relay.store.get_event(entry.event_id).await? {
                None => tracing::warn!(sink = self.name(), "replayed event {} is no longer stored", entry.event_id),
                Some(event) => match self.prepare(event) {
                    None => {}
                    Some(Prepared::Refused(event, reason)) => {
                        self.dead_letter(&event, 0, format!("refused by a publish hook: {reason}")).await?;
                    }
                    Some(Prepared::Deliver(m)) => {
                        let batch = vec![m];
                        if let Err(e) = self.try_once(&batch).await {
                            self.failed(&e);
                            self.retry_then_split(batch, 1, e).await?;
                        }
                    }
                },
            }
            dlq.redelivered(entry.event_id).await.map_err(super::into_core)?;
        }
        self.refresh_dlq().await
    }
}
