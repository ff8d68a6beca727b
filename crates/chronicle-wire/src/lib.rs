//! # chronicle-wire
//!
//! The HTTP wire contract that `chronicle serve` and the remote backend
//! share, so the two sides cannot drift: every error `code` with its HTTP
//! status ([`ErrorCode`]), and the conversion of a core
//! [`Error`](chronicle_core::Error) to its JSON body ([`error_body`]) and
//! back ([`error_from_body`]). No HTTP framework is compiled in.
//!
//! ```
//! use chronicle_core::{Error, StreamId};
//! use chronicle_wire::{ErrorCode, error_body, error_from_body};
//! let e = Error::StreamDeleted { stream: StreamId::new("order-1").unwrap() };
//! let (status, body) = error_body(&e);
//! assert_eq!((status, ErrorCode::StreamDeleted.status()), (410, 410));
//! let back = error_from_body(status, serde_json::to_vec(&body).unwrap().as_slice(), None);
//! assert!(matches!(back, Error::StreamDeleted { .. }));
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod body;
mod error;
mod filter;
mod read;

pub use body::{AppendBody, CheckpointBody, ConditionBody, NewEventBody, Object, QueryBody, SnapshotBody, StreamAppendBody, object};
pub use error::{ErrorCode, error_body, error_from_body};
pub use filter::FilterSpec;
pub use read::{event, events, page};
