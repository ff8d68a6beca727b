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

/// Parses `30d`, `12h`, `15m`, `45s`, `2w` (a positive whole number and a unit).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(chronicle_core::parse_duration("30d"), Some(Duration::from_secs(30 * 86_400)));
/// assert_eq!(chronicle_core::parse_duration("0h"), None);
/// assert_eq!(chronicle_core::parse_duration("soon"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).map(std::time::Duration::from_secs)
}
