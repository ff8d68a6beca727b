//! Optimistic-concurrency expectations.

use crate::{Error, Result};
use std::{fmt, str::FromStr};

/// What the appender expects the stream's version to be.
///
/// ```
/// use chronicle_core::ExpectedVersion;
/// assert_eq!("no-stream".parse::<ExpectedVersion>().unwrap(), ExpectedVersion::NoStream);
/// assert_eq!("7".parse::<ExpectedVersion>().unwrap(), ExpectedVersion::Exact(7));
/// assert!(ExpectedVersion::Exact(2).accepts(Some(2)));
/// assert!(!ExpectedVersion::NoStream.accepts(Some(1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ExpectedVersion {
    /// No check.
    #[default]
    Any,
    /// The stream must not exist (or be soft-deleted).
    NoStream,
    /// The stream must exist (have at least one visible event).
    StreamExists,
    /// The stream's last version must be exactly this (versions start at 1).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose current state is `actual` (`None` when it
    /// does not exist) satisfies this expectation.
    pub fn accepts(self, actual: Option<u64>) -> bool {
        match (self, actual) {
            (Self::Any, _) => true,
            (Self::NoStream, None) | (Self::StreamExists, Some(_)) => true,
            (Self::NoStream, Some(_)) | (Self::StreamExists, None) => false,
            (Self::Exact(n), Some(v)) => n == v,
            (Self::Exact(_), None) => false,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no-stream"),
            Self::StreamExists => f.write_str("exists"),
            Self::Exact(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for ExpectedVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "any" => Ok(Self::Any),
            "no-stream" => Ok(Self::NoStream),
            "exists" => Ok(Self::StreamExists),
            n => n
                .parse::<u64>()
                .map(Self::Exact)
                .map_err(|_| Error::invalid("expected_version", format!("expected a number, `any`, `no-stream` or `exists`, got {s:?}"))),
        }
    }
}

impl serde::Serialize for ExpectedVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Exact(n) => s.serialize_u64(*n),
            other => s.collect_str(other),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ExpectedVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Repr {
            N(#[serde(deserialize_with = "crate::json_int::u64")] u64),
            S(String),
        }
        match Repr::deserialize(d) {
            Ok(Repr::N(n)) => Ok(Self::Exact(n)),
            Ok(Repr::S(s)) => s.parse().map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom("expected a whole number ≥ 0, `any`, `no-stream` or `exists`")),
        }
    }
}
