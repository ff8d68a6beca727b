//! A thin command bus (routes a command to the repository of its
//! aggregate) and query bus (routes a query to its handler).

use crate::{Aggregate, CommandContext, Error, Repository, Result};
use std::{any::Any, any::TypeId, collections::HashMap, future::Future, pin::Pin, sync::Arc};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a dispatched command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatched {
    /// The stream version after the command.
    pub version: u64,
    /// Events recorded.
    pub events: usize,
}

trait CommandHandler: Send + Sync {
    fn handle<'a>(&'a self, id: &'a str, command: Box<dyn Any + Send>, context: &'a CommandContext) -> BoxFuture<'a, Result<Dispatched>>;
}

impl<A: Aggregate> CommandHandler for Repository<A> {
    fn handle<'a>(&'a self, id: &'a str, command: Box<dyn Any + Send>, context: &'a CommandContext) -> BoxFuture<'a, Result<Dispatched>> {
        Box::pin(async move {
            let command = command.downcast::<A::Command>().map_err(|_| Error::NoHandler(std::any::type_name::<A::Command>()))?;
            let done = self.execute(id, *command, context).await?;
            Ok(Dispatched { version: done.version, events: done.events.len() })
        })
    }
}

/// Routes commands by type to the repository of their aggregate.
#[derive(Default)]
pub struct CommandBus {
    handlers: HashMap<TypeId, Arc<dyn CommandHandler>>,
}

impl std::fmt::Debug for CommandBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandBus").field("handlers", &self.handlers.len()).finish()
    }
}

impl CommandBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `A::Command` to `repository`.
    pub fn register<A: Aggregate>(mut self, repository: Repository<A>) -> Self {
        self.handlers.insert(TypeId::of::<A::Command>(), Arc::new(repository));
        self
    }

    /// Executes `command` against aggregate `id`.
    pub async fn dispatch<C: Send + 'static>(&self, id: &str, command: C, context: &CommandContext) -> Result<Dispatched> {
        let handler = self.handlers.get(&TypeId::of::<C>()).ok_or(Error::NoHandler(std::any::type_name::<C>()))?;
        handler.handle(id, Box::new(command), context).await
    }
}

type QueryFn = Arc<dyn Fn(Box<dyn Any + Send>) -> BoxFuture<'static, Result<Box<dyn Any + Send>>> + Send + Sync>;

/// Routes queries by type to their handler.
#[derive(Default)]
pub struct QueryBus {
    handlers: HashMap<TypeId, QueryFn>,
}

impl std::fmt::Debug for QueryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryBus").field("handlers", &self.handlers.len()).finish()
    }
}

impl QueryBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of queries of type `Q`.
    pub fn register<Q, R, F, Fut>(mut self, handler: F) -> Self
    where
        Q: Send + 'static,
        R: Send + 'static,
        F: Fn(Q) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: QueryFn = Arc::new(move |q: Box<dyn Any + Send>| {
            let handler = handler.clone();
            Box::pin(async move {
                let q = q.downcast::<Q>().map_err(|_| Error::NoHandler(std::any::type_name::<Q>()))?;
                Ok(Box::new(handler(*q).await?) as Box<dyn Any + Send>)
            })
        });
        self.handlers.insert(TypeId::of::<Q>(), erased);
        self
    }

    /// Answers a query.
    pub async fn ask<Q: Send + 'static, R: Send + 'static>(&self, query: Q) -> Result<R> {
        let handler = self.handlers.get(&TypeId::of::<Q>()).ok_or(Error::NoHandler(std::any::type_name::<Q>()))?;
        let answer = handler(Box::new(query)).await?;
        answer.downcast::<R>().map(|r| *r).map_err(|_| Error::NoHandler(std::any::type_name::<R>()))
    }
}
