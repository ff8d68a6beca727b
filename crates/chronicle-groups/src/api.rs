//! The JSON bodies of the consumer-group routes and of the consumer's
//! WebSocket, shared by the server and the clients.

use crate::{GroupStatus, NackAction};
use chronicle_core::{ParkedEntry, Uuid};
use serde::{Deserialize, Serialize};

/// `GET /subscriptions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupsBody {
    /// Every group, by name.
    pub groups: Vec<GroupStatus>,
}

/// `GET /subscriptions/{group}/parked`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParkedBody {
    /// The group.
    pub group: String,
    /// Parked events.
    pub size: u64,
    /// The parked events, oldest first.
    pub entries: Vec<ParkedEntry>,
}

/// The answer to `POST /subscriptions/{group}/parked/replay`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayedBody {
    /// The group.
    pub group: String,
    /// The events sent back to the group's consumers.
    pub event_ids: Vec<Uuid>,
}

/// What a consumer sends over its WebSocket: `{"ack": [ids]}` or
/// `{"nack": [ids], "action": "retry" | "park" | "skip"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerMessage {
    /// Events handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Vec<Uuid>>,
    /// Events refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nack: Option<Vec<Uuid>>,
    /// What to do with the refused events (default `retry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<NackAction>,
}

/// One delivery as the WebSocket sends it: `{"event": {…}, "retry_count": N}`.
pub fn delivery_json(event: &chronicle_core::RecordedEvent, retry_count: u32) -> String {
    format!("{{\"event\":{},\"retry_count\":{retry_count}}}", event.to_json())
}

/// Prometheus text of the groups: lag, in flight, parked, redeliveries.
///
/// ```
/// assert!(chronicle_groups::render_prometheus(&[]).contains("# TYPE chronicle_group_lag_events gauge"));
/// ```
pub fn render_prometheus(groups: &[GroupStatus]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    type Family = (&'static str, &'static str, &'static str, fn(&GroupStatus) -> u64);
    let families: [Family; 5] = [
        ("chronicle_group_lag_events", "gauge", "Events between a group's checkpoint and the head.", |g| g.lag),
        ("chronicle_group_in_flight", "gauge", "Events leased to a group's consumers.", |g| g.in_flight),
        ("chronicle_group_parked", "gauge", "Parked events of a group.", |g| g.parked),
        ("chronicle_group_redeliveries_total", "counter", "Redeliveries (timeouts, disconnects, nacks) on this node.", |g| g.redeliveries),
        ("chronicle_group_consumers", "gauge", "Consumers connected to this node.", |g| g.consumers),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for g in groups {
            let _ = writeln!(out, "{name}{{group=\"{}\"}} {}", g.name, value(g));
        }
    }
    out
}
