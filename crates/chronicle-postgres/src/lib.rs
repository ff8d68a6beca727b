//! # chronicle-postgres
//!
//! The PostgreSQL backend: a production store behind the same
//! [`EventStore`](chronicle_core::EventStore) trait.
//!
//! - **Gapless global order.** Positions come from a one-row `head` table,
//!   not a sequence. Appends go through a group committer (one per store):
//!   it takes every queued append, locks all their stream rows (sorted, so
//!   writers never deadlock), decides each append in turn (idempotency,
//!   tombstones, expected versions), then one statement takes the `head`
//!   row lock, reserves the batch's positions, inserts its events and
//!   advances its streams. The lock is held to commit, so transactions
//!   commit in position order: a reader never sees position N+1 before N,
//!   and a rollback releases its positions with the rest of the
//!   transaction — no holes. Several processes may share one database: the
//!   same locks order them. A DCB append runs alone and checks its
//!   condition with the head locked.
//! - `data`/`metadata` are stored as the validated compact JSON text and
//!   returned verbatim (not `jsonb`, which would re-encode them).
//! - Live subscriptions: `LISTEN`/`NOTIFY` of the new head, plus a bounded
//!   poll as a safety net, feeding the core catch-up-then-live loop.
//! - Pooling (deadpool), retries with backoff and a circuit breaker;
//!   versioned migrations applied on open.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod append;
mod breaker;
mod commit;
mod export;
mod group_claim;
mod group_rows;
mod import;
mod key_rows;
mod lease;
mod listen;
mod maintenance;
mod read;
mod reclaim;
mod schema;
mod store;
mod tls;
mod write;

pub use group_claim::{ClaimRules, ClaimedRow, Heartbeat};
pub use group_rows::{GroupRowStatus, GroupRows};
pub use key_rows::{KeyRow, KeyRows};
pub use lease::PgLeases;
pub use maintenance::PgMaintenance;
pub use schema::{dry_run, validate_schema_name};
pub use store::{PgOptions, PgStore, application_name};
pub use tls::{Connector, SslMode, TlsSettings};

use chronicle_core::Error;

/// Column `i` of `row` as `T`: a type mismatch (a schema not ours, a
/// migration gone wrong) is an error naming the column, never a panic.
pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a tokio_postgres::Row, i: usize) -> chronicle_core::Result<T> {
    row.try_get(i).map_err(|e| Error::Corrupted { location: "a postgres row".into(), reason: format!("column {i}: {e}") })
}

/// Maps a driver error: lost connections and a server that is shutting
/// down, starting up, out of connections or read-only (a standby) are
/// `Unavailable` (retry later: an append's outcome is then unknown, and a
/// retry with the same event ids is stored once); anything else is an I/O
/// error naming PostgreSQL.
pub(crate) fn db_error(e: tokio_postgres::Error) -> Error {
    let Some(db) = e.as_db_error().filter(|_| !e.is_closed()) else {
        return Error::Unavailable { reason: format!("postgres: {e}") };
    };
    let detail = format!("{} ({})", db.message(), db.code().code());
    if transient(db.code().code()) {
        return Error::Unavailable { reason: format!("postgres: {detail}") };
    }
    Error::io("postgres", std::io::Error::other(detail))
}

/// SQLSTATEs after which the same request may succeed later: connection
/// exceptions (class 08), operator intervention (57P01 admin shutdown,
/// 57P02 crash shutdown, 57P03 cannot connect now), too many connections
/// (53300), a read-only transaction (25006, a standby).
fn transient(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "25006")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shutdowns_and_lost_connections_are_transient_constraint_errors_are_not() {
        for code in ["08006", "08003", "57P01", "57P02", "57P03", "53300", "25006"] {
            assert!(super::transient(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "22P02", "57014"] {
            assert!(!super::transient(code), "{code}");
        }
    }
}
