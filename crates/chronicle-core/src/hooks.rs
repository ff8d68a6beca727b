//! The built-in append hooks, configured from `chronicle.toml`'s
//! `[pipeline]` section.

use crate::{AppendContext, AppendHook, Error, PreparedAppend, Result};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Rejects appends carrying any of the listed event types
/// (`[pipeline] deny_event_types`): the whole append fails with
/// [`Error::Invalid`] naming the event's `event_type` field; nothing is
/// stored.
///
/// ```
/// use chronicle_core::{AppendContext, AppendPipeline, AppendRequest, DenyEventTypes, Error, ExpectedVersion, NewEvent, StreamAppend, StreamId};
/// use std::sync::Arc;
/// let p = AppendPipeline::default().with_hook(Arc::new(DenyEventTypes::new(["Debug"])));
/// let part = StreamAppend::new(StreamId::new("a-1").unwrap(), ExpectedVersion::Any,
///     vec![NewEvent::raw("Made", &b"{}"[..]), NewEvent::raw("Debug", &b"{}"[..])]);
/// let err = p.prepare(&AppendContext::library(), AppendRequest { streams: vec![part], condition: None }).unwrap_err();
/// assert!(matches!(err, Error::Invalid { ref field, .. } if field == "events[1].event_type"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenyEventTypes {
    denied: BTreeSet<String>,
}

impl DenyEventTypes {
    /// Denies these event types.
    pub fn new<S: Into<String>>(types: impl IntoIterator<Item = S>) -> Self {
        Self { denied: types.into_iter().map(Into::into).collect() }
    }
}

impl AppendHook for DenyEventTypes {
    fn before_store(&self, _context: &AppendContext, append: &mut PreparedAppend) -> Result<()> {
        let single = append.streams.len() == 1;
        for (j, part) in append.streams.iter().enumerate() {
            for (i, event) in part.events.iter().enumerate() {
                if self.denied.contains(&*event.event_type) {
                    let prefix = if single { String::new() } else { format!("streams[{j}].") };
                    return Err(Error::invalid(
                        format!("{prefix}events[{i}].event_type"),
                        format!("event type {} is not accepted by this store (pipeline.deny_event_types)", event.event_type),
                    ));
                }
            }
        }
        Ok(())
    }

    fn observes_commits(&self) -> bool {
        false
    }
}

/// Stamps every event appended by an authenticated caller with who it was
/// (`[pipeline] stamp_principal`): metadata `actor` becomes
/// `{"type": "token", "id": <token id>}` and `tenant` the token's tenant
/// (when it has one), replacing whatever the client sent, so neither can be
/// forged. Appends without a principal pass unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StampPrincipal;

impl AppendHook for StampPrincipal {
    fn before_store(&self, context: &AppendContext, append: &mut PreparedAppend) -> Result<()> {
        let Some(principal) = &context.principal else { return Ok(()) };
        for event in append.streams.iter_mut().flat_map(|p| p.events.iter_mut()) {
            let actor = ("actor".to_owned(), json!({"type": "token", "id": principal.token_id}));
            let tenant = principal.tenant.as_ref().map(|t| ("tenant".to_owned(), Value::String(t.clone())));
            event.set_metadata_fields(std::iter::once(actor).chain(tenant))?;
        }
        Ok(())
    }

    fn observes_commits(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppendPipeline, AppendRequest, ExpectedVersion, NewEvent, Principal, Role, StreamAppend, StreamId};
    use std::sync::Arc;

    fn request(meta: &str) -> AppendRequest {
        let event = NewEvent::raw("Made", &b"{}"[..]).with_metadata_raw(meta.as_bytes().to_vec());
        AppendRequest {
            streams: vec![StreamAppend::new(StreamId::new("a-1").unwrap(), ExpectedVersion::Any, vec![event])],
            condition: None,
        }
    }

    #[test]
    fn stamping_replaces_a_forged_actor_and_keeps_other_fields() {
        let p = AppendPipeline::default().with_hook(Arc::new(StampPrincipal));
        let who = Principal { token_id: "svc".into(), role: Role::Writer, tenant: Some("acme".into()), grants: vec![], pii: false };
        let ctx = AppendContext::http(Some(who));
        let prepared = p.prepare(&ctx, request(r#"{"actor":{"type":"user","id":"root"},"tenant":"evil","correlation_id":"c"}"#)).unwrap();
        let event = &prepared.streams[0].events[0];
        assert_eq!(event.well_known().actor.as_ref().map(|a| (a.kind.as_str(), a.id.as_str())), Some(("token", "svc")));
        assert_eq!(event.well_known().tenant.as_deref(), Some("acme"));
        assert_eq!(event.well_known().correlation_id.as_deref(), Some("c"));
        let anonymous = p.prepare(&AppendContext::http(None), request(r#"{"tenant":"t"}"#)).unwrap();
        assert_eq!(anonymous.streams[0].events[0].well_known().tenant.as_deref(), Some("t"));
    }

    #[test]
    fn denied_types_reject_multi_stream_appends_by_field() {
        let p = AppendPipeline::default().with_hook(Arc::new(DenyEventTypes::new(["Bad"])));
        let mut req = request("{}");
        req.streams.push(StreamAppend::new(StreamId::new("b-1").unwrap(), ExpectedVersion::Any, vec![NewEvent::raw("Bad", &b"{}"[..])]));
        let err = p.prepare(&AppendContext::library(), req).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "streams[1].events[0].event_type"), "{err:?}");
    }
}
