//! The read side: every envelope in an event's data and metadata is
//! decrypted for a caller with clearance, masked (`"***"`) for anyone
//! else, and shown as `{"$erased": true}` to everyone once its key is
//! destroyed. Events without envelopes pass untouched, unparsed.

use crate::{
    Keyring,
    audit::Action,
    envelope::{self, MASK, erased},
    keyring::Slot,
};
use chronicle_core::{Error, RawJson, RecordedEvent, Result};
use serde_json::Value;
use std::{collections::HashMap, sync::Arc};

/// What a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Clearance {
    /// Encrypted fields decrypted.
    Clear,
    /// Encrypted fields replaced by `"***"`.
    Masked,
}

/// Reveals events to one caller.
#[derive(Clone, Debug)]
pub struct Revealer {
    keyring: Arc<Keyring>,
    clearance: Clearance,
    who: Arc<str>,
}

fn corrupt(event: &RecordedEvent, e: impl std::fmt::Display) -> Error {
    Error::Corrupted { location: format!("event {} (position {})", event.event_id, event.global_position), reason: e.to_string() }
}

impl Revealer {
    /// Reveals with `keyring`'s keys to `who` with `clearance`.
    pub fn new(keyring: Arc<Keyring>, clearance: Clearance, who: &str) -> Self {
        Self { keyring, clearance, who: Arc::from(who) }
    }

    /// The clearance.
    pub fn clearance(&self) -> Clearance {
        self.clearance
    }

    /// Who reads (for the audit log).
    pub fn who(&self) -> &str {
        &self.who
    }

    pub(crate) fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// `value` with its top-level envelope revealed (a snapshot layer).
    pub(crate) async fn value(&self, value: Value) -> Result<Value> {
        let mut kids = Vec::new();
        envelope::kids(&value, &mut kids);
        kids.truncate(1);
        self.keyring.load(&kids).await?;
        let mut counts = HashMap::new();
        let revealed = match envelope::parse(&value) {
            Some(found) => self.reveal(found, &mut counts).map_err(Error::from)?,
            None => value,
        };
        for (subject, n) in counts {
            self.keyring.tally.add(&self.who, Action::Decrypted, &subject, n);
        }
        Ok(revealed)
    }

    /// One event, revealed.
    pub async fn event(&self, event: RecordedEvent) -> Result<RecordedEvent> {
        let mut one = self.events(vec![event]).await?;
        one.pop().ok_or_else(|| Error::Unavailable { reason: "revealing lost an event".into() })
    }

    /// Events, revealed (keys looked up once for the whole batch).
    pub async fn events(&self, mut events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>> {
        let sealed: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| envelope::may_contain(e.data.as_bytes()) || envelope::may_contain(e.metadata.as_bytes()))
            .map(|(i, _)| i)
            .collect();
        if sealed.is_empty() {
            return Ok(events);
        }
        let mut parsed = Vec::with_capacity(sealed.len());
        let mut kids = Vec::new();
        for &i in &sealed {
            let Some(e) = events.get(i) else { continue };
            let data = e.data.to_value().map_err(|err| corrupt(e, err))?;
            let meta = e.metadata.to_value().map_err(|err| corrupt(e, err))?;
            envelope::kids(&data, &mut kids);
            envelope::kids(&meta, &mut kids);
            parsed.push((i, data, meta));
        }
        self.keyring.load(&kids).await?;
        let mut counts: HashMap<Arc<str>, u64> = HashMap::new();
        for (i, mut data, mut meta) in parsed {
            let Some(e) = events.get_mut(i) else { continue };
            let mut failure = None;
            let mut open = |found: crate::Result<envelope::Envelope<'_>>| match self.reveal(found, &mut counts) {
                Ok(v) => v,
                Err(err) => {
                    failure.get_or_insert(err);
                    Value::Null
                }
            };
            let changed = envelope::replace_all(&mut data, &mut open) + envelope::replace_all(&mut meta, &mut open);
            if let Some(err) = failure {
                return Err(corrupt(e, err));
            }
            if changed > 0 {
                e.data = RawJson::from_serialize(&data).map_err(|err| corrupt(e, err))?;
                e.metadata = RawJson::from_serialize(&meta).map_err(|err| corrupt(e, err))?;
            }
        }
        for (subject, n) in counts {
            self.keyring.tally.add(&self.who, Action::Decrypted, &subject, n);
        }
        Ok(events)
    }

    fn reveal(&self, found: crate::Result<envelope::Envelope<'_>>, counts: &mut HashMap<Arc<str>, u64>) -> crate::Result<Value> {
        let env = found?;
        match (self.keyring.slot(env.kid), self.clearance) {
            (Slot::Gone, _) => Ok(erased()),
            (Slot::Live(..), Clearance::Masked) => Ok(Value::from(MASK)),
            (Slot::Live(key, subject), Clearance::Clear) => {
                let value = key.open(&env)?;
                *counts.entry(subject).or_default() += 1;
                Ok(value)
            }
        }
    }
}
