//! A group's settings (the body of `PUT /subscriptions/{group}`), checked
//! once: every error names its field.

use crate::{GroupError, Result};
use chronicle_core::Filter;
pub use chronicle_wire::FilterSpec;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a new group starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// The first event.
    Start,
    /// Events appended after the group is created.
    End,
    /// This position (inclusive).
    Position(u64),
}

impl Serialize for StartFrom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Start => s.serialize_str("start"),
            Self::End => s.serialize_str("end"),
            Self::Position(p) => s.serialize_u64(*p),
        }
    }
}

impl<'de> Deserialize<'de> for StartFrom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "start" => Ok(Self::Start),
            serde_json::Value::String(s) if s == "end" => Ok(Self::End),
            serde_json::Value::Number(n) => match n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.2e18).map(|f| f as u64))
            {
                Some(p) if (1..=i64::MAX as u64).contains(&p) => Ok(Self::Position(p)),
                _ => Err(serde::de::Error::custom(format!("expected \"start\", \"end\" or a position from 1 to {}, got {n}", i64::MAX))),
            },
            other => Err(serde::de::Error::custom(format!("expected \"start\", \"end\" or a position ≥ 1, got {other}"))),
        }
    }
}

/// How events are shared among a group's consumers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Strategy {
    /// Any connected consumer with room gets the next event.
    #[default]
    RoundRobin,
    /// Each stream stays on one consumer while it is connected (per-stream order).
    PinnedByStream,
}

/// A group's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupSpec {
    /// Which events the group receives (default: all but `$` system streams).
    #[serde(deserialize_with = "chronicle_wire::object")]
    pub filter: FilterSpec,
    /// `"start"`, `"end"` (default) or a position (inclusive).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub from: StartFrom,
    /// How events are shared among consumers.
    pub strategy: Strategy,
    /// Deliveries after the first before an event is parked (0..=100).
    #[serde(deserialize_with = "chronicle_core::json_int::u64")]
    pub max_retries: u64,
    /// An event not acknowledged within this many ms is redelivered (100..=3,600,000).
    #[serde(deserialize_with = "chronicle_core::json_int::u64")]
    pub ack_timeout_ms: u64,
    /// Unacknowledged events per consumer (1..=10,000).
    #[serde(deserialize_with = "chronicle_core::json_int::u64")]
    pub max_in_flight: u64,
}

impl Default for GroupSpec {
    fn default() -> Self {
        Self {
            filter: FilterSpec::default(),
            from: StartFrom::End,
            strategy: Strategy::RoundRobin,
            max_retries: 3,
            ack_timeout_ms: 30_000,
            max_in_flight: 100,
        }
    }
}

impl GroupSpec {
    /// Checks every field; returns the store filter.
    pub fn check(&self) -> Result<Filter> {
        if self.max_retries > 100 {
            return Err(GroupError::invalid("max_retries", "must be between 0 and 100"));
        }
        if !(100..=3_600_000).contains(&self.ack_timeout_ms) {
            return Err(GroupError::invalid("ack_timeout_ms", "must be between 100 and 3600000"));
        }
        if !(1..=10_000).contains(&self.max_in_flight) {
            return Err(GroupError::invalid("max_in_flight", "must be between 1 and 10000"));
        }
        self.filter.to_filter("filter.").map_err(|e| match e {
            chronicle_core::Error::Invalid { field, reason } => GroupError::Invalid { field, reason },
            other => other.into(),
        })
    }

    /// The ack timeout.
    pub fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.ack_timeout_ms)
    }
}

/// Checks a group name: 1 to 64 of `[A-Za-z0-9_.-]`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok { Ok(()) } else { Err(GroupError::invalid("group", "must be 1 to 64 of A-Z a-z 0-9 _ . -")) }
}
