//! The projection runner: catch up from the checkpoint, follow live, retry
//! with backoff, park or stop, record state; and rebuild-and-swap.

use super::{
    Projection, parked,
    requests::Inbox,
    state::{ProjectionState, ProjectionStatus, record},
};
use crate::{Error, Result};
use chronicle_core::{EventStore, ReadAll, RecordedEvent, SubscribeFrom, Timestamp};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{sync::watch, task::JoinHandle};

/// What to do with an event that still fails after the retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Record it in the projection's parked stream and continue.
    #[default]
    Park,
    /// Stop the projection (status `failed`) until an operator acts.
    Stop,
}

/// How a runner behaves.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Retries of a failing event before [`OnFailure`] applies.
    pub retries: u32,
    /// First retry delay; doubled on every retry.
    pub backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// What to do once the retries are spent.
    pub on_failure: OnFailure,
    /// How often the state record is written while running.
    pub record_every: Duration,
    /// Open parked events at which the runner pauses (status `paused`)
    /// instead of parking more; it resumes once parked events are
    /// replayed. Nothing is ever dropped.
    pub max_parked: u64,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            on_failure: OnFailure::Park,
            record_every: Duration::from_secs(5),
            max_parked: 1000,
        }
    }
}

/// Runs projections against a store.
///
/// ```no_run
/// # use chronicle_toolkit::*;
/// # use std::sync::Arc;
/// # async fn demo(store: Arc<dyn chronicle_core::EventStore>) -> Result<()> {
/// let summary = Arc::new(MemoryProjection::new("totals", |n: &mut u64, _e| { *n += 1; Ok(()) }));
/// let running = ProjectionRunner::new(store).start(summary.clone());
/// running.wait_for(10).await?; // until position 10 is applied
/// running.stop().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ProjectionRunner {
    store: Arc<dyn EventStore>,
    options: RunnerOptions,
}

/// A projection being run; stop it with [`RunningProjection::stop`].
#[derive(Debug)]
pub struct RunningProjection {
    name: String,
    state: Arc<Mutex<ProjectionState>>,
    position: watch::Receiver<u64>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl ProjectionRunner {
    /// A runner with default options.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store, options: RunnerOptions::default() }
    }

    /// Sets the options.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts `projection`: catch up from its checkpoint, then follow live.
    pub fn start(&self, projection: Arc<dyn Projection>) -> RunningProjection {
        self.spawn(projection.name().to_owned(), projection, Mode::Follow)
    }

    fn spawn(&self, name: String, projection: Arc<dyn Projection>, mode: Mode) -> RunningProjection {
        let mut initial = ProjectionState::new(&name, 0);
        if mode == Mode::Rebuild {
            initial.status = ProjectionStatus::Rebuilding;
        }
        let state = Arc::new(Mutex::new(initial));
        let (stop, stopped) = watch::channel(false);
        let (position_tx, position) = watch::channel(0);
        let run = Run { store: self.store.clone(), options: self.options.clone(), projection, state: state.clone(), position: position_tx };
        let task = tokio::spawn(run.run(stopped, mode));
        RunningProjection { name, state, position, stop, task }
    }

    /// Rebuilds into `fresh`: resets it and replays the log from position 1
    /// while `live` keeps serving; once `fresh` has read everything up to
    /// the head, stops `live`, promotes `fresh` and returns it running in
    /// its place (it then catches up the few events appended meanwhile).
    pub async fn rebuild(&self, live: RunningProjection, fresh: Arc<dyn Projection>) -> Result<RunningProjection> {
        fresh.reset().await?;
        let name = live.name.clone();
        let build = self.spawn(name.clone(), fresh.clone(), Mode::Rebuild);
        build.task.await.map_err(|e| Error::Handler { what: format!("rebuild of {name}"), reason: e.to_string() })??;
        live.stop().await?;
        fresh.promote().await?;
        Ok(self.spawn(name, fresh, Mode::Follow))
    }
}

/// Follow: catch up, then live until stopped. Rebuild: read up to the
/// head as of the start, then return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Follow,
    Rebuild,
}

/// Events per page while catching up.
const PAGE: usize = 1_000;
/// How often a running projection looks for operator requests.
const REQUESTS_EVERY: Duration = Duration::from_secs(1);

/// How a run of [`Run::follow`] ended.
enum Next {
    Stopped,
    /// An operator asked for a rebuild (the request's version).
    Rebuild(u64),
}

impl RunningProjection {
    /// The projection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current state record (lag computed when last recorded).
    pub fn state(&self) -> ProjectionState {
        self.state.lock().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Waits until the projection has handled position `position` (applied
    /// or parked), or has stopped.
    pub async fn wait_for(&self, position: u64) -> Result<()> {
        let mut rx = self.position.clone();
        rx.wait_for(|p| *p >= position).await.map(|_| ()).map_err(|_| Error::Handler {
            what: format!("projection {}", self.name),
            reason: format!("stopped before position {position}: {:?}", self.state().last_error),
        })
    }

    /// Stops the runner (records status `stopped`) and returns how it ended.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.task.await.map_err(|e| Error::Handler { what: format!("projection {}", self.name), reason: e.to_string() })?
    }

    /// Drops the runner at once, like a crash: nothing more is recorded.
    pub fn abort(self) {
        self.task.abort();
    }
}

struct Run {
    store: Arc<dyn EventStore>,
    options: RunnerOptions,
    projection: Arc<dyn Projection>,
    state: Arc<Mutex<ProjectionState>>,
    position: watch::Sender<u64>,
}

impl Run {
    fn update(&self, f: impl FnOnce(&mut ProjectionState)) -> ProjectionState {
        let mut guard = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard);
        guard.clone()
    }

    async fn record(&self, head: Option<u64>, caught_up: bool, newest: Option<Timestamp>) -> Result<()> {
        let head = match head {
            Some(h) => h,
            None => self.store.head().await?,
        };
        let snapshot = self.update(|s| {
            s.head = head;
            s.lag_events = if caught_up { 0 } else { head.saturating_sub(s.position) };
            s.lag_seconds = match (caught_up, newest) {
                (false, Some(t)) => (Timestamp::now().as_micros() - t.as_micros()).max(0) as f64 / 1e6,
                _ => 0.0,
            };
            s.recorded_at = Timestamp::now();
        });
        record(&*self.store, &snapshot).await
    }

    async fn run(self, mut stopped: watch::Receiver<bool>, mode: Mode) -> Result<()> {
        // Operator requests are for the live instance, not a blue/green build.
        let mut inbox = match mode {
            Mode::Follow => Some(Inbox::new(self.projection.name())?),
            Mode::Rebuild => None,
        };
        let mut rebuilding = None;
        loop {
            match self.follow(&mut stopped, mode, inbox.as_mut(), rebuilding.take()).await? {
                Next::Stopped => return Ok(()),
                Next::Rebuild(request) => {
                    tracing::info!(projection = self.projection.name(), request, "rebuilding in place, as an operator asked");
                    self.projection.reset().await?;
                    self.update(|s| {
                        s.status = ProjectionStatus::Rebuilding;
                        s.applied = 0;
                        s.last_error = None;
                    });
                    rebuilding = Some(request);
                }
            }
        }
    }

    /// Catches up from the checkpoint, then follows live until stopped or
    /// an operator asks for a rebuild. `rebuilding`: the rebuild request
    /// being carried out (answered once caught up).
    async fn follow(
        &self,
        stopped: &mut watch::Receiver<bool>,
        mode: Mode,
        mut inbox: Option<&mut Inbox>,
        rebuilding: Option<u64>,
    ) -> Result<Next> {
        let start = self.projection.checkpoint().await?;
        self.update(|s| s.position = start);
        let _ = self.position.send(start);
        self.record(None, false, None).await?;
        // Catch up page by page: `next == None` proves every position up
        // to the page's head was examined, filtered or not.
        let mut from = start + 1;
        let mut newest = None;
        let mut last_record = std::time::Instant::now();
        let mut last_requests = std::time::Instant::now();
        loop {
            if *stopped.borrow() {
                self.finish(ProjectionStatus::Stopped, newest).await?;
                return Ok(Next::Stopped);
            }
            let page = self.store.read_all(&ReadAll::forward().from(from).limit(PAGE).filter(self.projection.filter())).await?;
            for event in &page.events {
                newest = Some(event.recorded_at);
                self.handle(event, stopped).await?;
            }
            if last_record.elapsed() >= self.options.record_every {
                self.record(Some(page.head), false, newest).await?;
                last_record = std::time::Instant::now();
            }
            if let Some(inbox) = inbox.as_deref_mut()
                && last_requests.elapsed() >= REQUESTS_EVERY
            {
                last_requests = std::time::Instant::now();
                if let Some(request) = self.serve_requests(inbox, rebuilding).await? {
                    return Ok(Next::Rebuild(request));
                }
            }
            match page.next {
                Some(next) => from = next,
                None => {
                    from = page.head + 1;
                    break;
                }
            }
        }
        if mode == Mode::Rebuild {
            self.finish(ProjectionStatus::Rebuilding, newest).await?;
            return Ok(Next::Stopped);
        }
        if let (Some(inbox), Some(request)) = (inbox.as_deref_mut(), rebuilding) {
            let now = self.update(|_| {});
            let outcome = format!("rebuilt: {} event(s) applied through position {}", now.applied, now.position);
            inbox.done(&*self.store, request, outcome).await?;
        }
        self.update(|s| s.status = ProjectionStatus::Live);
        self.record(None, true, newest).await?;
        let mut sub = self.store.subscribe(SubscribeFrom::Position(from), self.projection.filter()).await?;
        let mut tick = tokio::time::interval(self.options.record_every);
        tick.tick().await;
        let mut requests = tokio::time::interval(REQUESTS_EVERY);
        loop {
            let event = tokio::select! {
                biased;
                _ = stopped.changed() => break,
                event = sub.next() => event,
                // Polled after the subscription: reached only when no event
                // is waiting, i.e. the projection is caught up.
                _ = tick.tick() => {
                    self.record(None, true, newest).await?;
                    continue;
                }
                _ = requests.tick(), if inbox.is_some() => {
                    if let Some(inbox) = inbox.as_deref_mut()
                        && let Some(request) = self.serve_requests(inbox, None).await?
                    {
                        return Ok(Next::Rebuild(request));
                    }
                    continue;
                }
            };
            let Some(event) = event else { break };
            let event = event?;
            newest = Some(event.recorded_at);
            self.handle(&event, stopped).await?;
        }
        self.finish(ProjectionStatus::Stopped, newest).await?;
        Ok(Next::Stopped)
    }

    /// Carries out the replays operators asked for; returns a rebuild to
    /// carry out (see [`Inbox::serve`]).
    async fn serve_requests(&self, inbox: &mut Inbox, current: Option<u64>) -> Result<Option<u64>> {
        let (rebuild, replayed) = inbox.serve(&*self.store, &*self.projection, current).await?;
        if replayed > 0 {
            self.update(|s| s.parked = s.parked.saturating_sub(replayed));
        }
        Ok(rebuild)
    }

    async fn finish(&self, status: ProjectionStatus, newest: Option<Timestamp>) -> Result<()> {
        self.update(|s| s.status = status);
        self.record(None, status == ProjectionStatus::Rebuilding, newest).await
    }

    async fn parking_is_full(&self) -> Result<bool> {
        Ok(parked::list(&*self.store, self.projection.name()).await?.len() as u64 >= self.options.max_parked)
    }

    /// Waits while the projection's parked store is full (status `paused`);
    /// `false` when stopped meanwhile.
    async fn wait_for_parking_room(&self, stopped: &mut watch::Receiver<bool>) -> Result<bool> {
        let mut warned = false;
        loop {
            let open = parked::list(&*self.store, self.projection.name()).await?.len() as u64;
            if open < self.options.max_parked {
                if warned {
                    self.update(|s| s.status = ProjectionStatus::Live);
                }
                return Ok(true);
            }
            if !warned {
                tracing::error!(
                    projection = self.projection.name(),
                    open,
                    "the parked store is full: pausing until parked events are replayed"
                );
                self.update(|s| s.status = ProjectionStatus::Paused);
                self.record(None, false, None).await?;
                warned = true;
            }
            tokio::select! {
                _ = stopped.changed() => return Ok(false),
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// Applies one event (with retries), parks it or fails per the policy,
    /// and advances the published position.
    async fn handle(&self, event: &RecordedEvent, stopped: &mut watch::Receiver<bool>) -> Result<()> {
        if event.stream_id.as_str().starts_with('$') {
            // System streams (`$projections`, `$parked-…`) are bookkeeping,
            // not domain events: passed over, as in EventStoreDB.
            self.update(|s| s.position = s.position.max(event.global_position));
            let _ = self.position.send(event.global_position);
            return Ok(());
        }
        let mut outcome = self.apply_with_retries(event, stopped).await;
        while outcome.is_err() && self.options.on_failure == OnFailure::Park && !*stopped.borrow() && self.parking_is_full().await? {
            // Paused: once room is made, the event is tried again (the
            // cause may be fixed by then) before it would be parked.
            if !self.wait_for_parking_room(stopped).await? {
                return Ok(()); // stopped while paused: applied again on the next start
            }
            outcome = self.apply_with_retries(event, stopped).await;
        }
        match outcome {
            Ok(()) => {
                self.update(|s| s.applied += 1);
            }
            Err(e) if self.options.on_failure == OnFailure::Park && !*stopped.borrow() => {
                parked::park(&*self.store, self.projection.name(), event, &e.to_string()).await?;
                self.update(|s| {
                    s.parked += 1;
                    s.last_error = Some(e.to_string());
                });
            }
            Err(e) => {
                if !*stopped.borrow() {
                    self.update(|s| {
                        s.status = ProjectionStatus::Failed;
                        s.last_error = Some(e.to_string());
                    });
                    self.record(None, false, Some(event.recorded_at)).await?;
                }
                return Err(e);
            }
        }
        self.update(|s| s.position = event.global_position);
        let _ = self.position.send(event.global_position);
        Ok(())
    }

    async fn apply_with_retries(&self, event: &RecordedEvent, stopped: &mut watch::Receiver<bool>) -> Result<()> {
        let mut delay = self.options.backoff;
        let mut attempt = 0;
        loop {
            match self.projection.apply(event).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= self.options.retries => return Err(e),
                Err(e) => {
                    tracing::warn!(projection = self.projection.name(), position = event.global_position, attempt, error = %e, "retrying");
                    self.update(|s| s.last_error = Some(e.to_string()));
                    attempt += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stopped.changed() => return Err(e),
                    }
                    delay = (delay * 2).min(self.options.max_backoff);
                }
            }
        }
    }
}
