//! # chronicle-groups
//!
//! Consumer groups: several consumers (any language, over the server's
//! WebSocket) share one subscription; the server tracks acknowledgements,
//! redelivers what a crashed or slow consumer held, parks poison events
//! and remembers the position.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod api;
mod error;
mod group;
mod groups;
mod ledger;
mod local;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod pg_adopt;
#[cfg(feature = "postgres")]
mod pg_feeder;
mod pump;
mod registry;
mod spec;

pub use api::{ConsumerMessage, GroupsBody, ParkedBody, ReplayedBody, delivery_json, render_prometheus};
pub use error::{GroupError, Result};
pub use groups::{Consumer, GroupStatus, Groups};
pub use ledger::{ConsumerId, Delivery, Ledger, NackAction, Progress, ToPark, backoff_for};
pub use spec::{FilterSpec, GroupSpec, StartFrom, Strategy, check_name};
