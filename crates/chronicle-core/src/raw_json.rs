//! Validated, compact JSON kept as raw bytes.

use crate::{Error, Result};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::fmt;

/// A well-formed JSON value stored as compact UTF-8 bytes.
///
/// Validation happens once, when the value is built; after that the bytes
/// are moved and cloned (cheaply, reference-counted) but never re-parsed on
/// the read path. Insignificant whitespace is removed on construction, so
/// the bytes can be embedded verbatim in NDJSON output.
///
/// ```
/// use chronicle_core::RawJson;
/// let raw = RawJson::parse(&b"{ \"a\" : [1, 2] }"[..]).unwrap();
/// assert_eq!(raw.as_bytes(), br#"{"a":[1,2]}"#);
/// assert!(RawJson::parse(&b"{oops"[..]).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Bytes);

impl RawJson {
    /// Validates `bytes` as one JSON value and compacts it.
    pub fn parse(bytes: impl Into<Bytes>) -> Result<Self, serde_json::Error> {
        let bytes = bytes.into();
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)?;
        Ok(Self(compact(bytes)))
    }

    /// Like [`RawJson::parse`], mapping a failure to [`Error::Invalid`]
    /// naming `field`.
    pub fn parse_field(field: &str, bytes: impl Into<Bytes>) -> Result<Self> {
        Self::parse(bytes).map_err(|e| Error::invalid(field, format!("not well-formed JSON: {e}")))
    }

    /// Wraps bytes that were validated and compacted when they were first
    /// stored (the read path of a backend). The caller vouches for them;
    /// storage backends check a checksum before calling this.
    pub fn from_trusted(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// Serializes a value (compact JSON).
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(value).map(|v| Self(Bytes::from(v)))
    }

    /// An empty JSON object, `{}`.
    pub fn empty_object() -> Self {
        Self(Bytes::from_static(b"{}"))
    }

    /// The compact JSON bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying shared buffer.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a zero-length buffer (never the case for a parsed value).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the value is a JSON object.
    pub fn is_object(&self) -> bool {
        self.0.first() == Some(&b'{')
    }

    /// Decodes the JSON into a typed value (this parses; use it at the edge,
    /// not on the replay path).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }

    /// Decodes into a [`serde_json::Value`].
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.decode()
    }
}

/// Removes whitespace outside strings. Returns the input unchanged when it
/// has none. The input must be valid JSON.
fn compact(bytes: Bytes) -> Bytes {
    // Fast path: most JSON from serializers has no whitespace byte at all.
    if !bytes.iter().any(|&b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
        return bytes;
    }
    let mut out: Option<Vec<u8>> = None;
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        let keep = if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            true
        } else {
            in_string = b == b'"';
            !matches!(b, b' ' | b'\n' | b'\r' | b'\t')
        };
        match (&mut out, keep) {
            (Some(out), true) => out.push(b),
            // First insignificant whitespace: copy what came before it.
            (None, false) => out = Some(bytes.get(..i).map(<[u8]>::to_vec).unwrap_or_default()),
            _ => {}
        }
    }
    out.map_or(bytes, Bytes::from)
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl serde::Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue = serde_json::from_slice(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for RawJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        let s: Box<str> = raw.into();
        Ok(Self(compact(Bytes::from(s.into_boxed_bytes()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_whitespace_inside_strings() {
        let raw = RawJson::parse(&b"{ \"a b\" : \" x\\\" \\n \" }"[..]).unwrap();
        assert_eq!(raw.as_bytes(), br#"{"a b":" x\" \n "}"#);
    }

    #[test]
    fn rejects_trailing_garbage_and_empty() {
        assert!(RawJson::parse(&b"{} {}"[..]).is_err());
        assert!(RawJson::parse(&b""[..]).is_err());
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(".*", inner, 0..6).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn pretty_json_compacts_to_serde_compact_form(v in arb_json()) {
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            let raw = RawJson::parse(pretty).unwrap();
            let compact = serde_json::to_vec(&v).unwrap();
            prop_assert_eq!(raw.as_bytes(), compact.as_slice());
            prop_assert_eq!(raw.to_value().unwrap(), v.clone());
            let via_serde: RawJson = serde_json::from_str(&serde_json::to_string_pretty(&v).unwrap()).unwrap();
            prop_assert_eq!(serde_json::to_string(&via_serde).unwrap(), serde_json::to_string(&v).unwrap());
        }
    }
}
