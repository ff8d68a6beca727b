//! The one-node-at-a-time side of PostgreSQL groups: for each group, the
//! node holding the lease `group:{name}` feeds it from the log (rows for
//! what its filter wants, its read position moved in the same
//! transaction) and keeps house every half second: overdue leases back to
//! pending, consumers of dead nodes reaped, spent events parked, replayed
//! parked events picked up. Every node runs the supervisor, so when the
//! holder dies another node takes over within a second or two.

use crate::{
    GroupError, Result,
    group::BUFFER,
    pg::Shared,
    pump::{Intake, feed, wanted},
};
use chronicle_core::{Filter, ParkingView, RecordedEvent};
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::task::JoinHandle;

/// How often the supervisor looks for new and deleted groups.
const SUPERVISE: Duration = Duration::from_secs(1);
/// How often the lease holder keeps house.
const HOUSEKEEPING: Duration = Duration::from_millis(500);
/// A consumer silent this long is taken for dead (its node crashed): a
/// connected consumer's node heartbeats it every 100 ms, even while the
/// consumer's room is full.
const STALE: Duration = Duration::from_secs(10);

/// The lease of the node that feeds `group`.
pub(crate) fn lease_name(group: &str) -> String {
    format!("group:{group}")
}

/// Runs a feeder task per group on this node (each waits for its lease).
pub(crate) async fn supervise(shared: Arc<Shared>) {
    let mut feeders: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        match shared.rows.list().await {
            Ok(groups) => {
                feeders.retain(|name, task| {
                    let keep = groups.iter().any(|(n, _)| n == name) && !task.is_finished();
                    if !keep {
                        task.abort();
                    }
                    keep
                });
                for (name, spec) in groups {
                    if let std::collections::hash_map::Entry::Vacant(slot) = feeders.entry(name) {
                        let task = tokio::spawn(run(shared.clone(), slot.key().clone(), spec));
                        slot.insert(task);
                    }
                }
            }
            Err(e) => tracing::warn!("listing consumer groups: {e}"),
        }
        tokio::time::sleep(SUPERVISE).await;
    }
}

/// Takes the group's lease whenever it is free, then feeds and keeps
/// house until the lease is lost or the store fails.
async fn run(shared: Arc<Shared>, name: String, spec: String) {
    let filter = match Shared::spec_of(&spec).and_then(|s| s.check()) {
        Ok(filter) => filter,
        Err(e) => return tracing::error!(group = name, "cannot feed this consumer group: {e}"),
    };
    let intake = PgIntake { shared: shared.clone(), name: name.clone(), filter };
    loop {
        match shared.leases.try_acquire(&lease_name(&name), &shared.node).await {
            Ok(Some(mut lease)) => {
                tracing::info!(group = name, "feeding this consumer group");
                tokio::select! {
                    fed = feed(shared.store.as_ref(), &intake) => if let Err(e) = fed {
                        tracing::warn!(group = name, "feeding a consumer group: {e}");
                    },
                    () = keep_house(&shared, &name) => {}
                    () = lease.lost() => tracing::warn!(group = name, "lost the feeding lease"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(group = name, "taking the feeding lease: {e}"),
        }
        tokio::time::sleep(SUPERVISE).await;
    }
}

struct PgIntake {
    shared: Arc<Shared>,
    name: String,
    filter: Filter,
}

impl PgIntake {
    async fn fill(&self) -> Result<(u64, u64)> {
        self.shared.rows.fill(&self.name).await?.ok_or_else(|| GroupError::Deleted(self.name.clone()))
    }
}

impl Intake for PgIntake {
    /// Waits while the group holds `BUFFER` unhandled rows: an ack on this
    /// node wakes it at once, acks on others within 200 ms.
    async fn room(&self) -> Result<u64> {
        let wake = self.shared.wake(&self.name);
        loop {
            let acked = wake.notified();
            tokio::pin!(acked);
            acked.as_mut().enable();
            let (read_through, buffered) = self.fill().await?;
            if buffered < BUFFER as u64 {
                return Ok(read_through);
            }
            tokio::select! {
                () = acked => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    async fn take(&self, events: Vec<RecordedEvent>, scanned: Option<u64>) -> Result<()> {
        let last = events.last().map(|e| e.global_position).into_iter().chain(scanned).max();
        let Some(last) = last else { return Ok(()) };
        let rows: Vec<&RecordedEvent> = events.iter().filter(|e| wanted(&self.filter, e)).collect();
        match self.shared.rows.feed(&self.name, &rows, last).await {
            Err(chronicle_core::Error::NotFound { .. }) => return Err(GroupError::Deleted(self.name.clone())),
            other => other?,
        }
        if !rows.is_empty() {
            self.shared.wake(&self.name).notify_waiters();
        }
        Ok(())
    }
}

async fn keep_house(shared: &Shared, name: &str) {
    let mut view = ParkingView::default();
    loop {
        tokio::time::sleep(HOUSEKEEPING).await;
        if let Err(e) = house_round(shared, name, &mut view).await {
            tracing::warn!(group = name, "consumer group housekeeping: {e}");
        }
    }
}

async fn house_round(shared: &Shared, name: &str, view: &mut ParkingView) -> Result<()> {
    let rows = &shared.rows;
    let Some(spec) = shared.spec(name).await? else { return Ok(()) };
    let mut woke = rows.expire(name).await? > 0;
    woke |= !rows.reap(name, STALE).await?.is_empty();
    let spent = rows.over_limit(name, spec.max_retries).await?;
    shared.park(name, spent, "not acknowledged in time, or its consumer left, too often").await?;
    // Replays an operator asked for: delivered once more.
    let lot = shared.lot(name)?;
    lot.refresh(view).await?;
    let queue: Vec<_> = view.replay_queue().iter().map(|e| e.event_id).collect();
    if !queue.is_empty() {
        let held = rows.held(name, &queue).await?;
        for id in queue.into_iter().filter(|id| !held.contains(id)) {
            match shared.store.get_event(id).await? {
                Some(event) => rows.insert_replay(name, &event).await?,
                None => lot.redelivered(id).await?, // gone from the store: nothing to deliver
            }
            woke = true;
        }
    }
    if woke {
        shared.wake(name).notify_waiters();
    }
    Ok(())
}
