//! # chronicle-postgres
//!
//! The PostgreSQL backend: a production store behind the same
//! [`EventStore`](chronicle_core::EventStore) trait.
//!
//! - **Gapless global order.** Positions come from a one-row `head` table,
//!   not a sequence: an append locks its streams' rows (sorted, so appends
//!   never deadlock), decides (idempotency, tombstones, expected versions),
//!   and only then takes the `head` row lock, reserves `n` positions and
//!   inserts the events in one statement. The lock is held from that point
//!   to commit, so transactions commit in position order: a reader can
//!   never see position N+1 before N, and a rolled-back append releases its
//!   positions with the rest of the transaction — no holes. Only the tail
//!   of each transaction (insert + commit) is serialised; deciding runs in
//!   parallel. A DCB append checks its condition after taking the lock.
//! - `data`/`metadata` are stored as the validated compact JSON text and
//!   returned verbatim (not `jsonb`, which would re-encode them).
//! - Live subscriptions: `LISTEN`/`NOTIFY` of the new head, plus a bounded
//!   poll as a safety net, feeding the core catch-up-then-live loop.
//! - Pooling (deadpool), retries with backoff and a circuit breaker;
//!   versioned migrations applied on open.

mod append;
mod breaker;
mod listen;
mod read;
mod schema;
mod store;

pub use schema::{dry_run, validate_schema_name};
pub use store::{PgOptions, PgStore, application_name};

use chronicle_core::Error;

/// Maps a driver error: lost connections are `Unavailable` (retry later),
/// anything else an I/O error naming PostgreSQL.
pub(crate) fn db_error(e: tokio_postgres::Error) -> Error {
    if e.is_closed() || e.as_db_error().is_none() {
        return Error::Unavailable { reason: format!("postgres: {e}") };
    }
    let detail = e.as_db_error().map(|d| format!("{} ({})", d.message(), d.code().code())).unwrap_or_else(|| e.to_string());
    Error::io("postgres", std::io::Error::other(detail))
}
