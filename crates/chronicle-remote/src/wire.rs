//! The remote client's side of the HTTP API: query parameters of filters
//! and expectations; bodies, events, pages and errors come from
//! `chronicle-wire`, which the server reads too.

use chronicle_core::{Error, ExpectedVersion, Filter, StreamId};

pub(crate) use chronicle_wire::{event, events, page};

/// The query parameters of a filter.
pub(crate) fn filter_query(f: &Filter) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if !f.event_types.is_empty() {
        q.push(("event_type", f.event_types.join(",")));
    }
    let fields = [
        ("category", &f.category),
        ("stream_prefix", &f.stream_prefix),
        ("correlation_id", &f.correlation_id),
        ("actor_id", &f.actor_id),
        ("actor_type", &f.actor_type),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            q.push((name, v.clone()));
        }
    }
    if let Some(s) = &f.stream_id {
        q.push(("stream_id", s.to_string()));
    }
    if !f.tags.is_empty() {
        q.push(("tag", f.tags.join(",")));
    }
    if let Some(t) = f.since {
        q.push(("since", t.to_string()));
    }
    if let Some(t) = f.until {
        q.push(("until", t.to_string()));
    }
    q
}

/// An expected version as a query value.
pub(crate) fn expected(e: ExpectedVersion) -> String {
    match e {
        ExpectedVersion::Exact(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The core error an API error body stands for.
pub(crate) fn error(status: u16, body: &[u8], context: Option<&StreamId>) -> Error {
    chronicle_wire::error_from_body(status, body, context)
}
