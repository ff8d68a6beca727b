//! # chronicle-schema
//!
//! Event schemas and upcasting, on the server and in process:
//! - [`Step`] and [`Upcasters`]: chains that lift old event shapes to the
//!   current one, declared (set, rename, move, copy, drop, wrap) or coded;
//! - [`Schemas`]: JSON Schemas per (event type, version), immutable once
//!   registered, checked on append by [`SchemaHook`] (every backend, every
//!   entry point) with [`Mode`] `off` / `warn` / `enforce`;
//! - [`Catalog`]: both, shared by the append hook and [`ShapedStore`],
//!   the store wrapper that serves every reader the current shape.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod book;
mod catalog;
mod defaults;
mod eager;
mod error;
mod schemas;
mod settings;
mod shaped;
mod steps;
mod upcast;

pub use book::{Registration, UpcastFrom, load, register};
pub use catalog::{Catalog, Mode, SchemaHook, Unknown};
pub use eager::{Census, Count, LiftFailure, Lifter, census};
pub use error::{Result, SchemaError};
pub use schemas::{Failure, Schemas};
pub use settings::{SchemaFile, SchemaSettings, UpcasterDecl};
pub use shaped::ShapedStore;
pub use steps::Step;
pub use upcast::Upcasters;
