//! The envelope an encrypted field becomes, and the walk that finds them.
//!
//! A sealed value is a JSON object in place of the plaintext, so the event
//! stays valid JSON and a reader finds it wherever an upcaster moved it:
//!
//! ```json
//! {"$enc": "v1", "kid": "k-3f9c…", "ct": "base64(nonce ‖ ciphertext ‖ tag)"}
//! ```
//!
//! The cipher is AES-256-GCM (`ring`), a fresh random 96-bit nonce per
//! value, and the key id as associated data (a value moved under another
//! key fails to open). The plaintext is the value's compact JSON text.

use crate::{PrivacyError, Result};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use serde_json::{Map, Value};
use std::fmt;

/// The member that marks an envelope, and its format version.
pub const ENC: &str = "$enc";
/// The only envelope version so far.
pub const VERSION: &str = "v1";
/// What a reader without clearance sees in place of an encrypted value.
pub const MASK: &str = "***";
/// The member of what every reader sees once the key is destroyed:
/// `{"$erased": true}`.
pub const ERASED: &str = "$erased";
/// Bytes of a data key (AES-256).
pub const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// `{"$erased": true}`.
pub fn erased() -> Value {
    Value::Object(Map::from_iter([(ERASED.to_owned(), Value::Bool(true))]))
}

/// A data key ready to seal and open values (the key bytes stay inside
/// `ring`; `Debug` shows the id only).
pub struct DataKey {
    kid: String,
    key: LessSafeKey,
    /// Nonces of this instance: 96 random bits drawn when the key was
    /// loaded, then counted up (NIST SP 800-38D's deterministic
    /// construction with a random start): unique per seal without a system
    /// call each, and two instances of the key (restarts, nodes) overlap
    /// only with probability ~2^-64 per pair.
    nonces: std::sync::Mutex<(u32, u64)>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl DataKey {
    /// A key from its 32 bytes.
    pub fn new(kid: impl Into<String>, bytes: &[u8]) -> Result<Self> {
        let kid = kid.into();
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| PrivacyError::Tampered { kid: kid.clone(), reason: format!("a data key is {KEY_LEN} bytes") })?;
        let mut start = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut start).map_err(|_| PrivacyError::Random)?;
        let (high, low) = start.split_at(4);
        let high = u32::from_be_bytes(high.try_into().map_err(|_| PrivacyError::Random)?);
        let low = u64::from_be_bytes(low.try_into().map_err(|_| PrivacyError::Random)?);
        Ok(Self { kid, key: LessSafeKey::new(key), nonces: std::sync::Mutex::new((high, low)) })
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `plaintext` sealed under this key (nonce ‖ ciphertext ‖ tag).
    pub(crate) fn seal_bytes(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let nonce = {
            let mut next = self.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (high, low) = *next;
            // Counting past 2^64 moves the high part on: never a repeat.
            *next = match low.checked_add(1) {
                Some(l) => (high, l),
                None => (high.wrapping_add(1), 0),
            };
            let mut n = [0u8; NONCE_LEN];
            n.iter_mut().zip(high.to_be_bytes().into_iter().chain(low.to_be_bytes())).for_each(|(d, s)| *d = s);
            n
        };
        let mut body = plaintext.to_vec();
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body)
            .map_err(|_| PrivacyError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + body.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// The plaintext of `sealed` (from [`DataKey::seal_bytes`] with the
    /// same `aad`); an error if anything was changed.
    pub(crate) fn open_bytes(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        self.open_owned(sealed.to_vec(), aad)
    }

    /// [`DataKey::open_bytes`], decrypting in the buffer given.
    fn open_owned(&self, mut sealed: Vec<u8>, aad: &[u8]) -> Result<Vec<u8>> {
        let tampered = |reason: &str| PrivacyError::Tampered { kid: self.kid.clone(), reason: reason.to_owned() };
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(tampered("too short"));
        }
        let nonce = Nonce::try_assume_unique_for_key(sealed.get(..NONCE_LEN).unwrap_or_default()).map_err(|_| tampered("bad nonce"))?;
        let len =
            self.key.open_within(nonce, Aad::from(aad), &mut sealed, NONCE_LEN..).map_err(|_| tampered("authentication failed"))?.len();
        sealed.truncate(len);
        Ok(sealed)
    }

    /// Appends the JSON text sealed in the envelope with this `ct`
    /// (base64) to `out`, decrypting in place there (no buffer of its own).
    /// On an error `out` is as it was.
    pub(crate) fn open_text_into(&self, ct: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let tampered = |reason: String| PrivacyError::Tampered { kid: self.kid.clone(), reason };
        let opened = B64.decode_vec(ct, out).map_err(|e| tampered(format!("ct is not base64: {e}"))).and_then(|()| {
            let sealed = out.get_mut(start..).unwrap_or_default();
            if sealed.len() < NONCE_LEN + TAG_LEN {
                return Err(tampered("too short".into()));
            }
            let nonce =
                Nonce::try_assume_unique_for_key(sealed.get(..NONCE_LEN).unwrap_or_default()).map_err(|_| tampered("bad nonce".into()))?;
            let aad = Aad::from(self.kid.as_bytes());
            Ok(self.key.open_within(nonce, aad, sealed, NONCE_LEN..).map_err(|_| tampered("authentication failed".into()))?.len())
        });
        match opened {
            Ok(len) => {
                out.truncate(start + len);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// `value` sealed into an envelope.
    ///
    /// ```
    /// use chronicle_privacy::{DataKey, envelope};
    /// let key = DataKey::new("k-1", &[7u8; 32]).unwrap();
    /// let sealed = key.seal(&serde_json::json!({"street": "Main St 1"})).unwrap();
    /// assert_eq!(sealed["$enc"], "v1");
    /// assert!(!sealed.to_string().contains("Main St"));
    /// let found = envelope::parse(&sealed).unwrap().unwrap();
    /// assert_eq!(key.open(&found).unwrap()["street"], "Main St 1");
    /// ```
    pub fn seal(&self, value: &Value) -> Result<Value> {
        let plain = serde_json::to_vec(value).map_err(|e| PrivacyError::invalid("value", e.to_string()))?;
        let ct = self.seal_bytes(&plain, self.kid.as_bytes())?;
        Ok(Value::Object(Map::from_iter([
            (ENC.to_owned(), Value::from(VERSION)),
            ("kid".to_owned(), Value::from(self.kid.clone())),
            ("ct".to_owned(), Value::from(B64.encode(ct))),
        ])))
    }

    /// The JSON text `plaintext` (a value's compact text) sealed, written
    /// to `out` as an envelope in its compact form.
    pub(crate) fn seal_into(&self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let ct = self.seal_bytes(plaintext, self.kid.as_bytes())?;
        out.extend_from_slice(br#"{"$enc":"v1","ct":""#);
        let start = out.len();
        out.resize(start + base64::encoded_len(ct.len(), true).unwrap_or(0), 0);
        let written = B64.encode_slice(&ct, out.get_mut(start..).unwrap_or_default()).map_err(|_| PrivacyError::Random)?;
        out.truncate(start + written);
        out.extend_from_slice(br#"","kid":""#);
        out.extend_from_slice(self.kid.as_bytes());
        out.extend_from_slice(br#""}"#);
        Ok(())
    }

    /// The value sealed in `envelope`.
    pub fn open(&self, envelope: &Envelope<'_>) -> Result<Value> {
        let tampered = |reason: String| PrivacyError::Tampered { kid: self.kid.clone(), reason };
        if envelope.kid != self.kid {
            return Err(tampered(format!("sealed under {}", envelope.kid)));
        }
        let sealed = B64.decode(envelope.ct).map_err(|e| tampered(format!("ct is not base64: {e}")))?;
        let plain = self.open_bytes(&sealed, self.kid.as_bytes())?;
        serde_json::from_slice(&plain).map_err(|e| tampered(format!("plaintext is not JSON: {e}")))
    }
}

/// An envelope found in a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The data key's id.
    pub kid: &'a str,
    /// The base64 ciphertext.
    pub ct: &'a str,
}

/// `Some` when `value` is an envelope (an object with `$enc`): `Ok` when
/// well formed, an error naming what is wrong otherwise.
pub fn parse(value: &Value) -> Option<Result<Envelope<'_>>> {
    let map = value.as_object()?;
    let version = map.get(ENC)?;
    let bad = |reason: &str| PrivacyError::Tampered { kid: "?".into(), reason: reason.to_owned() };
    Some(match (version.as_str(), map.get("kid").and_then(Value::as_str), map.get("ct").and_then(Value::as_str)) {
        (Some(VERSION), Some(kid), Some(ct)) if map.len() == 3 => Ok(Envelope { kid, ct }),
        (Some(VERSION), _, _) => Err(bad("an envelope has exactly $enc, kid and ct, both strings")),
        _ => Err(bad("unknown envelope version")),
    })
}

/// Whether `value` holds, at any depth, an object with a `$enc` member
/// (an envelope, well-formed or not).
pub fn holds_envelope(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key(ENC) || map.values().any(holds_envelope),
        Value::Array(items) => items.iter().any(holds_envelope),
        _ => false,
    }
}

/// Whether raw JSON bytes may hold an envelope (a cheap scan: most events
/// hold none and are passed on without parsing).
pub fn may_contain(bytes: &[u8]) -> bool {
    MARK.find(bytes).is_some()
}

/// The searcher for `"$encrypted"` (the metadata member listing what the
/// sealer encrypted), built once.
pub(crate) static ENCRYPTED_MARK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"$encrypted\""));

/// The searcher for `"$enc"`, built once.
pub(crate) static MARK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"$enc\""));

/// Replaces every envelope inside `value` (at any depth) with what `f`
/// makes of it; returns how many were replaced. Envelopes are not looked
/// into (a sealed value is opaque).
pub fn replace_all(value: &mut Value, f: &mut dyn FnMut(Result<Envelope<'_>>) -> Value) -> usize {
    if let Some(found) = parse(value) {
        *value = f(found);
        return 1;
    }
    match value {
        Value::Object(map) => map.values_mut().map(|v| replace_all(v, f)).sum(),
        Value::Array(items) => items.iter_mut().map(|v| replace_all(v, f)).sum(),
        _ => 0,
    }
}

/// Every key id of the envelopes inside `value`.
pub fn kids<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    if let Some(Ok(env)) = parse(value) {
        out.push(env.kid);
        return;
    }
    match value {
        Value::Object(map) => map.values().for_each(|v| kids(v, out)),
        Value::Array(items) => items.iter().for_each(|v| kids(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn sealing_round_trips_any_value(value in arb_json(), key in any::<[u8; 32]>()) {
            let key = DataKey::new("k", &key).unwrap();
            let sealed = key.seal(&value).unwrap();
            let env = parse(&sealed).unwrap().unwrap();
            prop_assert_eq!(key.open(&env).unwrap(), value);
        }

        #[test]
        fn any_change_to_the_ciphertext_is_an_error(value in arb_json(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let key = DataKey::new("k", &[3u8; 32]).unwrap();
            let sealed = key.seal(&value).unwrap();
            let mut ct = B64.decode(sealed["ct"].as_str().unwrap()).unwrap();
            let i = at.index(ct.len());
            ct[i] ^= 1 << bit;
            let text = B64.encode(&ct);
            let env = Envelope { kid: "k", ct: &text };
            let tampered = matches!(key.open(&env), Err(PrivacyError::Tampered { .. }));
            prop_assert!(tampered);
        }

        #[test]
        fn opening_arbitrary_text_never_panics(ct in "\\PC{0,80}", kid in "[a-z]{0,4}") {
            let key = DataKey::new("k", &[3u8; 32]).unwrap();
            let _ = key.open(&Envelope { kid: &kid, ct: &ct });
        }
    }

    #[test]
    fn another_key_or_kid_does_not_open() {
        let a = DataKey::new("a", &[1u8; 32]).unwrap();
        let b = DataKey::new("a", &[2u8; 32]).unwrap();
        let sealed = a.seal(&json!("x")).unwrap();
        let env = parse(&sealed).unwrap().unwrap();
        assert!(b.open(&env).is_err());
        let c = DataKey::new("c", &[1u8; 32]).unwrap();
        assert!(c.open(&env).is_err(), "the kid is bound as associated data");
    }

    #[test]
    fn envelopes_are_found_at_any_depth() {
        let key = DataKey::new("k", &[1u8; 32]).unwrap();
        let mut doc = json!({"a": [1, {"b": key.seal(&json!("x")).unwrap()}], "c": key.seal(&json!(2)).unwrap()});
        assert!(may_contain(doc.to_string().as_bytes()));
        let mut ids = Vec::new();
        kids(&doc, &mut ids);
        assert_eq!(ids, ["k", "k"]);
        let n = replace_all(&mut doc, &mut |e| key.open(&e.unwrap()).unwrap());
        assert_eq!((n, doc), (2, json!({"a": [1, {"b": "x"}], "c": 2})));
        assert!(parse(&json!({"$enc": "v9"})).unwrap().is_err());
        assert!(parse(&json!({"$enc": "v1", "kid": "k"})).unwrap().is_err());
    }
}
