//! The given/when/then test kit: pure and synchronous, no store, no I/O —
//! for aggregates ([`given`]), projections ([`History`]) and sagas
//! ([`given_saga`]).

mod history;
mod saga;

pub use history::History;
pub use saga::{SagaOutcome, SagaScenario, given_saga};

use crate::{Aggregate, CommandContext};
use std::fmt::Debug;

/// Starts a scenario: the aggregate has already recorded `events`.
///
/// ```
/// # use chronicle_toolkit::*;
/// # #[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)] struct Counter { n: u32 }
/// # #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)] enum Ev { Added }
/// # impl DomainEvent for Ev {}
/// # #[derive(Debug)] struct Add;
/// # #[derive(Debug, PartialEq, thiserror::Error)] #[error("full")] struct Full;
/// # impl Aggregate for Counter {
/// #   type Command = Add; type Event = Ev; type Error = Full; const CATEGORY: &'static str = "counter";
/// #   fn handle(&self, _: &Add, _: &CommandContext) -> Result<Vec<Ev>, Full> { if self.n >= 2 { Err(Full) } else { Ok(vec![Ev::Added]) } }
/// #   fn apply(&mut self, _: &Ev) { self.n += 1 }
/// # }
/// given::<Counter>([Ev::Added]).when(Add).then([Ev::Added]);
/// given::<Counter>([Ev::Added, Ev::Added]).when(Add).then_error_eq(Full);
/// ```
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Scenario<A> {
    let mut state = A::default();
    for e in events {
        state.apply(&e);
    }
    Scenario { state, context: CommandContext::default() }
}

/// A scenario with history, waiting for its command.
#[derive(Debug)]
pub struct Scenario<A: Aggregate> {
    state: A,
    context: CommandContext,
}

impl<A: Aggregate + Debug> Scenario<A> {
    /// The command is issued by `context`'s actor.
    pub fn by(mut self, context: CommandContext) -> Self {
        self.context = context;
        self
    }

    /// Decides `command` against the state.
    pub fn when(self, command: A::Command) -> Outcome<A> {
        let result = self.state.handle(&command, &self.context);
        Outcome { result, command: format!("{command:?}"), state: self.state }
    }
}

/// What the command decided.
#[derive(Debug)]
pub struct Outcome<A: Aggregate> {
    result: Result<Vec<A::Event>, A::Error>,
    command: String,
    state: A,
}

impl<A: Aggregate + Debug> Outcome<A>
where
    A::Event: PartialEq,
{
    /// Asserts the command recorded exactly `expected`; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) if events == expected => {
                let mut state = self.state;
                events.iter().for_each(|e| state.apply(e));
                state
            }
            Ok(events) => panic!("when {}:\n  expected events {expected:?}\n  got            {events:?}", self.command),
            Err(e) => panic!("when {}:\n  expected events {expected:?}\n  got error      {e}", self.command),
        }
    }

    /// Asserts the command was rejected with an error satisfying `check`.
    #[track_caller]
    pub fn then_error(self, check: impl FnOnce(&A::Error) -> bool) {
        match self.result {
            Err(e) if check(&e) => {}
            Err(e) => panic!("when {}: the error {e:?} is not the expected one", self.command),
            Ok(events) => panic!("when {}: expected an error, got events {events:?}", self.command),
        }
    }

    /// Asserts the command was rejected with exactly `expected`.
    #[track_caller]
    pub fn then_error_eq(self, expected: A::Error)
    where
        A::Error: PartialEq,
    {
        self.then_error(|e| *e == expected);
    }
}
