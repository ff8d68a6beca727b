//! # chronicle-retention
//!
//! Retention policies configured once in `chronicle.toml`:
//!
//! ```toml
//! [retention]
//! default = "infinite"            # or "90d", or a count
//! interval = "1h"                 # how often chronicle serve enforces
//! [[retention.rules]]
//! category = "telemetry"          # or streams = "tmp-*"
//! max_age = "30d"                 # and/or max_count = 1000
//! [[retention.keep]]
//! tags = ["legal-hold"]           # matching events are never removed by an age or count rule
//! ```
//!
//! [`RetentionSettings`] reads and checks them (every error names its
//! field); [`RetentionSettings::limits_for`] says which limits bind a
//! stream and [`plan_cut`] where its removable prefix ends. Retention
//! removes a *prefix* of a stream: a kept event stops the cut at itself.
//! [`enforce`] runs one pass (hiding what goes); [`Retention`] is what a
//! node runs: passes on demand and on schedule, each followed by
//! reclaiming the space through the backend's maintenance, recorded in
//! `$retention`, with Prometheus metrics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod enforce;
mod error;
mod metrics;
mod plan;
mod policy;
mod service;
mod settings;

pub use enforce::{PassReport, RuleReport, enforce};
pub use error::{Result, RetentionError};
pub use plan::{Candidate, Expiry, plan_cut};
pub use policy::{Policy, PolicyRule, format_duration};
pub use service::{LEASE, PASS_EVENT, RETENTION_STREAM, Retention, last_pass};
pub use settings::{Limits, Pattern, RetentionSettings, Rule, Selector, parse_duration};
