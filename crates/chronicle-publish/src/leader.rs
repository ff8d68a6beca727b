//! The leading relay of a sink: a pipelined pump from the checkpoint,
//! and the slow path a failed delivery takes (retries with backoff, then
//! bisection of a batch, then the DLQ).
//!
//! Order and the checkpoint: batches are acknowledged in send order; the
//! checkpoint only moves past a position once everything up to it was
//! acknowledged, skipped or dead-lettered. After any failure the pump
//! restarts from the first unacknowledged position, so nothing is
//! skipped and repeats (which carry the same event id) are possible.

use crate::{
    Dlq, DlqView, Outgoing, Relay, Verdict,
    relay::checkpoint_name,
    sink::{self, Ack, Acked, Sink, SinkError},
    status::RelayState,
};
use chronicle_core::{Filter, RecordedEvent, Result, SubscribeFrom, Subscription};
use futures_util::FutureExt;
use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// Checkpoints are saved at most this often while delivering (and always
/// when the relay stops).
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// How often the DLQ is re-read (for replays and its size).
const DLQ_POLL: Duration = Duration::from_millis(500);

/// An event after the hooks: deliver it, or dead-letter it at once.
enum Prepared {
    Deliver(Outgoing),
    Refused(RecordedEvent, String),
}

/// What came off the subscription for one send.
struct Gathered {
    batch: Vec<Outgoing>,
    /// The last position taken (delivered, skipped or refused).
    through: u64,
    /// An event a hook refused (it ends the batch).
    refused: Option<(RecordedEvent, String)>,
}

struct InFlight {
    batch: Vec<Outgoing>,
    /// Everything up to here is handled once this batch is acknowledged.
    through: u64,
    ack: Ack,
}

/// Why the pump stopped.
enum Stop {
    /// A batch failed: settle it, then restart after it.
    Failed { batch: Vec<Outgoing>, through: u64, error: SinkError },
    /// DLQ entries wait for redelivery: redeliver, then restart.
    Replays,
    /// Restart from the first unhandled position.
    Restart,
}

pub(crate) struct Leader {
    relay: Relay,
    sink: Box<dyn Sink>,
    dlq: Option<Dlq>,
    view: DlqView,
    handled: u64,
    saved: u64,
    last_save: Instant,
    /// Consecutive connection failures (0: connected and delivering).
    outage: u32,
}

impl Leader {
    pub(crate) fn new(relay: Relay) -> Self {
        let sink = sink::from_config(&relay.config);
        let dlq = Dlq::new(relay.store.clone(), relay.config.name()).ok();
        Self { relay, sink, dlq, view: DlqView::default(), handled: 0, saved: 0, last_save: Instant::now(), outage: 0 }
    }

    fn name(&self) -> &str {
        self.relay.config.name()
    }

    fn set_state(&self, state: RelayState) {
        self.relay.status.set_state(state);
    }

    fn error(&self, message: String) {
        self.relay.status.update(|c| c.last_error = Some(message));
    }

    /// Leads until cancelled (lease lost, shutdown). Store errors are
    /// logged and retried after a pause.
    pub(crate) async fn lead(&mut self) {
        loop {
            if let Err(e) = self.lead_once().await {
                tracing::error!(sink = self.name(), "relay: {e}");
                self.error(format!("store: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn lead_once(&mut self) -> Result<()> {
        let checkpoint = self.relay.store.load_checkpoint(&checkpoint_name(self.name())).await?.unwrap_or(0);
        (self.handled, self.saved) = (checkpoint, checkpoint);
        self.relay.status.update(|c| c.position = checkpoint);
        self.refresh_dlq().await?;
        self.set_state(RelayState::Connecting);
        self.reconnect(None).await;
        loop {
            self.set_state(RelayState::Running);
            match self.pump().await? {
                Stop::Failed { batch, through, error } => self.settle(batch, through, error).await?,
                Stop::Replays => self.redeliver_replays().await?,
                Stop::Restart => {}
            }
        }
    }

    /// Saves the checkpoint if it moved.
    pub(crate) async fn save_checkpoint(&mut self) {
        if self.handled == self.saved {
            return;
        }
        match self.relay.store.save_checkpoint(&checkpoint_name(self.name()), self.handled).await {
            Ok(()) => self.saved = self.handled,
            Err(e) => self.error(format!("saving the checkpoint: {e}")),
        }
        self.last_save = Instant::now();
    }

    async fn handled_through(&mut self, position: u64) {
        self.handled = self.handled.max(position);
        self.relay.status.update(|c| c.position = self.handled);
        if self.last_save.elapsed() >= SAVE_EVERY {
            self.save_checkpoint().await;
        }
    }

    async fn refresh_dlq(&mut self) -> Result<()> {
        if let Some(dlq) = &self.dlq {
            dlq.refresh(&mut self.view).await.map_err(into_core)?;
            let size = self.view.size();
            self.relay.status.update(|c| c.dlq_size = size);
        }
        Ok(())
    }

    fn prepare(&self, mut event: RecordedEvent) -> Option<Prepared> {
        if event.stream_id.as_str().starts_with('$') {
            return None; // system streams are not integration events
        }
        match self.relay.hooks.before(self.name(), &mut event) {
            Verdict::Skip => None,
            Verdict::Fail(reason) => Some(Prepared::Refused(event, reason)),
            Verdict::Deliver => {
                let subject = self.relay.config.subject.render(&event);
                Some(Prepared::Deliver(Outgoing::new(event, subject)))
            }
        }
    }

    /// The fast path: subscribe from the first unhandled position and
    /// keep up to `window` batches unacknowledged.
    async fn pump(&mut self) -> Result<Stop> {
        let from = SubscribeFrom::Position(self.handled + 1);
        let mut events = self.relay.store.subscribe(from, Filter::default()).await?;
        let mut window: VecDeque<InFlight> = VecDeque::new();
        let (batch_size, limit) = (self.sink.batch_size().max(1), self.sink.window().max(1));
        let mut tick = tokio::time::interval(DLQ_POLL);
        loop {
            tokio::select! {
                biased;
                acked = async { (&mut window.front_mut().expect("guarded by the condition").ack).await }, if !window.is_empty() => {
                    let Some(done) = window.pop_front() else { continue };
                    match acked {
                        Ok(acked) => self.delivered(&done.batch, acked, done.through).await,
                        Err(error) => return Ok(Stop::Failed { batch: done.batch, through: done.through, error }),
                    }
                }
                _ = tick.tick() => {
                    self.refresh_dlq().await?;
                    if !self.view.replay_queue().is_empty() {
                        if let Err(stop) = self.drain_or_stop(&mut window).await {
                            return Ok(stop);
                        }
                        return Ok(Stop::Replays);
                    }
                }
                () = self.relay.wake.notified() => tick.reset_immediately(),
                next = events.next(), if window.len() < limit => {
                    let Gathered { batch, through, refused } = self.gather(next, &mut events, batch_size)?;
                    if let Some((event, reason)) = refused {
                        // Everything before it first, in order; then the DLQ.
                        self.drain(&mut window).await?;
                        self.settle_all(batch, through.saturating_sub(1)).await?;
                        self.dead_letter(&event, 0, format!("refused by a publish hook: {reason}")).await?;
                        self.handled_through(through).await;
                        return Ok(Stop::Restart);
                    }
                    if batch.is_empty() {
                        // Only skipped events: they are handled once what is in flight is.
                        match window.back_mut() {
                            Some(last) => last.through = through,
                            None => self.handled_through(through).await,
                        }
                        continue;
                    }
                    match self.sink.send(&batch).await {
                        Ok(ack) => window.push_back(InFlight { batch, through, ack }),
                        Err(error) => {
                            // Earlier batches may still be acknowledged; settle them first.
                            if let Err(stop) = self.drain_or_stop(&mut window).await {
                                return Ok(stop);
                            }
                            return Ok(Stop::Failed { batch, through, error });
                        }
                    }
                }
            }
        }
    }

    /// Takes `first` and whatever else is ready now, up to `batch_size`
    /// deliverable events, stopping early at an event a hook refused.
    fn gather(&self, first: Option<Result<RecordedEvent>>, events: &mut Subscription, batch_size: usize) -> Result<Gathered> {
        let mut gathered = Gathered { batch: Vec::new(), through: 0, refused: None };
        let mut next = first;
        loop {
            let Some(event) = next else {
                return Err(chronicle_core::Error::Unavailable { reason: "the store shut down".into() });
            };
            let event = event?;
            gathered.through = event.global_position;
            match self.prepare(event) {
                None => self.relay.status.update(|c| c.skipped += 1),
                Some(Prepared::Deliver(m)) => gathered.batch.push(m),
                Some(Prepared::Refused(event, reason)) => {
                    gathered.refused = Some((event, reason));
                    return Ok(gathered);
                }
            }
            if gathered.batch.len() >= batch_size {
                return Ok(gathered);
            }
            match events.next().now_or_never() {
                Some(more) => next = more,
                None => return Ok(gathered),
            }
        }
    }

    /// Awaits every in-flight batch in order; the first failure becomes
    /// the stop (later batches are resent after it).
    async fn drain_or_stop(&mut self, window: &mut VecDeque<InFlight>) -> Result<(), Stop> {
        while let Some(done) = window.pop_front() {
            match done.ack.await {
                Ok(acked) => self.delivered(&done.batch, acked, done.through).await,
                Err(error) => return Err(Stop::Failed { batch: done.batch, through: done.through, error }),
            }
        }
        Ok(())
    }

    /// Like [`Leader::drain_or_stop`], settling a failure on the spot and
    /// then resending, on the slow path, what was in flight behind it.
    async fn drain(&mut self, window: &mut VecDeque<InFlight>) -> Result<()> {
        if let Err(Stop::Failed { batch, through, error }) = self.drain_or_stop(window).await {
            let behind: Vec<InFlight> = window.drain(..).collect();
            self.settle(batch, through, error).await?;
            for rest in behind {
                self.settle_all(rest.batch, rest.through).await?;
            }
        }
        Ok(())
    }

    async fn delivered(&mut self, batch: &[Outgoing], acked: Acked, through: u64) {
        if self.outage > 0 {
            tracing::info!(sink = self.name(), "delivering again after {} failed connection attempt(s)", self.outage);
            self.outage = 0;
            self.set_state(RelayState::Running);
        }
        let events: Vec<RecordedEvent> = batch.iter().map(|m| m.event.clone()).collect();
        self.relay.hooks.after(self.name(), &events);
        self.relay.status.update(|c| {
            c.delivered += batch.len() as u64;
            c.duplicates += acked.duplicates;
        });
        self.handled_through(through).await;
    }
}

fn into_core(e: crate::PublishError) -> chronicle_core::Error {
    match e {
        crate::PublishError::Store(e) => e,
        other => chronicle_core::Error::Unavailable { reason: other.to_string() },
    }
}

#[path = "settle.rs"]
mod settle;
