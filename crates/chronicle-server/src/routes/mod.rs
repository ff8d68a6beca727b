//! The HTTP routes, each documented for OpenAPI where it is defined.

pub(crate) mod events;
pub(crate) mod groups;
pub(crate) mod listing;
pub(crate) mod ops;
pub(crate) mod privacy;
pub(crate) mod publish;
pub(crate) mod pump;
pub(crate) mod retention;
pub(crate) mod schemas;
pub(crate) mod streams;
pub(crate) mod subscribe;
pub(crate) mod transfer;
pub(crate) mod ws;
