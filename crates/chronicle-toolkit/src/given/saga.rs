//! given/when/then for sagas: a history of the saga's own events, one
//! trigger, and the reaction expected.

use crate::saga::{Reaction, Saga};

/// Starts a saga scenario: instance `instance` has already recorded `events`.
///
/// ```
/// # use chronicle_toolkit::{*, saga::*};
/// # use std::time::Duration;
/// #[derive(Clone, Debug, Default)]
/// struct Reminder { sent: bool }
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// enum In { SignedUp { user: String } }
/// impl DomainEvent for In {}
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// enum Ev { Waiting, Reminded }
/// impl DomainEvent for Ev {}
/// impl Saga for Reminder {
///     type Input = In; type Event = Ev; type Command = String;
///     const NAME: &'static str = "reminder";
///     const INPUT_TYPES: &'static [&'static str] = &["SignedUp"];
///     fn instance(i: &In, _: &chronicle_core::RecordedEvent) -> Option<String> { let In::SignedUp { user } = i; Some(user.clone()) }
///     fn react(&self, _: &str, _: &In) -> Reaction<Self> { Reaction::none().record(Ev::Waiting).timeout("nudge", Duration::from_secs(86_400)) }
///     fn on_timeout(&self, _: &str) -> Reaction<Self> { Reaction::none().record(Ev::Reminded).send("email".into()) }
///     fn apply(&mut self, e: &Ev) { self.sent |= *e == Ev::Reminded }
/// }
/// given_saga::<Reminder>("ann", []).when(In::SignedUp { user: "ann".into() }).expect_timeouts(["nudge"]).then([Ev::Waiting], []);
/// let after = given_saga::<Reminder>("ann", [Ev::Waiting]).when_timeout("nudge").then([Ev::Reminded], ["email".to_string()]);
/// assert!(after.sent);
/// ```
pub fn given_saga<S: Saga>(instance: &str, events: impl IntoIterator<Item = S::Event>) -> SagaScenario<S> {
    let mut state = S::default();
    for e in events {
        state.apply(&e);
    }
    SagaScenario { instance: instance.to_owned(), state }
}

/// A saga instance with history, waiting for its trigger.
#[derive(Debug)]
pub struct SagaScenario<S: Saga> {
    instance: String,
    state: S,
}

impl<S: Saga> SagaScenario<S> {
    /// An input event arrives.
    pub fn when(self, input: S::Input) -> SagaOutcome<S> {
        let reaction = self.state.react(&self.instance, &input);
        SagaOutcome { trigger: format!("{input:?}"), reaction, state: self.state }
    }

    /// Timeout `name` expires.
    pub fn when_timeout(self, name: &str) -> SagaOutcome<S> {
        let reaction = self.state.on_timeout(name);
        SagaOutcome { trigger: format!("timeout {name:?}"), reaction, state: self.state }
    }

    /// `command` was rejected with `error`.
    pub fn when_command_failed(self, command: S::Command, error: &str) -> SagaOutcome<S> {
        let reaction = self.state.on_command_failed(&command, error);
        SagaOutcome { trigger: format!("{command:?} rejected ({error})"), reaction, state: self.state }
    }
}

/// What the saga decided.
#[derive(Debug)]
pub struct SagaOutcome<S: Saga> {
    trigger: String,
    reaction: Reaction<S>,
    state: S,
}

impl<S: Saga> SagaOutcome<S>
where
    S::Event: PartialEq,
{
    /// The reaction, for assertions the other methods do not cover.
    pub fn reaction(&self) -> &Reaction<S> {
        &self.reaction
    }

    /// Asserts the reaction sets exactly the timeouts named `names`.
    #[track_caller]
    pub fn expect_timeouts<'a>(self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let expected: Vec<&str> = names.into_iter().collect();
        let got: Vec<&str> = self.reaction.timeouts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, expected, "when {}: timeouts set", self.trigger);
        self
    }

    /// Asserts the reaction cancels exactly the timeouts named `names`.
    #[track_caller]
    pub fn expect_cancelled<'a>(self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let expected: Vec<&str> = names.into_iter().collect();
        let got: Vec<&str> = self.reaction.cancel.iter().map(String::as_str).collect();
        assert_eq!(got, expected, "when {}: timeouts cancelled", self.trigger);
        self
    }

    /// Asserts the saga recorded exactly `events` and sent exactly
    /// `commands`; returns its state after the events.
    #[track_caller]
    pub fn then(self, events: impl IntoIterator<Item = S::Event>, commands: impl IntoIterator<Item = S::Command>) -> S {
        let events: Vec<S::Event> = events.into_iter().collect();
        let commands: Vec<S::Command> = commands.into_iter().collect();
        if self.reaction.events != events || self.reaction.commands != commands {
            panic!(
                "when {}:\n  expected events   {events:?}\n  got               {:?}\n  expected commands {commands:?}\n  got               {:?}",
                self.trigger, self.reaction.events, self.reaction.commands
            );
        }
        let mut state = self.state;
        events.iter().for_each(|e| state.apply(e));
        state
    }

    /// Asserts the saga did nothing at all.
    #[track_caller]
    pub fn then_nothing(self) -> S {
        if !self.reaction.is_empty() {
            panic!("when {}: expected no reaction, got {:?}", self.trigger, self.reaction);
        }
        self.state
    }
}
