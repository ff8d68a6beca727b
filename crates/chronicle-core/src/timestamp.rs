//! UTC timestamps with microsecond precision.

use crate::{Error, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt;

/// A UTC instant with microsecond precision (microseconds since the Unix
/// epoch). Displays and serializes as RFC 3339, e.g.
/// `2026-11-22T10:00:00.000001Z`.
///
/// ```
/// use chronicle_core::Timestamp;
/// let t = Timestamp::parse("2026-11-22T10:00:00.000001Z").unwrap();
/// assert_eq!(t.to_string(), "2026-11-22T10:00:00.000001Z");
/// assert_eq!(Timestamp::from_micros(t.as_micros()), t);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self(Utc::now().timestamp_micros())
    }

    /// From microseconds since the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 timestamp (any offset; stored as UTC).
    pub fn parse(s: &str) -> Result<Self> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| Self(t.with_timezone(&Utc).timestamp_micros()))
            .map_err(|e| Error::invalid("timestamp", format!("not an RFC 3339 timestamp ({e}): {s:?}")))
    }

    /// The later of `self` and `other` (used to keep `recorded_at`
    /// non-decreasing with position).
    pub fn at_least(self, other: Self) -> Self {
        Self(self.0.max(other.0))
    }

    /// As a chrono `DateTime<Utc>`.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_datetime().to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}
