//! # chronicle-testkit
//!
//! One conformance suite for every [`EventStore`](chronicle_core::EventStore)
//! backend, plus a proptest model-based test that drives random operation
//! sequences against a backend and a deliberately simple reference model.
//!
//! A backend runs the whole suite from one of its integration tests:
//!
//! ```ignore
//! chronicle_testkit::conformance_suite!(|| async { chronicle_memory::MemoryStore::new() });
//! ```
//!
//! The factory is called once per test and must return a fresh, empty store
//! (for a service-backed store: its own database or schema). The calling
//! crate needs `tokio` (with `macros` and `rt-multi-thread`) as a
//! dev-dependency.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

// The cases are test bodies run by each backend's tests: a panic there is
// the assertion failing, so they unwrap and index like any test.
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub mod cases;
pub mod crash;
mod helpers;
pub mod hooks;
pub mod tally;
// The reference model indexes its own tables by generated indices, in
// range by construction; a panic there fails the model-based test.
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub mod model;
pub mod pg_cluster;
// Test bodies too (see `cases`).
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub mod privacy;
pub mod schemas;
pub mod tls;
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub mod transfer;
pub mod webhook;

pub use helpers::{event, event_with_meta, sid};

/// Generates one `#[tokio::test]` per conformance case plus the
/// model-based test, each against a fresh store from `$factory`.
///
/// For a service-backed backend, `conformance_suite!(optional: factory)`
/// takes a factory returning `Option<store>`: `None` (service unreachable,
/// see [`service_or_skip`]) skips the test loudly.
#[macro_export]
macro_rules! conformance_suite {
    (optional: $factory:expr) => {
        $crate::conformance_suite!(@all $factory);
    };
    ($factory:expr) => {
        $crate::conformance_suite!(@all || async { let f = $factory; Some(f().await) });
    };
    (@all $factory:expr) => {
        $crate::conformance_suite!(@cases $factory;
            positions_and_versions_start_at_one_and_are_gapless,
            expected_version_is_enforced_and_conflicts_report_actual,
            racing_writers_exactly_one_wins_each_version,
            concurrent_appends_are_gapless,
            retried_append_is_idempotent,
            partial_or_misplaced_duplicates_are_rejected,
            empty_append_is_invalid,
            multi_stream_append_is_atomic,
            dcb_condition_guards_the_append,
            read_stream_directions_from_and_limit,
            read_all_filters,
            read_all_cursor_paging_covers_everything_once,
            get_event_and_by_correlation,
            subscription_crosses_from_history_into_live,
            subscription_starts_mid_history,
            subscription_filters_and_streams,
            slow_subscriber_gets_everything_in_order,
            soft_delete_hides_and_recreate_continues_versions,
            tombstone_is_final,
            stream_metadata_retention_is_honoured_on_read,
            snapshots_keep_the_latest,
            checkpoints_round_trip,
            list_streams_pages_by_id_with_filters_and_states,
            validation_errors_name_the_field_and_store_nothing,
            recorded_at_is_non_decreasing,
            health_and_metrics_report,
        );
        #[test]
        fn model_based_against_reference() {
            $crate::model::check(|| async { let f = $factory; f().await });
        }
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let f = $factory;
                let Some(store) = f().await else { return };
                $crate::cases::$case(::std::sync::Arc::new(store)).await;
            }
        )*
    };
}

/// The environment variable that turns "service unreachable" from a loud
/// skip into a test failure (set by `.ci/run`).
pub const REQUIRE_SERVICES: &str = "CHRONICLE_REQUIRE_SERVICES";

/// `Some(value)` when a service-backed store opened; otherwise prints a
/// loud SKIPPED line and returns `None` — or panics when
/// `CHRONICLE_REQUIRE_SERVICES=1`.
pub fn service_or_skip<S, E: std::fmt::Display>(service: &str, opened: Result<S, E>) -> Option<S> {
    match opened {
        Ok(s) => Some(s),
        Err(e) if std::env::var(REQUIRE_SERVICES).is_ok_and(|v| v == "1") => {
            panic!("{service} is required ({REQUIRE_SERVICES}=1) but unreachable: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: {service} unreachable ({e}); set {REQUIRE_SERVICES}=1 to make this a failure");
            None
        }
    }
}
