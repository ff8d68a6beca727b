//! Tenants: one store partitioned so that a tenant's callers see only
//! the tenant's data.
//!
//! A tenant's stream `order-1` is stored as `@acme/order-1` (the tenant
//! prefix `@` + name + `/`); its category `order` is stored as
//! `@acme/order`. Event ids are per tenant too: the id a tenant gives is
//! stored XOR a mask derived from the tenant's name (a bijection, so two
//! tenants may use the same id and each retry stays idempotent). Global
//! positions stay global: they interleave between tenants.
//!
//! [`TenantSpace`] maps one tenant's view onto the stored names and back;
//! [`TenantStore`](crate::TenantStore) applies it to a whole store.

use crate::{Error, EventQuery, Filter, ListStreams, RecordedEvent, Result, StreamId, Uuid};

/// The first character of every tenant's stored stream ids.
pub const TENANT_MARK: char = '@';

/// Longest tenant name, in bytes.
pub const MAX_TENANT_BYTES: usize = 64;

/// Checks a tenant name: 1..=64 ASCII letters, digits, `_` or `.` (no
/// `-`, which ends a category, and no `/`, which ends the prefix). The
/// error says what is wrong.
///
/// ```
/// assert!(chronicle_core::check_tenant_name("acme_eu").is_ok());
/// assert!(chronicle_core::check_tenant_name("acme-eu").is_err());
/// ```
pub fn check_tenant_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > MAX_TENANT_BYTES {
        return Err(format!("tenant {name:?} must be 1..={MAX_TENANT_BYTES} bytes"));
    }
    match name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.')) {
        Some(c) => Err(format!("tenant {name:?} holds {c:?}: use ASCII letters, digits, '_' and '.'")),
        None => Ok(()),
    }
}

/// Whether a stored stream id belongs to some tenant.
pub fn is_tenant_stream(stored: &str) -> bool {
    stored.starts_with(TENANT_MARK)
}

/// The part of `stored` a caller of `tenant` sees, or `None` when the
/// stream is not the tenant's.
pub fn tenant_view<'a>(stored: &'a str, tenant: &str) -> Option<&'a str> {
    stored.strip_prefix(TENANT_MARK)?.strip_prefix(tenant)?.strip_prefix('/')
}

/// One tenant's names: how its view maps onto what is stored.
///
/// ```
/// use chronicle_core::{StreamId, TenantSpace};
/// let acme = TenantSpace::new("acme");
/// let stored = acme.stream_in(&StreamId::new("order-1")?)?;
/// assert_eq!(stored.as_str(), "@acme/order-1");
/// assert_eq!(stored.category(), "@acme/order");
/// assert_eq!(acme.stream_out(&stored).unwrap().as_str(), "order-1");
/// assert!(TenantSpace::new("other").stream_out(&stored).is_none());
/// let id = chronicle_core::Uuid::now_v7();
/// assert_eq!(acme.id_out(acme.id_in(id)), id);
/// # Ok::<(), chronicle_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantSpace {
    tenant: String,
    prefix: String,
    mask: u128,
}

/// The namespace of the masks (a fixed, random UUID).
const MASK_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c0e_94d2_4f7a_8e55_2a0c_d3b7_91e4);

impl TenantSpace {
    /// The space of `tenant` (a name [`check_tenant_name`] accepts).
    pub fn new(tenant: &str) -> Self {
        let mask = Uuid::new_v5(&MASK_NAMESPACE, tenant.as_bytes()).as_u128();
        Self { tenant: tenant.to_owned(), prefix: format!("{TENANT_MARK}{tenant}/"), mask }
    }

    /// The tenant's name.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// What every stored stream id of the tenant starts with: `@acme/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The stored id of the tenant's stream `view`.
    pub fn stream_in(&self, view: &StreamId) -> Result<StreamId> {
        StreamId::new(format!("{}{}", self.prefix, view.as_str())).map_err(|_| {
            let room = crate::MAX_STREAM_ID_BYTES - self.prefix.len();
            Error::invalid("stream_id", format!("must be at most {room} bytes for tenant {}", self.tenant))
        })
    }

    /// The tenant's view of a stored stream id, or `None` when it is not
    /// the tenant's.
    pub fn stream_out(&self, stored: &StreamId) -> Option<StreamId> {
        stored.as_str().strip_prefix(&self.prefix).and_then(|v| StreamId::new(v).ok())
    }

    /// The stored form of an event id the tenant gives.
    pub fn id_in(&self, id: Uuid) -> Uuid {
        Uuid::from_u128(id.as_u128() ^ self.mask)
    }

    /// The tenant's view of a stored event id.
    pub fn id_out(&self, stored: Uuid) -> Uuid {
        self.id_in(stored)
    }

    /// The tenant's view of a stored event, or `None` when it is not the
    /// tenant's.
    pub fn event_out(&self, mut event: RecordedEvent) -> Option<RecordedEvent> {
        event.stream_id = self.stream_out(&event.stream_id)?;
        event.event_id = self.id_out(event.event_id);
        Some(event)
    }

    /// A filter of the tenant's view as a filter of stored events: always
    /// inside the tenant's prefix.
    pub fn filter_in(&self, filter: &Filter) -> Result<Filter> {
        let mut stored = filter.clone();
        stored.category = filter.category.as_ref().map(|c| format!("{}{c}", self.prefix));
        stored.stream_prefix = Some(format!("{}{}", self.prefix, filter.stream_prefix.as_deref().unwrap_or("")));
        stored.stream_id = filter.stream_id.as_ref().map(|s| self.stream_in(s)).transpose()?;
        Ok(stored)
    }

    /// A DCB query of the tenant's view: every item limited to the
    /// tenant's streams.
    pub fn query_in(&self, query: &EventQuery) -> EventQuery {
        let mut stored = query.clone();
        for item in &mut stored.items {
            item.stream_prefix = Some(format!("{}{}", self.prefix, item.stream_prefix.as_deref().unwrap_or("")));
        }
        stored
    }

    /// A stream listing of the tenant's view as a listing of stored ids.
    pub fn listing_in(&self, query: &ListStreams) -> ListStreams {
        let within = |s: &str| format!("{}{s}", self.prefix);
        ListStreams {
            prefix: Some(within(query.prefix.as_deref().unwrap_or(""))),
            category: query.category.as_deref().filter(|c| !c.is_empty()).map(within),
            after: query.after.as_deref().filter(|a| !a.is_empty()).map(within),
            limit: query.limit,
        }
    }

    /// A checkpoint's consumer name in the tenant: `@acme/billing`.
    pub fn consumer_in(&self, consumer: &str) -> String {
        format!("{}{consumer}", self.prefix)
    }

    /// An error as the tenant may see it: stored stream ids and event ids
    /// shown as the tenant's.
    pub fn error_out(&self, error: Error) -> Error {
        let text = |s: String| s.replace(&self.prefix, "");
        match error {
            Error::WrongExpectedVersion { stream, expected, actual } => {
                Error::WrongExpectedVersion { stream: self.stream_out(&stream).unwrap_or(stream), expected, actual }
            }
            Error::StreamDeleted { stream } => Error::StreamDeleted { stream: self.stream_out(&stream).unwrap_or(stream) },
            Error::DuplicateEventId { event_id } => Error::DuplicateEventId { event_id: self.id_out(event_id) },
            Error::Forbidden { action, stream, token } => Error::Forbidden { action, stream: text(stream), token },
            Error::NotFound { what } => Error::NotFound { what: text(what) },
            Error::Invalid { field, reason } => Error::Invalid { field, reason: text(reason) },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["acme", "a", "acme_eu.2", &"x".repeat(64)] {
            assert!(check_tenant_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "acme-eu", "a/b", "@a", "a b", "é", &"x".repeat(65)] {
            assert!(check_tenant_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn views() {
        assert_eq!(tenant_view("@acme/order-1", "acme"), Some("order-1"));
        assert_eq!(tenant_view("@acme/order-1", "acm"), None);
        assert_eq!(tenant_view("@acmex/order-1", "acme"), None);
        assert_eq!(tenant_view("order-1", "acme"), None);
        assert!(is_tenant_stream("@acme/x") && !is_tenant_stream("x@acme"));
    }

    #[test]
    fn masks_differ_per_tenant_and_round_trip() {
        let (a, b) = (TenantSpace::new("a"), TenantSpace::new("b"));
        let id = Uuid::now_v7();
        assert_ne!(a.id_in(id), b.id_in(id), "the same id is two stored ids");
        assert_eq!(b.id_out(b.id_in(id)), id);
    }

    #[test]
    fn filters_stay_inside_the_tenant() {
        let acme = TenantSpace::new("acme");
        let all = acme.filter_in(&Filter::default()).unwrap();
        assert_eq!(all.stream_prefix.as_deref(), Some("@acme/"));
        let narrow = Filter { category: Some("order".into()), stream_prefix: Some("order-eu".into()), ..Filter::default() };
        let stored = acme.filter_in(&narrow).unwrap();
        assert_eq!((stored.category.as_deref(), stored.stream_prefix.as_deref()), (Some("@acme/order"), Some("@acme/order-eu")));
        let long = StreamId::new("x".repeat(250)).unwrap();
        assert!(matches!(acme.stream_in(&long), Err(Error::Invalid { .. })));
    }
}
