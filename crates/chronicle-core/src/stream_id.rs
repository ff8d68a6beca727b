//! Validated stream identifiers.

use crate::{Error, Result};
use std::{fmt, sync::Arc};

/// Longest stream id accepted, in bytes.
pub const MAX_STREAM_ID_BYTES: usize = 255;

/// A validated stream id such as `order-123`: 1..=255 bytes, no control
/// characters. Cheap to clone.
///
/// ```
/// use chronicle_core::StreamId;
/// let id = StreamId::new("order-123").unwrap();
/// assert_eq!(id.category(), "order");
/// assert!(StreamId::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(Arc<str>);

impl StreamId {
    /// Validates and wraps a stream id.
    pub fn new(id: impl AsRef<str>) -> Result<Self> {
        let id = id.as_ref();
        check_name("stream_id", id, MAX_STREAM_ID_BYTES)?;
        Ok(Self(Arc::from(id)))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The category: the part before the first `-` (the whole id if it has
    /// no `-`).
    pub fn category(&self) -> &str {
        category_of(&self.0)
    }
}

/// The category of a stream id string: the part before the first `-`.
pub fn category_of(stream: &str) -> &str {
    stream.split_once('-').map_or(stream, |(head, _)| head)
}

/// Checks a name-like field: non-empty, at most `max` bytes, no control
/// characters. Shared by stream ids, event types, consumer names.
pub(crate) fn check_name(field: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(Error::invalid(field, format!("must be at most {max} bytes, got {}", value.len())));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Hash and Eq are the inner string's, so a set of ids can be probed by `&str`.
impl std::borrow::Borrow<str> for StreamId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for StreamId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for StreamId {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self> {
        Self::new(value)
    }
}

impl TryFrom<String> for StreamId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl serde::Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for StreamId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&*s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_is_prefix_before_first_dash() {
        assert_eq!(category_of("order-1-2"), "order");
        assert_eq!(category_of("order"), "order");
        assert_eq!(category_of("-x"), "");
    }

    #[test]
    fn rejects_bad_ids_naming_the_field() {
        for bad in ["", "a\nb", "tab\there", &"x".repeat(256)] {
            let err = StreamId::new(bad).unwrap_err();
            assert!(matches!(err, Error::Invalid { ref field, .. } if field == "stream_id"), "{bad:?}");
        }
        assert!(StreamId::new("x".repeat(255)).is_ok());
        assert!(StreamId::new("ünïcødé-1").is_ok());
    }
}
