//! [`FilterSpec`]: the filters of `GET /events` as the wire carries them
//! (strings, comma-separated lists), turned into a store [`Filter`] in one
//! place for the server's queries and consumer groups alike.

use chronicle_core::{Error, Filter, Result, StreamId, Timestamp};
use serde::{Deserialize, Serialize};

/// Which events to read: the filters of `GET /events`, by the same names
/// (`event_type` and `tag` comma-separated) — a consumer group's `filter`
/// too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilterSpec {
    /// Event types, comma-separated (any of).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Stream category (part before the first `-`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Stream id prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_prefix: Option<String>,
    /// Exactly this stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// Metadata `correlation_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Metadata `actor.id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Metadata `actor.type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    /// Tags, comma-separated (all of).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Recorded at or after (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Recorded before (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// A comma-separated list (empty items dropped).
fn list(v: Option<&str>) -> Vec<String> {
    v.map(|s| s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

fn time(field: String, v: Option<&str>) -> Result<Option<Timestamp>> {
    v.map(|s| Timestamp::parse(s).map_err(|e| Error::Invalid { field, reason: e.to_string() })).transpose()
}

impl FilterSpec {
    /// The store filter; an error names the field after `prefix`
    /// (`"filter."` in a group's settings, `""` in a query string).
    ///
    /// ```
    /// let spec = chronicle_wire::FilterSpec { tag: Some("vip,eu".into()), ..Default::default() };
    /// assert_eq!(spec.to_filter("")?.tags, ["vip", "eu"]);
    /// let bad = chronicle_wire::FilterSpec { since: Some("yesterday".into()), ..Default::default() };
    /// assert!(matches!(bad.to_filter("filter."), Err(chronicle_core::Error::Invalid { field, .. }) if field == "filter.since"));
    /// # Ok::<(), chronicle_core::Error>(())
    /// ```
    pub fn to_filter(&self, prefix: &str) -> Result<Filter> {
        let stream_id = self.stream_id.as_deref().map(StreamId::new).transpose().map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::Invalid { field: format!("{prefix}stream_id"), reason },
            other => other,
        })?;
        Ok(Filter {
            event_types: list(self.event_type.as_deref()),
            category: self.category.clone(),
            stream_prefix: self.stream_prefix.clone(),
            stream_id,
            correlation_id: self.correlation_id.clone(),
            actor_id: self.actor_id.clone(),
            actor_type: self.actor_type.clone(),
            tags: list(self.tag.as_deref()),
            since: time(format!("{prefix}since"), self.since.as_deref())?,
            until: time(format!("{prefix}until"), self.until.as_deref())?,
        })
    }
}
