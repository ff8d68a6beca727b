//! The toolkit's error type.

/// What a toolkit operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The aggregate rejected the command (an invariant or authorization
    /// failure). Use [`Error::domain`] to get the typed error back.
    #[error("command rejected: {0}")]
    Domain(Box<dyn std::error::Error + Send + Sync>),
    /// Optimistic concurrency kept failing after the configured retries.
    #[error("concurrency conflict on {stream} persisted after {retries} retries")]
    Conflict {
        /// The aggregate's stream.
        stream: String,
        /// Retries made.
        retries: u32,
    },
    /// A stored event or snapshot could not be decoded into the domain type.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What (event type and position, or snapshot).
        what: String,
        /// Why.
        reason: String,
    },
    /// An upcaster failed.
    #[error("upcasting {event_type} v{from}: {reason}")]
    Upcast {
        /// Event type.
        event_type: String,
        /// Version it started from.
        from: u32,
        /// Why.
        reason: String,
    },
    /// A migration's verification pass found a difference.
    #[error("migration verification failed at {at}: {reason}")]
    Verification {
        /// Where (position or stream).
        at: String,
        /// What differs.
        reason: String,
    },
    /// A projection or saga handler failed on an event.
    #[error("handler failed: {what}: {reason}")]
    Handler {
        /// Which handler, and on what (projection name and position).
        what: String,
        /// Why.
        reason: String,
    },
    /// No handler is registered for a command or query type.
    #[error("no handler registered for {0}")]
    NoHandler(&'static str),
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] chronicle_core::Error),
}

impl Error {
    /// The typed domain error, if this is one of type `E`.
    pub fn domain<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Self::Domain(e) => e.downcast_ref::<E>(),
            _ => None,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<chronicle_schema::SchemaError> for Error {
    fn from(e: chronicle_schema::SchemaError) -> Self {
        match e {
            chronicle_schema::SchemaError::Upcast { event_type, from, reason } => Self::Upcast { event_type, from, reason },
            chronicle_schema::SchemaError::Store(e) => Self::Store(e),
            other => Self::Store(chronicle_core::Error::invalid("upcasters", other.to_string())),
        }
    }
}
