//! Process managers (sagas): long-running processes that react to events
//! by issuing commands, compensate when a command fails, and act when a
//! timeout expires.
//!
//! A [`Saga`] is a pure decision function, like an [`Aggregate`](crate::Aggregate):
//! [`Saga::react`], [`Saga::on_timeout`] and [`Saga::on_command_failed`]
//! return a [`Reaction`] (events to record, commands to send, timeouts to
//! set or cancel); [`Saga::apply`] folds its own events. Its state is
//! event-sourced in the stream `{NAME}-{instance}`: every step is one
//! atomic append of the saga's events plus a `$saga-step` record naming
//! the trigger, the commands it queued (an outbox) and its timeouts.
//!
//! The [`SagaRunner`] makes it restart-safe: triggers are delivered by a
//! [`ProjectionRunner`](crate::ProjectionRunner) (so sagas get the
//! retries, parking and state records of projections); an instance
//! ignores a trigger at or below the last position it handled; commands
//! are sent from the outbox after the step is durable and each outcome is
//! recorded, so a restart resends exactly the commands whose outcome was
//! never recorded (at-least-once: a command interrupted between its
//! execution and the record of its outcome is sent again); timeouts are
//! rebuilt from the saga streams on start.

mod instance;
mod runner;

pub use runner::{CommandFailure, CommandSender, RunningSaga, SagaRunner};

use crate::DomainEvent;
use chronicle_core::RecordedEvent;
use serde::{Serialize, de::DeserializeOwned};
use std::time::Duration;

/// A process manager. See the [module docs](self).
pub trait Saga: Default + Clone + Send + Sync + 'static {
    /// The events it reacts to: an enum whose variant names are stored
    /// event types of other streams (only the fields it needs).
    type Input: DomainEvent;
    /// Its own events, recorded in its instance stream.
    type Event: DomainEvent;
    /// The commands it issues.
    type Command: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + std::fmt::Debug + 'static;
    /// Stream category of its instances (`{NAME}-{instance}`); no `-`.
    const NAME: &'static str;
    /// The stored event types it reacts to (the variant names of `Input`).
    const INPUT_TYPES: &'static [&'static str];

    /// The instance an input belongs to; `None` ignores it.
    fn instance(input: &Self::Input, event: &RecordedEvent) -> Option<String>;

    /// Reacts to an input event of instance `instance`.
    fn react(&self, instance: &str, input: &Self::Input) -> Reaction<Self>;

    /// A timeout it set expired without being cancelled.
    fn on_timeout(&self, name: &str) -> Reaction<Self> {
        let _ = name;
        Reaction::none()
    }

    /// A command it sent was rejected: compensate.
    fn on_command_failed(&self, command: &Self::Command, error: &str) -> Reaction<Self> {
        let _ = (command, error);
        Reaction::none()
    }

    /// Folds one of its events.
    fn apply(&mut self, event: &Self::Event);

    /// A finished instance ignores further inputs and its timeouts.
    fn is_complete(&self) -> bool {
        false
    }
}

/// What a saga decided: record `events`, send `commands` (in order, after
/// the step is durable), set `timeouts`, cancel timeouts named in `cancel`,
/// optionally drop the commands still queued (`abort_pending`).
///
/// ```
/// # use chronicle_toolkit::saga::Reaction;
/// # use std::time::Duration;
/// # #[derive(Clone, Default)] struct S;
/// # #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)] enum Ev { Started }
/// # impl chronicle_toolkit::DomainEvent for Ev {}
/// # impl chronicle_toolkit::saga::Saga for S {
/// #   type Input = Ev; type Event = Ev; type Command = String; const NAME: &'static str = "s"; const INPUT_TYPES: &'static [&'static str] = &[];
/// #   fn instance(_: &Ev, _: &chronicle_core::RecordedEvent) -> Option<String> { None }
/// #   fn react(&self, _: &str, _: &Ev) -> Reaction<Self> { Reaction::none() }
/// #   fn apply(&mut self, _: &Ev) {}
/// # }
/// let r: Reaction<S> = Reaction::none().record(Ev::Started).send("reserve".to_string()).timeout("payment", Duration::from_secs(900));
/// assert_eq!((r.events.len(), r.commands.len(), r.timeouts.len()), (1, 1, 1));
/// ```
pub struct Reaction<S: Saga> {
    /// The saga's events to record.
    pub events: Vec<S::Event>,
    /// The commands to send.
    pub commands: Vec<S::Command>,
    /// Timeouts to set (name, delay); setting a pending name replaces it.
    pub timeouts: Vec<(String, Duration)>,
    /// Timeouts to cancel.
    pub cancel: Vec<String>,
    /// Drop the commands still waiting in the outbox before queuing
    /// `commands` (e.g. stop a flow whose first step was rejected).
    pub abort_pending: bool,
}

impl<S: Saga> std::fmt::Debug for Reaction<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reaction")
            .field("events", &self.events)
            .field("commands", &self.commands)
            .field("timeouts", &self.timeouts)
            .field("cancel", &self.cancel)
            .field("abort_pending", &self.abort_pending)
            .finish()
    }
}

impl<S: Saga> Clone for Reaction<S> {
    fn clone(&self) -> Self {
        Self {
            events: self.events.clone(),
            commands: self.commands.clone(),
            timeouts: self.timeouts.clone(),
            cancel: self.cancel.clone(),
            abort_pending: self.abort_pending,
        }
    }
}

impl<S: Saga> Default for Reaction<S> {
    fn default() -> Self {
        Self::none()
    }
}

impl<S: Saga> Reaction<S> {
    /// Nothing to do.
    pub fn none() -> Self {
        Self { events: Vec::new(), commands: Vec::new(), timeouts: Vec::new(), cancel: Vec::new(), abort_pending: false }
    }

    /// Also records `event`.
    pub fn record(mut self, event: S::Event) -> Self {
        self.events.push(event);
        self
    }

    /// Also sends `command`.
    pub fn send(mut self, command: S::Command) -> Self {
        self.commands.push(command);
        self
    }

    /// Also sets timeout `name` to expire after `after`.
    pub fn timeout(mut self, name: impl Into<String>, after: Duration) -> Self {
        self.timeouts.push((name.into(), after));
        self
    }

    /// Also cancels timeout `name`.
    pub fn cancel(mut self, name: impl Into<String>) -> Self {
        self.cancel.push(name.into());
        self
    }

    /// Also drops the commands still waiting in the outbox.
    pub fn abort_pending(mut self) -> Self {
        self.abort_pending = true;
        self
    }

    /// Whether it does nothing at all.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.commands.is_empty() && self.timeouts.is_empty() && self.cancel.is_empty() && !self.abort_pending
    }
}
