//! One saga instance as stored: its events and its `$saga-step` records,
//! folded into the state, the last position handled, the outbox of
//! commands not yet settled and the pending timeouts.

use super::{Reaction, Saga};
use crate::{Error, Result, decode_event, encode_event};
use chronicle_core::{NewEvent, RawJson, RecordedEvent, StreamId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Event type of the bookkeeping record closing every step.
pub(crate) const STEP_TYPE: &str = "$saga-step";

/// What caused a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Trigger {
    /// An input event at this global position.
    Event { position: u64 },
    /// A timeout expired.
    Timeout { name: String },
    /// Outbox command `seq` was executed.
    CommandDone { seq: u64 },
    /// Outbox command `seq` was rejected.
    CommandFailed { seq: u64, error: String },
}

/// A command waiting in the outbox, with the context it is sent under.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Queued<C> {
    pub(crate) seq: u64,
    pub(crate) command: C,
    pub(crate) correlation_id: Option<String>,
    pub(crate) causation_id: Option<String>,
}

/// A timeout set by a step: expires at `due_us` (µs since the epoch).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Due {
    name: String,
    due_us: i64,
}

/// The `$saga-step` record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "C: serde::de::DeserializeOwned"))]
struct Step<C> {
    trigger: Trigger,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    commands: Vec<Queued<C>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    timeouts: Vec<Due>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cancel: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    abort_pending: bool,
}

/// Where a step's commands and events take their correlation from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cause {
    pub(crate) correlation_id: Option<String>,
    pub(crate) causation_id: Option<String>,
}

/// A saga instance, folded from its stream.
#[derive(Debug)]
pub(crate) struct Instance<S: Saga> {
    pub(crate) stream: StreamId,
    pub(crate) version: u64,
    pub(crate) state: S,
    pub(crate) last_position: u64,
    pub(crate) correlation_id: Option<String>,
    pub(crate) outbox: BTreeMap<u64, Queued<S::Command>>,
    pub(crate) timeouts: BTreeMap<String, Timestamp>,
    next_seq: u64,
}

impl<S: Saga> Instance<S> {
    /// A new, empty instance `id`.
    pub(crate) fn new(id: &str) -> Result<Self> {
        let stream = StreamId::new(format!("{}-{id}", S::NAME))?;
        Ok(Self {
            stream,
            version: 0,
            state: S::default(),
            last_position: 0,
            correlation_id: None,
            outbox: BTreeMap::new(),
            timeouts: BTreeMap::new(),
            next_seq: 1,
        })
    }

    /// The instance id (the stream id after the category).
    pub(crate) fn id(&self) -> &str {
        self.stream.as_str().get(S::NAME.len() + 1..).unwrap_or_default()
    }

    /// Folds one stored event of the instance's stream.
    pub(crate) fn fold(&mut self, event: &RecordedEvent) -> Result<()> {
        if &*event.event_type == STEP_TYPE {
            let step: Step<S::Command> = event.data.decode().map_err(|e| Error::Decode {
                what: format!("{STEP_TYPE} at {}@{}", event.stream_id, event.version),
                reason: e.to_string(),
            })?;
            self.settle(step);
        } else {
            self.state.apply(&decode_event::<S::Event>(&event.event_type, &event.data)?);
        }
        self.version = event.version;
        Ok(())
    }

    fn settle(&mut self, step: Step<S::Command>) {
        match step.trigger {
            Trigger::Event { position } => self.last_position = self.last_position.max(position),
            Trigger::Timeout { name } => {
                self.timeouts.remove(&name);
            }
            Trigger::CommandDone { seq } | Trigger::CommandFailed { seq, .. } => {
                self.outbox.remove(&seq);
            }
        }
        if step.abort_pending {
            self.outbox.clear();
        }
        for name in step.cancel {
            self.timeouts.remove(&name);
        }
        for due in step.timeouts {
            self.timeouts.insert(due.name, Timestamp::from_micros(due.due_us));
        }
        for queued in step.commands {
            self.next_seq = self.next_seq.max(queued.seq + 1);
            self.outbox.insert(queued.seq, queued);
        }
        if step.correlation_id.is_some() {
            self.correlation_id = step.correlation_id;
        }
        if self.state.is_complete() {
            self.timeouts.clear();
        }
    }

    /// The events recording `reaction` to `trigger`: the saga's events,
    /// then the step record; [`Instance::commit`] once they are appended.
    pub(crate) fn plan(&self, trigger: Trigger, reaction: Reaction<S>, cause: &Cause, now: Timestamp) -> Result<Planned<S>> {
        let metadata = metadata(cause)?;
        let mut events = Vec::with_capacity(reaction.events.len() + 1);
        for event in &reaction.events {
            let (event_type, data) = encode_event(event)?;
            let version = <S::Event as crate::DomainEvent>::schema_version(&event_type);
            events.push(
                NewEvent::raw(event_type, data.bytes().clone()).with_schema_version(version).with_metadata_raw(metadata.bytes().clone()),
            );
        }
        let commands = (self.next_seq..)
            .zip(reaction.commands)
            .map(|(seq, command)| Queued {
                seq,
                command,
                correlation_id: cause.correlation_id.clone(),
                causation_id: cause.causation_id.clone(),
            })
            .collect();
        let delay_us = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let timeouts = reaction
            .timeouts
            .into_iter()
            .map(|(name, after)| Due { name, due_us: now.as_micros().saturating_add(delay_us(after)) })
            .collect();
        let step = Step {
            trigger,
            commands,
            timeouts,
            cancel: reaction.cancel,
            correlation_id: cause.correlation_id.clone(),
            abort_pending: reaction.abort_pending,
        };
        let data = RawJson::from_serialize(&step).map_err(|e| Error::Decode { what: STEP_TYPE.into(), reason: e.to_string() })?;
        events.push(NewEvent::raw(STEP_TYPE, data.bytes().clone()).with_metadata_raw(metadata.bytes().clone()));
        Ok(Planned { events, saga_events: reaction.events, step })
    }

    /// Folds a planned step whose events were appended, ending at stream
    /// version `version`.
    pub(crate) fn commit(&mut self, planned: Planned<S>, version: u64) {
        planned.saga_events.iter().for_each(|e| self.state.apply(e));
        self.settle(planned.step);
        self.version = version;
    }
}

/// A step ready to append.
#[derive(Debug)]
pub(crate) struct Planned<S: Saga> {
    events: Vec<NewEvent>,
    saga_events: Vec<S::Event>,
    step: Step<S::Command>,
}

impl<S: Saga> Planned<S> {
    /// Moves the events to append out.
    pub(crate) fn take_events(&mut self) -> Vec<NewEvent> {
        std::mem::take(&mut self.events)
    }

    /// The timeouts this step sets (name, due).
    pub(crate) fn timeouts(&self) -> impl Iterator<Item = (&str, Timestamp)> {
        self.step.timeouts.iter().map(|d| (d.name.as_str(), Timestamp::from_micros(d.due_us)))
    }
}

fn metadata(cause: &Cause) -> Result<RawJson> {
    let mut metadata = serde_json::Map::new();
    if let Some(c) = &cause.correlation_id {
        metadata.insert("correlation_id".into(), c.clone().into());
    }
    if let Some(c) = &cause.causation_id {
        metadata.insert("causation_id".into(), c.clone().into());
    }
    RawJson::from_serialize(&metadata).map_err(|e| Error::Decode { what: "saga metadata".into(), reason: e.to_string() })
}
