//! The fast append path: when every marked field (and the subject) is a
//! member of the top-level object (`/email`, not `/address/street`), the
//! data is sealed in its raw bytes — members found by one borrowing pass,
//! each marked value's JSON text sealed and spliced in as an envelope —
//! without building or serialising a `serde_json::Value`.

use crate::{DataKey, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::{fmt, ops::Range};

/// A top-level member: its (unescaped) name and its value's byte span.
struct Member {
    name: String,
    span: Range<usize>,
}

/// The top-level members of a document, found once and used for both the
/// subject and the sealing.
pub(crate) struct Members(Vec<Member>);

/// The members of the top-level object of `bytes`, or `None` when it is
/// not an object.
fn members(bytes: &[u8]) -> Option<Vec<Member>> {
    struct Members<'a>(&'a [u8]);
    impl<'de> Visitor<'de> for Members<'de> {
        type Value = Vec<Member>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let base = self.0.as_ptr() as usize;
            let mut out = Vec::new();
            while let Some((name, value)) = map.next_entry::<std::borrow::Cow<'de, str>, &'de RawValue>()? {
                let start = (value.get().as_ptr() as usize).saturating_sub(base);
                out.push(Member { name: name.into_owned(), span: start..start + value.get().len() });
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_map(Members(bytes)).ok()
}

/// The top-level member name a pointer names, when it names one plainly
/// (no `~` escapes, one level).
pub(crate) fn top_level(pointer: &str) -> Option<&str> {
    let name = pointer.strip_prefix('/')?;
    (!name.contains('/') && !name.contains('~')).then_some(name)
}

impl Members {
    /// The members of the top-level object of `bytes`, or `None` when it
    /// is not an object.
    pub(crate) fn of(bytes: &[u8]) -> Option<Self> {
        members(bytes).map(Self)
    }

    /// The subject at member `name` of `bytes` (the document these members
    /// were found in): a non-empty string or a number.
    pub(crate) fn subject(&self, bytes: &[u8], name: &str) -> Option<String> {
        let m = self.0.iter().find(|m| m.name == name)?;
        let raw = bytes.get(m.span.clone())?;
        match raw.first() {
            Some(b'"') => serde_json::from_slice::<String>(raw).ok().filter(|s| !s.is_empty()),
            Some(b'-' | b'0'..=b'9') => serde_json::from_slice::<serde_json::Number>(raw).ok().map(|n| n.to_string()),
            _ => None,
        }
    }

    /// `bytes` with the members `names` sealed under `key`, and the names
    /// sealed, in document order.
    pub(crate) fn seal(self, bytes: &[u8], names: &[&str], key: &DataKey) -> Result<(Vec<u8>, Vec<String>)> {
        let mut members = self.0;
        members.retain(|m| names.contains(&m.name.as_str()));
        members.sort_by_key(|m| m.span.start);
        let mut out = Vec::with_capacity(bytes.len() + members.len() * 64);
        let (mut last, mut sealed) = (0, Vec::with_capacity(members.len()));
        for m in members {
            out.extend_from_slice(bytes.get(last..m.span.start).unwrap_or_default());
            key.seal_into(bytes.get(m.span.clone()).unwrap_or_default(), &mut out)?;
            last = m.span.end;
            sealed.push(m.name);
        }
        out.extend_from_slice(bytes.get(last..).unwrap_or_default());
        Ok((out, sealed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_sealing_equals_value_sealing() {
        let key = DataKey::new("k-1", &[4u8; 32]).unwrap();
        let data = json!({"id": "c-1", "email": "a\"b@example.com", "n": 1.5, "deep": {"x": [1, 2]}, "esc": "é\n"});
        let bytes = serde_json::to_vec(&data).unwrap();
        let members = Members::of(&bytes).unwrap();
        assert_eq!(members.subject(&bytes, "id"), Some("c-1".to_owned()));
        assert_eq!(members.subject(&bytes, "n"), Some("1.5".to_owned()));
        assert_eq!(members.subject(&bytes, "deep"), None);
        assert_eq!(members.subject(&bytes, "none"), None);
        let (out, sealed) = members.seal(&bytes, &["email", "deep", "esc", "missing"], &key).unwrap();
        assert_eq!(sealed, ["deep", "email", "esc"]);
        let mut v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        crate::envelope::replace_all(&mut v, &mut |e| key.open(&e.unwrap()).unwrap());
        assert_eq!(v, data);
        assert!(Members::of(b"[1,2]").is_none());
        assert_eq!(top_level("/email"), Some("email"));
        assert_eq!((top_level("/a/b"), top_level("/a~1b"), top_level("email")), (None, None, None));
    }
}
