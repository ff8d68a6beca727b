//! The fast read path: envelopes found in the raw JSON bytes and replaced
//! in place, without parsing the document. Envelopes are written compact
//! (`{"$enc":"v1","ct":"…","kid":"…"}`, either member order); a document
//! where any `"$enc"` is not in that form is left to the parsing path.
//! Inside a JSON string a quote is always escaped, so the byte pattern
//! `{"$enc":` only ever starts an object.

use std::ops::Range;

/// One envelope in a document: its span and the spans of its kid and ct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) span: Range<usize>,
    pub(crate) kid: Range<usize>,
    pub(crate) ct: Range<usize>,
}

const OPEN: &[u8] = br#"{"$enc":"v1","#;

/// A string member `"name":"…"` at `at`; the value's span and the index after it.
fn member(bytes: &[u8], at: usize, name: &[u8]) -> Option<(Range<usize>, usize)> {
    let rest = bytes.get(at..)?;
    let head_len = name.len() + 4; // "name":"
    let head = rest.get(..head_len)?;
    if head.first() != Some(&b'"') || head.get(1..=name.len()) != Some(name) || head.get(name.len() + 1..) != Some(b"\":\"") {
        return None;
    }
    let start = at + head_len;
    let len = memchr::memchr2(b'"', b'\\', bytes.get(start..)?)?;
    (bytes.get(start + len) == Some(&b'"')).then_some((start..start + len, start + len + 1))
}

/// Every envelope of `bytes`, or `None` when one is not in the compact form.
pub(crate) fn find(bytes: &[u8]) -> Option<Vec<Found>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = crate::envelope::MARK.find(bytes.get(from..)?) {
        let key = from + i;
        let start = key.checked_sub(1)?;
        if bytes.get(start..start + OPEN.len()) != Some(OPEN) {
            return None;
        }
        let at = start + OPEN.len();
        let (kid, ct, after) = match member(bytes, at, b"ct") {
            Some((ct, next)) => {
                let (kid, after) = member(bytes, next.checked_add(1).filter(|_| bytes.get(next) == Some(&b','))?, b"kid")?;
                (kid, ct, after)
            }
            None => {
                let (kid, next) = member(bytes, at, b"kid")?;
                let (ct, after) = member(bytes, next.checked_add(1).filter(|_| bytes.get(next) == Some(&b','))?, b"ct")?;
                (kid, ct, after)
            }
        };
        if bytes.get(after) != Some(&b'}') {
            return None;
        }
        found.push(Found { span: start..after + 1, kid, ct });
        from = after + 1;
    }
    Some(found)
}

/// `bytes` with each envelope of `found` replaced by `with(envelope)`.
pub(crate) fn replace(
    bytes: &[u8],
    found: &[Found],
    mut with: impl FnMut(&Found, &mut Vec<u8>) -> crate::Result<()>,
) -> crate::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut last = 0;
    for f in found {
        out.extend_from_slice(bytes.get(last..f.span.start).unwrap_or_default());
        with(f, &mut out)?;
        last = f.span.end;
    }
    out.extend_from_slice(bytes.get(last..).unwrap_or_default());
    Ok(out)
}

/// The bytes of a span.
pub(crate) fn raw<'a>(bytes: &'a [u8], span: &Range<usize>) -> &'a [u8] {
    bytes.get(span.clone()).unwrap_or_default()
}

/// The text of a span (envelope members hold ASCII).
pub(crate) fn text<'a>(bytes: &'a [u8], span: &Range<usize>) -> &'a str {
    bytes.get(span.clone()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataKey;
    use serde_json::json;

    use proptest::prelude::*;

    fn arb_doc() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(|s| json!({"$sealme": s})),
        ];
        leaf.prop_recursive(3, 20, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z]{1,5}", inner, 0..4).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn seal_marked(v: &mut serde_json::Value, key: &DataKey) {
        if v.get("$sealme").is_some() {
            *v = key.seal(&v["$sealme"]).unwrap();
            return;
        }
        match v {
            serde_json::Value::Object(m) => m.values_mut().for_each(|v| seal_marked(v, key)),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| seal_marked(v, key)),
            _ => {}
        }
    }

    proptest! {
        /// The byte path reveals exactly what the parsing path does.
        #[test]
        fn splicing_equals_parsing(doc in arb_doc()) {
            let key = DataKey::new("k-9", &[9u8; 32]).unwrap();
            let mut sealed = doc;
            seal_marked(&mut sealed, &key);
            let bytes = serde_json::to_vec(&sealed).unwrap();
            let found = find(&bytes).unwrap();
            let spliced = replace(&bytes, &found, |f, out| {
                key.open_text_into(raw(&bytes, &f.ct), out)?;
                Ok(())
            }).unwrap();
            let mut parsed = sealed.clone();
            crate::envelope::replace_all(&mut parsed, &mut |e| key.open(&e.unwrap()).unwrap());
            prop_assert_eq!(serde_json::from_slice::<serde_json::Value>(&spliced).unwrap(), parsed);
        }
    }

    #[test]
    fn compact_envelopes_are_found_in_either_order() {
        let key = DataKey::new("k-1", &[1u8; 32]).unwrap();
        let doc = json!({"a": key.seal(&json!("x")).unwrap(), "b": [1, key.seal(&json!({"y": 2})).unwrap()], "c": "{\"$enc\":\"v1\","});
        let bytes = serde_json::to_vec(&doc).unwrap();
        let found = find(&bytes).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&bytes)));
        assert_eq!(found.len(), 2, "the escaped text in c is no envelope");
        assert_eq!(text(&bytes, &found[0].kid), "k-1");
        let out = replace(&bytes, &found, |_, out| {
            out.extend_from_slice(b"null");
            Ok(())
        })
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            json!({"a": null, "b": [1, null], "c": "{\"$enc\":\"v1\","})
        );
        let other_order = br#"{"x":{"$enc":"v1","kid":"k","ct":"AAAA"}}"#;
        assert_eq!(find(other_order).unwrap().len(), 1);
        assert!(find(br#"{"x":{"$enc": "v1","kid":"k","ct":"AAAA"}}"#).is_none(), "not compact: the parsing path");
        assert!(find(br#"{"x":{"a":1,"$enc":"v1"}}"#).is_none());
        assert_eq!(find(br#"{"x":1}"#).unwrap(), vec![]);
    }
}
