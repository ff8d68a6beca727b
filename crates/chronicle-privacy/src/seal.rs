//! [`Sealer`]: stage 4 of the append pipeline. For each event with a
//! [`FieldRule`](crate::FieldRule), it reads the subject, gets (or makes)
//! the subject's data key and replaces every marked field present with its
//! envelope, then lists the encrypted fields in the metadata member
//! `$encrypted`. The backend never sees the plaintext. `$` streams are
//! left alone.

use crate::{FieldRule, KEK_CHECK_SUBJECT, Keyring, Policy, envelope, policy::ENCRYPTED_MEMBER, seal_raw};
use chronicle_core::{AppendContext, Error, FieldSealer, PreparedAppend, RawJson, Result, ValidatedEvent, async_trait};
use serde_json::Value;
use std::sync::Arc;

/// Encrypts marked fields on append.
#[derive(Debug)]
pub struct Sealer {
    policy: Arc<Policy>,
    keyring: Arc<Keyring>,
}

impl Sealer {
    /// Seals what `policy` marks with `keyring`'s keys.
    pub fn new(policy: Arc<Policy>, keyring: Arc<Keyring>) -> Self {
        Self { policy, keyring }
    }
}

/// Who an append or a read is by, for the audit log.
pub fn caller(context: &AppendContext) -> String {
    match &context.principal {
        Some(p) => p.token_id.clone(),
        None => format!("{:?}", context.entry_point).to_lowercase(),
    }
}

/// An event to seal: where it is, its subject, and its data as parsed.
struct Work {
    part: usize,
    index: usize,
    data: Parsed,
    subject: String,
}

/// An event's data, parsed for sealing.
enum Parsed {
    /// The fast path: every marked field a top-level member.
    Members(seal_raw::Members),
    /// The general path.
    Value(Value),
}

fn field(single: bool, part: usize, index: usize, name: &str) -> String {
    match single {
        true => format!("events[{index}].{name}"),
        false => format!("streams[{part}].events[{index}].{name}"),
    }
}

/// The subject's id at `pointer`: a non-empty string, or a number.
fn subject_at(data: &Value, pointer: &str) -> Option<String> {
    match data.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The top-level names of a rule's subject and data fields, when the fast
/// path applies (no metadata fields, every pointer one plain level).
fn fast_names(rule: &FieldRule) -> Option<(&str, Vec<&str>)> {
    if !rule.encrypt_metadata.is_empty() {
        return None;
    }
    let names = rule.encrypt.iter().map(|p| seal_raw::top_level(p)).collect::<Option<Vec<_>>>()?;
    Some((seal_raw::top_level(&rule.subject)?, names))
}

#[async_trait]
impl FieldSealer for Sealer {
    async fn seal(&self, context: &AppendContext, append: &mut PreparedAppend) -> Result<()> {
        let single = append.streams.len() == 1;
        let mut work = Vec::new();
        for (part, stream) in append.streams.iter_mut().enumerate() {
            for (index, event) in stream.events.iter_mut().enumerate() {
                only_ours(event, &|name| field(single, part, index, name))?;
            }
        }
        for (part, stream) in append.streams.iter().enumerate() {
            if stream.stream.as_str().starts_with('$') {
                continue;
            }
            for (index, event) in stream.events.iter().enumerate() {
                let Some(rule) = self.policy.rule(&event.event_type, event.schema_version) else { continue };
                let missing = || {
                    Error::invalid(
                        field(single, part, index, "data"),
                        format!("{} events name their subject at {} (a non-empty string or a number)", event.event_type, rule.subject),
                    )
                };
                let bytes = event.data.as_bytes();
                let fast = fast_names(rule).and_then(|(subject, _)| Some((seal_raw::Members::of(bytes)?, subject)));
                let (data, subject) = match fast {
                    Some((members, name)) => {
                        let subject = members.subject(bytes, name).ok_or_else(missing)?;
                        (Parsed::Members(members), subject)
                    }
                    None => {
                        let data = event.data.to_value().map_err(|e| Error::invalid(field(single, part, index, "data"), e.to_string()))?;
                        let subject = subject_at(&data, &rule.subject).ok_or_else(missing)?;
                        (Parsed::Value(data), subject)
                    }
                };
                if subject == KEK_CHECK_SUBJECT {
                    return Err(Error::invalid(field(single, part, index, "data"), format!("the subject {subject} is reserved")));
                }
                work.push(Work { part, index, data, subject });
            }
        }
        if work.is_empty() {
            return Ok(());
        }
        let subjects: Vec<String> = work.iter().map(|w| w.subject.clone()).collect();
        let keys = self.keyring.keys_for(&subjects, &caller(context)).await?;
        for Work { part, index, data, subject } in work {
            let Some(event) = append.streams.get_mut(part).and_then(|s| s.events.get_mut(index)) else { continue };
            let Some(rule) = self.policy.rule(&event.event_type, event.schema_version) else { continue };
            let key = keys
                .get(&subject)
                .ok_or_else(|| Error::Unavailable { reason: format!("no data key for a subject of {}", event.event_type) })?;
            let bad = |e: serde_json::Error| Error::invalid(field(single, part, index, "data"), e.to_string());
            let (sealed, metadata) = match data {
                Parsed::Members(members) => {
                    let names = fast_names(rule).map(|(_, names)| names).unwrap_or_default();
                    let (bytes, found) = members.seal(event.data.as_bytes(), &names, key)?;
                    event.data = RawJson::from_trusted(bytes.into());
                    // Listed in the rule's order, like the general path.
                    (names.iter().filter(|n| found.iter().any(|f| f == *n)).map(|n| format!("/data/{n}")).collect::<Vec<_>>(), None)
                }
                Parsed::Value(data) => {
                    let (data, sealed, metadata) =
                        seal_values(rule, key, data, event.metadata(), &|| field(single, part, index, "metadata"))?;
                    if !sealed.is_empty() {
                        event.data = RawJson::from_serialize(&data).map_err(bad)?;
                    }
                    (sealed, metadata)
                }
            };
            if sealed.is_empty() {
                continue;
            }
            let listed = match metadata {
                Some(Value::Object(mut map)) => {
                    map.insert(ENCRYPTED_MEMBER.to_owned(), Value::from(sealed));
                    RawJson::from_serialize(&map).map_err(bad)?
                }
                _ => with_member(event.metadata(), &sealed).map_err(bad)?,
            };
            event.set_metadata(listed)?;
        }
        Ok(())
    }
}

/// Refuses an envelope sent in an append — only the sealer makes them;
/// one sent by a client would be read back as if the store had sealed it,
/// or break reads if malformed — and drops a `$encrypted` list sent in the
/// metadata (the sealer writes its own).
fn only_ours(event: &mut ValidatedEvent, field: &dyn Fn(&str) -> String) -> Result<()> {
    for (name, raw) in [("data", &event.data), ("metadata", event.metadata())] {
        if envelope::may_contain(raw.as_bytes()) {
            let value = raw.to_value().map_err(|e| Error::invalid(field(name), e.to_string()))?;
            if envelope::holds_envelope(&value) {
                return Err(Error::invalid(
                    field(name),
                    "holds an object with a \"$enc\" member: encrypted envelopes are made by the store (send the plain value; [privacy] seals it)",
                ));
            }
        }
    }
    if envelope::ENCRYPTED_MARK.find(event.metadata().as_bytes()).is_some() {
        let mut map: serde_json::Map<String, Value> =
            event.metadata().decode().map_err(|e| Error::invalid(field("metadata"), e.to_string()))?;
        if map.remove(ENCRYPTED_MEMBER).is_some() {
            event.set_metadata(RawJson::from_serialize(&map).map_err(|e| Error::invalid(field("metadata"), e.to_string()))?)?;
        }
    }
    Ok(())
}

/// The general path: marked fields sealed in the parsed data (and
/// metadata); returns the data, the pointers sealed and the metadata when
/// it changed.
fn seal_values(
    rule: &FieldRule,
    key: &crate::DataKey,
    mut data: Value,
    metadata: &RawJson,
    meta_field: &dyn Fn() -> String,
) -> Result<(Value, Vec<String>, Option<Value>)> {
    let mut sealed = Vec::new();
    for pointer in &rule.encrypt {
        if let Some(value) = data.pointer_mut(pointer) {
            *value = key.seal(value)?;
            sealed.push(format!("/data{pointer}"));
        }
    }
    if rule.encrypt_metadata.is_empty() {
        return Ok((data, sealed, None));
    }
    let mut meta = metadata.to_value().map_err(|e| Error::invalid(meta_field(), e.to_string()))?;
    for pointer in &rule.encrypt_metadata {
        if let Some(value) = meta.pointer_mut(pointer) {
            *value = key.seal(value)?;
            sealed.push(format!("/metadata{pointer}"));
        }
    }
    Ok((data, sealed, Some(meta)))
}

/// `metadata` (a compact JSON object) with `"$encrypted": fields` added
/// first, spliced into the bytes (no parse): [`only_ours`] has already
/// dropped any `$encrypted` member the caller sent.
fn with_member(metadata: &RawJson, fields: &[String]) -> Result<RawJson, serde_json::Error> {
    let bytes = metadata.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 24 + fields.iter().map(|f| f.len() + 3).sum::<usize>());
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(ENCRYPTED_MEMBER.as_bytes());
    out.extend_from_slice(b"\":");
    serde_json::to_writer(&mut out, fields)?;
    match bytes.get(1..) {
        Some(b"}") | None => out.push(b'}'),
        Some(rest) => {
            out.push(b',');
            out.extend_from_slice(rest);
        }
    }
    Ok(RawJson::from_trusted(out.into()))
}
