//! What a node knows about its connections to a database server: the
//! pool, reconnections, the change feed and the circuit breaker. A backend
//! that talks to a server (PostgreSQL) reports it per node, for
//! `/health/ready` and `/metrics`; embedded backends have nothing to say.

use serde::Serialize;

/// The state of a circuit breaker in front of a database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests go through.
    #[default]
    Closed,
    /// Repeated connection failures: requests fail at once with
    /// `Unavailable` until the open period ends.
    Open,
    /// The open period ended: the next request tries the database again;
    /// a success closes the breaker, a failure opens it again.
    HalfOpen,
}

/// A point-in-time copy of a node's connection counters.
///
/// ```
/// use chronicle_core::{BreakerState, ConnectionStats};
/// let stats = ConnectionStats { pool_max: 8, in_use: 3, idle: 5, ..ConnectionStats::default() };
/// assert_eq!(stats.breaker, BreakerState::Closed);
/// assert_eq!(serde_json::to_value(&stats).unwrap()["breaker"], "closed");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionStats {
    /// Most connections the pool opens.
    pub pool_max: u64,
    /// Pooled connections lent out now.
    pub in_use: u64,
    /// Pooled connections open and free now.
    pub idle: u64,
    /// Callers waiting for a pooled connection now.
    pub waiting: u64,
    /// Connections opened since start (pool and change feed).
    pub opened: u64,
    /// Connections found dead and replaced (pool and change feed).
    pub reconnects: u64,
    /// Wake-ups by the database's change notifications (`NOTIFY`).
    pub notify_wakeups: u64,
    /// Whether the change-notification connection is listening now.
    pub listening: bool,
    /// The circuit breaker.
    pub breaker: BreakerState,
    /// Times the breaker opened since start.
    pub breaker_trips: u64,
}

/// A backend's report on its connections (see [`ConnectionStats`]).
pub trait ConnectionReport: Send + Sync + std::fmt::Debug {
    /// The counters now.
    fn connection_stats(&self) -> ConnectionStats;
}
