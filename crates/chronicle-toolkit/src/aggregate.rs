//! The `Aggregate` trait and the context a command runs in.

use crate::DomainEvent;
use chronicle_core::Actor;
use serde::{Serialize, de::DeserializeOwned};

/// Who issues a command and why: propagated into the events' metadata
/// (`actor`, `correlation_id`, `causation_id`) and available to `handle`
/// for authorization.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandContext {
    /// Who issues the command.
    pub actor: Option<Actor>,
    /// The originating request; a new id when `None`.
    pub correlation_id: Option<String>,
    /// What caused the command (an event or command id); the command's own
    /// id when `None`.
    pub causation_id: Option<String>,
}

impl CommandContext {
    /// A context for `actor` (`kind` e.g. `user`, `service`).
    pub fn actor(kind: &str, id: &str) -> Self {
        Self { actor: Some(Actor { kind: kind.to_owned(), id: id.to_owned() }), ..Self::default() }
    }

    /// Sets the correlation id.
    pub fn correlated(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Whether the actor is `kind`/`id`.
    pub fn is(&self, kind: &str, id: &str) -> bool {
        self.actor.as_ref().is_some_and(|a| a.kind == kind && a.id == id)
    }
}

/// A consistency boundary: decides commands against its state and folds
/// its events. Its stream is `"{CATEGORY}-{id}"`.
///
/// `handle` is pure (no I/O): it validates invariants and authorization and
/// returns the events to record; `apply` must accept every event `handle`
/// ever produced, forever (use upcasters for old shapes).
pub trait Aggregate: Default + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The commands it accepts.
    type Command: Send + Sync + std::fmt::Debug + 'static;
    /// The events it records.
    type Event: DomainEvent;
    /// Why a command is rejected.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Stream category, e.g. `order`.
    const CATEGORY: &'static str;
    /// Schema version of the serialized state (snapshots of another version are ignored).
    const SNAPSHOT_VERSION: u32 = 1;

    /// Decides a command.
    fn handle(&self, command: &Self::Command, context: &CommandContext) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one event into the state.
    fn apply(&mut self, event: &Self::Event);
}
