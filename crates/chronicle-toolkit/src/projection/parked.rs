//! Parked (dead-lettered) events: when an event keeps failing, the runner
//! records it in `$parked-{projection}` and moves on. Operators list them
//! (`chronicle projections parked NAME`), fix the cause, and replay them
//! through the projection with [`replay`]; a replayed event is marked
//! resolved by a second record, so the stream stays append-only.

use crate::{Error, Projection, Result};
use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, RecordedEvent, StreamId, Timestamp, Uuid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const PARKED: &str = "EventParked";
const REPLAYED: &str = "ParkedEventReplayed";

/// One parked event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParkedEvent {
    /// The event's global position.
    pub position: u64,
    /// Its id (to fetch it again).
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: String,
    /// Its type.
    pub event_type: String,
    /// The last error the projection returned for it.
    pub error: String,
    /// When it was parked.
    pub parked_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
struct Replayed {
    position: u64,
}

/// The stream holding `projection`'s parked events.
pub fn stream_of(projection: &str) -> Result<StreamId> {
    Ok(StreamId::new(format!("$parked-{projection}"))?)
}

fn encode<T: Serialize>(event_type: &str, value: &T) -> Result<NewEvent> {
    NewEvent::json(event_type, value).map_err(|e| Error::Decode { what: event_type.to_owned(), reason: e.to_string() })
}

/// Records `event` as parked for `projection`.
pub(crate) async fn park(store: &dyn EventStore, projection: &str, event: &RecordedEvent, error: &str) -> Result<()> {
    let parked = ParkedEvent {
        position: event.global_position,
        event_id: event.event_id,
        stream_id: event.stream_id.to_string(),
        event_type: event.event_type.to_string(),
        error: error.to_owned(),
        parked_at: Timestamp::now(),
    };
    tracing::warn!(projection, position = parked.position, error, "event parked");
    store.append(&stream_of(projection)?, ExpectedVersion::Any, vec![encode(PARKED, &parked)?]).await?;
    Ok(())
}

/// The events parked for `projection` and not yet replayed, by position.
pub async fn list(store: &dyn EventStore, projection: &str) -> Result<Vec<ParkedEvent>> {
    let records = store.read_stream(&stream_of(projection)?, ReadStream::forward()).await?;
    let mut open = BTreeMap::new();
    for r in records {
        let bad =
            |e: serde_json::Error| Error::Decode { what: format!("$parked-{projection} version {}", r.version), reason: e.to_string() };
        match &*r.event_type {
            PARKED => {
                let p: ParkedEvent = r.data.decode().map_err(bad)?;
                open.insert(p.position, p);
            }
            REPLAYED => {
                let done: Replayed = r.data.decode().map_err(bad)?;
                open.remove(&done.position);
            }
            _ => {}
        }
    }
    Ok(open.into_values().collect())
}

/// What [`replay`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayReport {
    /// Positions applied and marked resolved.
    pub replayed: Vec<u64>,
    /// Positions that failed again (still parked), with the error.
    pub failed: Vec<(u64, String)>,
}

/// Applies every open parked event of `projection` again, in position
/// order, through [`Projection::replay_parked`]; successes are marked
/// resolved, failures stay parked.
pub async fn replay(store: &dyn EventStore, projection: &dyn Projection) -> Result<ReplayReport> {
    let mut report = ReplayReport::default();
    let stream = stream_of(projection.name())?;
    for parked in list(store, projection.name()).await? {
        let Some(event) = store.get_event(parked.event_id).await? else {
            report.failed.push((parked.position, "the event is no longer stored".into()));
            continue;
        };
        match projection.replay_parked(&event).await {
            Ok(()) => {
                store.append(&stream, ExpectedVersion::Any, vec![encode(REPLAYED, &Replayed { position: parked.position })?]).await?;
                report.replayed.push(parked.position);
            }
            Err(e) => report.failed.push((parked.position, e.to_string())),
        }
    }
    Ok(report)
}
