//! Groups that arrive with the log: a restore or a migration into
//! PostgreSQL brings the `$groups` registry and each group's progress
//! (the snapshot of `$group-{name}`), but no rows. Every node, when it
//! starts, gives each registered group without rows its rows: read
//! through where the progress says, holding exactly the events it had not
//! handled, with their retry counts — so nothing handled is delivered
//! again and nothing unhandled is lost. A store whose groups predate the
//! registry has its registry written once instead.

use crate::{GroupSpec, Progress, Result, pg::Shared, pump::wanted, registry};
use chronicle_core::{ReadAll, RecordedEvent};
use std::collections::{HashMap, HashSet};

/// Events read per page while collecting a group's unhandled events.
const PAGE: usize = 1000;

/// Gives rows to every registered group that has none.
pub(crate) async fn adopt(shared: &Shared) -> Result<()> {
    let store = shared.store.as_ref();
    let (registered, any) = registry::load(store).await?;
    let rows: HashMap<String, String> = shared.rows.list().await?.into_iter().collect();
    if !any {
        for (name, spec) in &rows {
            registry::created(store, name, &Shared::spec_of(spec)?).await?;
        }
        return Ok(());
    }
    for (name, spec) in registered.iter().filter(|(name, _)| !rows.contains_key(*name)) {
        if adopt_one(shared, name, spec).await? {
            tracing::info!(group = name, "consumer group taken over from the log (a restore or a migration)");
        }
    }
    Ok(())
}

/// Which positions up to `through` a progress leaves unhandled.
struct Unhandled {
    through: u64,
    listed: HashSet<u64>,
    /// `listed` names the unhandled positions (else the handled ones).
    lists_unhandled: bool,
}

impl Unhandled {
    fn of(p: &Progress) -> Self {
        match p.read_through {
            Some(through) => Self { through, listed: p.unhandled.iter().copied().collect(), lists_unhandled: true },
            None => {
                let through = p.acked.iter().copied().max().unwrap_or(p.checkpoint).max(p.checkpoint);
                Self { through, listed: p.acked.iter().copied().collect(), lists_unhandled: false }
            }
        }
    }

    fn holds(&self, position: u64) -> bool {
        self.listed.contains(&position) == self.lists_unhandled
    }
}

async fn adopt_one(shared: &Shared, name: &str, spec: &GroupSpec) -> Result<bool> {
    let filter = spec.check()?;
    let saved = shared.store.load_snapshot(&Progress::stream(name)?).await?;
    let progress = saved.and_then(|s| Progress::from_state(&s.state).ok()).unwrap_or_default();
    let unhandled = Unhandled::of(&progress);
    let retries: HashMap<u64, u32> = progress.retries.iter().copied().collect();
    let mut held: Vec<RecordedEvent> = Vec::new();
    let mut from = progress.checkpoint + 1;
    while from <= unhandled.through {
        let page = shared.store.read_all(&ReadAll::forward().from(from).limit(PAGE)).await?;
        let within = page.events.into_iter().take_while(|e| e.global_position <= unhandled.through);
        held.extend(within.filter(|e| wanted(&filter, e) && unhandled.holds(e.global_position)));
        match page.next {
            Some(next) => from = next,
            None => break,
        }
    }
    let rows: Vec<(&RecordedEvent, u32)> = held.iter().map(|e| (e, retries.get(&e.global_position).copied().unwrap_or(0))).collect();
    let text = serde_json::to_string(spec).map_err(|e| crate::GroupError::invalid("spec", e.to_string()))?;
    let read_through = unhandled.through.min(shared.store.head().await?);
    Ok(shared.rows.create_holding(name, &text, read_through, &rows).await?)
}
