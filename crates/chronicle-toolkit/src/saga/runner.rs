//! Runs a saga: triggers through a projection runner, steps recorded in
//! the instance streams, the outbox sent after each step, timeouts fired
//! by a timer task; everything rebuilt from the store on start.

use super::{
    Reaction, Saga,
    instance::{Cause, Instance, Trigger},
};
use crate::{CommandContext, Error, Projection, ProjectionRunner, Result, RunnerOptions, RunningProjection, decode_event};
use chronicle_core::{EventStore, ExpectedVersion, Filter, ReadAll, ReadStream, RecordedEvent, Timestamp, async_trait};
use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{sync::Notify, task::JoinHandle};

/// Why a command was not executed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandFailure {
    /// The receiver refused it (an invariant, authorization): the saga
    /// compensates ([`Saga::on_command_failed`]).
    #[error("rejected: {0}")]
    Rejected(String),
    /// It could not be executed now (store down, persistent conflicts):
    /// it stays in the outbox and is sent again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<Error> for CommandFailure {
    fn from(e: Error) -> Self {
        match e {
            Error::Domain(_) | Error::NoHandler(_) | Error::Decode { .. } | Error::Upcast { .. } => Self::Rejected(e.to_string()),
            Error::Store(chronicle_core::Error::Invalid { .. } | chronicle_core::Error::TooLarge { .. }) => Self::Rejected(e.to_string()),
            _ => Self::Unavailable(e.to_string()),
        }
    }
}

/// Delivers a saga's commands, e.g. through a [`CommandBus`](crate::CommandBus).
#[async_trait]
pub trait CommandSender<C>: Send + Sync + 'static {
    /// Executes `command`; `context` carries the saga's actor and the
    /// trigger's correlation and causation ids.
    async fn send(&self, command: &C, context: &CommandContext) -> std::result::Result<(), CommandFailure>;
}

/// Runs saga `S` against a store.
pub struct SagaRunner<S: Saga> {
    store: Arc<dyn EventStore>,
    sender: Arc<dyn CommandSender<S::Command>>,
    options: RunnerOptions,
    retry_delay: Duration,
}

impl<S: Saga> std::fmt::Debug for SagaRunner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaRunner").field("saga", &S::NAME).finish_non_exhaustive()
    }
}

/// A running saga; its triggers are handled by the projection named
/// `saga-{NAME}` (see [`RunningSaga::projection`]).
pub struct RunningSaga<S: Saga> {
    core: Arc<Core<S>>,
    projection: RunningProjection,
    timer: JoinHandle<()>,
}

impl<S: Saga> std::fmt::Debug for RunningSaga<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSaga").field("saga", &S::NAME).finish_non_exhaustive()
    }
}

impl<S: Saga> SagaRunner<S> {
    /// A runner sending commands through `sender`, with default options.
    pub fn new(store: Arc<dyn EventStore>, sender: impl CommandSender<S::Command>) -> Self {
        Self { store, sender: Arc::new(sender), options: RunnerOptions::default(), retry_delay: Duration::from_secs(1) }
    }

    /// How long to wait before sending an unavailable command again
    /// (default 1 s).
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Sets the trigger retry/park options.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// Rebuilds every instance's outbox and timeouts from the store, sends
    /// what was left unsent, then follows the input events from the
    /// saga's checkpoint.
    pub async fn start(&self) -> Result<RunningSaga<S>> {
        if S::NAME.is_empty() || S::NAME.contains('-') {
            return Err(Error::Handler { what: format!("saga {:?}", S::NAME), reason: "NAME must be non-empty and contain no '-'".into() });
        }
        let core = Arc::new(Core::<S> {
            store: self.store.clone(),
            sender: self.sender.clone(),
            name: format!("saga-{}", S::NAME),
            instances: tokio::sync::Mutex::new(HashMap::new()),
            timers: Mutex::new(BTreeSet::new()),
            wake: Notify::new(),
            retry_delay: self.retry_delay,
        });
        core.recover().await?;
        let timer = tokio::spawn(core.clone().timers());
        let projection =
            ProjectionRunner::new(self.store.clone()).with_options(self.options.clone()).start(Arc::new(Triggers(core.clone())));
        Ok(RunningSaga { core, projection, timer })
    }
}

impl<S: Saga> RunningSaga<S> {
    /// The state of instance `id` (default state if it never started).
    pub async fn instance(&self, id: &str) -> Result<S> {
        let mut instances = self.core.instances.lock().await;
        Ok(self.core.load(&mut instances, id).await?.state.clone())
    }

    /// The projection delivering the triggers (state, `wait_for`).
    pub fn projection(&self) -> &RunningProjection {
        &self.projection
    }

    /// Stops following inputs and firing timeouts.
    pub async fn stop(self) -> Result<()> {
        self.timer.abort();
        self.projection.stop().await
    }

    /// Drops everything at once, like a crash.
    pub fn abort(self) {
        self.timer.abort();
        self.projection.abort();
    }
}

type TimerKey = (Timestamp, String, String);

/// An outbox retry is a timer with this (impossible) timeout name.
const OUTBOX_RETRY: &str = "";

struct Core<S: Saga> {
    store: Arc<dyn EventStore>,
    sender: Arc<dyn CommandSender<S::Command>>,
    name: String,
    /// Instances in flight; one lock serializes every step of the saga.
    instances: tokio::sync::Mutex<HashMap<String, Instance<S>>>,
    /// (due, instance, timeout name).
    timers: Mutex<BTreeSet<TimerKey>>,
    wake: Notify,
    retry_delay: Duration,
}

type Instances<S> = HashMap<String, Instance<S>>;

impl<S: Saga> Core<S> {
    /// When to retry something that failed now.
    fn later(&self) -> Timestamp {
        let delay = i64::try_from(self.retry_delay.as_micros()).unwrap_or(i64::MAX);
        Timestamp::from_micros(Timestamp::now().as_micros().saturating_add(delay))
    }

    fn schedule(&self, due: Timestamp, instance: &str, name: &str) {
        self.timers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert((due, instance.to_owned(), name.to_owned()));
        self.wake.notify_one();
    }

    async fn load<'m>(&self, instances: &'m mut Instances<S>, id: &str) -> Result<&'m mut Instance<S>> {
        if !instances.contains_key(id) {
            let mut instance = Instance::<S>::new(id)?;
            for event in self.store.read_stream(&instance.stream, ReadStream::forward()).await? {
                instance.fold(&event)?;
            }
            instances.insert(id.to_owned(), instance);
        }
        instances.get_mut(id).ok_or_else(|| Error::Handler { what: self.name.clone(), reason: format!("instance {id} vanished") })
    }

    /// Folds every instance stream; keeps the unfinished ones, schedules
    /// their timeouts and sends their outboxes.
    async fn recover(&self) -> Result<()> {
        let mut instances = self.instances.lock().await;
        let filter = Filter { category: Some(S::NAME.to_owned()), ..Filter::default() };
        let mut from = 1;
        loop {
            let page = self.store.read_all(&ReadAll::forward().from(from).limit(1_000).filter(filter.clone())).await?;
            for event in &page.events {
                let id = event.stream_id.as_str().get(S::NAME.len() + 1..).unwrap_or_default().to_owned();
                if !instances.contains_key(&id) {
                    instances.insert(id.clone(), Instance::new(&id)?);
                }
                if let Some(instance) = instances.get_mut(&id) {
                    instance.fold(event)?;
                }
            }
            match page.next {
                Some(next) => from = next,
                None => break,
            }
        }
        instances.retain(|_, i| !i.outbox.is_empty() || !i.timeouts.is_empty());
        let ids: Vec<String> = instances.keys().cloned().collect();
        for id in ids {
            let Some(instance) = instances.get_mut(&id) else { continue };
            for (name, due) in &instance.timeouts {
                self.schedule(*due, &id, name);
            }
            if let Err(e) = self.flush(instance).await {
                tracing::warn!(saga = S::NAME, instance = %id, error = %e, "outbox not sent on start; retrying later");
                self.schedule(self.later(), &id, OUTBOX_RETRY);
            }
        }
        Ok(())
    }

    /// Records `reaction` to `trigger` as one append; on a concurrency
    /// conflict (another runner?) forgets the cached instance.
    async fn step(&self, instance: &mut Instance<S>, trigger: Trigger, reaction: Reaction<S>, cause: &Cause) -> Result<()> {
        let mut planned = instance.plan(trigger, reaction, cause, Timestamp::now())?;
        let expected = if instance.version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(instance.version) };
        let events = planned.take_events();
        let appended = self.store.append(&instance.stream, expected, events).await?;
        for (name, due) in planned.timeouts() {
            self.schedule(due, instance.id(), name);
        }
        instance.commit(planned, appended.last_version);
        Ok(())
    }

    /// Sends the outbox in order, recording each outcome; a rejection
    /// asks the saga for compensation, whose commands join the outbox.
    async fn flush(&self, instance: &mut Instance<S>) -> Result<()> {
        while let Some(queued) = instance.outbox.first_key_value().map(|(_, q)| q.clone()) {
            let cause = Cause { correlation_id: queued.correlation_id.clone(), causation_id: queued.causation_id.clone() };
            let context = CommandContext {
                actor: Some(chronicle_core::Actor { kind: "saga".into(), id: S::NAME.into() }),
                correlation_id: queued.correlation_id.clone(),
                causation_id: queued.causation_id.clone(),
            };
            match self.sender.send(&queued.command, &context).await {
                Ok(()) => self.step(instance, Trigger::CommandDone { seq: queued.seq }, Reaction::none(), &cause).await?,
                Err(CommandFailure::Rejected(error)) => {
                    tracing::info!(saga = S::NAME, instance = instance.id(), command = ?queued.command, %error, "command rejected; compensating");
                    let reaction = instance.state.on_command_failed(&queued.command, &error);
                    self.step(instance, Trigger::CommandFailed { seq: queued.seq, error }, reaction, &cause).await?;
                }
                Err(CommandFailure::Unavailable(reason)) => {
                    // The step is durable: the trigger is handled. The outbox is retried by the timer.
                    tracing::warn!(saga = S::NAME, instance = instance.id(), command = ?queued.command, %reason, "command not sent; retrying later");
                    self.schedule(self.later(), instance.id(), OUTBOX_RETRY);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Handles an input event (`force`: even at or below the instance's
    /// last position, for parked events replayed by an operator).
    async fn trigger(&self, event: &RecordedEvent, force: bool) -> Result<()> {
        let input = decode_event::<S::Input>(&event.event_type, &event.data)?;
        let Some(id) = S::instance(&input, event) else { return Ok(()) };
        let mut instances = self.instances.lock().await;
        let result = self.trigger_locked(&mut instances, &id, &input, event, force).await;
        if result.is_err() {
            instances.remove(&id); // reload from the store on the retry
        }
        result
    }

    async fn trigger_locked(
        &self,
        instances: &mut Instances<S>,
        id: &str,
        input: &S::Input,
        event: &RecordedEvent,
        force: bool,
    ) -> Result<()> {
        let instance = self.load(instances, id).await?;
        if (force || event.global_position > instance.last_position) && !instance.state.is_complete() {
            let reaction = instance.state.react(id, input);
            if !reaction.is_empty() {
                let meta = event.well_known_metadata().unwrap_or_default();
                let cause = Cause {
                    correlation_id: Some(meta.correlation_id.unwrap_or_else(|| event.event_id.to_string())),
                    causation_id: Some(event.event_id.to_string()),
                };
                self.step(instance, Trigger::Event { position: event.global_position }, reaction, &cause).await?;
            }
        }
        self.flush(instance).await?;
        evict_if_idle(instances, id);
        Ok(())
    }

    /// Fires timeout `name` of `id` if it is still pending with this due time.
    async fn fire(&self, due: Timestamp, id: &str, name: &str) -> Result<()> {
        let mut instances = self.instances.lock().await;
        let instance = self.load(&mut instances, id).await?;
        if name != OUTBOX_RETRY && instance.timeouts.get(name) == Some(&due) && !instance.state.is_complete() {
            let reaction = instance.state.on_timeout(name);
            let cause = Cause { correlation_id: instance.correlation_id.clone(), causation_id: None };
            self.step(instance, Trigger::Timeout { name: name.to_owned() }, reaction, &cause).await?;
        }
        let result = self.flush(instance).await;
        if result.is_err() {
            instances.remove(id);
        } else {
            evict_if_idle(&mut instances, id);
        }
        result
    }

    async fn timers(self: Arc<Self>) {
        loop {
            let next = self.timers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).first().cloned();
            let Some((due, id, name)) = next else {
                self.wake.notified().await;
                continue;
            };
            let wait = u64::try_from(due.as_micros().saturating_sub(Timestamp::now().as_micros())).unwrap_or(0);
            if wait > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_micros(wait)) => {}
                    _ = self.wake.notified() => {}
                }
                continue;
            }
            self.timers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&(due, id.clone(), name.clone()));
            if let Err(e) = self.fire(due, &id, &name).await {
                tracing::warn!(saga = S::NAME, instance = %id, timeout = %name, error = %e, "timeout handling failed; retrying");
                self.schedule(self.later(), &id, OUTBOX_RETRY);
                if name != OUTBOX_RETRY {
                    self.schedule(self.later(), &id, &name);
                }
            }
        }
    }
}

/// Forgets an instance with nothing pending: the cache holds only
/// instances in flight; the others are loaded again when needed.
fn evict_if_idle<S: Saga>(instances: &mut Instances<S>, id: &str) {
    if instances.get(id).is_some_and(|i| i.outbox.is_empty() && i.timeouts.is_empty()) {
        instances.remove(id);
    }
}

/// The saga seen as a projection: the runner delivers input events.
struct Triggers<S: Saga>(Arc<Core<S>>);

#[async_trait]
impl<S: Saga> Projection for Triggers<S> {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn filter(&self) -> Filter {
        Filter { event_types: S::INPUT_TYPES.iter().map(|t| (*t).to_owned()).collect(), ..Filter::default() }
    }
    async fn checkpoint(&self) -> Result<u64> {
        Ok(self.0.store.load_checkpoint(&self.0.name).await?.unwrap_or(0))
    }
    async fn apply(&self, event: &RecordedEvent) -> Result<()> {
        self.0.trigger(event, false).await?;
        Ok(self.0.store.save_checkpoint(&self.0.name, event.global_position).await?)
    }
    async fn replay_parked(&self, event: &RecordedEvent) -> Result<()> {
        self.0.trigger(event, true).await
    }
    async fn reset(&self) -> Result<()> {
        // Instances remember the last position they handled: replaying
        // from 1 re-decides nothing already decided.
        Ok(self.0.store.save_checkpoint(&self.0.name, 0).await?)
    }
}
