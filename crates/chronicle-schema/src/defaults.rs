//! The fast path of the most common upcast: a chain whose every step sets
//! a default at the top level (`{"op": "set", "path": "/currency", …}`).
//! Instead of parsing the data into a tree and writing it out again, the
//! top-level member names are scanned (values skipped, nothing allocated
//! for them) and the absent defaults are appended before the closing
//! brace. The result holds the same members as the general path (their
//! order differs: added members come last).

use crate::Step;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;

/// The top-level member names of an object (values skipped).
struct Names<'d>(Vec<Cow<'d, str>>);

impl<'de> serde::Deserialize<'de> for Names<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Names<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Names<'de>, A::Error> {
                let mut names = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                    map.next_value::<IgnoredAny>()?;
                    names.push(name);
                }
                Ok(Names(names))
            }
        }
        d.deserialize_map(V)
    }
}

/// Top-level defaults: each member name (unescaped) and its value as JSON text.
pub(crate) type Defaults = Vec<(String, String)>;

/// The defaults `steps` set, when every step sets a top-level member.
pub(crate) fn of(steps: &[Step]) -> Option<Defaults> {
    steps
        .iter()
        .map(|step| match step {
            Step::Set { path, value } => {
                let name = path.strip_prefix('/').filter(|n| !n.contains('/') && !n.contains('~'))?;
                Some((name.to_owned(), serde_json::to_string(value).ok()?))
            }
            _ => None,
        })
        .collect()
}

/// `data` (compact JSON) with every default of `chain` it lacks appended;
/// `None` when `data` is not an object (the general path decides).
pub(crate) fn apply<'d>(data: &[u8], chain: impl Iterator<Item = &'d Defaults>) -> Option<Vec<u8>> {
    if data.first() != Some(&b'{') || data.last() != Some(&b'}') {
        return None;
    }
    let Names(members) = serde_json::from_slice(data).ok()?;
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(data.get(..data.len() - 1)?);
    let mut added: Vec<&str> = Vec::with_capacity(4);
    let mut empty = members.is_empty();
    for (name, value) in chain.flatten() {
        if members.iter().any(|m| m == name) || added.contains(&name.as_str()) {
            continue;
        }
        if !empty {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name).ok()?;
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        added.push(name);
        empty = false;
    }
    out.push(b'}');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    proptest! {
        #[test]
        fn the_fast_path_equals_the_general_one(
            data in prop::collection::btree_map("[a-d]{1,2}", any::<i32>(), 0..5),
            sets in prop::collection::vec(("[a-f]{1,2}", any::<i32>()), 1..4),
        ) {
            let data = Value::Object(data.into_iter().map(|(k, v)| (k, json!(v))).collect());
            let steps: Vec<Step> = sets.iter().map(|(k, v)| Step::Set { path: format!("/{k}"), value: json!(v) }).collect();
            let defaults = of(&steps).unwrap();
            let fast: Value = serde_json::from_slice(&apply(&serde_json::to_vec(&data).unwrap(), [&defaults].into_iter()).unwrap()).unwrap();
            let mut slow = data;
            steps.iter().for_each(|s| s.apply(&mut slow).unwrap());
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn defaults_are_added_once_where_absent_and_match_the_general_path() {
        let steps: Vec<Step> = serde_json::from_value(json!([
            {"op": "set", "path": "/currency", "value": "USD"}, {"op": "set", "path": "/total", "value": 0}
        ]))
        .unwrap();
        let d = of(&steps).unwrap();
        let again = vec![("currency".to_owned(), "\"EUR\"".to_owned())];
        for data in [json!({"total": 5}), json!({}), json!({"currency": "GBP", "n": [1, {"currency": 2}]})] {
            let bytes = serde_json::to_vec(&data).unwrap();
            let fast: Value = serde_json::from_slice(&apply(&bytes, [&d, &again].into_iter()).unwrap()).unwrap();
            let mut slow = data.clone();
            steps.iter().for_each(|s| s.apply(&mut slow).unwrap());
            assert_eq!(fast, slow, "{data}");
        }
        assert!(apply(b"[1]", [&d].into_iter()).is_none());
        assert!(apply(b"{\"a\\u0062\":1}", [&d].into_iter()).is_some(), "escaped names are compared unescaped");
        assert!(of(&serde_json::from_value::<Vec<Step>>(json!([{"op": "set", "path": "/a/b", "value": 1}])).unwrap()).is_none());
    }
}
